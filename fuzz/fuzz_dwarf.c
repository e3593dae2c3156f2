/* libFuzzer harness: gs_layout_from_dwarf() (include/layout_sources.h)
 * on arbitrary files.  Input byte 0 picks the Python minor version the
 * caller asks for (3.6 to 3.15) and whether a build-id is passed; the
 * rest is the object file.  It is written into a private directory that
 * also serves as the root, so the split-debug lookups (build-id path,
 * .gnu_debuglink) stay inside it and never read the host's
 * /usr/lib/debug.
 *
 * The promises checked: a layout returned as found passes
 * gs_layout_check() and has every field gs_layout_missing() wants for
 * that version, and goes through the build-id cache (layout_cache.c)
 * unchanged; a failure leaves a reason in detail. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"

#define BID "0123456789abcdef0123456789abcdef01234567"

static char root[PATH_MAX], obj[PATH_MAX + 8], cache[PATH_MAX + 8];

static void cleanup(void)
{
	char path[PATH_MAX + 64];

	if (obj[0])
		unlink(obj);
	if (cache[0]) {
		snprintf(path, sizeof path, "%s/%s.layout", cache, BID);
		unlink(path);
		rmdir(cache);
	}
	if (root[0])
		rmdir(root);
}

static void setup(void)
{
	const char *base;

	if (root[0])
		return;
	base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	/* The pid in the name lets fuzz/run.sh clean up after a crash
	 * without touching a directory still in use. */
	snprintf(root, sizeof root, "%s/gilsnoop-fuzz-dwarf.%d.XXXXXX",
		 base ? base : "/tmp", (int)getpid());
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(obj, sizeof obj, "%s/obj", root);
	snprintf(cache, sizeof cache, "%s/cache", root);
	if (mkdir(cache, 0700) != 0 || setenv("GILSNOOP_CACHE_DIR", cache, 1) != 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gs_layout l, before;
	char detail[2048], why[256];
	int fd, split = -1, minor, rc;
	const char *bid;

	if (size < 1)
		return 0;
	setup();
	minor = 6 + (data[0] & 0x7f) % 10;
	bid = (data[0] & 0x80) ? BID : "";
	fd = open(obj, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)))
		abort();
	close(fd);

	gs_layout_init(&l);
	before = l;
	detail[0] = 0;
	rc = gs_layout_from_dwarf(obj, root, bid, 3, minor, &l, &split, detail,
				  sizeof detail);
	FUZZ_ASSERT(strlen(detail) < sizeof detail, "detail is terminated");
	if (getenv("FUZZ_DEBUG"))
		fprintf(stderr, "fuzz_dwarf: 3.%d -> %d: %s\n", minor, rc, detail);
	if (rc == 0) {
		FUZZ_ASSERT(gs_layout_check(&l, why, sizeof why) == 0,
			    "a DWARF layout passes gs_layout_check");
		FUZZ_ASSERT(gs_layout_missing(&l, 3, minor) == NULL,
			    "a DWARF layout has what the version needs");
		FUZZ_ASSERT(split == 0 && strcmp(detail, obj) == 0,
			    "no split file exists, so the object held the DWARF");
		/* What layout.c does next: cache it by build-id.  The cache
		 * must give back exactly what it was given. */
		if (data[0] & 0x80) {
			struct gs_layout back;
			gs_layout_init(&back);
			FUZZ_ASSERT(gs_layout_cache_store(bid, &l) == 0,
				    "a valid layout can be cached");
			FUZZ_ASSERT(gs_layout_cache_load(bid, &back) == 0 &&
				    memcmp(&back, &l, sizeof l) == 0,
				    "the cache gives back what was stored");
		}
	} else {
		FUZZ_ASSERT(rc == -1, "returns 0 or -1");
		FUZZ_ASSERT(detail[0] != 0, "a failure gives a reason");
	}
	/* Without the optional outputs, now and then. */
	if ((data[0] & 0x40) && rc == 0) {
		l = before;
		(void)gs_layout_from_dwarf(obj, root, NULL, 3, minor, &l, NULL,
					   NULL, 0);
	}
	gs_clear_error();
	return 0;
}
