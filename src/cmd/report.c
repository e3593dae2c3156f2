/* gilsnoop report: the end-of-recording summary, rebuilt from a file
 * that gilsnoop record wrote, including one cut off part-way. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "core/errors.h"
#include "core/json.h"
#include "model/summary.h"
#include "sink/summary_print.h"
#include "sink/trace_reader.h"

static const char usage[] =
	"Usage: gilsnoop report FILE [--json] [-v]\n"
	"\n"
	"Print the summary 'gilsnoop record' prints when it stops, rebuilt\n"
	"from FILE: per thread the share of time holding the GIL (and holding\n"
	"it off CPU), waiting for it, running without it and idle, the longest\n"
	"hold and the wait latency p50/p99/max; for the process the GIL\n"
	"utilisation, switches per second, missed switches and the sampling\n"
	"rate achieved.\n"
	"\n"
	"FILE may be in any of record's formats (json, jsonl, csv; found from\n"
	"its content) and may have been cut off by SIGKILL, a crash or a full\n"
	"disk: the report then says the file was cut short, and intervals the\n"
	"recording had open are counted up to its last progress record.  json\n"
	"is any Trace Event JSON that holds record's events, however laid out:\n"
	"reformatted (python -m json.tool), on one line, or combined with a\n"
	"VizTracer trace (viztracer --combine); the events of other processes\n"
	"are skipped.  The file is streamed: memory stays flat whatever its\n"
	"size.  CSV files carry no sample or switch counts.  \"-\" reads\n"
	"standard input.\n"
	"\n"
	"Options:\n"
	"      --json       print one JSON object instead of text\n"
	"  -v, --verbose    say how the file was read\n"
	"  -h, --help       show this help\n"
	"\n"
	"Exit status: 0 when a summary was printed (also for a file cut short);\n"
	"1 when FILE cannot be read or is not a gilsnoop recording; 2 bad\n"
	"command line.  See gilsnoop-report(1).\n";

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'v': gs_verbose++; break;
		case 'h': fputs(usage, stdout); return GS_OK;
		default:
			gs_usage_fail("report", "unknown or incomplete option '%s'",
				      argv[optind - 1]);
			return gs_report_error();
		}
	}
	if (optind >= argc)
		gs_usage_fail("report", "no file given: gilsnoop report FILE");
	else if (argc - optind > 1)
		gs_usage_fail("report", "unexpected argument '%s'", argv[optind + 1]);
	if (gs_last_code())
		return gs_report_error();
	const char *path = argv[optind];

	struct gs_summary sum;
	struct gs_trace_info info;
	gs_summary_init(&sum);
	sum.culprit = gs_culprit_new(sum.stacks);
	memset(&info, 0, sizeof info);
	int rc = gs_trace_read_file(path, &sum, &info);
	if (rc) {
		gs_summary_free(&sum);
		return gs_report_error();
	}
	gs_debug("%s: %s, %llu lines, %llu intervals (%llu still open when cut), "
		 "%llu events of other processes skipped, %llu unreadable%s", path,
		 gs_trace_format_name(info.format), (unsigned long long)info.lines,
		 (unsigned long long)info.intervals,
		 (unsigned long long)info.partial_intervals,
		 (unsigned long long)info.foreign_events,
		 (unsigned long long)info.bad_lines,
		 info.complete ? "" : ", no closing record");
	/* A cut-off file ends in one partial line; more than that is
	 * damage worth a word. */
	if (info.bad_lines > (info.complete ? 0u : 1u))
		gs_warn("%s: skipped %llu events or lines that could not be read "
			"(the first on line %llu)", path,
			(unsigned long long)info.bad_lines,
			(unsigned long long)info.bad_line_no);

	if (json) {
		gs_summary_print_json(stdout, &sum);
	} else {
		/* Both may come from a file made anywhere, by anyone. */
		char cpath[1024], cstop[sizeof info.stopped_by];
		printf("%s: %s recording", gs_text_clean(cpath, sizeof cpath, path),
		       gs_trace_format_name(info.format));
		if (info.stopped_by[0])
			printf(", stopped by %s",
			       gs_text_clean(cstop, sizeof cstop, info.stopped_by));
		printf("\n");
		if (!info.complete)
			printf("truncated: the file was cut short (recording killed, "
			       "crashed or out of disk space); the summary covers what "
			       "was written%s\n", info.partial_intervals ?
			       ", with intervals still open counted up to the last "
			       "progress record" : "");
		gs_summary_print_text(stdout, &sum);
	}
	gs_summary_free(&sum);
	if (fflush(stdout) != 0)
		return gs_fail(GS_EFAIL, "could not write the output"), gs_report_error();
	return GS_OK;
}

const struct gs_command gs_cmd_report = {
	.name = "report",
	.summary = "summarise a file written by record (also one cut short)",
	.usage = usage,
	.run = run,
};
