/* The one place gilsnoop stops a thread: PTRACE_SEIZE, PTRACE_INTERRUPT,
 * wait (with a timeout) for the stop, copy the registers and the used
 * part of the stack, PTRACE_DETACH.  Unwinding and symbolising happen
 * afterwards on the copy, while the thread runs again, so a thread is
 * stopped for the few syscalls of the copy only.
 *
 * Promises (docs/security.md):
 *  - a thread already in a stop (state T or t), or traced by someone
 *    else, is never seized;
 *  - nothing is written to the target: no POKE, no SETREGS, no options
 *    (no PTRACE_O_EXITKILL); a signal that arrives while the thread is
 *    held is passed on at the detach, a group stop is left in place;
 *  - every seize is followed by a detach before gs_capture_thread()
 *    returns, except after a timeout (a thread in uninterruptible sleep
 *    that does not stop within the timeout, or any thread that does not
 *    within 1 s): that thread stays seized but running, and
 *    gs_capture_reap() detaches it once it stops; if gilsnoop exits or
 *    is killed first, the kernel detaches it;
 *  - SIGINT, SIGTERM, SIGHUP (every asynchronous signal) are blocked
 *    from the seize to the detach and take effect after it; if gilsnoop
 *    is killed (SIGKILL) in between, the kernel detaches and resumes
 *    the thread.
 *
 * Not thread-safe: one capture at a time per process (signal mask and
 * SIGCHLD disposition are process state). */
#ifndef GS_CAPTURE_H
#define GS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "proc/maps.h"

/* How the thread was found stopped. */
enum gs_stop_kind {
	GS_STOP_INTERRUPT = 1, /* our PTRACE_INTERRUPT */
	GS_STOP_GROUP,         /* a group stop (SIGSTOP...) reached it first */
	GS_STOP_SIGNAL,        /* a signal reached it first: passed on */
};

struct gs_capture {
	pid_t pid, tid;
	struct user_regs_struct regs;
	unsigned char *stack;   /* stack_cap bytes, owned */
	size_t stack_cap;       /* the most that is copied */
	size_t stack_len;       /* bytes copied, from stack_addr up */
	uint64_t stack_addr;    /* rsp at the stop */
	uint64_t stack_end;     /* end of the mapping holding rsp; 0 unknown */
	/* An upper bound on how long the thread was held: from the seize
	 * to the detach's return. */
	uint64_t held_ns;
	/* The part of it spent waiting for the thread to stop. */
	uint64_t wait_ns;
	enum gs_stop_kind stop;
	int sig;                /* the signal passed on (GS_STOP_SIGNAL) */
};

struct gs_capture_opts {
	/* For the stop of a thread in uninterruptible sleep (D); <= 0:
	 * 50 ms.  Any other thread is waited for up to 1 s: it stops as
	 * soon as it gets a CPU. */
	int timeout_ms;
	/* To find the end of the stack mapping (copy only what is in use);
	 * NULL, or no mapping holding rsp: copy up to stack_cap. */
	const struct gs_maps *maps;
	/* Called while the thread is stopped, after the copy (to read
	 * what must match the native stack, e.g. its Python frames). */
	void (*in_window)(void *arg, const struct gs_capture *c);
	void *arg;
};

/* A capture buffer that copies at most stack_cap bytes of stack.
 * Returns 0, or -1 (out of memory). */
int gs_capture_init(struct gs_capture *c, size_t stack_cap);
void gs_capture_fini(struct gs_capture *c);

/* Stop thread tid of process pid, copy, let it go.  Returns 0, or -1
 * with errno and a reason in why:
 *   ESRCH      the thread is gone (or exited while held)
 *   EBUSY      it is already stopped, or traced by another process
 *   EPERM      not allowed to trace it
 *   ETIMEDOUT  it did not stop in time (left seized: gs_capture_reap)
 *   EAGAIN     too many threads left seized by earlier timeouts
 *   EIO        the registers could not be read */
int gs_capture_thread(struct gs_capture *c, pid_t pid, pid_t tid,
		      const struct gs_capture_opts *o, char *why, size_t whylen);

/* Detach the threads left seized by timeouts that have stopped since,
 * waiting up to wait_ms for the others.  Returns how many are still
 * seized (running, not stopped).  Call it before exiting, and now and
 * then in a long-running command. */
int gs_capture_reap(int wait_ms);

/* GILSNOOP_TEST_STOP_DELAY=POINT:MS[,POINT:MS...] (for the test suite
 * only) sleeps MS milliseconds at POINT: "seize" (before the seize),
 * "seized" (seized, not yet interrupted), "stopped" (held, before the
 * copy), "detached" (after the detach), so that tests can signal or kill
 * gilsnoop at each of them.  At most 10 s each. */
#define GS_CAPTURE_DELAY_ENV "GILSNOOP_TEST_STOP_DELAY"

#endif
