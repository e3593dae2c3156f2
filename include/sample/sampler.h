/* The sampler: one GIL role per thread per sample, read from the
 * target's memory and /proc without ever stopping it.  Everything that
 * shows GIL activity (info, record, top, report) reads its output. */
#ifndef GS_SAMPLER_H
#define GS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/procfs.h"
#include "sample/classify.h"
#include "runtime/target.h"

/* Default rate; the choice is explained in the man page (RATE). */
#define GS_DEFAULT_RATE_HZ 1000.0
/* GILs followed per process: the main interpreter's, and those of
 * subinterpreters with a GIL of their own (3.12+). */
#define GS_MAX_GILS 16

struct gs_thread_sample {
	pid_t tid;
	uint64_t tstate;         /* 0: a native thread */
	unsigned gil;            /* the GIL it runs under: index into
				  * gs_sample.gils (0 for native threads) */
	enum gs_role role;       /* with respect to that GIL */
	char state;              /* kernel state letter */
	long syscall_nr;         /* GS_SYSCALL_* when not in a syscall */
	/* Set when the role is holding-offcpu or idle: the fd argument's
	 * path and the kernel function the task sleeps in. */
	const char *path;
	const char *wchan;
	const char *name;        /* comm */
	unsigned name_gen;       /* moves when the comm was seen to change */
};

/* One GIL in one sample. */
struct gs_gil_sample {
	uint64_t addr;           /* the GIL struct (3.6: gil_locked): which
				  * GIL this is, within the process */
	struct gs_gil_words words;
	uint64_t interval_us;    /* its switch interval */
	uint64_t switches;       /* switch_number advance since last sample */
	uint64_t missed;         /* of which no sample saw the holder */
	pid_t holder_tid;        /* 0: nobody holds it */
	int torn;                /* its words did not read whole or sane:
				  * the roles of its threads are unknown */
};

struct gs_sample {
	pid_t pid;               /* the process sampled */
	uint64_t t_ns;           /* CLOCK_MONOTONIC when the GIL was read */
	uint64_t seq;            /* sample number, from 1 */
	/* Every GIL of the process; gils[0] is the main interpreter's.  A
	 * GIL stays at its index for the life of the sampler. */
	size_t ngils;
	const struct gs_gil_sample *gils;
	/* The main GIL's figures again (gils[0]), for the readers that
	 * account one GIL per process. */
	struct gs_gil_words gil;
	uint64_t interval_us;
	uint64_t switches;
	uint64_t missed;
	pid_t holder_tid;
	int torn;
	uint64_t generation;     /* changes whenever the thread list was re-read */
	size_t nthreads;
	const struct gs_thread_sample *threads;
};

struct gs_sampler;

/* Returns NULL with the reason in gs_fail() when the target cannot be
 * read.  Its /proc files are read through fs (&gs_procfs_live, or a
 * fuzzer's fake). */
struct gs_sampler *gs_sampler_new(struct gs_target *t, const struct gs_procfs *fs);
void gs_sampler_free(struct gs_sampler *s);

/* Take one sample now.  Returns 0, or -1 with the reason recorded by
 * gs_fail(): GS_ENOPROC when the target has exited. */
int gs_sampler_sample(struct gs_sampler *s, const struct gs_sample **out);

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

#endif
