/* Printing the summary (sink/summary_print.h). */
#include <stdio.h>
#include <stdlib.h>

#include "core/json.h"
#include "sink/culprit_print.h"
#include "sink/summary_print.h"

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

static pid_t *process_list(const struct gs_summary *s, size_t *np);
static int has_folded(const struct gs_summary *s);
static void print_gils(FILE *f, const struct gs_proc_summary *p, uint64_t wall);
static void print_process(FILE *f, const struct gs_summary *s, pid_t pid);
static void print_rows(FILE *f, const struct gs_summary *s, int one, pid_t pid);

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
	size_t np = 0;
	pid_t *pids = process_list(s, &np);
	if (np > 1) {
		/* Each process has its own GIL: the figures are per process,
		 * in its section. */
		fprintf(f, "%.2f s, %zu processes, %llu samples in all (%s requested "
			"per process)%s%s\n", secs(wall), np - (pids && has_folded(s)),
			(unsigned long long)s->run.samples, req,
			s->run.target_exited ? "; the targets exited" : "",
			s->run.truncated ? "; the file was cut short" : "");
		for (size_t k = 0; k < np; k++)
			print_process(f, s, pids[k]);
		free(pids);
		gs_culprit_print_text(f, s);
		return;
	}
	free(pids);
	if (s->run.counts_unknown)
		fprintf(f, "%.2f s (no sample counts in this file)%s%s\n", secs(wall),
			s->run.target_exited ? "; the target exited" : "",
			s->run.truncated ? "; the file was cut short" : "");
	else
		fprintf(f, "%.2f s, %llu samples (%.0f Hz achieved, %s requested)%s%s\n",
			secs(wall), (unsigned long long)s->run.samples,
			gs_summary_achieved_hz(s), req,
			s->run.target_exited ? "; the target exited" : "",
			s->run.truncated ? "; the file was cut short" : "");
	if (s->run.counts_unknown)
		fprintf(f, "GIL utilisation %.1f%% (no switch counts in this file)\n",
			100 * gs_summary_utilisation(s));
	else if (s->nprocs == 1 && s->procs[0].ngils > 1)
		/* Subinterpreters with their own GIL: each GIL follows. */
		fprintf(f, "GIL utilisation %.1f%% (%zu GILs together), main GIL %llu "
			"switches (%.1f/s), %llu missed between samples\n",
			100 * gs_summary_utilisation(s), s->procs[0].ngils,
			(unsigned long long)s->run.switches,
			wall ? (double)s->run.switches / secs(wall) : 0,
			(unsigned long long)s->run.missed);
	else
		fprintf(f, "GIL utilisation %.1f%%, %llu switches (%.1f/s), %llu missed "
			"between samples\n", 100 * gs_summary_utilisation(s),
			(unsigned long long)s->run.switches,
			wall ? (double)s->run.switches / secs(wall) : 0,
			(unsigned long long)s->run.missed);
	if (s->nprocs == 1)
		print_gils(f, &s->procs[0], wall);
	print_rows(f, s, 0, 0);
	gs_culprit_print_text(f, s);
}

static int has_folded(const struct gs_summary *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->t[i].pid && !s->t[i].tid)
			return 1;
	return 0;
}

/* The processes of the summary: its process entries, then any pid only
 * its threads name (0 for the folded row comes out as its own). */
static pid_t *process_list(const struct gs_summary *s, size_t *np)
{
	pid_t *v = malloc((s->nprocs + s->n + 1) * sizeof *v);
	size_t n = 0;
	if (!v) {
		*np = 0;
		return NULL;
	}
	for (size_t i = 0; i < s->nprocs; i++)
		v[n++] = s->procs[i].pid;
	for (size_t i = 0; i < s->n; i++) {
		size_t k = 0;
		while (k < n && v[k] != s->t[i].pid)
			k++;
		if (k == n)
			v[n++] = s->t[i].pid;
	}
	*np = n;
	return v;
}

static const struct gs_proc_summary *proc_of(const struct gs_summary *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

/* A process with more than one GIL (subinterpreters with their own):
 * each one's utilisation, mean waiters and switches. */
static void print_gils(FILE *f, const struct gs_proc_summary *p, uint64_t wall)
{
	if (!p || p->ngils < 2)
		return;
	for (size_t i = 0; i < p->ngils; i++) {
		const struct gs_gil_summary *g = &p->gils[i];
		if (!g->seen)
			continue;
		fprintf(f, "  GIL %zu%s: utilisation %.1f%%, %.2f waiting on average", i,
			i ? "" : " (main)", pct(g->held_ns, wall),
			wall ? (double)g->wait_ns / (double)wall : 0);
		if (g->have_counts)
			fprintf(f, ", %llu switches, %llu missed", (unsigned long long)g->switches,
				(unsigned long long)g->missed);
		fputc('\n', f);
	}
}

static void print_process(FILE *f, const struct gs_summary *s, pid_t pid)
{
	const struct gs_proc_summary *p = proc_of(s, pid);
	uint64_t wall;
	double u = gs_summary_proc_utilisation(s, pid, &wall);
	char cmd[128];
	gs_text_clean(cmd, sizeof cmd, p ? (p->cmdline[0] ? p->cmdline : p->comm) : "");
	if (!pid)
		fprintf(f, "\nexited threads, folded\n");
	else
		fprintf(f, "\nprocess %d%s%s\n", (int)pid, cmd[0] ? ": " : "", cmd);
	if (pid && p && p->have_counts)
		fprintf(f, "GIL utilisation %.1f%%, %llu switches (%.1f/s), %llu missed "
			"between samples; %.2f s, %llu samples (%.0f Hz achieved)\n", 100 * u,
			(unsigned long long)p->switches,
			wall ? (double)p->switches / secs(wall) : 0,
			(unsigned long long)p->missed, secs(wall), (unsigned long long)p->samples,
			wall && p->samples > 1 ? (double)(p->samples - 1) / secs(wall) : 0);
	else if (pid)
		fprintf(f, "GIL utilisation %.1f%%\n", 100 * u);
	print_gils(f, p, wall);
	print_rows(f, s, 1, pid);
}

static void print_rows(FILE *f, const struct gs_summary *s, int one, pid_t pid)
{
	fprintf(f, "%7s %-15s %6s %6s %6s %6s %6s %6s %8s %8s %8s %8s\n", "TID",
		"NAME", "HELD%", "OFFC%", "WAIT%", "HAND%", "RUN%", "IDLE%",
		"LONGEST", "WAITp50", "WAITp99", "WAITmax");
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_thread_summary *t = &s->t[i];
		if (one && t->pid != pid)
			continue;
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
			(unsigned long long)s->run.torn, s->run.rate_hz, gs_summary_achieved_hz(s),
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
		fprintf(f, "%s{\"pid\":", i ? "," : "");
		if (t->pid)
			fprintf(f, "%d", (int)t->pid);
		else
			fputs("null", f);
		fprintf(f, ",\"tid\":%d,\"name\":", (int)t->tid);
		gs_json_str(f, t->name);
		fprintf(f, ",\"python\":%s,\"seconds\":%.6f,\"held_pct\":%.3f,"
			"\"held_offcpu_pct\":%.3f,\"waiting_pct\":%.3f,"
			"\"handoff_pct\":%.3f,\"running_pct\":%.3f,\"idle_pct\":%.3f,"
			"\"unknown_pct\":%.3f,\"longest_hold_ms\":%.3f,"
			"\"wait_p50_ms\":%.3f,\"wait_p99_ms\":%.3f,\"wait_max_ms\":%.3f,"
			"\"waits\":%llu}",
			t->is_python < 0 ? "null" : t->is_python ? "true" : "false", secs(tot),
			pct(t->ns[GS_ROLE_HELD] + t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_WAITING], tot), pct(t->ns[GS_ROLE_HANDOFF], tot),
			pct(t->ns[GS_ROLE_RUNNING], tot), pct(t->ns[GS_ROLE_IDLE], tot),
			pct(t->ns[GS_ROLE_UNKNOWN], tot), ms(t->longest_hold_ns),
			ms(gs_hist_quantile(&t->wait, 0.5)),
			ms(gs_hist_quantile(&t->wait, 0.99)), ms(t->wait.max),
			(unsigned long long)t->wait.n);
	}
	fputs("],\"processes\":[", f);
	size_t np = 0;
	pid_t *pids = process_list(s, &np);
	for (size_t k = 0, first = 1; k < np; k++) {
		if (!pids[k])
			continue;
		const struct gs_proc_summary *p = proc_of(s, pids[k]);
		uint64_t pw;
		double u = gs_summary_proc_utilisation(s, pids[k], &pw);
		fprintf(f, "%s{\"pid\":%d,\"comm\":", first ? "" : ",", (int)pids[k]);
		gs_json_str(f, p ? p->comm : "");
		fputs(",\"cmdline\":", f);
		gs_json_str(f, p ? p->cmdline : "");
		fprintf(f, ",\"duration_s\":%.6f,\"gil_utilisation_pct\":%.3f", secs(pw), 100 * u);
		if (p && p->have_counts)
			fprintf(f, ",\"samples\":%llu,\"switches\":%llu,\"missed_switches\":%llu}",
				(unsigned long long)p->samples, (unsigned long long)p->switches,
				(unsigned long long)p->missed);
		else
			fputs(",\"samples\":null,\"switches\":null,\"missed_switches\":null}", f);
		first = 0;
	}
	free(pids);
	fputc(']', f);
	gs_culprit_print_json(f, s);
	fputs("}\n", f);
}
