/* The sampler's reads: target memory in as few batched reads as a sample
 * allows (gs_mem_readv), and /proc only when it can have changed. */
#include <errno.h>

#include "sample/sampler_int.h"

/* One batched read of the first n iovecs of s->local and s->remote:
 * the bytes read, or -1 when the target is gone. */
static ssize_t read_batch(struct gs_sampler *s, size_t n)
{
	return n ? gs_mem_readv(&s->t->mem, s->local, s->remote, n) : 0;
}

/* After a batched read that returned got bytes: whether the cnt iovecs
 * from *k on arrived whole.  Moves *k and *off past them. */
static int arrived(const struct gs_sampler *s, ssize_t got, size_t *k, size_t *off,
		   size_t cnt)
{
	size_t want = 0;
	for (size_t j = *k; j < *k + cnt; j++)
		want += s->local[j].iov_len;
	int whole = (size_t)got >= *off + want;
	*k += cnt;
	*off += want;
	return whole;
}

/* Read every GIL and the identity of each GIL's previous last_holder.
 * Returns 0, or -1 when the target is gone. */
int sam_read_gils(struct gs_sampler *s)
{
	size_t n = 0;
	size_t count[GS_MAX_GILS], idn[GS_MAX_GILS];
	struct tracked *spec[GS_MAX_GILS];

	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		n += count[i] = gs_gil_iov(&g->r, g->cur, s->local + n, s->remote + n);
		idn[i] = 0;
		spec[i] = NULL;
	}
	/* Speculate that last_holder has not changed: its identity check
	 * then comes in the same read.  It goes last so that a freed
	 * thread state cannot cut the GIL words short. */
	for (size_t i = 0; !s->words_only && i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		spec[i] = g->have_prev ? sam_by_tstate(s, i, g->w.last_holder) : NULL;
		if (spec[i])
			n += idn[i] = sam_add_id_iov(s, s->local + n, s->remote + n, spec[i],
						     g->spec_buf, &g->spec_ptid);
	}
	ssize_t got = read_batch(s, n);
	if (got < 0)
		return -1;

	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		int full = arrived(s, got, &k, &off, count[i]);
		if (g->valid)
			g->pw = g->w;
		g->valid = full && gs_gil_decode(&g->r, g->cur, &g->w, &g->interval) == 0;
	}
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		int full = arrived(s, got, &k, &off, idn[i]);
		g->spec_tstate = spec[i] ? spec[i]->tstate : 0;
		g->spec_ok = spec[i] && full;
		if (spec[i])
			sam_check_id(s, spec[i], g->spec_buf, g->spec_ptid, g->spec_ok);
	}
	return 0;
}

/* The identity of a new last_holder, in a second read. */
int sam_verify_new_holders(struct gs_sampler *s)
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
		who[i] = sam_by_tstate(s, i, g->w.last_holder);
		if (!who[i] || who[i]->verified || who[i]->mismatch)
			continue;
		n += cnt[i] = sam_add_id_iov(s, s->local + n, s->remote + n, who[i],
					     g->spec_buf, &g->spec_ptid);
	}
	ssize_t got = read_batch(s, n);
	if (got < 0)
		return -1;
	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->ngils; i++)
		if (cnt[i])
			sam_check_id(s, who[i], s->gils[i].spec_buf, s->gils[i].spec_ptid,
				     arrived(s, got, &k, &off, cnt[i]));
	return 0;
}

/* Blocked (not runnable) with a schedstat that has not moved for
 * QUIET_NS, or quiet by that rule at the read before its last move and
 * still since; on a kernel whose schedstat moves. */
static int quiet(const struct gs_sampler *s, const struct tracked *th, uint64_t t)
{
	if (!s->ss_gate || th->role != GS_ROLE_IDLE || th->ts.state == 'R')
		return 0;
	return t - th->ss_changed_ns >= QUIET_NS ||
		(th->was_quiet && th->read_ns > th->ss_changed_ns);
}

/* Whether a quiet Python thread is watched in this sample: only when a
 * thread started to wait on its GIL's cond since the last sample (one
 * woken from its sleep into a GIL wait does), and then all of them when
 * there are no more than the budget, else a window of budget of them
 * that moves on by its width at every sample. */
static int quiet_watched(struct gs_sampler *s, const struct gil_slot *g, int by_ring)
{
	size_t budget = by_ring ? QUIET_WATCH_RING : QUIET_WATCH_READ;
	size_t k = s->quiet_seen[by_ring]++, n = s->quiet_prev[by_ring];
	if (!g->cond_changed)
		return 0;
	if (n <= budget)
		return k < budget;
	size_t start = (size_t)((s->st.samples * budget) % n);
	return (k % n + n - start) % n < budget;
}

/* Whether th switched since its state was last taken, by a look at its
 * ring (which th's read in this sample then need not repeat). */
static int switched(struct gs_sampler *s, struct tracked *th)
{
	th->sw_polled = 1;
	return gs_switches_poll(s->sw, th->tid)->gen != th->sw_gen;
}

/* Whether th's /proc state must be read in this sample. */
int sam_need_read(struct gs_sampler *s, struct tracked *th, uint64_t t)
{
	th->sw_polled = 0;
	const struct gil_slot *g = &s->gils[th->gil];
	if (!th->have_ts || th->role == GS_ROLE_UNKNOWN)
		return 1;
	if (th->tstate && (th->tstate == g->w.last_holder || th->tstate == g->pw.last_holder))
		return 1;
	/* A thread that switched since its last read is read (for nothing
	 * more than a look at its records, unless it blocked); one that did
	 * not has not changed its kernel state, and is read by the rules
	 * below.  Its ring is polled after the GIL words, so that its
	 * state is no older than the words it is judged against; a quiet
	 * thread's is left for when it is read or watched: one page less
	 * per sample for each of a big service's sleepers. */
	int is_quiet = quiet(s, th, t);
	if (th->sw && !is_quiet && switched(s, th))
		return 1;
	if (is_quiet) {
		/* Watched by schedstat, it is read: /proc's syscall file
		 * only if that moved. */
		if (th->tstate && quiet_watched(s, g, th->sw != 0) &&
		    (!th->sw || switched(s, th)))
			return 1;
		if (t - th->read_ns < QUIET_SLOW_NS || !s->quiet_left)
			return 0;
		s->quiet_left--;
		return 1;
	}
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
 * batched read; that also checks their identity. */
int sam_read_flags(struct gs_sampler *s)
{
	const struct gs_layout *l = &s->t->layout;
	size_t n = 0;
	if (!sam_in_id_span(s, l->ts_gil_requested))
		return 0;
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		th->nid = 0;
		if (!th->need || !th->tstate || th->verified || th->mismatch ||
		    !s->gils[th->gil].valid || n + 2 > s->cap_iov)
			continue;
		n += th->nid = sam_add_id_iov(s, s->local + n, s->remote + n, th,
					      th->idbuf, &th->ptid);
	}
	ssize_t got = read_batch(s, n);
	if (got < 0)
		return -1;
	size_t off = 0, k = 0;
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		if (th->nid)
			sam_check_id(s, th, th->idbuf, th->ptid,
				     arrived(s, got, &k, &off, th->nid));
	}
	return 0;
}

/* Read th's syscall file, and its stat where its exact state matters
 * (the holder, or a syscall file that does not say): after a schedstat
 * that moved, or a switch record that says it blocked.  Returns 0, or
 * -1 when the task has gone. */
static int read_syscall(struct gs_sampler *s, struct tracked *th, int holder,
			int queued_if_running)
{
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
		th->on_cpu = !queued_if_running;
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

/* sam_read_task for a thread whose context switches perf follows: its
 * records since the last read say whether anything changed, and
 * whether it is on a CPU, queued, or blocked (only then is a file
 * read).  Its CPU time is the records' too, never schedstat's, so that
 * story_run_ns keeps one base. */
static int read_task_switches(struct gs_sampler *s, struct tracked *th, int holder,
			      uint64_t t)
{
	const struct gs_switch_state *st = th->sw_polled ? gs_switches_get(s->sw, th->tid)
		: gs_switches_poll(s->sw, th->tid);
	enum gs_cpu_state cs = st->state;
	th->ts.run_ns = gs_switch_run_ns(st, t);
	th->ts.wait_ns = 0;
	/* Queued for a CPU after a preemption counts as on one until
	 * STALE_RUN_NS have passed, as the schedstat rule has it: a holder
	 * off CPU is one that cannot run, not one that waits its turn. */
	int preempted_on = cs == GS_CS_PREEMPTED && t - st->last_ns < STALE_RUN_NS;
	if (st->gen == th->sw_gen && th->have_ts && cs != GS_CS_UNKNOWN) {
		th->read_ns = t;
		if (cs == GS_CS_PREEMPTED)
			th->on_cpu = preempted_on;
		return 0; /* no switch since: same state, same syscall */
	}
	if (st->gen != th->sw_gen) {
		th->was_quiet = th->read_ns - th->ss_changed_ns >= QUIET_NS;
		th->ss_changed_ns = cs == GS_CS_UNKNOWN ? t : st->last_ns;
		th->sw_gen = st->gen;
	}
	th->read_ns = t;
	if (cs == GS_CS_ON_CPU || cs == GS_CS_PREEMPTED) {
		th->ts.state = 'R';
		th->ts.syscall_nr = GS_SYSCALL_RUNNING;
		th->on_cpu = cs == GS_CS_ON_CPU || preempted_on;
		th->have_ts = 1;
		return 0;
	}
	/* Blocked, or not known since a lost record: a thread found running
	 * after a record said it blocked has been woken since the poll. */
	return read_syscall(s, th, holder, 0);
}

/* Bring th's kernel state up to date.  Returns 0, or -1 when the task
 * has gone (or its files became unreadable). */
int sam_read_task(struct gs_sampler *s, struct tracked *th, int holder, uint64_t t)
{
	if (th->sw)
		return read_task_switches(s, th, holder, t);
	char ss[64];
	ssize_t n = -1;
	int moved = 1;

	s->st.proc_reads++;
	if (th->task.fd_schedstat >= 0 &&
	    (n = gs_task_pread(&th->task, th->task.fd_schedstat, ss, sizeof ss)) < 0)
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
			th->was_quiet = th->read_ns - th->ss_changed_ns >= QUIET_NS;
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
	return read_syscall(s, th, holder,
			    s->ss_gate && n > 0 && t - th->ss_changed_ns >= STALE_RUN_NS);
}

/* Path and wchan cost an open each: look them up when a thread enters
 * holding-offcpu or idle, or blocks in another syscall or on another fd,
 * not at every sample of a long wait. */
void sam_lookup_detail(struct gs_sampler *s, struct tracked *th)
{
	long nr = th->ts.syscall_nr;
	uint64_t fd = th->ts.syscall_args[0];
	if (th->detail_ok && th->detail_nr == nr && th->detail_fd == fd)
		return;
	th->detail_ok = 1;
	th->detail_nr = nr;
	th->detail_fd = fd;
	if (nr == GS_SYSCALL_RUNNING) {
		/* Preempted, not blocked: no fd, no wait channel. */
		th->path[0] = th->wchan[0] = 0;
		return;
	}
	if (gs_syscall_fd_path(s->fs, s->t->pid, &th->ts, th->path, sizeof th->path))
		th->path[0] = 0;
	gs_task_wchan(s->fs, s->t->pid, th->tid, th->wchan, sizeof th->wchan);
}
