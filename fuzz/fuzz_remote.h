/* The input format of fuzz_remote.c, shared with gen_seeds.c which writes
 * its seeds.
 *
 *   byte 0      Python minor version: 6 + b % 10
 *   byte 1      flags (REM_F_*)
 *   bytes 2-3   pthread_tid_off (little-endian) when REM_F_PTHREAD_OFF
 *   bytes 4-7   layout edit 1: field index, offset lo, offset hi, size
 *   bytes 8-11  layout edit 2, same shape
 *   byte 12     the kernel state of every task ('R', 'S', ...)
 *   byte 13     which futex word the tasks block on (REM_FUTEX_*)
 *   byte 14     signed offset added to that futex address
 *   byte 15     bit 0: the previous sample ran less; bit 1: read the
 *               snapshot twice into the same struct; bit 7: on_cpu when
 *               REM_F_ON_CPU
 *   then        the target's memory as regions: 8-byte address, 2-byte
 *               length (both little-endian), that many bytes; a cut-off
 *               last region keeps what is there.
 *
 * Any address not inside one region reads as unmapped (EFAULT).  The
 * layout is the one gilsnoop would use for that version (generated
 * table; _Py_DebugOffsets of a real build for 3.14 and 3.15), edited by
 * the two edits only when the result still passes gs_layout_check() and
 * gs_layout_missing(), which is what every layout source guarantees. */
#ifndef GS_FUZZ_REMOTE_H
#define GS_FUZZ_REMOTE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "layout/layout.h"
#include "layout/sources.h"
#include "runtime/target.h"
#include "../tests/data/pyruntime_blobs.h"

#define REM_HDR 16
#define REM_REGION_HDR 10
#define REM_MAX_REGIONS 512

enum {
	REM_F_PTHREAD_OFF = 1, /* set t->pthread_tid_off from bytes 2-3 */
	REM_F_EDIT = 2,        /* apply the two layout edits */
	REM_F_FIND_TID = 4,    /* run gs_find_pthread_tid_offset() */
	REM_F_ON_CPU = 8,      /* classify with on_cpu_known = 1 */
	REM_F_PREV = 16,       /* classify with a previous sample */
};

enum {
	REM_FUTEX_NONE, REM_FUTEX_COND, REM_FUTEX_MUTEX, REM_FUTEX_SWITCH_COND,
	REM_FUTEX_SWITCH_MUTEX, REM_FUTEX_ELSEWHERE, REM_FUTEX_N
};

/* The fake target's memory: regions parsed from the input; any address
 * outside them reads as unmapped.  max_read is the largest read the
 * harness's readers may ask for (a larger one is a bug in their bounds). */
struct rem_region {
	uint64_t addr;
	const uint8_t *p;
	size_t n;
};

struct rem_image {
	struct rem_region r[REM_MAX_REGIONS];
	size_t nr;
	unsigned long reads;
	size_t max_read;
};

static inline int rem_image_read(void *ctx, uint64_t addr, void *out, size_t n)
{
	struct rem_image *im = ctx;

	im->reads++;
	if (n > im->max_read) {
		fprintf(stderr, "fuzz: contract violated: a read of %zu bytes "
			"(more than %zu)\n", n, im->max_read);
		abort();
	}
	for (size_t i = 0; i < im->nr; i++) {
		const struct rem_region *r = &im->r[i];
		if (addr >= r->addr && n <= r->n && addr - r->addr <= r->n - n) {
			memcpy(out, r->p + (addr - r->addr), n);
			return 0;
		}
	}
	errno = EFAULT;
	return -1;
}

static inline void rem_parse_regions(struct rem_image *im, const uint8_t *d,
				     size_t n)
{
	im->nr = 0;
	im->reads = 0;
	while (n >= REM_REGION_HDR && im->nr < REM_MAX_REGIONS) {
		uint64_t addr;
		uint16_t len;
		memcpy(&addr, d, 8);
		memcpy(&len, d + 8, 2);
		d += REM_REGION_HDR;
		n -= REM_REGION_HDR;
		if (len > n)
			len = (uint16_t)n;
		im->r[im->nr].addr = addr;
		im->r[im->nr].p = d;
		im->r[im->nr].n = len;
		im->nr++;
		d += len;
		n -= len;
	}
}

/* A target of Python 3.minor with layout l whose memory is im. */
static inline void rem_target_init(struct gs_target *t, struct rem_image *im,
				   int minor, const struct gs_layout *l)
{
	memset(t, 0, sizeof *t);
	t->pid = getpid();
	t->mem.pid = t->pid;
	t->mem.read = rem_image_read;
	t->mem.ctx = im;
	t->ver.major = 3;
	t->ver.minor = minor;
	snprintf(t->ver.str, sizeof t->ver.str, "3.%d", minor);
	t->layout = *l;
}

/* Where the fake runtime lives (3.7+); on 3.6 the interpreter list head
 * is a static variable at the same address. */
#define REM_RUNTIME 0x10000ull

struct fuzz_blob_mem {
	const unsigned char *p;
	size_t n;
};

static inline int fuzz_blob_read(void *ctx, uint64_t addr, void *out, size_t n)
{
	const struct fuzz_blob_mem *b = ctx;
	if (addr < REM_RUNTIME || n > b->n || addr - REM_RUNTIME > b->n - n)
		return -1;
	memcpy(out, b->p + (addr - REM_RUNTIME), n);
	return 0;
}

/* The layout gilsnoop would use for 3.minor; 0 or -1. */
static inline int fuzz_layout_for(int minor, struct gs_layout *l)
{
	char detail[256];
	const unsigned char *blob = minor == 14 ? pyruntime_blob_314 :
				    minor == 15 ? pyruntime_blob_315 : NULL;

	gs_layout_init(l);
	if (!blob)
		return gs_layout_from_table(3, minor, 0, 0, l, detail,
					    sizeof detail) == 0 &&
		       !gs_layout_missing(l, 3, minor) ? 0 : -1;
	/* The whole table, frame and object sections included. */
	struct fuzz_blob_mem bm = { blob, minor == 14 ? sizeof pyruntime_blob_314
						      : sizeof pyruntime_blob_315 };
	struct gs_mem m = { 0, fuzz_blob_read, &bm };
	if (gs_layout_from_table(3, minor, 0, 1, l, detail, sizeof detail) < 0 ||
	    gs_layout_from_debug_offsets(&m, REM_RUNTIME, 3, minor, l, detail,
					 sizeof detail) != 0)
		return -1;
	return gs_layout_missing(l, 3, minor) ? -1 : 0;
}

#endif
