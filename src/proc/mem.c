#include <errno.h>
#include <sys/uio.h>

#include "proc/mem.h"

int gs_mem_read(const struct gs_mem *m, uint64_t addr, void *buf, size_t len)
{
	if (m->read)
		return m->read(m->ctx, addr, buf, len);
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		errno = EFAULT; /* a partial read means the range ran off a mapping */
	return -1;
}

int gs_mem_read_u64(const struct gs_mem *m, uint64_t addr, uint64_t *out)
{
	return gs_mem_read(m, addr, out, sizeof *out);
}

int gs_mem_read_i32(const struct gs_mem *m, uint64_t addr, int32_t *out)
{
	return gs_mem_read(m, addr, out, sizeof *out);
}
