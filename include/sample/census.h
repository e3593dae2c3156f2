/* One classified look at every thread of a target, now: the task list,
 * each thread's kernel state read twice a few milliseconds apart (to
 * tell a running holder from a preempted one), the thread states and
 * GIL words, one GIL role per thread, and what a blocked thread blocks
 * in.  `info` prints it; `dump` builds on it.  Nothing is stopped. */
#ifndef GS_CENSUS_H
#define GS_CENSUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/taskstat.h"
#include "runtime/target.h"
#include "runtime/threads.h"
#include "sample/classify.h"

struct gs_census_thread {
	pid_t tid;
	char comm[64];                /* kernel name, the target's text */
	const struct gs_pythread *py; /* NULL: no thread state (native) */
	struct gs_taskstat prev, now;
	int have;                     /* both kernel reads succeeded */
	enum gs_role role;
	char syscall[64];             /* name; "" when not in one */
	char path[256];               /* the file an fd syscall works on */
	char wchan[64];               /* for the off-CPU holder and idle ones */
};

struct gs_census {
	struct gs_snapshot snap;
	struct gs_gil_words w;
	uint64_t interval;            /* switch interval, us */
	struct gs_census_thread *v;   /* in /proc/PID/task order */
	size_t n;
	pid_t holder_tid;             /* 0: none */
	int stopped;                  /* the main thread is stopped (T, t) */
	uint64_t gil_read_ns;         /* CLOCK_MONOTONIC of the GIL read */
};

/* Take it.  Returns 0, or an exit code with the reason recorded by
 * gs_fail() (the target exited, its lists kept changing, the GIL could
 * not be read). */
int gs_census_take(const struct gs_target *t, struct gs_census *out);
void gs_census_free(struct gs_census *c);

const struct gs_census_thread *gs_census_holder(const struct gs_census *c);

/* "nanosleep", "read /var/log/app.log wchan=pipe_read": what an off-CPU
 * holder or an idle thread is blocked in, cleaned for one text line;
 * "" for other roles. */
void gs_census_detail(const struct gs_census_thread *r, char *buf, size_t n);

/* How long thread r has been off CPU, from the scheduler's clock of the
 * CPU it last ran on (proc/sched.h): 0 when it is on a CPU, -1 when
 * unknown.  Reads the files again: call it for a few threads only. */
int64_t gs_census_offcpu_ns(const struct gs_target *t, const struct gs_census *c,
			    const struct gs_census_thread *r);

#endif
