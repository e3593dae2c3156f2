/* Trace Event JSON, streamed: splits a file in either of the format's
 * two forms (an object whose "traceEvents" member is the event list, or
 * the bare list) into its events, and hands each one over as a json-c
 * object as soon as it is complete.  Memory is one event's worth,
 * whatever the file's size or layout (one event per line, reformatted by
 * python -m json.tool, or all on one line as viztracer --combine writes
 * it).  A value that is not JSON is reported and reading goes on at the
 * next line, so a damaged line costs one event; input that stops part
 * way (a file cut by SIGKILL) leaves at most one incomplete value. */
#ifndef GS_TRACE_JSON_H
#define GS_TRACE_JSON_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

struct gs_tjson_sink {
	void *ctx;
	/* The event list opened. */
	void (*events_opened)(void *ctx);
	/* One element of the event list; line is where it starts (1-based).
	 * The object is freed after the call. */
	void (*event)(void *ctx, struct json_object *ev, uint64_t line);
	/* Whether the top-level member key (other than traceEvents) is
	 * wanted; the others are skipped without being parsed. */
	int (*want)(void *ctx, const char *key);
	void (*member)(void *ctx, const char *key, struct json_object *v);
	/* Something that is not JSON, or not where the format has it, on
	 * this line. */
	void (*bad)(void *ctx, uint64_t line);
	/* The top-level value closed. */
	void (*closed)(void *ctx);
};

struct gs_tjson;

/* NULL when out of memory. */
struct gs_tjson *gs_tjson_new(const struct gs_tjson_sink *sink);
void gs_tjson_free(struct gs_tjson *t);
/* Any piece of the input, split anywhere: the result does not depend on
 * where the pieces end. */
void gs_tjson_feed(struct gs_tjson *t, const char *buf, size_t len);
/* End of input: a value left incomplete is reported as bad. */
void gs_tjson_finish(struct gs_tjson *t);

/* One value larger than this is treated as damage, not parsed: no event
 * gilsnoop writes comes near it (a progress record of 8192 threads is
 * under 1 MiB). */
#define GS_TJSON_MAX_VALUE (16u << 20)

#endif
