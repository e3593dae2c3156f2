/* Who made the others wait: the figures behind the part of record's and
 * report's summary that names a culprit.  Fed the same closed intervals
 * as the summary (model/summary.h forwards them), in the order they
 * close, which is time order for each GIL:
 *
 *  - off-CPU holds grouped by (thread, syscall, file, wchan, innermost
 *    Python frame): total time, count, longest;
 *  - the longest holds (model/holds.h's rule), each with the stack it
 *    carried, the off-CPU syscall it spent longest in and the threads
 *    that waited meanwhile, and for how long;
 *  - for each waiting thread, the time it waited behind each holder.
 *
 * A wait is "behind" a holder for the time their intervals overlap on
 * the same GIL.  Each pair is counted once, when the later of the two
 * closes, against the recent intervals of the other kind kept in a ring
 * (GS_CULPRIT_RING per GIL); wait time no kept hold covers stays
 * unattributed.  Memory is bounded whatever the run length: groups past
 * GS_CULPRIT_MAX_GROUPS fold into one "other" group, pairs past
 * GS_CULPRIT_MAX_PAIRS are dropped (and counted).
 *
 * Stacks are ids of the summary's interned table (model/stacks.h): the
 * model keeps ids, never copies of stacks, and groups by the innermost
 * frame of the interval's first stack. */
#ifndef GS_CULPRIT_H
#define GS_CULPRIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/intervals.h"
#include "model/stacks.h"

#define GS_CULPRIT_RING 4096
#define GS_CULPRIT_MAX_GROUPS 4096
#define GS_CULPRIT_MAX_PAIRS 65536
#define GS_CULPRIT_LONGEST 5     /* longest holds kept */
#define GS_CULPRIT_WAITERS 8     /* waiters kept per longest hold */
#define GS_CULPRIT_FRAME_MAX 256 /* bytes of a group's frame, with the NUL */

struct gs_culprit_group {
	pid_t pid, tid;
	long syscall_nr;          /* -1: unknown */
	char path[256], wchan[64];
	char frame[GS_CULPRIT_FRAME_MAX]; /* innermost Python frame, "" unknown */
	uint32_t stack;           /* a stack of the longest one, 0: none */
	uint64_t total_ns, count, longest_ns;
	int other;                /* the fold of groups past the bound */
};

struct gs_culprit_waiter {
	pid_t tid;
	uint64_t ns;              /* overlap of its waits with the hold */
};

struct gs_culprit_hold {
	pid_t pid, tid;
	unsigned gil;
	uint64_t start_ns, end_ns;
	uint64_t offcpu_ns;       /* of it, off CPU */
	/* the off-CPU interval of the hold that lasted longest */
	long syscall_nr;
	char path[256], wchan[64];
	uint32_t stack;           /* 0: none */
	size_t nwaiters;          /* distinct threads that waited meanwhile */
	uint64_t waited_ns;       /* their waits' overlap with the hold, summed */
	struct gs_culprit_waiter w[GS_CULPRIT_WAITERS]; /* the longest waits */
};

/* waiter waited behind holder for ns (same pid). */
struct gs_culprit_pair {
	pid_t pid, waiter, holder;
	uint64_t ns;
};

struct gs_culprit;

/* NULL when out of memory.  stacks (which must outlive it) may be NULL:
 * no stacks. */
struct gs_culprit *gs_culprit_new(const struct gs_stacks *stacks);
void gs_culprit_free(struct gs_culprit *c);
/* One closed interval; iv->stack is an id of the stacks table. */
void gs_culprit_add(struct gs_culprit *c, const struct gs_interval *iv);
/* End the holds still in progress, after the last interval; later calls
 * do nothing (sink/culprit_print.h calls it before printing). */
void gs_culprit_finish(struct gs_culprit *c);

/* Results, valid until the next add or free. */
/* Groups by total time, largest first; *n set. */
const struct gs_culprit_group *gs_culprit_groups(struct gs_culprit *c, size_t *n);
/* The longest holds, longest first. */
const struct gs_culprit_hold *gs_culprit_longest(const struct gs_culprit *c, size_t *n);
/* Waiter/holder pairs, by waiter then time (largest first). */
const struct gs_culprit_pair *gs_culprit_pairs(struct gs_culprit *c, size_t *n);
/* Pairs dropped past GS_CULPRIT_MAX_PAIRS. */
uint64_t gs_culprit_dropped(const struct gs_culprit *c);
/* The frames of stack id, innermost first, into frames[0..cap); returns
 * how many it has (may exceed cap); 0 for none. */
size_t gs_culprit_frames(const struct gs_culprit *c, uint32_t id, const char **frames,
			 size_t cap);

#endif
