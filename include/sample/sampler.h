/* The sampler: one GIL role per thread per sample, read from the
 * target's memory and /proc without ever stopping it.  Everything that
 * shows GIL activity (info, record, top, report) reads its output. */
#ifndef GS_SAMPLER_H
#define GS_SAMPLER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"
#include "runtime/target.h"

/* Default rate; the choice is explained in the man page (RATE). */
#define GS_DEFAULT_RATE_HZ 1000.0
#define GS_MAX_GILS 16

struct gs_thread_sample {
	pid_t tid;
	uint64_t tstate;         /* 0: a native thread */
	enum gs_role role;
	char state;              /* kernel state letter */
	long syscall_nr;         /* GS_SYSCALL_* when not in a syscall */
	/* Set when the role is holding-offcpu or idle: the fd argument's
	 * path and the kernel function the task sleeps in. */
	const char *path;
	const char *wchan;
	const char *name;        /* comm */
};

struct gs_sample {
	uint64_t t_ns;           /* CLOCK_MONOTONIC when the GIL was read */
	uint64_t seq;            /* sample number, from 1 */
	struct gs_gil_words gil; /* the main interpreter's GIL */
	uint64_t interval_us;    /* its switch interval */
	uint64_t switches;       /* switch_number advance since last sample */
	uint64_t missed;         /* of which no sample saw the holder */
	pid_t holder_tid;        /* 0: nobody holds the main GIL */
	int torn;                /* the reads did not agree: roles unknown */
	uint64_t generation;     /* changes whenever the thread list was re-read */
	size_t nthreads;
	const struct gs_thread_sample *threads;
};

struct gs_sampler;

/* Returns NULL with the reason in gs_fail() when the target cannot be
 * read. */
struct gs_sampler *gs_sampler_new(struct gs_target *t);
void gs_sampler_free(struct gs_sampler *s);

/* Take one sample now.  Returns 0; -1 when the target has exited (the
 * reason recorded with gs_fail(GS_ENOPROC, ...)). */
int gs_sampler_sample(struct gs_sampler *s, const struct gs_sample **out);

/* Take samples at rate_hz (0: as fast as possible) until *stop is set,
 * duration_s passes (0: no limit), the target exits or fn returns
 * nonzero.  Returns 0 when stopped by *stop, the duration or fn, and -1
 * when the target exited. */
int gs_sampler_run(struct gs_sampler *s, double rate_hz, double duration_s,
		   volatile sig_atomic_t *stop,
		   int (*fn)(void *ctx, const struct gs_sample *smp), void *ctx);

struct gs_sampler_stats {
	uint64_t samples;
	uint64_t torn;
	uint64_t switches;       /* total switch_number advance */
	uint64_t missed;
	uint64_t rescans;
	uint64_t proc_reads;     /* preads of /proc/PID/task/TID files */
	uint64_t first_ns, last_ns;
};
void gs_sampler_stats(const struct gs_sampler *s, struct gs_sampler_stats *out);

/* Words-only mode, for benchmarks and switch counting: read the GIL
 * words and nothing per thread.  The holder is reported holding (on or
 * off CPU is not known), every other thread unknown. */
void gs_sampler_set_words_only(struct gs_sampler *s, int on);

/* Parse "-r" values: a number of Hz, with an optional k suffix, or
 * "max" (returns 0).  Returns -1 on a bad value. */
double gs_parse_rate(const char *s);

#endif
