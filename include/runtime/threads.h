/* Walking the interpreter and thread-state lists of a located runtime.
 * Every chain is bounded, and a read that fails or loops part-way gives
 * an error, never a wrong thread. */
#ifndef GS_THREADS_H
#define GS_THREADS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/procfs.h"
#include "runtime/target.h"

#define GS_MAX_INTERPS 256
#define GS_MAX_THREADS 8192

struct gs_pythread {
	uint64_t tstate;
	uint64_t interp;
	uint64_t thread_id;  /* pthread_t */
	pid_t tid;           /* kernel tid; 0 when unknown */
	int holds_gil;       /* 1/0; -1 when the build has no such flag */
	int gil_requested;   /* 1/0; -1 when the build has no such flag */
};

struct gs_interp {
	uint64_t addr;
	int64_t id;          /* -1 when unknown */
	uint64_t gil;        /* address of the GIL struct it uses; 0 on 3.6 */
	size_t nthreads;
};

struct gs_snapshot {
	struct gs_interp interps[GS_MAX_INTERPS];
	size_t ninterps;
	struct gs_pythread *threads;
	size_t nthreads, cap;
};

/* Read all interpreters and thread states.  Returns 0; -1 with errno on
 * a failed read (ESRCH: target gone) or EAGAIN when the lists changed
 * under the reader or exceeded the bounds (a torn read). */
int gs_snapshot_read(const struct gs_target *t, struct gs_snapshot *s);
void gs_snapshot_free(struct gs_snapshot *s);
const struct gs_pythread *gs_snapshot_by_tstate(const struct gs_snapshot *s,
						uint64_t tstate);
/* The thread state of kernel thread tid, or NULL.  Of several (a thread
 * inside a subinterpreter has one there and one where it came from),
 * the one holding a GIL, else the subinterpreter's. */
const struct gs_pythread *gs_snapshot_by_tid(const struct gs_snapshot *s,
					     pid_t tid);

/* Before 3.11 a thread state only has the pthread_t.  Find where glibc
 * keeps the kernel tid inside struct pthread by looking for the pid in
 * the main thread's struct, and confirm it on the other threads against
 * the task list read through fs.  Sets t->pthread_tid_off; returns 0 or
 * -1. */
int gs_find_pthread_tid_offset(struct gs_target *t, const struct gs_procfs *fs);

#endif
