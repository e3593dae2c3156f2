/* Turning samples into intervals.  Threads are kept in an open-addressed
 * table keyed by (pid, tid), so a sample of N threads costs O(N) however
 * many threads have come and gone. */
#include <stdlib.h>
#include <string.h>

#include "model/intervals.h"

struct slot {
	pid_t pid, tid;          /* tid 0: empty */
	int open;                /* an interval is in progress */
	uint64_t last_seq;       /* last sample that listed the thread */
	uint64_t last_ns;
	unsigned name_gen;       /* of the name last passed to sink.thread */
	struct gs_interval cur;
};

/* The thread list generation last seen, per process. */
struct proc {
	pid_t pid;
	uint64_t generation;
};

struct gs_intervals {
	struct gs_interval_sink sink;
	struct slot *v;
	size_t cap, used;
	uint64_t seq;
	struct proc *procs;
	size_t nprocs;
};

static size_t hash(pid_t pid, pid_t tid, size_t cap)
{
	return (((uint32_t)tid ^ ((uint32_t)pid << 16)) * 2654435761u) & (cap - 1);
}

static struct slot *lookup(struct gs_intervals *iv, pid_t pid, pid_t tid)
{
	for (size_t i = hash(pid, tid, iv->cap);; i = (i + 1) & (iv->cap - 1))
		if ((iv->v[i].tid == tid && iv->v[i].pid == pid) || iv->v[i].tid == 0)
			return &iv->v[i];
}

static struct proc *proc_of(struct gs_intervals *iv, pid_t pid)
{
	for (size_t i = 0; i < iv->nprocs; i++)
		if (iv->procs[i].pid == pid)
			return &iv->procs[i];
	struct proc *v = realloc(iv->procs, (iv->nprocs + 1) * sizeof *v);
	if (!v)
		return NULL;
	iv->procs = v;
	v[iv->nprocs] = (struct proc){ pid, 0 };
	return &v[iv->nprocs++];
}

static int grow(struct gs_intervals *iv)
{
	size_t ncap = iv->cap ? iv->cap * 2 : 64;
	struct slot *old = iv->v, *nv = calloc(ncap, sizeof *nv);
	size_t ocap = iv->cap;
	if (!nv)
		return -1;
	iv->v = nv;
	iv->cap = ncap;
	iv->used = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].tid)
			continue;
		*lookup(iv, old[i].pid, old[i].tid) = old[i];
		iv->used++;
	}
	free(old);
	return 0;
}

/* Linear-probing deletion by backward shift, so that the table of a
 * process that churns through threads stays as small as its live set. */
static void delete_slot(struct gs_intervals *iv, size_t i)
{
	size_t mask = iv->cap - 1;
	iv->v[i].tid = 0;
	iv->used--;
	for (size_t j = (i + 1) & mask; iv->v[j].tid; j = (j + 1) & mask) {
		size_t k = hash(iv->v[j].pid, iv->v[j].tid, iv->cap);
		int stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
		if (stays)
			continue;
		iv->v[i] = iv->v[j];
		iv->v[j].tid = 0;
		i = j;
	}
}

struct gs_intervals *gs_intervals_new(const struct gs_interval_sink *sink)
{
	struct gs_intervals *iv = calloc(1, sizeof *iv);
	if (!iv || grow(iv)) {
		free(iv);
		return NULL;
	}
	iv->sink = *sink;
	return iv;
}

static void close_slot(struct gs_intervals *iv, struct slot *sl, uint64_t end_ns)
{
	if (!sl->open)
		return;
	sl->cur.end_ns = end_ns > sl->cur.start_ns ? end_ns : sl->cur.start_ns;
	if (iv->sink.interval)
		iv->sink.interval(iv->sink.ctx, &sl->cur);
	sl->open = 0;
}

static int detail_differs(const struct gs_interval *cur,
			  const struct gs_thread_sample *ts)
{
	if (cur->gil != ts->gil)
		return 1;
	if (cur->role != GS_ROLE_HELD_OFFCPU && cur->role != GS_ROLE_IDLE)
		return 0;
	return cur->syscall_nr != ts->syscall_nr;
}

static void open_slot(struct slot *sl, const struct gs_thread_sample *ts,
		      uint64_t t_ns)
{
	struct gs_interval *c = &sl->cur;
	c->pid = sl->pid;
	c->tid = ts->tid;
	c->gil = ts->gil;
	c->role = ts->role;
	c->start_ns = c->end_ns = t_ns;
	c->samples = 0;
	c->syscall_nr = ts->syscall_nr;
	c->path[0] = c->wchan[0] = 0;
	c->stack = c->stack_end = c->native_stack = 0;
	if (ts->path)
		strncat(c->path, ts->path, sizeof c->path - 1);
	if (ts->wchan)
		strncat(c->wchan, ts->wchan, sizeof c->wchan - 1);
	sl->open = 1;
}

void gs_intervals_feed(struct gs_intervals *iv, const struct gs_sample *smp)
{
	iv->seq++;
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		if ((iv->used + 1) * 2 > iv->cap && grow(iv))
			return;
		struct slot *sl = lookup(iv, smp->pid, ts->tid);
		if (!sl->tid) {
			memset(sl, 0, sizeof *sl);
			sl->pid = smp->pid;
			sl->tid = ts->tid;
			sl->name_gen = ts->name_gen;
			iv->used++;
			if (iv->sink.thread)
				iv->sink.thread(iv->sink.ctx, smp->pid, ts->tid, ts->name,
						ts->tstate != 0);
		} else if (sl->name_gen != ts->name_gen) {
			sl->name_gen = ts->name_gen;
			if (iv->sink.thread)
				iv->sink.thread(iv->sink.ctx, smp->pid, ts->tid, ts->name,
						ts->tstate != 0);
		}
		sl->last_seq = iv->seq;
		sl->last_ns = smp->t_ns;
		if (ts->role == GS_ROLE_UNKNOWN && sl->open) {
			sl->cur.samples++;
			continue;
		}
		if (!sl->open || sl->cur.role != ts->role || detail_differs(&sl->cur, ts)) {
			close_slot(iv, sl, smp->t_ns);
			open_slot(sl, ts, smp->t_ns);
		}
		sl->cur.samples++;
		sl->cur.end_ns = smp->t_ns;
	}
	/* Threads of this process missing after its thread list changed
	 * have exited: their last role lasted until the last sample that
	 * saw them. */
	struct proc *p = proc_of(iv, smp->pid);
	if (p && smp->generation != p->generation) {
		p->generation = smp->generation;
		for (size_t i = 0; i < iv->cap; i++) {
			struct slot *sl = &iv->v[i];
			if (sl->tid && sl->pid == smp->pid && sl->last_seq != iv->seq) {
				close_slot(iv, sl, sl->last_ns);
				/* The backward shift may move a later slot into
				 * i: look at i again. */
				delete_slot(iv, i);
				i--;
			}
		}
	}
}

void gs_intervals_end_process(struct gs_intervals *iv, pid_t pid)
{
	for (size_t i = 0; i < iv->cap; i++) {
		struct slot *sl = &iv->v[i];
		if (sl->tid && sl->pid == pid) {
			close_slot(iv, sl, sl->last_ns);
			delete_slot(iv, i);
			i--;
		}
	}
}

void gs_intervals_finish(struct gs_intervals *iv, uint64_t end_ns)
{
	for (size_t i = 0; i < iv->cap; i++)
		if (iv->v[i].tid)
			close_slot(iv, &iv->v[i], end_ns);
}

const struct gs_interval *gs_intervals_open(const struct gs_intervals *iv,
					    pid_t pid, pid_t tid)
{
	for (size_t i = hash(pid, tid, iv->cap);; i = (i + 1) & (iv->cap - 1)) {
		if (iv->v[i].tid == 0)
			return NULL;
		if (iv->v[i].tid == tid && iv->v[i].pid == pid)
			return iv->v[i].open ? &iv->v[i].cur : NULL;
	}
}

int gs_intervals_set_stack(struct gs_intervals *iv, pid_t pid, pid_t tid,
			   uint32_t stack, int native)
{
	struct gs_interval *c = (struct gs_interval *)gs_intervals_open(iv, pid, tid);
	if (!c)
		return -1;
	if (native)
		c->native_stack = stack;
	else if (!c->stack)
		c->stack = stack;
	else
		c->stack_end = stack == c->stack ? 0 : stack;
	return 0;
}

void gs_intervals_free(struct gs_intervals *iv)
{
	if (!iv)
		return;
	free(iv->v);
	free(iv->procs);
	free(iv);
}
