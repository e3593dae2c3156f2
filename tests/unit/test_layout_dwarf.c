/* The DWARF reader, the build-id cache and the generated tables.
 *
 * - Every pyenv libpython present is read with gs_layout_from_dwarf()
 *   and compared with the offsets in ../shared/cpython-gil-facts.md
 *   (checked there with gdb); absent builds are skipped.
 * - Split debug info: a stripped copy of a libpython must be read
 *   through ROOT/usr/lib/debug/.build-id/, then through .gnu_debuglink,
 *   and a debuglink file with the wrong CRC must be refused.
 * - Bitfields: a small shared object compiled here with DWARF 4
 *   (DW_AT_bit_offset) and DWARF 5 (DW_AT_data_bit_offset) must give the
 *   same holds_gil word and mask.
 * - The cache: a round trip, and corrupted files refused.
 * - The generated tables: each passes the checks for its version, and
 *   the nearest-older lookup works. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout/layout.h"
#include "layout/sources.h"
#include "unit.h"

static char pyenv[PATH_MAX];

/* Test paths are short; a truncated one would test the wrong file, so
 * stop instead. */
static void xsnprintf(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xsnprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= n) {
		printf("Bail out! path or command too long: %.60s...\n", buf);
		exit(1);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void skip(const char *why)
{
	/* Counted as a passing line by tests/run-tests, marked SKIP. */
	char name[PATH_MAX + 256];
	xsnprintf(name, sizeof name, "# SKIP %s", why);
	UNIT_CHECK(1, name);
}

/* The newest patch release of 3.MINOR under pyenv, with either ABI
 * suffix (3.6 and 3.7 are libpython3.Nm). */
static int find_libpython(int minor, char *out, size_t n)
{
	char pat[PATH_MAX];
	glob_t g;
	int rc = -1;

	xsnprintf(pat, sizeof pat, "%s/versions/3.%d.*/lib/libpython3.%d*.so.1.0",
		 pyenv, minor, minor);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = g.gl_pathc; i-- > 0;) {
			const char *b = strrchr(g.gl_pathv[i], '/') + 1;
			char want1[64], want2[64];
			xsnprintf(want1, sizeof want1, "libpython3.%d.so.1.0", minor);
			xsnprintf(want2, sizeof want2, "libpython3.%dm.so.1.0", minor);
			if (strcmp(b, want1) == 0 || strcmp(b, want2) == 0) {
				xsnprintf(out, n, "%s", g.gl_pathv[i]);
				rc = 0;
				break;
			}
		}
		globfree(&g);
	}
	return rc;
}

/* From cpython-gil-facts.md ("Offsets seen in the pyenv builds"); 3.6's
 * thread_id is from gdb's ptype /o on the same build. */
static const struct expect {
	int minor;
	int64_t head, main_, rt_gil, threads, tid, ntid;
	int64_t ceval_gil, interp_gil, holds_gil, holds_mask, state;
} expect[] = {
	{ 6, -1, -1, -1, 8, 152, -1, -1, -1, -1, 0, -1 },
	{ 7, 24, 32, 1264, 8, 176, -1, -1, -1, -1, 0, -1 },
	{ 8, 32, 40, 1152, 8, 176, -1, -1, -1, -1, 0, -1 },
	{ 9, 32, 40, 352, 8, 176, -1, -1, -1, -1, 0, -1 },
	{ 10, 32, 40, 352, 8, 176, -1, -1, -1, -1, 0, -1 },
	{ 11, 40, 48, 360, 16, 152, 160, -1, -1, -1, 0, -1 },
	{ 12, 40, 48, -1, 72, 136, 144, 384, 1040, -1, 0, -1 },
	{ 13, 632, 640, -1, 7344, 152, 160, 16, 7752, 32, 0x20, 40 },
};

#define EQ(got, want, what)                                             \
	do {                                                            \
		char n_[128];                                           \
		xsnprintf(n_, sizeof n_, "3.%d %s", e->minor, what);     \
		UNIT_EQ_INT(got, want, n_);                             \
	} while (0)

static void check_gil_struct(const struct expect *e, const struct gs_layout *l)
{
	if (e->minor < 7) {
		EQ(l->gil_locked.off, GS_NOFF, "no GIL struct (static variables)");
		EQ(l->gil_size, GS_NOFF, "gil_size absent");
		return;
	}
	EQ(l->gil_interval.off, 0, "gil interval");
	EQ(l->gil_last_holder.off, 8, "gil last_holder");
	EQ(l->gil_last_holder.size, 8, "gil last_holder size");
	EQ(l->gil_locked.off, 16, "gil locked");
	EQ(l->gil_locked.size, 4, "gil locked size");
	EQ(l->gil_switch_number.off, 24, "gil switch_number");
	EQ(l->gil_cond.off, 32, "gil cond");
	EQ(l->gil_cond.size, 48, "gil cond size");
	EQ(l->gil_mutex.off, 80, "gil mutex");
	EQ(l->gil_mutex.size, 40, "gil mutex size");
	EQ(l->gil_switch_cond.off, 120, "gil switch_cond");
	EQ(l->gil_switch_mutex.off, 168, "gil switch_mutex");
	EQ(l->gil_size, 208, "gil struct size");
}

static void check_facts(const struct expect *e, const struct gs_layout *l)
{
	EQ(l->rt_interpreters_head.off, e->head, "R.interpreters.head");
	EQ(l->rt_interpreters_main.off, e->main_, "R.interpreters.main");
	EQ(l->rt_gil.off, e->rt_gil, "GIL embedded in _PyRuntime");
	EQ(l->interp_threads_head.off, e->threads, "I->threads");
	EQ(l->interp_ceval_gil.off, e->ceval_gil, "I->ceval.gil pointer");
	EQ(l->interp_gil.off, e->interp_gil, "I->_gil");
	EQ(l->ts_next.off, 8, "tstate->next");
	EQ(l->ts_thread_id.off, e->tid, "thread_id");
	EQ(l->ts_native_thread_id.off, e->ntid, "native_thread_id");
	EQ(l->ts_holds_gil.off, e->holds_gil, "holds_gil word");
	EQ(l->holds_gil_mask, (uint64_t)e->holds_mask, "holds_gil mask");
	EQ(l->ts_state.off, e->state, "tstate->state");
	check_gil_struct(e, l);
}

static int same_layout(const struct gs_layout *a, const struct gs_layout *b)
{
	for (size_t i = 0; i < gs_layout_nfields; i++) {
		const struct gs_layout_field *f = &gs_layout_fields[i];
		if (f->kind == GS_LF_FIELD) {
			const struct gs_field *x = gs_layout_field_get(a, f);
			const struct gs_field *y = gs_layout_field_get(b, f);
			if (x->off != y->off ||
			    (x->off != GS_NOFF && x->size != y->size))
				return 0;
		} else if (memcmp((const char *)a + f->offset,
				  (const char *)b + f->offset, 8) != 0) {
			return 0;
		}
	}
	return 1;
}

static void test_pyenv_builds(void)
{
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		const struct expect *e = &expect[i];
		char lib[PATH_MAX], detail[2048], name[PATH_MAX + 64], why[256];
		struct gs_layout l, t;
		int split = -1, rc;
		double t0;

		if (find_libpython(e->minor, lib, sizeof lib) != 0) {
			xsnprintf(name, sizeof name,
				 "no pyenv libpython3.%d under %s", e->minor, pyenv);
			skip(name);
			continue;
		}
		gs_layout_init(&l);
		t0 = now_ms();
		rc = gs_layout_from_dwarf(lib, "", NULL, 3, e->minor, &l, &split,
					  detail, sizeof detail);
		xsnprintf(name, sizeof name, "3.%d DWARF read", e->minor);
		if (!UNIT_EQ_INT(rc, 0, name)) {
			UNIT_DIAG("%s: %s", lib, detail);
			continue;
		}
		UNIT_DIAG("3.%d: %s in %.1f ms", e->minor, lib, now_ms() - t0);
		EQ(split, 0, "DWARF in the object itself");
		UNIT_EQ_STR(detail, lib, "detail names the DWARF file");
		check_facts(e, &l);
		EQ(gs_layout_check(&l, why, sizeof why), 0, "gs_layout_check");
		UNIT_EQ_STR(gs_layout_missing(&l, 3, e->minor), NULL,
			    "complete for its version");

		/* The shipped table must be what this reader says, as long as
		 * the table was generated from the same build. */
		gs_layout_init(&t);
		if (gs_layout_from_table(3, e->minor, 0, 0, &t, detail,
					 sizeof detail) == 0 && strstr(detail, lib))
			EQ(same_layout(&l, &t), 1, "generated table matches DWARF");
	}
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		UNIT_DIAG("command failed (%d): %s", rc, cmd);
	return rc;
}

static int read_build_id(const char *lib, char *out, size_t n)
{
	char cmd[PATH_MAX + 64], *p;
	FILE *f;
	int rc = -1;

	xsnprintf(cmd, sizeof cmd, "readelf -n '%s' 2>/dev/null", lib);
	if (!(f = popen(cmd, "r")))
		return -1;
	while (fgets(cmd, sizeof cmd, f)) {
		if ((p = strstr(cmd, "Build ID: "))) {
			p += 10;
			p[strcspn(p, " \n")] = 0;
			xsnprintf(out, n, "%s", p);
			rc = 0;
		}
	}
	pclose(f);
	return rc;
}

static void test_split(const char *tmp)
{
	char lib[PATH_MAX], copy[PATH_MAX], root[PATH_MAX], empty[PATH_MAX],
		dbg[PATH_MAX], link_dbg[PATH_MAX], cmd[4 * PATH_MAX],
		detail[4096], bid[160];
	struct gs_layout full, l;
	int split, rc, minor = 0;
	double t0;

	for (int m = 13; m >= 7 && !minor; m--)
		if (find_libpython(m, lib, sizeof lib) == 0)
			minor = m;
	if (!minor) {
		skip("split debug info: no pyenv libpython3.7-3.13");
		return;
	}
	if (system("objcopy --version >/dev/null 2>&1") != 0 ||
	    system("readelf --version >/dev/null 2>&1") != 0) {
		skip("split debug info: objcopy/readelf not installed");
		return;
	}
	if (read_build_id(lib, bid, sizeof bid) != 0) {
		skip("split debug info: libpython has no build-id");
		return;
	}
	gs_layout_init(&full);
	if (gs_layout_from_dwarf(lib, "", NULL, 3, minor, &full, &split, detail,
				 sizeof detail) != 0) {
		skip("split debug info: unsplit libpython unreadable");
		return;
	}

	xsnprintf(copy, sizeof copy, "%s/lib/libpython3.%d.so.1.0", tmp, minor);
	xsnprintf(root, sizeof root, "%s/root", tmp);
	xsnprintf(empty, sizeof empty, "%s/emptyroot", tmp);
	xsnprintf(dbg, sizeof dbg, "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
		 root, bid, bid + 2);
	xsnprintf(cmd, sizeof cmd,
		 "set -e; mkdir -p '%s/lib/.debug' '%s' \"$(dirname '%s')\"; "
		 "objcopy --only-keep-debug '%s' '%s'; "
		 "objcopy --strip-debug '%s' '%s'",
		 tmp, empty, dbg, lib, dbg, lib, copy);
	if (run(cmd) != 0) {
		skip("split debug info: objcopy failed");
		return;
	}

	/* The stripped copy alone has nothing to offer. */
	gs_layout_init(&l);
	rc = gs_layout_from_dwarf(copy, empty, bid, 3, minor, &l, &split,
				  detail, sizeof detail);
	UNIT_EQ_INT(rc, -1, "stripped copy without debug files: no DWARF");
	UNIT_CHECK(strstr(detail, "/usr/lib/debug/.build-id/") != NULL,
		   "the failure names the build-id path it tried");

	gs_layout_init(&l);
	t0 = now_ms();
	rc = gs_layout_from_dwarf(copy, root, NULL, 3, minor, &l, &split,
				  detail, sizeof detail);
	if (UNIT_EQ_INT(rc, 0, "split DWARF found by build-id under root")) {
		UNIT_DIAG("split read in %.1f ms", now_ms() - t0);
		UNIT_EQ_INT(split, 1, "split flag set");
		UNIT_EQ_STR(detail, dbg, "detail names the .build-id file");
		UNIT_CHECK(same_layout(&l, &full), "split layout equals unsplit");
	} else {
		UNIT_DIAG("%s", detail);
	}

	/* .gnu_debuglink, found in the object's .debug/ subdirectory. */
	xsnprintf(link_dbg, sizeof link_dbg, "%s/lib/.debug/libpython3.%d.debug",
		 tmp, minor);
	xsnprintf(cmd, sizeof cmd,
		 "set -e; cp '%s' '%s'; objcopy --add-gnu-debuglink='%s' '%s'",
		 dbg, link_dbg, link_dbg, copy);
	if (run(cmd) == 0) {
		gs_layout_init(&l);
		rc = gs_layout_from_dwarf(copy, empty, bid, 3, minor, &l, &split,
					  detail, sizeof detail);
		if (UNIT_EQ_INT(rc, 0, "split DWARF found through .gnu_debuglink")) {
			UNIT_EQ_STR(detail, link_dbg, "detail names the debuglink file");
			UNIT_CHECK(same_layout(&l, &full), "debuglink layout equals unsplit");
		} else {
			UNIT_DIAG("%s", detail);
		}
		/* Any change to the file breaks the CRC. */
		xsnprintf(cmd, sizeof cmd, "printf x >> '%s'", link_dbg);
		run(cmd);
		gs_layout_init(&l);
		rc = gs_layout_from_dwarf(copy, empty, bid, 3, minor, &l, &split,
					  detail, sizeof detail);
		UNIT_EQ_INT(rc, -1, "debuglink file with a wrong CRC refused");
		UNIT_CHECK(strstr(detail, "CRC") != NULL, "the failure says CRC");
	} else {
		skip("debuglink: objcopy --add-gnu-debuglink failed");
	}

	/* A .build-id file of another build is refused even if named right. */
	if (minor > 7 && find_libpython(minor - 1, lib, sizeof lib) == 0) {
		xsnprintf(cmd, sizeof cmd, "objcopy --only-keep-debug '%s' '%s'",
			 lib, dbg);
		if (run(cmd) == 0) {
			gs_layout_init(&l);
			rc = gs_layout_from_dwarf(copy, root, bid, 3, minor, &l,
						  &split, detail, sizeof detail);
			UNIT_EQ_INT(rc, -1, ".build-id file of another build refused");
			UNIT_CHECK(strstr(detail, "build-id differs") != NULL,
				   "the failure says the build-id differs");
		}
	}
}

/* Both bitfield encodings GCC has used, on a struct shaped like 3.13's. */
static const char fake_src[] =
	"typedef struct _ts PyThreadState;\n"
	"typedef struct _is PyInterpreterState;\n"
	"struct _gil_runtime_state { unsigned long interval;\n"
	"  PyThreadState *last_holder; int locked; unsigned long switch_number;\n"
	"  char cond[48]; char mutex[40]; char switch_cond[48];\n"
	"  char switch_mutex[40]; };\n"
	"struct _ceval_state { int eval_breaker; struct _gil_runtime_state *gil; };\n"
	"struct _is { struct _ceval_state ceval; PyInterpreterState *next;\n"
	"  long long id; struct { PyThreadState *head; } threads;\n"
	"  struct _gil_runtime_state _gil; };\n"
	"struct _ts { PyThreadState *prev, *next; PyInterpreterState *interp;\n"
	"  unsigned long eval_breaker;\n"
	"  struct { unsigned int initialized:1; unsigned int filler:31;\n"
	"    unsigned int other:3; unsigned int holds_gil:1; } _status;\n"
	"  int state; unsigned long thread_id; unsigned long native_thread_id; };\n"
	"typedef struct pyruntimestate { long cookie;\n"
	"  struct pyinterpreters { PyInterpreterState *head, *main; } interpreters;\n"
	"} _PyRuntimeState;\n"
	"_PyRuntimeState _PyRuntime; PyThreadState fake_ts;\n"
	"PyInterpreterState fake_is;\n";

static void test_bitfields(const char *tmp)
{
	char src[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX], detail[2048],
		name[96];
	const char *cc = getenv("CC");
	FILE *f;

	xsnprintf(src, sizeof src, "%s/fake.c", tmp);
	if (!(f = fopen(src, "w")) || fputs(fake_src, f) < 0 || fclose(f) != 0) {
		skip("bitfields: cannot write the fake source");
		return;
	}
	if (!cc || !cc[0])
		cc = "cc";
	for (int v = 4; v <= 5; v++) {
		struct gs_layout l;
		int split;

		xsnprintf(so, sizeof so, "%s/fake-dwarf%d.so", tmp, v);
		xsnprintf(cmd, sizeof cmd,
			 "%s -gdwarf-%d -O0 -shared -fPIC -o '%s' '%s' 2>/dev/null",
			 cc, v, so, src);
		if (system(cmd) != 0) {
			xsnprintf(name, sizeof name,
				 "bitfields: cannot compile with %s -gdwarf-%d", cc, v);
			skip(name);
			continue;
		}
		gs_layout_init(&l);
		xsnprintf(name, sizeof name, "DWARF %d fake 3.13 read", v);
		if (!UNIT_EQ_INT(gs_layout_from_dwarf(so, "", NULL, 3, 13, &l,
						      &split, detail,
						      sizeof detail), 0, name)) {
			UNIT_DIAG("%s", detail);
			continue;
		}
		/* _status at 32; bit 35 of it is bit 3 of its second word. */
		xsnprintf(name, sizeof name, "DWARF %d holds_gil word", v);
		UNIT_EQ_INT(l.ts_holds_gil.off, 36, name);
		xsnprintf(name, sizeof name, "DWARF %d holds_gil word size", v);
		UNIT_EQ_INT(l.ts_holds_gil.size, 4, name);
		xsnprintf(name, sizeof name, "DWARF %d holds_gil mask", v);
		UNIT_EQ_INT(l.holds_gil_mask, 0x8, name);
		xsnprintf(name, sizeof name, "DWARF %d state after the bits", v);
		UNIT_EQ_INT(l.ts_state.off, 40, name);
		xsnprintf(name, sizeof name, "DWARF %d GIL pointer and struct", v);
		UNIT_CHECK(l.interp_ceval_gil.off == 8 && l.interp_gil.off == 40 &&
			   l.gil_size == 208, name);
	}
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* Replace the first occurrence of from in s (in place, s has room). */
static void replace(char *s, size_t cap, const char *from, const char *to)
{
	char *p = strstr(s, from);
	char rest[16384];

	if (!p)
		return;
	xsnprintf(rest, sizeof rest, "%s", p + strlen(from));
	xsnprintf(p, cap - (size_t)(p - s), "%s%s", to, rest);
}

static void test_cache(const char *tmp)
{
	const char *bid = "0123456789abcdef0123456789abcdef01234567";
	char dir[PATH_MAX], path[PATH_MAX], want[PATH_MAX], good[16384],
		bad[16384], detail[512];
	struct gs_layout l, back;
	struct stat st;
	double t0;
	static const struct {
		const char *name, *from, *to;
	} corrupt[] = {
		{ "wrong format version", "gilsnoop-layout-cache 2 ",
		  "gilsnoop-layout-cache 999 " },
		{ "another build-id", "build-id 0123", "build-id 9123" },
		{ "unknown field", "ts_state ", "ts_status " },
		{ "garbage number", "ts_next 8 8", "ts_next 8x 8" },
		{ "missing size", "ts_next 8 8", "ts_next 8" },
		{ "negative size", "ts_next 8 8", "ts_next 8 -8" },
		{ "duplicate field", "ts_next 8 8", "ts_interp 16 8" },
		{ "overlapping GIL fields", "gil_locked 16 4", "gil_locked 8 4" },
		{ "pointer of the wrong size", "ts_interp 16 8", "ts_interp 16 4" },
		{ "field past the GIL struct", "gil_size 208", "gil_size 100" },
		{ "huge offset", "ts_thread_id 152 8", "ts_thread_id 99999999999 8" },
	};

	xsnprintf(dir, sizeof dir, "%s/cache", tmp);
	setenv("GILSNOOP_CACHE_DIR", dir, 1);
	gs_layout_init(&l);
	if (gs_layout_from_table(3, 13, 0, 0, &l, detail, sizeof detail) != 0) {
		skip("cache: no 3.13 table to round-trip");
		return;
	}
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1, "cache miss before store");
	UNIT_EQ_INT(gs_layout_cache_store(bid, &l), 0, "cache store");
	UNIT_CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
		   "cache dir created 0700");
	gs_layout_cache_path(bid, path, sizeof path);
	xsnprintf(want, sizeof want, "%s/%s.layout", dir, bid);
	UNIT_EQ_STR(path, want, "cache path is DIR/BUILDID.layout");
	gs_layout_init(&back);
	t0 = now_ms();
	if (UNIT_EQ_INT(gs_layout_cache_load(bid, &back), 0, "cache load"))
		UNIT_DIAG("cache load in %.3f ms", now_ms() - t0);
	UNIT_CHECK(same_layout(&l, &back), "cache round trip is exact");
	UNIT_EQ_INT(back.holds_gil_mask, 0x20, "mask survives the round trip");

	/* A plain-int holds_gil (3.14+) gets an all-ones mask; a 64-bit
	 * one needs the unsigned encoding. */
	l.ts_holds_gil.size = 8;
	l.ts_holds_gil.off = 296;
	l.holds_gil_mask = ~0ULL;
	UNIT_EQ_INT(gs_layout_cache_store(bid, &l), 0, "store with top-bit mask");
	UNIT_CHECK(gs_layout_cache_load(bid, &back) == 0 &&
		   back.holds_gil_mask == ~0ULL, "top-bit mask round trip");
	gs_layout_from_table(3, 13, 0, 0, &l, detail, sizeof detail);
	gs_layout_cache_store(bid, &l);

	if (!slurp(path)) {
		skip("cache: cannot read the stored file");
		return;
	}
	xsnprintf(good, sizeof good, "%s", slurp(path));
	for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
		char name[128];
		xsnprintf(bad, sizeof bad, "%s", good);
		replace(bad, sizeof bad, corrupt[i].from, corrupt[i].to);
		if (strcmp(bad, good) == 0) {
			xsnprintf(name, sizeof name, "corrupt cache: %s (pattern not found)",
				 corrupt[i].name);
			UNIT_CHECK(0, name);
			continue;
		}
		write_file(path, bad);
		xsnprintf(name, sizeof name, "corrupt cache refused: %s",
			 corrupt[i].name);
		UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1, name);
	}
	/* Truncated: the last line (gil_size) is gone. */
	xsnprintf(bad, sizeof bad, "%s", good);
	bad[strlen(bad) - 1] = 0;
	*strrchr(bad, '\n') = 0;
	strcat(bad, "\n");
	write_file(path, bad);
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1,
		    "corrupt cache refused: truncated");
	/* Unterminated last line, as after a crash mid-write. */
	xsnprintf(bad, sizeof bad, "%s", good);
	bad[strlen(bad) - 1] = 0;
	write_file(path, bad);
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1,
		    "corrupt cache refused: unterminated line");
	/* Right content, but writable by others. */
	write_file(path, good);
	chmod(path, 0666);
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1,
		    "world-writable cache file refused");
	chmod(path, 0600);
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), 0, "restored file loads");

	UNIT_EQ_INT(gs_layout_cache_store("../../etc/x", &l), -1,
		    "build-id that is not hex refused");
	setenv("GILSNOOP_CACHE_DIR", "/proc/no/such/dir", 1);
	UNIT_EQ_INT(gs_layout_cache_store(bid, &l), -1,
		    "unwritable cache dir: store fails quietly");
	UNIT_EQ_INT(gs_layout_cache_load(bid, &back), -1,
		    "unwritable cache dir: load misses");
	unsetenv("GILSNOOP_CACHE_DIR");
}

static void test_tables(void)
{
	char detail[512], why[256], name[128];
	struct gs_layout l, l13;
	int n = 0;

	for (int minor = 6; minor <= 13; minor++) {
		gs_layout_init(&l);
		if (gs_layout_from_table(3, minor, 0, 0, &l, detail, sizeof detail) != 0)
			continue;
		n++;
		xsnprintf(name, sizeof name, "table 3.%d passes gs_layout_check", minor);
		UNIT_EQ_INT(gs_layout_check(&l, why, sizeof why), 0, name);
		xsnprintf(name, sizeof name, "table 3.%d complete for its version", minor);
		UNIT_EQ_STR(gs_layout_missing(&l, 3, minor), NULL, name);
	}
	UNIT_CHECK(n > 0, "at least one generated table");

	gs_layout_init(&l13);
	if (gs_layout_from_table(3, 13, 0, 0, &l13, detail, sizeof detail) != 0) {
		skip("tables: no 3.13 table");
		return;
	}
	gs_layout_init(&l);
	UNIT_EQ_INT(gs_layout_from_table(3, 14, 0, 1, &l, detail, sizeof detail),
		    1, "3.14 falls back to the nearest older table");
	UNIT_CHECK(same_layout(&l, &l13), "nearest older for 3.14 is 3.13");
	UNIT_CHECK(strstr(detail, "nearest") != NULL, "detail says nearest");
	UNIT_EQ_INT(gs_layout_from_table(3, 14, 0, 0, &l, detail, sizeof detail),
		    -1, "3.14 without nearest: no table");
	UNIT_EQ_INT(gs_layout_from_table(3, 5, 0, 1, &l, detail, sizeof detail),
		    -1, "3.5: nothing older");
	UNIT_EQ_INT(gs_layout_from_table(3, 13, 1, 1, &l, detail, sizeof detail),
		    -1, "no default-build table stands in for free-threaded");
}

int main(void)
{
	const char *root = getenv("PYENV_ROOT"), *home = getenv("HOME");
	char tmp[] = "/tmp/gs-test-dwarf-XXXXXX", cmd[PATH_MAX];

	if (root && root[0])
		xsnprintf(pyenv, sizeof pyenv, "%s", root);
	else
		xsnprintf(pyenv, sizeof pyenv, "%s/.pyenv", home ? home : "/root");

	test_pyenv_builds();
	test_tables();
	if (!mkdtemp(tmp)) {
		UNIT_CHECK(0, "mkdtemp");
		return unit_done();
	}
	test_cache(tmp);
	test_bitfields(tmp);
	test_split(tmp);
	xsnprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		UNIT_DIAG("could not remove %s", tmp);
	return unit_done();
}
