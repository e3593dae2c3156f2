/* Writes the generated seed corpora into DIR/<harness>/ (fuzz/build.sh
 * runs it): well-formed fake targets for fuzz_remote and fuzz_sampler
 * (with a script of GIL switches, an off-CPU hold, a reused thread
 * state, an exiting thread) for every Python version gilsnoop has a
 * layout for, the real _Py_DebugOffsets tables
 * for fuzz_debug_offsets, and recordings made by trace_writer.c in all
 * three formats, whole and cut short, for fuzz_trace.  Generated rather
 * than committed so that they follow the layouts and the writer.
 *
 *   gen_seeds DIR */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_pystack.h"
#include "fuzz_remote.h"
#include "fuzz_sampler.h"
#include "layout/layout.h"
#include "sink/trace_writer.h"
#include "../tests/data/linetables.h"

static const char *outdir;
static int failed;

static void write_file(const char *harness, const char *name, const void *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, harness);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		failed = 1;
		return;
	}
	snprintf(path, sizeof path, "%s/%s/%s", outdir, harness, name);
	f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		failed = 1;
	}
}

/* ---- fuzz_remote ------------------------------------------------------ */

struct img {
	unsigned char b[1 << 20];
	size_t n;
};

static void region(struct img *im, uint64_t addr, const void *p, size_t len)
{
	uint16_t l = (uint16_t)len;
	if (im->n + REM_REGION_HDR + len > sizeof im->b)
		abort();
	memcpy(im->b + im->n, &addr, 8);
	memcpy(im->b + im->n + 8, &l, 2);
	memcpy(im->b + im->n + REM_REGION_HDR, p, len);
	im->n += REM_REGION_HDR + len;
}

static void word(struct img *im, uint64_t addr, uint64_t v)
{
	region(im, addr, &v, 8);
}

static void put(unsigned char *buf, int64_t lo, struct gs_field f, uint64_t v)
{
	if (f.off < 0)
		return;
	memcpy(buf + (f.off - lo), &v, f.size > 0 && f.size <= 8 ? (size_t)f.size : 8);
}

static void span(const struct gs_layout *l, int64_t *lo, int64_t *hi)
{
	const struct gs_field *fs[] = { &l->ts_next, &l->ts_thread_id,
					&l->ts_native_thread_id,
					&l->ts_holds_gil, &l->ts_gil_requested };
	*lo = -1;
	*hi = 0;
	for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
		int64_t sz = fs[i]->size > 0 ? fs[i]->size : 8;
		if (fs[i]->off < 0)
			continue;
		if (*lo < 0 || fs[i]->off < *lo)
			*lo = fs[i]->off;
		if (fs[i]->off + sz > *hi)
			*hi = fs[i]->off + sz;
	}
}

#define INTERP(i) (0x20000ull + (uint64_t)(i) * 0x10000)
#define TSTATE(i, k) (0x100000ull + (uint64_t)(i) * 0x10000 + (uint64_t)(k) * 0x1000)
#define PTHREAD(i, k) (0x200000ull + (uint64_t)(i) * 0x10000 + (uint64_t)(k) * 0x1000)
#define PTHREAD_TID_OFF 0x2d0
#define SEPARATE_GIL 0x300000ull
#define OWN_GIL 0x310000ull
#define TID(i, k) (1000u + (unsigned)((i) * 100 + (k)))

/* The fake target's memory: the runtime, where its GIL is, nint
 * interpreters of nts thread states each (the last one's list a cycle
 * when cycle), pthread structs with the tids before 3.11.  With own_gil
 * (3.12+) interpreter 1 has a GIL of its own.  Returns the main GIL's
 * address (0 on 3.6: static variables, fuzz_gil_36). */
static uint64_t build_image(struct img *im, const struct gs_layout *l, int minor,
			    int nint, int nts, int cycle, int own_gil)
{
	unsigned char ts[4096];
	int64_t lo, hi;
	uint64_t gil = 0, rt = REM_RUNTIME;

	if (minor >= 7) {
		word(im, rt + (uint64_t)l->rt_interpreters_head.off, INTERP(nint - 1));
		if (l->rt_interpreters_main.off >= 0)
			word(im, rt + (uint64_t)l->rt_interpreters_main.off, INTERP(0));
		if (l->rt_gil.off >= 0)
			gil = rt + (uint64_t)l->rt_gil.off;
		else if (l->interp_gil.off >= 0)
			gil = INTERP(0) + (uint64_t)l->interp_gil.off;
		else
			gil = SEPARATE_GIL;
	} else {
		word(im, rt, INTERP(nint - 1));
	}
	if (gil) {
		uint32_t one = 1;
		region(im, gil + (uint64_t)l->gil_locked.off, &one, 4);
		word(im, gil + (uint64_t)l->gil_last_holder.off, TSTATE(0, 0));
		word(im, gil + (uint64_t)l->gil_switch_number.off, 12345);
	} else {
		/* 3.6: the statics of fuzz_gil_36(). */
		uint32_t one = 1;
		region(im, rt + 0x100, &one, 4);
		word(im, rt + 0x108, TSTATE(0, 0));
		word(im, rt + 0x110, 12345);
	}

	span(l, &lo, &hi);
	for (int i = 0; i < nint; i++) {
		uint64_t in = INTERP(i);
		uint64_t igil = own_gil && i == 1 ? OWN_GIL : gil;
		word(im, in + (uint64_t)l->interp_next.off, i ? INTERP(i - 1) : 0);
		word(im, in + (uint64_t)l->interp_threads_head.off, TSTATE(i, 0));
		if (l->interp_id.off >= 0)
			word(im, in + (uint64_t)l->interp_id.off, (uint64_t)i);
		if (l->interp_ceval_gil.off >= 0)
			word(im, in + (uint64_t)l->interp_ceval_gil.off, igil);
		for (int k = 0; k < nts; k++) {
			uint64_t next = k + 1 < nts ? TSTATE(i, k + 1) :
					cycle ? TSTATE(i, 0) : 0;
			memset(ts, 0, sizeof ts);
			put(ts, lo, l->ts_next, next);
			put(ts, lo, l->ts_thread_id, PTHREAD(i, k));
			put(ts, lo, l->ts_native_thread_id, TID(i, k));
			put(ts, lo, l->ts_holds_gil, (i == 0 || own_gil) && k == 0 ?
			    l->holds_gil_mask : 0);
			put(ts, lo, l->ts_gil_requested, k == 1);
			region(im, TSTATE(i, k) + (uint64_t)lo, ts, (size_t)(hi - lo));
			if (l->ts_native_thread_id.off < 0) {
				uint32_t tid = TID(i, k);
				region(im, PTHREAD(i, k) + PTHREAD_TID_OFF, &tid, 4);
			}
		}
	}
	return gil;
}

enum variant { V_ONE, V_TWO, V_CYCLE, V_EDIT, V_N };

static void remote_seed(int minor, enum variant v)
{
	static const char *const names[V_N] = { "one", "two", "cycle", "edit" };
	struct gs_layout l;
	struct img *im = calloc(1, sizeof *im);
	unsigned char hdr[REM_HDR] = { 0 };
	char name[64];

	if (!im || fuzz_layout_for(minor, &l) != 0) {
		free(im);
		return;
	}
	hdr[0] = (unsigned char)(minor - 6);
	hdr[1] = REM_F_PTHREAD_OFF | (v == V_TWO ? REM_F_PREV | REM_F_ON_CPU : 0) |
		 (v == V_EDIT ? REM_F_EDIT | REM_F_FIND_TID : 0);
	hdr[2] = PTHREAD_TID_OFF & 0xff;
	hdr[3] = PTHREAD_TID_OFF >> 8;
	/* Edits: gil_interval moved and resized (often rejected by the
	 * checks, which is the point), ts_state dropped. */
	hdr[4] = 16; hdr[5] = 0x10; hdr[6] = 0; hdr[7] = 4;
	hdr[8] = 14; hdr[9] = 0xff; hdr[10] = 0xff; hdr[11] = 0;
	hdr[12] = v == V_TWO ? 'S' : 'R';
	hdr[13] = v == V_TWO ? REM_FUTEX_COND : REM_FUTEX_NONE;
	hdr[15] = v == V_TWO ? 3 : 0;
	memcpy(im->b, hdr, REM_HDR);
	im->n = REM_HDR;
	build_image(im, &l, minor, v == V_TWO ? 2 : 1, v == V_TWO ? 2 : 3,
		    v == V_CYCLE, 0);
	snprintf(name, sizeof name, "3.%d-%s", minor, names[v]);
	write_file("fuzz_remote", name, im->b, im->n);
	free(im);
}

/* ---- fuzz_sampler ----------------------------------------------------- */

static void bytes(struct img *im, const void *p, size_t n)
{
	if (im->n + n > sizeof im->b)
		abort();
	memcpy(im->b + im->n, p, n);
	im->n += n;
}

static void op_mem(struct img *im, uint64_t addr, const void *p, uint8_t n)
{
	uint8_t op = SAM_OP_MEM;
	bytes(im, &op, 1);
	bytes(im, &addr, 8);
	bytes(im, &n, 1);
	bytes(im, p, n);
}

static void op_word(struct img *im, uint64_t addr, uint64_t v, uint8_t n)
{
	op_mem(im, addr, &v, n);
}

static void op_text(struct img *im, int task, int file, const char *text)
{
	uint8_t b[3] = { SAM_OP_TEXT, (uint8_t)task, (uint8_t)file };
	uint8_t n = (uint8_t)strlen(text);
	bytes(im, b, 3);
	bytes(im, &n, 1);
	bytes(im, text, n);
}

static void op_clock(struct img *im, uint16_t ms)
{
	uint8_t op = SAM_OP_CLOCK;
	bytes(im, &op, 1);
	bytes(im, &ms, 2);
}

static void op_byte(struct img *im, int op, int arg)
{
	uint8_t b[2] = { (uint8_t)op, (uint8_t)arg };
	bytes(im, b, arg < 0 ? 1 : 2);
}

/* The whole GIL struct as one zeroed region, under the word regions
 * that come after it: the sampler reads it in one range. */
static void gil_region(struct img *im, const struct gs_gil_addrs *a)
{
	static unsigned char zero[1024];
	uint64_t lo = a->locked, hi = a->locked + 4;
	const uint64_t r[][2] = {
		{ a->last_holder, a->last_holder + 8 },
		{ a->switch_number, a->switch_number + 8 },
		{ a->interval, a->interval + 8 },
		{ a->cond, a->cond_end }, { a->mutex, a->mutex_end },
		{ a->switch_cond, a->switch_cond_end },
		{ a->switch_mutex, a->switch_mutex_end },
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (!r[i][0])
			continue;
		if (r[i][0] < lo)
			lo = r[i][0];
		if (r[i][1] > hi)
			hi = r[i][1];
	}
	if (hi - lo <= sizeof zero)
		region(im, lo, zero, (size_t)(hi - lo));
	else /* 3.6: locked in .data, the rest elsewhere */
		region(im, a->last_holder, zero, (size_t)(hi - a->last_holder));
}

/* A futex wait on addr, as /proc/PID/task/TID/syscall shows it. */
static const char *futex_on(uint64_t addr)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "202 0x%llx 0x80 0x0 0x0 0x0 0x0 0x7ffd0000 0x7f000000\n",
		 (unsigned long long)addr);
	return buf;
}

#define STAT_S "1000 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n"
#define STAT_R "1000 (t) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0\n"
#define READ_FD3 "0 0x3 0x7f0000001000 0x1000 0x0 0x0 0x0 0x7ffd0000 0x7f000000\n"

/* Thread state field f of thread k of interpreter 0 set to v: the
 * operations it takes (0 when the build has no such field). */
static int op_field(struct img *im, const struct gs_layout *l, struct gs_field f,
		    int k, uint64_t v)
{
	if (f.off < 0)
		return 0;
	op_word(im, TSTATE(0, k) + (uint64_t)f.off, v,
		(uint8_t)(f.size > 0 && f.size <= 8 ? f.size : 8));
	return 1;
}

/* How many operations a hand-over from thread `from` to `to` of the main
 * GIL takes, and (with im) the operations: last_holder, switch_number
 * and the holds_gil and gil_requested flags as take_gil leaves them. */
static int handover(struct img *im, const struct gs_layout *l,
		    const struct gs_gil_addrs *g, uint64_t *sw, int from, int to)
{
	uint64_t held = l->holds_gil_mask ? l->holds_gil_mask : 1;
	if (!im)
		return 2 + 2 * (l->ts_holds_gil.off >= 0) + (l->ts_gil_requested.off >= 0);
	op_word(im, g->last_holder, TSTATE(0, to), 8);
	op_word(im, g->switch_number, ++*sw, 8);
	return 2 + op_field(im, l, l->ts_holds_gil, from, 0) +
	       op_field(im, l, l->ts_holds_gil, to, held) +
	       op_field(im, l, l->ts_gil_requested, to, 0);
}

/* Start a step of n operations. */
static void step(struct img *im, int n)
{
	uint8_t b = (uint8_t)n;
	bytes(im, &b, 1);
}

static void sampler_seed(int minor, int own_gil)
{
	struct gs_layout l;
	struct img *im = calloc(1, sizeof *im), *mem = calloc(1, sizeof *mem);
	struct gs_gil_addrs g, g2;
	char name[64];
	int nint = own_gil ? 2 : 1, nts = 3;

	if (!im || !mem || fuzz_layout_for(minor, &l) != 0 ||
	    (own_gil && l.interp_ceval_gil.off < 0)) {
		free(im);
		free(mem);
		return;
	}
	/* The memory: whole GIL structs first, then the words over them. */
	uint64_t base = minor >= 7 ? (l.rt_gil.off >= 0 ? REM_RUNTIME + (uint64_t)l.rt_gil.off :
		l.interp_gil.off >= 0 ? INTERP(0) + (uint64_t)l.interp_gil.off : SEPARATE_GIL) : 0;
	if (minor >= 7)
		gs_gil_addrs_from_base(&l, base, &g);
	else
		fuzz_gil_36(&g);
	gil_region(mem, &g);
	if (own_gil) {
		uint32_t one = 1;
		gs_gil_addrs_from_base(&l, OWN_GIL, &g2);
		gil_region(mem, &g2);
		region(mem, g2.locked, &one, 4);
		word(mem, g2.last_holder, TSTATE(1, 0));
		word(mem, g2.switch_number, 777);
	}
	build_image(mem, &l, minor, nint, nts, 0, own_gil);

	uint8_t hdr[SAM_HDR] = { (uint8_t)(minor - 6), SAM_F_PTHREAD_OFF,
				 PTHREAD_TID_OFF & 0xff, PTHREAD_TID_OFF >> 8,
				 (uint8_t)(nint * nts - 1), (uint8_t)(mem->n & 0xff),
				 (uint8_t)(mem->n >> 8), 0 };
	bytes(im, hdr, SAM_HDR);
	for (int i = 0; i < nint; i++)
		for (int k = 0; k < nts; k++) {
			uint32_t tid = TID(i, k);
			bytes(im, &tid, 4);
		}
	bytes(im, mem->b, mem->n);

	uint64_t sw = 12345;
	/* 1: the main thread holds on a CPU, thread 1 waits on the GIL's
	 * cond, thread 2 sleeps in read() on a socket. */
	step(im, 7);
	op_text(im, 1, SAM_FILE_SYSCALL, futex_on(g.cond));
	op_text(im, 1, SAM_FILE_STAT, STAT_S);
	op_text(im, 2, SAM_FILE_SYSCALL, READ_FD3);
	op_text(im, 2, SAM_FILE_STAT, STAT_S);
	op_text(im, 2, SAM_FILE_SCHEDSTAT, "5000 100 3\n");
	op_text(im, 2, SAM_FILE_WCHAN, "sk_wait_data");
	{
		uint8_t b[2] = { SAM_OP_FDLINK, 10 };
		bytes(im, b, 2);
		bytes(im, "socket:[7]", 10);
	}
	step(im, 0);
	/* 2: a switch to thread 1; the main thread now waits. */
	step(im, handover(NULL, &l, &g, &sw, 0, 1) + 3);
	handover(im, &l, &g, &sw, 0, 1);
	op_text(im, 1, SAM_FILE_SYSCALL, "running\n");
	op_text(im, 1, SAM_FILE_STAT, STAT_R);
	op_text(im, 0, SAM_FILE_SYSCALL, futex_on(g.cond));
	step(im, 1);
	op_clock(im, 15);
	/* 3: back to the main thread, which blocks in read() holding the
	 * GIL: off CPU, confirmed by a second read of the words. */
	step(im, handover(NULL, &l, &g, &sw, 1, 0) + 3);
	handover(im, &l, &g, &sw, 1, 0);
	op_text(im, 0, SAM_FILE_SYSCALL, READ_FD3);
	op_text(im, 0, SAM_FILE_STAT, STAT_S);
	op_text(im, 1, SAM_FILE_SYSCALL, futex_on(g.cond));
	step(im, 0);
	/* 4: the same, but thread 1 takes the GIL between the two reads of
	 * the words: the main thread was holding on a CPU. */
	step(im, 2);
	op_clock(im, 1);
	{
		uint8_t b[2] = { SAM_OP_LATER, 2 };
		uint64_t v = TSTATE(0, 1), a = g.last_holder;
		uint8_t n = 8;
		bytes(im, b, 2);
		bytes(im, &a, 8);
		bytes(im, &n, 1);
		bytes(im, &v, 8);
	}
	step(im, handover(NULL, &l, &g, &sw, 1, 0));
	handover(im, &l, &g, &sw, 1, 0);
	/* 5: the main thread's state is reused by another thread: its
	 * identity no longer matches, so nobody may be named the holder. */
	step(im, 2);
	if (l.ts_native_thread_id.off >= 0)
		op_word(im, TSTATE(0, 0) + (uint64_t)l.ts_native_thread_id.off, 4242, 8);
	else
		op_word(im, PTHREAD(0, 0) + PTHREAD_TID_OFF, 4242, 4);
	op_clock(im, 2);
	step(im, 0);
	/* 6: identity restored; thread 2 exits (a rescan). */
	step(im, 5);
	if (l.ts_native_thread_id.off >= 0)
		op_word(im, TSTATE(0, 0) + (uint64_t)l.ts_native_thread_id.off, TID(0, 0), 8);
	else
		op_word(im, PTHREAD(0, 0) + PTHREAD_TID_OFF, TID(0, 0), 4);
	op_byte(im, SAM_OP_GONE, 2);
	{
		uint8_t b[2] = { SAM_OP_TID, 2 };
		uint32_t zero = 0;
		bytes(im, b, 2);
		bytes(im, &zero, 4);
	}
	op_byte(im, SAM_OP_NLINK, -1);
	op_clock(im, 6);
	step(im, 0);
	/* 7: words only, and back. */
	step(im, 1);
	op_byte(im, SAM_OP_WORDS, 1);
	step(im, 2);
	op_byte(im, SAM_OP_WORDS, 0);
	op_clock(im, 300);
	/* 8: a torn read (locked neither 0 nor 1), then sane again. */
	step(im, 1);
	op_word(im, g.locked, 7, 4);
	step(im, 1);
	op_word(im, g.locked, 1, 4);
	step(im, 0);

	snprintf(name, sizeof name, "3.%d-%s", minor, own_gil ? "own-gil" : "one");
	write_file("fuzz_sampler", name, im->b, im->n);
	free(im);
	free(mem);
}

/* ---- fuzz_pystack ------------------------------------------------------ */

/* Object addresses of the fake target: one 4 KiB page each. */
#define OBJ(n) (0x400000ull + (uint64_t)(n) * 0x1000)
enum {
	O_TSTATE, O_CFRAME, O_INTERP, O_T_CODE, O_T_STR, O_T_BYTES, O_T_DICT,
	O_T_INT, O_T_MODULE, O_T_THREAD, O_T_NONE, O_NONE, O_TYPENAMES,
	O_FILE, O_TABLE, O_MODULES, O_THREADING, O_MODDICT, O_ACTIVE, O_IDENT,
	O_THREAD, O_TDICT, O_TNAME, O_KEY_THREADING, O_KEY_ACTIVE, O_KEY_NAME,
	O_FRAMES = 40, O_CODES = 80, O_NAMES = 120, O_CFRAMES = 160, O_N = 200
};
#define PAGE 0x1000

struct obj {
	unsigned char b[PAGE];
};

static struct obj *objs;

static unsigned char *at(int n)
{
	return objs[n].b;
}

static void setf(int n, struct gs_field f, uint64_t v)
{
	if (f.off >= 0 && f.off + (f.size > 0 ? f.size : 8) <= PAGE)
		memcpy(at(n) + f.off, &v, f.size > 0 && f.size <= 8 ? (size_t)f.size : 8);
}

static void setw(int n, int64_t off, uint64_t v)
{
	if (off >= 0 && off + 8 <= PAGE)
		memcpy(at(n) + off, &v, 8);
}

static void make_str(const struct gs_layout *l, int n, const char *text)
{
	size_t len = strlen(text);
	uint32_t state = (uint32_t)((1ull << __builtin_ctzll(l->uni_kind_mask)) |
				    l->uni_compact_mask | l->uni_ascii_mask);
	setf(n, l->ob_type, OBJ(O_T_STR));
	setf(n, l->uni_length, len);
	memcpy(at(n) + l->uni_state.off, &state, 4);
	memcpy(at(n) + l->uni_ascii_size, text, len + 1);
}

static void make_type(const struct gs_layout *l, int n, int64_t name_off,
		      int64_t dictoffset, uint64_t flags)
{
	setf(n, l->type_name, OBJ(O_TYPENAMES) + (uint64_t)name_off);
	setf(n, l->type_dictoffset, (uint64_t)dictoffset);
	setf(n, l->type_flags, flags);
	setf(n, l->type_basicsize, 16);
}

/* A dict of n entries at object d, its keys at object d + 1 page... kept
 * in the same page: the dict at 0, the keys at 0x100. */
static void make_dict(const struct gs_layout *l, int d, const uint64_t *keys,
		      const uint64_t *values, size_t n, int unicode)
{
	uint64_t ka = OBJ(d) + 0x100;
	int64_t k = 0x100, e;
	int64_t esize;
	struct gs_field kf, vf;

	/* Before 3.11 every table has PyDictKeyEntry. */
	unicode = unicode && l->dk_log2_size.off >= 0;
	esize = unicode ? l->dku_size : l->dke_size;
	kf = unicode ? l->dku_key : l->dke_key;
	vf = unicode ? l->dku_value : l->dke_value;

	setf(d, l->ob_type, OBJ(O_T_DICT));
	setw(d, l->dict_keys.off, ka);
	setw(d, l->dict_values.off, 0);
	if (l->dk_size.off >= 0) {
		setw(d, k + l->dk_size.off, 8);
	} else {
		unsigned char lg = 3, kind = (unsigned char)unicode;
		at(d)[k + l->dk_log2_size.off] = lg;
		at(d)[k + l->dk_log2_index_bytes.off] = lg;
		at(d)[k + l->dk_kind.off] = kind;
	}
	setw(d, k + l->dk_nentries.off, n);
	e = k + l->dk_indices.off + 8;
	for (size_t i = 0; i < n; i++) {
		struct gs_field a = kf, b = vf;
		a.off += e + (int64_t)i * esize;
		b.off += e + (int64_t)i * esize;
		setf(d, a, keys[i]);
		setf(d, b, values[i]);
	}
}

static void pystack_seed(int minor, int variant)
{
	static const char *const vname[] = { "stack", "names", "deep" };
	struct gs_layout l;
	struct img *im = calloc(1, sizeof *im);
	unsigned char hdr[PYS_HDR] = { 0 };
	char name[64];
	int nframes = variant == 2 ? 38 : 4, managed;
	uint16_t cap = variant == 2 ? 32 : 64;
	uint64_t tstate = OBJ(O_TSTATE), interp = OBJ(O_INTERP);

	objs = calloc(O_N, sizeof *objs);
	if (!im || !objs || fuzz_layout_for(minor, &l) != 0 ||
	    gs_layout_missing_objects(&l)) {
		free(im);
		free(objs);
		return;
	}
	hdr[0] = (unsigned char)(minor - 6);
	hdr[1] = variant == 1 ? PYS_F_NAMES | PYS_F_TWICE : PYS_F_TWICE;
	memcpy(hdr + 2, &cap, 2);
	memcpy(hdr + 4, &tstate, 8);
	memcpy(hdr + 12, &interp, 8);
	memcpy(im->b, hdr, PYS_HDR);
	im->n = PYS_HDR;

	/* Types, recognised by their tp_name. */
	static const char tnames[] = "code\0str\0bytes\0dict\0int\0module\0Thread\0NoneType";
	memcpy(at(O_TYPENAMES), tnames, sizeof tnames);
	managed = l.objdict_scheme > 0;
	make_type(&l, O_T_CODE, 0, 0, 0);
	make_type(&l, O_T_STR, 5, 0, 0);
	make_type(&l, O_T_BYTES, 9, 0, 0);
	make_type(&l, O_T_DICT, 15, 0, 0);
	make_type(&l, O_T_INT, 20, 0, 0);
	make_type(&l, O_T_MODULE, 24, 16, 0);
	make_type(&l, O_T_THREAD, 31, managed ? -1 : 16,
		  (1u << 9) | (managed ? gs_objdict_schemes[l.objdict_scheme].managed_flag : 0));
	make_type(&l, O_T_NONE, 38, 0, 0);
	setf(O_NONE, l.ob_type, OBJ(O_T_NONE));

	/* One file name and one line table for every code object: one line
	 * per instruction from the first line on. */
	make_str(&l, O_FILE, "/srv/app/worker.py");
	setf(O_TABLE, l.ob_size, 16);
	for (int i = 0; i < 8; i++) {
		unsigned char *t = at(O_TABLE) + l.bytes_sval.off + 2 * i;
		if (l.linetable_kind == GS_LT_LOCATIONS) {
			t[0] = 0x80 | 13 << 3; /* no columns, one unit */
			t[1] = i ? 2 : 0;      /* +1 line, after the first */
		} else {
			t[0] = 2;
			t[1] = i ? 1 : 0;
		}
	}

	for (int i = 0; i < nframes; i++) {
		int code = O_CODES + (variant == 2 ? 0 : i);
		int fr = O_FRAMES + i;
		uint64_t next = i + 1 < nframes ? OBJ(O_FRAMES + i + 1) : 0;
		char fn[32];

		snprintf(fn, sizeof fn, variant == 2 ? "recurse" : "func_%d", i);
		make_str(&l, O_NAMES + (variant == 2 ? 0 : i), fn);
		setf(code, l.ob_type, OBJ(O_T_CODE));
		setf(code, l.code_filename, OBJ(O_FILE));
		setf(code, l.code_name, OBJ(O_NAMES + (variant == 2 ? 0 : i)));
		setf(code, l.code_qualname, OBJ(O_NAMES + (variant == 2 ? 0 : i)));
		setf(code, l.code_firstlineno, 10 + 10 * (uint64_t)i);
		setf(code, l.code_linetable, OBJ(O_TABLE));
		setf(code, l.code_firsttraceable, 0);
		if (l.ts_frame.off >= 0) {
			setf(fr, l.frame_back, next);
			setf(fr, l.frame_code, OBJ(code));
			setf(fr, l.frame_lasti, 2 * (uint64_t)(i % 4));
		} else {
			/* 3.14+ tags f_executable; a set low bit must not
			 * matter. */
			setf(fr, l.iframe_previous, next);
			setf(fr, l.iframe_code, OBJ(code) | (minor >= 14));
			setf(fr, l.iframe_instr, OBJ(code) + (uint64_t)l.code_adaptive.off +
			     2 * (uint64_t)(i % 4));
			setf(fr, l.iframe_owner, 0);
			setf(fr, l.iframe_is_entry, i == nframes - 1);
			/* Every other frame, a C-owned frame in between. */
			if (l.owner_first_c != GS_NOFF && i % 2 && next && variant != 2) {
				int c = O_CFRAMES + (fr - O_FRAMES);
				setf(c, l.iframe_previous, next);
				setf(c, l.iframe_code, OBJ(O_NONE));
				setf(c, l.iframe_owner, (uint64_t)l.owner_first_c);
				setf(fr, l.iframe_previous, OBJ(c));
			}
		}
	}
	if (l.ts_frame.off >= 0) {
		setf(O_TSTATE, l.ts_frame, OBJ(O_FRAMES));
	} else if (l.ts_current_frame.off >= 0) {
		setf(O_TSTATE, l.ts_current_frame, OBJ(O_FRAMES));
	} else {
		setf(O_TSTATE, l.ts_cframe, OBJ(O_CFRAME));
		setf(O_CFRAME, l.cframe_current_frame, OBJ(O_FRAMES));
	}

	/* sys.modules["threading"]._active[ident]._name */
	make_str(&l, O_KEY_THREADING, "threading");
	make_str(&l, O_KEY_ACTIVE, "_active");
	make_str(&l, O_KEY_NAME, "_name");
	make_str(&l, O_TNAME, "cpu-1");
	/* interp->imports.modules lies past a page from 3.13 on. */
	word(im, interp + (uint64_t)l.interp_modules.off, OBJ(O_MODULES));
	uint64_t k1 = OBJ(O_KEY_THREADING), v1 = OBJ(O_THREADING);
	make_dict(&l, O_MODULES, &k1, &v1, 1, 1);
	setf(O_THREADING, l.ob_type, OBJ(O_T_MODULE));
	setw(O_THREADING, 16, OBJ(O_MODDICT));
	uint64_t k2 = OBJ(O_KEY_ACTIVE), v2 = OBJ(O_ACTIVE);
	make_dict(&l, O_MODDICT, &k2, &v2, 1, 1);
	uint64_t k3 = OBJ(O_IDENT), v3 = OBJ(O_THREAD) + 0x100;
	make_dict(&l, O_ACTIVE, &k3, &v3, 1, 0);
	setf(O_IDENT, l.ob_type, OBJ(O_T_INT));
	uint64_t tag = l.long_tagged == 1 ? 2 << 3 : 2;
	uint32_t digits[2] = { 0x1234567, 0x2345 };
	setw(O_IDENT, l.long_size.off, tag);
	memcpy(at(O_IDENT) + l.long_digit.off, digits, 8);
	/* The Thread at +0x100 of its page, so that its managed-dict slot
	 * (24 bytes below) is on the page. */
	memcpy(at(O_THREAD) + 0x100 + l.ob_type.off, &(uint64_t){ OBJ(O_T_THREAD) }, 8);
	setw(O_THREAD, 0x100 + (managed ? gs_objdict_schemes[l.objdict_scheme].dict_slot : 16),
	     OBJ(O_TDICT));
	uint64_t k4 = OBJ(O_KEY_NAME), v4 = OBJ(O_TNAME);
	make_dict(&l, O_TDICT, &k4, &v4, 1, 1);

	/* Each page up to its last byte in use, and the zero fields that
	 * follow (a frame's owner, a type's flags). */
	for (int n = 0; n < O_N; n++) {
		size_t used = PAGE;
		while (used && objs[n].b[used - 1] == 0)
			used--;
		if (used)
			region(im, OBJ(n), objs[n].b,
			       used + 512 < PAGE ? (used + 512 + 7) & ~(size_t)7 : PAGE);
	}
	snprintf(name, sizeof name, "3.%d-%s", minor, vname[variant]);
	write_file("fuzz_pystack", name, im->b, im->n);
	free(im);
	free(objs);
}

static void linetable_seeds(void)
{
	for (size_t c = 0; c < sizeof lt_cases / sizeof lt_cases[0]; c++) {
		const struct lt_case *k = &lt_cases[c];
		unsigned char *b = malloc(5 + k->table_len);
		char name[64];
		int32_t first = k->first;
		if (!b)
			return;
		b[0] = (unsigned char)k->kind;
		memcpy(b + 1, &first, 4);
		memcpy(b + 5, k->table, k->table_len);
		snprintf(name, sizeof name, "case-%zu", c);
		write_file("fuzz_linetable", name, b, 5 + k->table_len);
		free(b);
	}
}

/* ---- fuzz_trace ------------------------------------------------------- */

#define T0 123456789012345ull

static struct gs_interval iv(pid_t tid, enum gs_role role, uint64_t start_us,
			     uint64_t dur_ns, uint64_t samples)
{
	struct gs_interval v;
	memset(&v, 0, sizeof v);
	v.tid = tid;
	v.role = role;
	v.start_ns = T0 + start_us * 1000 + 7;
	v.end_ns = v.start_ns + dur_ns;
	v.samples = samples;
	v.syscall_nr = 7;
	if (role == GS_ROLE_IDLE)
		snprintf(v.path, sizeof v.path, "/tmp/a \"b\",c");
	snprintf(v.wchan, sizeof v.wchan, "futex_wait");
	return v;
}

static void trace_seed(enum gs_trace_format fmt, int finish)
{
	char *buf = NULL, name[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct gs_trace_header h = { 4242, "py\"thon", "3.12.1", "0.1.0", 1000, NULL };
	struct gs_trace_stats st = { 3000, 2, 40, 5, T0, T0 + 3000000000ull, NULL, 0 };
	struct gs_interval a = iv(101, GS_ROLE_HELD, 0, 5000000, 5);
	struct gs_interval b = iv(102, GS_ROLE_WAITING, 0, 5000000, 5);
	struct gs_interval c = iv(101, GS_ROLE_HELD_OFFCPU, 5000, 4000000, 4);
	struct gs_interval d = iv(102, GS_ROLE_HANDOFF, 5000, 1000, 1);
	struct gs_interval e = iv(104, GS_ROLE_RUNNING, 9000, 1000, 1);
	struct gs_interval idle = iv(103, GS_ROLE_IDLE, 0, 2000000000ull, 2000);
	struct gs_trace_open open = { &idle, "sleeper" };
	struct gs_trace_writer *w;

	if (!f || !(w = gs_trace_writer_new(f, fmt, &h)))
		abort();
	gs_trace_thread(w, 0, 101, "cpu-1", 1);
	gs_trace_thread(w, 0, 102, "cpu,2\n", 1);
	gs_trace_thread(w, 0, 103, "sleeper \xc3\xa9", 1);
	gs_trace_thread(w, 0, 104, "native", 0);
	gs_trace_interval(w, &a, "cpu-1");
	gs_trace_interval(w, &b, "cpu,2\n");
	gs_trace_waiters(w, 0, a.start_ns, 1);
	gs_trace_interval(w, &c, "cpu-1");
	gs_trace_interval(w, &d, "cpu,2\n");
	gs_trace_interval(w, &e, "native");
	gs_trace_progress(w, T0 + 1000000000ull, &st, &open, 1);
	gs_trace_progress(w, T0 + 2000000000ull, &st, &open, 1);
	gs_trace_flush(w);
	if (finish) {
		gs_trace_interval(w, &idle, "sleeper");
		gs_trace_finish(w, &st, 1, "SIGINT");
	}
	gs_trace_writer_free(w);
	fclose(f);
	snprintf(name, sizeof name, "writer-%s%s", gs_trace_format_name(fmt),
		 finish ? "" : "-cut");
	write_file("fuzz_trace", name, buf, len);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	for (int minor = 6; minor <= 15; minor++) {
		for (int v = 0; v < V_N; v++)
			remote_seed(minor, (enum variant)v);
		sampler_seed(minor, 0);
		if (minor >= 12)
			sampler_seed(minor, 1);
	}
	write_file("fuzz_debug_offsets", "pyruntime-3.13", pyruntime_blob_313,
		   sizeof pyruntime_blob_313);
	write_file("fuzz_debug_offsets", "pyruntime-3.14", pyruntime_blob_314,
		   sizeof pyruntime_blob_314);
	write_file("fuzz_debug_offsets", "pyruntime-3.15", pyruntime_blob_315,
		   sizeof pyruntime_blob_315);
	write_file("fuzz_debug_offsets", "pyruntime-3.15-gil", pyruntime_blob_315,
		   PYRUNTIME_BLOB_GIL_BYTES);
	for (int minor = 6; minor <= 15; minor++)
		for (int v = 0; v < 3; v++)
			pystack_seed(minor, v);
	linetable_seeds();
	for (int fmt = GS_TRACE_JSON; fmt <= GS_TRACE_CSV; fmt++) {
		trace_seed((enum gs_trace_format)fmt, 1);
		trace_seed((enum gs_trace_format)fmt, 0);
	}
	return failed;
}
