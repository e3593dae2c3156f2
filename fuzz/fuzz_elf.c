/* libFuzzer harness: the ELF questions of include/elfobj.h on arbitrary
 * bytes.  The input is written to a memfd and opened by its
 * /proc/self/fd path, as gs_elf_open() opens a file under
 * /proc/PID/root; then every query runs, with the results checked
 * against the header's promises (NUL-terminated strings, lengths
 * honoured). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proc/elfobj.h"
#include "fuzz.h"
#include "core/errors.h"

static int memfd = -1;
static char path[64];

static int setup(void)
{
	if (memfd >= 0)
		return 0;
	memfd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
	return 0;
}

struct strings {
	unsigned long n, bytes, stop_after;
	unsigned sum;
};

static int each_string(const char *s, size_t len, void *arg)
{
	struct strings *st = arg;

	/* The promise: a NUL-terminated string of exactly len bytes. */
	FUZZ_ASSERT(len > 0 && s[len] == 0 && memchr(s, 0, len) == NULL,
		    "foreach_rodata_string hands out s[len] == 0, no NUL before");
	for (size_t i = 0; i < len; i++)
		st->sum += (unsigned char)s[i];
	st->n++;
	st->bytes += len;
	return st->stop_after && st->n >= st->stop_after ? 7 : 0;
}

static uint64_t word(const uint8_t *d, size_t n, size_t at)
{
	uint64_t v = 0;
	if (at < n)
		memcpy(&v, d + at, n - at < 8 ? n - at : 8);
	return v;
}

static void read_at(struct gs_elf *e, uint64_t vaddr, uint64_t size)
{
	unsigned char buf[256];
	size_t n = size > sizeof buf ? sizeof buf : (size_t)size;

	memset(buf, 0xaa, sizeof buf);
	if (gs_elf_read_vaddr(e, vaddr, buf, n) == 0 && n) {
		volatile unsigned char sink = buf[0] ^ buf[n - 1];
		(void)sink;
	}
	/* One byte past the end of what was asked must be untouched. */
	FUZZ_ASSERT(n == sizeof buf || buf[n] == 0xaa,
		    "gs_elf_read_vaddr wrote past len");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const syms[] = {
		"_PyRuntime", "Py_Version", "_PyThreadState_Current",
		"_Py_NegativeRefcount", "no_such_symbol_anywhere", "",
	};
	static const char *const secs[] = {
		".PyRuntime", ".gnu_debuglink", ".rodata", ".note.gnu.build-id",
		".symtab", "", ".no_such_section",
	};
	struct gs_elf *e;
	struct strings st;
	char bid[2 * 64 + 1], small[9], link[256];
	uint32_t crc;
	uint64_t v, sz, va, off;

	setup();
	if (ftruncate(memfd, 0) != 0 ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();

	if (gs_elf_open(path, &e) != 0) {
		FUZZ_ASSERT(gs_last_error()[0] != 0, "a failed open says why");
		gs_clear_error();
		return 0;
	}
	(void)gs_elf_type(e);
	(void)gs_elf_has_symtab(e);
	(void)gs_elf_is_x86_64(e);
	(void)gs_elf_has_interp(e);

	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		if (gs_elf_symbol(e, syms[i], &v, &sz) == 0) {
			read_at(e, v, sz);
			read_at(e, v, 8);
		}
		(void)gs_elf_symbol(e, syms[i], NULL, NULL);
	}
	for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
		if (gs_elf_section(e, secs[i], &v, &sz) == 0)
			read_at(e, v, sz);
		(void)gs_elf_section(e, secs[i], NULL, NULL);
	}

	if (gs_elf_build_id(e, bid, sizeof bid) == 0)
		FUZZ_ASSERT(strlen(bid) % 2 == 0 && strlen(bid) >= 2 &&
			    strspn(bid, "0123456789abcdef") == strlen(bid),
			    "build-id is lower-case hex");
	/* Too small for any real build-id: must fail, not truncate. */
	memset(small, 'x', sizeof small);
	if (gs_elf_build_id(e, small, sizeof small) == 0)
		FUZZ_ASSERT(strlen(small) < sizeof small, "short build-id fits");

	if (gs_elf_debuglink(e, link, sizeof link, &crc) == 0)
		FUZZ_ASSERT(strlen(link) > 0 && strlen(link) < sizeof link &&
			    !strchr(link, '/'), "debuglink is a plain file name");
	(void)gs_elf_debuglink(e, small, sizeof small, NULL);
	(void)gs_elf_debuglink(e, small, 1, &crc);

	/* Offsets from /proc/PID/maps lines: page multiples, and whatever
	 * the input's last words say. */
	for (uint64_t o = 0; o < 4 * 4096; o += 4096)
		if (gs_elf_load_for_offset(e, o, &va, &off) == 0)
			read_at(e, va, 16);
	if (size >= 16) {
		(void)gs_elf_load_for_offset(e, word(data, size, size - 8), &va, &off);
		read_at(e, word(data, size, size - 16), data[size - 1]);
		read_at(e, word(data, size, size - 16), 0);
		read_at(e, UINT64_MAX - 3, 8);
	}

	memset(&st, 0, sizeof st);
	(void)gs_elf_foreach_rodata_string(e, each_string, &st);
	if (st.n > 1) {
		unsigned long all = st.n;
		memset(&st, 0, sizeof st);
		st.stop_after = all / 2 ? all / 2 : 1;
		FUZZ_ASSERT(gs_elf_foreach_rodata_string(e, each_string, &st) == 7,
			    "foreach_rodata_string returns the callback's value");
	}
	gs_elf_close(e);
	gs_clear_error();
	return 0;
}
