/* One classified look at every thread (see census.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/errors.h"
#include "core/json.h"
#include "proc/readfile.h"
#include "proc/sched.h"
#include "proc/procfs.h"
#include "sample/census.h"
#include "sample/gilwords.h"

static void describe_syscall(pid_t pid, struct gs_census_thread *r)
{
	const struct gs_taskstat *ts = &r->now;
	if (ts->syscall_nr >= 0) {
		const char *n = gs_syscall_name(ts->syscall_nr);
		if (n)
			snprintf(r->syscall, sizeof r->syscall, "%s", n);
		else
			snprintf(r->syscall, sizeof r->syscall, "syscall %ld", ts->syscall_nr);
		if (gs_syscall_fd_path(&gs_procfs_live, pid, ts, r->path, sizeof r->path))
			r->path[0] = 0;
	} else if (ts->syscall_nr == GS_SYSCALL_NONE) {
		snprintf(r->syscall, sizeof r->syscall, "no syscall (fault?)");
	}
	if (r->role == GS_ROLE_HELD_OFFCPU || r->role == GS_ROLE_IDLE)
		gs_task_wchan(&gs_procfs_live, pid, r->tid, r->wchan, sizeof r->wchan);
}

/* The sampler's reader, so that a census and the sampler read the same
 * words the same way. */
static int read_gil_words(const struct gs_target *t, struct gs_gil_words *w,
			  uint64_t *interval)
{
	struct gs_gil_reader g;
	gs_gil_reader_init(&g, &t->gil);
	*interval = 0;
	return gs_gil_read(&g, &t->mem, w, interval, NULL);
}

/* Each subinterpreter's own GIL (3.12+), read like the main one. */
static void read_sub_gils(const struct gs_target *t, struct gs_census *c)
{
	c->gils[0].a = t->gil;
	c->gils[0].w = c->w;
	c->gils[0].read = 1;
	c->ngils = 1;
	for (size_t k = 0; k < c->snap.ninterps; k++) {
		uint64_t base = c->snap.interps[k].gil;
		size_t i = 0;
		while (i < c->ngils && c->gils[i].a.base != base)
			i++;
		if (!base || i < c->ngils || c->ngils == GS_CENSUS_MAX_GILS)
			continue;
		struct gs_census_gil *g = &c->gils[c->ngils++];
		uint64_t interval;
		gs_gil_addrs_from_base(&t->layout, base, &g->a);
		struct gs_gil_reader rd;
		gs_gil_reader_init(&rd, &g->a);
		g->read = gs_gil_read(&rd, &t->mem, &g->w, &interval, NULL) == 0;
	}
}

/* The GIL of interpreter interp's threads. */
static unsigned gil_of(const struct gs_census *c, uint64_t interp)
{
	for (size_t k = 0; k < c->snap.ninterps; k++) {
		if (c->snap.interps[k].addr != interp)
			continue;
		for (size_t i = 0; i < c->ngils; i++)
			if (c->gils[i].a.base == c->snap.interps[k].gil)
				return (unsigned)i;
	}
	return 0;
}

int gs_census_take(const struct gs_target *t, struct gs_census *c)
{
	pid_t *tids = NULL;
	struct gs_task *tasks;
	ssize_t n;
	int rc = 0;

	memset(c, 0, sizeof *c);
	n = gs_task_list(&gs_procfs_live, t->pid, &tids);
	if (n <= 0)
		return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
	c->v = calloc((size_t)n, sizeof *c->v);
	tasks = calloc((size_t)n, sizeof *tasks);
	if (!c->v || !tasks) {
		free(tids);
		free(tasks);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	c->n = (size_t)n;
	for (size_t i = 0; i < c->n; i++) {
		struct gs_census_thread *r = &c->v[i];
		r->tid = tids[i];
		gs_task_comm(&gs_procfs_live, t->pid, r->tid, r->comm, sizeof r->comm);
		if (gs_task_open(&gs_procfs_live, &tasks[i], t->pid, r->tid) == 0)
			r->have = gs_task_read(&tasks[i], GS_TS_ALL, &r->prev) == 0;
		else
			tasks[i].fd_stat = tasks[i].fd_syscall = tasks[i].fd_schedstat = -1;
	}
	/* Two kernel reads a few milliseconds apart tell a running holder
	 * from one that is runnable but preempted. */
	nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);

	for (int attempt = 0; attempt < 5; attempt++) {
		if (gs_snapshot_read(t, &c->snap) == 0)
			break;
		if (attempt == 4 && !(rc = gs_target_check(t, NULL)))
			rc = gs_fail(GS_ENOPROC, "could not read the thread list of "
				     "process %d (it kept changing)", (int)t->pid);
	}
	c->gil_read_ns = gs_now_ns();
	if (!rc && read_gil_words(t, &c->w, &c->interval)) {
		int e = errno;
		if (!(rc = gs_target_check(t, NULL)))
			rc = gs_fail(GS_EFAIL, "could not read the GIL of process "
				     "%d: %s", (int)t->pid, strerror(e));
	}
	if (!rc)
		read_sub_gils(t, c);
	for (size_t i = 0; !rc && i < c->n; i++) {
		struct gs_census_thread *r = &c->v[i];
		r->py = gs_snapshot_by_tid(&c->snap, r->tid);
		r->gil = r->py ? gil_of(c, r->py->interp) : 0;
		if (!r->have || gs_task_read(&tasks[i], GS_TS_ALL, &r->now)) {
			r->have = 0;
			r->role = GS_ROLE_UNKNOWN;
			continue;
		}
		struct gs_classify_in ci = {
			.tstate = r->py ? r->py->tstate : 0,
			.holds_gil = r->py ? r->py->holds_gil : -1,
			.gil_requested = r->py ? r->py->gil_requested : -1,
			.now = &r->now,
			.prev = &r->prev,
		};
		if (r->tid == t->pid)
			c->stopped = r->now.state == 'T' || r->now.state == 't';
		struct gs_census_gil *g = &c->gils[r->gil];
		r->role = g->read ? gs_classify(&g->a, &g->w, &ci) : GS_ROLE_UNKNOWN;
		if (r->role == GS_ROLE_HELD || r->role == GS_ROLE_HELD_OFFCPU)
			g->holder_tid = r->tid;
		else if (r->role == GS_ROLE_WAITING)
			g->waiters++;
		c->holder_tid = c->gils[0].holder_tid;
		describe_syscall(t->pid, r);
	}
	for (size_t i = 0; i < c->n; i++)
		gs_task_close(&tasks[i]);
	free(tasks);
	free(tids);
	return rc;
}

void gs_census_free(struct gs_census *c)
{
	for (size_t i = 0; c->v && i < c->n; i++)
		gs_census_stack_free(&c->v[i].stack);
	gs_snapshot_free(&c->snap);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct gs_census_thread *gs_census_holder(const struct gs_census *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].tid == c->holder_tid)
			return &c->v[i];
	return NULL;
}

void gs_census_detail(const struct gs_census_thread *r, char *buf, size_t n)
{
	buf[0] = 0;
	if (r->role != GS_ROLE_HELD_OFFCPU && r->role != GS_ROLE_IDLE)
		return;
	const char *what = r->syscall[0] ? r->syscall
		: r->now.state == 'D' ? "uninterruptible wait" : "";
	/* The path names a file of the target's: it may hold a newline. */
	char path[sizeof r->path], wchan[sizeof r->wchan];
	gs_text_clean(path, sizeof path, r->path);
	gs_text_clean(wchan, sizeof wchan, r->wchan);
	snprintf(buf, n, "%s%s%s%s%s", what, path[0] ? " " : "", path,
		 wchan[0] ? " wchan=" : "", wchan);
}

int64_t gs_census_offcpu_ns(const struct gs_target *t, const struct gs_census *c,
			    const struct gs_census_thread *r)
{
	struct gs_taskstat ts;
	uint64_t last, now;
	char path[64], buf[1024];
	(void)c;
	if (!r->have)
		return -1;
	if (gs_task_on_cpu(&r->now, &r->prev))
		return 0;
	/* The CPU it last ran on, and when, read together (it may have run
	 * since the census). */
	if (gs_sched_exec_start(t->pid, r->tid, &last) != 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)t->pid, (int)r->tid);
	ssize_t n = gs_read_file(path, buf, sizeof buf);
	memset(&ts, 0, sizeof ts);
	if (n <= 0 || gs_parse_stat(buf, (size_t)n, &ts) != 0 ||
	    gs_sched_now_on(ts.processor, &now) != 0)
		return -1;
	return last >= now ? 0 : (int64_t)(now - last);
}

void gs_census_names(const struct gs_target *t, struct gs_census *c)
{
	struct gs_pynames_reader *nr;
	struct gs_pynames names = { 0 };

	if (gs_pynames_open(t, &nr) != 0) {
		gs_debug("no Python thread names: %s", gs_last_error());
		gs_clear_error();
		return;
	}
	if (gs_pynames_read(nr, &c->snap, &names) != 0)
		gs_debug("could not read Python thread names: %s", strerror(errno));
	for (size_t i = 0; i < c->n; i++) {
		struct gs_census_thread *r = &c->v[i];
		const char *n = r->py ? gs_pynames_find(&names, r->py->interp,
							  r->py->thread_id) : NULL;
		if (n)
			snprintf(r->pyname, sizeof r->pyname, "%s", n);
	}
	gs_pynames_free(&names);
	gs_pynames_close(nr);
}

void gs_census_stack_free(struct gs_census_stack *s)
{
	for (size_t k = 0; s->v && k < s->n; k++) {
		free(s->v[k].function);
		free(s->v[k].file);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

int gs_census_stack_copy(const struct gs_pystack *st, struct gs_census_stack *out)
{
	gs_census_stack_free(out);
	out->v = calloc(st->n ? st->n : 1, sizeof *out->v);
	if (!out->v)
		return -1;
	for (size_t k = 0; k < st->n; k++) {
		const struct gs_pyframe *p = &st->frames[k];
		struct gs_census_frame *f = &out->v[k];
		f->function = strdup(p->function ? p->function : "");
		f->file = strdup(p->file ? p->file : "");
		out->n = k + 1;
		if (!f->function || !f->file) {
			gs_census_stack_free(out);
			return -1;
		}
		f->line = p->line;
		f->first_line = p->first_line;
		f->entry = !!(p->flags & GS_PYFRAME_ENTRY);
		f->code = p->code;
		f->frame = p->frame;
	}
	out->flags = st->flags;
	out->have = 1;
	return 0;
}

int gs_census_stacks(const struct gs_target *t, struct gs_census *c, size_t cap,
		     char *err, size_t errlen)
{
	struct gs_pystack_reader *sr;
	struct gs_pyframe *frames = calloc(cap ? cap : 1, sizeof *frames);
	int rc = 0;

	if (!frames)
		return gs_fail(GS_EFAIL, "out of memory");
	if (gs_pystack_open(t, &sr) != 0) {
		snprintf(err, errlen, "%s", gs_last_error());
		gs_clear_error();
		free(frames);
		return 0;
	}
	for (size_t i = 0; !rc && i < c->n; i++) {
		struct gs_census_thread *r = &c->v[i];
		struct gs_pystack st = { frames, cap, 0, 0, 0, 0 };
		if (!r->py)
			continue;
		if (gs_pystack_read(sr, r->py->tstate, &st) != 0) {
			/* The thread state went away with its thread. */
			gs_census_stack_free(&r->stack);
			r->stack.flags = GS_PYSTACK_PARTIAL;
			r->stack.have = 1;
			continue;
		}
		if (gs_census_stack_copy(&st, &r->stack) != 0)
			rc = gs_fail(GS_EFAIL, "out of memory");
	}
	gs_pystack_close(sr);
	free(frames);
	return rc;
}
