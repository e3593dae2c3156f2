/* Reading the target's memory.  Every structure reader goes through a
 * gs_mem so that fuzz harnesses and unit tests can feed it a fake
 * address space; only the sampler's hot loop calls process_vm_readv
 * directly, with batched iovecs. */
#ifndef GS_MEMREAD_H
#define GS_MEMREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gs_mem {
	pid_t pid;
	/* When set, used instead of process_vm_readv (fakes and fuzzers). */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
};

/* Read exactly len bytes.  Returns 0, or -1 with errno set (EFAULT for an
 * unmapped address, ESRCH when the target is gone, EPERM/EACCES). */
int gs_mem_read(const struct gs_mem *m, uint64_t addr, void *buf, size_t len);
int gs_mem_read_u64(const struct gs_mem *m, uint64_t addr, uint64_t *out);
int gs_mem_read_i32(const struct gs_mem *m, uint64_t addr, int32_t *out);

#endif
