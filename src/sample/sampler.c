/* The sampler: one sample of every thread's GIL role.
 *
 * Cost per sample, in the steady state of a CPU-bound program:
 *
 *   - one batched read (gs_mem_readv) that reads, for every GIL, the whole GIL
 *     struct (locked, last_holder, switch_number and the bytes of its
 *     condition variables and mutexes), plus the identity words of the
 *     thread state last_holder named in the previous sample;
 *   - one pread of the holder's /proc/PID/task/TID/schedstat (none where
 *     perf events follow its context switches: see below).
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
 * Where perf events are allowed, the kernel's context-switch records of
 * every thread (proc/switches.h) stand in for schedstat: a thread with
 * no record since its last read is not read at all, one found on a CPU
 * or preempted needs no read either, and only one that blocked has its
 * syscall read.  A CPU-bound program then costs no /proc read at all
 * between two GIL switches.
 *
 * A holder found blocked in a syscall is only called holding off CPU if
 * the GIL words, read again after its /proc files, did not move (it may
 * have let go of the GIL and blocked in between).
 *
 * A holder is attributed to a thread only when the identity words of its
 * thread state (thread_id, native_thread_id, and before 3.11 the kernel
 * tid in glibc's struct pthread) read in the same sample match the ones
 * bound at the last thread-list scan; otherwise the thread's role is
 * unknown and the list is re-read.  A freed and reused thread state can
 * therefore never make the wrong thread the holder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "core/clock.h"
#include "core/errors.h"
#include "sample/sampler_int.h"

int sam_gone(const struct gs_sampler *s)
{
	return gs_fail(GS_ENOPROC, "process %d exited", (int)s->t->pid);
}

struct gs_sampler *gs_sampler_new(struct gs_target *t, const struct gs_procfs *fs)
{
	struct gs_sampler *s = calloc(1, sizeof *s);
	char path[64];
	if (!s) {
		gs_fail(GS_EFAIL, "out of memory");
		return NULL;
	}
	s->t = t;
	s->fs = fs;
	s->task_dir = -1;
	s->ss_gate = 1;
	sam_gil_slot_init(&s->gils[0], &t->gil);
	s->ngils = 1;
	sam_id_span_init(s);
	if (gs_gil_reader_init(&s->gils[0].r, &t->gil)) {
		gs_fail(GS_EUNSUPPORTED, "the GIL's words are not known for this build");
		free(s);
		return NULL;
	}
	/* Only the live /proc has live threads to follow (a fuzz harness
	 * serves fake ones). */
	if (fs == &gs_procfs_live && !getenv("GILSNOOP_NO_PERF"))
		s->sw = gs_switches_new();
	else if (fs == &gs_procfs_live)
		gs_debug("process %d: context switches from schedstat (GILSNOOP_NO_PERF)",
			 (int)t->pid);
	snprintf(path, sizeof path, "/proc/%d/task", (int)t->pid);
	s->task_dir = fs->open(fs->ctx, path);
	if (s->task_dir < 0 || sam_rescan(s)) {
		if (s->task_dir < 0)
			sam_gone(s);
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
		s->fs->close(s->fs->ctx, s->task_dir);
	gs_snapshot_free(&s->snap);
	gs_pynames_free(&s->pynames);
	gs_pynames_close(s->pyn);
	gs_switches_free(s->sw);
	free(s->th); free(s->out); free(s->local); free(s->remote);
	free(s);
}

void gs_sampler_set_words_only(struct gs_sampler *s, int on)
{
	/* Words-only samples classify nobody: the roles of before are
	 * stale when full samples resume, and must not be kept. */
	if (s->words_only && !on)
		for (size_t i = 0; i < s->nth; i++)
			s->th[i].role = GS_ROLE_UNKNOWN;
	s->words_only = on;
}

/* ---- classification ----------------------------------------------------- */

static int in_range(uint64_t a, uint64_t start, uint64_t end)
{
	return start && a >= start && a < end;
}

/* A runnable Python thread that does not hold the GIL, was seen waiting
 * at its last classification and has run for less than the bound since
 * (STORY_RUN_SW_NS, or STORY_RUN_NS without perf's exact CPU time): a
 * waiter that is queued for a CPU or preempted inside take_gil (what
 * the futex test alone calls running).  Where
 * the CPU time is exact (perf switch records), also a holder that let
 * go at a drop request and was preempted back inside take_gil (woken
 * from the GIL mutex, which the new holder held as it took over); on
 * schedstat's tick-charged time a holder that let go to run C code
 * would look the same for up to a tick.  A thread seen handing off is
 * not one: woken from the switch wait, it queues before take_gil,
 * which has not begun.  A thread that let go of the GIL to run C code
 * passes the bound at once (perf) or at its first tick (schedstat);
 * one that let go to block is in a syscall, not runnable.  The 3.15+
 * gil_requested flag, where read, decides: it is mostly right, but a
 * holder preempted as it lets go (drop_gil's signal wakes the next
 * holder on its own CPU, which the kernel runs first) can stay queued
 * for milliseconds with the flag still 0 while the truth has it inside
 * take_gil: sid 3.15's ctypes holder shows 1-5 points of its waiting as
 * running so.  Ignoring a 0 here fixed that holder but moved the churn
 * phase by as much the other way (bench/README.md), so it stands. */
static int runnable_waiter(const struct gs_sampler *s, const struct tracked *th,
			   enum gs_role prev_role, int gil_requested)
{
	if (!th->tstate || gil_requested == 0 || !s->ss_gate)
		return 0;
	int was_holder = prev_role == GS_ROLE_HELD || prev_role == GS_ROLE_HELD_OFFCPU;
	if (prev_role != GS_ROLE_WAITING && !(was_holder && th->sw))
		return 0;
	return th->ts.run_ns - th->story_run_ns < (th->sw ? STORY_RUN_SW_NS : STORY_RUN_NS);
}

static void classify_thread(struct gs_sampler *s, struct tracked *th,
			    struct gs_thread_sample *o, uint64_t t)
{
	const struct gil_slot *g = &s->gils[th->gil];
	int is_holder = th->tstate && g->w.locked == 1 && g->w.last_holder == th->tstate;

	o->tid = th->tid;
	o->tstate = th->tstate;
	o->gil = (unsigned)th->gil;
	o->name = th->name;
	o->name_gen = th->name_gen;
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
	enum gs_role prev_role = th->role;
	int read = th->need;
	if (read && sam_read_task(s, th, is_holder, t)) {
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
	enum gs_role role = gs_classify(&g->r.a, &g->w, &in);

	/* Waiting on the GIL cond means being inside take_gil, which only
	 * a take (seen in the GIL words) ends; a waiter caught between two
	 * futex waits, on a CPU or on the GIL mutex, is still waiting. */
	int on_cond = th->ts.syscall_nr == SYS_futex &&
		in_range(th->ts.syscall_args[0], g->r.a.cond, g->r.a.cond_end);
	if (prev_sticky && th->tstate != g->w.last_holder && g->delta < 2 &&
	    (role == GS_ROLE_RUNNING || role == GS_ROLE_WAITING))
		role = GS_ROLE_WAITING;
	if (role != GS_ROLE_RUNNING && role != GS_ROLE_IDLE)
		th->story_run_ns = th->ts.run_ns;
	else if (role == GS_ROLE_RUNNING && runnable_waiter(s, th, prev_role, in.gil_requested))
		role = GS_ROLE_WAITING;
	th->sticky_wait = th->tstate && role == GS_ROLE_WAITING &&
		(on_cond || prev_sticky || in.gil_requested == 1);

	th->role = role;
out:
	o->role = th->role;
	o->state = th->have_ts ? th->ts.state : 0;
	o->syscall_nr = th->have_ts ? th->ts.syscall_nr : GS_SYSCALL_UNKNOWN;
	if (th->have_ts && (th->role == GS_ROLE_HELD_OFFCPU || th->role == GS_ROLE_IDLE)) {
		sam_lookup_detail(s, th);
		o->path = th->path;
		o->wchan = th->wchan;
	} else if (th->path[0]) {
		/* The fd may be closed and reused before it blocks again;
		 * a syscall without a path (a sleep, a futex) keeps its
		 * wchan: a thread woken once a second costs no open. */
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
	unsigned char buf[GS_GIL_BUF];
	size_t n = gs_gil_iov(&g->r, buf, s->local, s->remote);
	ssize_t got = gs_mem_readv(&s->t->mem, s->local, s->remote, n);
	if (got < 0)
		return -1;
	struct gs_gil_words w;
	uint64_t interval;
	if ((size_t)got < g->r.len)
		goto unknown;
	gs_gil_decode(&g->r, buf, &w, &interval);
	if (w.locked == g->w.locked && w.last_holder == g->w.last_holder &&
	    w.switch_number == g->w.switch_number)
		return 0;
	if (w.locked == 1 && w.last_holder == th->tstate)
		goto unknown; /* let go and took it back: no telling when */
	th->role = o->role = GS_ROLE_HELD;
	th->on_cpu = 1;
	goto no_detail;
unknown:
	th->role = o->role = GS_ROLE_UNKNOWN;
no_detail:
	/* The path and wchan are for holds off CPU (sampler.h). */
	o->path = o->wchan = NULL;
	th->detail_ok = 0;
	return 0;
}

/* Switches that no sample saw: a holder's tenure (from one switch to the
 * next) is seen when some sample finds it holding. */
static void count_switches(struct gil_slot *g, struct gs_gil_sample *o)
{
	o->switches = o->missed = 0;
	if (!g->valid)
		return;
	if (!g->have_tenure) {
		g->have_tenure = 1;
		g->tenure_holder = g->w.last_holder;
		g->tenure_seen = g->w.locked == 1;
		return;
	}
	uint64_t d = g->delta;
	if (d) {
		o->switches = d;
		o->missed = (g->tenure_seen ? 0 : 1) + (d - 1);
		g->tenure_holder = g->w.last_holder;
		g->tenure_seen = 0;
	}
	if (g->w.locked == 1 && g->w.last_holder == g->tenure_holder)
		g->tenure_seen = 1;
}

/* ---- one sample --------------------------------------------------------- */

int gs_sampler_sample(struct gs_sampler *s, const struct gs_sample **out)
{
	struct gs_sample *smp = &s->smp;
	uint64_t t = gs_now_ns();

	if (sam_threads_changed(s, t) && sam_rescan(s))
		return -1;
	for (size_t i = 0; i < s->nth; i++) {
		s->th[i].verified = s->th[i].mismatch = 0;
		s->th[i].holds_gil = s->th[i].gil_requested = -1;
	}
	smp->seq++;
	smp->t_ns = gs_now_ns();
	if (sam_read_gils(s))
		return sam_gone(s);
	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		g->changed = 1;
		g->delta = 0;
		if (!g->valid)
			continue;
		if (g->have_prev) {
			g->changed = memcmp(g->cur, g->prev, g->r.len) != 0;
			g->cond_changed = g->r.at_cond < 0 ? g->changed
				: memcmp(g->cur + g->r.at_cond, g->prev + g->r.at_cond,
					 g->r.cond_len) != 0;
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
			memcpy(g->prev, g->cur, g->r.len);
			g->have_prev = 1;
		}
	}
	if (!s->words_only && sam_verify_new_holders(s))
		return sam_gone(s);

	s->quiet_left = QUIET_BUDGET;
	for (int k = 0; k < 2; k++) {
		s->quiet_prev[k] = s->quiet_seen[k];
		s->quiet_seen[k] = 0;
	}
	for (size_t i = 0; !s->words_only && i < s->nth; i++)
		s->th[i].need = s->gils[s->th[i].gil].valid &&
			sam_need_read(s, &s->th[i], smp->t_ns);
	if (!s->words_only && sam_read_flags(s))
		return sam_gone(s);

	for (size_t i = 0; i < s->ngils; i++)
		s->gil_out[i].holder_tid = 0;
	/* Per GIL: a locked one whose holder is none of our threads. */
	int holder_known[GS_MAX_GILS];
	for (size_t i = 0; i < s->ngils; i++)
		holder_known[i] = !(s->gils[i].valid && s->gils[i].w.locked == 1);
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		struct gs_thread_sample *o = &s->out[i];
		const struct gil_slot *g = &s->gils[th->gil];
		if (s->words_only) {
			int h = th->tstate && g->valid && g->w.locked == 1 &&
				g->w.last_holder == th->tstate;
			*o = (struct gs_thread_sample){ .tid = th->tid, .tstate = th->tstate,
				.gil = (unsigned)th->gil,
				.role = h ? GS_ROLE_HELD : GS_ROLE_UNKNOWN,
				.syscall_nr = GS_SYSCALL_UNKNOWN, .name = th->name,
				.name_gen = th->name_gen };
			if (h) {
				s->gil_out[th->gil].holder_tid = th->tid;
				holder_known[th->gil] = 1;
			}
			continue;
		}
		/* A thread not read in this sample keeps its role, and its
		 * entry of the last sample stands as it was (the holder and
		 * the last holder are always read). */
		if (!th->need && g->valid && th->role != GS_ROLE_UNKNOWN && !s->out_stale &&
		    o->role == th->role)
			continue;
		classify_thread(s, th, o, smp->t_ns);
		if (o->role == GS_ROLE_HELD_OFFCPU && confirm_offcpu(s, th, o))
			return sam_gone(s);
		if (th->tstate && th->tstate == g->w.last_holder)
			holder_known[th->gil] = 1;
		if (o->role == GS_ROLE_HELD || o->role == GS_ROLE_HELD_OFFCPU)
			s->gil_out[th->gil].holder_tid = th->tid;
	}
	if (!s->words_only)
		s->out_stale = 0;
	/* A holder we have no thread for is a thread state created since
	 * the last scan (of any GIL: a thread entering a subinterpreter
	 * gets a new one there). */
	for (size_t i = 0; i < s->ngils; i++)
		if (!holder_known[i])
			s->need_rescan = 1;

	for (size_t i = 0; i < s->ngils; i++) {
		struct gil_slot *g = &s->gils[i];
		struct gs_gil_sample *o = &s->gil_out[i];
		o->addr = g->r.a.base ? g->r.a.base : g->r.a.locked;
		o->words = g->w;
		o->interval_us = g->interval;
		o->torn = !g->valid;
		count_switches(g, o);
	}
	const struct gs_gil_sample *m = &s->gil_out[0];
	smp->pid = s->t->pid;
	smp->ngils = s->ngils;
	smp->gils = s->gil_out;
	smp->gil = m->words;
	smp->interval_us = m->interval_us;
	smp->switches = m->switches;
	smp->missed = m->missed;
	smp->holder_tid = m->holder_tid;
	smp->torn = m->torn;
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

void gs_sampler_stats(const struct gs_sampler *s, struct gs_sampler_stats *out)
{
	*out = s->st;
}
