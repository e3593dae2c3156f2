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
