/* Finding a process tree's members as they appear: --children follows
 * every descendant of its roots, including ones forked or spawned after
 * the session started.  The kernel's /proc/PID/task/TID/children is not
 * always built in, so the tree comes from the ppid in /proc/N/stat; only
 * pids new since the last scan are read, so a scan costs one readdir of
 * /proc and a small read per new process. */
#ifndef GS_CHILDREN_H
#define GS_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

struct gs_children {
	struct gs_child_proc { pid_t pid, ppid; int mark; } *v; /* by pid */
	size_t n, cap;
	pid_t *roots;
	size_t nroots;
};

void gs_children_init(struct gs_children *c);
void gs_children_free(struct gs_children *c);
/* Follow pid's descendants (pid itself included; once however often it
 * is given).  Returns 0 or -1 when out of memory. */
int gs_children_add_root(struct gs_children *c, pid_t pid);
/* Rescan /proc and call found(ctx, pid) for every live descendant of a
 * root (not the roots themselves), parents before their children.
 * Returns the number of processes in the trees, or -1 when /proc cannot
 * be read. */
long gs_children_scan(struct gs_children *c, void (*found)(void *ctx, pid_t pid),
		      void *ctx);

#endif
