/* Subcommands: one file each (src/cmd_NAME.c), dispatched by main.c. */
#ifndef GS_COMMANDS_H
#define GS_COMMANDS_H

#include <stddef.h>
#include <sys/types.h>

struct gs_command {
	const char *name;
	const char *summary;
	const char *usage;  /* full help text printed by `gilsnoop help NAME` */
	int (*run)(int argc, char **argv);
};

extern const struct gs_command gs_cmd_info;
extern const struct gs_command gs_cmd_dump;
extern const struct gs_command gs_cmd_top;
extern const struct gs_command gs_cmd_record;
extern const struct gs_command gs_cmd_report;

/* Parse a --pid/-p value: a positive decimal process id.  Returns the
 * pid, or 0 after recording a usage error with gs_fail(). */
int gs_parse_pid(const char *s);
/* A -p value that may list several: PID[,PID...], appended to *pids
 * (malloc'd, *n of them; a repeated -p adds to the list, a pid given
 * twice counts once).  Returns 0, or GS_EUSAGE recorded. */
int gs_parse_pids(const char *s, pid_t **pids, size_t *n);

/* Run one(pid, arg) for each of a -p list in turn, text outputs apart
 * by a blank line (none between JSON objects, one per line): one that
 * fails is reported by one() and the others still run.  Frees pids.
 * Returns the first failure's exit code, or 0. */
int gs_each_pid(pid_t *pids, size_t n, int json, int (*one)(pid_t pid, void *arg),
		void *arg);

/* Record a usage error of subcommand cmd (GS_EUSAGE), pointing at its
 * help: "MSG; run 'gilsnoop help CMD'". */
int gs_usage_fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A -r/--rate value: a number of Hz from 1 to 10M, with an optional k
 * (or Hz, kHz) suffix, or "max" (0: as fast as possible).  Returns the
 * rate, or -1 on a bad value. */
double gs_parse_rate(const char *s);
/* The same for the option: 0 with *out set, or GS_EUSAGE with the one
 * message every subcommand gives recorded. */
int gs_rate_option(const char *s, double *out);

/* print(arg) to stdout, written whole or not at all: SIGINT, SIGTERM and
 * SIGHUP are held off until it is flushed; SIGPIPE is ignored and a
 * reader that went away is no error.  Returns 0, or GS_EFAIL recorded
 * with gs_fail() when the output could not be written. */
int gs_print_whole(void (*print)(void *arg), void *arg);

#endif
