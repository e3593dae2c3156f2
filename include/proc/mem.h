/* Reading the target's memory.  Every reader, the sampler's hot loop
 * included, goes through a gs_mem so that fuzz harnesses and unit tests
 * can feed it a fake address space. */
#ifndef GS_MEMREAD_H
#define GS_MEMREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iovec;

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

/* Read n ranges at once: remote[i] into local[i], of equal lengths (one
 * process_vm_readv per IOV_MAX ranges; a fake's read() once per range).
 * Returns the bytes read, which cover a prefix of the list: the read
 * stops at the first byte that cannot be read (errno then says why), so
 * range i arrived whole when the count reaches the end of it.  Returns
 * -1 with errno ESRCH when the target is gone. */
ssize_t gs_mem_readv(const struct gs_mem *m, const struct iovec *local,
		     const struct iovec *remote, size_t n);

/* Read n ranges, remote[i] into local[i] of equal lengths, each on its
 * own: ok[i] says whether range i arrived whole, a range that cannot be
 * read does not stop the others.  The ranges from `any_order` on may be
 * read in any order (the earlier ones are read first, in order), but for
 * the nlast ones at the end, read after all the others, in order: a word
 * read again there tells whether it held still while they were read.
 * Ranges close together, with no page between them that neither touches,
 * are read as one and the bytes between them dropped: the kernel pins a
 * remote range's pages anew for every range, so two ranges on one page
 * cost two pins.  A NULL range fails without a read.  Returns how many
 * ranges arrived whole; *calls grows by the process_vm_readv calls (or
 * fake reads) made. */
size_t gs_mem_gather(const struct gs_mem *m, const struct iovec *local,
		     const struct iovec *remote, size_t n, size_t any_order,
		     size_t nlast, unsigned char *ok, unsigned long *calls);

#endif
