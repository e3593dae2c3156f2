/* Latency histograms: one log-linear bucket scheme for every duration
 * gilsnoop turns into percentiles (record's and report's summary, top's
 * windows).
 *
 * Values below 16 ns have a bucket each; above, every power of two of
 * nanoseconds has GS_HIST_SUB buckets.  A quantile is the upper bound of
 * its bucket, clamped to the largest value seen, so it never understates
 * a latency and overstates it by less than 1/GS_HIST_SUB (6.25%).
 *
 * Two sizes share the buckets: struct gs_hist covers every uint64_t with
 * 32-bit counts (3.9 KiB: a session), struct gs_hist_small covers 1 us to
 * about 137 s with 16-bit counts (0.9 KiB: one second of one thread, in
 * top) and folds what lies outside into its edge buckets without ever
 * understating either.  A small one is read by merging it into a
 * gs_hist. */
#ifndef GS_HIST_H
#define GS_HIST_H

#include <stdint.h>

#define GS_HIST_SUB 16
/* 16 exact buckets, then 16 per power of two from 2^4 to 2^63. */
#define GS_HIST_BUCKETS (GS_HIST_SUB + 60 * GS_HIST_SUB)

struct gs_hist {
	uint64_t n, max;
	uint32_t b[GS_HIST_BUCKETS];
};

void gs_hist_add(struct gs_hist *h, uint64_t v);
/* The value at quantile q (0..1); 0 when empty. */
uint64_t gs_hist_quantile(const struct gs_hist *h, double q);
/* Add every value of from to into. */
void gs_hist_merge(struct gs_hist *into, const struct gs_hist *from);

/* The buckets of gs_hist from 2^10 ns to 2^37 ns, one below for smaller
 * values and one above for larger ones. */
#define GS_HIST_SMALL_BUCKETS (27 * GS_HIST_SUB + 2)

struct gs_hist_small {
	uint64_t max;
	uint32_t n;
	uint16_t b[GS_HIST_SMALL_BUCKETS];
};

/* A value whose bucket is full (65535) is left out, n included. */
void gs_hist_small_add(struct gs_hist_small *h, uint64_t v);
void gs_hist_merge_small(struct gs_hist *into, const struct gs_hist_small *from);

#endif
