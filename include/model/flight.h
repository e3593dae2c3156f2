/* The stall flight recorder's memory (record --stall MS --keep SECONDS):
 * the last SECONDS of closed intervals and stack samples, in a ring of
 * fixed size, so that memory stays bounded however long the run; and
 * the rule that turns long holds and waits into stall windows.
 *
 * A stall is a hold (on or off CPU) or a wait for the GIL longer than
 * MS.  Its window runs from SECONDS before it began to SECONDS after it
 * ended; another long hold or wait that began before that one ended
 * joins the same stall (the threads waiting behind a long hold wait
 * just as long: that is one stall, not several; and when a waiter
 * crosses the threshold first, the hold it waits for becomes the
 * stall).  One that began after it is the next stall; windows never
 * overlap, so the next one may start late.  Once the window has
 * closed, its events are handed to the caller, oldest first, clipped to
 * the window. */
#ifndef GS_FLIGHT_H
#define GS_FLIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "model/intervals.h"
#include "model/stacks.h"

/* Bytes the ring may use; past it the oldest events go first even if
 * they are younger than SECONDS (gs_flight_stats.overwritten). */
#ifndef GS_FLIGHT_MAX_BYTES
#define GS_FLIGHT_MAX_BYTES (12u << 20)
#endif

struct gs_flight_stall {
	unsigned n;              /* from 1 */
	pid_t tid;               /* the thread of the first long hold or wait */
	enum gs_role role;
	uint64_t start_ns, dur_ns;
	uint32_t stack;          /* its Python stack, when one was taken */
	uint64_t from_ns, to_ns; /* the window */
	/* start_ns in wall time, converted once when the stall was seen,
	 * so that its record and the summary give the same instant even
	 * while NTP slews the wall clock. */
	struct timespec wall;
};

struct gs_flight_sink {
	void *ctx;
	/* A closed window: the stall, then its events in order. */
	void (*begin)(void *ctx, const struct gs_flight_stall *st);
	void (*interval)(void *ctx, const struct gs_interval *iv);
	void (*sample)(void *ctx, const struct gs_stack_sample *s);
	void (*end)(void *ctx, const struct gs_flight_stall *st);
};

struct gs_flight;

/* threshold_ns: MS; keep_ns: SECONDS.  NULL when out of memory. */
struct gs_flight *gs_flight_new(uint64_t threshold_ns, uint64_t keep_ns,
				const struct gs_flight_sink *sink);
void gs_flight_free(struct gs_flight *f);

void gs_flight_interval(struct gs_flight *f, const struct gs_interval *iv);
void gs_flight_sample(struct gs_flight *f, const struct gs_stack_sample *s);
/* At each sample: iv is an interval still open at now_ns (call once per
 * open interval that may be long: holds and waits), so a stall is seen
 * while it lasts.  stack: its latest Python stack, or none. */
void gs_flight_open(struct gs_flight *f, const struct gs_interval *iv, uint64_t now_ns);
/* The sampling clock moved to now_ns: close a window whose end passed,
 * handing it to the sink with the intervals still open clipped at its
 * end (open: the intervals open now, n of them). */
void gs_flight_tick(struct gs_flight *f, uint64_t now_ns,
		    const struct gs_interval *const *open, size_t n);
/* The recording ends at now_ns: a pending window closes there. */
void gs_flight_finish(struct gs_flight *f, uint64_t now_ns,
		      const struct gs_interval *const *open, size_t n);
/* Whether a stall is being watched or its window is still open. */
int gs_flight_pending(const struct gs_flight *f);

struct gs_flight_stats {
	unsigned stalls;
	uint64_t overwritten;    /* events lost to the memory bound */
	size_t capacity, bytes;
};
void gs_flight_stats(const struct gs_flight *f, struct gs_flight_stats *out);

#endif
