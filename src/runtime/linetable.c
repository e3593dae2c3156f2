/* The three line-table formats, decoded as CPython's own
 * PyCode_Addr2Line does for each version (Objects/codeobject.c), but
 * bounded by the table's length at every byte: the tables come from the
 * target and may be torn or garbage. */
#include "runtime/linetable.h"

/* <= 3.9 (Objects/lnotab_notes.txt): byte pairs (address increment,
 * line increment), the line increment signed since 3.6; the line of
 * addr is the one reached before the address passes it. */
int gs_lnotab_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr)
{
	int64_t a = 0;
	int line = firstlineno;

	for (size_t i = 0; i + 1 < n; i += 2) {
		a += t[i];
		if (a > addr)
			break;
		line += (int8_t)t[i + 1];
	}
	return line;
}

/* 3.10 (PEP 626): pairs (byte length of the range, line delta); a line
 * delta of -128 means the range has no line; zero-length ranges only
 * carry line changes. */
int gs_pep626_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr)
{
	int64_t start = -1, end = 0;
	int line = -1, computed = firstlineno;
	size_t i = 0;

	if (addr < 0)
		return firstlineno;
	while (end <= addr) {
		/* One range, then the zero-length ones that follow it. */
		do {
			if (i + 1 >= n)
				return -1;
			start = end;
			end += t[i];
			if ((int8_t)t[i + 1] == -128) {
				line = -1;
			} else {
				computed += (int8_t)t[i + 1];
				line = computed;
			}
			i += 2;
		} while (start == end);
	}
	return line;
}

/* 3.11+ location table (InternalDocs/code_objects.md, Objects/
 * locations.md before 3.13): each entry starts with a byte that has its
 * top bit set, a 4-bit code in bits 3-6 and the entry's length in code
 * units minus one in bits 0-2; the bytes after it have the top bit
 * clear.  Codes 13 and 14 start with a signed varint line delta, 10-12
 * add code - 10, 15 marks no location, the others keep the line. */
/* A varint ends at the table's end and at the next entry's first byte
 * (top bit set), which a well-formed table never runs into: so an
 * entry's line depends on the entries before it only. */
static unsigned varint(const uint8_t *p, const uint8_t *end)
{
	unsigned val, shift = 0, b;

	if (p >= end || (*p & 128))
		return 0;
	b = *p++;
	val = b & 63;
	while ((b & 64) && p < end && !(*p & 128) && shift < 24) {
		b = *p++;
		shift += 6;
		val |= (b & 63u) << shift;
	}
	return val;
}

static int line_delta(const uint8_t *p, const uint8_t *end)
{
	unsigned u;

	switch ((*p >> 3) & 15) {
	case 13:
	case 14:
		u = varint(p + 1, end);
		return u & 1 ? -(int)(u >> 1) : (int)(u >> 1);
	case 11:
		return 1;
	case 12:
		return 2;
	default:
		return 0;
	}
}

int gs_locations_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr)
{
	const uint8_t *p, *end;
	int64_t at = 0, computed = firstlineno;

	if (addr < 0)
		return firstlineno;
	if (!t || !n)
		return -1;
	p = t;
	end = t + n;
	/* A table that does not start at an entry is not one. */
	while (p < end && (*p & 128)) {
		int no_line = (*p >> 3) == 0x1f;
		computed += line_delta(p, end);
		at += ((*p & 7) + 1) * 2;
		if (addr < at)
			return no_line || computed < 0 || computed > INT32_MAX
				? -1 : (int)computed;
		do
			p++;
		while (p < end && (*p & 128) == 0);
	}
	return -1;
}

int gs_linetable_line(enum gs_linetable_kind kind, const uint8_t *t, size_t n,
		      int firstlineno, int64_t addr)
{
	switch (kind) {
	case GS_LT_LNOTAB:
		return gs_lnotab_line(t, n, firstlineno, addr);
	case GS_LT_PEP626:
		return gs_pep626_line(t, n, firstlineno, addr);
	case GS_LT_LOCATIONS:
		return gs_locations_line(t, n, firstlineno, addr);
	case GS_LT_NONE:
		break;
	}
	return -1;
}
