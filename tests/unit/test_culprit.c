/* model/culprit.h and model/timeline.h on hand-made intervals: who
 * waited behind whom, the off-CPU groups, the longest holds and their
 * waiters, in the order intervals close; the timeline's columns. */
#include <string.h>

#include "model/culprit.h"
#include "model/timeline.h"
#include "unit.h"

#define MS 1000000ull

static struct gs_interval iv(pid_t tid, enum gs_role role, uint64_t s_ms, uint64_t e_ms,
			     long nr, const char *path, uint32_t stack)
{
	struct gs_interval v;
	memset(&v, 0, sizeof v);
	v.pid = 100;
	v.tid = tid;
	v.role = role;
	v.start_ns = s_ms * MS;
	v.end_ns = e_ms * MS;
	v.syscall_nr = nr;
	if (path)
		strncat(v.path, path, sizeof v.path - 1);
	v.stack = stack;
	return v;
}

static uint64_t behind(struct gs_culprit *c, pid_t w, pid_t h)
{
	size_t n;
	const struct gs_culprit_pair *p = gs_culprit_pairs(c, &n);
	for (size_t i = 0; i < n; i++)
		if (p[i].waiter == w && p[i].holder == h)
			return p[i].ns;
	return 0;
}

int main(void)
{
	struct gs_stacks *st = gs_stacks_new();
	const char *fa[] = { "flush (app.py:41)", "journal (app.py:60)" };
	uint32_t sa = gs_stacks_intern(st, fa, 2, NULL);
	UNIT_CHECK(sa != 0, "a stack interned");

	struct gs_culprit *c = gs_culprit_new(st);
	/* Thread 1 ("journal") holds 0-200 ms off CPU in read (0), then
	 * 200-210 on CPU: one hold of 210 ms.  Thread 2 ("worker") waits
	 * 5-200, holds 210-300 on CPU.  Thread 3 waits 100-310 (behind 1,
	 * then 2).  Intervals are fed in the order they close. */
	struct gs_interval v[] = {
		iv(2, GS_ROLE_RUNNING, 0, 5, -1, NULL, 0),
		iv(3, GS_ROLE_IDLE, 0, 100, 7, NULL, 0),
		iv(1, GS_ROLE_HELD_OFFCPU, 0, 200, 0, "/var/log/app.journal", sa),
		iv(2, GS_ROLE_WAITING, 5, 210, -1, NULL, 0),
		iv(1, GS_ROLE_HELD, 200, 210, -1, NULL, sa),
		iv(2, GS_ROLE_HELD, 210, 300, -1, NULL, 0),
		iv(1, GS_ROLE_IDLE, 210, 310, 7, NULL, 0),
		iv(3, GS_ROLE_WAITING, 100, 310, -1, NULL, 0),
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		gs_culprit_add(c, &v[i]);
	gs_culprit_finish(c);

	UNIT_EQ_INT((long long)behind(c, 2, 1), (long long)(205 * MS),
		    "worker waited 205 ms behind journal (the wait closed after the hold)");
	UNIT_EQ_INT((long long)behind(c, 3, 1), (long long)(110 * MS),
		    "thread 3 waited 110 ms behind journal");
	UNIT_EQ_INT((long long)behind(c, 3, 2), (long long)(90 * MS),
		    "thread 3 waited 90 ms behind worker (the hold closed before the wait)");
	UNIT_EQ_INT((long long)behind(c, 1, 2), 0, "journal never waited");

	size_t n;
	const struct gs_culprit_group *g = gs_culprit_groups(c, &n);
	if (UNIT_EQ_INT((long long)n, 1, "one off-CPU group")) {
		UNIT_EQ_INT(g[0].tid, 1, "journal's");
		UNIT_EQ_INT(g[0].syscall_nr, 0, "in read");
		UNIT_EQ_STR(g[0].path, "/var/log/app.journal", "on the journal");
		UNIT_EQ_STR(g[0].frame, "flush (app.py:41)", "at its innermost frame");
		UNIT_EQ_INT((long long)g[0].total_ns, (long long)(200 * MS), "200 ms");
		UNIT_EQ_INT((long long)g[0].count, 1, "once");
	}
	const struct gs_culprit_hold *h = gs_culprit_longest(c, &n);
	if (UNIT_EQ_INT((long long)n, 2, "two holds kept")) {
		UNIT_EQ_INT(h[0].tid, 1, "the longest is journal's");
		UNIT_EQ_INT((long long)(h[0].end_ns - h[0].start_ns), (long long)(210 * MS),
			    "on and off CPU parts merged into one 210 ms hold");
		UNIT_EQ_INT((long long)h[0].offcpu_ns, (long long)(200 * MS), "200 ms off CPU");
		UNIT_EQ_INT((long long)h[0].stack, sa, "with its stack");
		UNIT_EQ_INT((long long)h[0].nwaiters, 2, "two threads waited meanwhile");
		UNIT_EQ_INT((long long)h[0].waited_ns, (long long)((205 + 110) * MS),
			    "315 ms of waits overlap it");
		UNIT_EQ_INT(h[1].tid, 2, "then worker's");
		UNIT_EQ_INT((long long)h[1].nwaiters, 1, "one thread waited behind it");
	}
	const char *fr[4];
	UNIT_EQ_INT((long long)gs_culprit_frames(c, sa, fr, 4), 2, "two frames");
	gs_culprit_free(c);

	/* Timeline: 2 s of one thread holding, 1 ms columns doubled until
	 * the run fits in GS_TIMELINE_COLS. */
	struct gs_timeline t;
	UNIT_CHECK(!gs_timeline_init(&t, 100 * MS), "timeline");
	struct gs_interval a = iv(1, GS_ROLE_HELD, 1000, 1500, -1, NULL, sa);
	struct gs_interval b = iv(1, GS_ROLE_HELD_OFFCPU, 1500, 3000, 0, NULL, sa);
	struct gs_interval w = iv(2, GS_ROLE_WAITING, 999, 3000, -1, NULL, 0);
	gs_timeline_add(&t, &a);
	gs_timeline_add(&t, &b);
	gs_timeline_add(&t, &w);
	gs_timeline_finish(&t);
	UNIT_CHECK(t.ncols <= GS_TIMELINE_COLS && t.col_ns >= 2 * MS,
		   "columns widened to fit 2 s");
	uint64_t sum = 0;
	for (size_t i = 0; i < t.ncols; i++)
		sum += t.lane[0].ns[i][GS_ROLE_HELD] + t.lane[0].ns[i][GS_ROLE_HELD_OFFCPU];
	UNIT_EQ_INT((long long)sum, (long long)(2000 * MS), "no held time lost in merges");
	UNIT_EQ_INT(gs_timeline_role(&t, 0, (size_t)((a.start_ns - t.base_ns) / t.col_ns)),
		    GS_ROLE_HELD, "the column of 1 s held on CPU");
	UNIT_EQ_INT(gs_timeline_role(&t, 0, 0), GS_ROLE_UNKNOWN,
		    "the column of 999 ms (a wait started earlier) not seen");
	UNIT_EQ_INT(gs_timeline_role(&t, 0, t.ncols - 1), GS_ROLE_HELD_OFFCPU,
		    "last column off CPU");
	if (UNIT_EQ_INT((long long)t.nstalls, 2, "a hold and a wait past 100 ms")) {
		UNIT_EQ_INT((long long)(t.stalls[0].end_ns - t.stalls[0].start_ns),
			    (long long)(2001 * MS), "the wait first (longest)");
		UNIT_EQ_INT(t.stalls[1].role, GS_ROLE_HELD, "then the merged hold");
		UNIT_EQ_INT((long long)t.stalls[1].stack, sa, "with its stack");
	}
	UNIT_EQ_INT((long long)t.stacks[sa].ns[1], (long long)(1500 * MS),
		    "1.5 s held off CPU under the stack");
	gs_timeline_free(&t);
	gs_stacks_free(st);
	return unit_done();
}
