/* libelf helpers.  The files come from the target's mount namespace and
 * may be truncated, replaced or hostile, so every count taken from a
 * header is checked against the bytes libelf actually handed back, and
 * every string goes through elf_strptr(), which bounds it by its
 * section. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/elfobj.h"
#include "core/errors.h"

/* The GNU build-id note type; spelled out so that the file does not need
 * elf.h from a particular glibc. */
#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

struct gs_elf {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shnum;      /* 0 when the section headers are unusable */
	size_t shstrndx;   /* valid only when shnum != 0 */
	size_t phnum;
	Elf_Scn *dynsym, *symtab;
};

int gs_elf_open(const char *path, struct gs_elf **out)
{
	struct gs_elf *e;
	struct stat st;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return gs_fail(GS_EFAIL, "libelf is unusable: %s", elf_errmsg(-1)), -1;
	e = calloc(1, sizeof *e);
	if (!e)
		return gs_fail(GS_EFAIL, "out of memory opening %s", path), -1;
	/* Only regular files, checked before opening: opening a device or
	 * a FIFO under the target's root can block or have side effects. */
	if (stat(path, &st) != 0) {
		int err = errno;
		gs_fail(GS_EFAIL, "cannot open %s: %s", path, strerror(err));
		free(e);
		errno = err;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		gs_fail(GS_EFAIL, "%s is not a regular file", path);
		free(e);
		errno = ENOEXEC;
		return -1;
	}
	e->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (e->fd < 0) {
		int err = errno;
		gs_fail(GS_EFAIL, "cannot open %s: %s", path, strerror(err));
		free(e);
		errno = err;
		return -1;
	}
	if (fstat(e->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		gs_fail(GS_EFAIL, "%s is not a regular file", path);
		goto fail;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		gs_fail(GS_EFAIL, "%s is not an ELF file%s%s", path,
			e->elf ? "" : ": ", e->elf ? "" : elf_errmsg(-1));
		goto fail;
	}
	if (!gelf_getehdr(e->elf, &e->ehdr)) {
		gs_fail(GS_EFAIL, "%s: bad ELF header: %s", path, elf_errmsg(-1));
		goto fail;
	}
	if (elf_getphdrnum(e->elf, &e->phnum) != 0)
		e->phnum = 0;
	/* Unusable section headers leave symbol and section lookups empty
	 * rather than failing the open: segments can still be used. */
	if (elf_getshdrnum(e->elf, &e->shnum) != 0 ||
	    elf_getshdrstrndx(e->elf, &e->shstrndx) != 0 ||
	    e->shstrndx >= e->shnum)
		e->shnum = 0;
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;
		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM && !e->dynsym)
			e->dynsym = scn;
		else if (sh.sh_type == SHT_SYMTAB && !e->symtab)
			e->symtab = scn;
	}
	*out = e;
	return 0;
fail:
	if (e->elf)
		elf_end(e->elf);
	close(e->fd);
	free(e);
	errno = ENOEXEC;
	return -1;
}

void gs_elf_close(struct gs_elf *e)
{
	if (!e)
		return;
	elf_end(e->elf);
	close(e->fd);
	free(e);
}

int gs_elf_type(const struct gs_elf *e)
{
	return e->ehdr.e_type;
}

int gs_elf_has_symtab(const struct gs_elf *e)
{
	return e->symtab != NULL;
}

int gs_elf_is_x86_64(const struct gs_elf *e)
{
	return e->ehdr.e_ident[EI_CLASS] == ELFCLASS64 &&
	       e->ehdr.e_machine == EM_X86_64;
}

int gs_elf_has_interp(struct gs_elf *e)
{
	for (size_t i = 0; i < e->phnum; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_INTERP)
			return 1;
	}
	return 0;
}

/* The section's data, whole: NULL unless libelf returned exactly
 * sh_size bytes (a truncated file gives less, or nothing). */
static Elf_Data *whole_data(Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *d;
	if (!gelf_getshdr(scn, sh) || sh->sh_type == SHT_NOBITS)
		return NULL;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf || d->d_size == 0)
		return NULL;
	if (d->d_size != sh->sh_size)
		return NULL;
	return d;
}

static const char *sym_name(struct gs_elf *e, const GElf_Shdr *sh,
			    const GElf_Sym *s)
{
	/* elf_strptr() checks the link is a string table and the index is
	 * inside it; the link itself must name an existing section. */
	if (sh->sh_link == 0 || sh->sh_link >= e->shnum)
		return NULL;
	return elf_strptr(e->elf, sh->sh_link, s->st_name);
}

static int find_in(struct gs_elf *e, Elf_Scn *scn, const char *name,
		   uint64_t *value, uint64_t *size)
{
	GElf_Shdr sh;
	Elf_Data *d;
	size_t entsz, n;
	int found = 0;
	GElf_Sym best = { 0 };

	if (!scn || !(d = whole_data(scn, &sh)))
		return -1;
	entsz = gelf_fsize(e->elf, ELF_T_SYM, 1, EV_CURRENT);
	if (entsz == 0 || d->d_type != ELF_T_SYM)
		return -1;
	/* Count from the bytes we hold, not from sh_size. */
	n = d->d_size / entsz;
	if (n > INT32_MAX) /* gelf_getsym() takes an int */
		n = INT32_MAX;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		const char *sn;
		if (!gelf_getsym(d, (int)i, &s))
			break;
		if (s.st_shndx == SHN_UNDEF || s.st_name == 0)
			continue;
		if (GELF_ST_TYPE(s.st_info) == STT_SECTION ||
		    GELF_ST_TYPE(s.st_info) == STT_FILE)
			continue;
		sn = sym_name(e, &sh, &s);
		if (!sn || strcmp(sn, name) != 0)
			continue;
		/* A global definition wins over a local of the same name. */
		if (!found || (GELF_ST_BIND(best.st_info) == STB_LOCAL &&
			       GELF_ST_BIND(s.st_info) != STB_LOCAL)) {
			best = s;
			found = 1;
			if (GELF_ST_BIND(s.st_info) != STB_LOCAL)
				break;
		}
	}
	if (!found)
		return -1;
	if (value)
		*value = best.st_value;
	if (size)
		*size = best.st_size;
	return 0;
}

int gs_elf_symbol(struct gs_elf *e, const char *name, uint64_t *value,
		  uint64_t *size)
{
	if (find_in(e, e->dynsym, name, value, size) == 0)
		return 0;
	return find_in(e, e->symtab, name, value, size);
}

static Elf_Scn *section_by_name(struct gs_elf *e, const char *name,
				GElf_Shdr *out)
{
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		const char *sn;
		if (!scn || !gelf_getshdr(scn, out))
			continue;
		sn = elf_strptr(e->elf, e->shstrndx, out->sh_name);
		if (sn && strcmp(sn, name) == 0)
			return scn;
	}
	return NULL;
}

int gs_elf_section(struct gs_elf *e, const char *name, uint64_t *addr,
		   uint64_t *size)
{
	GElf_Shdr sh;
	if (!section_by_name(e, name, &sh))
		return -1;
	if (addr)
		*addr = sh.sh_addr;
	if (size)
		*size = sh.sh_size;
	return 0;
}

/* Look for the GNU build-id note in one block of note data. */
static int build_id_in(Elf *elf, Elf_Data *d, char *buf, size_t n)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;
	static const char hex[] = "0123456789abcdef";

	if (!d || !d->d_buf)
		return -1;
	while (off < d->d_size &&
	       (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (next <= off)
			break;
		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4)
			continue;
		/* gelf_getnote() has bounded name and desc by d_size. */
		if (name_off > d->d_size || d->d_size - name_off < 4 ||
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4) != 0)
			continue;
		if (nh.n_descsz == 0 || desc_off > d->d_size ||
		    d->d_size - desc_off < nh.n_descsz)
			continue;
		/* A build-id that does not fit is not truncated: a shorter
		 * key would name another build. */
		if (n < 2 * (size_t)nh.n_descsz + 1)
			return -1;
		const unsigned char *p = (const unsigned char *)d->d_buf + desc_off;
		for (size_t i = 0; i < nh.n_descsz; i++) {
			buf[2 * i] = hex[p[i] >> 4];
			buf[2 * i + 1] = hex[p[i] & 15];
		}
		buf[2 * nh.n_descsz] = 0;
		return 0;
	}
	(void)elf;
	return -1;
}

int gs_elf_build_id(struct gs_elf *e, char *buf, size_t n)
{
	if (n)
		buf[0] = 0;
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;
		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (build_id_in(e->elf, elf_getdata(scn, NULL), buf, n) == 0)
			return 0;
	}
	/* Without section headers the note is still reachable through the
	 * program headers. */
	for (size_t i = 0; i < e->phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_NOTE ||
		    ph.p_filesz == 0)
			continue;
		if (ph.p_offset > INT64_MAX)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(e->elf, (int64_t)ph.p_offset,
						   ph.p_filesz, ph.p_align == 8 ?
						   ELF_T_NHDR8 : ELF_T_NHDR);
		if (build_id_in(e->elf, d, buf, n) == 0)
			return 0;
	}
	return -1;
}

int gs_elf_debuglink(struct gs_elf *e, char *buf, size_t n, uint32_t *crc)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section_by_name(e, ".gnu_debuglink", &sh);
	Elf_Data *d;
	const char *p, *nul;
	size_t len, crc_off;

	if (!scn || !(d = whole_data(scn, &sh)))
		return -1;
	p = d->d_buf;
	nul = memchr(p, 0, d->d_size);
	if (!nul || nul == p)
		return -1;
	len = (size_t)(nul - p);
	/* The name is padded to 4 bytes, then comes the CRC32. */
	crc_off = (len + 1 + 3) & ~(size_t)3;
	if (crc_off > d->d_size || d->d_size - crc_off < 4 || len + 1 > n)
		return -1;
	/* No '/' in the name: it is looked up in fixed directories, and a
	 * hostile one must not climb out of them. */
	if (memchr(p, '/', len))
		return -1;
	memcpy(buf, p, len + 1);
	if (crc) {
		/* The CRC is stored in the file's byte order. */
		const unsigned char *c = (const unsigned char *)p + crc_off;
		if (e->ehdr.e_ident[EI_DATA] == ELFDATA2MSB)
			*crc = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
			       (uint32_t)c[2] << 8 | c[3];
		else
			*crc = (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 |
			       (uint32_t)c[1] << 8 | c[0];
	}
	return 0;
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (uint64_t)p : 4096;
}

int gs_elf_load_for_offset(struct gs_elf *e, uint64_t off, uint64_t *vaddr,
			   uint64_t *offset)
{
	uint64_t pg = page_size();

	/* The kernel maps a segment from its page-aligned file offset, so a
	 * maps line's offset may lie below p_offset by up to a page. */
	for (size_t i = 0; i < e->phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t lo = ph.p_offset & ~(pg - 1);
		uint64_t hi = ph.p_offset + ph.p_filesz;
		if (hi < ph.p_offset) /* wrapped */
			continue;
		/* p_vaddr and p_offset must agree modulo the page size, or
		 * the formula bias = start - offset - (vaddr - p_offset)
		 * would not hold. */
		if ((ph.p_vaddr - ph.p_offset) & (pg - 1))
			continue;
		if (off >= lo && (off < hi || (ph.p_filesz == 0 && off == lo))) {
			*vaddr = ph.p_vaddr;
			*offset = ph.p_offset;
			return 0;
		}
	}
	return -1;
}

int gs_elf_read_vaddr(struct gs_elf *e, uint64_t vaddr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (vaddr + len < vaddr)
		return -1;
	for (size_t i = 0; i < e->phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr + ph.p_filesz < ph.p_vaddr ||
		    ph.p_offset + ph.p_filesz < ph.p_offset)
			continue;
		/* Only the file-backed part: bytes past p_filesz are .bss. */
		if (vaddr < ph.p_vaddr || vaddr + len > ph.p_vaddr + ph.p_filesz)
			continue;
		uint64_t foff = ph.p_offset + (vaddr - ph.p_vaddr);
		if (foff > INT64_MAX)
			return -1;
		/* elf_getdata_rawchunk() checks the range against the file
		 * size. */
		Elf_Data *d = elf_getdata_rawchunk(e->elf, (int64_t)foff, len,
						   ELF_T_BYTE);
		if (!d || !d->d_buf || d->d_size != len)
			return -1;
		memcpy(buf, d->d_buf, len);
		return 0;
	}
	return -1;
}

static int strings_in(const char *p, size_t n,
		      int (*fn)(const char *s, size_t len, void *arg), void *arg)
{
	size_t i = 0;
	while (i < n) {
		const char *nul = memchr(p + i, 0, n - i);
		if (!nul)
			break; /* an unterminated tail is not a string */
		size_t len = (size_t)(nul - (p + i));
		if (len) {
			int r = fn(p + i, len, arg);
			if (r)
				return r;
		}
		i += len + 1;
	}
	return 0;
}

int gs_elf_foreach_rodata_string(struct gs_elf *e,
				 int (*fn)(const char *s, size_t len, void *arg),
				 void *arg)
{
	int seen = 0;
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;
		const char *sn;
		Elf_Data *d;
		int r;
		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		if (!(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_flags & (SHF_WRITE | SHF_EXECINSTR)))
			continue;
		sn = elf_strptr(e->elf, e->shstrndx, sh.sh_name);
		if (!sn || strncmp(sn, ".rodata", 7) != 0)
			continue;
		seen = 1;
		if (!(d = whole_data(scn, &sh)))
			continue;
		r = strings_in(d->d_buf, d->d_size, fn, arg);
		if (r)
			return r;
	}
	if (seen)
		return 0;
	/* No usable section headers: read-only, non-executable load
	 * segments hold the same bytes. */
	for (size_t i = 0; i < e->phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    (ph.p_flags & (PF_W | PF_X)) || ph.p_filesz == 0 ||
		    ph.p_offset > INT64_MAX)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(e->elf, (int64_t)ph.p_offset,
						   ph.p_filesz, ELF_T_BYTE);
		if (!d || !d->d_buf || d->d_size != ph.p_filesz)
			continue;
		int r = strings_in(d->d_buf, d->d_size, fn, arg);
		if (r)
			return r;
	}
	return 0;
}
