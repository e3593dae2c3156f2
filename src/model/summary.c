#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "model/summary.h"

static unsigned hist_bucket(uint64_t v)
{
	if (v < GS_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - 4; /* log2(GS_HIST_SUB) */
	unsigned b = (shift + 1) * GS_HIST_SUB + (unsigned)((v >> shift) & (GS_HIST_SUB - 1));
	return b < GS_HIST_BUCKETS ? b : GS_HIST_BUCKETS - 1;
}

/* The upper bound of bucket b, so quantiles never understate latency. */
static uint64_t hist_value(unsigned b)
{
	if (b < GS_HIST_SUB)
		return b;
	unsigned shift = b / GS_HIST_SUB - 1;
	uint64_t base = (uint64_t)(GS_HIST_SUB + b % GS_HIST_SUB) << shift;
	return base + ((1ull << shift) - 1);
}

void gs_hist_add(struct gs_hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t gs_hist_quantile(const struct gs_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n + 0.5);
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < GS_HIST_BUCKETS; b++) {
		seen += h->b[b];
		if (seen >= want) {
			uint64_t v = hist_value(b);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void gs_summary_init(struct gs_summary *s)
{
	memset(s, 0, sizeof *s);
}

void gs_summary_free(struct gs_summary *s)
{
	free(s->t);
	s->t = NULL;
	s->n = s->cap = 0;
}

struct gs_thread_summary *gs_summary_thread(struct gs_summary *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct gs_thread_summary *v = realloc(s->t, cap * sizeof *v);
		if (!v)
			return NULL;
		s->t = v;
		s->cap = cap;
	}
	struct gs_thread_summary *t = &s->t[s->n++];
	memset(t, 0, sizeof *t);
	t->tid = tid;
	return t;
}

void gs_summary_name(struct gs_summary *s, pid_t tid, const char *name,
		     int is_python)
{
	struct gs_thread_summary *t = gs_summary_thread(s, tid);
	if (!t)
		return;
	snprintf(t->name, sizeof t->name, "%s", name ? name : "");
	t->is_python = is_python;
}

static int is_hold(enum gs_role r)
{
	return r == GS_ROLE_HELD || r == GS_ROLE_HELD_OFFCPU;
}

void gs_summary_add(struct gs_summary *s, const struct gs_interval *iv)
{
	struct gs_thread_summary *t = gs_summary_thread(s, iv->tid);
	if (!t || iv->role >= GS_ROLE_COUNT)
		return;
	uint64_t d = iv->end_ns - iv->start_ns;
	t->ns[iv->role] += d;
	t->samples[iv->role] += iv->samples;
	if (!t->first_ns || iv->start_ns < t->first_ns)
		t->first_ns = iv->start_ns;
	if (iv->end_ns > t->last_ns)
		t->last_ns = iv->end_ns;
	if (iv->role == GS_ROLE_WAITING)
		gs_hist_add(&t->wait, d);
	/* One hold may show as several intervals (on and off CPU). */
	if (is_hold(iv->role)) {
		if (t->hold_end_ns != iv->start_ns || !t->hold_end_ns)
			t->hold_start_ns = iv->start_ns;
		t->hold_end_ns = iv->end_ns;
		if (t->hold_end_ns - t->hold_start_ns > t->longest_hold_ns)
			t->longest_hold_ns = t->hold_end_ns - t->hold_start_ns;
	}
	if (!s->run.first_ns || iv->start_ns < s->run.first_ns)
		s->run.first_ns = iv->start_ns;
	if (iv->end_ns > s->run.last_ns)
		s->run.last_ns = iv->end_ns;
}

static void merge_into(struct gs_thread_summary *o, const struct gs_thread_summary *t)
{
	for (int r = 0; r < GS_ROLE_COUNT; r++) {
		o->ns[r] += t->ns[r];
		o->samples[r] += t->samples[r];
	}
	if (t->longest_hold_ns > o->longest_hold_ns)
		o->longest_hold_ns = t->longest_hold_ns;
	if (t->first_ns && (!o->first_ns || t->first_ns < o->first_ns))
		o->first_ns = t->first_ns;
	if (t->last_ns > o->last_ns)
		o->last_ns = t->last_ns;
	for (unsigned b = 0; b < GS_HIST_BUCKETS; b++)
		o->wait.b[b] += t->wait.b[b];
	o->wait.n += t->wait.n;
	if (t->wait.max > o->wait.max)
		o->wait.max = t->wait.max;
	o->is_python |= t->is_python;
}

void gs_summary_fold_gone(struct gs_summary *s, int (*alive)(void *ctx, pid_t tid),
			  void *ctx)
{
	if (s->n <= GS_SUMMARY_MAX_THREADS)
		return;
	/* First, so that no realloc moves rows under the loop. */
	if (!gs_summary_thread(s, 0))
		return;
	size_t oi = 0, k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == 0)
			oi = i;
	for (size_t i = 0; i < s->n; i++) {
		struct gs_thread_summary *t = &s->t[i];
		if (t->tid != 0 && !alive(ctx, t->tid)) {
			merge_into(&s->t[oi], t);
			s->folded++;
			continue;
		}
		if (k != i)
			s->t[k] = *t;
		if (i == oi)
			oi = k;
		k++;
	}
	s->n = k;
	snprintf(s->t[oi].name, sizeof s->t[oi].name, "(%zu exited)", s->folded);
}

uint64_t gs_summary_wall_ns(const struct gs_summary *s)
{
	return s->run.last_ns > s->run.first_ns ? s->run.last_ns - s->run.first_ns : 0;
}

double gs_summary_utilisation(const struct gs_summary *s)
{
	uint64_t wall = gs_summary_wall_ns(s), held = 0;
	for (size_t i = 0; i < s->n; i++)
		held += s->t[i].ns[GS_ROLE_HELD] + s->t[i].ns[GS_ROLE_HELD_OFFCPU];
	return wall ? (double)held / (double)wall : 0;
}

static uint64_t thread_total(const struct gs_thread_summary *t)
{
	uint64_t sum = 0;
	for (int r = 0; r < GS_ROLE_COUNT; r++)
		sum += t->ns[r];
	return sum;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static double secs(uint64_t ns) { return (double)ns / 1e9; }
static double ms(uint64_t ns) { return (double)ns / 1e6; }

static double achieved_hz(const struct gs_summary *s)
{
	uint64_t wall = gs_summary_wall_ns(s);
	return wall && s->run.samples > 1 ? (double)(s->run.samples - 1) / secs(wall) : 0;
}

void gs_summary_print_text(FILE *f, const struct gs_summary *s)
{
	uint64_t wall = gs_summary_wall_ns(s);
	char req[32];
	if (s->run.rate_hz > 0)
		snprintf(req, sizeof req, "%.0f Hz", s->run.rate_hz);
	else
		snprintf(req, sizeof req, "max");
	char ver[sizeof s->run.python_version];
	gs_text_clean(ver, sizeof ver, s->run.python_version);
	if (s->run.python_version[0] || s->run.pid)
		fprintf(f, "Python %s, pid %d\n", ver[0] ? ver : "?", (int)s->run.pid);
	if (s->run.counts_unknown)
		fprintf(f, "%.2f s (no sample counts in this file)%s%s\n", secs(wall),
			s->run.target_exited ? "; the target exited" : "",
			s->run.truncated ? "; the file was cut short" : "");
	else
		fprintf(f, "%.2f s, %llu samples (%.0f Hz achieved, %s requested)%s%s\n",
			secs(wall), (unsigned long long)s->run.samples, achieved_hz(s), req,
			s->run.target_exited ? "; the target exited" : "",
			s->run.truncated ? "; the file was cut short" : "");
	if (s->run.counts_unknown)
		fprintf(f, "GIL utilisation %.1f%% (no switch counts in this file)\n",
			100 * gs_summary_utilisation(s));
	else
		fprintf(f, "GIL utilisation %.1f%%, %llu switches (%.1f/s), %llu missed "
			"between samples\n", 100 * gs_summary_utilisation(s),
			(unsigned long long)s->run.switches,
			wall ? (double)s->run.switches / secs(wall) : 0,
			(unsigned long long)s->run.missed);
	fprintf(f, "%7s %-15s %6s %6s %6s %6s %6s %6s %8s %8s %8s %8s\n", "TID",
		"NAME", "HELD%", "OFFCPU", "WAIT%", "HANDOF", "RUN%", "IDLE%",
		"LONGEST", "WAITp50", "WAITp99", "WAITmax");
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_thread_summary *t = &s->t[i];
		uint64_t tot = thread_total(t);
		char name[16];
		/* Names come from the target (or a file): keep the row on
		 * one line and free of terminal controls. */
		gs_text_clean(name, sizeof name, t->name);
		fprintf(f, "%7d %-15s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1fms "
			"%6.2fms %6.2fms %6.2fms\n", (int)t->tid, name,
			pct(t->ns[GS_ROLE_HELD] + t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_WAITING], tot), pct(t->ns[GS_ROLE_HANDOFF], tot),
			pct(t->ns[GS_ROLE_RUNNING], tot), pct(t->ns[GS_ROLE_IDLE], tot),
			ms(t->longest_hold_ns), ms(gs_hist_quantile(&t->wait, 0.5)),
			ms(gs_hist_quantile(&t->wait, 0.99)), ms(t->wait.max));
	}
}

void gs_summary_print_json(FILE *f, const struct gs_summary *s)
{
	uint64_t wall = gs_summary_wall_ns(s);
	fputs("{\"pid\":", f);
	if (s->run.pid)
		fprintf(f, "%d", (int)s->run.pid);
	else
		fputs("null", f);
	fputs(",\"python_version\":", f);
	if (s->run.python_version[0])
		gs_json_str(f, s->run.python_version);
	else
		fputs("null", f);
	fprintf(f, ",\"duration_s\":%.6f,", secs(wall));
	if (s->run.counts_unknown)
		fputs("\"samples\":null,\"torn_samples\":null,\"rate_hz\":null,"
		      "\"achieved_rate_hz\":null,\"switches\":null,"
		      "\"switches_per_s\":null,\"missed_switches\":null,", f);
	else
		fprintf(f, "\"samples\":%llu,\"torn_samples\":%llu,"
			"\"rate_hz\":%.0f,\"achieved_rate_hz\":%.1f,\"switches\":%llu,"
			"\"switches_per_s\":%.2f,\"missed_switches\":%llu,",
			(unsigned long long)s->run.samples,
			(unsigned long long)s->run.torn, s->run.rate_hz, achieved_hz(s),
			(unsigned long long)s->run.switches,
			wall ? (double)s->run.switches / secs(wall) : 0,
			(unsigned long long)s->run.missed);
	fprintf(f, "\"gil_utilisation_pct\":%.3f,\"target_exited\":%s,\"truncated\":%s,"
		"\"threads\":[", 100 * gs_summary_utilisation(s),
		s->run.target_exited ? "true" : "false",
		s->run.truncated ? "true" : "false");
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_thread_summary *t = &s->t[i];
		uint64_t tot = thread_total(t);
		fprintf(f, "%s{\"tid\":%d,\"name\":", i ? "," : "", (int)t->tid);
		gs_json_str(f, t->name);
		fprintf(f, ",\"python\":%s,\"seconds\":%.6f,\"held_pct\":%.3f,"
			"\"held_offcpu_pct\":%.3f,\"waiting_pct\":%.3f,"
			"\"handoff_pct\":%.3f,\"running_pct\":%.3f,\"idle_pct\":%.3f,"
			"\"unknown_pct\":%.3f,\"longest_hold_ms\":%.3f,"
			"\"wait_p50_ms\":%.3f,\"wait_p99_ms\":%.3f,\"wait_max_ms\":%.3f,"
			"\"waits\":%llu}",
			t->is_python ? "true" : "false", secs(tot),
			pct(t->ns[GS_ROLE_HELD] + t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_WAITING], tot), pct(t->ns[GS_ROLE_HANDOFF], tot),
			pct(t->ns[GS_ROLE_RUNNING], tot), pct(t->ns[GS_ROLE_IDLE], tot),
			pct(t->ns[GS_ROLE_UNKNOWN], tot), ms(t->longest_hold_ns),
			ms(gs_hist_quantile(&t->wait, 0.5)),
			ms(gs_hist_quantile(&t->wait, 0.99)), ms(t->wait.max),
			(unsigned long long)t->wait.n);
	}
	fprintf(f, "]}\n");
}
