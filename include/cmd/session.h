/* One sampling session, the driver that record and top (and later dump
 * and multi-process recording) share: attach to the targets (by pid, or
 * by starting a command and attaching once its runtime is initialised),
 * pace the samples, check every target now and then for exit and exec,
 * turn SIGINT, SIGTERM and SIGHUP into a clean stop, and say why the
 * session stopped.  The commands bring their options and their sinks.
 *
 * Targets are an array (-p PID,PID..., or -- CMD, and with --children
 * every descendant that runs Python, found by polling /proc every
 * GS_SESSION_CHILDREN_NS); each is sampled by its own sampler, in one
 * loop, and drops out alone when it exits or exec's.  A child forked
 * after attach reuses its parent's located runtime and layout (the same
 * mapped object at the same address) instead of parsing them again. */
#ifndef GS_SESSION_H
#define GS_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/children.h"
#include "proc/launch.h"
#include "runtime/target.h"
#include "sample/pace.h"
#include "sample/sampler.h"

struct gs_session_target {
	pid_t pid;
	struct gs_target t;          /* the located runtime, once attached */
	struct gs_sampler *sampler;  /* from gs_session_start; NULL when the
				      * target ended before */
	int attached;
	int ended;                   /* exited or exec'd: sampled no more */
	int execd;                   /* ... by an exec */
	char why[256];               /* why it ended: "process N exited",
				      * "process N exec'd PATH" */
	uint64_t check_ns;           /* its last exit / exec check */
	int forked;                  /* runtime and layout copied from the
				      * parent it was forked from */
	uint64_t attach_ns;          /* how long attaching took */
	char cmdline[1024];          /* /proc/PID/cmdline, spaces between */
};

/* --children: how often /proc is polled for new descendants, and how
 * long a descendant that is not (yet) Python is tried at every poll
 * before it is tried only every GS_SESSION_RETRY_SLOW_NS. */
#define GS_SESSION_CHILDREN_NS 100000000ull
#define GS_SESSION_RETRY_FAST_NS 5000000000ull
#define GS_SESSION_RETRY_SLOW_NS 2000000000ull

/* A descendant not attached yet. */
struct gs_session_cand {
	pid_t pid;
	uint64_t seen_ns, next_ns;
	int present;                 /* found by the last scan */
};

enum gs_stop {
	GS_STOP_NONE = 0,
	GS_STOP_SIGNAL,              /* SIGINT, SIGTERM or SIGHUP (signo) */
	GS_STOP_DURATION,
	GS_STOP_CALLER,              /* a hook returned nonzero (caller_rc) */
	GS_STOP_ENDED,               /* every target exited or exec'd */
	GS_STOP_ERROR,               /* a sampler failed (message recorded) */
};

struct gs_session {
	double rate_hz, duration_s;
	struct gs_session_target **targets;
	size_t ntargets;
	size_t live;                 /* targets with a sampler, not ended */
	struct gs_child child;       /* -- CMD; child.pid is 0 otherwise */
	struct gs_pace pace;
	enum gs_stop stop;
	int caller_rc;               /* GS_STOP_CALLER: what the hook returned */
	int last_execd;              /* the last target to end exec'd */
	int children;                /* --children: follow descendants */
	int multi;                   /* more than one target may be sampled:
				      * say on stderr when one ends */
	struct gs_children tree;
	uint64_t tree_ns;            /* the last /proc scan */
	struct gs_session_cand *cands;
	size_t ncands;
	const struct gs_session_hooks *hooks; /* of the running loop */
};

struct gs_session_hooks {
	void *ctx;
	/* One sample of target tg (already checked for exit and exec).
	 * Nonzero stops the session (GS_STOP_CALLER, caller_rc). */
	int (*sample)(void *ctx, struct gs_session_target *tg,
		      const struct gs_sample *smp);
	/* tg exited or exec'd (tg->why says which), once; may be NULL. */
	void (*ended)(void *ctx, struct gs_session_target *tg);
	/* tg got its sampler after the session started (a new child);
	 * may be NULL. */
	void (*started)(void *ctx, struct gs_session_target *tg);
};

void gs_session_init(struct gs_session *s, double rate_hz, double duration_s);
/* Frees the samplers and targets; a started command is not waited for
 * (gs_session_wait_child). */
void gs_session_free(struct gs_session *s);

/* Install the handlers of SIGINT, SIGTERM and SIGHUP (a clean stop: they
 * cut any wait short, and a second one gives up on a blocked write) and
 * ignore SIGPIPE (a closed reader shows as EPIPE).  Before curses, so
 * that curses keeps its hands off them. */
void gs_session_signals(void);
/* What the handlers saw. */
const struct gs_sigstate *gs_session_sigstate(void);
/* "SIGINT", "SIGTERM", "SIGHUP" or "signal". */
const char *gs_signal_name(int signo);

/* Attach to process pid and add it as a target.  Returns 0, or an exit
 * code with the message recorded. */
int gs_session_attach(struct gs_session *s, pid_t pid);
/* Follow the descendants of every target attached so far, and of the
 * started command (--children).  Call after the attach or launch.
 * Returns 0, or an exit code with the message recorded. */
int gs_session_follow_children(struct gs_session *s);

/* Start argv and add it as a target once its runtime is initialised
 * (see gs_child_attach).  Returns 0 when attached; -1 when the command
 * exited, or a stop signal came, before that (s->child says which); or
 * an exit code with the message recorded: 127/126 when it could not be
 * run (no command then), else why it could not be attached (the
 * command runs on: wait for it). */
int gs_session_launch(struct gs_session *s, char *const argv[], int stdout_to_stderr);

/* Make the samplers and start pacing.  A target that exited meanwhile
 * just ends (tg->why).  Returns 0, or an exit code with the message
 * recorded. */
int gs_session_start(struct gs_session *s);
/* (Re)start pacing at rate_hz for duration_s from now, clearing a
 * previous stop (gs_session_start does it with the session's own). */
void gs_session_pace(struct gs_session *s, double rate_hz, double duration_s);
/* How many targets are still sampled. */
size_t gs_session_live(const struct gs_session *s);

/* The loop, for a caller that owns it (top): gs_session_due() says a
 * sample is due at t; gs_session_step() takes one of every live target
 * now (also when not due: top samples at each refresh), calls the hooks
 * and advances the pacing; gs_session_wait() sleeps until the next
 * sample or until `until` (0: no limit of the caller's), whichever comes
 * first, or until fd (-1: none) is readable.  step returns 0 (s->stop
 * set when the session should end), or an exit code when a sampler
 * failed.  wait returns as gs_pace_wait. */
int gs_session_due(const struct gs_session *s, uint64_t t);
int gs_session_step(struct gs_session *s, const struct gs_session_hooks *h);
int gs_session_wait(struct gs_session *s, uint64_t until, int fd);

/* The loop, whole: step and wait until the session stops.  Returns 0
 * (s->stop says why), or an exit code when a sampler failed. */
int gs_session_run(struct gs_session *s, const struct gs_session_hooks *h);

/* Why the session stopped, for recordings' "stopped_by": a signal's
 * name (a signal wins over the duration), "duration", "target exited",
 * "target exec'd", "error"; NULL for GS_STOP_CALLER and GS_STOP_NONE. */
const char *gs_session_stopped_by(const struct gs_session *s);

/* With a started command: pass on pending signals and wait for it to
 * end.  Returns its status as an exit code (gs_child_exit_code), or -1
 * when there is none to report. */
int gs_session_wait_child(struct gs_session *s);

#endif
