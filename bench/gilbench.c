/* gilbench: the sampler's speed, measured on a live target.
 *
 *   gilbench words PID SECONDS   GIL-word samples/s at max rate, next to a
 *                                bare process_vm_readv loop on the same
 *                                words (the physical limit), interleaved
 *   gilbench full PID SECONDS    full-classification samples/s at max
 *                                rate, with /proc reads per sample and the
 *                                share of each role per thread
 *   gilbench rate PID SECONDS HZ sample at HZ (max: as fast as possible)
 *                                and print the rate achieved
 *
 * Each prints one line of "key=value" pairs that bench/run.sh parses.
 * The samples are taken by the session driver record and top use
 * (include/cmd/session.h), so its pacing and target checks are in the
 * figures.  Not part of make check: build with `make bench/gilbench`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>

#include "cmd/commands.h"
#include "cmd/session.h"
#include "core/errors.h"
#include "sample/sampler.h"
#include "runtime/target.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The same words the sampler reads, in a loop with nothing else. */
static double bare_loop(const struct gs_target *t, double secs)
{
	const struct gs_gil_addrs *a = &t->gil;
	uint64_t lo = a->locked < a->last_holder ? a->locked : a->last_holder;
	if (a->switch_number < lo)
		lo = a->switch_number;
	uint64_t hi = a->locked + 4;
	if (a->last_holder + 8 > hi)
		hi = a->last_holder + 8;
	if (a->switch_number + 8 > hi)
		hi = a->switch_number + 8;
	if (hi - lo > 4096)
		hi = lo + 8; /* 3.6: words apart; read one */
	static unsigned char buf[4096];
	struct iovec l = { buf, hi - lo }, r = { (void *)(uintptr_t)lo, hi - lo };
	uint64_t n = 0;
	double start = now_s(), end = start + secs, t1;
	do {
		for (int i = 0; i < 256; i++)
			if (process_vm_readv(t->pid, &l, 1, &r, 1, 0) < 0)
				return -1;
		n += 256;
	} while ((t1 = now_s()) < end);
	return (double)n / (t1 - start);
}

struct counts {
	uint64_t role[GS_ROLE_COUNT];
};

/* Sample at rate for secs through the session; fn sees every sample. */
static int session_run(struct gs_session *ss, double rate, double secs,
		       int (*fn)(void *, struct gs_session_target *, const struct gs_sample *),
		       void *ctx)
{
	struct gs_session_hooks h = { ctx, fn, NULL };
	gs_session_pace(ss, rate, secs);
	if (gs_session_run(ss, &h))
		return -1;
	if (ss->stop == GS_STOP_ENDED)
		return gs_fail(GS_ENOPROC, "%s", ss->targets[0]->why), -1;
	return 0;
}

static double sampler_loop(struct gs_session *ss, double rate, double secs,
			   struct gs_sampler_stats *st)
{
	struct gs_sampler *s = ss->targets[0]->sampler;
	struct gs_sampler_stats a, b;
	gs_sampler_stats(s, &a);
	double start = now_s();
	if (session_run(ss, rate, secs, NULL, NULL))
		return -1;
	double t1 = now_s();
	gs_sampler_stats(s, &b);
	st->samples = b.samples - a.samples;
	st->proc_reads = b.proc_reads - a.proc_reads;
	st->switches = b.switches - a.switches;
	st->missed = b.missed - a.missed;
	st->torn = b.torn - a.torn;
	st->rescans = b.rescans - a.rescans;
	return (double)st->samples / (t1 - start);
}

static int usage(void)
{
	fprintf(stderr, "usage: gilbench words|full PID SECONDS\n"
			"       gilbench rate PID SECONDS HZ|max\n");
	return 2;
}

static int roles_fn(void *ctx, struct gs_session_target *tg, const struct gs_sample *smp)
{
	(void)tg;
	struct counts *c = ctx;
	for (size_t i = 0; i < smp->nthreads; i++)
		c[i < 64 ? i : 63].role[smp->threads[i].role]++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	const char *mode = argv[1];
	pid_t pid = atoi(argv[2]);
	double secs = atof(argv[3]);
	struct gs_session ss;

	gs_session_init(&ss, 0, 0);
	if (gs_session_attach(&ss, pid) || gs_session_start(&ss))
		return gs_report_error();
	if (!ss.targets[0]->sampler)
		return gs_fail(GS_ENOPROC, "%s", ss.targets[0]->why), gs_report_error();
	const struct gs_target *t = &ss.targets[0]->t;
	struct gs_sampler *s = ss.targets[0]->sampler;
	struct gs_sampler_stats st;
	memset(&st, 0, sizeof st);

	if (!strcmp(mode, "words")) {
		/* Interleave the two so that the machine's noise hits both. */
		double bare = 0, words = 0;
		int rounds = 4;
		gs_sampler_set_words_only(s, 1);
		for (int i = 0; i < rounds; i++) {
			double b = bare_loop(t, secs / (2 * rounds));
			double w = sampler_loop(&ss, 0, secs / (2 * rounds), &st);
			if (b < 0 || w < 0)
				return gs_report_error();
			bare += b / rounds;
			words += w / rounds;
		}
		printf("mode=words bare_per_s=%.0f words_per_s=%.0f ratio=%.3f\n",
		       bare, words, words / bare);
	} else if (!strcmp(mode, "full")) {
		static struct counts c[64];
		struct gs_sampler_stats a, b;
		gs_sampler_stats(s, &a);
		double start = now_s();
		if (session_run(&ss, 0, secs, roles_fn, c))
			return gs_report_error();
		double t1 = now_s();
		gs_sampler_stats(s, &b);
		uint64_t n = b.samples - a.samples;
		printf("mode=full samples_per_s=%.0f proc_reads_per_sample=%.3f "
		       "switches=%llu missed=%llu torn=%llu rescans=%llu\n",
		       (double)n / (t1 - start),
		       n ? (double)(b.proc_reads - a.proc_reads) / (double)n : 0,
		       (unsigned long long)(b.switches - a.switches),
		       (unsigned long long)(b.missed - a.missed),
		       (unsigned long long)(b.torn - a.torn),
		       (unsigned long long)(b.rescans - a.rescans));
		for (int i = 0; i < 64; i++) {
			uint64_t tot = 0;
			for (int r = 0; r < GS_ROLE_COUNT; r++)
				tot += c[i].role[r];
			if (!tot)
				continue;
			printf("  thread#%d", i);
			for (int r = 0; r < GS_ROLE_COUNT; r++)
				if (c[i].role[r])
					printf(" %s=%.1f%%", gs_role_name((enum gs_role)r),
					       100.0 * (double)c[i].role[r] / (double)tot);
			printf("\n");
		}
	} else if (!strcmp(mode, "rate") && argc >= 5) {
		double hz = gs_parse_rate(argv[4]);
		if (hz < 0)
			return usage();
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		double got = sampler_loop(&ss, hz, secs, &st);
		getrusage(RUSAGE_SELF, &r1);
		if (got < 0)
			return gs_report_error();
		double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
				      r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
			     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
				      r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) * 1e-6;
		printf("mode=rate requested=%s samples_per_s=%.0f proc_reads_per_sample=%.3f "
		       "cpu_share=%.4f cpu_us_per_sample=%.1f\n",
		       argv[4], got, st.samples ? (double)st.proc_reads / (double)st.samples : 0,
		       cpu / secs, st.samples ? cpu * 1e6 / (double)st.samples : 0);
	} else {
		return usage();
	}
	gs_session_free(&ss);
	return 0;
}
