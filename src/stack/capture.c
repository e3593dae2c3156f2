/* Stopping one thread for as short a time as possible: seize, interrupt,
 * wait for the stop, copy registers and stack, detach.  See capture.h
 * for the promises; docs/security.md repeats them for users. */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "proc/readfile.h"
#include "proc/taskstat.h"
#include "stack/capture.h"

#define DEFAULT_TIMEOUT_MS 50
/* A thread that is not in uninterruptible sleep stops as soon as it gets
 * a CPU: on a busy machine that can take longer than the timeout, and
 * waiting costs it nothing (it is not stopped before it runs). */
#define RUNNABLE_WAIT_MS 1000
#define MAX_PENDING 64
#define MAX_TEST_DELAY_MS 10000
/* Without the stack's mapping (a thread newer than the maps read),
 * copy no more than this. */
#define UNKNOWN_MAP_COPY (512u << 10)

/* Threads seized whose stop did not come in time: running, traced by
 * us, with an interrupt pending. */
static struct { pid_t pid, tid; } pending[MAX_PENDING];
static int npending;

enum { P_SEIZE, P_SEIZED, P_STOPPED, P_DETACHED, P_COUNT };
static const char *const point_names[P_COUNT] = {
	"seize", "seized", "stopped", "detached",
};
static int delay_ms[P_COUNT];

static void parse_delays(void)
{
	static int done;
	const char *s = getenv(GS_CAPTURE_DELAY_ENV);
	if (done)
		return;
	done = 1;
	while (s && *s) {
		const char *colon = strchr(s, ':');
		if (!colon)
			return;
		for (int p = 0; p < P_COUNT; p++) {
			size_t l = strlen(point_names[p]);
			if ((size_t)(colon - s) == l && strncmp(s, point_names[p], l) == 0) {
				long ms = strtol(colon + 1, NULL, 10);
				delay_ms[p] = ms < 0 ? 0 : ms > MAX_TEST_DELAY_MS
					? MAX_TEST_DELAY_MS : (int)ms;
			}
		}
		s = strchr(colon, ',');
		if (s)
			s++;
	}
}

static void test_delay(int point)
{
	if (delay_ms[point] > 0) {
		struct timespec ts = { delay_ms[point] / 1000,
				       (long)(delay_ms[point] % 1000) * 1000000L };
		/* Signals are blocked in the window: EINTR cannot cut it short
		 * there, and outside it a signal ends gilsnoop anyway. */
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

static void say(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	if (!why || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

/* The state letter from /proc/PID/task/TID/stat; 0 when unreadable. */
static char task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[1024];
	struct gs_taskstat ts;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if ((n = gs_read_file(path, buf, sizeof buf)) <= 0)
		return 0;
	memset(&ts, 0, sizeof ts);
	if (gs_parse_stat(buf, (size_t)n, &ts) != 0)
		return 0;
	return ts.state;
}

static long tracer_pid(pid_t pid, pid_t tid)
{
	char path[64], buf[4096];

	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (gs_read_file(path, buf, sizeof buf) <= 0)
		return -1;
	const char *p = strstr(buf, "\nTracerPid:");
	return p ? strtol(p + 11, NULL, 10) : -1;
}

static int is_group_stop_sig(int s)
{
	return s == SIGSTOP || s == SIGTSTP || s == SIGTTIN || s == SIGTTOU;
}

/* What a waitpid status says: 1 stopped (kind, sig set), 0 gone. */
static int decode(int st, enum gs_stop_kind *kind, int *sig)
{
	if (!WIFSTOPPED(st))
		return 0;
	int s = WSTOPSIG(st);
	unsigned ev = (unsigned)st >> 16;
	*sig = 0;
	if (ev == PTRACE_EVENT_STOP)
		*kind = is_group_stop_sig(s) ? GS_STOP_GROUP : GS_STOP_INTERRUPT;
	else if (ev)
		*kind = GS_STOP_INTERRUPT; /* no events are enabled */
	else {
		/* Signal-delivery-stop: the signal must still reach it. */
		*kind = GS_STOP_SIGNAL;
		*sig = s;
	}
	return 1;
}

/* One look at tid's state as its tracer: 1 stopped (*status set), 0
 * nothing yet, -1 gone.  The main thread of a process gilsnoop started
 * itself (record -- CMD) is also its child: its exit is left unreaped
 * (WNOWAIT) for the code that waits for that child. */
static int poll_tracee(pid_t pid, pid_t tid, int *status)
{
	siginfo_t si;
	for (;;) {
		memset(&si, 0, sizeof si);
		int r = waitid(P_PID, (id_t)tid, &si,
			       WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1; /* ECHILD: not ours any more, it is gone */
		if (si.si_pid == 0)
			return 0;
		int stopped = si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED;
		if (!stopped && tid == pid)
			return -1;
		pid_t w = waitpid(tid, status, __WALL | WNOHANG);
		if (w == tid)
			return WIFSTOPPED(*status) ? 1 : -1;
		if (w < 0 && errno != EINTR)
			return -1;
	}
}

/* Wait for tid's stop: 1 stopped, 0 timed out, -1 gone. */
static int wait_stop(pid_t pid, pid_t tid, uint64_t deadline, int *status,
		     int *got_chld)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		int r = poll_tracee(pid, tid, status);
		if (r)
			return r;
		uint64_t now = gs_now_ns();
		if (now >= deadline)
			return 0;
		/* The stop is reported with SIGCHLD (disposition set to
		 * SIG_DFL and blocked for the window); slices bound the wait
		 * in case the notification was lost to someone else. */
		uint64_t left = deadline - now;
		if (left > 2000000u)
			left = 2000000u;
		struct timespec ts = { 0, (long)left };
		if (sigtimedwait(&chld, NULL, &ts) == SIGCHLD)
			*got_chld = 1;
	}
}

static int add_pending(pid_t pid, pid_t tid)
{
	if (npending >= MAX_PENDING)
		return -1;
	pending[npending].pid = pid;
	pending[npending].tid = tid;
	npending++;
	return 0;
}

static int is_pending(pid_t tid)
{
	for (int i = 0; i < npending; i++)
		if (pending[i].tid == tid)
			return 1;
	return 0;
}

/* Every asynchronous signal is held off from the seize to the detach;
 * the synchronous ones (a fault of gilsnoop's own) cannot be. */
static void block_async(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGSYS);
	sigprocmask(SIG_BLOCK, &all, old);
}

int gs_capture_init(struct gs_capture *c, size_t stack_cap)
{
	memset(c, 0, sizeof *c);
	c->stack = malloc(stack_cap ? stack_cap : 1);
	if (!c->stack)
		return -1;
	c->stack_cap = stack_cap;
	return 0;
}

void gs_capture_fini(struct gs_capture *c)
{
	free(c->stack);
	c->stack = NULL;
	c->stack_cap = c->stack_len = 0;
}

static void copy_stack(struct gs_capture *c, const struct gs_maps *maps)
{
	uint64_t sp = c->regs.rsp;
	size_t want = c->stack_cap;

	c->stack_addr = sp;
	c->stack_end = 0;
	c->stack_len = 0;
	for (size_t i = 0; maps && i < maps->n; i++)
		if (sp >= maps->v[i].start && sp < maps->v[i].end) {
			c->stack_end = maps->v[i].end;
			break;
		}
	if (c->stack_end && c->stack_end - sp < want)
		want = (size_t)(c->stack_end - sp);
	else if (!c->stack_end && want > UNKNOWN_MAP_COPY)
		want = UNKNOWN_MAP_COPY;
	if (!want)
		return;
	struct iovec l = { c->stack, want }, r = { (void *)(uintptr_t)sp, want };
	/* A partial read (the copy ran into an unmapped page above an
	 * unknown mapping) keeps what it got. */
	ssize_t got = process_vm_readv(c->pid, &l, 1, &r, 1, 0);
	if (got > 0)
		c->stack_len = (size_t)got;
}

int gs_capture_thread(struct gs_capture *c, pid_t pid, pid_t tid,
		      const struct gs_capture_opts *o, char *why, size_t whylen)
{
	int timeout = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	int status = 0, got_chld = 0, rc = -1, err = 0, sig = 0;
	enum gs_stop_kind kind = GS_STOP_INTERRUPT;
	struct sigaction dfl, old_chld;
	sigset_t old_mask;
	uint64_t t0, t1;

	parse_delays();
	c->pid = pid;
	c->tid = tid;
	c->stack_len = 0;
	c->held_ns = c->wait_ns = 0;
	c->sig = 0;
	if (is_pending(tid) && gs_capture_reap(0) >= 0 && is_pending(tid)) {
		say(why, whylen, "still seized from an earlier attempt that timed out");
		errno = EBUSY;
		return -1;
	}
	if (npending >= MAX_PENDING) {
		say(why, whylen, "too many threads would not stop");
		errno = EAGAIN;
		return -1;
	}
	/* py-spy #565: seizing a thread that is already stopped can leave
	 * the stop unreported.  A stopped thread is left alone: its state
	 * is whoever stopped it's business. */
	char st = task_state(pid, tid);
	if (st == 0 || st == 'Z' || st == 'X') {
		say(why, whylen, "the thread has exited");
		errno = ESRCH;
		return -1;
	}
	if (st == 'T' || st == 't') {
		say(why, whylen, "the thread is stopped (state %c): not touched", st);
		errno = EBUSY;
		return -1;
	}

	test_delay(P_SEIZE);
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	block_async(&old_mask);
	sigaction(SIGCHLD, &dfl, &old_chld);

	t0 = gs_now_ns();
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
		err = errno;
		if (err == EPERM) {
			long tp = tracer_pid(pid, tid);
			if (tp > 0) {
				say(why, whylen, "the thread is traced by process %ld", tp);
				err = EBUSY;
			} else {
				say(why, whylen, "not allowed to trace it: %s", strerror(EPERM));
			}
		} else if (err == ESRCH) {
			say(why, whylen, "the thread has exited");
		} else {
			say(why, whylen, "PTRACE_SEIZE: %s", strerror(err));
		}
		goto out;
	}
	test_delay(P_SEIZED);
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 && errno != ESRCH) {
		/* Seized, running, no stop coming: the kernel detaches it
		 * when gilsnoop exits, reap() before that if it stops. */
		err = errno;
		say(why, whylen, "PTRACE_INTERRUPT: %s", strerror(err));
		add_pending(pid, tid);
		goto out;
	}
	int w = wait_stop(pid, tid, t0 + (uint64_t)timeout * 1000000u, &status,
			  &got_chld);
	char st_now = w == 0 ? task_state(pid, tid) : 0;
	if (w == 0 && st_now != 'D' && timeout < RUNNABLE_WAIT_MS) {
		w = wait_stop(pid, tid, t0 + (uint64_t)RUNNABLE_WAIT_MS * 1000000u,
			      &status, &got_chld);
		if (w == 0)
			timeout = RUNNABLE_WAIT_MS;
		st_now = w == 0 ? task_state(pid, tid) : 0;
	}
	c->wait_ns = gs_now_ns() - t0;
	if (w < 0) {
		err = ESRCH;
		say(why, whylen, "the thread exited while it was being stopped");
		goto out;
	}
	if (w == 0) {
		err = ETIMEDOUT;
		say(why, whylen, "the thread did not stop within %d ms%s", timeout,
		    st_now == 'D' ? " (uninterruptible sleep, state D)" : "");
		/* Without room to track it, the kernel's detach at
		 * gilsnoop's exit is what frees it. */
		add_pending(pid, tid);
		goto out;
	}
	decode(status, &kind, &sig);
	test_delay(P_STOPPED);
	if (ptrace(PTRACE_GETREGS, tid, NULL, &c->regs) != 0) {
		err = errno == ESRCH ? ESRCH : EIO;
		say(why, whylen, "PTRACE_GETREGS: %s", strerror(errno));
	} else {
		copy_stack(c, o ? o->maps : NULL);
		if (o && o->in_window)
			o->in_window(o->arg, c);
		rc = 0;
	}
	/* The signal that stopped it, if any, goes on to it; a group stop
	 * stays (the kernel re-enters it after the detach). */
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(uintptr_t)sig) != 0 &&
	    errno != ESRCH) {
		/* Not stopped after all (cannot happen after a reported
		 * stop): leave it to reap() and to the kernel at exit. */
		add_pending(pid, tid);
	}
	t1 = gs_now_ns();
	c->held_ns = t1 - t0;
	c->stop = kind;
	c->sig = sig;
out:
	sigaction(SIGCHLD, &old_chld, NULL);
	/* A SIGCHLD taken here may have been meant for a handler of the
	 * caller's (a child of its own): give it back. */
	if (got_chld && old_chld.sa_handler != SIG_DFL &&
	    old_chld.sa_handler != SIG_IGN)
		raise(SIGCHLD);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	if (rc == 0)
		test_delay(P_DETACHED);
	if (rc != 0)
		errno = err;
	return rc;
}

int gs_capture_reap(int wait_ms)
{
	uint64_t deadline = gs_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;
	for (;;) {
		for (int i = 0; i < npending;) {
			int status, sig = 0;
			enum gs_stop_kind kind;
			int r = poll_tracee(pending[i].pid, pending[i].tid, &status);
			if (r == 0) {
				i++;
				continue;
			}
			if (r > 0 && decode(status, &kind, &sig) &&
			    ptrace(PTRACE_DETACH, pending[i].tid, NULL,
				   (void *)(uintptr_t)sig) != 0 && errno != ESRCH) {
				i++;
				continue;
			}
			/* Detached, exited, or no longer ours. */
			pending[i] = pending[--npending];
		}
		if (!npending || gs_now_ns() >= deadline)
			return npending;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}
