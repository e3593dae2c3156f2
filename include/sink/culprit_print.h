/* The part of the summary that names a culprit (model/culprit.h), as
 * text after the table or as members of the summary's JSON object:
 * one sentence saying who held the GIL where and who waited behind it,
 * the off-CPU holds grouped by thread, syscall, file, wchan and Python
 * function, the longest holds with their stacks and waiters, and whom
 * each waiting thread waited behind.  Thread names come from the
 * summary. */
#ifndef GS_CULPRIT_PRINT_H
#define GS_CULPRIT_PRINT_H

#include <stdio.h>

#include "model/summary.h"

/* Off-CPU groups printed as text (JSON lists up to twice as many). */
#define GS_CULPRIT_PRINT_GROUPS 10

/* Nothing when s->culprit is NULL. */
void gs_culprit_print_text(FILE *f, const struct gs_summary *s);
/* ,"verdict":...,"offcpu_holds":[...],"longest_holds":[...],
 * "waited_behind":[...] (keys in gilsnoop-report(1)); nothing when
 * s->culprit is NULL. */
void gs_culprit_print_json(FILE *f, const struct gs_summary *s);
/* The verdict sentence into buf ("" when there is nothing to say). */
void gs_culprit_verdict(char *buf, size_t n, const struct gs_summary *s);

#endif
