/* Symbolising native addresses with libdwfl, every file opened through
 * the target's root by gilsnoop's own callbacks (dwfl's standard ones
 * would look on the host and may ask debuginfod). */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/errors.h"
#include "proc/debugfile.h"
#include "stack/symbols.h"

#define VDSO_MAX (1u << 20)
/* Descriptions kept by address: threads blocked in the same place share
 * most of their frames, and a DWARF scope walk of a large unit (the eval
 * loop's) costs far more than the lookup. */
#define DESC_SLOTS 4096

/* One object as mapped: what the find_elf callback opens.  dwfl hands
 * the callbacks only the module's userdata, so each object carries its
 * symboliser. */
struct obj {
	struct gs_symbols *s;
	char *path;        /* as in maps, without " (deleted)" */
	uint64_t start, end;
	uint64_t map_start, map_end; /* one mapping of it, for map_files */
	int deleted, vdso;
	void *image;       /* the vDSO's bytes (elf_memory keeps a pointer) */
	Dwfl_Module *mod;
};

/* A symbol name without its version ("clock_nanosleep@GLIBC_2.2.5"),
 * kept for the symboliser's life. */
struct unversioned {
	const char *from;
	struct unversioned *next;
	char name[];
};

struct desc {
	uint64_t pc;
	int exact, inline_too;
	size_t n;
	struct gs_sym sym[];
};

struct gs_symbols {
	pid_t pid;
	char root[64];
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
	struct gs_maps maps;
	struct obj **objs;  /* kept across refreshes: dwfl points into them */
	size_t nobjs;
	struct unversioned *names;
	struct desc *desc[DESC_SLOTS];
	size_t ndesc;
};

static void flush_descs(struct gs_symbols *s)
{
	for (size_t i = 0; i < DESC_SLOTS; i++) {
		free(s->desc[i]);
		s->desc[i] = NULL;
	}
	s->ndesc = 0;
}

static struct desc **desc_slot(struct gs_symbols *s, uint64_t pc, int exact,
			       int inline_too)
{
	size_t h = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 52) % DESC_SLOTS;
	for (size_t k = 0; k < DESC_SLOTS; k++) {
		struct desc **d = &s->desc[(h + k) % DESC_SLOTS];
		if (!*d || ((*d)->pc == pc && (*d)->exact == exact &&
			    (*d)->inline_too == inline_too))
			return d;
	}
	return NULL;
}

static const char *unversioned(struct gs_symbols *s, const char *name)
{
	const char *at = name ? strchr(name, '@') : NULL;
	struct unversioned *u;
	if (!at || at == name)
		return name;
	for (u = s->names; u; u = u->next)
		if (u->from == name)
			return u->name;
	u = malloc(sizeof *u + (size_t)(at - name) + 1);
	if (!u)
		return name;
	u->from = name;
	memcpy(u->name, name, (size_t)(at - name));
	u->name[at - name] = 0;
	u->next = s->names;
	s->names = u;
	return u->name;
}

static int open_object(const struct obj *o, char *path, size_t n)
{
	int len;
	if (o->deleted)
		len = snprintf(path, n, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
			       (int)o->s->pid, o->map_start, o->map_end);
	else
		len = snprintf(path, n, "%s%s", o->s->root, o->path);
	if (len < 0 || (size_t)len >= n)
		return -1;
	return gs_open_regular(path);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct obj *o = *userdata;
	char path[PATH_MAX];
	(void)mod;
	(void)modname;
	(void)base;

	*elfp = NULL;
	if (!o)
		return -1;
	if (o->vdso) {
		size_t len = (size_t)(o->end - o->start);
		if (!len || len > VDSO_MAX)
			return -1;
		if (!o->image) {
			void *img = malloc(len);
			struct iovec l = { img, len },
				r = { (void *)(uintptr_t)o->start, len };
			if (!img || process_vm_readv(o->s->pid, &l, 1, &r, 1, 0) !=
			    (ssize_t)len) {
				free(img);
				return -1;
			}
			o->image = img;
		}
		*elfp = elf_memory(o->image, len);
		return -1;
	}
	int fd = open_object(o, path, sizeof path);
	if (fd < 0)
		return -1;
	*file_name = strdup(path);
	return fd;
}

/* Bytes of the named section, or NULL. */
static Elf_Data *section_named(Elf *elf, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && strcmp(n, name) == 0)
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

static int build_id_of(int fd, char *out, size_t n)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	int rc = -1;
	if (!e)
		return -1;
	while (rc && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		GElf_Nhdr nh;
		size_t off = 0, no, dsc;
		while ((off = gelf_getnote(d, off, &nh, &no, &dsc)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= 64 &&
			    2 * nh.n_descsz + 1 <= n) {
				gs_hex((unsigned char *)d->d_buf + dsc, nh.n_descsz, out);
				rc = 0;
				break;
			}
		}
	}
	elf_end(e);
	return rc;
}

/* dwz's shared file (.gnu_debugaltlink: a name and a build-id), under
 * the target's root: by build-id, else by its name.  dwfl asks for it
 * through find_debuginfo with the link name. */
static int find_alt(struct gs_symbols *s, const char *dwarf_file,
		    const char *altname, char **out_name)
{
	int fd = gs_open_regular(dwarf_file), afd = -1;
	char want[2 * 64 + 1] = "", path[PATH_MAX], got[2 * 64 + 1];
	Elf *e;
	Elf_Data *d;

	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && (d = section_named(e, ".gnu_debugaltlink")) && d->d_size) {
		const char *p = d->d_buf;
		size_t nl = strnlen(p, d->d_size);
		size_t bl = nl < d->d_size ? d->d_size - nl - 1 : 0;
		if (nl < d->d_size && strcmp(p, altname) == 0 && bl && bl <= 64)
			gs_hex((const unsigned char *)p + nl + 1, bl, want);
	}
	if (e)
		elf_end(e);
	close(fd);
	if (!want[0])
		return -1;
	for (int i = 0; i < 2 && afd < 0; i++) {
		int len;
		if (i == 0)
			len = snprintf(path, sizeof path,
				       "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
				       s->root, want, want + 2);
		else if (altname[0] == '/')
			len = snprintf(path, sizeof path, "%s%s", s->root, altname);
		else {
			const char *sl = strrchr(dwarf_file, '/');
			len = snprintf(path, sizeof path, "%.*s/%s",
				       sl ? (int)(sl - dwarf_file) : 1,
				       sl ? dwarf_file : ".", altname);
		}
		if (len < 0 || (size_t)len >= sizeof path)
			continue;
		afd = gs_open_regular(path);
		if (afd >= 0 && (build_id_of(afd, got, sizeof got) != 0 ||
				 strcmp(got, want) != 0)) {
			close(afd);
			afd = -1;
		}
	}
	if (afd >= 0)
		*out_name = strdup(path);
	return afd;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct obj *o = *userdata;
	const unsigned char *bits;
	GElf_Addr vaddr;
	char bid[2 * 64 + 1] = "", path[PATH_MAX];
	(void)modname;
	(void)base;

	if (!o || !file_name)
		return -1;
	/* The dwz request names the alt file; a debuglink never holds a
	 * '/' and the alt name usually does, but check the section. */
	if (debuglink_file && debuglink_crc == 0) {
		int fd = find_alt(o->s, file_name, debuglink_file, debuginfo_file_name);
		if (fd >= 0)
			return fd;
		if (strchr(debuglink_file, '/'))
			return -1;
	}
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n > 0 && n <= 64)
		gs_hex(bits, (size_t)n, bid);
	struct gs_debug_search q = {
		.root = o->s->root,
		.object = file_name,
		.build_id = bid,
		.link = debuglink_file,
		.crc = debuglink_crc,
	};
	while (gs_debug_next(&q, path, sizeof path) == 0) {
		int fd = gs_open_regular(path);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	return -1;
}

static const char *strip_deleted(const char *p, char *buf, size_t n)
{
	static const char suf[] = " (deleted)";
	size_t l = strlen(p), sl = sizeof suf - 1;
	if (l > sl && strcmp(p + l - sl, suf) == 0 && l - sl < n) {
		memcpy(buf, p, l - sl);
		buf[l - sl] = 0;
		return buf;
	}
	return p;
}

static int known(const struct gs_symbols *s, const char *path, uint64_t start)
{
	for (size_t i = 0; i < s->nobjs; i++)
		if (s->objs[i]->start == start && strcmp(s->objs[i]->path, path) == 0)
			return 1;
	return 0;
}

static int add_obj(struct gs_symbols *s, const char *path, uint64_t start,
		   uint64_t end, const struct gs_map *one, int vdso)
{
	struct obj *o, **nv;
	if (known(s, path, start))
		return 0;
	nv = realloc(s->objs, (s->nobjs + 1) * sizeof *nv);
	if (!nv)
		return -1;
	s->objs = nv;
	o = calloc(1, sizeof *o);
	if (!o || !(o->path = strdup(path))) {
		free(o);
		return -1;
	}
	o->s = s;
	o->start = start;
	o->end = end;
	o->map_start = one->start;
	o->map_end = one->end;
	o->deleted = one->deleted;
	o->vdso = vdso;
	s->objs[s->nobjs++] = o;
	return 0;
}

/* Group the file-backed mappings of one object (consecutive lines of
 * the same path and inode) and keep those with code. */
static int collect(struct gs_symbols *s)
{
	const struct gs_maps *m = &s->maps;
	char buf[PATH_MAX];
	for (size_t i = 0; i < m->n;) {
		const struct gs_map *a = &m->v[i];
		size_t j = i + 1;
		int exec = strchr(a->perms, 'x') != NULL;
		if (strcmp(a->path, "[vdso]") == 0) {
			if (add_obj(s, "[vdso]", a->start, a->end, a, 1))
				return -1;
			i++;
			continue;
		}
		if (a->path[0] != '/') {
			i++;
			continue;
		}
		while (j < m->n && m->v[j].inode == a->inode &&
		       strcmp(m->v[j].path, a->path) == 0) {
			exec |= strchr(m->v[j].perms, 'x') != NULL;
			j++;
		}
		if (exec && add_obj(s, strip_deleted(a->path, buf, sizeof buf),
				    a->start, m->v[j - 1].end, a, 0))
			return -1;
		i = j;
	}
	return 0;
}

static int report(struct gs_symbols *s)
{
	dwfl_report_begin_add(s->dwfl);
	for (size_t i = 0; i < s->nobjs; i++) {
		struct obj *o = s->objs[i];
		void **ud;
		if (o->mod)
			continue;
		o->mod = dwfl_report_module(s->dwfl, o->path, o->start, o->end);
		if (!o->mod)
			continue; /* overlaps another: left out */
		dwfl_module_info(o->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
		*ud = o;
	}
	return dwfl_report_end(s->dwfl, NULL, NULL) == 0 ? 0 : -1;
}

int gs_symbols_open(pid_t pid, const char *root, struct gs_symbols **out)
{
	struct gs_symbols *s = calloc(1, sizeof *s);
	int rc;

	*out = NULL;
	if (!s)
		return gs_fail(GS_EFAIL, "out of memory");
	s->pid = pid;
	snprintf(s->root, sizeof s->root, "%s", root ? root : "");
	s->cb.find_elf = find_elf;
	s->cb.find_debuginfo = find_debuginfo;
	s->cb.section_address = dwfl_offline_section_address;
	elf_version(EV_CURRENT);
	s->dwfl = dwfl_begin(&s->cb);
	if (!s->dwfl) {
		free(s);
		return gs_fail(GS_EFAIL, "libdwfl: %s", dwfl_errmsg(-1));
	}
	if ((rc = gs_maps_read(pid, &s->maps)) != 0) {
		gs_symbols_close(s);
		return rc;
	}
	if (collect(s) || report(s)) {
		gs_symbols_close(s);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	*out = s;
	return 0;
}

int gs_symbols_refresh(struct gs_symbols *s)
{
	struct gs_maps m;
	/* gs_maps_read records its failure; a refresh that fails keeps the
	 * old maps, which is no error of the command. */
	if (gs_maps_read(s->pid, &m) != 0) {
		gs_clear_error();
		return -1;
	}
	gs_maps_free(&s->maps);
	s->maps = m;
	if (collect(s) || report(s))
		return -1;
	return 0;
}

void gs_symbols_close(struct gs_symbols *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	for (size_t i = 0; i < s->nobjs; i++) {
		free(s->objs[i]->path);
		free(s->objs[i]->image);
		free(s->objs[i]);
	}
	free(s->objs);
	flush_descs(s);
	while (s->names) {
		struct unversioned *u = s->names;
		s->names = u->next;
		free(u);
	}
	gs_maps_free(&s->maps);
	free(s);
}

const struct gs_maps *gs_symbols_maps(const struct gs_symbols *s)
{
	return &s->maps;
}

int gs_symbols_object(struct gs_symbols *s, uint64_t pc, uint64_t *low,
		      uint64_t *high, Elf **elf, uint64_t *bias)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, pc);
	Dwarf_Addr lo, hi, b = 0;
	if (!mod)
		return -1;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	*low = lo;
	*high = hi;
	*elf = dwfl_module_getelf(mod, &b);
	*bias = b;
	return 0;
}

static const char *object_name(Dwfl_Module *mod)
{
	return dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* DW_AT_call_file of an inlined call, as a path. */
static const char *call_file(Dwarf_Die *cu, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx) != 0 ||
	    dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static int call_line(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word v;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &v) != 0 ||
	    v > INT_MAX)
		return 0;
	return (int)v;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	return n ? n : dwarf_diename(die);
}

static size_t describe(struct gs_symbols *s, uint64_t pc, int exact,
		       int inline_too, struct gs_sym *out, size_t cap)
{
	uint64_t look = exact || pc == 0 ? pc : pc - 1;
	Dwfl_Module *mod;
	GElf_Off off = 0;
	GElf_Sym sym;
	Dwarf_Addr bias = 0;
	const char *name, *file = NULL;
	int line = 0;
	size_t n = 0;

	if (!cap)
		return 0;
	memset(out, 0, sizeof *out);
	mod = dwfl_addrmodule(s->dwfl, look);
	if (!mod && gs_symbols_refresh(s) == 0)
		mod = dwfl_addrmodule(s->dwfl, look);
	if (!mod)
		return 1;
	name = unversioned(s, dwfl_module_addrinfo(mod, look, &off, &sym, NULL, NULL, NULL));
	const char *obj = object_name(mod);
	Dwfl_Line *dl = dwfl_module_getsrc(mod, look);
	if (dl)
		file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	Dwarf_Die *cu = dwfl_module_addrdie(mod, look, &bias);
	if (!cu)
		dwfl_module_getelf(mod, &bias);

	if (cu && inline_too) {
		Dwarf_Die *scopes = NULL;
		int ns = dwarf_getscopes(cu, look - bias, &scopes);
		for (int i = 0; i < ns && n + 1 < cap; i++) {
			int tag = dwarf_tag(&scopes[i]);
			if (tag == DW_TAG_subprogram)
				break;
			if (tag != DW_TAG_inlined_subroutine)
				continue;
			struct gs_sym *g = &out[n++];
			memset(g, 0, sizeof *g);
			g->function = die_name(&scopes[i]);
			g->object = obj;
			g->objoff = pc - bias;
			g->file = file;
			g->line = line;
			g->inlined = 1;
			/* The next function out is where this one was
			 * inlined: at its call site. */
			file = call_file(cu, &scopes[i]);
			line = call_line(&scopes[i]);
		}
		free(scopes);
	}
	struct gs_sym *g = &out[n++];
	memset(g, 0, sizeof *g);
	g->function = name;
	g->offset = name ? off + (pc - look) : 0;
	if (!name && cu) {
		/* No symbol (a stripped static function) but DWARF: its
		 * subprogram's name. */
		Dwarf_Die *scopes = NULL;
		int ns = dwarf_getscopes(cu, look - bias, &scopes);
		for (int i = 0; i < ns; i++)
			if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
				g->function = die_name(&scopes[i]);
				break;
			}
		free(scopes);
	}
	g->object = obj;
	g->objoff = pc - bias;
	g->file = file;
	g->line = line;
	return n;
}

size_t gs_symbols_describe(struct gs_symbols *s, uint64_t pc, int exact,
			   int inline_too, struct gs_sym *out, size_t cap)
{
	exact = !!exact;
	inline_too = !!inline_too;
	if (s->ndesc >= DESC_SLOTS / 2)
		flush_descs(s);
	struct desc **slot = desc_slot(s, pc, exact, inline_too);
	if (slot && *slot && (*slot)->n <= cap) {
		memcpy(out, (*slot)->sym, (*slot)->n * sizeof *out);
		return (*slot)->n;
	}
	size_t n = describe(s, pc, exact, inline_too, out, cap);
	/* An unknown address may be a library loaded later: not kept. */
	if (!slot || *slot || !n || !out[n - 1].object)
		return n;
	struct desc *d = malloc(sizeof *d + n * sizeof *out);
	if (d) {
		d->pc = pc;
		d->exact = exact;
		d->inline_too = inline_too;
		d->n = n;
		memcpy(d->sym, out, n * sizeof *out);
		*slot = d;
		s->ndesc++;
	}
	return n;
}
