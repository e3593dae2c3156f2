/* Bounded walks over the runtime's linked lists.  The target keeps
 * running while we read, so a list may change under us: every chain has
 * a hard bound and a failed read aborts the whole snapshot instead of
 * returning a half-updated one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "proc/taskstat.h"
#include "runtime/threads.h"

/* The span of a thread state that holds every field we read, so that
 * one process_vm_readv per thread is enough. */
struct ts_span {
	int64_t lo, hi;
};

static void span_add(struct ts_span *s, struct gs_field f)
{
	if (f.off < 0)
		return;
	int64_t size = f.size > 0 ? f.size : 8;
	if (s->lo < 0 || f.off < s->lo)
		s->lo = f.off;
	if (f.off + size > s->hi)
		s->hi = f.off + size;
}

static uint64_t field_u(const unsigned char *buf, const struct ts_span *s,
			struct gs_field f)
{
	uint64_t v = 0;
	size_t size = f.size > 0 && f.size <= 8 ? (size_t)f.size : 8;
	memcpy(&v, buf + (f.off - s->lo), size);
	return v;
}

static int read_flag(const unsigned char *buf, const struct ts_span *s,
		     struct gs_field f, uint64_t mask)
{
	if (f.off < 0)
		return -1;
	uint64_t v = field_u(buf, s, f);
	return mask ? !!(v & mask) : v != 0;
}

static int push_thread(struct gs_snapshot *s, const struct gs_pythread *p)
{
	if (s->nthreads == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct gs_pythread *v = realloc(s->threads, cap * sizeof *v);
		if (!v)
			return -1;
		s->threads = v;
		s->cap = cap;
	}
	s->threads[s->nthreads++] = *p;
	return 0;
}

/* Linux's largest pid_max (PID_MAX_LIMIT on 64-bit): a word read
 * mid-update, or garbage, beyond it is no tid, and truncating it to a
 * pid_t could name some other thread. */
#define GS_TID_MAX (1 << 22)

static pid_t tid_of(const struct gs_target *t, uint64_t native, uint64_t thread_id)
{
	const struct gs_layout *l = &t->layout;
	if (l->ts_native_thread_id.off >= 0)
		return native > 0 && native <= GS_TID_MAX ? (pid_t)native : 0;
	if (t->pthread_tid_off < 0 || !thread_id)
		return 0;
	int32_t tid;
	if (gs_mem_read_i32(&t->mem, thread_id + (uint64_t)t->pthread_tid_off, &tid))
		return 0;
	return tid > 0 && tid <= GS_TID_MAX ? tid : 0;
}

static int read_threads(const struct gs_target *t, struct gs_snapshot *s,
			struct gs_interp *in, const struct ts_span *span)
{
	const struct gs_layout *l = &t->layout;
	unsigned char buf[4096];
	uint64_t ts;

	if (gs_mem_read_u64(&t->mem, in->addr + (uint64_t)l->interp_threads_head.off, &ts))
		return -1;
	while (ts) {
		if (s->nthreads >= GS_MAX_THREADS) {
			errno = EAGAIN;
			return -1;
		}
		if (gs_mem_read(&t->mem, ts + (uint64_t)span->lo, buf,
				(size_t)(span->hi - span->lo)))
			return -1;
		struct gs_pythread p = {
			.tstate = ts,
			.interp = in->addr,
			.thread_id = field_u(buf, span, l->ts_thread_id),
			.holds_gil = read_flag(buf, span, l->ts_holds_gil, l->holds_gil_mask),
			.gil_requested = read_flag(buf, span, l->ts_gil_requested, 0),
		};
		uint64_t native = l->ts_native_thread_id.off >= 0
			? field_u(buf, span, l->ts_native_thread_id) : 0;
		p.tid = tid_of(t, native, p.thread_id);
		if (push_thread(s, &p))
			return -1;
		in->nthreads++;
		ts = field_u(buf, span, l->ts_next);
	}
	return 0;
}

int gs_snapshot_read(const struct gs_target *t, struct gs_snapshot *s)
{
	const struct gs_layout *l = &t->layout;
	struct ts_span span = { -1, 0 };
	uint64_t interp;

	span_add(&span, l->ts_next);
	span_add(&span, l->ts_thread_id);
	span_add(&span, l->ts_native_thread_id);
	span_add(&span, l->ts_holds_gil);
	span_add(&span, l->ts_gil_requested);
	if (span.lo < 0 || span.hi - span.lo > 4096) {
		errno = EINVAL;
		return -1;
	}
	s->ninterps = 0;
	s->nthreads = 0;
	if (gs_mem_read_u64(&t->mem, t->interp_head_addr, &interp))
		return -1;
	while (interp) {
		if (s->ninterps == GS_MAX_INTERPS) {
			errno = EAGAIN;
			return -1;
		}
		struct gs_interp *in = &s->interps[s->ninterps++];
		memset(in, 0, sizeof *in);
		in->addr = interp;
		in->id = -1;
		in->gil = t->gil.base;
		if (l->interp_id.off >= 0) {
			uint64_t id;
			if (gs_mem_read_u64(&t->mem, interp + (uint64_t)l->interp_id.off, &id))
				return -1;
			in->id = (int64_t)id;
		}
		if (l->interp_ceval_gil.off >= 0 &&
		    gs_mem_read_u64(&t->mem, interp + (uint64_t)l->interp_ceval_gil.off, &in->gil))
			return -1;
		if (read_threads(t, s, in, &span))
			return -1;
		if (gs_mem_read_u64(&t->mem, interp + (uint64_t)l->interp_next.off, &interp))
			return -1;
	}
	return 0;
}

void gs_snapshot_free(struct gs_snapshot *s)
{
	free(s->threads);
	s->threads = NULL;
	s->nthreads = s->cap = 0;
}

const struct gs_pythread *gs_snapshot_by_tstate(const struct gs_snapshot *s,
						uint64_t tstate)
{
	for (size_t i = 0; tstate && i < s->nthreads; i++)
		if (s->threads[i].tstate == tstate)
			return &s->threads[i];
	return NULL;
}

/* The main interpreter: id 0, else the oldest (the list's last). */
static uint64_t main_interp(const struct gs_snapshot *s)
{
	for (size_t i = 0; i < s->ninterps; i++)
		if (s->interps[i].id == 0)
			return s->interps[i].addr;
	return s->ninterps ? s->interps[s->ninterps - 1].addr : 0;
}

const struct gs_pythread *gs_snapshot_by_tid(const struct gs_snapshot *s, pid_t tid)
{
	/* A thread that entered a subinterpreter has a thread state there
	 * and its own, detached, in the interpreter it came from: the one
	 * that holds a GIL wins, then one in a subinterpreter (a thread
	 * state there lives only while the thread runs in it), then the
	 * first. */
	const struct gs_pythread *best = NULL;
	int best_score = -1;
	uint64_t main = main_interp(s);
	for (size_t i = 0; tid && i < s->nthreads; i++) {
		const struct gs_pythread *p = &s->threads[i];
		if (p->tid != tid)
			continue;
		int score = p->holds_gil == 1 ? 2 : p->interp != main ? 1 : 0;
		if (score > best_score) {
			best = p;
			best_score = score;
		}
	}
	return best;
}

static int is_task(const pid_t *tids, size_t n, int32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (tids[i] == v)
			return 1;
	return 0;
}

#define PTHREAD_SCAN 2048

int gs_find_pthread_tid_offset(struct gs_target *t, const struct gs_procfs *fs)
{
	struct gs_snapshot s = { 0 };
	pid_t *tids = NULL;
	ssize_t ntids;
	int64_t found = -1;

	t->pthread_tid_off = -1;
	if (gs_snapshot_read(t, &s) || s.nthreads == 0)
		goto out;
	if ((ntids = gs_task_list(fs, t->pid, &tids)) <= 0)
		goto out;
	/* Candidate offsets are where some thread's struct pthread holds
	 * the pid: that thread is the main thread, whose tid is the pid.
	 * A candidate is kept only if every other thread's struct holds one
	 * of the process's tids at the same offset, or 0: the kernel clears
	 * the tid of a thread that exits (CLONE_CHILD_CLEARTID) while its
	 * thread state may still be listed. */
	for (int64_t off = 0; off < PTHREAD_SCAN && found < 0; off += 4) {
		int main_seen = 0, ok = 1;
		for (size_t i = 0; i < s.nthreads && ok; i++) {
			int32_t v;
			if (!s.threads[i].thread_id ||
			    gs_mem_read_i32(&t->mem, s.threads[i].thread_id + (uint64_t)off, &v)) {
				ok = 0;
				break;
			}
			if (v == t->pid)
				main_seen = 1;
			else if (v != 0 && !is_task(tids, (size_t)ntids, v))
				ok = 0;
		}
		if (ok && main_seen)
			found = off;
	}
out:
	free(tids);
	gs_snapshot_free(&s);
	if (found < 0) {
		gs_debug("could not find the kernel tid in glibc's struct pthread; "
			 "thread ids will be unknown");
		return -1;
	}
	gs_debug("kernel tid is at offset %#llx in struct pthread",
		 (unsigned long long)found);
	t->pthread_tid_off = found;
	return 0;
}
