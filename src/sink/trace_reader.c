/* Reading recordings back (include/sink/trace_reader.h).  The format
 * is told from the first bytes; Trace Event JSON is streamed through
 * trace_json.c, JSONL is parsed a line at a time with json-c, CSV with
 * trace_csv.c.  Whatever the input, this file turns gilsnoop's records
 * into summary intervals and run figures, and makes up for what a file
 * cut off by SIGKILL lost (the intervals its last progress record lists
 * as open). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "sink/trace_csv.h"
#include "sink/trace_json.h"
#include "sink/trace_reader.h"

/* ------------------------------------------------- json-c accessors */

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

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A non-negative decimal with up to 3 meaningful fractional digits:
 * microseconds as written, to exact nanoseconds (a double would round
 * CLOCK_MONOTONIC values of a machine up for more than 104 days). */
static int dec_to_milli(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	int frac = -1;
	if (!n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.' && frac < 0 && i > 0 && i + 1 < n) {
			frac = 0;
			continue;
		}
		if (!is_digit(c))
			return -1;
		if (frac >= 3)
			continue; /* beyond a nanosecond: dropped */
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(c - '0');
		if (frac >= 0)
			frac++;
	}
	for (int k = frac < 0 ? 0 : frac; k < 3; k++) {
		if (v > UINT64_MAX / 10)
			return -1;
		v *= 10;
	}
	*out = v;
	return 0;
}

static int dec_to_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (!n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
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
	errno = 0;
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
	if (!dec_to_milli(s, strlen(s), out))
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

/* ---------------------------------------------------------- reader */

struct open_entry {
	pid_t tid;
	enum gs_role role;
	uint64_t start_ns, samples;
	char name[64];
};

enum kind { K_UNKNOWN, K_JSON, K_JSONL, K_CSV, K_NONE };

struct run_stats {
	uint64_t samples, torn, switches, missed, first_ns, last_ns;
};

/* Bytes held back until the format is known, enough for the longest
 * signature (the CSV header). */
#define HEAD_MAX 40
/* A JSONL or CSV line longer than this is damage. */
#define MAX_LINE GS_TJSON_MAX_VALUE
/* Bound on one CSV row held across lines. */
#define CSV_MAX_ROW (64 * 1024)
#define CSV_FIELDS 9

struct gs_trace_reader {
	struct gs_summary *sum;
	struct gs_trace_info info;
	enum kind kind;
	char head[HEAD_MAX];
	size_t nhead;
	int started, bom;        /* bytes of a byte order mark skipped */
	uint64_t lead_lines;     /* line ends skipped before the head */
	int fed, last_nl;        /* input so far; it ends in a line end */
	/* json */
	struct gs_tjson *tj;
	long long gil_pid;       /* the GIL process's pid; 0 until seen */
	int opened, closed, ours;
	/* jsonl and csv: the line being gathered */
	char *line;
	size_t line_len, line_cap;
	int line_long;           /* over MAX_LINE: dropped to its end */
	uint64_t line_no;
	int csv_header;          /* the header row was passed */
	char *pending;           /* a CSV row whose quoted field runs on */
	size_t pending_len;
	/* the run records */
	int saw_end, target_exited, have_stats;
	struct run_stats stats;
	struct open_entry *open; /* the last progress record's open intervals */
	size_t nopen, open_cap;
	uint64_t open_t_ns;
};

static void bad_at(struct gs_trace_reader *r, uint64_t line)
{
	r->info.bad_lines++;
	if (!r->info.bad_line_no)
		r->info.bad_line_no = line ? line : 1;
}

static void add_interval(struct gs_trace_reader *r, pid_t tid, const char *name,
			 enum gs_role role, uint64_t start, uint64_t end,
			 uint64_t samples, const char *path, const char *wchan)
{
	struct gs_interval iv;
	memset(&iv, 0, sizeof iv);
	if (role == GS_ROLE_UNKNOWN || end < start)
		return;
	struct gs_thread_summary *t = gs_summary_thread(r->sum, tid);
	if (!t)
		return;
	if (!t->name[0] && name && name[0])
		gs_summary_name(r->sum, tid, name, t->is_python);
	iv.tid = tid;
	iv.role = role;
	iv.start_ns = start;
	iv.end_ns = end;
	iv.samples = samples;
	iv.syscall_nr = -1;
	if (path)
		strncat(iv.path, path, sizeof iv.path - 1);
	if (wchan)
		strncat(iv.wchan, wchan, sizeof iv.wchan - 1);
	gs_summary_add(r->sum, &iv);
	r->info.intervals++;
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
	if (!jid(jget(o, "pid"), &pid))
		in->pid = (pid_t)pid;
	jobj *rate = jget(o, "rate_hz");
	if (rate)
		in->rate_hz = jdouble(rate);
	in->have_header = 1;
}

static void read_stats(struct gs_trace_reader *r, jobj *o)
{
	struct run_stats st;
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
		struct open_entry e;
		long long tid;
		const char *name = jstr(jget(c, "name"));
		memset(&e, 0, sizeof e);
		e.role = gs_trace_role_parse(jstr(jget(c, "role")));
		if (jid(jget(c, "tid"), &tid) || e.role == GS_ROLE_UNKNOWN ||
		    jns(jget(c, "ts"), &e.start_ns) || ju64(jget(c, "samples"), &e.samples))
			continue;
		e.tid = (pid_t)tid;
		snprintf(e.name, sizeof e.name, "%s", name ? name : "");
		if (r->nopen == r->open_cap) {
			size_t cap = r->open_cap ? r->open_cap * 2 : 16;
			struct open_entry *v = realloc(r->open, cap * sizeof *v);
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
	return 0;
}

/* ------------------------------------------------------------ json */

/* Whether pid is the GIL process's.  The first gilsnoop record or event
 * names it; another recording's GIL process combined into the same file
 * is skipped like any other process. */
static int ours(struct gs_trace_reader *r, long long pid)
{
	if (r->gil_pid)
		return pid == r->gil_pid;
	if (pid < GS_TRACE_PID_OFFSET)
		return 0;
	r->gil_pid = pid;
	return 1;
}

/* An X slice, or an instant for an interval shorter than the
 * microsecond grid.  Exact nanoseconds come from the event's own
 * "gilsnoop" member where the writer put them; older files wrote
 * fractional microseconds, and args.samples. */
static int json_interval(struct gs_trace_reader *r, jobj *ev, jobj *args, int instant,
			 const char *name)
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
	add_interval(r, (pid_t)tid, NULL, role, start, end, samples,
		     jstr(jget(args, "path")), jstr(jget(args, "wchan")));
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
		bad_at(r, line);
		return;
	}
	if (jid(jget(ev, "pid"), &pid) || pid < GS_TRACE_PID_OFFSET ||
	    (r->gil_pid && pid != r->gil_pid)) {
		r->info.foreign_events++;
		return;
	}
	if (!strcmp(ph, "M") && name && !strcmp(name, "process_name")) {
		if (read_record(r, args))
			r->ours = ours(r, pid);
	} else if (!strcmp(ph, "M") && name && !strcmp(name, "thread_name")) {
		const char *tn = jstr(jget(args, "name"));
		if (jid(jget(ev, "tid"), &tid) || !tn) {
			bad_at(r, line);
			return;
		}
		r->ours = ours(r, pid);
		gs_summary_name(r->sum, (pid_t)tid, tn, jbool(jget(args, "python"), 1));
	} else if ((!strcmp(ph, "X") || !strcmp(ph, "i") || !strcmp(ph, "I")) &&
		   cat && !strcmp(cat, "gil")) {
		if (json_interval(r, ev, args, strcmp(ph, "X") != 0, name))
			bad_at(r, line);
		else
			r->ours = ours(r, pid);
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
	bad_at(ctx, line);
}

/* ----------------------------------------------------- jsonl and csv */

static void jsonl_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	jobj *o = tok ? json_tokener_parse_ex(tok, s, (int)n) : NULL;
	long long tid;
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
			ju64(jget(o, "samples"), &samples);
			add_interval(r, (pid_t)tid, jstr(jget(o, "name")), role, ts,
				     ts + dur, samples, jstr(jget(o, "path")),
				     jstr(jget(o, "wchan")));
		}
	}
	if (!ok)
		bad_at(r, r->line_no);
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

static int csv_row(struct gs_trace_reader *r, const char *s, size_t n)
{
	const char *f[CSV_FIELDS + 1];
	char *buf = malloc(n + CSV_FIELDS + 2);
	uint64_t tid, ts, dur, samples;
	int rc = -1;
	if (!buf)
		return -1;
	if (gs_csv_split(s, n, buf, f, CSV_FIELDS + 1) == CSV_FIELDS &&
	    !dec_to_u64(f[0], strlen(f[0]), &tid) && tid > 0 && tid <= 0x7fffffff &&
	    !dec_to_milli(f[3], strlen(f[3]), &ts) &&
	    !dec_to_milli(f[4], strlen(f[4]), &dur) && ts <= UINT64_MAX - dur &&
	    !dec_to_u64(f[5], strlen(f[5]), &samples)) {
		enum gs_role role = gs_trace_role_parse(f[2]);
		if (role != GS_ROLE_UNKNOWN) {
			add_interval(r, (pid_t)tid, f[1], role, ts, ts + dur, samples,
				     f[7], f[8]);
			rc = 0;
		}
	}
	free(buf);
	return rc;
}

static void drop_pending(struct gs_trace_reader *r)
{
	free(r->pending);
	r->pending = NULL;
	r->pending_len = 0;
}

/* A CSV line, without its line end.  A quoted field may hold line
 * ends: the row is then gathered over several lines. */
static void csv_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	if (n && s[n - 1] == '\r' && !r->pending)
		n--;
	if (r->pending) {
		size_t need = r->pending_len + 1 + n;
		char *p = need <= CSV_MAX_ROW ? realloc(r->pending, need + 1) : NULL;
		if (!p) {
			drop_pending(r);
			bad_at(r, r->line_no);
			return;
		}
		p[r->pending_len] = '\n';
		memcpy(p + r->pending_len + 1, s, n);
		r->pending = p;
		r->pending_len = need;
		s = p;
		n = need;
		if (!gs_csv_open_quote(s, n) && n && s[n - 1] == '\r')
			n--;
	}
	if (gs_csv_open_quote(s, n)) {
		if (!r->pending) {
			if (n > CSV_MAX_ROW || !(r->pending = malloc(n + 1))) {
				bad_at(r, r->line_no);
				return;
			}
			memcpy(r->pending, s, n);
			r->pending_len = n;
		}
		return;
	}
	if (csv_row(r, s, n))
		bad_at(r, r->line_no);
	drop_pending(r);
}

/* One whole line of a JSONL or CSV file, without its line end. */
static void line_done(struct gs_trace_reader *r, const char *s, size_t n)
{
	r->line_no++;
	if (r->line_long) {
		r->line_long = 0;
		bad_at(r, r->line_no);
		return;
	}
	if (r->kind == K_CSV) {
		/* The header, and blank lines outside a quoted field. */
		if (!r->csv_header) {
			r->csv_header = 1;
			return;
		}
		if (!n && !r->pending)
			return;
		csv_line(r, s, n);
		return;
	}
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n)
		jsonl_line(r, s, n);
}

static void lines_feed(struct gs_trace_reader *r, const char *p, size_t len)
{
	const char *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (!r->line_long) {
			if (r->line_len + n > MAX_LINE) {
				r->line_long = 1;
				r->line_len = 0;
			} else if (nl && !r->line_len) {
				line_done(r, p, n);   /* whole in this piece: no copy */
				p = nl + 1;
				continue;
			} else {
				if (r->line_len + n > r->line_cap) {
					size_t cap = r->line_cap ? r->line_cap : 4096;
					while (cap < r->line_len + n)
						cap *= 2;
					char *b = realloc(r->line, cap);
					if (!b) {
						r->line_long = 1;
						r->line_len = 0;
						goto next;
					}
					r->line = b;
					r->line_cap = cap;
				}
				memcpy(r->line + r->line_len, p, n);
				r->line_len += n;
			}
		}
next:
		if (!nl)
			return;
		line_done(r, r->line, r->line_len);
		r->line_len = 0;
		p = nl + 1;
	}
}

/* ---------------------------------------------------------- formats */

static int prefix_state(const char *s, size_t n, const char *sig)
{
	size_t k = strlen(sig);
	if (memcmp(s, sig, n < k ? n : k))
		return -1;   /* differs */
	return n >= k;   /* 1: matches, 0: too short to tell */
}

/* The format from the first bytes (after white space and a UTF-8 byte
 * order mark); K_UNKNOWN until they tell, unless at_end. */
static enum kind detect(const char *s, size_t n, int at_end)
{
	if (!n)
		return at_end ? K_NONE : K_UNKNOWN;
	if (*s == '[')
		return K_JSON;
	if (*s == '{') {
		int a = prefix_state(s, n, "{\"gilsnoop\":");
		int b = prefix_state(s, n, "{\"tid\":");
		if (a == 1 || b == 1)
			return K_JSONL;
		return a < 0 && b < 0 ? K_JSON : at_end ? K_JSON : K_UNKNOWN;
	}
	int c = prefix_state(s, n, "tid,name,state,ts_us,dur_us");
	if (c == 1)
		return K_CSV;
	return c < 0 || at_end ? K_NONE : K_UNKNOWN;
}

static void start_kind(struct gs_trace_reader *r, enum kind k)
{
	static const struct gs_tjson_sink sink0 = {
		NULL, json_opened, json_event, json_want, json_member, json_bad,
		json_closed,
	};
	r->kind = k;
	switch (k) {
	case K_JSON: {
		struct gs_tjson_sink sink = sink0;
		sink.ctx = r;
		r->info.format = GS_TRACE_JSON;
		if (!(r->tj = gs_tjson_new(&sink)))
			r->kind = K_NONE;
		break;
	}
	case K_JSONL:
		r->info.format = GS_TRACE_JSONL;
		break;
	case K_CSV:
		r->info.format = GS_TRACE_CSV;
		break;
	case K_NONE: case K_UNKNOWN:
		break;
	}
}

static void dispatch(struct gs_trace_reader *r, const char *p, size_t n)
{
	switch (r->kind) {
	case K_JSON:
		gs_tjson_feed(r->tj, p, n);
		break;
	case K_JSONL: case K_CSV:
		lines_feed(r, p, n);
		break;
	case K_NONE: case K_UNKNOWN:
		break;
	}
}

/* The format is known: hand on what was held back. */
static void decided(struct gs_trace_reader *r, enum kind k)
{
	static const char nl[64] = { [0 ... 63] = '\n' };
	start_kind(r, k);
	switch (r->kind) {
	case K_NONE:
		if (r->nhead || r->bom % 3)
			bad_at(r, r->lead_lines + 1);
		return;
	case K_JSON:
		/* The white space skipped keeps the line numbers right. */
		for (uint64_t n = r->lead_lines; n; n -= n > 64 ? 64 : n)
			gs_tjson_feed(r->tj, nl, n > 64 ? 64 : (size_t)n);
		break;
	case K_JSONL: case K_CSV:
		r->line_no = r->lead_lines;
		break;
	case K_UNKNOWN:
		return;
	}
	dispatch(r, r->head, r->nhead);
}

struct gs_trace_reader *gs_trace_reader_new(struct gs_summary *sum)
{
	struct gs_trace_reader *r = calloc(1, sizeof *r);
	if (r)
		r->sum = sum;
	return r;
}

void gs_trace_reader_free(struct gs_trace_reader *r)
{
	if (!r)
		return;
	gs_tjson_free(r->tj);
	free(r->line);
	free(r->pending);
	free(r->open);
	free(r);
}

void gs_trace_reader_feed(struct gs_trace_reader *r, const char *buf, size_t len)
{
	if (!len)
		return;
	for (const char *p = buf, *end = buf + len;
	     (p = memchr(p, '\n', (size_t)(end - p))); p++)
		r->info.lines++;
	r->fed = 1;
	r->last_nl = buf[len - 1] == '\n';
	/* Leading white space and a UTF-8 byte order mark are skipped,
	 * then bytes are held until they tell the format. */
	while (r->kind == K_UNKNOWN && len) {
		unsigned char c = (unsigned char)*buf++;
		len--;
		if (!r->nhead) {
			if (!r->started) {
				if (r->bom < 3 && c == (unsigned char)"\xef\xbb\xbf"[r->bom]) {
					r->bom++;
					continue;
				}
				r->started = 1;
				if (r->bom % 3) {
					decided(r, K_NONE);
					break;
				}
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				r->lead_lines += c == '\n';
				continue;
			}
		}
		r->head[r->nhead++] = (char)c;
		enum kind k = detect(r->head, r->nhead, r->nhead == HEAD_MAX);
		if (k != K_UNKNOWN)
			decided(r, k);
	}
	dispatch(r, buf, len);
}

/* Intervals a cut-off file left open were listed by the last progress
 * record; count them up to that record's time unless the file shows
 * them closing later. */
static void close_open(struct gs_trace_reader *r)
{
	for (size_t i = 0; i < r->nopen; i++) {
		const struct open_entry *e = &r->open[i];
		struct gs_thread_summary *t = gs_summary_thread(r->sum, e->tid);
		if (!t || (t->last_ns && t->last_ns > e->start_ns) ||
		    r->open_t_ns < e->start_ns)
			continue;
		add_interval(r, e->tid, e->name, e->role, e->start_ns, r->open_t_ns,
			     e->samples, NULL, NULL);
		r->info.partial_intervals++;
	}
}

int gs_trace_reader_finish(struct gs_trace_reader *r, struct gs_trace_info *info)
{
	struct gs_run_info *run = &r->sum->run;
	struct gs_trace_info *in = &r->info;
	if (r->kind == K_UNKNOWN)
		decided(r, r->nhead ? detect(r->head, r->nhead, 1) : K_NONE);
	in->lines += r->fed && !r->last_nl;
	switch (r->kind) {
	case K_JSON:
		gs_tjson_finish(r->tj);
		in->complete = r->saw_end && r->closed;
		/* A gilsnoop record or event; or a list cut off before
		 * the first of them (the file of a recording killed at
		 * once). */
		in->format_known = r->ours || (r->opened && !r->closed);
		break;
	case K_JSONL: case K_CSV:
		if (r->line_len || r->line_long) {
			line_done(r, r->line, r->line_len);
			r->line_len = 0;
		}
		if (r->pending) {
			bad_at(r, r->line_no);
			drop_pending(r);
		}
		in->complete = r->kind == K_CSV ? in->bad_lines == 0 : r->saw_end;
		in->format_known = 1;
		break;
	case K_NONE: case K_UNKNOWN:
		break;
	}
	if (!in->complete)
		close_open(r);
	in->have_stats = r->have_stats;
	run->rate_hz = in->rate_hz;
	run->pid = in->pid;
	snprintf(run->python_version, sizeof run->python_version, "%s", in->python_version);
	run->counts_unknown = !r->have_stats;
	run->target_exited = r->target_exited;
	run->truncated = !in->complete;
	if (r->have_stats) {
		run->samples = r->stats.samples;
		run->torn = r->stats.torn;
		run->switches = r->stats.switches;
		run->missed = r->stats.missed;
		if (r->stats.first_ns && (!run->first_ns || r->stats.first_ns < run->first_ns))
			run->first_ns = r->stats.first_ns;
		if (r->stats.last_ns > run->last_ns)
			run->last_ns = r->stats.last_ns;
	}
	if (info)
		*info = *in;
	return in->format_known ? 0 : -1;
}

int gs_trace_parse_buffer(const char *buf, size_t len, struct gs_summary *sum,
			  struct gs_trace_info *info)
{
	struct gs_trace_reader *r = gs_trace_reader_new(sum);
	if (!r)
		return -1;
	gs_trace_reader_feed(r, buf, len);
	int rc = gs_trace_reader_finish(r, info);
	gs_trace_reader_free(r);
	return rc;
}

int gs_trace_read_file(const char *path, struct gs_summary *sum,
		       struct gs_trace_info *info)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return gs_fail(GS_EFAIL, "cannot open %s: %s", path, strerror(errno));
	struct gs_trace_reader *r = gs_trace_reader_new(sum);
	static char buf[1 << 16];
	size_t n;
	int rc = 0;
	if (!r) {
		if (f != stdin)
			fclose(f);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	errno = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		gs_trace_reader_feed(r, buf, n);
	if (ferror(f))
		rc = gs_fail(GS_EFAIL, "cannot read %s: %s", path, strerror(errno ? errno : EIO));
	if (f != stdin)
		fclose(f);
	if (!rc && gs_trace_reader_finish(r, info)) {
		if (r->kind == K_JSON && !info->bad_lines)
			rc = gs_fail(GS_EFAIL, "%s holds no gilsnoop events: it is Trace "
				     "Event JSON, but gilsnoop record did not write it "
				     "(nor was it combined with a file that record wrote)",
				     path);
		else if (!info->bad_lines)
			rc = gs_fail(GS_EFAIL, "%s is empty: the recording was cut off "
				     "before anything was written", path);
		else
			rc = gs_fail(GS_EFAIL, "%s is not a gilsnoop recording: line %llu "
				     "is not Trace Event JSON, nor the jsonl or csv that "
				     "gilsnoop record writes", path,
				     (unsigned long long)info->bad_line_no);
	}
	gs_trace_reader_free(r);
	return rc;
}
