/* libFuzzer harness: reading recordings back (include/trace_reader.h),
 * then what `gilsnoop report` does with the result: the summary in text
 * and JSON.  The input is a file's content; it is also fed line by line
 * through gs_trace_reader_line() in pieces without line ends, which the
 * header allows, and both ways must agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/summary.h"
#include "sink/summary_print.h"
#include "sink/trace_reader.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gs_summary sum, sum2;
	struct gs_trace_info info, info2;
	struct gs_trace_reader *r;
	const char *p = (const char *)data;
	size_t left = size;
	int rc, rc2;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();

	gs_summary_init(&sum);
	memset(&info, 0, sizeof info);
	rc = gs_trace_parse_buffer((const char *)data, size, &sum, &info);
	FUZZ_ASSERT(rc == 0 || rc == -1, "returns 0 or -1");
	FUZZ_ASSERT(info.bad_lines <= info.lines, "bad lines are lines");
	FUZZ_ASSERT(memchr(info.python_version, 0, sizeof info.python_version) &&
		    memchr(info.comm, 0, sizeof info.comm) &&
		    memchr(info.stopped_by, 0, sizeof info.stopped_by),
		    "strings in the info are terminated");
	if (rc == 0) {
		(void)gs_summary_wall_ns(&sum);
		(void)gs_summary_utilisation(&sum);
		gs_summary_print_text(devnull, &sum);
		gs_summary_print_json(devnull, &sum);
	}

	/* Line by line, each handed over with its line end. */
	gs_summary_init(&sum2);
	r = gs_trace_reader_new(&sum2);
	if (!r)
		abort();
	while (left) {
		const char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) + 1 : left;
		/* An exact-size copy, so that ASan sees a read past len. */
		char *line = malloc(n);
		if (!line)
			abort();
		memcpy(line, p, n);
		gs_trace_reader_line(r, line, n);
		free(line);
		p += n;
		left -= n;
	}
	rc2 = gs_trace_reader_finish(r, &info2);
	gs_trace_reader_free(r);
	FUZZ_ASSERT(rc2 == rc && info2.lines == info.lines &&
		    info2.bad_lines == info.bad_lines &&
		    info2.intervals == info.intervals && sum2.n == sum.n,
		    "buffer and line-by-line reading agree");
	gs_summary_free(&sum2);
	gs_summary_free(&sum);
	return 0;
}
