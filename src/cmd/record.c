/* gilsnoop record: sample a process's GIL roles into a trace file as it
 * runs, and print a summary when recording stops. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cmd/commands.h"
#include "cmd/session.h"
#include "core/clock.h"
#include "core/errors.h"
#include "core/json.h"
#include "model/flight.h"
#include "model/intervals.h"
#include "model/stacks.h"
#include "model/summary.h"
#include "sink/flame.h"
#include "sink/summary_print.h"
#include "proc/taskstat.h"
#include "runtime/pystack.h"
#include "sample/sampler.h"
#include "sample/stackshot.h"
#include "sink/trace_writer.h"

static const char usage[] =
	"Usage: gilsnoop record -p PID[,PID...] -o FILE [-d SECONDS] [-r RATE] [OPTIONS]\n"
	"       gilsnoop record -o FILE [-d SECONDS] [-r RATE] [OPTIONS] -- CMD [ARGS...]\n"
	"\n"
	"Record which thread holds the GIL, which threads wait for it and what\n"
	"the others do, as a timeline (Trace Event JSON) to open in Perfetto\n"
	"(https://ui.perfetto.dev, or its trace_processor) or speedscope\n"
	"(https://www.speedscope.app), or to merge with a VizTracer trace of\n"
	"the same run (viztracer --combine FILE result.json).  The target is\n"
	"never stopped.  Both viewers run in the browser and upload nothing.\n"
	"Offline (an air-gapped host): 'speedscope FILE', from npm's speedscope\n"
	"package, opens its own bundled copy; or copy FILE to a workstation;\n"
	"'gilsnoop report FILE' sums it up on the host itself.  chrome://tracing\n"
	"is gone from current Chrome.\n"
	"\n"
	"Recording stops on SIGINT (Ctrl-C), SIGTERM or SIGHUP, after -d\n"
	"SECONDS, or when the target exits; then the file is finalised and a\n"
	"summary is printed on standard output (standard error when FILE is\n"
	"\"-\"): per thread the share of time holding the GIL (and holding it\n"
	"off CPU), waiting for it, running without it and idle, the longest\n"
	"hold and the wait latency p50/p99/max; for the process the GIL\n"
	"utilisation, switches per second, switches no sample saw and the\n"
	"sampling rate achieved.  Then it names the culprit: where the GIL was\n"
	"held off CPU longest (thread, syscall, file, wchan, and with --stacks or\n"
	"--long-hold the Python function) and who waited behind it; the off-CPU\n"
	"holds grouped that way, the longest holds with their stacks and waiters,\n"
	"and whose holds each waiting thread waited behind (gilsnoop-report(1)).\n"
	"\n"
	"With -- CMD, gilsnoop starts CMD (which must be, or exec, the Python\n"
	"process), records from the moment its runtime is initialised, and\n"
	"exits with CMD's exit status (128+N when signal N killed it).  A\n"
	"SIGINT, SIGTERM or SIGHUP sent to gilsnoop alone is passed on to CMD.\n"
	"With -o -, CMD's standard output goes to standard error.  With\n"
	"--children, CMD may also be a launcher that is not Python (a shell):\n"
	"recording starts with its first Python descendant.\n"
	"\n"
	"Several processes (-p PID,PID,..., --children) go into one FILE: one\n"
	"GIL track per process, named after its pid and command line, and a\n"
	"summary section per process.  --children follows every descendant of\n"
	"the targets (of CMD with -- CMD) that runs Python, also ones started\n"
	"later: /proc is polled every 100 ms, so a new worker is recorded from\n"
	"at most about 100 ms after it appears (a spawned interpreter: once its\n"
	"runtime is initialised).  A child forked after attach reuses its\n"
	"parent's layout.  A process that exits or execs into a non-Python\n"
	"program is dropped with one line on standard error; the others go\n"
	"on, and recording stops when none is left.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID[,PID...]  process(es) to record\n"
	"      --children          also record descendants, new ones included\n"
	"  -o, --output FILE       file to write (required); never overwritten\n"
	"                          without --force; \"-\" is standard output\n"
	"                          (jsonl and csv only)\n"
	"  -d, --duration SECONDS  stop after this long\n"
	"  -r, --rate HZ|max       samples per second (default 1000, k suffix\n"
	"                          allowed); max: as fast as possible\n"
	"      --format FMT        json (Trace Event JSON, default), jsonl, csv;\n"
	"                          with --stacks also folded (flamegraph.pl,\n"
	"                          inferno, speedscope) or speedscope (its own\n"
	"                          format: a profile per thread), written at the end\n"
	"      --force             overwrite FILE if it exists\n"
	"\n"
	"Stacks (Python stacks are read from memory; nothing is stopped):\n"
	"      --stacks[=holder|all]  sample the GIL holder's Python stack (all:\n"
	"                          every Python thread's) alongside the GIL\n"
	"      --stack-rate HZ|max stack samples per second and process (default\n"
	"                          100; max: at every GIL sample); in json and jsonl each\n"
	"                          distinct stack is written once, samples name it\n"
	"      --long-hold MS      holds and waits longer than MS keep the holder's\n"
	"                          stack, taken while it holds (its first and last\n"
	"                          look) in args.stack (default 50 with --stacks,\n"
	"                          else off)\n"
	"      --native            also the native stack of off-CPU holds longer\n"
	"                          than MS: stops that one thread for about a\n"
	"                          millisecond with ptrace, then detaches\n"
	"      --folded FILE       also write the folded stacks to FILE\n"
	"\n"
	"Stall flight recorder:\n"
	"      --stall MS          keep only the last --keep seconds in memory and\n"
	"                          write the window around every GIL hold or wait\n"
	"                          longer than MS (the holder's stack is taken\n"
	"                          during it); -o FILE appends each window to one\n"
	"                          trace, -o DIR/ writes DIR/stall-PID-N.json each\n"
	"      --keep SECONDS      window either side of a stall (default 10)\n"
	"  -v, --verbose           explain each step\n"
	"  -h, --help              show this help\n"
	"\n"
	"FILE is written as events happen and flushed every second, so a\n"
	"recording cut off by SIGKILL or a crash loses only its last second or\n"
	"so, and 'gilsnoop report FILE' still reads it.  Threads are named by\n"
	"their kernel name and, when it differs, their Python name:\n"
	"\"python3 (MainThread)\"; a rename of either is written as it is seen.\n"
	"\n"
	"Exit status: 0 when recorded (also when the target exited); 1 when\n"
	"FILE exists, cannot be created or could not be written completely\n"
	"(\"FILE is incomplete: REASON\"); 2 bad command line; 3-6 as for\n"
	"info.  With -- CMD: CMD's status, or 127 (not found) or 126 (not\n"
	"executable) when it cannot be run.\n"
	"See gilsnoop-record(1) and docs/trace-format.md.\n";

#define FLUSH_NS 1000000000ull
/* Stack samples per second with --stacks; the choice is explained in
 * the man page (STACKS). */
#define DEFAULT_STACK_RATE_HZ 100.0
/* --long-hold's default with --stacks, in ms. */
#define DEFAULT_LONG_HOLD_MS 50.0

/* What -o FILE holds: a streamed trace, or a flame-graph file written
 * whole at the end. */
enum out_kind { OUT_TRACE, OUT_FOLDED, OUT_SPEEDSCOPE };

enum stacks_mode { STACKS_OFF, STACKS_HOLDER, STACKS_ALL };

struct opts {
	pid_t *pids;
	size_t npids;
	int children;
	const char *output;
	double duration, rate;
	enum gs_trace_format fmt;
	enum out_kind kind;
	int force;
	char **cmd;
	enum stacks_mode stacks;
	double stack_rate;        /* Hz; 0 = at every GIL sample */
	int stack_rate_set;
	double long_hold_ms;      /* 0: off */
	int long_hold_set;
	int native;
	const char *folded;       /* --folded FILE: also write folded stacks */
	double stall_ms;          /* --stall MS; 0: off */
	double keep_s;            /* --keep SECONDS */
	int keep_set;
};

/* --keep's default. */
#define DEFAULT_KEEP_S 10.0
/* Stalls the end summary lists one by one. */
#define MAX_LISTED_STALLS 64

struct stall_note {
	struct gs_flight_stall st;
	char file[4096];          /* -o DIR/: its file; "" otherwise */
};

/* One process's stack reader, and the state of its long-hold watch
 * (a hold per process can pass the threshold at the same time). */
/* Stack ids by gs_shot key: a stack sampled again (the common case) is
 * neither formatted nor interned again. */
#define KNOWN_STACKS 1024

struct known_stack {
	uint64_t key;
	uint32_t id;
};

struct proc_stacks {
	pid_t pid;
	struct gs_stackshot *shot;
	struct known_stack *known; /* KNOWN_STACKS; NULL: none */
	uint64_t next_stack_ns;
	pid_t watch_tid;          /* the hold the long-hold watch looks at */
	uint64_t watch_start_ns, watch_look_ns;
	int watch_native_tried;
};

/* What gs_stackshot_python_many() reads and fills for one sample, and
 * which of the sample's threads each entry is; one block, so that it
 * grows (or fails to) in one step. */
struct stack_batch {
	void *block;
	struct gs_shot *shot;
	uint64_t *ts;
	size_t *idx;
	int *rc;
	size_t cap;
};

/* Room for n entries; the old contents are not kept (a batch is filled
 * afresh for every sample). */
static int batch_reserve(struct stack_batch *b, size_t n)
{
	if (n <= b->cap)
		return 0;
	/* The widest members first, so that every array is aligned. */
	char *p = malloc(n * (sizeof *b->shot + sizeof *b->ts + sizeof *b->idx + sizeof *b->rc));
	if (!p)
		return -1;
	free(b->block);
	b->block = p;
	b->shot = (void *)p;
	b->ts = (void *)(p + n * sizeof *b->shot);
	b->idx = (void *)((char *)b->ts + n * sizeof *b->ts);
	b->rc = (void *)((char *)b->idx + n * sizeof *b->idx);
	b->cap = n;
	return 0;
}

struct rec {
	struct opts o;
	struct gs_session ss;
	struct gs_session_target *tg;  /* the first target, once attached */
	struct gs_intervals *iv;
	struct gs_summary sum;
	struct gs_trace_writer *w;
	FILE *out;
	int out_fd;               /* under out; STDOUT_FILENO for "-" */
	int to_stdout;            /* -o - */
	int created;              /* ours to remove if the start fails */
	int truncate;             /* --force on an existing file: empty it
				   * once recording starts */
	char comm[64];
	uint64_t last_flush_ns;
	struct gs_trace_open *open;
	size_t open_cap;
	struct gs_trace_pstats *pstats;
	size_t npstats_cap;
	struct gil_counts *gc;
	size_t ngc;
	/* stacks: a reader per process (--children, -p PID,PID) */
	struct proc_stacks *pst;
	size_t npst;
	int stacks_wanted;
	struct gs_stackshot_stats shot_done; /* of the readers closed */
	uint64_t stack_period_ns;
	uint64_t long_hold_ns;
	uint64_t stack_samples, long_hold_looks, stack_failures;
	struct stack_batch want;  /* a sample's stacks to read together */
	struct gs_speedscope *ss_out;
	FILE *folded;             /* --folded FILE */
	int folded_created;
	/* --stall */
	struct gs_flight *flight;
	int stall_dir;            /* -o DIR/: one file per stall */
	struct gs_trace_writer *sw; /* the writer of the window being written */
	FILE *sw_out;
	char sw_path[4096];
	struct stall_note notes[MAX_LISTED_STALLS];
	unsigned nnotes, stall_files_failed;
	const struct gs_interval **open_list;
	size_t open_list_cap;
};

static const char *out_name(const struct rec *r)
{
	return strcmp(r->o.output, "-") ? r->o.output : "standard output";
}

/* ---------------------------------------------------------- output */

/* The recording goes through a stream of our own rather than fdopen():
 * the signal handlers run without SA_RESTART (a signal must end the
 * sampler's waits), and stdio gives up on a write that a signal
 * interrupts, so a SIGINT while a pipe reader lags would cut the
 * recording short.  A write is retried after the first signal, which
 * asks for a clean stop; a second one gives up on it. */
static ssize_t out_write(void *cookie, const char *buf, size_t n)
{
	int fd = *(const int *)cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, buf + done, n - done);
		if (w < 0 && errno == EINTR && gs_session_sigstate()->count < 2)
			continue;
		if (w < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static int out_close(void *cookie)
{
	int fd = *(const int *)cookie;
	return fd == STDOUT_FILENO ? 0 : close(fd);
}

static int open_output(struct rec *r)
{
	const char *path = r->o.output;
	struct stat st;
	int fd;

	r->to_stdout = !strcmp(path, "-");
	if (r->o.stall_ms && ((path[0] && path[strlen(path) - 1] == '/') ||
			      (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))) {
		/* -o DIR/: one file per stall, made as each is caught. */
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return gs_fail(GS_EFAIL, "cannot create directory %s: %s", path,
				       strerror(errno));
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return gs_fail(GS_EFAIL, "%s is not a directory", path);
		r->stall_dir = 1;
		return 0;
	}
	if (r->to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		int existed = stat(path, &st) == 0;
		/* Not O_TRUNC: an existing file is emptied only once there
		 * is something to record, so a failed attach leaves it as it
		 * was.  The final path from the start (no FILE.tmp and
		 * rename): a recording cut off by SIGKILL must be found where
		 * it was asked. */
		int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (r->o.force ? 0 : O_EXCL);
		fd = open(path, flags, 0666);
		if (fd < 0 && errno == EEXIST)
			return gs_fail(GS_EFAIL, "%s already exists; use --force to "
				       "overwrite it", path);
		if (fd < 0)
			return gs_fail(GS_EFAIL, "cannot create %s: %s", path,
				       strerror(errno));
		r->created = !existed;
		r->truncate = existed && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	}
	r->out_fd = fd;
	cookie_io_functions_t io = { NULL, out_write, NULL, out_close };
	if (!(r->out = fopencookie(&r->out_fd, "w", io))) {
		int e = errno;
		if (fd != STDOUT_FILENO)
			close(fd);
		return gs_fail(GS_EFAIL, "cannot write %s: %s", out_name(r), strerror(e));
	}
	/* Whole lines reach the kernel in large writes; the explicit
	 * flush every second bounds what a crash can lose. */
	setvbuf(r->out, NULL, _IOFBF, 64 * 1024);
	return 0;
}

/* Remove a file that holds nothing yet, so a failed start leaves no
 * empty or misleading recording behind (and an existing file given
 * with --force untouched). */
static void discard_output(struct rec *r)
{
	if (r->out) {
		fclose(r->out);
		if (r->created)
			unlink(r->o.output);
	}
	r->out = NULL;
}

/* ------------------------------------------------------- callbacks */

static void on_thread(void *ctx, pid_t pid, pid_t tid, const char *name, int is_python)
{
	struct rec *r = ctx;
	gs_summary_name(&r->sum, pid, tid, name, is_python);
	if (r->w && !r->flight)
		gs_trace_thread(r->w, pid, tid, name, is_python);
}

/* Whether an interval keeps the stacks taken inside it: holds and waits
 * of at least --long-hold.  Shorter ones are covered by the stack
 * samples, and a stack list on every slice would swamp the file. */
static int keeps_stacks(const struct rec *r, const struct gs_interval *iv)
{
	if (!r->long_hold_ns || iv->end_ns - iv->start_ns < r->long_hold_ns)
		return 0;
	return iv->role == GS_ROLE_HELD || iv->role == GS_ROLE_HELD_OFFCPU ||
	       iv->role == GS_ROLE_WAITING;
}

static void on_interval(void *ctx, const struct gs_interval *civ)
{
	struct rec *r = ctx;
	struct gs_interval iv = *civ;
	if (!keeps_stacks(r, &iv))
		iv.stack = iv.stack_end = iv.native_stack = GS_STACK_NONE;
	const struct gs_thread_summary *t = gs_summary_thread(&r->sum, iv.pid, iv.tid);
	if (r->flight)
		gs_flight_interval(r->flight, &iv);
	else if (r->w)
		gs_trace_interval(r->w, &iv, t ? t->name : "");
	if (r->ss_out)
		gs_speedscope_interval(r->ss_out, &iv);
	gs_summary_add(&r->sum, &iv);
}

/* ---------------------------------------------------------- stacks */

/* Intern a shot; GS_STACK_NONE when it is empty or does not fit. */
static uint32_t intern_shot(struct rec *r, const struct gs_shot *sh)
{
	return gs_stacks_intern(r->sum.stacks, sh->frames, sh->n, NULL);
}

/* The id of stack i of the last Python read (0 for a
 * gs_stackshot_python()); GS_STACK_NONE when it is empty or does not
 * fit. */
static uint32_t shot_id(struct rec *r, struct proc_stacks *ps, struct gs_shot *sh, size_t i)
{
	if (!sh->n)
		return GS_STACK_NONE;
	struct known_stack *k = ps->known ? &ps->known[sh->key % KNOWN_STACKS] : NULL;
	if (k && k->key == sh->key)
		return k->id;
	gs_stackshot_format(ps->shot, i, sh);
	uint32_t id = intern_shot(r, sh);
	if (k && id != GS_STACK_NONE) {
		k->key = sh->key;
		k->id = id;
	}
	return id;
}

/* The Python stack of thread ts now, interned. */
static uint32_t python_stack(struct rec *r, struct proc_stacks *ps,
			     const struct gs_thread_sample *ts)
{
	struct gs_shot sh;
	if (!ts->tstate || gs_stackshot_python(ps->shot, ts->tstate, &sh)) {
		r->stack_failures++;
		return GS_STACK_NONE;
	}
	return shot_id(r, ps, &sh, 0);
}

static void stack_sample(struct rec *r, struct proc_stacks *ps, const struct gs_sample *smp,
			 const struct gs_thread_sample *ts, uint32_t id)
{
	if (!id)
		return;
	struct gs_stack_sample s = { smp->pid, ts->tid, smp->t_ns, ts->role, id };
	r->stack_samples++;
	gs_stack_counts_add(&r->sum.stack_counts, &s);
	if (r->flight)
		gs_flight_sample(r->flight, &s);
	else if (r->w)
		gs_trace_stack_sample(r->w, &s);
	if (r->ss_out)
		gs_speedscope_sample(r->ss_out, &s);
	gs_intervals_set_stack(r->iv, smp->pid, ts->tid, id, 0);
}

static int holds(enum gs_role role)
{
	return role == GS_ROLE_HELD || role == GS_ROLE_HELD_OFFCPU;
}

/* --long-hold: the holder of a hold that passed the threshold gets its
 * Python stack taken at once and again every half threshold, so that
 * the interval's stack_end is at most that old when the hold ends; an
 * off-CPU one (with --native) its native stack, once. */
static void watch_hold(struct rec *r, struct proc_stacks *ps, const struct gs_sample *smp,
		       const struct gs_thread_sample *ts)
{
	const struct gs_interval *iv = gs_intervals_open(r->iv, smp->pid, ts->tid);
	if (!iv || !holds(iv->role) || smp->t_ns - iv->start_ns < r->long_hold_ns)
		return;
	if (ps->watch_tid != ts->tid || ps->watch_start_ns != iv->start_ns) {
		ps->watch_tid = ts->tid;
		ps->watch_start_ns = iv->start_ns;
		ps->watch_look_ns = 0;
		ps->watch_native_tried = 0;
	}
	if (!ps->watch_look_ns || smp->t_ns - ps->watch_look_ns >= r->long_hold_ns / 2) {
		uint32_t id = python_stack(r, ps, ts);
		ps->watch_look_ns = smp->t_ns;
		r->long_hold_looks++;
		if (id)
			gs_intervals_set_stack(r->iv, smp->pid, ts->tid, id, 0);
	}
	if (r->o.native && iv->role == GS_ROLE_HELD_OFFCPU && !ps->watch_native_tried) {
		struct gs_shot sh;
		ps->watch_native_tried = 1;
		if (gs_stackshot_native(ps->shot, ts->tid, &sh) == 0) {
			uint32_t id = intern_shot(r, &sh);
			if (id)
				gs_intervals_set_stack(r->iv, smp->pid, ts->tid, id, 1);
		} else {
			gs_debug("native stack of %d: %s", (int)ts->tid,
				 gs_stackshot_why(ps->shot));
		}
	}
}

static struct proc_stacks *proc_stacks(struct rec *r, pid_t pid)
{
	for (size_t i = 0; i < r->npst; i++)
		if (r->pst[i].pid == pid)
			return &r->pst[i];
	return NULL;
}

/* A stack reader for target tg, when stacks are wanted.  Returns 0, or
 * an exit code with the reason recorded (no frame offsets in the
 * layout, no native unwinder, memory). */
static int open_stacks(struct rec *r, struct gs_session_target *tg)
{
	if (!r->stacks_wanted || proc_stacks(r, tg->pid))
		return 0;
	struct proc_stacks *v = realloc(r->pst, (r->npst + 1) * sizeof *v);
	if (!v)
		return gs_fail(GS_EFAIL, "out of memory");
	r->pst = v;
	struct proc_stacks *ps = &v[r->npst];
	*ps = (struct proc_stacks){ .pid = tg->pid };
	int rc = gs_stackshot_open(&tg->t, r->o.native, &ps->shot);
	if (rc)
		return rc;
	ps->known = calloc(KNOWN_STACKS, sizeof *ps->known);
	r->npst++;
	return 0;
}

static void add_shot_stats(struct gs_stackshot_stats *to, const struct gs_stackshot *s)
{
	struct gs_stackshot_stats st;
	gs_stackshot_stats(s, &st);
	to->python += st.python;
	to->reads += st.reads;
	to->native += st.native;
	to->native_failed += st.native_failed;
	if (st.longest_stop_ns > to->longest_stop_ns)
		to->longest_stop_ns = st.longest_stop_ns;
}

static void free_stacks(struct proc_stacks *ps)
{
	gs_stackshot_close(ps->shot);
	free(ps->known);
}

/* The reader of a target that ended goes with it (its gs_target is
 * about to be closed); what it cost stays in the summary. */
static void close_stacks(struct rec *r, pid_t pid)
{
	struct proc_stacks *ps = proc_stacks(r, pid);
	if (!ps)
		return;
	add_shot_stats(&r->shot_done, ps->shot);
	free_stacks(ps);
	*ps = r->pst[--r->npst];
}

/* A stack sample of every thread --stacks asks for, read together. */
static void sample_stacks(struct rec *r, struct proc_stacks *ps, const struct gs_sample *smp)
{
	struct stack_batch *b = &r->want;
	size_t n = 0;
	if (batch_reserve(b, smp->nthreads)) {
		r->stack_failures += smp->nthreads;
		return;
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		if (ts->tstate && (r->o.stacks == STACKS_ALL || holds(ts->role))) {
			b->ts[n] = ts->tstate;
			b->idx[n++] = i;
		}
	}
	if (!n)
		return;
	if (gs_stackshot_python_many(ps->shot, b->ts, n, b->shot, b->rc) != 0) {
		r->stack_failures += n;
		return;
	}
	for (size_t j = 0; j < n; j++) {
		if (b->rc[j]) {
			r->stack_failures++;
			continue;
		}
		stack_sample(r, ps, smp, &smp->threads[b->idx[j]],
			     shot_id(r, ps, &b->shot[j], j));
	}
}

static void take_stacks(struct rec *r, const struct gs_sample *smp)
{
	struct proc_stacks *ps = smp->torn ? NULL : proc_stacks(r, smp->pid);
	if (!ps)
		return;
	int due = r->o.stacks != STACKS_OFF && smp->t_ns >= ps->next_stack_ns;
	if (due) {
		ps->next_stack_ns = smp->t_ns + r->stack_period_ns;
		sample_stacks(r, ps, smp);
	}
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		if (ts->tstate && r->long_hold_ns && holds(ts->role))
			watch_hold(r, ps, smp, ts);
	}
}

/* Switch counts per GIL of a process: samples carry each GIL's. */
struct gil_counts {
	pid_t pid;
	size_t n;
	struct { uint64_t switches, missed; } gils[GS_TRACE_MAX_GILS];
};

static struct gil_counts *gil_counts(struct rec *r, pid_t pid)
{
	for (size_t i = 0; i < r->ngc; i++)
		if (r->gc[i].pid == pid)
			return &r->gc[i];
	struct gil_counts *v = realloc(r->gc, (r->ngc + 1) * sizeof *v);
	if (!v)
		return NULL;
	r->gc = v;
	memset(&v[r->ngc], 0, sizeof *v);
	v[r->ngc].pid = pid;
	return &v[r->ngc++];
}

/* The counts of every target summed, and each one's own when there may
 * be several (r->pstats, kept for the summary too). */
static void trace_stats(struct rec *r, struct gs_trace_stats *out)
{
	memset(out, 0, sizeof *out);
	if (r->npstats_cap < r->ss.ntargets) {
		struct gs_trace_pstats *v = realloc(r->pstats, r->ss.ntargets * sizeof *v);
		if (!v)
			return;
		r->pstats = v;
		r->npstats_cap = r->ss.ntargets;
	}
	size_t n = 0;
	for (size_t i = 0; i < r->ss.ntargets; i++) {
		const struct gs_session_target *tg = r->ss.targets[i];
		struct gs_sampler_stats st;
		if (!tg->sampler)
			continue;
		gs_sampler_stats(tg->sampler, &st);
		out->samples += st.samples;
		out->torn += st.torn;
		out->switches += st.switches;
		out->missed += st.missed;
		if (st.first_ns && (!out->first_ns || st.first_ns < out->first_ns))
			out->first_ns = st.first_ns;
		if (st.last_ns > out->last_ns)
			out->last_ns = st.last_ns;
		/* A pid followed again after an exec adds to its first entry. */
		size_t k = 0;
		while (k < n && r->pstats[k].pid != tg->pid)
			k++;
		if (k == n) {
			memset(&r->pstats[n], 0, sizeof r->pstats[n]);
			r->pstats[n++].pid = tg->pid;
			const struct gil_counts *gc = gil_counts(r, tg->pid);
			if (gc) {
				r->pstats[k].ngils = gc->n;
				memcpy(r->pstats[k].gils, gc->gils, sizeof gc->gils);
			}
		}
		r->pstats[k].samples += st.samples;
		r->pstats[k].torn += st.torn;
		r->pstats[k].switches += st.switches;
		r->pstats[k].missed += st.missed;
	}
	/* Each target's own counts: with several targets, or several GILs
	 * (subinterpreters with their own) in one. */
	int gils = 0;
	for (size_t k = 0; k < n; k++)
		gils |= r->pstats[k].ngils > 1;
	if (r->ss.multi || gils) {
		out->procs = r->pstats;
		out->nprocs = n;
	}
}

static void progress(struct rec *r, uint64_t t_ns)
{
	struct gs_trace_stats st;
	size_t n = 0;
	if (r->open_cap < r->sum.n) {
		struct gs_trace_open *v = realloc(r->open, r->sum.n * sizeof *v);
		if (!v)
			return;
		r->open = v;
		r->open_cap = r->sum.n;
	}
	for (size_t i = 0; i < r->sum.n; i++) {
		const struct gs_interval *iv = gs_intervals_open(r->iv, r->sum.t[i].pid,
								 r->sum.t[i].tid);
		if (iv)
			r->open[n++] = (struct gs_trace_open){ iv, r->sum.t[i].name };
	}
	trace_stats(r, &st);
	gs_trace_progress(r->w, t_ns, &st, r->open, n);
}

/* A thread the intervals still track (a gone one was dropped). */
static int thread_alive(void *ctx, pid_t pid, pid_t tid)
{
	const struct rec *r = ctx;
	return gs_intervals_open(r->iv, pid, tid) != NULL;
}

/* A process's track: named after its pid and command line. */
static void add_process(struct rec *r, const struct gs_session_target *tg)
{
	struct gs_proc_summary *p = gs_summary_proc(&r->sum, tg->pid);
	char comm[64];
	gs_task_comm(&gs_procfs_live, tg->pid, tg->pid, comm, sizeof comm);
	if (p) {
		snprintf(p->comm, sizeof p->comm, "%s", comm);
		snprintf(p->cmdline, sizeof p->cmdline, "%s", tg->cmdline);
	}
	if (r->w && !r->flight)
		gs_trace_process(r->w, tg->pid, comm, tg->cmdline);
}

/* A process other than the first whose stacks cannot be read is
 * recorded without them. */
static void open_stacks_or_warn(struct rec *r, struct gs_session_target *tg)
{
	if (open_stacks(r, tg)) {
		gs_warn("process %d is recorded without stacks: %s", (int)tg->pid,
			gs_last_error());
		gs_clear_error();
	}
}

static void on_started(void *ctx, struct gs_session_target *tg)
{
	struct rec *r = ctx;
	add_process(r, tg);
	open_stacks_or_warn(r, tg);
}

static void on_ended(void *ctx, struct gs_session_target *tg)
{
	struct rec *r = ctx;
	gs_intervals_end_process(r->iv, tg->pid);
	close_stacks(r, tg->pid);
}

static void watch_stalls(struct rec *r, const struct gs_sample *smp);

static int on_sample(void *ctx, struct gs_session_target *tg, const struct gs_sample *smp)
{
	struct rec *r = ctx;
	gs_intervals_feed(r->iv, smp);
	struct gil_counts *gc = gil_counts(r, tg->pid);
	for (size_t i = 0; gc && i < smp->ngils && i < GS_TRACE_MAX_GILS; i++) {
		gc->gils[i].switches += smp->gils[i].switches;
		gc->gils[i].missed += smp->gils[i].missed;
		if (i >= gc->n)
			gc->n = i + 1;
	}
	take_stacks(r, smp);
	if (r->flight)
		watch_stalls(r, smp);
	if (r->w && !r->flight && !smp->torn) {
		unsigned waiters = 0;
		for (size_t i = 0; i < smp->nthreads; i++)
			waiters += smp->threads[i].role == GS_ROLE_WAITING;
		gs_trace_waiters(r->w, tg->pid, smp->t_ns, waiters);
	}
	if (smp->t_ns - r->last_flush_ns >= FLUSH_NS) {
		if (r->w && !r->flight) {
			progress(r, smp->t_ns);
			gs_trace_flush(r->w);
		}
		r->last_flush_ns = smp->t_ns;
		/* A target that churns through threads must not grow the
		 * summary without bound. */
		gs_summary_fold_gone(&r->sum, thread_alive, r);
	}
	return r->w && gs_trace_error(r->w) != 0;
}

/* ---------------------------------------------------------- stalls */

/* The intervals open now, for a window that closes while they last. */
static size_t open_intervals(struct rec *r, pid_t pid)
{
	size_t n = 0;
	if (r->open_list_cap < r->sum.n) {
		const struct gs_interval **v = realloc(r->open_list, r->sum.n * sizeof *v);
		if (!v)
			return 0;
		r->open_list = v;
		r->open_list_cap = r->sum.n;
	}
	for (size_t i = 0; i < r->sum.n; i++) {
		if (r->sum.t[i].pid != pid)
			continue;
		const struct gs_interval *iv = gs_intervals_open(r->iv, pid, r->sum.t[i].tid);
		if (iv)
			r->open_list[n++] = iv;
	}
	return n;
}

static void watch_stalls(struct rec *r, const struct gs_sample *smp)
{
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		if (!holds(ts->role) && ts->role != GS_ROLE_WAITING)
			continue;
		const struct gs_interval *iv = gs_intervals_open(r->iv, smp->pid, ts->tid);
		if (iv)
			gs_flight_open(r->flight, iv, smp->t_ns);
	}
	size_t n = gs_flight_pending(r->flight) ? open_intervals(r, smp->pid) : 0;
	gs_flight_tick(r->flight, smp->t_ns, r->open_list, n);
}

static void trace_header(const struct rec *r, struct gs_trace_header *h)
{
	memset(h, 0, sizeof *h);
	h->pid = r->tg ? r->tg->pid : r->ss.child.pid;
	h->comm = r->comm;
	h->cmdline = r->tg ? r->tg->cmdline : NULL;
	h->python_version = r->tg ? r->tg->t.ver.str : NULL;
	h->gilsnoop_version = PACKAGE_VERSION;
	h->rate_hz = r->o.rate;
}

static void trace_stats(struct rec *r, struct gs_trace_stats *out);

/* The row of thread tid, whichever process it is in (tids are unique
 * across processes), without adding one. */
static const struct gs_thread_summary *thread_by_tid(const struct rec *r, pid_t tid)
{
	for (size_t i = 0; i < r->sum.n; i++)
		if (r->sum.t[i].tid == tid)
			return &r->sum.t[i];
	return NULL;
}

/* -o DIR/: the window's own file, never overwriting one without --force. */
static struct gs_trace_writer *open_stall_file(struct rec *r, const struct gs_flight_stall *st)
{
	struct gs_trace_header h;
	pid_t pid = r->tg ? r->tg->pid : r->ss.child.pid;
	const char *dir = r->o.output;
	size_t len = strlen(dir);
	snprintf(r->sw_path, sizeof r->sw_path, "%s%sstall-%d-%u.%s", dir,
		 len && dir[len - 1] == '/' ? "" : "/", (int)pid, st->n,
		 r->o.fmt == GS_TRACE_JSONL ? "jsonl" : "json");
	int fd = open(r->sw_path, O_WRONLY | O_CREAT | O_CLOEXEC |
		      (r->o.force ? O_TRUNC : O_EXCL), 0666);
	if (fd < 0 || !(r->sw_out = fdopen(fd, "w"))) {
		gs_warn("stall %u not written: cannot create %s: %s", st->n, r->sw_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		r->stall_files_failed++;
		return NULL;
	}
	trace_header(r, &h);
	struct gs_trace_writer *w = gs_trace_writer_new(r->sw_out, r->o.fmt, &h);
	if (!w) {
		fclose(r->sw_out);
		r->sw_out = NULL;
		r->stall_files_failed++;
		return NULL;
	}
	gs_trace_set_stacks(w, r->sum.stacks);
	return w;
}

static void stall_begin(void *ctx, const struct gs_flight_stall *st)
{
	struct rec *r = ctx;
	r->sw = r->stall_dir ? open_stall_file(r, st) : r->w;
	if (!r->sw)
		return;
	struct gs_trace_stall ts = { st->n, st->start_ns, st->dur_ns, st->tid, st->role,
				     st->from_ns, st->to_ns, st->wall };
	gs_trace_stall(r->sw, &ts);
	for (size_t i = 0; i < r->sum.n; i++)
		if (r->sum.t[i].tid)
			gs_trace_thread(r->sw, r->sum.t[i].pid, r->sum.t[i].tid, r->sum.t[i].name,
					r->sum.t[i].is_python > 0);
}

static void stall_interval(void *ctx, const struct gs_interval *iv)
{
	struct rec *r = ctx;
	const struct gs_thread_summary *t = gs_summary_thread(&r->sum, iv->pid, iv->tid);
	if (r->sw)
		gs_trace_interval(r->sw, iv, t ? t->name : "");
}

static void stall_sample(void *ctx, const struct gs_stack_sample *s)
{
	struct rec *r = ctx;
	if (r->sw)
		gs_trace_stack_sample(r->sw, s);
}

static void stall_end(void *ctx, const struct gs_flight_stall *st)
{
	struct rec *r = ctx;
	if (r->nnotes < MAX_LISTED_STALLS) {
		struct stall_note *n = &r->notes[r->nnotes++];
		n->st = *st;
		snprintf(n->file, sizeof n->file, "%s", r->stall_dir && r->sw ? r->sw_path : "");
	}
	if (!r->sw)
		return;
	if (!r->stall_dir) {
		gs_trace_flush(r->sw);
	} else {
		struct gs_trace_stats tst;
		trace_stats(r, &tst);
		int failed = gs_trace_finish(r->sw, &tst, 0, "stall written") != 0;
		failed |= fsync(fileno(r->sw_out)) != 0 && errno != EINVAL;
		failed |= fclose(r->sw_out) != 0;
		if (failed) {
			gs_warn("%s is incomplete: %s", r->sw_path, strerror(errno ? errno : EIO));
			r->stall_files_failed++;
		}
		gs_trace_writer_free(r->sw);
		r->sw_out = NULL;
	}
	r->sw = NULL;
}

static void print_stalls(struct rec *r, FILE *f)
{
	struct gs_flight_stats fs;
	gs_flight_stats(r->flight, &fs);
	fprintf(f, "stalls caught: %u (a hold or wait longer than %g ms; windows of %g s "
		"either side)\n", fs.stalls, r->o.stall_ms, r->o.keep_s);
	for (unsigned i = 0; i < r->nnotes; i++) {
		const struct stall_note *n = &r->notes[i];
		const struct gs_thread_summary *t = thread_by_tid(r, n->st.tid);
		char name[64], at[512] = "";
		gs_text_clean(name, sizeof name, t ? t->name : "?");
		if (gs_stacks_depth(r->sum.stacks, n->st.stack)) {
			char fr[480];
			gs_text_clean(fr, sizeof fr, gs_stacks_frame(r->sum.stacks, n->st.stack, 0));
			snprintf(at, sizeof at, " at %s", fr);
		}
		uint64_t t0 = r->sum.run.first_ns ? r->sum.run.first_ns : n->st.start_ns;
		char wall[48];
		gs_wall_fmt(wall, sizeof wall, &n->st.wall);
		fprintf(f, "  %u. +%.3f s%s%s%s  %s (tid %d) %s %.1f ms%s%s%s\n", n->st.n,
			(double)(n->st.start_ns - (n->st.start_ns > t0 ? t0 : n->st.start_ns)) / 1e9,
			wall[0] ? " (" : "", wall, wall[0] ? ")" : "",
			name, (int)n->st.tid, gs_trace_event_name(n->st.role),
			(double)n->st.dur_ns / 1e6, at, n->file[0] ? " -> " : "", n->file);
	}
	if (fs.stalls > r->nnotes)
		fprintf(f, "  (%u more not listed)\n", fs.stalls - r->nnotes);
	if (fs.overwritten)
		fprintf(f, "  %" PRIu64 " events were dropped from the %zu MB memory bound: "
			"windows may start late\n", fs.overwritten, fs.bytes >> 20);
	if (r->stall_files_failed)
		fprintf(f, "  %u stall files could not be written\n", r->stall_files_failed);
}

/* ------------------------------------------------------- recording */

static int start_writer(struct rec *r)
{
	pid_t pid = r->tg ? r->tg->pid : r->ss.child.pid;
	gs_task_comm(&gs_procfs_live, pid, pid, r->comm, sizeof r->comm);
	if (!strcmp(r->comm, "?") && r->o.cmd) {
		/* CMD is gone already: name it as it was started. */
		const char *base = strrchr(r->o.cmd[0], '/');
		snprintf(r->comm, sizeof r->comm, "%s", base ? base + 1 : r->o.cmd[0]);
	}
	struct gs_trace_header h;
	trace_header(r, &h);
	if (r->tg) {
		struct gs_proc_summary *p = gs_summary_proc(&r->sum, r->tg->pid);
		if (p) {
			snprintf(p->comm, sizeof p->comm, "%s", r->comm);
			snprintf(p->cmdline, sizeof p->cmdline, "%s", r->tg->cmdline);
		}
	}
	/* The other targets (-p lists, children found at attach): their
	 * summary entries now, their tracks once the writer is there. */
	for (size_t i = 1; i < r->ss.ntargets; i++)
		add_process(r, r->ss.targets[i]);
	if (r->o.stall_ms) {
		struct gs_flight_sink fs = { r, stall_begin, stall_interval, stall_sample,
					     stall_end };
		if (!(r->flight = gs_flight_new((uint64_t)(r->o.stall_ms * 1e6),
						(uint64_t)(r->o.keep_s * 1e9), &fs)))
			return gs_fail(GS_EFAIL, "out of memory");
		if (r->stall_dir)
			return 0;
	}
	/* --force: the old file goes only now that the new one starts.
	 * (EINVAL: not a regular file after all.) */
	if (r->truncate && ftruncate(r->out_fd, 0) != 0 && errno != EINVAL)
		return gs_fail(GS_EFAIL, "cannot overwrite %s: %s", out_name(r),
			       strerror(errno));
	r->truncate = 0;
	if (r->o.kind == OUT_SPEEDSCOPE && !(r->ss_out = gs_speedscope_new()))
		return gs_fail(GS_EFAIL, "out of memory");
	if (r->o.kind != OUT_TRACE)
		return 0;
	if (!(r->w = gs_trace_writer_new(r->out, r->o.fmt, &h)))
		return gs_fail(GS_EFAIL, "out of memory");
	for (size_t i = 1; i < r->ss.ntargets; i++)
		add_process(r, r->ss.targets[i]);
	gs_trace_set_stacks(r->w, r->sum.stacks);
	/* The header alone makes a file killed at once recognisable. */
	gs_trace_flush(r->w);
	return 0;
}

/* The flame-graph files, written whole now that the recording ended:
 * -o FILE with --format folded or speedscope, and --folded FILE.
 * Returns 0, or -1 with errno. */
static int write_flames(struct rec *r)
{
	char title[128];
	int rc = 0;
	snprintf(title, sizeof title, "GIL: %s (pid %d)", r->comm,
		 (int)(r->tg ? r->tg->pid : r->ss.child.pid));
	errno = 0;
	if (r->o.kind == OUT_FOLDED)
		rc = gs_folded_write(r->out, &r->sum);
	else if (r->o.kind == OUT_SPEEDSCOPE)
		rc = gs_speedscope_write(r->ss_out, r->out, &r->sum, title,
					 "gilsnoop " PACKAGE_VERSION);
	if (!rc && r->o.kind != OUT_TRACE && fflush(r->out))
		rc = -1;
	return rc;
}

/* --folded FILE, opened at the start like -o FILE (never overwritten
 * without --force) so that a bad name fails before recording. */
static int open_folded(struct rec *r)
{
	struct stat st;
	if (!r->o.folded)
		return 0;
	int existed = stat(r->o.folded, &st) == 0;
	int fd = open(r->o.folded, O_WRONLY | O_CREAT | O_CLOEXEC |
		      (r->o.force ? O_TRUNC : O_EXCL), 0666);
	if (fd < 0 && errno == EEXIST)
		return gs_fail(GS_EFAIL, "%s already exists; use --force to "
			       "overwrite it", r->o.folded);
	if (fd < 0 || !(r->folded = fdopen(fd, "w"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return gs_fail(GS_EFAIL, "cannot create %s: %s", r->o.folded, strerror(e));
	}
	r->folded_created = !existed;
	return 0;
}

static int finish_folded(struct rec *r)
{
	if (!r->folded)
		return 0;
	int failed = gs_folded_write(r->folded, &r->sum) != 0 || fflush(r->folded) != 0;
	int err = errno;
	if (fclose(r->folded) && !failed) {
		failed = 1;
		err = errno;
	}
	r->folded = NULL;
	if (failed)
		return gs_fail(GS_EFAIL, "%s is incomplete: %s", r->o.folded,
			       strerror(err ? err : EIO));
	return 0;
}

/* Finish the file and close it.  Returns 0 or GS_EFAIL with the
 * message recorded. */
static int finish_output(struct rec *r, int target_exited, const char *stopped_by)
{
	struct gs_trace_stats st;
	trace_stats(r, &st);
	int failed, err;
	if (r->stall_dir)
		return 0;
	if (r->w) {
		failed = gs_trace_finish(r->w, &st, target_exited, stopped_by) != 0;
		err = gs_trace_error(r->w);
	} else {
		failed = write_flames(r) != 0;
		err = failed ? errno : 0;
	}
	/* Some file systems (NFS, quotas) report a full disk only at fsync
	 * or close. */
	if (!r->to_stdout && !failed && fsync(r->out_fd) && errno != EINVAL &&
	    errno != EROFS) {
		failed = 1;
		err = errno;
	}
	if (fclose(r->out) && !failed) {
		failed = 1;
		err = errno;
	}
	r->out = NULL;
	if (failed)
		return gs_fail(GS_EFAIL, "%s is incomplete: %s", out_name(r),
			       strerror(err ? err : EIO));
	return 0;
}

static void print_summary(struct rec *r, int target_exited)
{
	struct gs_trace_stats st;
	FILE *f = strcmp(r->o.output, "-") ? stdout : stderr;
	trace_stats(r, &st);
	r->sum.run.samples = st.samples;
	r->sum.run.torn = st.torn;
	r->sum.run.switches = st.switches;
	r->sum.run.missed = st.missed;
	if (st.first_ns && (!r->sum.run.first_ns || st.first_ns < r->sum.run.first_ns))
		r->sum.run.first_ns = st.first_ns;
	if (st.last_ns > r->sum.run.last_ns)
		r->sum.run.last_ns = st.last_ns;
	r->sum.run.rate_hz = r->o.rate;
	r->sum.run.target_exited = target_exited;
	r->sum.run.pid = r->tg ? r->tg->pid : r->ss.child.pid;
	for (size_t i = 0; i < st.nprocs; i++) {
		struct gs_proc_summary *p = gs_summary_proc(&r->sum, st.procs[i].pid);
		if (!p)
			continue;
		p->samples = st.procs[i].samples;
		p->torn = st.procs[i].torn;
		p->switches = st.procs[i].switches;
		p->missed = st.procs[i].missed;
		p->have_counts = 1;
		for (size_t k = 0; st.procs[i].ngils > 1 && k < st.procs[i].ngils &&
			     k < GS_SUMMARY_MAX_GILS; k++) {
			p->gils[k].switches = st.procs[i].gils[k].switches;
			p->gils[k].missed = st.procs[i].gils[k].missed;
			p->gils[k].have_counts = p->gils[k].seen = 1;
			if (k >= p->ngils)
				p->ngils = k + 1;
		}
	}
	snprintf(r->sum.run.python_version, sizeof r->sum.run.python_version, "%s",
		 r->tg ? r->tg->t.ver.str : "");
	gs_summary_print_text(f, &r->sum);
	if (r->flight)
		print_stalls(r, f);
	if (r->stacks_wanted) {
		struct gs_stackshot_stats ss = r->shot_done;
		for (size_t i = 0; i < r->npst; i++)
			add_shot_stats(&ss, r->pst[i].shot);
		fprintf(f, "stacks: %" PRIu64 " stack samples, %u distinct stacks, %" PRIu64
			" long-hold looks, %" PRIu64 " unreadable", r->stack_samples,
			gs_stacks_count(r->sum.stacks), r->long_hold_looks, r->stack_failures);
		if (r->o.native)
			fprintf(f, "; %" PRIu64 " native stacks (%" PRIu64 " failed, longest stop %"
				PRIu64 " us)", ss.native, ss.native_failed,
				ss.longest_stop_ns / 1000);
		fputc('\n', f);
	}
	fflush(f);
}

/* Sample until told to stop; then close every interval, finish the
 * file and print the summary.  Returns 0 or an exit code. */
static int record(struct rec *r)
{
	int rc = 0, target_exited = r->ss.child.done;
	const char *stopped_by = gs_session_sigstate()->stop
		? gs_signal_name(gs_session_sigstate()->signo)
		: r->ss.child.done ? "target exited" : "error";

	r->stacks_wanted = r->tg && (r->o.stacks != STACKS_OFF || r->long_hold_ns);
	/* The first target's stacks are what was asked for: without them,
	 * nothing is recorded and no file is left behind.  The others' are
	 * opened as they start (on_started), warned about when they fail. */
	if (r->stacks_wanted && (rc = open_stacks(r, r->tg))) {
		discard_output(r);
		return gs_report_error();
	}
	for (size_t i = 1; r->stacks_wanted && i < r->ss.ntargets; i++)
		open_stacks_or_warn(r, r->ss.targets[i]);
	if ((rc = open_folded(r))) {
		discard_output(r);
		return gs_report_error();
	}
	if ((rc = start_writer(r)))
		return rc;
	if (r->tg && (rc = gs_session_start(&r->ss))) {
		rc = gs_report_error();
	} else if (r->tg && !r->tg->sampler) {
		target_exited = 1;
		stopped_by = "target exited";
	}
	struct gs_interval_sink sink = { r, on_thread, on_interval };
	if (!rc && r->tg && r->tg->sampler && !(r->iv = gs_intervals_new(&sink))) {
		gs_fail(GS_EFAIL, "out of memory");
		gs_report_error();
		rc = GS_EFAIL;
	}
	if (r->iv && !rc) {
		r->last_flush_ns = gs_now_ns();
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "gilsnoop: recording pid %d (Python %s)%s%s to %s; "
				"Ctrl-C to stop\n", (int)r->tg->pid, r->tg->t.ver.str,
				r->ss.ntargets > 1 ? " and others" : "",
				r->o.children ? " with its children" : "", out_name(r));
		struct gs_session_hooks hooks = { r, on_sample, on_ended, on_started };
		int src = gs_session_run(&r->ss, &hooks);
		struct gs_trace_stats st;
		trace_stats(r, &st);
		gs_intervals_finish(r->iv, st.last_ns ? st.last_ns : gs_now_ns());
		if (r->flight)
			gs_flight_finish(r->flight, st.last_ns ? st.last_ns : gs_now_ns(), NULL, 0);
		if (r->w && gs_trace_error(r->w)) {
			stopped_by = "write error";
		} else if (src) {
			rc = gs_report_error();
			stopped_by = "error";
		} else {
			stopped_by = gs_session_stopped_by(&r->ss);
			if (!stopped_by)
				stopped_by = "error";
			target_exited = r->ss.stop == GS_STOP_ENDED;
			/* An exec keeps the pid but replaces the program
			 * (with several targets, the session said so). */
			if (r->tg->execd && !r->ss.multi)
				fprintf(stderr, "gilsnoop: %s; recording stopped\n",
					r->tg->why);
		}
	}
	gs_debug("recording stopped: %s", stopped_by);
	int wrc = finish_output(r, target_exited, stopped_by);
	int frc = finish_folded(r);
	if (!wrc)
		wrc = frc;
	else if (frc)
		gs_report_error();
	print_summary(r, target_exited);
	if (wrc) {
		gs_report_error();
		rc = wrc;
	}
	return rc;
}

/* ------------------------------------------------------------ main */

static int parse_duration(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = s && *s ? strtod(s, &end) : -1;
	if (!s || !*s || *end || errno || !(v > 0) || !isfinite(v) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "children", no_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "stacks", optional_argument, NULL, 'S' },
		{ "stack-rate", required_argument, NULL, 'R' },
		{ "long-hold", required_argument, NULL, 'L' },
		{ "native", no_argument, NULL, 'N' },
		{ "folded", required_argument, NULL, 'O' },
		{ "stall", required_argument, NULL, 'T' },
		{ "keep", required_argument, NULL, 'K' },
		{ 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	o->rate = GS_DEFAULT_RATE_HZ;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:o:d:r:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (gs_parse_pids(optarg, &o->pids, &o->npids))
				return GS_EUSAGE;
			break;
		case 'C': o->children = 1; break;
		case 'o':
			if (!*optarg)
				return gs_usage_fail("record", "empty output file name");
			o->output = optarg;
			break;
		case 'd':
			if (parse_duration(optarg, &o->duration))
				return gs_usage_fail("record", "invalid duration '%s': expected a positive "
						 "number of seconds", optarg);
			break;
		case 'r':
			if (gs_rate_option(optarg, &o->rate))
				return GS_EUSAGE;
			break;
		case 'F':
			o->kind = OUT_TRACE;
			if (!strcmp(optarg, "folded"))
				o->kind = OUT_FOLDED;
			else if (!strcmp(optarg, "speedscope"))
				o->kind = OUT_SPEEDSCOPE;
			else if (gs_trace_format_parse(optarg, &o->fmt))
				return gs_usage_fail("record", "unknown format '%s': expected json, jsonl, "
						 "csv, folded or speedscope", optarg);
			break;
		case 'S':
			if (!optarg || !strcmp(optarg, "holder"))
				o->stacks = STACKS_HOLDER;
			else if (!strcmp(optarg, "all"))
				o->stacks = STACKS_ALL;
			else
				return gs_usage_fail("record", "invalid --stacks '%s': expected "
						 "--stacks, --stacks=holder or --stacks=all", optarg);
			break;
		case 'R':
			if (gs_rate_option(optarg, &o->stack_rate))
				return GS_EUSAGE;
			o->stack_rate_set = 1;
			break;
		case 'L':
			if (parse_duration(optarg, &o->long_hold_ms))
				return gs_usage_fail("record", "invalid --long-hold '%s': expected a "
						 "positive number of milliseconds", optarg);
			o->long_hold_set = 1;
			break;
		case 'N': o->native = 1; break;
		case 'T':
			if (parse_duration(optarg, &o->stall_ms))
				return gs_usage_fail("record", "invalid --stall '%s': expected a "
						 "positive number of milliseconds", optarg);
			break;
		case 'K':
			if (parse_duration(optarg, &o->keep_s) || o->keep_s > 3600)
				return gs_usage_fail("record", "invalid --keep '%s': expected a "
						 "number of seconds up to 3600", optarg);
			o->keep_set = 1;
			break;
		case 'O':
			if (!*optarg)
				return gs_usage_fail("record", "empty --folded file name");
			o->folded = optarg;
			break;
		case 'f': o->force = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return -1;
		default:
			return gs_usage_fail("record", "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->npids && o->cmd)
		return gs_usage_fail("record", "give either -p PID or -- CMD, not both (got '%s')",
				 o->cmd[0]);
	if (!o->npids && !o->cmd)
		return gs_usage_fail("record", "nothing to record: use -p PID or -- CMD");
	if (!o->output)
		return gs_usage_fail("record", "no output file: use -o FILE");
	if (!strcmp(o->output, "-") && o->fmt == GS_TRACE_JSON && o->kind != OUT_FOLDED)
		return gs_usage_fail("record", "-o - (standard output) needs --format jsonl, "
				 "csv or folded");
	if (!o->stacks && (o->kind != OUT_TRACE || o->folded))
		return gs_usage_fail("record", "--format %s and --folded need --stacks "
				 "(the stack samples they are made of)",
				 o->kind == OUT_SPEEDSCOPE ? "speedscope" : "folded");
	if (!o->stacks && o->stack_rate_set)
		return gs_usage_fail("record", "--stack-rate needs --stacks");
	if (!o->stacks && !o->long_hold_set && o->native)
		return gs_usage_fail("record", "--native needs --stacks or --long-hold MS "
				 "(it is taken for long off-CPU holds)");
	if (o->kind == OUT_TRACE && o->fmt == GS_TRACE_CSV && (o->stacks || o->long_hold_set))
		return gs_usage_fail("record", "csv has no room for stacks: use --format json, "
				 "jsonl, folded or speedscope");
	if (o->folded && o->output && !strcmp(o->folded, o->output))
		return gs_usage_fail("record", "--folded and -o name the same file");
	if (o->keep_set && !o->stall_ms)
		return gs_usage_fail("record", "--keep needs --stall MS");
	if (o->stall_ms && (o->kind != OUT_TRACE || o->fmt == GS_TRACE_CSV || o->folded))
		return gs_usage_fail("record", "--stall writes trace windows: use --format json "
				 "or jsonl, without --folded");
	if (o->stall_ms && !strcmp(o->output, "-"))
		return gs_usage_fail("record", "--stall needs -o FILE or -o DIR/, not standard "
				 "output");
	if (!o->keep_set)
		o->keep_s = DEFAULT_KEEP_S;
	if (!o->stack_rate_set)
		o->stack_rate = DEFAULT_STACK_RATE_HZ;
	if (!o->long_hold_set && o->stacks)
		o->long_hold_ms = DEFAULT_LONG_HOLD_MS;
	return 0;
}

static int run(int argc, char **argv)
{
	struct rec *r = calloc(1, sizeof *r);
	int rc;
	if (!r)
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	if ((rc = parse_args(argc, argv, &r->o))) {
		free(r->o.pids);
		free(r);
		return rc < 0 ? GS_OK : gs_report_error();
	}
	r->stack_period_ns = r->o.stack_rate > 0 ? (uint64_t)(1e9 / r->o.stack_rate) : 0;
	r->long_hold_ns = (uint64_t)(r->o.long_hold_ms * 1e6);
	/* The stall's holder gets its stack taken while it stalls, whatever
	 * --stacks says: from half the threshold on, so that a hold that
	 * barely passes it has been looked at. */
	if (r->o.stall_ms && (!r->long_hold_ns || r->long_hold_ns > r->o.stall_ms * 0.5e6))
		r->long_hold_ns = (uint64_t)(r->o.stall_ms * 0.5e6);
	gs_session_init(&r->ss, r->o.rate, r->o.duration);
	gs_session_signals();
	gs_summary_init(&r->sum);
	/* Without it the summary just lacks the culprit part. */
	r->sum.culprit = gs_culprit_new(r->sum.stacks);

	if ((rc = open_output(r))) {
		gs_report_error();
		goto out;
	}
	if (r->o.npids) {
		rc = 0;
		for (size_t i = 0; i < r->o.npids && !rc; i++)
			rc = gs_session_attach(&r->ss, r->o.pids[i]);
	} else if (r->o.children && (rc = gs_session_follow_children(&r->ss))) {
		/* Only out of memory. */
	} else if ((rc = gs_session_launch(&r->ss, r->o.cmd, r->to_stdout)) < 0) {
		rc = 0;
		if (r->ss.child.done)
			gs_warn("%s exited before its Python runtime was ready%s%s%s; "
				"%s holds no samples", r->o.cmd[0],
				r->ss.child.why[0] ? " (" : "", r->ss.child.why,
				r->ss.child.why[0] ? ")" : "", out_name(r));
	}
	if (rc) {
		/* A CMD that could not be attached to runs on unrecorded:
		 * say why, then wait for it as a launcher must. */
		gs_report_error();
		discard_output(r);
		gs_session_wait_child(&r->ss);
		goto out;
	}
	r->tg = r->ss.ntargets ? r->ss.targets[0] : NULL;
	if (r->o.children && r->tg && (rc = gs_session_follow_children(&r->ss))) {
		gs_report_error();
		goto out;
	}
	rc = record(r);
	int code = gs_session_wait_child(&r->ss);
	if (!rc && code >= 0)
		rc = code;
out:
	if (r->out)
		fclose(r->out);
	gs_intervals_free(r->iv);
	gs_trace_writer_free(r->w);
	gs_speedscope_free(r->ss_out);
	gs_flight_free(r->flight);
	free(r->open_list);
	for (size_t i = 0; i < r->npst; i++)
		free_stacks(&r->pst[i]);
	free(r->pst);
	free(r->want.block);
	if (r->folded)
		fclose(r->folded);
	gs_session_free(&r->ss);
	gs_summary_free(&r->sum);
	free(r->open);
	free(r->pstats);
	free(r->gc);
	free(r->o.pids);
	free(r);
	return rc;
}

const struct gs_command gs_cmd_record = {
	.name = "record",
	.summary = "record a GIL timeline (Perfetto, speedscope) and summarise it",
	.usage = usage,
	.run = run,
};
