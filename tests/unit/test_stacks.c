/* model/stacks.h (interned stacks, stack-sample counts) and
 * model/flight.h (the stall flight recorder's windows), on synthetic
 * stacks and intervals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/flight.h"
#include "model/stacks.h"
#include "unit.h"

#define MS 1000000ull

static void test_intern(void)
{
	struct gs_stacks *s = gs_stacks_new();
	const char *a[] = { "f (a.py:3)", "main (a.py:9)" };
	const char *b[] = { "g (a.py:5)", "main (a.py:9)" };
	const char *a2[] = { "f (a.py:3)", "main (a.py:9)" };
	int is_new = 0;
	uint32_t ia = gs_stacks_intern(s, a, 2, &is_new);
	UNIT_EQ_INT(ia, 1, "the first stack is id 1");
	UNIT_EQ_INT(is_new, 1, "and new");
	uint32_t ib = gs_stacks_intern(s, b, 2, &is_new);
	UNIT_EQ_INT(ib, 2, "the next distinct stack is id 2");
	UNIT_EQ_INT(gs_stacks_intern(s, a2, 2, &is_new), ia,
		    "the same frames (other pointers) intern to the same id");
	UNIT_EQ_INT(is_new, 0, "and are not new");
	UNIT_EQ_INT(gs_stacks_intern(s, a, 1, NULL), 3, "a prefix is a stack of its own");
	UNIT_EQ_INT(gs_stacks_intern(s, a, 0, NULL), GS_STACK_NONE, "no frames: none");
	UNIT_EQ_INT((int)gs_stacks_depth(s, ib), 2, "depth");
	UNIT_EQ_STR(gs_stacks_frame(s, ib, 0), "g (a.py:5)", "innermost first");
	UNIT_CHECK(gs_stacks_frame(s, ib, 2) == NULL, "past the end: NULL");
	UNIT_CHECK(gs_stacks_frame(s, 99, 0) == NULL, "unknown id: NULL");
	UNIT_EQ_INT(gs_stacks_nframes(s), 3, "frame strings are shared between stacks");
	const uint32_t *ids;
	size_t n = gs_stacks_frame_ids(s, ib, &ids);
	UNIT_EQ_INT((int)n, 2, "frame ids of a stack");
	if (n == 2)
		UNIT_EQ_STR(gs_stacks_frame_name(s, ids[1]), "main (a.py:9)", "frame id names its string");

	/* Many stacks: the tables grow and every id still names its frames. */
	char buf[64];
	const char *one[1] = { buf };
	int ok = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof buf, "f%d (x.py:%d)", i, i);
		uint32_t id = gs_stacks_intern(s, one, 1, NULL);
		ok &= id == (uint32_t)(4 + i);
	}
	UNIT_CHECK(ok, "5000 more stacks get dense ids");
	UNIT_EQ_STR(gs_stacks_frame(s, 4 + 4321, 0), "f4321 (x.py:4321)", "found again after growth");
	UNIT_CHECK(gs_stacks_bytes(s) < GS_STACKS_MAX_BYTES, "within the bound");
	gs_stacks_free(s);

	/* The bound: a frame string that cannot fit is not kept. */
	s = gs_stacks_new();
	char *big = malloc(GS_STACKS_MAX_BYTES);
	memset(big, 'x', GS_STACKS_MAX_BYTES - 1);
	big[GS_STACKS_MAX_BYTES - 1] = 0;
	const char *bigf[1] = { big };
	UNIT_EQ_INT(gs_stacks_intern(s, bigf, 1, NULL), GS_STACK_NONE, "over the bound: none");
	UNIT_EQ_INT((int)gs_stacks_dropped(s), 1, "counted as dropped");
	UNIT_EQ_INT(gs_stacks_intern(s, a, 2, NULL), 1, "a small stack still fits");
	free(big);
	gs_stacks_free(s);
}

static void test_counts(void)
{
	struct gs_stack_counts c;
	memset(&c, 0, sizeof c);
	struct gs_stack_sample x = { 1, 10, 0, GS_ROLE_HELD, 1 };
	for (int i = 0; i < 1000; i++) {
		x.tid = 10 + i % 4;
		x.stack = 1 + (uint32_t)(i % 3);
		gs_stack_counts_add(&c, &x);
	}
	UNIT_EQ_INT((int)c.n, 12, "one entry per (thread, stack)");
	uint64_t sum = 0;
	for (size_t i = 0; i < c.n; i++)
		sum += c.v[i].count;
	UNIT_EQ_INT((int)sum, 1000, "counts add up");
	x.role = GS_ROLE_WAITING;
	gs_stack_counts_add(&c, &x);
	UNIT_EQ_INT((int)c.n, 13, "another role is another entry");
	gs_stack_counts_free(&c);
}

struct win {
	int begins;
	struct gs_flight_stall st;
	size_t nintervals;
	uint64_t min_start, max_end;
};

static void w_begin(void *ctx, const struct gs_flight_stall *st)
{
	struct win *w = ctx;
	w->begins++;
	w->st = *st;
	w->min_start = UINT64_MAX;
	w->max_end = 0;
	w->nintervals = 0;
}

static void w_interval(void *ctx, const struct gs_interval *iv)
{
	struct win *w = ctx;
	w->nintervals++;
	if (iv->start_ns < w->min_start)
		w->min_start = iv->start_ns;
	if (iv->end_ns > w->max_end)
		w->max_end = iv->end_ns;
}

static struct gs_interval iv_of(pid_t tid, enum gs_role role, uint64_t s, uint64_t e)
{
	struct gs_interval iv;
	memset(&iv, 0, sizeof iv);
	iv.tid = tid;
	iv.role = role;
	iv.start_ns = s;
	iv.end_ns = e;
	return iv;
}

static void test_flight(void)
{
	struct win w;
	memset(&w, 0, sizeof w);
	struct gs_flight_sink sink = { &w, w_begin, w_interval, NULL, NULL };
	/* --stall 200 --keep 1 */
	struct gs_flight *f = gs_flight_new(200 * MS, 1000 * MS, &sink);
	uint64_t t = 10000 * MS;
	/* 5 ms holds alternating between two threads for 3 s; thread 2
	 * waits 300 ms behind a 300 ms hold of thread 1 at t + 1.5 s. */
	uint64_t stall = t + 1500 * MS;
	for (uint64_t x = t; x < t + 3000 * MS; x += 5 * MS) {
		if (x >= stall && x < stall + 300 * MS) {
			if (x == stall) {
				struct gs_interval w2 = iv_of(2, GS_ROLE_WAITING, stall - 10 * MS,
							      stall + 300 * MS);
				struct gs_interval h = iv_of(1, GS_ROLE_HELD_OFFCPU, stall,
							     stall + 300 * MS);
				for (uint64_t y = stall; y < stall + 300 * MS; y += MS) {
					/* both seen while they last */
					struct gs_interval ho = h, wo = w2;
					ho.end_ns = wo.end_ns = y;
					gs_flight_open(f, &wo, y);
					gs_flight_open(f, &ho, y);
					gs_flight_tick(f, y, NULL, 0);
				}
				gs_flight_interval(f, &h);
				gs_flight_interval(f, &w2);
			}
			continue;
		}
		struct gs_interval a = iv_of(1 + (x / (5 * MS)) % 2, GS_ROLE_HELD, x, x + 5 * MS);
		struct gs_interval b = iv_of(2 - (x / (5 * MS)) % 2, GS_ROLE_WAITING, x, x + 5 * MS);
		gs_flight_interval(f, &a);
		gs_flight_interval(f, &b);
		gs_flight_tick(f, x + 5 * MS, NULL, 0);
	}
	gs_flight_finish(f, t + 3000 * MS, NULL, 0);
	UNIT_EQ_INT(w.begins, 1, "one stall: the waiter behind the hold joins it");
	UNIT_EQ_INT(w.st.tid, 1, "the stall is the hold's, not the waiter's");
	UNIT_EQ_INT((int)(w.st.dur_ns / MS), 300, "its length");
	UNIT_EQ_INT((int)((stall - w.st.from_ns) / MS), 1000, "window from SECONDS before");
	UNIT_EQ_INT((int)((w.st.to_ns - stall) / MS), 1300, "to SECONDS after its end");
	UNIT_EQ_INT((int)((w.min_start - t) / MS), 500, "intervals clipped at the window's start");
	UNIT_CHECK(w.max_end <= w.st.to_ns, "and at its end");
	UNIT_CHECK(w.nintervals > 400, "the window's intervals were kept");
	struct gs_flight_stats fs;
	gs_flight_stats(f, &fs);
	UNIT_EQ_INT((int)fs.stalls, 1, "stats count it");
	UNIT_CHECK(fs.bytes <= GS_FLIGHT_MAX_BYTES, "bounded memory");
	gs_flight_free(f);
}

int main(void)
{
	test_intern();
	test_counts();
	test_flight();
	return unit_done();
}
