/* When to take the next sample: one at a random instant of each period,
 * so that nothing periodic in the target (the 5 ms switch interval, a
 * ping-pong between threads) can alias with the sampling, at the
 * average rate asked for. */
#ifndef GS_PACE_H
#define GS_PACE_H

#include <signal.h>
#include <stdint.h>

struct gs_pace {
	uint64_t period;     /* 0: as fast as possible */
	uint64_t slot;       /* start of the current period */
	uint64_t next;       /* when the next sample is due */
	uint64_t end;        /* UINT64_MAX: no duration */
	uint64_t rnd;
};

/* Start pacing at rate_hz (0: no pause) for duration_s (0: no limit),
 * from now, with the first sample due at once.  Also asks the kernel for
 * the wakeups the rate needs (timer slack, a short time slice). */
void gs_pace_start(struct gs_pace *p, double rate_hz, double duration_s);

/* A sample was taken at t: set p->next. */
void gs_pace_advance(struct gs_pace *p, uint64_t t);

/* Wait until `until` (CLOCK_MONOTONIC ns; UINT64_MAX: for fd only): in
 * clock_nanosleep, or with fd >= 0 in ppoll on fd (POLLIN); at periods
 * below 20 us it spins.  Returns the poll revents (> 0) when fd became
 * ready, 0 at `until`, or -1 when a signal cut the wait short (and
 * *stop is set, or fd is watched: SIGWINCH). */
int gs_pace_wait(const struct gs_pace *p, uint64_t until, int fd,
		 volatile sig_atomic_t *stop);

#endif
