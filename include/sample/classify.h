/* One GIL role per thread per sample.  Shared by info (one-shot) and the
 * sampler. */
#ifndef GS_CLASSIFY_H
#define GS_CLASSIFY_H

#include <stdint.h>

#include "proc/taskstat.h"
#include "runtime/target.h"

enum gs_role {
	GS_ROLE_UNKNOWN = 0,
	GS_ROLE_HELD,          /* holds the GIL, on CPU */
	GS_ROLE_HELD_OFFCPU,   /* holds the GIL, sleeping / in D / preempted */
	GS_ROLE_WAITING,       /* blocked on the GIL's cond or mutex */
	GS_ROLE_HANDOFF,       /* holder's hand-off wait on switch_cond */
	GS_ROLE_RUNNING,       /* on CPU without the GIL */
	GS_ROLE_IDLE,          /* blocked elsewhere */
	GS_ROLE_COUNT
};

/* The GIL words read in one sample. */
struct gs_gil_words {
	int32_t locked;
	uint64_t last_holder;
	uint64_t switch_number;
};

struct gs_classify_in {
	uint64_t tstate;        /* 0 for a native thread */
	int holds_gil;          /* -1 when the build has no flag */
	int gil_requested;      /* -1 when the build has no flag */
	const struct gs_taskstat *now;
	const struct gs_taskstat *prev; /* previous sample, or NULL */
	/* Set by a caller that has decided itself whether the task is on a
	 * CPU (the sampler, which tracks schedstat across samples); when 0,
	 * gs_classify() asks gs_task_on_cpu(now, prev). */
	int on_cpu_known;
	int on_cpu;
};

enum gs_role gs_classify(const struct gs_gil_addrs *gil,
			 const struct gs_gil_words *w,
			 const struct gs_classify_in *in);
/* Short name: "holding", "holding-offcpu", "waiting", "handoff",
 * "running", "idle", "unknown". */
const char *gs_role_name(enum gs_role r);
/* Whether the task was on a CPU, from its state and schedstat deltas. */
int gs_task_on_cpu(const struct gs_taskstat *now,
		   const struct gs_taskstat *prev);

#endif
