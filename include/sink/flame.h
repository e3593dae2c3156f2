/* Stack samples as flame-graph inputs: the folded text of flamegraph.pl,
 * inferno and speedscope, and speedscope's own file format with one
 * evented profile per thread (its GIL role at the bottom, the Python
 * stack of its last stack sample above).  Both are written whole at the
 * end of a recording (docs/trace-format.md, "folded" and "speedscope"). */
#ifndef GS_FLAME_H
#define GS_FLAME_H

#include <stdio.h>

#include "model/intervals.h"
#include "model/stacks.h"
#include "model/summary.h"

/* The root frame of a folded line: "GIL held: NAME (tid T)". */
void gs_flame_root(char *buf, size_t n, enum gs_role role, const char *name, pid_t tid);

/* One line per (role, thread, stack) of sum->stack_counts, root first,
 * frames joined by ';' (a ';' inside a frame becomes ':'), a space, the
 * count.  Returns 0, or -1 when a write failed (errno set). */
int gs_folded_write(FILE *f, const struct gs_summary *sum);

/* speedscope: the intervals and stack samples are kept (a few dozen
 * bytes each) until gs_speedscope_write. */
struct gs_speedscope;
struct gs_speedscope *gs_speedscope_new(void);
void gs_speedscope_free(struct gs_speedscope *s);
/* Return 0, or -1 when out of memory (the event is dropped). */
int gs_speedscope_interval(struct gs_speedscope *s, const struct gs_interval *iv);
int gs_speedscope_sample(struct gs_speedscope *s, const struct gs_stack_sample *smp);
/* The file: names and stacks from sum, title the profile's name.
 * Returns 0, or -1 when a write failed or memory was short. */
int gs_speedscope_write(struct gs_speedscope *s, FILE *f, const struct gs_summary *sum,
			const char *title, const char *exporter);

#endif
