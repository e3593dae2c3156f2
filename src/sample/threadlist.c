/* The sampler's thread list: the target's tasks, each with its kept-open
 * /proc files, bound to its thread state (if any) and to the GIL of the
 * interpreter that thread state belongs to.  Re-read when the task count
 * moves, when an identity check fails or an unknown thread state holds a
 * GIL, and every RESCAN_NS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/errors.h"
#include "sample/sampler_int.h"

void sam_gil_slot_init(struct gil_slot *g, const struct gs_gil_addrs *a)
{
	memset(g, 0, sizeof *g);
	gs_gil_reader_init(&g->r, a);
}

/* The slot of the GIL at base, made on first sight. */
static size_t gil_index(struct gs_sampler *s, uint64_t base)
{
	if (!base || base == s->gils[0].r.a.base)
		return 0;
	for (size_t i = 1; i < s->ngils; i++)
		if (s->gils[i].r.a.base == base)
			return i;
	if (s->ngils == GS_MAX_GILS)
		return 0;
	struct gs_gil_addrs a;
	gs_gil_addrs_from_base(&s->t->layout, base, &a);
	sam_gil_slot_init(&s->gils[s->ngils], &a);
	return s->ngils++;
}

static struct tracked *find_tracked(struct tracked *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].tid == tid)
			return &v[i];
	return NULL;
}

/* The name the sinks show from the comm and the Python name; a change
 * moves name_gen, so the thread is announced again under its new name.
 * It fits the sinks' 64 bytes: a long Python name ends in "...". */
static void set_name(struct tracked *th)
{
	char name[sizeof th->comm + sizeof th->pyname + 8];
	if (!th->pyname[0] || strcmp(th->pyname, th->comm) == 0) {
		snprintf(name, sizeof name, "%s", th->comm);
	} else {
		int room = (int)sizeof th->name - 1 - (int)strlen(th->comm) - 3;
		if ((int)strlen(th->pyname) > room) {
			int cut = room > 3 ? room - 3 : 0;
			while (cut > 0 && ((unsigned char)th->pyname[cut] & 0xc0) == 0x80)
				cut--; /* not inside a UTF-8 character */
			snprintf(name, sizeof name, "%s (%.*s...)", th->comm, cut, th->pyname);
		} else
			snprintf(name, sizeof name, "%s (%s)", th->comm, th->pyname);
	}
	name[sizeof th->name - 1] = 0; /* a comm of 60 bytes: not the kernel's */
	if (strcmp(name, th->name) != 0) {
		if (th->name[0])
			th->name_gen++;
		memcpy(th->name, name, sizeof th->name);
	}
}

/* A thread renamed since gilsnoop first saw it (prctl, 3.14's
 * threading naming its threads, setproctitle) shows its new name.
 * Returns whether the comm changed: code that renames a thread tends
 * to set both names at once, and both are then read in the same scan
 * (one new name, not a mix of the old and the new). */
static int recheck_comm(struct gs_sampler *s, struct tracked *th, uint64_t now)
{
	char comm[sizeof th->comm];
	uint64_t since = now - th->comm_ns;
	int ran = th->ss_changed_ns > th->comm_ns || !s->ss_gate;
	if (since < COMM_SLOW_NS && !(ran && since >= COMM_RAN_NS))
		return 0;
	th->comm_ns = now;
	gs_task_comm(s->fs, s->t->pid, th->tid, comm, sizeof comm);
	if (strcmp(comm, "?") == 0 || strcmp(comm, th->comm) == 0)
		return 0;
	memcpy(th->comm, comm, sizeof comm);
	set_name(th);
	return 1;
}

/* Python names (threading.Thread.name), read at most every PYNAMES_NS
 * and when the scan found new threads or a new comm (fresh); a layout
 * that cannot read them leaves the comm. */
static void recheck_pynames(struct gs_sampler *s, int fresh, uint64_t now)
{
	if (!s->pyn && !s->pyn_off && gs_pynames_open(s->t, &s->pyn) != 0) {
		gs_debug("no Python thread names: %s", gs_last_error());
		gs_clear_error();
		s->pyn_off = 1;
	}
	if (!s->pyn || (!fresh && s->pynames_ns && now - s->pynames_ns < PYNAMES_NS))
		return;
	s->pynames_ns = now;
	if (gs_pynames_read(s->pyn, &s->snap, &s->pynames) != 0)
		return; /* kept as they were: seen again at the next read */
	for (size_t i = 0; i < s->nth; i++) {
		struct tracked *th = &s->th[i];
		const struct gs_pythread *p = th->tstate
			? gs_snapshot_by_tid(&s->snap, th->tid) : NULL;
		const char *n = p ? gs_pynames_find(&s->pynames, p->interp,
						      p->thread_id) : NULL;
		snprintf(th->pyname, sizeof th->pyname, "%s", n ? n : "");
		set_name(th);
	}
}

/* Follow th's context switches through perf, where allowed.  A refusal
 * of the first thread (no perf events here, or not for this target)
 * turns following off for the whole sampler; a later one (out of file
 * descriptors) leaves that thread to schedstat. */
static void follow(struct gs_sampler *s, struct tracked *th)
{
	if (!s->sw)
		return;
	if (gs_switches_add(s->sw, th->tid) == 0) {
		th->sw = 1;
		th->sw_gen = (uint64_t)-1;
		if (!s->sw_works)
			gs_debug("process %d: context switches from perf records",
				 (int)s->t->pid);
		s->sw_works = 1;
		return;
	}
	if (!s->sw_works && errno != ESRCH) {
		gs_debug("process %d: context switches from schedstat (perf_event_open: %s)",
			 (int)s->t->pid, strerror(errno));
		gs_switches_free(s->sw);
		s->sw = NULL;
	}
}

int sam_rescan(struct gs_sampler *s)
{
	pid_t *tids = NULL;
	ssize_t n;
	int ok = 0;

	/* Before 3.11 the kernel tid of a thread state comes from glibc's
	 * struct pthread.  If attach could not find where, every thread
	 * would look native: look again, now and then. */
	if (s->t->layout.ts_native_thread_id.off < 0 && s->t->pthread_tid_off < 0 &&
	    (!s->tid_off_ns || gs_now_ns() - s->tid_off_ns >= RESCAN_NS)) {
		s->tid_off_ns = gs_now_ns();
		gs_find_pthread_tid_offset(s->t, s->fs);
	}

	for (int attempt = 0; attempt < 3 && !ok; attempt++) {
		if (gs_snapshot_read(s->t, &s->snap) == 0)
			ok = 1;
		else if (errno == ESRCH)
			return sam_gone(s);
	}
	if ((n = gs_task_list(s->fs, s->t->pid, &tids)) <= 0) {
		free(tids);
		return sam_gone(s);
	}

	uint64_t now = gs_now_ns();
	struct tracked *nv = calloc((size_t)n, sizeof *nv);
	struct gs_thread_sample *out = calloc((size_t)n, sizeof *out);
	size_t cap_iov = GS_MAX_GILS * (GS_GIL_MAX_SPANS + 2) + 2 * (size_t)n + 8;
	struct iovec *local = calloc(cap_iov, sizeof *local);
	struct iovec *remote = calloc(cap_iov, sizeof *remote);
	if (!nv || !out || !local || !remote) {
		free(nv); free(out); free(local); free(remote); free(tids);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	/* Keep the GIL slots (and their previous words) across scans; an
	 * interpreter's GIL that went away just stays unused. */
	size_t m = 0;
	int fresh = 0;
	for (ssize_t i = 0; i < n; i++) {
		struct tracked *old = find_tracked(s->th, s->nth, tids[i]);
		struct tracked *th = &nv[m];
		if (old) {
			*th = *old;
			old->task.fd_stat = old->task.fd_syscall =
				old->task.fd_schedstat = -1;
			old->sw = 0; /* its perf event goes with it too */
			fresh |= recheck_comm(s, th, now);
		} else {
			memset(th, 0, sizeof *th);
			if (gs_task_open(s->fs, &th->task, s->t->pid, tids[i]) < 0)
				continue; /* exited since the listing */
			th->tid = tids[i];
			th->role = GS_ROLE_UNKNOWN;
			follow(s, th);
			gs_task_comm(s->fs, s->t->pid, th->tid, th->comm, sizeof th->comm);
			set_name(th);
			th->comm_ns = now;
			fresh = 1;
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
	for (size_t i = 0; i < s->nth; i++) {
		if (s->th[i].sw) /* gone: not handed on above */
			gs_switches_remove(s->sw, s->th[i].tid);
		gs_task_close(&s->th[i].task);
	}
	free(s->th); free(s->out); free(s->local); free(s->remote); free(tids);
	s->th = nv;
	s->nth = m;
	s->out = out;
	s->local = local;
	s->remote = remote;
	s->cap_iov = cap_iov;
	s->out_stale = 1;
	if (ok)
		recheck_pynames(s, fresh, now);

	uint64_t nlink;
	if (s->fs->nlink(s->fs->ctx, s->task_dir, &nlink) == 0)
		s->nlink = nlink;
	s->rescan_ns = s->nlink_ns = gs_now_ns();
	s->need_rescan = !ok;
	s->st.rescans++;
	return 0;
}
