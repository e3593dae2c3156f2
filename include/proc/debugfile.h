/* Where the debug information of a mapped object lives, as the target's
 * distribution installs it, looked for under the target's root: the
 * build-id file ROOT/usr/lib/debug/.build-id/xx/rest.debug (its build-id
 * checked), then the .gnu_debuglink name next to the object, in its
 * .debug/ directory and under ROOT/usr/lib/debug/DIR/ (its CRC checked).
 * Files are opened only when they are regular files once open. */
#ifndef GS_DEBUGFILE_H
#define GS_DEBUGFILE_H

#include <stddef.h>
#include <stdint.h>

/* open(2) path read-only, only if it is a regular file once open: a FIFO
 * or a device swapped in under the target's root cannot block gilsnoop.
 * Returns the descriptor, or -1 with errno (ENOEXEC: not a regular file). */
int gs_open_regular(const char *path);
/* stat(2) says path is a regular file. */
int gs_is_regular(const char *path);
/* The CRC-32 of the whole file, as .gnu_debuglink records it.  0, or -1. */
int gs_file_crc32(const char *path, uint32_t *out);
/* n bytes as lowercase hex into out (2n+1 bytes): a build-id's name. */
void gs_hex(const unsigned char *p, size_t n, char *out);
/* The CRC-32 update step (zlib's polynomial), for the file CRC above. */
uint32_t gs_crc32_update(uint32_t crc, const unsigned char *p, size_t n);

struct gs_debug_search {
	const char *root;      /* "/proc/PID/root", or "" for the host */
	const char *object;    /* the object as opened (under root) */
	const char *build_id;  /* lowercase hex, or NULL/"" */
	const char *link;      /* .gnu_debuglink name, or NULL */
	uint32_t crc;          /* its CRC */
	int step;              /* where the search is; start at 0 */
};

/* The next candidate that exists and matches (build-id or CRC), in the
 * order above: 0 with its path in buf, or -1 when none is left. */
int gs_debug_next(struct gs_debug_search *s, char *buf, size_t n);

#endif
