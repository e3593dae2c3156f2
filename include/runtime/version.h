/* Which Python a runtime object is: Py_Version (3.11+), the
 * _Py_DebugOffsets header (3.13+), PY_VERSION among its strings, or its
 * name, in that order of trust. */
#ifndef GS_VERSION_H
#define GS_VERSION_H

#include "proc/elfobj.h"
#include "runtime/target.h"

/* What found the runtime in the object. */
enum gs_rt_kind { GS_RT_NONE, GS_RT_RUNTIME, GS_RT_TSTATE_CURRENT };

/* Set t->ver (and t->build for a free-threaded build that says so).
 * no_symbols: the runtime was found by its section only; *ft_hint: 1
 * when only the object's name says free-threaded, -1 when
 * _Py_DebugOffsets answered.  Returns 0 or an exit code. */
int gs_find_version(struct gs_target *t, struct gs_elf *e, enum gs_rt_kind kind,
		    int no_symbols, int *ft_hint);

#endif
