/* Choosing where the offsets come from.  DWARF describes the exact
 * build, so it wins; _Py_DebugOffsets is CPython's own promise for
 * out-of-process readers but does not cover the GIL struct's inner
 * fields; the generated tables are the last resort for stripped builds
 * older than 3.13. */
#include <stdio.h>
#include <string.h>

#include "gilsnoop.h"
#include "layout.h"
#include "layout_sources.h"
#include "target.h"

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

static int from_dwarf(struct gs_target *t)
{
	const char *bid = t->obj.build_id;
	char detail[sizeof t->source_detail];
	struct gs_layout l;
	int split = 0;

	if (bid[0] && gs_layout_cache_load(bid, &l) == 0 &&
	    !gs_layout_missing(&l, t->ver.major, t->ver.minor)) {
		t->layout = l;
		t->source = GS_SRC_DWARF_CACHE;
		gs_layout_cache_path(bid, t->source_detail, sizeof t->source_detail);
		return 0;
	}
	gs_layout_init(&l);
	detail[0] = 0;
	if (gs_layout_from_dwarf(t->obj.open_path, t->root, bid, t->ver.major,
				 t->ver.minor, &l, &split, detail,
				 sizeof detail) != 0) {
		gs_debug("no usable DWARF for %s: %s", t->obj.path, detail);
		return -1;
	}
	const char *miss = gs_layout_missing(&l, t->ver.major, t->ver.minor);
	if (miss) {
		gs_debug("DWARF in %s is inconsistent (no %s); falling back to "
			 "the next layout source", detail, miss);
		return -1;
	}
	t->layout = l;
	t->source = split ? GS_SRC_DWARF_SPLIT : GS_SRC_DWARF;
	snprintf(t->source_detail, sizeof t->source_detail, "%s", detail);
	if (bid[0] && gs_layout_cache_store(bid, &l) != 0)
		gs_debug("could not cache the layout for build-id %s", bid);
	return 0;
}

static int from_debug_offsets(struct gs_target *t)
{
	char detail[256], seed[256];
	struct gs_layout l;
	int free_threaded = t->build == GS_BUILD_FREETHREADED;

	/* _Py_DebugOffsets stops at the GIL's locked and holder words; the
	 * rest of the struct (switch_number, cond, mutex) comes from the
	 * newest generated table, which the reader cross-checks against
	 * the two words it does carry. */
	gs_layout_init(&l);
	if (gs_layout_from_table(t->ver.major, t->ver.minor, free_threaded, 1, &l,
				 seed, sizeof seed) < 0) {
		gs_debug("no table to seed the GIL struct layout: %s", seed);
		return -1;
	}
	detail[0] = 0;
	if (gs_layout_from_debug_offsets(&t->mem, t->runtime_addr, t->ver.major,
					 t->ver.minor, &l, detail,
					 sizeof detail) != 0) {
		gs_debug("_Py_DebugOffsets unusable: %s", detail);
		return -1;
	}
	const char *miss = gs_layout_missing(&l, t->ver.major, t->ver.minor);
	if (miss) {
		gs_debug("_Py_DebugOffsets lacks %s; falling back", miss);
		return -1;
	}
	t->layout = l;
	t->source = GS_SRC_DEBUG_OFFSETS;
	snprintf(t->source_detail, sizeof t->source_detail,
		 "_Py_DebugOffsets; GIL struct from %s", seed);
	return 0;
}

static int from_table(struct gs_target *t)
{
	char detail[256];
	struct gs_layout l;

	gs_layout_init(&l);
	if (gs_layout_from_table(t->ver.major, t->ver.minor,
				 t->build == GS_BUILD_FREETHREADED, 0, &l, detail,
				 sizeof detail) != 0)
		return -1;
	const char *miss = gs_layout_missing(&l, t->ver.major, t->ver.minor);
	if (miss) {
		gs_debug("generated table for %d.%d lacks %s", t->ver.major,
			 t->ver.minor, miss);
		return -1;
	}
	t->layout = l;
	t->source = GS_SRC_TABLE;
	snprintf(t->source_detail, sizeof t->source_detail, "%s", detail);
	return 0;
}

int gs_layout_resolve(struct gs_target *t)
{
	if (from_dwarf(t) == 0)
		return 0;
	if (t->ver.minor >= 13 && from_debug_offsets(t) == 0)
		return 0;
	if (from_table(t) == 0)
		return 0;
	if (t->ver.minor == 6)
		return gs_fail(GS_EUNSUPPORTED,
			       "Python %s in %s has no usable debug info and 3.6 "
			       "has no _Py_DebugOffsets; install its debug symbols",
			       t->ver.str, t->obj.path);
	return gs_fail(GS_EUNSUPPORTED,
		       "no field layout for Python %s (%s build) in %s: no DWARF, "
		       "no usable _Py_DebugOffsets and no generated table; "
		       "install its debug symbols or run with -v for details",
		       t->ver.str, gs_build_name(t->build), t->obj.path);
}
