/* top's windows, built on the interval model (model/windows.h).
 *
 * Per thread (x86_64): a ring of RING per-second slots (role totals, the
 * longest hold and a gs_hist_small of the waits that ended that second,
 * 928 bytes each: 10.0 KiB), a gs_hist for the session (3.8 KiB) and the
 * rest of struct thr: 14.0 KiB.  The interval model adds its 384-byte
 * slot in a table kept at most half full: 0.75-1.5 KiB.  About 15 KiB in
 * all, 7.5 MiB for 500 threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "core/hist.h"
#include "model/holds.h"
#include "model/intervals.h"
#include "model/windows.h"

#define NS 1000000000ull
/* Per-thread seconds kept: the 10 s window and the second in progress
 * (slot_for never lets a second older than that take a slot back). */
#define RING 11
/* Process seconds kept: the sparkline's minute and then some. */
#define PRING 64
/* Gaps remembered while an open interval spans them; past this many the
 * oldest is forgotten (and charged like any other time). */
#define MAX_GAPS 64

struct sec_slot {
	uint64_t key;            /* second + 1; 0: empty */
	uint32_t ns[GS_ROLE_COUNT];
	uint64_t longest;        /* longest hold that ended this second */
	struct gs_hist_small wait; /* waits that ended this second */
};

struct proc_slot {
	uint64_t key;
	uint64_t observed, held, waiter_ns;
	uint64_t samples, switches, missed;
};

struct thr {
	pid_t tid;
	char name[64];
	int is_python;
	enum gs_role role;       /* last known: the row's state */
	char state;
	long syscall_nr;
	uint64_t mapped;         /* w->seq of the last remap that listed it */
	uint64_t gone_ns;        /* 0 while alive */
	/* Everything below counts from the start or the last reset. */
	uint64_t total[GS_ROLE_COUNT]; /* closed intervals */
	uint64_t longest;        /* longest hold known to have ended */
	struct gs_hold hold;     /* closed hold intervals of a hold that may go on */
	struct gs_hist wait_all; /* waits that ended */
	struct sec_slot ring[RING];
};

struct gap {
	uint64_t a, b;
};

struct gs_windows {
	struct gs_intervals *iv; /* fed here; we are its sink */
	struct thr **th;         /* sorted by tid */
	size_t n, cap;
	struct thr **map;        /* sample index -> thread, per generation */
	size_t mapcap, nmapped;
	uint64_t gen;
	int have_gen;
	uint64_t seq;
	uint64_t t0;             /* first sample: origin of the second grid */
	uint64_t start_ns;       /* first sample, or the last reset */
	uint64_t last_ns;        /* last sample */
	int locked;
	unsigned waiters;
	uint64_t interval_us;
	pid_t holder_tid;
	enum gs_role holder_role;
	long holder_syscall;
	char holder_path[256], holder_wchan[64];
	uint64_t samples, switches, missed, torn, observed, held;
	struct proc_slot pring[PRING];
	struct gap gaps[MAX_GAPS]; /* disjoint, oldest first */
	size_t ngaps;
	int exited;
};

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t sec_of(const struct gs_windows *w, uint64_t t)
{
	return t > w->t0 ? (t - w->t0) / NS : 0;
}

static uint64_t sec_start(const struct gs_windows *w, uint64_t s)
{
	return w->t0 + s * NS;
}

/* The time in [a, b) that no gap covers. */
static uint64_t free_ns(const struct gs_windows *w, uint64_t a, uint64_t b)
{
	if (b <= a)
		return 0;
	uint64_t d = b - a;
	for (size_t i = 0; i < w->ngaps; i++) {
		uint64_t lo = max64(a, w->gaps[i].a), hi = min64(b, w->gaps[i].b);
		if (hi > lo)
			d -= hi - lo;
	}
	return d;
}

static struct thr *find(struct thr *const *v, size_t n, pid_t tid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid]->tid == tid)
			return v[mid];
		if (v[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ----------------------------------------------- closed intervals */

/* The slot of second s, or NULL when s is too old for any window (its
 * place in the ring belongs to a newer second). */
static struct sec_slot *slot_for(const struct gs_windows *w, struct thr *th, uint64_t s)
{
	if (s + RING <= sec_of(w, w->last_ns))
		return NULL;
	struct sec_slot *sl = &th->ring[s % RING];
	if (sl->key != s + 1) {
		memset(sl, 0, sizeof *sl);
		sl->key = s + 1;
	}
	return sl;
}

static void charge(struct gs_windows *w, struct thr *th, enum gs_role r,
		   uint64_t a, uint64_t b)
{
	th->total[r] += free_ns(w, a, b);
	uint64_t now = sec_of(w, w->last_ns), s = sec_of(w, a), e = sec_of(w, b - 1);
	if (now >= RING && s <= now - RING)
		s = now - RING + 1;
	for (; s <= e; s++) {
		uint64_t lo = sec_start(w, s);
		struct sec_slot *sl = slot_for(w, th, s);
		if (sl)
			sl->ns[r] += (uint32_t)free_ns(w, max64(a, lo), min64(b, lo + NS));
	}
}

static void end_hold(struct gs_windows *w, struct thr *th, const struct gs_hold *h)
{
	uint64_t len = h->end_ns - h->start_ns;
	struct sec_slot *sl = slot_for(w, th, sec_of(w, h->end_ns));
	if (sl && len > sl->longest)
		sl->longest = len;
	if (len > th->longest)
		th->longest = len;
}

static void on_interval(void *ctx, const struct gs_interval *iv)
{
	struct gs_windows *w = ctx;
	struct thr *th = find(w->th, w->n, iv->tid);
	if (!th || iv->role >= GS_ROLE_COUNT)
		return;
	/* What began before a reset counts from the reset. */
	uint64_t a = max64(iv->start_ns, w->start_ns), b = max64(iv->end_ns, a);
	struct gs_hold ended;
	if (b > a)
		charge(w, th, iv->role, a, b);
	if (gs_hold_add(&th->hold, iv->role, a, b, &ended))
		end_hold(w, th, &ended);
	if (iv->role == GS_ROLE_WAITING) {
		struct sec_slot *sl = slot_for(w, th, sec_of(w, b));
		if (sl)
			gs_hist_small_add(&sl->wait, b - a);
		gs_hist_add(&th->wait_all, b - a);
	}
}

/* ---------------------------------------------------------- samples */

static void set_name(struct thr *th, const char *name)
{
	size_t k = 0;
	/* The name is the target's text: keep rows on one line and columns
	 * aligned whatever bytes it holds. */
	for (const char *p = name ? name : "?"; *p && k < sizeof th->name - 1; p++)
		th->name[k++] = (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p;
	th->name[k] = 0;
}

static void clear_thread(struct thr *th, pid_t tid)
{
	memset(th, 0, sizeof *th);
	th->tid = tid;
	th->role = GS_ROLE_UNKNOWN;
	th->syscall_nr = GS_SYSCALL_UNKNOWN;
}

static int cmp_thr(const void *a, const void *b)
{
	pid_t x = (*(struct thr *const *)a)->tid, y = (*(struct thr *const *)b)->tid;
	return (x > y) - (x < y);
}

/* The thread list changed (or was re-read): map the sample's threads to
 * ours, notice those that left and drop those gone long enough.  The
 * interval model closes the intervals of those that left. */
static int remap(struct gs_windows *w, const struct gs_sample *smp, uint64_t t)
{
	size_t nold = w->n;
	if (smp->nthreads > w->mapcap) {
		struct thr **v = realloc(w->map, smp->nthreads * sizeof *v);
		if (!v)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		w->map = v;
		w->mapcap = smp->nthreads;
	}
	if (w->n + smp->nthreads > w->cap) {
		size_t cap = (w->n + smp->nthreads) * 2;
		struct thr **v = realloc(w->th, cap * sizeof *v);
		if (!v)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		w->th = v;
		w->cap = cap;
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thr *th = find(w->th, nold, ts->tid);
		if (th && th->gone_ns)
			clear_thread(th, ts->tid); /* the tid was reused */
		if (!th) {
			if (!(th = malloc(sizeof *th)))
				return gs_fail(GS_EFAIL, "out of memory"), -1;
			clear_thread(th, ts->tid);
			w->th[w->n++] = th;
		}
		set_name(th, ts->name);
		th->is_python = ts->tstate != 0;
		th->mapped = w->seq;
		w->map[i] = th;
	}
	size_t k = 0;
	for (size_t i = 0; i < w->n; i++) {
		struct thr *th = w->th[i];
		if (th->mapped != w->seq && !th->gone_ns)
			th->gone_ns = t;
		if (th->gone_ns && t - th->gone_ns > GS_TOP_GONE_NS) {
			free(th);
			continue;
		}
		w->th[k++] = th;
	}
	w->n = k;
	if (w->n > 1)
		qsort(w->th, w->n, sizeof *w->th, cmp_thr);
	w->gen = smp->generation;
	w->have_gen = 1;
	w->nmapped = smp->nthreads;
	return 0;
}

/* Forget gaps no open interval spans any more; when still full, the
 * oldest. */
static void add_gap(struct gs_windows *w, uint64_t a, uint64_t b)
{
	if (w->ngaps == MAX_GAPS) {
		uint64_t oldest = a;
		for (size_t i = 0; i < w->n; i++) {
			const struct gs_interval *o = gs_intervals_open(w->iv, w->th[i]->tid);
			if (o && o->start_ns < oldest)
				oldest = o->start_ns;
		}
		size_t k = 0;
		for (size_t i = 0; i < w->ngaps; i++)
			if (w->gaps[i].b > oldest)
				w->gaps[k++] = w->gaps[i];
		if (k == MAX_GAPS)
			memmove(w->gaps, w->gaps + 1, --k * sizeof *w->gaps);
		w->ngaps = k;
	}
	w->gaps[w->ngaps++] = (struct gap){ a, b };
}

static struct proc_slot *proc_slot(struct gs_windows *w, uint64_t s)
{
	struct proc_slot *sl = &w->pring[s % PRING];
	if (sl->key != s + 1) {
		memset(sl, 0, sizeof *sl);
		sl->key = s + 1;
	}
	return sl;
}

/* [a, b), at most a second long: to the process figures of the seconds
 * it touches. */
static void charge_process(struct gs_windows *w, uint64_t a, uint64_t b)
{
	while (a < b) {
		uint64_t s = sec_of(w, a), edge = min64(b, sec_start(w, s + 1));
		struct proc_slot *ps = proc_slot(w, s);
		uint64_t d = edge - a;
		ps->observed += d;
		ps->waiter_ns += d * w->waiters;
		w->observed += d;
		if (w->locked) {
			ps->held += d;
			w->held += d;
		}
		a = edge;
	}
}

int gs_windows_feed(struct gs_windows *w, const struct gs_sample *smp)
{
	uint64_t t = smp->t_ns;
	if (w->exited)
		return 0;
	if (!w->seq)
		w->t0 = w->start_ns = w->last_ns = t;
	if (t < w->last_ns)
		t = w->last_ns;
	w->seq++;
	/* A thread list of another length under the same generation is a
	 * sampler bug, but must not index past the map. */
	if ((!w->have_gen || smp->generation != w->gen || smp->nthreads != w->nmapped) &&
	    remap(w, smp, t))
		return -1;
	uint64_t prev = w->last_ns;
	int gap = t - prev > GS_TOP_GAP_NS;
	if (gap)
		add_gap(w, prev, t);
	/* Intervals close at this sample: their seconds are measured
	 * against it. */
	w->last_ns = t;
	if (t == smp->t_ns) {
		gs_intervals_feed(w->iv, smp);
	} else {
		/* A clock that went back: the intervals see it stand still. */
		struct gs_sample c = *smp;
		c.t_ns = t;
		gs_intervals_feed(w->iv, &c);
	}

	if (!gap)
		charge_process(w, prev, t);
	struct proc_slot *ps = proc_slot(w, sec_of(w, t));
	ps->samples++;
	w->samples++;
	ps->switches += smp->switches;
	ps->missed += smp->missed;
	w->switches += smp->switches;
	w->missed += smp->missed;
	w->torn += (uint64_t)(smp->torn != 0);

	unsigned waiters = 0;
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thr *th = w->map[i];
		/* An unknown role extends the last known one. */
		if (ts->role != GS_ROLE_UNKNOWN) {
			th->role = ts->role;
			th->state = ts->state;
			th->syscall_nr = ts->syscall_nr;
		}
		waiters += th->role == GS_ROLE_WAITING;
		if (!smp->torn && ts->tid == smp->holder_tid) {
			w->holder_role = ts->role;
			w->holder_syscall = ts->syscall_nr;
			snprintf(w->holder_path, sizeof w->holder_path, "%s",
				 ts->path ? ts->path : "");
			snprintf(w->holder_wchan, sizeof w->holder_wchan, "%s",
				 ts->wchan ? ts->wchan : "");
		}
	}
	if (!smp->torn) {
		w->locked = smp->gil.locked == 1;
		w->holder_tid = smp->holder_tid;
		w->interval_us = smp->interval_us;
	}
	w->waiters = waiters;
	return 0;
}

struct gs_windows *gs_windows_new(void)
{
	struct gs_windows *w = calloc(1, sizeof *w);
	struct gs_interval_sink sink = { .ctx = w, .interval = on_interval };
	if (!w || !(w->iv = gs_intervals_new(&sink))) {
		free(w);
		gs_fail(GS_EFAIL, "out of memory");
		return NULL;
	}
	return w;
}

void gs_windows_free(struct gs_windows *w)
{
	if (!w)
		return;
	gs_intervals_free(w->iv);
	for (size_t i = 0; i < w->n; i++)
		free(w->th[i]);
	free(w->th);
	free(w->map);
	free(w);
}

void gs_windows_exited(struct gs_windows *w)
{
	w->exited = 1;
}

void gs_windows_reset(struct gs_windows *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct thr *th = w->th[i];
		memset(th->ring, 0, sizeof th->ring);
		memset(th->total, 0, sizeof th->total);
		memset(&th->wait_all, 0, sizeof th->wait_all);
		memset(&th->hold, 0, sizeof th->hold);
		th->longest = 0;
	}
	memset(w->pring, 0, sizeof w->pring);
	w->samples = w->switches = w->missed = w->torn = 0;
	w->observed = w->held = 0;
	/* Every gap lies before the new start, where nothing counts. */
	w->ngaps = 0;
	w->start_ns = w->last_ns;
}

/* ------------------------------------------------------------ views */

/* The seconds [lo, hi) a window covers: whole seconds, or the partial
 * first second of the session while there is no whole one. */
static void window_range(const struct gs_windows *w, enum gs_top_window win,
			 uint64_t *lo, uint64_t *hi)
{
	uint64_t k = sec_of(w, w->last_ns), s0 = sec_of(w, w->start_ns);
	uint64_t len = win == GS_TOP_WIN_1S ? 1 : 10;
	*hi = k;
	*lo = k >= s0 + len ? k - len : s0;
	if (*hi <= *lo) {
		*lo = k;
		*hi = k + 1;
	}
}

static void shares(const uint64_t ns[GS_ROLE_COUNT], struct gs_top_figures *f)
{
	for (int r = 0; r < GS_ROLE_COUNT; r++)
		f->observed_ns += ns[r];
	if (!f->observed_ns)
		return;
	double o = (double)f->observed_ns;
	f->pct[GS_TOP_SH_HELD] = 100.0 * (double)(ns[GS_ROLE_HELD] + ns[GS_ROLE_HELD_OFFCPU]) / o;
	f->pct[GS_TOP_SH_OFFCPU] = 100.0 * (double)ns[GS_ROLE_HELD_OFFCPU] / o;
	f->pct[GS_TOP_SH_WAIT] = 100.0 * (double)ns[GS_ROLE_WAITING] / o;
	f->pct[GS_TOP_SH_HANDOFF] = 100.0 * (double)ns[GS_ROLE_HANDOFF] / o;
	f->pct[GS_TOP_SH_RUN] = 100.0 * (double)ns[GS_ROLE_RUNNING] / o;
	f->pct[GS_TOP_SH_IDLE] = 100.0 * (double)ns[GS_ROLE_IDLE] / o;
}

/* The figures of one thread in one window: its closed intervals from the
 * buckets, plus its open interval, open (NULL: none), up to the window's
 * end. */
static void figures(const struct gs_windows *w, const struct thr *th,
		    const struct gs_interval *open, enum gs_top_window win,
		    struct gs_top_figures *f)
{
	uint64_t ns[GS_ROLE_COUNT] = { 0 }, longest = 0, lo = 0, hi = 0;
	uint64_t from = w->start_ns, end = w->last_ns;
	int all = win == GS_TOP_WIN_ALL;
	memset(f, 0, sizeof *f);
	if (all) {
		memcpy(ns, th->total, sizeof ns);
		longest = th->longest;
	} else {
		window_range(w, win, &lo, &hi);
		for (uint64_t s = lo; s < hi; s++) {
			const struct sec_slot *sl = &th->ring[s % RING];
			if (sl->key != s + 1)
				continue;
			for (int r = 0; r < GS_ROLE_COUNT; r++)
				ns[r] += sl->ns[r];
			longest = max64(longest, sl->longest);
		}
		from = max64(from, sec_start(w, lo));
		end = min64(end, sec_start(w, hi));
	}
	uint64_t open_from = open ? max64(open->start_ns, w->start_ns) : 0;
	if (open)
		ns[open->role] += free_ns(w, max64(open_from, from), end);
	shares(ns, f);

	/* Holds and waits still in progress count up to the window's end,
	 * so that a thread stuck for a minute shows it now. */
	int holding = 0;
	uint64_t hold_from = 0;
	if (open && gs_hold_continues(&th->hold, open->role, open->start_ns)) {
		holding = 1;
		hold_from = th->hold.start_ns;
	} else if (open && gs_role_holds(open->role)) {
		holding = 1;
		hold_from = open_from;
	}
	/* A hold the open interval does not continue ended with its last
	 * closed interval. */
	if (!holding && th->hold.active) {
		uint64_t s = sec_of(w, th->hold.end_ns);
		if (all || (s >= lo && s < hi))
			longest = max64(longest, th->hold.end_ns - th->hold.start_ns);
	}
	if (holding && end > hold_from)
		longest = max64(longest, end - hold_from);
	f->longest_hold_ns = longest;

	uint64_t cur_wait = open && open->role == GS_ROLE_WAITING && end > open_from
		? end - open_from : 0;
	if (all) {
		if (cur_wait) {
			struct gs_hist h = th->wait_all;
			gs_hist_add(&h, cur_wait);
			f->wait_p99_ns = gs_hist_quantile(&h, 0.99);
			f->waits = h.n;
		} else {
			f->wait_p99_ns = gs_hist_quantile(&th->wait_all, 0.99);
			f->waits = th->wait_all.n;
		}
		return;
	}
	uint64_t n = 0;
	for (uint64_t s = lo; s < hi; s++)
		if (th->ring[s % RING].key == s + 1)
			n += th->ring[s % RING].wait.n;
	if (!n && !cur_wait)
		return;
	struct gs_hist h;
	memset(&h, 0, sizeof h);
	for (uint64_t s = lo; s < hi; s++)
		if (th->ring[s % RING].key == s + 1)
			gs_hist_merge_small(&h, &th->ring[s % RING].wait);
	if (cur_wait)
		gs_hist_add(&h, cur_wait);
	f->wait_p99_ns = gs_hist_quantile(&h, 0.99);
	f->waits = h.n;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : -1;
}

static void header(const struct gs_windows *w, struct gs_top_header *h)
{
	uint64_t lo, hi;
	memset(h, 0, sizeof *h);
	h->samples = w->samples;
	h->elapsed_ns = w->last_ns - w->start_ns;
	h->interval_us = w->interval_us;
	h->switches_total = w->switches;
	h->missed_total = w->missed;
	h->torn_total = w->torn;
	h->util_session = ratio(w->held, w->observed);
	h->rate_session = w->observed ? (double)w->samples / ((double)w->observed / 1e9) : 0;
	h->waiters_now = w->waiters;
	h->exited = w->exited;

	window_range(w, GS_TOP_WIN_1S, &lo, &hi);
	const struct proc_slot *ps = &w->pring[lo % PRING];
	h->util_now = -1;
	if (ps->key == lo + 1 && ps->observed) {
		double secs = (double)ps->observed / 1e9;
		h->util_now = ratio(ps->held, ps->observed);
		h->switches_now = (double)ps->switches / secs;
		h->missed_now = (double)ps->missed / secs;
		h->rate_now = (double)ps->samples / secs;
		h->waiters_avg = (double)ps->waiter_ns / (double)ps->observed;
	}
	uint64_t s0 = sec_of(w, w->start_ns);
	for (int i = 0; i < GS_TOP_SPARK; i++) {
		uint64_t back = (uint64_t)(GS_TOP_SPARK - i);
		h->spark[i] = -1;
		if (hi < back || hi - back < s0)
			continue;
		uint64_t s = hi - back;
		const struct proc_slot *sl = &w->pring[s % PRING];
		if (sl->key == s + 1 && sl->observed)
			h->spark[i] = ratio(sl->held, sl->observed);
	}

	h->gil_locked = w->locked;
	h->holder_tid = w->holder_tid;
	h->holder_role = w->holder_role;
	h->holder_syscall = w->holder_syscall;
	snprintf(h->holder_path, sizeof h->holder_path, "%s", w->holder_path);
	snprintf(h->holder_wchan, sizeof h->holder_wchan, "%s", w->holder_wchan);
	for (size_t i = 0; i < w->n; i++) {
		h->nthreads += !w->th[i]->gone_ns;
		if (w->th[i]->tid == w->holder_tid)
			snprintf(h->holder_name, sizeof h->holder_name, "%s", w->th[i]->name);
	}
}

int gs_windows_view(const struct gs_windows *w, struct gs_top_view *v)
{
	if (w->n > v->cap) {
		struct gs_top_row *r = realloc(v->rows, w->n * sizeof *r);
		if (!r)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		v->rows = r;
		v->cap = w->n;
	}
	header(w, &v->h);
	v->n = w->n;
	for (size_t i = 0; i < w->n; i++) {
		const struct thr *th = w->th[i];
		struct gs_top_row *r = &v->rows[i];
		const struct gs_interval *open = th->gone_ns ? NULL
			: gs_intervals_open(w->iv, th->tid);
		if (open && open->role >= GS_ROLE_COUNT)
			open = NULL;
		r->tid = th->tid;
		memcpy(r->name, th->name, sizeof r->name);
		r->is_python = th->is_python;
		r->gone = th->gone_ns != 0;
		r->holder = !r->gone && th->tid == w->holder_tid && w->locked;
		r->role = th->role;
		r->state = th->state;
		r->syscall_nr = th->syscall_nr;
		for (int k = 0; k < GS_TOP_NWIN; k++)
			figures(w, th, open, (enum gs_top_window)k, &r->w[k]);
	}
	return 0;
}

void gs_top_view_free(struct gs_top_view *v)
{
	free(v->rows);
	memset(v, 0, sizeof *v);
}

const char *gs_top_window_name(enum gs_top_window w)
{
	switch (w) {
	case GS_TOP_WIN_1S: return "1s";
	case GS_TOP_WIN_10S: return "10s";
	default: return "all";
	}
}

int gs_top_parse_window(const char *s)
{
	if (!strcmp(s, "1") || !strcmp(s, "1s"))
		return GS_TOP_WIN_1S;
	if (!strcmp(s, "10") || !strcmp(s, "10s"))
		return GS_TOP_WIN_10S;
	if (!strcmp(s, "all"))
		return GS_TOP_WIN_ALL;
	return -1;
}
