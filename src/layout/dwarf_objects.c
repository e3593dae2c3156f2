/* The stack reader's and thread-name reader's fields from DWARF: frames,
 * code objects, and the object types met on the way (type, str, bytes,
 * int, dict).
 *
 * Like the rest of the DWARF source this never asks which version it
 * reads: every member is looked up by the names it has had, and the
 * encodings that differ (line-table format, PyLong sign and size, where
 * an instance keeps its attributes) are named after the members and
 * types that exist.  Frame types are reached through the thread state's
 * own members, so the frame chain found is the one the build links.
 *
 * These fields are optional: a build whose DWARF lacks them, or has
 * them in a shape the readers do not know, still gets its GIL layout;
 * only stacks and names are then unavailable (gs_layout_missing_stacks). */
#include <stdio.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

#include "core/errors.h"
#include "layout/dwarf_walk.h"
#include "layout/layout.h"

/* The value of enumerator `name` in enumeration `e`; 0 found, -1 not. */
static int enumerator(Dwarf_Die *e, const char *name, int64_t *out)
{
	Dwarf_Die c;

	if (dwarf_child(e, &c) != 0)
		return -1;
	do {
		Dwarf_Attribute a;
		Dwarf_Sword sv;
		const char *n;

		if (dwarf_tag(&c) != DW_TAG_enumerator ||
		    !(n = dwarf_diename(&c)) || strcmp(n, name) != 0)
			continue;
		if (!dwarf_attr(&c, DW_AT_const_value, &a) ||
		    dwarf_formsdata(&a, &sv) != 0)
			return -1;
		*out = (int64_t)sv;
		return 0;
	} while (dwarf_siblingof(&c, &c) == 0);
	return -1;
}

/* Fetch the first of the names that exists; 0, 1 (none) or -1. */
static int fetch_any(struct gs_dw_fill *fl, Dwarf_Die *s, const char *sname,
		     const char *const *paths, struct gs_field *f,
		     struct gs_dw_member *m, int *which)
{
	for (int i = 0; paths[i]; i++) {
		int rc = gs_dw_fetch(fl, s, sname, paths[i], f, m);
		if (rc != 1) {
			if (which)
				*which = i;
			return rc;
		}
	}
	return 1;
}

/* The struct a pointer member points to; 0 or -1.  A unit may know the
 * pointee only by a declaration (pystate.c and struct _frame), so the
 * definition found elsewhere (types[idx]) stands in for it. */
static int member_pointee(struct gs_dw_fill *fl, struct gs_dw_types *ty,
			  Dwarf_Die *s, const char *sname, const char *path,
			  int idx, Dwarf_Die *out)
{
	struct gs_dw_member m;
	Dwarf_Die t;

	if (gs_dw_fetch(fl, s, sname, path, NULL, &m) != 0)
		return -1;
	if (gs_dw_pointee_struct(&m.type, out) == 0)
		return 0;
	t = m.type;
	if (idx < 0 || !ty->have[idx] || gs_dw_strip_type(&t) != 0 ||
	    dwarf_tag(&t) != DW_TAG_pointer_type)
		return -1;
	*out = ty->die[idx];
	return 0;
}

static int64_t size_of(Dwarf_Die *t)
{
	int64_t size;
	return gs_dw_type_size(t, &size) == 0 ? size : GS_NOFF;
}

/* A mask for a bit-field member, with its storage unit in *unit. */
static int bits(Dwarf_Die *s, const char *path, struct gs_dw_member *unit,
		uint64_t *mask)
{
	struct gs_dw_member m;
	if (gs_dw_find_path(s, path, &m) != 0 || m.bit_size <= 0 ||
	    m.bit_size >= 32 || m.bit_pos + m.bit_size > 8 * m.size)
		return -1;
	*mask = ((1ull << m.bit_size) - 1) << m.bit_pos;
	if (unit->size == 0)
		*unit = m;
	else if (unit->off != m.off || unit->size != m.size)
		return -1;
	return 0;
}

static void fill_frames(struct gs_dw_fill *fl, struct gs_dw_types *ty,
			struct gs_layout *l, Dwarf_Die *code, int *have_code)
{
	Dwarf_Die *ts = &ty->die[T_TS], frame, cframe, iframe;
	struct gs_dw_member m;
	int have_iframe = 0, which;

	/* 3.6-3.10: tstate->frame, a PyFrameObject with f_code and f_back
	 * (3.11 kept the name PyFrameObject for another struct). */
	if (member_pointee(fl, ty, ts, "PyThreadState", "frame", T_FRAME,
			   &frame) == 0 &&
	    gs_dw_find_path(&frame, "f_code", &m) == 0) {
		gs_dw_fetch(fl, ts, "PyThreadState", "frame", &l->ts_frame, NULL);
		gs_dw_fetch(fl, &frame, "PyFrameObject", "f_back", &l->frame_back, NULL);
		gs_dw_fetch(fl, &frame, "PyFrameObject", "f_lasti", &l->frame_lasti, NULL);
		gs_dw_fetch(fl, &frame, "PyFrameObject", "f_code", &l->frame_code, NULL);
		if (member_pointee(fl, ty, &frame, "PyFrameObject", "f_code",
				   T_CODE, code) == 0)
			*have_code = 1;
	}
	/* 3.11-3.12: tstate->cframe->current_frame (3.10's cframe has no
	 * current_frame). */
	if (member_pointee(fl, ty, ts, "PyThreadState", "cframe", T_CFRAME,
			   &cframe) == 0 &&
	    member_pointee(fl, ty, &cframe, "_PyCFrame", "current_frame",
			   T_IFRAME, &iframe) == 0) {
		gs_dw_fetch(fl, ts, "PyThreadState", "cframe", &l->ts_cframe, NULL);
		gs_dw_fetch(fl, &cframe, "_PyCFrame", "current_frame",
			    &l->cframe_current_frame, NULL);
		have_iframe = 1;
	}
	/* 3.13+: tstate->current_frame. */
	if (!have_iframe &&
	    member_pointee(fl, ty, ts, "PyThreadState", "current_frame", T_IFRAME,
			   &iframe) == 0) {
		gs_dw_fetch(fl, ts, "PyThreadState", "current_frame",
			    &l->ts_current_frame, NULL);
		have_iframe = 1;
	}
	if (!have_iframe)
		return;
	/* The data stack the frames are pushed on. */
	Dwarf_Die chunk;
	if (member_pointee(fl, ty, ts, "PyThreadState", "datastack_chunk", T_CHUNK,
			   &chunk) == 0) {
		gs_dw_fetch(fl, ts, "PyThreadState", "datastack_chunk",
			    &l->ts_datastack_chunk, NULL);
		gs_dw_fetch(fl, &chunk, "_PyStackChunk", "previous", &l->chunk_previous,
			    NULL);
		gs_dw_fetch(fl, &chunk, "_PyStackChunk", "size", &l->chunk_size, NULL);
	}

	static const char *const prev[] = { "previous", NULL };
	static const char *const codes[] = { "f_code", "f_executable", NULL };
	static const char *const instr[] = { "prev_instr", "instr_ptr", NULL };
	fetch_any(fl, &iframe, "_PyInterpreterFrame", prev, &l->iframe_previous,
		  NULL, NULL);
	if (fetch_any(fl, &iframe, "_PyInterpreterFrame", codes, &l->iframe_code,
		      &m, &which) == 0 && which == 0 &&
	    member_pointee(fl, ty, &iframe, "_PyInterpreterFrame", "f_code",
			   T_CODE, code) == 0)
		*have_code = 1;
	fetch_any(fl, &iframe, "_PyInterpreterFrame", instr, &l->iframe_instr,
		  NULL, NULL);
	gs_dw_fetch(fl, &iframe, "_PyInterpreterFrame", "owner", &l->iframe_owner,
		    NULL);
	gs_dw_fetch(fl, &iframe, "_PyInterpreterFrame", "is_entry",
		    &l->iframe_is_entry, NULL);
	l->iframe_size = size_of(&iframe);

	/* The frames that are not Python frames are the owners from CSTACK
	 * (3.12-3.13) or INTERPRETER (3.14+) up: the lowest of the two. */
	if (ty->have[T_OWNER]) {
		int64_t v, c = GS_NOFF;
		if (enumerator(&ty->die[T_OWNER], "FRAME_OWNED_BY_GENERATOR", &v) == 0)
			l->owner_generator = v;
		if (enumerator(&ty->die[T_OWNER], "FRAME_OWNED_BY_CSTACK", &v) == 0)
			c = v;
		if (enumerator(&ty->die[T_OWNER], "FRAME_OWNED_BY_INTERPRETER", &v) == 0 &&
		    (c == GS_NOFF || v < c))
			c = v;
		l->owner_first_c = c;
	}
}

static void fill_code(struct gs_dw_fill *fl, Dwarf_Die *code, struct gs_layout *l)
{
	static const char *const tables[] = { "co_lnotab", "co_linetable", NULL };
	int which;

	gs_dw_fetch(fl, code, "PyCodeObject", "co_filename", &l->code_filename, NULL);
	gs_dw_fetch(fl, code, "PyCodeObject", "co_name", &l->code_name, NULL);
	gs_dw_fetch(fl, code, "PyCodeObject", "co_qualname", &l->code_qualname, NULL);
	gs_dw_fetch(fl, code, "PyCodeObject", "co_firstlineno",
		    &l->code_firstlineno, NULL);
	gs_dw_fetch(fl, code, "PyCodeObject", "co_code_adaptive", &l->code_adaptive,
		    NULL);
	gs_dw_fetch(fl, code, "PyCodeObject", "_co_firsttraceable",
		    &l->code_firsttraceable, NULL);
	if (fetch_any(fl, code, "PyCodeObject", tables, &l->code_linetable, NULL,
		      &which) != 0)
		return;
	/* co_lnotab up to 3.9; 3.10's co_linetable is PEP 626's pairs; the
	 * location table came with the adaptive bytecode in 3.11. */
	l->linetable_kind = which == 0 ? GS_LT_LNOTAB :
			    l->code_adaptive.off != GS_NOFF ? GS_LT_LOCATIONS :
			    GS_LT_PEP626;
}

static void fill_strings(struct gs_dw_fill *fl, struct gs_dw_types *ty,
			 struct gs_layout *l)
{
	struct gs_dw_member unit = { 0 };
	Dwarf_Die *a = &ty->die[T_ASCII];

	if (ty->have[T_BYTES])
		gs_dw_fetch(fl, &ty->die[T_BYTES], "PyBytesObject", "ob_sval",
			    &l->bytes_sval, NULL);
	if (!ty->have[T_ASCII] || !ty->have[T_COMPACT])
		return;
	gs_dw_fetch(fl, a, "PyASCIIObject", "length", &l->uni_length, NULL);
	if (bits(a, "state.kind", &unit, &l->uni_kind_mask) != 0 ||
	    bits(a, "state.compact", &unit, &l->uni_compact_mask) != 0 ||
	    bits(a, "state.ascii", &unit, &l->uni_ascii_mask) != 0) {
		gs_dw_why_add(fl->why, "%s: PyASCIIObject.state is not the "
			      "kind/compact/ascii bit-fields", fl->file);
		fl->bad = 1;
		return;
	}
	l->uni_state.off = unit.off;
	l->uni_state.size = unit.size;
	l->uni_ascii_size = size_of(a);
	l->uni_compact_size = size_of(&ty->die[T_COMPACT]);
}

static void fill_types(struct gs_dw_fill *fl, struct gs_dw_types *ty,
		       struct gs_layout *l)
{
	static const char *const tag[] = { "long_value.lv_tag", "ob_base.ob_size",
					   NULL };
	static const char *const digit[] = { "long_value.ob_digit", "ob_digit",
					     NULL };
	int which;

	if (ty->have[T_VAROBJ]) {
		gs_dw_fetch(fl, &ty->die[T_VAROBJ], "PyVarObject", "ob_base.ob_type",
			    &l->ob_type, NULL);
		gs_dw_fetch(fl, &ty->die[T_VAROBJ], "PyVarObject", "ob_size",
			    &l->ob_size, NULL);
	}
	if (ty->have[T_TYPE]) {
		Dwarf_Die *t = &ty->die[T_TYPE];
		gs_dw_fetch(fl, t, "PyTypeObject", "tp_name", &l->type_name, NULL);
		gs_dw_fetch(fl, t, "PyTypeObject", "tp_basicsize", &l->type_basicsize,
			    NULL);
		gs_dw_fetch(fl, t, "PyTypeObject", "tp_dictoffset",
			    &l->type_dictoffset, NULL);
		gs_dw_fetch(fl, t, "PyTypeObject", "tp_flags", &l->type_flags, NULL);
		l->type_size = size_of(t);
	}
	if (ty->have[T_HEAPTYPE])
		gs_dw_fetch(fl, &ty->die[T_HEAPTYPE], "PyHeapTypeObject",
			    "ht_cached_keys", &l->ht_cached_keys, NULL);
	if (ty->have[T_LONG] &&
	    fetch_any(fl, &ty->die[T_LONG], "PyLongObject", tag, &l->long_size,
		      NULL, &which) == 0) {
		/* 3.12's lv_tag packs the digit count and the sign. */
		l->long_tagged = which == 0;
		fetch_any(fl, &ty->die[T_LONG], "PyLongObject", digit, &l->long_digit,
			  NULL, NULL);
	}
}

static void fill_dicts(struct gs_dw_fill *fl, struct gs_dw_types *ty,
		       struct gs_layout *l)
{
	static const char *const modules[] = { "imports.modules", "modules", NULL };
	struct gs_dw_member m;

	fetch_any(fl, &ty->die[T_IS], "PyInterpreterState", modules,
		  &l->interp_modules, NULL, NULL);
	if (ty->have[T_DICT]) {
		gs_dw_fetch(fl, &ty->die[T_DICT], "PyDictObject", "ma_keys",
			    &l->dict_keys, NULL);
		gs_dw_fetch(fl, &ty->die[T_DICT], "PyDictObject", "ma_values",
			    &l->dict_values, NULL);
	}
	if (ty->have[T_DICTKEYS]) {
		Dwarf_Die *k = &ty->die[T_DICTKEYS];
		gs_dw_fetch(fl, k, "PyDictKeysObject", "dk_size", &l->dk_size, NULL);
		gs_dw_fetch(fl, k, "PyDictKeysObject", "dk_log2_size",
			    &l->dk_log2_size, NULL);
		gs_dw_fetch(fl, k, "PyDictKeysObject", "dk_log2_index_bytes",
			    &l->dk_log2_index_bytes, NULL);
		gs_dw_fetch(fl, k, "PyDictKeysObject", "dk_kind", &l->dk_kind, NULL);
		gs_dw_fetch(fl, k, "PyDictKeysObject", "dk_nentries", &l->dk_nentries,
			    NULL);
		/* A flexible array (3.7+) has no size; only where it starts
		 * matters. */
		if (gs_dw_find_path(k, "dk_indices", &m) == 0) {
			l->dk_indices.off = m.off;
			l->dk_indices.size = 1;
		}
	}
	if (ty->have[T_DKENTRY]) {
		gs_dw_fetch(fl, &ty->die[T_DKENTRY], "PyDictKeyEntry", "me_key",
			    &l->dke_key, NULL);
		gs_dw_fetch(fl, &ty->die[T_DKENTRY], "PyDictKeyEntry", "me_value",
			    &l->dke_value, NULL);
		l->dke_size = size_of(&ty->die[T_DKENTRY]);
	}
	if (ty->have[T_DKUENTRY]) {
		gs_dw_fetch(fl, &ty->die[T_DKUENTRY], "PyDictUnicodeEntry", "me_key",
			    &l->dku_key, NULL);
		gs_dw_fetch(fl, &ty->die[T_DKUENTRY], "PyDictUnicodeEntry", "me_value",
			    &l->dku_value, NULL);
		l->dku_size = size_of(&ty->die[T_DKUENTRY]);
	}
	if (ty->have[T_DICTVALUES] &&
	    gs_dw_find_path(&ty->die[T_DICTVALUES], "values", &m) == 0) {
		l->dictvalues_values.off = m.off;
		l->dictvalues_values.size = 8;
	}

	/* Where instance attributes live, named after the types that
	 * appeared with each scheme: PyDictValues gained `embedded` with
	 * inline values (3.13), PyDictOrValues is 3.12's tagged slot, and
	 * dk_log2_size came with 3.11's managed dicts. */
	if (ty->have[T_DICTVALUES] &&
	    gs_dw_find_path(&ty->die[T_DICTVALUES], "embedded", &m) == 0)
		l->objdict_scheme = GS_OBJDICT_313;
	else if (ty->have[T_DORV])
		l->objdict_scheme = GS_OBJDICT_312;
	else if (l->dk_log2_size.off != GS_NOFF)
		l->objdict_scheme = GS_OBJDICT_311;
	else if (l->dk_size.off != GS_NOFF)
		l->objdict_scheme = GS_OBJDICT_OFFSET;
}

void gs_dw_fill_objects(struct gs_dw_types *ty, const char *file,
			struct gs_layout *l)
{
	char reasons[512] = "", why[160];
	struct gs_dw_why w = { reasons, sizeof reasons };
	struct gs_dw_fill fl = { &w, file, 0 };
	Dwarf_Die code;
	int have_code = 0;

	fill_frames(&fl, ty, l, &code, &have_code);
	if (!have_code && ty->have[T_CODE]) {
		code = ty->die[T_CODE];
		have_code = 1;
	}
	if (have_code)
		fill_code(&fl, &code, l);
	fill_strings(&fl, ty, l);
	fill_types(&fl, ty, l);
	fill_dicts(&fl, ty, l);

	if (!fl.bad && gs_layout_check(l, why, sizeof why) != 0) {
		gs_dw_why_add(&w, "%s: inconsistent object layout: %s", file, why);
		fl.bad = 1;
	}
	if (fl.bad) {
		gs_layout_clear_objects(l);
		gs_debug("no Python stacks from the DWARF in %s: %s", file, reasons);
	}
}
