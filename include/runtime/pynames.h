/* Python thread names (threading.Thread.name: "MainThread", "cpu-1"),
 * read from each interpreter's threading module: sys.modules["threading"]
 * ._active maps Thread.ident (the pthread_t, which is also
 * tstate->thread_id) to the Thread, whose _name is the name.
 *
 * The kernel's comm is a different thing: 15 bytes, set by whoever
 * calls prctl (3.14's threading does, from the name; earlier versions do
 * not).  Callers show both when they differ.
 *
 * A read walks a few dicts: about 13 remote reads per thread (the
 * _active entry, the Thread's dict, its "_name" entry, the str) plus a
 * few per interpreter (the module lookups are cached and re-checked);
 * 145 reads and ~0.3 ms for 11 threads, measured: cheap enough to repeat
 * about once a second, not meant for every sample. */
#ifndef GS_PYNAMES_H
#define GS_PYNAMES_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/target.h"
#include "runtime/threads.h"

#define GS_PYNAME_MAX 64 /* bytes with the NUL; longer names end in "..." */

struct gs_pyname {
	uint64_t interp;     /* the interpreter whose threading named it */
	uint64_t ident;      /* Thread.ident == tstate->thread_id */
	char name[GS_PYNAME_MAX]; /* UTF-8, the target's text, unfiltered */
};

struct gs_pynames {
	struct gs_pyname *v;
	size_t n, cap;
	unsigned long reads;  /* process_vm_readv calls the last read made */
};

struct gs_pynames_reader;

/* A reader for target t (which must outlive it): 0, or an exit code
 * recorded with gs_fail() when the layout cannot read objects. */
int gs_pynames_open(const struct gs_target *t, struct gs_pynames_reader **out);
void gs_pynames_close(struct gs_pynames_reader *r);

/* The names of every Python thread of every interpreter in snap into
 * *out (replacing what it held).  An interpreter that has not imported
 * threading contributes nothing.  Returns 0, or -1 with errno when the
 * target could not be read at all (ESRCH: gone). */
int gs_pynames_read(struct gs_pynames_reader *r, const struct gs_snapshot *snap,
		    struct gs_pynames *out);
void gs_pynames_free(struct gs_pynames *n);

/* The name of the thread with that ident in that interpreter (or, with
 * interp 0, in any); NULL when unnamed. */
const char *gs_pynames_find(const struct gs_pynames *n, uint64_t interp,
			    uint64_t ident);

#endif
