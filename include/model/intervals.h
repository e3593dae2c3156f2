/* Per-thread intervals: runs of consecutive samples in which a thread
 * kept one role.  This is the one data model the sinks (record, top,
 * report) read.  Times are CLOCK_MONOTONIC nanoseconds; an interval runs
 * from the first sample that saw the role to the first sample that saw
 * another one.  Threads are keyed by (pid, tid): samples of several
 * processes may be fed to one gs_intervals. */
#ifndef GS_INTERVALS_H
#define GS_INTERVALS_H

#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"
#include "sample/sampler.h"

struct gs_interval {
	pid_t pid;
	pid_t tid;
	unsigned gil;            /* the GIL the role is about: an index into
				  * the process's gs_sample.gils (0: main) */
	enum gs_role role;
	uint64_t start_ns, end_ns;
	uint64_t samples;
	long syscall_nr;         /* for holding-offcpu and idle */
	char path[256];          /* fd path of that syscall, or "" */
	char wchan[64];
};

struct gs_interval_sink {
	void *ctx;
	/* A thread seen for the first time (name is its comm). */
	void (*thread)(void *ctx, pid_t pid, pid_t tid, const char *name,
		       int is_python);
	/* A closed interval. */
	void (*interval)(void *ctx, const struct gs_interval *iv);
};

struct gs_intervals;

struct gs_intervals *gs_intervals_new(const struct gs_interval_sink *sink);
/* Feed one sample.  Torn samples and unknown roles extend the open
 * interval rather than splitting it; a change of role, of the GIL it is
 * about, or of the syscall of a hold off CPU or an idle wait splits it. */
void gs_intervals_feed(struct gs_intervals *iv, const struct gs_sample *smp);
/* Process pid is sampled no more (it exited or exec'd): close its
 * threads' intervals at the last sample that saw each, and forget them. */
void gs_intervals_end_process(struct gs_intervals *iv, pid_t pid);
/* Close every open interval at end_ns. */
void gs_intervals_finish(struct gs_intervals *iv, uint64_t end_ns);
void gs_intervals_free(struct gs_intervals *iv);
/* The open interval of thread tid of process pid, or NULL: live views
 * show it growing. */
const struct gs_interval *gs_intervals_open(const struct gs_intervals *iv,
					    pid_t pid, pid_t tid);

#endif
