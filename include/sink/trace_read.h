/* The inside of the recording reader, shared by its files and by no
 * one else: trace_reader.c (the format, lines, cut-off files, the
 * public functions), trace_records.c (what the json and jsonl formats
 * say, read with json-c) and trace_csv.c (csv rows). */
#ifndef GS_TRACE_READ_H
#define GS_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sink/trace_json.h"
#include "sink/trace_reader.h"

struct json_tokener;

struct gs_tread_open {
	pid_t pid, tid;
	enum gs_role role;
	uint64_t start_ns, samples;
	char name[64];
};

enum gs_tread_kind { K_UNKNOWN, K_JSON, K_JSONL, K_CSV, K_NONE };

struct gs_tread_stats {
	uint64_t samples, torn, switches, missed, first_ns, last_ns;
};

/* Bytes held back until the format is known, enough for the longest
 * signature (the CSV header). */
#define HEAD_MAX 40

struct gs_trace_reader {
	struct gs_summary *sum;
	struct gs_trace_info info;
	enum gs_tread_kind kind;
	char head[HEAD_MAX];
	size_t nhead;
	int started, bom;        /* bytes of a byte order mark skipped */
	uint64_t lead_lines;     /* line ends skipped before the head */
	int fed, last_nl;        /* input so far; it ends in a line end */
	/* json */
	struct gs_tjson *tj;
	long long gil_pid;       /* the GIL process's pid; 0 until seen */
	int opened, closed, ours;
	struct json_tokener *tok; /* jsonl's lines */
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
	struct gs_tread_stats stats;
	struct gs_tread_open *open; /* the last progress record's open intervals */
	size_t nopen, open_cap;
	uint64_t open_t_ns;
	/* json: the file's stack ids (gilsnoop_stack records) to the ids
	 * of sum->stacks */
	uint32_t *stack_map;
	size_t stack_map_cap;
};

/* One record that could not be read, on this line. */
void gs_tread_bad(struct gs_trace_reader *r, uint64_t line);
/* One interval into the summary (name: the thread's, if not known yet;
 * pid 0: the recording's own, from its header; gil: the GIL the role
 * is about, 0 the main one; stacks: its stack, stack_end and
 * native_stack ids in sum->stacks, or NULL). */
void gs_tread_interval(struct gs_trace_reader *r, pid_t pid, pid_t tid, unsigned gil,
		       const char *name, enum gs_role role, uint64_t start, uint64_t end,
		       uint64_t samples, const char *syscall, const char *path,
		       const char *wchan, const uint32_t *stacks);

/* Decimal text: microseconds with up to 3 fractional digits to exact
 * nanoseconds, and a plain unsigned number.  Return 0 or -1. */
int gs_tread_us_to_ns(const char *s, size_t n, uint64_t *out);
int gs_tread_u64(const char *s, size_t n, uint64_t *out);

/* trace_records.c: the callbacks that read Trace Event JSON, and one
 * JSONL line (without its line end). */
void gs_tread_json_sink(struct gs_trace_reader *r, struct gs_tjson_sink *sink);
void gs_tread_jsonl_line(struct gs_trace_reader *r, const char *s, size_t n);

/* trace_csv.c: one CSV line (without its line end; a quoted field may
 * go on over several), and the end of input. */
void gs_tread_csv_line(struct gs_trace_reader *r, const char *s, size_t n);
void gs_tread_csv_finish(struct gs_trace_reader *r);

#endif
