/* report --svg: one self-contained SVG picture of a recording (no
 * script, no external font or style): the verdict of the summary, the
 * mean number of waiters over time, a lane per thread coloured by GIL
 * role on a time axis, the stalls and the longest holds marked (with
 * their innermost Python frame when the file has stacks), and, when it
 * has stacks, the holder flame graph (time held under each stack, root
 * at the bottom, coloured from green (on CPU) to orange (off CPU)).
 * Every mark has a <title>, which browsers show on hover.
 *
 * The size is bounded whatever the recording's length: the lanes come
 * from model/timeline.h (at most GS_TIMELINE_LANES lanes of
 * GS_TIMELINE_COLS columns, each column drawn in the role that filled
 * most of it, runs of one role as one rectangle), at most
 * GS_TIMELINE_STALLS stalls, and flame graph boxes narrower than a
 * third of a pixel are left out. */
#ifndef GS_SVG_REPORT_H
#define GS_SVG_REPORT_H

#include <stdio.h>

#include "model/summary.h"
#include "model/timeline.h"

/* title: one line at the top (the file's name, say).  Returns 0, or -1
 * when out of memory (the output is then incomplete). */
int gs_svg_report(FILE *f, const struct gs_summary *s, const struct gs_timeline *t,
		  const char *title);

#endif
