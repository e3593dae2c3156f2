/* gilsnoop dump: what every thread of a (stuck) process is doing, once:
 * the GIL holder first, then its waiters, then the rest; Python stacks
 * read from memory; native stacks of the holder (or of every thread
 * with --native) from a brief stop of one thread at a time. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "core/clock.h"
#include "core/errors.h"
#include "runtime/pystack.h"
#include "sample/census.h"
#include "sample/gilwords.h"
#include "sink/dump_out.h"
#include "stack/merge.h"
#include "stack/native.h"

static const char usage[] =
	"Usage: gilsnoop dump -p PID[,PID...] [--native | --no-native] [--json]\n"
	"\n"
	"Show what every thread of Python process PID is doing now, one block\n"
	"per thread: the GIL holder first, then the threads waiting for the\n"
	"GIL, then the rest.  Each block gives the thread id, its Python\n"
	"thread name and kernel name, its GIL role, its /proc state, the\n"
	"system call it is blocked in (with the file of its descriptor) and\n"
	"the kernel function it sleeps in, and for a holder that is off CPU\n"
	"how long it has been off CPU; then its Python stack, innermost frame\n"
	"first, as \"function (file:line)\".  A header gives the Python\n"
	"version, the GIL holder, the switch count and the number of waiters.\n"
	"It works on a process in which every thread is stuck.\n"
	"\n"
	"Python stacks are read from memory: nothing is stopped for them.\n"
	"Native stacks are taken by stopping one thread at a time with\n"
	"ptrace (PTRACE_SEIZE and PTRACE_INTERRUPT) just long enough to copy\n"
	"its registers and the used part of its stack (tens of microseconds),\n"
	"then detaching; unwinding and naming happen after it runs again.  A\n"
	"thread that is already stopped or traced is not touched; one that\n"
	"does not stop within 50 ms (uninterruptible sleep; 1 s for any other\n"
	"thread, which stops as soon as it gets a CPU) is left running.\n"
	"By default the GIL holder's native stack is taken when it is off CPU\n"
	"or has held the GIL for more than 100 ms (dump watches the GIL for\n"
	"up to 100 ms to tell); the Python frames are shown inside it at each\n"
	"eval-loop frame, and take_gil / PyEval_RestoreThread frames are\n"
	"marked \"<- GIL\".\n"
	"\n"
	"Roles:\n"
	"  holding          holds the GIL and is on a CPU\n"
	"  holding-offcpu   holds the GIL but sleeps, is in D state or preempted\n"
	"  waiting          blocked on the GIL (futex on its cond or mutex)\n"
	"  handoff          the old holder waiting for a waiter to take the GIL\n"
	"  running          on a CPU without the GIL (C code that released it)\n"
	"  idle             blocked elsewhere (sleep, I/O, other locks)\n"
	"  unknown          its state could not be read (it exited meanwhile)\n"
	"Threads with no Python thread state are marked native.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID[,PID...]\n"
	"                   process(es) to dump, one after the other (text\n"
	"                   blocks apart by a blank line; --json: one object\n"
	"                   per line); one that cannot be is reported and the\n"
	"                   others still are, the first failure is the exit status\n"
	"      --native     take every thread's native stack\n"
	"      --no-native  take none: nothing is stopped, ptrace is not used\n"
	"      --json       print one JSON object (docs/dump-format.md)\n"
	"  -v, --verbose    explain each step\n"
	"  -h, --help       show this help\n";

/* Python frames shown per thread; a deeper stack says the outermost are
 * missing (and is not interleaved: its entry frames are not all there). */
#define DUMP_PY_FRAMES 256
#define MAX_ANCHORS 256

/* The default native stack goes to a holder that kept the GIL this long. */
#define LONG_HOLD_NS (100u * 1000 * 1000)
#define WATCH_STEP_NS (2u * 1000 * 1000)

/* Did the on-CPU holder keep the GIL for 100 ms from the census on?
 * The GIL words read every 2 ms must all show it locked by the same
 * thread state with no switch: one that let go in between would almost
 * surely be seen unlocked or replaced once.  1 yes, 0 no. */
static int watch_hold(const struct gs_target *t, const struct gs_census *c)
{
	struct gs_gil_reader g;
	uint64_t end = c->gil_read_ns + LONG_HOLD_NS;
	if (gs_gil_reader_init(&g, &t->gil))
		return 0;
	for (;;) {
		struct gs_gil_words w;
		int sane;
		uint64_t interval, now = gs_now_ns();
		if (gs_gil_read(&g, &t->mem, &w, &interval, &sane) || !sane)
			return 0;
		if (w.locked != 1 || w.last_holder != c->w.last_holder ||
		    w.switch_number != c->w.switch_number)
			return 0;
		if (now >= end)
			return 1;
		uint64_t left = end - now;
		if (left > WATCH_STEP_NS)
			left = WATCH_STEP_NS;
		nanosleep(&(struct timespec){ 0, (long)left }, NULL);
	}
}

static int rank(const struct gs_census *c, const struct gs_census_thread *r)
{
	if (r->tid == c->holder_tid)
		return 0;
	if (r->role == GS_ROLE_WAITING)
		return 1;
	if (r->role == GS_ROLE_HANDOFF)
		return 2;
	return 3;
}

/* Holder, waiters, hand-off, the rest; /proc order within each. */
static int order(struct gs_dump *d)
{
	const struct gs_census *c = d->c;
	d->v = calloc(c->n ? c->n : 1, sizeof *d->v);
	if (!d->v)
		return gs_fail(GS_EFAIL, "out of memory");
	for (int k = 0; k <= 3; k++)
		for (size_t i = 0; i < c->n; i++)
			if (rank(c, &c->v[i]) == k) {
				struct gs_dump_thread *dt = &d->v[d->n++];
				dt->c = &c->v[i];
				dt->offcpu_ns = -1;
			}
	for (size_t i = 0; i < c->n; i++)
		d->waiters += c->v[i].role == GS_ROLE_WAITING;
	return 0;
}

static int wants_native(const struct gs_dump *d, const struct gs_dump_thread *dt)
{
	if (d->native_mode < 0)
		return 0;
	if (d->native_mode > 0)
		return 1;
	if (dt->c->tid != d->c->holder_tid)
		return 0;
	return dt->c->role == GS_ROLE_HELD_OFFCPU ||
	       (dt->c->role == GS_ROLE_HELD && d->long_hold == 1);
}

/* What is read of a thread's Python side while it is stopped for its
 * native stack, so that the two match. */
struct pyside {
	const struct gs_target *t;
	struct gs_pystack_reader *reader;
	uint64_t tstate;
	struct gs_pystack st;
	int read;                  /* gs_pystack_read succeeded */
	uint64_t anchor[MAX_ANCHORS];
	size_t nanchors;
	int anchors_ok;
};

static int read_small(const struct gs_mem *m, uint64_t addr, int64_t size, uint64_t *out)
{
	unsigned char b[8] = { 0 };
	if (size <= 0 || size > 8 || gs_mem_read(m, addr, b, (size_t)size) != 0)
		return -1;
	*out = 0;
	for (int64_t i = 0; i < size; i++)
		*out |= (uint64_t)b[i] << (8 * i);
	return 0;
}

/* Where each eval loop keeps its entry frame: the frame the outermost
 * Python frame of the loop links back to, owned by the C stack (a
 * build whose layout names the owners that are not Python frames). */
static void read_anchors(struct pyside *p)
{
	const struct gs_layout *L = &p->t->layout;
	p->nanchors = 0;
	p->anchors_ok = 0;
	if (L->iframe_previous.off == GS_NOFF || L->iframe_owner.off == GS_NOFF ||
	    L->owner_first_c == GS_NOFF)
		return;
	for (size_t k = 0; k < p->st.n; k++) {
		uint64_t prev, owner;
		if (!(p->st.frames[k].flags & GS_PYFRAME_ENTRY))
			continue;
		if (p->nanchors == MAX_ANCHORS ||
		    read_small(&p->t->mem, p->st.frames[k].frame + (uint64_t)L->iframe_previous.off,
			       L->iframe_previous.size, &prev) != 0 || !prev ||
		    read_small(&p->t->mem, prev + (uint64_t)L->iframe_owner.off,
			       L->iframe_owner.size, &owner) != 0 ||
		    owner < (uint64_t)L->owner_first_c)
			return;
		p->anchor[p->nanchors++] = prev;
	}
	p->anchors_ok = p->nanchors > 0;
}

static void in_window(void *arg)
{
	struct pyside *p = arg;
	p->st.n = 0;
	p->st.flags = 0;
	p->read = gs_pystack_read(p->reader, p->tstate, &p->st) == 0;
	if (p->read)
		read_anchors(p);
}

/* A thread's Python stack read while it runs. */
static int read_python(struct gs_dump *d, struct pyside *p, struct gs_dump_thread *dt)
{
	if (!dt->c->py || !p->reader)
		return 0;
	p->tstate = dt->c->py->tstate;
	p->st.n = 0;
	p->st.flags = 0;
	if (gs_pystack_read(p->reader, p->tstate, &p->st) != 0) {
		/* The thread state went away with its thread. */
		dt->py.have = 1;
		dt->py.flags = GS_PYSTACK_PARTIAL;
		return 0;
	}
	(void)d;
	return gs_census_stack_copy(&p->st, &dt->py) ? gs_fail(GS_EFAIL, "out of memory") : 0;
}

static void plan_merge(struct gs_dump_thread *dt, const struct pyside *p,
		       uint64_t stack_end)
{
	size_t nn = dt->nnf ? dt->nnf : 1, np = dt->py.n ? dt->py.n : 1;
	unsigned char *ev = calloc(nn, 1), *en = calloc(np, 1), *inl = calloc(nn, 1);
	uint64_t *sp = calloc(nn, sizeof *sp);
	dt->mfirst = calloc(nn, sizeof *dt->mfirst);
	dt->mcount = calloc(nn, sizeof *dt->mcount);
	if (ev && en && inl && sp && dt->mfirst && dt->mcount) {
		for (size_t i = 0; i < dt->nnf; i++) {
			sp[i] = dt->nf[i].sp;
			inl[i] = !!(dt->nf[i].flags & GS_NFRAME_INLINED);
		}
		/* Where the loops keep their entry frames on the C stack says
		 * which frames are eval loops even without symbols; names
		 * are the fallback. */
		if (p && p->anchors_ok && stack_end &&
		    gs_merge_eval_by_anchor(sp, inl, dt->nnf, stack_end, p->anchor,
					    p->nanchors, ev)) {
			dt->eval_by_stack = 1;
			for (size_t i = 0; i < dt->nnf; i++)
				dt->nf[i].flags = (dt->nf[i].flags & ~GS_NFRAME_EVAL) |
					(ev[i] ? GS_NFRAME_EVAL : 0);
		}
		for (size_t i = 0; i < dt->nnf; i++)
			ev[i] = !!(dt->nf[i].flags & GS_NFRAME_EVAL);
		for (size_t j = 0; j < dt->py.n; j++)
			en[j] = (unsigned char)dt->py.v[j].entry;
		gs_merge_plan(ev, dt->nnf, en, dt->py.n, dt->mfirst, dt->mcount,
			      &dt->merge);
	}
	free(ev);
	free(en);
	free(inl);
	free(sp);
}

static int take_native(struct gs_dump *d, struct gs_native *nat, struct pyside *p,
		       struct gs_dump_thread *dt)
{
	struct gs_nstack s;
	struct gs_native_opts o = { 0 };

	dt->native_tried = 1;
	p->read = 0;
	p->anchors_ok = 0;
	if (dt->c->py && p->reader) {
		p->tstate = dt->c->py->tstate;
		o.in_window = in_window;
		o.arg = p;
		/* Once before the stop: its code objects are then cached, and
		 * the read inside the stop is a few reads of frames only. */
		p->st.n = 0;
		(void)gs_pystack_read(p->reader, p->tstate, &p->st);
	}
	if (gs_native_stack(nat, dt->c->tid, &o, &s) != 0) {
		snprintf(dt->native_why, sizeof dt->native_why, "%s", s.why);
		return read_python(d, p, dt);
	}
	if (o.in_window && !p->read) {
		dt->py.have = 1;
		dt->py.flags = GS_PYSTACK_PARTIAL;
	} else if (o.in_window && gs_census_stack_copy(&p->st, &dt->py)) {
		return gs_fail(GS_EFAIL, "out of memory");
	}
	dt->nf = malloc((s.n ? s.n : 1) * sizeof *dt->nf);
	if (!dt->nf)
		return gs_fail(GS_EFAIL, "out of memory");
	memcpy(dt->nf, s.frames, s.n * sizeof *dt->nf);
	dt->nnf = s.n;
	dt->nflags = s.flags;
	dt->held_ns = s.held_ns;
	dt->wait_ns = s.wait_ns;
	dt->stop = s.stop;
	snprintf(dt->native_why, sizeof dt->native_why, "%s", s.why);
	dt->native_ok = 1;
	plan_merge(dt, o.in_window ? p : NULL, s.stack_end);
	return 0;
}

/* Stacks, holder first: native ones (with the Python stack read in the
 * same stop) where wanted, Python ones from memory for the rest. */
static int take_stacks(struct gs_dump *d, struct gs_native **natp)
{
	struct pyside p = { .t = d->t };
	int any = 0, rc = 0;

	for (size_t i = 0; i < d->n; i++)
		any |= wants_native(d, &d->v[i]);
	p.st.frames = calloc(DUMP_PY_FRAMES, sizeof *p.st.frames);
	p.st.cap = DUMP_PY_FRAMES;
	if (!p.st.frames)
		return gs_fail(GS_EFAIL, "out of memory");
	if (gs_pystack_open(d->t, &p.reader) != 0) {
		snprintf(d->py_error, sizeof d->py_error, "%s", gs_last_error());
		gs_clear_error();
		p.reader = NULL;
	}
	if (any && gs_native_open(d->t->pid, d->t->root, natp) != 0) {
		snprintf(d->native_error, sizeof d->native_error, "%s", gs_last_error());
		gs_clear_error();
		any = 0;
	}
	for (size_t i = 0; !rc && i < d->n; i++) {
		struct gs_dump_thread *dt = &d->v[i];
		if (any && wants_native(d, dt))
			rc = take_native(d, *natp, &p, dt);
		else
			rc = read_python(d, &p, dt);
	}
	gs_pystack_close(p.reader);
	free(p.st.frames);
	return rc;
}

static void free_dump(struct gs_dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct gs_dump_thread *dt = &d->v[i];
		gs_census_stack_free(&dt->py);
		free(dt->nf);
		free(dt->mfirst);
		free(dt->mcount);
	}
	free(d->v);
}

static void print_text(void *d)
{
	gs_dump_print_text(stdout, d);
}

static void print_json(void *d)
{
	gs_dump_print_json(stdout, d);
}

struct dump_opts {
	int json, native, no_native;
};

static int dump_one(pid_t pid, void *arg)
{
	const struct dump_opts *o = arg;
	int json = o->json, native = o->native, no_native = o->no_native;
	struct gs_target *t = calloc(1, sizeof *t);
	struct gs_census *cen = calloc(1, sizeof *cen);
	struct gs_dump d = { 0 };
	struct gs_native *nat = NULL;
	int rc;
	if (!t || !cen) {
		free(t);
		free(cen);
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	}
	d.t = t;
	d.c = cen;
	d.long_hold = -1;
	d.native_mode = native ? 1 : no_native ? -1 : 0;
	rc = gs_target_attach(t, pid);
	if (!rc)
		rc = gs_census_take(t, cen);
	if (!rc)
		gs_census_names(t, cen);
	if (!rc)
		rc = order(&d);
	if (!rc && d.n && d.v[0].c->tid == cen->holder_tid) {
		struct gs_dump_thread *h = &d.v[0];
		if (h->c->role == GS_ROLE_HELD_OFFCPU)
			h->offcpu_ns = gs_census_offcpu_ns(t, cen, h->c);
		else if (h->c->role == GS_ROLE_HELD && d.native_mode == 0)
			d.long_hold = watch_hold(t, cen);
	}
	if (!rc)
		rc = take_stacks(&d, &nat);
	if (!rc)
		rc = gs_print_whole(json ? print_json : print_text, &d);
	if (rc)
		gs_report_error();
	/* After the output: strings of the native frames live in it. */
	gs_native_close(nat);
	free_dump(&d);
	gs_target_detach(t);
	gs_census_free(cen);
	free(cen);
	free(t);
	return rc;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "native", no_argument, NULL, 'n' },
		{ "no-native", no_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	pid_t *pids = NULL;
	size_t npids = 0;
	int json = 0, native = 0, no_native = 0, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (gs_parse_pids(optarg, &pids, &npids))
				return free(pids), gs_report_error();
			break;
		case 'n': native = 1; break;
		case 'N': no_native = 1; break;
		case 'j': json = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return GS_OK;
		default:
			gs_usage_fail("dump", "unknown or incomplete option '%s'",
				      argv[optind - 1]);
			free(pids);
			return gs_report_error();
		}
	}
	if (optind < argc)
		gs_usage_fail("dump", "unexpected argument '%s'", argv[optind]);
	else if (native && no_native)
		gs_usage_fail("dump", "--native and --no-native exclude each other");
	else if (!npids)
		gs_usage_fail("dump", "no process given: use -p PID");
	if (gs_last_code())
		return free(pids), gs_report_error();

	struct dump_opts dopt = { json, native, no_native };
	return gs_each_pid(pids, npids, json, dump_one, &dopt);
}

const struct gs_command gs_cmd_dump = {
	.name = "dump",
	.summary = "show every thread's GIL role, Python and native stacks once",
	.usage = usage,
	.run = run,
};
