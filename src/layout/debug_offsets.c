/* Offsets from _Py_DebugOffsets, the table CPython 3.13+ keeps at the
 * start of _PyRuntime for out-of-process readers.
 *
 * The table is a flat run of uint64_t words, but its shape is not stable:
 * sections gain fields between minor versions (3.14 added threads_main and
 * two generation counters to the interpreter section, 3.15 four frame and
 * GIL fields to the thread section), so the word that holds a given
 * offset depends on the minor version.  The maps below were taken from
 * each version's pycore_debug_offsets.h (pycore_runtime.h for 3.13) and
 * checked against Debian's 3.13.18, 3.14.10 and 3.15.2 binaries; see
 * docs/layouts-3.14-3.15.md.
 *
 * Everything read here may be garbage (a wrong address, a fuzzer), so
 * every value is range-checked before it becomes an offset, and the
 * table is read in one bounded gs_mem_read. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layout/layout.h"
#include "layout/sources.h"
#include "core/errors.h"
#include "proc/mem.h"

#define COOKIE "xdebugpy"
#define COOKIE_LEN 8

/* No CPython struct comes near this; 3.15's _PyRuntimeState, the
 * largest, is ~340 KiB. */
#define MAX_STRUCT_SIZE (1u << 20)

#define NONE (-1)

/* Word indexes (8-byte units from the start of _Py_DebugOffsets) of the
 * offsets gilsnoop uses, for one minor version. */
struct dbg_map {
	int minor;
	int nwords; /* words to read: up to and including the last used one */

	int rt_size, rt_interpreters_head;

	int is_size, is_id, is_next, is_threads_head, is_ceval_gil;
	int is_gil, is_gil_enabled, is_gil_locked, is_gil_holder;
	/* _code_object_generation directly follows the embedded _gil in
	 * 3.14+, which bounds the GIL struct's size from the binary itself. */
	int is_after_gil;

	int ts_size, ts_prev, ts_next, ts_interp, ts_thread_id;
	int ts_native_thread_id, ts_status, ts_holds_gil, ts_gil_requested;

	/* Fields the table does not carry, placed relative to _status by the
	 * version's struct _ts (verified on live processes). */
	int holds_gil_from_status; /* NONE when the table carries it */
	uint64_t holds_gil_mask;
	int state_from_status;

	/* The stack reader's words: frames, code objects, object headers. */
	int words_objects; /* words to read for these: through the last one */
	int is_modules, ts_current_frame, ts_datastack_chunk;
	int fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	int co_size, co_filename, co_name, co_qualname, co_linetable;
	int co_firstlineno, co_adaptive;
	int ob_type, tp_size, tp_name, tp_flags, tp_basicsize, tp_dictoffset;
	int ht_cached_keys;
	int dict_keys, dict_values, long_tag, long_digit, bytes_size, bytes_sval;
	int uni_size, uni_state, uni_length, uni_ascii_size, uni_compact_size;
};

/* Section starts: runtime_state at word 3, interpreter_state at 6 in
 * every version; thread_state at 19 (3.13) or 22 (3.14+). */
static const struct dbg_map maps[] = {
	{
		.minor = 13, .nwords = 28,
		.rt_size = 3, .rt_interpreters_head = 5,
		.is_size = 6, .is_id = 7, .is_next = 8, .is_threads_head = 9,
		.is_ceval_gil = 14, .is_gil = 15, .is_gil_enabled = 16,
		.is_gil_locked = 17, .is_gil_holder = 18, .is_after_gil = NONE,
		.ts_size = 19, .ts_prev = 20, .ts_next = 21, .ts_interp = 22,
		.ts_thread_id = 24, .ts_native_thread_id = 25, .ts_status = 27,
		.ts_holds_gil = NONE, .ts_gil_requested = NONE,
		/* holds_gil is bit 5 of the _status bit-field word. */
		.holds_gil_from_status = 0, .holds_gil_mask = 0x20,
		.state_from_status = 8,
		.words_objects = 71, .is_modules = 11, .ts_current_frame = 23,
		.ts_datastack_chunk = 26,
		.fr_size = 28, .fr_previous = 29, .fr_executable = 30,
		.fr_instr_ptr = 31, .fr_owner = 33,
		.co_size = 34, .co_filename = 35, .co_name = 36, .co_qualname = 37,
		.co_linetable = 38, .co_firstlineno = 39, .co_adaptive = 43,
		.ob_type = 45, .tp_size = 46, .tp_name = 47, .tp_flags = 49,
		.tp_basicsize = NONE, .tp_dictoffset = NONE, .ht_cached_keys = NONE,
		.dict_keys = 57, .dict_values = 58, .long_tag = 62, .long_digit = 63,
		.bytes_size = 65, .bytes_sval = 66,
		.uni_size = 67, .uni_state = 68, .uni_length = 69,
		.uni_ascii_size = 70, .uni_compact_size = NONE,
	},
	{
		.minor = 14, .nwords = 31,
		.rt_size = 3, .rt_interpreters_head = 5,
		.is_size = 6, .is_id = 7, .is_next = 8, .is_threads_head = 9,
		.is_ceval_gil = 15, .is_gil = 16, .is_gil_enabled = 17,
		.is_gil_locked = 18, .is_gil_holder = 19, .is_after_gil = 20,
		.ts_size = 22, .ts_prev = 23, .ts_next = 24, .ts_interp = 25,
		.ts_thread_id = 27, .ts_native_thread_id = 28, .ts_status = 30,
		.ts_holds_gil = NONE, .ts_gil_requested = NONE,
		/* An int of its own right after the 4-byte _status word. */
		.holds_gil_from_status = 4, .holds_gil_mask = 0xffffffffu,
		.state_from_status = 12,
		.words_objects = 81, .is_modules = 12, .ts_current_frame = 26,
		.ts_datastack_chunk = 29,
		.fr_size = 31, .fr_previous = 32, .fr_executable = 33,
		.fr_instr_ptr = 34, .fr_owner = 36,
		.co_size = 39, .co_filename = 40, .co_name = 41, .co_qualname = 42,
		.co_linetable = 43, .co_firstlineno = 44, .co_adaptive = 48,
		.ob_type = 51, .tp_size = 52, .tp_name = 53, .tp_flags = 55,
		.tp_basicsize = NONE, .tp_dictoffset = NONE, .ht_cached_keys = NONE,
		.dict_keys = 67, .dict_values = 68, .long_tag = 72, .long_digit = 73,
		.bytes_size = 75, .bytes_sval = 76,
		.uni_size = 77, .uni_state = 78, .uni_length = 79,
		.uni_ascii_size = 80, .uni_compact_size = NONE,
	},
	{
		.minor = 15, .nwords = 36,
		.rt_size = 3, .rt_interpreters_head = 5,
		.is_size = 6, .is_id = 7, .is_next = 8, .is_threads_head = 9,
		.is_ceval_gil = 15, .is_gil = 16, .is_gil_enabled = 17,
		.is_gil_locked = 18, .is_gil_holder = 19, .is_after_gil = 20,
		.ts_size = 22, .ts_prev = 23, .ts_next = 24, .ts_interp = 25,
		.ts_thread_id = 30, .ts_native_thread_id = 31, .ts_status = 33,
		.ts_holds_gil = 34, .ts_gil_requested = 35,
		.holds_gil_from_status = NONE, .holds_gil_mask = 0xffffffffu,
		/* _status, holds_gil, gil_requested, _whence, state */
		.state_from_status = 16,
		.words_objects = 94, .is_modules = 12, .ts_current_frame = 26,
		.ts_datastack_chunk = 32,
		.fr_size = 39, .fr_previous = 40, .fr_executable = 41,
		.fr_instr_ptr = 42, .fr_owner = 44,
		.co_size = 47, .co_filename = 48, .co_name = 49, .co_qualname = 50,
		.co_linetable = 51, .co_firstlineno = 52, .co_adaptive = 56,
		.ob_type = 59, .tp_size = 60, .tp_name = 61, .tp_flags = 63,
		.tp_basicsize = 64, .tp_dictoffset = 65, .ht_cached_keys = 67,
		.dict_keys = 79, .dict_values = 80, .long_tag = 84, .long_digit = 85,
		.bytes_size = 87, .bytes_sval = 88,
		.uni_size = 89, .uni_state = 90, .uni_length = 91,
		.uni_ascii_size = 92, .uni_compact_size = 93,
	},
};

#define MAX_WORDS 96

static void say(char *detail, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *detail, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!detail || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, n, fmt, ap);
	va_end(ap);
}

int gs_debug_offsets_probe(const struct gs_mem *m, uint64_t runtime_addr,
			   uint32_t *hexversion, int *free_threaded)
{
	unsigned char head[3 * 8];
	uint64_t ver, ft;

	if (!m || runtime_addr == 0) {
		errno = EINVAL;
		return -1;
	}
	if (gs_mem_read(m, runtime_addr, head, sizeof head) != 0)
		return -1;
	if (memcmp(head, COOKIE, COOKIE_LEN) != 0) {
		errno = ENOENT;
		return -1;
	}
	memcpy(&ver, head + 8, 8);
	memcpy(&ft, head + 16, 8);
	/* A cookie followed by a version that does not fit PY_VERSION_HEX
	 * or a flag that is not 0/1 is not a table written by CPython. */
	if (ver > 0xffffffffu || ft > 1) {
		errno = EINVAL;
		return -1;
	}
	if (hexversion)
		*hexversion = (uint32_t)ver;
	if (free_threaded)
		*free_threaded = (int)ft;
	return 0;
}

static const struct dbg_map *map_for(int major, int minor)
{
	if (major != 3)
		return NULL;
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
		if (maps[i].minor == minor)
			return &maps[i];
	return NULL;
}

/* Context for the checks: the words read and where to report. */
struct ck {
	const uint64_t *w;
	char *detail;
	size_t detail_len;
};

/* A struct size word: positive and below MAX_STRUCT_SIZE. */
static int size_word(struct ck *c, int idx, const char *what, int64_t *out)
{
	uint64_t v = c->w[idx];

	if (v == 0 || v >= MAX_STRUCT_SIZE) {
		say(c->detail, c->detail_len,
		    "_Py_DebugOffsets: implausible size %llu for %s",
		    (unsigned long long)v, what);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* An offset word for a field of `width` bytes, aligned to its width
 * (every field used is a naturally aligned scalar or pointer), inside a
 * struct of `limit` bytes. */
static int off_word(struct ck *c, int idx, int64_t width, int64_t limit,
		    const char *what, int64_t *out)
{
	uint64_t v = c->w[idx];

	if (v >= MAX_STRUCT_SIZE || (int64_t)v + width > limit) {
		say(c->detail, c->detail_len,
		    "_Py_DebugOffsets: %s at %llu lies outside its %lld-byte struct",
		    what, (unsigned long long)v, (long long)limit);
		return -1;
	}
	if (v % (uint64_t)width != 0) {
		say(c->detail, c->detail_len,
		    "_Py_DebugOffsets: %s at %llu is not %lld-byte aligned", what,
		    (unsigned long long)v, (long long)width);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

static void set(struct gs_field *f, int64_t off, int64_t size)
{
	f->off = off;
	f->size = size;
}

/* The seeded GIL struct (from the tables) must agree with the two words
 * the table does carry; if it does not, every other seeded GIL offset is
 * suspect too. */
static int gil_field(struct ck *c, struct gs_field *f, int64_t off,
		     int64_t size, const char *name)
{
	if (f->off == GS_NOFF) {
		set(f, off, size);
		return 0;
	}
	if (f->off != off) {
		say(c->detail, c->detail_len,
		    "seeded GIL layout puts %s at +%lld but _Py_DebugOffsets "
		    "says +%lld; the seed table does not fit this build",
		    name, (long long)f->off, (long long)off);
		return -1;
	}
	return 0;
}

/* A seeded field kept at the distance from an anchor that the seed
 * build had, when the table moves the anchor: the code object's tail
 * (_co_firsttraceable, co_extra, co_code_adaptive) and PyHeapTypeObject
 * after its PyTypeObject did not change from 3.13 to 3.15, but what
 * comes before them did (docs/frame-facts-checked.md). */
static void rebase(struct gs_field *f, int64_t seed_anchor, int64_t anchor)
{
	if (f->off != GS_NOFF && seed_anchor != GS_NOFF)
		f->off += anchor - seed_anchor;
}

/* The frame, code and object words.  Whatever the table does not carry
 * stays as seeded from the nearest generated table (layout.c), which is
 * pyenv 3.13's DWARF: dict internals, the str state bits, frame owners,
 * the line-table format and the instance-dict scheme, which the headers
 * of 3.14 and 3.15 show unchanged. */
static int objects(const struct gs_mem *m, uint64_t runtime_addr,
		   const struct dbg_map *map, int64_t is_size, int64_t ts_size,
		   struct gs_layout *l, char *detail, size_t detail_len)
{
	uint64_t w[MAX_WORDS];
	struct ck c = { w, detail, detail_len };
	int64_t fr, co, tp, v, a, b, seed_adaptive, seed_tp, seed_ascii;
	char why[160];

	if (map->words_objects > MAX_WORDS ||
	    gs_mem_read(m, runtime_addr, w, (size_t)map->words_objects * 8) != 0) {
		say(detail, detail_len, "cannot read the table's object sections");
		return -1;
	}
	if (off_word(&c, map->is_modules, 8, is_size, "interp imports.modules", &v))
		return -1;
	set(&l->interp_modules, v, 8);
	if (off_word(&c, map->ts_current_frame, 8, ts_size,
		     "tstate current_frame", &v))
		return -1;
	set(&l->ts_current_frame, v, 8);
	/* _PyStackChunk itself is seeded: unchanged from 3.11 to 3.15. */
	if (off_word(&c, map->ts_datastack_chunk, 8, ts_size,
		     "tstate datastack_chunk", &v))
		return -1;
	set(&l->ts_datastack_chunk, v, 8);
	set(&l->ts_frame, GS_NOFF, 0);
	set(&l->ts_cframe, GS_NOFF, 0);
	set(&l->cframe_current_frame, GS_NOFF, 0);

	if (size_word(&c, map->fr_size, "_PyInterpreterFrame", &fr) ||
	    off_word(&c, map->fr_previous, 8, fr, "frame previous", &v))
		return -1;
	l->iframe_size = fr;
	set(&l->iframe_previous, v, 8);
	if (off_word(&c, map->fr_executable, 8, fr, "frame f_executable", &v))
		return -1;
	set(&l->iframe_code, v, 8);
	if (off_word(&c, map->fr_instr_ptr, 8, fr, "frame instr_ptr", &v))
		return -1;
	set(&l->iframe_instr, v, 8);
	if (off_word(&c, map->fr_owner, 1, fr, "frame owner", &v))
		return -1;
	set(&l->iframe_owner, v, 1);
	set(&l->iframe_is_entry, GS_NOFF, 0);

	seed_adaptive = l->code_adaptive.off;
	if (size_word(&c, map->co_size, "PyCodeObject", &co) ||
	    off_word(&c, map->co_filename, 8, co, "code co_filename", &v))
		return -1;
	set(&l->code_filename, v, 8);
	if (off_word(&c, map->co_name, 8, co, "code co_name", &v))
		return -1;
	set(&l->code_name, v, 8);
	if (off_word(&c, map->co_qualname, 8, co, "code co_qualname", &v))
		return -1;
	set(&l->code_qualname, v, 8);
	if (off_word(&c, map->co_linetable, 8, co, "code co_linetable", &v))
		return -1;
	set(&l->code_linetable, v, 8);
	if (off_word(&c, map->co_firstlineno, 4, co, "code co_firstlineno", &v))
		return -1;
	set(&l->code_firstlineno, v, 4);
	if (off_word(&c, map->co_adaptive, 1, co, "code co_code_adaptive", &v))
		return -1;
	set(&l->code_adaptive, v, 1);
	rebase(&l->code_firsttraceable, seed_adaptive, v);
	if (l->code_firsttraceable.off != GS_NOFF &&
	    (l->code_firsttraceable.off < 0 ||
	     l->code_firsttraceable.off + 4 > l->code_adaptive.off)) {
		say(detail, detail_len, "_co_firsttraceable does not fit before "
		    "co_code_adaptive");
		return -1;
	}

	if (off_word(&c, map->ob_type, 8, 16, "ob_type", &v))
		return -1;
	set(&l->ob_type, v, 8);
	if (off_word(&c, map->bytes_size, 8, 32, "ob_size", &v))
		return -1;
	set(&l->ob_size, v, 8);
	if (off_word(&c, map->bytes_sval, 1, 64, "bytes ob_sval", &v))
		return -1;
	set(&l->bytes_sval, v, 1);

	seed_tp = l->type_size;
	if (size_word(&c, map->tp_size, "PyTypeObject", &tp) ||
	    off_word(&c, map->tp_name, 8, tp, "tp_name", &v))
		return -1;
	set(&l->type_name, v, 8);
	if (off_word(&c, map->tp_flags, 8, tp, "tp_flags", &v))
		return -1;
	set(&l->type_flags, v, 8);
	l->type_size = tp;
	if (map->tp_basicsize != NONE) {
		if (off_word(&c, map->tp_basicsize, 8, tp, "tp_basicsize", &v))
			return -1;
		set(&l->type_basicsize, v, 8);
		if (off_word(&c, map->tp_dictoffset, 8, tp, "tp_dictoffset", &v))
			return -1;
		set(&l->type_dictoffset, v, 8);
	}
	if (map->ht_cached_keys != NONE) {
		if (off_word(&c, map->ht_cached_keys, 8, 1 << 16, "ht_cached_keys", &v))
			return -1;
		set(&l->ht_cached_keys, v, 8);
	} else {
		rebase(&l->ht_cached_keys, seed_tp, tp);
	}

	if (off_word(&c, map->dict_keys, 8, 64, "ma_keys", &a) ||
	    off_word(&c, map->dict_values, 8, 64, "ma_values", &b))
		return -1;
	set(&l->dict_keys, a, 8);
	set(&l->dict_values, b, 8);
	if (off_word(&c, map->long_tag, 8, 64, "lv_tag", &a) ||
	    off_word(&c, map->long_digit, 4, 64, "ob_digit", &b))
		return -1;
	set(&l->long_size, a, 8);
	l->long_tagged = 1;
	/* The digit's width is the build's (30-bit digits: 4 bytes); the
	 * seed says which. */
	set(&l->long_digit, b, l->long_digit.size > 0 ? l->long_digit.size : 4);

	seed_ascii = l->uni_ascii_size;
	if (size_word(&c, map->uni_size, "PyUnicodeObject", &v) ||
	    off_word(&c, map->uni_state, 4, v, "str state", &a) ||
	    off_word(&c, map->uni_length, 8, v, "str length", &b))
		return -1;
	set(&l->uni_state, a, 4);
	set(&l->uni_length, b, 8);
	if (size_word(&c, map->uni_ascii_size, "PyASCIIObject", &a))
		return -1;
	l->uni_ascii_size = a;
	if (map->uni_compact_size != NONE) {
		if (size_word(&c, map->uni_compact_size, "PyCompactUnicodeObject", &b))
			return -1;
		l->uni_compact_size = b;
	} else if (l->uni_compact_size != GS_NOFF && seed_ascii != GS_NOFF) {
		l->uni_compact_size += a - seed_ascii;
	}

	if (gs_layout_check(l, why, sizeof why) != 0) {
		say(detail, detail_len, "inconsistent object layout: %s", why);
		return -1;
	}
	const char *miss = gs_layout_missing_stacks(l);
	if (miss) {
		say(detail, detail_len, "no %s", miss);
		return -1;
	}
	return 0;
}

int gs_layout_from_debug_offsets(const struct gs_mem *m, uint64_t runtime_addr,
				 int major, int minor, struct gs_layout *out,
				 char *detail, size_t detail_len)
{
	uint64_t w[MAX_WORDS];
	struct ck c = { w, detail, detail_len };
	const struct dbg_map *map;
	struct gs_layout l;
	int64_t rt_size, is_size, ts_size, v;
	int64_t gil, locked, holder, gil_size;

	if (!m || !out || runtime_addr == 0) {
		say(detail, detail_len, "no _PyRuntime address");
		return -1;
	}
	map = map_for(major, minor);
	if (!map) {
		say(detail, detail_len,
		    "no known _Py_DebugOffsets layout for Python %d.%d", major,
		    minor);
		return -1;
	}
	if (gs_mem_read(m, runtime_addr, w, (size_t)map->nwords * 8) != 0) {
		say(detail, detail_len,
		    "cannot read _Py_DebugOffsets at %#llx: %s",
		    (unsigned long long)runtime_addr, strerror(errno));
		return -1;
	}
	if (memcmp(w, COOKIE, COOKIE_LEN) != 0) {
		say(detail, detail_len, "no _Py_DebugOffsets cookie at %#llx",
		    (unsigned long long)runtime_addr);
		return -1;
	}
	if (w[1] > 0xffffffffu || (int)(w[1] >> 24) != major ||
	    (int)((w[1] >> 16) & 0xff) != minor) {
		say(detail, detail_len,
		    "_Py_DebugOffsets version %#llx is not Python %d.%d",
		    (unsigned long long)w[1], major, minor);
		return -1;
	}
	if (w[2] != 0) {
		/* The GIL struct starts with `int enabled` there, and the
		 * tables have no free-threaded GIL layout to seed from. */
		if (w[2] == 1)
			say(detail, detail_len,
			    "free-threaded build has no GIL struct layout support");
		else
			say(detail, detail_len,
			    "_Py_DebugOffsets free_threaded flag %llu is invalid",
			    (unsigned long long)w[2]);
		return -1;
	}

	/* Work on a copy so that *out is untouched on failure. */
	l = *out;

	if (size_word(&c, map->rt_size, "_PyRuntimeState", &rt_size) ||
	    size_word(&c, map->is_size, "PyInterpreterState", &is_size) ||
	    size_word(&c, map->ts_size, "PyThreadState", &ts_size))
		return -1;

	/* _PyRuntimeState.interpreters is {PyMutex mutex; head; main; ...}
	 * in 3.13-3.15, so main is the word after head. */
	if (off_word(&c, map->rt_interpreters_head, 8, rt_size,
		     "runtime interpreters.head", &v))
		return -1;
	if (v + 16 > rt_size) {
		say(detail, detail_len,
		    "_Py_DebugOffsets: interpreters.main would lie past _PyRuntimeState");
		return -1;
	}
	set(&l.rt_interpreters_head, v, 8);
	set(&l.rt_interpreters_main, v + 8, 8);
	set(&l.rt_gil, GS_NOFF, 0);

	if (off_word(&c, map->is_next, 8, is_size, "interp next", &v))
		return -1;
	set(&l.interp_next, v, 8);
	if (off_word(&c, map->is_threads_head, 8, is_size,
		     "interp threads.head", &v))
		return -1;
	set(&l.interp_threads_head, v, 8);
	if (off_word(&c, map->is_id, 8, is_size, "interp id", &v))
		return -1;
	set(&l.interp_id, v, 8);
	if (off_word(&c, map->is_ceval_gil, 8, is_size, "interp ceval.gil", &v))
		return -1;
	set(&l.interp_ceval_gil, v, 8);

	/* locked and holder are offsets from the interpreter into its
	 * embedded _gil, not offsets inside the GIL struct. */
	if (off_word(&c, map->is_gil, 8, is_size, "interp _gil", &gil) ||
	    off_word(&c, map->is_gil_locked, 4, is_size, "interp _gil.locked",
		     &locked) ||
	    off_word(&c, map->is_gil_holder, 8, is_size,
		     "interp _gil.last_holder", &holder))
		return -1;
	if (locked < gil || holder < gil) {
		say(detail, detail_len,
		    "_Py_DebugOffsets: _gil.locked (%lld) or last_holder (%lld) "
		    "lies before _gil (%lld)",
		    (long long)locked, (long long)holder, (long long)gil);
		return -1;
	}
	/* In a default build `enabled` does not exist and the word is 0. */
	if (w[map->is_gil_enabled] != 0) {
		say(detail, detail_len,
		    "_Py_DebugOffsets: gil enabled offset %llu in a default build",
		    (unsigned long long)w[map->is_gil_enabled]);
		return -1;
	}
	if (gil_field(&c, &l.gil_locked, locked - gil, 4, "locked") ||
	    gil_field(&c, &l.gil_last_holder, holder - gil, 8, "last_holder"))
		return -1;

	gil_size = l.gil_size > 0 ? l.gil_size : 0;
	if (gil_size >= MAX_STRUCT_SIZE) {
		say(detail, detail_len, "seeded GIL struct size %lld is implausible",
		    (long long)gil_size);
		return -1;
	}
	if (map->is_after_gil != NONE) {
		int64_t after;
		if (off_word(&c, map->is_after_gil, 8, is_size,
			     "interp _code_object_generation", &after))
			return -1;
		if (after <= gil) {
			say(detail, detail_len,
			    "_Py_DebugOffsets: the field after _gil (%lld) is not "
			    "after it (%lld)", (long long)after, (long long)gil);
			return -1;
		}
		/* Only alignment padding may lie between the two. */
		if (gil_size && (gil + gil_size > after ||
				 after - (gil + gil_size) >= 8)) {
			say(detail, detail_len,
			    "seeded GIL struct size %lld does not fit the %lld bytes "
			    "_Py_DebugOffsets leaves for _gil",
			    (long long)gil_size, (long long)(after - gil));
			return -1;
		}
		if (!gil_size)
			gil_size = after - gil;
		set(&l.interp_code_generation, after, 8);
	}
	if (!gil_size) {
		say(detail, detail_len,
		    "_Py_DebugOffsets %d.%d does not bound the GIL struct and no "
		    "seed table gave its size", major, minor);
		return -1;
	}
	if (gil + gil_size > is_size || l.gil_locked.off + 4 > gil_size ||
	    l.gil_last_holder.off + 8 > gil_size) {
		say(detail, detail_len,
		    "GIL struct of %lld bytes at interp+%lld does not hold "
		    "locked/last_holder or overruns the %lld-byte interpreter",
		    (long long)gil_size, (long long)gil, (long long)is_size);
		return -1;
	}
	l.gil_size = gil_size;
	set(&l.interp_gil, gil, gil_size);

	int64_t prev, next, interp, tid, ntid, status;
	if (off_word(&c, map->ts_prev, 8, ts_size, "tstate prev", &prev) ||
	    off_word(&c, map->ts_next, 8, ts_size, "tstate next", &next) ||
	    off_word(&c, map->ts_interp, 8, ts_size, "tstate interp", &interp) ||
	    off_word(&c, map->ts_thread_id, 8, ts_size, "tstate thread_id", &tid) ||
	    off_word(&c, map->ts_native_thread_id, 8, ts_size,
		     "tstate native_thread_id", &ntid) ||
	    off_word(&c, map->ts_status, 4, ts_size, "tstate _status", &status))
		return -1;
	/* Distinct pointer fields, or the map does not fit the table. */
	if (prev == next || prev == interp || next == interp || tid == ntid) {
		say(detail, detail_len,
		    "_Py_DebugOffsets: thread state fields overlap (prev %lld, "
		    "next %lld, interp %lld, thread_id %lld, native %lld)",
		    (long long)prev, (long long)next, (long long)interp,
		    (long long)tid, (long long)ntid);
		return -1;
	}
	set(&l.ts_next, next, 8);
	set(&l.ts_interp, interp, 8);
	set(&l.ts_thread_id, tid, 8);
	set(&l.ts_native_thread_id, ntid, 8);

	if (map->ts_holds_gil != NONE) {
		if (off_word(&c, map->ts_holds_gil, 4, ts_size, "tstate holds_gil", &v))
			return -1;
	} else {
		v = status + map->holds_gil_from_status;
	}
	if (v + 4 > ts_size) {
		say(detail, detail_len, "_Py_DebugOffsets: holds_gil past PyThreadState");
		return -1;
	}
	set(&l.ts_holds_gil, v, 4);
	l.holds_gil_mask = map->holds_gil_mask;

	if (map->ts_gil_requested != NONE) {
		if (off_word(&c, map->ts_gil_requested, 4, ts_size,
			     "tstate gil_requested", &v))
			return -1;
		set(&l.ts_gil_requested, v, 4);
	} else {
		set(&l.ts_gil_requested, GS_NOFF, 0);
	}

	v = status + map->state_from_status;
	if (v + 4 > ts_size) {
		say(detail, detail_len, "_Py_DebugOffsets: state past PyThreadState");
		return -1;
	}
	set(&l.ts_state, v, 4);

	/* The same consistency test a cached or DWARF layout must pass
	 * (overlaps, sizes, GIL fields inside the struct): a damaged table
	 * that slipped past the checks above stops here. */
	char why[160];
	struct gs_layout gil_only = l;
	gs_layout_clear_objects(&gil_only);
	if (gs_layout_check(&gil_only, why, sizeof why) != 0) {
		say(detail, detail_len,
		    "_Py_DebugOffsets gives an inconsistent layout: %s", why);
		return -1;
	}

	/* Stacks are a bonus on top of the GIL layout: a table that cannot
	 * give them still gives the rest. */
	char owhy[200] = "";
	if (objects(m, runtime_addr, map, is_size, ts_size, &l, owhy,
		    sizeof owhy) != 0) {
		gs_debug("no Python stacks from _Py_DebugOffsets: %s", owhy);
		gs_layout_clear_objects(&l);
	}

	*out = l;
	say(detail, detail_len,
	    "_Py_DebugOffsets %d.%d at %#llx (hex %#llx)", major, minor,
	    (unsigned long long)runtime_addr, (unsigned long long)w[1]);
	return 0;
}
