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

#include "sample/census.h"
#include "cmd/commands.h"
#include "core/errors.h"
#include "core/json.h"
#include "runtime/target.h"

static const char usage[] =
	"Usage: gilsnoop info -p PID[,PID...] [--stacks] [--json] [-v]\n"
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
	"  -p, --pid PID[,PID...]\n"
	"                   process(es) to inspect: each is shown in turn (text\n"
	"                   blocks apart by a blank line; --json: one object\n"
	"                   per line); one that cannot be is reported on\n"
	"                   standard error, the first failure is the exit status\n"
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

struct info {
	struct gs_target t;
	struct gs_census c;
	int stacks;             /* --stacks */
	int json;               /* --json */
	char stacks_error[256]; /* why stacks could not be read at all */
};

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
static const char *display_name(const struct gs_census_thread *r, char *buf, size_t n)
{
	char comm[64], py[GS_PYNAME_MAX];
	gs_text_clean(comm, sizeof comm, r->comm);
	if (!r->pyname[0] || strcmp(r->pyname, r->comm) == 0) {
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
	for (size_t i = 0; i < in->c.n; i++) {
		const struct gs_census_thread *r = &in->c.v[i];
		char name[160];
		if (!r->py)
			continue;
		printf("\n  %d %s (%s)%s:\n", (int)r->tid,
		       display_name(r, name, sizeof name), gs_role_name(r->role),
		       stack_marks(r->stack.flags));
		if (!r->stack.n)
			printf("    (no Python frames)\n");
		for (size_t k = 0; k < r->stack.n; k++) {
			const struct gs_census_frame *f = &r->stack.v[k];
			char fn[GS_PYFRAME_FUNC_MAX], file[GS_PYFRAME_FILE_MAX];
			gs_text_clean(fn, sizeof fn, f->function);
			gs_text_clean(file, sizeof file, f->file);
			if (f->line > 0)
				printf("    %s (%s:%d)\n", fn, file, f->line);
			else
				printf("    %s (%s)\n", fn, file);
		}
		if (r->stack.flags & GS_PYSTACK_TRUNCATED)
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
	       in->c.stopped ? " (stopped by a signal: threads show as they were)" : "");
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
	printf("Interval:      %" PRIu64 " us\n", in->c.interval);
	printf("Switches:      %" PRIu64 "\n", in->c.w.switch_number);
	const struct gs_census_thread *h = gs_census_holder(&in->c);
	if (h)
		printf("Holder:        %d %s (%s)\n", (int)h->tid,
		       gs_text_clean(clean, sizeof clean, h->comm),
		       h->role == GS_ROLE_HELD ? "on CPU" : "off CPU");
	else
		printf("Holder:        none (GIL %s)\n", in->c.w.locked == 1 ?
		       "locked by a thread not in the list" : "free");
	printf("Interpreters:  %zu\n", in->c.snap.ninterps);
	for (size_t i = 0; i < in->c.snap.ninterps; i++) {
		const struct gs_interp *ip = &in->c.snap.interps[i];
		printf("  id %-4" PRId64 " at %#" PRIx64 ": %zu threads, GIL %#" PRIx64 "%s\n",
		       ip->id, ip->addr, ip->nthreads, ip->gil,
		       ip->gil && ip->gil != t->gil.base ? " (own GIL)" : "");
	}
	/* Every GIL with its holder and waiters, as top and record count
	 * them: a thread in a subinterpreter with its own GIL holds or
	 * waits for that one, never the main one. */
	for (size_t i = 0; in->c.ngils > 1 && i < in->c.ngils; i++) {
		const struct gs_census_gil *g = &in->c.gils[i];
		char holder[32];
		if (g->holder_tid)
			snprintf(holder, sizeof holder, "held by %d", (int)g->holder_tid);
		else
			snprintf(holder, sizeof holder, "%s", !g->read ? "unreadable" :
				 g->w.locked == 1 ? "locked" : "free");
		printf("  GIL %zu at %#" PRIx64 "%s: %s, %u waiting, %" PRIu64 " switches\n",
		       i, g->a.base, i ? "" : " (main)", holder, g->waiters,
		       g->w.switch_number);
	}
	int width = 16;
	for (size_t i = 0; i < in->c.n; i++) {
		char name[160];
		int w = (int)strlen(display_name(&in->c.v[i], name, sizeof name));
		if (w > width)
			width = w < 48 ? w : 48;
	}
	printf("\n%7s  %-*s  %-18s  %-15s  %s\n", "TID", width, "NAME", "TSTATE",
	       "ROLE", "DETAIL");
	for (size_t i = 0; i < in->c.n; i++) {
		const struct gs_census_thread *r = &in->c.v[i];
		char ts[24], detail[400], name[160];
		if (r->py)
			snprintf(ts, sizeof ts, "%#" PRIx64, r->py->tstate);
		else
			snprintf(ts, sizeof ts, "native");
		gs_census_detail(r, detail, sizeof detail);
		char role[32];
		if (in->c.ngils > 1 && r->py)
			snprintf(role, sizeof role, "%s [GIL %u]", gs_role_name(r->role), r->gil);
		else
			snprintf(role, sizeof role, "%s", gs_role_name(r->role));
		printf("%7d  %-*s  %-18s  %-15s  %s\n", (int)r->tid, width,
		       display_name(r, name, sizeof name), ts, role, detail);
	}
	if (in->stacks)
		print_stacks_text(in);
}

static void print_hex(const char *key, uint64_t v, int comma)
{
	printf("\"%s\":\"%#" PRIx64 "\"%s", key, v, comma ? "," : "");
}

static void print_stack_json(const struct gs_census_thread *r)
{
	printf(",\"stack\":");
	if (!r->stack.have) {
		printf("null");
		return;
	}
	printf("{\"frames\":[");
	for (size_t k = 0; k < r->stack.n; k++) {
		const struct gs_census_frame *f = &r->stack.v[k];
		printf("%s{\"function\":", k ? "," : "");
		gs_json_str(stdout, f->function);
		printf(",\"file\":");
		gs_json_str(stdout, f->file);
		printf(",\"line\":%d,\"first_line\":%d,\"code\":\"%#" PRIx64
		       "\",\"entry\":%s}", f->line, f->first_line, f->code,
		       f->entry ? "true" : "false");
	}
	printf("],\"truncated\":%s,\"partial\":%s,\"changing\":%s}",
	       r->stack.flags & GS_PYSTACK_TRUNCATED ? "true" : "false",
	       r->stack.flags & GS_PYSTACK_PARTIAL ? "true" : "false",
	       r->stack.flags & GS_PYSTACK_TORN ? "true" : "false");
}

static void print_json(const struct info *in)
{
	const struct gs_target *t = &in->t;
	printf("{\"pid\":%d,\"stopped\":%s,\"python_version\":", (int)t->pid,
	       in->c.stopped ? "true" : "false");
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
	/* Where gil->locked and gil->mutex are: on 3.6 they are separate
	 * static variables (tests/truth arms its interposer with them). */
	print_hex("gil_locked_address", t->gil.locked, 1);
	print_hex("gil_mutex_address", t->gil.mutex, 1);
	printf("\"interval_us\":%" PRIu64 ",\"switch_number\":%" PRIu64
	       ",\"locked\":%d,", in->c.interval, in->c.w.switch_number, (int)in->c.w.locked);
	if (in->c.holder_tid)
		printf("\"holder_tid\":%d,", (int)in->c.holder_tid);
	else
		printf("\"holder_tid\":null,");
	printf("\"interpreters\":[");
	for (size_t i = 0; i < in->c.snap.ninterps; i++) {
		const struct gs_interp *ip = &in->c.snap.interps[i];
		printf("%s{\"id\":%" PRId64 ",", i ? "," : "", ip->id);
		print_hex("address", ip->addr, 1);
		print_hex("gil_address", ip->gil, 1);
		printf("\"threads\":%zu}", ip->nthreads);
	}
	printf("],\"gils\":[");
	for (size_t i = 0; i < in->c.ngils; i++) {
		const struct gs_census_gil *g = &in->c.gils[i];
		printf("%s{\"index\":%zu,", i ? "," : "", i);
		print_hex("address", g->a.base, 1);
		printf("\"locked\":%s,\"holder_tid\":", g->read && g->w.locked == 1 ? "true" : "false");
		if (g->holder_tid)
			printf("%d", (int)g->holder_tid);
		else
			printf("null");
		printf(",\"waiters\":%u,\"switch_number\":%" PRIu64 "}", g->waiters,
		       g->w.switch_number);
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
	for (size_t i = 0; i < in->c.n; i++) {
		const struct gs_census_thread *r = &in->c.v[i];
		printf("%s{\"tid\":%d,\"name\":", i ? "," : "", (int)r->tid);
		gs_json_str(stdout, r->comm);
		printf(",\"python_name\":");
		if (r->pyname[0])
			gs_json_str(stdout, r->pyname);
		else
			printf("null");
		printf(",\"role\":\"%s\",\"gil\":%u,\"native\":%s,", gs_role_name(r->role),
		       r->gil, r->py ? "false" : "true");
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

static void print_info(void *arg)
{
	const struct info *in = arg;
	if (in->json)
		print_json(in);
	else
		print_text(in);
}

struct info_opts {
	int json, stacks;
};

static int info_one(pid_t pid, void *arg)
{
	const struct info_opts *io = arg;
	int json = io->json, stacks = io->stacks;
	struct info *in = calloc(1, sizeof *in);
	if (!in)
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	in->stacks = stacks;
	int rc = gs_target_attach(&in->t, pid);
	if (!rc)
		rc = gs_census_take(&in->t, &in->c);
	if (!rc)
		gs_census_names(&in->t, &in->c);
	if (!rc && stacks)
		rc = gs_census_stacks(&in->t, &in->c, INFO_STACK_FRAMES,
				      in->stacks_error, sizeof in->stacks_error);
	if (!rc) {
		in->json = json;
		rc = gs_print_whole(print_info, in);
	}
	if (rc)
		gs_report_error();
	gs_target_detach(&in->t);
	gs_census_free(&in->c);
	free(in);
	return rc;
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
	pid_t *pids = NULL;
	size_t npids = 0;
	int json = 0, stacks = 0, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (gs_parse_pids(optarg, &pids, &npids))
				return free(pids), gs_report_error();
			break;
		case 'j': json = 1; break;
		case 's': stacks = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return GS_OK;
		default:
			return free(pids), gs_usage_fail("info", "unknown or incomplete option '%s'",
					     argv[optind - 1]), gs_report_error();
		}
	}
	if (optind < argc)
		return free(pids), gs_usage_fail("info", "unexpected argument '%s'", argv[optind]),
		       gs_report_error();
	if (!npids)
		return gs_fail(GS_EUSAGE, "no process given: use -p PID"),
		       gs_report_error();

	struct info_opts io = { json, stacks };
	return gs_each_pid(pids, npids, json, info_one, &io);
}

const struct gs_command gs_cmd_info = {
	.name = "info",
	.summary = "locate the runtime in a process and show its threads' GIL roles",
	.usage = usage,
	.run = run,
};
