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

static int attach_target(struct gs_session *s, pid_t pid)
{
	struct gs_session_target *tg = add_target(s, pid);
	if (!tg)
		return gs_fail(GS_EFAIL, "out of memory");
	int rc = gs_target_attach(&tg->t, pid);
	if (rc) {
		/* A failed attach leaves no target behind: launch mode tries
		 * again. */
		free(tg);
		s->ntargets--;
		return rc;
	}
	tg->attached = 1;
	return 0;
}

int gs_session_attach(struct gs_session *s, pid_t pid)
{
	return attach_target(s, pid);
}

static int try_attach(void *ctx, pid_t pid)
{
	return attach_target(ctx, pid);
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
	if (h && h->ended)
		h->ended(h->ctx, tg);
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

int gs_session_start(struct gs_session *s)
{
	for (size_t i = 0; i < s->ntargets; i++) {
		struct gs_session_target *tg = s->targets[i];
		if (!tg->attached || tg->sampler || tg->ended)
			continue;
		if (!(tg->sampler = gs_sampler_new(&tg->t, &gs_procfs_live))) {
			if (gs_last_code() != GS_ENOPROC)
				return gs_last_code();
			end_target(s, tg, 0, NULL);
		} else {
			s->live++;
		}
		tg->check_ns = gs_now_ns();
	}
	gs_session_pace(s, s->rate_hz, s->duration_s);
	if (!s->live)
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

static int step(struct gs_session *s, const struct gs_session_hooks *h, int due)
{
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
		if (!s->live)
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
	return gs_pace_wait(&s->pace, next, fd, &sig.stop);
}

int gs_session_run(struct gs_session *s, const struct gs_session_hooks *h)
{
	while (s->stop == GS_STOP_NONE) {
		if (sig.stop) {
			s->stop = GS_STOP_SIGNAL;
			break;
		}
		/* Due: the wait below lasts until the next sample. */
		int rc = step(s, h, 1);
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
