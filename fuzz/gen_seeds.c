/* Writes the generated seed corpora into DIR/<harness>/ (fuzz/build.sh
 * runs it): well-formed fake targets for fuzz_remote for every Python
 * version gilsnoop has a layout for, the real _Py_DebugOffsets tables
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

#include "fuzz_remote.h"
#include "layout/layout.h"
#include "sink/trace_writer.h"

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
	unsigned char b[1 << 16];
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

enum variant { V_ONE, V_TWO, V_CYCLE, V_EDIT, V_N };

static void remote_seed(int minor, enum variant v)
{
	static const char *const names[V_N] = { "one", "two", "cycle", "edit" };
	struct gs_layout l;
	struct img *im = calloc(1, sizeof *im);
	unsigned char hdr[REM_HDR] = { 0 }, ts[4096];
	int nint = v == V_TWO ? 2 : 1, nts = v == V_TWO ? 2 : 3;
	int64_t lo, hi;
	uint64_t gil = 0, rt = REM_RUNTIME;
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

	/* The runtime and where the GIL is. */
	if (minor >= 7) {
		word(im, rt + (uint64_t)l.rt_interpreters_head.off, INTERP(nint - 1));
		if (l.rt_interpreters_main.off >= 0)
			word(im, rt + (uint64_t)l.rt_interpreters_main.off, INTERP(0));
		if (l.rt_gil.off >= 0)
			gil = rt + (uint64_t)l.rt_gil.off;
		else if (l.interp_gil.off >= 0)
			gil = INTERP(0) + (uint64_t)l.interp_gil.off;
		else
			gil = SEPARATE_GIL;
	} else {
		word(im, rt, INTERP(nint - 1));
	}
	if (gil) {
		uint32_t one = 1;
		region(im, gil + (uint64_t)l.gil_locked.off, &one, 4);
		word(im, gil + (uint64_t)l.gil_last_holder.off, TSTATE(0, 0));
		word(im, gil + (uint64_t)l.gil_switch_number.off, 12345);
	} else {
		/* 3.6: the statics fuzz_remote.c expects at RUNTIME + 0x100. */
		uint32_t one = 1;
		region(im, rt + 0x100, &one, 4);
		word(im, rt + 0x108, TSTATE(0, 0));
		word(im, rt + 0x110, 12345);
	}

	span(&l, &lo, &hi);
	for (int i = 0; i < nint; i++) {
		uint64_t in = INTERP(i);
		word(im, in + (uint64_t)l.interp_next.off, i ? INTERP(i - 1) : 0);
		word(im, in + (uint64_t)l.interp_threads_head.off, TSTATE(i, 0));
		if (l.interp_id.off >= 0)
			word(im, in + (uint64_t)l.interp_id.off, (uint64_t)i);
		if (l.interp_ceval_gil.off >= 0)
			word(im, in + (uint64_t)l.interp_ceval_gil.off, gil);
		for (int k = 0; k < nts; k++) {
			uint64_t next = k + 1 < nts ? TSTATE(i, k + 1) :
					v == V_CYCLE ? TSTATE(i, 0) : 0;
			memset(ts, 0, sizeof ts);
			put(ts, lo, l.ts_next, next);
			put(ts, lo, l.ts_thread_id, PTHREAD(i, k));
			put(ts, lo, l.ts_native_thread_id, 1000u + (unsigned)(i * 100 + k));
			put(ts, lo, l.ts_holds_gil, i == 0 && k == 0 ? l.holds_gil_mask : 0);
			put(ts, lo, l.ts_gil_requested, k == 1);
			region(im, TSTATE(i, k) + (uint64_t)lo, ts, (size_t)(hi - lo));
			if (l.ts_native_thread_id.off < 0) {
				uint32_t tid = 1000u + (unsigned)(i * 100 + k);
				region(im, PTHREAD(i, k) + PTHREAD_TID_OFF, &tid, 4);
			}
		}
	}
	snprintf(name, sizeof name, "3.%d-%s", minor, names[v]);
	write_file("fuzz_remote", name, im->b, im->n);
	free(im);
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
	struct gs_trace_header h = { 4242, "py\"thon", "3.12.1", "0.1.0", 1000 };
	struct gs_trace_stats st = { 3000, 2, 40, 5, T0, T0 + 3000000000ull };
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
	gs_trace_thread(w, 101, "cpu-1", 1);
	gs_trace_thread(w, 102, "cpu,2\n", 1);
	gs_trace_thread(w, 103, "sleeper \xc3\xa9", 1);
	gs_trace_thread(w, 104, "native", 0);
	gs_trace_interval(w, &a, "cpu-1");
	gs_trace_interval(w, &b, "cpu,2\n");
	gs_trace_waiters(w, a.start_ns, 1);
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
	for (int minor = 6; minor <= 15; minor++)
		for (int v = 0; v < V_N; v++)
			remote_seed(minor, (enum variant)v);
	write_file("fuzz_debug_offsets", "pyruntime-3.13", pyruntime_blob_313, 304);
	write_file("fuzz_debug_offsets", "pyruntime-3.14", pyruntime_blob_314, 304);
	write_file("fuzz_debug_offsets", "pyruntime-3.15", pyruntime_blob_315, 304);
	for (int fmt = GS_TRACE_JSON; fmt <= GS_TRACE_CSV; fmt++) {
		trace_seed((enum gs_trace_format)fmt, 1);
		trace_seed((enum gs_trace_format)fmt, 0);
	}
	return failed;
}
