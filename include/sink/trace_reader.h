/* Reading a recording back (gilsnoop report): any of the three formats,
 * found from the content, complete or cut short.  json means any Trace
 * Event JSON that holds gilsnoop's events, however it is laid out
 * (reformatted, on one line, combined with VizTracer's): only the
 * events of gilsnoop's own process (pid + 2^30) count, the others are
 * skipped.  Input is taken in pieces split anywhere, with memory that
 * does not grow with its size; damage costs the line it is on, never a
 * crash, so the reader can be fuzzed on memory buffers. */
#ifndef GS_TRACE_READER_H
#define GS_TRACE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/summary.h"
#include "sink/trace_writer.h"

struct gs_trace_info {
	enum gs_trace_format format;
	int format_known;        /* the input is a gilsnoop recording */
	int have_header;         /* the run's identity was read */
	int complete;            /* the closing record was read */
	int have_stats;          /* sample counts from progress or the end */
	char python_version[32];
	char comm[64];
	pid_t pid;
	double rate_hz;
	char stopped_by[64];
	uint64_t lines;          /* lines of input */
	uint64_t bad_lines;      /* events or lines that could not be read */
	uint64_t bad_line_no;    /* the line of the first, 1-based */
	uint64_t intervals, partial_intervals;
	uint64_t foreign_events; /* json: events of other processes, skipped */
	uint64_t stack_samples;  /* json, jsonl: stack samples read (sum->stack_counts) */
	uint64_t stalls;         /* gilsnoop_stall records (a --stall file) */
};

struct gs_trace_reader;

/* Intervals and thread names go into sum, which the caller owns. */
struct gs_trace_reader *gs_trace_reader_new(struct gs_summary *sum);
void gs_trace_reader_free(struct gs_trace_reader *r);
/* The next piece of the input; pieces may end anywhere (mid-line,
 * mid-character) and the result does not depend on where. */
void gs_trace_reader_feed(struct gs_trace_reader *r, const char *buf, size_t len);
/* After the last piece: account for intervals a cut-off file left
 * open, fill sum->run and *info.  Returns 0, or -1 when nothing in the
 * input was a gilsnoop recording. */
int gs_trace_reader_finish(struct gs_trace_reader *r, struct gs_trace_info *info);

/* A whole buffer (the fuzzing entry point). */
int gs_trace_parse_buffer(const char *buf, size_t len, struct gs_summary *sum,
			  struct gs_trace_info *info);
/* A file, or standard input for "-"; returns 0, or an exit code with
 * the message in gs_fail(). */
int gs_trace_read_file(const char *path, struct gs_summary *sum,
		       struct gs_trace_info *info);

#endif
