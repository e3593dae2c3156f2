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
	/* _code_object_generation, 3.14+: code_dealloc() bumps it before
	 * it frees, so while it reads the same, no code object of this
	 * interpreter was freed and a cached one still describes its
	 * address (runtime/pystack.c). */
	struct gs_field interp_code_generation;

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

	/* ---- Python stacks (runtime/pystack.h) ----------------------------
	 * Absent fields mean "this build cannot be read that way"; the GIL
	 * readers above never need them (gs_layout_missing_stacks()). */

	/* Where a thread's innermost frame hangs.  3.6-3.10: tstate->frame,
	 * a PyFrameObject; 3.11-3.12: tstate->cframe->current_frame; 3.13+:
	 * tstate->current_frame, both _PyInterpreterFrame. */
	struct gs_field ts_frame;
	struct gs_field ts_cframe;
	struct gs_field cframe_current_frame;
	struct gs_field ts_current_frame;
	/* 3.11+: the data stack the frames live in (_PyStackChunk), so that
	 * one read can take a chunk's frames at once. */
	struct gs_field ts_datastack_chunk;
	struct gs_field chunk_previous;
	struct gs_field chunk_size;

	/* PyFrameObject, 3.6-3.10 (f_lasti: bytes up to 3.9, code units in
	 * 3.10, told apart by linetable_kind). */
	struct gs_field frame_back;
	struct gs_field frame_code;
	struct gs_field frame_lasti;

	/* _PyInterpreterFrame, 3.11+.  iframe_code is f_code (3.11-3.12) or
	 * f_executable (3.13+, a tagged _PyStackRef from 3.14); iframe_instr
	 * is prev_instr (3.11-3.12) or instr_ptr (3.13+): both name the
	 * instruction the frame is at. */
	struct gs_field iframe_previous;
	struct gs_field iframe_code;
	struct gs_field iframe_instr;
	struct gs_field iframe_owner;
	struct gs_field iframe_is_entry;   /* 3.11 only */
	int64_t iframe_size;
	/* enum _frameowner: FRAME_OWNED_BY_GENERATOR, and the lowest owner
	 * that is not a Python frame (CSTACK in 3.12-3.13, INTERPRETER in
	 * 3.14+); GS_NOFF when the build has none (3.11). */
	int64_t owner_generator;
	int64_t owner_first_c;

	/* PyCodeObject.  code_linetable is co_lnotab (<= 3.9) or
	 * co_linetable (3.10+), in the format linetable_kind names. */
	struct gs_field code_filename;
	struct gs_field code_name;
	struct gs_field code_qualname;     /* 3.11+ */
	struct gs_field code_firstlineno;
	struct gs_field code_linetable;
	struct gs_field code_adaptive;     /* co_code_adaptive, 3.11+ */
	struct gs_field code_firsttraceable; /* 3.11+ */
	int64_t linetable_kind;            /* enum gs_linetable_kind */

	/* Object headers and the few object types the readers decode. */
	struct gs_field ob_type;
	struct gs_field ob_size;           /* PyVarObject */
	struct gs_field type_name;         /* tp_name */
	struct gs_field type_basicsize;
	struct gs_field type_dictoffset;
	struct gs_field type_flags;
	struct gs_field ht_cached_keys;    /* PyHeapTypeObject, 3.11+ */
	int64_t type_size;                 /* sizeof(PyTypeObject) */
	struct gs_field bytes_sval;
	struct gs_field uni_length;
	struct gs_field uni_state;         /* the 4-byte word of bit-fields */
	uint64_t uni_kind_mask;
	uint64_t uni_compact_mask;
	uint64_t uni_ascii_mask;
	int64_t uni_ascii_size;            /* sizeof(PyASCIIObject) */
	int64_t uni_compact_size;          /* sizeof(PyCompactUnicodeObject) */
	/* PyLongObject: ob_size (digits, signed) up to 3.11, lv_tag
	 * (digits << 3 | sign) from 3.12, as long_tagged says. */
	struct gs_field long_size;
	struct gs_field long_digit;        /* size = one digit */
	int64_t long_tagged;

	/* Dictionaries: PyDictObject, PyDictKeysObject and its entries. */
	struct gs_field dict_keys;
	struct gs_field dict_values;
	struct gs_field dk_size;           /* 3.6-3.10 */
	struct gs_field dk_log2_size;      /* 3.11+ */
	struct gs_field dk_log2_index_bytes; /* 3.11+ */
	struct gs_field dk_kind;           /* 3.11+ */
	struct gs_field dk_nentries;
	struct gs_field dk_indices;
	struct gs_field dke_key;           /* PyDictKeyEntry */
	struct gs_field dke_value;
	int64_t dke_size;
	struct gs_field dku_key;           /* PyDictUnicodeEntry, 3.11+ */
	struct gs_field dku_value;
	int64_t dku_size;
	struct gs_field dictvalues_values; /* PyDictValues.values, 3.11+ */
	/* How an instance finds its attributes (enum gs_objdict_scheme). */
	int64_t objdict_scheme;
	struct gs_field interp_modules;    /* sys.modules */
};

/* Line-number table formats (the value of gs_layout.linetable_kind). */
enum gs_linetable_kind {
	GS_LT_NONE = 0,
	GS_LT_LNOTAB = 1,    /* co_lnotab, <= 3.9 */
	GS_LT_PEP626 = 2,    /* co_linetable, 3.10 */
	GS_LT_LOCATIONS = 3, /* co_linetable location table, 3.11+ */
};

/* Where an object's __dict__ lives when its type has no positive
 * tp_dictoffset (the value of gs_layout.objdict_scheme).  The slots
 * below the object and the type flags are CPython macros
 * (MANAGED_DICT_OFFSET, Py_TPFLAGS_MANAGED_DICT, ...), not struct
 * members, so a layout source names the scheme and gs_objdict_schemes
 * holds the numbers. */
enum gs_objdict_scheme {
	GS_OBJDICT_OFFSET = 0,  /* tp_dictoffset only (<= 3.10) */
	GS_OBJDICT_311 = 1,     /* dict at obj-24, values at obj-32 */
	GS_OBJDICT_312 = 2,     /* obj-24: dict, or values - 1 (odd) */
	GS_OBJDICT_313 = 3,     /* obj-24: dict; else inline values */
	GS_OBJDICT_N
};
struct gs_objdict_scheme_info {
	uint64_t managed_flag;  /* Py_TPFLAGS_MANAGED_DICT, 0 when none */
	uint64_t inline_flag;   /* Py_TPFLAGS_INLINE_VALUES, 0 when none */
	int64_t dict_slot;      /* bytes from the object; 0 when none */
	int64_t values_slot;    /* 3.11's separate values pointer; 0 */
	int values_tagged;      /* 3.12: an odd slot holds values - 1 */
};
extern const struct gs_objdict_scheme_info gs_objdict_schemes[GS_OBJDICT_N];

/* Fill every field with GS_NOFF. */
void gs_layout_init(struct gs_layout *l);
/* Reset the stack and object fields (ts_frame to the end) to GS_NOFF,
 * leaving the GIL and thread-list fields: what a layout source does when
 * the former are inconsistent, so that stacks are unavailable but the
 * rest still works. */
void gs_layout_clear_objects(struct gs_layout *l);

/* Which fields must be present for a given minor version; returns NULL
 * when the layout is complete, else the name of the first missing field.
 * Used to reject an inconsistent DWARF result and fall back. */
const char *gs_layout_missing(const struct gs_layout *l, int major, int minor);

/* What the Python stack reader needs: NULL when l can be used to read
 * stacks, else the name of the first missing field.  Version-free: the
 * fields present say which frame chain the build has. */
const char *gs_layout_missing_stacks(const struct gs_layout *l);
/* What the thread-name reader needs beyond that: NULL, or a field name. */
const char *gs_layout_missing_objects(const struct gs_layout *l);

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
	GS_IN_CFRAME,
	GS_IN_STACKCHUNK,
	GS_IN_FRAME,     /* PyFrameObject */
	GS_IN_IFRAME,    /* _PyInterpreterFrame */
	GS_IN_CODE,
	GS_IN_OBJECT,    /* PyObject / PyVarObject header */
	GS_IN_TYPE,      /* PyTypeObject / PyHeapTypeObject */
	GS_IN_BYTES,
	GS_IN_UNICODE,
	GS_IN_LONG,
	GS_IN_DICT,
	GS_IN_DICTKEYS,
	GS_IN_DKENTRY,
	GS_IN_DKUENTRY,
	GS_IN_DICTVALUES,
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
