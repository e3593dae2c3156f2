/* Reading a small file whole: /proc files are generated on each read,
 * so one read(2) of a large enough buffer sees one consistent text. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "proc/readfile.h"

ssize_t gs_read_file(const char *path, char *buf, size_t n)
{
	ssize_t r;
	int fd, err;

	if (!n) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	do
		r = read(fd, buf, n - 1);
	while (r < 0 && errno == EINTR);
	err = errno;
	close(fd);
	if (r < 0) {
		errno = err;
		return -1;
	}
	buf[r] = 0;
	return r;
}
