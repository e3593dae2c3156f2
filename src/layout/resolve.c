/* Choosing where the offsets come from.  DWARF describes the exact
 * build, so it wins; _Py_DebugOffsets is CPython's own promise for
 * out-of-process readers but does not cover the GIL struct's inner
 * fields; the generated tables are the last resort for stripped builds
 * older than 3.13. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"

/* What one source found: a layout, where from, and the detail line. */
struct found {
	struct gs_layout *out;
	enum gs_layout_source *source;
	char *detail;
	size_t n;
};

static int from_dwarf(const struct gs_layout_query *q, const struct found *f)
{
	const char *bid = q->build_id ? q->build_id : "";
	char detail[PATH_MAX + 64];
	struct gs_layout l;
	int split = 0;

	if (bid[0] && gs_layout_cache_load(bid, &l) == 0 &&
	    !gs_layout_missing(&l, q->major, q->minor)) {
		*f->out = l;
		*f->source = GS_SRC_DWARF_CACHE;
		gs_layout_cache_path(bid, f->detail, f->n);
		return 0;
	}
	gs_layout_init(&l);
	detail[0] = 0;
	if (gs_layout_from_dwarf(q->open_path, q->root, bid, q->major, q->minor,
				 &l, &split, detail, sizeof detail) != 0) {
		gs_debug("no usable DWARF for %s: %s", q->path, detail);
		return -1;
	}
	const char *miss = gs_layout_missing(&l, q->major, q->minor);
	if (miss) {
		gs_debug("DWARF in %s is inconsistent (no %s); falling back to "
			 "the next layout source", detail, miss);
		return -1;
	}
	*f->out = l;
	*f->source = split ? GS_SRC_DWARF_SPLIT : GS_SRC_DWARF;
	snprintf(f->detail, f->n, "%s", detail);
	if (bid[0] && gs_layout_cache_store(bid, &l) != 0)
		gs_debug("could not cache the layout for build-id %s", bid);
	return 0;
}

static int from_debug_offsets(const struct gs_layout_query *q, const struct found *f)
{
	char detail[256], seed[256];
	struct gs_layout l;
	int free_threaded = q->build == GS_BUILD_FREETHREADED;

	/* _Py_DebugOffsets stops at the GIL's locked and holder words; the
	 * rest of the struct (switch_number, cond, mutex) comes from the
	 * newest generated table, which the reader cross-checks against
	 * the two words it does carry. */
	gs_layout_init(&l);
	if (gs_layout_from_table(q->major, q->minor, free_threaded, 1, &l,
				 seed, sizeof seed) < 0) {
		gs_debug("no table to seed the GIL struct layout: %s", seed);
		return -1;
	}
	detail[0] = 0;
	if (!q->mem || gs_layout_from_debug_offsets(q->mem, q->runtime_addr, q->major,
						    q->minor, &l, detail,
						    sizeof detail) != 0) {
		gs_debug("_Py_DebugOffsets unusable: %s", detail);
		return -1;
	}
	const char *miss = gs_layout_missing(&l, q->major, q->minor);
	if (miss) {
		gs_debug("_Py_DebugOffsets lacks %s; falling back", miss);
		return -1;
	}
	*f->out = l;
	*f->source = GS_SRC_DEBUG_OFFSETS;
	snprintf(f->detail, f->n, "_Py_DebugOffsets; GIL struct from %s", seed);
	return 0;
}

static int from_table(const struct gs_layout_query *q, const struct found *f)
{
	char detail[256];
	struct gs_layout l;

	gs_layout_init(&l);
	if (gs_layout_from_table(q->major, q->minor, q->build == GS_BUILD_FREETHREADED,
				 0, &l, detail, sizeof detail) != 0)
		return -1;
	const char *miss = gs_layout_missing(&l, q->major, q->minor);
	if (miss) {
		gs_debug("generated table for %d.%d lacks %s", q->major, q->minor, miss);
		return -1;
	}
	*f->out = l;
	*f->source = GS_SRC_TABLE;
	snprintf(f->detail, f->n, "%s", detail);
	return 0;
}

int gs_layout_resolve(const struct gs_layout_query *q, struct gs_layout *out,
		      enum gs_layout_source *source, char *detail, size_t n)
{
	const struct found f = { out, source, detail, n };
	if (from_dwarf(q, &f) == 0)
		return 0;
	if (q->minor >= 13 && from_debug_offsets(q, &f) == 0)
		return 0;
	if (from_table(q, &f) == 0)
		return 0;
	if (q->minor == 6)
		return gs_fail(GS_EUNSUPPORTED,
			       "Python %s in %s has no usable debug info and 3.6 "
			       "has no _Py_DebugOffsets; install its debug symbols",
			       q->version, q->path);
	return gs_fail(GS_EUNSUPPORTED,
		       "no field layout for Python %s (%s build) in %s: no DWARF, "
		       "no usable _Py_DebugOffsets and no generated table; "
		       "install its debug symbols or run with -v for details",
		       q->version, gs_build_name(q->build), q->path);
}
