/* The live /proc (each entry is the system call it names), and the
 * wording of a failed /proc read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.h"
#include "proc/procfs.h"

static int live_open(void *ctx, const char *path)
{
	(void)ctx;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static ssize_t live_pread(void *ctx, int fd, void *buf, size_t n)
{
	(void)ctx;
	return pread(fd, buf, n, 0);
}

static void live_close(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

static int live_nlink(void *ctx, int fd, uint64_t *out)
{
	struct stat st;
	(void)ctx;
	if (fstat(fd, &st) != 0)
		return -1;
	*out = (uint64_t)st.st_nlink;
	return 0;
}

static ssize_t live_readlink(void *ctx, const char *path, char *buf, size_t n)
{
	(void)ctx;
	return readlink(path, buf, n);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static ssize_t live_list(void *ctx, const char *path, pid_t **out)
{
	(void)ctx;
	DIR *d = opendir(path);
	if (!d)
		return -1;
	size_t n = 0, cap = 64;
	pid_t *v = malloc(cap * sizeof *v);
	struct dirent *de;
	while (v && (de = readdir(d))) {
		char *e;
		long id = strtol(de->d_name, &e, 10);
		if (*e || id <= 0)
			continue;
		if (n == cap) {
			pid_t *nv = realloc(v, 2 * cap * sizeof *v);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		v[n++] = (pid_t)id;
	}
	closedir(d);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	qsort(v, n, sizeof *v, cmp_pid);
	*out = v;
	return (ssize_t)n;
}

const struct gs_procfs gs_procfs_live = {
	.ctx = NULL,
	.open = live_open,
	.pread = live_pread,
	.close = live_close,
	.nlink = live_nlink,
	.readlink = live_readlink,
	.list = live_list,
};

int gs_proc_errno_fail(pid_t pid, int err, const char *what)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
		return gs_fail(GS_ENOPROC, "no process with pid %d", (int)pid);
	case EACCES:
	case EPERM:
		return gs_fail(GS_EPERM, "permission denied reading %s of process "
			       "%d: " GS_PERM_HINT, what, (int)pid);
	default:
		return gs_fail(GS_EFAIL, "cannot read %s of process %d: %s", what,
			       (int)pid, strerror(err));
	}
}
