/* The one clock every timestamp comes from. */
#ifndef GS_CLOCK_H
#define GS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: samples, intervals, pacing and the
 * trace files all share it, so their times compare directly. */
uint64_t gs_now_ns(void);

#endif
