/* gilsnoop top's model: per-second buckets per thread, and the text both
 * of top's outputs print.  See include/top_model.h for the accounting
 * rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "model/summary.h"
#include "proc/taskstat.h"
#include "model/top_model.h"

#define NS 1000000000ull
/* A gap this long between two samples (gilsnoop was stopped with ^Z,
 * say) is charged to nobody rather than to whatever role came before.
 * It also bounds a span to two seconds' buckets. */
#define GAP_NS NS

/* Wait-latency sketch for the windows: 8 sub-buckets per power of two
 * from 1 us to about two minutes, so quantiles are within about 9% in
 * 434 bytes a second.  The session figure uses the finer gs_hist. */
#define SK_SUB 8
#define SK_MIN_MSB 10
#define SK_MAX_MSB 36
#define SK_BUCKETS (1 + (SK_MAX_MSB - SK_MIN_MSB + 1) * SK_SUB)

struct sec_slot {
	uint64_t key;            /* second + 1; 0: empty */
	uint32_t ns[GS_ROLE_COUNT];
	uint64_t longest;        /* longest hold that ended this second */
};

struct wait_slot {
	uint64_t key;
	uint64_t max;
	uint32_t n;
	uint16_t b[SK_BUCKETS];
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
	enum gs_role role;       /* last known */
	char state;
	long syscall_nr;
	uint64_t last_seq, last_ns, mapped;
	uint64_t gone_ns;        /* 0 while alive */
	uint64_t hold_start, wait_start; /* 0: none in progress */
	uint64_t total[GS_ROLE_COUNT];
	uint64_t longest;
	struct gs_hist wait_all;
	struct sec_slot ring[TOP_RING];
	struct wait_slot wring[TOP_WAIT_RING];
};

struct top_model {
	struct thr **th;         /* sorted by tid */
	size_t n, cap;
	struct thr **map;        /* sample index -> thread, per generation */
	size_t mapcap;
	uint64_t gen;
	int have_gen;
	uint64_t seq;
	uint64_t t0;             /* first sample: origin of the second grid */
	uint64_t start_ns;       /* first sample, or the last reset */
	uint64_t last_ns;
	int locked;
	unsigned waiters;
	uint64_t interval_us;
	pid_t holder_tid;
	enum gs_role holder_role;
	long holder_syscall;
	char holder_path[256], holder_wchan[64];
	uint64_t samples, switches, missed, torn, observed, held;
	struct proc_slot pring[TOP_RING];
	int exited;
};

struct piece {
	uint64_t sec, ns;
};

static uint64_t sec_of(const struct top_model *m, uint64_t t)
{
	return t > m->t0 ? (t - m->t0) / NS : 0;
}

/* Split [a, b) at second boundaries; returns the number of pieces. */
static int split(const struct top_model *m, uint64_t a, uint64_t b, struct piece p[2])
{
	if (b <= a || b - a > GAP_NS)
		return 0;
	uint64_t sa = sec_of(m, a), sb = sec_of(m, b - 1);
	if (sa == sb) {
		p[0] = (struct piece){ sa, b - a };
		return 1;
	}
	uint64_t edge = m->t0 + sb * NS;
	p[0] = (struct piece){ sa, edge - a };
	p[1] = (struct piece){ sb, b - edge };
	return 2;
}

static struct sec_slot *sec_slot(struct thr *t, uint64_t s)
{
	struct sec_slot *sl = &t->ring[s % TOP_RING];
	if (sl->key != s + 1) {
		memset(sl, 0, sizeof *sl);
		sl->key = s + 1;
	}
	return sl;
}

static struct wait_slot *wait_slot(struct thr *t, uint64_t s)
{
	struct wait_slot *sl = &t->wring[s % TOP_WAIT_RING];
	if (sl->key != s + 1) {
		memset(sl, 0, sizeof *sl);
		sl->key = s + 1;
	}
	return sl;
}

static struct proc_slot *proc_slot(struct top_model *m, uint64_t s)
{
	struct proc_slot *sl = &m->pring[s % TOP_RING];
	if (sl->key != s + 1) {
		memset(sl, 0, sizeof *sl);
		sl->key = s + 1;
	}
	return sl;
}

static unsigned sk_bucket(uint64_t v)
{
	if (v < (1ull << SK_MIN_MSB))
		return 0;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > SK_MAX_MSB)
		return SK_BUCKETS - 1;
	unsigned sub = (unsigned)(v >> (msb - 3)) & (SK_SUB - 1);
	return 1 + (msb - SK_MIN_MSB) * SK_SUB + sub;
}

/* Upper bound of a bucket, so that latency is never understated. */
static uint64_t sk_value(unsigned b)
{
	if (b == 0)
		return (1ull << SK_MIN_MSB) - 1;
	unsigned msb = (b - 1) / SK_SUB + SK_MIN_MSB, sub = (b - 1) % SK_SUB;
	return ((uint64_t)(SK_SUB + sub + 1) << (msb - 3)) - 1;
}

static int is_hold(enum gs_role r)
{
	return r == GS_ROLE_HELD || r == GS_ROLE_HELD_OFFCPU;
}

static void end_hold(struct top_model *m, struct thr *th, uint64_t t)
{
	uint64_t len = t > th->hold_start ? t - th->hold_start : 0;
	struct sec_slot *sl = sec_slot(th, sec_of(m, t));
	if (len > sl->longest)
		sl->longest = len;
	if (len > th->longest)
		th->longest = len;
	th->hold_start = 0;
}

static void end_wait(struct top_model *m, struct thr *th, uint64_t t)
{
	uint64_t len = t > th->wait_start ? t - th->wait_start : 0;
	struct wait_slot *sl = wait_slot(th, sec_of(m, t));
	unsigned b = sk_bucket(len);
	if (sl->b[b] < UINT16_MAX) {
		sl->b[b]++;
		sl->n++;
	}
	if (len > sl->max)
		sl->max = len;
	gs_hist_add(&th->wait_all, len);
	th->wait_start = 0;
}

/* A hold spans on- and off-CPU samples, as in the summary. */
static void transition(struct top_model *m, struct thr *th, enum gs_role r, uint64_t t)
{
	if (th->hold_start && !is_hold(r))
		end_hold(m, th, t);
	else if (!th->hold_start && is_hold(r))
		th->hold_start = t;
	if (th->wait_start && r != GS_ROLE_WAITING)
		end_wait(m, th, t);
	else if (!th->wait_start && r == GS_ROLE_WAITING)
		th->wait_start = t;
}

static void set_name(struct thr *th, const char *name)
{
	size_t k = 0;
	/* The name is the target's text: keep rows on one line and columns
	 * aligned whatever bytes it holds. */
	for (const char *p = name ? name : "?"; *p && k < sizeof th->name - 1; p++)
		th->name[k++] = (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p;
	th->name[k] = 0;
}

static struct thr *new_thread(pid_t tid)
{
	struct thr *th = calloc(1, sizeof *th);
	if (!th)
		return NULL;
	th->tid = tid;
	th->role = GS_ROLE_UNKNOWN;
	th->syscall_nr = GS_SYSCALL_UNKNOWN;
	return th;
}

static int cmp_thr(const void *a, const void *b)
{
	pid_t x = (*(struct thr *const *)a)->tid, y = (*(struct thr *const *)b)->tid;
	return (x > y) - (x < y);
}

static struct thr *find(struct thr **v, size_t n, pid_t tid)
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

static void thread_gone(struct top_model *m, struct thr *th, uint64_t t)
{
	/* Its last role lasted until the last sample that saw it. */
	if (th->hold_start)
		end_hold(m, th, th->last_ns);
	if (th->wait_start)
		end_wait(m, th, th->last_ns);
	th->gone_ns = t;
}

/* The thread list changed (or was re-read): map the sample's threads to
 * ours, notice those that left and drop those gone long enough. */
static int remap(struct top_model *m, const struct gs_sample *smp)
{
	size_t nold = m->n;
	if (smp->nthreads > m->mapcap) {
		struct thr **v = realloc(m->map, smp->nthreads * sizeof *v);
		if (!v)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		m->map = v;
		m->mapcap = smp->nthreads;
	}
	if (m->n + smp->nthreads > m->cap) {
		size_t cap = (m->n + smp->nthreads) * 2;
		struct thr **v = realloc(m->th, cap * sizeof *v);
		if (!v)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		m->th = v;
		m->cap = cap;
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thr *th = find(m->th, nold, ts->tid);
		if (th && th->gone_ns) {
			/* The tid was reused by a new thread. */
			pid_t tid = th->tid;
			memset(th, 0, sizeof *th);
			th->tid = tid;
			th->role = GS_ROLE_UNKNOWN;
			th->syscall_nr = GS_SYSCALL_UNKNOWN;
		}
		if (!th) {
			if (!(th = new_thread(ts->tid)))
				return gs_fail(GS_EFAIL, "out of memory"), -1;
			m->th[m->n++] = th;
		}
		set_name(th, ts->name);
		th->is_python = ts->tstate != 0;
		th->mapped = m->seq;
		m->map[i] = th;
	}
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct thr *th = m->th[i];
		if (th->mapped != m->seq && !th->gone_ns)
			thread_gone(m, th, smp->t_ns);
		if (th->gone_ns && smp->t_ns - th->gone_ns > TOP_GONE_NS) {
			free(th);
			continue;
		}
		m->th[k++] = th;
	}
	m->n = k;
	if (m->n > 1)
		qsort(m->th, m->n, sizeof *m->th, cmp_thr);
	m->gen = smp->generation;
	m->have_gen = 1;
	return 0;
}

struct top_model *top_model_new(void)
{
	struct top_model *m = calloc(1, sizeof *m);
	if (!m)
		gs_fail(GS_EFAIL, "out of memory");
	return m;
}

void top_model_free(struct top_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->th[i]);
	free(m->th);
	free(m->map);
	free(m);
}

static void charge_process(struct top_model *m, const struct piece *p, int np)
{
	for (int i = 0; i < np; i++) {
		struct proc_slot *ps = proc_slot(m, p[i].sec);
		ps->observed += p[i].ns;
		ps->waiter_ns += p[i].ns * m->waiters;
		m->observed += p[i].ns;
		if (m->locked) {
			ps->held += p[i].ns;
			m->held += p[i].ns;
		}
	}
}

int top_model_feed(struct top_model *m, const struct gs_sample *smp)
{
	uint64_t t = smp->t_ns;
	if (m->exited)
		return 0;
	if (!m->seq)
		m->t0 = m->start_ns = m->last_ns = t;
	if (t < m->last_ns)
		t = m->last_ns;
	m->seq++;
	if ((!m->have_gen || smp->generation != m->gen) && remap(m, smp))
		return -1;

	struct piece p[2];
	int np = m->seq > 1 ? split(m, m->last_ns, t, p) : 0;
	charge_process(m, p, np);
	struct proc_slot *ps = proc_slot(m, sec_of(m, t));
	ps->samples++;
	m->samples++;
	ps->switches += smp->switches;
	ps->missed += smp->missed;
	m->switches += smp->switches;
	m->missed += smp->missed;
	m->torn += (uint64_t)(smp->torn != 0);

	unsigned waiters = 0;
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		struct thr *th = m->map[i];
		if (th->last_seq + 1 == m->seq) {
			for (int k = 0; k < np; k++) {
				sec_slot(th, p[k].sec)->ns[th->role] += (uint32_t)p[k].ns;
				th->total[th->role] += p[k].ns;
			}
		}
		/* An unknown role extends the last known one. */
		if (ts->role != GS_ROLE_UNKNOWN) {
			transition(m, th, ts->role, t);
			th->role = ts->role;
			th->state = ts->state;
			th->syscall_nr = ts->syscall_nr;
		}
		th->last_seq = m->seq;
		th->last_ns = t;
		waiters += th->role == GS_ROLE_WAITING;
		if (!smp->torn && ts->tid == smp->holder_tid) {
			m->holder_role = ts->role;
			m->holder_syscall = ts->syscall_nr;
			snprintf(m->holder_path, sizeof m->holder_path, "%s",
				 ts->path ? ts->path : "");
			snprintf(m->holder_wchan, sizeof m->holder_wchan, "%s",
				 ts->wchan ? ts->wchan : "");
		}
	}
	if (!smp->torn) {
		m->locked = smp->gil.locked == 1;
		m->holder_tid = smp->holder_tid;
		m->interval_us = smp->interval_us;
	}
	m->waiters = waiters;
	m->last_ns = t;
	return 0;
}

void top_model_exited(struct top_model *m)
{
	m->exited = 1;
}

void top_model_reset(struct top_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct thr *th = m->th[i];
		memset(th->ring, 0, sizeof th->ring);
		memset(th->wring, 0, sizeof th->wring);
		memset(th->total, 0, sizeof th->total);
		memset(&th->wait_all, 0, sizeof th->wait_all);
		th->longest = 0;
		if (th->hold_start)
			th->hold_start = m->last_ns;
		if (th->wait_start)
			th->wait_start = m->last_ns;
	}
	memset(m->pring, 0, sizeof m->pring);
	m->samples = m->switches = m->missed = m->torn = 0;
	m->observed = m->held = 0;
	m->start_ns = m->last_ns;
}

/* The seconds [lo, hi) a window covers: whole seconds, or the partial
 * first second of the session while there is no whole one. */
static void window_range(const struct top_model *m, enum top_window w,
			 uint64_t *lo, uint64_t *hi)
{
	uint64_t k = sec_of(m, m->last_ns), s0 = sec_of(m, m->start_ns);
	uint64_t len = w == TOP_WIN_1S ? 1 : 10;
	*hi = k;
	*lo = k >= s0 + len ? k - len : s0;
	if (*hi <= *lo) {
		*lo = k;
		*hi = k + 1;
	}
}

static uint64_t sk_quantile(const uint32_t *b, uint64_t n, uint64_t max, double q)
{
	if (!n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n + 0.5), seen = 0;
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < SK_BUCKETS; i++) {
		seen += b[i];
		if (seen >= want) {
			uint64_t v = sk_value(i);
			return v < max ? v : max;
		}
	}
	return max;
}

static void figures(const struct top_model *m, const struct thr *th,
		    enum top_window w, struct top_figures *f)
{
	uint64_t ns[GS_ROLE_COUNT] = { 0 }, longest = 0, end = m->last_ns, lo = 0, hi = 0;
	memset(f, 0, sizeof *f);
	if (w == TOP_WIN_ALL) {
		memcpy(ns, th->total, sizeof ns);
		longest = th->longest;
	} else {
		window_range(m, w, &lo, &hi);
		for (uint64_t s = lo; s < hi; s++) {
			const struct sec_slot *sl = &th->ring[s % TOP_RING];
			if (sl->key != s + 1)
				continue;
			for (int r = 0; r < GS_ROLE_COUNT; r++)
				ns[r] += sl->ns[r];
			if (sl->longest > longest)
				longest = sl->longest;
		}
		if (m->t0 + hi * NS < end)
			end = m->t0 + hi * NS;
	}
	/* Holds and waits still in progress count up to the window's end,
	 * so that a thread stuck for a minute shows it now. */
	if (th->hold_start && end > th->hold_start && end - th->hold_start > longest)
		longest = end - th->hold_start;
	uint64_t cur_wait = th->wait_start && end > th->wait_start ? end - th->wait_start : 0;

	for (int r = 0; r < GS_ROLE_COUNT; r++)
		f->observed_ns += ns[r];
	if (f->observed_ns) {
		double o = (double)f->observed_ns;
		f->pct[TOP_SH_HELD] = 100.0 * (double)(ns[GS_ROLE_HELD] + ns[GS_ROLE_HELD_OFFCPU]) / o;
		f->pct[TOP_SH_OFFCPU] = 100.0 * (double)ns[GS_ROLE_HELD_OFFCPU] / o;
		f->pct[TOP_SH_WAIT] = 100.0 * (double)ns[GS_ROLE_WAITING] / o;
		f->pct[TOP_SH_RUN] = 100.0 * (double)ns[GS_ROLE_RUNNING] / o;
		f->pct[TOP_SH_IDLE] = 100.0 * (double)ns[GS_ROLE_IDLE] / o;
	}
	f->longest_hold_ns = longest;

	if (w == TOP_WIN_ALL) {
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
	uint32_t b[SK_BUCKETS] = { 0 };
	uint64_t n = 0, max = 0;
	for (uint64_t s = lo; s < hi; s++) {
		const struct wait_slot *sl = &th->wring[s % TOP_WAIT_RING];
		if (sl->key != s + 1)
			continue;
		for (unsigned i = 0; i < SK_BUCKETS; i++)
			b[i] += sl->b[i];
		n += sl->n;
		if (sl->max > max)
			max = sl->max;
	}
	if (cur_wait) {
		b[sk_bucket(cur_wait)]++;
		n++;
		if (cur_wait > max)
			max = cur_wait;
	}
	f->wait_p99_ns = sk_quantile(b, n, max, 0.99);
	f->waits = n;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : -1;
}

static void header(const struct top_model *m, struct top_header *h)
{
	uint64_t lo, hi;
	memset(h, 0, sizeof *h);
	h->samples = m->samples;
	h->elapsed_ns = m->last_ns - m->start_ns;
	h->interval_us = m->interval_us;
	h->switches_total = m->switches;
	h->missed_total = m->missed;
	h->torn_total = m->torn;
	h->util_session = ratio(m->held, m->observed);
	h->rate_session = m->observed ? (double)m->samples / ((double)m->observed / 1e9) : 0;
	h->waiters_now = m->waiters;
	h->exited = m->exited;

	window_range(m, TOP_WIN_1S, &lo, &hi);
	const struct proc_slot *ps = &m->pring[lo % TOP_RING];
	h->util_now = -1;
	if (ps->key == lo + 1 && ps->observed) {
		double secs = (double)ps->observed / 1e9;
		h->util_now = ratio(ps->held, ps->observed);
		h->switches_now = (double)ps->switches / secs;
		h->missed_now = (double)ps->missed / secs;
		h->rate_now = (double)ps->samples / secs;
		h->waiters_avg = (double)ps->waiter_ns / (double)ps->observed;
	}
	uint64_t s0 = sec_of(m, m->start_ns);
	for (int i = 0; i < TOP_SPARK; i++) {
		uint64_t back = (uint64_t)(TOP_SPARK - i);
		h->spark[i] = -1;
		if (hi < back || hi - back < s0)
			continue;
		uint64_t s = hi - back;
		const struct proc_slot *sl = &m->pring[s % TOP_RING];
		if (sl->key == s + 1 && sl->observed)
			h->spark[i] = ratio(sl->held, sl->observed);
	}

	h->gil_locked = m->locked;
	h->holder_tid = m->holder_tid;
	h->holder_role = m->holder_role;
	h->holder_syscall = m->holder_syscall;
	snprintf(h->holder_path, sizeof h->holder_path, "%s", m->holder_path);
	snprintf(h->holder_wchan, sizeof h->holder_wchan, "%s", m->holder_wchan);
	for (size_t i = 0; i < m->n; i++) {
		h->nthreads += !m->th[i]->gone_ns;
		if (m->th[i]->tid == m->holder_tid)
			snprintf(h->holder_name, sizeof h->holder_name, "%s", m->th[i]->name);
	}
}

int top_model_view(const struct top_model *m, struct top_view *v)
{
	if (m->n > v->cap) {
		struct top_row *r = realloc(v->rows, m->n * sizeof *r);
		if (!r)
			return gs_fail(GS_EFAIL, "out of memory"), -1;
		v->rows = r;
		v->cap = m->n;
	}
	header(m, &v->h);
	v->n = m->n;
	for (size_t i = 0; i < m->n; i++) {
		const struct thr *th = m->th[i];
		struct top_row *r = &v->rows[i];
		r->tid = th->tid;
		memcpy(r->name, th->name, sizeof r->name);
		r->is_python = th->is_python;
		r->gone = th->gone_ns != 0;
		r->holder = !r->gone && th->tid == m->holder_tid && m->locked;
		r->role = th->role;
		r->state = th->state;
		r->syscall_nr = th->syscall_nr;
		for (int w = 0; w < TOP_NWIN; w++)
			figures(m, th, (enum top_window)w, &r->w[w]);
	}
	return 0;
}

void top_view_free(struct top_view *v)
{
	free(v->rows);
	memset(v, 0, sizeof *v);
}

/* qsort has no context argument: the key of the sort in progress. */
static enum top_window sort_w;
static enum top_col sort_c;

/* Holders first, then the roles that matter most for contention. */
static int role_rank(const struct top_row *r)
{
	static const int rank[GS_ROLE_COUNT] = {
		[GS_ROLE_HELD] = 0, [GS_ROLE_HELD_OFFCPU] = 1, [GS_ROLE_WAITING] = 2,
		[GS_ROLE_HANDOFF] = 3, [GS_ROLE_RUNNING] = 4, [GS_ROLE_IDLE] = 5,
		[GS_ROLE_UNKNOWN] = 6,
	};
	return r->gone ? 7 : rank[r->role < GS_ROLE_COUNT ? r->role : GS_ROLE_UNKNOWN];
}

static double sort_value(const struct top_row *r)
{
	const struct top_figures *f = &r->w[sort_w];
	switch (sort_c) {
	case TOP_COL_HELD: return f->pct[TOP_SH_HELD];
	case TOP_COL_OFFCPU: return f->pct[TOP_SH_OFFCPU];
	case TOP_COL_WAIT: return f->pct[TOP_SH_WAIT];
	case TOP_COL_RUN: return f->pct[TOP_SH_RUN];
	case TOP_COL_IDLE: return f->pct[TOP_SH_IDLE];
	case TOP_COL_LONGEST: return (double)f->longest_hold_ns;
	case TOP_COL_WAITP99: return (double)f->wait_p99_ns;
	default: return 0;
	}
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct top_row *a = pa, *b = pb;
	int c = 0;
	switch (sort_c) {
	case TOP_COL_TID:
		break;
	case TOP_COL_NAME:
		c = strcmp(a->name, b->name);
		break;
	case TOP_COL_STATE:
		c = role_rank(a) - role_rank(b);
		break;
	default: {
		/* Largest first; threads not seen in the window last. */
		int sa = a->w[sort_w].observed_ns != 0, sb = b->w[sort_w].observed_ns != 0;
		if (sa != sb)
			return sb - sa;
		double x = sort_value(a), y = sort_value(b);
		c = (x < y) - (x > y);
	}
	}
	return c ? c : (a->tid > b->tid) - (a->tid < b->tid);
}

void top_view_sort(struct top_view *v, enum top_window w, enum top_col c)
{
	sort_w = w;
	sort_c = c;
	if (v->n > 1)
		qsort(v->rows, v->n, sizeof *v->rows, cmp_rows);
}

const char *top_window_name(enum top_window w)
{
	switch (w) {
	case TOP_WIN_1S: return "1s";
	case TOP_WIN_10S: return "10s";
	default: return "all";
	}
}

int top_parse_window(const char *s)
{
	if (!strcmp(s, "1") || !strcmp(s, "1s"))
		return TOP_WIN_1S;
	if (!strcmp(s, "10") || !strcmp(s, "10s"))
		return TOP_WIN_10S;
	if (!strcmp(s, "all"))
		return TOP_WIN_ALL;
	return -1;
}

const char *top_col_name(enum top_col c)
{
	static const char *const names[TOP_NCOL] = {
		"TID", "NAME", "STATE", "HELD%", "OFFC%", "WAIT%", "RUN%", "IDLE%",
		"LONGEST", "WAITp99",
	};
	return c < TOP_NCOL ? names[c] : "?";
}

/* ------------------------------------------------------------ text */

#define STATE_W 14 /* "holding-offcpu" */
#define PCT_W 5
#define DUR_W 7
#define MIN_NAME 6
#define MAX_NAME 15
#define MIN_DETAIL 8
#define MAX_DETAIL 40

void top_layout(int cols, struct top_layout *l)
{
	/* Everything but NAME: TID, STATE, five shares, two durations and
	 * the spaces between them. */
	int fixed = 7 + 1 + 1 + STATE_W + 5 * (1 + PCT_W) + 2 * (1 + DUR_W);
	int name = cols - fixed;
	memset(l, 0, sizeof *l);
	l->name_w = name < MIN_NAME ? MIN_NAME : name > MAX_NAME ? MAX_NAME : name;
	int rest = cols - fixed - l->name_w - 1;
	if (rest >= MIN_DETAIL)
		l->detail_w = rest > MAX_DETAIL ? MAX_DETAIL : rest;
	int x = 0;
	for (int c = 0; c < TOP_NCOL; c++) {
		int w = c == TOP_COL_TID ? 7 : c == TOP_COL_NAME ? l->name_w
			: c == TOP_COL_STATE ? STATE_W
			: c >= TOP_COL_LONGEST ? DUR_W : PCT_W;
		l->col_x[c] = x;
		l->col_w[c] = w;
		x += w + 1;
	}
	l->state_x = l->col_x[TOP_COL_STATE];
	l->state_w = STATE_W;
}

void top_fmt_dur(char *buf, size_t n, uint64_t ns)
{
	double v = (double)ns;
	if (!ns)
		snprintf(buf, n, "-");
	else if (v < 1e3)
		snprintf(buf, n, "<1us");
	else if (v < 999.5e3)
		snprintf(buf, n, "%.0fus", v / 1e3);
	else if (v < 9.995e6)
		snprintf(buf, n, "%.2fms", v / 1e6);
	else if (v < 999.95e6)
		snprintf(buf, n, "%.1fms", v / 1e6);
	else if (v < 99.995e9)
		snprintf(buf, n, "%.2fs", v / 1e9);
	else
		snprintf(buf, n, "%.0fs", v / 1e9);
}

const char *top_row_state(const struct top_row *r)
{
	return r->gone ? "exited" : gs_role_name(r->role);
}

static void strip(char *buf)
{
	size_t k = strlen(buf);
	while (k && buf[k - 1] == ' ')
		buf[--k] = 0;
}

void top_fmt_colhead(char *buf, size_t n, const struct top_layout *l)
{
	int k = snprintf(buf, n, "%7s %-*s %-*s %*s %*s %*s %*s %*s %*s %*s",
			 "TID", l->name_w, "NAME", STATE_W, "STATE", PCT_W, "HELD%",
			 PCT_W, "OFFC%", PCT_W, "WAIT%", PCT_W, "RUN%", PCT_W, "IDLE%",
			 DUR_W, "LONGEST", DUR_W, "WAITp99");
	if (l->detail_w && k > 0 && (size_t)k < n)
		snprintf(buf + k, n - (size_t)k, " %s", "DETAIL");
}

static void detail(const struct top_row *r, char *buf, size_t n)
{
	buf[0] = 0;
	if (r->gone || (r->role != GS_ROLE_HELD_OFFCPU && r->role != GS_ROLE_IDLE))
		return;
	const char *name = r->syscall_nr >= 0 ? gs_syscall_name(r->syscall_nr) : NULL;
	if (name)
		snprintf(buf, n, "%s", name);
	else if (r->syscall_nr >= 0)
		snprintf(buf, n, "syscall %ld", r->syscall_nr);
	else if (r->state == 'D')
		snprintf(buf, n, "D state");
	else if (r->syscall_nr == GS_SYSCALL_NONE)
		snprintf(buf, n, "no syscall");
}

void top_fmt_row(char *buf, size_t n, const struct top_layout *l,
		 const struct top_row *r, enum top_window w)
{
	const struct top_figures *f = &r->w[w];
	char pct[TOP_NSHARE][16], longest[16], p99[16], det[64];
	for (int i = 0; i < TOP_NSHARE; i++) {
		if (f->observed_ns)
			snprintf(pct[i], sizeof pct[i], "%.1f", f->pct[i]);
		else
			snprintf(pct[i], sizeof pct[i], "-");
	}
	top_fmt_dur(longest, sizeof longest, f->longest_hold_ns);
	top_fmt_dur(p99, sizeof p99, f->wait_p99_ns);
	detail(r, det, sizeof det);
	snprintf(buf, n, "%7d %-*.*s %-*s %*s %*s %*s %*s %*s %*s %*s %-.*s",
		 (int)r->tid, l->name_w, l->name_w, r->name, STATE_W, top_row_state(r),
		 PCT_W, pct[TOP_SH_HELD], PCT_W, pct[TOP_SH_OFFCPU],
		 PCT_W, pct[TOP_SH_WAIT], PCT_W, pct[TOP_SH_RUN], PCT_W, pct[TOP_SH_IDLE],
		 DUR_W, longest, DUR_W, p99, l->detail_w, l->detail_w ? det : "");
	strip(buf);
}

static void fmt_elapsed(char *buf, size_t n, uint64_t ns)
{
	unsigned long s = (unsigned long)(ns / NS);
	if (s < 3600)
		snprintf(buf, n, "%lu:%02lu", s / 60, s % 60);
	else
		snprintf(buf, n, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

static void fmt_pct(char *buf, size_t n, double v)
{
	if (v < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f%%", 100 * v);
}

static void holder_line(char *buf, size_t n, const struct top_header *h)
{
	if (!h->holder_tid) {
		snprintf(buf, n, "holder  %s", h->gil_locked
			 ? "a thread not listed yet" : "none, the GIL is free");
		return;
	}
	int k = snprintf(buf, n, "holder  %d %s  ", (int)h->holder_tid, h->holder_name);
	if (k < 0 || (size_t)k >= n)
		return;
	buf += k;
	n -= (size_t)k;
	if (h->holder_role == GS_ROLE_HELD) {
		snprintf(buf, n, "on CPU");
		return;
	}
	const char *sc = h->holder_syscall >= 0 ? gs_syscall_name(h->holder_syscall) : NULL;
	char nr[32] = "";
	if (!sc && h->holder_syscall >= 0)
		snprintf(nr, sizeof nr, "syscall %ld", h->holder_syscall);
	snprintf(buf, n, "off CPU%s%s%s%s%s%s", sc || nr[0] ? " in " : "",
		 sc ? sc : nr, h->holder_path[0] ? " " : "", h->holder_path,
		 h->holder_wchan[0] ? " wchan=" : "", h->holder_wchan);
}

static const char *const blocks[8] = {
	"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
};
static const char ascii_blocks[] = "_.-:=+*#";

/* Keep an ASCII line within cols columns and printable: paths and wchan
 * come from the target. */
static void clip(char *buf, int cols)
{
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (cols > 0 && strlen(buf) > (size_t)cols)
		buf[cols] = 0;
}

void top_fmt_header(char *buf, size_t n, int i, const struct top_view *v,
		    enum top_window w, const struct top_info *info, int cols)
{
	const struct top_header *h = &v->h;
	char a[32], b[32], c[32];
	buf[0] = 0;
	switch (i) {
	case 0:
		fmt_elapsed(a, sizeof a, h->elapsed_ns);
		if (info->rate_hz > 0)
			snprintf(b, sizeof b, "%.0f Hz", info->rate_hz);
		else
			snprintf(b, sizeof b, "max rate");
		snprintf(buf, n, "gilsnoop top  pid %d  Python %s  up %s  %s  window: %s",
			 (int)info->pid, info->pyver, a, b, top_window_name(w));
		break;
	case 1:
		fmt_pct(a, sizeof a, h->util_now);
		fmt_pct(b, sizeof b, h->util_session);
		snprintf(buf, n, "GIL held  now %s  session %s  switches %.0f/s  "
			 "waiters %u (avg %.1f)", a, b, h->switches_now, h->waiters_now,
			 h->waiters_avg);
		break;
	case 2: {
		static const char label[] = "last 60s ";
		int cells = TOP_SPARK;
		if (cols > 0 && cols < (int)sizeof label) {
			snprintf(buf, n, "%.*s", cols, label);
			return;
		}
		if (cols > 0 && cols - (int)sizeof label + 1 < cells)
			cells = cols - (int)sizeof label + 1;
		if (cells < 0)
			cells = 0;
		size_t k = (size_t)snprintf(buf, n, "%s", label);
		for (int s = TOP_SPARK - cells; s < TOP_SPARK && k + 4 < n; s++) {
			double u = h->spark[s];
			if (u < 0) {
				buf[k++] = ' ';
				continue;
			}
			int lv = (int)(u * 7 + 0.5);
			lv = lv < 0 ? 0 : lv > 7 ? 7 : lv;
			if (info->utf8) {
				memcpy(buf + k, blocks[lv], 3);
				k += 3;
			} else {
				buf[k++] = ascii_blocks[lv];
			}
		}
		buf[k] = 0;
		return; /* already fits cols */
	}
	case 3:
		if (h->interval_us)
			snprintf(a, sizeof a, "%.1fms", (double)h->interval_us / 1000);
		else
			snprintf(a, sizeof a, "?");
		if (info->rate_hz > 0)
			snprintf(b, sizeof b, "of %.0f Hz", info->rate_hz);
		else
			snprintf(b, sizeof b, "(max)");
		snprintf(c, sizeof c, "%.0f", h->rate_now);
		snprintf(buf, n, "interval %s  sampling %s/s %s  missed %.0f/s, %llu total"
			 "  threads %zu", a, c, b, h->missed_now,
			 (unsigned long long)h->missed_total, h->nthreads);
		break;
	case 4:
		holder_line(buf, n, h);
		break;
	}
	clip(buf, cols);
}
