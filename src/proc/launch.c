/* Starting a command and waiting for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errors.h"
#include "proc/launch.h"

/* The runtime is polled for every millisecond at first, then less
 * often, so that a command that never becomes Python costs little. */
#define POLL_FAST_NS 1000000L
#define POLL_SLOW_NS 20000000L
#define POLL_FAST_FOR_NS 3000000000ull
#define ATTACH_SETTLE_NS 1000000000ull

/* Exec failures come back through a close-on-exec pipe, so that they
 * are reported here, before anything is recorded. */
int gs_child_spawn(struct gs_child *c, char *const argv[], int stdout_to_stderr)
{
	int p[2], e = 0;
	memset(c, 0, sizeof *c);
	c->name = argv[0];
	if (pipe2(p, O_CLOEXEC))
		return gs_fail(GS_EFAIL, "cannot start %s: %s", argv[0], strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return gs_fail(GS_EFAIL, "cannot start %s: %s", argv[0], strerror(e));
	}
	if (pid == 0) {
		/* An ignored signal stays ignored across exec. */
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		if (stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(p[1], &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	ssize_t n;
	while ((n = read(p[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return gs_fail(e == ENOENT ? 127 : 126, "cannot run %s: %s", argv[0],
			       strerror(e));
	}
	c->pid = pid;
	gs_debug("started %s as pid %d", argv[0], (int)pid);
	return 0;
}

int gs_child_reap(struct gs_child *c, int block)
{
	if (c->done || !c->pid)
		return c->done;
	pid_t w = waitpid(c->pid, &c->status, block ? 0 : WNOHANG);
	if (w == c->pid)
		c->done = 1;
	return c->done;
}

static void note_answer(struct gs_child *c, const char *msg)
{
	uint64_t now = gs_now_ns();
	if (strcmp(msg, c->cur)) {
		snprintf(c->cur, sizeof c->cur, "%s", msg);
		c->cur_ns = now;
	}
	if (!c->why[0] || now - c->cur_ns >= c->why_ns) {
		snprintf(c->why, sizeof c->why, "%s", c->cur);
		c->why_ns = now - c->cur_ns;
	}
}

int gs_child_attach(struct gs_child *c, int (*try_attach)(void *ctx, pid_t pid),
		    void *ctx, const struct gs_sigstate *sig)
{
	uint64_t start = gs_now_ns(), failing_since = 0;
	for (;;) {
		if (sig->stop || gs_child_reap(c, 0))
			return -1;
		int rc = try_attach(ctx, c->pid);
		if (!rc)
			return 0;
		/* While the loader is still mapping libpython, or the runtime
		 * is half-built, any other answer can be transient: only one
		 * that persists is believed. */
		if (rc == GS_EPERM || rc == GS_EUSAGE)
			return rc;
		if (rc != GS_ENOTPY && rc != GS_ENOPROC) {
			if (!failing_since)
				failing_since = gs_now_ns();
			else if (gs_now_ns() - failing_since > ATTACH_SETTLE_NS)
				return rc;
		} else {
			failing_since = 0;
		}
		/* "exited" says nothing the caller will not know. */
		if (rc != GS_ENOPROC)
			note_answer(c, gs_last_error());
		gs_clear_error();
		long ns = gs_now_ns() - start < POLL_FAST_FOR_NS ? POLL_FAST_NS : POLL_SLOW_NS;
		nanosleep(&(struct timespec){ 0, ns }, NULL);
	}
}

void gs_child_forward(struct gs_child *c, const struct gs_sigstate *sig)
{
	int n = sig->count;
	if (!c->pid || c->done || n == c->forwarded)
		return;
	c->forwarded = n;
	if (!sig->from_tty)
		kill(c->pid, sig->signo);
}

void gs_child_wait(struct gs_child *c, const struct gs_sigstate *sig)
{
	while (c->pid && !c->done) {
		gs_child_forward(c, sig);
		if (!gs_child_reap(c, 1) && errno != EINTR)
			break;
	}
}

int gs_child_exit_code(const struct gs_child *c)
{
	if (WIFEXITED(c->status))
		return WEXITSTATUS(c->status);
	if (WIFSIGNALED(c->status))
		return 128 + WTERMSIG(c->status);
	return GS_EFAIL;
}
