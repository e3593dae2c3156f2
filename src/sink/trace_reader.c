/* Reading recordings back (include/sink/trace_reader.h).  The format
 * is told from the first bytes; Trace Event JSON is streamed through
 * trace_json.c, JSONL and CSV are gathered into lines here.  What the
 * records say is read by trace_records.c (json, jsonl) and trace_csv.c;
 * this file also makes up for what a file cut off by SIGKILL lost (the
 * intervals its last progress record lists as open). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "proc/taskstat.h"
#include "sink/trace_read.h"

/* A JSONL or CSV line longer than this is damage. */
#define MAX_LINE GS_TJSON_MAX_VALUE

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A non-negative decimal with up to 3 meaningful fractional digits:
 * microseconds as written, to exact nanoseconds (a double would round
 * CLOCK_MONOTONIC values of a machine up for more than 104 days). */
int gs_tread_us_to_ns(const char *s, size_t n, uint64_t *out)
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

int gs_tread_u64(const char *s, size_t n, uint64_t *out)
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

void gs_tread_bad(struct gs_trace_reader *r, uint64_t line)
{
	r->info.bad_lines++;
	if (!r->info.bad_line_no)
		r->info.bad_line_no = line ? line : 1;
}

void gs_tread_interval(struct gs_trace_reader *r, pid_t pid, pid_t tid, unsigned gil,
		       const char *name, enum gs_role role, uint64_t start, uint64_t end,
		       uint64_t samples, const char *syscall, const char *path,
		       const char *wchan, const uint32_t *stacks)
{
	struct gs_interval iv;
	memset(&iv, 0, sizeof iv);
	if (role == GS_ROLE_UNKNOWN || end < start)
		return;
	if (!pid)
		pid = r->info.pid;
	struct gs_thread_summary *t = gs_summary_thread(r->sum, pid, tid);
	if (!t)
		return;
	if (!t->name[0] && name && name[0])
		gs_summary_name(r->sum, pid, tid, name, t->is_python);
	iv.pid = pid;
	iv.tid = tid;
	iv.gil = gil < GS_SUMMARY_MAX_GILS ? gil : 0;
	iv.role = role;
	iv.start_ns = start;
	iv.end_ns = end;
	iv.samples = samples;
	iv.syscall_nr = syscall && syscall[0] ? gs_syscall_nr(syscall) : -1;
	if (path)
		strncat(iv.path, path, sizeof iv.path - 1);
	if (wchan)
		strncat(iv.wchan, wchan, sizeof iv.wchan - 1);
	if (stacks) {
		iv.stack = stacks[0];
		iv.stack_end = stacks[1];
		iv.native_stack = stacks[2];
	}
	gs_summary_add(r->sum, &iv);
	r->info.intervals++;
}

/* One whole line of a JSONL or CSV file, without its line end. */
static void line_done(struct gs_trace_reader *r, const char *s, size_t n)
{
	r->line_no++;
	if (r->line_long) {
		r->line_long = 0;
		gs_tread_bad(r, r->line_no);
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
		gs_tread_csv_line(r, s, n);
		return;
	}
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n)
		gs_tread_jsonl_line(r, s, n);
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
static enum gs_tread_kind detect(const char *s, size_t n, int at_end)
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

static void start_kind(struct gs_trace_reader *r, enum gs_tread_kind k)
{
	r->kind = k;
	switch (k) {
	case K_JSON: {
		struct gs_tjson_sink sink;
		gs_tread_json_sink(r, &sink);
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
static void decided(struct gs_trace_reader *r, enum gs_tread_kind k)
{
	static const char nl[64] = { [0 ... 63] = '\n' };
	start_kind(r, k);
	switch (r->kind) {
	case K_NONE:
		if (r->nhead || r->bom % 3)
			gs_tread_bad(r, r->lead_lines + 1);
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
	if (r->tok)
		json_tokener_free(r->tok);
	free(r->line);
	free(r->pending);
	free(r->open);
	free(r->stack_map);
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
		enum gs_tread_kind k = detect(r->head, r->nhead, r->nhead == HEAD_MAX);
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
		const struct gs_tread_open *e = &r->open[i];
		pid_t pid = e->pid ? e->pid : r->info.pid;
		struct gs_thread_summary *t = gs_summary_thread(r->sum, pid, e->tid);
		if (!t || (t->last_ns && t->last_ns > e->start_ns) ||
		    r->open_t_ns < e->start_ns)
			continue;
		gs_tread_interval(r, pid, e->tid, 0, e->name, e->role, e->start_ns, r->open_t_ns,
			     e->samples, NULL, NULL, NULL, NULL);
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
		gs_tread_csv_finish(r);
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
