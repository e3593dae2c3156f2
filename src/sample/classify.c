/* The GIL role of one thread in one sample, from the GIL words and the
 * kernel's view of the task.  The futex test is the part no other tool
 * does: a thread blocked in futex() on a word inside the GIL's condition
 * variable or mutex is waiting for the GIL, whatever Python thinks. */
#include <sys/syscall.h>

#include "sample/classify.h"

const char *gs_role_name(enum gs_role r)
{
	switch (r) {
	case GS_ROLE_HELD: return "holding";
	case GS_ROLE_HELD_OFFCPU: return "holding-offcpu";
	case GS_ROLE_WAITING: return "waiting";
	case GS_ROLE_HANDOFF: return "handoff";
	case GS_ROLE_RUNNING: return "running";
	case GS_ROLE_IDLE: return "idle";
	case GS_ROLE_UNKNOWN: case GS_ROLE_COUNT: break;
	}
	return "unknown";
}

int gs_task_on_cpu(const struct gs_taskstat *now, const struct gs_taskstat *prev)
{
	if (now->state != 'R')
		return 0;
	/* 'R' also covers runnable tasks waiting on a run queue.  When the
	 * last interval shows queue time and no CPU time, the task was
	 * preempted rather than running. */
	if (prev && now->run_ns == prev->run_ns && now->wait_ns > prev->wait_ns)
		return 0;
	return 1;
}

static int in_range(uint64_t a, uint64_t start, uint64_t end)
{
	return start && a >= start && a < end;
}

enum gs_role gs_classify(const struct gs_gil_addrs *gil,
			 const struct gs_gil_words *w,
			 const struct gs_classify_in *in)
{
	const struct gs_taskstat *ts = in->now;
	int on_cpu = in->on_cpu_known ? in->on_cpu : gs_task_on_cpu(ts, in->prev);

	/* A thread blocked on the GIL's own futex words has already let go
	 * of it (or is letting go), even when the GIL words, read a few
	 * microseconds earlier, still name it as the holder. */
	if (ts->syscall_nr == SYS_futex) {
		uint64_t a = ts->syscall_args[0];
		if (in_range(a, gil->cond, gil->cond_end) ||
		    in_range(a, gil->mutex, gil->mutex_end))
			return GS_ROLE_WAITING;
		if (in_range(a, gil->switch_cond, gil->switch_cond_end) ||
		    in_range(a, gil->switch_mutex, gil->switch_mutex_end))
			return GS_ROLE_HANDOFF;
	}
	if (in->tstate && w->locked == 1 && w->last_holder == in->tstate) {
		/* last_holder stays set after a release, so locked must be
		 * 1 too; a holds_gil flag that disagrees means the words
		 * were read mid-transition. */
		if (in->holds_gil == 0)
			return GS_ROLE_UNKNOWN;
		return on_cpu ? GS_ROLE_HELD : GS_ROLE_HELD_OFFCPU;
	}
	/* gil_requested set means inside take_gil, on a CPU or not: that is
	 * what waiting means.  Unset almost always means outside it (the
	 * sampler's runnable_waiter says when not). */
	if (in->gil_requested == 1)
		return GS_ROLE_WAITING;
	/* A runnable non-holder is counted as running even while it queues
	 * for a CPU: it is not waiting for the GIL. */
	if (ts->state == 'R')
		return GS_ROLE_RUNNING;
	if (ts->state == 0)
		return GS_ROLE_UNKNOWN;
	return GS_ROLE_IDLE;
}
