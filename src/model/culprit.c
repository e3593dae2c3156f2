/* Who made the others wait (model/culprit.h). */
#include <stdlib.h>
#include <string.h>

#include "model/culprit.h"
#include "model/holds.h"

struct span {
	pid_t tid;
	uint64_t start_ns, end_ns;
};

/* The recent holds and waits of one GIL, oldest overwritten first. */
struct ring {
	struct span v[GS_CULPRIT_RING];
	size_t n, head;           /* head: the next slot written */
};

struct gil {
	pid_t pid;
	unsigned gil;
	struct ring holds, waits;
};

/* A thread's hold in progress. */
struct cur {
	pid_t pid, tid;
	struct gs_hold h;
	struct gs_culprit_hold d;
	uint64_t best_off_ns;     /* the longest off-CPU interval so far */
};

struct gs_culprit {
	const struct gs_stacks *stacks;
	struct gil *gils;
	size_t ngils;
	struct cur *cur;
	size_t ncur, cur_cap;
	struct gs_culprit_group *groups; /* open-addressed, cap slots */
	size_t ngroups, gcap;
	uint32_t *ghash;          /* hash of each slot's key; 0: empty */
	struct gs_culprit_group other;
	struct gs_culprit_group *sorted;
	size_t nsorted;
	struct gs_culprit_hold longest[GS_CULPRIT_LONGEST];
	size_t nlongest;
	struct gs_culprit_pair *pairs;
	size_t npairs, pcap;
	uint32_t *pidx;           /* index + 1 of each pair, by hash; 0: empty */
	size_t picap;
	int sorted_pairs;         /* pidx is stale: pairs were sorted */
	uint64_t dropped;
};

struct gs_culprit *gs_culprit_new(const struct gs_stacks *stacks)
{
	struct gs_culprit *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->stacks = stacks;
	c->other.other = 1;
	c->other.syscall_nr = -1;
	return c;
}

void gs_culprit_free(struct gs_culprit *c)
{
	if (!c)
		return;
	free(c->gils);
	free(c->cur);
	free(c->groups);
	free(c->ghash);
	free(c->sorted);
	free(c->pairs);
	free(c->pidx);
	free(c);
}

size_t gs_culprit_frames(const struct gs_culprit *c, uint32_t id, const char **frames,
			 size_t cap)
{
	size_t n = c->stacks ? gs_stacks_depth(c->stacks, id) : 0;
	for (size_t i = 0; i < n && i < cap; i++)
		frames[i] = gs_stacks_frame(c->stacks, id, i);
	return n;
}

/* ------------------------------------------------------------ rings */

static struct gil *gil_of(struct gs_culprit *c, pid_t pid, unsigned g)
{
	for (size_t i = 0; i < c->ngils; i++)
		if (c->gils[i].pid == pid && c->gils[i].gil == g)
			return &c->gils[i];
	struct gil *v = realloc(c->gils, (c->ngils + 1) * sizeof *v);
	if (!v)
		return NULL;
	c->gils = v;
	memset(&v[c->ngils], 0, sizeof v[0]);
	v[c->ngils].pid = pid;
	v[c->ngils].gil = g;
	return &v[c->ngils++];
}

static void ring_put(struct ring *r, pid_t tid, uint64_t s, uint64_t e)
{
	r->v[r->head] = (struct span){ tid, s, e };
	r->head = (r->head + 1) % GS_CULPRIT_RING;
	if (r->n < GS_CULPRIT_RING)
		r->n++;
}

/* The k-th newest span (0: newest). */
static const struct span *ring_at(const struct ring *r, size_t k)
{
	return &r->v[(r->head + GS_CULPRIT_RING - 1 - k) % GS_CULPRIT_RING];
}

static uint64_t overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	uint64_t s = a0 > b0 ? a0 : b0, e = a1 < b1 ? a1 : b1;
	return e > s ? e - s : 0;
}

/* ------------------------------------------------------------ pairs */

static size_t pair_slot(const struct gs_culprit *c, pid_t pid, pid_t waiter,
			pid_t holder)
{
	uint32_t h = (((uint32_t)pid * 31u ^ (uint32_t)waiter) * 2654435761u) ^
		((uint32_t)holder * 40503u);
	size_t j = (h * 2654435761u) & (c->picap - 1);
	for (;; j = (j + 1) & (c->picap - 1)) {
		uint32_t k = c->pidx[j];
		if (!k)
			return j;
		const struct gs_culprit_pair *p = &c->pairs[k - 1];
		if (p->pid == pid && p->waiter == waiter && p->holder == holder)
			return j;
	}
}

/* The index rebuilt for the pairs as they now lie (after a sort, or to
 * grow it). */
static int pairs_index(struct gs_culprit *c, size_t cap)
{
	uint32_t *v = calloc(cap, sizeof *v);
	if (!v)
		return -1;
	free(c->pidx);
	c->pidx = v;
	c->picap = cap;
	for (size_t i = 0; i < c->npairs; i++) {
		const struct gs_culprit_pair *p = &c->pairs[i];
		c->pidx[pair_slot(c, p->pid, p->waiter, p->holder)] = (uint32_t)(i + 1);
	}
	c->sorted_pairs = 0;
	return 0;
}

static void pair_add(struct gs_culprit *c, pid_t pid, pid_t waiter, pid_t holder,
		     uint64_t ns)
{
	if (!ns || waiter == holder)
		return;
	if (c->sorted_pairs && pairs_index(c, c->picap)) {
		c->dropped++;
		return;
	}
	if ((c->npairs + 1) * 2 > c->picap && c->npairs < GS_CULPRIT_MAX_PAIRS &&
	    pairs_index(c, c->picap ? c->picap * 2 : 64)) {
		c->dropped++;
		return;
	}
	size_t j = pair_slot(c, pid, waiter, holder);
	if (c->pidx[j]) {
		c->pairs[c->pidx[j] - 1].ns += ns;
		return;
	}
	if (c->npairs >= GS_CULPRIT_MAX_PAIRS) {
		c->dropped++;
		return;
	}
	if (c->npairs == c->pcap) {
		size_t cap = c->pcap ? c->pcap * 2 : 16;
		struct gs_culprit_pair *v = realloc(c->pairs, cap * sizeof *v);
		if (!v) {
			c->dropped++;
			return;
		}
		c->pairs = v;
		c->pcap = cap;
	}
	c->pairs[c->npairs++] = (struct gs_culprit_pair){ pid, waiter, holder, ns };
	c->pidx[j] = (uint32_t)c->npairs;
}

/* ------------------------------------------------- longest holds */

static void hold_waiter(struct gs_culprit_hold *h, pid_t tid, uint64_t ns)
{
	if (!ns || tid == h->tid)
		return;
	h->waited_ns += ns;
	size_t k = h->nwaiters < GS_CULPRIT_WAITERS ? h->nwaiters : GS_CULPRIT_WAITERS;
	for (size_t i = 0; i < k; i++)
		if (h->w[i].tid == tid) {
			h->w[i].ns += ns;
			return;
		}
	h->nwaiters++;
	if (k < GS_CULPRIT_WAITERS) {
		h->w[k] = (struct gs_culprit_waiter){ tid, ns };
		return;
	}
	/* Past the bound the smallest kept one gives way to a larger one;
	 * nwaiters still counts every thread. */
	size_t m = 0;
	for (size_t i = 1; i < k; i++)
		if (h->w[i].ns < h->w[m].ns)
			m = i;
	if (ns > h->w[m].ns)
		h->w[m] = (struct gs_culprit_waiter){ tid, ns };
}

/* A hold is over: keep it if it is among the longest, with the waits
 * already seen that overlap it (later ones are added as they close). */
static void hold_done(struct gs_culprit *c, struct cur *t)
{
	struct gs_culprit_hold *d = &t->d;
	d->start_ns = t->h.start_ns;
	d->end_ns = t->h.end_ns;
	uint64_t len = d->end_ns - d->start_ns;
	size_t k = c->nlongest;
	if (k == GS_CULPRIT_LONGEST &&
	    len <= c->longest[k - 1].end_ns - c->longest[k - 1].start_ns)
		return;
	if (k == GS_CULPRIT_LONGEST)
		k--;
	while (k > 0 && c->longest[k - 1].end_ns - c->longest[k - 1].start_ns < len) {
		c->longest[k] = c->longest[k - 1];
		k--;
	}
	c->longest[k] = *d;
	if (c->nlongest < GS_CULPRIT_LONGEST)
		c->nlongest++;
	struct gs_culprit_hold *h = &c->longest[k];
	h->nwaiters = 0;
	h->waited_ns = 0;
	struct gil *g = gil_of(c, d->pid, d->gil);
	if (!g)
		return;
	for (size_t i = 0; i < g->waits.n; i++) {
		const struct span *w = ring_at(&g->waits, i);
		if (w->end_ns <= h->start_ns)
			break;
		hold_waiter(h, w->tid, overlap(w->start_ns, w->end_ns, h->start_ns,
					       h->end_ns));
	}
}

static struct cur *cur_of(struct gs_culprit *c, pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < c->ncur; i++)
		if (c->cur[i].tid == tid && c->cur[i].pid == pid)
			return &c->cur[i];
	if (c->ncur == c->cur_cap) {
		size_t cap = c->cur_cap ? c->cur_cap * 2 : 16;
		struct cur *v = realloc(c->cur, cap * sizeof *v);
		if (!v)
			return NULL;
		c->cur = v;
		c->cur_cap = cap;
	}
	struct cur *t = &c->cur[c->ncur++];
	memset(t, 0, sizeof *t);
	t->pid = pid;
	t->tid = tid;
	return t;
}

static void cur_drop(struct gs_culprit *c, struct cur *t)
{
	*t = c->cur[--c->ncur];
}

/* ----------------------------------------------------------- groups */

static uint32_t hash_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t group_hash(const struct gs_culprit_group *k)
{
	uint32_t h = 2166136261u;
	h = (h ^ (uint32_t)k->pid) * 16777619u;
	h = (h ^ (uint32_t)k->tid) * 16777619u;
	h = (h ^ (uint32_t)k->syscall_nr) * 16777619u;
	h = hash_str(hash_str(hash_str(h, k->path), k->wchan), k->frame);
	return h ? h : 1;
}

static int group_same(const struct gs_culprit_group *a, const struct gs_culprit_group *b)
{
	return a->pid == b->pid && a->tid == b->tid && a->syscall_nr == b->syscall_nr &&
		!strcmp(a->path, b->path) && !strcmp(a->wchan, b->wchan) &&
		!strcmp(a->frame, b->frame);
}

static int groups_grow(struct gs_culprit *c)
{
	size_t ncap = c->gcap ? c->gcap * 2 : 64;
	struct gs_culprit_group *ng = calloc(ncap, sizeof *ng);
	uint32_t *nh = calloc(ncap, sizeof *nh);
	if (!ng || !nh) {
		free(ng);
		free(nh);
		return -1;
	}
	for (size_t i = 0; i < c->gcap; i++) {
		if (!c->ghash[i])
			continue;
		size_t j = c->ghash[i] & (ncap - 1);
		while (nh[j])
			j = (j + 1) & (ncap - 1);
		nh[j] = c->ghash[i];
		ng[j] = c->groups[i];
	}
	free(c->groups);
	free(c->ghash);
	c->groups = ng;
	c->ghash = nh;
	c->gcap = ncap;
	return 0;
}

static void group_count(struct gs_culprit_group *g, uint64_t d, uint32_t stack)
{
	g->total_ns += d;
	g->count++;
	if (d > g->longest_ns) {
		g->longest_ns = d;
		if (stack)
			g->stack = stack;
	}
	if (!g->stack)
		g->stack = stack;
}

static void innermost(const struct gs_culprit *c, uint32_t stack, char *buf, size_t n)
{
	const char *f[1];
	buf[0] = 0;
	if (gs_culprit_frames(c, stack, f, 1) && f[0])
		strncat(buf, f[0], n - 1);
}

static void group_add(struct gs_culprit *c, const struct gs_interval *iv, uint32_t stack)
{
	struct gs_culprit_group k;
	uint64_t d = iv->end_ns - iv->start_ns;
	memset(&k, 0, sizeof k);
	k.pid = iv->pid;
	k.tid = iv->tid;
	k.syscall_nr = iv->syscall_nr;
	memcpy(k.path, iv->path, sizeof k.path);
	memcpy(k.wchan, iv->wchan, sizeof k.wchan);
	k.path[sizeof k.path - 1] = k.wchan[sizeof k.wchan - 1] = 0;
	innermost(c, stack, k.frame, sizeof k.frame);
	if ((c->ngroups + 1) * 2 > c->gcap && c->ngroups < GS_CULPRIT_MAX_GROUPS &&
	    groups_grow(c)) {
		group_count(&c->other, d, 0);
		return;
	}
	uint32_t h = group_hash(&k);
	size_t j = h & (c->gcap - 1);
	for (; c->ghash[j]; j = (j + 1) & (c->gcap - 1))
		if (c->ghash[j] == h && group_same(&c->groups[j], &k)) {
			group_count(&c->groups[j], d, stack);
			return;
		}
	if (c->ngroups >= GS_CULPRIT_MAX_GROUPS) {
		group_count(&c->other, d, 0);
		return;
	}
	c->ghash[j] = h;
	c->groups[j] = k;
	c->ngroups++;
	group_count(&c->groups[j], d, stack);
}

/* ------------------------------------------------------------- feed */

void gs_culprit_add(struct gs_culprit *c, const struct gs_interval *iv)
{
	uint32_t stack = iv->stack;
	if (iv->end_ns < iv->start_ns)
		return;
	struct cur *t = cur_of(c, iv->pid, iv->tid);
	if (!t)
		return;

	/* The thread's hold: extended, or over. */
	if (t->h.active && !gs_hold_continues(&t->h, iv->role, iv->start_ns))
		hold_done(c, t);
	/* After hold_done, which may have added the GIL of the hold. */
	struct gil *g = gil_of(c, iv->pid, iv->gil);
	if (!g)
		return;
	int was = t->h.active && gs_hold_continues(&t->h, iv->role, iv->start_ns);
	gs_hold_add(&t->h, iv->role, iv->start_ns, iv->end_ns, NULL);
	if (gs_role_holds(iv->role)) {
		struct gs_culprit_hold *d = &t->d;
		if (!was) {
			memset(d, 0, sizeof *d);
			d->pid = iv->pid;
			d->tid = iv->tid;
			d->gil = iv->gil;
			d->syscall_nr = -1;
			t->best_off_ns = 0;
		}
		if (!d->stack)
			d->stack = stack;
		if (iv->role == GS_ROLE_HELD_OFFCPU) {
			uint64_t len = iv->end_ns - iv->start_ns;
			d->offcpu_ns += len;
			if (len > t->best_off_ns || !t->best_off_ns) {
				t->best_off_ns = len;
				d->syscall_nr = iv->syscall_nr;
				memcpy(d->path, iv->path, sizeof d->path);
				memcpy(d->wchan, iv->wchan, sizeof d->wchan);
			}
			group_add(c, iv, stack);
		}
		/* Waits already closed that this hold interval covers. */
		for (size_t i = 0; i < g->waits.n; i++) {
			const struct span *w = ring_at(&g->waits, i);
			if (w->end_ns <= iv->start_ns)
				break;
			pair_add(c, iv->pid, w->tid, iv->tid,
				 overlap(w->start_ns, w->end_ns, iv->start_ns, iv->end_ns));
		}
		ring_put(&g->holds, iv->tid, iv->start_ns, iv->end_ns);
	} else if (!t->h.active) {
		/* A thread that holds nothing needs no slot. */
		cur_drop(c, t);
	}

	if (iv->role == GS_ROLE_WAITING) {
		for (size_t i = 0; i < g->holds.n; i++) {
			const struct span *h = ring_at(&g->holds, i);
			if (h->end_ns <= iv->start_ns)
				break;
			pair_add(c, iv->pid, iv->tid, h->tid,
				 overlap(h->start_ns, h->end_ns, iv->start_ns, iv->end_ns));
		}
		/* Longest holds kept before this wait closed. */
		for (size_t i = 0; i < c->nlongest; i++) {
			struct gs_culprit_hold *h = &c->longest[i];
			if (h->pid == iv->pid && h->gil == iv->gil)
				hold_waiter(h, iv->tid, overlap(h->start_ns, h->end_ns,
								iv->start_ns, iv->end_ns));
		}
		ring_put(&g->waits, iv->tid, iv->start_ns, iv->end_ns);
	}
}

void gs_culprit_finish(struct gs_culprit *c)
{
	while (c->ncur) {
		struct cur *t = &c->cur[c->ncur - 1];
		if (t->h.active)
			hold_done(c, t);
		c->ncur--;
	}
}

/* ---------------------------------------------------------- results */

static int by_total(const void *pa, const void *pb)
{
	const struct gs_culprit_group *a = pa, *b = pb;
	if (a->total_ns != b->total_ns)
		return a->total_ns < b->total_ns ? 1 : -1;
	return (a->tid > b->tid) - (a->tid < b->tid);
}

const struct gs_culprit_group *gs_culprit_groups(struct gs_culprit *c, size_t *n)
{
	size_t k = 0;
	struct gs_culprit_group *v = realloc(c->sorted, (c->ngroups + 1) * sizeof *v);
	*n = 0;
	if (!v)
		return NULL;
	c->sorted = v;
	for (size_t i = 0; i < c->gcap; i++)
		if (c->ghash[i])
			v[k++] = c->groups[i];
	qsort(v, k, sizeof *v, by_total);
	/* The fold goes last whatever its size: it names nothing. */
	if (c->other.count)
		v[k++] = c->other;
	*n = k;
	return v;
}

const struct gs_culprit_hold *gs_culprit_longest(const struct gs_culprit *c, size_t *n)
{
	*n = c->nlongest;
	return c->longest;
}

static int by_waiter(const void *pa, const void *pb)
{
	const struct gs_culprit_pair *a = pa, *b = pb;
	if (a->pid != b->pid)
		return (a->pid > b->pid) - (a->pid < b->pid);
	if (a->waiter != b->waiter)
		return (a->waiter > b->waiter) - (a->waiter < b->waiter);
	if (a->ns != b->ns)
		return a->ns < b->ns ? 1 : -1;
	return (a->holder > b->holder) - (a->holder < b->holder);
}

const struct gs_culprit_pair *gs_culprit_pairs(struct gs_culprit *c, size_t *n)
{
	if (c->npairs > 1) {
		qsort(c->pairs, c->npairs, sizeof *c->pairs, by_waiter);
		c->sorted_pairs = 1;
	}
	*n = c->npairs;
	return c->pairs;
}

uint64_t gs_culprit_dropped(const struct gs_culprit *c)
{
	return c->dropped;
}
