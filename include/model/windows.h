/* The model behind `gilsnoop top`: per-thread GIL figures over the last
 * second, the last ten seconds and the whole session, and the process
 * figures of top's header.  No text and no curses here (htop's split of
 * model and screen): sink/top_text.h prints a view, sink/top_screen.h
 * draws one.
 *
 * Threads' figures come from the interval model: a gs_windows owns a
 * gs_intervals (model/intervals.h), feeds it every sample and is its
 * sink.  Closed intervals are split at second boundaries into per-second
 * buckets; the interval each thread has open is added when a view is
 * taken, so a thread idle for a minute, which closes no interval, still
 * shows its time growing.  Time between two samples is thus charged to
 * the role the earlier one saw, and unknown roles (torn samples) extend
 * the one before: top and record agree.  A hold is a run of abutting
 * hold intervals (model/holds.h), as in the summary.
 *
 * A gap of more than GS_TOP_GAP_NS between two samples (gilsnoop was
 * stopped with ^Z, say) is charged to nobody; holds and waits across it
 * keep their length.  The process figures come from the samples
 * themselves: utilisation is the share of time the GIL word said locked.
 *
 * Memory per thread is fixed, about 15 KiB (sizes in windows.c): a ring
 * of per-second role totals and wait histograms for the 10 s window, a
 * gs_hist for the session, and the interval model's slot; 500 threads
 * cost about 7.5 MiB.  Threads that exit are kept GS_TOP_GONE_NS for the
 * windows, then dropped. */
#ifndef GS_WINDOWS_H
#define GS_WINDOWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"
#include "sample/sampler.h"

#define GS_TOP_SPARK 60       /* sparkline cells, one per second */
#define GS_TOP_GONE_NS (10ull * 1000000000ull)
#define GS_TOP_GAP_NS 1000000000ull

enum gs_top_window { GS_TOP_WIN_1S, GS_TOP_WIN_10S, GS_TOP_WIN_ALL, GS_TOP_NWIN };

/* Shares of a thread's time in a window. */
enum gs_top_share { GS_TOP_SH_HELD, GS_TOP_SH_OFFCPU, GS_TOP_SH_WAIT,
		    GS_TOP_SH_HANDOFF, GS_TOP_SH_RUN, GS_TOP_SH_IDLE,
		    GS_TOP_NSHARE };

struct gs_top_figures {
	uint64_t observed_ns;    /* 0: the thread was not seen in the window */
	double pct[GS_TOP_NSHARE]; /* of observed_ns; held includes off-CPU */
	uint64_t longest_hold_ns; /* ended in the window, or still going on */
	uint64_t wait_p99_ns;    /* 0: no wait */
	uint64_t waits;
};

struct gs_top_row {
	pid_t pid;               /* set by a view of several processes; 0 */
	pid_t tid;
	char name[64];           /* printable ASCII only */
	int is_python;
	int gone;                /* the thread has exited */
	int holder;              /* holds the main GIL in the last sample */
	enum gs_role role;       /* in the last sample that knew it */
	char state;              /* kernel state letter, 0 when unknown */
	long syscall_nr;
	struct gs_top_figures w[GS_TOP_NWIN];
};

/* Process-wide figures.  "now" is the last whole second, like the 1 s
 * window. */
struct gs_top_header {
	uint64_t samples;        /* since the start or the last reset */
	uint64_t elapsed_ns;
	uint64_t interval_us;    /* switch interval */
	double util_now, util_session;      /* 0..1; < 0: no data yet */
	double spark[GS_TOP_SPARK]; /* oldest first; < 0: no data that second */
	double switches_now, missed_now;    /* per second */
	uint64_t switches_total, missed_total, torn_total;
	double rate_now, rate_session;      /* samples per second achieved */
	unsigned waiters_now;
	double waiters_avg;      /* over the last whole second */
	size_t nthreads;         /* live ones */
	pid_t holder_tid;        /* 0: nobody, or a thread not yet listed */
	int gil_locked;
	char holder_name[64];
	enum gs_role holder_role;
	long holder_syscall;
	char holder_path[256], holder_wchan[64];
	int exited;
};

/* A frozen copy of the model: what one frame shows.  Figures for every
 * window are computed at once so that a paused display can still switch
 * window and sort. */
struct gs_top_view {
	struct gs_top_header h;
	struct gs_top_row *rows; /* in no particular order */
	size_t n, cap;
};

struct gs_windows;

/* NULL when out of memory (recorded with gs_fail). */
struct gs_windows *gs_windows_new(void);
void gs_windows_free(struct gs_windows *w);
/* Feed one sample.  Returns 0, or -1 when out of memory (recorded with
 * gs_fail). */
int gs_windows_feed(struct gs_windows *w, const struct gs_sample *smp);
/* The target is gone: figures freeze at the last sample. */
void gs_windows_exited(struct gs_windows *w);
/* Forget every figure; threads stay, holds and waits in progress count
 * from now. */
void gs_windows_reset(struct gs_windows *w);
/* Fill v.  Returns 0, or -1 when out of memory. */
int gs_windows_view(const struct gs_windows *w, struct gs_top_view *v);
void gs_top_view_free(struct gs_top_view *v);

const char *gs_top_window_name(enum gs_top_window w);  /* "1s", "10s", "all" */
/* "1", "1s", "10", "10s" or "all"; -1 when none. */
int gs_top_parse_window(const char *s);

#endif
