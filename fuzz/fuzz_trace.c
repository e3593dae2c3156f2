/* libFuzzer harness: reading recordings back (include/sink/trace_reader.h),
 * then what `gilsnoop report` does with the result: the summary in text
 * and JSON.  The input is a file's content.  It is read three ways, which
 * must agree, since the reader promises that the result does not depend
 * on where its pieces end: whole, line by line, and in pieces of sizes
 * drawn from the input's own length.  Each piece is an exact-size copy,
 * so that ASan sees a read past its end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/summary.h"
#include "model/timeline.h"
#include "sink/summary_print.h"
#include "sink/svg_report.h"
#include "sink/trace_reader.h"

static FILE *devnull;

static void feed_copy(struct gs_trace_reader *r, const char *p, size_t n)
{
	char *piece = malloc(n ? n : 1);
	if (!piece)
		abort();
	memcpy(piece, p, n);
	gs_trace_reader_feed(r, piece, n);
	free(piece);
}

/* mode 1: line by line; mode 2: pieces of 1..64 bytes. */
static int read_in_pieces(const char *p, size_t left, int mode, struct gs_summary *sum,
			  struct gs_trace_info *info)
{
	struct gs_trace_reader *r = gs_trace_reader_new(sum);
	uint32_t x = (uint32_t)left * 2654435761u + 1;
	if (!r)
		abort();
	while (left) {
		size_t n;
		if (mode == 1) {
			const char *nl = memchr(p, '\n', left);
			n = nl ? (size_t)(nl - p) + 1 : left;
		} else {
			x = x * 1103515245u + 12345u;
			n = 1 + (x >> 16) % 64;
			if (n > left)
				n = left;
		}
		feed_copy(r, p, n);
		p += n;
		left -= n;
	}
	int rc = gs_trace_reader_finish(r, info);
	gs_trace_reader_free(r);
	return rc;
}

static int agree(int rc, const struct gs_trace_info *a, const struct gs_summary *sa,
		 int rc2, const struct gs_trace_info *b, const struct gs_summary *sb)
{
	return rc == rc2 && a->lines == b->lines && a->bad_lines == b->bad_lines &&
		a->bad_line_no == b->bad_line_no && a->intervals == b->intervals &&
		a->partial_intervals == b->partial_intervals &&
		a->foreign_events == b->foreign_events && a->complete == b->complete &&
		sa->n == sb->n && sa->run.samples == sb->run.samples &&
		sa->run.first_ns == sb->run.first_ns && sa->run.last_ns == sb->run.last_ns;
}

static void timeline_tap(void *ctx, const struct gs_interval *iv)
{
	gs_timeline_add(ctx, iv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gs_summary sum, sum2;
	struct gs_trace_info info, info2;
	struct gs_timeline tl;
	int rc, rc2;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();

	gs_summary_init(&sum);
	/* As report --svg reads: the culprit and the timeline see every
	 * interval. */
	sum.culprit = gs_culprit_new(sum.stacks);
	if (gs_timeline_init(&tl, 100000000ull))
		abort();
	sum.tap = timeline_tap;
	sum.tap_ctx = &tl;
	memset(&info, 0, sizeof info);
	rc = gs_trace_parse_buffer((const char *)data, size, &sum, &info);
	FUZZ_ASSERT(rc == 0 || rc == -1, "returns 0 or -1");
	FUZZ_ASSERT(!info.bad_lines || (info.bad_line_no >= 1 && info.bad_line_no <= info.lines),
		    "the first bad record is on a line of the input");
	FUZZ_ASSERT(memchr(info.python_version, 0, sizeof info.python_version) &&
		    memchr(info.comm, 0, sizeof info.comm) &&
		    memchr(info.stopped_by, 0, sizeof info.stopped_by),
		    "strings in the info are terminated");
	if (rc == 0) {
		(void)gs_summary_wall_ns(&sum);
		(void)gs_summary_utilisation(&sum);
		gs_summary_print_text(devnull, &sum);
		gs_summary_print_json(devnull, &sum);
		gs_timeline_finish(&tl);
		FUZZ_ASSERT(tl.ncols <= GS_TIMELINE_COLS && tl.nlanes <= GS_TIMELINE_LANES,
			    "the timeline stays within its bounds");
		/* The picture costs more than the reading (number
		 * formatting): draw it for a quarter of the inputs. */
		if (size % 4 == 0)
			gs_svg_report(devnull, &sum, &tl, "fuzz");
	}
	gs_timeline_free(&tl);

	for (int mode = 1; mode <= 2; mode++) {
		gs_summary_init(&sum2);
		memset(&info2, 0, sizeof info2);
		rc2 = read_in_pieces((const char *)data, size, mode, &sum2, &info2);
		FUZZ_ASSERT(agree(rc, &info, &sum, rc2, &info2, &sum2),
			    mode == 1 ? "whole and line-by-line reading agree"
				      : "whole and piecewise reading agree");
		gs_summary_free(&sum2);
	}
	gs_summary_free(&sum);
	return 0;
}
