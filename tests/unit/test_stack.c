/* The native-stack stage's pure parts, against their headers: the
 * .eh_frame_hdr parser, symbol names, the merge plan, the sched file
 * parser and the debug-file search. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/debugfile.h"
#include "proc/elfobj.h"
#include "proc/sched.h"
#include "stack/ehframe.h"
#include "stack/merge.h"
#include "stack/symname.h"
#include "unit.h"

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_ehhdr(void)
{
	unsigned char b[16] = { 1, 0x1b, 0x03, 0x3b };
	struct gs_ehhdr h;
	uint64_t at = 0x400000;

	put32(b + 4, (uint32_t)-0x100); /* pcrel: from the field's address */
	put32(b + 8, 5);
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), 0, "a linker's header parses");
	UNIT_EQ_INT(h.eh_frame, at + 4 - 0x100, "eh_frame_ptr is pc-relative");
	UNIT_EQ_INT(h.fde_count, 5, "fde_count");
	UNIT_EQ_INT(h.table, at + 12, "the table follows the header");
	UNIT_EQ_INT(h.searchable, 1, "datarel sdata4 table is searchable");

	b[3] = 0x03; /* udata4 table: not what libunwind searches */
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), 0, "other table encoding parses");
	UNIT_EQ_INT(h.searchable, 0, "but is not searchable");
	b[3] = 0x3b;

	b[2] = 0xff; /* no count, no table */
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), 0, "omitted count parses");
	UNIT_EQ_INT(h.searchable, 0, "without a table nothing is searchable");
	b[2] = 0x03;

	put32(b + 8, 1u << 30);
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), 0, "huge count parses");
	UNIT_EQ_INT(h.searchable, 0, "a count past any address space is no table");
	put32(b + 8, 5);

	b[0] = 2;
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), -1, "version 2 is refused");
	b[0] = 1;
	UNIT_EQ_INT(gs_ehhdr_parse(b, 7, at, &h), -1, "a header cut short is refused");
	b[1] = 0x9b; /* indirect */
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), -1, "indirect pointers are refused");
	b[1] = 0x1e; /* format 0xe does not exist */
	UNIT_EQ_INT(gs_ehhdr_parse(b, sizeof b, at, &h), -1, "unknown formats are refused");
	b[1] = 0x0c; /* sdata8 absolute: reads 8 bytes */
	UNIT_EQ_INT(gs_ehhdr_parse(b, 11, at, &h), -1, "sdata8 needs 8 bytes");
}

static void base_is(const char *name, const char *want)
{
	char buf[64], label[160];
	gs_symname_base(name, buf, sizeof buf);
	snprintf(label, sizeof label, "base of %s", name);
	UNIT_EQ_STR(buf, want, label);
}

static void test_symname(void)
{
	char small[5];
	base_is("take_gil", "take_gil");
	base_is("take_gil.cold", "take_gil");
	base_is("take_gil.constprop.0.cold", "take_gil");
	base_is("_PyEval_EvalFrameDefault.lto_priv.0", "_PyEval_EvalFrameDefault");
	base_is("foo.part.12.isra.0", "foo");
	base_is("foo.cold.3", "foo");
	base_is("foo.llvm.1234567", "foo");
	base_is("clock_nanosleep@GLIBC_2.2.5", "clock_nanosleep");
	base_is("pthread_cond_timedwait@@GLIBC_2.3.2", "pthread_cond_timedwait");
	base_is("._start", "._start");
	base_is("a.b", "a.b");
	base_is("foo.12", "foo.12");
	base_is("foo.cold.", "foo.cold.");
	base_is("", "");
	UNIT_EQ_INT(gs_symname_base("take_gil.cold", small, sizeof small), 4,
		    "a result is cut to fit");
	UNIT_EQ_STR(small, "take", "and NUL-terminated");

	UNIT_EQ_INT(gs_symname_kind("_PyEval_EvalFrameDefault"), GS_FN_EVAL, "eval loop");
	UNIT_EQ_INT(gs_symname_kind("_PyEval_EvalFrameDefault.cold"), GS_FN_EVAL,
		    "its cold part is the eval loop too");
	UNIT_EQ_INT(gs_symname_kind("_TAIL_CALL_LOAD_FAST"), GS_FN_EVAL,
		    "a tail-calling build's handler");
	UNIT_EQ_INT(gs_symname_kind("take_gil.constprop.0"), GS_FN_GIL, "take_gil");
	UNIT_EQ_INT(gs_symname_kind("PyEval_RestoreThread"), GS_FN_GIL, "RestoreThread");
	UNIT_EQ_INT(gs_symname_kind("_PyThreadState_Attach"), GS_FN_GIL, "3.13's attach");
	UNIT_EQ_INT(gs_symname_kind("PyEval_EvalCode"), GS_FN_OTHER, "not the loop");
	UNIT_EQ_INT(gs_symname_kind("take_gil_x"), GS_FN_OTHER, "a prefix is not a match");
	UNIT_EQ_INT(gs_symname_kind(NULL), GS_FN_OTHER, "unknown");
}

static void test_merge(void)
{
	size_t first[8], count[8];
	struct gs_merge m;

	/* 3.10: one eval frame per Python frame. */
	const unsigned char ev1[] = { 0, 1, 0, 1, 0 }, en1[] = { 1, 1 };
	gs_merge_plan(ev1, 5, en1, 2, first, count, &m);
	UNIT_EQ_INT(m.ok, 1, "one frame per eval loop merges");
	UNIT_EQ_INT(count[1], 1, "innermost eval owns one frame");
	UNIT_EQ_INT(first[1], 0, "the innermost one");
	UNIT_EQ_INT(first[3], 1, "the next eval owns the next");
	UNIT_EQ_INT(count[0] + count[2] + count[4], 0, "other frames own none");

	/* 3.11+: one loop runs a run of frames down to its entry frame. */
	const unsigned char ev2[] = { 0, 0, 1, 0, 0, 1, 0 }, en2[] = { 0, 0, 1, 0, 1 };
	gs_merge_plan(ev2, 7, en2, 5, first, count, &m);
	UNIT_EQ_INT(m.ok, 1, "runs of frames merge");
	UNIT_EQ_INT(first[2], 0, "innermost loop from frame 0");
	UNIT_EQ_INT(count[2], 3, "down to its entry frame");
	UNIT_EQ_INT(first[5], 3, "outer loop from frame 3");
	UNIT_EQ_INT(count[5], 2, "to the outermost");
	UNIT_EQ_INT(m.eval_frames, 2, "two eval frames counted");
	UNIT_EQ_INT(m.entries, 2, "two entries counted");

	const unsigned char ev3[] = { 1, 0, 0 };
	gs_merge_plan(ev3, 3, en2, 5, first, count, &m);
	UNIT_EQ_INT(m.ok, 0, "counts differ: no merge");
	UNIT_EQ_INT(count[0], 0, "and no group");

	const unsigned char en4[] = { 1, 0 };
	const unsigned char ev4[] = { 1, 0, 1 };
	gs_merge_plan(ev4, 3, en4, 2, first, count, &m);
	UNIT_EQ_INT(m.ok, 0, "an outermost frame that is no entry frame: no merge");

	gs_merge_plan(ev3 + 1, 2, NULL, 0, first, count, &m);
	UNIT_EQ_INT(m.ok, 1, "no Python and no eval loop: trivially merged");
	gs_merge_plan(ev3, 3, NULL, 0, first, count, &m);
	UNIT_EQ_INT(m.ok, 0, "an eval loop without Python frames: no merge");
}

static void test_anchor(void)
{
	/* Five entries: 0 a leaf, 1 inlined into 2 (same sp), 2, 3, 4. */
	const uint64_t sp[] = { 0x1000, 0x1100, 0x1100, 0x1400, 0x1800 };
	const unsigned char inl[] = { 0, 1, 0, 0, 0 };
	unsigned char ev[5] = { 0 };
	const uint64_t a1[] = { 0x1180, 0x1900 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a1, 2, ev), 1,
		    "two anchors in two frames");
	UNIT_CHECK(!ev[0] && !ev[1] && ev[2] && !ev[3] && ev[4],
		   "the frames holding them, not the inlined entry");
	unsigned char ev2[5] = { 0 };
	const uint64_t a2[] = { 0x1180, 0x1190 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a2, 2, ev2), 0,
		    "two loops in one frame: refused");
	UNIT_CHECK(!ev2[2], "and nothing marked");
	const uint64_t a3[] = { 0x1900, 0x1180 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a3, 2, ev2), 0,
		    "anchors out of order: refused");
	const uint64_t a4[] = { 0x0800 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a4, 1, ev2), 0,
		    "an anchor below the stack: refused");
	const uint64_t a5[] = { 0x3000 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a5, 1, ev2), 0,
		    "an anchor past its end: refused");
	UNIT_EQ_INT(gs_merge_eval_by_anchor(sp, inl, 5, 0x2000, a5, 0, ev2), 0,
		    "no anchors: nothing found");
	const uint64_t down[] = { 0x1000, 0x0f00 };
	const uint64_t a6[] = { 0x1000 };
	UNIT_EQ_INT(gs_merge_eval_by_anchor(down, inl, 2, 0x2000, a6, 1, ev2), 0,
		    "a stack that goes down: refused");
}

static void test_sched(void)
{
	static const char text[] =
		"python3 (1234, #threads: 5)\n"
		"-------------------------------------------------------------------\n"
		"se.exec_start                                :       2658494.896663\n"
		"se.vruntime                                  :          9808.354463\n";
	uint64_t ns = 0;
	UNIT_EQ_INT(gs_parse_sched_exec_start(text, sizeof text - 1, &ns), 0, "found");
	UNIT_EQ_INT(ns, 2658494896663ull, "ms with six decimals to ns");
	UNIT_EQ_INT(gs_parse_sched_exec_start("se.exec_start : 12\n", 19, &ns), 0,
		    "no fraction");
	UNIT_EQ_INT(ns, 12000000, "whole ms");
	UNIT_EQ_INT(gs_parse_sched_exec_start("se.exec_start : 1.5\n", 20, &ns), 0,
		    "short fraction");
	UNIT_EQ_INT(ns, 1500000, "padded");
	UNIT_EQ_INT(gs_parse_sched_exec_start("se.exec_startx : 1\n", 19, &ns), -1,
		    "another key is not it");
	UNIT_EQ_INT(gs_parse_sched_exec_start("se.exec_start : x\n", 18, &ns), -1,
		    "no number");
	UNIT_EQ_INT(gs_parse_sched_exec_start("se.exec_start : 99999999999999999999\n",
					      37, &ns), -1, "overflow is refused");
	UNIT_EQ_INT(gs_sched_exec_start(0, 0, &ns) == 0 || access("/proc/thread-self/sched",
								   F_OK) != 0, 1,
		    "the live file reads where the kernel has it");
}

static int write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(data, 1, n, f);
	return fclose(f);
}

static int copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	char buf[65536];
	size_t n;
	if (!a || !b)
		return -1;
	while ((n = fread(buf, 1, sizeof buf, a)) > 0)
		fwrite(buf, 1, n, b);
	fclose(a);
	return fclose(b);
}

static void test_debugfile(const char *self)
{
	char root[] = "/tmp/gs-test-debugfile.XXXXXX", path[4096], obj[4096], got[4096];
	char bid[129];
	struct gs_elf *e;
	uint32_t crc;

	if (!UNIT_CHECK(mkdtemp(root) != NULL, "temporary root"))
		return;
	snprintf(obj, sizeof obj, "%s/lib/libx.so", root);
	snprintf(path, sizeof path, "%s/lib", root);
	mkdir(path, 0700);
	write_file(obj, "not really an object", 20);

	/* Debuglink next to the object, with its CRC. */
	snprintf(path, sizeof path, "%s/lib/libx.so.debug", root);
	write_file(path, "debug bytes", 11);
	UNIT_EQ_INT(gs_file_crc32(path, &crc), 0, "CRC of a file");
	struct gs_debug_search q = { .root = root, .object = obj, .link = "libx.so.debug",
				     .crc = crc };
	UNIT_EQ_INT(gs_debug_next(&q, got, sizeof got), 0, "debuglink next to the object");
	UNIT_EQ_STR(got, path, "that file");
	UNIT_EQ_INT(gs_debug_next(&q, got, sizeof got), -1, "and nothing more");

	struct gs_debug_search bad = { .root = root, .object = obj, .link = "libx.so.debug",
				       .crc = crc ^ 1 };
	UNIT_EQ_INT(gs_debug_next(&bad, got, sizeof got), -1, "a CRC that differs is no match");
	struct gs_debug_search slash = { .root = root, .object = obj,
					 .link = "../lib/libx.so.debug", .crc = crc };
	UNIT_EQ_INT(gs_debug_next(&slash, got, sizeof got), -1, "a link with '/' is ignored");

	/* Under ROOT/usr/lib/debug/DIR/. */
	snprintf(path, sizeof path, "%s/usr", root); mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/usr/lib", root); mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/usr/lib/debug", root); mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/usr/lib/debug/lib", root); mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/usr/lib/debug/lib/other.debug", root);
	write_file(path, "debug bytes", 11);
	struct gs_debug_search g = { .root = root, .object = obj, .link = "other.debug",
				     .crc = crc };
	UNIT_EQ_INT(gs_debug_next(&g, got, sizeof got), 0, "debuglink under the root's debug dir");
	UNIT_EQ_STR(got, path, "ROOT/usr/lib/debug/lib/other.debug");

	/* By build-id: a copy of this program, whose build-id it is. */
	if (gs_elf_open(self, &e) != 0 || gs_elf_build_id(e, bid, sizeof bid) != 0) {
		UNIT_DIAG("this test binary has no build-id: skipping that part");
		if (e)
			gs_elf_close(e);
	} else {
		gs_elf_close(e);
		snprintf(path, sizeof path, "%s/usr/lib/debug/.build-id", root); mkdir(path, 0700);
		snprintf(path, sizeof path, "%s/usr/lib/debug/.build-id/%.2s", root, bid);
		mkdir(path, 0700);
		snprintf(path, sizeof path, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root,
			 bid, bid + 2);
		copy_file(self, path);
		struct gs_debug_search b = { .root = root, .object = obj, .build_id = bid };
		UNIT_EQ_INT(gs_debug_next(&b, got, sizeof got), 0, "by build-id");
		UNIT_EQ_STR(got, path, "the .build-id file");
		char other[129];
		snprintf(other, sizeof other, "%.2s%s", bid, "00");
		struct gs_debug_search w = { .root = root, .object = obj, .build_id = bid };
		/* Same path, but the object claims a different id in the
		 * file name's place: rename to fake a stale package. */
		char stale[4096];
		snprintf(stale, sizeof stale, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root,
			 other, other + 2);
		snprintf(got, sizeof got, "%s/usr/lib/debug/.build-id/%.2s", root, other);
		mkdir(got, 0700);
		rename(path, stale);
		w.build_id = other;
		UNIT_EQ_INT(gs_debug_next(&w, got, sizeof got), -1,
			    "a .build-id file whose id differs is no match");
		unlink(stale);
	}
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		UNIT_DIAG("could not remove %s", root);
}

int main(void)
{
	test_ehhdr();
	test_symname();
	test_merge();
	test_anchor();
	test_sched();
	test_debugfile("/proc/self/exe");
	return unit_done();
}
