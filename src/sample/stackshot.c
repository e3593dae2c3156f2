/* Stacks as frame strings: the formatting of runtime/pystack and
 * stack/native frames, with the buffers the recorders reuse. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "runtime/pystack.h"
#include "sample/stackshot.h"
#include "stack/native.h"

/* One formatted frame: function and file bounds plus the decoration. */
#define FRAME_MAX (GS_PYFRAME_FUNC_MAX + GS_PYFRAME_FILE_MAX + 32)

struct gs_stackshot {
	const struct gs_target *t;
	struct gs_pystack_reader *py;
	struct gs_native *nat;
	char text[GS_STACKSHOT_DEPTH][FRAME_MAX];
	const char *ptr[GS_STACKSHOT_DEPTH];
	/* The last Python read's stacks (one, or a batch's), grown to the
	 * most threads asked. */
	struct gs_pyframe *mpf;   /* mcap * GS_STACKSHOT_DEPTH */
	struct gs_pystack *mps;
	size_t mcap;
	char why[160];
	struct gs_stackshot_stats st;
};

int gs_stackshot_open(const struct gs_target *t, int native, struct gs_stackshot **out)
{
	struct gs_stackshot *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return gs_fail(GS_EFAIL, "out of memory");
	s->t = t;
	for (size_t i = 0; i < GS_STACKSHOT_DEPTH; i++)
		s->ptr[i] = s->text[i];
	if ((rc = gs_pystack_open(t, &s->py))) {
		free(s);
		return rc;
	}
	/* A busy holder moves on between reads; a torn stack is flagged
	 * rather than retried, which would slow the sampler. */
	gs_pystack_set_retries(s->py, 1);
	if (native && (rc = gs_native_open(t->pid, t->root, &s->nat))) {
		gs_stackshot_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void gs_stackshot_close(struct gs_stackshot *s)
{
	if (!s)
		return;
	gs_pystack_close(s->py);
	free(s->mpf);
	free(s->mps);
	if (s->nat)
		gs_native_close(s->nat);
	free(s);
}

static uint64_t mix(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return v;
}

/* A Python stack read: counted, and its key. */
static void took(struct gs_stackshot *s, const struct gs_pystack *ps, struct gs_shot *out)
{
	s->st.python++;
	s->st.reads += ps->reads;
	out->n = ps->n;
	out->flags = ps->flags;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ps->n;
	for (size_t i = 0; i < ps->n; i++)
		h = mix(mix(h ^ ps->frames[i].ident) ^ (uint64_t)(uint32_t)ps->frames[i].line);
	out->key = h ? h : 1;
}

/* Room for n stacks, emptied; -1 with errno ENOMEM. */
static int stacks_for(struct gs_stackshot *s, size_t n)
{
	if (n > s->mcap) {
		struct gs_pyframe *f = realloc(s->mpf, n * GS_STACKSHOT_DEPTH * sizeof *f);
		if (!f)
			return errno = ENOMEM, -1;
		s->mpf = f;
		struct gs_pystack *p = realloc(s->mps, n * sizeof *p);
		if (!p)
			return errno = ENOMEM, -1;
		s->mps = p;
		s->mcap = n;
	}
	for (size_t i = 0; i < n; i++)
		s->mps[i] = (struct gs_pystack){ .frames = s->mpf + i * GS_STACKSHOT_DEPTH,
						 .cap = GS_STACKSHOT_DEPTH };
	return 0;
}

int gs_stackshot_python(struct gs_stackshot *s, uint64_t tstate, struct gs_shot *out)
{
	*out = (struct gs_shot){ .frames = s->ptr };
	if (stacks_for(s, 1) != 0 || gs_pystack_read(s->py, tstate, &s->mps[0]) != 0)
		return -1;
	took(s, &s->mps[0], out);
	return 0;
}

int gs_stackshot_python_many(struct gs_stackshot *s, const uint64_t *tstates,
			     size_t n, struct gs_shot *out, int *rc)
{
	if (stacks_for(s, n) != 0 || gs_pystack_read_many(s->py, tstates, n, s->mps, rc) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct gs_shot){ .frames = s->ptr };
		if (rc[i] == 0)
			took(s, &s->mps[i], &out[i]);
	}
	return 0;
}

void gs_stackshot_format(struct gs_stackshot *s, size_t i, struct gs_shot *out)
{
	const struct gs_pystack *ps = &s->mps[i];
	for (size_t k = 0; k < ps->n; k++)
		gs_pyframe_format(&ps->frames[k], s->text[k], FRAME_MAX);
	out->frames = s->ptr;
	out->n = ps->n;
}

static void native_frame(const struct gs_nframe *f, char *buf, size_t n)
{
	const char *obj = f->object ? strrchr(f->object, '/') : NULL;
	obj = obj ? obj + 1 : f->object ? f->object : "?";
	if (f->function && f->file && f->line > 0)
		snprintf(buf, n, "%s (%s:%d)", f->function, f->file, f->line);
	else if (f->function)
		snprintf(buf, n, "%s+%#" PRIx64 " (%s)", f->function, f->offset, obj);
	else
		snprintf(buf, n, "%#" PRIx64 " (%s)", f->pc, obj);
}

int gs_stackshot_native(struct gs_stackshot *s, pid_t tid, struct gs_shot *out)
{
	struct gs_nstack ns;
	struct gs_native_opts o = { .no_inline = 0 };
	out->n = 0;
	out->frames = s->ptr;
	out->flags = 0;
	out->key = 0;
	if (!s->nat) {
		snprintf(s->why, sizeof s->why, "native stacks not opened");
		return -1;
	}
	if (gs_native_stack(s->nat, tid, &o, &ns) != 0) {
		s->st.native_failed++;
		snprintf(s->why, sizeof s->why, "%s", ns.why);
		return -1;
	}
	s->st.native++;
	if (ns.held_ns > s->st.longest_stop_ns)
		s->st.longest_stop_ns = ns.held_ns;
	size_t n = ns.n < GS_STACKSHOT_DEPTH ? ns.n : GS_STACKSHOT_DEPTH;
	for (size_t i = 0; i < n; i++)
		native_frame(&ns.frames[i], s->text[i], FRAME_MAX);
	out->n = n;
	return 0;
}

const char *gs_stackshot_why(const struct gs_stackshot *s)
{
	return s->why;
}

void gs_stackshot_stats(const struct gs_stackshot *s, struct gs_stackshot_stats *out)
{
	*out = s->st;
}
