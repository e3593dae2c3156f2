/* Reading one GIL's words. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "sample/gilwords.h"

static int span_of(const struct gs_gil_reader *g, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < g->nsp; i++)
		if (addr >= g->sp[i].addr && addr + len <= g->sp[i].addr + g->sp[i].len)
			return (int)i;
	return -1;
}

/* Where the word at addr lands in the buffer, or -1. */
static ptrdiff_t at(const struct gs_gil_reader *g, uint64_t addr, size_t len)
{
	int i = span_of(g, addr, len);
	return i < 0 ? -1 : (ptrdiff_t)(g->sp[i].off + (addr - g->sp[i].addr));
}

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Cover every GIL word the sampler looks at, merging ranges that lie
 * close together. */
int gs_gil_reader_init(struct gs_gil_reader *g, const struct gs_gil_addrs *a)
{
	uint64_t r[8][2] = {
		{ a->locked, a->locked + 4 },
		{ a->last_holder, a->last_holder + 8 },
		{ a->switch_number, a->switch_number + 8 },
		{ a->cond, a->cond_end },
		{ a->mutex, a->mutex_end },
		{ a->switch_cond, a->switch_cond_end },
		{ a->switch_mutex, a->switch_mutex_end },
	};
	size_t n = 0;
	memset(g, 0, sizeof *g);
	g->a = *a;
	for (size_t i = 0; i < 7; i++)
		if (r[i][0] && r[i][1] > r[i][0]) {
			r[n][0] = r[i][0];
			r[n][1] = r[i][1];
			n++;
		}
	if (a->interval) {
		/* Cheap to add when it is next to the rest. */
		r[n][0] = a->interval;
		r[n][1] = a->interval + 8;
		n++;
	}
	qsort(r, n, sizeof r[0], cmp_range);
	for (size_t i = 0; i < n; i++) {
		struct gs_gil_span *last = g->nsp ? &g->sp[g->nsp - 1] : NULL;
		uint64_t used = last ? last->off + last->len : 0;
		if (last && r[i][0] <= last->addr + last->len + 256) {
			uint64_t end = r[i][1] > last->addr + last->len
				? r[i][1] : last->addr + last->len;
			if (last->off + (end - last->addr) <= GS_GIL_BUF) {
				last->len = end - last->addr;
				continue;
			}
		}
		if (g->nsp == GS_GIL_MAX_SPANS || used + (r[i][1] - r[i][0]) > GS_GIL_BUF)
			continue; /* cannot happen with CPython's layouts */
		g->sp[g->nsp++] = (struct gs_gil_span){ r[i][0], r[i][1] - r[i][0], used };
	}
	g->len = g->nsp ? g->sp[g->nsp - 1].off + g->sp[g->nsp - 1].len : 0;
	g->at_locked = at(g, a->locked, 4);
	g->at_holder = at(g, a->last_holder, 8);
	g->at_switch = at(g, a->switch_number, 8);
	g->at_interval = a->interval ? at(g, a->interval, 8) : -1;
	g->cond_len = a->cond && a->cond_end > a->cond ? (size_t)(a->cond_end - a->cond) : 0;
	g->at_cond = g->cond_len ? at(g, a->cond, g->cond_len) : -1;
	return g->at_locked >= 0 && g->at_holder >= 0 && g->at_switch >= 0 ? 0 : -1;
}

int gs_gil_decode(const struct gs_gil_reader *g, const unsigned char *buf,
		  struct gs_gil_words *w, uint64_t *interval)
{
	memset(w, 0, sizeof *w);
	if (g->at_locked < 0 || g->at_holder < 0 || g->at_switch < 0)
		return -1;
	memcpy(&w->locked, buf + g->at_locked, 4);
	memcpy(&w->last_holder, buf + g->at_holder, 8);
	memcpy(&w->switch_number, buf + g->at_switch, 8);
	if (g->at_interval >= 0)
		memcpy(interval, buf + g->at_interval, 8);
	return w->locked == 0 || w->locked == 1 ? 0 : -1;
}

int gs_gil_read(const struct gs_gil_reader *g, const struct gs_mem *m,
		struct gs_gil_words *w, uint64_t *interval, int *sane)
{
	unsigned char buf[GS_GIL_BUF];
	struct iovec l[GS_GIL_MAX_SPANS], r[GS_GIL_MAX_SPANS];
	size_t n = gs_gil_iov(g, buf, l, r);
	if (!n) {
		errno = EFAULT;
		return -1;
	}
	ssize_t got = gs_mem_readv(m, l, r, n);
	if (got < 0 || (size_t)got < g->len)
		return -1; /* errno says why */
	int ok = gs_gil_decode(g, buf, w, interval) == 0;
	if (sane)
		*sane = ok;
	return 0;
}
