/* trace_writer.c and trace_reader.c: what the writer produces the reader
 * gets back, in all three formats, whole or cut off at any byte; and the
 * reader survives garbage. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/summary.h"
#include "sink/trace_reader.h"
#include "sink/trace_writer.h"
#include "unit.h"

#define T0 123456789012345ull /* a CLOCK_MONOTONIC of some 34 hours */

static struct gs_interval iv(pid_t tid, enum gs_role role, uint64_t start_us,
			     uint64_t dur_ns, uint64_t samples)
{
	struct gs_interval v;
	memset(&v, 0, sizeof v);
	v.tid = tid;
	v.role = role;
	v.start_ns = T0 + start_us * 1000 + 7;
	v.end_ns = v.start_ns + dur_ns;
	v.samples = samples;
	v.syscall_nr = 7; /* poll */
	if (role == GS_ROLE_IDLE)
		snprintf(v.path, sizeof v.path, "/tmp/a \"b\",c");
	return v;
}

/* A recording of two threads; with finish=0 it stops as SIGKILL would
 * leave it (after a progress record and a flush). */
static char *write_run(enum gs_trace_format fmt, int finish, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct gs_trace_header h = { 4242, "py\"thon", "3.12.1", "0.1.0", 1000, NULL };
	struct gs_trace_writer *w = gs_trace_writer_new(f, fmt, &h);
	struct gs_trace_stats st = { 3000, 2, 40, 5, T0, T0 + 3000000000ull, NULL, 0 };
	struct gs_interval a = iv(101, GS_ROLE_HELD, 0, 5000000, 5);
	struct gs_interval b = iv(102, GS_ROLE_WAITING, 0, 5000000, 5);
	struct gs_interval c = iv(101, GS_ROLE_WAITING, 5000, 4000000, 4);
	struct gs_interval d = iv(102, GS_ROLE_HANDOFF, 5000, 1000, 1);
	struct gs_interval idle = iv(103, GS_ROLE_IDLE, 0, 2000000000ull, 2000);
	struct gs_interval unk = iv(102, GS_ROLE_UNKNOWN, 5001, 1000, 1);

	gs_trace_thread(w, 0, 101, "cpu-1", 1);
	gs_trace_thread(w, 0, 102, "cpu,2\n", 1);
	gs_trace_thread(w, 0, 103, "sleeper", 1);
	gs_trace_interval(w, &a, "cpu-1");
	gs_trace_interval(w, &b, "cpu,2\n");
	gs_trace_waiters(w, 0, a.start_ns, 1);
	gs_trace_waiters(w, 0, a.start_ns + 1, 1);
	gs_trace_interval(w, &c, "cpu-1");
	gs_trace_interval(w, &d, "cpu,2\n");
	gs_trace_interval(w, &unk, "cpu,2\n");
	/* Two progress records: only intervals older than the first are
	 * listed by the second. */
	struct gs_trace_open open = { &idle, "sleeper" };
	gs_trace_progress(w, T0 + 1000000000ull, &st, &open, 1);
	gs_trace_progress(w, T0 + 2000000000ull, &st, &open, 1);
	gs_trace_flush(w);
	if (finish) {
		gs_trace_interval(w, &idle, "sleeper");
		gs_trace_finish(w, &st, 1, "SIGINT");
	}
	UNIT_EQ_INT(gs_trace_error(w), 0, "no write error");
	gs_trace_writer_free(w);
	fclose(f);
	return buf;
}

static const struct gs_thread_summary *thread(const struct gs_summary *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	return NULL;
}

static void check_round_trip(enum gs_trace_format fmt, int finish)
{
	size_t len;
	char *buf = write_run(fmt, finish, &len);
	struct gs_summary s;
	struct gs_trace_info in;
	char name[128];
	const char *fn = gs_trace_format_name(fmt);

	gs_summary_init(&s);
	snprintf(name, sizeof name, "%s%s: parses", fn, finish ? "" : " cut");
	UNIT_EQ_INT(gs_trace_parse_buffer(buf, len, &s, &in), 0, name);
	snprintf(name, sizeof name, "%s%s: format detected", fn, finish ? "" : " cut");
	UNIT_EQ_INT(in.format, fmt, name);
	snprintf(name, sizeof name, "%s%s: complete flag", fn, finish ? "" : " cut");
	UNIT_EQ_INT(in.complete, fmt == GS_TRACE_CSV ? 1 : finish, name);
	snprintf(name, sizeof name, "%s%s: no bad lines", fn, finish ? "" : " cut");
	UNIT_EQ_INT(in.bad_lines, 0, name);

	const struct gs_thread_summary *t1 = thread(&s, 101), *t2 = thread(&s, 102),
		*t3 = thread(&s, 103);
	snprintf(name, sizeof name, "%s%s: threads", fn, finish ? "" : " cut");
	if (UNIT_CHECK(t1 && t2, name)) {
		snprintf(name, sizeof name, "%s%s: held ns exact", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t1->ns[GS_ROLE_HELD], 5000000, name);
		snprintf(name, sizeof name, "%s%s: wait hist", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t1->wait.n, 1, name);
		snprintf(name, sizeof name, "%s%s: handoff kept", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t2->ns[GS_ROLE_HANDOFF], 1000, name);
		snprintf(name, sizeof name, "%s%s: unknown dropped", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t2->ns[GS_ROLE_UNKNOWN], 0, name);
		snprintf(name, sizeof name, "%s%s: name with comma", fn, finish ? "" : " cut");
		UNIT_EQ_STR(t2->name, "cpu,2\n", name);
		snprintf(name, sizeof name, "%s%s: first_ns exact", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t1->first_ns, T0 + 7, name);
	}
	/* A killed run still accounts for the long idle interval, from the
	 * progress record (CSV has none). */
	snprintf(name, sizeof name, "%s%s: idle thread", fn, finish ? "" : " cut");
	if (fmt == GS_TRACE_CSV && !finish) {
		UNIT_CHECK(!t3 || t3->ns[GS_ROLE_IDLE] == 0, name);
	} else if (UNIT_CHECK(t3, name)) {
		snprintf(name, sizeof name, "%s%s: idle ns", fn, finish ? "" : " cut");
		UNIT_EQ_INT(t3->ns[GS_ROLE_IDLE], finish ? 2000000000ull
			    : 2000000000ull - 7, name);
	}
	if (fmt != GS_TRACE_CSV) {
		snprintf(name, sizeof name, "%s%s: header", fn, finish ? "" : " cut");
		UNIT_EQ_STR(in.python_version, "3.12.1", name);
		snprintf(name, sizeof name, "%s%s: pid", fn, finish ? "" : " cut");
		UNIT_EQ_INT(s.run.pid, 4242, name);
		snprintf(name, sizeof name, "%s%s: stats", fn, finish ? "" : " cut");
		UNIT_EQ_INT(s.run.samples, 3000, name);
		snprintf(name, sizeof name, "%s%s: target exited", fn, finish ? "" : " cut");
		UNIT_EQ_INT(s.run.target_exited, finish, name);
	}
	gs_summary_free(&s);
	free(buf);
}

/* Every prefix of a file parses without a crash (ASan catches reads
 * past the end) and never reports more time than the whole file. */
static void check_prefixes(enum gs_trace_format fmt)
{
	size_t len;
	char *buf = write_run(fmt, 1, &len);
	int ok = 1;
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		struct gs_summary s;
		struct gs_trace_info in;
		memcpy(copy, buf, n);
		gs_summary_init(&s);
		gs_trace_parse_buffer(copy, n, &s, &in);
		for (size_t i = 0; i < s.n; i++)
			if (s.t[i].ns[GS_ROLE_IDLE] > 2000000000ull)
				ok = 0;
		if (n < len - 2 && in.complete && fmt != GS_TRACE_CSV)
			ok = 0;
		gs_summary_free(&s);
		free(copy);
	}
	char name[64];
	snprintf(name, sizeof name, "%s: every prefix parses", gs_trace_format_name(fmt));
	UNIT_CHECK(ok, name);
	free(buf);
}

static void check_garbage(void)
{
	static const char *const inputs[] = {
		"",
		"\n\n\n",
		"hello world\n",
		"{\"traceEvents\":[\n{\"ph\":\"X\"\n",
		"{\"traceEvents\":[\n{\"ph\":\"X\",\"cat\":\"gil\",\"name\":\"GIL held\","
		"\"tid\":-1,\"ts\":1e308,\"dur\":-5}\n",
		"{\"traceEvents\":[\n{\"ph\":\"X\",\"cat\":\"gil\",\"name\":\"GIL held\","
		"\"tid\":1,\"ts\":99999999999999999999999.5,\"dur\":1}\n",
		"{\"traceEvents\":[\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
		"{\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":5,"
		"\"args\":{\"name\":\"\\ud800\\u0000\\udfff\\uD83D\\uDE00\"}}\n",
		"{\"tid\":1,\"state\":\"holding\",\"ts_us\":\"1\",\"dur_us\":1}\n",
		"{\"gilsnoop_progress\":{\"t\":5,\"open\":[{\"tid\":3,\"role\":\"idle\","
		"\"ts\":9,\"samples\":1}]}}\n",
		"tid,name,state,ts_us,dur_us,samples,syscall,path,wchan\r\n"
		"1,\"a\"\"b\",holding,1.5,2,3,\"\",\"\",\"\"\r\n2,\"open\n",
		"tid,name,state,ts_us,dur_us,samples,syscall,path,wchan\n\"\"\"\n",
		"{\"traceEvents\":[\n{\"a\":\"\\u12\"}\n{\"a\":tru}\n{\"a\":1.}\n"
		"{\"a\":-}\n{\"a\":\"x}\n{\"a\" 1}\n{,}\n]\n\"otherData\":{\"gilsnoop\":[]}\n",
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct gs_summary s;
		struct gs_trace_info in;
		gs_summary_init(&s);
		gs_trace_parse_buffer(inputs[i], strlen(inputs[i]), &s, &in);
		for (size_t k = 0; k < s.n; k++)
			if (s.t[k].tid <= 0)
				ok = 0;
		gs_summary_free(&s);
	}
	UNIT_CHECK(ok, "garbage inputs: no crash, no bogus threads");

	struct gs_summary s;
	struct gs_trace_info in;
	gs_summary_init(&s);
	UNIT_EQ_INT(gs_trace_parse_buffer("hello\n", 6, &s, &in), -1,
		    "plain text is not a recording");
	gs_summary_free(&s);

	const char *csv = "tid,name,state,ts_us,dur_us,samples,syscall,path,wchan\r\n"
		"7,\"x\"\"y\",holding,1.5,2.25,3,\"\",\"\",\"\"\r\n";
	gs_summary_init(&s);
	UNIT_EQ_INT(gs_trace_parse_buffer(csv, strlen(csv), &s, &in), 0, "csv parses");
	if (UNIT_EQ_INT(s.n, 1, "csv: one thread")) {
		UNIT_EQ_STR(s.t[0].name, "x\"y", "csv: doubled quote");
		UNIT_EQ_INT(s.t[0].ns[GS_ROLE_HELD], 2250, "csv: exact duration");
		UNIT_EQ_INT(s.t[0].first_ns, 1500, "csv: exact start");
	}
	gs_summary_free(&s);
}

/* The same summary, thread by thread. */
static int same_summary(const struct gs_summary *a, const struct gs_summary *b)
{
	if (a->n != b->n || a->run.samples != b->run.samples ||
	    a->run.first_ns != b->run.first_ns || a->run.last_ns != b->run.last_ns ||
	    a->run.pid != b->run.pid || a->run.truncated != b->run.truncated)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct gs_thread_summary *x = &a->t[i], *y = thread(b, x->tid);
		if (!y || strcmp(x->name, y->name) || x->longest_hold_ns != y->longest_hold_ns ||
		    x->wait.n != y->wait.n || memcmp(x->ns, y->ns, sizeof x->ns))
			return 0;
	}
	return 1;
}

/* JSON text laid out as python -m json.tool does: a line per member. */
static char *reformat(const char *s, size_t n, size_t *out_len)
{
	char *o = malloc(n * 8 + 1), *q = o;
	int in_str = 0, esc = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			*q++ = c;
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '\n')
			continue;
		if (c == '}' || c == ']') {
			memcpy(q, "\n    ", 5);
			q += 5;
		}
		*q++ = c;
		if (c == '"')
			in_str = 1;
		else if (c == ',' || c == '{' || c == '[') {
			memcpy(q, "\n    ", 5);
			q += 5;
		} else if (c == ':') {
			*q++ = ' ';
		}
	}
	*q = 0;
	*out_len = (size_t)(q - o);
	return o;
}

static void check_layouts(void)
{
	size_t len, n2;
	char *orig = write_run(GS_TRACE_JSON, 1, &len);
	struct gs_summary want, got;
	struct gs_trace_info in, in2;
	gs_summary_init(&want);
	UNIT_EQ_INT(gs_trace_parse_buffer(orig, len, &want, &in), 0, "layouts: the original");
	UNIT_CHECK(in.complete, "layouts: the original is complete");

	/* All on one line: the line ends between events dropped. */
	char *one = malloc(len + 1);
	size_t k = 0;
	for (size_t i = 0; i < len; i++)
		if (orig[i] != '\n')
			one[k++] = orig[i];
	gs_summary_init(&got);
	UNIT_EQ_INT(gs_trace_parse_buffer(one, k, &got, &in2), 0, "one line: parses");
	UNIT_CHECK(in2.complete && in2.bad_lines == 0 && in2.lines == 1, "one line: complete");
	UNIT_CHECK(same_summary(&want, &got), "one line: the same summary");
	gs_summary_free(&got);
	/* ... and cut off: what came before the cut is counted. */
	gs_summary_init(&got);
	UNIT_EQ_INT(gs_trace_parse_buffer(one, k * 2 / 3, &got, &in2), 0, "one line cut: parses");
	UNIT_CHECK(!in2.complete && got.n >= 2 && in2.bad_lines <= 1, "one line cut: truncated");
	gs_summary_free(&got);

	char *ref = reformat(orig, len, &n2);
	gs_summary_init(&got);
	UNIT_EQ_INT(gs_trace_parse_buffer(ref, n2, &got, &in2), 0, "reformatted: parses");
	UNIT_CHECK(in2.complete && in2.bad_lines == 0 && in2.lines > 200, "reformatted: complete");
	UNIT_CHECK(same_summary(&want, &got), "reformatted: the same summary");
	gs_summary_free(&got);

	/* One byte at a time. */
	struct gs_trace_reader *r;
	gs_summary_init(&got);
	r = gs_trace_reader_new(&got);
	for (size_t i = 0; i < n2; i++)
		gs_trace_reader_feed(r, ref + i, 1);
	UNIT_EQ_INT(gs_trace_reader_finish(r, &in2), 0, "byte by byte: parses");
	gs_trace_reader_free(r);
	UNIT_CHECK(same_summary(&want, &got), "byte by byte: the same summary");
	gs_summary_free(&got);

	/* Combined with VizTracer's events (the real pid's tracks, its own
	 * thread names) and a top level of its own. */
	static const char viz[] =
		"{\"viztracer_metadata\":{\"version\":\"1.1.0\"},\"file_info\":{\"files\":"
		"{\"a.py\":[\"s = '}]\\\"[{'\\n\",1]}},\"traceEvents\":["
		"{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":4242,\"tid\":101,"
		"\"args\":{\"name\":\"MainThread\"}},"
		"{\"ph\":\"X\",\"cat\":\"gil\",\"name\":\"GIL held\",\"pid\":4242,\"tid\":101,"
		"\"ts\":1.5,\"dur\":2.25,\"args\":{\"role\":\"holding\"}},"
		"{\"ph\":\"X\",\"cat\":\"FEE\",\"name\":\"f (a.py:1)\",\"pid\":4242,\"tid\":101,"
		"\"ts\":1.5,\"dur\":2.25},";
	const char *ev = strchr(orig, '\n') + 1;       /* past {"traceEvents":[ */
	const char *tail = strstr(orig, "],\n\"displayTimeUnit\"");
	size_t nviz = strlen(viz), nev = (size_t)(tail - ev);
	char *comb = malloc(nviz + nev + 64);
	memcpy(comb, viz, nviz);
	memcpy(comb + nviz, ev, nev);
	strcpy(comb + nviz + nev, "],\"displayTimeUnit\":\"ns\"}\n");
	gs_summary_init(&got);
	UNIT_EQ_INT(gs_trace_parse_buffer(comb, strlen(comb), &got, &in2), 0, "combined: parses");
	UNIT_CHECK(in2.complete && in2.bad_lines == 0, "combined: complete without otherData");
	UNIT_EQ_INT(in2.foreign_events, 3, "combined: VizTracer's events skipped");
	UNIT_CHECK(same_summary(&want, &got), "combined: the same summary, our thread names");
	gs_summary_free(&got);

	free(comb);
	free(ref);
	free(one);
	free(orig);
	gs_summary_free(&want);
}

/* Slices sit on whole microseconds and meet exactly; the nanoseconds
 * come back from the "gilsnoop" member. */
static void check_grid(void)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct gs_trace_header h = { 7, "x", "3.12.1", "0.1.0", 1000, NULL };
	struct gs_trace_writer *w = gs_trace_writer_new(f, GS_TRACE_JSON, &h);
	struct gs_interval a = iv(9, GS_ROLE_HELD, 0, 999, 1);       /* ...352 to ...1351 */
	struct gs_interval b = iv(9, GS_ROLE_WAITING, 0, 0, 1);
	b.start_ns = b.end_ns = a.end_ns + 100;                    /* under a microsecond */
	a.end_ns = b.start_ns;
	struct gs_interval c = iv(9, GS_ROLE_IDLE, 0, 0, 4);
	c.start_ns = b.end_ns;
	c.end_ns = c.start_ns + 4000123;
	gs_trace_interval(w, &a, "t");
	gs_trace_interval(w, &b, "t");
	gs_trace_interval(w, &c, "t");
	struct gs_trace_stats st = { 6, 0, 1, 0, a.start_ns, c.end_ns, NULL, 0 };
	gs_trace_finish(w, &st, 0, "SIGINT");
	gs_trace_writer_free(w);
	fclose(f);
	UNIT_CHECK(strstr(buf, "\"ts\":123456789012,\"dur\":1,") != NULL, "a slice on whole microseconds");
	UNIT_CHECK(strstr(buf, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"gil\",\"name\":\"GIL wait\"") != NULL,
		   "shorter than a microsecond: an instant");
	UNIT_CHECK(strstr(buf, "\"args\":{\"role\":\"holding\"},\"gilsnoop\":{\"samples\":1,"
			  "\"ns\":[352,451]}") != NULL, "samples and nanoseconds out of args");
	struct gs_summary s;
	struct gs_trace_info in;
	gs_summary_init(&s);
	UNIT_EQ_INT(gs_trace_parse_buffer(buf, len, &s, &in), 0, "grid: parses");
	const struct gs_thread_summary *t = thread(&s, 9);
	if (UNIT_CHECK(t != NULL, "grid: the thread")) {
		UNIT_EQ_INT(t->ns[GS_ROLE_HELD], a.end_ns - a.start_ns, "grid: exact hold");
		UNIT_EQ_INT(t->ns[GS_ROLE_IDLE], 4000123, "grid: exact idle");
		UNIT_EQ_INT(t->wait.n, 1, "grid: the instant's wait counted");
		UNIT_EQ_INT(t->first_ns, a.start_ns, "grid: exact start");
		UNIT_EQ_INT(t->last_ns, c.end_ns, "grid: exact end");
	}
	gs_summary_free(&s);
	free(buf);
}

static void check_names(void)
{
	enum gs_trace_format f;
	UNIT_EQ_STR(gs_trace_event_name(GS_ROLE_HANDOFF), "idle", "handoff shows as idle");
	UNIT_CHECK(gs_trace_event_name(GS_ROLE_UNKNOWN) == NULL, "unknown not emitted");
	UNIT_EQ_INT(gs_trace_role_parse("handoff"), GS_ROLE_HANDOFF, "role name parses");
	UNIT_EQ_INT(gs_trace_role_parse("idle"), GS_ROLE_IDLE, "idle is idle");
	UNIT_EQ_INT(gs_trace_role_parse("GIL held off-CPU"), GS_ROLE_HELD_OFFCPU,
		    "event name parses");
	UNIT_EQ_INT(gs_trace_role_parse("bogus"), GS_ROLE_UNKNOWN, "bogus role");
	UNIT_CHECK(gs_trace_format_parse("jsonl", &f) == 0 && f == GS_TRACE_JSONL,
		   "format jsonl");
	UNIT_CHECK(gs_trace_format_parse("xml", &f) < 0, "format xml rejected");
}

int main(void)
{
	check_names();
	for (int fmt = GS_TRACE_JSON; fmt <= GS_TRACE_CSV; fmt++) {
		check_round_trip((enum gs_trace_format)fmt, 1);
		check_round_trip((enum gs_trace_format)fmt, 0);
		check_prefixes((enum gs_trace_format)fmt);
	}
	check_garbage();
	check_layouts();
	check_grid();
	return unit_done();
}
