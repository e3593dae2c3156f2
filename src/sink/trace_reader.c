/* Line-based reader for recordings.  It accepts exactly the shapes
 * trace_writer.c produces, one event per line, and treats everything
 * else as a bad line: the input may be cut anywhere (SIGKILL, full
 * disk) or be garbage, and must never crash the reader.  Parsing works
 * on (pointer, length) pairs only, so it can be fed memory buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "sink/trace_reader.h"

/* ------------------------------------------------------------ JSON */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	int first, next;         /* first child, next sibling; -1 for none */
	const char *key;         /* member name inside an object */
	const char *s;           /* J_STR: decoded, NUL-terminated; J_NUM: raw text */
	size_t n;
	int b;
};

/* Bounds that no line gilsnoop writes comes near. */
#define J_MAX_DEPTH 16
#define J_MAX_NODES 1000000

struct jdoc {
	struct jnode *v;
	size_t n, cap;
	char *str;               /* decoded strings; never longer than the input */
	size_t slen;
	const char *p, *end;
	int depth;
};

static void skip_ws(struct jdoc *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' ||
				 *d->p == '\r'))
		d->p++;
}

static int new_node(struct jdoc *d, enum jtype t)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		if (cap > J_MAX_NODES)
			return -1;
		struct jnode *v = realloc(d->v, cap * sizeof *v);
		if (!v)
			return -1;
		d->v = v;
		d->cap = cap;
	}
	struct jnode *nd = &d->v[d->n];
	memset(nd, 0, sizeof *nd);
	nd->type = t;
	nd->first = nd->next = -1;
	return (int)d->n++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int read_hex4(struct jdoc *d, unsigned *out)
{
	unsigned v = 0;
	if (d->end - d->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(d->p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	d->p += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct jdoc *d, unsigned cp)
{
	char *o = d->str + d->slen;
	if (cp < 0x80) {
		o[0] = (char)cp;
		d->slen += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		d->slen += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		d->slen += 3;
	} else {
		o[0] = (char)(0xf0 | cp >> 18);
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		d->slen += 4;
	}
}

/* Decodes into d->str.  Every escape is at least as long as the UTF-8
 * it stands for, and the two quotes pay for the NUL, so d->str (as long
 * as the input) never overflows. */
static int parse_string(struct jdoc *d, const char **out, size_t *len)
{
	if (d->p >= d->end || *d->p != '"')
		return -1;
	d->p++;
	size_t start = d->slen;
	while (d->p < d->end && *d->p != '"') {
		unsigned char c = (unsigned char)*d->p;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			d->str[d->slen++] = (char)c;
			d->p++;
			continue;
		}
		if (++d->p >= d->end)
			return -1;
		char e = *d->p++;
		unsigned cp;
		switch (e) {
		case '"': case '\\': case '/': d->str[d->slen++] = e; break;
		case 'b': d->str[d->slen++] = '\b'; break;
		case 'f': d->str[d->slen++] = '\f'; break;
		case 'n': d->str[d->slen++] = '\n'; break;
		case 'r': d->str[d->slen++] = '\r'; break;
		case 't': d->str[d->slen++] = '\t'; break;
		case 'u':
			if (read_hex4(d, &cp))
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (d->end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u') {
					d->p += 2;
					if (read_hex4(d, &lo))
						return -1;
					if (lo >= 0xdc00 && lo <= 0xdfff)
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					else
						cp = 0xfffd;
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				cp = 0xfffd;
			}
			/* NUL would cut the C string short. */
			put_utf8(d, cp ? cp : 0xfffd);
			break;
		default:
			return -1;
		}
	}
	if (d->p >= d->end)
		return -1;
	d->p++;
	d->str[d->slen++] = 0;
	*out = d->str + start;
	*len = d->slen - start - 1;
	return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(struct jdoc *d, int idx)
{
	const char *s = d->p;
	if (d->p < d->end && *d->p == '-')
		d->p++;
	if (d->p >= d->end || !is_digit(*d->p))
		return -1;
	if (*d->p == '0')
		d->p++;
	else
		while (d->p < d->end && is_digit(*d->p))
			d->p++;
	if (d->p < d->end && *d->p == '.') {
		d->p++;
		if (d->p >= d->end || !is_digit(*d->p))
			return -1;
		while (d->p < d->end && is_digit(*d->p))
			d->p++;
	}
	if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
		d->p++;
		if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
			d->p++;
		if (d->p >= d->end || !is_digit(*d->p))
			return -1;
		while (d->p < d->end && is_digit(*d->p))
			d->p++;
	}
	d->v[idx].s = s;
	d->v[idx].n = (size_t)(d->p - s);
	return 0;
}

static int literal(struct jdoc *d, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n))
		return -1;
	d->p += n;
	return 0;
}

static int parse_value(struct jdoc *d);

/* Parses the members or elements of a container whose opening bracket
 * was consumed; children are linked in order. */
static int parse_container(struct jdoc *d, int idx, int is_obj)
{
	char close = is_obj ? '}' : ']';
	int last = -1;
	skip_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t klen;
		skip_ws(d);
		if (is_obj) {
			if (parse_string(d, &key, &klen))
				return -1;
			skip_ws(d);
			if (d->p >= d->end || *d->p != ':')
				return -1;
			d->p++;
		}
		int c = parse_value(d);
		if (c < 0)
			return -1;
		d->v[c].key = key;
		if (last < 0)
			d->v[idx].first = c;
		else
			d->v[last].next = c;
		last = c;
		skip_ws(d);
		if (d->p >= d->end)
			return -1;
		if (*d->p == ',') {
			d->p++;
			continue;
		}
		if (*d->p == close) {
			d->p++;
			return 0;
		}
		return -1;
	}
}

static int parse_value(struct jdoc *d)
{
	int idx;
	skip_ws(d);
	if (d->p >= d->end)
		return -1;
	switch (*d->p) {
	case '{':
	case '[': {
		int is_obj = *d->p == '{';
		if (++d->depth > J_MAX_DEPTH)
			return -1;
		d->p++;
		if ((idx = new_node(d, is_obj ? J_OBJ : J_ARR)) < 0 ||
		    parse_container(d, idx, is_obj))
			return -1;
		d->depth--;
		return idx;
	}
	case '"': {
		const char *s;
		size_t n;
		if ((idx = new_node(d, J_STR)) < 0 || parse_string(d, &s, &n))
			return -1;
		d->v[idx].s = s;
		d->v[idx].n = n;
		return idx;
	}
	case 't':
	case 'f':
		if ((idx = new_node(d, J_BOOL)) < 0)
			return -1;
		d->v[idx].b = *d->p == 't';
		return literal(d, d->v[idx].b ? "true" : "false") ? -1 : idx;
	case 'n':
		if ((idx = new_node(d, J_NULL)) < 0)
			return -1;
		return literal(d, "null") ? -1 : idx;
	default:
		if ((idx = new_node(d, J_NUM)) < 0 || parse_number(d, idx))
			return -1;
		return idx;
	}
}

static void jdoc_free(struct jdoc *d)
{
	free(d->v);
	free(d->str);
	memset(d, 0, sizeof *d);
}

/* Parse one complete JSON value filling [p, p+len).  Returns the root
 * index, or -1. */
static int jdoc_parse(struct jdoc *d, const char *p, size_t len)
{
	memset(d, 0, sizeof *d);
	if (!(d->str = malloc(len + 1)))
		return -1;
	d->p = p;
	d->end = p + len;
	int root = parse_value(d);
	skip_ws(d);
	return root >= 0 && d->p == d->end ? root : -1;
}

static int jget(const struct jdoc *d, int obj, const char *key)
{
	if (obj < 0 || d->v[obj].type != J_OBJ)
		return -1;
	for (int c = d->v[obj].first; c >= 0; c = d->v[c].next)
		if (!strcmp(d->v[c].key, key))
			return c;
	return -1;
}

static const char *jstr(const struct jdoc *d, int idx)
{
	return idx >= 0 && d->v[idx].type == J_STR ? d->v[idx].s : NULL;
}

static int jbool(const struct jdoc *d, int idx, int dflt)
{
	return idx >= 0 && d->v[idx].type == J_BOOL ? d->v[idx].b : dflt;
}

/* A non-negative decimal with up to 3 meaningful fractional digits:
 * microseconds as written, to exact nanoseconds (a double would round
 * CLOCK_MONOTONIC values of a long-running machine). */
static int dec_to_milli(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	int frac = -1;
	if (!n)
		return -1;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '.' && frac < 0) {
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

static int jns(const struct jdoc *d, int idx, uint64_t *out)
{
	if (idx < 0 || d->v[idx].type != J_NUM)
		return -1;
	return dec_to_milli(d->v[idx].s, d->v[idx].n, out);
}

static int ju64(const struct jdoc *d, int idx, uint64_t *out)
{
	if (idx < 0 || d->v[idx].type != J_NUM)
		return -1;
	return dec_to_u64(d->v[idx].s, d->v[idx].n, out);
}

static double jdouble(const struct jdoc *d, int idx)
{
	char buf[64];
	if (idx < 0 || d->v[idx].type != J_NUM || d->v[idx].n >= sizeof buf)
		return 0;
	memcpy(buf, d->v[idx].s, d->v[idx].n);
	buf[d->v[idx].n] = 0;
	return strtod(buf, NULL);
}

static int jtid(const struct jdoc *d, int idx, pid_t *out)
{
	uint64_t v;
	if (ju64(d, idx, &v) || v == 0 || v > 0x7fffffff)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* ---------------------------------------------------------- reader */

struct open_entry {
	pid_t tid;
	enum gs_role role;
	uint64_t start_ns, samples;
	char name[64];
};

enum section { S_NONE, S_JSON_EVENTS, S_JSON_TAIL, S_JSONL, S_CSV };

struct run_stats {
	uint64_t samples, torn, switches, missed, first_ns, last_ns;
};

struct gs_trace_reader {
	struct gs_summary *sum;
	struct gs_trace_info info;
	enum section sec;
	int saw_other, saw_close, target_exited;
	int have_stats;
	struct run_stats stats;
	/* The last progress record's open intervals. */
	struct open_entry *open;
	size_t nopen, open_cap;
	uint64_t open_t_ns;
	/* A CSV row whose quoted field runs over a line end. */
	char *pending;
	size_t pending_len;
};

#define MAX_LINE (16u << 20)
/* Bound on one CSV row held across lines. */
#define CSV_MAX_ROW (64 * 1024)

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
	free(r->open);
	free(r->pending);
	free(r);
}

static void bad_line(struct gs_trace_reader *r)
{
	r->info.bad_lines++;
	if (!r->info.bad_line_no)
		r->info.bad_line_no = r->info.lines;
}

static void add_interval(struct gs_trace_reader *r, pid_t tid, const char *name,
			 enum gs_role role, uint64_t start, uint64_t dur,
			 uint64_t samples, const char *path, const char *wchan)
{
	struct gs_interval iv;
	memset(&iv, 0, sizeof iv);
	if (role == GS_ROLE_UNKNOWN || start > UINT64_MAX - dur)
		return;
	struct gs_thread_summary *t = gs_summary_thread(r->sum, tid);
	if (!t)
		return;
	if (!t->name[0] && name && name[0])
		gs_summary_name(r->sum, tid, name, t->is_python);
	iv.tid = tid;
	iv.role = role;
	iv.start_ns = start;
	iv.end_ns = start + dur;
	iv.samples = samples;
	iv.syscall_nr = -1;
	snprintf(iv.path, sizeof iv.path, "%s", path ? path : "");
	snprintf(iv.wchan, sizeof iv.wchan, "%s", wchan ? wchan : "");
	gs_summary_add(r->sum, &iv);
	r->info.intervals++;
}

static void read_identity(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	struct gs_trace_info *in = &r->info;
	const char *s;
	pid_t pid;
	if ((s = jstr(d, jget(d, o, "python_version"))))
		snprintf(in->python_version, sizeof in->python_version, "%s", s);
	if ((s = jstr(d, jget(d, o, "comm"))))
		snprintf(in->comm, sizeof in->comm, "%s", s);
	if (!jtid(d, jget(d, o, "pid"), &pid))
		in->pid = pid;
	int rate = jget(d, o, "rate_hz");
	if (rate >= 0)
		in->rate_hz = jdouble(d, rate);
	in->have_header = 1;
}

static void read_stats(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	struct run_stats st;
	if (ju64(d, jget(d, o, "samples"), &st.samples) ||
	    ju64(d, jget(d, o, "torn_samples"), &st.torn) ||
	    ju64(d, jget(d, o, "switches"), &st.switches) ||
	    ju64(d, jget(d, o, "missed_switches"), &st.missed))
		return;
	if (jns(d, jget(d, o, "first_ts"), &st.first_ns))
		st.first_ns = 0;
	if (jns(d, jget(d, o, "last_ts"), &st.last_ns))
		st.last_ns = 0;
	r->stats = st;
	r->have_stats = 1;
}

static void read_progress(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	uint64_t t;
	if (jns(d, jget(d, o, "t"), &t))
		return;
	read_stats(r, d, o);
	r->nopen = 0;
	r->open_t_ns = t;
	int arr = jget(d, o, "open");
	if (arr < 0 || d->v[arr].type != J_ARR)
		return;
	for (int c = d->v[arr].first; c >= 0; c = d->v[c].next) {
		struct open_entry e;
		const char *name = jstr(d, jget(d, c, "name"));
		memset(&e, 0, sizeof e);
		e.role = gs_trace_role_parse(jstr(d, jget(d, c, "role")));
		if (jtid(d, jget(d, c, "tid"), &e.tid) || e.role == GS_ROLE_UNKNOWN ||
		    jns(d, jget(d, c, "ts"), &e.start_ns) ||
		    ju64(d, jget(d, c, "samples"), &e.samples))
			continue;
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

static void read_end(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	const char *s = jstr(d, jget(d, o, "stopped_by"));
	read_identity(r, d, o);
	read_stats(r, d, o);
	r->target_exited = jbool(d, jget(d, o, "target_exited"), 0);
	if (s)
		snprintf(r->info.stopped_by, sizeof r->info.stopped_by, "%s", s);
}

/* The run records shared by JSON (inside process_name args) and JSONL
 * (at top level).  Returns 1 when o held one. */
static int read_record(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	int k;
	if ((k = jget(d, o, "gilsnoop")) >= 0 && d->v[k].type == J_OBJ) {
		read_identity(r, d, k);
		return 1;
	}
	if ((k = jget(d, o, "gilsnoop_progress")) >= 0 && d->v[k].type == J_OBJ) {
		read_progress(r, d, k);
		return 1;
	}
	if ((k = jget(d, o, "gilsnoop_end")) >= 0 && d->v[k].type == J_OBJ) {
		read_end(r, d, k);
		return 1;
	}
	return 0;
}

static int json_event(struct gs_trace_reader *r, const struct jdoc *d, int ev)
{
	const char *ph = jstr(d, jget(d, ev, "ph"));
	const char *name = jstr(d, jget(d, ev, "name"));
	int args = jget(d, ev, "args");
	pid_t tid;
	if (!ph)
		return -1;
	if ((!strcmp(ph, "M") || !strcmp(ph, "X")) && !name)
		return -1;
	if (!strcmp(ph, "M")) {
		if (!strcmp(name, "process_name")) {
			read_record(r, d, args);
		} else if (!strcmp(name, "thread_name")) {
			const char *tn = jstr(d, jget(d, args, "name"));
			if (jtid(d, jget(d, ev, "tid"), &tid) || !tn)
				return -1;
			gs_summary_name(r->sum, tid, tn, jbool(d, jget(d, args, "python"), 1));
		}
		return 0;
	}
	if (!strcmp(ph, "X")) {
		uint64_t ts, dur, samples = 0;
		const char *cat = jstr(d, jget(d, ev, "cat"));
		if (!cat || strcmp(cat, "gil"))
			return 0;
		if (jtid(d, jget(d, ev, "tid"), &tid) || jns(d, jget(d, ev, "ts"), &ts) ||
		    jns(d, jget(d, ev, "dur"), &dur))
			return -1;
		enum gs_role role = gs_trace_role_parse(jstr(d, jget(d, args, "role")));
		if (role == GS_ROLE_UNKNOWN)
			role = gs_trace_role_parse(name);
		if (role == GS_ROLE_UNKNOWN)
			return -1;
		ju64(d, jget(d, args, "samples"), &samples);
		add_interval(r, tid, NULL, role, ts, dur, samples,
			     jstr(d, jget(d, args, "path")), jstr(d, jget(d, args, "wchan")));
		return 0;
	}
	return 0; /* counters and anything a later version adds */
}

static int jsonl_line(struct gs_trace_reader *r, const struct jdoc *d, int o)
{
	pid_t tid;
	uint64_t ts, dur, samples = 0;
	if (read_record(r, d, o))
		return 0;
	enum gs_role role = gs_trace_role_parse(jstr(d, jget(d, o, "state")));
	if (jtid(d, jget(d, o, "tid"), &tid) || role == GS_ROLE_UNKNOWN ||
	    jns(d, jget(d, o, "ts_us"), &ts) || jns(d, jget(d, o, "dur_us"), &dur))
		return -1;
	ju64(d, jget(d, o, "samples"), &samples);
	add_interval(r, tid, jstr(d, jget(d, o, "name")), role, ts, dur, samples,
		     jstr(d, jget(d, o, "path")), jstr(d, jget(d, o, "wchan")));
	return 0;
}

/* Parse a JSON object line; returns 0 and fills d, or -1. */
static int parse_object(struct jdoc *d, const char *s, size_t n, int *root)
{
	*root = jdoc_parse(d, s, n);
	if (*root < 0 || d->v[*root].type != J_OBJ) {
		jdoc_free(d);
		return -1;
	}
	return 0;
}

static int starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && !memcmp(s, prefix, k);
}

/* ------------------------------------------------------------- CSV */

#define CSV_FIELDS 9

/* Split an RFC 4180 row into fields decoded into buf (len + 1 bytes).
 * Returns the number of fields, or -1 when a quoted field is open. */
static int csv_split(const char *s, size_t n, char *buf, const char **f, int maxf)
{
	size_t i = 0, o = 0;
	int nf = 0;
	for (;;) {
		if (nf == maxf)
			return -1;
		f[nf++] = buf + o;
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return -1;
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						buf[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				buf[o++] = s[i++];
			}
		} else {
			while (i < n && s[i] != ',')
				buf[o++] = s[i++];
		}
		buf[o++] = 0;
		if (i >= n)
			return nf;
		if (s[i] != ',')
			return -2; /* text after a closing quote */
		i++;
	}
}

/* Whether a row has an odd number of quotes, i.e. a quoted field that
 * continues on the next line. */
static int csv_open_quote(const char *s, size_t n)
{
	int open = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"')
			open = !open;
	return open;
}

static int csv_row(struct gs_trace_reader *r, const char *s, size_t n)
{
	const char *f[CSV_FIELDS + 1];
	char *buf = malloc(n + CSV_FIELDS + 2);
	uint64_t tid, ts, dur, samples;
	int rc = -1;
	if (!buf)
		return -1;
	if (csv_split(s, n, buf, f, CSV_FIELDS + 1) == CSV_FIELDS &&
	    !dec_to_u64(f[0], strlen(f[0]), &tid) && tid > 0 && tid <= 0x7fffffff &&
	    !dec_to_milli(f[3], strlen(f[3]), &ts) &&
	    !dec_to_milli(f[4], strlen(f[4]), &dur) &&
	    !dec_to_u64(f[5], strlen(f[5]), &samples)) {
		enum gs_role role = gs_trace_role_parse(f[2]);
		if (role != GS_ROLE_UNKNOWN) {
			add_interval(r, (pid_t)tid, f[1], role, ts, dur, samples, f[7], f[8]);
			rc = 0;
		}
	}
	free(buf);
	return rc;
}

static void csv_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	if (r->pending) {
		size_t need = r->pending_len + 1 + n;
		char *p = need <= CSV_MAX_ROW ? realloc(r->pending, need + 1) : NULL;
		if (!p) {
			free(r->pending);
			r->pending = NULL;
			bad_line(r);
			return;
		}
		p[r->pending_len] = '\n';
		memcpy(p + r->pending_len + 1, s, n);
		r->pending = p;
		r->pending_len = need;
		s = p;
		n = need;
	}
	if (csv_open_quote(s, n)) {
		if (!r->pending) {
			if (!(r->pending = malloc(n + 1)) || n > CSV_MAX_ROW) {
				free(r->pending);
				r->pending = NULL;
				bad_line(r);
				return;
			}
			memcpy(r->pending, s, n);
			r->pending_len = n;
		}
		return;
	}
	if (csv_row(r, s, n))
		bad_line(r);
	free(r->pending);
	r->pending = NULL;
}

/* ------------------------------------------------------------ lines */

/* Recognise the format from the first meaningful line.  Returns 1 when
 * the line was the JSON header (consumed), 0 when it should be read as
 * data of the format found, -1 when it is no format of ours. */
static int detect(struct gs_trace_reader *r, const char *s, size_t n)
{
	struct gs_trace_info *in = &r->info;
	/* Only the header alone on its line: a trace that another tool
	 * wrote (all on one line, say) is not ours to read. */
	if (n == strlen("{\"traceEvents\":[") && starts(s, n, "{\"traceEvents\":[")) {
		in->format = GS_TRACE_JSON;
		r->sec = S_JSON_EVENTS;
		in->format_known = 1;
		return 1;
	}
	if (starts(s, n, "tid,name,state,ts_us,dur_us")) {
		in->format = GS_TRACE_CSV;
		r->sec = S_CSV;
		in->format_known = 1;
		return 1;
	}
	if (starts(s, n, "{\"gilsnoop\":") || starts(s, n, "{\"tid\":")) {
		in->format = GS_TRACE_JSONL;
		r->sec = S_JSONL;
		in->format_known = 1;
		return 0;
	}
	return -1;
}

void gs_trace_reader_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	struct jdoc d;
	int root;

	r->info.lines++;
	/* Far beyond any line gilsnoop writes (a progress record of 8192
	 * threads is under 1 MiB): garbage, not worth parsing. */
	if (n > MAX_LINE) {
		bad_line(r);
		return;
	}
	if (r->sec != S_CSV || !r->pending) {
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
			     s[n - 1] == '\t'))
			n--;
		if (!n)
			return;
	} else if (n && s[n - 1] == '\n') {
		n--;
	}
	if (r->sec == S_NONE) {
		int k = detect(r, s, n);
		if (k < 0)
			bad_line(r);
		if (k)
			return;
	}

	switch (r->sec) {
	case S_NONE:
		return;
	case S_JSONL:
		if (parse_object(&d, s, n, &root)) {
			bad_line(r);
			return;
		}
		if (jsonl_line(r, &d, root))
			bad_line(r);
		else if (jget(&d, root, "gilsnoop_end") >= 0)
			r->saw_close = r->saw_other = 1;
		jdoc_free(&d);
		return;
	case S_CSV:
		if (n && s[n - 1] == '\r')
			n--;
		csv_line(r, s, n);
		return;
	case S_JSON_EVENTS:
		if (s[0] == ']') {
			r->sec = S_JSON_TAIL;
			return;
		}
		if (s[n - 1] == ',')
			n--;
		if (parse_object(&d, s, n, &root)) {
			bad_line(r);
			return;
		}
		if (json_event(r, &d, root))
			bad_line(r);
		jdoc_free(&d);
		return;
	case S_JSON_TAIL:
		if (starts(s, n, "\"otherData\":")) {
			size_t k = strlen("\"otherData\":");
			if (s[n - 1] == ',')
				n--;
			if (parse_object(&d, s + k, n - k, &root)) {
				bad_line(r);
				return;
			}
			int g = jget(&d, root, "gilsnoop");
			if (g >= 0) {
				read_end(r, &d, g);
				r->saw_other = 1;
			}
			jdoc_free(&d);
		} else if (n == 1 && s[0] == '}') {
			r->saw_close = 1;
		} else if (!starts(s, n, "\"displayTimeUnit\":") &&
			   !starts(s, n, "\"viztracer_metadata\":")) {
			bad_line(r);
		}
		return;
	}
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
		add_interval(r, e->tid, e->name, e->role, e->start_ns,
			     r->open_t_ns - e->start_ns, e->samples, NULL, NULL);
		r->info.partial_intervals++;
	}
}

int gs_trace_reader_finish(struct gs_trace_reader *r, struct gs_trace_info *info)
{
	struct gs_run_info *run = &r->sum->run;
	if (r->pending) {
		bad_line(r);
		free(r->pending);
		r->pending = NULL;
	}
	r->info.complete = r->info.format == GS_TRACE_CSV ? r->info.bad_lines == 0
		: r->saw_other && r->saw_close;
	if (!r->info.complete)
		close_open(r);
	r->info.have_stats = r->have_stats;
	run->rate_hz = r->info.rate_hz;
	run->pid = r->info.pid;
	snprintf(run->python_version, sizeof run->python_version, "%s",
		 r->info.python_version);
	run->counts_unknown = !r->have_stats;
	run->target_exited = r->target_exited;
	run->truncated = !r->info.complete;
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
		*info = r->info;
	return r->info.format_known ? 0 : -1;
}

int gs_trace_parse_buffer(const char *buf, size_t len, struct gs_summary *sum,
			  struct gs_trace_info *info)
{
	struct gs_trace_reader *r = gs_trace_reader_new(sum);
	if (!r)
		return -1;
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) + 1 : len;
		gs_trace_reader_line(r, buf, n);
		buf += n;
		len -= n;
	}
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
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	if (!r) {
		if (f != stdin)
			fclose(f);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) > 0)
		gs_trace_reader_line(r, line, (size_t)n);
	if (ferror(f))
		rc = gs_fail(GS_EFAIL, "cannot read %s: %s", path, strerror(errno ? errno : EIO));
	free(line);
	if (f != stdin)
		fclose(f);
	if (!rc && gs_trace_reader_finish(r, info)) {
		if (!info->bad_lines)
			rc = gs_fail(GS_EFAIL, "%s is empty: the recording was cut off "
				     "before anything was written", path);
		else
			rc = gs_fail(GS_EFAIL, "%s is not a gilsnoop recording: line %llu "
				     "is not how gilsnoop record starts a json, jsonl or "
				     "csv file (one event per line)", path,
				     (unsigned long long)info->bad_line_no);
	}
	gs_trace_reader_free(r);
	return rc;
}
