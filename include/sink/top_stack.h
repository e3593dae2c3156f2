/* A Python stack as top shows it: the selected thread's, read live when
 * the stack view opens (and at each refresh while it is open), or the
 * one taken during the window's longest hold; and the holder's
 * innermost frames on the holder line.  cmd/top reads the stacks
 * (runtime/pystack.h); this is only their text. */
#ifndef GS_TOP_STACK_H
#define GS_TOP_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"

#define GS_TOP_STACK_FRAMES 48
#define GS_TOP_FRAME_LEN 200
/* Holds at least this long get the holder's stack read while they last
 * (once per hold), so that the longest hold of a window keeps one. */
#define GS_TOP_HOLD_STACK_NS 10000000ull

struct gs_top_stack {
	int valid;
	pid_t tid;
	char name[64];
	int kept;                /* taken during a hold, not read now */
	uint64_t hold_ns;        /* kept: the hold's length */
	uint64_t taken_ns;       /* CLOCK_MONOTONIC when read */
	enum gs_role role;       /* the thread's role when read */
	size_t n;                /* frames kept, innermost first */
	size_t total;            /* frames the stack had (n or more) */
	int partial;             /* the walk stopped early or was torn */
	char frame[GS_TOP_STACK_FRAMES][GS_TOP_FRAME_LEN];
	char error[192];         /* why there is no stack, or "" */
};

/* The innermost k frames, "f (a.py:3) < g (a.py:9)", printable ASCII,
 * "" when there are none. */
void gs_top_stack_brief(char *buf, size_t n, const struct gs_top_stack *s, size_t k);
/* The title line of the stack view. */
void gs_top_stack_title(char *buf, size_t n, const struct gs_top_stack *s, uint64_t now_ns);
/* "longest hold 294.5ms journal (4242) at journal_flush (app.py:41)" for
 * the line under the header; "" without a kept stack. */
void gs_top_stack_longest(char *buf, size_t n, const struct gs_top_stack *s);

#endif
