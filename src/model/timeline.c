/* A recording downsampled for one picture (model/timeline.h). */
#include <stdlib.h>
#include <string.h>

#include "model/timeline.h"

#define FIRST_COL_NS 1000000ull

int gs_timeline_init(struct gs_timeline *t, uint64_t stall_ns)
{
	memset(t, 0, sizeof *t);
	t->stall_ns = stall_ns;
	t->lane = calloc(GS_TIMELINE_LANES, sizeof *t->lane);
	return t->lane ? 0 : -1;
}

void gs_timeline_free(struct gs_timeline *t)
{
	for (size_t i = 0; t->lane && i < t->nlanes; i++)
		free(t->lane[i].ns);
	free(t->lane);
	free(t->stacks);
	memset(t, 0, sizeof *t);
}

/* Every lane's columns moved k to the right (the run started earlier
 * than the first interval seen said). */
static void shift_right(struct gs_timeline *t, size_t k)
{
	for (size_t l = 0; l < t->nlanes; l++) {
		memmove(t->lane[l].ns + k, t->lane[l].ns, t->ncols * sizeof t->lane[l].ns[0]);
		memset(t->lane[l].ns, 0, k * sizeof t->lane[l].ns[0]);
	}
	t->base_ns -= k * t->col_ns;
	t->ncols += k;
}

/* Columns twice as wide: neighbours merged, the grid kept aligned on
 * multiples of the new width. */
static void merge(struct gs_timeline *t)
{
	size_t off = (size_t)(t->base_ns / t->col_ns % 2);
	size_t n = (t->ncols - 1 + off) / 2 + 1;
	for (size_t l = 0; l < t->nlanes; l++) {
		uint64_t (*v)[GS_ROLE_COUNT] = t->lane[l].ns;
		for (size_t k = 0; k < n; k++) {
			uint64_t sum[GS_ROLE_COUNT] = { 0 };
			for (size_t d = 0; d < 2; d++) {
				size_t i = 2 * k + d;
				if (i < off || i - off >= t->ncols)
					continue;
				for (int r = 0; r < GS_ROLE_COUNT; r++)
					sum[r] += v[i - off][r];
			}
			memcpy(v[k], sum, sizeof sum);
		}
		memset(v + n, 0, (t->ncols - n) * sizeof v[0]);
	}
	t->base_ns -= off * t->col_ns;
	t->col_ns *= 2;
	t->ncols = n;
	t->merges++;
}

/* Columns that cover [lo, hi). */
static void cover(struct gs_timeline *t, uint64_t lo, uint64_t hi)
{
	if (!t->col_ns) {
		t->col_ns = FIRST_COL_NS;
		t->base_ns = lo - lo % t->col_ns;
		t->ncols = 1;
	}
	while (lo < t->base_ns) {
		uint64_t nb = lo - lo % t->col_ns;
		size_t k = (size_t)((t->base_ns - nb) / t->col_ns);
		if (t->ncols + k <= GS_TIMELINE_COLS)
			shift_right(t, k);
		else
			merge(t);
	}
	uint64_t last = hi > lo ? hi - 1 : lo;
	while ((last - t->base_ns) / t->col_ns >= GS_TIMELINE_COLS)
		merge(t);
	size_t need = (size_t)((last - t->base_ns) / t->col_ns) + 1;
	if (need > t->ncols)
		t->ncols = need;
}

static struct gs_timeline_lane *lane_of(struct gs_timeline *t, pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < t->nlanes; i++)
		if (t->lane[i].tid == tid && t->lane[i].pid == pid)
			return &t->lane[i];
	if (t->nlanes == GS_TIMELINE_LANES)
		return &t->lane[GS_TIMELINE_LANES - 1];
	struct gs_timeline_lane *l = &t->lane[t->nlanes];
	if (!(l->ns = calloc(GS_TIMELINE_COLS, sizeof *l->ns)))
		return NULL;
	l->pid = pid;
	/* The last lane is everybody's who came after it. */
	l->tid = t->nlanes == GS_TIMELINE_LANES - 1 ? 0 : tid;
	t->nlanes++;
	return l->tid == tid ? l : &t->lane[GS_TIMELINE_LANES - 1];
}

static void stall(struct gs_timeline *t, pid_t pid, pid_t tid, enum gs_role role,
		  uint64_t s, uint64_t e, uint32_t stack)
{
	uint64_t len = e - s;
	if (!t->stall_ns || len < t->stall_ns)
		return;
	size_t k = t->nstalls;
	if (k == GS_TIMELINE_STALLS) {
		t->more_stalls++;
		const struct gs_timeline_stall *m = &t->stalls[k - 1];
		if (len <= m->end_ns - m->start_ns)
			return;
		k--;
	}
	while (k > 0 && t->stalls[k - 1].end_ns - t->stalls[k - 1].start_ns < len) {
		t->stalls[k] = t->stalls[k - 1];
		k--;
	}
	t->stalls[k] = (struct gs_timeline_stall){ pid, tid, role, s, e, stack };
	if (t->nstalls < GS_TIMELINE_STALLS)
		t->nstalls++;
}

static void held_under(struct gs_timeline *t, uint32_t stack, int offcpu, uint64_t ns)
{
	if (!stack)
		return;
	if (stack >= t->stacks_cap) {
		size_t cap = t->stacks_cap ? t->stacks_cap : 64;
		while (cap <= stack)
			cap *= 2;
		struct gs_timeline_stack *v = realloc(t->stacks, cap * sizeof *v);
		if (!v)
			return;
		memset(v + t->stacks_cap, 0, (cap - t->stacks_cap) * sizeof *v);
		t->stacks = v;
		t->stacks_cap = cap;
	}
	t->stacks[stack].stack = stack;
	t->stacks[stack].ns[offcpu] += ns;
	if (stack >= t->nstacks)
		t->nstacks = stack + 1;
}

void gs_timeline_add(struct gs_timeline *t, const struct gs_interval *iv)
{
	if (iv->end_ns < iv->start_ns || iv->role >= GS_ROLE_COUNT ||
	    iv->role == GS_ROLE_UNKNOWN)
		return;
	struct gs_timeline_lane *l = lane_of(t, iv->pid, iv->tid);
	if (!l)
		return;
	if (!t->first_ns || iv->start_ns < t->first_ns)
		t->first_ns = iv->start_ns;
	if (iv->end_ns > t->last_ns)
		t->last_ns = iv->end_ns;
	cover(t, iv->start_ns, iv->end_ns);
	for (uint64_t s = iv->start_ns; s < iv->end_ns;) {
		size_t c = (size_t)((s - t->base_ns) / t->col_ns);
		uint64_t ce = t->base_ns + (c + 1) * t->col_ns;
		uint64_t e = ce < iv->end_ns ? ce : iv->end_ns;
		l->ns[c][iv->role] += e - s;
		s = e;
	}
	uint64_t len = iv->end_ns - iv->start_ns;
	if (gs_role_holds(iv->role)) {
		l->held_ns += len;
		held_under(t, iv->stack, iv->role == GS_ROLE_HELD_OFFCPU, len);
	}
	if (iv->role == GS_ROLE_WAITING)
		stall(t, iv->pid, iv->tid, iv->role, iv->start_ns, iv->end_ns, 0);
	/* The shared lane mixes threads: its holds cannot be told apart. */
	if (!l->tid)
		return;
	struct gs_hold ended;
	int was = l->hold.active && gs_hold_continues(&l->hold, iv->role, iv->start_ns);
	if (gs_hold_add(&l->hold, iv->role, iv->start_ns, iv->end_ns, &ended))
		stall(t, l->pid, l->tid, GS_ROLE_HELD, ended.start_ns, ended.end_ns,
		      l->hold_stack);
	if (!was)
		l->hold_stack = 0;
	if (gs_role_holds(iv->role) && !l->hold_stack)
		l->hold_stack = iv->stack;
}

void gs_timeline_finish(struct gs_timeline *t)
{
	for (size_t i = 0; i < t->nlanes; i++) {
		struct gs_timeline_lane *l = &t->lane[i];
		if (l->tid && l->hold.active)
			stall(t, l->pid, l->tid, GS_ROLE_HELD, l->hold.start_ns, l->hold.end_ns,
			      l->hold_stack);
		l->hold.active = 0;
	}
}

enum gs_role gs_timeline_role(const struct gs_timeline *t, size_t l, size_t c)
{
	enum gs_role best = GS_ROLE_UNKNOWN;
	uint64_t most = 0;
	for (int r = 1; r < GS_ROLE_COUNT; r++)
		if (t->lane[l].ns[c][r] > most) {
			most = t->lane[l].ns[c][r];
			best = (enum gs_role)r;
		}
	return best;
}

double gs_timeline_waiters(const struct gs_timeline *t, size_t c)
{
	uint64_t w = 0;
	for (size_t l = 0; l < t->nlanes; l++)
		w += t->lane[l].ns[c][GS_ROLE_WAITING];
	return t->col_ns ? (double)w / (double)t->col_ns : 0;
}
