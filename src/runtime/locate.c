/* Finding the CPython runtime in a live process: which mapped object
 * holds it, where that object is loaded, which version and build it is,
 * and the absolute addresses of the interpreter list and the GIL.
 *
 * Nothing here runs code in the target or stops it: the answers come from
 * /proc, from the object files (opened through /proc/PID/root so that a
 * process in a container is read from its own filesystem) and from
 * process_vm_readv.  /proc/PID/exe is never trusted to be Python: the
 * target may have been started through the dynamic loader, or embed
 * libpython. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"
#include "proc/elfobj.h"
#include "proc/maps.h"
#include "proc/procfs.h"
#include "runtime/gil.h"
#include "runtime/process.h"
#include "runtime/target.h"
#include "runtime/threads.h"
#include "runtime/version.h"

/* ---- candidate objects ----------------------------------------------- */

struct cand {
	size_t first;      /* index of the maps line with the lowest offset */
	uint64_t base;     /* lowest start among its lines */
	int prio;          /* 0: python-named, 1: executable, 2: other */
	int exec;          /* has an executable mapping */
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int python_named(const char *path)
{
	const char *b = base_name(path);
	return strncmp(b, "python", 6) == 0 || strncmp(b, "libpython", 9) == 0;
}

static int build_candidates(const struct gs_maps *m, const char *exe,
			    struct cand **out, size_t *nout)
{
	struct cand *c = NULL;
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct gs_map *l = &m->v[i];
		size_t j;
		/* Anonymous, [vdso], [heap], memfd: and friends cannot hold an
		 * ELF object we can open; /dev nodes must not be opened. */
		if (l->path[0] != '/' || l->inode == 0 ||
		    strncmp(l->path, "/dev/", 5) == 0)
			continue;
		for (j = 0; j < n; j++) {
			const struct gs_map *f = &m->v[c[j].first];
			if (f->inode == l->inode && strcmp(f->path, l->path) == 0)
				break;
		}
		if (j == n) {
			struct cand *nc = realloc(c, (n + 1) * sizeof *c);
			if (!nc) {
				free(c);
				return gs_fail(GS_EFAIL, "out of memory");
			}
			c = nc;
			c[n].first = i;
			c[n].base = l->start;
			c[n].prio = python_named(l->path) ? 0 :
				    (exe[0] && strcmp(l->path, exe) == 0) ? 1 : 2;
			c[n].exec = 0;
			n++;
		}
		if (l->offset < m->v[c[j].first].offset)
			c[j].first = i;
		if (l->start < c[j].base)
			c[j].base = l->start;
		if (l->perms[2] == 'x')
			c[j].exec = 1;
	}
	/* Stable order by priority, keeping maps order within a class. */
	for (size_t i = 1; i < n; i++) {
		struct cand x = c[i];
		size_t k = i;
		while (k > 0 && c[k - 1].prio > x.prio) {
			c[k] = c[k - 1];
			k--;
		}
		c[k] = x;
	}
	*out = c;
	*nout = n;
	return 0;
}

/* ---- attach ---------------------------------------------------------- */

/* The path to open for a mapped object: through the target's root, or
 * for a file deleted since it was mapped, the kernel's handle on the
 * mapping itself. */
static int open_path_for(const struct gs_target *t, const struct gs_map *m,
			 char *buf, size_t n)
{
	int r;
	if (m->deleted)
		r = snprintf(buf, n, "/proc/%d/map_files/%llx-%llx", (int)t->pid,
			     (unsigned long long)m->start,
			     (unsigned long long)m->end);
	else
		r = snprintf(buf, n, "%s%s", t->root, m->path);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* A writable mapping must hold the runtime: it is a data symbol. */
static int mapped_writable(const struct gs_maps *m, uint64_t addr)
{
	for (size_t i = 0; i < m->n; i++)
		if (addr >= m->v[i].start && addr < m->v[i].end)
			return m->v[i].perms[1] == 'w';
	return 0;
}

static int load_bias(struct gs_target *t, struct gs_elf *e,
		     const struct gs_maps *m, const struct cand *c,
		     uint64_t *bias)
{
	const struct gs_map *obj = &m->v[c->first], *best = NULL;
	uint64_t pv = 0, po = 0;

	/* The line with the lowest file offset maps the first PT_LOAD; if
	 * no segment claims it (an odd linker), any other line of the
	 * object gives the same bias. */
	for (size_t i = 0; i < m->n; i++) {
		const struct gs_map *l = &m->v[i];
		uint64_t v, o;
		if (l->inode != obj->inode || strcmp(l->path, obj->path) != 0)
			continue;
		if (best && l->offset >= best->offset)
			continue;
		if (gs_elf_load_for_offset(e, l->offset, &v, &o) != 0)
			continue;
		best = l;
		pv = v;
		po = o;
	}
	if (!best)
		return gs_fail(GS_EFAIL, "%s: no load segment covers any of its "
			       "mappings in process %d", obj->path, (int)t->pid);
	/* The kernel maps a segment at bias + page_down(p_vaddr) from file
	 * offset page_down(p_offset), and p_vaddr and p_offset agree modulo
	 * the page size, so the page rounding cancels out. */
	*bias = best->start - best->offset - (pv - po);
	gs_debug("%s: maps line 0x%llx offset 0x%llx, PT_LOAD vaddr 0x%llx "
		 "offset 0x%llx -> bias 0x%llx", obj->path,
		 (unsigned long long)best->start, (unsigned long long)best->offset,
		 (unsigned long long)pv, (unsigned long long)po,
		 (unsigned long long)*bias);
	if (gs_elf_type(e) == ET_EXEC && *bias != 0) {
		gs_debug("%s is ET_EXEC (loaded at its link address): bias forced "
			 "to 0", obj->path);
		*bias = 0;
	}
	return 0;
}

/* Look for the runtime in one object. */
static enum gs_rt_kind probe_object(struct gs_elf *e, uint64_t *addr,
				 const char **how, int *by_section)
{
	uint64_t v;
	*by_section = 0;
	if (gs_elf_symbol(e, "_PyRuntime", &v, NULL) == 0) {
		*addr = v;
		*how = "symbol _PyRuntime";
		return GS_RT_RUNTIME;
	}
	/* 3.12+ puts _PyRuntime in its own section, which survives a
	 * build that hides the symbol. */
	if (gs_elf_section(e, ".PyRuntime", &v, NULL) == 0 && v) {
		*addr = v;
		*how = "section .PyRuntime";
		*by_section = 1;
		return GS_RT_RUNTIME;
	}
	if (gs_elf_symbol(e, "_PyThreadState_Current", &v, NULL) == 0) {
		*addr = v;
		*how = "symbol _PyThreadState_Current";
		return GS_RT_TSTATE_CURRENT;
	}
	return GS_RT_NONE;
}

static int locate(struct gs_target *t, const struct gs_maps *m,
		  const char *exe)
{
	struct cand *c = NULL;
	size_t nc = 0;
	struct gs_elf *e = NULL;
	enum gs_rt_kind kind = GS_RT_NONE;
	uint64_t rt_vaddr = 0;
	const char *how = NULL;
	int rc, denied = 0, by_section = 0;
	size_t i;

	if ((rc = build_candidates(m, exe, &c, &nc)))
		return rc;
	for (i = 0; i < nc && kind == GS_RT_NONE; i++) {
		const struct gs_map *f = &m->v[c[i].first];
		char op[PATH_MAX];
		if (!c[i].exec)
			continue; /* data files: locale archives, caches */
		if (open_path_for(t, f, op, sizeof op) != 0)
			continue;
		if (gs_elf_open(op, &e) != 0) {
			if (errno == EACCES || errno == EPERM)
				denied = 1;
			gs_debug("skipping %s: %s", f->path, gs_last_error());
			gs_clear_error();
			continue;
		}
		if (!gs_elf_is_x86_64(e)) {
			gs_debug("skipping %s: not an x86_64 ELF object", f->path);
			gs_elf_close(e);
			e = NULL;
			continue;
		}
		kind = probe_object(e, &rt_vaddr, &how, &by_section);
		if (kind == GS_RT_NONE) {
			gs_elf_close(e);
			e = NULL;
			continue;
		}
		snprintf(t->obj.path, sizeof t->obj.path, "%s", f->path);
		snprintf(t->obj.open_path, sizeof t->obj.open_path, "%s", op);
		t->obj.base = c[i].base;
		t->obj.is_exe = exe[0] && strcmp(f->path, exe) == 0;
		gs_debug("runtime object %s (opened as %s), found by %s%s",
			 f->path, op, how, t->obj.is_exe ? ", the executable" : "");
		if ((rc = load_bias(t, e, m, &c[i], &t->obj.load_bias))) {
			gs_elf_close(e);
			free(c);
			return rc;
		}
	}
	free(c);
	if (kind == GS_RT_NONE) {
		if (denied)
			return gs_fail(GS_EPERM, "permission denied opening the "
				       "objects mapped by process %d: " GS_PERM_HINT,
				       (int)t->pid);
		return gs_fail(GS_ENOTPY, "process %d is not a Python process (no "
			       "_PyRuntime in any mapped object)", (int)t->pid);
	}

	t->obj.is_shared = gs_elf_type(e) == ET_DYN;
	/* Started through the loader ("ld.so python3.14 ..."), /proc/PID/exe
	 * names the loader; the program is still the object that asks for
	 * an interpreter. */
	if (!t->obj.is_exe && (gs_elf_type(e) == ET_EXEC || gs_elf_has_interp(e))) {
		gs_debug("%s is the program (%s), though /proc/%d/exe is %s",
			 t->obj.path, gs_elf_type(e) == ET_EXEC ? "ET_EXEC" :
			 "PT_INTERP", (int)t->pid, exe[0] ? exe : "unreadable");
		t->obj.is_exe = 1;
	}
	t->obj.has_symtab = gs_elf_has_symtab(e);
	if (gs_elf_build_id(e, t->obj.build_id, sizeof t->obj.build_id) != 0)
		t->obj.build_id[0] = 0;
	gs_debug("object: %s, base 0x%llx, bias 0x%llx, build-id %s, %s",
		 t->obj.is_shared ? "ET_DYN" : "ET_EXEC",
		 (unsigned long long)t->obj.base,
		 (unsigned long long)t->obj.load_bias,
		 t->obj.build_id[0] ? t->obj.build_id : "(none)",
		 t->obj.has_symtab ? "with .symtab" : "stripped");

	/* Both anchors are data symbols: a bias that does not land them in
	 * writable memory is wrong, and everything read from it would be
	 * garbage. */
	uint64_t anchor = t->obj.load_bias + rt_vaddr;
	gs_debug("%s at 0x%llx (st_value 0x%llx)", kind == GS_RT_RUNTIME ?
		 "_PyRuntime" : "_PyThreadState_Current",
		 (unsigned long long)anchor, (unsigned long long)rt_vaddr);
	if (!mapped_writable(m, anchor)) {
		rc = gs_fail(GS_EFAIL, "%s of %s would be at 0x%llx, which process "
			     "%d has no writable mapping for: wrong load bias",
			     kind == GS_RT_RUNTIME ? "_PyRuntime" :
			     "_PyThreadState_Current", t->obj.path,
			     (unsigned long long)anchor, (int)t->pid);
		goto out;
	}
	if (kind == GS_RT_RUNTIME)
		t->runtime_addr = anchor;

	int ft_hint = 0;
	if ((rc = gs_find_version(t, e, kind, by_section, &ft_hint)))
		goto out;
	gs_debug("Python %s (from %s)", t->ver.str, t->ver.how);
	if (t->ver.major != 3 || t->ver.minor < 6 || t->ver.minor > 15) {
		rc = gs_fail(GS_EUNSUPPORTED, "Python %d.%d is not supported "
			     "(gilsnoop supports 3.6 to 3.15)", t->ver.major,
			     t->ver.minor);
		goto out;
	}
	if ((kind == GS_RT_RUNTIME) != (t->ver.minor >= 7)) {
		rc = gs_fail(GS_EUNSUPPORTED, "%s is Python %s but was found by "
			     "%s: the object does not look like a CPython build",
			     t->obj.path, t->ver.str, how);
		goto out;
	}

	/* _Py_NegativeRefcount is defined with Py_REF_DEBUG (which every
	 * debug build has) in 3.6 to 3.15; _Py_RefTotal too, but 3.12 kept
	 * it only as a legacy symbol. */
	if (t->build != GS_BUILD_FREETHREADED) {
		if (gs_elf_symbol(e, "_Py_NegativeRefcount", NULL, NULL) == 0 ||
		    gs_elf_symbol(e, "_Py_RefTotal", NULL, NULL) == 0)
			t->build = GS_BUILD_DEBUG;
		else if (ft_hint == 1 && t->ver.minor >= 13) {
			/* No _Py_DebugOffsets answer: the 't' ABI flag in the
			 * name is the only sign left. */
			gs_debug("free-threaded, from the 't' in %s", t->obj.path);
			t->build = GS_BUILD_FREETHREADED;
		}
	}
	gs_debug("build: %s", gs_build_name(t->build));
	if (t->build == GS_BUILD_FREETHREADED) {
		rc = gs_fail(GS_EUNSUPPORTED, "free-threaded builds have no GIL to "
			     "watch (process %d runs Python %s, free-threaded "
			     "build)", (int)t->pid, t->ver.str);
		goto out;
	}

	struct gs_layout_query q = {
		.path = t->obj.path, .open_path = t->obj.open_path, .root = t->root,
		.build_id = t->obj.build_id, .major = t->ver.major,
		.minor = t->ver.minor, .version = t->ver.str, .build = t->build,
		.mem = &t->mem, .runtime_addr = t->runtime_addr,
	};
	if ((rc = gs_layout_resolve(&q, &t->layout, &t->source, t->source_detail,
				    sizeof t->source_detail)))
		goto out;
	gs_debug("layout from %s%s%s", gs_layout_source_name(t->source),
		 t->source_detail[0] ? ": " : "", t->source_detail);
	rc = gs_resolve_gil(t, e);
out:
	gs_elf_close(e);
	return rc;
}

int gs_target_attach(struct gs_target *t, pid_t pid)
{
	struct gs_maps maps = { NULL, 0 };
	char exe[PATH_MAX], path[64];
	ssize_t n;
	int rc;

	memset(t, 0, sizeof *t);
	t->pid = pid;
	t->mem.pid = pid;
	t->pthread_tid_off = -1;
	gs_layout_init(&t->layout);

	if (pid <= 0)
		return gs_fail(GS_EUSAGE, "invalid pid %d", (int)pid);
	if (pid == getpid())
		return gs_fail(GS_EUSAGE, "refusing to attach to gilsnoop itself");
	snprintf(t->root, sizeof t->root, "/proc/%d/root", (int)pid);
	if ((rc = gs_proc_check(pid)))
		return rc;
	char state;
	if (gs_proc_read_ident(pid, &t->ident, &state) != 0)
		return gs_proc_errno_fail(pid, errno, "the status");
	if ((rc = gs_maps_read(pid, &maps)))
		return rc;
	if (maps.n == 0) {
		/* A kernel thread has no user mappings (gs_proc_check says
		 * so by its flag); nor has a process that is exiting, its
		 * memory already released, before it turns zombie. */
		gs_maps_free(&maps);
		if ((rc = gs_proc_check(pid)))
			return rc;
		return gs_fail(GS_ENOPROC, "process %d exited", (int)pid);
	}
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	gs_debug("process %d: %zu mappings, exe %s", (int)pid, maps.n,
		 exe[0] ? exe : "(unreadable)");

	rc = locate(t, &maps, exe);
	gs_maps_free(&maps);
	/* Whatever went wrong (not Python, not initialised, a failed
	 * read), the reason is that the program is gone when it exec'd or
	 * exited meanwhile. */
	if (rc && rc != GS_EUSAGE && rc != GS_ENOPROC) {
		if (gs_target_has_execd(t))
			return gs_proc_execd_fail(pid, " while gilsnoop attached");
		if (gs_proc_check(pid))
			return gs_fail(GS_ENOPROC, "process %d exited while gilsnoop "
				       "attached", (int)pid);
	}
	if (rc)
		return rc;

	if (t->layout.ts_native_thread_id.off == GS_NOFF) {
		if (gs_find_pthread_tid_offset(t, &gs_procfs_live) != 0) {
			/* Threads will show without a kernel tid; that is
			 * worse but not wrong, so the attach stands. */
			gs_debug("no kernel tid offset in struct pthread: %s",
				 gs_last_error());
			t->pthread_tid_off = -1;
			gs_clear_error();
		} else {
			gs_debug("kernel tid at +%lld in struct pthread",
				 (long long)t->pthread_tid_off);
		}
	}
	/* An exec between the maps and the last read may have left
	 * addresses that point into the new program. */
	if (gs_target_has_execd(t))
		return gs_proc_execd_fail(pid, " while gilsnoop attached");
	return 0;
}

/* Whether pid maps obj where parent had it. */
static int maps_object(pid_t pid, const struct gs_object *obj)
{
	struct gs_maps maps = { NULL, 0 };
	int found = 0;
	if (gs_maps_read(pid, &maps))
		return 0;
	for (size_t i = 0; i < maps.n && !found; i++)
		found = maps.v[i].start == obj->base && !strcmp(maps.v[i].path, obj->path);
	gs_maps_free(&maps);
	return found;
}

int gs_target_attach_forked(struct gs_target *t, pid_t pid,
			    const struct gs_target *parent, int *reused)
{
	*reused = 0;
	if (parent && parent->pid != pid && parent->interp_head_addr) {
		*t = *parent;
		t->pid = pid;
		t->mem.pid = pid;
		snprintf(t->root, sizeof t->root, "/proc/%d/root", (int)pid);
		/* t->ident is the parent's: unchanged means a fork that has
		 * not exec'd. */
		uint64_t probe;
		if (!gs_target_has_execd(t) && maps_object(pid, &t->obj) &&
		    gs_mem_read_u64(&t->mem, t->interp_head_addr, &probe) == 0) {
			gs_debug("process %d: forked from %d, runtime and layout reused",
				 (int)pid, (int)parent->pid);
			*reused = 1;
			return 0;
		}
		gs_clear_error();
	}
	return gs_target_attach(t, pid);
}

void gs_target_detach(struct gs_target *t)
{
	/* Attach keeps no descriptors or memory; forget the addresses so a
	 * stale target cannot be read by mistake. */
	t->runtime_addr = 0;
	t->interp_head_addr = 0;
	memset(&t->gil, 0, sizeof t->gil);
}
