/* Offsets from DWARF, through libdw.
 *
 * Three type definitions are needed (_PyRuntimeState,
 * PyInterpreterState, PyThreadState); the GIL struct is reached through
 * their members.  Reading every DIE of libpython takes seconds, so the
 * compilation units that are sure to define those types (pystate.c and
 * friends) are searched first, looking only at their top-level DIEs; the
 * other units are searched only when those fail.  The object types the
 * stack reader needs (dwarf_objects.c) are optional and looked for in
 * the first pass only.
 *
 * The reader never branches on the Python version: each field is looked
 * up by the names it has had over time, and whatever is absent stays
 * GS_NOFF.  The version is used only to decide what must be present
 * (gs_layout_missing) and to skip looking for _PyRuntimeState on 3.6. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>

#include "proc/debugfile.h"
#include "proc/elfobj.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"
#include "layout/dwarf_walk.h"


void gs_dw_why_add(struct gs_dw_why *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void gs_dw_why_add(struct gs_dw_why *w, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!w->buf || w->len == 0)
		return;
	used = strlen(w->buf);
	if (used && used + 2 < w->len) {
		memcpy(w->buf + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= w->len)
		return;
	va_start(ap, fmt);
	vsnprintf(w->buf + used, w->len - used, fmt, ap);
	va_end(ap);
}

/* ---- type and member lookup ------------------------------------------ */

static int die_type(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	if (!dwarf_attr_integrate(die, DW_AT_type, &a))
		return -1;
	return dwarf_formref_die(&a, out) ? 0 : -1;
}

/* Follow typedefs and qualifiers to the type that has a layout.  A
 * declaration carrying DW_AT_signature (-fdebug-types-section) is
 * followed into its type unit. */
int gs_dw_strip_type(Dwarf_Die *t)
{
	for (int guard = 0; guard < 32; guard++) {
		Dwarf_Attribute a;
		switch (dwarf_tag(t)) {
		case DW_TAG_typedef:
		case DW_TAG_const_type:
		case DW_TAG_volatile_type:
		case DW_TAG_restrict_type:
		case DW_TAG_atomic_type:
			if (die_type(t, t) != 0)
				return -1;
			break;
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			if (dwarf_hasattr(t, DW_AT_declaration) &&
			    dwarf_attr(t, DW_AT_signature, &a) &&
			    dwarf_formref_die(&a, t))
				break;
			return 0;
		default:
			return 0;
		}
	}
	return -1;
}

int gs_dw_is_complete(Dwarf_Die *t)
{
	int tag = dwarf_tag(t);
	return (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) &&
	       !dwarf_hasattr(t, DW_AT_declaration) &&
	       dwarf_hasattr(t, DW_AT_byte_size);
}

int gs_dw_type_size(Dwarf_Die *type, int64_t *size)
{
	Dwarf_Die t = *type;
	Dwarf_Word w;

	if (dwarf_aggregate_size(&t, &w) == 0) {
		*size = (int64_t)w;
		return 0;
	}
	/* Some producers omit DW_AT_byte_size on pointers; x86_64 only. */
	if (gs_dw_strip_type(&t) == 0 && dwarf_tag(&t) == DW_TAG_pointer_type) {
		*size = 8;
		return 0;
	}
	return -1;
}

static int member_location(Dwarf_Die *m, int64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t nops;

	/* Union members, and bitfields described by DW_AT_data_bit_offset
	 * alone, have no location: they start at the aggregate. */
	if (!dwarf_attr_integrate(m, DW_AT_data_member_location, &a)) {
		*off = 0;
		return 0;
	}
	if (dwarf_formudata(&a, &w) == 0) {
		*off = (int64_t)w;
		return 0;
	}
	/* DWARF 2 producers wrote the offset as DW_OP_plus_uconst. */
	if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
	    ops[0].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[0].number;
		return 0;
	}
	return -1;
}


static int bitfield(Dwarf_Die *m, int64_t agg_off, int64_t loc,
		    struct gs_dw_member *out)
{
	Dwarf_Attribute a;
	Dwarf_Word bs, v;
	int64_t pos, unit = out->size, unit_off;

	if (!dwarf_attr_integrate(m, DW_AT_bit_size, &a) ||
	    dwarf_formudata(&a, &bs) != 0)
		return 1; /* not a bitfield */
	if (dwarf_attr_integrate(m, DW_AT_data_bit_offset, &a) &&
	    dwarf_formudata(&a, &v) == 0) {
		pos = (int64_t)v;
	} else if (dwarf_attr_integrate(m, DW_AT_bit_offset, &a) &&
		   dwarf_formudata(&a, &v) == 0) {
		/* DWARF 2/3 count from the most significant bit of a storage
		 * unit of DW_AT_byte_size bytes placed at the location. */
		Dwarf_Word ubytes = (Dwarf_Word)unit;
		if (dwarf_attr_integrate(m, DW_AT_byte_size, &a))
			dwarf_formudata(&a, &ubytes);
		pos = loc * 8 + (int64_t)ubytes * 8 - (int64_t)v - (int64_t)bs;
	} else {
		return -1;
	}
	if (unit <= 0 || unit > 8 || bs == 0 || pos < 0)
		return -1;
	/* The readers load the whole storage unit that holds the bits: for
	 * an `unsigned int x:1` that is the aligned 4-byte word. */
	unit_off = pos / (unit * 8) * unit;
	if (pos - unit_off * 8 + (int64_t)bs > unit * 8)
		return -1; /* straddles two units: packed struct, unsupported */
	out->off = agg_off + unit_off;
	out->bit_pos = pos - unit_off * 8;
	out->bit_size = (int)bs;
	return 0;
}

/* Find member `name` directly in aggregate agg, or inside one of its
 * anonymous struct/union members.  agg_off is agg's own offset from
 * the outermost struct.  Returns 0 found, 1 absent, -1 malformed. */
static int find_member(Dwarf_Die *agg, int64_t agg_off, const char *name,
		       size_t name_len, struct gs_dw_member *out, int depth)
{
	Dwarf_Die c;
	int rc;

	if (depth > 8 || dwarf_child(agg, &c) != 0)
		return 1;
	do {
		const char *n;
		int64_t loc;
		Dwarf_Die t;

		if (dwarf_tag(&c) != DW_TAG_member)
			continue;
		n = dwarf_diename(&c);
		if (n && (strlen(n) != name_len || memcmp(n, name, name_len)))
			continue;
		if (member_location(&c, &loc) != 0 || die_type(&c, &t) != 0)
			return -1;
		if (!n) {
			Dwarf_Die inner = t;
			if (gs_dw_strip_type(&inner) != 0 || !gs_dw_is_complete(&inner))
				continue;
			rc = find_member(&inner, agg_off + loc, name, name_len,
					 out, depth + 1);
			if (rc != 1)
				return rc;
			continue;
		}
		memset(out, 0, sizeof *out);
		out->type = t;
		out->off = agg_off + loc;
		if (gs_dw_type_size(&t, &out->size) != 0) {
			/* A flexible array member (char x[]) has no size;
			 * callers that need one reject the 0. */
			Dwarf_Die a = t;
			if (gs_dw_strip_type(&a) != 0 ||
			    dwarf_tag(&a) != DW_TAG_array_type)
				return -1;
			out->size = 0;
		}
		rc = bitfield(&c, agg_off, loc, out);
		return rc == 1 ? 0 : rc;
	} while (dwarf_siblingof(&c, &c) == 0);
	return 1;
}

/* Look up a dotted member path ("interpreters.head") in struct s. */
int gs_dw_find_path(Dwarf_Die *s, const char *path, struct gs_dw_member *out)
{
	Dwarf_Die agg = *s;
	int64_t base = 0;
	const char *p = path;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		int rc = find_member(&agg, base, p, len, out, 0);
		if (rc != 0)
			return rc;
		if (!dot)
			return 0;
		if (out->bit_size)
			return -1;
		agg = out->type;
		if (gs_dw_strip_type(&agg) != 0 || !gs_dw_is_complete(&agg))
			return 1;
		base = out->off;
		p = dot + 1;
	}
}

/* ---- finding the types ------------------------------------------------- */

/* Each type by its struct tag and by its typedef, whichever a unit has
 * (NULL: no such name).  T_OWNER is an enumeration (enum _frameowner). */
static const char *const type_struct_names[T_N] = {
	[T_RT] = "pyruntimestate", [T_IS] = "_is", [T_TS] = "_ts",
	[T_CODE] = "PyCodeObject", [T_TYPE] = "_typeobject",
	[T_HEAPTYPE] = "_heaptypeobject", [T_LONG] = "_longobject",
	[T_DICTKEYS] = "_dictkeysobject", [T_DICTVALUES] = "_dictvalues",
	[T_FRAME] = "_frame", [T_CFRAME] = "_PyCFrame",
	[T_IFRAME] = "_PyInterpreterFrame", [T_CHUNK] = "_stack_chunk",
};
static const char *const type_typedef_names[T_N] = {
	[T_RT] = "_PyRuntimeState", [T_IS] = "PyInterpreterState",
	[T_TS] = "PyThreadState", [T_CODE] = "PyCodeObject",
	[T_VAROBJ] = "PyVarObject", [T_TYPE] = "PyTypeObject",
	[T_HEAPTYPE] = "PyHeapTypeObject", [T_BYTES] = "PyBytesObject",
	[T_ASCII] = "PyASCIIObject", [T_COMPACT] = "PyCompactUnicodeObject",
	[T_LONG] = "PyLongObject", [T_DICT] = "PyDictObject",
	[T_DICTKEYS] = "PyDictKeysObject", [T_DKENTRY] = "PyDictKeyEntry",
	[T_DKUENTRY] = "PyDictUnicodeEntry", [T_DICTVALUES] = "PyDictValues",
	[T_DORV] = "PyDictOrValues", [T_FRAME] = "PyFrameObject",
	[T_CFRAME] = "_PyCFrame", [T_IFRAME] = "_PyInterpreterFrame",
	[T_CHUNK] = "_PyStackChunk",
};
static const char *const type_enum_names[T_N] = {
	[T_OWNER] = "_frameowner",
};

/* In the first pass (preferred units) every wanted type counts; in the
 * second (all units) only the required ones are worth the time. */
static int types_done(const struct gs_dw_types *ty, int pass)
{
	for (int i = 0; i < T_N; i++)
		if (ty->want[i] && !ty->have[i] &&
		    (pass == 0 || ty->want[i] == GS_DW_REQUIRED))
			return 0;
	return 1;
}

static void consider(struct gs_dw_types *ty, Dwarf_Die *d, const char *name,
		     const char *const names[T_N])
{
	for (int i = 0; i < T_N; i++) {
		Dwarf_Die t;
		if (ty->have[i] || !ty->want[i] || !names[i] ||
		    strcmp(name, names[i]) != 0)
			continue;
		t = *d;
		if (gs_dw_strip_type(&t) != 0)
			return;
		/* PyDictOrValues is a union; an enum has no members to
		 * check; every other type must be a complete struct. */
		if (gs_dw_is_complete(&t) ||
		    (dwarf_tag(&t) == DW_TAG_enumeration_type &&
		     !dwarf_hasattr(&t, DW_AT_declaration))) {
			ty->die[i] = t;
			ty->have[i] = 1;
		}
		return;
	}
}

/* Only the unit's top-level DIEs: C types at file scope live there, and
 * dwarf_siblingof skips each function's subtree through DW_AT_sibling. */
static void scan_unit(Dwarf_Die *unit, struct gs_dw_types *ty, int depth,
		      int pass)
{
	Dwarf_Die c;
	Dwarf_Attribute a;

	if (dwarf_child(unit, &c) != 0)
		return;
	do {
		const char *name;
		switch (dwarf_tag(&c)) {
		case DW_TAG_structure_type:
			if ((name = dwarf_diename(&c)))
				consider(ty, &c, name, type_struct_names);
			break;
		case DW_TAG_typedef:
			if ((name = dwarf_diename(&c)))
				consider(ty, &c, name, type_typedef_names);
			break;
		case DW_TAG_enumeration_type:
			if ((name = dwarf_diename(&c)))
				consider(ty, &c, name, type_enum_names);
			break;
		case DW_TAG_imported_unit: {
			/* dwz moves shared types into partial units. */
			Dwarf_Die u;
			if (depth < 4 && dwarf_attr(&c, DW_AT_import, &a) &&
			    dwarf_formref_die(&a, &u))
				scan_unit(&u, ty, depth + 1, pass);
			break;
		}
		default:
			break;
		}
	} while (!types_done(ty, pass) && dwarf_siblingof(&c, &c) == 0);
}

/* Units whose sources are sure to use the three state types completely,
 * and those that define the object types (dict-common.h, for one, is
 * included by dictobject.c only up to 3.10). */
static int preferred_unit(Dwarf_Die *cudie)
{
	static const char *const files[] = {
		"Python/pystate.c", "Python/ceval_gil.c", "Python/ceval.c",
		"Python/pylifecycle.c", "Objects/dictobject.c",
		"Objects/typeobject.c", "Objects/unicodeobject.c",
		"Objects/longobject.c", "Objects/codeobject.c",
		"Objects/bytesobject.c",
	};
	const char *name = dwarf_diename(cudie);
	size_t nl;

	if (!name)
		return 0;
	nl = strlen(name);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t fl = strlen(files[i]);
		if (nl >= fl && strcmp(name + nl - fl, files[i]) == 0)
			return 1;
	}
	return 0;
}

static void find_types(Dwarf *dbg, struct gs_dw_types *ty)
{
	for (int pass = 0; pass < 2 && !types_done(ty, pass); pass++) {
		Dwarf_CU *cu = NULL;
		Dwarf_Die cudie;
		uint8_t unit_type;

		while (!types_done(ty, pass) &&
		       dwarf_get_units(dbg, cu, &cu, NULL, &unit_type, &cudie,
				       NULL) == 0) {
			if (unit_type == DW_UT_type || unit_type == DW_UT_split_type)
				continue;
			if (preferred_unit(&cudie) == (pass == 0))
				scan_unit(&cudie, ty, 0, pass);
		}
	}
}

/* ---- filling the layout ----------------------------------------------- */


/* Fetch path from struct s into f.  Absent members leave f untouched;
 * a member that exists but makes no sense marks the result bad. */
int gs_dw_fetch(struct gs_dw_fill *fl, Dwarf_Die *s, const char *sname,
		 const char *path, struct gs_field *f, struct gs_dw_member *m)
{
	struct gs_dw_member tmp;
	int64_t ssize;
	int rc;

	if (!m)
		m = &tmp;
	rc = gs_dw_find_path(s, path, m);
	if (rc == 1)
		return 1;
	if (rc < 0 || gs_dw_type_size(s, &ssize) != 0) {
		gs_dw_why_add(fl->why, "%s: cannot decode %s.%s", fl->file, sname, path);
		fl->bad = 1;
		return -1;
	}
	if (m->off < 0 || m->size <= 0 || m->off + m->size > ssize) {
		gs_dw_why_add(fl->why, "%s: %s.%s at %lld+%lld lies outside the %lld-byte struct",
			fl->file, sname, path, (long long)m->off,
			(long long)m->size, (long long)ssize);
		fl->bad = 1;
		return -1;
	}
	if (f && m->bit_size) {
		/* Only holds_gil may be a bitfield (the caller builds its
		 * mask); a plain field read as a whole word would be wrong. */
		gs_dw_why_add(fl->why, "%s: %s.%s is a bitfield", fl->file, sname, path);
		fl->bad = 1;
		return -1;
	}
	if (f) {
		f->off = m->off;
		f->size = m->size;
	}
	return 0;
}

int gs_dw_pointee_struct(Dwarf_Die *type, Dwarf_Die *out)
{
	Dwarf_Die t = *type;
	if (gs_dw_strip_type(&t) != 0 || dwarf_tag(&t) != DW_TAG_pointer_type ||
	    die_type(&t, &t) != 0 || gs_dw_strip_type(&t) != 0 ||
	    !gs_dw_is_complete(&t))
		return -1;
	*out = t;
	return 0;
}

int gs_dw_embedded_struct(Dwarf_Die *type, Dwarf_Die *out)
{
	Dwarf_Die t = *type;
	if (gs_dw_strip_type(&t) != 0 || !gs_dw_is_complete(&t))
		return -1;
	*out = t;
	return 0;
}

static void fill_gil(struct gs_dw_fill *fl, Dwarf_Die *gil, struct gs_layout *l)
{
	static const struct {
		const char *name;
		size_t off;
	} gf[] = {
		{ "interval", offsetof(struct gs_layout, gil_interval) },
		{ "last_holder", offsetof(struct gs_layout, gil_last_holder) },
		{ "locked", offsetof(struct gs_layout, gil_locked) },
		{ "switch_number", offsetof(struct gs_layout, gil_switch_number) },
		{ "cond", offsetof(struct gs_layout, gil_cond) },
		{ "mutex", offsetof(struct gs_layout, gil_mutex) },
		{ "switch_cond", offsetof(struct gs_layout, gil_switch_cond) },
		{ "switch_mutex", offsetof(struct gs_layout, gil_switch_mutex) },
	};
	int64_t size;

	if (gs_dw_type_size(gil, &size) != 0) {
		gs_dw_why_add(fl->why, "%s: GIL struct has no size", fl->file);
		fl->bad = 1;
		return;
	}
	l->gil_size = size;
	for (size_t i = 0; i < sizeof gf / sizeof gf[0]; i++)
		gs_dw_fetch(fl, gil, "_gil_runtime_state", gf[i].name,
		      (struct gs_field *)((char *)l + gf[i].off), NULL);
}

static void fill_layout(struct gs_dw_fill *fl, struct gs_dw_types *ty,
			struct gs_layout *l)
{
	Dwarf_Die gil, other, *rt = &ty->die[T_RT], *is = &ty->die[T_IS],
			       *ts = &ty->die[T_TS];
	int have_gil = 0, rc;
	struct gs_dw_member m;

	if (ty->have[T_RT]) {
		gs_dw_fetch(fl, rt, "_PyRuntimeState", "interpreters.head",
		      &l->rt_interpreters_head, NULL);
		gs_dw_fetch(fl, rt, "_PyRuntimeState", "interpreters.main",
		      &l->rt_interpreters_main, NULL);
		/* 3.7-3.11: the GIL is embedded in the runtime. */
		if (gs_dw_fetch(fl, rt, "_PyRuntimeState", "ceval.gil", NULL, &m) == 0 &&
		    gs_dw_embedded_struct(&m.type, &gil) == 0) {
			l->rt_gil.off = m.off;
			l->rt_gil.size = m.size;
			have_gil = 1;
		}
	}

	gs_dw_fetch(fl, is, "PyInterpreterState", "next", &l->interp_next, NULL);
	if (gs_dw_fetch(fl, is, "PyInterpreterState", "threads.head",
		  &l->interp_threads_head, NULL) == 1)
		gs_dw_fetch(fl, is, "PyInterpreterState", "tstate_head",
		      &l->interp_threads_head, NULL);
	gs_dw_fetch(fl, is, "PyInterpreterState", "id", &l->interp_id, NULL);
	if (gs_dw_fetch(fl, is, "PyInterpreterState", "ceval.gil", NULL, &m) == 0) {
		if (gs_dw_pointee_struct(&m.type, &other) == 0) {
			/* 3.12+: a pointer, to &interp->_gil or a shared GIL. */
			l->interp_ceval_gil.off = m.off;
			l->interp_ceval_gil.size = m.size;
			if (!have_gil)
				gil = other;
			have_gil = 1;
		} else if (gs_dw_embedded_struct(&m.type, &other) == 0 &&
			   l->interp_gil.off == GS_NOFF) {
			/* 3.9-3.10 built with isolated subinterpreters keep
			 * the GIL embedded in interp->ceval instead. */
			l->interp_gil.off = m.off;
			l->interp_gil.size = m.size;
			if (!have_gil)
				gil = other;
			have_gil = 1;
		}
	}
	if (gs_dw_fetch(fl, is, "PyInterpreterState", "_gil", NULL, &m) == 0 &&
	    gs_dw_embedded_struct(&m.type, &other) == 0) {
		l->interp_gil.off = m.off;
		l->interp_gil.size = m.size;
		if (!have_gil)
			gil = other;
		have_gil = 1;
	}

	gs_dw_fetch(fl, is, "PyInterpreterState", "_code_object_generation",
		    &l->interp_code_generation, NULL);

	gs_dw_fetch(fl, ts, "PyThreadState", "next", &l->ts_next, NULL);
	gs_dw_fetch(fl, ts, "PyThreadState", "interp", &l->ts_interp, NULL);
	gs_dw_fetch(fl, ts, "PyThreadState", "thread_id", &l->ts_thread_id, NULL);
	gs_dw_fetch(fl, ts, "PyThreadState", "native_thread_id",
	      &l->ts_native_thread_id, NULL);
	gs_dw_fetch(fl, ts, "PyThreadState", "state", &l->ts_state, NULL);
	gs_dw_fetch(fl, ts, "PyThreadState", "gil_requested", &l->ts_gil_requested,
	      NULL);
	/* 3.14+: a plain int; 3.13: one bit of the _status word (3.12 has
	 * the word but not that bit). */
	rc = gs_dw_fetch(fl, ts, "PyThreadState", "holds_gil", NULL, &m);
	if (rc == 1)
		rc = gs_dw_fetch(fl, ts, "PyThreadState", "_status.holds_gil", NULL, &m);
	if (rc == 0) {
		l->ts_holds_gil.off = m.off;
		l->ts_holds_gil.size = m.size;
		if (m.bit_size)
			l->holds_gil_mask = ((m.bit_size >= 64 ? 0 : (1ULL << m.bit_size)) - 1)
					    << m.bit_pos;
		else
			l->holds_gil_mask = m.size >= 8 ? ~0ULL
							: (1ULL << (8 * m.size)) - 1;
	}

	if (have_gil)
		fill_gil(fl, &gil, l);
}

/* ---- candidate files --------------------------------------------------- */

/* Build a path; a truncated one could name some other file, so it
 * counts as no path at all. */
static int mkpath(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int mkpath(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= n) {
		buf[0] = 0;
		return -1;
	}
	return 0;
}

struct dwfile {
	int fd;
	Dwarf *dbg;
	int alt_fd;
	Dwarf *alt;
};

static void dwfile_close(struct dwfile *f)
{
	if (f->dbg)
		dwarf_end(f->dbg);
	if (f->alt)
		dwarf_end(f->alt);
	if (f->fd >= 0)
		close(f->fd);
	if (f->alt_fd >= 0)
		close(f->alt_fd);
	f->dbg = f->alt = NULL;
	f->fd = f->alt_fd = -1;
}

/* Returns 0, an errno value when the file cannot be opened, or -1 when
 * it holds no DWARF (libdw's reason in dwarf_errmsg(-1)). */
static int open_dwarf(const char *path, int *fd, Dwarf **dbg)
{
	*fd = gs_open_regular(path);
	if (*fd < 0)
		return errno ? errno : EIO;
	*dbg = dwarf_begin(*fd, DWARF_C_READ);
	if (!*dbg) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

/* dwz-compressed debug files (distribution -dbgsym packages) keep shared
 * DIEs in a separate file named by .gnu_debugaltlink.  libdw would look
 * for it on the host, so look under root first. */
static void attach_alt(struct dwfile *f, const char *root, const char *path)
{
	const char *name;
	const void *bid;
	ssize_t n = dwelf_dwarf_gnu_debugaltlink(f->dbg, &name, &bid);
	char cand[3][PATH_MAX], bidhex[2 * 64 + 1];
	size_t nc = 0;

	if (n <= 0 || n > 64)
		return;
	gs_hex(bid, (size_t)n, bidhex);
	if (n > 1 && mkpath(cand[nc], PATH_MAX,
			    "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root,
			    bidhex, bidhex + 2) == 0)
		nc++;
	if (name[0] == '/') {
		if (mkpath(cand[nc], PATH_MAX, "%s%s", root, name) == 0)
			nc++;
	} else {
		const char *slash = strrchr(path, '/');
		int dl = slash ? (int)(slash - path) : 1;
		if (mkpath(cand[nc], PATH_MAX, "%.*s/%s", dl, slash ? path : ".",
			   name) == 0)
			nc++;
	}
	for (size_t i = 0; i < nc; i++) {
		const void *abid;
		int afd;
		Dwarf *alt;
		if (!gs_is_regular(cand[i]) || open_dwarf(cand[i], &afd, &alt) != 0)
			continue;
		if (dwelf_elf_gnu_build_id(dwarf_getelf(alt), &abid) == n &&
		    memcmp(abid, bid, (size_t)n) == 0) {
			dwarf_setalt(f->dbg, alt);
			f->alt = alt;
			f->alt_fd = afd;
			return;
		}
		dwarf_end(alt);
		close(afd);
	}
}

struct req {
	const char *root;
	int major, minor;
	struct gs_dw_why why;
	struct gs_layout *out;
};

/* Returns 0 when path gave a valid layout, -1 otherwise (reason added). */
static int try_file(struct req *r, const char *path)
{
	struct dwfile f = { .fd = -1, .alt_fd = -1 };
	struct gs_dw_types ty;
	struct gs_layout l;
	struct gs_dw_fill fl = { .why = &r->why, .file = path };
	char why[256];
	const char *miss;
	int rc = -1;

	rc = open_dwarf(path, &f.fd, &f.dbg);
	if (rc != 0) {
		gs_dw_why_add(&r->why, "%s: %s", path,
			rc > 0 ? strerror(rc) : dwarf_errmsg(-1));
		return -1;
	}
	rc = -1;
	attach_alt(&f, r->root, path);

	memset(&ty, 0, sizeof ty);
	ty.want[T_IS] = ty.want[T_TS] = GS_DW_REQUIRED;
	/* 3.6 has no _PyRuntimeState; looking for it would scan every unit. */
	if (r->major > 3 || (r->major == 3 && r->minor >= 7))
		ty.want[T_RT] = GS_DW_REQUIRED;
	for (int i = T_FIRST_OPTIONAL; i < T_N; i++)
		ty.want[i] = GS_DW_OPTIONAL;
	find_types(f.dbg, &ty);
	for (int i = 0; i < T_N; i++) {
		if (ty.want[i] == GS_DW_REQUIRED && !ty.have[i]) {
			gs_dw_why_add(&r->why, "%s: DWARF has no definition of %s",
				path, type_typedef_names[i]);
			goto out;
		}
	}

	gs_layout_init(&l);
	fill_layout(&fl, &ty, &l);
	if (fl.bad)
		goto out;
	gs_dw_fill_objects(&ty, path, &l);
	if (gs_layout_check(&l, why, sizeof why) != 0) {
		gs_dw_why_add(&r->why, "%s: inconsistent layout: %s", path, why);
		goto out;
	}
	miss = gs_layout_missing(&l, r->major, r->minor);
	if (miss) {
		gs_dw_why_add(&r->why, "%s: no %s in DWARF, needed for %d.%d", path,
			miss, r->major, r->minor);
		goto out;
	}
	*r->out = l;
	rc = 0;
out:
	dwfile_close(&f);
	return rc;
}

/* The directory of the object as the target sees it, for the
 * ROOT/usr/lib/debug/DIR/ debuglink location. */
static void object_dir_in_root(const char *elf_path, const char *root,
			       char *buf, size_t n)
{
	const char *p = elf_path, *slash;
	size_t rl = strlen(root);

	if (rl && strncmp(p, root, rl) == 0 && p[rl] == '/')
		p += rl;
	slash = strrchr(p, '/');
	if (!slash)
		snprintf(buf, n, ".");
	else
		snprintf(buf, n, "%.*s", (int)(slash - p), p);
}

static int try_split(struct req *r, const char *elf_path,
		     const char *build_id, char *used, size_t used_len)
{
	struct gs_elf *e;
	char bid[2 * 64 + 1], link[NAME_MAX + 1], path[PATH_MAX],
		dir[PATH_MAX], indir[PATH_MAX];
	uint32_t want_crc, crc;
	int have_link;
	const char *slash;

	/* gs_elf_open() records its failure with gs_fail(); the caller
	 * reports our detail instead, so only open what exists. */
	if (!gs_is_regular(elf_path) || gs_elf_open(elf_path, &e) != 0) {
		gs_dw_why_add(&r->why, "cannot open %s", elf_path);
		return -1;
	}
	if ((!build_id || !build_id[0]) &&
	    gs_elf_build_id(e, bid, sizeof bid) == 0)
		build_id = bid;
	have_link = gs_elf_debuglink(e, link, sizeof link, &want_crc) == 0;
	gs_elf_close(e);

	if (build_id && strlen(build_id) > 2 &&
	    strspn(build_id, "0123456789abcdef") == strlen(build_id)) {
		if (mkpath(path, sizeof path,
			   "%s/usr/lib/debug/.build-id/%.2s/%s.debug", r->root,
			   build_id, build_id + 2) != 0 || !gs_is_regular(path)) {
			gs_dw_why_add(&r->why, "no %s", path);
		} else {
			/* The name promises the build-id; check it anyway, a
			 * stale debug package would give wrong offsets. */
			int ok = 0;
			if (gs_elf_open(path, &e) == 0) {
				ok = gs_elf_build_id(e, bid, sizeof bid) == 0 &&
				     strcmp(bid, build_id) == 0;
				gs_elf_close(e);
			}
			if (!ok)
				gs_dw_why_add(&r->why, "%s: build-id differs", path);
			else if (try_file(r, path) == 0) {
				snprintf(used, used_len, "%s", path);
				return 0;
			}
		}
	} else {
		gs_dw_why_add(&r->why, "%s has no build-id", elf_path);
	}

	if (!have_link) {
		gs_dw_why_add(&r->why, "%s has no .gnu_debuglink", elf_path);
		return -1;
	}
	if (strchr(link, '/')) {
		gs_dw_why_add(&r->why, "ignoring .gnu_debuglink with a '/': %s", link);
		return -1;
	}
	slash = strrchr(elf_path, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - elf_path) : 1,
		 slash ? elf_path : ".");
	object_dir_in_root(elf_path, r->root, indir, sizeof indir);
	for (int i = 0; i < 3; i++) {
		int bad;
		if (i == 0)
			bad = mkpath(path, sizeof path, "%s/%s", dir, link);
		else if (i == 1)
			bad = mkpath(path, sizeof path, "%s/.debug/%s", dir, link);
		else
			bad = mkpath(path, sizeof path, "%s/usr/lib/debug%s/%s",
				     r->root, indir, link);
		if (bad)
			continue;
		/* The link may name the object itself (objcopy
		 * --add-gnu-debuglink of a same-named file in place). */
		if (!gs_is_regular(path) || strcmp(path, elf_path) == 0)
			continue;
		if (gs_file_crc32(path, &crc) != 0 || crc != want_crc) {
			gs_dw_why_add(&r->why, "%s: CRC differs from .gnu_debuglink", path);
			continue;
		}
		if (try_file(r, path) == 0) {
			snprintf(used, used_len, "%s", path);
			return 0;
		}
	}
	gs_dw_why_add(&r->why, "debuglink %s not found", link);
	return -1;
}

int gs_layout_from_dwarf(const char *elf_path, const char *root,
			 const char *build_id, int major, int minor,
			 struct gs_layout *out, int *split, char *detail,
			 size_t detail_len)
{
	char reasons[1024] = "", used[PATH_MAX];
	struct req r = {
		.root = root ? root : "",
		.major = major,
		.minor = minor,
		.why = { reasons, sizeof reasons },
		.out = out,
	};

	if (split)
		*split = 0;
	if (try_file(&r, elf_path) == 0) {
		if (detail && detail_len)
			snprintf(detail, detail_len, "%s", elf_path);
		return 0;
	}
	if (try_split(&r, elf_path, build_id, used, sizeof used) == 0) {
		if (split)
			*split = 1;
		if (detail && detail_len)
			snprintf(detail, detail_len, "%s", used);
		return 0;
	}
	if (detail && detail_len)
		snprintf(detail, detail_len, "%s", reasons);
	return -1;
}
