/* Build-id cache of DWARF layouts.
 *
 * One small text file per build-id:
 *
 *     gilsnoop-layout-cache FORMAT PACKAGE_VERSION
 *     build-id HEX
 *     rt_interpreters_head 24 8        (struct gs_field: name off size)
 *     holds_gil_mask 0                 (64-bit scalar: name value)
 *     ...
 *
 * The field names come from gs_layout_fields, so the file follows
 * struct gs_layout without edits here.  A file is accepted only when
 * every line parses, every field appears exactly once and the result
 * passes gs_layout_check(): the file may be truncated, hand-edited or
 * written by an older gilsnoop whose DWARF reader had a bug, which is
 * also why the package version is part of the header.
 *
 * Caching is an optimisation only: every failure here returns -1 and the
 * caller reads DWARF instead. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"

/* Bump when the meaning of a cached value changes without a change of
 * PACKAGE_VERSION (development builds). */
#define GS_CACHE_FORMAT 2
#define GS_CACHE_MAX_BYTES 8192

static int valid_build_id(const char *b)
{
	size_t n = b ? strlen(b) : 0;
	/* Also keeps the file name inside the cache directory. */
	return n >= 2 && n <= 128 && strspn(b, "0123456789abcdef") == n;
}

/* Only a directory we own and nobody else can write to: a file planted
 * there would steer which target memory we read and how we label it. */
static int dir_is_ours(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid() && (st.st_mode & 022) == 0;
}

static int owned_by_us(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid();
}

/* The cache directory, creating it (and an XDG/HOME ".cache" parent)
 * when create is set.  Under sudo without -H, HOME is the invoking
 * user's: refuse to put root-owned files there (parent not ours). */
static int cache_dir(char *buf, size_t n, int create)
{
	const char *env = getenv("GILSNOOP_CACHE_DIR"), *xdg, *home;
	char parent[PATH_MAX];
	int len;

	if (env && env[0]) {
		len = snprintf(buf, n, "%s", env);
		if (len < 0 || (size_t)len >= n)
			return -1;
		if (create)
			mkdir(buf, 0700);
		return dir_is_ours(buf) ? 0 : -1;
	}
	xdg = getenv("XDG_CACHE_HOME");
	home = getenv("HOME");
	/* The XDG spec says to ignore a relative XDG_CACHE_HOME. */
	if (xdg && xdg[0] == '/')
		len = snprintf(parent, sizeof parent, "%s", xdg);
	else if (home && home[0] == '/')
		len = snprintf(parent, sizeof parent, "%s/.cache", home);
	else
		return -1;
	if (len < 0 || (size_t)len >= sizeof parent)
		return -1;
	len = snprintf(buf, n, "%s/gilsnoop", parent);
	if (len < 0 || (size_t)len >= n)
		return -1;
	if (create && !dir_is_ours(buf)) {
		if (mkdir(parent, 0700) != 0 && errno != EEXIST)
			return -1;
		if (!owned_by_us(parent))
			return -1;
		mkdir(buf, 0700);
	}
	return dir_is_ours(buf) ? 0 : -1;
}

static int file_path(const char *dir, const char *build_id, char *buf,
		     size_t n)
{
	int len = snprintf(buf, n, "%s/%s.layout", dir, build_id);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

void gs_layout_cache_path(const char *build_id, char *buf, size_t n)
{
	char dir[PATH_MAX];

	if (!n)
		return;
	buf[0] = 0;
	if (!valid_build_id(build_id) || cache_dir(dir, sizeof dir, 0) != 0 ||
	    file_path(dir, build_id, buf, n) != 0)
		snprintf(buf, n, "(no cache for build-id %s)",
			 build_id ? build_id : "?");
}

static int parse_i64(const char *s, char **end, int64_t *v)
{
	long long x;

	if (*s == ' ' || *s == '\t' || *s == '+' || *s == 0)
		return -1; /* strtoll would skip or accept these */
	errno = 0;
	x = strtoll(s, end, 10);
	if (errno || *end == s)
		return -1;
	*v = x;
	return 0;
}

/* One "name value [value]" line into l; seen[] guards duplicates. */
static int parse_line(char *line, struct gs_layout *l, unsigned char *seen)
{
	char *sp = strchr(line, ' '), *p, *end;
	const struct gs_layout_field *f;
	int64_t a, b;
	size_t idx;

	if (!sp)
		return -1;
	*sp = 0;
	f = gs_layout_field_by_name(line);
	if (!f)
		return -1;
	idx = (size_t)(f - gs_layout_fields);
	if (seen[idx]++)
		return -1;
	p = sp + 1;
	if (*p == ' ' || *p == '\t' || *p == '+' || *p == 0)
		return -1;
	if (f->kind == GS_LF_U64) {
		uint64_t u;
		/* Unsigned: a mask may use the top bit; strtoull would
		 * silently negate a leading '-'. */
		if (*p == '-')
			return -1;
		errno = 0;
		u = strtoull(p, &end, 10);
		if (errno || end == p || *end)
			return -1;
		memcpy((char *)l + f->offset, &u, sizeof u);
		return 0;
	}
	if (parse_i64(p, &end, &a) != 0)
		return -1;
	if (f->kind == GS_LF_I64) {
		if (*end)
			return -1;
		memcpy((char *)l + f->offset, &a, sizeof a);
		return 0;
	}
	if (*end != ' ' || parse_i64(end + 1, &end, &b) != 0 || *end)
		return -1;
	/* Absent fields are written as "-1 0"; nothing else negative. */
	if (a == GS_NOFF ? b != 0 : (a < 0 || b <= 0))
		return -1;
	{
		struct gs_field *g = (struct gs_field *)((char *)l + f->offset);
		g->off = a;
		g->size = b;
	}
	return 0;
}

static int parse(char *text, const char *build_id, struct gs_layout *out,
		 char *why, size_t wn)
{
	unsigned char seen[256] = { 0 };
	char header[96], bidline[160], *line, *nl;
	struct gs_layout l;
	int lineno = 0;

	if (gs_layout_nfields > sizeof seen)
		return -1;
	snprintf(header, sizeof header, "gilsnoop-layout-cache %d %s",
		 GS_CACHE_FORMAT, PACKAGE_VERSION);
	snprintf(bidline, sizeof bidline, "build-id %s", build_id);
	gs_layout_init(&l);
	for (line = text; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			snprintf(why, wn, "last line unterminated");
			return -1;
		}
		*nl = 0;
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, header) != 0) {
				snprintf(why, wn, "header is not \"%s\"", header);
				return -1;
			}
		} else if (lineno == 2) {
			if (strcmp(line, bidline) != 0) {
				snprintf(why, wn, "written for another build-id");
				return -1;
			}
		} else if (parse_line(line, &l, seen) != 0) {
			snprintf(why, wn, "bad line %d", lineno);
			return -1;
		}
	}
	for (size_t i = 0; i < gs_layout_nfields; i++) {
		if (!seen[i]) {
			snprintf(why, wn, "no %s line", gs_layout_fields[i].name);
			return -1;
		}
	}
	if (gs_layout_check(&l, why, wn) != 0)
		return -1;
	*out = l;
	return 0;
}

int gs_layout_cache_load(const char *build_id, struct gs_layout *out)
{
	char dir[PATH_MAX], path[PATH_MAX], text[GS_CACHE_MAX_BYTES + 1],
		why[160];
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if (!valid_build_id(build_id) || cache_dir(dir, sizeof dir, 0) != 0 ||
	    file_path(dir, build_id, path, sizeof path) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) ||
	    st.st_size > GS_CACHE_MAX_BYTES) {
		close(fd);
		gs_debug("ignoring cache file %s: not a private regular file "
			 "of ours, or too large", path);
		return -1;
	}
	while (got < GS_CACHE_MAX_BYTES &&
	       (n = read(fd, text + got, GS_CACHE_MAX_BYTES - got)) > 0)
		got += (size_t)n;
	close(fd);
	text[got] = 0;
	if (strlen(text) != got) {
		gs_debug("ignoring cache file %s: contains NUL bytes", path);
		return -1;
	}
	if (parse(text, build_id, out, why, sizeof why) != 0) {
		gs_debug("ignoring cache file %s: %s", path, why);
		return -1;
	}
	return 0;
}

int gs_layout_cache_store(const char *build_id, const struct gs_layout *l)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], why[160];
	FILE *f;
	int fd, len, bad = 0;

	if (!valid_build_id(build_id) || gs_layout_check(l, why, sizeof why) != 0)
		return -1;
	if (cache_dir(dir, sizeof dir, 1) != 0 ||
	    file_path(dir, build_id, path, sizeof path) != 0)
		return -1;
	len = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	if (len < 0 || (size_t)len >= sizeof tmp)
		return -1;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, "gilsnoop-layout-cache %d %s\nbuild-id %s\n",
		GS_CACHE_FORMAT, PACKAGE_VERSION, build_id);
	for (size_t i = 0; i < gs_layout_nfields; i++) {
		const struct gs_layout_field *d = &gs_layout_fields[i];
		if (d->kind == GS_LF_U64) {
			uint64_t v;
			memcpy(&v, (const char *)l + d->offset, sizeof v);
			fprintf(f, "%s %" PRIu64 "\n", d->name, v);
		} else if (d->kind == GS_LF_I64) {
			int64_t v;
			memcpy(&v, (const char *)l + d->offset, sizeof v);
			fprintf(f, "%s %" PRId64 "\n", d->name, v);
		} else {
			const struct gs_field *g = gs_layout_field_get(l, d);
			fprintf(f, "%s %" PRId64 " %" PRId64 "\n", d->name,
				g->off, g->off == GS_NOFF ? (int64_t)0 : g->size);
		}
	}
	if (ferror(f))
		bad = 1;
	if (fclose(f) != 0)
		bad = 1;
	/* rename() makes the file appear complete or not at all, so a
	 * concurrent gilsnoop never reads half of it. */
	if (bad || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}
