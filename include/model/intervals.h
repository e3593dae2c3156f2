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
	/* Stacks of the thread while it was in this interval, ids into
	 * the gs_stacks table of whoever fills them (record's, or the one
	 * a reader rebuilt from the file's args.stack); GS_STACK_NONE when
	 * none was taken.  stack: the Python stack at the first look
	 * inside the interval; stack_end: at the last look, when it
	 * differs from stack (else none); native_stack: the native stack
	 * of a long off-CPU hold (record --native). */
	uint32_t stack, stack_end, native_stack;
};

struct gs_interval_sink {
	void *ctx;
	/* A thread seen for the first time, and again each time the
	 * sampler saw it renamed (name is its comm). */
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
/* A stack of thread tid of process pid was taken now: the open
 * interval's first stack when it has none yet, else its stack_end
 * (reset to none when it equals the first); native: its native_stack.
 * Returns 0, or -1 when the thread has no open interval. */
int gs_intervals_set_stack(struct gs_intervals *iv, pid_t pid, pid_t tid,
			   uint32_t stack, int native);
/* The open interval of thread tid of process pid, or NULL: live views
 * show it growing. */
const struct gs_interval *gs_intervals_open(const struct gs_intervals *iv,
					    pid_t pid, pid_t tid);

#endif
