/* Interleaving Python frames with the native stack (see merge.h). */
#include <string.h>

#include "stack/merge.h"

void gs_merge_plan(const unsigned char *is_eval, size_t nn,
		   const unsigned char *is_entry, size_t np,
		   size_t *first, size_t *count, struct gs_merge *out)
{
	size_t j = 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < nn; i++) {
		first[i] = count[i] = 0;
		out->eval_frames += is_eval[i] != 0;
	}
	for (size_t k = 0; k < np; k++)
		out->entries += is_entry[k] != 0;
	if (out->eval_frames != out->entries ||
	    (np && !is_entry[np - 1]))
		return;
	for (size_t i = 0; i < nn; i++) {
		if (!is_eval[i])
			continue;
		first[i] = j;
		while (j < np && !is_entry[j])
			j++;
		/* j is this group's entry frame: it belongs to the group. */
		count[i] = j + 1 - first[i];
		j++;
	}
	out->ok = 1;
}

int gs_merge_eval_by_anchor(const uint64_t *sp, const unsigned char *inlined,
			    size_t nn, uint64_t end, const uint64_t *anchor,
			    size_t na, unsigned char *is_eval)
{
	if (!na)
		return 0;
	/* Check first, then mark, so that a failure leaves is_eval as it
	 * was. */
	for (int mark = 0; mark < 2; mark++) {
		size_t k = 0;
		for (size_t i = 0; i < nn && k < na; i++) {
			/* A frame's locals lie between its stack pointer and
			 * its caller's; an inlined call is no frame. */
			uint64_t hi = i + 1 < nn ? sp[i + 1] : end;
			if (hi < sp[i])
				return 0; /* frames go up the stack, or it is torn */
			if (inlined[i] || anchor[k] >= hi)
				continue;
			if (anchor[k] < sp[i])
				return 0; /* in no frame */
			if (mark)
				is_eval[i] = 1;
			/* Two loops in one frame cannot be. */
			if (++k < na && anchor[k] < hi)
				return 0;
		}
		if (k != na)
			return 0;
	}
	return 1;
}
