/* The sampling loop.  Per sample it costs one process_vm_readv for the
 * GIL words (and the per-thread holds_gil flags where the build has
 * them), one pread of /proc/PID/task/TID/syscall per thread, and a
 * schedstat pread for threads the kernel calls running.  Thread lists
 * are re-read only when they change. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gilsnoop.h"
#include "sampler.h"
#include "taskstat.h"
#include "threads.h"

/* A thread state created without a new kernel thread (PyGILState_Ensure
 * on an existing native thread) is only seen by a periodic rescan. */
#define RESCAN_NS (250ull * 1000 * 1000)
#define NLINK_EVERY 8

struct gil_slot {
	struct gs_gil_addrs a;
	uint64_t lo, len;        /* the words read each sample */
	unsigned char buf[64];
	struct gs_gil_words w;
};

struct tracked {
	pid_t tid;
	struct gs_task task;
	uint64_t tstate;
	size_t gil;              /* index into gils */
	int64_t holds_gil;       /* read each sample; -1 when unread */
	int64_t gil_requested;
	struct gs_taskstat now, prev;
	int have_prev;
	enum gs_role detail_role;
	long detail_nr;
	char name[64], path[256], wchan[64];
};

struct gs_sampler {
	struct gs_target *t;
	struct gil_slot gils[GS_MAX_GILS];
	size_t ngils;
	struct tracked *th;
	size_t nth;
	struct gs_thread_sample *out;
	struct iovec *local, *remote;
	size_t niov;
	int task_dir;
	nlink_t nlink;
	uint64_t last_rescan_ns;
	int need_rescan;
	struct gs_snapshot snap;
	struct gs_sample smp;
	struct gs_sampler_stats st;
	uint64_t prev_switch;
	int have_switch;
	uint64_t seen_holder;    /* last non-zero holder seen by a sample */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int gone(const struct gs_sampler *s)
{
	return gs_fail(GS_ENOPROC, "process %d exited", (int)s->t->pid);
}

static void gil_slot_init(struct gil_slot *g, const struct gs_gil_addrs *a)
{
	uint64_t lo = a->locked, hi = a->locked + 4;
	uint64_t w[2] = { a->last_holder, a->switch_number };
	for (size_t i = 0; i < 2; i++) {
		if (w[i] < lo)
			lo = w[i];
		if (w[i] + 8 > hi)
			hi = w[i] + 8;
	}
	memset(g, 0, sizeof *g);
	g->a = *a;
	g->lo = lo;
	/* 3.6 keeps the words in separate statics that need not be close;
	 * read them as one span only when they are. */
	g->len = hi - lo <= sizeof g->buf ? hi - lo : 0;
}

static size_t gil_index(struct gs_sampler *s, uint64_t base)
{
	if (!base || base == s->gils[0].a.base)
		return 0;
	for (size_t i = 1; i < s->ngils; i++)
		if (s->gils[i].a.base == base)
			return i;
	if (s->ngils == GS_MAX_GILS)
		return 0;
	struct gs_gil_addrs a;
	gs_gil_addrs_from_base(&s->t->layout, base, &a);
	gil_slot_init(&s->gils[s->ngils], &a);
	return s->ngils++;
}

static struct tracked *find_tracked(struct tracked *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].tid == tid)
			return &v[i];
	return NULL;
}

static int add_iov(struct gs_sampler *s, void *local, uint64_t remote, size_t len)
{
	s->local[s->niov] = (struct iovec){ local, len };
	s->remote[s->niov] = (struct iovec){ (void *)(uintptr_t)remote, len };
	s->niov++;
	return 0;
}

/* Rebuild the iovecs: GIL words first, so that a read cut short by a
 * freed thread state still delivers them, then per-thread flags. */
static void build_iovecs(struct gs_sampler *s)
{
	const struct gs_layout *l = &s->t->layout;
	s->niov = 0;
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		if (g->len) {
			add_iov(s, g->buf, g->lo, g->len);
		} else {
			add_iov(s, &g->w.locked, g->a.locked, 4);
			add_iov(s, &g->w.last_holder, g->a.last_holder, 8);
			add_iov(s, &g->w.switch_number, g->a.switch_number, 8);
		}
	}
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		th->holds_gil = th->gil_requested = -1;
		if (!th->tstate)
			continue;
		if (l->ts_holds_gil.off >= 0) {
			th->holds_gil = 0;
			add_iov(s, &th->holds_gil, th->tstate + (uint64_t)l->ts_holds_gil.off,
				(size_t)l->ts_holds_gil.size);
		}
		if (l->ts_gil_requested.off >= 0) {
			th->gil_requested = 0;
			add_iov(s, &th->gil_requested,
				th->tstate + (uint64_t)l->ts_gil_requested.off,
				(size_t)l->ts_gil_requested.size);
		}
	}
}

static int rescan(struct gs_sampler *s)
{
	pid_t *tids = NULL;
	ssize_t n;
	int ok = 0;

	for (int attempt = 0; attempt < 3 && !ok; attempt++) {
		if (gs_snapshot_read(s->t, &s->snap) == 0)
			ok = 1;
		else if (errno == ESRCH)
			return gone(s);
	}
	if ((n = gs_task_list(s->t->pid, &tids)) <= 0)
		return gone(s);

	struct tracked *nv = calloc((size_t)n, sizeof *nv);
	struct gs_thread_sample *out = calloc((size_t)n, sizeof *out);
	size_t per_thread = s->t->layout.ts_gil_requested.off >= 0 ? 2 : 1;
	size_t niov = 3 * GS_MAX_GILS + (size_t)n * per_thread;
	struct iovec *local = calloc(niov, sizeof *local);
	struct iovec *remote = calloc(niov, sizeof *remote);
	if (!nv || !out || !local || !remote) {
		free(nv); free(out); free(local); free(remote); free(tids);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	s->ngils = 1;
	size_t m = 0;
	for (ssize_t i = 0; i < n; i++) {
		struct tracked *old = find_tracked(s->th, s->nth, tids[i]);
		struct tracked *th = &nv[m];
		if (old) {
			*th = *old;
			old->task.fd_stat = old->task.fd_syscall =
				old->task.fd_schedstat = -1;
		} else {
			memset(th, 0, sizeof *th);
			if (gs_task_open(&th->task, s->t->pid, tids[i]) < 0)
				continue; /* exited since the listing */
			th->tid = tids[i];
			th->detail_nr = GS_SYSCALL_UNKNOWN;
			gs_task_comm(s->t->pid, th->tid, th->name, sizeof th->name);
		}
		const struct gs_pythread *p = ok ? gs_snapshot_by_tid(&s->snap, th->tid) : NULL;
		th->tstate = p ? p->tstate : 0;
		th->gil = 0;
		if (p) {
			for (size_t k = 0; k < s->snap.ninterps; k++)
				if (s->snap.interps[k].addr == p->interp)
					th->gil = gil_index(s, s->snap.interps[k].gil);
		}
		m++;
	}
	for (size_t i = 0; i < s->nth; i++)
		gs_task_close(&s->th[i].task);
	free(s->th); free(s->out); free(s->local); free(s->remote); free(tids);
	s->th = nv;
	s->nth = m;
	s->out = out;
	s->local = local;
	s->remote = remote;
	build_iovecs(s);

	struct stat st;
	if (fstat(s->task_dir, &st) == 0)
		s->nlink = st.st_nlink;
	s->last_rescan_ns = now_ns();
	s->need_rescan = !ok;
	s->st.rescans++;
	return 0;
}

struct gs_sampler *gs_sampler_new(struct gs_target *t)
{
	struct gs_sampler *s = calloc(1, sizeof *s);
	char path[64];
	if (!s) {
		gs_fail(GS_EFAIL, "out of memory");
		return NULL;
	}
	s->t = t;
	gil_slot_init(&s->gils[0], &t->gil);
	s->ngils = 1;
	snprintf(path, sizeof path, "/proc/%d/task", (int)t->pid);
	s->task_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->task_dir < 0 || rescan(s)) {
		if (s->task_dir < 0)
			gone(s);
		gs_sampler_free(s);
		return NULL;
	}
	return s;
}

void gs_sampler_free(struct gs_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nth; i++)
		gs_task_close(&s->th[i].task);
	if (s->task_dir >= 0)
		close(s->task_dir);
	gs_snapshot_free(&s->snap);
	free(s->th); free(s->out); free(s->local); free(s->remote);
	free(s);
}

static int threads_changed(struct gs_sampler *s)
{
	struct stat st;
	if (s->need_rescan)
		return 1;
	if (s->smp.seq % NLINK_EVERY == 0 &&
	    fstat(s->task_dir, &st) == 0 && st.st_nlink != s->nlink)
		return 1;
	return s->smp.t_ns - s->last_rescan_ns > RESCAN_NS;
}

/* Returns 0, 1 when the read was cut short (a torn sample), or -1 when
 * the target is gone. */
static int read_words(struct gs_sampler *s)
{
	size_t total = 0, done = 0;
	for (size_t i = 0; i < s->niov; i++)
		total += s->local[i].iov_len;
	for (size_t i = 0; i < s->niov; i += IOV_MAX) {
		size_t k = s->niov - i < IOV_MAX ? s->niov - i : IOV_MAX;
		ssize_t r = process_vm_readv(s->t->pid, s->local + i, k,
					     s->remote + i, k, 0);
		if (r < 0)
			return errno == ESRCH ? -1 : 1;
		done += (size_t)r;
	}
	if (done != total)
		return 1;
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		if (!g->len)
			continue;
		memcpy(&g->w.locked, g->buf + (g->a.locked - g->lo), 4);
		memcpy(&g->w.last_holder, g->buf + (g->a.last_holder - g->lo), 8);
		memcpy(&g->w.switch_number, g->buf + (g->a.switch_number - g->lo), 8);
	}
	return 0;
}

static void lookup_detail(struct gs_sampler *s, struct tracked *th, enum gs_role role)
{
	if (role != GS_ROLE_HELD_OFFCPU && role != GS_ROLE_IDLE) {
		th->detail_role = role;
		return;
	}
	/* Paths and wchan cost an open each: look them up once per
	 * interval, when the role or the syscall changes. */
	if (th->detail_role == role && th->detail_nr == th->now.syscall_nr)
		return;
	th->detail_role = role;
	th->detail_nr = th->now.syscall_nr;
	if (gs_syscall_fd_path(s->t->pid, &th->now, th->path, sizeof th->path))
		th->path[0] = 0;
	gs_task_wchan(s->t->pid, th->tid, th->wchan, sizeof th->wchan);
}

static int holds_gil(const struct gs_layout *l, int64_t word)
{
	if (word < 0)
		return -1;
	return l->holds_gil_mask ? (word & (int64_t)l->holds_gil_mask) != 0 : word != 0;
}

static void classify_thread(struct gs_sampler *s, struct tracked *th,
			    struct gs_thread_sample *o, int torn)
{
	const struct gil_slot *g = &s->gils[th->gil];
	o->tid = th->tid;
	o->tstate = th->tstate;
	o->name = th->name;
	o->path = o->wchan = NULL;
	o->role = GS_ROLE_UNKNOWN;
	o->syscall_nr = GS_SYSCALL_UNKNOWN;
	o->state = 0;
	if (torn)
		return;
	th->prev = th->now;
	if (gs_task_read(&th->task, GS_TS_SYSCALL, &th->now)) {
		if (errno == ESRCH)
			s->need_rescan = 1;
		th->have_prev = 0;
		return;
	}
	int holder = th->tstate && g->w.locked == 1 && g->w.last_holder == th->tstate;
	if (th->now.syscall_nr == GS_SYSCALL_RUNNING) {
		th->now.state = 'R';
		if (gs_task_read(&th->task, GS_TS_SCHEDSTAT, &th->now))
			th->now.run_ns = th->now.wait_ns = 0;
	} else if (holder || th->now.syscall_nr == GS_SYSCALL_UNKNOWN) {
		/* The holder's exact state (S, D, T) is worth a read; the
		 * others only need "not running". */
		if (gs_task_read(&th->task, GS_TS_STAT, &th->now))
			th->now.state = 0;
	} else {
		th->now.state = 'S';
	}
	struct gs_classify_in in = {
		.tstate = th->tstate,
		.holds_gil = holds_gil(&s->t->layout, th->holds_gil),
		.gil_requested = th->gil_requested < 0 ? -1 : th->gil_requested != 0,
		.now = &th->now,
		.prev = th->have_prev && th->prev.state == 'R' ? &th->prev : NULL,
	};
	o->role = gs_classify(&g->a, &g->w, &in);
	o->state = th->now.state;
	o->syscall_nr = th->now.syscall_nr;
	th->have_prev = 1;
	lookup_detail(s, th, o->role);
	if (o->role == GS_ROLE_HELD_OFFCPU || o->role == GS_ROLE_IDLE) {
		o->path = th->path;
		o->wchan = th->wchan;
	}
}

int gs_sampler_sample(struct gs_sampler *s, const struct gs_sample **out)
{
	struct gs_sample *smp = &s->smp;

	smp->t_ns = now_ns();
	if (threads_changed(s) && rescan(s))
		return -1;
	smp->seq++;
	smp->t_ns = now_ns();
	int r = read_words(s);
	if (r < 0)
		return gone(s);
	smp->torn = r;
	if (r)
		s->need_rescan = 1;

	const struct gs_gil_words *w = &s->gils[0].w;
	int holder_known = 0;
	smp->holder_tid = 0;
	for (size_t i = 0; i < s->nth; i++) {
		classify_thread(s, &s->th[i], &s->out[i], smp->torn);
		enum gs_role role = s->out[i].role;
		if (s->th[i].gil == 0 && (role == GS_ROLE_HELD || role == GS_ROLE_HELD_OFFCPU))
			smp->holder_tid = s->th[i].tid;
		if (s->th[i].tstate && s->th[i].tstate == w->last_holder)
			holder_known = 1;
	}
	/* A holder we have no thread for is a thread state created since
	 * the last scan. */
	if (!smp->torn && w->locked == 1 && !holder_known)
		s->need_rescan = 1;

	smp->gil = *w;
	smp->switches = smp->missed = 0;
	if (!smp->torn) {
		if (s->have_switch && w->switch_number >= s->prev_switch) {
			uint64_t d = w->switch_number - s->prev_switch;
			int seen = w->locked == 1 && w->last_holder &&
				   w->last_holder != s->seen_holder;
			smp->switches = d;
			smp->missed = d > (uint64_t)seen ? d - (uint64_t)seen : 0;
		}
		s->prev_switch = w->switch_number;
		s->have_switch = 1;
		if (w->locked == 1 && w->last_holder)
			s->seen_holder = w->last_holder;
	}
	smp->generation = s->st.rescans;
	smp->nthreads = s->nth;
	smp->threads = s->out;

	s->st.samples++;
	s->st.torn += (uint64_t)smp->torn;
	s->st.switches += smp->switches;
	s->st.missed += smp->missed;
	if (!s->st.first_ns)
		s->st.first_ns = smp->t_ns;
	s->st.last_ns = smp->t_ns;
	*out = smp;
	return 0;
}

int gs_sampler_run(struct gs_sampler *s, double rate_hz, double duration_s,
		   volatile sig_atomic_t *stop,
		   int (*fn)(void *ctx, const struct gs_sample *smp), void *ctx)
{
	uint64_t period = rate_hz > 0 ? (uint64_t)(1e9 / rate_hz) : 0;
	uint64_t start = now_ns(), next = start;
	uint64_t end = duration_s > 0 ? start + (uint64_t)(duration_s * 1e9) : UINT64_MAX;

	while (!(stop && *stop)) {
		const struct gs_sample *smp;
		if (gs_sampler_sample(s, &smp))
			return -1;
		if (fn && fn(ctx, smp))
			return 0;
		uint64_t t = now_ns();
		if (t >= end)
			return 0;
		if (!period)
			continue;
		next += period;
		/* After a stall, resume the grid from now rather than
		 * firing a burst of catch-up samples. */
		if (next < t)
			next = t;
		struct timespec ts = { (time_t)(next / 1000000000ull),
				       (long)(next % 1000000000ull) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			if (stop && *stop)
				return 0;
	}
	return 0;
}

void gs_sampler_stats(const struct gs_sampler *s, struct gs_sampler_stats *out)
{
	*out = s->st;
}

double gs_parse_rate(const char *str)
{
	char *end;
	if (!str || !*str)
		return -1;
	if (!strcmp(str, "max"))
		return 0;
	errno = 0;
	double v = strtod(str, &end);
	if (end == str || errno)
		return -1;
	if (!strcmp(end, "k") || !strcasecmp(end, "khz"))
		v *= 1000;
	else if (*end && strcasecmp(end, "hz"))
		return -1;
	if (!(v >= 1 && v <= 10e6) || isnan(v))
		return -1;
	return v;
}
