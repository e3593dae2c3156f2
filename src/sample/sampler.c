/* The sampling loop.
 *
 * Cost per sample, in the steady state of a CPU-bound program:
 *
 *   - one process_vm_readv that reads, for every GIL, the whole GIL
 *     struct (locked, last_holder, switch_number and the bytes of its
 *     condition variables and mutexes), plus the identity words of the
 *     thread state last_holder named in the previous sample;
 *   - one pread of the holder's /proc/PID/task/TID/schedstat.
 *
 * Everything else is read only when it can have changed:
 *
 *   - A thread's /proc/.../syscall is read only when its schedstat
 *     changed: blocking, waking and preemption all update schedstat, so
 *     an unchanged schedstat means the task is still blocked in the same
 *     syscall (or still runnable).
 *   - A thread blocked on the GIL's cond is inside take_gil(), and it can
 *     only leave take_gil() by taking the GIL, which sets last_holder to
 *     it and advances switch_number.  So while switch_number advances by
 *     at most one and last_holder is another thread, it is still waiting,
 *     and its /proc files are not read at all.
 *   - A Python thread that is idle or running without the GIL can only
 *     start to wait for the GIL (or take it) through the GIL struct: a
 *     new wait on the cond advances the cond's wait sequence, a take
 *     changes locked, last_holder or switch_number.  So these threads are
 *     re-read when any byte of the GIL struct changed.
 *   - Transitions that never touch the GIL (a native thread, or a Python
 *     thread in C code switching between running and blocking with the
 *     GIL released) are caught by re-reading every thread at least every
 *     SLOW_NS.
 *
 * A holder found blocked in a syscall is only called holding off CPU if
 * the GIL words, read again after its /proc files, did not move (it may
 * have let go of the GIL and blocked in between).
 *
 * gs_sampler_run() takes one sample at a random instant of each period,
 * so that nothing periodic in the target can alias with the sampling.
 *
 * A holder is attributed to a thread only when the identity words of its
 * thread state (thread_id, native_thread_id, and before 3.11 the kernel
 * tid in glibc's struct pthread) read in the same sample match the ones
 * bound at the last thread-list scan; otherwise the thread's role is
 * unknown and the list is re-read.  A freed and reused thread state can
 * therefore never make the wrong thread the holder. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/errors.h"
#include "sample/sampler.h"
#include "proc/taskstat.h"
#include "runtime/threads.h"

#define MS (1000ull * 1000)
/* Every thread's /proc state is re-read at least this often, whatever
 * the GIL does (see the top of this file).  Overridable for the
 * benchmark. */
#ifndef GS_SLOW_MS
#define GS_SLOW_MS 10
#endif
#define SLOW_NS (GS_SLOW_MS * MS)
/* The thread count (nlink of /proc/PID/task) is checked this often. */
#define NLINK_NS (5 * MS)
/* A thread state created without a new kernel thread (PyGILState_Ensure
 * on an existing native thread) is seen by a periodic rescan, or as soon
 * as it takes the GIL (an unknown last_holder). */
#define RESCAN_NS (250 * MS)
/* Rescans asked for by an unknown holder, at most this often. */
#define RESCAN_MIN_NS (1 * MS)
/* Runnable with a schedstat that has not moved for this long: the task
 * is queued for a CPU, not on one (a task on a CPU is charged its time
 * at every tick, 10 ms apart at worst). */
#define STALE_RUN_NS (20 * MS)
/* Below this period the loop spins instead of sleeping. */
#define SPIN_NS (20ull * 1000)

#define GIL_BUF 512       /* bytes of GIL struct read per sample, at most */
#define ID_SPAN_MAX 256   /* bytes of thread state read to check identity */
#define MAX_SPANS 8

struct span {
	uint64_t addr;
	size_t len, off;  /* off: where it lands in cur[] */
};

struct tracked;

struct gil_slot {
	struct gs_gil_addrs a;
	struct span sp[MAX_SPANS];
	size_t nsp, len;
	unsigned char cur[GIL_BUF], prev[GIL_BUF];
	struct gs_gil_words w, pw;
	uint64_t interval;
	int have_prev;
	int valid;             /* this sample's words were read and sane */
	int changed;           /* a byte differs from the previous sample */
	uint64_t delta;        /* switch_number advance */
	/* The thread state whose identity this sample checks, and what the
	 * check read. */
	uint64_t spec_tstate;
	unsigned char spec_buf[ID_SPAN_MAX];
	int32_t spec_ptid;
	int spec_ok;           /* read in full */
};

struct tracked {
	pid_t tid;
	struct gs_task task;
	uint64_t tstate;         /* 0: native */
	uint64_t thread_id;      /* identity bound at the last scan */
	uint64_t native_id;
	size_t gil;              /* index into gils */
	int need;                /* /proc is read in this sample */
	int verified;            /* identity checked in this sample */
	int mismatch;            /* identity check failed in this sample */
	int holds_gil, gil_requested; /* -1 unless read in this sample */
	unsigned char idbuf[ID_SPAN_MAX];
	int32_t ptid;
	size_t nid;

	/* Kernel state. */
	struct gs_taskstat ts;   /* last syscall (and state) read */
	int have_ts;
	char ss[64];             /* last schedstat text */
	size_t ss_len;
	uint64_t ss_changed_ns;  /* when schedstat last moved */
	uint64_t read_ns;        /* when /proc was last consulted */
	int on_cpu;

	enum gs_role role;       /* as of the last classification */
	int sticky_wait;         /* waiting on the GIL cond: inside take_gil */

	/* Details for holding-offcpu and idle, and what they were for. */
	int detail_ok;
	long detail_nr;
	uint64_t detail_fd;
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
	size_t niov, cap_iov;
	int task_dir;
	nlink_t nlink;
	uint64_t nlink_ns, rescan_ns;
	int need_rescan;
	struct gs_snapshot snap;
	struct gs_sample smp;
	struct gs_sampler_stats st;
	int words_only;
	int ss_gate;             /* schedstat moves: usable as a change test */
	uint64_t tid_off_ns;     /* last search for the pthread tid offset */
	/* Identity span inside a thread state. */
	int64_t id_lo, id_hi;
	/* Tenure accounting on the main GIL, for missed switches. */
	int have_tenure;
	uint64_t tenure_holder;
	int tenure_seen;
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

/* ---- GIL spans --------------------------------------------------------- */

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Cover every GIL word the sampler looks at, merging ranges that lie
 * close together: on 3.7+ this is the whole struct in one span; 3.6
 * keeps `locked` in .data far from the rest in .bss, so two. */
static void gil_slot_init(struct gil_slot *g, const struct gs_gil_addrs *a)
{
	uint64_t r[8][2] = {
		{ a->locked, a->locked + 4 },
		{ a->last_holder, a->last_holder + 8 },
		{ a->switch_number, a->switch_number + 8 },
		{ a->cond, a->cond_end },
		{ a->mutex, a->mutex_end },
		{ a->switch_cond, a->switch_cond_end },
		{ a->switch_mutex, a->switch_mutex_end },
	};
	size_t n = 0;
	memset(g, 0, sizeof *g);
	g->a = *a;
	for (size_t i = 0; i < 7; i++)
		if (r[i][0] && r[i][1] > r[i][0]) {
			r[n][0] = r[i][0];
			r[n][1] = r[i][1];
			n++;
		}
	if (a->interval) {
		/* Cheap to add when it is next to the rest. */
		r[n][0] = a->interval;
		r[n][1] = a->interval + 8;
		n++;
	}
	qsort(r, n, sizeof r[0], cmp_range);
	for (size_t i = 0; i < n; i++) {
		struct span *last = g->nsp ? &g->sp[g->nsp - 1] : NULL;
		uint64_t used = last ? last->off + last->len : 0;
		if (last && r[i][0] <= last->addr + last->len + 256) {
			uint64_t end = r[i][1] > last->addr + last->len
				? r[i][1] : last->addr + last->len;
			if (last->off + (end - last->addr) <= GIL_BUF) {
				last->len = end - last->addr;
				continue;
			}
		}
		if (g->nsp == MAX_SPANS || used + (r[i][1] - r[i][0]) > GIL_BUF)
			continue; /* cannot happen with CPython's layouts */
		g->sp[g->nsp++] = (struct span){ r[i][0], r[i][1] - r[i][0], used };
	}
	g->len = g->nsp ? g->sp[g->nsp - 1].off + g->sp[g->nsp - 1].len : 0;
}

/* Where the word at addr landed in cur[], or NULL. */
static const unsigned char *gil_word(const struct gil_slot *g,
				     const unsigned char *buf, uint64_t addr,
				     size_t len)
{
	for (size_t i = 0; i < g->nsp; i++)
		if (addr >= g->sp[i].addr && addr + len <= g->sp[i].addr + g->sp[i].len)
			return buf + g->sp[i].off + (addr - g->sp[i].addr);
	return NULL;
}

static int decode_words(struct gil_slot *g)
{
	const unsigned char *p;
	memset(&g->w, 0, sizeof g->w);
	if (!(p = gil_word(g, g->cur, g->a.locked, 4)))
		return -1;
	memcpy(&g->w.locked, p, 4);
	if (!(p = gil_word(g, g->cur, g->a.last_holder, 8)))
		return -1;
	memcpy(&g->w.last_holder, p, 8);
	if (!(p = gil_word(g, g->cur, g->a.switch_number, 8)))
		return -1;
	memcpy(&g->w.switch_number, p, 8);
	if (g->a.interval && (p = gil_word(g, g->cur, g->a.interval, 8)))
		memcpy(&g->interval, p, 8);
	/* locked is 0 or 1 once the GIL exists (-1 before and after). */
	return g->w.locked == 0 || g->w.locked == 1 ? 0 : -1;
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

/* ---- thread identity ---------------------------------------------------- */

static void id_span_init(struct gs_sampler *s)
{
	const struct gs_layout *l = &s->t->layout;
	const struct gs_field *f[] = { &l->ts_thread_id, &l->ts_native_thread_id,
				       &l->ts_holds_gil, &l->ts_gil_requested };
	int64_t lo = -1, hi = 0;
	for (size_t i = 0; i < 4; i++) {
		if (f[i]->off < 0)
			continue;
		int64_t size = f[i]->size > 0 ? f[i]->size : 8;
		int64_t nlo = lo < 0 || f[i]->off < lo ? f[i]->off : lo;
		int64_t nhi = f[i]->off + size > hi ? f[i]->off + size : hi;
		/* The flags only ride along when they are close by. */
		if (i >= 2 && nhi - nlo > ID_SPAN_MAX)
			continue;
		lo = nlo;
		hi = nhi;
	}
	if (lo < 0 || hi - lo > ID_SPAN_MAX)
		lo = hi = 0;
	s->id_lo = lo;
	s->id_hi = hi;
}

static int in_id_span(const struct gs_sampler *s, struct gs_field f)
{
	int64_t size = f.size > 0 ? f.size : 8;
	return f.off >= 0 && f.off >= s->id_lo && f.off + size <= s->id_hi && size <= 8;
}

static uint64_t id_field(const struct gs_sampler *s, const unsigned char *buf,
			 struct gs_field f)
{
	uint64_t v = 0;
	memcpy(&v, buf + (f.off - s->id_lo), f.size > 0 && f.size <= 8 ? (size_t)f.size : 8);
	return v;
}

static int flag_of(const struct gs_sampler *s, const unsigned char *buf,
		   struct gs_field f, uint64_t mask)
{
	if (!in_id_span(s, f))
		return -1;
	uint64_t v = id_field(s, buf, f);
	return mask ? (v & mask) != 0 : v != 0;
}

static struct tracked *by_tstate(struct gs_sampler *s, size_t gil, uint64_t tstate)
{
	if (!tstate)
		return NULL;
	for (size_t i = 0; i < s->nth; i++)
		if (s->th[i].tstate == tstate && s->th[i].gil == gil)
			return &s->th[i];
	return NULL;
}

/* Add the iovecs that check th's identity; returns how many (0-2). */
static size_t add_id_iov(struct gs_sampler *s, struct iovec *l, struct iovec *r,
			 const struct tracked *th, unsigned char *buf, int32_t *ptid)
{
	size_t n = 0;
	if (s->id_hi > s->id_lo) {
		l[n] = (struct iovec){ buf, (size_t)(s->id_hi - s->id_lo) };
		r[n] = (struct iovec){ (void *)(uintptr_t)(th->tstate + (uint64_t)s->id_lo),
				       (size_t)(s->id_hi - s->id_lo) };
		n++;
	}
	/* Before 3.11 thread_id is a pthread_t, and glibc reuses a finished
	 * thread's stack (and so its pthread_t) for the next one: the tid
	 * inside struct pthread tells them apart. */
	if (s->t->layout.ts_native_thread_id.off < 0 && s->t->pthread_tid_off >= 0 &&
	    th->thread_id) {
		l[n] = (struct iovec){ ptid, 4 };
		r[n] = (struct iovec){ (void *)(uintptr_t)(th->thread_id +
							   (uint64_t)s->t->pthread_tid_off), 4 };
		n++;
	}
	return n;
}

/* Compare what add_id_iov read with th's binding; sets the flags. */
static void check_id(struct gs_sampler *s, struct tracked *th, const unsigned char *buf,
		     int32_t ptid, int read_ok)
{
	const struct gs_layout *l = &s->t->layout;
	int ok = read_ok;
	if (ok && in_id_span(s, l->ts_thread_id) &&
	    id_field(s, buf, l->ts_thread_id) != th->thread_id)
		ok = 0;
	if (ok && in_id_span(s, l->ts_native_thread_id) &&
	    id_field(s, buf, l->ts_native_thread_id) != th->native_id)
		ok = 0;
	if (ok && l->ts_native_thread_id.off < 0 && s->t->pthread_tid_off >= 0 &&
	    th->thread_id && ptid != th->tid)
		ok = 0;
	th->verified = ok;
	th->mismatch = !ok;
	if (!ok)
		s->need_rescan = 1;
	if (ok) {
		th->holds_gil = flag_of(s, buf, l->ts_holds_gil, l->holds_gil_mask);
		th->gil_requested = flag_of(s, buf, l->ts_gil_requested, 0);
	}
}

/* ---- thread list -------------------------------------------------------- */

static struct tracked *find_tracked(struct tracked *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].tid == tid)
			return &v[i];
	return NULL;
}

static int rescan(struct gs_sampler *s)
{
	pid_t *tids = NULL;
	ssize_t n;
	int ok = 0;

	/* Before 3.11 the kernel tid of a thread state comes from glibc's
	 * struct pthread.  If attach could not find where (a thread exiting
	 * during the search spoils it), every thread would look native:
	 * look again, now and then. */
	if (s->t->layout.ts_native_thread_id.off < 0 && s->t->pthread_tid_off < 0 &&
	    (!s->tid_off_ns || now_ns() - s->tid_off_ns >= RESCAN_NS)) {
		s->tid_off_ns = now_ns();
		gs_find_pthread_tid_offset(s->t);
	}

	for (int attempt = 0; attempt < 3 && !ok; attempt++) {
		if (gs_snapshot_read(s->t, &s->snap) == 0)
			ok = 1;
		else if (errno == ESRCH)
			return gone(s);
	}
	if ((n = gs_task_list(s->t->pid, &tids)) <= 0) {
		free(tids);
		return gone(s);
	}

	struct tracked *nv = calloc((size_t)n, sizeof *nv);
	struct gs_thread_sample *out = calloc((size_t)n, sizeof *out);
	size_t cap_iov = GS_MAX_GILS * (MAX_SPANS + 2) + 2 * (size_t)n + 8;
	struct iovec *local = calloc(cap_iov, sizeof *local);
	struct iovec *remote = calloc(cap_iov, sizeof *remote);
	if (!nv || !out || !local || !remote) {
		free(nv); free(out); free(local); free(remote); free(tids);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	/* Keep the GIL slots (and their previous words) across scans; an
	 * interpreter's GIL that went away just stays unused. */
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
			th->role = GS_ROLE_UNKNOWN;
			gs_task_comm(s->t->pid, th->tid, th->name, sizeof th->name);
		}
		if (ok) {
			/* A failed scan keeps the old bindings: they are still
			 * checked before any hold is attributed. */
			const struct gs_pythread *p = gs_snapshot_by_tid(&s->snap, th->tid);
			uint64_t tstate = p ? p->tstate : 0;
			if (tstate != th->tstate) {
				th->sticky_wait = 0;
				th->have_ts = 0;
			}
			th->tstate = tstate;
			th->thread_id = p ? p->thread_id : 0;
			th->native_id = p && s->t->layout.ts_native_thread_id.off >= 0
				? (uint64_t)p->tid : 0;
			th->gil = 0;
			for (size_t k = 0; p && k < s->snap.ninterps; k++)
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
	s->cap_iov = cap_iov;

	struct stat st;
	if (fstat(s->task_dir, &st) == 0)
		s->nlink = st.st_nlink;
	s->rescan_ns = s->nlink_ns = now_ns();
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
	s->task_dir = -1;
	s->ss_gate = 1;
	gil_slot_init(&s->gils[0], &t->gil);
	s->ngils = 1;
	id_span_init(s);
	if (!s->gils[0].nsp || !gil_word(&s->gils[0], s->gils[0].cur, t->gil.locked, 4) ||
	    !gil_word(&s->gils[0], s->gils[0].cur, t->gil.last_holder, 8) ||
	    !gil_word(&s->gils[0], s->gils[0].cur, t->gil.switch_number, 8)) {
		gs_fail(GS_EUNSUPPORTED, "the GIL's words are not known for this build");
		free(s);
		return NULL;
	}
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

void gs_sampler_set_words_only(struct gs_sampler *s, int on)
{
	s->words_only = on;
}

static int threads_changed(struct gs_sampler *s, uint64_t t)
{
	struct stat st;
	if (s->need_rescan && t - s->rescan_ns >= RESCAN_MIN_NS)
		return 1;
	if (t - s->rescan_ns >= RESCAN_NS)
		return 1;
	if (t - s->nlink_ns >= NLINK_NS) {
		s->nlink_ns = t;
		if (fstat(s->task_dir, &st) == 0 && st.st_nlink != s->nlink)
			return 1;
	}
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* One process_vm_readv over n iovecs (split at IOV_MAX).  Returns the
 * bytes read, or -1 when the target is gone. */
static ssize_t readv_all(pid_t pid, struct iovec *l, struct iovec *r, size_t n)
{
	size_t done = 0;
	for (size_t i = 0; i < n; i += IOV_MAX) {
		size_t k = n - i < IOV_MAX ? n - i : IOV_MAX;
		ssize_t got = process_vm_readv(pid, l + i, k, r + i, k, 0);
		if (got < 0) {
			if (errno == ESRCH)
				return -1;
			break;
		}
		done += (size_t)got;
		size_t want = 0;
		for (size_t j = i; j < i + k; j++)
			want += l[j].iov_len;
		if ((size_t)got < want)
			break;
	}
	return (ssize_t)done;
}

/* Read every GIL and the identity of each GIL's previous last_holder.
 * Returns 0, or -1 when the target is gone. */
static int read_gils(struct gs_sampler *s)
{
	size_t n = 0;
	size_t first[GS_MAX_GILS], count[GS_MAX_GILS], idn[GS_MAX_GILS];
	struct tracked *spec[GS_MAX_GILS];

	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		first[i] = n;
		for (size_t k = 0; k < g->nsp; k++) {
			s->local[n] = (struct iovec){ g->cur + g->sp[k].off, g->sp[k].len };
			s->remote[n] = (struct iovec){ (void *)(uintptr_t)g->sp[k].addr, g->sp[k].len };
			n++;
		}
		count[i] = n - first[i];
		idn[i] = 0;
		spec[i] = NULL;
	}
	/* Speculate that last_holder has not changed: its identity check
	 * then comes in the same read.  It goes last so that a freed
	 * thread state cannot cut the GIL words short. */
	for (size_t i = 0; !s->words_only && i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		spec[i] = g->have_prev ? by_tstate(s, i, g->w.last_holder) : NULL;
		if (spec[i])
			n += idn[i] = add_id_iov(s, s->local + n, s->remote + n, spec[i],
						 g->spec_buf, &g->spec_ptid);
	}
	ssize_t got = readv_all(s->t->pid, s->local, s->remote, n);
	if (got < 0)
		return -1;

	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		size_t want = 0;
		for (size_t j = first[i]; j < first[i] + count[i]; j++)
			want += s->local[j].iov_len;
		int full = (size_t)got >= off + want;
		off += want;
		k += count[i];
		if (g->valid)
			g->pw = g->w;
		g->valid = full && decode_words(g) == 0;
	}
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		size_t want = 0;
		for (size_t j = k; j < k + idn[i]; j++)
			want += s->local[j].iov_len;
		k += idn[i];
		g->spec_tstate = spec[i] ? spec[i]->tstate : 0;
		g->spec_ok = spec[i] && (size_t)got >= off + want;
		off += want;
		if (spec[i])
			check_id(s, spec[i], g->spec_buf, g->spec_ptid, g->spec_ok);
	}
	return 0;
}

/* The identity of a new last_holder, in a second read. */
static int verify_new_holders(struct gs_sampler *s)
{
	size_t n = 0;
	struct tracked *who[GS_MAX_GILS];
	size_t cnt[GS_MAX_GILS];
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		who[i] = NULL;
		cnt[i] = 0;
		if (!g->valid || g->w.last_holder == g->spec_tstate)
			continue;
		who[i] = by_tstate(s, i, g->w.last_holder);
		if (!who[i] || who[i]->verified || who[i]->mismatch)
			continue;
		n += cnt[i] = add_id_iov(s, s->local + n, s->remote + n, who[i],
					 g->spec_buf, &g->spec_ptid);
	}
	if (!n)
		return 0;
	ssize_t got = readv_all(s->t->pid, s->local, s->remote, n);
	if (got < 0)
		return -1;
	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->ngils; i++) {
		if (!cnt[i])
			continue;
		size_t want = 0;
		for (size_t j = k; j < k + cnt[i]; j++)
			want += s->local[j].iov_len;
		k += cnt[i];
		check_id(s, who[i], s->gils[i].spec_buf, s->gils[i].spec_ptid,
			 (size_t)got >= off + want);
		off += want;
	}
	return 0;
}

/* Whether th's /proc state must be read in this sample. */
static int need_read(const struct gs_sampler *s, const struct tracked *th, uint64_t t)
{
	const struct gil_slot *g = &s->gils[th->gil];
	if (!th->have_ts || th->role == GS_ROLE_UNKNOWN)
		return 1;
	if (th->tstate && (th->tstate == g->w.last_holder || th->tstate == g->pw.last_holder))
		return 1;
	if (th->sticky_wait) {
		/* Still inside take_gil unless it took the GIL, which would
		 * have made it last_holder; with two or more switches since
		 * the last sample it may have taken and let go again. */
		if (g->delta >= 2 || (g->delta == 0 && g->w.last_holder != g->pw.last_holder))
			return 1;
		return t - th->read_ns >= SLOW_NS;
	}
	if (t - th->read_ns >= SLOW_NS)
		return 1;
	return th->tstate && g->changed;
}

/* Where the build has a gil_requested flag (3.15+), read it for every
 * Python thread whose role is re-evaluated in this sample, in one
 * process_vm_readv; that also checks their identity. */
static int read_flags(struct gs_sampler *s)
{
	const struct gs_layout *l = &s->t->layout;
	size_t n = 0;
	if (!in_id_span(s, l->ts_gil_requested))
		return 0;
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		th->nid = 0;
		if (!th->need || !th->tstate || th->verified || th->mismatch ||
		    !s->gils[th->gil].valid || n + 2 > s->cap_iov)
			continue;
		n += th->nid = add_id_iov(s, s->local + n, s->remote + n, th,
					  th->idbuf, &th->ptid);
	}
	if (!n)
		return 0;
	ssize_t got = readv_all(s->t->pid, s->local, s->remote, n);
	if (got < 0)
		return -1;
	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		if (!th->nid)
			continue;
		size_t want = 0;
		for (size_t j = k; j < k + th->nid; j++)
			want += s->local[j].iov_len;
		k += th->nid;
		check_id(s, th, th->idbuf, th->ptid, (size_t)got >= off + want);
		off += want;
	}
	return 0;
}

/* Bring th's kernel state up to date.  Returns 0, or -1 when the task
 * has gone (or its files became unreadable). */
static int read_task(struct gs_sampler *s, struct tracked *th, int holder, uint64_t t)
{
	char ss[64];
	ssize_t n = -1;
	int moved = 1;

	s->st.proc_reads++;
	if (th->task.fd_schedstat >= 0 && (n = gs_task_pread(th->task.fd_schedstat, ss, sizeof ss)) < 0)
		return -1;
	if (n > 0) {
		moved = (size_t)n != th->ss_len || memcmp(ss, th->ss, (size_t)n) != 0;
		if (moved) {
			struct gs_taskstat tmp = th->ts;
			if (gs_parse_schedstat(ss, (size_t)n, &tmp) == 0) {
				/* "0 0 0": the kernel keeps no schedstat, so it
				 * cannot tell us that nothing changed. */
				if (tmp.run_ns == 0 && tmp.wait_ns == 0)
					s->ss_gate = 0;
				th->ts.run_ns = tmp.run_ns;
				th->ts.wait_ns = tmp.wait_ns;
			}
			memcpy(th->ss, ss, (size_t)n);
			th->ss_len = (size_t)n;
			th->ss_changed_ns = t;
		}
	}
	th->read_ns = t;
	if (!moved && s->ss_gate && th->have_ts) {
		/* No context switch since the last read: same syscall, same
		 * blocked or runnable state.  A runnable task that has not
		 * been charged CPU time for long is queued, not running. */
		if (th->ts.state == 'R' && t - th->ss_changed_ns >= STALE_RUN_NS)
			th->on_cpu = 0;
		return 0;
	}
	s->st.proc_reads++;
	if (gs_task_read(&th->task, GS_TS_SYSCALL, &th->ts)) {
		if (errno == EAGAIN) {
			/* An unparsable line: keep the old state, retry next time. */
			th->have_ts = 0;
			return 0;
		}
		return -1;
	}
	if (th->ts.syscall_nr == GS_SYSCALL_RUNNING) {
		th->ts.state = 'R';
		th->on_cpu = !(s->ss_gate && n > 0 && t - th->ss_changed_ns >= STALE_RUN_NS);
	} else if (holder || th->ts.syscall_nr == GS_SYSCALL_UNKNOWN) {
		/* The holder's exact state (S, D, T) is worth a read; the
		 * others only need "not running". */
		s->st.proc_reads++;
		if (gs_task_read(&th->task, GS_TS_STAT, &th->ts))
			th->ts.state = 0;
		if (th->ts.syscall_nr == GS_SYSCALL_UNKNOWN && th->ts.state == 'R')
			th->ts.syscall_nr = GS_SYSCALL_RUNNING;
		th->on_cpu = th->ts.state == 'R';
	} else {
		th->ts.state = 'S';
		th->on_cpu = 0;
	}
	th->have_ts = 1;
	return 0;
}

/* Path and wchan cost an open each: look them up when a thread enters
 * holding-offcpu or idle, or blocks in another syscall or on another fd,
 * not at every sample of a long wait. */
static void lookup_detail(struct gs_sampler *s, struct tracked *th)
{
	long nr = th->ts.syscall_nr;
	uint64_t fd = th->ts.syscall_args[0];
	if (th->detail_ok && th->detail_nr == nr && th->detail_fd == fd)
		return;
	th->detail_ok = 1;
	th->detail_nr = nr;
	th->detail_fd = fd;
	if (gs_syscall_fd_path(s->t->pid, &th->ts, th->path, sizeof th->path))
		th->path[0] = 0;
	gs_task_wchan(s->t->pid, th->tid, th->wchan, sizeof th->wchan);
}

static int in_range(uint64_t a, uint64_t start, uint64_t end)
{
	return start && a >= start && a < end;
}

static void classify_thread(struct gs_sampler *s, struct tracked *th,
			    struct gs_thread_sample *o, uint64_t t)
{
	const struct gil_slot *g = &s->gils[th->gil];
	int is_holder = th->tstate && g->w.locked == 1 && g->w.last_holder == th->tstate;

	o->tid = th->tid;
	o->tstate = th->tstate;
	o->name = th->name;
	o->path = o->wchan = NULL;

	if (!g->valid) {
		th->role = GS_ROLE_UNKNOWN;
		goto out;
	}
	if (th->tstate && th->tstate == g->w.last_holder && !th->verified) {
		/* Not the thread we bound to this thread state, or its
		 * identity could not be read: never guess. */
		th->role = GS_ROLE_UNKNOWN;
		th->sticky_wait = 0;
		s->need_rescan = 1;
		goto out;
	}
	int prev_sticky = th->sticky_wait;
	int read = th->need;
	if (read && read_task(s, th, is_holder, t)) {
		th->role = GS_ROLE_UNKNOWN;
		th->have_ts = 0;
		th->sticky_wait = 0;
		s->need_rescan = 1;
		goto out;
	}
	if (!read && th->role != GS_ROLE_UNKNOWN)
		goto out; /* nothing it does can have changed its role */
	if (!th->have_ts) {
		th->role = GS_ROLE_UNKNOWN; /* an unparsable /proc line */
		goto out;
	}

	struct gs_classify_in in = {
		.tstate = th->tstate,
		.holds_gil = th->tstate == g->w.last_holder ? th->holds_gil : -1,
		.gil_requested = th->gil_requested,
		.now = &th->ts,
		.prev = NULL,
		.on_cpu_known = 1,
		.on_cpu = th->on_cpu,
	};
	enum gs_role role = gs_classify(&g->a, &g->w, &in);

	/* Waiting on the GIL cond means being inside take_gil, which only
	 * a take (seen in the GIL words) ends; a waiter caught between two
	 * futex waits, on a CPU or on the GIL mutex, is still waiting. */
	int on_cond = th->ts.syscall_nr == SYS_futex &&
		in_range(th->ts.syscall_args[0], g->a.cond, g->a.cond_end);
	if (prev_sticky && th->tstate != g->w.last_holder && g->delta < 2 &&
	    (role == GS_ROLE_RUNNING || role == GS_ROLE_WAITING))
		role = GS_ROLE_WAITING;
	th->sticky_wait = th->tstate && role == GS_ROLE_WAITING &&
		(on_cond || prev_sticky || in.gil_requested == 1);

	th->role = role;
out:
	o->role = th->role;
	o->state = th->have_ts ? th->ts.state : 0;
	o->syscall_nr = th->have_ts ? th->ts.syscall_nr : GS_SYSCALL_UNKNOWN;
	if (th->have_ts && (th->role == GS_ROLE_HELD_OFFCPU || th->role == GS_ROLE_IDLE)) {
		lookup_detail(s, th);
		o->path = th->path;
		o->wchan = th->wchan;
	} else {
		th->detail_ok = 0;
	}
}

/* A holder found blocked in a syscall may have let go of the GIL between
 * the read of the GIL words and the read of its /proc files (a thread
 * drops the GIL before it blocks in read(), say).  Read the words again:
 * only if they did not move is it a hold off CPU.  If they moved, it was
 * holding when the sample was taken and then ran on to let go, so it
 * was holding on a CPU. */
static int confirm_offcpu(struct gs_sampler *s, struct tracked *th,
			  struct gs_thread_sample *o)
{
	struct gil_slot *g = &s->gils[th->gil];
	unsigned char buf[GIL_BUF];
	size_t n = 0;
	for (size_t k = 0; k < g->nsp; k++) {
		s->local[n] = (struct iovec){ buf + g->sp[k].off, g->sp[k].len };
		s->remote[n] = (struct iovec){ (void *)(uintptr_t)g->sp[k].addr, g->sp[k].len };
		n++;
	}
	ssize_t got = readv_all(s->t->pid, s->local, s->remote, n);
	if (got < 0)
		return -1;
	struct gs_gil_words w = g->w;
	const unsigned char *p;
	if ((size_t)got < g->len)
		goto unknown;
	if ((p = gil_word(g, buf, g->a.locked, 4)))
		memcpy(&w.locked, p, 4);
	if ((p = gil_word(g, buf, g->a.last_holder, 8)))
		memcpy(&w.last_holder, p, 8);
	if ((p = gil_word(g, buf, g->a.switch_number, 8)))
		memcpy(&w.switch_number, p, 8);
	if (w.locked == g->w.locked && w.last_holder == g->w.last_holder &&
	    w.switch_number == g->w.switch_number)
		return 0;
	if (w.locked == 1 && w.last_holder == th->tstate)
		goto unknown; /* let go and took it back: no telling when */
	th->role = o->role = GS_ROLE_HELD;
	th->on_cpu = 1;
	return 0;
unknown:
	th->role = o->role = GS_ROLE_UNKNOWN;
	return 0;
}

/* Switches that no sample saw: a holder's tenure (from one switch to the
 * next) is seen when some sample finds it holding. */
static void count_switches(struct gs_sampler *s, struct gs_sample *smp)
{
	const struct gil_slot *g = &s->gils[0];
	smp->switches = smp->missed = 0;
	if (!g->valid)
		return;
	if (!s->have_tenure) {
		s->have_tenure = 1;
		s->tenure_holder = g->w.last_holder;
		s->tenure_seen = g->w.locked == 1;
		return;
	}
	uint64_t d = g->delta;
	if (d) {
		smp->switches = d;
		smp->missed = (s->tenure_seen ? 0 : 1) + (d - 1);
		s->tenure_holder = g->w.last_holder;
		s->tenure_seen = 0;
	}
	if (g->w.locked == 1 && g->w.last_holder == s->tenure_holder)
		s->tenure_seen = 1;
}

int gs_sampler_sample(struct gs_sampler *s, const struct gs_sample **out)
{
	struct gs_sample *smp = &s->smp;
	uint64_t t = now_ns();

	if (threads_changed(s, t) && rescan(s))
		return -1;
	for (size_t i = 0; i < s->nth; i++) {
		s->th[i].verified = s->th[i].mismatch = 0;
		s->th[i].holds_gil = s->th[i].gil_requested = -1;
	}
	smp->seq++;
	smp->t_ns = now_ns();
	if (read_gils(s))
		return gone(s);
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		g->changed = 1;
		g->delta = 0;
		if (!g->valid)
			continue;
		if (g->have_prev) {
			g->changed = memcmp(g->cur, g->prev, g->len) != 0;
			g->delta = g->w.switch_number - g->pw.switch_number;
			/* A counter that runs backwards or leaps is not one
			 * we read whole. */
			if (g->delta > (1ull << 40))
				g->valid = 0;
		} else {
			g->pw = g->w;
		}
		/* An invalid sample keeps the last valid words as the base
		 * for the next delta, so no switch goes uncounted. */
		if (g->valid) {
			memcpy(g->prev, g->cur, g->len);
			g->have_prev = 1;
		}
	}
	if (!s->words_only && verify_new_holders(s))
		return gone(s);

	for (size_t i = 0; !s->words_only && i < s->nth; i++)
		s->th[i].need = s->gils[s->th[i].gil].valid && need_read(s, &s->th[i], smp->t_ns);
	if (!s->words_only && read_flags(s))
		return gone(s);

	const struct gil_slot *g0 = &s->gils[0];
	smp->torn = !g0->valid;
	smp->holder_tid = 0;
	int holder_known = !(g0->valid && g0->w.locked == 1);
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		struct gs_thread_sample *o = &s->out[i];
		if (s->words_only) {
			int h = th->tstate && g0->valid && th->gil == 0 &&
				g0->w.locked == 1 && g0->w.last_holder == th->tstate;
			*o = (struct gs_thread_sample){ .tid = th->tid, .tstate = th->tstate,
				.role = h ? GS_ROLE_HELD : GS_ROLE_UNKNOWN,
				.syscall_nr = GS_SYSCALL_UNKNOWN, .name = th->name };
			if (h) {
				smp->holder_tid = th->tid;
				holder_known = 1;
			}
			continue;
		}
		classify_thread(s, th, o, smp->t_ns);
		if (o->role == GS_ROLE_HELD_OFFCPU && confirm_offcpu(s, th, o))
			return gone(s);
		if (th->gil == 0 && th->tstate && th->tstate == g0->w.last_holder)
			holder_known = 1;
		if (th->gil == 0 && (o->role == GS_ROLE_HELD || o->role == GS_ROLE_HELD_OFFCPU))
			smp->holder_tid = th->tid;
	}
	/* A holder we have no thread for is a thread state created since
	 * the last scan. */
	if (!holder_known)
		s->need_rescan = 1;

	smp->gil = g0->w;
	smp->interval_us = g0->interval;
	count_switches(s, smp);
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

/* Ask the kernel (6.12+, EEVDF) for a short time slice for this thread.
 * The sampler runs for tens of microseconds at a time; with the default
 * slice a busy machine lets its wakeups wait behind every other task's
 * 3 ms slice, and a late sample is a stretch of time nobody looked at.
 * A shorter slice gives it an earlier deadline and so a prompt wakeup,
 * without any privilege and without changing its share of the CPU.
 * Older kernels ignore the field; a thread under another policy (chrt)
 * is left alone. */
struct gs_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static void short_slice(void)
{
#ifdef SYS_sched_setattr
	struct gs_sched_attr a;
	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.sched_policy = SCHED_OTHER;
	errno = 0;
	a.sched_nice = getpriority(PRIO_PROCESS, 0);
	if (errno)
		return;
	a.sched_runtime = 100 * 1000; /* the kernel's lowest */
	syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

/* xorshift64*: the jitter needs to be cheap, not good. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

int gs_sampler_run(struct gs_sampler *s, double rate_hz, double duration_s,
		   volatile sig_atomic_t *stop,
		   int (*fn)(void *ctx, const struct gs_sample *smp), void *ctx)
{
	uint64_t period = rate_hz > 0 ? (uint64_t)(1e9 / rate_hz) : 0;
	uint64_t start = now_ns(), slot = start;
	uint64_t end = duration_s > 0 ? start + (uint64_t)(duration_s * 1e9) : UINT64_MAX;
	uint64_t rnd = start ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;

	/* Timer slack (ours: 50 us by default) lets the kernel batch our
	 * wakeups with others; keep it below 5% of the period so that fast
	 * rates are not stretched. */
	if (period) {
		unsigned long slack = (unsigned long)(period / 20);
		prctl(PR_SET_TIMERSLACK, slack < 1000 ? 1000UL : slack > 50000 ? 50000UL : slack,
		      0, 0, 0);
	}
	if (period)
		short_slice();
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
		/* One sample at a random instant of each period: a program
		 * that does something periodic (the 5 ms switch interval, a
		 * ping-pong between threads) would otherwise alias with a
		 * fixed grid and bias the shares.  The average rate is the
		 * rate asked for. */
		slot += period;
		/* After a stall, resume from now rather than firing a burst
		 * of catch-up samples. */
		if (slot + period <= t)
			slot = t - (t - slot) % period;
		uint64_t next = slot + next_random(&rnd) % period;
		if (next < t)
			next = t;
		if (next > end)
			next = end;
		if (period < SPIN_NS) {
			while (now_ns() < next)
				if (stop && *stop)
					return 0;
			continue;
		}
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
