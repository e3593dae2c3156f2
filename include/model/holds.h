/* What one hold of the GIL is, in intervals.  A thread that holds the
 * GIL shows as several intervals when it goes on and off CPU, or when an
 * off-CPU holder moves to another syscall (model/intervals.h splits
 * there).  Consecutive hold intervals of one thread that abut are one
 * hold; any other interval ends it.  The summary (record, report) and
 * top's windows both measure holds with this, so they agree. */
#ifndef GS_HOLDS_H
#define GS_HOLDS_H

#include <stdint.h>

#include "sample/classify.h"

struct gs_hold {
	int active;              /* a hold is known, start_ns..end_ns */
	uint64_t start_ns, end_ns;
};

/* holding or holding-offcpu */
int gs_role_holds(enum gs_role r);

/* Whether an interval of role r that starts at start_ns continues h. */
int gs_hold_continues(const struct gs_hold *h, enum gs_role r, uint64_t start_ns);

/* Account the next closed interval of the thread, [start_ns, end_ns) in
 * role r.  Returns 1 when the hold h had is over (it is copied to *ended
 * unless ended is NULL): iv neither continues it nor, being a hold too,
 * extends it.  After the call h is the hold iv is part of, if any. */
int gs_hold_add(struct gs_hold *h, enum gs_role r, uint64_t start_ns,
		uint64_t end_ns, struct gs_hold *ended);

#endif
