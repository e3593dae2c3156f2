/* The process behind a target: checks, identity across exec, and the
 * wording of failures. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.h"
#include "proc/procfs.h"
#include "runtime/process.h"

/* x86_64 PF_KTHREAD, in the flags field of /proc/PID/stat. */
#define PF_KTHREAD_FLAG 0x00200000u

/* ---- errors ---------------------------------------------------------- */

int gs_target_mem_fail(const struct gs_target *t, const char *what, uint64_t addr)
{
	int err = errno;
	if (err == EFAULT && gs_target_has_execd(t))
		return gs_proc_execd_fail(t->pid, " while gilsnoop attached");
	switch (err) {
	case ESRCH:
		return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
	case EPERM:
	case EACCES:
		return gs_fail(GS_EPERM, "permission denied reading the memory of "
			       "process %d: " GS_PERM_HINT, (int)t->pid);
	default:
		return gs_fail(GS_EFAIL, "cannot read %s at 0x%llx in process %d: %s",
			       what, (unsigned long long)addr, (int)t->pid,
			       strerror(err));
	}
}

int gs_target_read_u64(const struct gs_target *t, const char *what, uint64_t addr,
		    uint64_t *out)
{
	if (gs_mem_read_u64(&t->mem, addr, out) != 0)
		return gs_target_mem_fail(t, what, addr);
	return 0;
}

int gs_target_not_initialised(const struct gs_target *t)
{
	return gs_fail(GS_ENOTPY, "Python runtime in process %d is not "
		       "initialised yet", (int)t->pid);
}

/* ---- the process ----------------------------------------------------- */

static ssize_t read_small_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	if (fd < 0)
		return -1;
	while (len + 1 < n) {
		ssize_t r = read(fd, buf + len, n - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	return (ssize_t)len;
}

/* Existence, zombie and kernel-thread checks from /proc/PID/stat, without
 * sending any signal. */
int gs_proc_check(pid_t pid)
{
	char path[64], buf[4096];
	const char *rp;
	char state;
	unsigned flags;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof buf) < 0)
		return gs_proc_errno_fail(pid, errno, "the status");
	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %c %*d %*d %*d %*d %*d %u", &state,
			  &flags) != 2)
		return gs_fail(GS_EFAIL, "cannot parse %s", path);
	gs_debug("process %d: state %c, flags 0x%x", (int)pid, state, flags);
	if (state == 'Z')
		return gs_fail(GS_ENOPROC, "process %d is a zombie", (int)pid);
	if (state == 'X')
		return gs_fail(GS_ENOPROC, "process %d exited", (int)pid);
	if (flags & PF_KTHREAD_FLAG)
		return gs_fail(GS_ENOTPY, "process %d is a kernel thread",
			       (int)pid);

	/* /proc/TID exists for every thread, so a thread id passes the
	 * checks above but names no process of its own. */
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (read_small_file(path, buf, sizeof buf) >= 0) {
		const char *tg = strstr(buf, "\nTgid:");
		long tgid;
		if (tg && sscanf(tg + 6, "%ld", &tgid) == 1 && tgid != pid) {
			if (tgid == getpid())
				return gs_fail(GS_EUSAGE, "refusing to attach to "
					       "gilsnoop itself");
			return gs_fail(GS_EUSAGE, "%d is a thread of process %ld: "
				       "pass the process id %ld", (int)pid, tgid,
				       tgid);
		}
	}
	return 0;
}

/* What exec changes (struct gs_proc_ident).  Returns 0, or -1 with
 * errno when the process is gone (ENOENT, ESRCH). */
int gs_proc_read_ident(pid_t pid, struct gs_proc_ident *id, char *state)
{
	char path[64], buf[4096];
	struct stat st;

	memset(id, 0, sizeof *id);
	*state = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof buf) < 0)
		return -1;
	const char *p = strrchr(buf, ')');
	if (p && p[1] == ' ') {
		p += 2;
		*state = *p;
		/* Fields from 3 (state) on, one space apart. */
		for (int field = 3; *p && field <= 47; field++) {
			if (field == 28 || field == 47) {
				uint64_t v = strtoull(p, NULL, 10);
				if (field == 28)
					id->start_stack = v;
				else
					id->start_brk = v;
			}
			p = strchr(p, ' ');
			if (!p)
				break;
			p++;
		}
	}
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if (stat(path, &st) == 0) {
		id->exe_dev = (uint64_t)st.st_dev;
		id->exe_ino = (uint64_t)st.st_ino;
	}
	return 0;
}

/* Whether b shows another program image than a; unknown parts (0, e.g.
 * for a zombie leader) never count as a change. */
static int ident_changed(const struct gs_proc_ident *a,
			 const struct gs_proc_ident *b)
{
	if (a->exe_ino && b->exe_ino &&
	    (a->exe_ino != b->exe_ino || a->exe_dev != b->exe_dev))
		return 1;
	if (a->start_stack && b->start_stack && a->start_stack != b->start_stack)
		return 1;
	if (a->start_brk && b->start_brk && a->start_brk != b->start_brk)
		return 1;
	return 0;
}

int gs_proc_execd_fail(pid_t pid, const char *when)
{
	char path[64], exe[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	return gs_fail(GS_ENOPROC, "process %d exec'd %s%s", (int)pid,
		       exe[0] ? exe : "another program", when);
}

/* Whether the process exec'd since t->ident was read. */
int gs_target_has_execd(const struct gs_target *t)
{
	struct gs_proc_ident now;
	char state;
	return gs_proc_read_ident(t->pid, &now, &state) == 0 &&
	       ident_changed(&t->ident, &now);
}

int gs_target_check(const struct gs_target *t, int *execd)
{
	struct gs_proc_ident now;
	char state;
	int32_t locked;

	if (execd)
		*execd = 0;
	if (gs_proc_read_ident(t->pid, &now, &state) != 0 || state == 'X')
		return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
	if (gs_mem_read_i32(&t->mem, t->gil.locked, &locked) != 0) {
		if (errno == ESRCH)
			return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
		if (errno == EFAULT) {
			/* The memory that held the runtime is gone: the
			 * process runs another program now. */
			if (execd)
				*execd = 1;
			return gs_proc_execd_fail(t->pid, "");
		}
	}
	if (ident_changed(&t->ident, &now)) {
		if (execd)
			*execd = 1;
		return gs_proc_execd_fail(t->pid, "");
	}
	return 0;
}

