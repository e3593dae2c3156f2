/* libFuzzer harness: the Python stack reader (runtime/pystack.h) and the
 * thread-name reader (runtime/pynames.h) on a fake target's memory.  The
 * input format is in fuzz_pystack.h; gen_seeds.c writes well-formed
 * images for every version: frame chains with C-owned frames, code
 * objects with real line tables, and threading._active dicts.
 *
 * The promises checked: a read ends, with a number of memory reads
 * proportional to the capacity; it returns frames within the capacity
 * whose strings are terminated and bounded and whose lines are not
 * negative; a second read of unchanged memory gives the same frames;
 * thread names are terminated and bounded. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_pystack.h"
#include "fuzz_remote.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "runtime/pynames.h"
#include "runtime/pystack.h"
#include "runtime/target.h"
#include "runtime/threads.h"

static struct gs_layout layouts[16];
static int have_layout[16];

static void check_frames(const struct gs_pystack *s)
{
	FUZZ_ASSERT(s->n <= s->cap, "frames within the capacity");
	for (size_t i = 0; i < s->n; i++) {
		const struct gs_pyframe *f = &s->frames[i];
		char buf[GS_PYFRAME_FUNC_MAX + GS_PYFRAME_FILE_MAX + 32];
		FUZZ_ASSERT(f->function && f->file, "strings set");
		FUZZ_ASSERT(strlen(f->function) < GS_PYFRAME_FUNC_MAX, "function bounded");
		FUZZ_ASSERT(strlen(f->file) < GS_PYFRAME_FILE_MAX, "file bounded");
		FUZZ_ASSERT(f->line >= 0, "a line is 0 or positive");
		FUZZ_ASSERT(f->code != 0 && f->frame != 0, "addresses set");
		FUZZ_ASSERT(gs_pyframe_format(f, buf, sizeof buf) > 0, "formats");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rem_image im;
	static struct gs_target t;
	static struct gs_pyframe frames[300], again[300];
	static int init;
	struct gs_pystack_reader *r;
	uint64_t tstate, interp;
	size_t cap;
	int minor, rc;

	if (!init) {
		init = 1;
		for (int m = 6; m <= 15; m++)
			have_layout[m] = fuzz_layout_for(m, &layouts[m]) == 0 &&
					 !gs_layout_missing_stacks(&layouts[m]);
	}
	if (size < PYS_HDR)
		return 0;
	minor = 6 + data[0] % 10;
	if (!have_layout[minor])
		return 0;
	cap = (size_t)(data[2] | data[3] << 8) % 300;
	memcpy(&tstate, data + 4, 8);
	memcpy(&interp, data + 12, 8);
	rem_parse_regions(&im, data + PYS_HDR, size - PYS_HDR);
	im.max_read = 1u << 17; /* an object read stays bounded */

	rem_target_init(&t, &im, minor, &layouts[minor]);

	FUZZ_ASSERT(gs_pystack_open(&t, &r) == 0, "a complete layout opens");
	if (data[1] & PYS_F_NORETRY)
		gs_pystack_set_retries(r, 0);
	struct gs_pystack s = { frames, cap, 0, 0, 0, 0 };
	im.reads = 0;
	rc = gs_pystack_read(r, tstate, &s);
	/* Per attempt: the head (two hops at most), one read per frame
	 * walked (at most 2 cap + 16), one batch, and per code object a few
	 * reads for its strings and line table. */
	FUZZ_ASSERT(im.reads <= 3 * (2 + (2 * cap + 16) + 1 +
				     (cap + 1) * (2 + 8 + 4 + 2 + 3)),
		    "the read is bounded by the capacity");
	if (rc == 0) {
		check_frames(&s);
		if (data[1] & PYS_F_TWICE) {
			struct gs_pystack s2 = { again, cap, 0, 0, 0, 0 };
			/* Copy before the second read invalidates the strings. */
			size_t n = s.n;
			uint64_t codes[300];
			int lines[300];
			for (size_t i = 0; i < n; i++) {
				codes[i] = frames[i].code;
				lines[i] = frames[i].line;
			}
			FUZZ_ASSERT(gs_pystack_read(r, tstate, &s2) == 0,
				    "a second read of unchanged memory succeeds");
			check_frames(&s2);
			FUZZ_ASSERT(s2.n == n, "a second read gives as many frames");
			for (size_t i = 0; i < n && i < s2.n; i++)
				FUZZ_ASSERT(again[i].code == codes[i] &&
					    again[i].line == lines[i],
					    "and the same frames");
		}
	} else {
		FUZZ_ASSERT(rc == -1 && errno != 0, "a failed read sets errno");
	}
	gs_pystack_close(r);

	if (data[1] & PYS_F_NAMES) {
		struct gs_pynames_reader *nr;
		static struct gs_snapshot snap;
		struct gs_pynames names = { 0 };

		snap.ninterps = 1;
		snap.interps[0].addr = interp;
		if (gs_pynames_open(&t, &nr) == 0) {
			for (int pass = 0; pass < 2; pass++) {
				im.reads = 0;
				if (gs_pynames_read(nr, &snap, &names) == 0) {
					for (size_t i = 0; i < names.n; i++)
						FUZZ_ASSERT(strlen(names.v[i].name) <
							    GS_PYNAME_MAX, "name bounded");
					if (names.n)
						FUZZ_ASSERT(gs_pynames_find(&names, interp,
							    names.v[0].ident) != NULL,
							    "a name read is found");
				}
			}
			gs_pynames_free(&names);
			gs_pynames_close(nr);
		}
	}
	gs_clear_error();
	return 0;
}
