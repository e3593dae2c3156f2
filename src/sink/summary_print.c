/* Printing the summary (sink/summary_print.h). */
#include <stdio.h>
#include <string.h>

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
			secs(wall), (unsigned long long)s->run.samples,
			gs_summary_achieved_hz(s), req,
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
	/* NAME fits the longest name ("python3 (MainThread)": the comm
	 * and the Python name), between 15 and 31 bytes. */
	int name_w = 15;
	for (size_t i = 0; i < s->n; i++) {
		char name[32];
		gs_text_clean(name, sizeof name, s->t[i].name);
		if ((int)strlen(name) > name_w)
			name_w = (int)strlen(name);
	}
	fprintf(f, "%7s %-*s %6s %6s %6s %6s %6s %6s %8s %8s %8s %8s\n", "TID",
		name_w, "NAME", "HELD%", "OFFC%", "WAIT%", "HAND%", "RUN%", "IDLE%",
		"LONGEST", "WAITp50", "WAITp99", "WAITmax");
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_thread_summary *t = &s->t[i];
		uint64_t tot = thread_total(t);
		char name[32];
		/* Names come from the target (or a file): keep the row on
		 * one line and free of terminal controls. */
		gs_text_clean(name, sizeof name, t->name);
		fprintf(f, "%7d %-*s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1fms "
			"%6.2fms %6.2fms %6.2fms\n", (int)t->tid, name_w, name,
			pct(t->ns[GS_ROLE_HELD] + t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_HELD_OFFCPU], tot),
			pct(t->ns[GS_ROLE_WAITING], tot), pct(t->ns[GS_ROLE_HANDOFF], tot),
			pct(t->ns[GS_ROLE_RUNNING], tot), pct(t->ns[GS_ROLE_IDLE], tot),
			ms(t->longest_hold_ns), ms(gs_hist_quantile(&t->wait, 0.5)),
			ms(gs_hist_quantile(&t->wait, 0.99)), ms(t->wait.max));
	}
	gs_culprit_print_text(f, s);
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
		fprintf(f, "%s{\"tid\":%d,\"name\":", i ? "," : "", (int)t->tid);
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
	fputc(']', f);
	gs_culprit_print_json(f, s);
	fputs("}\n", f);
}
