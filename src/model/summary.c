/* End-of-run figures from intervals (model/summary.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/summary.h"

void gs_summary_init(struct gs_summary *s)
{
	memset(s, 0, sizeof *s);
	s->stacks = gs_stacks_new();
}

void gs_summary_free(struct gs_summary *s)
{
	free(s->t);
	s->t = NULL;
	gs_culprit_free(s->culprit);
	s->culprit = NULL;
	gs_stacks_free(s->stacks);
	s->stacks = NULL;
	gs_stack_counts_free(&s->stack_counts);
	s->n = s->cap = 0;
	free(s->procs);
	s->procs = NULL;
	s->nprocs = 0;
}

struct gs_proc_summary *gs_summary_proc(struct gs_summary *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	struct gs_proc_summary *v = realloc(s->procs, (s->nprocs + 1) * sizeof *v);
	if (!v)
		return NULL;
	s->procs = v;
	memset(&v[s->nprocs], 0, sizeof *v);
	v[s->nprocs].pid = pid;
	return &v[s->nprocs++];
}

double gs_summary_proc_utilisation(const struct gs_summary *s, pid_t pid,
				   uint64_t *wall_ns)
{
	uint64_t first = 0, last = 0, held = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_thread_summary *t = &s->t[i];
		if (t->pid != pid)
			continue;
		held += t->ns[GS_ROLE_HELD] + t->ns[GS_ROLE_HELD_OFFCPU];
		if (t->first_ns && (!first || t->first_ns < first))
			first = t->first_ns;
		if (t->last_ns > last)
			last = t->last_ns;
	}
	uint64_t wall = last > first ? last - first : 0;
	if (wall_ns)
		*wall_ns = wall;
	return wall ? (double)held / (double)wall : 0;
}

struct gs_thread_summary *gs_summary_thread(struct gs_summary *s, pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid && s->t[i].pid == pid)
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
	t->pid = pid;
	t->tid = tid;
	t->is_python = -1;
	return t;
}

void gs_summary_name(struct gs_summary *s, pid_t pid, pid_t tid, const char *name,
		     int is_python)
{
	struct gs_thread_summary *t = gs_summary_thread(s, pid, tid);
	if (!t)
		return;
	snprintf(t->name, sizeof t->name, "%s", name ? name : "");
	t->is_python = is_python;
}

void gs_summary_add(struct gs_summary *s, const struct gs_interval *iv)
{
	struct gs_thread_summary *t = gs_summary_thread(s, iv->pid, iv->tid);
	if (!t || iv->role >= GS_ROLE_COUNT)
		return;
	if (s->culprit)
		gs_culprit_add(s->culprit, iv);
	if (s->tap)
		s->tap(s->tap_ctx, iv);
	uint64_t d = iv->end_ns - iv->start_ns;
	t->ns[iv->role] += d;
	t->samples[iv->role] += iv->samples;
	if (!t->first_ns || iv->start_ns < t->first_ns)
		t->first_ns = iv->start_ns;
	if (iv->end_ns > t->last_ns)
		t->last_ns = iv->end_ns;
	if (iv->role == GS_ROLE_WAITING)
		gs_hist_add(&t->wait, d);
	gs_hold_add(&t->hold, iv->role, iv->start_ns, iv->end_ns, NULL);
	if (t->hold.active && t->hold.end_ns - t->hold.start_ns > t->longest_hold_ns)
		t->longest_hold_ns = t->hold.end_ns - t->hold.start_ns;
	if (!s->run.first_ns || iv->start_ns < s->run.first_ns)
		s->run.first_ns = iv->start_ns;
	if (iv->end_ns > s->run.last_ns)
		s->run.last_ns = iv->end_ns;
	/* Per GIL: each role is about one GIL of its process. */
	struct gs_proc_summary *p = iv->gil < GS_SUMMARY_MAX_GILS ? gs_summary_proc(s, iv->pid) : NULL;
	if (p) {
		struct gs_gil_summary *g = &p->gils[iv->gil];
		g->seen = 1;
		if (iv->gil >= p->ngils)
			p->ngils = iv->gil + 1;
		if (iv->role == GS_ROLE_HELD || iv->role == GS_ROLE_HELD_OFFCPU)
			g->held_ns += d;
		else if (iv->role == GS_ROLE_WAITING)
			g->wait_ns += d;
	}
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
	gs_hist_merge(&o->wait, &t->wait);
	/* The folded row is Python when any of its threads was. */
	if (t->is_python > o->is_python)
		o->is_python = t->is_python;
}

void gs_summary_fold_gone(struct gs_summary *s,
			  int (*alive)(void *ctx, pid_t pid, pid_t tid), void *ctx)
{
	if (s->n <= GS_SUMMARY_MAX_THREADS)
		return;
	/* First, so that no realloc moves rows under the loop. */
	if (!gs_summary_thread(s, 0, 0))
		return;
	size_t oi = 0, k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == 0 && s->t[i].pid == 0)
			oi = i;
	for (size_t i = 0; i < s->n; i++) {
		struct gs_thread_summary *t = &s->t[i];
		if (i != oi && !alive(ctx, t->pid, t->tid)) {
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

double gs_summary_achieved_hz(const struct gs_summary *s)
{
	uint64_t wall = gs_summary_wall_ns(s);
	return wall && s->run.samples > 1
		? (double)(s->run.samples - 1) / ((double)wall / 1e9) : 0;
}
