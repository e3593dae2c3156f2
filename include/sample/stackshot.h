/* A thread's stack as a list of frame strings, for the recorders
 * (record --stacks, --long-hold, --native, --stall): Python stacks
 * read from memory through runtime/pystack (the target is not
 * stopped), native ones through stack/native (a brief ptrace stop of
 * that one thread, always detached).  Frames are formatted as
 * "function (file:line)" (native frames without debug information:
 * "function+0xOFF (object)"), innermost first, ready to be interned
 * (model/stacks).
 *
 * The strings belong to the gs_stackshot and stay valid until its next
 * call. */
#ifndef GS_STACKSHOT_H
#define GS_STACKSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/target.h"

/* Frames kept per stack; the outermost ones of a deeper stack are
 * dropped. */
#define GS_STACKSHOT_DEPTH 128

struct gs_stackshot;

/* For target t (which must outlive it); native: also open the native
 * unwinder.  Returns 0, or an exit code with the reason recorded by
 * gs_fail() (no frame offsets in this layout; native stacks not
 * available). */
int gs_stackshot_open(const struct gs_target *t, int native,
		      struct gs_stackshot **out);
void gs_stackshot_close(struct gs_stackshot *s);

struct gs_shot {
	const char *const *frames;  /* innermost first; see below */
	size_t n;
	unsigned flags;             /* GS_PYSTACK_* for Python stacks */
	/* Python stacks: equal keys, equal frame strings (a hash of what
	 * each frame's code object and line are, as the reader knows them);
	 * 0 for native ones. */
	uint64_t key;
};

/* The Python stack of the thread state at tstate.  Returns 0 (n may be
 * 0: no Python code running), or -1 with errno (ESRCH: target gone,
 * ENOMEM).  The frame strings are made by gs_stackshot_format(s, 0, ..),
 * which a caller that already knows the stack by its key need not
 * call. */
int gs_stackshot_python(struct gs_stackshot *s, uint64_t tstate, struct gs_shot *out);
/* The Python stacks of n thread states at once, in fewer reads
 * (gs_pystack_read_many()): out[i] and rc[i] as gs_stackshot_python()
 * would give for tstates[i].  Returns 0, or -1 with errno ENOMEM.  The
 * frame strings of out[i] are made by gs_stackshot_format(s, i, ..). */
int gs_stackshot_python_many(struct gs_stackshot *s, const uint64_t *tstates,
			     size_t n, struct gs_shot *out, int *rc);
/* The frame strings of stack i of the last Python read into out. */
void gs_stackshot_format(struct gs_stackshot *s, size_t i, struct gs_shot *out);
/* The native stack of thread tid.  Returns 0, or -1 (not opened with
 * native, or the stop failed: the reason in gs_stackshot_why). */
int gs_stackshot_native(struct gs_stackshot *s, pid_t tid, struct gs_shot *out);
const char *gs_stackshot_why(const struct gs_stackshot *s);

/* What the readers cost: Python stack reads, their process_vm_readv
 * calls, native stops and the longest stop. */
struct gs_stackshot_stats {
	uint64_t python, reads, native, native_failed, longest_stop_ns;
};
void gs_stackshot_stats(const struct gs_stackshot *s, struct gs_stackshot_stats *out);

#endif
