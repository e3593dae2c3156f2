/* Per-thread kernel state from /proc/PID/task/TID/{stat,syscall,schedstat},
 * read with pread on descriptors kept open between samples.  Every file
 * is reached through a gs_procfs (&gs_procfs_live, or a fuzzer's fake). */
#ifndef GS_TASKSTAT_H
#define GS_TASKSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/procfs.h"

#define GS_SYSCALL_RUNNING (-1L) /* /proc said "running": not in a syscall */
#define GS_SYSCALL_UNKNOWN (-2L)
#define GS_SYSCALL_NONE (-3L)    /* blocked outside a syscall: a page fault, say */

struct gs_task {
	const struct gs_procfs *fs;
	pid_t pid, tid;
	int fd_stat, fd_syscall, fd_schedstat;
};

struct gs_taskstat {
	char state;          /* R, S, D, T, t, Z, X, I; 0 when unknown */
	int processor;       /* CPU last run on */
	long syscall_nr;     /* or GS_SYSCALL_RUNNING / GS_SYSCALL_UNKNOWN */
	uint64_t syscall_args[6];
	uint64_t run_ns;     /* schedstat: time on CPU */
	uint64_t wait_ns;    /* schedstat: time runnable on a run queue */
};

enum { GS_TS_STAT = 1, GS_TS_SYSCALL = 2, GS_TS_SCHEDSTAT = 4,
       GS_TS_ALL = 7 };

/* Open the files of one task.  Returns 0, or -1 with errno. */
int gs_task_open(const struct gs_procfs *fs, struct gs_task *t, pid_t pid, pid_t tid);
void gs_task_close(struct gs_task *t);
/* Read the parts selected by mask.  Returns 0, or -1 with errno (ESRCH
 * when the task has gone). */
int gs_task_read(struct gs_task *t, unsigned mask, struct gs_taskstat *out);

/* pread the whole of one of t's kept-open files (fd) into buf,
 * NUL-terminated.  An exited task's files return 0 bytes or ESRCH: both
 * give -1 with errno ESRCH. */
ssize_t gs_task_pread(const struct gs_task *t, int fd, char *buf, size_t n);

/* Parsers, separate for unit tests and fuzzing. */
int gs_parse_stat(const char *buf, size_t len, struct gs_taskstat *out);
int gs_parse_syscall(const char *buf, size_t len, struct gs_taskstat *out);
int gs_parse_schedstat(const char *buf, size_t len, struct gs_taskstat *out);

/* List the tids of pid into a malloc'd array.  Returns the count, or -1. */
ssize_t gs_task_list(const struct gs_procfs *fs, pid_t pid, pid_t **out);
/* Thread name from /proc/PID/task/TID/comm ("?" when unreadable). */
void gs_task_comm(const struct gs_procfs *fs, pid_t pid, pid_t tid, char *buf,
		  size_t n);
/* Kernel function the task sleeps in, from .../wchan; "" when none. */
void gs_task_wchan(const struct gs_procfs *fs, pid_t pid, pid_t tid, char *buf,
		   size_t n);
/* x86_64 syscall name, or NULL. */
const char *gs_syscall_name(long nr);
/* The number of an x86_64 syscall name (as written in recordings), or
 * -1 when it names none. */
long gs_syscall_nr(const char *name);
/* For fd-based syscalls, the path of the fd argument, from
 * /proc/PID/fd/N; returns 0 when found. */
int gs_syscall_fd_path(const struct gs_procfs *fs, pid_t pid,
		       const struct gs_taskstat *ts, char *buf, size_t n);

#endif
