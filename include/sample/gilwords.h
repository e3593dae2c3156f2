/* Reading one GIL's words: locked, last_holder, switch_number and the
 * switch interval, with the bytes of its condition variables and
 * mutexes, in as few ranges as the layout allows (one on 3.7+; 3.6
 * keeps `locked` in .data far from the rest in .bss, so two).  The
 * sampler reads them every sample; info once. */
#ifndef GS_GILWORDS_H
#define GS_GILWORDS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "layout/layout.h"
#include "proc/mem.h"
#include "sample/classify.h"

#define GS_GIL_BUF 512       /* bytes read per GIL, at most */
#define GS_GIL_MAX_SPANS 8

struct gs_gil_span {
	uint64_t addr;
	size_t len, off;         /* off: where it lands in the buffer */
};

struct gs_gil_reader {
	struct gs_gil_addrs a;
	struct gs_gil_span sp[GS_GIL_MAX_SPANS];
	size_t nsp, len;         /* len: bytes of buffer the spans fill */
	/* Where locked, last_holder, switch_number and the interval land
	 * in the buffer; -1 when not read. */
	ptrdiff_t at_locked, at_holder, at_switch, at_interval;
	/* The GIL cond's bytes (-1: not read): a thread that starts to
	 * wait on it writes them (glibc's wait sequence, musl's waiter
	 * list), which is how a sleeper's new wait shows in the words. */
	ptrdiff_t at_cond;
	size_t cond_len;
};

/* Plan the ranges for the GIL at a.  Returns 0, or -1 when locked,
 * last_holder and switch_number are not all covered (the reader is set
 * up all the same: its words then never decode). */
int gs_gil_reader_init(struct gs_gil_reader *g, const struct gs_gil_addrs *a);

/* The iovecs that read every span into buf (GS_GIL_BUF bytes): fills
 * local[] and remote[] and returns how many (g->nsp).  Inline: every
 * sample builds them. */
static inline size_t gs_gil_iov(const struct gs_gil_reader *g, unsigned char *buf,
				struct iovec *local, struct iovec *remote)
{
	for (size_t k = 0; k < g->nsp; k++) {
		local[k] = (struct iovec){ buf + g->sp[k].off, g->sp[k].len };
		remote[k] = (struct iovec){ (void *)(uintptr_t)g->sp[k].addr, g->sp[k].len };
	}
	return g->nsp;
}

/* The words in buf; *interval only when the build has one (else left
 * alone).  Returns 0 when they are sane (locked 0 or 1: -1 before the
 * GIL exists and after it is gone), -1 otherwise. */
int gs_gil_decode(const struct gs_gil_reader *g, const unsigned char *buf,
		  struct gs_gil_words *w, uint64_t *interval);

/* Read and decode the words once.  Returns 0 (sane or not: see the
 * return value of gs_gil_decode in *sane when not NULL), or -1 with
 * errno when they could not be read whole. */
int gs_gil_read(const struct gs_gil_reader *g, const struct gs_mem *m,
		struct gs_gil_words *w, uint64_t *interval, int *sane);

#endif
