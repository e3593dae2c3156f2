/* .eh_frame_hdr: version, three encodings, then eh_frame_ptr and
 * fde_count in their encodings, then the table (LSB 5.0, "Exception
 * Frames"). */
#include <string.h>

#include "stack/ehframe.h"

#define PE_OMIT    0xff
#define PE_FORMAT  0x0f
#define PE_APP     0x70
#define PE_ABSPTR  0x00
#define PE_UDATA2  0x02
#define PE_UDATA4  0x03
#define PE_UDATA8  0x04
#define PE_SDATA2  0x0a
#define PE_SDATA4  0x0b
#define PE_SDATA8  0x0c
#define PE_PCREL   0x10
#define PE_DATAREL 0x30

/* One encoded value at *off; hdr is the address of buf[0]. */
static int read_enc(const unsigned char *buf, size_t len, size_t *off,
		    unsigned enc, uint64_t hdr, uint64_t *out)
{
	size_t o = *off, n;
	uint64_t v = 0;
	int sign = 0;

	switch (enc & PE_FORMAT) {
	case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: n = 8; break;
	case PE_UDATA4: n = 4; break;
	case PE_SDATA4: n = 4; sign = 1; break;
	case PE_UDATA2: n = 2; break;
	case PE_SDATA2: n = 2; sign = 1; break;
	default: return -1;
	}
	if (o > len || len - o < n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)buf[o + i] << (8 * i);
	if (sign && n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~(uint64_t)0 << (8 * n);
	switch (enc & PE_APP) {
	case 0: break;
	case PE_PCREL: v += hdr + o; break;
	case PE_DATAREL: v += hdr; break;
	default: return -1;
	}
	*off = o + n;
	*out = v;
	return 0;
}

int gs_ehhdr_parse(const unsigned char *buf, size_t len, uint64_t addr,
		   struct gs_ehhdr *out)
{
	size_t off = 4;
	memset(out, 0, sizeof *out);
	if (len < 4 || buf[0] != 1)
		return -1;
	unsigned ptr_enc = buf[1], count_enc = buf[2], table_enc = buf[3];
	/* Indirect values (0x80) would need another read; nobody uses it. */
	if (ptr_enc == PE_OMIT || (ptr_enc & 0x80) ||
	    read_enc(buf, len, &off, ptr_enc, addr, &out->eh_frame))
		return -1;
	if (count_enc == PE_OMIT || table_enc == PE_OMIT) {
		out->table = addr + off;
		return 0;
	}
	if ((count_enc & 0x80) ||
	    read_enc(buf, len, &off, count_enc & ~PE_APP, addr, &out->fde_count))
		return -1;
	out->table = addr + off;
	/* A count that cannot fit the address space is not a table. */
	out->searchable = table_enc == (PE_DATAREL | PE_SDATA4) &&
			  out->fde_count > 0 && out->fde_count < (1u << 28);
	return 0;
}
