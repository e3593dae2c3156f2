/* The process behind a target: whether it exists and is a user process,
 * what exec changes (struct gs_proc_ident), and the one wording of what
 * went wrong reading it.  Shared by the attach (locate.c, version.c,
 * gil.c) and the periodic check (gs_target_check, target.h). */
#ifndef GS_PROCESS_H
#define GS_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

#include "proc/procfs.h"
#include "runtime/target.h"

/* Existence, zombie, kernel-thread and thread-id checks from
 * /proc/PID/stat and status, without sending any signal.  Returns 0 or
 * an exit code with the message recorded. */
int gs_proc_check(pid_t pid);
/* What exec changes.  Returns 0, or -1 with errno when the process is
 * gone (ENOENT, ESRCH); *state is its state letter. */
int gs_proc_read_ident(pid_t pid, struct gs_proc_ident *id, char *state);

/* Record "process N exec'd PATH<when>" (GS_ENOPROC). */
int gs_proc_execd_fail(pid_t pid, const char *when);
/* Whether the process exec'd since t->ident was read. */
int gs_target_has_execd(const struct gs_target *t);
/* Record why a read of the target's memory (errno) failed. */
int gs_target_mem_fail(const struct gs_target *t, const char *what, uint64_t addr);
int gs_target_read_u64(const struct gs_target *t, const char *what, uint64_t addr,
		       uint64_t *out);
int gs_target_not_initialised(const struct gs_target *t);

#endif
