/* proc/switches against the running kernel: a thread of this process
 * runs, blocks in futex(2), is woken, spins and blocks in read(2), and
 * its records say so: on a CPU, then blocked, a new generation at each
 * switch, CPU time counted over the spans it ran, a removed thread no
 * longer followed.  Needs perf events for one's own threads (root, or
 * perf_event_paranoid <= 1), as the integration tests need ptrace: a
 * refusal fails, it is not skipped. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "proc/switches.h"
#include "unit.h"

static int word;
static int pipefd[2];
static volatile pid_t child_tid;
static volatile int go;
static uint64_t child_cpu_ns;   /* its CPU time when it went to read */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spins until told to go (so that it is on a CPU, or preempted, when it
 * is first followed: one already asleep would give no record until
 * woken), waits on the futex, spins 20 ms, and blocks in a read. */
static void *child(void *arg)
{
	(void)arg;
	child_tid = (pid_t)syscall(SYS_gettid);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	while (!__atomic_load_n(&word, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	/* 20 ms of its own CPU time (however preempted on a busy machine)
	 * between the wake and the read: CPU time to count. */
	uint64_t end = thread_cpu_ns() + 20000000ull;
	while (thread_cpu_ns() < end)
		;
	__atomic_store_n(&child_cpu_ns, thread_cpu_ns(), __ATOMIC_RELEASE);
	char c;
	while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Poll tid's ring until it says blocked with a generation other than
 * gen, for up to 2 s. */
static const struct gs_switch_state *until_blocked(struct gs_switches *sw, pid_t tid,
						   uint64_t gen)
{
	uint64_t end = gs_now_ns() + 2000000000ull;
	while (gs_now_ns() < end) {
		const struct gs_switch_state *st = gs_switches_poll(sw, tid);
		if (st && st->state == GS_CS_BLOCKED && st->gen != gen)
			return st;
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	UNIT_CHECK(pipe(pipefd) == 0, "pipe");
	pthread_t t;
	UNIT_CHECK(pthread_create(&t, NULL, child, NULL) == 0, "thread starts");
	while (!child_tid)
		sched_yield();

	struct gs_switches *sw = gs_switches_new();
	UNIT_CHECK(sw != NULL, "a set");
	UNIT_CHECK(gs_switches_get(sw, child_tid) == NULL, "not followed before it is added");
	int added = gs_switches_add(sw, child_tid);
	if (!UNIT_CHECK(added == 0, "perf events for one's own thread (root, or "
			"perf_event_paranoid <= 1)"))
		UNIT_DIAG("perf_event_open: %s", strerror(errno));
	UNIT_CHECK(added || gs_switches_add(sw, child_tid) == 0, "adding twice is one follow");
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);

	const struct gs_switch_state *st = added ? NULL : until_blocked(sw, child_tid, 0);
	uint64_t gen = 0, run = 0, at = 0;
	if (UNIT_CHECK(st != NULL, "its futex wait is seen blocked")) {
		gen = st->gen;
		run = st->run_ns;
		at = st->last_ns;
		usleep(2000);
		UNIT_CHECK(gs_switch_run_ns(gs_switches_poll(sw, child_tid), gs_now_ns()) == run,
			   "a blocked thread's CPU time does not grow");
	}

	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	st = added ? NULL : until_blocked(sw, child_tid, gen);
	if (UNIT_CHECK(st != NULL, "woken, it runs and its pipe read is seen blocked")) {
		UNIT_CHECK(st->gen >= gen + 2, "a generation for the switch in and one for the out");
		UNIT_CHECK(st->last_ns > at, "the record times move on");
		UNIT_CHECK(st->run_ns - run >= 18000000ull,
			   "the 20 ms it spun between the two are counted as CPU time");
		UNIT_CHECK(st->run_ns <= __atomic_load_n(&child_cpu_ns, __ATOMIC_ACQUIRE) + 2000000ull,
			   "no more than the thread's own CPU clock says");
	}

	gs_switches_remove(sw, child_tid);
	UNIT_CHECK(gs_switches_get(sw, child_tid) == NULL, "not followed once removed");
	UNIT_CHECK(gs_switches_poll(sw, child_tid) == NULL, "nothing to poll once removed");
	UNIT_CHECK(write(pipefd[1], "x", 1) == 1, "wake the reader");
	pthread_join(t, NULL);
	gs_switches_free(sw);
	close(pipefd[0]);
	close(pipefd[1]);
	return unit_done();
}
