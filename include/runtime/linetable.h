/* Line numbers from a code object's line table, in each of the three
 * formats CPython has used (enum gs_linetable_kind in layout/layout.h).
 * Pure functions over a copy of the table: no target memory, no
 * allocation, any input bytes accepted (they come from the target). */
#ifndef GS_LINETABLE_H
#define GS_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

#include "layout/layout.h"

/* The line of the instruction at byte offset addr (PyCode_Addr2Line's
 * addrq) in a table of n bytes, for a code object starting at
 * firstlineno.  Returns the line, or -1 when the table gives that
 * instruction no line (or addr lies past the table).  A negative addr
 * (a frame that has not run yet) gives firstlineno, as CPython does. */
int gs_lnotab_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr);
int gs_pep626_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr);
int gs_locations_line(const uint8_t *t, size_t n, int firstlineno, int64_t addr);

/* Dispatch on kind (chosen once per target from the layout). */
int gs_linetable_line(enum gs_linetable_kind kind, const uint8_t *t, size_t n,
		      int firstlineno, int64_t addr);

#endif
