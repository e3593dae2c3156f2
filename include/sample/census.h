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
#include "runtime/pynames.h"
#include "runtime/pystack.h"
#include "runtime/target.h"
#include "runtime/threads.h"
#include "sample/classify.h"

/* A Python frame copied out of the reader, whose strings last only
 * until its next read. */
struct gs_census_frame {
	char *function, *file;  /* the target's text, unfiltered */
	int line, first_line;
	int entry;              /* GS_PYFRAME_ENTRY: C entered the eval loop here */
	uint64_t code, frame;   /* addresses of the code object and the frame */
};

struct gs_census_stack {
	int have;               /* it was read (possibly partial, possibly empty) */
	struct gs_census_frame *v;
	size_t n;
	unsigned flags;         /* GS_PYSTACK_* */
};

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
	char pyname[GS_PYNAME_MAX];   /* threading.Thread.name; "" when none */
	unsigned gil;                 /* the GIL its role is about: index into
				       * gs_census.gils (0: the main one) */
	struct gs_census_stack stack; /* by gs_census_stacks() */
};

/* One GIL of the process: the main interpreter's (gils[0]), and each
 * one a subinterpreter has of its own (3.12+). */
#define GS_CENSUS_MAX_GILS 16
struct gs_census_gil {
	struct gs_gil_addrs a;
	struct gs_gil_words w;
	int read;                     /* w was read */
	pid_t holder_tid;             /* 0: none */
	unsigned waiters;
};

struct gs_census {
	struct gs_snapshot snap;
	struct gs_census_gil gils[GS_CENSUS_MAX_GILS];
	size_t ngils;
	struct gs_gil_words w;        /* the main GIL's (gils[0].w) */
	uint64_t interval;            /* switch interval, us */
	struct gs_census_thread *v;   /* in /proc/PID/task order */
	size_t n;
	pid_t holder_tid;             /* of the main GIL; 0: none */
	int stopped;                  /* the main thread is stopped (T, t) */
	uint64_t gil_read_ns;         /* CLOCK_MONOTONIC of the GIL read */
};

/* Take it.  Returns 0, or an exit code with the reason recorded by
 * gs_fail() (the target exited, its lists kept changing, the GIL could
 * not be read). */
int gs_census_take(const struct gs_target *t, struct gs_census *out);
void gs_census_free(struct gs_census *c);

const struct gs_census_thread *gs_census_holder(const struct gs_census *c);

/* Python thread names into each thread's pyname.  A courtesy: a build
 * whose layout cannot read them, or a target that has not imported
 * threading, leaves them empty (said with -v). */
void gs_census_names(const struct gs_target *t, struct gs_census *c);

/* Every Python thread's stack, at most cap frames, into its stack.
 * Returns 0 (a thread state that went away gives a partial empty
 * stack), or an exit code (out of memory).  When the build cannot read
 * stacks at all, returns 0 with the reason in err. */
int gs_census_stacks(const struct gs_target *t, struct gs_census *c, size_t cap,
		     char *err, size_t errlen);

/* Copy a stack the reader just returned.  0, or -1 (out of memory: out
 * is left empty). */
int gs_census_stack_copy(const struct gs_pystack *st, struct gs_census_stack *out);
void gs_census_stack_free(struct gs_census_stack *s);

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
