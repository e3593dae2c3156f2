/* The session driver shared by record and top. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/session.h"
#include "core/clock.h"
#include "core/errors.h"
#include "proc/procfs.h"
#include "proc/readfile.h"

/* How often each target is checked for an exit or an exec: every
 * second, and while its samples are torn (the GIL could not be read:
 * an exec keeps the pid but replaces the program) every 20 ms. */
#define CHECK_NS 1000000000ull
#define CHECK_TORN_NS 20000000ull

/* ---- signals ------------------------------------------------------------ */

static struct gs_sigstate sig;

static void on_signal(int signo, siginfo_t *si, void *uc)
{
	(void)uc;
	sig.signo = signo;
	sig.from_tty = si && si->si_code == SI_KERNEL;
	sig.count++;
	sig.stop = 1;
}

void gs_session_signals(void)
{
	struct sigaction sa;
	memset(&sig, 0, sizeof sig);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	/* No SA_RESTART: a signal must cut the sampler's sleep short. */
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed reader (of "-o -", of top -b) shows up as EPIPE on
	 * write instead. */
	signal(SIGPIPE, SIG_IGN);
}

const struct gs_sigstate *gs_session_sigstate(void)
{
	return &sig;
}

const char *gs_signal_name(int signo)
{
	switch (signo) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	}
	return "signal";
}

/* ---- targets ------------------------------------------------------------ */

void gs_session_init(struct gs_session *s, double rate_hz, double duration_s)
{
	memset(s, 0, sizeof *s);
	s->rate_hz = rate_hz;
	s->duration_s = duration_s;
}

void gs_session_free(struct gs_session *s)
{
	for (size_t i = 0; i < s->ntargets; i++) {
		gs_sampler_free(s->targets[i]->sampler);
		gs_target_detach(&s->targets[i]->t);
		free(s->targets[i]);
	}
	free(s->targets);
	s->targets = NULL;
	s->ntargets = 0;
	gs_children_free(&s->tree);
	free(s->cands);
	s->cands = NULL;
	s->ncands = 0;
}

/* A new target, not yet attached.  Targets are allocated one by one:
 * a sampler keeps a pointer to its gs_target. */
static struct gs_session_target *add_target(struct gs_session *s, pid_t pid)
{
	struct gs_session_target **v = realloc(s->targets, (s->ntargets + 1) * sizeof *v);
	if (!v)
		return NULL;
	s->targets = v;
	struct gs_session_target *tg = calloc(1, sizeof *tg);
	if (!tg)
		return NULL;
	tg->pid = pid;
	v[s->ntargets++] = tg;
	return tg;
}

/* The command line, for the process tracks' names: NULs between the
 * arguments become spaces. */
static void read_cmdline(struct gs_session_target *tg)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)tg->pid);
	ssize_t n = gs_read_file(path, tg->cmdline, sizeof tg->cmdline);
	for (ssize_t i = 0; i + 1 < n; i++)
		if (!tg->cmdline[i])
			tg->cmdline[i] = ' ';
	if (n < 0)
		tg->cmdline[0] = 0;
}

/* The live target of process pid, or NULL. */
static struct gs_session_target *target_of(const struct gs_session *s, pid_t pid)
{
	for (size_t i = s->ntargets; i-- > 0;)
		if (s->targets[i]->pid == pid && !s->targets[i]->ended)
			return s->targets[i];
	return NULL;
}

/* Attach to pid; parent, when given, is the target it may have been
 * forked from. */
static int attach_from(struct gs_session *s, pid_t pid, const struct gs_target *parent)
{
	struct gs_session_target *tg = add_target(s, pid);
	if (!tg)
		return gs_fail(GS_EFAIL, "out of memory");
	uint64_t t0 = gs_now_ns();
	int rc = parent ? gs_target_attach_forked(&tg->t, pid, parent, &tg->forked)
			: gs_target_attach(&tg->t, pid);
	tg->attach_ns = gs_now_ns() - t0;
	if (rc) {
		/* A failed attach leaves no target behind: launch mode tries
		 * again. */
		free(tg);
		s->ntargets--;
		return rc;
	}
	tg->attached = 1;
	read_cmdline(tg);
	return 0;
}

static int attach_target(struct gs_session *s, pid_t pid)
{
	return attach_from(s, pid, NULL);
}

int gs_session_attach(struct gs_session *s, pid_t pid)
{
	return attach_target(s, pid);
}

static const struct gs_target *parent_of(const struct gs_session *s, pid_t pid);

struct pids {
	pid_t v[64];
	size_t n;
};

static void collect(void *ctx, pid_t pid)
{
	struct pids *p = ctx;
	if (p->n < sizeof p->v / sizeof p->v[0])
		p->v[p->n++] = pid;
}

static int try_attach(void *ctx, pid_t pid)
{
	struct gs_session *s = ctx;
	int rc = attach_target(s, pid);
	if (!rc || !s->children || rc == GS_EPERM || rc == GS_EUSAGE)
		return rc;
	/* --children: a command that is not Python (a shell, a launcher)
	 * is recorded through its descendants that are. */
	char why[512];
	snprintf(why, sizeof why, "%s", gs_last_error());
	struct pids found = { { 0 }, 0 };
	gs_clear_error();
	if (gs_children_add_root(&s->tree, pid))
		return gs_fail(GS_EFAIL, "out of memory");
	gs_children_scan(&s->tree, collect, &found);
	int any = 0;
	for (size_t i = 0; i < found.n; i++) {
		if (target_of(s, found.v[i]))
			continue;
		if (!attach_from(s, found.v[i], parent_of(s, found.v[i])))
			any = 1;
		gs_clear_error();
	}
	return any ? 0 : gs_fail(rc, "%s", why);
}

int gs_session_launch(struct gs_session *s, char *const argv[], int stdout_to_stderr)
{
	int rc = gs_child_spawn(&s->child, argv, stdout_to_stderr);
	if (rc)
		return rc;
	return gs_child_attach(&s->child, try_attach, s, &sig);
}

static void end_target(struct gs_session *s, struct gs_session_target *tg, int execd,
		       const struct gs_session_hooks *h)
{
	if (tg->sampler && !tg->ended)
		s->live--;
	tg->ended = 1;
	tg->execd = execd;
	s->last_execd = execd;
	snprintf(tg->why, sizeof tg->why, "%s", gs_last_error());
	gs_clear_error();
	/* With several targets the others go on: say which one left.  An
	 * exec'd child may run Python again: it is a candidate anew. */
	if (s->multi && s->live)
		fprintf(stderr, "gilsnoop: %s; following the other %zu process%s\n",
			tg->why, s->live, s->live == 1 ? "" : "es");
	if (h && h->ended)
		h->ended(h->ctx, tg);
}

/* ---- --children --------------------------------------------------------- */

int gs_session_follow_children(struct gs_session *s)
{
	s->children = 1;
	s->multi = 1;
	for (size_t i = 0; i < s->ntargets; i++)
		if (gs_children_add_root(&s->tree, s->targets[i]->pid))
			return gs_fail(GS_EFAIL, "out of memory");
	if (s->child.pid && !target_of(s, s->child.pid) &&
	    gs_children_add_root(&s->tree, s->child.pid))
		return gs_fail(GS_EFAIL, "out of memory");
	return 0;
}

static struct gs_session_cand *cand_of(struct gs_session *s, pid_t pid)
{
	for (size_t i = 0; i < s->ncands; i++)
		if (s->cands[i].pid == pid)
			return &s->cands[i];
	return NULL;
}

static void on_found(void *ctx, pid_t pid)
{
	struct gs_session *s = ctx;
	struct gs_session_cand *c = cand_of(s, pid);
	if (c) {
		c->present = 1;
		return;
	}
	if (target_of(s, pid))
		return;
	/* One that exited is a zombie until reaped: not a candidate.  One
	 * that exec'd may run Python again. */
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i]->pid == pid && s->targets[i]->ended && !s->targets[i]->execd)
			return;
	struct gs_session_cand *v = realloc(s->cands, (s->ncands + 1) * sizeof *v);
	if (!v)
		return;
	s->cands = v;
	uint64_t now = gs_now_ns();
	gs_debug("new descendant %d", (int)pid);
	/* Due at once: tried in the poll that found it. */
	v[s->ncands++] = (struct gs_session_cand){ pid, now, 0, 1 };
}

/* The target pid was forked from, if it is one. */
static const struct gs_target *parent_of(const struct gs_session *s, pid_t pid)
{
	for (size_t i = 0; i < s->tree.n; i++)
		if (s->tree.v[i].pid == pid) {
			const struct gs_session_target *p = target_of(s, s->tree.v[i].ppid);
			return p && p->attached ? &p->t : NULL;
		}
	return NULL;
}

static int start_sampler(struct gs_session *s, struct gs_session_target *tg);

/* Try each candidate that is due; one that attaches becomes a target,
 * sampled from now on. */
static int try_cands(struct gs_session *s, uint64_t now)
{
	size_t k = 0;
	for (size_t i = 0; i < s->ncands; i++) {
		struct gs_session_cand c = s->cands[i];
		if (!c.present)
			continue;  /* gone, or left the tree */
		if (now < c.next_ns) {
			s->cands[k++] = c;
			continue;
		}
		int rc = attach_from(s, c.pid, parent_of(s, c.pid));
		if (!rc) {
			struct gs_session_target *tg = s->targets[s->ntargets - 1];
			if (start_sampler(s, tg)) {
				fprintf(stderr, "gilsnoop: %s; process %d not followed\n",
					gs_last_error(), (int)c.pid);
				gs_clear_error();
				tg->ended = 1;
				continue;
			}
			gs_debug("following process %d (Python %s)%s, attached in %.2f ms",
				 (int)c.pid, tg->t.ver.str, tg->forked ? ", forked: layout reused" : "",
				 tg->attach_ns / 1e6);
			if (tg->sampler && s->hooks && s->hooks->started)
				s->hooks->started(s->hooks->ctx, tg);
			continue;
		}
		if (rc == GS_EPERM || rc == GS_EUNSUPPORTED) {
			/* It will not get better: say so once and leave it. */
			fprintf(stderr, "gilsnoop: %s; not followed\n", gs_last_error());
			gs_clear_error();
			c.next_ns = UINT64_MAX;
			s->cands[k++] = c;
			continue;
		}
		/* Not Python (yet): a spawned interpreter is still starting,
		 * or the child is a shell that will exec one. */
		gs_debug("process %d not followed yet: %s", (int)c.pid, gs_last_error());
		gs_clear_error();
		c.next_ns = now + (now - c.seen_ns < GS_SESSION_RETRY_FAST_NS
				   ? GS_SESSION_CHILDREN_NS : GS_SESSION_RETRY_SLOW_NS);
		s->cands[k++] = c;
	}
	s->ncands = k;
	return 0;
}

static int poll_children(struct gs_session *s, uint64_t now)
{
	if (!s->children || now - s->tree_ns < GS_SESSION_CHILDREN_NS)
		return 0;
	s->tree_ns = now;
	for (size_t i = 0; i < s->ncands; i++)
		s->cands[i].present = 0;
	if (gs_children_scan(&s->tree, on_found, s) < 0)
		return 0;
	return try_cands(s, now);
}

size_t gs_session_live(const struct gs_session *s)
{
	return s->live;
}

void gs_session_pace(struct gs_session *s, double rate_hz, double duration_s)
{
	s->stop = GS_STOP_NONE;
	gs_pace_start(&s->pace, rate_hz, duration_s);
}

static int start_sampler(struct gs_session *s, struct gs_session_target *tg)
{
	if (!(tg->sampler = gs_sampler_new(&tg->t, &gs_procfs_live))) {
		if (gs_last_code() != GS_ENOPROC)
			return gs_last_code();
		end_target(s, tg, 0, NULL);
	} else {
		s->live++;
	}
	tg->check_ns = gs_now_ns();
	return 0;
}

int gs_session_start(struct gs_session *s)
{
	int rc;
	if (s->ntargets > 1)
		s->multi = 1;
	for (size_t i = 0; i < s->ntargets; i++) {
		struct gs_session_target *tg = s->targets[i];
		if (!tg->attached || tg->sampler || tg->ended)
			continue;
		if ((rc = start_sampler(s, tg)))
			return rc;
	}
	gs_session_pace(s, s->rate_hz, s->duration_s);
	/* With --children, a tree whose Python processes are all gone may
	 * still get new ones: the command's pid is kept till it exits. */
	if (!s->live && !s->children)
		s->stop = GS_STOP_ENDED;
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

int gs_session_due(const struct gs_session *s, uint64_t t)
{
	return t >= s->pace.next;
}

/* Sample one target.  Returns 0, or an exit code. */
static int sample_target(struct gs_session *s, struct gs_session_target *tg,
			 const struct gs_session_hooks *h)
{
	const struct gs_sample *smp;
	int execd;
	if (gs_sampler_sample(tg->sampler, &smp)) {
		if (gs_last_code() != GS_ENOPROC) {
			s->stop = GS_STOP_ERROR;
			return gs_last_code();
		}
		end_target(s, tg, 0, h);
		return 0;
	}
	if (smp->t_ns - tg->check_ns >= (smp->torn ? CHECK_TORN_NS : CHECK_NS)) {
		tg->check_ns = smp->t_ns;
		if (gs_target_check(&tg->t, &execd)) {
			end_target(s, tg, execd, h);
			return 0;
		}
	}
	int rc = h && h->sample ? h->sample(h->ctx, tg, smp) : 0;
	if (rc) {
		s->stop = GS_STOP_CALLER;
		s->caller_rc = rc;
	}
	return 0;
}

/* With --children a session whose targets all ended goes on while a
 * root of the tree still runs (a launcher waiting for its workers). */
static int tree_alive(const struct gs_session *s)
{
	if (!s->children)
		return 0;
	for (size_t i = 0; i < s->tree.nroots; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/stat", (int)s->tree.roots[i]);
		char buf[256];
		ssize_t n = gs_read_file(path, buf, sizeof buf);
		const char *p = n > 0 ? strrchr(buf, ')') : NULL;
		if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X')
			return 1;
	}
	return 0;
}

static int step(struct gs_session *s, const struct gs_session_hooks *h, int due)
{
	int prc;
	s->hooks = h;
	if ((prc = poll_children(s, gs_now_ns()))) {
		s->stop = GS_STOP_ERROR;
		return prc;
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		struct gs_session_target *tg = s->targets[i];
		int rc;
		if (!tg->sampler || tg->ended)
			continue;
		if ((rc = sample_target(s, tg, h)))
			return rc;
		if (s->stop == GS_STOP_CALLER)
			break;
	}
	uint64_t t = gs_now_ns();
	if (s->stop == GS_STOP_NONE) {
		if (!s->live && !tree_alive(s))
			s->stop = GS_STOP_ENDED;
		else if (t >= s->pace.end)
			s->stop = GS_STOP_DURATION;
	}
	/* As fast as possible: next stays in the past, always due. */
	if (due && s->pace.period)
		gs_pace_advance(&s->pace, t);
	return 0;
}

int gs_session_step(struct gs_session *s, const struct gs_session_hooks *h)
{
	return step(s, h, gs_session_due(s, gs_now_ns()));
}

int gs_session_wait(struct gs_session *s, uint64_t until, int fd)
{
	uint64_t next = s->live ? s->pace.next : UINT64_MAX;
	if (until && until < next)
		next = until;
	if (s->children && s->tree_ns + GS_SESSION_CHILDREN_NS < next)
		next = s->tree_ns + GS_SESSION_CHILDREN_NS;
	return gs_pace_wait(&s->pace, next, fd, &sig.stop);
}

int gs_session_run(struct gs_session *s, const struct gs_session_hooks *h)
{
	while (s->stop == GS_STOP_NONE) {
		if (sig.stop) {
			s->stop = GS_STOP_SIGNAL;
			break;
		}
		/* Due, unless the wait below ended early for the /proc poll
		 * of --children: then only that poll runs. */
		int rc;
		if (gs_session_due(s, gs_now_ns()) || !s->live)
			rc = step(s, h, 1);
		else
			rc = (s->hooks = h, poll_children(s, gs_now_ns()));
		if (rc)
			return rc;
		if (s->stop != GS_STOP_NONE)
			break;
		if (s->pace.period)
			gs_session_wait(s, 0, -1);
	}
	return 0;
}

const char *gs_session_stopped_by(const struct gs_session *s)
{
	switch (s->stop) {
	case GS_STOP_SIGNAL:
		return gs_signal_name(sig.signo);
	case GS_STOP_DURATION:
		return sig.stop ? gs_signal_name(sig.signo) : "duration";
	case GS_STOP_ENDED:
		return s->last_execd ? "target exec'd" : "target exited";
	case GS_STOP_ERROR:
		return "error";
	case GS_STOP_NONE:
	case GS_STOP_CALLER:
		break;
	}
	return NULL;
}

/* ---- a started command -------------------------------------------------- */

int gs_session_wait_child(struct gs_session *s)
{
	if (!s->child.pid)
		return -1;
	gs_child_forward(&s->child, &sig);
	gs_child_wait(&s->child, &sig);
	return s->child.done ? gs_child_exit_code(&s->child) : -1;
}
