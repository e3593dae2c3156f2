/* Where a thread's Python frames go in its native stack (pystack's
 * rule): both stacks innermost first; each eval-loop frame of the
 * native stack owns the Python frames from the one after the previous
 * owner's last, down to and including the next entry frame (the frame
 * C code entered the eval loop with).  Up to 3.10 every Python frame is
 * an entry frame; from 3.11 one eval loop runs several.  The stacks are
 * merged only when every eval frame gets a group and every Python frame
 * a owner: the counts match and the outermost Python frame is an entry
 * frame.  Otherwise the caller says so and shows them apart. */
#ifndef GS_MERGE_H
#define GS_MERGE_H

#include <stddef.h>
#include <stdint.h>

struct gs_merge {
	int ok;             /* the stacks can be interleaved */
	size_t eval_frames; /* eval-loop frames in the native stack */
	size_t entries;     /* entry frames in the Python stack */
};

/* is_eval[0..nn): native frame i is an eval-loop frame;
 * is_entry[0..np): Python frame j is an entry frame.  On ok, native
 * eval frame i owns Python frames first[i] .. first[i] + count[i] - 1
 * (count[i] is 0 for every other native frame); first and count have nn
 * entries each and are filled in any case (all counts 0 when not ok). */
void gs_merge_plan(const unsigned char *is_eval, size_t nn,
		   const unsigned char *is_entry, size_t np,
		   size_t *first, size_t *count, struct gs_merge *out);

/* Which native frames are eval loops, found without symbols: from 3.12
 * each eval loop keeps its entry frame (a shim owned by the C stack) in
 * its own C frame, so the address the outermost Python frame of each
 * loop links back to lies in that loop's native frame.  sp[i] is native
 * frame i's stack pointer (inlined[i]: a call inlined into the entry
 * after it, with the same stack pointer: no frame of its own), end the
 * end of the stack;
 * anchor[0..na) those addresses, innermost loop first.  On success
 * (every anchor in a distinct frame, in order) sets is_eval[i] for the
 * frames holding one and returns 1; otherwise returns 0 and leaves
 * is_eval alone. */
int gs_merge_eval_by_anchor(const uint64_t *sp, const unsigned char *inlined,
			    size_t nn, uint64_t end, const uint64_t *anchor,
			    size_t na, unsigned char *is_eval);

#endif
