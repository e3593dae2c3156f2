#include <errno.h>
#include <limits.h>
#include <string.h>
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

#define GATHER_BATCH 256  /* ranges per call; IOV_MAX is 1024 */
#define GATHER_GAP 2048u  /* bytes dropped between two ranges, at most */
#define PAGE 4096u

static uint64_t start_of(const struct iovec *v)
{
	return (uint64_t)(uintptr_t)v->iov_base;
}

/* One range per call from ranges idx[0..n): what is left when a
 * coalesced read stopped early, and the fake's way. */
static size_t gather_each(const struct gs_mem *m, const struct iovec *local,
			  const struct iovec *remote, const size_t *idx, size_t n,
			  unsigned char *ok, unsigned long *calls)
{
	size_t good = 0;

	for (size_t j = 0; j < n; j++) {
		size_t i = idx[j];
		if (!remote[i].iov_len) {
			ok[i] = 1;
		} else if (!remote[i].iov_base) {
			ok[i] = 0;
		} else {
			(*calls)++;
			ok[i] = gs_mem_read(m, start_of(&remote[i]), local[i].iov_base,
					    local[i].iov_len) == 0;
		}
		good += ok[i];
	}
	return good;
}

size_t gs_mem_gather(const struct gs_mem *m, const struct iovec *local,
		     const struct iovec *remote, size_t n, size_t any_order,
		     size_t nlast, unsigned char *ok, unsigned long *calls)
{
	size_t idx[GATHER_BATCH], good = 0;
	struct iovec rv[GATHER_BATCH], lv[2 * GATHER_BATCH];
	size_t first[GATHER_BATCH + 1];   /* idx of each span's first range */
	static unsigned char drop[GATHER_GAP];

	if (any_order > n)
		any_order = n;
	/* The ranges that keep their order: [0, any_order) and [tail, n). */
	const size_t tail = nlast < n - any_order ? n - nlast : any_order;
	for (size_t base = 0; base < n;) {
		size_t k = 0, nr = 0, nl = 0;

		/* The batch's order: the ordered ones as given, the rest by
		 * address between them (insertion sort: a batch is a few
		 * dozen).  A range of the tail never moves, nor does one move
		 * past it: the tail is read after everything before it. */
		for (size_t i = base; i < n && k < GATHER_BATCH; i++) {
			size_t j = k++;
			if (i >= any_order && i < tail && j > 0 && idx[j - 1] >= any_order)
				for (; j > 0 && idx[j - 1] >= any_order &&
				       start_of(&remote[idx[j - 1]]) > start_of(&remote[i]); j--)
					idx[j] = idx[j - 1];
			idx[j] = i;
		}
		base += k;
		if (m->read) {
			good += gather_each(m, local, remote, idx, k, ok, calls);
			continue;
		}
		/* Spans: a range joins the span before it when it starts at or
		 * after the span's end, within GATHER_GAP of it, and at most one
		 * page on. */
		size_t live = 0;
		for (size_t j = 0; j < k; j++) {
			size_t i = idx[j];
			if (!remote[i].iov_len || !remote[i].iov_base) {
				ok[i] = !remote[i].iov_len;
				good += ok[i];
				continue;
			}
			uint64_t s = start_of(&remote[i]), e = s + remote[i].iov_len;
			if (nr) {
				struct iovec *last = &rv[nr - 1];
				uint64_t end = start_of(last) + last->iov_len;
				if (s >= end && s - end <= GATHER_GAP &&
				    s / PAGE <= (end - 1) / PAGE + 1) {
					if (s > end) {
						lv[nl].iov_base = drop;
						lv[nl++].iov_len = (size_t)(s - end);
					}
					lv[nl++] = local[i];
					last->iov_len = (size_t)(e - start_of(last));
					idx[live++] = i;
					continue;
				}
			}
			first[nr] = live;
			rv[nr++] = remote[i];
			lv[nl++] = local[i];
			idx[live++] = i;
		}
		first[nr] = live;
		if (!nr)
			continue;
		(*calls)++;
		ssize_t got = process_vm_readv(m->pid, lv, nl, rv, nr, 0);
		size_t have = got > 0 ? (size_t)got : 0, j = 0;
		/* Whole spans first; from the span it stopped in, range by
		 * range again (a range past the stop may still be readable). */
		for (size_t sp = 0; sp < nr && have >= rv[sp].iov_len; sp++) {
			have -= rv[sp].iov_len;
			for (; j < first[sp + 1]; j++) {
				ok[idx[j]] = 1;
				good++;
			}
		}
		if (j < live) {
			if (got < 0 && errno == ESRCH) {
				for (; j < live; j++)
					ok[idx[j]] = 0;
				continue;
			}
			good += gather_each(m, local, remote, idx + j, live - j, ok, calls);
		}
	}
	return good;
}
