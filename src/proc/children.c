/* Process trees from /proc (proc/children.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/children.h"
#include "proc/readfile.h"

void gs_children_init(struct gs_children *c)
{
	memset(c, 0, sizeof *c);
}

void gs_children_free(struct gs_children *c)
{
	free(c->v);
	free(c->roots);
	memset(c, 0, sizeof *c);
}

int gs_children_add_root(struct gs_children *c, pid_t pid)
{
	for (size_t i = 0; i < c->nroots; i++)
		if (c->roots[i] == pid)
			return 0;
	pid_t *v = realloc(c->roots, (c->nroots + 1) * sizeof *v);
	if (!v)
		return -1;
	c->roots = v;
	v[c->nroots++] = pid;
	return 0;
}

/* The ppid in /proc/PID/stat: after the command name, which may hold
 * spaces and parentheses, hence the last ')'. */
static pid_t read_ppid(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (gs_read_file(path, buf, sizeof buf) <= 0)
		return -1;
	const char *p = strrchr(buf, ')');
	int ppid;
	char state;
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return ppid;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct gs_child_proc *)a)->pid;
	pid_t y = ((const struct gs_child_proc *)b)->pid;
	return (x > y) - (x < y);
}

static struct gs_child_proc *find(const struct gs_child_proc *v, size_t n, pid_t pid)
{
	struct gs_child_proc key = { pid, 0, 0 };
	return n ? bsearch(&key, v, n, sizeof *v, by_pid) : NULL;
}

static int is_root(const struct gs_children *c, pid_t pid)
{
	for (size_t i = 0; i < c->nroots; i++)
		if (c->roots[i] == pid)
			return 1;
	return 0;
}

long gs_children_scan(struct gs_children *c, void (*found)(void *ctx, pid_t pid),
		      void *ctx)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	struct gs_child_proc *nv = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 512;
			struct gs_child_proc *t = realloc(nv, ncap * sizeof *t);
			if (!t) {
				free(nv);
				closedir(d);
				return -1;
			}
			nv = t;
			cap = ncap;
		}
		/* A pid seen in the last scan is the same process: pids are
		 * not reused within a scan period in practice, and a ppid
		 * changes only when the parent dies (to a subreaper, outside
		 * the tree we care for). */
		const struct gs_child_proc *old = find(c->v, c->n, (pid_t)pid);
		pid_t ppid = old ? old->ppid : read_ppid((pid_t)pid);
		if (ppid < 0)
			continue;
		nv[n++] = (struct gs_child_proc){ (pid_t)pid, ppid, 0 };
	}
	closedir(d);
	qsort(nv, n, sizeof *nv, by_pid);
	free(c->v);
	c->v = nv;
	c->n = n;
	c->cap = cap;

	/* Mark the trees: a process is in when its parent is.  Each pass
	 * settles one more generation; reporting as a process is marked
	 * gives parents before children. */
	long members = 0;
	for (size_t i = 0; i < n; i++)
		if (is_root(c, nv[i].pid)) {
			nv[i].mark = 1;
			members++;
		}
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (nv[i].mark)
				continue;
			const struct gs_child_proc *p = find(nv, n, nv[i].ppid);
			if (p && p->mark) {
				nv[i].mark = 1;
				members++;
				changed = 1;
				if (found)
					found(ctx, nv[i].pid);
			}
		}
	}
	return members;
}
