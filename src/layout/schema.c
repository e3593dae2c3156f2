/* The layout's schema: the one list of struct gs_layout's members, its
 * initial state, the per-version completeness check, the version-free
 * sanity check, and the arithmetic from a GIL struct's address to its
 * words.  The build-id cache and tools/gen-layout-tables both walk the
 * list, so a field added to the struct and to this list is cached and
 * tabulated with no other change; the static assertion below catches a
 * field added to the struct only. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "layout/layout.h"

#define FIELD(name, in, want) \
	{ #name, offsetof(struct gs_layout, name), GS_LF_FIELD, in, want },
#define SCALAR(name, kind) \
	{ #name, offsetof(struct gs_layout, name), kind, GS_IN_NONE, 0 },

/* want: the size the readers assume (they load pointers as 8 bytes, for
 * instance), GS_LF_ANY_SCALAR for a 1/2/4/8-byte integer they widen, or
 * 0 when any positive size will do (embedded structs, pthread objects). */
#define GS_LAYOUT_FIELD_LIST                                            \
	FIELD(rt_interpreters_head, GS_IN_RUNTIME, 8)                   \
	FIELD(rt_interpreters_main, GS_IN_RUNTIME, 8)                   \
	FIELD(rt_gil, GS_IN_RUNTIME, 0)                                 \
	FIELD(interp_next, GS_IN_INTERP, 8)                             \
	FIELD(interp_threads_head, GS_IN_INTERP, 8)                     \
	FIELD(interp_id, GS_IN_INTERP, GS_LF_ANY_SCALAR)                \
	FIELD(interp_ceval_gil, GS_IN_INTERP, 8)                        \
	FIELD(interp_gil, GS_IN_INTERP, 0)                              \
	FIELD(ts_next, GS_IN_TSTATE, 8)                                 \
	FIELD(ts_interp, GS_IN_TSTATE, 8)                               \
	FIELD(ts_thread_id, GS_IN_TSTATE, 8)                            \
	FIELD(ts_native_thread_id, GS_IN_TSTATE, GS_LF_ANY_SCALAR)      \
	FIELD(ts_holds_gil, GS_IN_TSTATE, GS_LF_ANY_SCALAR)             \
	SCALAR(holds_gil_mask, GS_LF_U64)                               \
	FIELD(ts_state, GS_IN_TSTATE, GS_LF_ANY_SCALAR)                 \
	FIELD(ts_gil_requested, GS_IN_TSTATE, GS_LF_ANY_SCALAR)         \
	FIELD(gil_interval, GS_IN_GIL, GS_LF_ANY_SCALAR)                \
	FIELD(gil_last_holder, GS_IN_GIL, 8)                            \
	FIELD(gil_locked, GS_IN_GIL, GS_LF_ANY_SCALAR)                  \
	FIELD(gil_switch_number, GS_IN_GIL, GS_LF_ANY_SCALAR)           \
	FIELD(gil_cond, GS_IN_GIL, 0)                                   \
	FIELD(gil_mutex, GS_IN_GIL, 0)                                  \
	FIELD(gil_switch_cond, GS_IN_GIL, 0)                            \
	FIELD(gil_switch_mutex, GS_IN_GIL, 0)                           \
	SCALAR(gil_size, GS_LF_I64)

const struct gs_layout_field gs_layout_fields[] = {
	GS_LAYOUT_FIELD_LIST
};
const size_t gs_layout_nfields =
	sizeof gs_layout_fields / sizeof gs_layout_fields[0];

#undef FIELD
#undef SCALAR
#define FIELD(name, in, want) + sizeof(((struct gs_layout *)0)->name)
#define SCALAR(name, kind) + sizeof(((struct gs_layout *)0)->name)
_Static_assert(0 GS_LAYOUT_FIELD_LIST == sizeof(struct gs_layout),
	       "a member of struct gs_layout is missing from "
	       "GS_LAYOUT_FIELD_LIST in src/layout_fields.c");
#undef FIELD
#undef SCALAR

const struct gs_layout_field *gs_layout_field_by_name(const char *name)
{
	for (size_t i = 0; i < gs_layout_nfields; i++)
		if (strcmp(gs_layout_fields[i].name, name) == 0)
			return &gs_layout_fields[i];
	return NULL;
}

const struct gs_field *gs_layout_field_get(const struct gs_layout *l,
					   const struct gs_layout_field *f)
{
	return (const struct gs_field *)((const char *)l + f->offset);
}

/* Larger offsets than this cannot come from a CPython struct (3.13's
 * _PyRuntimeState, the largest, is ~280 KiB); they mean a corrupt
 * cache or a misread DWARF attribute. */
#define GS_MAX_STRUCT (1 << 24)

static int size_ok(int64_t size, int want)
{
	if (want == GS_LF_ANY_SCALAR)
		return size == 1 || size == 2 || size == 4 || size == 8;
	if (want > 0)
		return size == want;
	return size > 0 && size < GS_MAX_STRUCT;
}

int gs_layout_check(const struct gs_layout *l, char *why, size_t n)
{
	const struct gs_layout_field *f, *g;
	const struct gs_field *a, *b;
	int any_gil = 0;

	for (size_t i = 0; i < gs_layout_nfields; i++) {
		f = &gs_layout_fields[i];
		if (f->kind != GS_LF_FIELD)
			continue;
		a = gs_layout_field_get(l, f);
		if (a->off == GS_NOFF)
			continue;
		if (a->off < 0 || a->off >= GS_MAX_STRUCT) {
			snprintf(why, n, "%s: offset %lld out of range", f->name,
				 (long long)a->off);
			return -1;
		}
		if (!size_ok(a->size, f->want_size)) {
			snprintf(why, n, "%s: unexpected size %lld", f->name,
				 (long long)a->size);
			return -1;
		}
		if (f->in == GS_IN_GIL)
			any_gil = 1;
		/* Two fields of one struct sharing bytes means one of them
		 * was read from the wrong member (or the file is corrupt). */
		for (size_t j = 0; j < i; j++) {
			g = &gs_layout_fields[j];
			if (g->kind != GS_LF_FIELD || g->in != f->in)
				continue;
			b = gs_layout_field_get(l, g);
			if (b->off == GS_NOFF)
				continue;
			if (a->off < b->off + b->size && b->off < a->off + a->size) {
				snprintf(why, n, "%s [%lld,+%lld) overlaps %s [%lld,+%lld)",
					 f->name, (long long)a->off,
					 (long long)a->size, g->name,
					 (long long)b->off, (long long)b->size);
				return -1;
			}
		}
	}

	if (any_gil) {
		if (l->gil_size <= 0 || l->gil_size >= GS_MAX_STRUCT) {
			snprintf(why, n, "gil_size %lld invalid with GIL fields present",
				 (long long)l->gil_size);
			return -1;
		}
		for (size_t i = 0; i < gs_layout_nfields; i++) {
			f = &gs_layout_fields[i];
			if (f->kind != GS_LF_FIELD || f->in != GS_IN_GIL)
				continue;
			a = gs_layout_field_get(l, f);
			if (a->off != GS_NOFF && a->off + a->size > l->gil_size) {
				snprintf(why, n, "%s ends past the GIL struct (%lld bytes)",
					 f->name, (long long)l->gil_size);
				return -1;
			}
		}
	}
	/* An embedded GIL must be the GIL struct the gil_* offsets are
	 * relative to. */
	if (l->rt_gil.off != GS_NOFF && l->rt_gil.size != l->gil_size) {
		snprintf(why, n, "rt_gil is %lld bytes, GIL struct %lld",
			 (long long)l->rt_gil.size, (long long)l->gil_size);
		return -1;
	}
	if (l->interp_gil.off != GS_NOFF && l->interp_gil.size != l->gil_size) {
		snprintf(why, n, "interp_gil is %lld bytes, GIL struct %lld",
			 (long long)l->interp_gil.size, (long long)l->gil_size);
		return -1;
	}
	if (l->ts_holds_gil.off != GS_NOFF) {
		uint64_t m = l->holds_gil_mask;
		if (m == 0 || (l->ts_holds_gil.size < 8 &&
			       m >> (8 * l->ts_holds_gil.size) != 0)) {
			snprintf(why, n, "holds_gil_mask %#llx does not fit %lld bytes",
				 (unsigned long long)m,
				 (long long)l->ts_holds_gil.size);
			return -1;
		}
	}
	return 0;
}

/* ---- names, init and the per-version check ------------------------- */

const char *gs_layout_source_name(enum gs_layout_source s)
{
	switch (s) {
	case GS_SRC_DWARF: return "dwarf";
	case GS_SRC_DWARF_SPLIT: return "dwarf-split";
	case GS_SRC_DWARF_CACHE: return "dwarf-cached";
	case GS_SRC_DEBUG_OFFSETS: return "debug-offsets";
	case GS_SRC_TABLE: return "table";
	case GS_SRC_NONE: break;
	}
	return "none";
}

void gs_layout_init(struct gs_layout *l)
{
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < gs_layout_nfields; i++) {
		const struct gs_layout_field *f = &gs_layout_fields[i];
		if (f->kind == GS_LF_FIELD)
			((struct gs_field *)((char *)l + f->offset))->off = GS_NOFF;
	}
	l->gil_size = GS_NOFF;
}

#define NEED(field) do { if (l->field.off < 0) return #field; } while (0)

const char *gs_layout_missing(const struct gs_layout *l, int major, int minor)
{
	(void)major;
	NEED(interp_threads_head);
	NEED(ts_next);
	NEED(ts_thread_id);
	if (minor >= 7) {
		NEED(rt_interpreters_head);
		NEED(interp_next);
		NEED(gil_last_holder);
		NEED(gil_locked);
		NEED(gil_switch_number);
		NEED(gil_cond);
		NEED(gil_mutex);
		NEED(gil_switch_cond);
		NEED(gil_switch_mutex);
		if (l->gil_size <= 0)
			return "gil_size";
	} else {
		NEED(interp_next);
	}
	if (minor >= 7 && minor <= 11)
		NEED(rt_gil);
	if (minor >= 12)
		NEED(interp_ceval_gil);
	if (minor >= 11)
		NEED(ts_native_thread_id);
	return NULL;
}
#undef NEED

/* ---- GIL addresses ------------------------------------------------- */

const char *gs_build_name(enum gs_build b)
{
	switch (b) {
	case GS_BUILD_DEFAULT: return "default";
	case GS_BUILD_DEBUG: return "debug";
	case GS_BUILD_FREETHREADED: return "free-threaded";
	}
	return "unknown";
}

static uint64_t field_at(uint64_t base, struct gs_field f)
{
	return f.off == GS_NOFF ? 0 : base + (uint64_t)f.off;
}

static uint64_t field_end(uint64_t addr, struct gs_field f)
{
	return addr && f.size > 0 ? addr + (uint64_t)f.size : addr;
}

void gs_gil_addrs_from_base(const struct gs_layout *l, uint64_t base,
			    struct gs_gil_addrs *out)
{
	memset(out, 0, sizeof *out);
	out->base = base;
	out->interval = field_at(base, l->gil_interval);
	out->last_holder = field_at(base, l->gil_last_holder);
	out->locked = field_at(base, l->gil_locked);
	out->switch_number = field_at(base, l->gil_switch_number);
	out->cond = field_at(base, l->gil_cond);
	out->cond_end = field_end(out->cond, l->gil_cond);
	out->mutex = field_at(base, l->gil_mutex);
	out->mutex_end = field_end(out->mutex, l->gil_mutex);
	out->switch_cond = field_at(base, l->gil_switch_cond);
	out->switch_cond_end = field_end(out->switch_cond, l->gil_switch_cond);
	out->switch_mutex = field_at(base, l->gil_switch_mutex);
	out->switch_mutex_end = field_end(out->switch_mutex, l->gil_switch_mutex);
}
