/* End-of-run figures computed from intervals: per thread, the share of
 * time in each role, the longest hold and wait latency percentiles; per
 * process, GIL utilisation, switches and the sampling rate achieved.
 * record prints it when it stops, report rebuilds it from a file. */
#ifndef GS_SUMMARY_H
#define GS_SUMMARY_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "model/intervals.h"

/* Log-linear histogram: 16 sub-buckets per power of two of nanoseconds,
 * so percentiles are within about 6% with a fixed 8 KiB per thread. */
#define GS_HIST_SUB 16
#define GS_HIST_BUCKETS (64 * GS_HIST_SUB)
struct gs_hist {
	uint64_t n, max;
	uint32_t b[GS_HIST_BUCKETS];
};
void gs_hist_add(struct gs_hist *h, uint64_t v);
/* The value at quantile q (0..1); 0 when empty. */
uint64_t gs_hist_quantile(const struct gs_hist *h, double q);

struct gs_thread_summary {
	pid_t tid;
	char name[64];
	int is_python;
	uint64_t ns[GS_ROLE_COUNT];
	uint64_t samples[GS_ROLE_COUNT];
	uint64_t longest_hold_ns;
	uint64_t hold_start_ns, hold_end_ns; /* the hold in progress */
	uint64_t first_ns, last_ns;
	struct gs_hist wait;
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

struct gs_summary {
	struct gs_thread_summary *t;
	size_t n, cap;
	struct gs_run_info run;
	size_t folded;           /* threads folded into the tid 0 row */
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
struct gs_thread_summary *gs_summary_thread(struct gs_summary *s, pid_t tid);
void gs_summary_name(struct gs_summary *s, pid_t tid, const char *name,
		     int is_python);
void gs_summary_add(struct gs_summary *s, const struct gs_interval *iv);
/* When more than GS_SUMMARY_MAX_THREADS threads are kept, fold every
 * thread for which alive(ctx, tid) returns 0 into the tid 0 row.  Such
 * a thread must get no more intervals. */
void gs_summary_fold_gone(struct gs_summary *s, int (*alive)(void *ctx, pid_t tid),
			  void *ctx);

/* Wall time covered, and the GIL-held share of it (0..1). */
uint64_t gs_summary_wall_ns(const struct gs_summary *s);
double gs_summary_utilisation(const struct gs_summary *s);

void gs_summary_print_text(FILE *f, const struct gs_summary *s);
void gs_summary_print_json(FILE *f, const struct gs_summary *s);

#endif
