/* The .eh_frame_hdr section (PT_GNU_EH_FRAME): the sorted table of FDEs
 * that lets the unwinder find the CFI of an address by binary search.
 * It is read from the target's memory, so it is untrusted input. */
#ifndef GS_EHFRAME_H
#define GS_EHFRAME_H

#include <stddef.h>
#include <stdint.h>

struct gs_ehhdr {
	uint64_t eh_frame;    /* address of .eh_frame */
	uint64_t fde_count;
	uint64_t table;       /* address of the table */
	/* The table holds (initial location, FDE) pairs as 4-byte offsets
	 * from the header (DW_EH_PE_datarel | DW_EH_PE_sdata4): the only
	 * form libunwind searches, and what every linker writes. */
	int searchable;
};

/* Parse the header at target address addr from the len bytes read from
 * there (16 suffice).  Returns 0, or -1 when it is not a version 1
 * header with encodings it can read. */
int gs_ehhdr_parse(const unsigned char *buf, size_t len, uint64_t addr,
		   struct gs_ehhdr *out);

#endif
