/* Subcommands: one file each (src/cmd_NAME.c), dispatched by main.c. */
#ifndef GS_COMMANDS_H
#define GS_COMMANDS_H

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

#endif
