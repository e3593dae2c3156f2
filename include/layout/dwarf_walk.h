/* Shared by the two halves of the DWARF layout source: dwarf.c finds the
 * files and the type definitions and fills the GIL and thread-list
 * fields; dwarf_objects.c fills the frame, code and object fields from
 * the same definitions.  Internal to src/layout/. */
#ifndef GS_LAYOUT_DWARF_WALK_H
#define GS_LAYOUT_DWARF_WALK_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

#include "layout/layout.h"

/* Reasons for failure accumulate across the candidate files, so that -v
 * says why each one was rejected. */
struct gs_dw_why {
	char *buf;
	size_t len;
};
void gs_dw_why_add(struct gs_dw_why *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The type definitions looked for.  The first three are needed for any
 * layout; the others only for stacks and thread names, so they are
 * looked for in the preferred units only (a missing one costs a full
 * scan of every unit otherwise). */
enum {
	T_RT, T_IS, T_TS,
	T_CODE, T_VAROBJ, T_TYPE, T_HEAPTYPE, T_BYTES, T_ASCII, T_COMPACT,
	T_LONG, T_DICT, T_DICTKEYS, T_DKENTRY, T_DKUENTRY, T_DICTVALUES,
	T_DORV, T_OWNER, T_FRAME, T_CFRAME, T_IFRAME, T_CHUNK,
	T_N
};
#define T_FIRST_OPTIONAL T_CODE

enum { GS_DW_UNWANTED = 0, GS_DW_REQUIRED = 1, GS_DW_OPTIONAL = 2 };

struct gs_dw_types {
	Dwarf_Die die[T_N];
	int have[T_N];
	int want[T_N];
};

struct gs_dw_member {
	int64_t off;      /* bytes from the start of the outermost struct */
	int64_t size;     /* of the member's type (the storage unit for bits) */
	int bit_size;     /* 0 unless a bitfield */
	int64_t bit_pos;  /* bitfields: LSB-first bit number from off */
	Dwarf_Die type;
};

struct gs_dw_fill {
	struct gs_dw_why *why;
	const char *file;
	int bad;
};

int gs_dw_strip_type(Dwarf_Die *t);
int gs_dw_is_complete(Dwarf_Die *t);
int gs_dw_type_size(Dwarf_Die *type, int64_t *size);
/* Look up a dotted member path ("interpreters.head") in struct s.
 * Returns 0 found, 1 absent, -1 malformed. */
int gs_dw_find_path(Dwarf_Die *s, const char *path, struct gs_dw_member *out);
/* Fetch path from struct s into f (may be NULL; m may be NULL).  Absent
 * members leave f untouched and return 1; a member that exists but
 * makes no sense marks the fill bad and returns -1. */
int gs_dw_fetch(struct gs_dw_fill *fl, Dwarf_Die *s, const char *sname,
		const char *path, struct gs_field *f, struct gs_dw_member *m);
int gs_dw_pointee_struct(Dwarf_Die *type, Dwarf_Die *out);
int gs_dw_embedded_struct(Dwarf_Die *type, Dwarf_Die *out);

/* dwarf_objects.c: the frame, code-object and object fields.  A failure
 * there leaves those fields absent (stacks unsupported) without
 * rejecting the layout; the reason goes to gs_debug. */
void gs_dw_fill_objects(struct gs_dw_types *ty, const char *file,
			struct gs_layout *l);

#endif
