/* Capture, unwind, symbolise: one thread's native stack. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "stack/native.h"
#include "stack/symbols.h"
#include "stack/symname.h"
#include "stack/unwind.h"

#define MAX_UFRAMES 2048
#define MAX_NFRAMES 4096
#define INLINE_MAX 16
/* Enough for the deepest stack a default 8 MiB thread stack holds; only
 * the used part (from rsp to the end of its mapping) is copied. */
#define STACK_COPY_MAX (8u << 20)

struct gs_native {
	pid_t pid;
	struct gs_symbols *sym;
	struct gs_unwinder *unw;
	struct gs_capture cap;
	struct gs_uframe uf[MAX_UFRAMES];
	struct gs_nframe nf[MAX_NFRAMES];
	const struct gs_native_opts *opts; /* of the capture in progress */
};

int gs_native_open(pid_t pid, const char *root, struct gs_native **out)
{
	struct gs_native *n = calloc(1, sizeof *n);
	int rc;

	*out = NULL;
	if (!n)
		return gs_fail(GS_EFAIL, "out of memory");
	n->pid = pid;
	if ((rc = gs_symbols_open(pid, root, &n->sym)) != 0) {
		free(n);
		return rc;
	}
	if (gs_unwinder_open(pid, n->sym, &n->unw) != 0 ||
	    gs_capture_init(&n->cap, STACK_COPY_MAX) != 0) {
		gs_native_close(n);
		return gs_fail(GS_EFAIL, "out of memory (native unwinder)");
	}
	*out = n;
	return 0;
}

void gs_native_close(struct gs_native *n)
{
	gs_capture_reap(100);
	if (!n)
		return;
	gs_unwinder_close(n->unw);
	gs_symbols_close(n->sym);
	gs_capture_fini(&n->cap);
	free(n);
}

static void window(void *arg, const struct gs_capture *c)
{
	const struct gs_native_opts *o = arg;
	(void)c;
	o->in_window(o->arg);
}

/* One unwound frame as one or more named frames (its inlined calls
 * first).  Only one of them is the eval loop: a frame runs one loop. */
static size_t name_frame(struct gs_native *n, const struct gs_uframe *u,
			 int inline_too, struct gs_nframe *out, size_t room)
{
	struct gs_sym sy[INLINE_MAX];
	size_t k = gs_symbols_describe(n->sym, u->pc, u->exact, inline_too, sy,
				       room < INLINE_MAX ? room : INLINE_MAX);
	int eval_seen = 0;

	for (size_t i = 0; i < k; i++) {
		struct gs_nframe *f = &out[i];
		f->pc = u->pc;
		f->sp = u->sp;
		f->function = sy[i].function;
		f->offset = sy[i].offset;
		f->object = sy[i].object;
		f->objoff = sy[i].objoff;
		f->file = sy[i].file;
		f->line = sy[i].line;
		f->flags = sy[i].inlined ? GS_NFRAME_INLINED : 0;
		if (u->signal)
			f->flags |= GS_NFRAME_SIGNAL;
		switch (gs_symname_kind(f->function)) {
		case GS_FN_EVAL:
			if (!eval_seen++)
				f->flags |= GS_NFRAME_EVAL;
			break;
		case GS_FN_GIL:
			f->flags |= GS_NFRAME_GIL;
			break;
		case GS_FN_OTHER:
			break;
		}
	}
	return k;
}

int gs_native_stack(struct gs_native *n, pid_t tid,
		    const struct gs_native_opts *o, struct gs_nstack *s)
{
	struct gs_capture_opts co = {
		.timeout_ms = o ? o->timeout_ms : 0,
		.maps = gs_symbols_maps(n->sym),
		.in_window = o && o->in_window ? window : NULL,
		.arg = (void *)o,
	};
	struct gs_unwind res;

	memset(s, 0, sizeof *s);
	s->frames = n->nf;
	int rc = gs_capture_thread(&n->cap, n->pid, tid, &co, s->why, sizeof s->why);
	/* A thread that timed out earlier and has stopped since is let go
	 * now rather than at the end. */
	int err = errno;
	gs_capture_reap(0);
	if (rc != 0) {
		errno = err;
		return -1;
	}
	s->held_ns = n->cap.held_ns;
	s->stack_end = n->cap.stack_end;
	s->wait_ns = n->cap.wait_ns;
	s->stop = n->cap.stop;
	s->sig = n->cap.sig;

	gs_unwind_capture(n->unw, &n->cap, n->uf, MAX_UFRAMES, &res);
	s->flags = res.flags;
	snprintf(s->why, sizeof s->why, "%s", res.why);
	for (size_t i = 0; i < res.n; i++) {
		if (s->n == MAX_NFRAMES) {
			s->flags |= GS_UNWIND_TRUNCATED;
			break;
		}
		s->n += name_frame(n, &n->uf[i], !(o && o->no_inline),
				   &n->nf[s->n], MAX_NFRAMES - s->n);
	}
	return 0;
}
