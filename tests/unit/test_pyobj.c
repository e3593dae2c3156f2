/* Object decoding (include/runtime/pyobj.h) on objects built by hand in a
 * fake address space, with the layouts gilsnoop ships for 3.6 and 3.13:
 * str in its four forms to UTF-8, bounds and truncation, int in both
 * encodings, and a dict lookup through learned types. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "unit.h"
#include "layout/layout.h"
#include "layout/sources.h"
#include "runtime/pyobj.h"

#define BASE 0x100000ull
#define SIZE 0x4000

static unsigned char mem[SIZE];

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (addr < BASE || len > SIZE || addr - BASE > SIZE - len) {
		errno = EFAULT;
		return -1;
	}
	memcpy(buf, mem + (addr - BASE), len);
	return 0;
}

static void put(uint64_t addr, const void *p, size_t n)
{
	memcpy(mem + (addr - BASE), p, n);
}

static void put64(uint64_t addr, uint64_t v) { put(addr, &v, 8); }
static void put32(uint64_t addr, uint32_t v) { put(addr, &v, 4); }

static unsigned shift(uint64_t mask)
{
	return (unsigned)__builtin_ctzll(mask);
}

/* A compact str at addr: kind 1/2/4, ascii flag, the code points. */
static size_t make_str(const struct gs_layout *l, uint64_t addr, int kind,
		       int ascii, const uint32_t *cp, size_t n)
{
	uint64_t data = addr + (uint64_t)(ascii ? l->uni_ascii_size : l->uni_compact_size);
	uint32_t state = (uint32_t)(((uint64_t)kind << shift(l->uni_kind_mask)) |
				    l->uni_compact_mask | (ascii ? l->uni_ascii_mask : 0));
	put64(addr + (uint64_t)l->uni_length.off, n);
	put32(addr + (uint64_t)l->uni_state.off, state);
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)cp[i];
		uint16_t h = (uint16_t)cp[i];
		if (kind == 1)
			put(data + i, &b, 1);
		else if (kind == 2)
			put(data + 2 * i, &h, 2);
		else
			put32(data + 4 * i, cp[i]);
	}
	return (size_t)(data - addr) + n * (size_t)kind;
}

static void strings(const char *v, const struct gs_layout *l)
{
	char out[64], name[96];
	size_t need = 0, len;
	ssize_t r;

	static const uint32_t hello[] = { 'h', 'e', 'l', 'l', 'o' };
	static const uint32_t latin[] = { 'w', 0xf6, 'r', 'k', 'e', 'r', '-', 0xfc };
	static const uint32_t ucs2[] = { 0x7ebf, 0x7a0b, '-', 0x4e8c };
	static const uint32_t ucs4[] = { 's', 'n', 'a', 'k', 'e', '-', 0x1f40d };
	static const uint32_t bad2[] = { 'a', 0xd800, 'b' };
	static const uint32_t bad4[] = { 'a', 0x110000, 'b' };
	static const struct {
		const char *what;
		int kind, ascii;
		const uint32_t *cp;
		size_t n;
		const char *utf8;
	} cases[] = {
		{ "ascii", 1, 1, hello, 5, "hello" },
		{ "latin-1", 1, 0, latin, 8, "w\xc3\xb6rker-\xc3\xbc" },
		{ "ucs-2", 2, 0, ucs2, 4, "\xe7\xba\xbf\xe7\xa8\x8b-\xe4\xba\x8c" },
		{ "ucs-4", 4, 0, ucs4, 7, "snake-\xf0\x9f\x90\x8d" },
		{ "lone surrogate", 2, 0, bad2, 3, "a\xef\xbf\xbd" "b" },
		{ "past U+10FFFF", 4, 0, bad4, 3, "a\xef\xbf\xbd" "b" },
		{ "empty", 1, 1, hello, 0, "" },
	};
	struct gs_mem m = { 0, fake_read, NULL };
	struct gs_pyobj o;

	gs_pyobj_init(&o, &m, l);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(mem, 0, sizeof mem);
		len = make_str(l, BASE + 64, cases[i].kind, cases[i].ascii,
			       cases[i].cp, cases[i].n);
		snprintf(name, sizeof name, "%s: %s decodes", v, cases[i].what);
		r = gs_pystr_decode(l, mem + 64, len, out, sizeof out, NULL);
		if (UNIT_EQ_INT(r, (long long)strlen(cases[i].utf8), name))
			UNIT_EQ_STR(out, cases[i].utf8, name);
		snprintf(name, sizeof name, "%s: %s read from memory", v, cases[i].what);
		r = gs_pystr_read(&o, BASE + 64, out, sizeof out);
		if (UNIT_EQ_INT(r, (long long)strlen(cases[i].utf8), name))
			UNIT_EQ_STR(out, cases[i].utf8, name);
		snprintf(name, sizeof name, "%s: %s asks for its bytes", v, cases[i].what);
		if (cases[i].n)
			UNIT_CHECK(gs_pystr_decode(l, mem + 64, len - 1, out, sizeof out,
						   &need) == -2 && need == len, name);
	}

	/* Truncation: at a character boundary, with "...". */
	memset(mem, 0, sizeof mem);
	len = make_str(l, BASE + 64, 2, 0, ucs2, 4);
	r = gs_pystr_decode(l, mem + 64, len, out, 8, NULL);
	snprintf(name, sizeof name, "%s: cut at a boundary", v);
	if (UNIT_EQ_INT(r, 6, name))
		UNIT_EQ_STR(out, "\xe7\xba\xbf...", name);
	len = make_str(l, BASE + 64, 1, 1, hello, 5);
	r = gs_pystr_decode(l, mem + 64, len, out, 5, NULL);
	snprintf(name, sizeof name, "%s: ascii cut", v);
	if (UNIT_EQ_INT(r, 4, name))
		UNIT_EQ_STR(out, "h...", name);

	/* Not a compact str, an impossible kind, ascii with kind 2, a huge
	 * length: refused. */
	uint32_t state;
	memcpy(&state, mem + 64 + l->uni_state.off, 4);
	put32(BASE + 64 + (uint64_t)l->uni_state.off, state & ~(uint32_t)l->uni_compact_mask);
	snprintf(name, sizeof name, "%s: legacy (not compact) refused", v);
	UNIT_EQ_INT(gs_pystr_decode(l, mem + 64, len, out, sizeof out, NULL), -1, name);
	put32(BASE + 64 + (uint64_t)l->uni_state.off,
	      (uint32_t)((3u << shift(l->uni_kind_mask)) | l->uni_compact_mask));
	snprintf(name, sizeof name, "%s: kind 3 refused", v);
	UNIT_EQ_INT(gs_pystr_decode(l, mem + 64, len, out, sizeof out, NULL), -1, name);
	put32(BASE + 64 + (uint64_t)l->uni_state.off,
	      (uint32_t)((2u << shift(l->uni_kind_mask)) | l->uni_compact_mask |
			 l->uni_ascii_mask));
	snprintf(name, sizeof name, "%s: ascii of kind 2 refused", v);
	UNIT_EQ_INT(gs_pystr_decode(l, mem + 64, len, out, sizeof out, NULL), -1, name);
	make_str(l, BASE + 64, 1, 1, hello, 5);
	put64(BASE + 64 + (uint64_t)l->uni_length.off, 1ull << 40);
	snprintf(name, sizeof name, "%s: absurd length refused", v);
	UNIT_EQ_INT(gs_pystr_read(&o, BASE + 64, out, sizeof out), -1, name);
	snprintf(name, sizeof name, "%s: unmapped str", v);
	UNIT_EQ_INT(gs_pystr_read(&o, BASE + SIZE + 64, out, sizeof out), -1, name);
}

static void put_long(const struct gs_layout *l, uint64_t addr, int neg,
		     const uint32_t *d, unsigned n)
{
	uint64_t tag = l->long_tagged == 1 ? ((uint64_t)n << 3 | (n == 0 ? 1 : neg ? 2 : 0))
					  : (uint64_t)(neg ? -(int64_t)n : (int64_t)n);
	put64(addr + (uint64_t)l->long_size.off, tag);
	for (unsigned i = 0; i < n; i++)
		put32(addr + (uint64_t)l->long_digit.off + 4 * i, d[i]);
}

static void ints(const char *v, const struct gs_layout *l)
{
	struct gs_mem m = { 0, fake_read, NULL };
	struct gs_pyobj o;
	char name[96];
	int64_t got;
	/* 0x7f3752d5cb80, a pthread_t: three 30-bit digits. */
	uint64_t big = 0x7f3752d5cb80ull;
	uint32_t d3[3] = { (uint32_t)(big & 0x3fffffff), (uint32_t)(big >> 30 & 0x3fffffff),
			   (uint32_t)(big >> 60) };
	uint32_t one[1] = { 5 }, over[3] = { 0x3fffffff, 0x3fffffff, 0x3fffffff };

	gs_pyobj_init(&o, &m, l);
	memset(mem, 0, sizeof mem);
	put_long(l, BASE + 64, 0, NULL, 0);
	snprintf(name, sizeof name, "%s: int 0", v);
	UNIT_CHECK(gs_pylong_read(&o, BASE + 64, &got) == 0 && got == 0, name);
	put_long(l, BASE + 64, 1, one, 1);
	snprintf(name, sizeof name, "%s: int -5", v);
	UNIT_CHECK(gs_pylong_read(&o, BASE + 64, &got) == 0 && got == -5, name);
	put_long(l, BASE + 64, 0, d3, 3);
	snprintf(name, sizeof name, "%s: a pthread_t", v);
	UNIT_CHECK(gs_pylong_read(&o, BASE + 64, &got) == 0 && (uint64_t)got == big, name);
	put_long(l, BASE + 64, 0, over, 3);
	snprintf(name, sizeof name, "%s: 90 bits refused", v);
	UNIT_EQ_INT(gs_pylong_read(&o, BASE + 64, &got), -1, name);
	over[0] = 0x40000000;
	put_long(l, BASE + 64, 0, over, 1);
	snprintf(name, sizeof name, "%s: a digit over 30 bits refused", v);
	UNIT_EQ_INT(gs_pylong_read(&o, BASE + 64, &got), -1, name);
}

/* A dict {"_name": str, "other": str} as 3.13 lays it out (unicode keys,
 * combined table), with types learned from tp_name. */
static void dicts(const struct gs_layout *l)
{
	struct gs_mem m = { 0, fake_read, NULL };
	struct gs_pyobj o;
	const uint64_t str_t = BASE + 0x100, dict_t = BASE + 0x300,
		       names = BASE + 0x500, dict = BASE + 0x600, keys = BASE + 0x700,
		       k1 = BASE + 0x900, k2 = BASE + 0x980, v1 = BASE + 0xa00;
	static const uint32_t kname[] = { '_', 'n', 'a', 'm', 'e' };
	static const uint32_t kother[] = { 'o', 't', 'h', 'e', 'r' };
	static const uint32_t val[] = { 'c', 'p', 'u', '-', '1' };
	uint64_t value = 0, hint = 0;
	size_t index = 99;
	char out[32];

	if (l->dk_log2_size.off == GS_NOFF) {
		UNIT_DIAG("dicts: layout has no 3.11+ keys");
		return;
	}
	gs_pyobj_init(&o, &m, l);
	memset(mem, 0, sizeof mem);
	put(names, "str\0dict\0", 9);
	put64(str_t + (uint64_t)l->type_name.off, names);
	put64(dict_t + (uint64_t)l->type_name.off, names + 4);
	put64(dict + (uint64_t)l->ob_type.off, dict_t);
	put64(dict + (uint64_t)l->dict_keys.off, keys);
	/* 8 slots, 8 bytes of 1-byte indices, unicode kind, 2 entries. */
	uint8_t lg = 3, lgi = 3, kind = 1;
	put(keys + (uint64_t)l->dk_log2_size.off, &lg, 1);
	put(keys + (uint64_t)l->dk_log2_index_bytes.off, &lgi, 1);
	put(keys + (uint64_t)l->dk_kind.off, &kind, 1);
	put64(keys + (uint64_t)l->dk_nentries.off, 2);
	uint64_t e = keys + (uint64_t)l->dk_indices.off + 8;
	put64(e + (uint64_t)l->dku_key.off, k2);
	put64(e + (uint64_t)l->dku_value.off, v1);
	put64(e + (uint64_t)l->dku_size + (uint64_t)l->dku_key.off, k1);
	put64(e + (uint64_t)l->dku_size + (uint64_t)l->dku_value.off, v1);
	make_str(l, k1, 1, 1, kname, 5);
	make_str(l, k2, 1, 1, kother, 5);
	make_str(l, v1, 1, 1, val, 5);
	put64(k1 + (uint64_t)l->ob_type.off, str_t);
	put64(k2 + (uint64_t)l->ob_type.off, str_t);
	put64(v1 + (uint64_t)l->ob_type.off, str_t);

	UNIT_EQ_INT(gs_pyobj_type_of(&o, dict), GS_PYT_DICT, "dict type learned by tp_name");
	if (UNIT_EQ_INT(gs_pydict_get_str(&o, dict, "_name", &hint, &value, &index), 0,
			"dict lookup by str key")) {
		UNIT_EQ_INT(value, v1, "the value");
		UNIT_EQ_INT(index, 1, "its entry index");
		UNIT_EQ_INT(hint, k1, "the key object as the hint");
		UNIT_CHECK(gs_pystr_read(&o, value, out, sizeof out) == 5 &&
			   strcmp(out, "cpu-1") == 0, "the value decodes");
	}
	unsigned long before = o.reads;
	value = 0;
	UNIT_CHECK(gs_pydict_get_str(&o, dict, "_name", &hint, &value, NULL) == 0 &&
		   value == v1, "lookup by hint");
	UNIT_CHECK(o.reads - before <= 4, "a hinted lookup reads no key");
	UNIT_EQ_INT(gs_pydict_get_str(&o, dict, "nope", NULL, &value, NULL), 1,
		    "absent key");
	uint64_t k, vv;
	UNIT_CHECK(gs_pydict_entry(&o, dict, 1, &k, &vv) == 0 && k == k1 && vv == v1,
		   "entry by index");
	UNIT_EQ_INT(gs_pydict_entry(&o, dict, 2, &k, &vv), 1, "entry past the end");
	/* A heap type named "dict" is not trusted as dict. */
	struct gs_pyobj fresh;
	gs_pyobj_init(&fresh, &m, l);
	put64(dict_t + (uint64_t)l->type_flags.off, 1ull << 9);
	UNIT_EQ_INT(gs_pyobj_type_of(&fresh, dict), GS_PYT_OTHER,
		    "a heap type named dict is not a dict");
	UNIT_EQ_INT(gs_pydict_get_str(&fresh, dict, "_name", NULL, &value, NULL), -1,
		    "so no lookup in it");
	/* nentries past the table size: refused. */
	put64(dict_t + (uint64_t)l->type_flags.off, 0);
	put64(keys + (uint64_t)l->dk_nentries.off, 9);
	gs_pyobj_init(&fresh, &m, l);
	UNIT_EQ_INT(gs_pydict_get_str(&fresh, dict, "_name", NULL, &value, NULL), -1,
		    "more entries than slots refused");
}

/* gs_mem_gather on this very process, with process_vm_readv: ranges
 * merged or not, in any order, around a page that cannot be read. */
static void gather(void)
{
	const size_t pg = 4096;
	unsigned char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!UNIT_CHECK(m != MAP_FAILED, "gather: mmap"))
		return;
	for (size_t i = 0; i < 4 * pg; i++)
		m[i] = (unsigned char)(i * 7 + i / 251);
	UNIT_CHECK(mprotect(m + 2 * pg, pg, PROT_NONE) == 0, "gather: guard page");
	struct gs_mem self = { .pid = getpid() };
	/* Remote ranges: close on one page, two adjacent pages, the guard
	 * page, behind it, a NULL one and an empty one; then the same in
	 * reverse, to be read in any order. */
	const size_t at[] = { 16, 200, 1000, pg - 8, pg + 3000, 2 * pg + 100, 3 * pg + 8, 0, 64 };
	const size_t len[] = { 8, 100, 24, 40, 200, 16, 64, 8, 0 };
	const int want_ok[] = { 1, 1, 1, 1, 1, 0, 1, 0, 1 };
	enum { N = sizeof at / sizeof at[0] };
	unsigned char buf[2 * N][256], ok[2 * N];
	struct iovec lv[2 * N], rv[2 * N];
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < 2 * N; k++) {
			size_t i = pass ? 2 * N - 1 - k : k, j = i % N;
			memset(buf[k], 0xee, sizeof buf[k]);
			lv[k].iov_base = buf[k];
			lv[k].iov_len = rv[k].iov_len = len[j];
			rv[k].iov_base = j == 7 ? NULL : m + at[j];
		}
		memset(ok, 2, sizeof ok);
		unsigned long calls = 0;
		size_t good = gs_mem_gather(&self, lv, rv, 2 * N, pass ? 0 : 2 * N, 0, ok, &calls);
		size_t want_good = 0, right = 0;
		for (size_t k = 0; k < 2 * N; k++) {
			size_t i = pass ? 2 * N - 1 - k : k, j = i % N;
			want_good += want_ok[j];
			right += ok[k] == want_ok[j] &&
				 (!want_ok[j] || !memcmp(buf[k], m + at[j], len[j]));
		}
		UNIT_EQ_INT(right, 2 * N, pass ? "gather any order: every range right"
					       : "gather in order: every range right");
		UNIT_EQ_INT(good, want_good, "gather: ranges read whole");
		UNIT_CHECK(calls >= 1 && calls < 2 * N, "gather: fewer calls than ranges");
		UNIT_DIAG("pass %d: %lu calls for %d ranges", pass, calls, 2 * N);
	}
	/* Only ranges that are touched anyway: two ranges with a whole page
	 * between them are not merged. */
	mprotect(m + 2 * pg, pg, PROT_READ | PROT_WRITE);
	struct iovec l2[2] = { { buf[0], 8 }, { buf[1], 8 } };
	struct iovec r2[2] = { { m + pg - 8, 8 }, { m + 3 * pg, 8 } };
	unsigned long calls = 0;
	UNIT_EQ_INT(gs_mem_gather(&self, l2, r2, 2, 2, 0, ok, &calls), 2, "gather: far ranges");
	munmap(m, 4 * pg);
}

/* The order gs_mem_gather reads in, as a fake sees it. */
static uint64_t seen[16];
static size_t nseen;

static int order_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (nseen < 16)
		seen[nseen++] = addr;
	memset(buf, 0, len);
	return 0;
}

/* An ordered head, a middle read by address and an ordered tail: the
 * tail's words come after every other range (a word read again there
 * vouches for them), in the order given, however low their addresses. */
static void gather_tail(void)
{
	struct gs_mem fake = { .read = order_read };
	const uint64_t at[] = { 900, 500, 300, 700, 100, 50, 40 };
	const size_t want[] = { 0, 4, 2, 1, 3, 5, 6 }; /* indexes, in read order */
	enum { N = sizeof at / sizeof at[0] };
	unsigned char buf[N][8], ok[N];
	struct iovec lv[N], rv[N];
	for (size_t i = 0; i < N; i++) {
		lv[i].iov_base = buf[i];
		lv[i].iov_len = rv[i].iov_len = 8;
		rv[i].iov_base = (void *)(uintptr_t)at[i];
	}
	unsigned long calls = 0;
	nseen = 0;
	UNIT_EQ_INT(gs_mem_gather(&fake, lv, rv, N, 1, 2, ok, &calls), N, "gather tail: all read");
	size_t right = 0;
	for (size_t i = 0; i < N && i < nseen; i++)
		right += seen[i] == at[want[i]];
	UNIT_EQ_INT(right, N, "gather tail: head first, middle by address, tail last in order");
	/* A tail longer than what follows the head is all of it, in order. */
	nseen = 0;
	gs_mem_gather(&fake, lv, rv, N, 1, 99, ok, &calls);
	right = 0;
	for (size_t i = 0; i < N && i < nseen; i++)
		right += seen[i] == at[i];
	UNIT_EQ_INT(right, N, "gather tail: longer than the rest, every range in order");
}

int main(void)
{
	struct gs_layout l36, l313;
	char detail[256];

	gs_layout_init(&l36);
	gs_layout_init(&l313);
	if (!UNIT_EQ_INT(gs_layout_from_table(3, 6, 0, 0, &l36, detail, sizeof detail), 0,
			 "3.6 table") ||
	    !UNIT_EQ_INT(gs_layout_from_table(3, 13, 0, 0, &l313, detail, sizeof detail), 0,
			 "3.13 table"))
		return unit_done();
	UNIT_CHECK(gs_layout_missing_objects(&l36) == NULL, "3.6 table reads objects");
	UNIT_CHECK(gs_layout_missing_objects(&l313) == NULL, "3.13 table reads objects");
	strings("3.6", &l36);
	strings("3.13", &l313);
	ints("3.6", &l36);
	ints("3.13", &l313);
	dicts(&l313);
	gather();
	gather_tail();
	return unit_done();
}
