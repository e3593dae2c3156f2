/* Python stacks read from outside, without stopping the target.
 *
 * One reader per target, opened once (it chooses how to walk frames from
 * the layout, learns type addresses and caches code objects), then
 * gs_pystack_read() for any thread state, as often as wanted: in the
 * steady state (code objects cached) a read allocates nothing and, from
 * 3.11, costs two process_vm_readv calls: the thread state with what the
 * last read of it needed (its innermost data-stack chunk, the frames
 * kept elsewhere, the code headers), then the headers it did not guess
 * and the head pointer again, which carries the first call of the
 * thread read next.  From 3.14 a cached code object's header is not
 * read while the interpreter's count of freed code objects holds still.
 * Up to 3.10 frames are read one by one.  bench/README.md has the
 * figures.
 *
 * Frames come innermost first.  The strings a frame points to belong to
 * the reader and stay valid until the next gs_pystack_read() or
 * gs_pystack_close() on it: copy them to keep them. */
#ifndef GS_PYSTACK_H
#define GS_PYSTACK_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/target.h"

/* The largest capacity honoured; the walk also stops after twice the
 * capacity in frames (C-owned ones included): a chain that long is a
 * loop in torn memory. */
#define GS_PYSTACK_MAX_DEPTH 65536
/* Bounds on the strings kept per code object, in bytes with the NUL;
 * longer ones end in "...". */
#define GS_PYFRAME_FUNC_MAX 160
#define GS_PYFRAME_FILE_MAX 320

/* This frame is the first one a C call of the eval loop
 * (_PyEval_EvalFrameDefault) runs: where C code entered Python.  Every
 * frame up to 3.10; from 3.11 the frames inside one eval loop share it,
 * and only the outermost of them carries the flag.  `dump` hangs the
 * Python frames under each eval-loop frame of the native stack. */
#define GS_PYFRAME_ENTRY 1u

struct gs_pyframe {
	const char *function; /* qualified name (3.11+), else the name; "?" */
	const char *file;     /* co_filename; "?" when unreadable */
	int line;             /* current line; 0 when unknown */
	int first_line;       /* co_firstlineno */
	uint64_t code;        /* address of the code object */
	uint64_t ident;       /* the reader's description of that code
			       * object: the same ident, the same function,
			       * file and line table (never 0) */
	uint64_t frame;       /* address of the frame */
	unsigned flags;       /* GS_PYFRAME_* */
};

/* More frames than the caller's array (or the depth bound) holds: the
 * outermost ones are missing. */
#define GS_PYSTACK_TRUNCATED 1u
/* The walk stopped at a frame it could not read or that made no sense
 * (freed, torn): the frames outside it are missing. */
#define GS_PYSTACK_PARTIAL 2u
/* The thread's innermost frame kept changing while it was read, through
 * every retry: the frames may mix two moments of the same thread. */
#define GS_PYSTACK_TORN 4u

struct gs_pystack {
	struct gs_pyframe *frames; /* caller's array of cap frames */
	size_t cap;
	size_t n;                  /* frames filled */
	unsigned flags;            /* GS_PYSTACK_* */
	unsigned reads;            /* process_vm_readv calls this read made */
	unsigned misses;           /* code objects read (not cached) */
};

struct gs_pystack_reader;

/* A reader for target t, which must outlive it.  Returns 0, or an exit
 * code with the reason recorded by gs_fail() when this build's layout
 * has no frame offsets (GS_EUNSUPPORTED) or memory is short. */
int gs_pystack_open(const struct gs_target *t, struct gs_pystack_reader **out);
void gs_pystack_close(struct gs_pystack_reader *r);

/* How many times a read is repeated when the thread's innermost frame
 * moved while it was read (default 2; 0: never, and such a read comes
 * back flagged GS_PYSTACK_TORN at the cost of one walk).  A sampler of a
 * busy holder may prefer 0. */
void gs_pystack_set_retries(struct gs_pystack_reader *r, unsigned retries);

/* The Python stack of the thread state at tstate into s (s->frames and
 * s->cap set by the caller).  Returns 0 with s filled (possibly flagged,
 * possibly empty: a thread running no Python code); -1 with errno when
 * the thread state itself cannot be read (ESRCH: the target is gone). */
int gs_pystack_read(struct gs_pystack_reader *r, uint64_t tstate,
		    struct gs_pystack *s);

/* The stacks of n thread states, s[i] of tstates[i] (each s[i].frames
 * and .cap set by the caller), rc[i] as gs_pystack_read() would return
 * it: the same stacks in fewer calls (every thread state's first call
 * in one process_vm_readv, every second call in another, for up to 32
 * at a time; the first stack a batch finishes counts the calls it
 * shared).  The strings stay valid until the next read of any kind.
 * Returns 0, or -1 with errno ENOMEM. */
int gs_pystack_read_many(struct gs_pystack_reader *r, const uint64_t *tstates,
			 size_t n, struct gs_pystack *s, int *rc);

/* "function (file:line)", or "function (file)" with no line; the
 * strings are the target's, unfiltered.  Returns the length snprintf
 * would. */
int gs_pyframe_format(const struct gs_pyframe *f, char *buf, size_t n);

#endif
