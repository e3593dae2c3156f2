/* Reading a recording back (gilsnoop report): any of the three formats,
 * detected by content, complete or cut short.  The reader is line based
 * and understands only what trace_writer.c writes; anything else on a
 * line makes that line count as bad, never a crash, so the parser can
 * be fuzzed on memory buffers. */
#ifndef GS_TRACE_READER_H
#define GS_TRACE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/summary.h"
#include "sink/trace_writer.h"

struct gs_trace_info {
	enum gs_trace_format format;
	int format_known;        /* at least one line was recognised */
	int have_header;         /* the run's identity was read */
	int complete;            /* the closing record was read */
	int have_stats;          /* sample counts from progress or the end */
	char python_version[32];
	char comm[64];
	pid_t pid;
	double rate_hz;
	char stopped_by[64];
	uint64_t lines, bad_lines, intervals, partial_intervals;
	uint64_t bad_line_no;    /* the first bad line, 1-based */
};

struct gs_trace_reader;

/* Intervals and thread names go into sum, which the caller owns. */
struct gs_trace_reader *gs_trace_reader_new(struct gs_summary *sum);
void gs_trace_reader_free(struct gs_trace_reader *r);
/* One line, without or with its line end; need not be NUL-terminated. */
void gs_trace_reader_line(struct gs_trace_reader *r, const char *line, size_t len);
/* After the last line: account for intervals a cut-off file left open,
 * fill sum->run and *info.  Returns 0, or -1 when nothing in the input
 * was a gilsnoop recording. */
int gs_trace_reader_finish(struct gs_trace_reader *r, struct gs_trace_info *info);

/* The whole of a buffer, split into lines (the fuzzing entry point). */
int gs_trace_parse_buffer(const char *buf, size_t len, struct gs_summary *sum,
			  struct gs_trace_info *info);
/* A file; returns 0, or an exit code with the message in gs_fail(). */
int gs_trace_read_file(const char *path, struct gs_summary *sum,
		       struct gs_trace_info *info);

#endif
