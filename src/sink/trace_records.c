/* What the json and jsonl formats say, read with json-c: the run's
 * records (identity, progress, end), Trace Event JSON events (only the
 * GIL process's count) and JSONL interval lines, into the reader's
 * summary (include/sink/trace_read.h). */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "sink/trace_read.h"

typedef struct json_object jobj;

static jobj *jget(jobj *o, const char *key)
{
	jobj *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *jstr(jobj *v)
{
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int jbool(jobj *v, int dflt)
{
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

static int is_number(jobj *v)
{
	return v && (json_object_is_type(v, json_type_int) ||
		     json_object_is_type(v, json_type_double));
}

static int ju64(jobj *v, uint64_t *out)
{
	if (!v || !json_object_is_type(v, json_type_int))
		return -1;
	/* json-c holds integers as int64, or uint64 above INT64_MAX. */
	int64_t i = json_object_get_int64(v);
	if (i < 0)
		return -1;
	*out = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)i;
	return 0;
}

/* Microseconds to nanoseconds.  json-c keeps the text of a number
 * with a fraction, so the decimal is read exactly; other spellings
 * (1.5e3) go through a double. */
static int jns(jobj *v, uint64_t *out)
{
	uint64_t us;
	if (!ju64(v, &us)) {
		if (us > UINT64_MAX / 1000)
			return -1;
		*out = us * 1000;
		return 0;
	}
	if (!v || !json_object_is_type(v, json_type_double))
		return -1;
	const char *s = json_object_get_string(v);
	if (!gs_tread_us_to_ns(s, strlen(s), out))
		return 0;
	double d = json_object_get_double(v);
	if (!(d >= 0 && d < 1.8e16))
		return -1;
	*out = (uint64_t)(d * 1000 + 0.5);
	return 0;
}

/* A pid or tid: 1 .. 2^31-1. */
static int jid(jobj *v, long long *out)
{
	uint64_t x;
	if (ju64(v, &x) || x == 0 || x > 0x7fffffff)
		return -1;
	*out = (long long)x;
	return 0;
}

static double jdouble(jobj *v)
{
	return is_number(v) ? json_object_get_double(v) : 0;
}

static void read_identity(struct gs_trace_reader *r, jobj *o)
{
	struct gs_trace_info *in = &r->info;
	const char *s;
	long long pid;
	if ((s = jstr(jget(o, "python_version"))))
		snprintf(in->python_version, sizeof in->python_version, "%s", s);
	if ((s = jstr(jget(o, "comm"))))
		snprintf(in->comm, sizeof in->comm, "%s", s);
	if (!jid(jget(o, "pid"), &pid)) {
		in->pid = (pid_t)pid;
		struct gs_proc_summary *p = gs_summary_proc(r->sum, (pid_t)pid);
		if (p) {
			snprintf(p->comm, sizeof p->comm, "%s", in->comm);
			if ((s = jstr(jget(o, "cmdline"))))
				snprintf(p->cmdline, sizeof p->cmdline, "%s", s);
		}
	}
	jobj *rate = jget(o, "rate_hz");
	if (rate)
		in->rate_hz = jdouble(rate);
	in->have_header = 1;
}

static void read_stats(struct gs_trace_reader *r, jobj *o)
{
	struct gs_tread_stats st;
	if (ju64(jget(o, "samples"), &st.samples) ||
	    ju64(jget(o, "torn_samples"), &st.torn) ||
	    ju64(jget(o, "switches"), &st.switches) ||
	    ju64(jget(o, "missed_switches"), &st.missed))
		return;
	if (jns(jget(o, "first_ts"), &st.first_ns))
		st.first_ns = 0;
	if (jns(jget(o, "last_ts"), &st.last_ns))
		st.last_ns = 0;
	r->stats = st;
	r->have_stats = 1;
	/* Each target's own counts, in a recording of several. */
	jobj *arr = jget(o, "processes");
	size_t n = arr && json_object_is_type(arr, json_type_array)
		? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		jobj *c = json_object_array_get_idx(arr, i);
		long long pid;
		struct gs_proc_summary ps;
		if (jid(jget(c, "pid"), &pid) || ju64(jget(c, "samples"), &ps.samples) ||
		    ju64(jget(c, "torn_samples"), &ps.torn) ||
		    ju64(jget(c, "switches"), &ps.switches) ||
		    ju64(jget(c, "missed_switches"), &ps.missed))
			continue;
		struct gs_proc_summary *p = gs_summary_proc(r->sum, (pid_t)pid);
		if (!p)
			continue;
		p->samples = ps.samples;
		p->torn = ps.torn;
		p->switches = ps.switches;
		p->missed = ps.missed;
		p->have_counts = 1;
		jobj *gv = jget(c, "gils");
		size_t ng = gv && json_object_is_type(gv, json_type_array)
			? json_object_array_length(gv) : 0;
		for (size_t k = 0; k < ng && k < GS_SUMMARY_MAX_GILS; k++) {
			jobj *gc = json_object_array_get_idx(gv, k);
			struct gs_gil_summary *gs = &p->gils[k];
			if (ju64(jget(gc, "switches"), &gs->switches) ||
			    ju64(jget(gc, "missed_switches"), &gs->missed))
				continue;
			gs->have_counts = 1;
			gs->seen = 1;
			if (k >= p->ngils)
				p->ngils = k + 1;
		}
	}
}

/* A target other than the header's: its name and command line. */
static void read_process(struct gs_trace_reader *r, jobj *o)
{
	long long pid;
	const char *s;
	if (jid(jget(o, "pid"), &pid))
		return;
	struct gs_proc_summary *p = gs_summary_proc(r->sum, (pid_t)pid);
	if (!p)
		return;
	if ((s = jstr(jget(o, "comm"))))
		snprintf(p->comm, sizeof p->comm, "%s", s);
	if ((s = jstr(jget(o, "cmdline"))))
		snprintf(p->cmdline, sizeof p->cmdline, "%s", s);
}

static void read_progress(struct gs_trace_reader *r, jobj *o)
{
	uint64_t t;
	if (jns(jget(o, "t"), &t))
		return;
	read_stats(r, o);
	r->nopen = 0;
	r->open_t_ns = t;
	jobj *arr = jget(o, "open");
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		jobj *c = json_object_array_get_idx(arr, i);
		struct gs_tread_open e;
		long long tid, pid;
		const char *name = jstr(jget(c, "name"));
		memset(&e, 0, sizeof e);
		if (!jid(jget(c, "pid"), &pid))
			e.pid = (pid_t)pid;
		e.role = gs_trace_role_parse(jstr(jget(c, "role")));
		if (jid(jget(c, "tid"), &tid) || e.role == GS_ROLE_UNKNOWN ||
		    jns(jget(c, "ts"), &e.start_ns) || ju64(jget(c, "samples"), &e.samples))
			continue;
		e.tid = (pid_t)tid;
		snprintf(e.name, sizeof e.name, "%s", name ? name : "");
		if (r->nopen == r->open_cap) {
			size_t cap = r->open_cap ? r->open_cap * 2 : 16;
			struct gs_tread_open *v = realloc(r->open, cap * sizeof *v);
			if (!v)
				return;
			r->open = v;
			r->open_cap = cap;
		}
		r->open[r->nopen++] = e;
	}
}

static void read_end(struct gs_trace_reader *r, jobj *o)
{
	const char *s = jstr(jget(o, "stopped_by"));
	read_identity(r, o);
	read_stats(r, o);
	r->target_exited = jbool(jget(o, "target_exited"), 0);
	if (s)
		snprintf(r->info.stopped_by, sizeof r->info.stopped_by, "%s", s);
	r->saw_end = 1;
}

/* A list of frame strings, interned into the summary's stacks. */
static uint32_t intern_list(struct gs_trace_reader *r, jobj *arr)
{
	const char *fr[GS_STACK_MAX_DEPTH];
	size_t n = 0;
	if (!arr || !json_object_is_type(arr, json_type_array) || !r->sum->stacks)
		return GS_STACK_NONE;
	size_t len = json_object_array_length(arr);
	for (size_t i = 0; i < len && n < GS_STACK_MAX_DEPTH; i++) {
		const char *f = jstr(json_object_array_get_idx(arr, i));
		if (f)
			fr[n++] = f;
	}
	return gs_stacks_intern(r->sum->stacks, fr, n, NULL);
}

/* An interval's stack, stack_end and native_stack from o (args, or a
 * jsonl line). */
static void interval_stacks(struct gs_trace_reader *r, jobj *o, uint32_t out[3])
{
	out[0] = intern_list(r, jget(o, "stack"));
	out[1] = intern_list(r, jget(o, "stack_end"));
	out[2] = intern_list(r, jget(o, "native_stack"));
}

/* Ids beyond this in a file are damage, not stacks. */
#define MAX_FILE_STACK_ID (1u << 24)

static void read_stack_def(struct gs_trace_reader *r, jobj *o)
{
	uint64_t id;
	if (ju64(jget(o, "id"), &id) || !id || id >= MAX_FILE_STACK_ID)
		return;
	if (id >= r->stack_map_cap) {
		size_t cap = r->stack_map_cap ? r->stack_map_cap : 1024;
		while (cap <= id)
			cap *= 2;
		uint32_t *v = realloc(r->stack_map, cap * sizeof *v);
		if (!v)
			return;
		memset(v + r->stack_map_cap, 0, (cap - r->stack_map_cap) * sizeof *v);
		r->stack_map = v;
		r->stack_map_cap = cap;
	}
	r->stack_map[id] = intern_list(r, jget(o, "frames"));
}

/* A jsonl stack sample (json's are instants: json_stack_sample); its
 * stack was defined on an earlier line. */
static void read_jsonl_sample(struct gs_trace_reader *r, jobj *o)
{
	long long pid, tid;
	uint64_t ts, id;
	if (jid(jget(o, "pid"), &pid) || jid(jget(o, "tid"), &tid) ||
	    jns(jget(o, "ts_us"), &ts) || ju64(jget(o, "stack"), &id)) {
		gs_tread_bad(r, r->line_no);
		return;
	}
	enum gs_role role = gs_trace_role_parse(jstr(jget(o, "role")));
	uint32_t local = id < r->stack_map_cap ? r->stack_map[id] : 0;
	if (role == GS_ROLE_UNKNOWN || !local) {
		gs_tread_bad(r, r->line_no);
		return;
	}
	struct gs_stack_sample smp = { (pid_t)pid, (pid_t)tid, ts, role, local };
	if (!gs_stack_counts_add(&r->sum->stack_counts, &smp))
		r->info.stack_samples++;
}

/* The run records shared by JSON (inside process_name args) and JSONL
 * (at top level).  Returns 1 when o held one. */
static int read_record(struct gs_trace_reader *r, jobj *o)
{
	jobj *k;
	if ((k = jget(o, "gilsnoop")) && json_object_is_type(k, json_type_object)) {
		read_identity(r, k);
		return 1;
	}
	if ((k = jget(o, "gilsnoop_progress")) && json_object_is_type(k, json_type_object)) {
		read_progress(r, k);
		return 1;
	}
	if ((k = jget(o, "gilsnoop_end")) && json_object_is_type(k, json_type_object)) {
		read_end(r, k);
		return 1;
	}
	if ((k = jget(o, "gilsnoop_process")) && json_object_is_type(k, json_type_object)) {
		read_process(r, k);
		return 1;
	}
	if ((k = jget(o, "gilsnoop_stack")) && json_object_is_type(k, json_type_object)) {
		read_stack_def(r, k);
		return 1;
	}
	if ((k = jget(o, "gilsnoop_stall")) && json_object_is_type(k, json_type_object)) {
		r->info.stalls++;
		return 1;
	}
	if ((k = jget(o, "gilsnoop_sample")) && json_object_is_type(k, json_type_object)) {
		read_jsonl_sample(r, k);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------- Trace Event JSON */

/* Whether pid is a GIL process's: one per target process of the
 * recording, at the target's pid + 2^30.  The first one seen is kept
 * in gil_pid. */
static int ours(struct gs_trace_reader *r, long long pid)
{
	if (pid < GS_TRACE_PID_OFFSET)
		return 0;
	if (!r->gil_pid)
		r->gil_pid = pid;
	return 1;
}

/* An X slice, or an instant for an interval shorter than the
 * microsecond grid.  Exact nanoseconds come from the event's own
 * "gilsnoop" member where the writer put them; older files wrote
 * fractional microseconds, and args.samples. */
static int json_interval(struct gs_trace_reader *r, jobj *ev, jobj *args, int instant,
			 const char *name, pid_t pid)
{
	uint64_t ts, dur = 0, samples = 0;
	long long tid;
	if (jid(jget(ev, "tid"), &tid) || jns(jget(ev, "ts"), &ts) ||
	    (!instant && jns(jget(ev, "dur"), &dur)) || ts > UINT64_MAX - dur)
		return -1;
	enum gs_role role = gs_trace_role_parse(jstr(jget(args, "role")));
	if (role == GS_ROLE_UNKNOWN)
		role = gs_trace_role_parse(name);
	if (role == GS_ROLE_UNKNOWN)
		return -1;
	uint64_t start = ts, end = ts + dur;
	jobj *g = jget(ev, "gilsnoop"), *ns = jget(g, "ns");
	uint64_t a, b;
	if (ju64(jget(g, "samples"), &samples))
		ju64(jget(args, "samples"), &samples);
	if (ns && json_object_is_type(ns, json_type_array) &&
	    json_object_array_length(ns) == 2 &&
	    !ju64(json_object_array_get_idx(ns, 0), &a) && a < 1000 &&
	    !ju64(json_object_array_get_idx(ns, 1), &b) && b < 1000 &&
	    start % 1000 == 0 && end % 1000 == 0 && end + b >= start + a) {
		start += a;
		end += b;
	}
	uint64_t gil = 0;
	ju64(jget(g, "gil"), &gil);
	uint32_t stk[3];
	interval_stacks(r, args, stk);
	gs_tread_interval(r, pid, (pid_t)tid, (unsigned)(gil < 1000 ? gil : 0), NULL, role,
			  start, end, samples, jstr(jget(args, "syscall")),
			  jstr(jget(args, "path")), jstr(jget(args, "wchan")), stk);
	return 0;
}

/* A stack sample: its stack was defined earlier in the file. */
static int json_stack_sample(struct gs_trace_reader *r, jobj *ev, jobj *args)
{
	long long tid, pid;
	uint64_t ts, id;
	if (jid(jget(ev, "tid"), &tid) || jns(jget(ev, "ts"), &ts) ||
	    ju64(jget(args, "stack_id"), &id))
		return -1;
	/* The process: its GIL track's pid (one per target). */
	if (jid(jget(ev, "pid"), &pid) || pid < GS_TRACE_PID_OFFSET)
		pid = r->gil_pid;
	enum gs_role role = gs_trace_role_parse(jstr(jget(args, "role")));
	uint32_t local = id < r->stack_map_cap ? r->stack_map[id] : 0;
	if (role == GS_ROLE_UNKNOWN || !local)
		return -1;
	struct gs_stack_sample s = { (pid_t)(pid - GS_TRACE_PID_OFFSET),
				     (pid_t)tid, ts, role, local };
	if (!gs_stack_counts_add(&r->sum->stack_counts, &s))
		r->info.stack_samples++;
	return 0;
}

static void json_event(void *ctx, jobj *ev, uint64_t line)
{
	struct gs_trace_reader *r = ctx;
	const char *ph = jstr(jget(ev, "ph"));
	const char *name = jstr(jget(ev, "name"));
	const char *cat = jstr(jget(ev, "cat"));
	jobj *args = jget(ev, "args");
	long long pid, tid;
	if (!ph) {
		gs_tread_bad(r, line);
		return;
	}
	if (jid(jget(ev, "pid"), &pid) || pid < GS_TRACE_PID_OFFSET) {
		r->info.foreign_events++;
		return;
	}
	if (!strcmp(ph, "M") && name && !strcmp(name, "process_name")) {
		if (read_record(r, args))
			r->ours = ours(r, pid);
	} else if (!strcmp(ph, "M") && name && !strcmp(name, "thread_name")) {
		const char *tn = jstr(jget(args, "name"));
		if (jid(jget(ev, "tid"), &tid) || !tn) {
			gs_tread_bad(r, line);
			return;
		}
		r->ours = ours(r, pid);
		gs_summary_name(r->sum, (pid_t)(pid - GS_TRACE_PID_OFFSET), (pid_t)tid, tn,
				jbool(jget(args, "python"), 1));
	} else if ((!strcmp(ph, "X") || !strcmp(ph, "i") || !strcmp(ph, "I")) &&
		   cat && !strcmp(cat, "gil")) {
		if (json_interval(r, ev, args, strcmp(ph, "X") != 0, name,
				  (pid_t)(pid - GS_TRACE_PID_OFFSET)))
			gs_tread_bad(r, line);
		else
			r->ours = ours(r, pid);
	} else if (!strcmp(ph, "i") && cat && !strcmp(cat, "stack")) {
		r->ours = ours(r, pid);
		if (json_stack_sample(r, ev, args))
			gs_tread_bad(r, line);
	}
	/* Anything else of ours (the waiters counter, what a later
	 * version adds) is not needed here. */
}

static void json_opened(void *ctx)
{
	((struct gs_trace_reader *)ctx)->opened = 1;
}

static void json_closed(void *ctx)
{
	((struct gs_trace_reader *)ctx)->closed = 1;
}

static int json_want(void *ctx, const char *key)
{
	return !strcmp(key, "otherData");
}

/* otherData.gilsnoop repeats the closing record; viztracer --combine
 * keeps only the first file's, so the closing event is what counts. */
static void json_member(void *ctx, const char *key, jobj *v)
{
	struct gs_trace_reader *r = ctx;
	jobj *g = jget(v, "gilsnoop");
	long long pid;
	if (!g || !json_object_is_type(g, json_type_object) || jid(jget(g, "pid"), &pid) ||
	    !ours(r, pid + GS_TRACE_PID_OFFSET))
		return;
	read_end(r, g);
	r->ours = 1;
}

static void json_bad(void *ctx, uint64_t line)
{
	gs_tread_bad(ctx, line);
}

void gs_tread_jsonl_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	struct json_tokener *tok = r->tok ? r->tok : (r->tok = json_tokener_new());
	jobj *o = NULL;
	if (tok) {
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, s, (int)n);
	}
	long long tid, pid = 0;
	uint64_t ts, dur, samples = 0;
	int ok = o && json_object_is_type(o, json_type_object) &&
		json_tokener_get_parse_end(tok) == n;
	if (ok && !read_record(r, o)) {
		enum gs_role role = gs_trace_role_parse(jstr(jget(o, "state")));
		if (jid(jget(o, "tid"), &tid) || role == GS_ROLE_UNKNOWN ||
		    jns(jget(o, "ts_us"), &ts) || jns(jget(o, "dur_us"), &dur) ||
		    ts > UINT64_MAX - dur) {
			ok = 0;
		} else {
			uint32_t stk[3];
			ju64(jget(o, "samples"), &samples);
			uint64_t gil = 0;
			if (jid(jget(o, "pid"), &pid))
				pid = 0;
			ju64(jget(o, "gil"), &gil);
			interval_stacks(r, o, stk);
			gs_tread_interval(r, (pid_t)pid, (pid_t)tid, (unsigned)(gil < 1000 ? gil : 0),
				     jstr(jget(o, "name")), role, ts, ts + dur, samples,
				     jstr(jget(o, "syscall")), jstr(jget(o, "path")),
				     jstr(jget(o, "wchan")), stk);
		}
	}
	if (!ok)
		gs_tread_bad(r, r->line_no);
	json_object_put(o);
}

void gs_tread_json_sink(struct gs_trace_reader *r, struct gs_tjson_sink *sink)
{
	memset(sink, 0, sizeof *sink);
	sink->ctx = r;
	sink->events_opened = json_opened;
	sink->event = json_event;
	sink->want = json_want;
	sink->member = json_member;
	sink->bad = json_bad;
	sink->closed = json_closed;
}
