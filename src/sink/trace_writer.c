/* Streaming writer for recordings.  Every event is one line, so that a
 * file cut off anywhere is still readable line by line (trace_reader.c)
 * and a truncated JSON file can be repaired by dropping its last line.
 * See docs/trace-format.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "proc/taskstat.h"
#include "sink/trace_writer.h"

#define NAMES 256          /* stack sample names kept, by stack id */
#define SAMPLE_LINE 4096   /* a stack sample's line, at most */

struct sample_name {
	uint32_t id;
	char *json;
	size_t len;
};

struct gs_trace_writer {
	FILE *f;
	enum gs_trace_format fmt;
	struct gs_trace_header h;
	char comm[64];
	char cmdline[1024];
	char pyver[32];
	char gsver[32];
	long long gpid;          /* pid of the GIL tracks */
	int err;
	uint64_t events;
	struct { pid_t pid; unsigned n; } *waiters; /* the last count per process */
	size_t nwaiters;
	uint64_t last_progress_ns;
	const struct gs_stacks *stacks;
	uint8_t *defined;        /* bit per stack id written to this file */
	size_t defined_cap;      /* in bits */
	int any_defined;
	/* The two clocks read together when the file was started, so that
	 * any ts of the file converts to wall time. */
	uint64_t origin_ns;
	struct timespec origin_wall;
	/* Stack samples are most of a --stack-rate max file: a sample's
	 * name (its innermost frame, escaped) is kept per stack id. */
	struct sample_name names[NAMES];
};

/* The decimal digits of v at p; returns the end. */
static char *put_dec(char *p, uint64_t v)
{
	char t[20];
	int n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = t[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

int gs_trace_format_parse(const char *s, enum gs_trace_format *out)
{
	static const char *const names[] = { "json", "jsonl", "csv" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (s && !strcmp(s, names[i])) {
			*out = (enum gs_trace_format)i;
			return 0;
		}
	return -1;
}

const char *gs_trace_format_name(enum gs_trace_format f)
{
	switch (f) {
	case GS_TRACE_JSON: return "json";
	case GS_TRACE_JSONL: return "jsonl";
	case GS_TRACE_CSV: return "csv";
	}
	return "?";
}

const char *gs_trace_event_name(enum gs_role r)
{
	switch (r) {
	case GS_ROLE_HELD: return "GIL held";
	case GS_ROLE_HELD_OFFCPU: return "GIL held off-CPU";
	case GS_ROLE_WAITING: return "GIL wait";
	case GS_ROLE_RUNNING: return "running (no GIL)";
	case GS_ROLE_HANDOFF:
	case GS_ROLE_IDLE: return "idle";
	case GS_ROLE_UNKNOWN: case GS_ROLE_COUNT: break;
	}
	return NULL;
}

enum gs_role gs_trace_role_parse(const char *s)
{
	if (!s)
		return GS_ROLE_UNKNOWN;
	for (int r = GS_ROLE_UNKNOWN + 1; r < GS_ROLE_COUNT; r++)
		if (!strcmp(s, gs_role_name((enum gs_role)r)))
			return (enum gs_role)r;
	for (int r = GS_ROLE_UNKNOWN + 1; r < GS_ROLE_COUNT; r++) {
		const char *n = gs_trace_event_name((enum gs_role)r);
		/* "idle" names two roles; the event name means idle. */
		if (n && !strcmp(s, n) && r != GS_ROLE_HANDOFF)
			return (enum gs_role)r;
	}
	return GS_ROLE_UNKNOWN;
}

/* Every write goes through here so that the first failure, with its
 * errno, is kept: stdio would only remember that one happened. */
static int check(struct gs_trace_writer *w)
{
	if (!w->err && ferror(w->f))
		w->err = errno ? errno : EIO;
	return w->err ? -1 : 0;
}

static void put_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

static void put_rate(FILE *f, double hz)
{
	fprintf(f, "%.3f", hz > 0 ? hz : 0);
}

static double achieved_hz(const struct gs_trace_stats *st)
{
	if (st->samples < 2 || st->last_ns <= st->first_ns)
		return 0;
	return (double)(st->samples - 1) * 1e9 / (double)(st->last_ns - st->first_ns);
}

/* The run's identity; starts an object's members (no braces). */
static void put_identity(struct gs_trace_writer *w)
{
	FILE *f = w->f;
	fprintf(f, "\"format_version\":%d,\"version\":", GS_TRACE_FORMAT_VERSION);
	gs_json_str(f, w->gsver);
	fputs(",\"python_version\":", f);
	if (w->pyver[0])
		gs_json_str(f, w->pyver);
	else
		fputs("null", f);
	fprintf(f, ",\"pid\":%d,\"comm\":", (int)w->h.pid);
	gs_json_str(f, w->comm);
	if (w->cmdline[0]) {
		fputs(",\"cmdline\":", f);
		gs_json_str(f, w->cmdline);
	}
	fputs(",\"rate_hz\":", f);
	put_rate(f, w->h.rate_hz);
	fputs(",\"wall_clock\":{\"ts_us\":", f);
	put_us(f, w->origin_ns);
	fprintf(f, ",\"unix_us\":%lld}", (long long)w->origin_wall.tv_sec * 1000000ll +
		w->origin_wall.tv_nsec / 1000);
}

static void put_stats(FILE *f, const struct gs_trace_stats *st)
{
	fprintf(f, "\"samples\":%" PRIu64 ",\"torn_samples\":%" PRIu64
		",\"switches\":%" PRIu64 ",\"missed_switches\":%" PRIu64
		",\"achieved_rate_hz\":", st->samples, st->torn, st->switches,
		st->missed);
	put_rate(f, achieved_hz(st));
	fputs(",\"first_ts\":", f);
	put_us(f, st->first_ns);
	fputs(",\"last_ts\":", f);
	put_us(f, st->last_ns);
	if (!st->nprocs)
		return;
	fputs(",\"processes\":[", f);
	for (size_t i = 0; i < st->nprocs; i++) {
		const struct gs_trace_pstats *p = &st->procs[i];
		fprintf(f, "%s{\"pid\":%d,\"samples\":%" PRIu64 ",\"torn_samples\":%" PRIu64
			",\"switches\":%" PRIu64 ",\"missed_switches\":%" PRIu64,
			i ? "," : "", (int)p->pid, p->samples, p->torn, p->switches, p->missed);
		if (p->ngils > 1) {
			fputs(",\"gils\":[", f);
			for (size_t k = 0; k < p->ngils && k < GS_TRACE_MAX_GILS; k++)
				fprintf(f, "%s{\"switches\":%" PRIu64 ",\"missed_switches\":%" PRIu64
					"}", k ? "," : "", p->gils[k].switches, p->gils[k].missed);
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputc(']', f);
}

static void begin_line(struct gs_trace_writer *w)
{
	w->events++;
}

/* JSON event lines end in a comma; the closing event has none. */
static void end_event(struct gs_trace_writer *w, int last)
{
	fputs(last ? "}\n" : "},\n", w->f);
	check(w);
}

static void put_process_name(struct gs_trace_writer *w, pid_t pid, const char *comm,
			     const char *cmdline)
{
	char name[320];
	const char *what = cmdline && cmdline[0] ? cmdline : comm;
	size_t n = strlen(what);
	/* The command line tells workers of one program apart; cut in the
	 * middle, so that both the program and the script's name stay in
	 * a readable track name. */
	if (n > 120)
		snprintf(name, sizeof name, "GIL: %.40s...%s (pid %d)", what,
			 what + n - 77, (int)pid);
	else
		snprintf(name, sizeof name, "GIL: %s (pid %d)", what, (int)pid);
	fprintf(w->f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%lld,"
		"\"args\":{\"name\":", (long long)pid + GS_TRACE_PID_OFFSET);
	gs_json_str(w->f, name);
}

/* The GIL process's name event.  The run's metadata rides in its args
 * (key is "gilsnoop", "gilsnoop_progress", "gilsnoop_end", ...) because
 * Perfetto and chrome://tracing both know process_name, while an
 * unknown metadata name makes chrome://tracing report an import error. */
static void begin_process_name(struct gs_trace_writer *w, const char *key)
{
	put_process_name(w, w->h.pid, w->comm, w->cmdline);
	fprintf(w->f, ",\"%s\":{", key);
}

/* A run record: json puts it in the GIL process's name event, jsonl on
 * a line of its own, {"key":{...}}.  The caller writes the members. */
static void begin_record(struct gs_trace_writer *w, const char *key)
{
	begin_line(w);
	if (w->fmt == GS_TRACE_JSON)
		begin_process_name(w, key);
	else
		fprintf(w->f, "{\"%s\":{", key);
}

static void end_record(struct gs_trace_writer *w)
{
	fputs("}}", w->f);
	if (w->fmt == GS_TRACE_JSON) {
		end_event(w, 0);
	} else {
		fputc('\n', w->f);
		check(w);
	}
}

/* Sorted by the target pid, a GIL process lands next to the target's
 * own in the viewers. */
static void put_sort_index(struct gs_trace_writer *w, pid_t pid)
{
	begin_line(w);
	fprintf(w->f, "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%lld,"
		"\"args\":{\"sort_index\":%d}", (long long)pid + GS_TRACE_PID_OFFSET,
		(int)pid);
	end_event(w, 0);
}


struct gs_trace_writer *gs_trace_writer_new(FILE *f, enum gs_trace_format fmt,
					    const struct gs_trace_header *h)
{
	struct gs_trace_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->f = f;
	w->fmt = fmt;
	w->h = *h;
	snprintf(w->comm, sizeof w->comm, "%s", h->comm ? h->comm : "?");
	snprintf(w->cmdline, sizeof w->cmdline, "%s", h->cmdline ? h->cmdline : "");
	snprintf(w->pyver, sizeof w->pyver, "%s", h->python_version ? h->python_version : "");
	snprintf(w->gsver, sizeof w->gsver, "%s", h->gilsnoop_version ? h->gilsnoop_version : "");
	w->gpid = (long long)h->pid + GS_TRACE_PID_OFFSET;
	w->origin_ns = gs_now_ns();
	gs_wall_of(w->origin_ns, &w->origin_wall);
	errno = 0;
	if (fmt == GS_TRACE_CSV) {
		begin_line(w);
		fputs("tid,name,state,ts_us,dur_us,samples,syscall,path,wchan,pid\r\n", f);
	} else {
		if (fmt == GS_TRACE_JSON)
			fputs("{\"traceEvents\":[\n", f);
		begin_record(w, "gilsnoop");
		put_identity(w);
		end_record(w);
		if (fmt == GS_TRACE_JSON)
			put_sort_index(w, h->pid);
	}
	check(w);
	return w;
}

void gs_trace_writer_free(struct gs_trace_writer *w)
{
	if (w) {
		free(w->waiters);
		free(w->defined);
		for (size_t i = 0; i < NAMES; i++)
			free(w->names[i].json);
	}
	free(w);
}

/* The GIL process of the events of pid (0: the header's). */
static long long gil_pid(const struct gs_trace_writer *w, pid_t pid)
{
	return pid ? (long long)pid + GS_TRACE_PID_OFFSET : w->gpid;
}

void gs_trace_process(struct gs_trace_writer *w, pid_t pid, const char *comm,
		      const char *cmdline)
{
	if (w->err || pid == w->h.pid || w->fmt == GS_TRACE_CSV)
		return;
	begin_line(w);
	if (w->fmt == GS_TRACE_JSON) {
		put_process_name(w, pid, comm ? comm : "?", cmdline);
		fputs(",\"gilsnoop_process\":{", w->f);
	} else {
		fputs("{\"gilsnoop_process\":{", w->f);
	}
	fprintf(w->f, "\"pid\":%d,\"comm\":", (int)pid);
	gs_json_str(w->f, comm ? comm : "?");
	fputs(",\"cmdline\":", w->f);
	gs_json_str(w->f, cmdline ? cmdline : "");
	end_record(w);
	if (w->fmt == GS_TRACE_JSON)
		put_sort_index(w, pid);
}


void gs_trace_set_stacks(struct gs_trace_writer *w, const struct gs_stacks *st)
{
	w->stacks = st;
}

static int is_defined(const struct gs_trace_writer *w, uint32_t id)
{
	return id < w->defined_cap && (w->defined[id / 8] >> (id % 8) & 1);
}

/* A JSON list of the frames of stack id. */
static void put_frames(struct gs_trace_writer *w, uint32_t id)
{
	size_t n = gs_stacks_depth(w->stacks, id);
	fputc('[', w->f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', w->f);
		gs_json_str(w->f, gs_stacks_frame(w->stacks, id, i));
	}
	fputc(']', w->f);
}

/* Define stack id in this file if it is not yet (json: in a
 * process_name record; jsonl: a line of its own).  Returns 0 when it
 * is defined, -1 when it cannot be (unknown id, memory). */
static int define_stack(struct gs_trace_writer *w, uint32_t id)
{
	if (!id || !gs_stacks_depth(w->stacks, id))
		return -1;
	if (is_defined(w, id))
		return 0;
	if (id >= w->defined_cap) {
		size_t cap = w->defined_cap ? w->defined_cap : 1024;
		while (cap <= id)
			cap *= 2;
		uint8_t *v = realloc(w->defined, cap / 8);
		if (!v)
			return -1;
		memset(v + w->defined_cap / 8, 0, (cap - w->defined_cap) / 8);
		w->defined = v;
		w->defined_cap = cap;
	}
	w->defined[id / 8] |= (uint8_t)(1u << (id % 8));
	w->any_defined = 1;
	begin_record(w, "gilsnoop_stack");
	fprintf(w->f, "\"id\":%u,\"frames\":", id);
	put_frames(w, id);
	end_record(w);
	return 0;
}

/* The escaped name of stack id's samples, made once per id; NULL when
 * memory is short. */
static const char *sample_name(struct gs_trace_writer *w, uint32_t id, size_t *len)
{
	struct sample_name *n = &w->names[id % NAMES];
	if (n->json && n->id == id) {
		*len = n->len;
		return n->json;
	}
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	if (!m)
		return NULL;
	gs_json_str(m, gs_stacks_frame(w->stacks, id, 0));
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	free(n->json);
	n->json = buf;
	n->len = size;
	n->id = id;
	*len = size;
	return buf;
}

void gs_trace_stack_sample(struct gs_trace_writer *w, const struct gs_stack_sample *s)
{
	if (w->fmt == GS_TRACE_CSV || w->err || define_stack(w, s->stack))
		return;
	char line[SAMPLE_LINE], *p = line;
	const char *role = gs_role_name(s->role);
	size_t nlen = 0;
	const char *name = w->fmt == GS_TRACE_JSON ? sample_name(w, s->stack, &nlen) : "";
	if (!name || nlen > SAMPLE_LINE - 256)
		name = "\"?\"", nlen = 3;
	begin_line(w);
	if (w->fmt == GS_TRACE_JSONL) {
		/* A run record, not a line with a top-level tid: scripts that
		 * take every tid line for an interval stay right. */
		p = put_str(p, "{\"gilsnoop_sample\":{\"pid\":");
		p = put_dec(p, (uint64_t)s->pid);
		p = put_str(p, ",\"tid\":");
		p = put_dec(p, (uint64_t)s->tid);
		p = put_str(p, ",\"ts_us\":");
		p = put_dec(p, s->t_ns / 1000);
		*p++ = '.';
		unsigned frac = (unsigned)(s->t_ns % 1000);
		*p++ = (char)('0' + frac / 100);
		*p++ = (char)('0' + frac / 10 % 10);
		*p++ = (char)('0' + frac % 10);
		p = put_str(p, ",\"role\":\"");
		p = put_str(p, role);
		p = put_str(p, "\",\"stack\":");
		p = put_dec(p, s->stack);
		p = put_str(p, "}}\n");
	} else {
		p = put_str(p, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"stack\",\"name\":");
		memcpy(p, name, nlen);
		p += nlen;
		p = put_str(p, ",\"pid\":");
		p = put_dec(p, (uint64_t)gil_pid(w, s->pid));
		p = put_str(p, ",\"tid\":");
		p = put_dec(p, (uint64_t)s->tid);
		p = put_str(p, ",\"ts\":");
		p = put_dec(p, s->t_ns / 1000);
		p = put_str(p, ",\"sf\":\"");
		p = put_dec(p, s->stack);
		p = put_str(p, "\",\"args\":{\"role\":\"");
		p = put_str(p, role);
		p = put_str(p, "\",\"stack_id\":");
		p = put_dec(p, s->stack);
		p = put_str(p, "},\"gilsnoop\":{\"ns\":");
		p = put_dec(p, s->t_ns % 1000);
		p = put_str(p, "}},\n");
	}
	fwrite(line, 1, (size_t)(p - line), w->f);
	check(w);
}

void gs_trace_stall(struct gs_trace_writer *w, const struct gs_trace_stall *st)
{
	if (w->fmt == GS_TRACE_CSV || w->err)
		return;
	FILE *f = w->f;
	begin_record(w, "gilsnoop_stall");
	fprintf(f, "\"n\":%u,\"t\":", st->n);
	put_us(f, st->t_ns);
	fprintf(f, ",\"tid\":%d,\"role\":\"%s\",\"dur_us\":", (int)st->tid,
		gs_role_name(st->role));
	put_us(f, st->dur_ns);
	fputs(",\"window\":[", f);
	put_us(f, st->from_ns);
	fputc(',', f);
	put_us(f, st->to_ns);
	fputc(']', f);
	/* Stalls are matched against logs, which are in wall time. */
	char wall[48] = "";
	if (st->wall.tv_sec)
		gs_wall_fmt(wall, sizeof wall, &st->wall);
	if (wall[0]) {
		fputs(",\"wall\":", f);
		gs_json_str(f, wall);
	}
	end_record(w);
}

/* Trace Event stackFrames for the stacks this file defined: node "N"
 * is stack N (named after its innermost frame), "N.K" the same stack
 * without its K innermost frames. */
static void put_stack_frames(struct gs_trace_writer *w)
{
	FILE *f = w->f;
	int first = 1;
	fputs(",\n\"stackFrames\":{", f);
	for (uint32_t id = 1; id < w->defined_cap; id++) {
		if (!is_defined(w, id))
			continue;
		size_t n = gs_stacks_depth(w->stacks, id);
		for (size_t k = 0; k < n; k++) {
			fprintf(f, "%s\n", first ? "" : ",");
			first = 0;
			if (k)
				fprintf(f, "\"%u.%zu\":{\"name\":", id, k);
			else
				fprintf(f, "\"%u\":{\"name\":", id);
			gs_json_str(f, gs_stacks_frame(w->stacks, id, k));
			if (k + 1 < n)
				fprintf(f, ",\"parent\":\"%u.%zu\"", id, k + 1);
			fputc('}', f);
		}
	}
	fputs("}", f);
}

void gs_trace_thread(struct gs_trace_writer *w, pid_t pid, pid_t tid, const char *name,
		     int is_python)
{
	/* JSONL and CSV repeat the name on every interval. */
	if (w->fmt != GS_TRACE_JSON || w->err)
		return;
	begin_line(w);
	fprintf(w->f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%lld,\"tid\":%d,"
		"\"args\":{\"name\":", gil_pid(w, pid), (int)tid);
	gs_json_str(w->f, name);
	fprintf(w->f, ",\"python\":%s}", is_python ? "true" : "false");
	end_event(w, 0);
}

/* RFC 4180: every text field quoted, quotes doubled; line breaks and
 * other control characters stay as they are inside the quotes.  The
 * file is UTF-8 like the JSON formats: a byte that is not valid UTF-8
 * becomes U+FFFD, so a strict UTF-8 reader can always read it. */
static void csv_str(FILE *f, const char *str)
{
	const char *s = str ? str : "";
	fputc('"', f);
	while (*s) {
		int n = gs_utf8_len(s);
		if (n == 0) {
			fputs("\xef\xbf\xbd", f);
			s++;
			continue;
		}
		if (*s == '"')
			fputc('"', f);
		fwrite(s, 1, (size_t)n, f);
		s += n;
	}
	fputc('"', f);
}

static int has_detail(enum gs_role r)
{
	return r == GS_ROLE_HELD_OFFCPU || r == GS_ROLE_IDLE || r == GS_ROLE_HANDOFF;
}

/* Trace events sit on a whole-microsecond grid: ts = start / 1000 and
 * ts + dur = end / 1000, both rounded down.  Integers add exactly in the
 * doubles JavaScript viewers compute with, so a slice ends exactly where
 * the next one of its thread begins; fractional times did not (their
 * sums landed past the next ts about half the time and speedscope then
 * nested every slice in the one before).  The nanoseconds below the grid
 * ride in the event's own "gilsnoop" member, which viewers ignore, with
 * the sample count: what varies from slice to slice stays out of args,
 * the part of a slice speedscope takes for its identity. */
/* The stacks of an interval as lists of strings, under the given keys
 * (each with its leading comma). */
static void put_interval_stacks(struct gs_trace_writer *w, const struct gs_interval *iv,
				const char *k1, const char *k2, const char *k3)
{
	if (!w->stacks)
		return;
	const uint32_t ids[3] = { iv->stack, iv->stack_end, iv->native_stack };
	const char *keys[3] = { k1, k2, k3 };
	for (int i = 0; i < 3; i++) {
		if (!gs_stacks_depth(w->stacks, ids[i]))
			continue;
		fputs(keys[i], w->f);
		put_frames(w, ids[i]);
	}
}

static void json_interval(struct gs_trace_writer *w, const struct gs_interval *iv,
			  const char *ev, const char *sc, const char *path,
			  const char *wchan)
{
	FILE *f = w->f;
	uint64_t ts = iv->start_ns / 1000, end = iv->end_ns / 1000;
	/* Shorter than the grid (a thread's last sample, say): a zero-length
	 * slice would confuse the viewers' nesting, an instant does not. */
	int instant = end <= ts;
	fputs(instant ? "{\"ph\":\"i\",\"s\":\"t\"" : "{\"ph\":\"X\"", f);
	fprintf(f, ",\"cat\":\"gil\",\"name\":\"%s\",\"pid\":%lld,\"tid\":%d,\"ts\":%"
		PRIu64, ev, gil_pid(w, iv->pid), (int)iv->tid, ts);
	if (!instant)
		fprintf(f, ",\"dur\":%" PRIu64, end - ts);
	fprintf(f, ",\"args\":{\"role\":\"%s\"", gs_role_name(iv->role));
	if (sc) {
		fputs(",\"syscall\":", f);
		gs_json_str(f, sc);
	}
	if (path[0]) {
		fputs(",\"path\":", f);
		gs_json_str(f, path);
	}
	if (wchan[0]) {
		fputs(",\"wchan\":", f);
		gs_json_str(f, wchan);
	}
	put_interval_stacks(w, iv, ",\"stack\":", ",\"stack_end\":",
			    ",\"native_stack\":");
	fprintf(f, "},\"gilsnoop\":{\"samples\":%" PRIu64 ",\"ns\":[%u,%u]",
		iv->samples, (unsigned)(iv->start_ns % 1000),
		(unsigned)(iv->end_ns % 1000));
	/* A subinterpreter's own GIL; the main one goes unsaid. */
	if (iv->gil)
		fprintf(f, ",\"gil\":%u", iv->gil);
	fputc('}', f);
	end_event(w, 0);
}

void gs_trace_interval(struct gs_trace_writer *w, const struct gs_interval *iv,
		       const char *thread_name)
{
	const char *ev = gs_trace_event_name(iv->role);
	if (!ev || w->err)
		return;
	FILE *f = w->f;
	const char *sc = has_detail(iv->role) ? gs_syscall_name(iv->syscall_nr) : NULL;
	const char *path = has_detail(iv->role) ? iv->path : "";
	const char *wchan = has_detail(iv->role) ? iv->wchan : "";
	uint64_t dur = iv->end_ns > iv->start_ns ? iv->end_ns - iv->start_ns : 0;

	begin_line(w);
	switch (w->fmt) {
	case GS_TRACE_JSON:
		json_interval(w, iv, ev, sc, path, wchan);
		return;
	case GS_TRACE_JSONL:
		fprintf(f, "{\"pid\":%d,\"tid\":%d,\"name\":", (int)iv->pid, (int)iv->tid);
		gs_json_str(f, thread_name);
		fprintf(f, ",\"state\":\"%s\",\"ts_us\":", gs_role_name(iv->role));
		put_us(f, iv->start_ns);
		fputs(",\"dur_us\":", f);
		put_us(f, dur);
		fprintf(f, ",\"samples\":%" PRIu64 ",\"syscall\":", iv->samples);
		gs_json_str(f, sc ? sc : "");
		fputs(",\"path\":", f);
		gs_json_str(f, path);
		fputs(",\"wchan\":", f);
		gs_json_str(f, wchan);
		if (iv->gil)
			fprintf(f, ",\"gil\":%u", iv->gil);
		put_interval_stacks(w, iv, ",\"stack\":", ",\"stack_end\":",
				    ",\"native_stack\":");
		fputs("}\n", f);
		break;
	case GS_TRACE_CSV:
		fprintf(f, "%d,", (int)iv->tid);
		csv_str(f, thread_name);
		fprintf(f, ",\"%s\",", gs_role_name(iv->role));
		put_us(f, iv->start_ns);
		fputc(',', f);
		put_us(f, dur);
		fprintf(f, ",%" PRIu64 ",", iv->samples);
		csv_str(f, sc ? sc : "");
		fputc(',', f);
		csv_str(f, path);
		fputc(',', f);
		csv_str(f, wchan);
		fprintf(f, ",%d\r\n", (int)iv->pid);
		break;
	}
	check(w);
}

void gs_trace_waiters(struct gs_trace_writer *w, pid_t pid, uint64_t t_ns, unsigned n)
{
	if (w->fmt != GS_TRACE_JSON || w->err)
		return;
	size_t i = 0;
	while (i < w->nwaiters && w->waiters[i].pid != pid)
		i++;
	if (i == w->nwaiters) {
		void *v = realloc(w->waiters, (i + 1) * sizeof *w->waiters);
		if (!v)
			return;
		w->waiters = v;
		w->nwaiters++;
	} else if (w->waiters[i].n == n) {
		return;
	}
	w->waiters[i].pid = pid;
	w->waiters[i].n = n;
	begin_line(w);
	/* On the slices' microsecond grid. */
	fprintf(w->f, "{\"ph\":\"C\",\"name\":\"GIL waiters\",\"pid\":%lld,\"ts\":%"
		PRIu64 ",\"args\":{\"waiters\":%u}", gil_pid(w, pid), t_ns / 1000, n);
	end_event(w, 0);
}

void gs_trace_progress(struct gs_trace_writer *w, uint64_t t_ns,
		       const struct gs_trace_stats *st,
		       const struct gs_trace_open *open, size_t nopen)
{
	/* CSV has no room for anything but intervals. */
	if (w->fmt == GS_TRACE_CSV || w->err)
		return;
	FILE *f = w->f;
	begin_record(w, "gilsnoop_progress");
	fputs("\"t\":", f);
	put_us(f, t_ns);
	fputc(',', f);
	put_stats(f, st);
	fputs(",\"open\":[", f);
	int first = 1;
	for (size_t i = 0; i < nopen; i++) {
		const struct gs_interval *iv = open[i].iv;
		if (!gs_trace_event_name(iv->role) || iv->start_ns > w->last_progress_ns)
			continue;
		fprintf(f, "%s{\"pid\":%d,\"tid\":%d,\"name\":", first ? "" : ",",
			(int)iv->pid, (int)iv->tid);
		gs_json_str(f, open[i].name);
		fprintf(f, ",\"role\":\"%s\",\"ts\":", gs_role_name(iv->role));
		put_us(f, iv->start_ns);
		fprintf(f, ",\"samples\":%" PRIu64 "}", iv->samples);
		first = 0;
	}
	fputc(']', f);
	end_record(w);
	w->last_progress_ns = t_ns;
}

int gs_trace_flush(struct gs_trace_writer *w)
{
	if (w->err)
		return -1;
	errno = 0;
	if (fflush(w->f) != 0 && !w->err)
		w->err = errno ? errno : EIO;
	return check(w);
}

int gs_trace_finish(struct gs_trace_writer *w, const struct gs_trace_stats *st,
		    int target_exited, const char *stopped_by)
{
	FILE *f = w->f;
	if (w->err)
		return -1;
	if (w->fmt == GS_TRACE_CSV)
		return gs_trace_flush(w);

	/* The same end object closes the event list (so the array needs
	 * no trailing-comma trick) and fills otherData. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			begin_record(w, "gilsnoop_end");
		} else {
			if (w->fmt != GS_TRACE_JSON)
				break;
			fputs("]", f);
			if (w->any_defined)
				put_stack_frames(w);
			fputs(",\n\"displayTimeUnit\":\"ns\",\n\"viztracer_metadata\":{},\n"
			      "\"otherData\":{\"gilsnoop\":{", f);
		}
		put_identity(w);
		fputc(',', f);
		put_stats(f, st);
		fprintf(f, ",\"target_exited\":%s,\"stopped_by\":",
			target_exited ? "true" : "false");
		gs_json_str(f, stopped_by ? stopped_by : "");
		if (pass == 0 && w->fmt == GS_TRACE_JSON) {
			fputs("}}", f);
			end_event(w, 1);
		} else {
			fputs("}}\n", f);
		}
	}
	if (w->fmt == GS_TRACE_JSON)
		fputs("}\n", f);
	check(w);
	return gs_trace_flush(w);
}

int gs_trace_error(const struct gs_trace_writer *w)
{
	return w->err;
}

uint64_t gs_trace_events(const struct gs_trace_writer *w)
{
	return w->events;
}
