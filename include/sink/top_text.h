/* The text of `gilsnoop top`, shared by batch mode and the screen
 * (sink/top_screen.h): the table's columns, their layout for a width,
 * and the header lines and rows of a view (model/windows.h).  The
 * columns are named as in record's and report's summary. */
#ifndef GS_TOP_TEXT_H
#define GS_TOP_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "model/windows.h"

/* The table's columns, in screen order; also the sort keys. */
enum gs_top_col {
	GS_TOP_COL_TID, GS_TOP_COL_NAME, GS_TOP_COL_STATE, GS_TOP_COL_HELD,
	GS_TOP_COL_OFFCPU, GS_TOP_COL_WAIT, GS_TOP_COL_HANDOFF, GS_TOP_COL_RUN,
	GS_TOP_COL_IDLE, GS_TOP_COL_LONGEST, GS_TOP_COL_WAITP99,
	GS_TOP_NCOL
};

/* "TID", "NAME", "STATE", "HELD%", "OFFC%", "WAIT%", "HAND%", "RUN%",
 * "IDLE%", "LONGEST", "WAITp99". */
const char *gs_top_col_name(enum gs_top_col c);
/* A -s argument: tid, name, state, held, offcpu, wait, handoff, run,
 * idle, longest or waitp99, or a column's name, in any case.  -1 when
 * none. */
int gs_top_parse_col(const char *s);

/* Sort v's rows by column c of window w: numbers largest first (threads
 * not seen in the window last), TID and NAME ascending, STATE holders
 * first; ties by tid. */
void gs_top_view_sort(struct gs_top_view *v, enum gs_top_window w, enum gs_top_col c);

/* Column geometry for a given terminal width.  HAND% is left out (width
 * 0) when NAME would get fewer than 7 columns with it, i.e. below 82. */
struct gs_top_layout {
	int name_w;     /* width of NAME */
	int detail_w;   /* width of DETAIL; 0: no column */
	int state_x;    /* where STATE starts */
	int state_w;
	int col_x[GS_TOP_NCOL], col_w[GS_TOP_NCOL]; /* col_w 0: not shown */
	int pid_w;      /* width of the PID column before TID; 0: none */
};
void gs_top_layout(int cols, struct gs_top_layout *l);
/* The same with a PID column first, for several processes. */
void gs_top_layout_pids(int cols, struct gs_top_layout *l);

/* "12.3ms", "1.25s"; "-" for 0.  Fits 7 columns. */
void gs_top_fmt_dur(char *buf, size_t n, uint64_t ns);
/* The text of the state column for a row. */
const char *gs_top_row_state(const struct gs_top_row *r);
void gs_top_fmt_colhead(char *buf, size_t n, const struct gs_top_layout *l);
void gs_top_fmt_row(char *buf, size_t n, const struct gs_top_layout *l,
		    const struct gs_top_row *r, enum gs_top_window w);

struct gs_top_info {
	pid_t pid;
	const char *pyver;       /* "3.12.3", or "3.13.1 free-threaded" */
	double rate_hz;          /* requested; 0: as fast as possible */
	int utf8;                /* block characters for the sparkline */
	/* CLOCK_REALTIME of the frame, printed at the end of the first
	 * line; tv_sec 0: not printed. */
	struct timespec wall;
	/* Several processes: one GIL line each (NULL, 0: one process). */
	const struct gs_top_procline *procs;
	size_t nprocs;
	int pid_column;          /* the table lists several processes */
	/* The holder's innermost Python frames ("f (a.py:3) < g (a.py:9)"),
	 * on the holder line after its name and "at"; NULL or "": none. */
	const char *holder_frames;
	/* The window's longest hold with its stack (gs_top_stack_longest),
	 * shown under the header when no message is; NULL or "": none. */
	const char *longest;
	uint64_t now_ns;         /* CLOCK_MONOTONIC of the frame */
};

/* One process of several: its GIL in one line. */
struct gs_top_procline {
	pid_t pid;
	int gil;                 /* -1: the process; K: its GIL K, when it has
				  * several (subinterpreters, 3.12+) */
	char cmd[64];            /* comm, printable */
	double util_now, util_session;   /* 0..1; < 0: no data yet */
	double switches_now;     /* per second */
	unsigned waiters_now;
	size_t nthreads;
	pid_t holder_tid;
	char holder_name[64];
	int exited;
	int focus;               /* the process the view is collapsed to */
};

/* "pid 1234 python3  GIL 98.5% now  97.0% session  switches 12/s
 * waiters 0  threads 3  holder 1235 w-spin", at most cols columns. */
void gs_top_fmt_procline(char *buf, size_t n, const struct gs_top_procline *p, int cols);

#define GS_TOP_HEAD_LINES 5
/* Header line i (0..GS_TOP_HEAD_LINES-1) of a frame, at most cols
 * columns wide (0: no limit).  Only the sparkline is not ASCII. */
void gs_top_fmt_header(char *buf, size_t n, int i, const struct gs_top_view *v,
		       enum gs_top_window w, const struct gs_top_info *info, int cols);

#endif
