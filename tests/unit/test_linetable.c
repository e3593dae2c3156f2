/* The three line-table decoders (include/runtime/linetable.h) against
 * what CPython itself says: tests/data/linetables.h holds real tables
 * from 3.6, 3.9, 3.10, 3.11, 3.12, 3.13, 3.14 and 3.15 with the line of
 * every instruction as that interpreter reports it. */
#include <stddef.h>
#include <string.h>

#include "unit.h"
#include "runtime/linetable.h"
#include "../data/linetables.h"

static void real_tables(void)
{
	size_t ncases = sizeof lt_cases / sizeof lt_cases[0];
	int kinds[4] = { 0 };

	for (size_t c = 0; c < ncases; c++) {
		const struct lt_case *k = &lt_cases[c];
		size_t wrong = 0, first_wrong = 0;
		int got_wrong = 0;

		kinds[k->kind]++;
		for (size_t i = 0; i < k->nlines; i++) {
			int got = gs_linetable_line(k->kind, k->table, k->table_len,
						    k->first, (int64_t)(2 * i));
			if (got != k->lines[i]) {
				if (!wrong++) {
					first_wrong = i;
					got_wrong = got;
				}
			}
		}
		if (!UNIT_CHECK(wrong == 0, k->what))
			UNIT_DIAG("%zu of %zu instructions wrong; first at offset %zu: "
				  "got %d, want %d", wrong, k->nlines, 2 * first_wrong,
				  got_wrong, k->lines[first_wrong]);
		/* A frame that has not started (f_lasti -1, or an instruction
		 * pointer before the code) is at the first line. */
		UNIT_EQ_INT(gs_linetable_line(k->kind, k->table, k->table_len,
					      k->first, -1), k->first, k->what);
		/* Past the table: no line, never a read past it. */
		UNIT_CHECK(gs_linetable_line(k->kind, k->table, k->table_len,
					     k->first, (int64_t)(2 * k->nlines + 4096)) ==
			   (k->kind == GS_LT_LNOTAB ? gs_lnotab_line(k->table,
				k->table_len, k->first, INT64_MAX) : -1),
			   "past the end");
	}
	UNIT_CHECK(kinds[GS_LT_LNOTAB] > 0 && kinds[GS_LT_PEP626] > 0 &&
		   kinds[GS_LT_LOCATIONS] > 0, "cases of all three formats");
}

static void edges(void)
{
	/* lnotab: pairs (+addr, +line), signed line steps. */
	static const unsigned char lnotab[] = { 6, 1, 8, 2, 0, 0xff, 10, 3 };
	UNIT_EQ_INT(gs_lnotab_line(lnotab, sizeof lnotab, 10, 0), 10, "lnotab start");
	UNIT_EQ_INT(gs_lnotab_line(lnotab, sizeof lnotab, 10, 6), 11, "lnotab +1");
	UNIT_EQ_INT(gs_lnotab_line(lnotab, sizeof lnotab, 10, 14), 12, "lnotab -1 step");
	UNIT_EQ_INT(gs_lnotab_line(lnotab, sizeof lnotab, 10, 24), 15, "lnotab end");
	UNIT_EQ_INT(gs_lnotab_line(lnotab, 3, 10, 24), 11, "odd length ignores the half pair");
	UNIT_EQ_INT(gs_lnotab_line(NULL, 0, 7, 100), 7, "empty lnotab");

	/* PEP 626: (range bytes, line delta), -128 no line, zero-length
	 * ranges only move the line. */
	static const unsigned char pep[] = { 4, 1, 0, 2, 6, 0x80, 2, 0xfd };
	UNIT_EQ_INT(gs_pep626_line(pep, sizeof pep, 1, 0), 2, "pep626 first");
	UNIT_EQ_INT(gs_pep626_line(pep, sizeof pep, 1, 4), -1, "pep626 no line");
	UNIT_EQ_INT(gs_pep626_line(pep, sizeof pep, 1, 10), 1, "pep626 after zero-length");
	UNIT_EQ_INT(gs_pep626_line(pep, sizeof pep, 1, 12), -1, "pep626 past the end");
	static const unsigned char zeros[] = { 0, 1, 0, 1 };
	UNIT_EQ_INT(gs_pep626_line(zeros, sizeof zeros, 1, 0), -1,
		    "pep626 zero-length ranges to the end stop");

	/* Locations: 0x80 | code << 3 | (length - 1). */
	static const unsigned char loc[] = {
		0x80 | 13 << 3 | 1, 0x04,        /* no columns, +2, 2 units */
		0x80 | 15 << 3 | 0,              /* no location, 1 unit */
		0x80 | 11 << 3 | 2, 5, 9,        /* one line +1, 3 units */
		0x80 | 14 << 3 | 0, 0x43, 0x02, 0, 1, 2, /* long: -(0x43&63|2<<6)>>1 */
		0x80 | 3 << 3 | 0, 7,            /* short form, same line */
	};
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 0), 102, "locations +2");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 2), 102, "locations 2nd unit");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 4), -1, "locations none");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 6), 103, "locations +1");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 10), 103, "locations 3rd unit");
	/* varint 0x43, 0x02: 3 | 2 << 6 = 131 -> odd -> -65. */
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 12), 103 - 65,
		    "locations long, negative varint");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 14), 103 - 65,
		    "locations short form keeps the line");
	UNIT_EQ_INT(gs_locations_line(loc, sizeof loc, 100, 16), -1, "locations end");
	static const unsigned char cut[] = { 0x80 | 14 << 3 | 0, 0x41 };
	UNIT_EQ_INT(gs_locations_line(cut, sizeof cut, 10, 0), 10,
		    "varint cut by the table end reads what is there");
	static const unsigned char notstart[] = { 0x05, 0x80 | 10 << 3 };
	UNIT_EQ_INT(gs_locations_line(notstart, sizeof notstart, 10, 0), -1,
		    "a table not starting at an entry gives no line");
	UNIT_EQ_INT(gs_linetable_line(GS_LT_NONE, loc, sizeof loc, 10, 0), -1,
		    "no table kind, no line");
}

int main(void)
{
	real_tables();
	edges();
	return unit_done();
}
