/* Shared pieces of the libFuzzer harnesses in fuzz/ (see fuzz/README.md).
 *
 * The fake target: a gs_mem whose read callback serves [base, base+len)
 * from a buffer and fails every other address with EFAULT, exactly as
 * process_vm_readv does for an unmapped range. */
#ifndef GS_FUZZ_H
#define GS_FUZZ_H

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/mem.h"

struct fuzz_mem {
	uint64_t base;
	const unsigned char *buf;
	size_t len;
	unsigned long reads;
};

static inline int fuzz_mem_read(void *ctx, uint64_t addr, void *out, size_t n)
{
	struct fuzz_mem *f = ctx;

	f->reads++;
	/* No reader asks for more than a few KiB at once; a huge length is
	 * a bug in the reader's bounds, not something to serve. */
	if (n > (1u << 20))
		abort();
	if (addr < f->base || n > f->len || addr - f->base > f->len - n) {
		errno = EFAULT;
		return -1;
	}
	memcpy(out, f->buf + (addr - f->base), n);
	return 0;
}

static inline struct gs_mem fuzz_mem_init(struct fuzz_mem *f, uint64_t base,
					  const unsigned char *buf, size_t len)
{
	struct gs_mem m;

	memset(f, 0, sizeof *f);
	f->base = base;
	f->buf = buf;
	f->len = len;
	memset(&m, 0, sizeof m);
	m.pid = 0;
	m.read = fuzz_mem_read;
	m.ctx = f;
	return m;
}

/* A violated promise of a header: crash so that libFuzzer keeps the
 * input, with the reason on stderr. */
#define FUZZ_ASSERT(cond, what)                                              \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz: contract violated: %s (%s:%d)\n", \
				what, __FILE__, __LINE__);                   \
			abort();                                             \
		}                                                            \
	} while (0)

#endif
