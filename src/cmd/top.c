/* gilsnoop top: a live view of GIL contention, or plain text with -b.
 *
 * One loop does everything: sample at the rate (the session's pacing and
 * target checks), feed the model, and at each interval freeze the model
 * into a view and draw or print it.  Between samples it sleeps in ppoll
 * on the terminal, so a key is seen within one sample period while
 * curses is only called when there is input, a resize, or a frame to
 * draw. */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/session.h"
#include "core/clock.h"
#include "core/errors.h"
#include "runtime/pystack.h"
#include "sample/sampler.h"
#include "model/windows.h"
#include "sink/top_stack.h"
#include "sink/top_text.h"
#include "sink/top_screen.h"

static const char usage[] =
	"Usage: gilsnoop top -p PID[,PID...] [--children] [-r RATE] [-i SECONDS]\n"
	"                    [-w 1|10|all] [-s COLUMN] [-b] [-n ITERATIONS] [-v]\n"
	"\n"
	"A live view of GIL contention in process PID, like top: the GIL's\n"
	"utilisation now and over the session with a sparkline of the last\n"
	"minute, switches per second, waiters, the switch interval, the sampling\n"
	"rate achieved, the current holder, and one row per thread with its\n"
	"state now and its shares of time holding the GIL (on and off CPU),\n"
	"waiting for it, handing it off, running without it and idle, its\n"
	"longest hold and its 99th percentile wait, under the column names of\n"
	"record's summary.  A thread is named by its kernel name and, when it\n"
	"differs, its Python name: \"python3 (MainThread)\".  The process is\n"
	"never stopped.\n"
	"\n"
	"Several processes (-p PID,PID,..., --children: every descendant that\n"
	"runs Python, new ones found within about 100 ms) are sampled in one\n"
	"loop: one GIL line per process under the header (its utilisation now\n"
	"and over the session, switches, waiters, threads, holder), and a PID\n"
	"column in the table; the header is the first process's, or the one\n"
	"the table is collapsed to with the c key.  A process that exits is\n"
	"marked so and the others go on.  A process with several GILs\n"
	"(subinterpreters with their own, 3.12+) gets one line per GIL, with\n"
	"its utilisation, switches, waiters and holder.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID[,PID...] process(es) to watch\n"
	"      --children         also watch descendants, new ones included\n"
	"  -r, --rate HZ          samples per second (default 1000; 'max': no pause)\n"
	"  -i, --interval SECONDS refresh every SECONDS (default 1)\n"
	"  -w, --window 1|10|all  what the table covers: the last second, the last\n"
	"                         10 seconds, or the whole session (default 1)\n"
	"  -s, --sort COLUMN      sort by tid, name, state, held, offcpu, wait,\n"
	"                         handoff, run, idle, longest or waitp99 (default\n"
	"                         held)\n"
	"  -b, --batch            plain text on stdout at every interval, for logs;\n"
	"                         each first line ends with the wall-clock time\n"
	"                         (local, ISO 8601: 2026-11-21T14:03:07.512+01:00)\n"
	"  -n, --iterations N     stop after N refreshes\n"
	"  -v, --verbose          explain the attach\n"
	"  -h, --help             show this help\n"
	"\n"
	"The holder line ends with the holder's innermost Python frames, and\n"
	"the line under the header names the window's longest hold with the\n"
	"frames it held the GIL in: each hold of 10 ms or more has the\n"
	"holder's stack read once while it lasts (-b prints that line too,\n"
	"when the window has such a hold).  Stacks are read from the\n"
	"process's memory; it is never stopped.\n"
	"\n"
	"Keys: q quit (from any screen), Up/Down select a thread (PgUp/PgDn,\n"
	"Home/End), Enter or s the selected thread's Python stack now (Up/Down\n"
	"there: the next thread's; Esc back), l the stack of the window's\n"
	"longest hold, / (F3) find a thread by name and n the next one, < and >\n"
	"(or F6) previous/next sort column, w/W window, p pause (the display\n"
	"freezes; sampling continues), r reset, c/C the next/previous process\n"
	"alone (several processes; past the last: all), h or ? help listing\n"
	"every key.\n"
	"NO_COLOR turns colour off.\n"
	"When the process exits, top says so and keeps the last figures until\n"
	"q; with -b it prints \"process PID exited\" and exits 0.\n"
	"\n"
	"Exit status: 0 when quit with q, after -n refreshes, on SIGINT, SIGTERM\n"
	"or SIGHUP, when the process exited, or when the reader of -b's output\n"
	"went away; 2 bad command line, also a standard output that is not a\n"
	"terminal without -b; 1 a runtime failure (output that could not be\n"
	"written); 3-6 as listed by 'gilsnoop --help'.  See gilsnoop-top(1).\n";

/* Batch lines are for logs, not a terminal: give them the DETAIL column. */
#define BATCH_COLS 136
/* Per-second slots of the longest hold with a stack, for the 10 s
 * window (one more than it spans: the second in progress). */
#define KEPT_SECONDS 11

struct thread_seen {
	pid_t tid;
	uint64_t tstate;
	enum gs_role role;
	char name[64];
};

/* The main GIL's hold in progress, as the samples see its holder. */
struct hold_watch {
	pid_t tid;
	uint64_t start_ns;
	int taken;               /* st was read during this hold */
	struct gs_top_stack st;
};

struct kept {
	uint64_t sec;            /* CLOCK_MONOTONIC second the hold ended in */
	struct gs_top_stack st;  /* valid: a hold with a stack */
};

/* One process watched: its own model and view. */
/* One GIL's figures since the last view, and over the session. */
struct gil_acc {
	uint64_t samples, held, switches, waiters;      /* since the view */
	uint64_t all_samples, all_held;                 /* the session */
	uint64_t since_ns;
	double util_now, switches_now;
	unsigned waiters_now;
	size_t nthreads;
	pid_t holder_tid;
	char holder_name[64];
};

struct tproc {
	struct gs_session_target *tg;
	/* Its Python stacks: the reader (NULL: none, sr_error says why),
	 * each thread's state in its last sample, the hold in progress. */
	struct gs_pystack_reader *sr;
	char sr_error[128];
	struct thread_seen *seen;
	size_t nseen, seen_cap;
	struct hold_watch hw;
	struct gs_windows *model;
	struct gs_top_view view;
	int exited;
	struct gil_acc gils[GS_MAX_GILS];
	size_t ngils;                /* GILs seen; > 1: subinterpreters */
};

struct top {
	struct gs_session ss;
	struct gs_session_target *tg;  /* the first target; the last to end */
	struct tproc *procs;
	size_t nprocs;
	struct gs_top_procline *plines;
	size_t nplines;
	struct gs_top_view view;       /* what is shown: one process's, or
				        * the rows of all of them */
	size_t view_cap;
	struct gs_top_info info;
	char pyver[64];
	double rate;
	uint64_t interval_ns;
	long iterations;         /* 0: no limit */
	struct gs_top_screen *scr;  /* NULL in batch mode */
	struct gs_top_ui ui;
	int reader_gone;         /* batch: stdout's reader went away (EPIPE) */
	uint64_t next_refresh;   /* 0: before the first sample */
	/* Python stacks (each process has its reader: struct tproc): the
	 * stack view's stack, the holder's innermost frames, and the
	 * longest holds kept. */
	struct gs_pyframe frames[GS_TOP_STACK_FRAMES];
	struct gs_top_stack stack;
	struct gs_top_stack holder_st;
	char holder_brief[2 * GS_TOP_FRAME_LEN + 8];
	char longest_line[3 * GS_TOP_FRAME_LEN];
	struct kept kept[KEPT_SECONDS];
	struct gs_top_stack kept_all;
};

static int parse_interval(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0.1 && v <= 3600))
		return gs_fail(GS_EUSAGE, "invalid interval '%s': expected seconds "
			       "from 0.1 to 3600", s);
	*out = (uint64_t)(v * 1e9);
	return 0;
}

static int parse_count(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v <= 0)
		return gs_fail(GS_EUSAGE, "invalid iteration count '%s': expected a "
			       "positive number", s);
	*out = v;
	return 0;
}

static int parse_sort(const char *s, enum gs_top_col *out)
{
	int c = gs_top_parse_col(s);
	if (c < 0)
		return gs_fail(GS_EUSAGE, "invalid sort column '%s': expected tid, name, "
			       "state, held, offcpu, wait, handoff, run, idle, longest or "
			       "waitp99", s);
	*out = (enum gs_top_col)c;
	return 0;
}

/* The result of a failed write to stdout.  A reader that went away
 * (top -b | head) is not an error: top just stops, quietly. */
static int write_error(struct top *tp)
{
	if (errno == EPIPE) {
		tp->reader_gone = 1;
		return GS_OK;
	}
	return gs_fail(GS_EFAIL, "could not write the output: %s",
		       strerror(errno ? errno : EIO));
}

static int print_batch(struct top *tp)
{
	char buf[1024];
	struct gs_top_layout l;
	errno = 0;
	clock_gettime(CLOCK_REALTIME, &tp->info.wall);
	gs_top_view_sort(&tp->view, tp->ui.window, tp->ui.sort);
	for (int i = 0; i < GS_TOP_HEAD_LINES; i++) {
		gs_top_fmt_header(buf, sizeof buf, i, &tp->view, tp->ui.window, &tp->info, 0);
		puts(buf);
	}
	for (size_t i = 0; i < tp->info.nprocs; i++) {
		gs_top_fmt_procline(buf, sizeof buf, &tp->info.procs[i], 0);
		puts(buf);
	}
	/* The screen's message line: in a log, the window's longest hold
	 * and where it held is what a reader of the stall looks for. */
	if (tp->longest_line[0])
		puts(tp->longest_line);
	if (tp->info.pid_column && !tp->ui.focus)
		gs_top_layout_pids(BATCH_COLS, &l);
	else
		gs_top_layout(BATCH_COLS, &l);
	gs_top_fmt_colhead(buf, sizeof buf, &l);
	puts(buf);
	for (size_t i = 0; i < tp->view.n; i++) {
		gs_top_fmt_row(buf, sizeof buf, &l, &tp->view.rows[i], tp->ui.window);
		puts(buf);
	}
	putchar('\n');
	return fflush(stdout) || ferror(stdout) ? write_error(tp) : 0;
}

static void gil_view(struct tproc *p, uint64_t now);

static struct tproc *tproc_of(struct top *tp, struct gs_session_target *tg)
{
	for (size_t i = 0; i < tp->nprocs; i++)
		if (tp->procs[i].tg == tg)
			return &tp->procs[i];
	struct tproc *v = realloc(tp->procs, (tp->nprocs + 1) * sizeof *v);
	if (!v)
		return NULL;
	tp->procs = v;
	struct tproc *p = &v[tp->nprocs];
	memset(p, 0, sizeof *p);
	p->tg = tg;
	if (!(p->model = gs_windows_new()))
		return NULL;
	/* Without a stack reader top still runs; the stack view says why. */
	if (gs_pystack_open(&tg->t, &p->sr) != 0) {
		snprintf(p->sr_error, sizeof p->sr_error, "%s", gs_last_error());
		gs_clear_error();
		p->sr = NULL;
	}
	tp->nprocs++;
	tp->ui.nprocs = tp->nprocs;
	return p;
}

/* The process line of p, from its own view. */
static void procline(const struct tproc *p, struct gs_top_procline *pl, int focus)
{
	const struct gs_top_header *h = &p->view.h;
	memset(pl, 0, sizeof *pl);
	pl->pid = p->tg->pid;
	gs_task_comm(&gs_procfs_live, pl->pid, pl->pid, pl->cmd, sizeof pl->cmd);
	pl->util_now = h->util_now;
	pl->util_session = h->util_session;
	pl->switches_now = h->switches_now;
	pl->waiters_now = h->waiters_now;
	pl->nthreads = h->nthreads;
	pl->holder_tid = h->holder_tid;
	snprintf(pl->holder_name, sizeof pl->holder_name, "%s", h->holder_name);
	pl->exited = p->exited || h->exited;
	pl->focus = focus;
	pl->gil = -1;
}

/* Freeze every process's model into its view; what is shown is the
 * process collapsed to (ui.focus), or with several the rows of all of
 * them under the first one's header. */
static int take_views(struct top *tp)
{
	for (size_t i = 0; i < tp->nprocs; i++)
		if (gs_windows_view(tp->procs[i].model, &tp->procs[i].view))
			return gs_last_code();
	if (!tp->nprocs)
		return 0;
	if (tp->ui.focus > tp->nprocs)
		tp->ui.focus = 0;
	size_t first = tp->ui.focus ? tp->ui.focus - 1 : 0, n = 0;
	for (size_t i = 0; i < tp->nprocs; i++)
		if (!tp->ui.focus || i == first)
			n += tp->procs[i].view.n;
	if (n > tp->view_cap) {
		struct gs_top_row *r = realloc(tp->view.rows, n * sizeof *r);
		if (!r)
			return gs_fail(GS_EFAIL, "out of memory");
		tp->view.rows = r;
		tp->view_cap = n;
	}
	tp->view.h = tp->procs[first].view.h;
	tp->view.n = 0;
	for (size_t i = 0; i < tp->nprocs; i++) {
		const struct tproc *p = &tp->procs[i];
		if (tp->ui.focus && i != first)
			continue;
		for (size_t k = 0; k < p->view.n; k++) {
			struct gs_top_row *r = &tp->view.rows[tp->view.n++];
			*r = p->view.rows[k];
			r->pid = p->tg->pid;
		}
	}
	tp->info.pid = tp->procs[first].tg->pid;
	/* One line per process when there are several, and under a process
	 * with several GILs one per GIL. */
	size_t nl = 0, want = 0;
	int sub = 0;
	for (size_t i = 0; i < tp->nprocs; i++) {
		want += 1 + (tp->procs[i].ngils > 1 ? tp->procs[i].ngils : 0);
		sub |= tp->procs[i].ngils > 1;
	}
	if (!tp->ss.multi && !sub)
		return 0;
	if (want > tp->nplines) {
		struct gs_top_procline *v = realloc(tp->plines, want * sizeof *v);
		if (!v)
			return gs_fail(GS_EFAIL, "out of memory");
		tp->plines = v;
		tp->nplines = want;
	}
	uint64_t now = gs_now_ns();
	for (size_t i = 0; i < tp->nprocs; i++) {
		struct tproc *p = &tp->procs[i];
		procline(p, &tp->plines[nl++], tp->ui.focus == i + 1);
		if (p->ngils < 2)
			continue;
		gil_view(p, now);
		for (size_t k = 0; k < p->ngils; k++) {
			const struct gil_acc *a = &p->gils[k];
			struct gs_top_procline *pl = &tp->plines[nl++];
			memset(pl, 0, sizeof *pl);
			pl->pid = p->tg->pid;
			pl->gil = (int)k;
			pl->util_now = a->util_now;
			pl->util_session = a->all_samples ? (double)a->all_held / (double)a->all_samples : -1;
			pl->switches_now = a->switches_now;
			pl->waiters_now = a->waiters_now;
			pl->nthreads = a->nthreads;
			pl->holder_tid = a->holder_tid;
			snprintf(pl->holder_name, sizeof pl->holder_name, "%s", a->holder_name);
			pl->exited = p->exited;
		}
	}
	tp->info.procs = tp->plines;
	tp->info.nprocs = nl;
	tp->info.pid_column = tp->nprocs > 1;
	return 0;
}

static void reset_models(struct top *tp)
{
	for (size_t i = 0; i < tp->nprocs; i++)
		gs_windows_reset(tp->procs[i].model);
}

/* ----------------------------------------------------------- stacks */

/* The process whose last sample listed thread tid (tids are unique
 * across processes), and what it saw of it; NULL when none did. */
static struct tproc *seen_of(struct top *tp, pid_t tid, const struct thread_seen **out)
{
	for (size_t k = 0; k < tp->nprocs; k++) {
		struct tproc *p = &tp->procs[k];
		for (size_t i = 0; i < p->nseen; i++)
			if (p->seen[i].tid == tid) {
				*out = &p->seen[i];
				return p;
			}
	}
	*out = NULL;
	return NULL;
}

static void remember_threads(struct tproc *p, const struct gs_sample *smp)
{
	if (smp->nthreads > p->seen_cap) {
		struct thread_seen *v = realloc(p->seen, smp->nthreads * sizeof *v);
		if (!v)
			return;
		p->seen = v;
		p->seen_cap = smp->nthreads;
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thread_seen *s = &p->seen[i];
		s->tid = ts->tid;
		s->tstate = ts->tstate;
		s->role = ts->role;
		snprintf(s->name, sizeof s->name, "%s", ts->name ? ts->name : "");
	}
	p->nseen = smp->nthreads;
}

/* Thread tid's Python stack now, read from memory as the last sample
 * left the thread list (the target runs on). */
static void read_stack(struct top *tp, pid_t tid, struct gs_top_stack *out)
{
	const struct thread_seen *s;
	const struct tproc *p = seen_of(tp, tid, &s);
	memset(out, 0, offsetof(struct gs_top_stack, frame));
	out->error[0] = 0;
	out->tid = tid;
	out->taken_ns = gs_now_ns();
	if (s) {
		snprintf(out->name, sizeof out->name, "%s", s->name);
		out->role = s->role;
	}
	if (p && !p->sr) {
		snprintf(out->error, sizeof out->error, "no stack reader: %s", p->sr_error);
		return;
	}
	if (!s || !s->tstate) {
		snprintf(out->error, sizeof out->error, "thread %d is not a Python thread%s",
			 (int)tid, s ? "" : " (or is gone)");
		return;
	}
	struct gs_pystack ps = { .frames = tp->frames, .cap = GS_TOP_STACK_FRAMES };
	if (gs_pystack_read(p->sr, s->tstate, &ps) != 0) {
		snprintf(out->error, sizeof out->error, "cannot read thread %d's stack: %s",
			 (int)tid, strerror(errno));
		return;
	}
	for (size_t i = 0; i < ps.n; i++)
		gs_pyframe_format(&ps.frames[i], out->frame[i], sizeof out->frame[i]);
	out->n = ps.n;
	out->total = ps.n + ((ps.flags & GS_PYSTACK_TRUNCATED) != 0);
	out->partial = (ps.flags & (GS_PYSTACK_PARTIAL | GS_PYSTACK_TORN)) != 0;
	out->valid = 1;
}

static void keep_hold(struct top *tp, struct hold_watch *hw, uint64_t len, uint64_t end_ns)
{
	struct gs_top_stack *st = &hw->st;
	uint64_t sec = end_ns / 1000000000ull;
	struct kept *k = &tp->kept[sec % KEPT_SECONDS];
	st->kept = 1;
	st->hold_ns = len;
	if (k->sec != sec) {
		k->sec = sec;
		k->st.valid = 0;
	}
	if (!k->st.valid || len > k->st.hold_ns)
		k->st = *st;
	if (!tp->kept_all.valid || len > tp->kept_all.hold_ns)
		tp->kept_all = *st;
}

/* The hold in progress: a stack read once it lasts long enough; kept
 * when it ends, if it is the longest of its second. */
static void watch_hold(struct top *tp, struct tproc *p, const struct gs_sample *smp)
{
	struct hold_watch *hw = &p->hw;
	pid_t h = smp->torn ? hw->tid : smp->holder_tid;
	if (h && h == hw->tid) {
		if (!hw->taken && smp->t_ns - hw->start_ns >= GS_TOP_HOLD_STACK_NS) {
			read_stack(tp, h, &hw->st);
			hw->taken = hw->st.valid;
		}
		return;
	}
	if (hw->tid && hw->taken)
		keep_hold(tp, hw, smp->t_ns - hw->start_ns, smp->t_ns);
	hw->tid = h;
	hw->start_ns = smp->t_ns;
	hw->taken = 0;
}

/* The longest hold with a stack that ended in window w. */
static const struct gs_top_stack *window_longest(const struct top *tp,
						 enum gs_top_window w)
{
	if (w == GS_TOP_WIN_ALL)
		return tp->kept_all.valid ? &tp->kept_all : NULL;
	uint64_t now = gs_now_ns() / 1000000000ull, span = w == GS_TOP_WIN_1S ? 1 : 10;
	const struct gs_top_stack *best = NULL;
	for (size_t i = 0; i < KEPT_SECONDS; i++) {
		const struct kept *k = &tp->kept[i];
		if (k->st.valid && k->sec + span >= now &&
		    (!best || k->st.hold_ns > best->hold_ns))
			best = &k->st;
	}
	return best;
}

static void forget_holds(struct top *tp)
{
	for (size_t i = 0; i < KEPT_SECONDS; i++)
		tp->kept[i].st.valid = 0;
	tp->kept_all.valid = 0;
	uint64_t now = gs_now_ns();
	for (size_t i = 0; i < tp->nprocs; i++) {
		tp->procs[i].hw.taken = 0;
		tp->procs[i].hw.start_ns = now;
	}
}

/* What the stack view shows: the selected thread's stack now, or the
 * window's longest hold's. */
static void fill_stack_view(struct top *tp)
{
	pid_t tid = gs_top_select(&tp->view, &tp->ui);
	if (tp->ui.stack_kept) {
		const struct gs_top_stack *k = window_longest(tp, tp->ui.window);
		if (k)
			tp->stack = *k;
		else
			tp->stack.valid = 0, tp->stack.error[0] = 0;
		return;
	}
	if (!tid) {
		tp->stack.valid = 0;
		snprintf(tp->stack.error, sizeof tp->stack.error, "no thread selected");
		return;
	}
	read_stack(tp, tid, &tp->stack);
}

static int take_view(struct top *tp)
{
	int rc;
	if ((rc = take_views(tp)))
		return rc;
	/* The text that goes with the view: the holder's frames, the
	 * window's longest hold, and a live stack view read again. */
	tp->holder_brief[0] = 0;
	if (tp->view.h.holder_tid && !tp->ui.exited) {
		read_stack(tp, tp->view.h.holder_tid, &tp->holder_st);
		gs_top_stack_brief(tp->holder_brief, sizeof tp->holder_brief, &tp->holder_st, 2);
	}
	gs_top_stack_longest(tp->longest_line, sizeof tp->longest_line,
			     window_longest(tp, tp->ui.window));
	if (tp->ui.stack && !tp->ui.stack_kept && !tp->ui.exited)
		fill_stack_view(tp);
	return 0;
}

static void draw(struct top *tp)
{
	tp->info.now_ns = gs_now_ns();
	gs_top_screen_draw(tp->scr, &tp->view, &tp->ui, &tp->info, &tp->stack);
}

/* Returns -1 to go on, or the exit code. */
static int handle_keys(struct top *tp)
{
	unsigned act = gs_top_screen_keys(tp->scr, &tp->ui);
	if (act & GS_TOP_ACT_QUIT)
		return GS_OK;
	if (act & GS_TOP_ACT_STACK) {
		fill_stack_view(tp);
		gs_top_stack_longest(tp->longest_line, sizeof tp->longest_line,
				     window_longest(tp, tp->ui.window));
	}
	/* After an exit the final figures are all there is: keep them. */
	if ((act & GS_TOP_ACT_RESET) && !tp->ui.exited) {
		reset_models(tp);
		forget_holds(tp);
		/* A frozen display stays frozen; the reset shows on resume. */
		if (!tp->ui.paused && !tp->ui.exited && take_view(tp))
			return gs_last_code();
	}
	if ((act & (GS_TOP_ACT_PAUSE | GS_TOP_ACT_FOCUS)) && !tp->ui.paused && take_view(tp))
		return gs_last_code();
	if (act)
		draw(tp);
	return -1;
}

/* Per GIL, for a process with several: the model accounts the main
 * one; each GIL's line comes from these counts. */
static void gil_feed(struct tproc *p, const struct gs_sample *smp)
{
	if (smp->ngils > p->ngils)
		p->ngils = smp->ngils < GS_MAX_GILS ? smp->ngils : GS_MAX_GILS;
	if (p->ngils < 2)
		return;
	for (size_t i = 0; i < p->ngils && i < smp->ngils; i++) {
		const struct gs_gil_sample *g = &smp->gils[i];
		struct gil_acc *a = &p->gils[i];
		if (!a->since_ns)
			a->since_ns = smp->t_ns;
		if (g->torn)
			continue;
		a->samples++;
		a->all_samples++;
		a->held += g->holder_tid != 0;
		a->all_held += g->holder_tid != 0;
		a->switches += g->switches;
		a->holder_tid = g->holder_tid;
		a->nthreads = 0;
	}
	for (size_t k = 0; k < smp->nthreads; k++) {
		const struct gs_thread_sample *t = &smp->threads[k];
		if (t->gil >= p->ngils || !t->tstate)
			continue;
		struct gil_acc *a = &p->gils[t->gil];
		a->nthreads++;
		a->waiters += t->role == GS_ROLE_WAITING;
		if (t->tid == a->holder_tid && t->name)
			snprintf(a->holder_name, sizeof a->holder_name, "%s", t->name);
	}
}

/* Each GIL's figures since the last view, then start again. */
static void gil_view(struct tproc *p, uint64_t now)
{
	for (size_t i = 0; i < p->ngils; i++) {
		struct gil_acc *a = &p->gils[i];
		double secs = a->since_ns && now > a->since_ns ? (double)(now - a->since_ns) / 1e9 : 0;
		a->util_now = a->samples ? (double)a->held / (double)a->samples : -1;
		a->switches_now = secs > 0 ? (double)a->switches / secs : 0;
		a->waiters_now = a->samples ? (unsigned)((a->waiters + a->samples / 2) / a->samples) : 0;
		a->samples = a->held = a->switches = a->waiters = 0;
		a->since_ns = now;
	}
}

static int on_sample(void *ctx, struct gs_session_target *tg, const struct gs_sample *smp)
{
	struct top *tp = ctx;
	int rc;
	struct tproc *p = tproc_of(tp, tg);
	if (!p)
		return gs_fail(GS_EFAIL, "out of memory");
	if (gs_windows_feed(p->model, smp))
		return gs_last_code();
	gil_feed(p, smp);
	remember_threads(p, smp);
	watch_hold(tp, p, smp);
	if (!tp->next_refresh) {
		/* Refreshes fall on the model's second grid, so the 1 s
		 * window is the second that just ended. */
		tp->next_refresh = smp->t_ns + tp->interval_ns;
		if (tp->scr) {
			if ((rc = take_view(tp)))
				return rc;
			draw(tp);
		}
	}
	return 0;
}

static void on_started(void *ctx, struct gs_session_target *tg)
{
	tproc_of(ctx, tg);
}

/* One of several ended: its line says so, the others go on. */
static void on_ended(void *ctx, struct gs_session_target *tg)
{
	struct top *tp = ctx;
	struct tproc *p = tproc_of(tp, tg);
	if (p) {
		p->exited = 1;
		gs_windows_exited(p->model);
	}
	tp->tg = tg;
}

/* The target exited or exec'd (every one of them): say so, or keep the
 * final figures on screen until q.  Returns -1 to go on, or the exit
 * code. */
static int target_ended(struct top *tp)
{
	int rc;
	for (size_t i = 0; i < tp->nprocs; i++)
		gs_windows_exited(tp->procs[i].model);
	if (!tp->scr) {
		errno = 0;
		if (tp->tg->execd)
			printf("%s\n", tp->tg->why);
		else
			printf("process %d exited\n", (int)tp->tg->pid);
		return fflush(stdout) ? write_error(tp) : GS_OK;
	}
	tp->ui.exited = 1;
	tp->ui.paused = 0;
	if ((rc = take_view(tp)))
		return rc;
	draw(tp);
	return -1;
}

static int loop(struct top *tp)
{
	const struct gs_session_hooks hooks = { tp, on_sample, on_ended, on_started };
	long refreshes = 0;
	int exited = 0, rc;

	while (!gs_session_sigstate()->stop) {
		uint64_t t = gs_now_ns();
		int due = tp->next_refresh && t >= tp->next_refresh;
		if (!exited && (gs_session_due(&tp->ss, t) || due)) {
			if ((rc = gs_session_step(&tp->ss, &hooks)))
				return rc;
			if (tp->ss.stop == GS_STOP_CALLER)
				return tp->ss.caller_rc;
			if (!gs_session_live(&tp->ss)) {
				exited = 1;
				if ((rc = target_ended(tp)) >= 0)
					return rc;
			}
		}
		if (!exited && due) {
			if (!tp->ui.paused && (rc = take_view(tp)))
				return rc;
			if (tp->scr) {
				/* Resizes arrive as keys; see them even when idle. */
				if ((rc = handle_keys(tp)) >= 0)
					return rc;
				draw(tp);
			} else if ((rc = print_batch(tp)) || tp->reader_gone) {
				return rc;
			}
			if (tp->iterations && ++refreshes >= tp->iterations)
				return GS_OK;
			tp->next_refresh += tp->interval_ns;
			if (tp->next_refresh <= t)
				tp->next_refresh = t + tp->interval_ns;
		}

		int pr = gs_session_wait(&tp->ss, exited ? 0 : tp->next_refresh,
					 tp->scr ? gs_top_screen_fd(tp->scr) : -1);
		/* The terminal went away without a SIGHUP: nobody is watching,
		 * and polling it would spin. */
		if (pr > 0 && (pr & (POLLHUP | POLLERR | POLLNVAL)))
			return GS_OK;
		/* -1: SIGWINCH, which curses turns into KEY_RESIZE. */
		if (tp->scr && pr != 0 && (rc = handle_keys(tp)) >= 0)
			return rc;
	}
	return GS_OK;
}

static int is_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);
	return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

static int run_top(struct top *tp, const pid_t *pids, size_t npids, int children,
		   int batch)
{
	int rc;
	gs_session_init(&tp->ss, tp->rate, 0);
	for (size_t i = 0; i < npids; i++)
		if ((rc = gs_session_attach(&tp->ss, pids[i])))
			return rc;
	tp->tg = tp->ss.targets[0];
	if (children && (rc = gs_session_follow_children(&tp->ss)))
		return rc;
	if ((rc = gs_session_start(&tp->ss)))
		return rc;
	if (!tp->tg->sampler && !gs_session_live(&tp->ss) && !children)
		return gs_fail(GS_ENOPROC, "%s", tp->tg->why);
	for (size_t i = 0; i < tp->ss.ntargets; i++)
		if (tp->ss.targets[i]->sampler && !tproc_of(tp, tp->ss.targets[i]))
			return gs_last_code() ? gs_last_code() : GS_EFAIL;
	snprintf(tp->pyver, sizeof tp->pyver, "%s%s%s", tp->tg->t.ver.str,
		 tp->tg->t.build != GS_BUILD_DEFAULT ? " " : "",
		 tp->tg->t.build != GS_BUILD_DEFAULT ? gs_build_name(tp->tg->t.build) : "");
	tp->info.pid = tp->tg->pid;
	tp->info.pyver = tp->pyver;
	tp->info.rate_hz = tp->rate;
	tp->info.utf8 = is_utf8();
	tp->info.holder_frames = tp->holder_brief;
	tp->info.longest = tp->longest_line;

	/* Installed before curses, our handlers keep curses from installing
	 * its own: ^C and kill end the loop and the terminal is restored. */
	gs_session_signals();
	if (batch)
		return loop(tp);
	if (!(tp->scr = gs_top_screen_open()))
		return gs_last_code();
	rc = loop(tp);
	gs_top_screen_close(tp->scr);
	tp->scr = NULL;
	return rc;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "children", no_argument, NULL, 'C' },
		{ "rate", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "sort", required_argument, NULL, 's' },
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	pid_t *pids = NULL;
	size_t npids = 0;
	int batch = 0, children = 0, c, w;
	struct top *tp = calloc(1, sizeof *tp);
	if (!tp)
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	tp->rate = GS_DEFAULT_RATE_HZ;
	tp->interval_ns = 1000000000ull;
	tp->ui.window = GS_TOP_WIN_1S;
	tp->ui.sort = GS_TOP_COL_HELD;

	int rc = 0;
	opterr = 0;
	while (!rc && (c = getopt_long(argc, argv, "+p:r:i:w:s:bn:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			rc = gs_parse_pids(optarg, &pids, &npids);
			break;
		case 'C': children = 1; break;
		case 'r': rc = gs_rate_option(optarg, &tp->rate); break;
		case 'i': rc = parse_interval(optarg, &tp->interval_ns); break;
		case 'n': rc = parse_count(optarg, &tp->iterations); break;
		case 's': rc = parse_sort(optarg, &tp->ui.sort); break;
		case 'w':
			if ((w = gs_top_parse_window(optarg)) < 0)
				rc = gs_fail(GS_EUSAGE, "invalid window '%s': expected 1, 10 or all",
					     optarg);
			else
				tp->ui.window = (enum gs_top_window)w;
			break;
		case 'b': batch = 1; break;
		case 'v': gs_verbose++; break;
		case 'h':
			fputs(usage, stdout);
			free(tp);
			free(pids);
			return GS_OK;
		default:
			rc = gs_usage_fail("top", "unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (!rc && optind < argc)
		rc = gs_usage_fail("top", "unexpected argument '%s'", argv[optind]);
	if (!rc && !npids)
		rc = gs_fail(GS_EUSAGE, "no process given: use -p PID");
	if (!rc && !batch && !isatty(STDOUT_FILENO))
		rc = gs_fail(GS_EUSAGE, "standard output is not a terminal: use -b "
			     "for plain text output");
	if (rc) {
		free(tp);
		free(pids);
		return gs_report_error();
	}

	/* Block characters need the user's locale; numbers keep '.'. */
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");

	rc = run_top(tp, pids, npids, children, batch);
	if (rc)
		gs_report_error();
	gs_top_view_free(&tp->view);
	for (size_t i = 0; i < tp->nprocs; i++) {
		gs_top_view_free(&tp->procs[i].view);
		gs_windows_free(tp->procs[i].model);
		gs_pystack_close(tp->procs[i].sr);
		free(tp->procs[i].seen);
	}
	free(tp->procs);
	free(tp->plines);
	free(pids);
	gs_session_free(&tp->ss);
	free(tp);
	return rc;
}

const struct gs_command gs_cmd_top = {
	.name = "top",
	.summary = "live view of GIL contention per thread, like top (-b: batch)",
	.usage = usage,
	.run = run,
};
