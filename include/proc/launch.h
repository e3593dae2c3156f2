/* Starting a command and waiting for it, for `record -- CMD` (and, with
 * issue 13, its descendants): fork and exec with exec failures reported
 * before anything else happens, signals passed on, the exit status
 * turned into gilsnoop's own. */
#ifndef GS_LAUNCH_H
#define GS_LAUNCH_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* What the signal handlers of the session saw (written only by them). */
struct gs_sigstate {
	volatile sig_atomic_t stop;     /* a stop signal arrived */
	volatile sig_atomic_t signo;    /* the last one */
	volatile sig_atomic_t count;    /* how many so far */
	/* The last one came from the terminal, which sends it to the whole
	 * foreground process group, a started command included. */
	volatile sig_atomic_t from_tty;
};

struct gs_child {
	pid_t pid;          /* 0: none started */
	const char *name;   /* argv[0] */
	int status, done;   /* waitpid status, once reaped */
	int forwarded;      /* signals passed on so far */
	/* gs_child_attach: of the answers that kept it polling, the one
	 * that stood longest (why a command that exited first was never
	 * attached to: a program exiting answers oddly at its last look,
	 * its runtime already torn down). */
	char why[256];
	char cur[256];       /* the answer now, since cur_ns */
	uint64_t cur_ns, why_ns;
};

/* Start argv (argv[0] looked up in PATH).  With stdout_to_stderr the
 * command's standard output goes to standard error (it carries the
 * recording).  Returns 0, or 127 (not found) / 126 (not executable) /
 * GS_EFAIL with the message recorded by gs_fail(). */
int gs_child_spawn(struct gs_child *c, char *const argv[], int stdout_to_stderr);

/* Poll try_attach(ctx, pid) until it returns 0, while the command's
 * runtime is being set up.  GS_ENOTPY and GS_ENOPROC are the normal
 * answers of a command not yet initialised; any other answer is
 * believed only once it persists for a second (the loader may still be
 * mapping libpython), GS_EPERM and GS_EUSAGE at once.  Returns 0 when
 * attached, -1 when the command exited or sig->stop came first, or the
 * exit code try_attach settled on (its message recorded). */
int gs_child_attach(struct gs_child *c, int (*try_attach)(void *ctx, pid_t pid),
		    void *ctx, const struct gs_sigstate *sig);

/* Reap the command if it has exited (block: wait for it).  Returns
 * whether it is reaped. */
int gs_child_reap(struct gs_child *c, int block);

/* Pass on the signals that reached gilsnoop alone since the last call;
 * the terminal's reach the command anyway, and a second SIGINT would
 * break its clean-up. */
void gs_child_forward(struct gs_child *c, const struct gs_sigstate *sig);

/* Wait for the command to end, passing signals on meanwhile. */
void gs_child_wait(struct gs_child *c, const struct gs_sigstate *sig);

/* The command's status as gilsnoop's exit code: its own, or 128+N when
 * signal N killed it. */
int gs_child_exit_code(const struct gs_child *c);

#endif
