/* stackbench: what one Python stack costs the remote stack reader, on a
 * live target (bench/stacks.sh starts tests/workloads/stacks.py).
 *
 *   stackbench PID SECONDS
 *
 For every Python thread, one line of key=value pairs:
 *   cold    a fresh reader's first read: time, process_vm_readv calls,
 *           code objects read
 *   cached  the steady state: batches of reads of the same thread, each
 *           followed by a batch of bare 8-byte process_vm_readv calls on
 *           the same target, for SECONDS / threads; medians over the
 *           batches of the time per stack, of the time per bare call and
 *           of their ratio (what a noisy machine cannot move), calls per
 *           stack, the share flagged changing (torn), and the
 *           allocations made in the steady state (counted by wrapping
 *           malloc, calloc and realloc)
 * and a line `names` for the thread-name reader: first read with a
 * fresh reader, then the median of repeated reads.
 *
 * Not part of make check: `make bench/stackbench` or bench/stacks.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "core/errors.h"
#include "runtime/pynames.h"
#include "runtime/pystack.h"
#include "runtime/target.h"
#include "runtime/threads.h"

/* Every allocation of the process counted, through glibc's own
 * entry points. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long allocs;
void *malloc(size_t n) { allocs++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocs++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocs++; return __libc_realloc(p, n); }

#define CAP 512

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static double bare_us(const struct gs_target *t, uint64_t addr, int n)
{
	uint64_t v;
	double t0 = now_us();
	for (int i = 0; i < n; i++)
		gs_mem_read(&t->mem, addr, &v, 8);
	return (now_us() - t0) / n;
}

#define BATCH 40
#define MAXB 4096

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n ? v[n / 2] : 0;
}

int main(int argc, char **argv)
{
	static struct gs_pyframe frames[CAP];
	static double tstack[MAXB], tbare[MAXB], ratio[MAXB];
	struct gs_target t;
	struct gs_snapshot snap = { 0 };
	struct gs_pynames names = { 0 };
	struct gs_pynames_reader *nr;
	double secs;

	if (argc != 3) {
		fprintf(stderr, "usage: stackbench PID SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	if (gs_target_attach(&t, atoi(argv[1])) != 0 || gs_snapshot_read(&t, &snap) != 0)
		return gs_report_error() ? gs_report_error() : 1;
	printf("python=%s source=%s threads=%zu\n", t.ver.str,
	       gs_layout_source_name(t.source), snap.nthreads);
	if (gs_pynames_open(&t, &nr) == 0) {
		double t0 = now_us(), first;
		unsigned long first_reads;
		size_t k = 0;
		gs_pynames_read(nr, &snap, &names);
		first = now_us() - t0;
		first_reads = names.reads;
		for (; k < 30; k++) {
			t0 = now_us();
			gs_pynames_read(nr, &snap, &names);
			tstack[k] = now_us() - t0;
			tbare[k] = bare_us(&t, snap.threads[0].tstate, 20);
			ratio[k] = tstack[k] / tbare[k];
		}
		printf("names named=%zu first_us=%.0f first_reads=%lu again_us=%.1f "
		       "again_reads=%lu again_ratio=%.1f\n", names.n, first, first_reads,
		       median(tstack, k), names.reads, median(ratio, k));
		gs_pynames_close(nr);
	}

	for (size_t i = 0; i < snap.nthreads; i++) {
		const struct gs_pythread *p = &snap.threads[i];
		const char *name = gs_pynames_find(&names, p->interp, p->thread_id);
		struct gs_pystack_reader *r;
		struct gs_pystack s = { frames, CAP, 0, 0, 0, 0 };
		double t0, cold, end;
		unsigned long reads = 0, torn = 0, n = 0, a0, steady_allocs;
		unsigned cold_reads, cold_misses;
		size_t depth, nb = 0;
		unsigned flags;

		if (gs_pystack_open(&t, &r) != 0)
			return gs_report_error();
		t0 = now_us();
		if (gs_pystack_read(r, p->tstate, &s) != 0) {
			gs_pystack_close(r);
			continue;
		}
		cold = now_us() - t0;
		depth = s.n;
		flags = s.flags;
		cold_reads = s.reads;
		cold_misses = s.misses;
		/* A second read caches the rest (a code object met twice in
		 * one read is read once); the steady state starts after it. */
		gs_pystack_read(r, p->tstate, &s);
		a0 = allocs;
		end = now_us() + secs * 1e6 / (double)snap.nthreads;
		do {
			t0 = now_us();
			for (int k = 0; k < BATCH; k++) {
				gs_pystack_read(r, p->tstate, &s);
				reads += s.reads;
				torn += !!(s.flags & GS_PYSTACK_TORN);
				n++;
			}
			tstack[nb] = (now_us() - t0) / BATCH;
			tbare[nb] = bare_us(&t, p->tstate, BATCH);
			ratio[nb] = tstack[nb] / tbare[nb];
			nb++;
		} while (now_us() < end && nb < MAXB);
		steady_allocs = allocs - a0;
		printf("thread=%s depth=%zu%s cold_us=%.0f cold_reads=%u cold_misses=%u "
		       "cached_us=%.1f cached_reads=%.2f bare_us=%.2f ratio=%.1f "
		       "torn=%.3f allocs=%lu batches=%zu\n",
		       name ? name : "?", depth, flags & GS_PYSTACK_TRUNCATED ? "+" : "",
		       cold, cold_reads, cold_misses, median(tstack, nb),
		       (double)reads / (double)n, median(tbare, nb), median(ratio, nb),
		       (double)torn / (double)n, steady_allocs, nb);
		gs_pystack_close(r);
	}
	gs_pynames_free(&names);
	gs_snapshot_free(&snap);
	return 0;
}
