/* The /proc files the sampler reads, behind one small table so that a
 * fuzz harness can serve it fake text (fuzz/fuzz_sampler.c).  The live
 * table is the bare system calls; the file descriptors it hands out are
 * real ones, a fake's are whatever it likes (>= 0). */
#ifndef GS_PROCFS_H
#define GS_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gs_procfs {
	void *ctx;
	/* open(path, O_RDONLY | O_CLOEXEC), of a file or a directory:
	 * the descriptor, or -1 with errno. */
	int (*open)(void *ctx, const char *path);
	/* pread(fd, buf, n, 0): the bytes read, or -1 with errno. */
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n);
	void (*close)(void *ctx, int fd);
	/* st_nlink of an open directory: 0, or -1 with errno. */
	int (*nlink)(void *ctx, int fd, uint64_t *out);
	/* readlink(path): the length (not terminated), or -1 with errno. */
	ssize_t (*readlink)(void *ctx, const char *path, char *buf, size_t n);
	/* The positive numeric entries of directory path, sorted, in a
	 * malloc'd array: the count, or -1 with errno. */
	ssize_t (*list)(void *ctx, const char *path, pid_t **out);
};

extern const struct gs_procfs gs_procfs_live;

/* What to tell a user who may not read a target: "permission denied
 * ...: " GS_PERM_HINT. */
#define GS_PERM_HINT "run as root or grant CAP_SYS_PTRACE (and check " \
	"/proc/sys/kernel/yama/ptrace_scope)"

/* Record, with gs_fail(), why /proc/PID's `what` could not be read
 * (errno err): no such process (GS_ENOPROC), permission (GS_EPERM) or
 * anything else (GS_EFAIL).  Returns the code. */
int gs_proc_errno_fail(pid_t pid, int err, const char *what);

#endif
