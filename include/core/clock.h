/* The one clock every timestamp comes from. */
#ifndef GS_CLOCK_H
#define GS_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: samples, intervals, pacing and the
 * trace files all share it, so their times compare directly. */
uint64_t gs_now_ns(void);

/* The wall-clock time (CLOCK_REALTIME) of a monotonic instant, through
 * the two clocks' offset read now: exact to the microseconds between
 * the two reads, plus whatever the wall clock was slewed or stepped
 * since the instant (chrony slews up to 83 ms a second on a host just
 * booted), so an instant shown twice is converted once and kept.  Logs
 * are in wall time. */
void gs_wall_of(uint64_t mono_ns, struct timespec *out);

/* ts as local ISO 8601 with milliseconds and the UTC offset:
 * "2026-11-21T14:03:07.512+01:00"; "" when the time cannot be shown. */
void gs_wall_fmt(char *buf, size_t n, const struct timespec *ts);

#endif
