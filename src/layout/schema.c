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
	FIELD(interp_code_generation, GS_IN_INTERP, 8)                  \
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
	SCALAR(gil_size, GS_LF_I64)                                     \
	FIELD(ts_frame, GS_IN_TSTATE, 8)                                \
	FIELD(ts_cframe, GS_IN_TSTATE, 8)                               \
	FIELD(cframe_current_frame, GS_IN_CFRAME, 8)                    \
	FIELD(ts_current_frame, GS_IN_TSTATE, 8)                        \
	FIELD(ts_datastack_chunk, GS_IN_TSTATE, 8)                      \
	FIELD(chunk_previous, GS_IN_STACKCHUNK, 8)                      \
	FIELD(chunk_size, GS_IN_STACKCHUNK, 8)                          \
	FIELD(frame_back, GS_IN_FRAME, 8)                               \
	FIELD(frame_code, GS_IN_FRAME, 8)                               \
	FIELD(frame_lasti, GS_IN_FRAME, 4)                              \
	FIELD(iframe_previous, GS_IN_IFRAME, 8)                         \
	FIELD(iframe_code, GS_IN_IFRAME, 8)                             \
	FIELD(iframe_instr, GS_IN_IFRAME, 8)                            \
	FIELD(iframe_owner, GS_IN_IFRAME, 1)                            \
	FIELD(iframe_is_entry, GS_IN_IFRAME, 1)                         \
	SCALAR(iframe_size, GS_LF_I64)                                  \
	SCALAR(owner_generator, GS_LF_I64)                              \
	SCALAR(owner_first_c, GS_LF_I64)                                \
	FIELD(code_filename, GS_IN_CODE, 8)                             \
	FIELD(code_name, GS_IN_CODE, 8)                                 \
	FIELD(code_qualname, GS_IN_CODE, 8)                             \
	FIELD(code_firstlineno, GS_IN_CODE, 4)                          \
	FIELD(code_linetable, GS_IN_CODE, 8)                            \
	FIELD(code_adaptive, GS_IN_CODE, 0)                             \
	FIELD(code_firsttraceable, GS_IN_CODE, 4)                       \
	SCALAR(linetable_kind, GS_LF_I64)                               \
	FIELD(ob_type, GS_IN_OBJECT, 8)                                 \
	FIELD(ob_size, GS_IN_OBJECT, 8)                                 \
	FIELD(type_name, GS_IN_TYPE, 8)                                 \
	FIELD(type_basicsize, GS_IN_TYPE, 8)                            \
	FIELD(type_dictoffset, GS_IN_TYPE, 8)                           \
	FIELD(type_flags, GS_IN_TYPE, 8)                                \
	FIELD(ht_cached_keys, GS_IN_TYPE, 8)                            \
	SCALAR(type_size, GS_LF_I64)                                    \
	FIELD(bytes_sval, GS_IN_BYTES, 0)                               \
	FIELD(uni_length, GS_IN_UNICODE, 8)                             \
	FIELD(uni_state, GS_IN_UNICODE, 4)                              \
	SCALAR(uni_kind_mask, GS_LF_U64)                                \
	SCALAR(uni_compact_mask, GS_LF_U64)                             \
	SCALAR(uni_ascii_mask, GS_LF_U64)                               \
	SCALAR(uni_ascii_size, GS_LF_I64)                               \
	SCALAR(uni_compact_size, GS_LF_I64)                             \
	FIELD(long_size, GS_IN_LONG, 8)                                 \
	FIELD(long_digit, GS_IN_LONG, GS_LF_ANY_SCALAR)                 \
	SCALAR(long_tagged, GS_LF_I64)                                  \
	FIELD(dict_keys, GS_IN_DICT, 8)                                 \
	FIELD(dict_values, GS_IN_DICT, 8)                               \
	FIELD(dk_size, GS_IN_DICTKEYS, 8)                               \
	FIELD(dk_log2_size, GS_IN_DICTKEYS, 1)                          \
	FIELD(dk_log2_index_bytes, GS_IN_DICTKEYS, 1)                   \
	FIELD(dk_kind, GS_IN_DICTKEYS, 1)                               \
	FIELD(dk_nentries, GS_IN_DICTKEYS, 8)                           \
	FIELD(dk_indices, GS_IN_DICTKEYS, 0)                            \
	FIELD(dke_key, GS_IN_DKENTRY, 8)                                \
	FIELD(dke_value, GS_IN_DKENTRY, 8)                              \
	SCALAR(dke_size, GS_LF_I64)                                     \
	FIELD(dku_key, GS_IN_DKUENTRY, 8)                               \
	FIELD(dku_value, GS_IN_DKUENTRY, 8)                             \
	SCALAR(dku_size, GS_LF_I64)                                     \
	FIELD(dictvalues_values, GS_IN_DICTVALUES, 8)                   \
	SCALAR(objdict_scheme, GS_LF_I64)                               \
	FIELD(interp_modules, GS_IN_INTERP, 8)

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
	       "GS_LAYOUT_FIELD_LIST in src/layout/schema.c");
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

/* A mask must select bits inside the word it is applied to. */
static int mask_fits(uint64_t m, struct gs_field f)
{
	return m != 0 && (f.size >= 8 || m >> (8 * f.size) == 0);
}

/* The scalars of the stack and object readers: encodings in range and
 * struct sizes that hold the members read from them. */
static int check_objects(const struct gs_layout *l, char *why, size_t n)
{
	static const struct {
		const char *name;
		size_t size_off;
		size_t field_off[2];
	} sized[] = {
		{ "iframe_size", offsetof(struct gs_layout, iframe_size),
		  { offsetof(struct gs_layout, iframe_previous),
		    offsetof(struct gs_layout, iframe_instr) } },
		{ "dke_size", offsetof(struct gs_layout, dke_size),
		  { offsetof(struct gs_layout, dke_key),
		    offsetof(struct gs_layout, dke_value) } },
		{ "dku_size", offsetof(struct gs_layout, dku_size),
		  { offsetof(struct gs_layout, dku_key),
		    offsetof(struct gs_layout, dku_value) } },
		{ "type_size", offsetof(struct gs_layout, type_size),
		  { offsetof(struct gs_layout, type_flags),
		    offsetof(struct gs_layout, type_dictoffset) } },
		{ "uni_ascii_size", offsetof(struct gs_layout, uni_ascii_size),
		  { offsetof(struct gs_layout, uni_length),
		    offsetof(struct gs_layout, uni_state) } },
	};

	for (size_t i = 0; i < sizeof sized / sizeof sized[0]; i++) {
		int64_t size = *(const int64_t *)(const void *)
				((const char *)l + sized[i].size_off);
		if (size == GS_NOFF)
			continue;
		if (size <= 0 || size >= GS_MAX_STRUCT) {
			snprintf(why, n, "%s %lld out of range", sized[i].name,
				 (long long)size);
			return -1;
		}
		for (int k = 0; k < 2; k++) {
			const struct gs_field *f = (const struct gs_field *)(const void *)
				((const char *)l + sized[i].field_off[k]);
			if (f->off != GS_NOFF && f->off + f->size > size) {
				snprintf(why, n, "a field ends past %s (%lld bytes)",
					 sized[i].name, (long long)size);
				return -1;
			}
		}
	}
	if (l->uni_compact_size != GS_NOFF &&
	    (l->uni_compact_size < l->uni_ascii_size ||
	     l->uni_compact_size >= GS_MAX_STRUCT)) {
		snprintf(why, n, "uni_compact_size %lld out of range",
			 (long long)l->uni_compact_size);
		return -1;
	}
	if (l->uni_state.off != GS_NOFF &&
	    (!mask_fits(l->uni_kind_mask, l->uni_state) ||
	     !mask_fits(l->uni_compact_mask, l->uni_state) ||
	     !mask_fits(l->uni_ascii_mask, l->uni_state) ||
	     (l->uni_kind_mask & (l->uni_compact_mask | l->uni_ascii_mask)) ||
	     (l->uni_compact_mask & l->uni_ascii_mask))) {
		snprintf(why, n, "unicode state masks %#llx/%#llx/%#llx do not fit",
			 (unsigned long long)l->uni_kind_mask,
			 (unsigned long long)l->uni_compact_mask,
			 (unsigned long long)l->uni_ascii_mask);
		return -1;
	}
	if (l->linetable_kind != GS_NOFF &&
	    (l->linetable_kind < GS_LT_NONE || l->linetable_kind > GS_LT_LOCATIONS)) {
		snprintf(why, n, "linetable_kind %lld unknown", (long long)l->linetable_kind);
		return -1;
	}
	if (l->objdict_scheme != GS_NOFF &&
	    (l->objdict_scheme < 0 || l->objdict_scheme >= GS_OBJDICT_N)) {
		snprintf(why, n, "objdict_scheme %lld unknown", (long long)l->objdict_scheme);
		return -1;
	}
	if (l->long_tagged != GS_NOFF && l->long_tagged != 0 && l->long_tagged != 1) {
		snprintf(why, n, "long_tagged %lld is not 0 or 1", (long long)l->long_tagged);
		return -1;
	}
	/* Owners are a char: a threshold outside it would skip nothing or
	 * every frame. */
	if ((l->owner_first_c != GS_NOFF &&
	     (l->owner_first_c <= 0 || l->owner_first_c > 127)) ||
	    (l->owner_generator != GS_NOFF &&
	     (l->owner_generator < 0 || l->owner_generator > 127 ||
	      (l->owner_first_c != GS_NOFF &&
	       l->owner_generator >= l->owner_first_c)))) {
		snprintf(why, n, "frame owners %lld/%lld out of range",
			 (long long)l->owner_generator, (long long)l->owner_first_c);
		return -1;
	}
	return 0;
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
	if (check_objects(l, why, n) != 0)
		return -1;
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
		else if (f->kind == GS_LF_I64)
			*(int64_t *)(void *)((char *)l + f->offset) = GS_NOFF;
	}
}

void gs_layout_clear_objects(struct gs_layout *l)
{
	struct gs_layout fresh;
	size_t from = offsetof(struct gs_layout, ts_frame);

	gs_layout_init(&fresh);
	memcpy((char *)l + from, (char *)&fresh + from, sizeof *l - from);
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

const char *gs_layout_missing_stacks(const struct gs_layout *l)
{
	NEED(code_filename);
	NEED(code_name);
	NEED(code_firstlineno);
	NEED(code_linetable);
	NEED(ob_type);
	NEED(ob_size);
	NEED(type_name);
	NEED(bytes_sval);
	NEED(uni_length);
	NEED(uni_state);
	if (l->uni_ascii_size <= 0)
		return "uni_ascii_size";
	if (l->uni_compact_size <= 0)
		return "uni_compact_size";
	if (l->linetable_kind <= GS_LT_NONE)
		return "linetable_kind";
	if (l->ts_frame.off != GS_NOFF) {
		/* A chain of PyFrameObjects. */
		NEED(frame_back);
		NEED(frame_code);
		NEED(frame_lasti);
		return NULL;
	}
	/* A chain of _PyInterpreterFrames, reached one way or the other. */
	if (l->ts_current_frame.off == GS_NOFF) {
		NEED(ts_cframe);
		NEED(cframe_current_frame);
	}
	NEED(iframe_previous);
	NEED(iframe_code);
	NEED(iframe_instr);
	NEED(iframe_owner);
	NEED(code_adaptive);
	if (l->iframe_size <= 0)
		return "iframe_size";
	/* Without a C-owned frame kind, 3.11's is_entry marks the entries. */
	if (l->owner_first_c == GS_NOFF)
		NEED(iframe_is_entry);
	return NULL;
}

const char *gs_layout_missing_objects(const struct gs_layout *l)
{
	const char *m = gs_layout_missing_stacks(l);
	if (m)
		return m;
	NEED(interp_modules);
	NEED(type_dictoffset);
	NEED(type_flags);
	NEED(type_basicsize);
	NEED(long_size);
	NEED(long_digit);
	NEED(dict_keys);
	NEED(dict_values);
	NEED(dk_nentries);
	NEED(dk_indices);
	NEED(dke_key);
	NEED(dke_value);
	if (l->dke_size <= 0)
		return "dke_size";
	if (l->long_tagged == GS_NOFF)
		return "long_tagged";
	if (l->objdict_scheme == GS_NOFF)
		return "objdict_scheme";
	if (l->dk_size.off == GS_NOFF) {
		NEED(dk_log2_size);
		NEED(dk_log2_index_bytes);
		NEED(dk_kind);
		NEED(dku_key);
		NEED(dku_value);
		if (l->dku_size <= 0)
			return "dku_size";
	}
	if (l->objdict_scheme != GS_OBJDICT_OFFSET)
		NEED(ht_cached_keys);
	return NULL;
}
#undef NEED

/* Pre-header slots and type flags of the managed-dict schemes, from
 * CPython's MANAGED_DICT_OFFSET, _PyObject_ValuesPointer,
 * _PyObject_DictOrValuesPointer, Py_TPFLAGS_MANAGED_DICT (1 << 4) and
 * Py_TPFLAGS_INLINE_VALUES (1 << 2) of 3.11, 3.12 and 3.13-3.15
 * (checked against each version's headers: docs/frame-facts-checked.md). */
const struct gs_objdict_scheme_info gs_objdict_schemes[GS_OBJDICT_N] = {
	[GS_OBJDICT_OFFSET] = { 0, 0, 0, 0, 0 },
	[GS_OBJDICT_311] = { 1u << 4, 0, -24, -32, 0 },
	[GS_OBJDICT_312] = { 1u << 4, 0, -24, 0, 1 },
	[GS_OBJDICT_313] = { 1u << 4, 1u << 2, -24, 0, 0 },
};

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
