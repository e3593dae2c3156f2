/* model/windows.h and sink/top_text.h: the figures of `gilsnoop top`
 * from synthetic samples whose answers are known to the millisecond, and
 * the text batch mode and the screen print from them.  Also the merge
 * rule of holds (model/holds.h) both top and the summary use. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/errors.h"
#include "model/holds.h"
#include "model/windows.h"
#include "sink/top_text.h"
#include "unit.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (5 * S) /* any origin: the grid starts at the first sample */

enum { A = 101, B = 102, C = 103, D = 104, E = 105 };

struct feed {
	struct gs_windows *m;
	struct gs_thread_sample th[5];
	struct gs_sample smp;
};

static void sample(struct feed *f, uint64_t t, size_t n, const pid_t *tids,
		   const enum gs_role *roles, uint64_t gen)
{
	static const char *const names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	memset(&f->smp, 0, sizeof f->smp);
	for (size_t i = 0; i < n; i++) {
		f->th[i] = (struct gs_thread_sample){
			.tid = tids[i], .tstate = 0x1000 * (uint64_t)tids[i],
			.role = roles[i], .state = roles[i] == GS_ROLE_IDLE ? 'S' : 'R',
			.syscall_nr = roles[i] == GS_ROLE_IDLE ? 230 : -1,
			.name = names[tids[i] - A],
		};
		if (roles[i] == GS_ROLE_HELD)
			f->smp.holder_tid = tids[i];
	}
	f->smp.t_ns = t;
	f->smp.seq++;
	f->smp.gil.locked = 1;
	f->smp.interval_us = 5000;
	f->smp.generation = gen;
	f->smp.nthreads = n;
	f->smp.threads = f->th;
	if (gs_windows_feed(f->m, &f->smp))
		UNIT_CHECK(0, "feed failed");
}

/* Every millisecond for 3 s:
 *   A holds, except that it waits in [2.0, 2.5) s;
 *   B waits in [0, 2.0), holds in [2.0, 2.5), then idles;
 *   C idles throughout. */
static void scenario(struct feed *f)
{
	static const pid_t tids[] = { A, B, C };
	for (uint64_t k = 0; k <= 3000; k++) {
		enum gs_role r[3];
		int second_half = k >= 2000 && k < 2500;
		r[0] = second_half ? GS_ROLE_WAITING : GS_ROLE_HELD;
		r[1] = k < 2000 ? GS_ROLE_WAITING : second_half ? GS_ROLE_HELD : GS_ROLE_IDLE;
		r[2] = GS_ROLE_IDLE;
		sample(f, T0 + k * MS, 3, tids, r, 1);
	}
}

static const struct gs_top_row *row(const struct gs_top_view *v, pid_t tid)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->rows[i].tid == tid)
			return &v->rows[i];
	return NULL;
}

static int near(double got, double want)
{
	return fabs(got - want) < 0.05;
}

static void check_windows(const struct gs_top_view *v)
{
	const struct gs_top_row *a = row(v, A), *b = row(v, B), *c = row(v, C);
	if (!UNIT_CHECK(a && b && c, "a row per thread"))
		return;
	UNIT_EQ_STR(a->name, "alpha", "name from the sample");
	UNIT_EQ_INT(a->holder, 1, "A holds in the last sample");
	UNIT_EQ_INT(b->holder, 0, "B does not");

	/* 1 s: the last whole second, [2, 3) s. */
	const struct gs_top_figures *f = &a->w[GS_TOP_WIN_1S];
	UNIT_EQ_INT(f->observed_ns, S, "1s window covers one second");
	UNIT_CHECK(near(f->pct[GS_TOP_SH_HELD], 50), "A held 50% of the last second");
	UNIT_CHECK(near(f->pct[GS_TOP_SH_WAIT], 50), "A waited 50% of the last second");
	UNIT_EQ_INT(f->longest_hold_ns, 2 * S, "A's 2 s hold ended in the last second");
	UNIT_EQ_INT(f->wait_p99_ns, 500 * MS, "A's one wait: 500 ms");
	f = &b->w[GS_TOP_WIN_1S];
	UNIT_CHECK(near(f->pct[GS_TOP_SH_HELD], 50) && near(f->pct[GS_TOP_SH_IDLE], 50),
		   "B held and idled half the last second each");
	UNIT_EQ_INT(f->longest_hold_ns, 500 * MS, "B held for 500 ms");
	UNIT_EQ_INT(f->wait_p99_ns, 2 * S, "B's 2 s wait ended in the last second");
	UNIT_CHECK(near(c->w[GS_TOP_WIN_1S].pct[GS_TOP_SH_IDLE], 100), "C idle");
	UNIT_EQ_INT(c->w[GS_TOP_WIN_1S].wait_p99_ns, 0, "C never waited");
	UNIT_EQ_INT(c->w[GS_TOP_WIN_1S].longest_hold_ns, 0, "C never held");

	/* 10 s and all: the whole 3 s. */
	for (int w = GS_TOP_WIN_10S; w <= GS_TOP_WIN_ALL; w++) {
		f = &a->w[w];
		UNIT_EQ_INT(f->observed_ns, 3 * S, "A seen for 3 s");
		UNIT_CHECK(near(f->pct[GS_TOP_SH_HELD], 250.0 / 3), "A held 2.5 of 3 s");
		UNIT_EQ_INT(f->longest_hold_ns, 2 * S, "A's longest hold");
		f = &b->w[w];
		UNIT_CHECK(near(f->pct[GS_TOP_SH_WAIT], 200.0 / 3), "B waited 2 of 3 s");
		UNIT_EQ_INT(f->wait_p99_ns, 2 * S, "B's wait p99");
		UNIT_EQ_INT(f->waits, 1, "B waited once");
	}
}

static void check_header(const struct gs_top_view *v, const struct gs_top_info *info)
{
	const struct gs_top_header *h = &v->h;
	UNIT_CHECK(near(h->util_now, 1) && near(h->util_session, 1), "GIL always held");
	UNIT_EQ_INT(h->interval_us, 5000, "switch interval from the sample");
	UNIT_EQ_INT(h->holder_tid, A, "holder");
	UNIT_EQ_STR(h->holder_name, "alpha", "holder's name");
	UNIT_EQ_INT(h->waiters_now, 0, "nobody waits at the end");
	UNIT_CHECK(near(h->waiters_avg, 0.5), "half a waiter over the last second");
	UNIT_CHECK(near(h->rate_now, 1000), "1000 samples a second");
	UNIT_EQ_INT(h->nthreads, 3, "three threads");
	UNIT_CHECK(h->spark[GS_TOP_SPARK - 1] > 0.99 && h->spark[GS_TOP_SPARK - 3] > 0.99 &&
		   h->spark[GS_TOP_SPARK - 4] < 0, "sparkline: three seconds, full");

	char buf[512];
	gs_top_fmt_header(buf, sizeof buf, 0, v, GS_TOP_WIN_10S, info, 80);
	UNIT_CHECK(strstr(buf, "pid 42 ") && strstr(buf, "window: 10s") &&
		   strstr(buf, "Python 3.12.1"), "first header line");
	gs_top_fmt_header(buf, sizeof buf, 2, v, GS_TOP_WIN_1S, info, 80);
	UNIT_CHECK(!strncmp(buf, "last 60s ", 9) && strlen(buf) == 9 + GS_TOP_SPARK &&
		   !strcmp(buf + strlen(buf) - 3, "###"), "ASCII sparkline");
	gs_top_fmt_header(buf, sizeof buf, 2, v, GS_TOP_WIN_1S, info, 20);
	UNIT_EQ_INT(strlen(buf), 20, "sparkline cut to 20 columns");
	gs_top_fmt_header(buf, sizeof buf, 4, v, GS_TOP_WIN_1S, info, 80);
	UNIT_CHECK(strstr(buf, "101 alpha") && strstr(buf, "on CPU"), "holder line");
}

static void check_text(const struct gs_top_view *v)
{
	char buf[512];
	struct gs_top_layout l;
	gs_top_fmt_dur(buf, sizeof buf, 0);
	UNIT_EQ_STR(buf, "-", "no duration");
	gs_top_fmt_dur(buf, sizeof buf, 1500);
	UNIT_EQ_STR(buf, "2us", "microseconds");
	gs_top_fmt_dur(buf, sizeof buf, 12340 * 1000);
	UNIT_EQ_STR(buf, "12.3ms", "milliseconds");
	gs_top_fmt_dur(buf, sizeof buf, 999960 * 1000);
	UNIT_EQ_STR(buf, "1.00s", "rounds up into seconds, not 1000.0ms");
	UNIT_EQ_INT(gs_top_parse_window("10"), GS_TOP_WIN_10S, "-w 10");
	UNIT_EQ_INT(gs_top_parse_window("all"), GS_TOP_WIN_ALL, "-w all");
	UNIT_EQ_INT(gs_top_parse_window("5"), -1, "-w 5 refused");

	gs_top_layout(80, &l);
	UNIT_EQ_INT(l.detail_w, 0, "no DETAIL column on 80 columns");
	gs_top_fmt_colhead(buf, sizeof buf, &l);
	UNIT_CHECK(strlen(buf) <= 80, "column titles fit 80 columns");
	for (size_t i = 0; i < v->n; i++) {
		gs_top_fmt_row(buf, sizeof buf, &l, &v->rows[i], GS_TOP_WIN_1S);
		UNIT_CHECK(strlen(buf) <= 80, "row fits 80 columns");
	}
	gs_top_fmt_colhead(buf, sizeof buf, &l);
	UNIT_EQ_INT(l.col_w[GS_TOP_COL_HANDOFF], 0, "no HAND% on 80 columns");
	UNIT_CHECK(l.name_w >= 7 && !strstr(buf, "HAND%"), "80 columns keep 7 for NAME");
	gs_top_layout(82, &l);
	gs_top_fmt_colhead(buf, sizeof buf, &l);
	UNIT_CHECK(l.col_w[GS_TOP_COL_HANDOFF] == 5 && l.name_w == 7 && strlen(buf) <= 82 &&
		   strstr(buf, "WAIT% HAND%  RUN%"), "HAND% from 82 columns, after WAIT%");
	gs_top_layout(98, &l);
	UNIT_EQ_INT(l.detail_w, 0, "no DETAIL below 99 columns");
	gs_top_layout(99, &l);
	UNIT_CHECK(l.detail_w == 8, "DETAIL from 99 columns");
	gs_top_layout(120, &l);
	UNIT_CHECK(l.detail_w == 16 && l.name_w == 28,
		   "wide: DETAIL of 16, then NAME grows (comm and Python name)");
	gs_top_layout(136, &l);
	UNIT_CHECK(l.detail_w == 29 && l.name_w == 31, "136 columns: NAME 31, DETAIL grows");
	gs_top_layout(100, &l);
	UNIT_CHECK(l.detail_w == 9 && l.name_w == 15, "100 columns: DETAIL before a wider NAME");
	gs_top_layout(120, &l);
	gs_top_fmt_colhead(buf, sizeof buf, &l);
	UNIT_EQ_STR(buf, "    TID NAME                         STATE          HELD% OFFC% "
		    "WAIT% HAND%  RUN% IDLE% LONGEST WAITp99 DETAIL",
		    "column titles, named as in report");
	/* Where the screen highlights the sort column is where its title is. */
	for (int c = 0; c < GS_TOP_NCOL; c++) {
		const char *name = gs_top_col_name((enum gs_top_col)c);
		int left = c == GS_TOP_COL_NAME || c == GS_TOP_COL_STATE;
		int at = left ? l.col_x[c] : l.col_x[c] + l.col_w[c] - (int)strlen(name);
		UNIT_CHECK(!strncmp(buf + at, name, strlen(name)), name);
	}
	UNIT_EQ_INT(gs_top_parse_col("handoff"), GS_TOP_COL_HANDOFF, "-s handoff");
	UNIT_EQ_INT(gs_top_parse_col("hand%"), GS_TOP_COL_HANDOFF, "-s HAND%");
	UNIT_EQ_INT(gs_top_parse_col("OFFCPU"), GS_TOP_COL_OFFCPU, "-s OFFCPU");
	UNIT_EQ_INT(gs_top_parse_col("waitp50"), -1, "-s waitp50 refused");
	gs_top_fmt_row(buf, sizeof buf, &l, row(v, C), GS_TOP_WIN_1S);
	UNIT_CHECK(strstr(buf, "idle") && strstr(buf, "clock_nanosleep"),
		   "idle row names its syscall");
}

/* The merge rule: abutting hold intervals, on and off CPU, are one hold;
 * anything else ends it. */
static void check_holds(void)
{
	struct gs_hold h = { 0 }, ended;
	UNIT_EQ_INT(gs_hold_add(&h, GS_ROLE_HELD, 10, 20, &ended), 0, "first hold");
	UNIT_EQ_INT(gs_hold_add(&h, GS_ROLE_HELD_OFFCPU, 20, 35, &ended), 0,
		    "off CPU continues it");
	UNIT_CHECK(h.active && h.start_ns == 10 && h.end_ns == 35, "one hold 10..35");
	UNIT_CHECK(gs_hold_continues(&h, GS_ROLE_HELD, 35) &&
		   !gs_hold_continues(&h, GS_ROLE_WAITING, 35) &&
		   !gs_hold_continues(&h, GS_ROLE_HELD, 36), "what continues a hold");
	UNIT_EQ_INT(gs_hold_add(&h, GS_ROLE_WAITING, 35, 40, &ended), 1, "a wait ends it");
	UNIT_CHECK(ended.start_ns == 10 && ended.end_ns == 35 && !h.active, "the hold ended");
	UNIT_EQ_INT(gs_hold_add(&h, GS_ROLE_HELD, 40, 50, &ended), 0, "nothing to end");
	UNIT_EQ_INT(gs_hold_add(&h, GS_ROLE_HELD, 60, 70, NULL), 1,
		    "a hold that does not abut is another one");
	UNIT_CHECK(h.start_ns == 60 && h.end_ns == 70, "the new hold");
}

/* D: holds on CPU [0, 0.2) s, off CPU [0.2, 0.4), hands off [0.4, 0.5),
 * then idles; E idles for 70 s and never closes an interval. */
static void check_hand_off_and_long_intervals(void)
{
	static const pid_t de[] = { D, E };
	struct feed f = { .m = gs_windows_new() };
	struct gs_top_view v = { 0 };
	if (!UNIT_CHECK(f.m != NULL, "second model"))
		return;
	uint64_t t;
	for (t = 0; t <= 1000; t++) {
		enum gs_role r[2] = {
			t < 200 ? GS_ROLE_HELD : t < 400 ? GS_ROLE_HELD_OFFCPU
			: t < 500 ? GS_ROLE_HANDOFF : GS_ROLE_IDLE, GS_ROLE_IDLE };
		sample(&f, T0 + t * MS, 2, de, r, 1);
	}
	gs_windows_view(f.m, &v);
	const struct gs_top_figures *d = &row(&v, D)->w[GS_TOP_WIN_ALL];
	UNIT_EQ_INT(d->longest_hold_ns, 400 * MS, "on and off CPU: one 400 ms hold");
	UNIT_CHECK(near(d->pct[GS_TOP_SH_HELD], 40) && near(d->pct[GS_TOP_SH_OFFCPU], 20) &&
		   near(d->pct[GS_TOP_SH_HANDOFF], 10) && near(d->pct[GS_TOP_SH_IDLE], 50),
		   "D's shares: held 40 (off CPU 20), hand-off 10, idle 50");
	struct gs_top_layout l;
	char buf[256];
	gs_top_layout(120, &l);
	gs_top_fmt_row(buf, sizeof buf, &l, row(&v, D), GS_TOP_WIN_ALL);
	UNIT_CHECK(strstr(buf, " 40.0  20.0   0.0  10.0   0.0  50.0 400.0ms") != NULL,
		   "D's row shows HAND% between WAIT% and RUN%");

	static const enum gs_role idle2[] = { GS_ROLE_IDLE, GS_ROLE_IDLE };
	for (t = T0 + 1010 * MS; t <= T0 + 71 * S; t += 10 * MS)
		sample(&f, t, 2, de, idle2, 1);
	gs_windows_view(f.m, &v);
	const struct gs_top_row *e = row(&v, E);
	UNIT_CHECK(e->w[GS_TOP_WIN_1S].observed_ns == S &&
		   near(e->w[GS_TOP_WIN_1S].pct[GS_TOP_SH_IDLE], 100),
		   "an interval open for 71 s fills the last second");
	UNIT_EQ_INT(e->w[GS_TOP_WIN_10S].observed_ns, 10 * S, "and the last 10 s");
	UNIT_EQ_INT(e->w[GS_TOP_WIN_ALL].observed_ns, 71 * S, "and the session");
	UNIT_EQ_INT(row(&v, D)->w[GS_TOP_WIN_10S].longest_hold_ns, 0,
		    "D's hold ended long before the 10 s window");
	UNIT_EQ_INT(row(&v, D)->w[GS_TOP_WIN_ALL].longest_hold_ns, 400 * MS,
		    "D's hold is still the session's longest");

	/* A gap in the middle of an open interval is left out of every
	 * window it falls in. */
	t = T0 + 73 * S + 500 * MS;
	sample(&f, t, 2, de, idle2, 1);
	for (t += 10 * MS; t <= T0 + 75 * S; t += 10 * MS)
		sample(&f, t, 2, de, idle2, 1);
	gs_windows_view(f.m, &v);
	e = row(&v, E);
	UNIT_EQ_INT(e->w[GS_TOP_WIN_ALL].observed_ns, 71 * S + 1500 * MS,
		    "session: 71 s, then the 1.5 s after the 2.5 s gap");
	UNIT_EQ_INT(e->w[GS_TOP_WIN_1S].observed_ns, 1000 * MS, "the last second whole");
	UNIT_EQ_INT(e->w[GS_TOP_WIN_10S].observed_ns, 7500 * MS,
		    "the 10 s window without the gap");
	gs_top_view_free(&v);
	gs_windows_free(f.m);
}

/* -b ends its first line with the wall-clock time. */
static void check_wall(const struct gs_top_info *base)
{
	struct gs_top_info info = *base;
	struct gs_top_view v = { 0 };
	char buf[256];
	setenv("TZ", "UTC", 1);
	tzset();
	info.wall = (struct timespec){ .tv_sec = 1000000000, .tv_nsec = 987654321 };
	gs_wall_fmt(buf, sizeof buf, &info.wall);
	UNIT_EQ_STR(buf, "2001-09-09T01:46:40.987+00:00", "ISO 8601, milliseconds, offset");
	gs_top_fmt_header(buf, sizeof buf, 0, &v, GS_TOP_WIN_1S, &info, 0);
	UNIT_CHECK(!strncmp(buf, "gilsnoop top  pid 42 ", 21) &&
		   strlen(buf) > 31 && !strcmp(buf + strlen(buf) - 31,
					       "  2001-09-09T01:46:40.987+00:00"),
		   "the first line ends with it");
	setenv("TZ", "XYZ-5:30", 1);
	tzset();
	gs_wall_fmt(buf, sizeof buf, &info.wall);
	UNIT_EQ_STR(buf, "2001-09-09T07:16:40.987+05:30", "a local offset");
}

int main(void)
{
	struct feed f = { .m = gs_windows_new() };
	struct gs_top_view v = { 0 };
	struct gs_top_info info = { .pid = 42, .pyver = "3.12.1", .rate_hz = 1000 };
	if (!UNIT_CHECK(f.m != NULL, "model created"))
		return unit_done();

	scenario(&f);
	UNIT_EQ_INT(gs_windows_view(f.m, &v), 0, "view");
	check_windows(&v);
	check_header(&v, &info);
	check_text(&v);

	gs_top_view_sort(&v, GS_TOP_WIN_10S, GS_TOP_COL_WAIT);
	UNIT_CHECK(v.n == 3 && v.rows[0].tid == B && v.rows[1].tid == A &&
		   v.rows[2].tid == C, "sorted by WAIT% over 10 s: B, A, C");
	gs_top_view_sort(&v, GS_TOP_WIN_1S, GS_TOP_COL_STATE);
	UNIT_CHECK(v.rows[0].tid == A, "sorted by state: the holder first");

	/* C leaves: the next re-read of the thread list no longer has it. */
	static const pid_t ab[] = { A, B };
	static const enum gs_role held_idle[] = { GS_ROLE_HELD, GS_ROLE_IDLE };
	uint64_t t = T0 + 3001 * MS;
	sample(&f, t, 2, ab, held_idle, 2);
	gs_windows_view(f.m, &v);
	UNIT_CHECK(row(&v, C) && row(&v, C)->gone, "C shown as exited");
	UNIT_EQ_STR(gs_top_row_state(row(&v, C)), "exited", "state text of a gone thread");
	UNIT_EQ_INT(v.h.nthreads, 2, "two live threads");
	/* A hold still going on counts up to the window's end. */
	for (; t < T0 + 6 * S; t += 10 * MS)
		sample(&f, t, 2, ab, held_idle, 2);
	gs_windows_view(f.m, &v);
	/* The last sample is at 5.991 s: the 1 s window is [4, 5) s. */
	UNIT_EQ_INT(row(&v, A)->w[GS_TOP_WIN_1S].longest_hold_ns, 2500 * MS,
		    "A's hold since 2.5 s, to the end of the 1 s window");
	UNIT_EQ_INT(row(&v, A)->w[GS_TOP_WIN_ALL].longest_hold_ns, 3491 * MS,
		    "A's hold since 2.5 s, to the last sample");
	for (; t < T0 + 15 * S; t += 100 * MS)
		sample(&f, t, 2, ab, held_idle, t < T0 + 14 * S ? 2 : 3);
	gs_windows_view(f.m, &v);
	UNIT_CHECK(v.n == 2 && !row(&v, C), "C dropped 10 s after it left");

	/* A gap of more than a second (gilsnoop stopped) is charged to
	 * nobody. */
	uint64_t before = row(&v, A)->w[GS_TOP_WIN_ALL].observed_ns;
	t += 5 * S;
	sample(&f, t, 2, ab, held_idle, 3);
	gs_windows_view(f.m, &v);
	UNIT_EQ_INT(row(&v, A)->w[GS_TOP_WIN_ALL].observed_ns, before, "gap not charged");

	gs_windows_reset(f.m);
	gs_windows_view(f.m, &v);
	UNIT_EQ_INT(row(&v, B)->w[GS_TOP_WIN_ALL].observed_ns, 0, "reset forgets time");
	UNIT_EQ_INT(v.h.samples, 0, "reset forgets samples");
	UNIT_CHECK(v.h.util_session < 0, "no utilisation right after a reset");
	sample(&f, t + 10 * MS, 2, ab, held_idle, 3);
	gs_windows_view(f.m, &v);
	UNIT_EQ_INT(row(&v, A)->w[GS_TOP_WIN_ALL].observed_ns, 10 * MS, "counting again");
	UNIT_EQ_INT(row(&v, A)->w[GS_TOP_WIN_ALL].longest_hold_ns, 10 * MS,
		    "a hold in progress counts from the reset");

	gs_windows_exited(f.m);
	sample(&f, t + 20 * MS, 2, ab, held_idle, 3);
	gs_windows_view(f.m, &v);
	UNIT_CHECK(v.h.exited && row(&v, A)->w[GS_TOP_WIN_ALL].observed_ns == 10 * MS,
		   "after the exit the figures are frozen");

	gs_top_view_free(&v);
	gs_windows_free(f.m);

	check_holds();
	check_hand_off_and_long_intervals();
	check_wall(&info);
	return unit_done();
}
