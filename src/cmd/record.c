/* gilsnoop record: sample a process's GIL roles into a trace file as it
 * runs, and print a summary when recording stops. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cmd/commands.h"
#include "core/errors.h"
#include "model/intervals.h"
#include "sample/sampler.h"
#include "model/summary.h"
#include "sink/summary_print.h"
#include "runtime/target.h"
#include "proc/taskstat.h"
#include "sink/trace_writer.h"

static const char usage[] =
	"Usage: gilsnoop record -p PID -o FILE [-d SECONDS] [-r RATE] [OPTIONS]\n"
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
	"sampling rate achieved.\n"
	"\n"
	"With -- CMD, gilsnoop starts CMD (which must be, or exec, the Python\n"
	"process), records from the moment its runtime is initialised, and\n"
	"exits with CMD's exit status (128+N when signal N killed it).  A\n"
	"SIGINT, SIGTERM or SIGHUP sent to gilsnoop alone is passed on to CMD.\n"
	"With -o -, CMD's standard output goes to standard error.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID           process to record\n"
	"  -o, --output FILE       file to write (required); never overwritten\n"
	"                          without --force; \"-\" is standard output\n"
	"                          (jsonl and csv only)\n"
	"  -d, --duration SECONDS  stop after this long\n"
	"  -r, --rate HZ|max       samples per second (default 1000, k suffix\n"
	"                          allowed); max: as fast as possible\n"
	"      --format FMT        json (Trace Event JSON, default), jsonl or csv\n"
	"      --force             overwrite FILE if it exists\n"
	"  -v, --verbose           explain each step\n"
	"  -h, --help              show this help\n"
	"\n"
	"FILE is written as events happen and flushed every second, so a\n"
	"recording cut off by SIGKILL or a crash loses only its last second or\n"
	"so, and 'gilsnoop report FILE' still reads it.\n"
	"\n"
	"Exit status: 0 when recorded (also when the target exited); 1 when\n"
	"FILE exists, cannot be created or could not be written completely\n"
	"(\"FILE is incomplete: REASON\"); 2 bad command line; 3-6 as for\n"
	"info.  With -- CMD: CMD's status, or 127 (not found) or 126 (not\n"
	"executable) when it cannot be run.\n"
	"See gilsnoop-record(1) and docs/trace-format.md.\n";

#define FLUSH_NS 1000000000ull
/* How often the target is checked for an exec: every second, and when
 * samples are torn (the GIL could not be read) every 20 ms. */
#define CHECK_NS 1000000000ull
#define CHECK_TORN_NS 20000000ull
/* Launch mode polls for the runtime every millisecond at first, then
 * backs off so that a CMD that never becomes Python costs little. */
#define POLL_FAST_NS 1000000L
#define POLL_SLOW_NS 20000000L
#define POLL_FAST_FOR_NS 3000000000ull

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t last_signo;
static volatile sig_atomic_t nsignals;
/* The last signal came from the terminal (the kernel sends those to
 * the whole foreground process group, CMD included). */
static volatile sig_atomic_t last_from_tty;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	last_signo = sig;
	last_from_tty = si && si->si_code == SI_KERNEL;
	nsignals++;
	stop_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	/* No SA_RESTART: a signal must cut the sampler's sleep short. */
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed reader of "-o -" shows up as EPIPE on write instead. */
	signal(SIGPIPE, SIG_IGN);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct opts {
	pid_t pid;
	const char *output;
	double duration, rate;
	enum gs_trace_format fmt;
	int force;
	char **cmd;
};

struct rec {
	struct opts o;
	struct gs_target t;
	struct gs_sampler *s;
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
	pid_t child;
	int child_status, child_done;
	int forwarded;            /* signals passed on to the child so far */
	uint64_t check_ns;        /* last gs_target_check() */
	int gone, execd;          /* the check found the target gone */
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
		if (w < 0 && errno == EINTR && nsignals < 2)
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

static void on_thread(void *ctx, pid_t tid, const char *name, int is_python)
{
	struct rec *r = ctx;
	gs_summary_name(&r->sum, tid, name, is_python);
	gs_trace_thread(r->w, tid, name, is_python);
}

static void on_interval(void *ctx, const struct gs_interval *iv)
{
	struct rec *r = ctx;
	const struct gs_thread_summary *t = gs_summary_thread(&r->sum, iv->tid);
	gs_trace_interval(r->w, iv, t ? t->name : "");
	gs_summary_add(&r->sum, iv);
}

static void trace_stats(const struct rec *r, struct gs_trace_stats *out)
{
	struct gs_sampler_stats st;
	memset(out, 0, sizeof *out);
	if (!r->s)
		return;
	gs_sampler_stats(r->s, &st);
	out->samples = st.samples;
	out->torn = st.torn;
	out->switches = st.switches;
	out->missed = st.missed;
	out->first_ns = st.first_ns;
	out->last_ns = st.last_ns;
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
		const struct gs_interval *iv = gs_intervals_open(r->iv, r->sum.t[i].tid);
		if (iv)
			r->open[n++] = (struct gs_trace_open){ iv, r->sum.t[i].name };
	}
	trace_stats(r, &st);
	gs_trace_progress(r->w, t_ns, &st, r->open, n);
}

/* A thread the intervals still track (a gone one was dropped). */
static int thread_alive(void *ctx, pid_t tid)
{
	const struct rec *r = ctx;
	return gs_intervals_open(r->iv, tid) != NULL;
}

static int on_sample(void *ctx, const struct gs_sample *smp)
{
	struct rec *r = ctx;
	/* An exec keeps the pid but replaces the program: the GIL's memory
	 * is gone (torn samples) or belongs to the new image. */
	if (smp->t_ns - r->check_ns >= (smp->torn ? CHECK_TORN_NS : CHECK_NS)) {
		r->check_ns = smp->t_ns;
		if (gs_target_check(&r->t, &r->execd)) {
			r->gone = 1;
			return 1;
		}
	}
	gs_intervals_feed(r->iv, smp);
	if (!smp->torn) {
		unsigned waiters = 0;
		for (size_t i = 0; i < smp->nthreads; i++)
			waiters += smp->threads[i].role == GS_ROLE_WAITING;
		gs_trace_waiters(r->w, smp->t_ns, waiters);
	}
	if (smp->t_ns - r->last_flush_ns >= FLUSH_NS) {
		progress(r, smp->t_ns);
		gs_trace_flush(r->w);
		r->last_flush_ns = smp->t_ns;
		/* A target that churns through threads must not grow the
		 * summary without bound. */
		gs_summary_fold_gone(&r->sum, thread_alive, r);
	}
	return gs_trace_error(r->w) != 0;
}

/* ---------------------------------------------------------- launch */

/* Start CMD.  Exec failures come back through a close-on-exec pipe so
 * that they are reported here, before anything is recorded. */
static int spawn(struct rec *r)
{
	int p[2], e = 0;
	if (pipe2(p, O_CLOEXEC))
		return gs_fail(GS_EFAIL, "cannot start %s: %s", r->o.cmd[0], strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return gs_fail(GS_EFAIL, "cannot start %s: %s", r->o.cmd[0], strerror(e));
	}
	if (pid == 0) {
		/* An ignored signal stays ignored across exec. */
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		/* With -o - standard output carries the recording: CMD's
		 * own output would corrupt it, so it goes to stderr. */
		if (r->to_stdout && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(r->o.cmd[0], r->o.cmd);
		e = errno;
		if (write(p[1], &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	ssize_t n;
	while ((n = read(p[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return gs_fail(e == ENOENT ? 127 : 126, "cannot run %s: %s",
			       r->o.cmd[0], strerror(e));
	}
	r->child = pid;
	gs_debug("started %s as pid %d", r->o.cmd[0], (int)pid);
	return 0;
}

static int reap(struct rec *r, int options)
{
	if (r->child_done)
		return 1;
	pid_t w = waitpid(r->child, &r->child_status, options);
	if (w == r->child)
		r->child_done = 1;
	return r->child_done;
}

/* Pass on signals that reached gilsnoop alone; the terminal's reach
 * CMD anyway, and a second SIGINT would break its clean-up. */
static void forward_signals(struct rec *r)
{
	int n = nsignals;
	if (!r->child || r->child_done || n == r->forwarded)
		return;
	r->forwarded = n;
	if (!last_from_tty)
		kill(r->child, last_signo);
}

static int child_exit_code(const struct rec *r)
{
	if (WIFEXITED(r->child_status))
		return WEXITSTATUS(r->child_status);
	if (WIFSIGNALED(r->child_status))
		return 128 + WTERMSIG(r->child_status);
	return GS_EFAIL;
}

static void wait_child(struct rec *r)
{
	while (r->child && !r->child_done) {
		forward_signals(r);
		if (!reap(r, 0) && errno != EINTR)
			break;
	}
}

/* Poll until CMD's runtime is initialised.  Returns 0 when attached, -1
 * when CMD exited or a signal came first, or an exit code. */
#define ATTACH_SETTLE_NS (1000ull * 1000 * 1000)

static int attach_child(struct rec *r)
{
	uint64_t start = now_ns(), failing_since = 0;
	for (;;) {
		if (stop_flag || reap(r, WNOHANG))
			return -1;
		int rc = gs_target_attach(&r->t, r->child);
		if (!rc)
			return 0;
		/* While the loader is still mapping libpython, or the runtime
		 * is half-built, any other answer can be transient: only one
		 * that persists is believed. */
		if (rc == GS_EPERM || rc == GS_EUSAGE)
			return rc;
		if (rc != GS_ENOTPY && rc != GS_ENOPROC) {
			if (!failing_since)
				failing_since = now_ns();
			else if (now_ns() - failing_since > ATTACH_SETTLE_NS)
				return rc;
		} else {
			failing_since = 0;
		}
		gs_clear_error();
		long ns = now_ns() - start < POLL_FAST_FOR_NS ? POLL_FAST_NS : POLL_SLOW_NS;
		nanosleep(&(struct timespec){ 0, ns }, NULL);
	}
}

/* ------------------------------------------------------- recording */

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	}
	return "signal";
}

static int start_writer(struct rec *r, int attached)
{
	pid_t pid = attached ? r->t.pid : r->child;
	gs_task_comm(pid, pid, r->comm, sizeof r->comm);
	if (!strcmp(r->comm, "?") && r->o.cmd) {
		/* CMD is gone already: name it as it was started. */
		const char *base = strrchr(r->o.cmd[0], '/');
		snprintf(r->comm, sizeof r->comm, "%s", base ? base + 1 : r->o.cmd[0]);
	}
	struct gs_trace_header h = {
		.pid = pid,
		.comm = r->comm,
		.python_version = attached ? r->t.ver.str : NULL,
		.gilsnoop_version = PACKAGE_VERSION,
		.rate_hz = r->o.rate,
	};
	/* --force: the old file goes only now that the new one starts.
	 * (EINVAL: not a regular file after all.) */
	if (r->truncate && ftruncate(r->out_fd, 0) != 0 && errno != EINVAL)
		return gs_fail(GS_EFAIL, "cannot overwrite %s: %s", out_name(r),
			       strerror(errno));
	r->truncate = 0;
	if (!(r->w = gs_trace_writer_new(r->out, r->o.fmt, &h)))
		return gs_fail(GS_EFAIL, "out of memory");
	/* The header alone makes a file killed at once recognisable. */
	gs_trace_flush(r->w);
	return 0;
}

/* Finish the file and close it.  Returns 0 or GS_EFAIL with the
 * message recorded. */
static int finish_output(struct rec *r, int target_exited, const char *stopped_by)
{
	struct gs_trace_stats st;
	trace_stats(r, &st);
	int failed = gs_trace_finish(r->w, &st, target_exited, stopped_by) != 0;
	int err = gs_trace_error(r->w);
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
	r->sum.run.pid = r->t.pid ? r->t.pid : r->child;
	snprintf(r->sum.run.python_version, sizeof r->sum.run.python_version, "%s",
		 r->t.pid ? r->t.ver.str : "");
	gs_summary_print_text(f, &r->sum);
	fflush(f);
}

/* Sample until told to stop; then close every interval, finish the
 * file and print the summary.  Returns 0 or an exit code. */
static int record(struct rec *r, int attached)
{
	int rc = 0, target_exited = r->child_done, sampler_rc = 0;
	const char *stopped_by = stop_flag ? signal_name(last_signo)
		: r->child_done ? "target exited" : "error";

	if ((rc = start_writer(r, attached)))
		return rc;
	if (attached && !(r->s = gs_sampler_new(&r->t))) {
		if (gs_last_code() != GS_ENOPROC) {
			rc = gs_report_error();
		} else {
			target_exited = 1;
			stopped_by = "target exited";
		}
	}
	struct gs_interval_sink sink = { r, on_thread, on_interval };
	if (r->s && !(r->iv = gs_intervals_new(&sink))) {
		gs_fail(GS_EFAIL, "out of memory");
		gs_report_error();
		rc = GS_EFAIL;
	}
	if (r->s && r->iv && !rc) {
		r->last_flush_ns = r->check_ns = now_ns();
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "gilsnoop: recording pid %d (Python %s) to %s; "
				"Ctrl-C to stop\n", (int)r->t.pid, r->t.ver.str, out_name(r));
		sampler_rc = gs_sampler_run(r->s, r->o.rate, r->o.duration, &stop_flag,
					    on_sample, r);
		struct gs_sampler_stats st;
		gs_sampler_stats(r->s, &st);
		gs_intervals_finish(r->iv, st.last_ns ? st.last_ns : now_ns());
		if (gs_trace_error(r->w)) {
			stopped_by = "write error";
		} else if (r->gone) {
			target_exited = 1;
			stopped_by = r->execd ? "target exec'd" : "target exited";
			if (r->execd)
				fprintf(stderr, "gilsnoop: %s; recording stopped\n",
					gs_last_error());
		} else if (sampler_rc < 0 && gs_last_code() == GS_ENOPROC)
			target_exited = 1, stopped_by = "target exited";
		else if (sampler_rc < 0)
			rc = gs_report_error(), stopped_by = "error";
		else if (stop_flag)
			stopped_by = signal_name(last_signo);
		else
			stopped_by = "duration";
	}
	gs_debug("recording stopped: %s", stopped_by);
	int wrc = finish_output(r, target_exited, stopped_by);
	print_summary(r, target_exited);
	if (wrc) {
		gs_report_error();
		rc = wrc;
	}
	return rc;
}

/* ------------------------------------------------------------ main */

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("gilsnoop record: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run 'gilsnoop help record'\n", stderr);
	return GS_EUSAGE;
}

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
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
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
			if (!(o->pid = gs_parse_pid(optarg)))
				return gs_report_error();
			break;
		case 'o':
			if (!*optarg)
				return bad_usage("empty output file name");
			o->output = optarg;
			break;
		case 'd':
			if (parse_duration(optarg, &o->duration))
				return bad_usage("invalid duration '%s': expected a positive "
						 "number of seconds", optarg);
			break;
		case 'r':
			if ((o->rate = gs_parse_rate(optarg)) < 0)
				return bad_usage("invalid rate '%s': expected a number of Hz "
						 "(1 to 10M, k suffix allowed) or 'max'", optarg);
			break;
		case 'F':
			if (gs_trace_format_parse(optarg, &o->fmt))
				return bad_usage("unknown format '%s': expected json, jsonl "
						 "or csv", optarg);
			break;
		case 'f': o->force = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return -1;
		default:
			return bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->pid && o->cmd)
		return bad_usage("give either -p PID or -- CMD, not both (got '%s')",
				 o->cmd[0]);
	if (!o->pid && !o->cmd)
		return bad_usage("nothing to record: use -p PID or -- CMD");
	if (!o->output)
		return bad_usage("no output file: use -o FILE");
	if (!strcmp(o->output, "-") && o->fmt == GS_TRACE_JSON)
		return bad_usage("-o - (standard output) needs --format jsonl or csv");
	return 0;
}

static int run(int argc, char **argv)
{
	struct rec *r = calloc(1, sizeof *r);
	int rc;
	if (!r)
		return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
	if ((rc = parse_args(argc, argv, &r->o))) {
		free(r);
		return rc < 0 ? GS_OK : rc;
	}
	stop_flag = 0;
	install_signals();
	gs_summary_init(&r->sum);

	if ((rc = open_output(r))) {
		gs_report_error();
		goto out;
	}
	int attached = 0;
	if (r->o.pid) {
		if ((rc = gs_target_attach(&r->t, r->o.pid))) {
			gs_report_error();
			discard_output(r);
			goto out;
		}
		attached = 1;
	} else {
		if ((rc = spawn(r))) {
			gs_report_error();
			discard_output(r);
			goto out;
		}
		rc = attach_child(r);
		if (rc > 0) {
			/* CMD runs on unrecorded: say why, then wait for it as
			 * a launcher must. */
			gs_report_error();
			discard_output(r);
			wait_child(r);
			goto out;
		}
		attached = rc == 0;
		rc = 0;
		if (!attached && r->child_done)
			gs_warn("%s exited before its Python runtime was initialised; "
				"%s holds no samples", r->o.cmd[0], out_name(r));
	}
	rc = record(r, attached);
	if (r->child) {
		forward_signals(r);
		wait_child(r);
		if (!rc && r->child_done)
			rc = child_exit_code(r);
	}
out:
	if (r->out)
		fclose(r->out);
	gs_sampler_free(r->s);
	gs_intervals_free(r->iv);
	gs_trace_writer_free(r->w);
	gs_target_detach(&r->t);
	gs_summary_free(&r->sum);
	free(r->open);
	free(r);
	return rc;
}

const struct gs_command gs_cmd_record = {
	.name = "record",
	.summary = "record a GIL timeline (Perfetto, speedscope) and summarise it",
	.usage = usage,
	.run = run,
};
