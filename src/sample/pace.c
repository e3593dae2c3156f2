/* Pacing the samples. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "sample/pace.h"

/* Below this period the loop spins instead of sleeping. */
#define SPIN_NS (20ull * 1000)

/* Ask the kernel (6.12+, EEVDF) for a short time slice for this thread.
 * The sampler runs for tens of microseconds at a time; with the default
 * slice a busy machine lets its wakeups wait behind every other task's
 * 3 ms slice, and a late sample is a stretch of time nobody looked at.
 * A shorter slice gives it an earlier deadline and so a prompt wakeup,
 * without any privilege and without changing its share of the CPU.
 * Older kernels ignore the field; a thread under another policy (chrt)
 * is left alone. */
struct gs_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static void short_slice(void)
{
#ifdef SYS_sched_setattr
	struct gs_sched_attr a;
	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.sched_policy = SCHED_OTHER;
	errno = 0;
	a.sched_nice = getpriority(PRIO_PROCESS, 0);
	if (errno)
		return;
	a.sched_runtime = 100 * 1000; /* the kernel's lowest */
	syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

/* xorshift64*: the jitter needs to be cheap, not good. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

void gs_pace_start(struct gs_pace *p, double rate_hz, double duration_s)
{
	uint64_t start = gs_now_ns();
	p->period = rate_hz > 0 ? (uint64_t)(1e9 / rate_hz) : 0;
	p->slot = p->next = start;
	p->end = duration_s > 0 ? start + (uint64_t)(duration_s * 1e9) : UINT64_MAX;
	p->rnd = start ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
	if (!p->period)
		return;
	/* Timer slack (ours: 50 us by default) lets the kernel batch our
	 * wakeups with others; keep it below 5% of the period so that fast
	 * rates are not stretched. */
	unsigned long slack = (unsigned long)(p->period / 20);
	prctl(PR_SET_TIMERSLACK, slack < 1000 ? 1000UL : slack > 50000 ? 50000UL : slack,
	      0, 0, 0);
	short_slice();
}

void gs_pace_advance(struct gs_pace *p, uint64_t t)
{
	if (!p->period) {
		p->next = t;
		return;
	}
	p->slot += p->period;
	/* After a stall, resume from now rather than firing a burst of
	 * catch-up samples. */
	if (p->slot + p->period <= t)
		p->slot = t - (t - p->slot) % p->period;
	uint64_t next = p->slot + next_random(&p->rnd) % p->period;
	if (next < t)
		next = t;
	if (next > p->end)
		next = p->end;
	p->next = next;
}

int gs_pace_wait(const struct gs_pace *p, uint64_t until, int fd,
		 volatile sig_atomic_t *stop)
{
	if (p->period && p->period < SPIN_NS) {
		while (gs_now_ns() < until)
			if (stop && *stop)
				return -1;
		if (fd < 0)
			return 0;
		until = 0; /* only look at fd */
	}
	uint64_t t = gs_now_ns();
	if (fd < 0) {
		if (until <= t)
			return 0;
		struct timespec ts = { (time_t)(until / 1000000000ull),
				       (long)(until % 1000000000ull) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			if (stop && *stop)
				return -1;
		return 0;
	}
	struct timespec ts, *tsp = NULL;
	if (until != UINT64_MAX) {
		uint64_t d = until > t ? until - t : 0;
		ts.tv_sec = (time_t)(d / 1000000000ull);
		ts.tv_nsec = (long)(d % 1000000000ull);
		tsp = &ts;
	}
	struct pollfd pfd = { fd, POLLIN, 0 };
	int pr = ppoll(&pfd, 1, tsp, NULL);
	if (pr > 0)
		return pfd.revents;
	return pr < 0 && errno == EINTR ? -1 : 0;
}
