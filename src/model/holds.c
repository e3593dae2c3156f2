/* The merge rule of holds (model/holds.h). */
#include "model/holds.h"

int gs_role_holds(enum gs_role r)
{
	return r == GS_ROLE_HELD || r == GS_ROLE_HELD_OFFCPU;
}

int gs_hold_continues(const struct gs_hold *h, enum gs_role r, uint64_t start_ns)
{
	return h->active && gs_role_holds(r) && h->end_ns == start_ns;
}

int gs_hold_add(struct gs_hold *h, enum gs_role r, uint64_t start_ns,
		uint64_t end_ns, struct gs_hold *ended)
{
	int over = 0;
	if (gs_hold_continues(h, r, start_ns)) {
		h->end_ns = end_ns;
		return 0;
	}
	if (h->active) {
		over = 1;
		if (ended)
			*ended = *h;
	}
	h->active = gs_role_holds(r);
	h->start_ns = start_ns;
	h->end_ns = end_ns;
	return over;
}
