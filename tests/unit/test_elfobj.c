/* gs_elf_* (include/elfobj.h) on real objects (this test's own executable
 * and the libc it runs with) and on damaged copies of the executable:
 * truncated files, garbage section headers, symbol tables whose sizes,
 * links and string indexes point outside the file.  The damaged cases
 * must fail cleanly; the sanitizer build turns any stray read into a
 * failure. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <gnu/libc-version.h>
#include <libelf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/elfobj.h"
#include "proc/maps.h"
#include "unit.h"

/* Something to find among the read-only strings and by symbol. */
const char gs_test_marker[] = "gilsnoop-elfobj-test-marker-6a1f";
/* A function whose address the test compares with bias + st_value. */
int gs_test_anchor(int x);
__attribute__((noinline)) int gs_test_anchor(int x)
{
	return x * 3 + 1;
}

static char self_path[PATH_MAX];
static unsigned char *self_bytes;
static size_t self_len;

static int load_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	struct stat st;
	int fd;

	if (n <= 0)
		return -1;
	self_path[n] = 0;
	fd = open(self_path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	self_len = (size_t)st.st_size;
	self_bytes = malloc(self_len);
	if (!self_bytes || read(fd, self_bytes, self_len) != (ssize_t)self_len) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The bias of a mapped object, the way locate.c computes it. */
static int bias_of(struct gs_elf *e, const char *path, uint64_t *bias)
{
	struct gs_maps m;
	const struct gs_map *low = NULL;
	uint64_t pv, po;

	if (gs_maps_read(getpid(), &m) != 0)
		return -1;
	for (size_t i = 0; i < m.n; i++)
		if (strcmp(m.v[i].path, path) == 0 &&
		    (!low || m.v[i].offset < low->offset))
			low = &m.v[i];
	int rc = -1;
	if (low && gs_elf_load_for_offset(e, low->offset, &pv, &po) == 0) {
		*bias = low->start - low->offset - (pv - po);
		rc = 0;
	}
	gs_maps_free(&m);
	return rc;
}

static int find_marker(const char *s, size_t len, void *arg)
{
	(void)arg;
	return len == strlen(gs_test_marker) && memcmp(s, gs_test_marker, len) == 0;
}

static int count_strings(const char *s, size_t len, void *arg)
{
	(void)s;
	(void)len;
	++*(size_t *)arg;
	return 0;
}

static void test_self(void)
{
	struct gs_elf *e;
	uint64_t v, sz, bias;
	char bid[80], link[256];
	uint32_t crc;

	if (!UNIT_EQ_INT(gs_elf_open(self_path, &e), 0, "open own executable"))
		return;
	UNIT_CHECK(gs_elf_type(e) == ET_DYN || gs_elf_type(e) == ET_EXEC,
		   "own executable is ET_DYN or ET_EXEC");
	UNIT_CHECK(gs_elf_is_x86_64(e), "own executable is x86_64");
	UNIT_CHECK(gs_elf_has_symtab(e), "own executable has .symtab");
	UNIT_EQ_INT(gs_elf_build_id(e, bid, sizeof bid), 0, "own build-id present");
	UNIT_CHECK(strlen(bid) >= 16 && strspn(bid, "0123456789abcdef") ==
		   strlen(bid), "build-id is lower-case hex");
	UNIT_CHECK(gs_elf_build_id(e, bid, 8) != 0,
		   "build-id refused when the buffer is too small");

	UNIT_EQ_INT(gs_elf_symbol(e, "main", &v, &sz), 0, "symbol main");
	if (UNIT_EQ_INT(gs_elf_symbol(e, "gs_test_anchor", &v, &sz), 0,
			"symbol gs_test_anchor") &&
	    UNIT_EQ_INT(bias_of(e, self_path, &bias), 0, "bias of own executable")) {
		UNIT_EQ_INT(bias + v, (uintptr_t)&gs_test_anchor,
			    "bias + st_value == &gs_test_anchor");
		UNIT_CHECK(sz > 0, "gs_test_anchor has a size");
	}
	UNIT_CHECK(gs_elf_symbol(e, "no_such_symbol_gilsnoop", &v, &sz) != 0,
		   "missing symbol not found");

	if (UNIT_EQ_INT(gs_elf_symbol(e, "gs_test_marker", &v, &sz), 0,
			"symbol gs_test_marker")) {
		char buf[sizeof gs_test_marker];
		UNIT_EQ_INT(sz, sizeof gs_test_marker, "marker st_size");
		if (UNIT_EQ_INT(gs_elf_read_vaddr(e, v, buf, sizeof buf), 0,
				"read marker from the file"))
			UNIT_EQ_STR(buf, gs_test_marker, "marker bytes from the file");
		UNIT_CHECK(gs_elf_read_vaddr(e, UINT64_MAX - 2, buf, 8) != 0,
			   "read at a wrapping address fails");
		UNIT_CHECK(gs_elf_read_vaddr(e, 0x7fffffff0000ULL, buf, 8) != 0,
			   "read at an unmapped vaddr fails");
	}
	UNIT_EQ_INT(gs_elf_foreach_rodata_string(e, find_marker, NULL), 1,
		    "marker among .rodata strings");

	UNIT_EQ_INT(gs_elf_section(e, ".text", &v, &sz), 0, ".text exists");
	UNIT_CHECK(sz > 0, ".text has a size");
	UNIT_CHECK(gs_elf_section(e, ".no_such_section", &v, &sz) != 0,
		   "missing section not found");
	if (gs_elf_debuglink(e, link, sizeof link, &crc) == 0)
		UNIT_CHECK(link[0] && !strchr(link, '/'), "debuglink is a file name");
	else
		UNIT_CHECK(1, "no debuglink in own executable");
	gs_elf_close(e);
}

static void test_libc(void)
{
	struct gs_maps m;
	const char *path = NULL;
	struct gs_elf *e;
	uint64_t v, sz, bias;
	char bid[80];

	if (!UNIT_EQ_INT(gs_maps_read(getpid(), &m), 0, "read own maps"))
		return;
	for (size_t i = 0; i < m.n && !path; i++) {
		const char *b = strrchr(m.v[i].path, '/');
		if (b && strncmp(b + 1, "libc.so", 7) == 0)
			path = m.v[i].path;
	}
	if (!UNIT_CHECK(path != NULL, "libc is mapped")) {
		gs_maps_free(&m);
		return;
	}
	if (UNIT_EQ_INT(gs_elf_open(path, &e), 0, "open libc")) {
		UNIT_EQ_INT(gs_elf_type(e), ET_DYN, "libc is ET_DYN");
		UNIT_EQ_INT(gs_elf_build_id(e, bid, sizeof bid), 0, "libc build-id");
		if (UNIT_EQ_INT(gs_elf_symbol(e, "gnu_get_libc_version", &v, &sz), 0,
				"libc exports gnu_get_libc_version") &&
		    UNIT_EQ_INT(bias_of(e, path, &bias), 0, "bias of libc"))
			UNIT_EQ_INT(bias + v, (uintptr_t)&gnu_get_libc_version,
				    "libc bias + st_value == &gnu_get_libc_version");
		gs_elf_close(e);
	}
	gs_maps_free(&m);
}

static void test_not_elf(void)
{
	struct gs_elf *e = NULL;

	errno = 0;
	UNIT_CHECK(gs_elf_open("/nonexistent/gilsnoop/x", &e) != 0 && e == NULL,
		   "missing file fails");
	UNIT_EQ_INT(errno, ENOENT, "missing file leaves ENOENT");
	UNIT_CHECK(gs_elf_open("/", &e) != 0, "a directory fails");
	UNIT_CHECK(gs_elf_open("/dev/null", &e) != 0, "a device fails");
	UNIT_CHECK(gs_elf_open("/proc/self/status", &e) != 0, "a text file fails");
}

/* ---- damaged copies ---------------------------------------------------- */

static char tmp_path[64];

static int write_copy(const unsigned char *b, size_t n)
{
	int fd;
	snprintf(tmp_path, sizeof tmp_path, "/tmp/gs-test-elfobj-XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0)
		return -1;
	if (write(fd, b, n) != (ssize_t)n) {
		close(fd);
		unlink(tmp_path);
		return -1;
	}
	close(fd);
	return 0;
}

/* Run every query on a damaged file; none may crash.  Returns whether the
 * open succeeded; *found_main tells whether the lookup of main did. */
static int poke(const char *what, int *found_main)
{
	struct gs_elf *e;
	uint64_t v, sz, a, b;
	char buf[256];
	uint32_t crc;
	size_t n = 0;

	*found_main = 0;
	if (gs_elf_open(tmp_path, &e) != 0)
		return 0;
	*found_main = gs_elf_symbol(e, "main", &v, &sz) == 0;
	(void)gs_elf_symbol(e, "gs_test_marker", &v, &sz);
	(void)gs_elf_section(e, ".text", &v, &sz);
	(void)gs_elf_build_id(e, buf, sizeof buf);
	(void)gs_elf_debuglink(e, buf, sizeof buf, &crc);
	(void)gs_elf_load_for_offset(e, 0, &a, &b);
	(void)gs_elf_read_vaddr(e, 0, buf, sizeof buf);
	(void)gs_elf_foreach_rodata_string(e, count_strings, &n);
	(void)gs_elf_type(e);
	(void)gs_elf_has_symtab(e);
	gs_elf_close(e);
	(void)what;
	return 1;
}

struct layout_info {
	uint64_t shoff;
	size_t shnum, shentsize;
	size_t symtab, strtab, text, note_bid;
	uint64_t note_bid_off;
	uint64_t symtab_off, symtab_size;
};

/* Where the interesting headers of our own file are, read with libelf
 * from the pristine bytes. */
static int inspect(struct layout_info *li)
{
	Elf *elf;
	GElf_Ehdr eh;
	size_t shstrndx;

	memset(li, 0, sizeof *li);
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)self_bytes, self_len);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getshdrstrndx(elf, &shstrndx))
		return -1;
	li->shoff = eh.e_shoff;
	li->shnum = eh.e_shnum;
	li->shentsize = eh.e_shentsize;
	for (size_t i = 1; i < li->shnum; i++) {
		GElf_Shdr sh;
		Elf_Scn *scn = elf_getscn(elf, i);
		const char *name;
		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			li->symtab = i;
			li->strtab = sh.sh_link;
			li->symtab_off = sh.sh_offset;
			li->symtab_size = sh.sh_size;
		} else if (!strcmp(name, ".text")) {
			li->text = i;
		} else if (!strcmp(name, ".note.gnu.build-id")) {
			li->note_bid = i;
			li->note_bid_off = sh.sh_offset;
		}
	}
	elf_end(elf);
	return li->symtab && li->strtab && li->text ? 0 : -1;
}

/* A copy of ourselves with one Elf64_Shdr field of section idx changed. */
static unsigned char *with_shdr_field(const struct layout_info *li, size_t idx,
				      size_t field_off, uint64_t value,
				      size_t width)
{
	unsigned char *c = malloc(self_len);
	uint64_t at = li->shoff + idx * li->shentsize + field_off;
	if (!c)
		return NULL;
	memcpy(c, self_bytes, self_len);
	if (at + width <= self_len)
		memcpy(c + at, &value, width);
	return c;
}

static void damaged(const char *name, unsigned char *copy, size_t n,
		    int must_fail_open, int main_must_fail)
{
	int found_main, opened;
	char label[160];

	if (!copy || write_copy(copy, n) != 0) {
		snprintf(label, sizeof label, "%s: copy written", name);
		UNIT_CHECK(0, label);
		free(copy);
		return;
	}
	opened = poke(name, &found_main);
	if (must_fail_open) {
		snprintf(label, sizeof label, "%s: open fails", name);
		UNIT_CHECK(!opened, label);
	} else {
		snprintf(label, sizeof label, "%s: no crash", name);
		UNIT_CHECK(1, label);
	}
	if (main_must_fail) {
		snprintf(label, sizeof label, "%s: main not found", name);
		UNIT_CHECK(!found_main, label);
	}
	unlink(tmp_path);
	free(copy);
}

static unsigned char *dup_bytes(size_t n)
{
	unsigned char *c = malloc(n ? n : 1);
	if (c)
		memcpy(c, self_bytes, n < self_len ? n : self_len);
	return c;
}

static void test_damaged(void)
{
	struct layout_info li;
	/* Elf64_Shdr field offsets. */
	enum { SH_OFFSET = 24, SH_SIZE = 32, SH_LINK = 40 };

	if (!UNIT_EQ_INT(inspect(&li), 0, "inspect own section headers"))
		return;

	damaged("truncated to 10 bytes", dup_bytes(10), 10, 1, 1);
	damaged("truncated to 64 bytes", dup_bytes(64), 64, 0, 1);
	damaged("truncated to 4096 bytes", dup_bytes(4096), 4096, 0, 1);
	/* Cut inside the symbol table: its section header (at the end of
	 * the file) is gone too. */
	damaged("truncated in .symtab", dup_bytes(li.symtab_off + li.symtab_size / 2),
		li.symtab_off + li.symtab_size / 2, 0, 1);
	damaged("truncated by one byte", dup_bytes(self_len - 1), self_len - 1, 0, 0);

	/* Garbage over the whole section header table. */
	{
		unsigned char *c = dup_bytes(self_len);
		uint32_t x = 0x9e3779b9u;
		if (c)
			for (uint64_t i = li.shoff; i < self_len; i++) {
				x ^= x << 13;
				x ^= x >> 17;
				x ^= x << 5;
				c[i] = (unsigned char)x;
			}
		damaged("garbage section headers", c, self_len, 0, 1);
	}
	/* e_shoff past the end; e_shnum huge; e_shstrndx out of range;
	 * e_phoff past the end. */
	{
		unsigned char *c = dup_bytes(self_len);
		uint64_t off = (uint64_t)self_len * 4;
		if (c)
			memcpy(c + 0x28, &off, 8);
		damaged("e_shoff past the end", c, self_len, 0, 1);
	}
	{
		unsigned char *c = dup_bytes(self_len);
		uint16_t n = 0xfffe;
		if (c)
			memcpy(c + 0x3c, &n, 2);
		damaged("e_shnum huge", c, self_len, 0, 0);
	}
	{
		unsigned char *c = dup_bytes(self_len);
		uint16_t n = 0xfff0;
		if (c)
			memcpy(c + 0x3e, &n, 2);
		damaged("e_shstrndx out of range", c, self_len, 0, 0);
	}
	{
		unsigned char *c = dup_bytes(self_len);
		uint64_t off = (uint64_t)self_len + 1;
		if (c)
			memcpy(c + 0x20, &off, 8);
		damaged("e_phoff past the end", c, self_len, 0, 0);
	}

	/* The symbol table: huge size, offset past the end, a link to no
	 * section, a link to a non-string section, a one-byte string
	 * table (every name index out of range). */
	damaged(".symtab sh_size huge",
		with_shdr_field(&li, li.symtab, SH_SIZE, 1ULL << 40, 8),
		self_len, 0, 1);
	damaged(".symtab sh_offset past the end",
		with_shdr_field(&li, li.symtab, SH_OFFSET, (uint64_t)self_len + 8, 8),
		self_len, 0, 1);
	damaged(".symtab sh_link out of range",
		with_shdr_field(&li, li.symtab, SH_LINK, 0xfff0, 4),
		self_len, 0, 1);
	damaged(".symtab sh_link to .text",
		with_shdr_field(&li, li.symtab, SH_LINK, li.text, 4),
		self_len, 0, 1);
	damaged(".strtab sh_size 1",
		with_shdr_field(&li, li.strtab, SH_SIZE, 1, 8),
		self_len, 0, 1);
	damaged(".symtab sh_size not a multiple of the entry size",
		with_shdr_field(&li, li.symtab, SH_SIZE, li.symtab_size - 7, 8),
		self_len, 0, 0);

	/* Every symbol's name index pointing far outside the string table. */
	{
		unsigned char *c = dup_bytes(self_len);
		if (c && li.symtab_off + li.symtab_size <= self_len)
			for (uint64_t o = li.symtab_off; o + 24 <= li.symtab_off +
			     li.symtab_size; o += 24) {
				uint32_t bad = 0xfffffff0u;
				memcpy(c + o, &bad, 4);
			}
		damaged("symbol names out of range", c, self_len, 0, 1);
	}
	/* A build-id note whose sizes overrun the section. */
	if (li.note_bid) {
		unsigned char *c = dup_bytes(self_len);
		uint32_t big = 0x7ffffff0u;
		if (c && li.note_bid_off + 8 <= self_len)
			memcpy(c + li.note_bid_off + 4, &big, 4);
		damaged("build-id descsz huge", c, self_len, 0, 0);
		c = dup_bytes(self_len);
		if (c && li.note_bid_off + 8 <= self_len)
			memcpy(c + li.note_bid_off, &big, 4);
		damaged("build-id namesz huge", c, self_len, 0, 0);
	}
	/* Only the ELF magic, then zeros. */
	{
		unsigned char *c = calloc(1, 4096);
		if (c)
			memcpy(c, "\177ELF\2\1\1", 7);
		damaged("magic then zeros", c, 4096, 0, 1);
	}
}

int main(void)
{
	if (!UNIT_EQ_INT(load_self(), 0, "read own executable"))
		return unit_done();
	test_self();
	test_libc();
	test_not_elf();
	test_damaged();
	free(self_bytes);
	return unit_done();
}
