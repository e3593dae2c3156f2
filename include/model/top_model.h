/* The data model behind `gilsnoop top`: per-thread GIL figures over the
 * last second, the last ten seconds and the whole session, fed one
 * sample at a time.  No curses here (htop's split between model and
 * screen), so batch mode and the screen print the same figures.
 *
 * Time between two samples is charged to the role the earlier sample
 * saw, and unknown roles (torn samples) extend the previous one: the
 * same boundaries as intervals.h, so top and record agree.  The model
 * does the bookkeeping per sample instead of reading closed intervals
 * because a live view must show the interval still in progress (a
 * thread idle for a minute never closes one) and split time at second
 * boundaries.
 *
 * Memory per thread is fixed (about 18 KiB: a ring of per-second role
 * totals, a smaller ring of per-second wait-latency sketches, and one
 * gs_hist for the session), so 500 threads cost under 10 MiB.  Threads
 * that exit are kept TOP_GONE_NS for the windows, then dropped. */
#ifndef GS_TOP_MODEL_H
#define GS_TOP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"
#include "sample/sampler.h"

#define TOP_RING 64        /* seconds of per-second role totals */
#define TOP_WAIT_RING 16   /* seconds of wait sketches: the 10 s window */
#define TOP_SPARK 60       /* sparkline cells, one per second */
#define TOP_GONE_NS (10ull * 1000000000ull)

enum top_window { TOP_WIN_1S, TOP_WIN_10S, TOP_WIN_ALL, TOP_NWIN };

/* The table's columns, in screen order; also the sort keys. */
enum top_col {
	TOP_COL_TID, TOP_COL_NAME, TOP_COL_STATE, TOP_COL_HELD, TOP_COL_OFFCPU,
	TOP_COL_WAIT, TOP_COL_RUN, TOP_COL_IDLE, TOP_COL_LONGEST, TOP_COL_WAITP99,
	TOP_NCOL
};

enum top_share { TOP_SH_HELD, TOP_SH_OFFCPU, TOP_SH_WAIT, TOP_SH_RUN,
		 TOP_SH_IDLE, TOP_NSHARE };

struct top_figures {
	uint64_t observed_ns;    /* 0: the thread was not seen in the window */
	double pct[TOP_NSHARE];  /* of observed_ns; held includes off-CPU */
	uint64_t longest_hold_ns;
	uint64_t wait_p99_ns;    /* 0: no wait */
	uint64_t waits;
};

struct top_row {
	pid_t tid;
	char name[64];           /* printable ASCII only */
	int is_python;
	int gone;                /* the thread has exited */
	int holder;              /* holds the main GIL in the last sample */
	enum gs_role role;       /* in the last sample that knew it */
	char state;              /* kernel state letter, 0 when unknown */
	long syscall_nr;
	struct top_figures w[TOP_NWIN];
};

/* Process-wide figures.  "now" is the last whole second, like the 1 s
 * window. */
struct top_header {
	uint64_t samples;        /* since the start or the last reset */
	uint64_t elapsed_ns;
	uint64_t interval_us;    /* switch interval */
	double util_now, util_session;      /* 0..1; < 0: no data yet */
	double spark[TOP_SPARK]; /* oldest first; < 0: no data that second */
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
struct top_view {
	struct top_header h;
	struct top_row *rows;
	size_t n, cap;
};

struct top_model;

struct top_model *top_model_new(void);
void top_model_free(struct top_model *m);
/* Returns 0, or -1 when out of memory (recorded with gs_fail). */
int top_model_feed(struct top_model *m, const struct gs_sample *smp);
/* The target is gone: figures freeze at the last sample. */
void top_model_exited(struct top_model *m);
/* Forget every figure; threads stay, holds and waits in progress count
 * from now. */
void top_model_reset(struct top_model *m);
/* Fill v (rows unsorted).  Returns 0, or -1 when out of memory. */
int top_model_view(const struct top_model *m, struct top_view *v);
void top_view_free(struct top_view *v);
void top_view_sort(struct top_view *v, enum top_window w, enum top_col c);

const char *top_window_name(enum top_window w);  /* "1s", "10s", "all" */
/* "1", "1s", "10", "10s" or "all"; -1 when none. */
int top_parse_window(const char *s);
const char *top_col_name(enum top_col c);

/* Text shared by batch mode and the screen. */

/* Column geometry for a given terminal width. */
struct top_layout {
	int name_w;     /* width of NAME */
	int detail_w;   /* width of DETAIL; 0: no column */
	int state_x;    /* where STATE starts */
	int state_w;
	int col_x[TOP_NCOL], col_w[TOP_NCOL]; /* for highlighting */
};
void top_layout(int cols, struct top_layout *l);

/* "12.3ms", "1.25s"; "-" for 0.  Fits 7 columns. */
void top_fmt_dur(char *buf, size_t n, uint64_t ns);
/* The text of the state column for a row. */
const char *top_row_state(const struct top_row *r);
void top_fmt_colhead(char *buf, size_t n, const struct top_layout *l);
void top_fmt_row(char *buf, size_t n, const struct top_layout *l,
		 const struct top_row *r, enum top_window w);

struct top_info {
	pid_t pid;
	const char *pyver;       /* "3.12.3", or "3.13.1 free-threaded" */
	double rate_hz;          /* requested; 0: as fast as possible */
	int utf8;                /* block characters for the sparkline */
};

#define TOP_HEAD_LINES 5
/* Header line i (0..TOP_HEAD_LINES-1) of a frame, at most cols columns
 * wide (0: no limit).  Only the sparkline is not ASCII. */
void top_fmt_header(char *buf, size_t n, int i, const struct top_view *v,
		    enum top_window w, const struct top_info *info, int cols);

#endif
