/* gs_intervals (include/model/intervals.h): samples in, per-thread
 * intervals out, from synthetic samples.  Also gs_parse_rate
 * (include/cmd/commands.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "model/intervals.h"
#include "sample/sampler.h"
#include "unit.h"

#define MAXIV 4096

struct got {
	struct gs_interval iv[MAXIV];
	size_t n;
	size_t short_closed;   /* intervals of tids > 640 */
	int bad_order;         /* an interval ended before it started */
	pid_t thread_tid[64];
	int thread_py[64];
	char thread_name[64][16];
	size_t nthreads;
};

static void on_thread(void *ctx, pid_t pid, pid_t tid, const char *name,
		      int is_python)
{
	struct got *g = ctx;
	(void)pid;
	if (g->nthreads < 64) {
		snprintf(g->thread_name[g->nthreads], sizeof g->thread_name[0], "%s", name);
		g->thread_tid[g->nthreads] = tid;
		g->thread_py[g->nthreads++] = is_python;
	}
}

static void on_interval(void *ctx, const struct gs_interval *iv)
{
	struct got *g = ctx;
	if (iv->end_ns < iv->start_ns)
		g->bad_order = 1;
	if (iv->tid > 640)
		g->short_closed++;
	if (g->n < MAXIV)
		g->iv[g->n++] = *iv;
}

/* Feed one sample of process pid: roles[i] for tids[i], at t_ns. */
static void feed_pid(struct gs_intervals *iv, pid_t pid, uint64_t seq, uint64_t t_ns,
		     uint64_t gen, const pid_t *tids, const enum gs_role *roles, size_t n)
{
	struct gs_thread_sample ts[64];
	struct gs_sample smp;
	memset(&smp, 0, sizeof smp);
	memset(ts, 0, sizeof ts);
	for (size_t i = 0; i < n; i++) {
		ts[i].tid = tids[i];
		ts[i].tstate = tids[i] % 2 ? 0x1000 * (uint64_t)tids[i] : 0;
		ts[i].role = roles[i];
		ts[i].syscall_nr = GS_SYSCALL_RUNNING;
		ts[i].name = "t";
	}
	smp.pid = pid;
	smp.t_ns = t_ns;
	smp.seq = seq;
	smp.generation = gen;
	smp.nthreads = n;
	smp.threads = ts;
	gs_intervals_feed(iv, &smp);
}

static void feed(struct gs_intervals *iv, uint64_t seq, uint64_t t_ns, uint64_t gen,
		 const pid_t *tids, const enum gs_role *roles, size_t n)
{
	feed_pid(iv, 0, seq, t_ns, gen, tids, roles, n);
}

static uint64_t total_ns(const struct got *g, pid_t tid, enum gs_role r)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->iv[i].tid == tid && g->iv[i].role == r)
			sum += g->iv[i].end_ns - g->iv[i].start_ns;
	return sum;
}

static void test_basic(void)
{
	static struct got g;
	struct gs_interval_sink sink = { &g, on_thread, on_interval };
	struct gs_intervals *iv = gs_intervals_new(&sink);
	pid_t tids[2] = { 11, 12 };
	enum gs_role a[2] = { GS_ROLE_HELD, GS_ROLE_WAITING };
	enum gs_role b[2] = { GS_ROLE_WAITING, GS_ROLE_HELD };
	enum gs_role u[2] = { GS_ROLE_UNKNOWN, GS_ROLE_UNKNOWN };

	memset(&g, 0, sizeof g);
	UNIT_CHECK(iv != NULL, "gs_intervals_new");
	/* 11 holds for samples 1-3, an unknown sample 4 extends it, then
	 * 12 holds from sample 5. */
	feed(iv, 1, 1000, 1, tids, a, 2);
	feed(iv, 2, 2000, 1, tids, a, 2);
	feed(iv, 3, 3000, 1, tids, a, 2);
	feed(iv, 4, 4000, 1, tids, u, 2);
	feed(iv, 5, 5000, 1, tids, b, 2);
	UNIT_EQ_INT((long long)g.nthreads, 2, "each thread announced once");
	UNIT_EQ_INT(g.thread_py[0], 1, "tid 11 has a thread state: python");
	UNIT_EQ_INT(g.thread_py[1], 0, "tid 12 has none: native");
	UNIT_EQ_INT((long long)g.n, 2, "two intervals closed at the switch");
	UNIT_EQ_INT((long long)total_ns(&g, 11, GS_ROLE_HELD), 4000,
		    "the hold runs from its first sample to the first sample of another role");
	UNIT_EQ_INT((long long)total_ns(&g, 12, GS_ROLE_WAITING), 4000,
		    "so does the wait, unknown sample included");
	UNIT_EQ_INT((long long)g.iv[0].samples, 4, "samples counted, unknown included");
	const struct gs_interval *open = gs_intervals_open(iv, 0, 12);
	UNIT_CHECK(open && open->role == GS_ROLE_HELD && open->start_ns == 5000,
		   "the open interval of 12 is its hold from 5000");
	UNIT_CHECK(gs_intervals_open(iv, 0, 99) == NULL, "no open interval for an unknown tid");
	gs_intervals_finish(iv, 7000);
	UNIT_EQ_INT((long long)total_ns(&g, 12, GS_ROLE_HELD), 2000, "finish closes at end_ns");
	UNIT_EQ_INT((long long)total_ns(&g, 11, GS_ROLE_WAITING), 2000, "for every thread");
	gs_intervals_free(iv);
}

/* Threads come and go: a thread missing after a rescan closes at the
 * last sample that saw it, and the table does not keep it. */
static void test_churn(void)
{
	static struct got g;
	struct gs_interval_sink sink = { &g, on_thread, on_interval };
	struct gs_intervals *iv = gs_intervals_new(&sink);
	memset(&g, 0, sizeof g);
	uint64_t seq = 0, t = 0, gen = 0;
	/* 2000 generations of 20 threads each, half replaced each time; tids
	 * chosen to collide in the hash table. */
	for (int round = 0; round < 2000; round++) {
		pid_t tids[20];
		enum gs_role roles[20];
		for (int i = 0; i < 20; i++) {
			tids[i] = (pid_t)(1 + (i < 10 ? i * 64 : (round * 10 + i) * 64));
			roles[i] = (round + i) % 3 ? GS_ROLE_IDLE : GS_ROLE_RUNNING;
		}
		gen++;
		for (int k = 0; k < 3; k++)
			feed(iv, ++seq, t += 1000, gen, tids, roles, 20);
	}
	UNIT_CHECK(!g.bad_order, "no interval ends before it starts");
	/* 1999 generations of 10 replaced threads closed before the last. */
	UNIT_EQ_INT((long long)g.short_closed, 19990,
		    "every short-lived thread's interval is closed when it goes");
	const struct gs_interval *o = gs_intervals_open(iv, 0, 1);
	UNIT_CHECK(o != NULL, "a long-lived thread keeps its open interval");
	gs_intervals_finish(iv, t + 1000);
	gs_intervals_free(iv);
}

/* Two processes may have threads of the same tid, and one process's new
 * thread list says nothing about the other's threads. */
static void test_two_processes(void)
{
	static struct got g;
	struct gs_interval_sink sink = { &g, on_thread, on_interval };
	struct gs_intervals *iv = gs_intervals_new(&sink);
	pid_t a[2] = { 100, 7 }, b[1] = { 100 };
	enum gs_role ra[2] = { GS_ROLE_HELD, GS_ROLE_IDLE }, rb[1] = { GS_ROLE_WAITING };
	memset(&g, 0, sizeof g);
	feed_pid(iv, 100, 1, 1000, 1, a, ra, 2);
	feed_pid(iv, 200, 1, 1100, 1, b, rb, 1);
	feed_pid(iv, 100, 2, 2000, 1, a, ra, 2);
	feed_pid(iv, 200, 2, 2100, 1, b, rb, 1);
	UNIT_EQ_INT((long long)g.nthreads, 3, "tid 100 of each process announced apart");
	const struct gs_interval *x = gs_intervals_open(iv, 100, 100);
	const struct gs_interval *y = gs_intervals_open(iv, 200, 100);
	UNIT_CHECK(x && x->role == GS_ROLE_HELD && x->pid == 100 && x->start_ns == 1000,
		   "process 100's tid 100 holds from 1000");
	UNIT_CHECK(y && y->role == GS_ROLE_WAITING && y->pid == 200 && y->start_ns == 1100,
		   "process 200's tid 100 waits from 1100");
	/* Process 200 rescans (a new generation) without tid 7: that is
	 * process 100's thread, and stays open. */
	feed_pid(iv, 200, 3, 3100, 2, b, rb, 1);
	UNIT_EQ_INT((long long)g.n, 0, "nothing closed by the other process's rescan");
	UNIT_CHECK(gs_intervals_open(iv, 100, 7) != NULL, "process 100's tid 7 still open");
	UNIT_CHECK(gs_intervals_open(iv, 200, 7) == NULL, "process 200 has no tid 7");
	gs_intervals_finish(iv, 4000);
	UNIT_EQ_INT((long long)g.n, 3, "finish closes every process's intervals");
	gs_intervals_free(iv);
}

/* A thread the sampler saw renamed (name_gen moved) is announced again,
 * with its new name, and only then: its interval goes on. */
static void test_rename(void)
{
	static struct got g;
	struct gs_interval_sink sink = { &g, on_thread, on_interval };
	struct gs_intervals *iv = gs_intervals_new(&sink);
	struct gs_thread_sample ts = { .tid = 21, .tstate = 0x5000, .role = GS_ROLE_HELD,
				       .syscall_nr = GS_SYSCALL_RUNNING, .name = "old" };
	struct gs_sample smp = { .seq = 1, .t_ns = 1000, .generation = 1,
				 .nthreads = 1, .threads = &ts };
	memset(&g, 0, sizeof g);
	gs_intervals_feed(iv, &smp);
	smp.seq = 2; smp.t_ns = 2000;
	gs_intervals_feed(iv, &smp);
	UNIT_EQ_INT((long long)g.nthreads, 1, "announced once while its name stands");
	ts.name = "new";
	ts.name_gen = 1;
	smp.seq = 3; smp.t_ns = 3000;
	gs_intervals_feed(iv, &smp);
	smp.seq = 4; smp.t_ns = 4000;
	gs_intervals_feed(iv, &smp);
	if (UNIT_EQ_INT((long long)g.nthreads, 2, "announced again once, when renamed")) {
		UNIT_EQ_INT(g.thread_tid[1], 21, "the same tid");
		UNIT_EQ_STR(g.thread_name[1], "new", "with the new name");
	}
	UNIT_EQ_INT((long long)g.n, 0, "a rename does not cut the interval");
	gs_intervals_finish(iv, 5000);
	UNIT_EQ_INT((long long)total_ns(&g, 21, GS_ROLE_HELD), 4000, "one hold over the rename");
	gs_intervals_free(iv);
}

static void test_parse_rate(void)
{
	UNIT_CHECK(gs_parse_rate("max") == 0, "max is 0 (as fast as possible)");
	UNIT_CHECK(gs_parse_rate("1000") == 1000, "1000");
	UNIT_CHECK(gs_parse_rate("5k") == 5000, "5k");
	UNIT_CHECK(gs_parse_rate("2.5kHz") == 2500, "2.5kHz");
	UNIT_CHECK(gs_parse_rate("100hz") == 100, "100hz");
	UNIT_CHECK(gs_parse_rate("0") < 0, "0 is refused (use max)");
	UNIT_CHECK(gs_parse_rate("-5") < 0, "negative refused");
	UNIT_CHECK(gs_parse_rate("fast") < 0, "words refused");
	UNIT_CHECK(gs_parse_rate("1e9") < 0, "absurd rates refused");
	UNIT_CHECK(gs_parse_rate("") < 0, "empty refused");
	UNIT_CHECK(gs_parse_rate("nan") < 0, "nan refused");
}

int main(void)
{
	test_basic();
	test_churn();
	test_two_processes();
	test_rename();
	test_parse_rate();
	return unit_done();
}
