/* gen-layout-tables: write src/layout/tables.c from CPython builds that
 * carry DWARF.
 *
 * Each input goes through gs_layout_from_dwarf(), the reader gilsnoop
 * itself runs against a live target, so a table can never disagree with
 * what gilsnoop would have read from the same build's debug info.  The
 * member list comes from gs_layout_fields, like the build-id cache's.
 *
 * Usage: gen-layout-tables [-o FILE] [[-V 3.N[t]] LIBPYTHON]...
 * See tools/README.md. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/elfobj.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"

struct entry {
	int major, minor, free_threaded;
	struct gs_layout layout;
	char path[PATH_MAX];
	char build_id[2 * 64 + 1];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gen-layout-tables [-o FILE] [[-V 3.N[t]] LIBPYTHON]...\n"
		"\n"
		"Reads the field layout of each CPython build from its DWARF and\n"
		"writes the C source of gilsnoop's fallback tables (default: stdout).\n"
		"The version comes from the file name (libpython3.11.so.1.0,\n"
		"libpython3.13t.so, python3.12); -V gives it for the next file.\n"
		"A 't' suffix marks a free-threaded build.  Debug builds ('d') are\n"
		"refused: their structs differ from the release builds the tables\n"
		"stand in for.\n");
}

/* "3.13t" -> 3, 13, 1.  Trailing ABI flags other than 't' are returned
 * in flags so the caller can refuse 'd'. */
static int parse_version(const char *s, int *major, int *minor, int *ft,
			 char *flags, size_t nflags, const char **rest)
{
	char *end;
	long ma, mi;
	size_t nf = 0;

	errno = 0;
	ma = strtol(s, &end, 10);
	if (end == s || *end != '.' || ma != 3 || errno)
		return -1;
	s = end + 1;
	mi = strtol(s, &end, 10);
	if (end == s || mi < 0 || mi > 99 || errno)
		return -1;
	*major = (int)ma;
	*minor = (int)mi;
	*ft = 0;
	while (*end && strchr("dmtu", *end)) {
		if (*end == 't')
			*ft = 1;
		if (nf + 1 < nflags)
			flags[nf++] = *end;
		end++;
	}
	if (nflags)
		flags[nf] = 0;
	if (rest)
		*rest = end;
	return 0;
}

static int version_from_name(const char *path, int *major, int *minor,
			     int *ft, char *flags, size_t nflags)
{
	const char *base = strrchr(path, '/'), *p, *rest;

	base = base ? base + 1 : path;
	if (strncmp(base, "libpython", 9) == 0)
		p = base + 9;
	else if (strncmp(base, "python", 6) == 0)
		p = base + 6;
	else
		return -1;
	if (parse_version(p, major, minor, ft, flags, nflags, &rest) != 0)
		return -1;
	/* libpython3.11.so.1.0, libpython3.11.a is no shared object but
	 * python3.11 / python3.11-gdb are fine. */
	return *rest == 0 || strncmp(rest, ".so", 3) == 0 ? 0 : -1;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->major != y->major)
		return x->major - y->major;
	if (x->minor != y->minor)
		return x->minor - y->minor;
	return x->free_threaded - y->free_threaded;
}

static void put_c_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			fprintf(f, "\\%03o", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Paths go into a C comment too; a "*" "/" pair would end it. */
static void put_comment_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (s[0] == '*' && s[1] == '/')
			fputs("*_", f);
		else if ((unsigned char)*s < 0x20)
			fputc('?', f);
		else
			fputc(*s, f);
	}
}

static const char lookup_code[] =
	"int gs_layout_from_table(int major, int minor, int free_threaded, int nearest,\n"
	"\t\t\t struct gs_layout *out, char *detail, size_t detail_len)\n"
	"{\n"
	"\tconst struct gs_layout_table *best = NULL;\n"
	"\n"
	"\tfor (const struct gs_layout_table *t = gs_layout_tables; t->major; t++) {\n"
	"\t\tif (t->major != major || t->free_threaded != !!free_threaded)\n"
	"\t\t\tcontinue;\n"
	"\t\tif (t->minor == minor) {\n"
	"\t\t\tbest = t;\n"
	"\t\t\tbreak;\n"
	"\t\t}\n"
	"\t\t/* Only older: a newer table's fields may not exist yet. */\n"
	"\t\tif (nearest && t->minor < minor &&\n"
	"\t\t    (!best || t->minor > best->minor))\n"
	"\t\t\tbest = t;\n"
	"\t}\n"
	"\tif (!best) {\n"
	"\t\tif (detail && detail_len)\n"
	"\t\t\tsnprintf(detail, detail_len,\n"
	"\t\t\t\t \"no generated table for %d.%d (%s build)%s\",\n"
	"\t\t\t\t major, minor, free_threaded ? \"free-threaded\" : \"default\",\n"
	"\t\t\t\t nearest ? \" nor an older one\" : \"\");\n"
	"\t\treturn -1;\n"
	"\t}\n"
	"\t*out = best->layout;\n"
	"\tif (detail && detail_len)\n"
	"\t\tsnprintf(detail, detail_len, \"%stable %d.%d%s, %s\",\n"
	"\t\t\t best->minor == minor ? \"\" : \"nearest older \",\n"
	"\t\t\t best->major, best->minor, best->free_threaded ? \"t\" : \"\",\n"
	"\t\t\t best->origin);\n"
	"\treturn best->minor == minor ? 0 : 1;\n"
	"}\n";

static int write_tables(FILE *f, const struct entry *e, size_t n,
			char **argv_all, int argc_all)
{
	fputs("/* GENERATED by tools/gen-layout-tables -- do not edit by hand.\n"
	      " *\n"
	      " * Regenerate with `make layout-tables` (see tools/README.md) after\n"
	      " * adding a CPython version or a field to struct gs_layout.  This\n"
	      " * file was written by:\n *   tools/gen-layout-tables", f);
	for (int i = 1; i < argc_all; i++) {
		int opt = argv_all[i][0] == '-' && i + 1 < argc_all;
		fputs(" \\\n *     ", f);
		put_comment_text(f, argv_all[i]);
		if (opt) {
			fputc(' ', f);
			put_comment_text(f, argv_all[++i]);
		}
	}
	fputc('\n', f);
	fputs(" *\n"
	      " * These offsets are the last resort, for stripped builds without\n"
	      " * _Py_DebugOffsets: they hold for the builds below and for builds\n"
	      " * of the same minor version configured the same way. */\n"
	      "#include <stddef.h>\n"
	      "#include <stdio.h>\n"
	      "\n"
	      "#include \"layout/layout.h\"\n"
	      "#include \"layout/sources.h\"\n"
	      "\n"
	      "struct gs_layout_table {\n"
	      "\tint major, minor, free_threaded;\n"
	      "\tstruct gs_layout layout;\n"
	      "\tconst char *origin;\n"
	      "};\n"
	      "\n"
	      "/* Ends with a zero entry (major 0). */\n"
	      "static const struct gs_layout_table gs_layout_tables[] = {\n", f);
	for (size_t i = 0; i < n; i++) {
		char origin[PATH_MAX + 200];

		fprintf(f, "\t{ %d, %d, %d, {\n", e[i].major, e[i].minor,
			e[i].free_threaded);
		for (size_t k = 0; k < gs_layout_nfields; k++) {
			const struct gs_layout_field *d = &gs_layout_fields[k];
			const char *base = (const char *)&e[i].layout + d->offset;
			if (d->kind == GS_LF_FIELD) {
				const struct gs_field *g = (const struct gs_field *)(const void *)base;
				fprintf(f, "\t\t.%s = { %" PRId64 ", %" PRId64 " },\n",
					d->name, g->off,
					g->off == GS_NOFF ? (int64_t)0 : g->size);
			} else if (d->kind == GS_LF_U64) {
				uint64_t v;
				memcpy(&v, base, sizeof v);
				fprintf(f, "\t\t.%s = %#" PRIx64 "u,\n", d->name, v);
			} else {
				int64_t v;
				memcpy(&v, base, sizeof v);
				fprintf(f, "\t\t.%s = %" PRId64 ",\n", d->name, v);
			}
		}
		snprintf(origin, sizeof origin, "generated from %s build-id %s",
			 e[i].path, e[i].build_id[0] ? e[i].build_id : "(none)");
		fputs("\t}, ", f);
		put_c_string(f, origin);
		fputs(" },\n", f);
	}
	fputs("\t{ 0 },\n"
	      "};\n"
	      "\n", f);
	fputs(lookup_code, f);
	return ferror(f) ? -1 : 0;
}

static int same_layout(const struct gs_layout *a, const struct gs_layout *b)
{
	for (size_t k = 0; k < gs_layout_nfields; k++) {
		const struct gs_layout_field *d = &gs_layout_fields[k];
		const char *pa = (const char *)a + d->offset;
		const char *pb = (const char *)b + d->offset;
		if (d->kind == GS_LF_FIELD) {
			const struct gs_field *x = (const struct gs_field *)(const void *)pa;
			const struct gs_field *y = (const struct gs_field *)(const void *)pb;
			if (x->off != y->off ||
			    (x->off != GS_NOFF && x->size != y->size))
				return 0;
		} else if (memcmp(pa, pb, sizeof(int64_t)) != 0) {
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	const char *out_path = NULL, *forced = NULL;
	struct entry *e = calloc((size_t)argc, sizeof *e);
	size_t n = 0;
	int failed = 0;

	if (!e)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char flags[8], detail[2048];
		struct entry *x = &e[n];
		struct gs_elf *elf;
		int split, dup = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "-o") == 0 && i + 1 < argc) {
			out_path = argv[++i];
			continue;
		}
		if (strcmp(a, "-V") == 0 && i + 1 < argc) {
			forced = argv[++i];
			continue;
		}
		if (a[0] == '-') {
			usage(stderr);
			return 2;
		}
		if (forced ? parse_version(forced, &x->major, &x->minor,
					   &x->free_threaded, flags,
					   sizeof flags, NULL)
			   : version_from_name(a, &x->major, &x->minor,
					       &x->free_threaded, flags,
					       sizeof flags)) {
			fprintf(stderr, "gen-layout-tables: %s: cannot tell the "
				"Python version; give it with -V 3.N\n",
				forced ? forced : a);
			failed = 1;
			forced = NULL;
			continue;
		}
		forced = NULL;
		if (strchr(flags, 'd')) {
			fprintf(stderr, "gen-layout-tables: %s: skipping a debug "
				"build\n", a);
			continue;
		}
		snprintf(x->path, sizeof x->path, "%s", a);
		if (gs_elf_open(a, &elf) != 0) {
			fprintf(stderr, "gen-layout-tables: %s\n", gs_last_error());
			failed = 1;
			continue;
		}
		if (gs_elf_build_id(elf, x->build_id, sizeof x->build_id) != 0)
			x->build_id[0] = 0;
		gs_elf_close(elf);

		gs_layout_init(&x->layout);
		if (gs_layout_from_dwarf(a, "", x->build_id, x->major, x->minor,
					 &x->layout, &split, detail,
					 sizeof detail) != 0) {
			fprintf(stderr, "gen-layout-tables: %s (%d.%d): %s\n", a,
				x->major, x->minor, detail);
			failed = 1;
			continue;
		}
		/* A free-threaded GIL struct starts with `int enabled`. */
		if (x->free_threaded != (x->layout.gil_interval.off > 0))
			fprintf(stderr, "gen-layout-tables: warning: %s: GIL "
				"interval at +%" PRId64 " for a %s build\n", a,
				x->layout.gil_interval.off,
				x->free_threaded ? "free-threaded" : "default");

		for (size_t k = 0; k < n; k++) {
			if (cmp_entry(&e[k], x) != 0)
				continue;
			dup = 1;
			if (!same_layout(&e[k].layout, &x->layout)) {
				fprintf(stderr, "gen-layout-tables: %s and %s are both "
					"%d.%d%s but differ in layout; pass only one\n",
					e[k].path, a, x->major, x->minor,
					x->free_threaded ? "t" : "");
				failed = 1;
			}
		}
		fprintf(stderr, "gen-layout-tables: %d.%d%s %s%s\n", x->major,
			x->minor, x->free_threaded ? "t" : "", a,
			dup ? " (same layout as an earlier input, skipped)" :
			split ? " (split debug info)" : "");
		if (!dup)
			n++;
	}
	if (failed) {
		fprintf(stderr, "gen-layout-tables: not writing %s\n",
			out_path ? out_path : "the tables");
		return 1;
	}
	qsort(e, n, sizeof *e, cmp_entry);

	if (!out_path)
		return write_tables(stdout, e, n, argv, argc) || fflush(stdout) ? 1 : 0;

	/* Write next to the target and rename, so that a failed run leaves
	 * the previous tables in place. */
	{
		char tmp[PATH_MAX];
		FILE *f;
		int len = snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
		if (len < 0 || (size_t)len >= sizeof tmp)
			return 1;
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "gen-layout-tables: %s: %s\n", tmp,
				strerror(errno));
			return 1;
		}
		if (write_tables(f, e, n, argv, argc) != 0 || fclose(f) != 0 ||
		    rename(tmp, out_path) != 0) {
			fprintf(stderr, "gen-layout-tables: writing %s failed\n",
				out_path);
			unlink(tmp);
			return 1;
		}
	}
	fprintf(stderr, "gen-layout-tables: wrote %zu tables to %s\n", n,
		out_path);
	free(e);
	return 0;
}
