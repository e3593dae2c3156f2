/* gilsnoop info: locate the runtime and show one classified sample. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample/classify.h"
#include "cmd/commands.h"
#include "core/errors.h"
#include "core/json.h"
#include "runtime/target.h"
#include "proc/taskstat.h"
#include "runtime/threads.h"
#include "runtime/pynames.h"
#include "runtime/pystack.h"
#include "sample/gilwords.h"

static const char usage[] =
	"Usage: gilsnoop info -p PID [--stacks] [--json] [-v]\n"
	"\n"
	"Locate the CPython runtime in process PID and show what was found:\n"
	"the Python version and build, the object that holds the runtime and\n"
	"its load address, where the field offsets came from, the _PyRuntime\n"
	"and GIL addresses, the switch interval, the current GIL holder, and\n"
	"every thread with its GIL role now.  The process is never stopped.\n"
	"\n"
	"Each thread is named by its kernel name (comm); a Python thread whose\n"
	"threading.Thread.name differs from it shows that name too, as\n"
	"\"comm (name)\".  With --stacks, each Python thread's stack follows,\n"
	"innermost frame first, as \"function (file:line)\", at most 64 frames;\n"
	"it is read from memory while the thread runs, so a stack that changed\n"
	"under the reader is marked \"[changing]\" and one cut short by a frame\n"
	"that could not be read \"[partial]\".\n"
	"\n"
	"Roles:\n"
	"  holding          holds the GIL and is on a CPU\n"
	"  holding-offcpu   holds the GIL but sleeps, is in D state or preempted\n"
	"  waiting          blocked on the GIL (futex on its cond or mutex)\n"
	"  handoff          the old holder waiting for a waiter to take the GIL\n"
	"  running          on a CPU without the GIL (C code that released it)\n"
	"  idle             blocked elsewhere (sleep, I/O, other locks)\n"
	"  unknown          the sample was torn or unreadable\n"
	"Threads with no Python thread state are marked native.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID    process to inspect\n"
	"      --stacks     also show each Python thread's Python stack\n"
	"      --json       print one JSON object instead of text\n"
	"  -v, --verbose    explain each step, including layout fallbacks\n"
	"  -h, --help       show this help\n"
	"\n"
	"Exit status: 0 when the runtime was found and shown; 1 runtime failure\n"
	"(out of memory, the GIL could not be read, the output could not be\n"
	"written); 2 bad command line; 3 no such\n"
	"process, or it exited meanwhile; 4 permission denied reading it (run as\n"
	"root or with CAP_SYS_PTRACE); 5 not a Python process, or its runtime\n"
	"is not initialised yet; 6 Python version or build not supported.\n"
	"See gilsnoop(1).\n";

#define INFO_STACK_FRAMES 64

/* One frame of a row's stack, copied: the reader's strings last only
 * until its next read. */
struct row_frame {
	char *function, *file;
	int line, first_line, entry;
	uint64_t code;
};

struct row {
	pid_t tid;
	char name[64];
	char pyname[GS_PYNAME_MAX];  /* "" when none */
	int have_stack;
	struct row_frame *frames;
	size_t nframes;
	unsigned stack_flags;
	const struct gs_pythread *py;
	struct gs_taskstat prev, now;
	int have;
	enum gs_role role;
	char syscall[64];
	char path[256];
	char wchan[64];
};

struct info {
	struct gs_target t;
	struct gs_snapshot snap;
	struct gs_gil_words w;
	uint64_t interval;
	struct row *rows;
	size_t nrows;
	pid_t holder_tid;
	int stopped;        /* the main thread is stopped (SIGSTOP, a tracer) */
	int stacks;         /* --stacks */
	char stacks_error[256]; /* why stacks could not be read at all */
};

static void describe_syscall(pid_t pid, struct row *r)
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

/* The sampler's reader, so that info and the sampler read the same
 * words the same way. */
static int read_gil_words(const struct gs_target *t, struct gs_gil_words *w,
			  uint64_t *interval)
{
	struct gs_gil_reader g;
	gs_gil_reader_init(&g, &t->gil);
	*interval = 0;
	return gs_gil_read(&g, &t->mem, w, interval, NULL);
}

static int sample(struct info *in)
{
	pid_t *tids = NULL;
	ssize_t n = gs_task_list(&gs_procfs_live, in->t.pid, &tids);
	if (n <= 0)
		return gs_fail(GS_ENOPROC, "process %d exited", (int)in->t.pid);
	in->rows = calloc((size_t)n, sizeof *in->rows);
	struct gs_task *tasks = calloc((size_t)n, sizeof *tasks);
	if (!in->rows || !tasks) {
		free(tids);
		free(tasks);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	in->nrows = (size_t)n;
	for (size_t i = 0; i < in->nrows; i++) {
		struct row *r = &in->rows[i];
		r->tid = tids[i];
		gs_task_comm(&gs_procfs_live, in->t.pid, r->tid, r->name, sizeof r->name);
		if (gs_task_open(&gs_procfs_live, &tasks[i], in->t.pid, r->tid) == 0)
			r->have = gs_task_read(&tasks[i], GS_TS_ALL, &r->prev) == 0;
		else
			tasks[i].fd_stat = tasks[i].fd_syscall = tasks[i].fd_schedstat = -1;
	}
	/* Two kernel reads a few milliseconds apart tell a running holder
	 * from one that is runnable but preempted. */
	nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);

	int rc = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		if (gs_snapshot_read(&in->t, &in->snap) == 0)
			break;
		if (attempt == 4 && !(rc = gs_target_check(&in->t, NULL)))
			rc = gs_fail(GS_ENOPROC, "could not read the thread list of "
				     "process %d (it kept changing)", (int)in->t.pid);
	}
	if (!rc && read_gil_words(&in->t, &in->w, &in->interval)) {
		int e = errno;
		if (!(rc = gs_target_check(&in->t, NULL)))
			rc = gs_fail(GS_EFAIL, "could not read the GIL of process "
				     "%d: %s", (int)in->t.pid, strerror(e));
	}
	for (size_t i = 0; !rc && i < in->nrows; i++) {
		struct row *r = &in->rows[i];
		r->py = gs_snapshot_by_tid(&in->snap, r->tid);
		if (!r->have || gs_task_read(&tasks[i], GS_TS_ALL, &r->now)) {
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
		if (r->tid == in->t.pid)
			in->stopped = r->now.state == 'T' || r->now.state == 't';
		r->role = gs_classify(&in->t.gil, &in->w, &ci);
		if (r->role == GS_ROLE_HELD || r->role == GS_ROLE_HELD_OFFCPU)
			in->holder_tid = r->tid;
		describe_syscall(in->t.pid, r);
	}
	for (size_t i = 0; i < in->nrows; i++)
		gs_task_close(&tasks[i]);
	free(tasks);
	free(tids);
	return rc;
}

/* Thread names are a courtesy: a build whose layout cannot give them,
 * or a target that has not imported threading, still gets its table. */
static void read_names(struct info *in)
{
	struct gs_pynames_reader *nr;
	struct gs_pynames names = { 0 };

	if (gs_pynames_open(&in->t, &nr) != 0) {
		gs_debug("no Python thread names: %s", gs_last_error());
		gs_clear_error();
		return;
	}
	if (gs_pynames_read(nr, &in->snap, &names) != 0)
		gs_debug("could not read Python thread names: %s", strerror(errno));
	for (size_t i = 0; i < in->nrows; i++) {
		struct row *r = &in->rows[i];
		const char *n = r->py ? gs_pynames_find(&names, r->py->interp,
							  r->py->thread_id) : NULL;
		if (n)
			snprintf(r->pyname, sizeof r->pyname, "%s", n);
	}
	gs_pynames_free(&names);
	gs_pynames_close(nr);
}

static char *dup_or_empty(const char *s)
{
	char *d = strdup(s ? s : "");
	return d ? d : NULL;
}

static int read_stacks(struct info *in)
{
	struct gs_pystack_reader *sr;
	struct gs_pyframe frames[INFO_STACK_FRAMES];

	if (gs_pystack_open(&in->t, &sr) != 0) {
		snprintf(in->stacks_error, sizeof in->stacks_error, "%s",
			 gs_last_error());
		gs_clear_error();
		return 0;
	}
	for (size_t i = 0; i < in->nrows; i++) {
		struct row *r = &in->rows[i];
		struct gs_pystack st = { frames, INFO_STACK_FRAMES, 0, 0, 0, 0 };

		if (!r->py)
			continue;
		if (gs_pystack_read(sr, r->py->tstate, &st) != 0) {
			/* The thread state went away with its thread. */
			r->stack_flags = GS_PYSTACK_PARTIAL;
			r->have_stack = 1;
			continue;
		}
		r->frames = calloc(st.n ? st.n : 1, sizeof *r->frames);
		if (!r->frames) {
			gs_pystack_close(sr);
			return gs_fail(GS_EFAIL, "out of memory");
		}
		for (size_t k = 0; k < st.n; k++) {
			struct row_frame *f = &r->frames[k];
			f->function = dup_or_empty(frames[k].function);
			f->file = dup_or_empty(frames[k].file);
			if (!f->function || !f->file) {
				gs_pystack_close(sr);
				return gs_fail(GS_EFAIL, "out of memory");
			}
			f->line = frames[k].line;
			f->first_line = frames[k].first_line;
			f->entry = !!(frames[k].flags & GS_PYFRAME_ENTRY);
			f->code = frames[k].code;
			r->nframes++;
		}
		r->stack_flags = st.flags;
		r->have_stack = 1;
	}
	gs_pystack_close(sr);
	return 0;
}

static void free_rows(struct info *in)
{
	for (size_t i = 0; in->rows && i < in->nrows; i++) {
		struct row *r = &in->rows[i];
		for (size_t k = 0; k < r->nframes; k++) {
			free(r->frames[k].function);
			free(r->frames[k].file);
		}
		free(r->frames);
	}
	free(in->rows);
}

static const struct row *holder_row(const struct info *in)
{
	for (size_t i = 0; i < in->nrows; i++)
		if (in->rows[i].tid == in->holder_tid)
			return &in->rows[i];
	return NULL;
}

static void role_detail(const struct row *r, char *buf, size_t n)
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

static const char *object_kind(const struct gs_object *o)
{
	if (!o->is_shared)
		return "executable, not PIE";
	if (o->is_exe)
		return "PIE executable";
	const char *base = strrchr(o->path, '/');
	/* Run through the loader, /proc/PID/exe names ld.so, not python. */
	return strstr(base ? base : o->path, ".so") ? "shared library" : "PIE executable";
}

/* comm, and the Python name next to it when they differ; both are the
 * target's text, cleaned to keep the table on one line. */
static const char *display_name(const struct row *r, char *buf, size_t n)
{
	char comm[64], py[GS_PYNAME_MAX];
	gs_text_clean(comm, sizeof comm, r->name);
	if (!r->pyname[0] || strcmp(r->pyname, r->name) == 0) {
		snprintf(buf, n, "%s", comm);
		return buf;
	}
	gs_text_clean(py, sizeof py, r->pyname);
	snprintf(buf, n, "%s (%s)", comm, py);
	return buf;
}

static const char *stack_marks(unsigned flags)
{
	if (flags & GS_PYSTACK_TORN)
		return " [changing]";
	if (flags & GS_PYSTACK_PARTIAL)
		return " [partial]";
	return "";
}

static void print_stacks_text(const struct info *in)
{
	printf("\nPython stacks (innermost frame first):\n");
	if (in->stacks_error[0]) {
		char clean[300];
		printf("  unavailable: %s\n",
		       gs_text_clean(clean, sizeof clean, in->stacks_error));
		return;
	}
	for (size_t i = 0; i < in->nrows; i++) {
		const struct row *r = &in->rows[i];
		char name[160];
		if (!r->py)
			continue;
		printf("\n  %d %s (%s)%s:\n", (int)r->tid,
		       display_name(r, name, sizeof name), gs_role_name(r->role),
		       stack_marks(r->stack_flags));
		if (!r->nframes)
			printf("    (no Python frames)\n");
		for (size_t k = 0; k < r->nframes; k++) {
			const struct row_frame *f = &r->frames[k];
			char fn[GS_PYFRAME_FUNC_MAX], file[GS_PYFRAME_FILE_MAX];
			gs_text_clean(fn, sizeof fn, f->function);
			gs_text_clean(file, sizeof file, f->file);
			if (f->line > 0)
				printf("    %s (%s:%d)\n", fn, file, f->line);
			else
				printf("    %s (%s)\n", fn, file);
		}
		if (r->stack_flags & GS_PYSTACK_TRUNCATED)
			printf("    ... (more than %d frames; the outermost are not shown)\n",
			       INFO_STACK_FRAMES);
	}
}

static void print_text(const struct info *in)
{
	const struct gs_target *t = &in->t;
	/* Paths come from the target's maps and filesystem. */
	char clean[PATH_MAX + 64];
	printf("Python:        %s (%s build; version from %s)\n", t->ver.str,
	       gs_build_name(t->build), t->ver.how ? t->ver.how : "?");
	printf("Process:       %d%s\n", (int)t->pid,
	       in->stopped ? " (stopped by a signal: threads show as they were)" : "");
	printf("Object:        %s (%s)\n", gs_text_clean(clean, sizeof clean, t->obj.path),
	       object_kind(&t->obj));
	printf("Load address:  %#" PRIx64 " (bias %#" PRIx64 ")\n", t->obj.base,
	       t->obj.load_bias);
	printf("Build-id:      %s\n", t->obj.build_id[0] ? t->obj.build_id : "none");
	printf("Layout from:   %s (%s)\n", gs_layout_source_name(t->source),
	       gs_text_clean(clean, sizeof clean, t->source_detail));
	if (t->runtime_addr)
		printf("_PyRuntime:    %#" PRIx64 "\n", t->runtime_addr);
	if (t->gil.base)
		printf("GIL:           %#" PRIx64 "\n", t->gil.base);
	else
		printf("GIL:           static variables (gil_locked at %#" PRIx64 ")\n",
		       t->gil.locked);
	printf("Interval:      %" PRIu64 " us\n", in->interval);
	printf("Switches:      %" PRIu64 "\n", in->w.switch_number);
	const struct row *h = holder_row(in);
	if (h)
		printf("Holder:        %d %s (%s)\n", (int)h->tid,
		       gs_text_clean(clean, sizeof clean, h->name),
		       h->role == GS_ROLE_HELD ? "on CPU" : "off CPU");
	else
		printf("Holder:        none (GIL %s)\n", in->w.locked == 1 ?
		       "locked by a thread not in the list" : "free");
	printf("Interpreters:  %zu\n", in->snap.ninterps);
	for (size_t i = 0; i < in->snap.ninterps; i++) {
		const struct gs_interp *ip = &in->snap.interps[i];
		printf("  id %-4" PRId64 " at %#" PRIx64 ": %zu threads, GIL %#" PRIx64 "%s\n",
		       ip->id, ip->addr, ip->nthreads, ip->gil,
		       ip->gil && ip->gil != t->gil.base ? " (own GIL)" : "");
	}
	int width = 16;
	for (size_t i = 0; i < in->nrows; i++) {
		char name[160];
		int w = (int)strlen(display_name(&in->rows[i], name, sizeof name));
		if (w > width)
			width = w < 48 ? w : 48;
	}
	printf("\n%7s  %-*s  %-18s  %-15s  %s\n", "TID", width, "NAME", "TSTATE",
	       "ROLE", "DETAIL");
	for (size_t i = 0; i < in->nrows; i++) {
		const struct row *r = &in->rows[i];
		char ts[24], detail[400], name[160];
		if (r->py)
			snprintf(ts, sizeof ts, "%#" PRIx64, r->py->tstate);
		else
			snprintf(ts, sizeof ts, "native");
		role_detail(r, detail, sizeof detail);
		printf("%7d  %-*s  %-18s  %-15s  %s\n", (int)r->tid, width,
		       display_name(r, name, sizeof name), ts,
		       gs_role_name(r->role), detail);
	}
	if (in->stacks)
		print_stacks_text(in);
}

static void print_hex(const char *key, uint64_t v, int comma)
{
	printf("\"%s\":\"%#" PRIx64 "\"%s", key, v, comma ? "," : "");
}

static void print_stack_json(const struct row *r)
{
	printf(",\"stack\":");
	if (!r->have_stack) {
		printf("null");
		return;
	}
	printf("{\"frames\":[");
	for (size_t k = 0; k < r->nframes; k++) {
		const struct row_frame *f = &r->frames[k];
		printf("%s{\"function\":", k ? "," : "");
		gs_json_str(stdout, f->function);
		printf(",\"file\":");
		gs_json_str(stdout, f->file);
		printf(",\"line\":%d,\"first_line\":%d,\"code\":\"%#" PRIx64
		       "\",\"entry\":%s}", f->line, f->first_line, f->code,
		       f->entry ? "true" : "false");
	}
	printf("],\"truncated\":%s,\"partial\":%s,\"changing\":%s}",
	       r->stack_flags & GS_PYSTACK_TRUNCATED ? "true" : "false",
	       r->stack_flags & GS_PYSTACK_PARTIAL ? "true" : "false",
	       r->stack_flags & GS_PYSTACK_TORN ? "true" : "false");
}

static void print_json(const struct info *in)
{
	const struct gs_target *t = &in->t;
	printf("{\"pid\":%d,\"stopped\":%s,\"python_version\":", (int)t->pid,
	       in->stopped ? "true" : "false");
	gs_json_str(stdout, t->ver.str);
	printf(",\"build\":\"%s\",\"version_source\":", gs_build_name(t->build));
	gs_json_str(stdout, t->ver.how);
	printf(",\"layout_source\":\"%s\",\"layout_detail\":",
	       gs_layout_source_name(t->source));
	gs_json_str(stdout, t->source_detail);
	printf(",\"object\":");
	gs_json_str(stdout, t->obj.path);
	printf(",\"object_kind\":\"%s\"", object_kind(&t->obj));
	printf(",\"build_id\":");
	gs_json_str(stdout, t->obj.build_id);
	printf(",");
	print_hex("load_address", t->obj.base, 1);
	print_hex("load_bias", t->obj.load_bias, 1);
	print_hex("runtime_address", t->runtime_addr, 1);
	print_hex("gil_address", t->gil.base ? t->gil.base : t->gil.locked, 1);
	printf("\"interval_us\":%" PRIu64 ",\"switch_number\":%" PRIu64
	       ",\"locked\":%d,", in->interval, in->w.switch_number, (int)in->w.locked);
	if (in->holder_tid)
		printf("\"holder_tid\":%d,", (int)in->holder_tid);
	else
		printf("\"holder_tid\":null,");
	printf("\"interpreters\":[");
	for (size_t i = 0; i < in->snap.ninterps; i++) {
		const struct gs_interp *ip = &in->snap.interps[i];
		printf("%s{\"id\":%" PRId64 ",", i ? "," : "", ip->id);
		print_hex("address", ip->addr, 1);
		print_hex("gil_address", ip->gil, 1);
		printf("\"threads\":%zu}", ip->nthreads);
	}
	printf("]");
	if (in->stacks) {
		printf(",\"stacks_error\":");
		if (in->stacks_error[0])
			gs_json_str(stdout, in->stacks_error);
		else
			printf("null");
	}
	printf(",\"threads\":[");
	for (size_t i = 0; i < in->nrows; i++) {
		const struct row *r = &in->rows[i];
		printf("%s{\"tid\":%d,\"name\":", i ? "," : "", (int)r->tid);
		gs_json_str(stdout, r->name);
		printf(",\"python_name\":");
		if (r->pyname[0])
			gs_json_str(stdout, r->pyname);
		else
			printf("null");
		printf(",\"role\":\"%s\",\"native\":%s,", gs_role_name(r->role),
		       r->py ? "false" : "true");
		if (r->py)
			print_hex("tstate", r->py->tstate, 1);
		printf("\"state\":\"%c\",\"syscall\":", r->now.state ? r->now.state : '?');
		gs_json_str(stdout, r->syscall);
		printf(",\"path\":");
		gs_json_str(stdout, r->path);
		printf(",\"wchan\":");
		gs_json_str(stdout, r->wchan);
		if (in->stacks)
			print_stack_json(r);
		printf("}");
	}
	printf("]}\n");
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "stacks", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	pid_t pid = 0;
	int json = 0, stacks = 0, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!(pid = gs_parse_pid(optarg)))
				return gs_report_error();
			break;
		case 'j': json = 1; break;
		case 's': stacks = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return GS_OK;
		default:
			return gs_usage_fail("info", "unknown or incomplete option '%s'",
					     argv[optind - 1]), gs_report_error();
		}
	}
	if (optind < argc)
		return gs_usage_fail("info", "unexpected argument '%s'", argv[optind]),
		       gs_report_error();
	if (!pid)
		return gs_fail(GS_EUSAGE, "no process given: use -p PID"),
		       gs_report_error();

	struct info *in = calloc(1, sizeof *in);
	if (!in)
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	in->stacks = stacks;
	int rc = gs_target_attach(&in->t, pid);
	if (!rc)
		rc = sample(in);
	if (!rc)
		read_names(in);
	if (!rc && stacks)
		rc = read_stacks(in);
	if (!rc) {
		/* All of the output or none: a SIGINT, SIGTERM or SIGHUP
		 * that arrives while it is written takes effect after it.  A
		 * reader that went away (EPIPE) is not an error to report. */
		sigset_t term, old;
		sigemptyset(&term);
		sigaddset(&term, SIGINT);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGHUP);
		signal(SIGPIPE, SIG_IGN);
		sigprocmask(SIG_BLOCK, &term, &old);
		errno = 0;
		if (json)
			print_json(in);
		else
			print_text(in);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			if (errno != EPIPE)
				rc = gs_fail(GS_EFAIL, "could not write the output: %s",
					     strerror(errno ? errno : EIO));
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (rc)
		gs_report_error();
	gs_target_detach(&in->t);
	gs_snapshot_free(&in->snap);
	free_rows(in);
	free(in);
	return rc;
}

const struct gs_command gs_cmd_info = {
	.name = "info",
	.summary = "locate the runtime in a process and show its threads' GIL roles",
	.usage = usage,
	.run = run,
};
