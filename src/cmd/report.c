/* gilsnoop report: the end-of-recording summary, rebuilt from a file
 * that gilsnoop record wrote, including one cut off part-way. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "core/errors.h"
#include "core/json.h"
#include "model/summary.h"
#include "model/timeline.h"
#include "sink/summary_print.h"
#include "sink/svg_report.h"
#include "sink/trace_reader.h"

static const char usage[] =
	"Usage: gilsnoop report FILE [--json] [--svg OUT.svg [--stall MS]] [-v]\n"
	"\n"
	"Print the summary 'gilsnoop record' prints when it stops, rebuilt\n"
	"from FILE: per thread the share of time holding the GIL (and holding\n"
	"it off CPU), waiting for it, running without it and idle, the longest\n"
	"hold and the wait latency p50/p99/max; for the process the GIL\n"
	"utilisation, switches per second, missed switches and the sampling\n"
	"rate achieved.\n"
	"\n"
	"Then, why threads waited: one sentence naming the thread that held\n"
	"the GIL off CPU longest, where (syscall, file, wchan, Python function\n"
	"when the file has stacks: record --stacks or --long-hold) and who\n"
	"waited behind it; the off-CPU holds grouped by thread, syscall, file,\n"
	"wchan and function (total, share of the run, count, longest); the\n"
	"longest holds, each with its Python stack and the threads that waited\n"
	"meanwhile; and for each waiting thread, whose holds it waited behind.\n"
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
	"      --svg OUT    also write a picture of the recording to OUT, one\n"
	"                   self-contained SVG (no scripts, no fonts): a lane per\n"
	"                   thread coloured by role on a time axis, the waiters,\n"
	"                   stalls and the longest holds marked with their\n"
	"                   function, and the holder flame graph when FILE has\n"
	"                   stacks; any length of recording gives at most 64\n"
	"                   lanes of 1024 columns (OUT is replaced whole)\n"
	"      --stall MS   in the SVG, mark holds and waits of MS or more as\n"
	"                   stalls (default 100)\n"
	"  -v, --verbose    say how the file was read\n"
	"  -h, --help       show this help\n"
	"\n"
	"Exit status: 0 when a summary was printed (also for a file cut short);\n"
	"1 when FILE cannot be read or is not a gilsnoop recording; 2 bad\n"
	"command line.  See gilsnoop-report(1).\n";

static void timeline_tap(void *ctx, const struct gs_interval *iv)
{
	gs_timeline_add(ctx, iv);
}

/* The picture goes to a temporary file beside OUT, renamed over it once
 * whole: OUT is never half-written.  Returns 0 or an exit code. */
static int write_svg(const char *out, const char *path, const struct gs_summary *sum,
		     const struct gs_timeline *tl)
{
	char tmp[4096], title[1200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp%d", out, (int)getpid()) >= (int)sizeof tmp)
		return gs_fail(GS_EUSAGE, "--svg: path too long: %s", out);
	FILE *f = fopen(tmp, "wx");
	if (!f)
		return gs_fail(GS_EFAIL, "cannot write %s: %s", out, strerror(errno));
	snprintf(title, sizeof title, "gilsnoop report %s", path);
	int bad = gs_svg_report(f, sum, tl, title);
	int err = ferror(f) ? (errno ? errno : EIO) : 0;
	if (fclose(f) && !err)
		err = errno ? errno : EIO;
	if (!bad && !err && rename(tmp, out) != 0)
		err = errno;
	if (bad || err) {
		unlink(tmp);
		return gs_fail(GS_EFAIL, "cannot write %s: %s", out,
			       bad ? "out of memory" : strerror(err));
	}
	gs_debug("wrote %s", out);
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "svg", required_argument, NULL, 'S' },
		{ "stall", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, c, stall_set = 0;
	const char *svg = NULL;
	double stall_ms = 100;
	char *end;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'S': svg = optarg; break;
		case 'T':
			errno = 0;
			stall_ms = strtod(optarg, &end);
			stall_set = 1;
			if (end == optarg || *end || errno || !(stall_ms >= 0.001 && stall_ms <= 3.6e6)) {
				gs_usage_fail("report", "invalid --stall '%s': expected "
					      "milliseconds from 0.001 to 3600000", optarg);
				return gs_report_error();
			}
			break;
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
	else if (stall_set && !svg)
		gs_usage_fail("report", "--stall is for the SVG: give --svg OUT too");
	if (gs_last_code())
		return gs_report_error();
	const char *path = argv[optind];

	struct gs_summary sum;
	struct gs_trace_info info;
	gs_summary_init(&sum);
	sum.culprit = gs_culprit_new(sum.stacks);
	memset(&info, 0, sizeof info);
	struct gs_timeline tl;
	int have_tl = 0;
	if (svg) {
		if (gs_timeline_init(&tl, (uint64_t)(stall_ms * 1e6))) {
			gs_summary_free(&sum);
			return gs_fail(GS_EFAIL, "out of memory"), gs_report_error();
		}
		have_tl = 1;
		sum.tap = timeline_tap;
		sum.tap_ctx = &tl;
	}
	int rc = gs_trace_read_file(path, &sum, &info);
	if (!rc && svg) {
		gs_timeline_finish(&tl);
		rc = write_svg(svg, path, &sum, &tl);
	}
	if (have_tl)
		gs_timeline_free(&tl);
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
