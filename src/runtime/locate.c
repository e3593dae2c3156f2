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
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/elfobj.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"
#include "proc/maps.h"
#include "runtime/target.h"
#include "runtime/threads.h"

#define PERM_HINT "run as root or grant CAP_SYS_PTRACE (and check " \
	"/proc/sys/kernel/yama/ptrace_scope)"

/* x86_64 PF_KTHREAD, in the flags field of /proc/PID/stat. */
#define PF_KTHREAD_FLAG 0x00200000u

/* ---- errors ---------------------------------------------------------- */

static int proc_errno_fail(pid_t pid, int err, const char *what)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
		return gs_fail(GS_ENOPROC, "no process with pid %d", (int)pid);
	case EACCES:
	case EPERM:
		return gs_fail(GS_EPERM, "permission denied reading %s of process "
			       "%d: " PERM_HINT, what, (int)pid);
	default:
		return gs_fail(GS_EFAIL, "cannot read %s of process %d: %s", what,
			       (int)pid, strerror(err));
	}
}

static int has_execd(const struct gs_target *t);
static int execd_fail(pid_t pid, const char *when);

static int mem_fail(const struct gs_target *t, const char *what, uint64_t addr)
{
	int err = errno;
	if (err == EFAULT && has_execd(t))
		return execd_fail(t->pid, " while gilsnoop attached");
	switch (err) {
	case ESRCH:
		return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
	case EPERM:
	case EACCES:
		return gs_fail(GS_EPERM, "permission denied reading the memory of "
			       "process %d: " PERM_HINT, (int)t->pid);
	default:
		return gs_fail(GS_EFAIL, "cannot read %s at 0x%llx in process %d: %s",
			       what, (unsigned long long)addr, (int)t->pid,
			       strerror(err));
	}
}

static int read_u64(const struct gs_target *t, const char *what, uint64_t addr,
		    uint64_t *out)
{
	if (gs_mem_read_u64(&t->mem, addr, out) != 0)
		return mem_fail(t, what, addr);
	return 0;
}

static int not_initialised(const struct gs_target *t)
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
static int check_process(pid_t pid)
{
	char path[64], buf[4096];
	const char *rp;
	char state;
	unsigned flags;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof buf) < 0)
		return proc_errno_fail(pid, errno, "the status");
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
static int read_ident(pid_t pid, struct gs_proc_ident *id, char *state)
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

static int execd_fail(pid_t pid, const char *when)
{
	char path[64], exe[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	return gs_fail(GS_ENOPROC, "process %d exec'd %s%s", (int)pid,
		       exe[0] ? exe : "another program", when);
}

/* Whether the process exec'd since t->ident was read. */
static int has_execd(const struct gs_target *t)
{
	struct gs_proc_ident now;
	char state;
	return read_ident(t->pid, &now, &state) == 0 &&
	       ident_changed(&t->ident, &now);
}

int gs_target_check(const struct gs_target *t, int *execd)
{
	struct gs_proc_ident now;
	char state;
	int32_t locked;

	if (execd)
		*execd = 0;
	if (read_ident(t->pid, &now, &state) != 0 || state == 'X')
		return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
	if (gs_mem_read_i32(&t->mem, t->gil.locked, &locked) != 0) {
		if (errno == ESRCH)
			return gs_fail(GS_ENOPROC, "process %d exited", (int)t->pid);
		if (errno == EFAULT) {
			/* The memory that held the runtime is gone: the
			 * process runs another program now. */
			if (execd)
				*execd = 1;
			return execd_fail(t->pid, "");
		}
	}
	if (ident_changed(&t->ident, &now)) {
		if (execd)
			*execd = 1;
		return execd_fail(t->pid, "");
	}
	return 0;
}

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

/* "X.Y" from a name like libpython3.9.so.1.0, python3.13t, python2.7;
 * also tells whether a 't' (free-threaded ABI) follows. */
static int name_version(const char *path, int *major, int *minor, int *t_abi)
{
	const char *b = base_name(path);
	const char *p = strstr(b, "python");
	int ma, mi, n = 0;
	if (!p)
		return -1;
	p += 6;
	if (sscanf(p, "%d.%d%n", &ma, &mi, &n) != 2 || ma < 2 || ma > 9 ||
	    mi < 0 || mi > 99 || !isdigit((unsigned char)p[0]))
		return -1;
	*major = ma;
	*minor = mi;
	if (t_abi)
		*t_abi = p[n] == 't';
	return 0;
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

/* ---- version --------------------------------------------------------- */

static void version_from_hex(struct gs_version *v, uint32_t hex,
			     const char *how)
{
	int level = (hex >> 4) & 0xf, serial = hex & 0xf;
	const char *lv = level == 0xa ? "a" : level == 0xb ? "b" :
			 level == 0xc ? "rc" : "";
	v->hex = hex;
	v->major = (int)(hex >> 24) & 0xff;
	v->minor = (int)(hex >> 16) & 0xff;
	v->micro = (int)(hex >> 8) & 0xff;
	if (*lv)
		snprintf(v->str, sizeof v->str, "%d.%d.%d%s%d", v->major,
			 v->minor, v->micro, lv, serial);
	else
		snprintf(v->str, sizeof v->str, "%d.%d.%d", v->major, v->minor,
			 v->micro);
	v->how = how;
}

static int plausible_hex(uint32_t hex)
{
	int major = (int)(hex >> 24), level = (hex >> 4) & 0xf;
	return (major == 2 || major == 3) &&
	       (level == 0xa || level == 0xb || level == 0xc || level == 0xf);
}

/* Parse a whole PY_VERSION: [23].N.N, then aN/bN/cN/rcN, then '+'
 * (a development build).  Returns the PY_VERSION_HEX, or 0. */
static uint32_t parse_py_version(const char *s, size_t len)
{
	const char *e = s + len;
	unsigned v[3] = { 0, 0, 0 }, level = 0xf, serial = 0;
	int k;

	for (k = 0; k < 3; k++) {
		int digits = 0;
		if (k > 0) {
			if (s >= e || *s != '.')
				return 0;
			s++;
		}
		while (s < e && isdigit((unsigned char)*s) && digits < 3) {
			v[k] = v[k] * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || (s < e && isdigit((unsigned char)*s)))
			return 0;
	}
	if (v[0] != 2 && v[0] != 3)
		return 0;
	if (v[1] > 99 || v[2] > 99)
		return 0;
	if (s < e && (*s == 'a' || *s == 'b' || *s == 'c' || *s == 'r')) {
		if (*s == 'r') {
			if (e - s < 2 || s[1] != 'c')
				return 0;
			s++;
		}
		level = *s == 'a' ? 0xa : *s == 'b' ? 0xb : 0xc;
		s++;
		int digits = 0;
		while (s < e && isdigit((unsigned char)*s) && digits < 2) {
			serial = serial * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || serial > 15)
			return 0;
	}
	if (s < e && *s == '+')
		s++;
	if (s != e)
		return 0;
	return v[0] << 24 | v[1] << 16 | v[2] << 8 | level << 4 | serial;
}

#define MAX_VCANDS 32

struct vsearch {
	int name_major, name_minor;  /* -1 when the name tells nothing */
	int lo_minor, hi_minor;      /* 3.x range the symbols allow */
	int allow_2;                 /* Python 2 cannot be excluded */
	struct { uint32_t hex; int exact, count, score; } c[MAX_VCANDS];
	int n;
};

static int vscore(const struct vsearch *vs, uint32_t hex, int exact)
{
	int major = (int)(hex >> 24), minor = (int)(hex >> 16) & 0xff;
	int s = 0;
	if (major == vs->name_major && minor == vs->name_minor)
		s += 4;
	if ((major == 3 && minor >= vs->lo_minor && minor <= vs->hi_minor) ||
	    (major == 2 && vs->allow_2))
		s += 2;
	if (exact)
		s += 1;
	return s;
}

static void vs_add(struct vsearch *vs, uint32_t hex, int exact)
{
	for (int i = 0; i < vs->n; i++) {
		if (vs->c[i].hex == hex) {
			vs->c[i].count++;
			if (exact && !vs->c[i].exact) {
				vs->c[i].exact = 1;
				vs->c[i].score = vscore(vs, hex, 1);
			}
			return;
		}
	}
	if (vs->n == MAX_VCANDS)
		return;
	vs->c[vs->n].hex = hex;
	vs->c[vs->n].exact = exact;
	vs->c[vs->n].count = 1;
	vs->c[vs->n].score = vscore(vs, hex, exact);
	vs->n++;
}

/* The linker merges string tails, so PY_VERSION ("3.9.18") is often
 * stored only as the end of a longer string such as the install prefix
 * "/opt/python/3.9.18".  Look at every suffix that starts a number. */
static int version_string_cb(const char *s, size_t len, void *arg)
{
	struct vsearch *vs = arg;
	size_t from = len > 24 ? len - 24 : 0;
	for (size_t i = from; i + 5 <= len; i++) {
		if (s[i] != '2' && s[i] != '3')
			continue;
		if (i > 0 && (isdigit((unsigned char)s[i - 1]) || s[i - 1] == '.'))
			continue;
		uint32_t hex = parse_py_version(s + i, len - i);
		if (hex) {
			vs_add(vs, hex, i == 0);
			break;
		}
	}
	return 0;
}

enum rt_kind { RT_NONE, RT_RUNTIME, RT_TSTATE_CURRENT };

static int find_version(struct gs_target *t, struct gs_elf *e,
			enum rt_kind kind, int no_symbols, int *ft_hint)
{
	uint64_t val, size;
	struct gs_version *v = &t->ver;
	int nmaj = -1, nmin = -1, t_abi = 0;

	memset(v, 0, sizeof *v);
	if (name_version(t->obj.path, &nmaj, &nmin, &t_abi) != 0)
		nmaj = nmin = -1;
	*ft_hint = t_abi;

	/* 3.11+: the exported constant Py_Version (an unsigned long holding
	 * PY_VERSION_HEX), in .rodata. */
	if (gs_elf_symbol(e, "Py_Version", &val, &size) == 0) {
		unsigned char b[8] = { 0 };
		size_t n = size == 4 ? 4 : 8;
		uint32_t hex;
		if (gs_elf_read_vaddr(e, val, b, n) != 0 &&
		    gs_mem_read(&t->mem, t->obj.load_bias + val, b, n) != 0)
			return mem_fail(t, "Py_Version", t->obj.load_bias + val);
		hex = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		      (uint32_t)b[3] << 24;
		if (plausible_hex(hex)) {
			version_from_hex(v, hex, "Py_Version");
			gs_debug("version %s from Py_Version (0x%08x)", v->str, hex);
		} else {
			gs_debug("Py_Version reads 0x%08x: ignored", hex);
		}
	}

	/* 3.13+: _Py_DebugOffsets heads _PyRuntime and carries the version
	 * and whether the build is free-threaded. */
	if (kind == RT_RUNTIME && (v->hex == 0 || (v->major == 3 && v->minor >= 13))) {
		uint32_t hex = 0;
		int ft = 0;
		if (gs_debug_offsets_probe(&t->mem, t->runtime_addr, &hex, &ft) == 0) {
			gs_debug("_Py_DebugOffsets: version 0x%08x, free_threaded %d",
				 hex, ft);
			if (ft)
				t->build = GS_BUILD_FREETHREADED;
			*ft_hint = -1; /* the probe answered; the name does not count */
			if (v->hex == 0 && plausible_hex(hex))
				version_from_hex(v, hex, "_Py_DebugOffsets");
			else if (v->hex && hex != v->hex)
				gs_debug("_Py_DebugOffsets version 0x%08x differs from "
					 "Py_Version 0x%08x; keeping Py_Version", hex,
					 v->hex);
		} else if (v->hex) {
			gs_debug("no _Py_DebugOffsets cookie at 0x%llx",
				 (unsigned long long)t->runtime_addr);
		}
		gs_clear_error();
	}
	if (v->hex)
		return 0;

	/* Older builds: PY_VERSION among the read-only strings. */
	struct vsearch *vs = calloc(1, sizeof *vs);
	if (!vs)
		return gs_fail(GS_EFAIL, "out of memory");
	vs->name_major = nmaj;
	vs->name_minor = nmin;
	if (kind == RT_RUNTIME) {
		/* _PyRuntime appeared in 3.7, Py_Version in 3.11.  Without
		 * any symbols (found through the .PyRuntime section) the
		 * missing Py_Version says nothing. */
		vs->lo_minor = 7;
		vs->hi_minor = no_symbols ? 15 : 10;
	} else {
		vs->lo_minor = 0;
		vs->hi_minor = 6;
		vs->allow_2 = 1;
	}
	gs_elf_foreach_rodata_string(e, version_string_cb, vs);
	int best = -1;
	for (int i = 0; i < vs->n; i++) {
		gs_debug("version string candidate 0x%08x (score %d, seen %d)",
			 vs->c[i].hex, vs->c[i].score, vs->c[i].count);
		if (vs->c[i].score < 2)
			continue; /* neither the name nor the symbols vouch for it */
		if (best < 0 || vs->c[i].score > vs->c[best].score ||
		    (vs->c[i].score == vs->c[best].score &&
		     vs->c[i].count > vs->c[best].count))
			best = i;
	}
	if (best >= 0) {
		version_from_hex(v, vs->c[best].hex, "version string");
		gs_debug("version %s from a version string in %s", v->str,
			 t->obj.path);
		free(vs);
		return 0;
	}
	free(vs);

	if (nmaj > 0) {
		v->major = nmaj;
		v->minor = nmin;
		v->micro = 0;
		v->hex = 0;
		snprintf(v->str, sizeof v->str, "%d.%d", nmaj, nmin);
		v->how = "object name";
		gs_debug("version %s from the object's name", v->str);
		return 0;
	}
	return gs_fail(GS_EUNSUPPORTED, "cannot tell the Python version of %s "
		       "in process %d", t->obj.path, (int)t->pid);
}

/* ---- the GIL --------------------------------------------------------- */

struct static_gil {
	const char *name;
	uint64_t value, size;
};

static int gil_36(struct gs_target *t, struct gs_elf *e)
{
	struct static_gil s[] = {
		{ "gil_locked", 0, 0 }, { "gil_last_holder", 0, 0 },
		{ "gil_switch_number", 0, 0 }, { "gil_cond", 0, 0 },
		{ "gil_mutex", 0, 0 }, { "switch_cond", 0, 0 },
		{ "switch_mutex", 0, 0 }, { "gil_interval", 0, 0 },
		{ "interp_head", 0, 0 },
	};
	uint64_t b = t->obj.load_bias;

	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		if (gs_elf_symbol(e, s[i].name, &s[i].value, &s[i].size) != 0) {
			gs_debug("3.6 static %s missing from %s", s[i].name,
				 t->obj.open_path);
			return gs_fail(GS_EUNSUPPORTED, "Python 3.6 without a symbol "
				       "table (stripped) is not supported: "
				       "gilsnoop needs the static GIL variables "
				       "from .symtab");
		}
		gs_debug("3.6 static %s at 0x%llx size %llu", s[i].name,
			 (unsigned long long)(b + s[i].value),
			 (unsigned long long)s[i].size);
	}
	struct gs_gil_addrs *g = &t->gil;
	memset(g, 0, sizeof *g);
	g->locked = b + s[0].value;
	g->last_holder = b + s[1].value;
	g->switch_number = b + s[2].value;
	g->cond = b + s[3].value;
	g->cond_end = g->cond + s[3].size;
	g->mutex = b + s[4].value;
	g->mutex_end = g->mutex + s[4].size;
	g->switch_cond = b + s[5].value;
	g->switch_cond_end = g->switch_cond + s[5].size;
	g->switch_mutex = b + s[6].value;
	g->switch_mutex_end = g->switch_mutex + s[6].size;
	g->interval = b + s[7].value;
	t->interp_head_addr = b + s[8].value;
	return 0;
}

static int need_field(const struct gs_target *t, struct gs_field f,
		      const char *name)
{
	if (f.off != GS_NOFF)
		return 0;
	return gs_fail(GS_EUNSUPPORTED, "the layout for Python %s (%s) lacks %s",
		       t->ver.str, gs_layout_source_name(t->source), name);
}

/* The main interpreter is created first and new ones are pushed at the
 * head, so without a `main` pointer it is the last one in the list. */
static int main_interp(struct gs_target *t, uint64_t *out)
{
	uint64_t p, last = 0;
	int rc;

	if (t->layout.rt_interpreters_main.off != GS_NOFF) {
		uint64_t a = t->runtime_addr + (uint64_t)t->layout.rt_interpreters_main.off;
		if ((rc = read_u64(t, "interpreters.main", a, out)))
			return rc;
		return *out ? 0 : not_initialised(t);
	}
	if ((rc = need_field(t, t->layout.interp_next, "PyInterpreterState.next")))
		return rc;
	if ((rc = read_u64(t, "interpreters.head", t->interp_head_addr, &p)))
		return rc;
	for (int n = 0; p; n++) {
		if (n == GS_MAX_INTERPS)
			return gs_fail(GS_EFAIL, "the interpreter list of process "
				       "%d does not end within %d entries",
				       (int)t->pid, GS_MAX_INTERPS);
		last = p;
		if ((rc = read_u64(t, "PyInterpreterState.next",
				   p + (uint64_t)t->layout.interp_next.off, &p)))
			return rc;
	}
	*out = last;
	return last ? 0 : not_initialised(t);
}

static int resolve_gil(struct gs_target *t, struct gs_elf *e)
{
	int rc;
	uint64_t head;

	if (t->ver.minor == 6) {
		if ((rc = gil_36(t, e)))
			return rc;
	} else {
		if ((rc = need_field(t, t->layout.rt_interpreters_head,
				     "_PyRuntime.interpreters.head")))
			return rc;
		t->interp_head_addr = t->runtime_addr +
				      (uint64_t)t->layout.rt_interpreters_head.off;
		if (t->layout.rt_gil.off != GS_NOFF) {
			gs_gil_addrs_from_base(&t->layout, t->runtime_addr +
					       (uint64_t)t->layout.rt_gil.off, &t->gil);
		} else {
			uint64_t interp, gil;
			if ((rc = need_field(t, t->layout.interp_ceval_gil,
					     "PyInterpreterState.ceval.gil")))
				return rc;
			if ((rc = main_interp(t, &interp)))
				return rc;
			if ((rc = read_u64(t, "ceval.gil", interp +
					   (uint64_t)t->layout.interp_ceval_gil.off,
					   &gil)))
				return rc;
			gs_debug("main interpreter 0x%llx, ceval.gil -> 0x%llx",
				 (unsigned long long)interp, (unsigned long long)gil);
			if (!gil)
				return not_initialised(t);
			gs_gil_addrs_from_base(&t->layout, gil, &t->gil);
		}
	}
	if ((rc = read_u64(t, "the interpreter list head", t->interp_head_addr,
			   &head)))
		return rc;
	gs_debug("interpreter list head at 0x%llx -> 0x%llx",
		 (unsigned long long)t->interp_head_addr, (unsigned long long)head);
	if (!head)
		return not_initialised(t);

	if (!t->gil.locked)
		return gs_fail(GS_EUNSUPPORTED, "the layout for Python %s (%s) "
			       "lacks _gil_runtime_state.locked", t->ver.str,
			       gs_layout_source_name(t->source));
	int32_t locked;
	if (gs_mem_read_i32(&t->mem, t->gil.locked, &locked) != 0)
		return mem_fail(t, "the GIL", t->gil.locked);
	gs_debug("GIL at 0x%llx: locked at 0x%llx reads %d",
		 (unsigned long long)t->gil.base,
		 (unsigned long long)t->gil.locked, (int)locked);
	if (locked == -1) {
		if (t->ver.minor == 6)
			return gs_fail(GS_ENOTPY, "Python 3.6 process %d has no GIL "
				       "yet: 3.6 creates it when the first thread "
				       "starts", (int)t->pid);
		return not_initialised(t);
	}
	if (locked != 0 && locked != 1)
		return gs_fail(GS_EUNSUPPORTED, "the GIL of process %d reads "
			       "locked=%d: the layout for Python %s (%s) does not "
			       "match this build", (int)t->pid, (int)locked,
			       t->ver.str, gs_layout_source_name(t->source));
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
static enum rt_kind probe_object(struct gs_elf *e, uint64_t *addr,
				 const char **how, int *by_section)
{
	uint64_t v;
	*by_section = 0;
	if (gs_elf_symbol(e, "_PyRuntime", &v, NULL) == 0) {
		*addr = v;
		*how = "symbol _PyRuntime";
		return RT_RUNTIME;
	}
	/* 3.12+ puts _PyRuntime in its own section, which survives a
	 * build that hides the symbol. */
	if (gs_elf_section(e, ".PyRuntime", &v, NULL) == 0 && v) {
		*addr = v;
		*how = "section .PyRuntime";
		*by_section = 1;
		return RT_RUNTIME;
	}
	if (gs_elf_symbol(e, "_PyThreadState_Current", &v, NULL) == 0) {
		*addr = v;
		*how = "symbol _PyThreadState_Current";
		return RT_TSTATE_CURRENT;
	}
	return RT_NONE;
}

static int locate(struct gs_target *t, const struct gs_maps *m,
		  const char *exe)
{
	struct cand *c = NULL;
	size_t nc = 0;
	struct gs_elf *e = NULL;
	enum rt_kind kind = RT_NONE;
	uint64_t rt_vaddr = 0;
	const char *how = NULL;
	int rc, denied = 0, by_section = 0;
	size_t i;

	if ((rc = build_candidates(m, exe, &c, &nc)))
		return rc;
	for (i = 0; i < nc && kind == RT_NONE; i++) {
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
		if (kind == RT_NONE) {
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
	if (kind == RT_NONE) {
		if (denied)
			return gs_fail(GS_EPERM, "permission denied opening the "
				       "objects mapped by process %d: " PERM_HINT,
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
	gs_debug("%s at 0x%llx (st_value 0x%llx)", kind == RT_RUNTIME ?
		 "_PyRuntime" : "_PyThreadState_Current",
		 (unsigned long long)anchor, (unsigned long long)rt_vaddr);
	if (!mapped_writable(m, anchor)) {
		rc = gs_fail(GS_EFAIL, "%s of %s would be at 0x%llx, which process "
			     "%d has no writable mapping for: wrong load bias",
			     kind == RT_RUNTIME ? "_PyRuntime" :
			     "_PyThreadState_Current", t->obj.path,
			     (unsigned long long)anchor, (int)t->pid);
		goto out;
	}
	if (kind == RT_RUNTIME)
		t->runtime_addr = anchor;

	int ft_hint = 0;
	if ((rc = find_version(t, e, kind, by_section, &ft_hint)))
		goto out;
	gs_debug("Python %s (from %s)", t->ver.str, t->ver.how);
	if (t->ver.major != 3 || t->ver.minor < 6 || t->ver.minor > 15) {
		rc = gs_fail(GS_EUNSUPPORTED, "Python %d.%d is not supported "
			     "(gilsnoop supports 3.6 to 3.15)", t->ver.major,
			     t->ver.minor);
		goto out;
	}
	if ((kind == RT_RUNTIME) != (t->ver.minor >= 7)) {
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
	rc = resolve_gil(t, e);
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
	if ((rc = check_process(pid)))
		return rc;
	char state;
	if (read_ident(pid, &t->ident, &state) != 0)
		return proc_errno_fail(pid, errno, "the status");
	if ((rc = gs_maps_read(pid, &maps)))
		return rc;
	if (maps.n == 0) {
		/* A kernel thread has no user mappings; so has a process
		 * that became a zombie since the stat check. */
		gs_maps_free(&maps);
		if ((rc = check_process(pid)))
			return rc;
		return gs_fail(GS_ENOTPY, "process %d is a kernel thread", (int)pid);
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
		if (has_execd(t))
			return execd_fail(pid, " while gilsnoop attached");
		if (check_process(pid))
			return gs_fail(GS_ENOPROC, "process %d exited while gilsnoop "
				       "attached", (int)pid);
	}
	if (rc)
		return rc;

	if (t->layout.ts_native_thread_id.off == GS_NOFF) {
		if (gs_find_pthread_tid_offset(t) != 0) {
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
	if (has_execd(t))
		return execd_fail(pid, " while gilsnoop attached");
	return 0;
}

void gs_target_detach(struct gs_target *t)
{
	/* Attach keeps no descriptors or memory; forget the addresses so a
	 * stale target cannot be read by mistake. */
	t->runtime_addr = 0;
	t->interp_head_addr = 0;
	memset(&t->gil, 0, sizeof t->gil);
}
