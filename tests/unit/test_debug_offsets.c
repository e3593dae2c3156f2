/* gs_debug_offsets_probe and gs_layout_from_debug_offsets
 * (include/layout_sources.h) against the real _Py_DebugOffsets of three
 * stripped distribution builds, and against damaged copies of them: a
 * bad cookie, a wrong version, a free-threaded flag, offsets outside
 * their structs, a seed GIL table that disagrees, and memory that ends
 * early must all fail with the layout left untouched; no mutation may
 * crash or produce a layout that fails gs_layout_check. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout/layout.h"
#include "layout/sources.h"
#include "proc/mem.h"
#include "unit.h"

#include "../data/pyruntime_blobs.h"

#define RT_ADDR 0xb176a0u /* where 3.13's _PyRuntime sits; any address works */

/* A target whose only readable bytes are [base, base + len). */
struct fake {
	uint64_t base;
	const unsigned char *buf;
	size_t len;
	int reads;
};

static int fake_read(void *ctx, uint64_t addr, void *out, size_t n)
{
	struct fake *f = ctx;

	f->reads++;
	if (addr < f->base || n > f->len || addr - f->base > f->len - n) {
		errno = EFAULT;
		return -1;
	}
	memcpy(out, f->buf + (addr - f->base), n);
	return 0;
}

static struct gs_mem fake_mem(struct fake *f, const unsigned char *buf,
			      size_t len)
{
	struct gs_mem m = { 0, fake_read, f };

	f->base = RT_ADDR;
	f->buf = buf;
	f->len = len;
	f->reads = 0;
	return m;
}

static void put_word(unsigned char *b, int idx, uint64_t v)
{
	memcpy(b + 8 * idx, &v, 8);
}

/* What layout.c hands in: the newest older generated table (3.13's
 * pyenv DWARF), including fields of the wrong version that the reader
 * has to overwrite, such as 3.13's holds_gil bit on a 3.14 build. */
static void seed(struct gs_layout *l)
{
	gs_layout_init(l);
	l->rt_interpreters_head = (struct gs_field){ 632, 8 };
	l->rt_interpreters_main = (struct gs_field){ 640, 8 };
	l->rt_gil = (struct gs_field){ 360, 208 };
	l->interp_next = (struct gs_field){ 7264, 8 };
	l->interp_threads_head = (struct gs_field){ 7344, 8 };
	l->interp_id = (struct gs_field){ 7272, 8 };
	l->interp_ceval_gil = (struct gs_field){ 16, 8 };
	l->interp_gil = (struct gs_field){ 7752, 208 };
	l->ts_next = (struct gs_field){ 8, 8 };
	l->ts_interp = (struct gs_field){ 16, 8 };
	l->ts_thread_id = (struct gs_field){ 152, 8 };
	l->ts_native_thread_id = (struct gs_field){ 160, 8 };
	l->ts_holds_gil = (struct gs_field){ 32, 4 };
	l->holds_gil_mask = 0x20;
	l->ts_state = (struct gs_field){ 40, 4 };
	l->ts_gil_requested = (struct gs_field){ 300, 4 };
	l->gil_interval = (struct gs_field){ 0, 8 };
	l->gil_last_holder = (struct gs_field){ 8, 8 };
	l->gil_locked = (struct gs_field){ 16, 4 };
	l->gil_switch_number = (struct gs_field){ 24, 8 };
	l->gil_cond = (struct gs_field){ 32, 48 };
	l->gil_mutex = (struct gs_field){ 80, 40 };
	l->gil_switch_cond = (struct gs_field){ 120, 48 };
	l->gil_switch_mutex = (struct gs_field){ 168, 40 };
	l->gil_size = 208;
}

struct want {
	const char *ver;
	int minor;
	const unsigned char *blob;
	uint32_t hex;
	int64_t head, inext, ithreads, iid, igil, tid, ntid, hg, state, greq;
	uint64_t mask;
};

static const struct want wants[] = {
	{ "3.13", 13, pyruntime_blob_313, 0x030d12f0, 632, 7264, 7344, 7272, 7752,
	  152, 160, 32, 40, GS_NOFF, 0x20 },
	{ "3.14", 14, pyruntime_blob_314, 0x030e0af0, 808, 7272, 7344, 7280, 7784,
	  152, 160, 36, 44, GS_NOFF, 0xffffffffu },
	{ "3.15", 15, pyruntime_blob_315, 0x030f02f0, 936, 7264, 7336, 7272, 7736,
	  176, 184, 36, 48, 40, 0xffffffffu },
};
#define NWANTS (sizeof wants / sizeof wants[0])

static void check_field(const struct gs_field *f, int64_t off, int64_t size,
			const char *ver, const char *what)
{
	char name[128];

	snprintf(name, sizeof name, "%s: %s offset", ver, what);
	UNIT_EQ_INT(f->off, off, name);
	snprintf(name, sizeof name, "%s: %s size", ver, what);
	UNIT_EQ_INT(f->size, off == GS_NOFF ? 0 : size, name);
}

static void test_real(const struct want *w)
{
	struct fake f;
	struct gs_mem m = fake_mem(&f, w->blob, 304);
	struct gs_layout l;
	uint32_t hex = 0;
	int ft = -1;
	char detail[256] = "", name[128];

	snprintf(name, sizeof name, "%s: probe finds the cookie", w->ver);
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, RT_ADDR, &hex, &ft), 0, name);
	snprintf(name, sizeof name, "%s: probe reads PY_VERSION_HEX", w->ver);
	UNIT_EQ_INT(hex, w->hex, name);
	snprintf(name, sizeof name, "%s: probe: default build", w->ver);
	UNIT_EQ_INT(ft, 0, name);

	seed(&l);
	snprintf(name, sizeof name, "%s: layout from _Py_DebugOffsets", w->ver);
	if (!UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, w->minor, &l,
						      detail, sizeof detail), 0, name))
		UNIT_DIAG("detail: %s", detail);

	check_field(&l.rt_interpreters_head, w->head, 8, w->ver, "interpreters.head");
	check_field(&l.rt_interpreters_main, w->head + 8, 8, w->ver, "interpreters.main");
	check_field(&l.rt_gil, GS_NOFF, 0, w->ver, "no runtime GIL");
	check_field(&l.interp_next, w->inext, 8, w->ver, "interp next");
	check_field(&l.interp_threads_head, w->ithreads, 8, w->ver, "threads.head");
	check_field(&l.interp_id, w->iid, 8, w->ver, "interp id");
	check_field(&l.interp_ceval_gil, 16, 8, w->ver, "ceval.gil pointer");
	check_field(&l.interp_gil, w->igil, 208, w->ver, "embedded _gil");
	check_field(&l.ts_next, 8, 8, w->ver, "tstate next");
	check_field(&l.ts_interp, 16, 8, w->ver, "tstate interp");
	check_field(&l.ts_thread_id, w->tid, 8, w->ver, "thread_id");
	check_field(&l.ts_native_thread_id, w->ntid, 8, w->ver, "native_thread_id");
	check_field(&l.ts_holds_gil, w->hg, 4, w->ver, "holds_gil");
	snprintf(name, sizeof name, "%s: holds_gil mask", w->ver);
	UNIT_EQ_INT(l.holds_gil_mask, w->mask, name);
	check_field(&l.ts_state, w->state, 4, w->ver, "state");
	check_field(&l.ts_gil_requested, w->greq, 4, w->ver, "gil_requested");
	/* The GIL struct's inner fields stay as seeded. */
	check_field(&l.gil_last_holder, 8, 8, w->ver, "gil last_holder");
	check_field(&l.gil_locked, 16, 4, w->ver, "gil locked");
	check_field(&l.gil_switch_number, 24, 8, w->ver, "gil switch_number kept");
	check_field(&l.gil_cond, 32, 48, w->ver, "gil cond kept");
	check_field(&l.gil_switch_mutex, 168, 40, w->ver, "gil switch_mutex kept");
	snprintf(name, sizeof name, "%s: gil_size kept", w->ver);
	UNIT_EQ_INT(l.gil_size, 208, name);
	snprintf(name, sizeof name, "%s: complete for its version", w->ver);
	UNIT_CHECK(gs_layout_missing(&l, 3, w->minor) == NULL, name);
	snprintf(name, sizeof name, "%s: passes gs_layout_check", w->ver);
	UNIT_CHECK(gs_layout_check(&l, detail, sizeof detail) == 0, name);
}

/* Without a seed the two GIL words come from the table; from 3.14 the
 * field after _gil gives the struct's size, 3.13 has nothing to bound it. */
static void test_unseeded(void)
{
	struct fake f;
	struct gs_mem m;
	struct gs_layout l;
	char detail[256] = "";

	m = fake_mem(&f, pyruntime_blob_314, 304);
	gs_layout_init(&l);
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, 14, &l, detail,
						 sizeof detail), 0,
		    "unseeded 3.14: accepted");
	check_field(&l.gil_locked, 16, 4, "unseeded 3.14", "gil locked");
	check_field(&l.gil_last_holder, 8, 8, "unseeded 3.14", "gil last_holder");
	UNIT_EQ_INT(l.gil_size, 208, "unseeded 3.14: gil_size from the gap after _gil");
	check_field(&l.gil_cond, GS_NOFF, 0, "unseeded 3.14", "gil cond still absent");

	m = fake_mem(&f, pyruntime_blob_313, 304);
	gs_layout_init(&l);
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, 13, &l, detail,
						 sizeof detail), -1,
		    "unseeded 3.13: GIL size unknown, refused");
	UNIT_CHECK(strstr(detail, "size") != NULL, "unseeded 3.13: detail says why");
}

/* Run one damaged blob; it must fail and leave the layout alone. */
static void expect_fail(const unsigned char *blob, size_t len, int major,
			int minor, const char *name, const char *needle)
{
	struct fake f;
	struct gs_mem m = fake_mem(&f, blob, len);
	struct gs_layout l, before;
	char detail[256] = "", n2[160];

	seed(&l);
	before = l;
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, major, minor, &l,
						 detail, sizeof detail), -1, name);
	snprintf(n2, sizeof n2, "%s: layout untouched", name);
	UNIT_CHECK(memcmp(&l, &before, sizeof l) == 0, n2);
	if (needle) {
		snprintf(n2, sizeof n2, "%s: detail mentions \"%s\"", name, needle);
		if (!UNIT_CHECK(strstr(detail, needle) != NULL, n2))
			UNIT_DIAG("detail: %s", detail);
	}
}

static void test_bad(void)
{
	unsigned char b[304];
	struct fake f;
	struct gs_mem m;
	uint32_t hex;
	int ft;

	memcpy(b, pyruntime_blob_314, sizeof b);
	b[0] = 'X';
	expect_fail(b, sizeof b, 3, 14, "bad cookie", "cookie");
	m = fake_mem(&f, b, sizeof b);
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, RT_ADDR, &hex, &ft), -1,
		    "probe: bad cookie");

	expect_fail(pyruntime_blob_314, 304, 3, 13, "3.14 table read as 3.13", "version");
	expect_fail(pyruntime_blob_313, 304, 3, 14, "3.13 table read as 3.14", "version");
	expect_fail(pyruntime_blob_315, 304, 2, 15, "major 2", NULL);

	memcpy(b, pyruntime_blob_315, sizeof b);
	put_word(b, 1, 0x031000a0); /* 3.16.0a0 */
	expect_fail(b, sizeof b, 3, 16, "unknown minor 3.16", "3.16");

	memcpy(b, pyruntime_blob_314, sizeof b);
	put_word(b, 2, 1);
	expect_fail(b, sizeof b, 3, 14, "free-threaded", "free-threaded build");
	m = fake_mem(&f, b, sizeof b);
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, RT_ADDR, &hex, &ft), 0,
		    "probe: free-threaded table still probes");
	UNIT_EQ_INT(ft, 1, "probe: reports free_threaded");
	put_word(b, 2, 7);
	m = fake_mem(&f, b, sizeof b);
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, RT_ADDR, &hex, &ft), -1,
		    "probe: free_threaded 7 is not a CPython table");

	/* Memory that ends inside the table, for each version's length. */
	expect_fail(pyruntime_blob_313, 27 * 8, 3, 13, "3.13 truncated", "cannot read");
	expect_fail(pyruntime_blob_314, 30 * 8, 3, 14, "3.14 truncated", "cannot read");
	expect_fail(pyruntime_blob_315, 35 * 8, 3, 15, "3.15 truncated", "cannot read");
	m = fake_mem(&f, pyruntime_blob_315, 20);
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, RT_ADDR, &hex, &ft), -1,
		    "probe: truncated");
	UNIT_EQ_INT(gs_debug_offsets_probe(&m, 0, &hex, &ft), -1,
		    "probe: null runtime address");

	memcpy(b, pyruntime_blob_315, sizeof b);
	put_word(b, 24, (uint64_t)1 << 40); /* thread_state.next */
	expect_fail(b, sizeof b, 3, 15, "tstate next out of range", "next");
	memcpy(b, pyruntime_blob_315, sizeof b);
	put_word(b, 24, 888); /* == sizeof(PyThreadState) */
	expect_fail(b, sizeof b, 3, 15, "tstate next at the struct's end", "outside");
	memcpy(b, pyruntime_blob_315, sizeof b);
	put_word(b, 6, 0); /* interpreter_state.size */
	expect_fail(b, sizeof b, 3, 15, "interpreter size 0", "size");
	memcpy(b, pyruntime_blob_313, sizeof b);
	put_word(b, 3, 2u << 20); /* runtime_state.size */
	expect_fail(b, sizeof b, 3, 13, "runtime size 2 MiB", "size");
	memcpy(b, pyruntime_blob_314, sizeof b);
	put_word(b, 28, 152); /* native_thread_id = thread_id */
	expect_fail(b, sizeof b, 3, 14, "thread_id == native_thread_id", "overlap");
	memcpy(b, pyruntime_blob_314, sizeof b);
	put_word(b, 27, 32); /* thread_id over _status and holds_gil */
	expect_fail(b, sizeof b, 3, 14, "thread_id over holds_gil", "overlaps");
	memcpy(b, pyruntime_blob_313, sizeof b);
	put_word(b, 17, 7752 - 8); /* _gil.locked before _gil */
	expect_fail(b, sizeof b, 3, 13, "locked before _gil", "before");
	memcpy(b, pyruntime_blob_313, sizeof b);
	put_word(b, 16, 4); /* gil_runtime_state_enabled */
	expect_fail(b, sizeof b, 3, 13, "enabled set in a default build", "enabled");
	memcpy(b, pyruntime_blob_313, sizeof b);
	put_word(b, 25, 161); /* native_thread_id misaligned */
	expect_fail(b, sizeof b, 3, 13, "misaligned native_thread_id", "aligned");
}

/* A seed whose GIL words disagree with the table means the seed table is
 * for another build: refuse rather than mix. */
static void test_seed_mismatch(void)
{
	struct fake f;
	struct gs_mem m = fake_mem(&f, pyruntime_blob_313, 304);
	struct gs_layout l, before;
	char detail[256] = "";

	seed(&l);
	l.gil_locked.off = 24;
	before = l;
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, 13, &l, detail,
						 sizeof detail), -1,
		    "seeded locked at +24: refused");
	UNIT_CHECK(strstr(detail, "locked") && strstr(detail, "seed"),
		   "seeded locked: detail names the field and the seed");
	UNIT_CHECK(memcmp(&l, &before, sizeof l) == 0, "seeded locked: untouched");

	seed(&l);
	l.gil_last_holder.off = 0;
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, 13, &l, detail,
						 sizeof detail), -1,
		    "seeded last_holder at +0: refused");

	m = fake_mem(&f, pyruntime_blob_315, 304);
	seed(&l);
	l.gil_size = 216;
	UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3, 15, &l, detail,
						 sizeof detail), -1,
		    "seeded gil_size 216 on 3.15: refused");
	UNIT_CHECK(strstr(detail, "size") != NULL, "seeded gil_size: detail says size");
}

/* Random damage to the real tables: never a crash, never a read outside
 * the table, and any layout accepted passes gs_layout_check. */
static void test_mutations(void)
{
	static const int minors[] = { 13, 14, 15 };
	const unsigned char *blobs[] = { pyruntime_blob_313, pyruntime_blob_314, pyruntime_blob_315 };
	unsigned long long x = 0x9e3779b97f4a7c15ull;
	int accepted = 0, bad = 0, rejected = 0;
	char detail[256];

	for (int i = 0; i < 30000; i++) {
		unsigned char b[304];
		int k = i % 3, nmut = 1 + (int)(x % 3);
		struct fake f;
		struct gs_mem m;
		struct gs_layout l;

		memcpy(b, blobs[k], sizeof b);
		for (int j = 0; j < nmut; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			int word = 3 + (int)(x % 35);
			uint64_t v;
			switch ((x >> 8) % 4) {
			case 0: v = x >> 20; break;                 /* large */
			case 1: v = (x >> 16) % 1024; break;        /* small */
			case 2: memcpy(&v, b + 8 * word, 8); v += (x >> 12) % 17 - 8; break;
			default: memcpy(&v, b + 8 * (3 + (int)((x >> 24) % 35)), 8); break;
			}
			put_word(b, word, v);
		}
		m = fake_mem(&f, b, sizeof b);
		seed(&l);
		if (gs_layout_from_debug_offsets(&m, RT_ADDR, 3, minors[k], &l,
						 detail, sizeof detail) == 0) {
			accepted++;
			if (gs_layout_check(&l, detail, sizeof detail) != 0 ||
			    gs_layout_missing(&l, 3, minors[k]) != NULL)
				bad++;
		} else {
			rejected++;
		}
	}
	UNIT_EQ_INT(bad, 0, "mutations: every accepted layout is consistent");
	UNIT_CHECK(rejected > 0 && accepted > 0,
		   "mutations: some rejected, some harmless ones accepted");
	UNIT_DIAG("mutations: %d accepted, %d rejected", accepted, rejected);
}

/* The frame, code and object words, from the whole tables, on top of
 * the seed layout.c really uses (the generated 3.13 table): what the
 * 3.14 and 3.15 tables move must be moved, what they do not carry must
 * be re-based or kept. */
static const struct {
	int minor;
	const unsigned char *blob;
	size_t len;
	int64_t modules, current_frame, owner, iframe_size, adaptive, traceable;
	int64_t ht_cached_keys, type_size;
} objwants[] = {
	{ 13, pyruntime_blob_313, sizeof pyruntime_blob_313, 7656, 72, 70, 80, 200,
	  184, 880, 416 },
	{ 14, pyruntime_blob_314, sizeof pyruntime_blob_314, 7688, 72, 74, 88, 208,
	  192, 880, 416 },
	{ 15, pyruntime_blob_315, sizeof pyruntime_blob_315, 7592, 72, 74, 88, 208,
	  192, 888, 424 },
};

static void test_objects(void)
{
	for (size_t i = 0; i < sizeof objwants / sizeof objwants[0]; i++) {
		struct fake f;
		struct gs_layout l;
		char detail[256], name[64];
		struct gs_mem m;

		gs_layout_init(&l);
		if (gs_layout_from_table(3, objwants[i].minor, 0, 1, &l, detail,
					 sizeof detail) < 0) {
			UNIT_DIAG("no seed table: %s", detail);
			continue;
		}
		m = fake_mem(&f, objwants[i].blob, objwants[i].len);
		snprintf(name, sizeof name, "3.%d whole table", objwants[i].minor);
		if (!UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3,
				 objwants[i].minor, &l, detail, sizeof detail), 0, name))
			continue;
		UNIT_CHECK(gs_layout_missing_stacks(&l) == NULL, name);
		UNIT_CHECK(gs_layout_missing_objects(&l) == NULL, name);
		UNIT_EQ_INT(l.interp_modules.off, objwants[i].modules, "imports.modules");
		UNIT_EQ_INT(l.ts_current_frame.off, objwants[i].current_frame,
			    "current_frame");
		UNIT_EQ_INT(l.ts_frame.off, GS_NOFF, "no PyFrameObject chain");
		UNIT_EQ_INT(l.ts_cframe.off, GS_NOFF, "no cframe");
		UNIT_EQ_INT(l.iframe_owner.off, objwants[i].owner, "frame owner");
		UNIT_EQ_INT(l.iframe_size, objwants[i].iframe_size, "frame size");
		UNIT_EQ_INT(l.code_adaptive.off, objwants[i].adaptive, "co_code_adaptive");
		UNIT_EQ_INT(l.code_firsttraceable.off, objwants[i].traceable,
			    "_co_firsttraceable re-based on co_code_adaptive");
		UNIT_EQ_INT(l.ht_cached_keys.off, objwants[i].ht_cached_keys,
			    "ht_cached_keys");
		UNIT_EQ_INT(l.type_size, objwants[i].type_size, "sizeof(PyTypeObject)");
		UNIT_EQ_INT(l.code_qualname.off, 128, "co_qualname");
		UNIT_EQ_INT(l.linetable_kind, GS_LT_LOCATIONS, "location table");
		UNIT_EQ_INT(l.uni_compact_size, 56, "PyCompactUnicodeObject");
		UNIT_EQ_INT(l.long_tagged, 1, "lv_tag");
		UNIT_EQ_INT(l.objdict_scheme, GS_OBJDICT_313, "inline values");
		UNIT_EQ_INT(l.owner_first_c, 3, "C-owned frames from owner 3");

		/* The GIL part alone (304 bytes): the layout stands, without
		 * stacks. */
		gs_layout_init(&l);
		gs_layout_from_table(3, objwants[i].minor, 0, 1, &l, detail, sizeof detail);
		m = fake_mem(&f, objwants[i].blob, PYRUNTIME_BLOB_GIL_BYTES);
		snprintf(name, sizeof name, "3.%d GIL part only", objwants[i].minor);
		if (UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3,
				objwants[i].minor, &l, detail, sizeof detail), 0, name))
			UNIT_CHECK(gs_layout_missing_stacks(&l) != NULL,
				   "no stacks without the object sections");

		/* A damaged frame section costs the stacks, not the layout. */
		unsigned char b[1024];
		memcpy(b, objwants[i].blob, objwants[i].len);
		int fr_size_word = objwants[i].minor == 13 ? 28 :
				   objwants[i].minor == 14 ? 31 : 39;
		put_word(b, fr_size_word, 0);
		gs_layout_init(&l);
		gs_layout_from_table(3, objwants[i].minor, 0, 1, &l, detail, sizeof detail);
		m = fake_mem(&f, b, objwants[i].len);
		snprintf(name, sizeof name, "3.%d bad frame size", objwants[i].minor);
		if (UNIT_EQ_INT(gs_layout_from_debug_offsets(&m, RT_ADDR, 3,
				objwants[i].minor, &l, detail, sizeof detail), 0, name))
			UNIT_CHECK(gs_layout_missing_stacks(&l) != NULL &&
				   l.code_filename.off == GS_NOFF,
				   "a bad frame section clears the object fields");
	}
}

int main(void)
{
	for (size_t i = 0; i < NWANTS; i++)
		test_real(&wants[i]);
	test_objects();
	test_unseeded();
	test_bad();
	test_seed_mismatch();
	test_mutations();
	return unit_done();
}
