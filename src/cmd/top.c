/* gilsnoop top: a live view of GIL contention, or plain text with -b.
 *
 * One loop does everything: sample at the rate (the session's pacing and
 * target checks), feed the model, and at each interval freeze the model
 * into a view and draw or print it.  Between samples it sleeps in ppoll
 * on the terminal, so a key is seen within one sample period while
 * curses is only called when there is input, a resize, or a frame to
 * draw. */
#include <errno.h>
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
#include "sample/sampler.h"
#include "model/windows.h"
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
	"record's summary.  The process is never stopped.\n"
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
	"Keys: q quit, p pause (the display freezes; sampling continues),\n"
	"s/S next/previous sort column, w/W window, r reset, h or ? help,\n"
	"arrows and PgUp/PgDn scroll.  NO_COLOR turns colour off.\n"
	"When the process exits, top says so and keeps the last figures until\n"
	"q; with -b it prints \"process PID exited\" and exits 0.\n"
	"\n"
	"Exit status: 0 when quit with q, after -n refreshes, on SIGINT, SIGTERM\n"
	"or SIGHUP, when the process exited, or when the reader of -b's output\n"
	"went away; 2 bad command line, also a standard output that is not a\n"
	"terminal without -b; 1 a runtime failure (output that could not be\n"
	"written); 3-6 as listed by 'gilsnoop --help'.  See gilsnoop-top(1).\n";

/* Batch lines are for logs, not a terminal: give them the DETAIL column. */
#define BATCH_COLS 120

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

static int take_view(struct top *tp)
{
	return gs_windows_view(tp->model, &tp->view) ? gs_last_code() : 0;
}

static void draw(struct top *tp)
{
	gs_top_screen_draw(tp->scr, &tp->view, &tp->ui, &tp->info);
}

/* Returns -1 to go on, or the exit code. */
static int handle_keys(struct top *tp)
{
	unsigned act = gs_top_screen_keys(tp->scr, &tp->ui);
	if (act & GS_TOP_ACT_QUIT)
		return GS_OK;
	/* After an exit the final figures are all there is: keep them. */
	if ((act & GS_TOP_ACT_RESET) && !tp->ui.exited) {
		gs_windows_reset(tp->model);
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
	const struct gs_session_hooks hooks = { tp, on_sample, NULL, NULL };
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
