/* Command-line helpers shared by the subcommands. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
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
