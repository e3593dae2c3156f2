/* A recording downsampled for one picture (report --svg): per thread,
 * the time in each GIL role in each of at most GS_TIMELINE_COLS columns
 * of equal width spanning the run; the stalls (holds and waits of at
 * least a threshold, the longest GS_TIMELINE_STALLS of them); and the
 * time held under each stack, for a holder flame graph.
 *
 * Intervals arrive as they close, so the run's span is not known until
 * the end: columns start 1 ms wide and double (neighbours merged) each
 * time an interval falls past the last one, so memory and the picture's
 * size stay bounded whatever the length of the recording, and the
 * finest grain kept is the one the whole run fits in.  Threads past
 * GS_TIMELINE_LANES share one last lane. */
#ifndef GS_TIMELINE_H
#define GS_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/holds.h"
#include "model/intervals.h"

#define GS_TIMELINE_COLS 1024
#define GS_TIMELINE_LANES 64
#define GS_TIMELINE_STALLS 32

struct gs_timeline_lane {
	pid_t pid, tid;           /* tid 0: the shared lane of the rest */
	uint64_t (*ns)[GS_ROLE_COUNT]; /* [GS_TIMELINE_COLS] */
	uint64_t held_ns;         /* in all: to order the lanes */
	struct gs_hold hold;      /* the hold in progress */
	uint32_t hold_stack;
};

struct gs_timeline_stall {
	pid_t pid, tid;
	enum gs_role role;        /* held (on or off CPU) or waiting */
	uint64_t start_ns, end_ns;
	uint32_t stack;           /* a stack of the hold; 0: none */
};

/* Time held under one stack, split by on and off CPU. */
struct gs_timeline_stack {
	uint32_t stack;
	uint64_t ns[2];           /* [0] on CPU, [1] off CPU */
};

struct gs_timeline {
	uint64_t base_ns;         /* start of column 0, a multiple of col_ns */
	uint64_t col_ns;
	size_t ncols;             /* columns in use */
	uint64_t first_ns, last_ns;
	struct gs_timeline_lane *lane;
	size_t nlanes;
	uint64_t stall_ns;        /* the threshold */
	struct gs_timeline_stall stalls[GS_TIMELINE_STALLS];
	size_t nstalls;
	uint64_t more_stalls;     /* past the ones kept */
	struct gs_timeline_stack *stacks;
	size_t nstacks, stacks_cap;
	uint64_t merges;          /* times the columns doubled */
};

/* Returns 0, or -1 when out of memory. */
int gs_timeline_init(struct gs_timeline *t, uint64_t stall_ns);
void gs_timeline_free(struct gs_timeline *t);
/* One closed interval. */
void gs_timeline_add(struct gs_timeline *t, const struct gs_interval *iv);
/* End the holds in progress (once, after the last interval). */
void gs_timeline_finish(struct gs_timeline *t);
/* The role that filled most of column c of lane l; GS_ROLE_UNKNOWN when
 * the thread was not seen there. */
enum gs_role gs_timeline_role(const struct gs_timeline *t, size_t l, size_t c);
/* Mean number of threads waiting in column c. */
double gs_timeline_waiters(const struct gs_timeline *t, size_t c);

#endif
