/* Folded stacks and speedscope files from stack samples and intervals. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "sink/flame.h"
#include "sink/trace_writer.h"

void gs_flame_root(char *buf, size_t n, enum gs_role role, const char *name, pid_t tid)
{
	char clean[64];
	const char *ev = gs_trace_event_name(role);
	gs_text_clean(clean, sizeof clean, name && name[0] ? name : "?");
	snprintf(buf, n, "%s: %s (tid %d)", ev ? ev : gs_role_name(role), clean, (int)tid);
}

/* A folded frame: one line, no ';' (the separator). */
static void put_folded_frame(FILE *f, const char *s)
{
	char buf[1024];
	gs_text_clean(buf, sizeof buf, s);
	for (char *p = buf; *p; p++)
		if (*p == ';')
			*p = ':';
	fputs(buf, f);
}

int gs_folded_write(FILE *f, const struct gs_summary *sum)
{
	const struct gs_stack_counts *c = &sum->stack_counts;
	errno = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct gs_stack_count *e = &c->v[i];
		const struct gs_thread_summary *t = NULL;
		for (size_t k = 0; k < sum->n && !t; k++)
			if (sum->t[k].tid == e->tid)
				t = &sum->t[k];
		char root[128];
		gs_flame_root(root, sizeof root, e->role, t ? t->name : NULL, e->tid);
		put_folded_frame(f, root);
		for (size_t k = gs_stacks_depth(sum->stacks, e->stack); k-- > 0;) {
			fputc(';', f);
			put_folded_frame(f, gs_stacks_frame(sum->stacks, e->stack, k));
		}
		fprintf(f, " %" PRIu64 "\n", e->count);
	}
	return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------ speedscope */

/* One moment of a thread's timeline: a role from start to end, or a
 * stack sample (stack != 0) at start. */
struct ev {
	pid_t tid;
	enum gs_role role;
	uint32_t stack;          /* 0: an interval */
	uint64_t start, end;
};

struct gs_speedscope {
	struct ev *v;
	size_t n, cap;
};

struct gs_speedscope *gs_speedscope_new(void)
{
	return calloc(1, sizeof(struct gs_speedscope));
}

void gs_speedscope_free(struct gs_speedscope *s)
{
	if (s)
		free(s->v);
	free(s);
}

static int push(struct gs_speedscope *s, struct ev e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct ev *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = e;
	return 0;
}

int gs_speedscope_interval(struct gs_speedscope *s, const struct gs_interval *iv)
{
	if (!gs_trace_event_name(iv->role))
		return 0;
	return push(s, (struct ev){ iv->tid, iv->role, 0, iv->start_ns, iv->end_ns });
}

int gs_speedscope_sample(struct gs_speedscope *s, const struct gs_stack_sample *smp)
{
	return push(s, (struct ev){ smp->tid, smp->role, smp->stack, smp->t_ns, smp->t_ns });
}

/* By thread, then time; at one instant the interval first (its role
 * opens before the stack above it). */
static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->stack != 0) - (y->stack != 0);
}

/* Frames are the role names first (index role - 1), then the stacks'
 * frame strings (index GS_ROLE_COUNT - 1 + frame id - 1). */
#define ROLE_FRAMES (GS_ROLE_COUNT - 1)

struct emit {
	FILE *f;
	uint64_t t0;
	int first;
	const struct gs_stacks *st;
};

static void put_ev(struct emit *e, char type, uint64_t t_ns, size_t frame)
{
	uint64_t d = t_ns > e->t0 ? t_ns - e->t0 : 0;
	fprintf(e->f, "%s{\"type\":\"%c\",\"at\":%" PRIu64 ".%03u,\"frame\":%zu}",
		e->first ? "" : ",", type, d / 1000, (unsigned)(d % 1000), frame);
	e->first = 0;
}

/* Close the Python frames of stack cur above depth keep, innermost
 * first; cur's frames are innermost first, the open ones root first. */
static void close_stack(struct emit *e, uint32_t cur, size_t keep, uint64_t t)
{
	const uint32_t *ids;
	size_t n = gs_stacks_frame_ids(e->st, cur, &ids);
	for (size_t k = 0; k + keep < n; k++)
		put_ev(e, 'C', t, ROLE_FRAMES + ids[k] - 1);
}

/* Switch from stack cur to stack next at t, keeping their common root. */
static void switch_stack(struct emit *e, uint32_t cur, uint32_t next, uint64_t t)
{
	const uint32_t *a, *b;
	size_t na = gs_stacks_frame_ids(e->st, cur, &a);
	size_t nb = gs_stacks_frame_ids(e->st, next, &b);
	size_t common = 0;
	while (common < na && common < nb && a[na - 1 - common] == b[nb - 1 - common])
		common++;
	close_stack(e, cur, common, t);
	for (size_t k = nb - common; k-- > 0;)
		put_ev(e, 'O', t, ROLE_FRAMES + b[k] - 1);
}

static void put_profile(struct emit *e, const struct ev *v, size_t n, const char *name)
{
	FILE *f = e->f;
	uint64_t lo = v[0].start, hi = v[0].end;
	for (size_t i = 0; i < n; i++)
		if (v[i].end > hi)
			hi = v[i].end;
	fputs("{\"type\":\"evented\",\"name\":", f);
	gs_json_str(f, name);
	fprintf(f, ",\"unit\":\"microseconds\",\"startValue\":%" PRIu64 ".%03u,"
		"\"endValue\":%" PRIu64 ".%03u,\"events\":[",
		(lo - e->t0) / 1000, (unsigned)((lo - e->t0) % 1000),
		(hi - e->t0) / 1000, (unsigned)((hi - e->t0) % 1000));
	e->first = 1;
	/* Walk the intervals; the samples inside one switch its stack. */
	for (size_t i = 0; i < n; i++) {
		if (v[i].stack)
			continue;      /* outside any interval: not drawn */
		const struct ev *iv = &v[i];
		uint64_t at = iv->start;
		uint32_t cur = 0;
		put_ev(e, 'O', at, (size_t)iv->role - 1);
		size_t j = i + 1;
		for (; j < n && v[j].start < iv->end; j++) {
			if (!v[j].stack)
				break;
			if (v[j].stack != cur) {
				switch_stack(e, cur, v[j].stack, v[j].start);
				cur = v[j].stack;
			}
		}
		close_stack(e, cur, 0, iv->end);
		put_ev(e, 'C', iv->end, (size_t)iv->role - 1);
		i = j - 1;
	}
	fputs("]}", f);
}

int gs_speedscope_write(struct gs_speedscope *s, FILE *f, const struct gs_summary *sum,
			const char *title, const char *exporter)
{
	struct emit e = { .f = f, .st = sum->stacks };
	errno = 0;
	qsort(s->v, s->n, sizeof *s->v, ev_cmp);
	e.t0 = UINT64_MAX;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].start < e.t0)
			e.t0 = s->v[i].start;
	if (!s->n)
		e.t0 = 0;
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
	      "\"shared\":{\"frames\":[", f);
	for (int r = 1; r < GS_ROLE_COUNT; r++) {
		const char *n = gs_trace_event_name((enum gs_role)r);
		fputs(r > 1 ? ",{\"name\":" : "{\"name\":", f);
		/* handoff draws as idle; its own name keeps the frames apart */
		gs_json_str(f, r == GS_ROLE_HANDOFF ? "idle (handoff)" : n ? n : "?");
		fputc('}', f);
	}
	for (uint32_t id = 1; id <= gs_stacks_nframes(sum->stacks); id++) {
		fputs(",{\"name\":", f);
		gs_json_str(f, gs_stacks_frame_name(sum->stacks, id));
		fputc('}', f);
	}
	fputs("]},\n\"profiles\":[", f);
	size_t nprof = 0;
	for (size_t i = 0; i < s->n;) {
		size_t j = i;
		while (j < s->n && s->v[j].tid == s->v[i].tid)
			j++;
		const char *tn = NULL;
		for (size_t k = 0; k < sum->n && !tn; k++)
			if (sum->t[k].tid == s->v[i].tid)
				tn = sum->t[k].name;
		char name[128];
		snprintf(name, sizeof name, "%s (tid %d)", tn && tn[0] ? tn : "?",
			 (int)s->v[i].tid);
		if (nprof++)
			fputs(",\n", f);
		put_profile(&e, s->v + i, j - i, name);
		i = j;
	}
	fputs("],\n\"name\":", f);
	gs_json_str(f, title);
	fputs(",\"activeProfileIndex\":0,\"exporter\":", f);
	gs_json_str(f, exporter);
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}
