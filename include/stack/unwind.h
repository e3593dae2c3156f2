/* Unwinding a captured thread (stack/capture.h) with libunwind's remote
 * API, after the thread runs again: registers come from the capture,
 * stack words from its copy, code and CFI (.eh_frame through
 * .eh_frame_hdr) from the target's memory with process_vm_readv, found
 * per object through the symboliser.  Nothing is read with ptrace and no
 * file is opened by libunwind. */
#ifndef GS_UNWIND_H
#define GS_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stack/capture.h"
#include "stack/symbols.h"

struct gs_unwinder;

/* For process pid; sym (which must outlive it) finds the objects.
 * Returns 0, or -1 (out of memory, libunwind unusable). */
int gs_unwinder_open(pid_t pid, struct gs_symbols *sym, struct gs_unwinder **out);
void gs_unwinder_close(struct gs_unwinder *u);

struct gs_uframe {
	uint64_t pc;
	uint64_t sp;
	int exact;    /* pc is the instruction, not a return address */
	int signal;   /* a signal trampoline: the frame after it was interrupted */
};

#define GS_UNWIND_TRUNCATED 1u /* more frames than the array holds */
#define GS_UNWIND_STOPPED   2u /* ended before the outermost frame: see why */
#define GS_UNWIND_LIVE      4u /* the stack ran past the copy: the outer
				* frames were read after the thread ran on */

struct gs_unwind {
	size_t n;
	unsigned flags;
	char why[96];
};

/* The frames of the captured thread, innermost first, into out[0..cap).
 * Always returns what it could unwind (at least the innermost frame). */
void gs_unwind_capture(struct gs_unwinder *u, const struct gs_capture *c,
		       struct gs_uframe *out, size_t cap, struct gs_unwind *res);

#endif
