/* The summary (model/summary.h) as text or one JSON object: what record
 * prints when it stops and report prints from a file. */
#ifndef GS_SUMMARY_PRINT_H
#define GS_SUMMARY_PRINT_H

#include <stdio.h>

#include "model/summary.h"

/* A few header lines, then one row per thread under the column titles
 * TID NAME HELD% OFFC% WAIT% HAND% RUN% IDLE% LONGEST WAITp50 WAITp99
 * WAITmax (top names its columns the same way). */
void gs_summary_print_text(FILE *f, const struct gs_summary *s);
/* The keys are listed in gilsnoop-report(1); a thread's "python" is
 * null when the source does not say (CSV). */
void gs_summary_print_json(FILE *f, const struct gs_summary *s);

#endif
