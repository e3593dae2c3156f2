/* Command-line helpers shared by the subcommands. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands.h"
#include "gilsnoop.h"

int gs_parse_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = s && *s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v <= 0 || v > INT_MAX) {
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
