/* A small file (a /proc one) read whole in one go. */
#ifndef GS_READFILE_H
#define GS_READFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Read path into buf (n bytes, NUL included), NUL-terminated.  Returns
 * the length, or -1 with errno (an empty file is 0). */
ssize_t gs_read_file(const char *path, char *buf, size_t n);

#endif
