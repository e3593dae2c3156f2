/* Trace Event JSON, streamed (include/sink/trace_json.h).
 *
 * json-c parses every value we keep (an event, a member key, a wanted
 * member) in one call, on exactly that value's bytes.  This file finds
 * where each value ends, which takes no more than matching brackets
 * outside strings, and walks the punctuation between values: the
 * top-level object or list and the commas.  Values it does not want
 * (viztracer's file_info holds whole source files) are stepped over
 * without being kept.  Finding the ends here, rather than feeding
 * json-c piece by piece, makes the result the same however the input
 * is split: json-c's tokener reads a number that a piece ends on
 * differently when the next piece starts with '-'.
 *
 * A raw line end inside a string is not JSON (writers escape it); it
 * marks damage, so that a line cut short costs that line only. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "sink/trace_json.h"

enum state {
	ST_START,        /* before the top-level value */
	ST_KEY,          /* in the object: a member key, or its end */
	ST_COLON,
	ST_VALUE,        /* a member's value starts */
	ST_AFTER_MEMBER,
	ST_ELEM,         /* in the event list: an event, or its end */
	ST_AFTER_ELEM,
	ST_SCAN,         /* inside a value */
	ST_RESYNC,       /* after damage: to the next line */
	ST_DONE,         /* after the top-level value */
	ST_IGNORE,       /* not Trace Event JSON after all: the rest is ignored */
};

enum purpose { P_KEY, P_MEMBER, P_EVENT, P_SKIP };

/* Where a byte leaves the value being scanned. */
enum scan { SC_IN, SC_END_AFTER, SC_END_BEFORE, SC_DAMAGE };

struct gs_tjson {
	struct gs_tjson_sink sink;
	struct json_tokener *tok;
	enum state st;
	int in_object, in_events;
	/* the value being scanned */
	enum purpose what;
	int depth, in_str, esc, scalar, started;
	uint64_t vline;          /* the line it starts on */
	char *buf;               /* its bytes so far, when it spans pieces */
	size_t len, cap;
	int spilled;             /* it does span pieces */
	char key[64];            /* the member being read; "" if longer */
	uint64_t line;           /* of the next byte, 1-based */
};

struct gs_tjson *gs_tjson_new(const struct gs_tjson_sink *sink)
{
	struct gs_tjson *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	/* Non-strict: json-c's strict mode refuses anything after a value
	 * in the same buffer.  The default depth (32) is far beyond any
	 * event gilsnoop or VizTracer writes. */
	if (!(t->tok = json_tokener_new())) {
		free(t);
		return NULL;
	}
	t->sink = *sink;
	t->line = 1;
	return t;
}

void gs_tjson_free(struct gs_tjson *t)
{
	if (!t)
		return;
	json_tokener_free(t->tok);
	free(t->buf);
	free(t);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void bad(struct gs_tjson *t, uint64_t line)
{
	if (t->sink.bad)
		t->sink.bad(t->sink.ctx, line);
}

static void damaged(struct gs_tjson *t)
{
	bad(t, t->line);
	t->st = ST_RESYNC;
}

static void closed(struct gs_tjson *t)
{
	t->st = ST_DONE;
	t->in_object = t->in_events = 0;
	if (t->sink.closed)
		t->sink.closed(t->sink.ctx);
}

static void end_events(struct gs_tjson *t)
{
	t->in_events = 0;
	if (t->in_object)
		t->st = ST_AFTER_MEMBER;
	else
		closed(t);
}

static void open_events(struct gs_tjson *t)
{
	t->in_events = 1;
	t->st = ST_ELEM;
	if (t->sink.events_opened)
		t->sink.events_opened(t->sink.ctx);
}

static void start_value(struct gs_tjson *t, enum purpose what)
{
	t->what = what;
	t->depth = t->in_str = t->esc = t->scalar = t->started = 0;
	t->len = 0;
	t->spilled = 0;
	t->vline = t->line;
	t->st = ST_SCAN;
}

static enum state after_value(const struct gs_tjson *t)
{
	switch (t->what) {
	case P_KEY: return ST_COLON;
	case P_EVENT: return ST_AFTER_ELEM;
	case P_MEMBER: case P_SKIP: break;
	}
	return ST_AFTER_MEMBER;
}

/* Steps over bytes inside the value from p; returns where it stopped:
 * at end, or at the byte that needs a look (SC_IN then means the value
 * went on to end). */
static const char *scan_run(struct gs_tjson *t, const char *p, const char *end,
			    enum scan *how)
{
	*how = SC_IN;
	if (!t->started) {
		char c = *p++;
		t->started = 1;
		if (c == '{' || c == '[')
			t->depth = 1;
		else if (c == '"')
			t->in_str = 1;
		else
			t->scalar = 1;
	}
	while (p < end) {
		char c = *p;
		if (t->esc) {
			if (c == '\n') {
				*how = SC_DAMAGE;
				return p;
			}
			t->esc = 0;
			p++;
			continue;
		}
		if (t->in_str) {
			while (p < end && *p != '"' && *p != '\\' && *p != '\n')
				p++;
			if (p == end)
				break;
			if (*p == '\n') {
				*how = SC_DAMAGE;
				return p;
			}
			if (*p++ == '\\') {
				t->esc = 1;
				continue;
			}
			t->in_str = 0;
			if (!t->depth && !t->scalar) {
				*how = SC_END_AFTER;
				return p;
			}
			continue;
		}
		if (t->scalar) {
			if (is_ws(c) || c == ',' || c == ']' || c == '}' || c == '[' ||
			    c == '{' || c == '"') {
				*how = SC_END_BEFORE;
				return p;
			}
			p++;
			continue;
		}
		p++;
		switch (c) {
		case '"':
			t->in_str = 1;
			break;
		case '{': case '[':
			t->depth++;
			break;
		case '}': case ']':
			if (--t->depth == 0) {
				*how = SC_END_AFTER;
				return p;
			}
			break;
		case '\n':
			t->line++;
			break;
		}
	}
	return p;
}

/* The value [p, p+n) is complete: hand it over. */
static void got_value(struct gs_tjson *t, const char *p, size_t n)
{
	t->st = after_value(t);
	if (t->what == P_SKIP)
		return;
	json_tokener_reset(t->tok);
	struct json_object *o = json_tokener_parse_ex(t->tok, p, (int)n);
	size_t used = json_tokener_get_parse_end(t->tok);
	/* A number ends only at the byte after it: give json-c one. */
	if (!o && t->scalar && used == n &&
	    json_tokener_get_error(t->tok) == json_tokener_continue) {
		o = json_tokener_parse_ex(t->tok, " ", 1);
		used = n;
	}
	if (json_tokener_get_error(t->tok) != json_tokener_success || used != n) {
		/* Not JSON: on the next line, the next element may be good. */
		json_object_put(o);
		bad(t, t->vline);
		t->st = ST_RESYNC;
		return;
	}
	switch (t->what) {
	case P_KEY:
		if (!json_object_is_type(o, json_type_string)) {
			bad(t, t->vline);
			t->st = ST_RESYNC;
		} else if ((size_t)json_object_get_string_len(o) < sizeof t->key) {
			memcpy(t->key, json_object_get_string(o),
			       (size_t)json_object_get_string_len(o) + 1);
		} else {
			t->key[0] = 0;
		}
		break;
	case P_MEMBER:
		if (t->sink.member)
			t->sink.member(t->sink.ctx, t->key, o);
		break;
	case P_EVENT:
		if (t->sink.event)
			t->sink.event(t->sink.ctx, o, t->vline);
		break;
	case P_SKIP:
		break;
	}
	json_object_put(o);
}

/* Keeps [p, p+n) of a value that goes on in the next piece. */
static int spill(struct gs_tjson *t, const char *p, size_t n)
{
	if (t->what == P_SKIP)
		return 0;   /* neither kept nor parsed */
	if (t->len + n > GS_TJSON_MAX_VALUE)
		return -1;
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b)
			return -1;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->spilled = 1;
	return 0;
}

/* Scans from p; returns where scanning stopped. */
static const char *scan(struct gs_tjson *t, const char *p, const char *end)
{
	const char *v = p;
	enum scan how;
	/* A value kept is never read past the limit, so that it trips
	 * at the same byte however the input was split.  One of ours
	 * never comes near it. */
	int kept = t->what != P_SKIP;
	if (kept && (size_t)(end - p) > GS_TJSON_MAX_VALUE + 1 - t->len)
		end = p + (GS_TJSON_MAX_VALUE + 1 - t->len);
	p = scan_run(t, p, end, &how);
	if (how == SC_DAMAGE) {
		/* The line end itself is where reading resumes. */
		bad(t, t->vline);
		t->st = ST_RESYNC;
		return p;
	}
	if (kept && t->len + (size_t)(p - v) > GS_TJSON_MAX_VALUE) {
		damaged(t);
		return p;
	}
	if (how == SC_IN) {
		if (spill(t, v, (size_t)(p - v)))
			damaged(t);
		return p;
	}
	if (t->spilled) {
		if (spill(t, v, (size_t)(p - v))) {
			damaged(t);
			return p;
		}
		got_value(t, t->buf, t->len);
	} else {
		got_value(t, v, (size_t)(p - v));
	}
	return p;
}

void gs_tjson_feed(struct gs_tjson *t, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		char c = *p;
		if (t->st == ST_SCAN) {
			p = scan(t, p, end);
			continue;
		}
		if (t->st == ST_IGNORE) {
			for (; (p = memchr(p, '\n', (size_t)(end - p))); p++)
				t->line++;
			return;
		}
		if (t->st == ST_RESYNC) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				return;
			t->line++;
			p = nl + 1;
			t->st = t->in_events ? ST_ELEM : t->in_object ? ST_KEY : ST_IGNORE;
			continue;
		}
		if (is_ws(c)) {
			if (c == '\n')
				t->line++;
			p++;
			continue;
		}
		switch (t->st) {
		case ST_START:
			if (c == '{') {
				t->in_object = 1;
				t->st = ST_KEY;
			} else if (c == '[') {
				open_events(t);
			} else {
				bad(t, t->line);
				t->st = ST_IGNORE;
				continue;
			}
			p++;
			continue;
		case ST_KEY:
			/* Lenient about a comma too many, as after a resync. */
			if (c == ',') {
				p++;
			} else if (c == '}') {
				p++;
				closed(t);
			} else if (c == '"') {
				start_value(t, P_KEY);
			} else {
				damaged(t);
			}
			continue;
		case ST_COLON:
			if (c == ':') {
				p++;
				t->st = ST_VALUE;
			} else {
				damaged(t);
			}
			continue;
		case ST_VALUE:
			if (!strcmp(t->key, "traceEvents") && c == '[') {
				p++;
				open_events(t);
			} else {
				start_value(t, t->key[0] && t->sink.want &&
					    t->sink.want(t->sink.ctx, t->key) ? P_MEMBER : P_SKIP);
			}
			continue;
		case ST_AFTER_MEMBER:
			if (c == ',') {
				p++;
				t->st = ST_KEY;
			} else if (c == '}') {
				p++;
				closed(t);
			} else {
				damaged(t);
			}
			continue;
		case ST_ELEM:
			if (c == ']') {   /* also after a comma too many */
				p++;
				end_events(t);
			} else if (c == ',') {
				p++;      /* an empty element, as after a resync */
			} else {
				start_value(t, P_EVENT);
			}
			continue;
		case ST_AFTER_ELEM:
			if (c == ',') {
				p++;
				t->st = ST_ELEM;
			} else if (c == ']') {
				p++;
				end_events(t);
			} else {
				damaged(t);
			}
			continue;
		case ST_DONE:
			bad(t, t->line);
			t->st = ST_IGNORE;
			continue;
		case ST_SCAN: case ST_RESYNC: case ST_IGNORE:
			break;
		}
	}
}

void gs_tjson_finish(struct gs_tjson *t)
{
	/* A bare word at the very end is complete; anything else left
	 * open was cut off. */
	if (t->st == ST_SCAN && t->started && t->what != P_SKIP) {
		if (t->scalar)
			got_value(t, t->spilled ? t->buf : "", t->len);
		else
			bad(t, t->vline);
	}
	t->st = ST_IGNORE;
}
