/* Finding an object's separate debug file under the target's root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.h"
#include "proc/debugfile.h"
#include "proc/elfobj.h"

uint32_t gs_crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	static uint32_t table[256];
	static int ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void gs_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

int gs_open_regular(const char *path)
{
	struct stat st;
	/* O_NONBLOCK: the open of a FIFO must not wait for a writer; the
	 * fstat after it, not a stat before it, is what cannot be raced. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = ENOEXEC;
		return -1;
	}
	return fd;
}

int gs_is_regular(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int gs_file_crc32(const char *path, uint32_t *out)
{
	unsigned char buf[65536];
	uint32_t crc = 0;
	ssize_t n;
	int fd = gs_open_regular(path);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		crc = gs_crc32_update(crc, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return -1;
	*out = crc;
	return 0;
}

/* A truncated path could name some other file: it counts as none. */
static int fits(int len, size_t n)
{
	return len >= 0 && (size_t)len < n;
}

static int build_id_matches(const char *path, const char *want)
{
	struct gs_elf *e;
	char bid[2 * 64 + 1];
	int ok = 0;

	if (!gs_is_regular(path))
		return 0;
	if (gs_elf_open(path, &e) != 0) {
		/* Not an error of the command: just not this candidate. */
		gs_clear_error();
		return 0;
	}
	ok = gs_elf_build_id(e, bid, sizeof bid) == 0 && strcmp(bid, want) == 0;
	gs_elf_close(e);
	return ok;
}

static int crc_matches(const struct gs_debug_search *s, const char *path)
{
	uint32_t crc;
	/* The link may name the object itself (objcopy
	 * --add-gnu-debuglink of a same-named file in place). */
	if (!gs_is_regular(path) || strcmp(path, s->object) == 0)
		return 0;
	return gs_file_crc32(path, &crc) == 0 && crc == s->crc;
}

int gs_debug_next(struct gs_debug_search *s, char *buf, size_t n)
{
	const char *root = s->root ? s->root : "";
	const char *obj = s->object ? s->object : "";
	const char *slash = strrchr(obj, '/');
	int dl = slash ? (int)(slash - obj) : 1;
	const char *dir = slash ? obj : ".";
	/* The object's directory as the target sees it. */
	size_t rl = strlen(root);
	const char *in = obj;
	if (rl && strncmp(in, root, rl) == 0 && in[rl] == '/')
		in += rl;
	const char *islash = strrchr(in, '/');
	int il = islash ? (int)(islash - in) : 0;

	while (s->step < 4) {
		int step = s->step++, len = -1;
		if (step == 0) {
			const char *b = s->build_id;
			if (!b || strlen(b) <= 2 ||
			    strspn(b, "0123456789abcdef") != strlen(b))
				continue;
			len = snprintf(buf, n, "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
				       root, b, b + 2);
			if (fits(len, n) && build_id_matches(buf, b))
				return 0;
			continue;
		}
		/* A debuglink is a file name; one with a '/' could point
		 * anywhere. */
		if (!s->link || !s->link[0] || strchr(s->link, '/'))
			continue;
		if (step == 1)
			len = snprintf(buf, n, "%.*s/%s", dl, dir, s->link);
		else if (step == 2)
			len = snprintf(buf, n, "%.*s/.debug/%s", dl, dir, s->link);
		else
			len = snprintf(buf, n, "%s/usr/lib/debug%.*s/%s", root, il,
				       in, s->link);
		if (fits(len, n) && crc_matches(s, buf))
			return 0;
	}
	if (n)
		buf[0] = 0;
	return -1;
}
