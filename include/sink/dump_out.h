/* What `gilsnoop dump` prints: the census of every thread (who holds the
 * GIL, who waits, what each blocks in), Python stacks, and native stacks
 * with the Python frames interleaved at the eval loop.  Text for people,
 * one JSON object for programs (docs/dump-format.md). */
#ifndef GS_DUMP_OUT_H
#define GS_DUMP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/target.h"
#include "sample/census.h"
#include "stack/merge.h"
#include "stack/native.h"
#include "stack/unwind.h"

struct gs_dump_thread {
	const struct gs_census_thread *c; /* pyname included */
	int64_t offcpu_ns;      /* for the holder: -1 unknown */

	/* Its Python stack: read while the thread was stopped when a native
	 * stack was taken, else from memory while it ran. */
	struct gs_census_stack py;

	int native_tried;       /* a native stack was asked for */
	int native_ok;
	char native_why[128];   /* why it failed, or why it ended early */
	struct gs_nframe *nf;   /* copied; strings owned by the gs_native */
	size_t nnf;
	unsigned nflags;        /* GS_UNWIND_* */
	uint64_t held_ns;       /* how long the thread was stopped, at most */
	uint64_t wait_ns;       /* of which until its stop was seen */
	enum gs_stop_kind stop;
	struct gs_merge merge;
	size_t *mfirst, *mcount; /* per native frame, on merge.ok */
	/* The eval-loop frames were found from where each loop's entry
	 * frame lies on the C stack (3.12+), not from symbol names. */
	int eval_by_stack;
};

struct gs_dump {
	const struct gs_target *t;
	const struct gs_census *c;
	struct gs_dump_thread *v; /* holder, waiters, the rest */
	size_t n;
	size_t waiters;
	int long_hold;          /* the holder kept the GIL > 100 ms: 1/0, -1 unknown */
	int native_mode;        /* -1 --no-native, 0 the default, 1 --native */
	char py_error[256];     /* why there are no Python stacks at all */
	char native_error[256]; /* why there are no native stacks at all */
};

void gs_dump_print_text(FILE *f, const struct gs_dump *d);
void gs_dump_print_json(FILE *f, const struct gs_dump *d);

/* "holding the GIL off CPU", "waiting for the GIL", ...: the role in
 * words, for a thread with a thread state (native says so itself). */
const char *gs_dump_role_words(enum gs_role r);

#endif
