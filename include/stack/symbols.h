/* Native addresses to names with libdwfl: the function and the offset
 * into it, the object, and where debug information exists the source
 * file and line and the functions inlined at that address.
 *
 * Objects are those mapped with execute permission in /proc/PID/maps,
 * opened through /proc/PID/root (a container's own files), or through
 * /proc/PID/map_files when deleted since; the vDSO is read from memory.
 * Debug files are looked for under the same root (proc/debugfile.h);
 * never on the network (no debuginfod), never loaded as code.
 *
 * Strings handed out belong to the symboliser and stay valid until
 * gs_symbols_close(). */
#ifndef GS_SYMBOLS_H
#define GS_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libelf.h>

#include "proc/maps.h"

struct gs_symbols;

/* For process pid; root is "/proc/PID/root" ("" for the host).  Returns
 * 0, or an exit code with the reason recorded by gs_fail() (the maps
 * could not be read). */
int gs_symbols_open(pid_t pid, const char *root, struct gs_symbols **out);
void gs_symbols_close(struct gs_symbols *s);

/* The maps the objects were taken from. */
const struct gs_maps *gs_symbols_maps(const struct gs_symbols *s);
/* Read the maps again (an address fell in no known object: a library
 * loaded since).  Objects already known keep their state.  0, or -1. */
int gs_symbols_refresh(struct gs_symbols *s);

/* The object mapped at pc: its address range, its ELF (NULL when it
 * could not be opened) and load bias.  0, or -1 when none is. */
int gs_symbols_object(struct gs_symbols *s, uint64_t pc, uint64_t *low,
		      uint64_t *high, Elf **elf, uint64_t *bias);

struct gs_sym {
	const char *function; /* symbol, else DWARF name; NULL: unknown */
	uint64_t offset;      /* pc - start of the symbol (function set) */
	const char *object;   /* the object as the target names it; NULL */
	uint64_t objoff;      /* pc - load bias: the address in the file */
	const char *file;     /* source file; NULL without debug info */
	int line;             /* 0 without */
	int inlined;          /* inlined into the entry after it */
};

/* Describe pc into out[0..cap): inlined functions first, innermost
 * first, the function they were inlined into last; returns how many
 * (at least 1 when cap >= 1).  exact: pc is the instruction itself (the
 * innermost frame, or a frame a signal interrupted); otherwise it is a
 * return address and the call before it is looked up.  inline_too = 0
 * skips the DWARF scope walk (cheaper; one entry). */
size_t gs_symbols_describe(struct gs_symbols *s, uint64_t pc, int exact,
			   int inline_too, struct gs_sym *out, size_t cap);

#endif
