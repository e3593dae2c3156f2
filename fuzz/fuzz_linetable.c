/* libFuzzer harness: the three line-table decoders
 * (include/runtime/linetable.h) on any bytes.
 *
 *   byte 0       kind: 1 lnotab, 2 PEP 626, 3 location table (b % 4)
 *   bytes 1-4    co_firstlineno (little-endian), modulo 2^24
 *   then         the table
 *
 * The promises checked: every address gives -1 or a line, never a read
 * outside the table (ASan), the dispatcher agrees with the decoder, a
 * frame that has not started is at the first line, and the location
 * decoder's answer for an address does not depend on what follows the
 * entry that covers it. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "runtime/linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum gs_linetable_kind kind;
	uint32_t first_raw;
	int first;
	const uint8_t *t;
	size_t n;

	if (size < 5)
		return 0;
	kind = (enum gs_linetable_kind)(data[0] % 4);
	memcpy(&first_raw, data + 1, 4);
	/* co_firstlineno is not negative; keep room so that deltas cannot
	 * wrap. */
	first = (int)(first_raw % (1u << 24));
	t = data + 5;
	n = size - 5;
	/* A copy of exactly n bytes, so that ASan sees a read past it. */
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return 0;
	memcpy(copy, t, n);

	/* At most about 300 addresses: each decode walks the table. */
	int64_t step = 2 * (int64_t)(n / 256 + 1);
	for (int64_t addr = -2; addr < (int64_t)(2 * n + 8); addr += step) {
		int line = gs_linetable_line(kind, copy, n, first, addr);
		int direct = kind == GS_LT_LNOTAB ? gs_lnotab_line(copy, n, first, addr) :
			     kind == GS_LT_PEP626 ? gs_pep626_line(copy, n, first, addr) :
			     kind == GS_LT_LOCATIONS ? gs_locations_line(copy, n, first, addr) :
			     -1;
		FUZZ_ASSERT(line == direct, "the dispatcher agrees");
		FUZZ_ASSERT(line >= -1 || kind == GS_LT_LNOTAB || kind == GS_LT_PEP626,
			    "-1 or a line");
		if (addr < 0 && kind != GS_LT_NONE)
			FUZZ_ASSERT(line == first, "not started: the first line");
	}
	(void)gs_linetable_line(kind, copy, n, first, INT64_MAX);
	(void)gs_linetable_line(kind, copy, n, first, INT64_MIN);

	/* Cutting a location table right after the entry that covers addr
	 * leaves the answer for addr as it was. */
	if (kind == GS_LT_LOCATIONS && n) {
		int64_t at = 0;
		size_t i = 0;
		for (int entries = 0; i < n && (copy[i] & 128) && entries < 64; entries++) {
			int64_t next = at + ((copy[i] & 7) + 1) * 2;
			size_t j = i + 1;
			while (j < n && (copy[j] & 128) == 0)
				j++;
			uint8_t *cut = malloc(j);
			if (!cut)
				break;
			memcpy(cut, copy, j);
			FUZZ_ASSERT(gs_locations_line(cut, j, first, at) ==
				    gs_locations_line(copy, n, first, at),
				    "an entry's line depends on the entries before it only");
			free(cut);
			at = next;
			i = j;
		}
	}
	free(copy);
	return 0;
}
