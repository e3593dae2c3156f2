/* Printing who made the others wait (sink/culprit_print.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "model/culprit.h"
#include "proc/taskstat.h"
#include "sink/culprit_print.h"

#define STACK_MAX 64   /* frames printed per stack */
#define BEHIND_MAX 4   /* holders printed per waiter */

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static const struct gs_thread_summary *thread(const struct gs_summary *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	return NULL;
}

static uint64_t thread_total(const struct gs_thread_summary *t)
{
	uint64_t sum = 0;
	for (int r = 0; t && r < GS_ROLE_COUNT; r++)
		sum += t->ns[r];
	return sum;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "journal (4242)", cleaned for a terminal. */
static const char *who(char *buf, size_t n, const struct gs_summary *s, pid_t tid)
{
	const struct gs_thread_summary *t = thread(s, tid);
	char name[64];
	/* A thread gone from the table was folded into its exited row. */
	gs_text_clean(name, sizeof name, t && t->name[0] ? t->name
		      : !t && s->folded ? "exited" : "?");
	snprintf(buf, n, "%s (%d)", name, (int)tid);
	return buf;
}

static const char *name_of(const struct gs_summary *s, pid_t tid)
{
	const struct gs_thread_summary *t = thread(s, tid);
	return t ? t->name : "";
}

/* "read(/tmp/x) wchan=pipe_read", "" when nothing is known. */
static void where(char *buf, size_t n, long nr, const char *path, const char *wchan)
{
	char p[256], w[64], sc[32];
	const char *name = nr >= 0 ? gs_syscall_name(nr) : NULL;
	if (!name && nr >= 0)
		snprintf(sc, sizeof sc, "syscall %ld", nr);
	else
		snprintf(sc, sizeof sc, "%s", name ? name : "");
	gs_text_clean(p, sizeof p, path);
	gs_text_clean(w, sizeof w, wchan);
	snprintf(buf, n, "%s%s%s%s%s%s", sc, p[0] ? "(" : "", p, p[0] ? ")" : "",
		 w[0] ? (sc[0] || p[0] ? " wchan=" : "wchan=") : "", w);
}

/* The waiter that waited behind holder tid longest, and how long. */
static pid_t top_waiter(const struct gs_culprit_pair *p, size_t np, pid_t pid,
			pid_t holder, uint64_t *ns)
{
	pid_t best = 0;
	*ns = 0;
	for (size_t i = 0; i < np; i++)
		if (p[i].pid == pid && p[i].holder == holder && p[i].ns > *ns) {
			*ns = p[i].ns;
			best = p[i].waiter;
		}
	return best;
}

void gs_culprit_verdict(char *buf, size_t n, const struct gs_summary *s)
{
	struct gs_culprit *c = s->culprit;
	size_t ng, np;
	char a[96], b[96], w[384], fr[GS_CULPRIT_FRAME_MAX];
	uint64_t wall = gs_summary_wall_ns(s), wns;
	buf[0] = 0;
	if (!c || !n)
		return;
	gs_culprit_finish(c);
	const struct gs_culprit_group *g = gs_culprit_groups(c, &ng);
	const struct gs_culprit_pair *p = gs_culprit_pairs(c, &np);
	if (ng && !g[0].other && g[0].total_ns) {
		where(w, sizeof w, g[0].syscall_nr, g[0].path, g[0].wchan);
		gs_text_clean(fr, sizeof fr, g[0].frame);
		int k = snprintf(buf, n, "%s held the GIL off-CPU %.1f%% of the time%s%s%s%s",
				 who(a, sizeof a, s, g[0].tid), pct(g[0].total_ns, wall),
				 w[0] ? " in " : "", w, fr[0] ? " at " : "", fr);
		pid_t wt = top_waiter(p, np, g[0].pid, g[0].tid, &wns);
		if (wt && k > 0 && (size_t)k < n)
			snprintf(buf + k, n - (size_t)k, "; %s waited behind it %.0f%% of "
				 "its time", who(b, sizeof b, s, wt),
				 pct(wns, thread_total(thread(s, wt))));
		return;
	}
	/* No off-CPU hold: the largest waited-behind pair, if any. */
	const struct gs_culprit_pair *best = NULL;
	for (size_t i = 0; i < np; i++)
		if (!best || p[i].ns > best->ns)
			best = &p[i];
	if (best) {
		const struct gs_thread_summary *h = thread(s, best->holder);
		snprintf(buf, n, "%s waited behind %s %.0f%% of its time; %s held the "
			 "GIL %.1f%% of its time, on CPU (no off-CPU holds)",
			 who(a, sizeof a, s, best->waiter), who(b, sizeof b, s, best->holder),
			 pct(best->ns, thread_total(thread(s, best->waiter))),
			 who(w, sizeof w, s, best->holder),
			 h ? pct(h->ns[GS_ROLE_HELD] + h->ns[GS_ROLE_HELD_OFFCPU],
				 thread_total(h)) : 0);
	}
}

static int by_ns(const void *pa, const void *pb)
{
	const struct gs_culprit_waiter *a = pa, *b = pb;
	return a->ns != b->ns ? (a->ns < b->ns ? 1 : -1) : (a->tid > b->tid) - (a->tid < b->tid);
}

/* The kept waiters of h, longest wait first, into w; returns how many. */
static size_t waiters(const struct gs_culprit_hold *h, struct gs_culprit_waiter *w)
{
	size_t k = h->nwaiters < GS_CULPRIT_WAITERS ? h->nwaiters : GS_CULPRIT_WAITERS;
	memcpy(w, h->w, k * sizeof *w);
	qsort(w, k, sizeof *w, by_ns);
	return k;
}

/* The waiting threads' blocks of pairs (p is sorted by waiter), the one
 * that waited longest first. */
struct block {
	size_t i, j;
	uint64_t wait_ns, total_ns, behind_ns;
};

static int by_wait(const void *pa, const void *pb)
{
	const struct block *a = pa, *b = pb;
	return a->wait_ns != b->wait_ns ? (a->wait_ns < b->wait_ns ? 1 : -1)
		: (a->i > b->i) - (a->i < b->i);
}

static struct block *blocks(const struct gs_summary *s, const struct gs_culprit_pair *p,
			    size_t np, size_t *nb)
{
	struct block *b = malloc((np ? np : 1) * sizeof *b);
	*nb = 0;
	if (!b)
		return NULL;
	for (size_t i = 0; i < np;) {
		struct block *x = &b[(*nb)++];
		const struct gs_thread_summary *t = thread(s, p[i].waiter);
		x->i = i;
		x->behind_ns = 0;
		while (i < np && p[i].pid == p[x->i].pid && p[i].waiter == p[x->i].waiter)
			x->behind_ns += p[i++].ns;
		x->j = i;
		x->total_ns = thread_total(t);
		x->wait_ns = t ? t->ns[GS_ROLE_WAITING] : 0;
	}
	qsort(b, *nb, sizeof *b, by_wait);
	return b;
}

static void text_stack(FILE *f, const struct gs_culprit *c, uint32_t id, const char *indent)
{
	const char *fr[STACK_MAX];
	char line[512];
	size_t n = gs_culprit_frames(c, id, fr, STACK_MAX);
	for (size_t i = 0; i < n && i < STACK_MAX; i++)
		fprintf(f, "%s%s\n", indent, gs_text_clean(line, sizeof line, fr[i]));
	if (n > STACK_MAX)
		fprintf(f, "%s... %zu more frames\n", indent, n - STACK_MAX);
}

void gs_culprit_print_text(FILE *f, const struct gs_summary *s)
{
	struct gs_culprit *c = s->culprit;
	char a[96], w[384], fr[GS_CULPRIT_FRAME_MAX], v[1024];
	uint64_t wall = gs_summary_wall_ns(s);
	size_t ng, nl, np;
	if (!c)
		return;
	gs_culprit_verdict(v, sizeof v, s);
	const struct gs_culprit_group *g = gs_culprit_groups(c, &ng);
	const struct gs_culprit_hold *l = gs_culprit_longest(c, &nl);
	const struct gs_culprit_pair *p = gs_culprit_pairs(c, &np);

	fprintf(f, "\n%s\n", v[0] ? v : "No thread waited for the GIL.");
	if (ng) {
		fprintf(f, "\nOff-CPU holds, by thread, syscall, file, wchan and Python function:\n"
			"%9s %6s %6s %9s  %s\n", "TOTAL", "WALL%", "COUNT", "LONGEST",
			"THREAD  WHERE");
		for (size_t i = 0; i < ng && i < GS_CULPRIT_PRINT_GROUPS; i++) {
			if (g[i].other) {
				fprintf(f, "%7.1fms %6.1f %6llu %7.1fms  (other groups, past "
					"%d)\n", ms(g[i].total_ns), pct(g[i].total_ns, wall),
					(unsigned long long)g[i].count, ms(g[i].longest_ns),
					GS_CULPRIT_MAX_GROUPS);
				continue;
			}
			where(w, sizeof w, g[i].syscall_nr, g[i].path, g[i].wchan);
			gs_text_clean(fr, sizeof fr, g[i].frame);
			fprintf(f, "%7.1fms %6.1f %6llu %7.1fms  %s  %s%s%s\n",
				ms(g[i].total_ns), pct(g[i].total_ns, wall),
				(unsigned long long)g[i].count, ms(g[i].longest_ns),
				who(a, sizeof a, s, g[i].tid), w[0] ? w : "(no syscall)",
				fr[0] ? " at " : "", fr);
		}
		if (ng > GS_CULPRIT_PRINT_GROUPS)
			fprintf(f, "  ... %zu more (report --json lists %d)\n",
				ng - GS_CULPRIT_PRINT_GROUPS, 2 * GS_CULPRIT_PRINT_GROUPS);
	}
	if (nl) {
		fprintf(f, "\nLongest holds:\n");
		for (size_t i = 0; i < nl; i++) {
			const struct gs_culprit_hold *h = &l[i];
			where(w, sizeof w, h->syscall_nr, h->path, h->wchan);
			fprintf(f, "%8.1fms  %s at +%.3fs", ms(h->end_ns - h->start_ns),
				who(a, sizeof a, s, h->tid),
				h->start_ns > s->run.first_ns
				? (double)(h->start_ns - s->run.first_ns) / 1e9 : 0);
			if (h->offcpu_ns)
				fprintf(f, ", %.1fms of it off CPU%s%s", ms(h->offcpu_ns),
					w[0] ? " in " : "", w);
			if (!h->nwaiters) {
				fprintf(f, "; nobody waited\n");
			} else {
				fprintf(f, "; %zu thread%s waited %.1fms in all:", h->nwaiters,
					h->nwaiters == 1 ? "" : "s", ms(h->waited_ns));
				struct gs_culprit_waiter wv[GS_CULPRIT_WAITERS];
				size_t k = waiters(h, wv);
				for (size_t j = 0; j < k; j++)
					fprintf(f, "%s %s %.1fms", j ? "," : "",
						who(a, sizeof a, s, wv[j].tid), ms(wv[j].ns));
				fprintf(f, "\n");
			}
			text_stack(f, c, h->stack, "            ");
		}
	}
	size_t nb;
	struct block *b = blocks(s, p, np, &nb);
	if (nb)
		fprintf(f, "\nWaited behind (each waiting thread, the holders it "
			"waited behind most):\n");
	for (size_t x = 0; b && x < nb; x++) {
		size_t i = b[x].i, j = b[x].j;
		uint64_t tot = b[x].total_ns, wt = b[x].wait_ns;
		fprintf(f, "  %s waited %.1fms, %.1f%% of its time:",
			who(a, sizeof a, s, p[i].waiter), ms(wt), pct(wt, tot));
		for (size_t k = i; k < j && k < i + BEHIND_MAX; k++)
			fprintf(f, "%s behind %s %.1f%% of its time (%.0f%% of its wait)",
				k > i ? ";" : "", who(a, sizeof a, s, p[k].holder),
				pct(p[k].ns, tot), pct(p[k].ns, wt));
		if (j - i > BEHIND_MAX)
			fprintf(f, "; %zu more", j - i - BEHIND_MAX);
		if (wt > b[x].behind_ns && pct(wt - b[x].behind_ns, wt) >= 0.5)
			fprintf(f, "; %.0f%% behind no hold seen", pct(wt - b[x].behind_ns, wt));
		fprintf(f, "\n");
	}
	free(b);
	if (gs_culprit_dropped(c))
		fprintf(f, "  (%llu waiter/holder pairs past %d not counted)\n",
			(unsigned long long)gs_culprit_dropped(c), GS_CULPRIT_MAX_PAIRS);
}

/* ------------------------------------------------------------ JSON */

static void json_str_or_null(FILE *f, const char *s)
{
	if (s && s[0])
		gs_json_str(f, s);
	else
		fputs("null", f);
}

static void json_where(FILE *f, long nr, const char *path, const char *wchan)
{
	const char *sc = nr >= 0 ? gs_syscall_name(nr) : NULL;
	fputs("\"syscall\":", f);
	json_str_or_null(f, sc);
	fputs(",\"path\":", f);
	json_str_or_null(f, path);
	fputs(",\"wchan\":", f);
	json_str_or_null(f, wchan);
}

static void json_stack(FILE *f, const struct gs_culprit *c, uint32_t id)
{
	const char *fr[STACK_MAX];
	size_t n = gs_culprit_frames(c, id, fr, STACK_MAX);
	fputs("\"stack\":[", f);
	for (size_t i = 0; i < n && i < STACK_MAX; i++) {
		if (i)
			fputc(',', f);
		gs_json_str(f, fr[i]);
	}
	fputc(']', f);
}

static void json_thread(FILE *f, const struct gs_summary *s, pid_t tid)
{
	fprintf(f, "\"tid\":%d,\"name\":", (int)tid);
	gs_json_str(f, name_of(s, tid));
}

void gs_culprit_print_json(FILE *f, const struct gs_summary *s)
{
	struct gs_culprit *c = s->culprit;
	char v[1024];
	uint64_t wall = gs_summary_wall_ns(s);
	size_t ng, nl, np;
	if (!c)
		return;
	gs_culprit_verdict(v, sizeof v, s);
	const struct gs_culprit_group *g = gs_culprit_groups(c, &ng);
	const struct gs_culprit_hold *l = gs_culprit_longest(c, &nl);
	const struct gs_culprit_pair *p = gs_culprit_pairs(c, &np);

	fputs(",\"verdict\":", f);
	json_str_or_null(f, v);
	fputs(",\"offcpu_holds\":[", f);
	for (size_t i = 0; i < ng && i < 2 * GS_CULPRIT_PRINT_GROUPS; i++) {
		fputs(i ? ",{" : "{", f);
		if (g[i].other) {
			fputs("\"tid\":null,\"name\":null,\"other\":true,\"syscall\":null,"
			      "\"path\":null,\"wchan\":null,\"function\":null,\"stack\":[]", f);
		} else {
			json_thread(f, s, g[i].tid);
			fputs(",\"other\":false,", f);
			json_where(f, g[i].syscall_nr, g[i].path, g[i].wchan);
			fputs(",\"function\":", f);
			json_str_or_null(f, g[i].frame);
			fputc(',', f);
			json_stack(f, c, g[i].stack);
		}
		fprintf(f, ",\"total_ms\":%.3f,\"wall_pct\":%.3f,\"count\":%llu,"
			"\"longest_ms\":%.3f}", ms(g[i].total_ns), pct(g[i].total_ns, wall),
			(unsigned long long)g[i].count, ms(g[i].longest_ns));
	}
	fputs("],\"longest_holds\":[", f);
	for (size_t i = 0; i < nl; i++) {
		const struct gs_culprit_hold *h = &l[i];
		fputs(i ? ",{" : "{", f);
		json_thread(f, s, h->tid);
		fprintf(f, ",\"start_s\":%.6f,\"duration_ms\":%.3f,\"offcpu_ms\":%.3f,",
			h->start_ns > s->run.first_ns
			? (double)(h->start_ns - s->run.first_ns) / 1e9 : 0,
			ms(h->end_ns - h->start_ns), ms(h->offcpu_ns));
		json_where(f, h->syscall_nr, h->path, h->wchan);
		fputc(',', f);
		json_stack(f, c, h->stack);
		fprintf(f, ",\"waiters\":%zu,\"waited_ms\":%.3f,\"waited_by\":[",
			h->nwaiters, ms(h->waited_ns));
		struct gs_culprit_waiter wv[GS_CULPRIT_WAITERS];
		size_t k = waiters(h, wv);
		for (size_t j = 0; j < k; j++) {
			fputs(j ? ",{" : "{", f);
			json_thread(f, s, wv[j].tid);
			fprintf(f, ",\"ms\":%.3f}", ms(wv[j].ns));
		}
		fputs("]}", f);
	}
	fputs("],\"waited_behind\":[", f);
	size_t nb;
	struct block *b = blocks(s, p, np, &nb);
	for (size_t x = 0; b && x < nb; x++) {
		size_t i = b[x].i, j = b[x].j;
		uint64_t tot = b[x].total_ns, wt = b[x].wait_ns;
		fputs(x ? ",{" : "{", f);
		json_thread(f, s, p[i].waiter);
		fprintf(f, ",\"wait_ms\":%.3f,\"wait_pct\":%.3f,\"unattributed_ms\":%.3f,"
			"\"behind\":[", ms(wt), pct(wt, tot),
			ms(wt > b[x].behind_ns ? wt - b[x].behind_ns : 0));
		for (size_t k = i; k < j; k++) {
			fputs(k > i ? ",{" : "{", f);
			json_thread(f, s, p[k].holder);
			fprintf(f, ",\"ms\":%.3f,\"time_pct\":%.3f,\"wait_pct\":%.3f}",
				ms(p[k].ns), pct(p[k].ns, tot), pct(p[k].ns, wt));
		}
		fputs("]}", f);
	}
	free(b);
	fprintf(f, "],\"pairs_dropped\":%llu", (unsigned long long)gs_culprit_dropped(c));
}
