/* Trace Event JSON, streamed (include/sink/trace_json.h).  json-c parses
 * every value we keep (event, member key, wanted member) with its
 * incremental tokener, so a value may span any number of pieces; this
 * file only walks the punctuation between those values: the top-level
 * object or list, the commas, and the members it skips without building
 * them (viztracer's file_info carries whole source files). */
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
	ST_PARSE,        /* json-c has a value in hand */
	ST_SKIP,         /* an unwanted member's value */
	ST_RESYNC,       /* after damage: to the next line */
	ST_DONE,         /* after the top-level value */
	ST_IGNORE,       /* not Trace Event JSON after all: the rest is ignored */
};

enum parsing { P_KEY, P_MEMBER, P_EVENT };

struct gs_tjson {
	struct gs_tjson_sink sink;
	struct json_tokener *tok;
	enum state st;
	int in_object, in_events;
	enum parsing what;
	size_t vbytes;           /* bytes of the value being parsed */
	uint64_t vline;          /* the line it started on */
	char key[64];            /* the member being read; "" if longer */
	/* skipping a value: bracket depth, inside a string, after '\' */
	int sdepth, sstr, sesc;
	uint64_t line;           /* of the next byte, 1-based */
};

struct gs_tjson *gs_tjson_new(const struct gs_tjson_sink *sink)
{
	struct gs_tjson *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	/* The default depth (32) is far beyond any event gilsnoop or
	 * VizTracer writes; non-strict, because json-c's strict mode
	 * refuses anything after a value in the same buffer. */
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
	free(t);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void count_lines(struct gs_tjson *t, const char *p, size_t n)
{
	const char *end = p + n;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		t->line++;
		p++;
	}
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

static void start_value(struct gs_tjson *t, enum parsing what)
{
	json_tokener_reset(t->tok);
	t->what = what;
	t->vbytes = 0;
	t->vline = t->line;
	t->st = ST_PARSE;
}

static void end_events(struct gs_tjson *t)
{
	t->in_events = 0;
	if (t->in_object)
		t->st = ST_AFTER_MEMBER;
	else
		closed(t);
}

static void got_value(struct gs_tjson *t, struct json_object *o)
{
	switch (t->what) {
	case P_KEY:
		if (!json_object_is_type(o, json_type_string)) {
			bad(t, t->vline);
			t->st = ST_RESYNC;
			break;
		}
		if ((size_t)json_object_get_string_len(o) < sizeof t->key)
			memcpy(t->key, json_object_get_string(o),
			       (size_t)json_object_get_string_len(o) + 1);
		else
			t->key[0] = 0;
		t->st = ST_COLON;
		break;
	case P_MEMBER:
		if (t->sink.member)
			t->sink.member(t->sink.ctx, t->key, o);
		t->st = ST_AFTER_MEMBER;
		break;
	case P_EVENT:
		if (t->sink.event)
			t->sink.event(t->sink.ctx, o, t->vline);
		t->st = ST_AFTER_ELEM;
		break;
	}
}

/* Hands json-c what it may take of [p, end); returns the bytes used. */
static size_t parse_some(struct gs_tjson *t, const char *p, size_t n)
{
	/* Never more than the limit allows, so that the limit trips at
	 * the same byte however the input was split. */
	size_t room = GS_TJSON_MAX_VALUE + 1 - t->vbytes;
	if (n > room)
		n = room;
	struct json_object *o = json_tokener_parse_ex(t->tok, p, (int)n);
	enum json_tokener_error e = json_tokener_get_error(t->tok);
	if (!o && e == json_tokener_continue) {
		count_lines(t, p, n);
		t->vbytes += n;
		if (t->vbytes > GS_TJSON_MAX_VALUE) {
			json_tokener_reset(t->tok);
			damaged(t);
		}
		return n;
	}
	size_t used = json_tokener_get_parse_end(t->tok);
	if (used > n)
		used = n;
	count_lines(t, p, used);
	t->vbytes += used;
	if (e != json_tokener_success) {
		/* The offending byte is left for the resync, which may
		 * be the very line end it needs. */
		json_tokener_reset(t->tok);
		damaged(t);
	} else if (!o && t->what == P_EVENT) {
		bad(t, t->vline);   /* null is no event */
		t->st = ST_AFTER_ELEM;
	} else {
		got_value(t, o);
	}
	json_object_put(o);
	return used;
}

/* One byte of an unwanted value; returns 1 when it was consumed. */
static int skip_byte(struct gs_tjson *t, char c)
{
	if (t->sstr) {
		if (t->sesc)
			t->sesc = 0;
		else if (c == '\\')
			t->sesc = 1;
		else if (c == '"') {
			t->sstr = 0;
			if (t->sdepth == 0)
				t->st = ST_AFTER_MEMBER;
		}
		return 1;
	}
	switch (c) {
	case '"':
		t->sstr = 1;
		return 1;
	case '{': case '[':
		t->sdepth++;
		return 1;
	case '}': case ']':
		if (t->sdepth == 0) {   /* a bare scalar ended by its object */
			t->st = ST_AFTER_MEMBER;
			return 0;
		}
		if (--t->sdepth == 0)
			t->st = ST_AFTER_MEMBER;
		return 1;
	case ',':
		if (t->sdepth == 0) {
			t->st = ST_AFTER_MEMBER;
			return 0;
		}
		return 1;
	default:
		return 1;
	}
}

void gs_tjson_feed(struct gs_tjson *t, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		char c = *p;
		if (t->st == ST_PARSE) {
			p += parse_some(t, p, (size_t)(end - p));
			continue;
		}
		if (t->st == ST_IGNORE) {
			count_lines(t, p, (size_t)(end - p));
			return;
		}
		if (t->st == ST_SKIP) {
			if (skip_byte(t, c)) {
				if (c == '\n')
					t->line++;
				p++;
			}
			continue;
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
				t->in_events = 1;
				t->st = ST_ELEM;
				if (t->sink.events_opened)
					t->sink.events_opened(t->sink.ctx);
			} else {
				bad(t, t->line);
				t->st = ST_IGNORE;
				continue;
			}
			p++;
			continue;
		case ST_KEY:
			/* Lenient about a comma too many, before a key or the
			 * end, as after a resync. */
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
				t->in_events = 1;
				t->st = ST_ELEM;
				if (t->sink.events_opened)
					t->sink.events_opened(t->sink.ctx);
			} else if (t->key[0] && t->sink.want &&
				   t->sink.want(t->sink.ctx, t->key)) {
				start_value(t, P_MEMBER);
			} else {
				t->sdepth = t->sstr = t->sesc = 0;
				t->st = ST_SKIP;
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
		case ST_PARSE: case ST_SKIP: case ST_RESYNC: case ST_IGNORE:
			break;
		}
	}
}

void gs_tjson_finish(struct gs_tjson *t)
{
	if (t->st == ST_PARSE && t->vbytes) {
		json_tokener_reset(t->tok);
		bad(t, t->vline);
	}
	t->st = ST_IGNORE;
}
