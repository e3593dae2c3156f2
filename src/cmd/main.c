/* gilsnoop: the thin dispatcher.  Every subcommand lives in its own
 * src/cmd_*.c file and registers a struct gs_command here. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cmd/commands.h"
#include "core/errors.h"

static const struct gs_command *const commands[] = {
	&gs_cmd_info,
	&gs_cmd_dump,
	&gs_cmd_top,
	&gs_cmd_record,
	&gs_cmd_report,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char exit_codes[] =
	"Exit status:\n"
	"  0  success\n"
	"  1  runtime failure (I/O error, output could not be written)\n"
	"  2  bad command line\n"
	"  3  no such process, or it exited while gilsnoop attached\n"
	"  4  permission denied reading the target\n"
	"  5  not a Python process, or its runtime is not initialised yet\n"
	"  6  Python version or build not supported\n";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gilsnoop [-V|--version] [-h|--help] COMMAND [ARGS]\n"
		"\n"
		"Show which thread of a running CPython process holds the GIL,\n"
		"which threads wait for it, and what the holder is doing, without\n"
		"stopping the process.  Supports CPython 3.6-3.15 on Linux x86_64.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f,
		"  help     show the help of a command: gilsnoop help COMMAND\n"
		"\n"
		"Options:\n"
		"  -V, --version  print gilsnoop's version and exit\n"
		"  -h, --help     show this help\n"
		"\n"
		"Run as root or with CAP_SYS_PTRACE to read another user's process.\n"
		"\n%s"
		"\nSee gilsnoop(1) for details.\n", exit_codes);
}

static const struct gs_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	gs_fail(GS_EUSAGE, "unknown command '%s'; run 'gilsnoop --help' for the "
		"list of commands", name);
	return gs_report_error();
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return GS_EUSAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("gilsnoop %s\n", PACKAGE_VERSION);
		return GS_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return GS_OK;
	}
	if (!strcmp(cmd, "help")) {
		if (argc < 3) {
			usage(stdout);
			return GS_OK;
		}
		const struct gs_command *c = find_command(argv[2]);
		if (!c)
			return unknown_command(argv[2]);
		fputs(c->usage, stdout);
		return GS_OK;
	}
	if (cmd[0] == '-') {
		gs_fail(GS_EUSAGE, "unknown option '%s'; run 'gilsnoop --help'", cmd);
		return gs_report_error();
	}
	const struct gs_command *c = find_command(cmd);
	if (!c)
		return unknown_command(cmd);
	return c->run(argc - 1, argv + 1);
}
