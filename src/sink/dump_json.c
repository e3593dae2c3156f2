/* gilsnoop dump --json: one object, documented in docs/dump-format.md. */
#include <inttypes.h>

#include "core/json.h"
#include "sink/dump_out.h"

#define DUMP_FORMAT_VERSION 1

static void str_or_null(FILE *f, const char *s)
{
	if (s && s[0])
		gs_json_str(f, s);
	else
		fputs("null", f);
}

static const char *tf(int b)
{
	return b ? "true" : "false";
}

static void pyframes(FILE *f, const struct gs_dump_thread *dt)
{
	const struct gs_census_stack *s = &dt->py;
	fputs(",\"python_stack\":", f);
	if (!dt->c->py || !s->have) {
		fputs("null", f);
		return;
	}
	fputs("{\"frames\":[", f);
	for (size_t k = 0; k < s->n; k++) {
		const struct gs_census_frame *p = &s->v[k];
		fprintf(f, "%s{\"function\":", k ? "," : "");
		gs_json_str(f, p->function);
		fputs(",\"file\":", f);
		gs_json_str(f, p->file);
		fprintf(f, ",\"line\":%d,\"entry\":%s}", p->line, tf(p->entry));
	}
	fprintf(f, "],\"truncated\":%s,\"partial\":%s,\"changing\":%s}",
		tf(s->flags & GS_PYSTACK_TRUNCATED), tf(s->flags & GS_PYSTACK_PARTIAL),
		tf(s->flags & GS_PYSTACK_TORN));
}

static void nframes(FILE *f, const struct gs_dump_thread *dt)
{
	fputs(",\"native_stack\":", f);
	if (!dt->native_tried) {
		fputs("null", f);
		return;
	}
	if (!dt->native_ok) {
		fputs("{\"taken\":false,\"error\":", f);
		gs_json_str(f, dt->native_why);
		fputc('}', f);
		return;
	}
	int merged = dt->merge.ok && dt->py.n;
	fprintf(f, "{\"taken\":true,\"stopped_us\":%" PRIu64 ",\"window_us\":%" PRIu64
		",\"group_stop\":%s,\"frames\":[", dt->held_ns / 1000u,
		(dt->held_ns - dt->wait_ns) / 1000u, tf(dt->stop == GS_STOP_GROUP));
	for (size_t i = 0; i < dt->nnf; i++) {
		const struct gs_nframe *n = &dt->nf[i];
		fprintf(f, "%s{\"pc\":\"%#" PRIx64 "\",\"function\":", i ? "," : "", n->pc);
		str_or_null(f, n->function);
		if (n->function && !(n->flags & GS_NFRAME_INLINED))
			fprintf(f, ",\"offset\":%" PRIu64, n->offset);
		else
			fputs(",\"offset\":null", f);
		fputs(",\"object\":", f);
		str_or_null(f, n->object);
		fprintf(f, ",\"object_offset\":\"%#" PRIx64 "\",\"file\":", n->objoff);
		str_or_null(f, n->file);
		fprintf(f, ",\"line\":%d,\"inlined\":%s,\"eval\":%s,\"gil\":%s,"
			"\"signal\":%s", n->line, tf(n->flags & GS_NFRAME_INLINED),
			tf(n->flags & GS_NFRAME_EVAL), tf(n->flags & GS_NFRAME_GIL),
			tf(n->flags & GS_NFRAME_SIGNAL));
		if (merged && (n->flags & GS_NFRAME_EVAL)) {
			fputs(",\"python_frames\":[", f);
			for (size_t k = 0; k < dt->mcount[i]; k++)
				fprintf(f, "%s%zu", k ? "," : "", dt->mfirst[i] + k);
			fputc(']', f);
		}
		fputc('}', f);
	}
	fprintf(f, "],\"merged\":%s,\"eval_found_by\":\"%s\",\"eval_frames\":%zu,"
		"\"entry_frames\":%zu,"
		"\"truncated\":%s,\"live_reads\":%s,\"stopped_early\":",
		tf(merged), dt->eval_by_stack ? "stack" : "names",
		dt->merge.eval_frames, dt->merge.entries,
		tf(dt->nflags & GS_UNWIND_TRUNCATED), tf(dt->nflags & GS_UNWIND_LIVE));
	str_or_null(f, dt->nflags & GS_UNWIND_STOPPED ? dt->native_why : NULL);
	fputc('}', f);
}

static void thread(FILE *f, const struct gs_dump *d, const struct gs_dump_thread *dt,
		   int first)
{
	const struct gs_census_thread *r = dt->c;
	fprintf(f, "%s{\"tid\":%d,\"name\":", first ? "" : ",", (int)r->tid);
	gs_json_str(f, r->comm);
	fputs(",\"python_name\":", f);
	str_or_null(f, r->pyname);
	fprintf(f, ",\"role\":\"%s\",\"native\":%s,\"holder\":%s,",
		gs_role_name(r->role), tf(!r->py), tf(r->tid == d->c->holder_tid));
	if (r->py)
		fprintf(f, "\"tstate\":\"%#" PRIx64 "\",", r->py->tstate);
	else
		fputs("\"tstate\":null,", f);
	if (r->have && r->now.state)
		fprintf(f, "\"state\":\"%c\"", r->now.state);
	else
		fputs("\"state\":null", f);
	fputs(",\"syscall\":", f);
	str_or_null(f, r->syscall);
	fputs(",\"path\":", f);
	str_or_null(f, r->path);
	fputs(",\"wchan\":", f);
	str_or_null(f, r->wchan);
	if (dt->offcpu_ns >= 0)
		fprintf(f, ",\"offcpu_ms\":%.3f", (double)dt->offcpu_ns / 1e6);
	else
		fputs(",\"offcpu_ms\":null", f);
	pyframes(f, dt);
	nframes(f, dt);
	fputc('}', f);
}

void gs_dump_print_json(FILE *f, const struct gs_dump *d)
{
	const struct gs_target *t = d->t;
	const struct gs_census *c = d->c;
	fprintf(f, "{\"format\":\"gilsnoop-dump\",\"format_version\":%d,\"pid\":%d,"
		"\"python_version\":", DUMP_FORMAT_VERSION, (int)t->pid);
	gs_json_str(f, t->ver.str);
	fprintf(f, ",\"build\":\"%s\",\"stopped\":%s,\"gil\":{\"locked\":%s,"
		"\"holder_tid\":", gs_build_name(t->build), tf(c->stopped),
		tf(c->w.locked == 1));
	if (c->holder_tid)
		fprintf(f, "%d", (int)c->holder_tid);
	else
		fputs("null", f);
	fprintf(f, ",\"switch_number\":%" PRIu64 ",\"interval_us\":%" PRIu64
		",\"waiters\":%zu,\"long_hold\":%s},\"python_stacks_error\":",
		c->w.switch_number, c->interval, d->waiters,
		d->long_hold < 0 ? "null" : tf(d->long_hold));
	str_or_null(f, d->py_error);
	fputs(",\"native_stacks_error\":", f);
	str_or_null(f, d->native_error);
	fputs(",\"threads\":[", f);
	for (size_t i = 0; i < d->n; i++)
		thread(f, d, &d->v[i], i == 0);
	fputs("]}\n", f);
}
