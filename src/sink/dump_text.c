/* gilsnoop dump as text: a header, then one block per thread.  Every
 * string that comes from the target (names, paths, functions) is
 * cleaned to keep each line one line. */
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "core/json.h"
#include "sink/dump_out.h"

const char *gs_dump_role_words(enum gs_role r)
{
	switch (r) {
	case GS_ROLE_HELD: return "holding the GIL, on CPU";
	case GS_ROLE_HELD_OFFCPU: return "holding the GIL off CPU";
	case GS_ROLE_WAITING: return "waiting for the GIL";
	case GS_ROLE_HANDOFF: return "handing the GIL off (waiting for a waiter to take it)";
	case GS_ROLE_RUNNING: return "running without the GIL";
	case GS_ROLE_IDLE: return "idle (blocked without the GIL)";
	case GS_ROLE_UNKNOWN: case GS_ROLE_COUNT: break;
	}
	return "unknown (its state could not be read)";
}

static const char *clean(char *buf, size_t n, const char *s)
{
	return gs_text_clean(buf, n, s ? s : "");
}

static const char *base(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path ? path : "";
}

static void duration(char *buf, size_t n, uint64_t ns)
{
	if (ns >= 10000000000ull)
		snprintf(buf, n, "%" PRIu64 " s", ns / 1000000000u);
	else if (ns >= 1000000u)
		snprintf(buf, n, "%" PRIu64 " ms", ns / 1000000u);
	else
		snprintf(buf, n, "%" PRIu64 " us", ns / 1000u);
}

static void thread_name(const struct gs_dump_thread *dt, char *buf, size_t n)
{
	char py[96], comm[96];
	clean(py, sizeof py, dt->c->pyname);
	clean(comm, sizeof comm, dt->c->comm);
	if (!dt->c->pyname[0])
		snprintf(buf, n, "(comm %s)", comm);
	else if (strcmp(dt->c->pyname, dt->c->comm) == 0)
		snprintf(buf, n, "\"%s\"", py);
	else
		snprintf(buf, n, "\"%s\" (comm %s)", py, comm);
}

static void header(FILE *f, const struct gs_dump *d)
{
	const struct gs_target *t = d->t;
	const struct gs_census *c = d->c;
	size_t npy = 0;
	char name[256], dur[32];

	for (size_t i = 0; i < c->n; i++)
		npy += c->v[i].py != NULL;
	fprintf(f, "Process %d: Python %s (%s build), %zu thread%s, %zu with a "
		"Python thread state%s\n", (int)t->pid, t->ver.str,
		gs_build_name(t->build), c->n, c->n == 1 ? "" : "s", npy,
		c->stopped ? "; stopped by a signal (threads show as they were)" : "");
	fprintf(f, "GIL: ");
	if (d->n && d->v[0].c->tid == c->holder_tid) {
		const struct gs_dump_thread *h = &d->v[0];
		thread_name(h, name, sizeof name);
		fprintf(f, "held by thread %d %s, ", (int)h->c->tid, name);
		if (h->c->role == GS_ROLE_HELD)
			fprintf(f, "on CPU%s", d->long_hold == 1 ? " for over 100 ms" : "");
		else if (h->offcpu_ns > 0) {
			duration(dur, sizeof dur, (uint64_t)h->offcpu_ns);
			fprintf(f, "off CPU for %s", dur);
		} else
			fprintf(f, "off CPU");
	} else if (c->w.locked == 1) {
		fprintf(f, "locked by a thread not in the list");
	} else {
		fprintf(f, "free");
	}
	fprintf(f, "; %" PRIu64 " switches; %zu thread%s waiting\n",
		c->w.switch_number, d->waiters, d->waiters == 1 ? "" : "s");
	if (d->py_error[0])
		fprintf(f, "Python stacks unavailable: %s\n",
			clean(name, sizeof name, d->py_error));
	if (d->native_error[0])
		fprintf(f, "Native stacks unavailable: %s\n",
			clean(name, sizeof name, d->native_error));
}

static void kernel_line(FILE *f, const struct gs_census_thread *r)
{
	char path[sizeof r->path], wchan[sizeof r->wchan];
	if (!r->have) {
		fprintf(f, "    its /proc files could not be read (it may have exited)\n");
		return;
	}
	fprintf(f, "    state %c, ", r->now.state ? r->now.state : '?');
	if (r->syscall[0])
		fprintf(f, "in %s", r->syscall);
	else if (r->now.syscall_nr == GS_SYSCALL_RUNNING)
		fprintf(f, "not in a system call");
	else
		fprintf(f, "system call unknown");
	if (r->path[0])
		fprintf(f, " on %s", clean(path, sizeof path, r->path));
	if (r->wchan[0])
		fprintf(f, ", wchan %s", clean(wchan, sizeof wchan, r->wchan));
	fputc('\n', f);
}

static void pyframe(FILE *f, const char *indent, const struct gs_census_frame *p)
{
	char fn[256], file[PATH_MAX];
	clean(fn, sizeof fn, p->function);
	clean(file, sizeof file, p->file);
	if (p->line > 0)
		fprintf(f, "%s%s (%s:%d)\n", indent, fn, file, p->line);
	else
		fprintf(f, "%s%s (%s)\n", indent, fn, file);
}

static void python_stack(FILE *f, const struct gs_dump_thread *dt)
{
	const struct gs_census_stack *p = &dt->py;
	if (!dt->c->py || !p->have)
		return;
	fprintf(f, "    Python stack, innermost first%s%s:\n",
		p->flags & GS_PYSTACK_TORN ? " [changing while read]" : "",
		p->flags & GS_PYSTACK_PARTIAL ? " [partial: a frame could not be read]" : "");
	if (!p->n)
		fprintf(f, "      (no Python frames)\n");
	for (size_t k = 0; k < p->n; k++)
		pyframe(f, "      ", &p->v[k]);
	if (p->flags & GS_PYSTACK_TRUNCATED)
		fprintf(f, "      ... (the outermost frames are not shown)\n");
}

static void nframe(FILE *f, size_t i, const struct gs_nframe *n)
{
	char fn[256], obj[PATH_MAX], file[PATH_MAX];
	clean(fn, sizeof fn, n->function);
	clean(obj, sizeof obj, base(n->object));
	clean(file, sizeof file, n->file);
	fprintf(f, "      #%-3zu ", i);
	if (!n->function)
		fprintf(f, "?? (%s+%#" PRIx64 ")%s", obj[0] ? obj : "?", n->objoff,
			n->flags & GS_NFRAME_EVAL ? " [eval loop]" : "");
	else if (n->flags & GS_NFRAME_INLINED)
		fprintf(f, "%s (inlined) in %s", fn, obj);
	else
		fprintf(f, "%s+%#" PRIx64 " in %s", fn, n->offset, obj);
	if (n->file && n->line > 0)
		fprintf(f, " at %s:%d", file, n->line);
	if (n->flags & GS_NFRAME_GIL)
		fprintf(f, "  <- GIL");
	if (n->flags & GS_NFRAME_SIGNAL)
		fprintf(f, "  <signal handler called>");
	fputc('\n', f);
}

static void native_stack(FILE *f, const struct gs_dump_thread *dt)
{
	char why[256], dur[32];
	if (!dt->native_tried)
		return;
	if (!dt->native_ok) {
		fprintf(f, "    Native stack: not taken: %s\n",
			clean(why, sizeof why, dt->native_why));
		return;
	}
	char held[32];
	duration(dur, sizeof dur, dt->held_ns - dt->wait_ns);
	duration(held, sizeof held, dt->held_ns);
	fprintf(f, "    Native stack (the thread was stopped %s, at most %s from seize "
		"to detach%s):\n", dur, held,
		dt->stop == GS_STOP_GROUP ? "; it is in a group stop" : "");
	int merged = dt->merge.ok && dt->py.n;
	for (size_t i = 0; i < dt->nnf; i++) {
		nframe(f, i, &dt->nf[i]);
		if (merged)
			for (size_t k = 0; k < dt->mcount[i]; k++)
				pyframe(f, "             > ", &dt->py.v[dt->mfirst[i] + k]);
	}
	if (dt->nflags & GS_UNWIND_TRUNCATED)
		fprintf(f, "      ... (more frames than shown)\n");
	if (dt->nflags & GS_UNWIND_STOPPED)
		fprintf(f, "      ... (the unwind stopped here: %s)\n",
			clean(why, sizeof why, dt->native_why));
	if (dt->nflags & GS_UNWIND_LIVE)
		fprintf(f, "      (frames past the copied stack were read after the "
			"thread ran on)\n");
	if (dt->c->py && dt->py.have && dt->py.n && !dt->merge.ok)
		fprintf(f, "      (Python frames not interleaved: %zu eval-loop frame%s "
			"in the native stack, %zu entry frame%s in the Python stack)\n",
			dt->merge.eval_frames, dt->merge.eval_frames == 1 ? "" : "s",
			dt->merge.entries, dt->merge.entries == 1 ? "" : "s");
}

static void thread_block(FILE *f, const struct gs_dump *d,
			 const struct gs_dump_thread *dt)
{
	char name[256], dur[32];
	const struct gs_census_thread *r = dt->c;
	thread_name(dt, name, sizeof name);
	fprintf(f, "\nThread %d %s: ", (int)r->tid, name);
	if (!r->py)
		fprintf(f, "native thread (no Python thread state), %s\n",
			r->role == GS_ROLE_RUNNING ? "running" :
			r->role == GS_ROLE_UNKNOWN ? "state unknown" : "blocked");
	else if (r->role == GS_ROLE_HELD_OFFCPU && dt->offcpu_ns > 0) {
		duration(dur, sizeof dur, (uint64_t)dt->offcpu_ns);
		fprintf(f, "%s for %s\n", gs_dump_role_words(r->role), dur);
	} else if (r->role == GS_ROLE_HELD && d->long_hold == 1)
		fprintf(f, "%s, for over 100 ms\n", gs_dump_role_words(r->role));
	else
		fprintf(f, "%s\n", gs_dump_role_words(r->role));
	kernel_line(f, r);
	python_stack(f, dt);
	native_stack(f, dt);
}

void gs_dump_print_text(FILE *f, const struct gs_dump *d)
{
	header(f, d);
	for (size_t i = 0; i < d->n; i++)
		thread_block(f, d, &d->v[i]);
}
