/* Per-thread kernel state.  The sampler reads these files thousands of
 * times a second, so descriptors stay open and every read is one pread
 * into a stack buffer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc/syscall_names.h"
#include "proc/procfs.h"
#include "proc/taskstat.h"

static int open_task_file(const struct gs_procfs *fs, pid_t pid, pid_t tid,
			  const char *name)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
	return fs->open(fs->ctx, path);
}

int gs_task_open(const struct gs_procfs *fs, struct gs_task *t, pid_t pid, pid_t tid)
{
	t->fs = fs;
	t->pid = pid;
	t->tid = tid;
	t->fd_stat = open_task_file(fs, pid, tid, "stat");
	if (t->fd_stat < 0)
		goto fail;
	/* syscall needs ptrace-read access; schedstat may be absent on
	 * kernels without CONFIG_SCHEDSTATS.  Both are optional. */
	t->fd_syscall = open_task_file(fs, pid, tid, "syscall");
	t->fd_schedstat = open_task_file(fs, pid, tid, "schedstat");
	return 0;
fail:
	t->fd_syscall = t->fd_schedstat = -1;
	return -1;
}

void gs_task_close(struct gs_task *t)
{
	int *fds[] = { &t->fd_stat, &t->fd_syscall, &t->fd_schedstat };
	for (size_t i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			t->fs->close(t->fs->ctx, *fds[i]);
		*fds[i] = -1;
	}
}

/* A task that has exited leaves its open files returning ESRCH or 0
 * bytes; both mean "gone". */
ssize_t gs_task_pread(const struct gs_task *t, int fd, char *buf, size_t n)
{
	ssize_t r = t->fs->pread(t->fs->ctx, fd, buf, n - 1);
	if (r == 0) {
		errno = ESRCH;
		return -1;
	}
	if (r > (ssize_t)(n - 1))
		r = (ssize_t)(n - 1); /* a fake that overran its buffer */
	if (r > 0)
		buf[r] = 0;
	return r;
}

int gs_parse_stat(const char *buf, size_t len, struct gs_taskstat *out)
{
	/* comm may hold spaces and parentheses: fields resume after the
	 * last ')'. */
	const char *end = buf + len;
	const char *p = NULL;
	for (const char *q = buf; q < end; q++)
		if (*q == ')')
			p = q;
	if (!p || p + 2 >= end)
		return -1;
	p += 2;
	out->state = *p;
	/* processor is field 39; state is field 3. */
	int field = 3;
	while (p < end && field < 39) {
		if (*p == ' ')
			field++;
		p++;
	}
	if (field != 39 || p >= end)
		return -1;
	/* Not strtol(): buf need not be NUL-terminated, and a last field
	 * of digits would be read on past len. */
	int cpu = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		if (cpu > (INT_MAX - 9) / 10)
			return -1;
		cpu = cpu * 10 + (*p++ - '0');
	}
	out->processor = cpu;
	return 0;
}

int gs_parse_syscall(const char *buf, size_t len, struct gs_taskstat *out)
{
	char tmp[256];
	if (len >= sizeof tmp)
		len = sizeof tmp - 1;
	memcpy(tmp, buf, len);
	tmp[len] = 0;
	memset(out->syscall_args, 0, sizeof out->syscall_args);
	if (strncmp(tmp, "running", 7) == 0) {
		out->syscall_nr = GS_SYSCALL_RUNNING;
		return 0;
	}
	char *p = tmp, *e;
	errno = 0;
	long nr = strtol(p, &e, 10);
	if (e == p || errno)
		return -1;
	if (nr < 0) {
		out->syscall_nr = GS_SYSCALL_NONE;
		return 0;
	}
	out->syscall_nr = nr;
	p = e;
	for (int i = 0; i < 6; i++) {
		out->syscall_args[i] = strtoull(p, &e, 16);
		if (e == p)
			return -1;
		p = e;
	}
	return 0;
}

int gs_parse_schedstat(const char *buf, size_t len, struct gs_taskstat *out)
{
	char tmp[128];
	if (len >= sizeof tmp)
		len = sizeof tmp - 1;
	memcpy(tmp, buf, len);
	tmp[len] = 0;
	/* strtoull, not sscanf: the sampler parses this at its full rate. */
	char *p = tmp, *e;
	errno = 0;
	unsigned long long run = strtoull(p, &e, 10);
	if (e == p || errno)
		return -1;
	p = e;
	unsigned long long wait = strtoull(p, &e, 10);
	if (e == p || errno)
		return -1;
	out->run_ns = run;
	out->wait_ns = wait;
	return 0;
}

int gs_task_read(struct gs_task *t, unsigned mask, struct gs_taskstat *out)
{
	char buf[1024];
	ssize_t n;

	if (mask & GS_TS_STAT) {
		if ((n = gs_task_pread(t, t->fd_stat, buf, sizeof buf)) < 0)
			return -1;
		if (gs_parse_stat(buf, (size_t)n, out) < 0)
			goto torn;
	}
	if (mask & GS_TS_SYSCALL) {
		out->syscall_nr = GS_SYSCALL_UNKNOWN;
		if (t->fd_syscall >= 0) {
			if ((n = gs_task_pread(t, t->fd_syscall, buf, sizeof buf)) < 0)
				return -1;
			if (gs_parse_syscall(buf, (size_t)n, out) < 0)
				goto torn;
		}
	}
	if ((mask & GS_TS_SCHEDSTAT) && t->fd_schedstat >= 0) {
		if ((n = gs_task_pread(t, t->fd_schedstat, buf, sizeof buf)) < 0)
			return -1;
		if (gs_parse_schedstat(buf, (size_t)n, out) < 0)
			goto torn;
	}
	return 0;
torn:
	errno = EAGAIN;
	return -1;
}

ssize_t gs_task_list(const struct gs_procfs *fs, pid_t pid, pid_t **out)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	return fs->list(fs->ctx, path, out);
}

static void read_small(const struct gs_procfs *fs, pid_t pid, pid_t tid,
		       const char *name, char *buf, size_t n, const char *dflt)
{
	int fd = open_task_file(fs, pid, tid, name);
	ssize_t r = fd >= 0 ? fs->pread(fs->ctx, fd, buf, n - 1) : -1;
	if (fd >= 0)
		fs->close(fs->ctx, fd);
	if (r <= 0) {
		snprintf(buf, n, "%s", dflt);
		return;
	}
	if (r > (ssize_t)(n - 1))
		r = (ssize_t)(n - 1);
	buf[r] = 0;
	/* The kernel ends the line with '\n'; a thread name may hold more
	 * of them (prctl takes any bytes), so only the last one goes. */
	if (buf[r - 1] == '\n')
		buf[r - 1] = 0;
}

void gs_task_comm(const struct gs_procfs *fs, pid_t pid, pid_t tid, char *buf, size_t n)
{
	read_small(fs, pid, tid, "comm", buf, n, "?");
}

void gs_task_wchan(const struct gs_procfs *fs, pid_t pid, pid_t tid, char *buf, size_t n)
{
	read_small(fs, pid, tid, "wchan", buf, n, "");
	if (strcmp(buf, "0") == 0)
		buf[0] = 0;
}

const char *gs_syscall_name(long nr)
{
	if (nr < 0 || (size_t)nr >= sizeof gs_syscall_names / sizeof gs_syscall_names[0])
		return NULL;
	return gs_syscall_names[nr];
}

long gs_syscall_nr(const char *name)
{
	for (size_t i = 0; i < sizeof gs_syscall_names / sizeof gs_syscall_names[0]; i++)
		if (gs_syscall_names[i] && !strcmp(gs_syscall_names[i], name))
			return (long)i;
	return -1;
}

/* Syscalls whose first argument is a file descriptor worth naming. */
static int fd_first_arg(long nr)
{
	static const long nrs[] = {
		SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv,
		SYS_writev, SYS_preadv, SYS_pwritev, SYS_preadv2, SYS_pwritev2,
		SYS_fsync, SYS_fdatasync, SYS_sync_file_range, SYS_fallocate,
		SYS_ftruncate, SYS_ioctl, SYS_fcntl, SYS_flock, SYS_getdents64,
		SYS_epoll_wait, SYS_epoll_pwait, SYS_accept, SYS_accept4,
		SYS_connect, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
		SYS_sendfile, SYS_readahead, SYS_fadvise64, SYS_close,
	};
	for (size_t i = 0; i < sizeof nrs / sizeof nrs[0]; i++)
		if (nrs[i] == nr)
			return 1;
	return 0;
}

int gs_syscall_fd_path(const struct gs_procfs *fs, pid_t pid,
		       const struct gs_taskstat *ts, char *buf, size_t n)
{
	if (ts->syscall_nr < 0 || !fd_first_arg(ts->syscall_nr) || n < 2)
		return -1;
	int fd = (int)ts->syscall_args[0];
	if (fd < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	ssize_t r = fs->readlink(fs->ctx, path, buf, n - 1);
	if (r <= 0 || r > (ssize_t)(n - 1))
		return -1;
	buf[r] = 0;
	return 0;
}
