/* The resolved layout: every offset gilsnoop needs inside one CPython
 * build.  All version differences are folded into this struct by the
 * layout sources (DWARF, _Py_DebugOffsets, generated tables); nothing
 * downstream asks which Python version it is looking at.
 *
 * An offset of GS_NOFF means "this build has no such field". */
#ifndef GS_LAYOUT_H
#define GS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "proc/mem.h"

#define GS_NOFF (-1)

enum gs_layout_source {
	GS_SRC_NONE = 0,
	GS_SRC_DWARF,        /* DWARF in the object itself */
	GS_SRC_DWARF_SPLIT,  /* DWARF in a separate debug file */
	GS_SRC_DWARF_CACHE,  /* DWARF result cached by build-id */
	GS_SRC_DEBUG_OFFSETS,/* _Py_DebugOffsets (3.13+), GIL struct from tables */
	GS_SRC_TABLE,        /* tables generated from DWARF builds */
};

const char *gs_layout_source_name(enum gs_layout_source s);

struct gs_field {
	int64_t off;  /* GS_NOFF when absent */
	int64_t size; /* bytes; 0 when absent */
};

struct gs_layout {
	/* Offsets inside _PyRuntime (3.7+). */
	struct gs_field rt_interpreters_head;
	struct gs_field rt_interpreters_main;
	struct gs_field rt_gil;            /* embedded GIL, 3.7-3.11 */

	/* Offsets inside PyInterpreterState. */
	struct gs_field interp_next;
	struct gs_field interp_threads_head;
	struct gs_field interp_id;
	struct gs_field interp_ceval_gil;  /* pointer to the GIL, 3.12+ */
	struct gs_field interp_gil;        /* embedded _gil, 3.12+ */

	/* Offsets inside PyThreadState. */
	struct gs_field ts_next;
	struct gs_field ts_interp;
	struct gs_field ts_thread_id;      /* pthread_t */
	struct gs_field ts_native_thread_id; /* kernel tid, 3.11+ */
	/* holds_gil: a plain int (3.14+) or a bit in a status word (3.13),
	 * in which case holds_gil_mask selects the bit. */
	struct gs_field ts_holds_gil;
	uint64_t holds_gil_mask;
	struct gs_field ts_state;          /* 3.13+: 1 = attached */
	struct gs_field ts_gil_requested;  /* 3.15+ */

	/* Offsets inside struct _gil_runtime_state. */
	struct gs_field gil_interval;
	struct gs_field gil_last_holder;
	struct gs_field gil_locked;
	struct gs_field gil_switch_number;
	struct gs_field gil_cond;
	struct gs_field gil_mutex;
	struct gs_field gil_switch_cond;
	struct gs_field gil_switch_mutex;
	int64_t gil_size;
};

/* Fill every field with GS_NOFF. */
void gs_layout_init(struct gs_layout *l);

/* Which fields must be present for a given minor version; returns NULL
 * when the layout is complete, else the name of the first missing field.
 * Used to reject an inconsistent DWARF result and fall back. */
const char *gs_layout_missing(const struct gs_layout *l, int major, int minor);

/* The members of struct gs_layout, listed once (src/layout_fields.c) for
 * the code that walks them by name: the build-id cache and the table
 * generator. */
enum gs_layout_field_kind {
	GS_LF_FIELD, /* a struct gs_field */
	GS_LF_I64,   /* a bare int64_t (gil_size) */
	GS_LF_U64,   /* a bare uint64_t (holds_gil_mask) */
};
/* Which CPython struct a field's offset is relative to. */
enum gs_layout_in {
	GS_IN_NONE = 0,
	GS_IN_RUNTIME,
	GS_IN_INTERP,
	GS_IN_TSTATE,
	GS_IN_GIL,
};
#define GS_LF_ANY_SCALAR (-1) /* want_size: a 1, 2, 4 or 8-byte integer */
struct gs_layout_field {
	const char *name;  /* the member name, e.g. "ts_holds_gil" */
	size_t offset;     /* offsetof(struct gs_layout, member) */
	enum gs_layout_field_kind kind;
	enum gs_layout_in in;
	int want_size;     /* exact size, GS_LF_ANY_SCALAR, or 0 for any */
};
extern const struct gs_layout_field gs_layout_fields[];
extern const size_t gs_layout_nfields;
const struct gs_layout_field *gs_layout_field_by_name(const char *name);
const struct gs_field *gs_layout_field_get(const struct gs_layout *l,
					   const struct gs_layout_field *f);

/* Version-independent sanity of a layout, whatever its source: offsets
 * in range, sizes the readers can load, no two fields of one struct
 * overlapping, GIL fields inside the GIL struct.  Returns 0, or -1 with
 * the reason in why.  gs_layout_missing() is the per-version check. */
int gs_layout_check(const struct gs_layout *l, char *why, size_t n);

enum gs_build {
	GS_BUILD_DEFAULT = 0,
	GS_BUILD_DEBUG,
	GS_BUILD_FREETHREADED,
};
const char *gs_build_name(enum gs_build b);

/* Absolute addresses of the GIL words.  On 3.6 the GIL is a set of
 * static variables, so the fields are not at fixed offsets from one
 * base; everything downstream uses these addresses only.  Ranges are
 * [start, end). */
struct gs_gil_addrs {
	uint64_t base;        /* struct address; 0 on 3.6 */
	uint64_t interval;
	uint64_t last_holder;
	uint64_t locked;
	uint64_t switch_number;
	uint64_t cond, cond_end;
	uint64_t mutex, mutex_end;
	uint64_t switch_cond, switch_cond_end;
	uint64_t switch_mutex, switch_mutex_end;
};

/* The GIL addresses of a struct at base under layout l. */
void gs_gil_addrs_from_base(const struct gs_layout *l, uint64_t base,
			    struct gs_gil_addrs *out);

/* What the layout sources need to know about one located object; the
 * runtime locator fills it in, so layout/ never sees a gs_target. */
struct gs_layout_query {
	const char *path;        /* as named in /proc/PID/maps, for messages */
	const char *open_path;   /* the same file opened through root */
	const char *root;        /* "/proc/PID/root", or "" for the host */
	const char *build_id;    /* hex, "" when absent */
	int major, minor;
	const char *version;     /* "3.11.7", for messages */
	enum gs_build build;
	const struct gs_mem *mem;/* the target's memory, for _Py_DebugOffsets */
	uint64_t runtime_addr;   /* &_PyRuntime; 0 on 3.6 */
};

/* The layout of q's object: DWARF (through the build-id cache), then
 * _Py_DebugOffsets, then the generated tables.  Fills *out, *source and
 * detail (e.g. the debug file used).  Returns 0, or an exit code
 * recorded with gs_fail(). */
int gs_layout_resolve(const struct gs_layout_query *q, struct gs_layout *out,
		      enum gs_layout_source *source, char *detail, size_t n);

#endif
