/* top_model.h: the figures of `gilsnoop top` from synthetic samples whose
 * answers are known to the millisecond. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "model/top_model.h"
#include "unit.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (5 * S) /* any origin: the grid starts at the first sample */

enum { A = 101, B = 102, C = 103 };

struct feed {
	struct top_model *m;
	struct gs_thread_sample th[3];
	struct gs_sample smp;
};

static void sample(struct feed *f, uint64_t t, size_t n, const pid_t *tids,
		   const enum gs_role *roles, uint64_t gen)
{
	static const char *const names[] = { "alpha", "beta", "gamma" };
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
	if (top_model_feed(f->m, &f->smp))
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

static const struct top_row *row(const struct top_view *v, pid_t tid)
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

static void check_windows(const struct top_view *v)
{
	const struct top_row *a = row(v, A), *b = row(v, B), *c = row(v, C);
	if (!UNIT_CHECK(a && b && c, "a row per thread"))
		return;
	UNIT_EQ_STR(a->name, "alpha", "name from the sample");
	UNIT_EQ_INT(a->holder, 1, "A holds in the last sample");
	UNIT_EQ_INT(b->holder, 0, "B does not");

	/* 1 s: the last whole second, [2, 3) s. */
	const struct top_figures *f = &a->w[TOP_WIN_1S];
	UNIT_EQ_INT(f->observed_ns, S, "1s window covers one second");
	UNIT_CHECK(near(f->pct[TOP_SH_HELD], 50), "A held 50% of the last second");
	UNIT_CHECK(near(f->pct[TOP_SH_WAIT], 50), "A waited 50% of the last second");
	UNIT_EQ_INT(f->longest_hold_ns, 2 * S, "A's 2 s hold ended in the last second");
	UNIT_EQ_INT(f->wait_p99_ns, 500 * MS, "A's one wait: 500 ms");
	f = &b->w[TOP_WIN_1S];
	UNIT_CHECK(near(f->pct[TOP_SH_HELD], 50) && near(f->pct[TOP_SH_IDLE], 50),
		   "B held and idled half the last second each");
	UNIT_EQ_INT(f->longest_hold_ns, 500 * MS, "B held for 500 ms");
	UNIT_EQ_INT(f->wait_p99_ns, 2 * S, "B's 2 s wait ended in the last second");
	UNIT_CHECK(near(c->w[TOP_WIN_1S].pct[TOP_SH_IDLE], 100), "C idle");
	UNIT_EQ_INT(c->w[TOP_WIN_1S].wait_p99_ns, 0, "C never waited");
	UNIT_EQ_INT(c->w[TOP_WIN_1S].longest_hold_ns, 0, "C never held");

	/* 10 s and all: the whole 3 s. */
	for (int w = TOP_WIN_10S; w <= TOP_WIN_ALL; w++) {
		f = &a->w[w];
		UNIT_EQ_INT(f->observed_ns, 3 * S, "A seen for 3 s");
		UNIT_CHECK(near(f->pct[TOP_SH_HELD], 250.0 / 3), "A held 2.5 of 3 s");
		UNIT_EQ_INT(f->longest_hold_ns, 2 * S, "A's longest hold");
		f = &b->w[w];
		UNIT_CHECK(near(f->pct[TOP_SH_WAIT], 200.0 / 3), "B waited 2 of 3 s");
		UNIT_EQ_INT(f->wait_p99_ns, 2 * S, "B's wait p99");
		UNIT_EQ_INT(f->waits, 1, "B waited once");
	}
}

static void check_header(const struct top_view *v, const struct top_info *info)
{
	const struct top_header *h = &v->h;
	UNIT_CHECK(near(h->util_now, 1) && near(h->util_session, 1), "GIL always held");
	UNIT_EQ_INT(h->interval_us, 5000, "switch interval from the sample");
	UNIT_EQ_INT(h->holder_tid, A, "holder");
	UNIT_EQ_STR(h->holder_name, "alpha", "holder's name");
	UNIT_EQ_INT(h->waiters_now, 0, "nobody waits at the end");
	UNIT_CHECK(near(h->waiters_avg, 0.5), "half a waiter over the last second");
	UNIT_CHECK(near(h->rate_now, 1000), "1000 samples a second");
	UNIT_EQ_INT(h->nthreads, 3, "three threads");
	UNIT_CHECK(h->spark[TOP_SPARK - 1] > 0.99 && h->spark[TOP_SPARK - 3] > 0.99 &&
		   h->spark[TOP_SPARK - 4] < 0, "sparkline: three seconds, full");

	char buf[512];
	top_fmt_header(buf, sizeof buf, 0, v, TOP_WIN_10S, info, 80);
	UNIT_CHECK(strstr(buf, "pid 42 ") && strstr(buf, "window: 10s") &&
		   strstr(buf, "Python 3.12.1"), "first header line");
	top_fmt_header(buf, sizeof buf, 2, v, TOP_WIN_1S, info, 80);
	UNIT_CHECK(!strncmp(buf, "last 60s ", 9) && strlen(buf) == 9 + TOP_SPARK &&
		   !strcmp(buf + strlen(buf) - 3, "###"), "ASCII sparkline");
	top_fmt_header(buf, sizeof buf, 2, v, TOP_WIN_1S, info, 20);
	UNIT_EQ_INT(strlen(buf), 20, "sparkline cut to 20 columns");
	top_fmt_header(buf, sizeof buf, 4, v, TOP_WIN_1S, info, 80);
	UNIT_CHECK(strstr(buf, "101 alpha") && strstr(buf, "on CPU"), "holder line");
}

static void check_text(const struct top_view *v)
{
	char buf[512];
	struct top_layout l;
	top_fmt_dur(buf, sizeof buf, 0);
	UNIT_EQ_STR(buf, "-", "no duration");
	top_fmt_dur(buf, sizeof buf, 1500);
	UNIT_EQ_STR(buf, "2us", "microseconds");
	top_fmt_dur(buf, sizeof buf, 12340 * 1000);
	UNIT_EQ_STR(buf, "12.3ms", "milliseconds");
	top_fmt_dur(buf, sizeof buf, 999960 * 1000);
	UNIT_EQ_STR(buf, "1.00s", "rounds up into seconds, not 1000.0ms");
	UNIT_EQ_INT(top_parse_window("10"), TOP_WIN_10S, "-w 10");
	UNIT_EQ_INT(top_parse_window("all"), TOP_WIN_ALL, "-w all");
	UNIT_EQ_INT(top_parse_window("5"), -1, "-w 5 refused");

	top_layout(80, &l);
	UNIT_EQ_INT(l.detail_w, 0, "no DETAIL column on 80 columns");
	top_fmt_colhead(buf, sizeof buf, &l);
	UNIT_CHECK(strlen(buf) <= 80, "column titles fit 80 columns");
	for (size_t i = 0; i < v->n; i++) {
		top_fmt_row(buf, sizeof buf, &l, &v->rows[i], TOP_WIN_1S);
		UNIT_CHECK(strlen(buf) <= 80, "row fits 80 columns");
	}
	top_layout(120, &l);
	UNIT_CHECK(l.detail_w > 0 && l.name_w == 15, "wide: DETAIL and a 15-column name");
	top_fmt_row(buf, sizeof buf, &l, row(v, C), TOP_WIN_1S);
	UNIT_CHECK(strstr(buf, "idle") && strstr(buf, "clock_nanosleep"),
		   "idle row names its syscall");
}

int main(void)
{
	struct feed f = { .m = top_model_new() };
	struct top_view v = { 0 };
	struct top_info info = { .pid = 42, .pyver = "3.12.1", .rate_hz = 1000 };
	if (!UNIT_CHECK(f.m != NULL, "model created"))
		return unit_done();

	scenario(&f);
	UNIT_EQ_INT(top_model_view(f.m, &v), 0, "view");
	check_windows(&v);
	check_header(&v, &info);
	check_text(&v);

	top_view_sort(&v, TOP_WIN_10S, TOP_COL_WAIT);
	UNIT_CHECK(v.n == 3 && v.rows[0].tid == B && v.rows[1].tid == A &&
		   v.rows[2].tid == C, "sorted by WAIT% over 10 s: B, A, C");
	top_view_sort(&v, TOP_WIN_1S, TOP_COL_STATE);
	UNIT_CHECK(v.rows[0].tid == A, "sorted by state: the holder first");

	/* C leaves: the next re-read of the thread list no longer has it. */
	static const pid_t ab[] = { A, B };
	static const enum gs_role held_idle[] = { GS_ROLE_HELD, GS_ROLE_IDLE };
	uint64_t t = T0 + 3001 * MS;
	sample(&f, t, 2, ab, held_idle, 2);
	top_model_view(f.m, &v);
	UNIT_CHECK(row(&v, C) && row(&v, C)->gone, "C shown as exited");
	UNIT_EQ_STR(top_row_state(row(&v, C)), "exited", "state text of a gone thread");
	UNIT_EQ_INT(v.h.nthreads, 2, "two live threads");
	/* A hold still going on counts up to the window's end. */
	for (; t < T0 + 6 * S; t += 10 * MS)
		sample(&f, t, 2, ab, held_idle, 2);
	top_model_view(f.m, &v);
	/* The last sample is at 5.991 s: the 1 s window is [4, 5) s. */
	UNIT_EQ_INT(row(&v, A)->w[TOP_WIN_1S].longest_hold_ns, 2500 * MS,
		    "A's hold since 2.5 s, to the end of the 1 s window");
	UNIT_EQ_INT(row(&v, A)->w[TOP_WIN_ALL].longest_hold_ns, 3491 * MS,
		    "A's hold since 2.5 s, to the last sample");
	for (; t < T0 + 15 * S; t += 100 * MS)
		sample(&f, t, 2, ab, held_idle, t < T0 + 14 * S ? 2 : 3);
	top_model_view(f.m, &v);
	UNIT_CHECK(v.n == 2 && !row(&v, C), "C dropped 10 s after it left");

	/* A gap of more than a second (gilsnoop stopped) is charged to
	 * nobody. */
	uint64_t before = row(&v, A)->w[TOP_WIN_ALL].observed_ns;
	t += 5 * S;
	sample(&f, t, 2, ab, held_idle, 3);
	top_model_view(f.m, &v);
	UNIT_EQ_INT(row(&v, A)->w[TOP_WIN_ALL].observed_ns, before, "gap not charged");

	top_model_reset(f.m);
	top_model_view(f.m, &v);
	UNIT_EQ_INT(row(&v, B)->w[TOP_WIN_ALL].observed_ns, 0, "reset forgets time");
	UNIT_EQ_INT(v.h.samples, 0, "reset forgets samples");
	UNIT_CHECK(v.h.util_session < 0, "no utilisation right after a reset");
	sample(&f, t + 10 * MS, 2, ab, held_idle, 3);
	top_model_view(f.m, &v);
	UNIT_EQ_INT(row(&v, A)->w[TOP_WIN_ALL].observed_ns, 10 * MS, "counting again");
	UNIT_EQ_INT(row(&v, A)->w[TOP_WIN_ALL].longest_hold_ns, 10 * MS,
		    "a hold in progress counts from the reset");

	top_model_exited(f.m);
	sample(&f, t + 20 * MS, 2, ab, held_idle, 3);
	top_model_view(f.m, &v);
	UNIT_CHECK(v.h.exited && row(&v, A)->w[TOP_WIN_ALL].observed_ns == 10 * MS,
		   "after the exit the figures are frozen");

	top_view_free(&v);
	top_model_free(f.m);
	return unit_done();
}
