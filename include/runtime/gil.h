/* Where the main interpreter's GIL is: the static variables of 3.6,
 * _PyRuntime.ceval.gil (3.7-3.11) or the main interpreter's ceval.gil
 * pointer (3.12+), checked by reading its `locked` word. */
#ifndef GS_GIL_H
#define GS_GIL_H

#include "proc/elfobj.h"
#include "runtime/target.h"

/* Set t->gil and t->interp_head_addr.  Returns 0 or an exit code. */
int gs_resolve_gil(struct gs_target *t, struct gs_elf *e);

#endif
