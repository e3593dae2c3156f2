/* When a thread last ran, from the scheduler's debug file
 * /proc/PID/task/TID/sched (CONFIG_SCHED_DEBUG, world-readable):
 * se.exec_start is the run-queue clock when the task last started or
 * was last accounted on a CPU, so for a task that is off CPU it is
 * about when it left.  The clock is that CPU's run-queue task clock, not
 * CLOCK_MONOTONIC, and the CPUs' clocks differ (by seconds in a VM with
 * steal time): compare it only with the same CPU's clock now, which
 * gs_sched_now_on() reads. */
#ifndef GS_SCHED_H
#define GS_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* se.exec_start of thread tid of pid (tid 0: the calling thread), in
 * ns.  Returns 0, or -1 (no such file: a kernel without SCHED_DEBUG). */
int gs_sched_exec_start(pid_t pid, pid_t tid, uint64_t *ns);

/* CPU cpu's task clock now, in ns: gilsnoop's own exec_start just after
 * it woke up on that CPU (pinned there for a moment).  Returns 0, or -1
 * (not allowed on that CPU, or no sched file). */
int gs_sched_now_on(int cpu, uint64_t *ns);

/* The parser: the "se.exec_start : MS.NNNNNN" line of the file's text.
 * Returns 0, or -1 when there is none. */
int gs_parse_sched_exec_start(const char *buf, size_t len, uint64_t *ns);

#endif
