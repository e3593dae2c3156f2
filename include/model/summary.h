/* End-of-run figures computed from intervals: per thread, the share of
 * time in each role, the longest hold and wait latency percentiles; per
 * process, GIL utilisation, switches and the sampling rate achieved.
 * record prints it when it stops, report rebuilds it from a file
 * (sink/summary_print.h prints it). */
#ifndef GS_SUMMARY_H
#define GS_SUMMARY_H

#include <stdint.h>
#include <sys/types.h>

#include "core/hist.h"
#include "model/culprit.h"
#include "model/holds.h"
#include "model/intervals.h"
#include "model/stacks.h"

struct gs_thread_summary {
	pid_t pid;               /* 0: not known (an old file), or the
				  * folded row */
	pid_t tid;
	char name[64];
	int is_python;           /* -1: not known (a CSV file) */
	uint64_t ns[GS_ROLE_COUNT];
	uint64_t samples[GS_ROLE_COUNT];
	uint64_t longest_hold_ns;
	struct gs_hold hold;     /* the hold in progress */
	uint64_t first_ns, last_ns;
	struct gs_hist wait;     /* waits for the GIL */
};

struct gs_run_info {
	uint64_t samples, torn, switches, missed;
	uint64_t first_ns, last_ns;
	double rate_hz;          /* requested; 0 = max */
	int target_exited;
	int truncated;           /* report: the file was cut short */
	pid_t pid;               /* 0 when unknown */
	char python_version[32]; /* "" when unknown */
	/* report of a CSV file: it carries no sample or switch counts and
	 * no requested rate, so those are printed as unknown */
	int counts_unknown;
};

/* One target process: what its own sampler counted (record), or what
 * the file says of it (report). */
#define GS_SUMMARY_MAX_GILS 16

/* One GIL of a process: the main interpreter's (index 0) or a
 * subinterpreter's own. */
struct gs_gil_summary {
	uint64_t held_ns, wait_ns;  /* its threads' time holding, waiting */
	uint64_t switches, missed;
	int seen;                   /* an interval or a count named it */
	int have_counts;
};

struct gs_proc_summary {
	pid_t pid;
	char comm[64];
	char cmdline[1024];
	uint64_t samples, torn, switches, missed;
	int have_counts;
	struct gs_gil_summary gils[GS_SUMMARY_MAX_GILS];
	size_t ngils;               /* 1 + the highest index seen */
};

struct gs_summary {
	struct gs_thread_summary *t;
	size_t n, cap;
	struct gs_proc_summary *procs; /* in the order first seen */
	size_t nprocs;
	struct gs_run_info run;
	size_t folded;           /* threads folded into the tid 0 row */
	/* The table the intervals' stack ids refer to (record interns
	 * into it, report's reader rebuilds it from args.stack); NULL
	 * when out of memory. */
	struct gs_stacks *stacks;
	/* Who made the others wait, fed every interval; NULL: not wanted.
	 * Owned by the summary once set (gs_summary_free frees it). */
	struct gs_culprit *culprit;
	/* Called with every interval added, when set (report --svg). */
	void (*tap)(void *ctx, const struct gs_interval *iv);
	void *tap_ctx;
	/* Stack samples (record --stacks, or read back from a file). */
	struct gs_stack_counts stack_counts;
};

/* Past this many threads, gs_summary_fold_gone() folds the ones that
 * have exited into one row (tid 0, named "(N exited)"), so that a target
 * that churns through threads cannot grow record's memory without
 * bound. */
#ifndef GS_SUMMARY_MAX_THREADS
#define GS_SUMMARY_MAX_THREADS 1024
#endif

void gs_summary_init(struct gs_summary *s);
void gs_summary_free(struct gs_summary *s);
/* The row of thread tid of process pid, added (unnamed, is_python -1)
 * when new; NULL when out of memory. */
struct gs_thread_summary *gs_summary_thread(struct gs_summary *s, pid_t pid, pid_t tid);
/* is_python: 1, 0, or -1 when the source does not say. */
void gs_summary_name(struct gs_summary *s, pid_t pid, pid_t tid, const char *name,
		     int is_python);
/* The entry of process pid, added when new; NULL when out of memory. */
struct gs_proc_summary *gs_summary_proc(struct gs_summary *s, pid_t pid);
/* The GIL-held share of process pid's wall time (its threads' first to
 * last interval), 0..1, and that wall time. */
double gs_summary_proc_utilisation(const struct gs_summary *s, pid_t pid,
				   uint64_t *wall_ns);
void gs_summary_add(struct gs_summary *s, const struct gs_interval *iv);
/* When more than GS_SUMMARY_MAX_THREADS threads are kept, fold every
 * thread for which alive(ctx, tid) returns 0 into the tid 0 row.  Such
 * a thread must get no more intervals. */
void gs_summary_fold_gone(struct gs_summary *s,
			  int (*alive)(void *ctx, pid_t pid, pid_t tid), void *ctx);

/* Wall time covered, and the GIL-held share of it (0..1). */
uint64_t gs_summary_wall_ns(const struct gs_summary *s);
double gs_summary_utilisation(const struct gs_summary *s);
/* The sampling rate achieved over the wall time; 0 when unknown. */
double gs_summary_achieved_hz(const struct gs_summary *s);

#endif
