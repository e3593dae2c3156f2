/* How long `dump` keeps a thread stopped (bench/README.md, "dump").
 *
 *   bench/stopbench PID REPS
 *
 * For every thread of PID, REPS times each, round robin:
 *  - gilsnoop's capture (stack/capture.h): the thread is held from the
 *    seize to the detach's return ("held"); the part after the stop was
 *    seen ("window") is what gilsnoop itself adds to it, the rest is the
 *    wait for the thread to reach its stop;
 *  - then, outside the stop, unwinding and naming that copy
 *    (stack/native.h's work), in gilsnoop's own time;
 *  - and the classic way for comparison: seize, interrupt, wait, unwind
 *    with libunwind-ptrace's own accessors (_UPT_*: every word and
 *    register read with PTRACE_PEEK*) while the thread stays stopped,
 *    detach.
 * Prints medians, 90th percentiles and maxima in microseconds, and the
 * ratio of the classic window to gilsnoop's. */
#include <errno.h>
#include <dirent.h>
#include <libunwind-ptrace.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "core/clock.h"
#include "core/errors.h"
#include "stack/capture.h"
#include "stack/native.h"
#include "stack/symbols.h"
#include "stack/unwind.h"

#define MAXS 100000

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void show(const char *what, uint64_t *v, size_t n)
{
	if (!n) {
		printf("%-34s no samples\n", what);
		return;
	}
	qsort(v, n, sizeof *v, cmp);
	printf("%-34s n=%-5zu median %7.1f us  p90 %7.1f us  max %8.1f us\n", what, n,
	       v[n / 2] / 1e3, v[n * 9 / 10] / 1e3, v[n - 1] / 1e3);
}

/* The classic window: unwinding with the thread stopped.  Returns the
 * held time in ns, 0 on failure; always detaches what it seized. */
static uint64_t classic(unw_addr_space_t as, pid_t tid, size_t *frames)
{
	int st;
	uint64_t t0 = gs_now_ns();
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
		return 0;
	ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
	if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st)) {
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return 0;
	}
	int sig = ((unsigned)st >> 16) ? 0 : WSTOPSIG(st);
	void *upt = _UPT_create(tid);
	unw_cursor_t c;
	*frames = 0;
	if (upt && unw_init_remote(&c, as, upt) == 0) {
		do
			(*frames)++;
		while (*frames < 512 && unw_step(&c) > 0);
	}
	if (upt)
		_UPT_destroy(upt);
	ptrace(PTRACE_DETACH, tid, NULL, (void *)(uintptr_t)sig);
	return gs_now_ns() - t0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: stopbench PID REPS\n");
		return 2;
	}
	pid_t pid = atoi(argv[1]), tids[1024];
	int reps = atoi(argv[2]), nt = 0;
	char root[64], path[64];
	snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)) && nt < 1024)
		if (e->d_name[0] != '.')
			tids[nt++] = atoi(e->d_name);
	if (d)
		closedir(d);

	static uint64_t held[MAXS], window[MAXS], after[MAXS], old[MAXS];
	size_t nh = 0, no = 0, frames_sum = 0, old_frames = 0;
	struct gs_symbols *sym;
	struct gs_unwinder *u;
	struct gs_capture cap;
	struct gs_uframe uf[512];
	struct gs_sym sy[16];
	if (gs_symbols_open(pid, root, &sym) != 0 || gs_unwinder_open(pid, sym, &u) != 0 ||
	    gs_capture_init(&cap, 8u << 20) != 0)
		return gs_report_error();
	struct gs_capture_opts o = { .maps = gs_symbols_maps(sym) };
	unw_addr_space_t as = unw_create_addr_space(&_UPT_accessors, 0);
	unw_set_caching_policy(as, UNW_CACHE_GLOBAL);

	for (int r = 0; r < reps; r++)
		for (int i = 0; i < nt && nh < MAXS; i++) {
			char why[128];
			if (gs_capture_thread(&cap, pid, tids[i], &o, why, sizeof why) != 0)
				continue;
			held[nh] = cap.held_ns;
			window[nh] = cap.held_ns - cap.wait_ns;
			uint64_t t0 = gs_now_ns();
			struct gs_unwind res;
			gs_unwind_capture(u, &cap, uf, 512, &res);
			for (size_t k = 0; k < res.n; k++)
				gs_symbols_describe(sym, uf[k].pc, uf[k].exact, 1, sy, 16);
			after[nh] = gs_now_ns() - t0;
			frames_sum += res.n;
			nh++;
			size_t f = 0;
			uint64_t c = classic(as, tids[i], &f);
			if (c) {
				old[no++] = c;
				old_frames += f;
			}
		}
	gs_capture_reap(100);
	printf("threads %d, reps %d, frames per stack %.1f (classic %.1f)\n", nt, reps,
	       nh ? (double)frames_sum / nh : 0, no ? (double)old_frames / no : 0);
	uint64_t medw, medo;
	show("gilsnoop: held (seize..detach)", held, nh);
	show("gilsnoop: window after the stop", window, nh);
	medw = nh ? window[nh / 2] : 0;
	show("gilsnoop: unwind+names, not held", after, nh);
	show("classic: held, unwinding stopped", old, no);
	medo = no ? old[no / 2] : 0;
	if (medw)
		printf("ratio classic held / gilsnoop window (medians): %.1fx\n",
		       (double)medo / (double)medw);
	unw_destroy_addr_space(as);
	gs_unwinder_close(u);
	gs_symbols_close(sym);
	gs_capture_fini(&cap);
	return 0;
}
