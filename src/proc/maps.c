/* /proc/PID/maps parsing.
 *
 * Line format (fs/proc/task_mmu.c, show_map_vma):
 *   start-end perms offset major:minor inode [padding path]
 * The path runs to the end of the line and may hold spaces; the kernel
 * escapes only '\n' in it, so a line never spans two lines.  It may end
 * in " (deleted)" when the file was unlinked or replaced after mapping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errors.h"
#include "proc/maps.h"
#include "proc/procfs.h"

#define DELETED_SUFFIX " (deleted)"

/* Parse a hex number of at most 16 digits; *p advances past it. */
static int parse_hex(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;
	while (s < end) {
		int c = (unsigned char)*s, d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (++n > 16)
			return -1;
		v = (v << 4) | (uint64_t)d;
		s++;
	}
	if (n == 0)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
		n++;
	}
	if (n == 0)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

/* One line, without its newline. */
static int parse_line(const char *s, const char *end, struct gs_map *m)
{
	uint64_t dev;

	memset(m, 0, sizeof *m);
	if (parse_hex(&s, end, &m->start) || expect(&s, end, '-') ||
	    parse_hex(&s, end, &m->end) || expect(&s, end, ' '))
		return -1;
	if (m->end < m->start)
		return -1;
	if (end - s < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		if (c != 'r' && c != 'w' && c != 'x' && c != 'p' && c != 's' &&
		    c != '-')
			return -1;
		m->perms[i] = c;
	}
	m->perms[4] = 0;
	s += 4;
	if (expect(&s, end, ' ') || parse_hex(&s, end, &m->offset) ||
	    expect(&s, end, ' ') || parse_hex(&s, end, &dev) ||
	    expect(&s, end, ':') || parse_hex(&s, end, &dev) ||
	    expect(&s, end, ' ') || parse_dec(&s, end, &m->inode))
		return -1;
	if (s < end && *s != ' ')
		return -1;
	while (s < end && *s == ' ')
		s++;
	size_t len = (size_t)(end - s);
	if (len >= sizeof m->path) {
		/* Cannot happen with a kernel-made line; a truncated path
		 * would name another file, so keep none rather than a wrong
		 * one. */
		return -1;
	}
	if (memchr(s, 0, len))
		return -1;
	memcpy(m->path, s, len);
	m->path[len] = 0;
	size_t sl = sizeof DELETED_SUFFIX - 1;
	m->deleted = len > sl && memcmp(m->path + len - sl, DELETED_SUFFIX, sl) == 0;
	return 0;
}

int gs_maps_parse(const char *text, size_t len, struct gs_maps *out)
{
	size_t cap = 0, lineno = 0;
	const char *p = text, *end = text + len;

	out->v = NULL;
	out->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		if (le == p) { /* blank line: nothing to say */
			p = le + 1;
			continue;
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct gs_map *nv = realloc(out->v, ncap * sizeof *nv);
			if (!nv) {
				gs_maps_free(out);
				return gs_fail(GS_EFAIL, "out of memory reading memory maps");
			}
			out->v = nv;
			cap = ncap;
		}
		if (parse_line(p, le, &out->v[out->n]) != 0) {
			gs_maps_free(out);
			return gs_fail(GS_EFAIL, "malformed line %zu in memory maps", lineno);
		}
		out->n++;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

void gs_maps_free(struct gs_maps *m)
{
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

int gs_maps_read(pid_t pid, struct gs_maps *out)
{
	char path[64];
	size_t cap = 1 << 16, len = 0;
	char *buf;
	int fd, rc;

	out->v = NULL;
	out->n = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gs_proc_errno_fail(pid, errno, "the memory maps");
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return gs_fail(GS_EFAIL, "out of memory reading memory maps");
	}
	for (;;) {
		if (len == cap) {
			char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return gs_fail(GS_EFAIL, "out of memory reading memory maps");
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			free(buf);
			close(fd);
			return gs_proc_errno_fail(pid, err, "the memory maps");
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	rc = gs_maps_parse(buf, len, out);
	free(buf);
	return rc;
}
