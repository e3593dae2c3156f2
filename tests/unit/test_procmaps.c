/* gs_maps_parse / gs_maps_read (include/procmaps.h) against lines shaped
 * like the kernel's (fs/proc/task_mmu.c), including the awkward ones:
 * paths with spaces, " (deleted)", anonymous mappings with a trailing
 * space, pseudo-paths like [heap]. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/maps.h"
#include "unit.h"

static const char sample[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1311  /usr/bin/python3.11\n"
	"7f12a000-7f12b000 r-xp 00001000 fd:01 1234  /usr/lib/x.so\n"
	"7f12b000-7f12c000 rw-p 00000000 00:00 0 \n"
	"7f12c000-7f12d000 r--p 00002000 08:02 987654321                  /tmp/my dir/lib x.so\n"
	"7f12d000-7f12e000 r-xp 00000000 fd:01 42                         /usr/lib/y.so (deleted)\n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
	"7ffd3a5e1000-7ffd3a602000 rw-p 00000000 00:00 0                          [stack]\n"
	"7f12e000-7f12f000 rw-s 00000000 00:05 7                          /dev/zero (deleted)\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void test_sample(void)
{
	struct gs_maps m = { 0 };
	int rc = gs_maps_parse(sample, strlen(sample), &m);

	UNIT_EQ_INT(rc, 0, "sample parses");
	if (!UNIT_EQ_INT(m.n, 9, "sample has 9 mappings")) {
		gs_maps_free(&m);
		return;
	}

	UNIT_EQ_INT(m.v[0].start, 0x55d0c0a00000ULL, "start address");
	UNIT_EQ_INT(m.v[0].end, 0x55d0c0a01000ULL, "end address");
	UNIT_EQ_STR(m.v[0].path, "/usr/bin/python3.11", "executable path");

	UNIT_EQ_INT(m.v[1].start, 0x7f12a000, "short start address");
	UNIT_EQ_INT(m.v[1].end, 0x7f12b000, "short end address");
	UNIT_EQ_STR(m.v[1].perms, "r-xp", "perms r-xp");
	UNIT_EQ_INT(m.v[1].offset, 0x1000, "offset is hex");
	UNIT_EQ_INT(m.v[1].inode, 1234, "inode is decimal");
	UNIT_EQ_STR(m.v[1].path, "/usr/lib/x.so", "path after two spaces");

	UNIT_EQ_STR(m.v[2].path, "", "anonymous mapping has an empty path");
	UNIT_EQ_STR(m.v[2].perms, "rw-p", "anonymous perms");
	UNIT_EQ_INT(m.v[2].inode, 0, "anonymous inode 0");

	UNIT_EQ_STR(m.v[3].path, "/tmp/my dir/lib x.so", "path with spaces kept whole");
	UNIT_EQ_INT(m.v[3].inode, 987654321, "large inode");
	UNIT_EQ_INT(m.v[3].offset, 0x2000, "offset of the spaced path");

	UNIT_EQ_STR(m.v[4].path, "/usr/lib/y.so (deleted)",
		    "(deleted) suffix kept as part of the path");

	UNIT_EQ_STR(m.v[5].path, "[heap]", "[heap] pseudo-path");
	UNIT_EQ_STR(m.v[6].path, "[stack]", "[stack] pseudo-path");
	UNIT_EQ_STR(m.v[7].perms, "rw-s", "shared mapping perms");
	UNIT_EQ_STR(m.v[7].path, "/dev/zero (deleted)", "shared deleted mapping");

	UNIT_EQ_INT(m.v[8].start, 0xffffffffff600000ULL, "64-bit start address");
	UNIT_EQ_STR(m.v[8].perms, "--xp", "perms --xp");
	UNIT_EQ_STR(m.v[8].path, "[vsyscall]", "[vsyscall]");

	gs_maps_free(&m);
}

static void test_edges(void)
{
	struct gs_maps m = { 0 };
	static const char no_nl[] = "1000-2000 r--p 00000000 00:00 0    /a b";
	static const char two[] =
		"1000-2000 r--p 00000000 00:00 0    /first\n"
		"3000-4000 r--p 00000000 00:00 0    /second\n";

	UNIT_EQ_INT(gs_maps_parse("", 0, &m), 0, "empty text parses");
	UNIT_EQ_INT(m.n, 0, "empty text has no mappings");
	gs_maps_free(&m);

	UNIT_EQ_INT(gs_maps_parse(no_nl, strlen(no_nl), &m), 0,
		    "last line without newline parses");
	if (UNIT_EQ_INT(m.n, 1, "last line without newline counted"))
		UNIT_EQ_STR(m.v[0].path, "/a b", "path of an unterminated line");
	gs_maps_free(&m);

	/* len, not the NUL, bounds the parse. */
	size_t first_len = strchr(two, '\n') - two + 1;
	UNIT_EQ_INT(gs_maps_parse(two, first_len, &m), 0, "parse a prefix");
	if (UNIT_EQ_INT(m.n, 1, "only the lines within len are parsed"))
		UNIT_EQ_STR(m.v[0].path, "/first", "prefix line path");
	gs_maps_free(&m);

	/* More lines than any small initial array. */
	size_t lines = 5000, cap = lines * 64 + 1, len = 0;
	char *big = malloc(cap);
	if (UNIT_CHECK(big != NULL, "allocate 5000-line map")) {
		for (size_t i = 0; i < lines; i++)
			len += (size_t)snprintf(big + len, cap - len,
					  "%zx-%zx r--p 00000000 00:00 %zu /lib%zu.so\n",
					  (i + 1) * 0x1000, (i + 2) * 0x1000, i, i);
		UNIT_EQ_INT(gs_maps_parse(big, len, &m), 0, "5000 lines parse");
		if (UNIT_EQ_INT(m.n, lines, "5000 mappings"))
			UNIT_EQ_STR(m.v[lines - 1].path, "/lib4999.so", "last of 5000");
		gs_maps_free(&m);
		free(big);
	}

	/* Text that is not a maps line must not be taken for one. */
	static const char junk[] = "this is not a maps line\n";
	int rc = gs_maps_parse(junk, strlen(junk), &m);
	UNIT_CHECK(rc != 0 || m.n == 0, "garbage gives an error, not a mapping");
	gs_maps_free(&m);

	/* A path longer than PATH_MAX: an error or a mapping, never an
	 * overflow (the sanitizer build checks that). */
	size_t plen = PATH_MAX + 100;
	char *longline = malloc(plen + 64);
	if (UNIT_CHECK(longline != NULL, "allocate long line")) {
		int n = snprintf(longline, 64, "1000-2000 r--p 00000000 00:00 0 /");
		memset(longline + n, 'x', plen);
		longline[n + plen] = '\n';
		rc = gs_maps_parse(longline, (size_t)n + plen + 1, &m);
		UNIT_CHECK(rc != 0 || (m.n == 1 && strlen(m.v[0].path) < PATH_MAX),
			   "over-long path is refused or bounded");
		gs_maps_free(&m);
		free(longline);
	}
}

static void test_self(void)
{
	struct gs_maps m = { 0 };
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int found_exe = 0, found_stack = 0;

	if (!UNIT_CHECK(n > 0, "readlink /proc/self/exe"))
		return;
	exe[n] = 0;
	if (!UNIT_EQ_INT(gs_maps_read(getpid(), &m), 0, "gs_maps_read(self)"))
		return;
	UNIT_CHECK(m.n > 5, "own process has mappings");
	for (size_t i = 0; i < m.n; i++) {
		if (strcmp(m.v[i].path, exe) == 0)
			found_exe = 1;
		if (strcmp(m.v[i].path, "[stack]") == 0 &&
		    m.v[i].start <= (uintptr_t)&n && (uintptr_t)&n < m.v[i].end)
			found_stack = 1;
	}
	UNIT_CHECK(found_exe, "own executable is mapped");
	UNIT_CHECK(found_stack, "[stack] mapping contains a local variable");
	gs_maps_free(&m);
}

int main(void)
{
	test_sample();
	test_edges();
	test_self();
	return unit_done();
}
