/* Common definitions shared by every gilsnoop module: exit codes, error
 * reporting and verbosity. */
#ifndef GILSNOOP_H
#define GILSNOOP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes are part of the user interface: they are documented in
 * man/gilsnoop.1 and --help, so never renumber them. */
enum gs_exit {
	GS_OK = 0,
	GS_EFAIL = 1,        /* runtime failure: I/O, output, internal */
	GS_EUSAGE = 2,       /* bad command line */
	GS_ENOPROC = 3,      /* no such process, or it exited during attach */
	GS_EPERM = 4,        /* not allowed to read the target */
	GS_ENOTPY = 5,       /* not a Python process, or runtime not initialised */
	GS_EUNSUPPORTED = 6, /* Python version or build not supported */
};

/* Errors travel up as an exit code plus one message line.  gs_fail()
 * records the message and returns the code so callers can write
 * `return gs_fail(GS_ENOPROC, "...")`.  The subcommand prints it once. */
int gs_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *gs_last_error(void);
int gs_last_code(void);
void gs_clear_error(void);
/* Print the recorded error as "gilsnoop: MSG" and return its code. */
int gs_report_error(void);

extern int gs_verbose;
void gs_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
