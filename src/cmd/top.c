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
	"Usage: gilsnoop top -p PID [-r RATE] [-i SECONDS] [-w 1|10|all]\n"
	"                    [-s COLUMN] [-b] [-n ITERATIONS] [-v]\n"
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
	"Options:\n"
	"  -p, --pid PID          process to watch\n"
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
	"holder's stack read once while it lasts.  Stacks are read from the\n"
	"process's memory; it is never stopped.\n"
	"\n"
	"Keys: q quit (from any screen), Up/Down select a thread (PgUp/PgDn,\n"
	"Home/End), Enter or s the selected thread's Python stack now (Up/Down\n"
	"there: the next thread's; Esc back), l the stack of the window's\n"
	"longest hold, / (F3) find a thread by name and n the next one, < and >\n"
	"(or F6) previous/next sort column, w/W window, p pause (the display\n"
	"freezes; sampling continues), r reset, h or ? help listing every key.\n"
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

struct top {
	struct gs_session ss;
	struct gs_session_target *tg;  /* the one target */
	struct gs_windows *model;
	struct gs_top_view view;
	struct gs_top_info info;
	char pyver[64];
	double rate;
	uint64_t interval_ns;
	long iterations;         /* 0: no limit */
	struct gs_top_screen *scr;  /* NULL in batch mode */
	struct gs_top_ui ui;
	int reader_gone;         /* batch: stdout's reader went away (EPIPE) */
	uint64_t next_refresh;   /* 0: before the first sample */
	/* Python stacks: the reader (NULL: none, sr_error says why), each
	 * thread's state in the last sample, the stack view's stack, the
	 * holder's innermost frames, and the hold in progress. */
	struct gs_pystack_reader *sr;
	char sr_error[128];
	struct thread_seen *seen;
	size_t nseen, seen_cap;
	struct gs_pyframe frames[GS_TOP_STACK_FRAMES];
	struct gs_top_stack stack;
	struct gs_top_stack holder_st;
	char holder_brief[2 * GS_TOP_FRAME_LEN + 8];
	char longest_line[3 * GS_TOP_FRAME_LEN];
	struct hold_watch hw;
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

/* ----------------------------------------------------------- stacks */

static const struct thread_seen *seen_of(const struct top *tp, pid_t tid)
{
	for (size_t i = 0; i < tp->nseen; i++)
		if (tp->seen[i].tid == tid)
			return &tp->seen[i];
	return NULL;
}

static void remember_threads(struct top *tp, const struct gs_sample *smp)
{
	if (smp->nthreads > tp->seen_cap) {
		struct thread_seen *v = realloc(tp->seen, smp->nthreads * sizeof *v);
		if (!v)
			return;
		tp->seen = v;
		tp->seen_cap = smp->nthreads;
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thread_seen *s = &tp->seen[i];
		s->tid = ts->tid;
		s->tstate = ts->tstate;
		s->role = ts->role;
		snprintf(s->name, sizeof s->name, "%s", ts->name ? ts->name : "");
	}
	tp->nseen = smp->nthreads;
}

/* Thread tid's Python stack now, read from memory as the last sample
 * left the thread list (the target runs on). */
static void read_stack(struct top *tp, pid_t tid, struct gs_top_stack *out)
{
	const struct thread_seen *s = seen_of(tp, tid);
	memset(out, 0, offsetof(struct gs_top_stack, frame));
	out->error[0] = 0;
	out->tid = tid;
	out->taken_ns = gs_now_ns();
	if (s) {
		snprintf(out->name, sizeof out->name, "%s", s->name);
		out->role = s->role;
	}
	if (!tp->sr) {
		snprintf(out->error, sizeof out->error, "no stack reader: %s", tp->sr_error);
		return;
	}
	if (!s || !s->tstate) {
		snprintf(out->error, sizeof out->error, "thread %d is not a Python thread%s",
			 (int)tid, s ? "" : " (or is gone)");
		return;
	}
	struct gs_pystack ps = { .frames = tp->frames, .cap = GS_TOP_STACK_FRAMES };
	if (gs_pystack_read(tp->sr, s->tstate, &ps) != 0) {
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

static void keep_hold(struct top *tp, uint64_t len, uint64_t end_ns)
{
	struct gs_top_stack *st = &tp->hw.st;
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
static void watch_hold(struct top *tp, const struct gs_sample *smp)
{
	struct hold_watch *hw = &tp->hw;
	pid_t h = smp->torn ? hw->tid : smp->holder_tid;
	if (h && h == hw->tid) {
		if (!hw->taken && smp->t_ns - hw->start_ns >= GS_TOP_HOLD_STACK_NS) {
			read_stack(tp, h, &hw->st);
			hw->taken = hw->st.valid;
		}
		return;
	}
	if (hw->tid && hw->taken)
		keep_hold(tp, smp->t_ns - hw->start_ns, smp->t_ns);
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
	tp->hw.taken = 0;
	tp->hw.start_ns = gs_now_ns();
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
	if (gs_windows_view(tp->model, &tp->view))
		return gs_last_code();
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
		gs_windows_reset(tp->model);
		forget_holds(tp);
		/* A frozen display stays frozen; the reset shows on resume. */
		if (!tp->ui.paused && !tp->ui.exited && take_view(tp))
			return gs_last_code();
	}
	if ((act & GS_TOP_ACT_PAUSE) && !tp->ui.paused && take_view(tp))
		return gs_last_code();
	if (act)
		draw(tp);
	return -1;
}

static int on_sample(void *ctx, struct gs_session_target *tg, const struct gs_sample *smp)
{
	struct top *tp = ctx;
	int rc;
	(void)tg;
	if (gs_windows_feed(tp->model, smp))
		return gs_last_code();
	remember_threads(tp, smp);
	watch_hold(tp, smp);
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

/* The target exited or exec'd: say so, or keep the final figures on
 * screen until q.  Returns -1 to go on, or the exit code. */
static int target_ended(struct top *tp)
{
	int rc;
	gs_windows_exited(tp->model);
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
	const struct gs_session_hooks hooks = { tp, on_sample, NULL };
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

static int run_top(struct top *tp, pid_t pid, int batch)
{
	int rc;
	gs_session_init(&tp->ss, tp->rate, 0);
	if ((rc = gs_session_attach(&tp->ss, pid)))
		return rc;
	tp->tg = tp->ss.targets[0];
	if ((rc = gs_session_start(&tp->ss)))
		return rc;
	if (!tp->tg->sampler)
		return gs_fail(GS_ENOPROC, "%s", tp->tg->why);
	if (!(tp->model = gs_windows_new()))
		return gs_last_code() ? gs_last_code() : GS_EFAIL;
	snprintf(tp->pyver, sizeof tp->pyver, "%s%s%s", tp->tg->t.ver.str,
		 tp->tg->t.build != GS_BUILD_DEFAULT ? " " : "",
		 tp->tg->t.build != GS_BUILD_DEFAULT ? gs_build_name(tp->tg->t.build) : "");
	tp->info.pid = pid;
	tp->info.pyver = tp->pyver;
	tp->info.rate_hz = tp->rate;
	tp->info.utf8 = is_utf8();
	tp->info.holder_frames = tp->holder_brief;
	tp->info.longest = tp->longest_line;
	/* Without a stack reader top still runs; the stack view says why. */
	if (gs_pystack_open(&tp->tg->t, &tp->sr) != 0) {
		snprintf(tp->sr_error, sizeof tp->sr_error, "%s", gs_last_error());
		gs_clear_error();
		tp->sr = NULL;
	}

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
	pid_t pid = 0;
	int batch = 0, c, w;
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
			if (!(pid = gs_parse_pid(optarg)))
				rc = GS_EUSAGE;
			break;
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
			return GS_OK;
		default:
			rc = gs_usage_fail("top", "unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (!rc && optind < argc)
		rc = gs_usage_fail("top", "unexpected argument '%s'", argv[optind]);
	if (!rc && !pid)
		rc = gs_fail(GS_EUSAGE, "no process given: use -p PID");
	if (!rc && !batch && !isatty(STDOUT_FILENO))
		rc = gs_fail(GS_EUSAGE, "standard output is not a terminal: use -b "
			     "for plain text output");
	if (rc) {
		free(tp);
		return gs_report_error();
	}

	/* Block characters need the user's locale; numbers keep '.'. */
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");

	rc = run_top(tp, pid, batch);
	if (rc)
		gs_report_error();
	gs_top_view_free(&tp->view);
	gs_windows_free(tp->model);
	gs_pystack_close(tp->sr);
	free(tp->seen);
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
