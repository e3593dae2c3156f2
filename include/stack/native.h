/* A thread's native stack in one call: stop it briefly and copy
 * (stack/capture.h), unwind the copy (stack/unwind.h), name each frame
 * (stack/symbols.h, stack/symname.h).  `dump` uses it for the GIL holder
 * and with --native for every thread; record --native for long
 * off-CPU holds.  One gs_native per target, opened once: objects, debug
 * information and unwind tables are cached in it.
 *
 * The frames belong to the gs_native and stay valid until the next
 * gs_native_stack() on it; the strings they point to (names, objects,
 * files) until gs_native_close(). */
#ifndef GS_NATIVE_H
#define GS_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stack/capture.h"

#define GS_NFRAME_INLINED 1u  /* inlined into the next frame: same pc */
#define GS_NFRAME_SIGNAL  2u  /* a signal trampoline */
#define GS_NFRAME_EVAL    4u  /* an eval-loop frame (Python frames go here) */
#define GS_NFRAME_GIL     8u  /* takes, drops or waits for the GIL */

struct gs_nframe {
	uint64_t pc;
	uint64_t sp;            /* its stack pointer (inlined calls: the same) */
	const char *function;   /* as the symbol table names it; NULL unknown */
	uint64_t offset;        /* pc - start of function */
	const char *object;     /* the object, as the target names it; NULL */
	uint64_t objoff;        /* pc in the object's file addresses */
	const char *file;       /* source file, with debug information */
	int line;
	unsigned flags;         /* GS_NFRAME_* */
};

struct gs_nstack {
	struct gs_nframe *frames;
	size_t n;
	unsigned flags;         /* GS_UNWIND_* (stack/unwind.h) */
	char why[128];          /* why it ended early */
	uint64_t stack_end;     /* end of the stack's mapping; 0 unknown */
	uint64_t held_ns;       /* the thread was stopped at most this long */
	uint64_t wait_ns;       /* of which waiting for it to stop */
	enum gs_stop_kind stop;
	int sig;                /* a signal it was given back at the detach */
};

struct gs_native_opts {
	int timeout_ms;         /* for the stop (state D); <= 0: 50 ms; see capture.h */
	int no_inline;          /* skip inlined frames (cheaper) */
	/* Called while the thread is stopped (read what must be consistent
	 * with the native stack: its Python frames). */
	void (*in_window)(void *arg);
	void *arg;
};

struct gs_native;

/* For process pid, with its root ("/proc/PID/root").  Returns 0, or an
 * exit code with the reason recorded by gs_fail(). */
int gs_native_open(pid_t pid, const char *root, struct gs_native **out);
/* Detaches any thread still seized after a timeout (waiting up to
 * 100 ms for it to stop; else the kernel detaches it at exit). */
void gs_native_close(struct gs_native *n);

/* The native stack of thread tid.  Returns 0 with *s filled, or -1 with
 * errno (see gs_capture_thread) and the reason in s->why. */
int gs_native_stack(struct gs_native *n, pid_t tid,
		    const struct gs_native_opts *o, struct gs_nstack *s);

#endif
