/* libFuzzer harness: gs_debug_offsets_probe() and
 * gs_layout_from_debug_offsets() (include/layout_sources.h) reading a
 * fake _PyRuntime.  The input is the target's memory from RT_BASE on;
 * everything outside it reads as unmapped (EFAULT).  Each input is tried
 * as Python 3.13, 3.14 and 3.15, with the GIL struct seeded from the
 * generated tables (as layout.c does) and unseeded.
 *
 * The promises checked: a layout that comes back passes
 * gs_layout_check(); a failure says why and leaves *out as it was. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "layout/sources.h"

#define RT_BASE 0x7f1234560000ull

static void one(const struct gs_mem *m, uint64_t rt, int minor, int seeded)
{
	struct gs_layout l, before;
	char detail[512], why[256], seed[256];
	int rc;

	gs_layout_init(&l);
	if (seeded && gs_layout_from_table(3, minor, 0, 1, &l, seed,
					   sizeof seed) < 0)
		return;
	before = l;
	detail[0] = 0;
	rc = gs_layout_from_debug_offsets(m, rt, 3, minor, &l, detail,
					  sizeof detail);
	FUZZ_ASSERT(strlen(detail) < sizeof detail, "detail is terminated");
	if (rc == 0) {
		FUZZ_ASSERT(gs_layout_check(&l, why, sizeof why) == 0,
			    "a _Py_DebugOffsets layout passes gs_layout_check");
		if (seeded)
			FUZZ_ASSERT(l.gil_cond.off == before.gil_cond.off &&
				    l.gil_switch_mutex.off == before.gil_switch_mutex.off,
				    "GIL fields the table does not carry keep their seed");
	} else {
		FUZZ_ASSERT(rc == -1, "returns 0 or -1");
		FUZZ_ASSERT(detail[0] != 0, "a failure gives a reason");
		FUZZ_ASSERT(memcmp(&l, &before, sizeof l) == 0,
			    "a failure leaves *out untouched");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mem fm;
	struct gs_mem m = fuzz_mem_init(&fm, RT_BASE, data, size);
	uint32_t hex = 0;
	int ft = -1;

	if (gs_debug_offsets_probe(&m, RT_BASE, &hex, &ft) == 0)
		FUZZ_ASSERT(ft == 0 || ft == 1, "free_threaded is 0 or 1");
	(void)gs_debug_offsets_probe(&m, RT_BASE, NULL, NULL);
	(void)gs_debug_offsets_probe(&m, 0, &hex, &ft);
	(void)gs_debug_offsets_probe(NULL, RT_BASE, &hex, &ft);

	for (int minor = 13; minor <= 15; minor++) {
		one(&m, RT_BASE, minor, 1);
		one(&m, RT_BASE, minor, 0);
	}
	/* A version without a map, and the table read from a misaligned
	 * or past-the-end address. */
	one(&m, RT_BASE, 12, 0);
	one(&m, RT_BASE + 1, 14, 1);
	one(&m, RT_BASE + size, 13, 1);
	gs_clear_error();
	return 0;
}
