/* Command-line helpers shared by the subcommands. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/errors.h"

int gs_parse_pid(const char *s)
{
	char *end;
	errno = 0;
	/* Digits only: strtol would also take " 7", "+7" and "0x1f". */
	int digits = s && *s >= '0' && *s <= '9';
	long v = digits ? strtol(s, &end, 10) : 0;
	if (!digits || *end || errno || v <= 0 || v > INT_MAX) {
		gs_fail(GS_EUSAGE, "invalid pid '%s': expected a positive process id",
			s ? s : "");
		return 0;
	}
	if (v == getpid()) {
		gs_fail(GS_EUSAGE, "refusing to attach to gilsnoop itself (pid %ld)", v);
		return 0;
	}
	return (int)v;
}

int gs_print_whole(void (*print)(void *arg), void *arg)
{
	/* All of the output or none: a SIGINT, SIGTERM or SIGHUP that
	 * arrives while it is written takes effect after it.  A reader that
	 * went away (EPIPE) is not an error to report. */
	sigset_t term, old;
	int rc = 0;
	sigemptyset(&term);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &term, &old);
	errno = 0;
	print(arg);
	if ((fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE)
		rc = gs_fail(GS_EFAIL, "could not write the output: %s",
			     strerror(errno ? errno : EIO));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
