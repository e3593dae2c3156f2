/* The flight recorder: a ring of the last events and one pending stall.
 * Events arrive as intervals close (in the order of their ends, give or
 * take one sample) and as stack samples are taken. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/flight.h"

struct item {
	int is_sample;
	union {
		struct gs_interval iv;
		struct gs_stack_sample s;
	} u;
};

struct gs_flight {
	struct gs_flight_sink sink;
	uint64_t threshold_ns, keep_ns;
	struct item *v;
	size_t cap, head, n;     /* ring: n items from head */
	int pending;
	struct gs_flight_stall st;
	uint64_t last_to_ns;     /* the previous window's end: windows never overlap */
	uint64_t subject_end_ns; /* the pending stall's hold or wait: seen until */
	uint64_t overwritten;
	unsigned stalls;
};

struct gs_flight *gs_flight_new(uint64_t threshold_ns, uint64_t keep_ns,
				const struct gs_flight_sink *sink)
{
	struct gs_flight *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->cap = GS_FLIGHT_MAX_BYTES / sizeof *f->v;
	if (!(f->v = malloc(f->cap * sizeof *f->v))) {
		free(f);
		return NULL;
	}
	f->sink = *sink;
	f->threshold_ns = threshold_ns;
	f->keep_ns = keep_ns;
	return f;
}

void gs_flight_free(struct gs_flight *f)
{
	if (f)
		free(f->v);
	free(f);
}

static uint64_t item_end(const struct item *it)
{
	return it->is_sample ? it->u.s.t_ns : it->u.iv.end_ns;
}

/* Drop what no window can want any more: older than SECONDS, or while a
 * stall is pending older than its window. */
static void trim(struct gs_flight *f, uint64_t now_ns)
{
	/* A stall is seen MS after it began (a sample or so later), and its
	 * window starts SECONDS before it began. */
	uint64_t keep = f->keep_ns + f->threshold_ns + 100000000ull;
	uint64_t keep_from = now_ns > keep ? now_ns - keep : 0;
	if (f->pending && f->st.from_ns < keep_from)
		keep_from = f->st.from_ns;
	while (f->n && item_end(&f->v[f->head]) < keep_from) {
		f->head = (f->head + 1) % f->cap;
		f->n--;
	}
}

static void push(struct gs_flight *f, const struct item *it)
{
	if (f->n == f->cap) {
		f->head = (f->head + 1) % f->cap;
		f->n--;
		f->overwritten++;
	}
	f->v[(f->head + f->n) % f->cap] = *it;
	f->n++;
}

static int long_role(enum gs_role r)
{
	return r == GS_ROLE_HELD || r == GS_ROLE_HELD_OFFCPU || r == GS_ROLE_WAITING;
}

/* A hold or wait seen lasting until end_ns.  It starts a stall, or
 * joins the pending one when it began before the stall's subject ended
 * (the threads waiting behind a long hold, the hold a waiter waits
 * for); one that began after is a stall of its own, seen again once
 * the window closes if it is still open. */
static void consider(struct gs_flight *f, const struct gs_interval *iv, uint64_t end_ns)
{
	if (!long_role(iv->role) || end_ns - iv->start_ns <= f->threshold_ns)
		return;
	int subject = 0;
	if (!f->pending) {
		if (iv->start_ns < f->last_to_ns && end_ns <= f->last_to_ns)
			return;  /* inside the window just written */
		f->pending = 1;
		memset(&f->st, 0, sizeof f->st);
		subject = 1;
	} else if (iv->tid == f->st.tid && iv->start_ns == f->st.start_ns) {
		subject = 2;
	} else if (iv->start_ns >= f->subject_end_ns) {
		return;
	} else if (f->st.role == GS_ROLE_WAITING && iv->role != GS_ROLE_WAITING) {
		/* Threads waiting behind a long hold cross the threshold
		 * first; the stall is the hold's. */
		subject = 1;
	}
	if (subject == 1) {
		f->st.tid = iv->tid;
		f->st.role = iv->role;
		f->st.start_ns = iv->start_ns;
		gs_wall_of(iv->start_ns, &f->st.wall);
		f->st.stack = GS_STACK_NONE;
		f->st.from_ns = iv->start_ns > f->keep_ns ? iv->start_ns - f->keep_ns : 0;
		if (f->st.from_ns < f->last_to_ns)
			f->st.from_ns = f->last_to_ns;
	}
	if (subject) {
		f->subject_end_ns = end_ns;
		f->st.dur_ns = end_ns - iv->start_ns;
		if (iv->stack_end || iv->stack)
			f->st.stack = iv->stack_end ? iv->stack_end : iv->stack;
	}
	if (end_ns + f->keep_ns > f->st.to_ns)
		f->st.to_ns = end_ns + f->keep_ns;
}

void gs_flight_interval(struct gs_flight *f, const struct gs_interval *iv)
{
	struct item it = { .is_sample = 0 };
	it.u.iv = *iv;
	consider(f, iv, iv->end_ns);
	push(f, &it);
}

void gs_flight_sample(struct gs_flight *f, const struct gs_stack_sample *s)
{
	struct item it = { .is_sample = 1 };
	it.u.s = *s;
	push(f, &it);
}

void gs_flight_open(struct gs_flight *f, const struct gs_interval *iv, uint64_t now_ns)
{
	consider(f, iv, now_ns);
}

static void clip(struct gs_interval *c, uint64_t from, uint64_t to)
{
	if (c->start_ns < from)
		c->start_ns = from;
	if (c->end_ns > to)
		c->end_ns = to;
}

static void emit(struct gs_flight *f, const struct gs_interval *const *open, size_t nopen)
{
	const struct gs_flight_stall *st = &f->st;
	if (f->sink.begin)
		f->sink.begin(f->sink.ctx, st);
	for (size_t k = 0; k < f->n; k++) {
		const struct item *it = &f->v[(f->head + k) % f->cap];
		if (it->is_sample) {
			if (it->u.s.t_ns >= st->from_ns && it->u.s.t_ns <= st->to_ns &&
			    f->sink.sample)
				f->sink.sample(f->sink.ctx, &it->u.s);
			continue;
		}
		if (it->u.iv.end_ns <= st->from_ns || it->u.iv.start_ns >= st->to_ns)
			continue;
		struct gs_interval c = it->u.iv;
		clip(&c, st->from_ns, st->to_ns);
		if (f->sink.interval)
			f->sink.interval(f->sink.ctx, &c);
	}
	for (size_t k = 0; k < nopen; k++) {
		if (open[k]->start_ns >= st->to_ns)
			continue;
		struct gs_interval c = *open[k];
		c.end_ns = st->to_ns;
		clip(&c, st->from_ns, st->to_ns);
		if (f->sink.interval)
			f->sink.interval(f->sink.ctx, &c);
	}
	if (f->sink.end)
		f->sink.end(f->sink.ctx, st);
	f->last_to_ns = st->to_ns;
	f->pending = 0;
}

void gs_flight_tick(struct gs_flight *f, uint64_t now_ns,
		    const struct gs_interval *const *open, size_t n)
{
	if (f->pending && now_ns >= f->st.to_ns) {
		f->st.n = ++f->stalls;
		emit(f, open, n);
	}
	trim(f, now_ns);
}

void gs_flight_finish(struct gs_flight *f, uint64_t now_ns,
		      const struct gs_interval *const *open, size_t n)
{
	if (!f->pending)
		return;
	if (f->st.to_ns > now_ns)
		f->st.to_ns = now_ns;
	f->st.n = ++f->stalls;
	emit(f, open, n);
}

int gs_flight_pending(const struct gs_flight *f)
{
	return f->pending;
}

void gs_flight_stats(const struct gs_flight *f, struct gs_flight_stats *out)
{
	out->stalls = f->stalls;
	out->overwritten = f->overwritten;
	out->capacity = f->cap;
	out->bytes = f->cap * sizeof *f->v;
}
