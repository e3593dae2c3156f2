/* Context switches of chosen threads, from the kernel's own records
 * (perf_event_open with context_switch on a software dummy event, one
 * event per thread, each with a one-page ring that is read as memory):
 * whether each thread is on a CPU, queued for one after a
 * preemption, or blocked, and when that last changed, without a read
 * of /proc.  The sampler uses it where the kernel allows it (root, or
 * perf_event_paranoid <= 1 for a thread of one's own) and falls back
 * to polling schedstat elsewhere.
 *
 *   gs_switches_new()          an empty set (NULL: out of memory)
 *   gs_switches_add(sw, tid)   start following tid: 0, or -1 and errno
 *                              (EACCES, EPERM, ENOSYS: no perf events
 *                              here; EMFILE, ENOMEM: no room for more)
 *   gs_switches_remove(sw, tid)
 *   gs_switches_poll(sw, tid)  read what the kernel wrote of tid since
 *                              the last poll (after records the ring had
 *                              no room for, its state is unknown again)
 *                              and return its state
 *   gs_switches_get(sw, tid)   tid's state, or NULL when not followed
 *
 * Times are CLOCK_MONOTONIC nanoseconds (the records are stamped with
 * that clock), as gs_now_ns() gives. */
#ifndef GS_SWITCHES_H
#define GS_SWITCHES_H

#include <stdint.h>
#include <sys/types.h>

enum gs_cpu_state {
	GS_CS_UNKNOWN = 0,   /* no record since it was added or since a loss */
	GS_CS_ON_CPU,        /* switched in, not out since */
	GS_CS_PREEMPTED,     /* switched out while runnable: queued */
	GS_CS_BLOCKED,       /* switched out to sleep (S, D, a stop) */
};

struct gs_switch_state {
	enum gs_cpu_state state;
	uint64_t gen;        /* moves at every record of this thread, and
			      * at a loss */
	uint64_t last_ns;    /* time of the last record */
	uint64_t run_ns;     /* CPU time over the switched-in spans seen,
			      * up to last_ns */
};

struct gs_switches;

struct gs_switches *gs_switches_new(void);
int gs_switches_add(struct gs_switches *sw, pid_t tid);
void gs_switches_remove(struct gs_switches *sw, pid_t tid);
const struct gs_switch_state *gs_switches_get(const struct gs_switches *sw, pid_t tid);
/* One ring (one page touched) per call: a sampler polls the threads
 * it looks at, not its sleepers. */
const struct gs_switch_state *gs_switches_poll(struct gs_switches *sw, pid_t tid);
/* CPU time of st by time now: run_ns plus the span it has been on a CPU
 * since its last record. */
uint64_t gs_switch_run_ns(const struct gs_switch_state *st, uint64_t now);
void gs_switches_free(struct gs_switches *sw);

#endif
