#include <errno.h>
#include <limits.h>
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

ssize_t gs_mem_readv(const struct gs_mem *m, const struct iovec *local,
		     const struct iovec *remote, size_t n)
{
	size_t done = 0;
	if (m->read) {
		for (size_t i = 0; i < n; i++) {
			if (m->read(m->ctx, (uint64_t)(uintptr_t)remote[i].iov_base,
				    local[i].iov_base, local[i].iov_len) != 0) {
				if (errno == ESRCH)
					return -1;
				break;
			}
			done += local[i].iov_len;
		}
		return (ssize_t)done;
	}
	for (size_t i = 0; i < n; i += IOV_MAX) {
		size_t k = n - i < IOV_MAX ? n - i : IOV_MAX;
		ssize_t got = process_vm_readv(m->pid, local + i, k, remote + i, k, 0);
		if (got < 0) {
			if (errno == ESRCH)
				return -1;
			break;
		}
		done += (size_t)got;
		size_t want = 0;
		for (size_t j = i; j < i + k; j++)
			want += local[j].iov_len;
		if ((size_t)got < want) {
			errno = EFAULT;
			break;
		}
	}
	return (ssize_t)done;
}
