/* Command-line helpers shared by the subcommands. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

int gs_parse_pids(const char *s, pid_t **pids, size_t *n)
{
	char item[32];
	const char *p = s ? s : "";
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len >= sizeof item)
			len = sizeof item - 1;
		memcpy(item, p, len);
		item[len] = 0;
		pid_t pid = gs_parse_pid(item);
		if (!pid)
			return GS_EUSAGE;
		size_t k = 0;
		while (k < *n && (*pids)[k] != pid)
			k++;
		if (k == *n) {
			pid_t *v = realloc(*pids, (*n + 1) * sizeof *v);
			if (!v)
				return gs_fail(GS_EFAIL, "out of memory");
			*pids = v;
			v[(*n)++] = pid;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int gs_each_pid(pid_t *pids, size_t n, int json, int (*one)(pid_t pid, void *arg),
		void *arg)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int r = one(pids[i], arg);
		if (r && !rc)
			rc = r;
		if (!json && i + 1 < n)
			putchar('\n');
	}
	free(pids);
	return rc;
}

int gs_usage_fail(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return gs_fail(GS_EUSAGE, "%s; run 'gilsnoop help %s'", msg, cmd);
}

double gs_parse_rate(const char *str)
{
	char *end;
	if (!str || !*str)
		return -1;
	if (!strcmp(str, "max"))
		return 0;
	errno = 0;
	double v = strtod(str, &end);
	if (end == str || errno)
		return -1;
	if (!strcmp(end, "k") || !strcasecmp(end, "khz"))
		v *= 1000;
	else if (*end && strcasecmp(end, "hz"))
		return -1;
	if (!(v >= 1 && v <= 10e6) || isnan(v))
		return -1;
	return v;
}

int gs_rate_option(const char *s, double *out)
{
	double v = gs_parse_rate(s);
	if (v < 0)
		return gs_fail(GS_EUSAGE, "invalid rate '%s': expected a number of Hz "
			       "(1 to 10M, k suffix allowed) or 'max'", s);
	*out = v;
	return 0;
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
