/* Writing a recording: Chrome Trace Event JSON, JSON lines or CSV,
 * streamed one event per line as intervals close so that memory stays
 * flat and a recording cut short by SIGKILL is still readable.  The
 * format is documented in docs/trace-format.md; trace_reader.c reads it
 * back. */
#ifndef GS_TRACE_WRITER_H
#define GS_TRACE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "sample/classify.h"
#include "model/intervals.h"
#include "model/stacks.h"

enum gs_trace_format {
	GS_TRACE_JSON = 0,   /* Chrome Trace Event object */
	GS_TRACE_JSONL,      /* one interval per line */
	GS_TRACE_CSV,        /* one interval per row, RFC 4180 */
};

/* Returns 0, or -1 for an unknown name. */
int gs_trace_format_parse(const char *s, enum gs_trace_format *out);
const char *gs_trace_format_name(enum gs_trace_format f);

/* Bumped when a reader could misread a newer file. */
#define GS_TRACE_FORMAT_VERSION 1

/* The GIL tracks live in a process of their own, pid + 2^30: above
 * Linux's largest pid_max (2^22), so never a real pid, and apart from
 * the (pid, tid) tracks VizTracer uses for function slices, which GIL
 * slices would otherwise overlap. */
#define GS_TRACE_PID_OFFSET (1 << 30)

/* The event name of a role ("GIL held", ...); NULL for unknown, which
 * is never written.  handoff is shown as "idle" (the old holder waits
 * for a waiter, not for the GIL) with args.role "handoff". */
const char *gs_trace_event_name(enum gs_role r);
/* The role of a role name (gs_role_name) or, failing that, of an event
 * name; GS_ROLE_UNKNOWN when it is neither. */
enum gs_role gs_trace_role_parse(const char *s);

struct gs_trace_header {
	pid_t pid;
	const char *comm;            /* the target's /proc/PID/comm */
	const char *python_version;  /* NULL when unknown */
	const char *gilsnoop_version;
	double rate_hz;              /* requested; 0 = as fast as possible */
	const char *cmdline;         /* the target's command line; NULL when
				      * unknown */
};

/* One target's own counts, in the progress and closing records of a
 * recording of several processes. */
#define GS_TRACE_MAX_GILS 16
struct gs_trace_pstats {
	pid_t pid;
	uint64_t samples, torn, switches, missed;
	/* Per GIL (index 0 the main one), written when there are several. */
	struct { uint64_t switches, missed; } gils[GS_TRACE_MAX_GILS];
	size_t ngils;
};

/* Cumulative figures from the sampler (summed over the targets). */
struct gs_trace_stats {
	uint64_t samples, torn, switches, missed;
	uint64_t first_ns, last_ns;
	const struct gs_trace_pstats *procs; /* per target; may be NULL */
	size_t nprocs;
};

/* An interval still open when progress is written, and its thread name. */
struct gs_trace_open {
	const struct gs_interval *iv;
	const char *name;
};

struct gs_trace_writer;

/* Writes the header at once.  f stays owned by the caller.  Returns
 * NULL when out of memory. */
struct gs_trace_writer *gs_trace_writer_new(FILE *f, enum gs_trace_format fmt,
					    const struct gs_trace_header *h);
void gs_trace_writer_free(struct gs_trace_writer *w);

/* A target process (after the header's own, which the header names):
 * its GIL track, named after pid and cmdline. */
void gs_trace_process(struct gs_trace_writer *w, pid_t pid, const char *comm,
		      const char *cmdline);
void gs_trace_thread(struct gs_trace_writer *w, pid_t pid, pid_t tid, const char *name,
		     int is_python);
void gs_trace_interval(struct gs_trace_writer *w, const struct gs_interval *iv,
		       const char *thread_name);
/* The table the intervals' and samples' stack ids refer to (NULL:
 * none); it must outlive the writer.  Each stack is defined in the
 * file (json: a gilsnoop_stack record) before the first event that
 * uses it, once per file. */
void gs_trace_set_stacks(struct gs_trace_writer *w, const struct gs_stacks *st);
/* One stack sample: json only (a cat "stack" instant on the thread's
 * GIL track); the other formats skip it. */
void gs_trace_stack_sample(struct gs_trace_writer *w, const struct gs_stack_sample *s);
/* A stall the flight recorder caught (json and jsonl: a run record
 * gilsnoop_stall), written before the window's events. */
struct gs_trace_stall {
	unsigned n;              /* 1 for the first stall of the run */
	uint64_t t_ns;           /* when the hold or wait began */
	uint64_t dur_ns;
	pid_t tid;
	enum gs_role role;
	uint64_t from_ns, to_ns; /* the window written */
	struct timespec wall;    /* t_ns in wall time; tv_sec 0: none */
};
void gs_trace_stall(struct gs_trace_writer *w, const struct gs_trace_stall *st);
/* The number of threads waiting for the GIL at t_ns; written only when
 * it changed. */
void gs_trace_waiters(struct gs_trace_writer *w, pid_t pid, uint64_t t_ns, unsigned n);
/* Cumulative figures and the intervals still open, so that a reader of
 * a file cut short can account for them up to t_ns.  Only intervals
 * that started before the previous progress are listed: younger ones
 * lose less than the flush period anyway. */
void gs_trace_progress(struct gs_trace_writer *w, uint64_t t_ns,
		       const struct gs_trace_stats *st,
		       const struct gs_trace_open *open, size_t nopen);
/* Push what was written to the kernel.  Returns 0, or -1 with
 * gs_trace_error() set. */
int gs_trace_flush(struct gs_trace_writer *w);
/* Close the file's structure (JSON: the closing metadata and otherData)
 * and flush.  Returns 0 or -1. */
int gs_trace_finish(struct gs_trace_writer *w, const struct gs_trace_stats *st,
		    int target_exited, const char *stopped_by);
/* errno of the first failed write, or 0. */
int gs_trace_error(const struct gs_trace_writer *w);
/* Lines written so far. */
uint64_t gs_trace_events(const struct gs_trace_writer *w);

#endif
