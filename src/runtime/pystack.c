/* The remote Python stack reader (runtime/pystack.h).
 *
 * How to walk is decided once, in gs_pystack_open(), from the layout:
 * which thread-state pointer leads to the innermost frame (one hop, or
 * two through 3.11-3.12's _PyCFrame), which bytes of a frame to read,
 * whether the current instruction is an index (f_lasti) or a pointer
 * into the code object, how line tables are encoded and how entry frames
 * are marked.  The loop then applies that plan and never asks for a
 * version.
 *
 * A read is two phases: walk the chain with one read per frame (a
 * frame's address is in the frame before it), then read the headers of
 * all the code objects met, and the thread's head pointer again, in one
 * batch.  A code object whose header (first line, name, file and
 * line-table pointers) matches the cache costs nothing more; a new or
 * changed one is read whole once.  A head that moved means the stack
 * changed under the reader: the walk is retried, and flagged torn if it
 * keeps moving.
 *
 * What the last read of a thread state needed (its innermost chunk, the
 * frames read alone, the code headers) is read again in the same call
 * as the thread state, and used where the walk reaches those addresses:
 * a thread whose stack did not change much costs two calls, the first
 * and the head re-read, and the re-read's call carries the first call
 * of the thread read next.  A wrong guess only costs the reads it would
 * have cost anyway.
 *
 * From 3.14 the interpreter counts code objects freed
 * (_code_object_generation, bumped before the free).  A cached code
 * object whose header was read after the count was last seen at its
 * present value still describes its address while the count stays
 * there: its header is not read again.  The count is read first in the
 * second call, after the frames; had it moved, the read is made again
 * reading every header.  Only the main interpreter's threads are read
 * that way, and only while the count held still over the last two
 * reads, so a program that keeps freeing code pays the full price and
 * no more.  What is left: a code_dealloc() that runs Python code
 * between its bump and its free (a code watcher, a weakref callback)
 * can let a header be read in that gap; if the address is then reused
 * for new code with the count unchanged, its frames carry the old
 * name until the count next moves.
 *
 * gs_pystack_read_many() reads a sample's thread states as one batch:
 * every first call in one process_vm_readv, ending with every head
 * pointer again and the generation word (the kernel copies ranges in
 * order, so those are read after the frames), the walks, then every
 * second call in another, for the threads whose walk needed more than
 * the first call had.  A read the batch could not finish is made again
 * alone, as gs_pystack_read() would. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "core/errors.h"
#include "layout/layout.h"
#include "runtime/linetable.h"
#include "runtime/pyobj.h"
#include "runtime/pystack.h"

#define SLOTS 2048          /* code cache, a power of two */
#define PROBE 32            /* slots looked at per code object */
#define OVERFLOW 64         /* extra entries when a probe run is pinned */
#define TABLE_MAX (1u << 16) /* longest line table kept */
#define RETRIES 2           /* re-walks when the head moved, by default */
#define MINI 64             /* per-read de-duplication of code objects */
#define WINDOWS 4           /* data-stack chunks read whole, per read */
#define WINDOW_MAX (64u << 10)
#define GUESSES 64          /* threads whose innermost chunk is guessed */
#define GUESS_SLACK 1024u   /* bytes read past last time's innermost frame */
#define XFRAMES 8           /* frames outside chunks guessed per thread */
#define XCODES 16           /* code headers guessed per thread */
#define FIRST_IOV (2 + XFRAMES + XCODES)
#define AHEAD_NS 20000      /* how old a first call read ahead may be */
#define TSB 512             /* thread-state bytes read at most */
#define BATCH 32            /* thread states a batch reads together */

enum entry_mode { ENTRY_ALL, ENTRY_FIELD, ENTRY_BEFORE_C };
/* Where a read took a code header from. */
enum hdr_src {
	HDR_READ,    /* the second call, after the code generation */
	HDR_GUESSED, /* the first call, with the thread state */
	HDR_TRUSTED, /* not read: the cache, under an unmoved generation */
};

struct plan {
	int64_t head1, head2;     /* *(tstate + head1), then *(p + head2) */
	int64_t chunk;            /* tstate's datastack_chunk; -1: none */
	int64_t chunk_previous;   /* in a _PyStackChunk */
	int64_t lo, len;          /* the bytes of a frame read */
	struct gs_field back, code, instr, owner, is_entry;
	int64_t instr_base;       /* -1: instr is f_lasti; else the byte
				   * offset of the bytecode in the code object */
	int lasti_mult;           /* f_lasti to bytes: 1 (lnotab) or 2 */
	int64_t owner_first_c;    /* INT64_MAX when no frame is C-owned */
	int64_t owner_generator;
	enum entry_mode entry;
	int64_t clo, clen;        /* the bytes of a code object read */
	struct gs_field c_type, c_name, c_file, c_first, c_table, c_trace;
	enum gs_linetable_kind kind;
};

struct code_entry {
	uint64_t addr;            /* 0: empty */
	uint64_t name_ptr, file_ptr, table_ptr;
	int32_t firstlineno;
	int64_t traceable;        /* bytes; INT64_MIN when not known */
	uint64_t ident;           /* changes with every fill */
	uint64_t cgen;            /* the code generation its header was
				   * last read under, when cgen_ok */
	int cgen_ok;
	uint32_t pin;             /* pinned while the reader's pin is this */
	uint32_t used;            /* LRU stamp */
	int64_t memo_addr;
	int memo_line;
	uint32_t table_len, table_cap;
	int have_table;           /* 0: unreadable or too long, no lines */
	uint8_t *table;
	char func[GS_PYFRAME_FUNC_MAX];
	char file[GS_PYFRAME_FILE_MAX];
};

struct raw {
	uint64_t frame, code, instr;
	int64_t owner;
	int entry;
	size_t hdr;               /* which code header */
};

/* One read of one thread state, from its first call to its second:
 * gs_pystack_read() uses the reader's own, a batch one per thread. */
struct rd {
	/* Work arrays, grown to the largest capacity asked for. */
	size_t cap;
	struct raw *raw;
	struct iovec *liov, *riov;
	unsigned char *ok, *hsrc; /* hsrc: enum hdr_src per header */
	uint8_t *hdrs;
	struct code_entry **ent;
	struct { uint64_t code; uint32_t gen; size_t idx; } mini[MINI];
	/* 3.11+ frames sit in data-stack chunks, the outer ones below the
	 * inner: the first frame met in a chunk is read with everything
	 * below it, and the frames under it come from that copy. */
	struct { uint64_t lo, hi; uint8_t *buf; } win[WINDOWS];
	size_t nwin;
	uint64_t next_chunk;      /* the chunk a frame may be found in next */
	uint64_t head_chunk;      /* the tstate's chunk, this read */
	uint64_t head_len;        /* bytes of it the innermost frame needs */
	int guess_failed;
	/* This read's copies of the guessed frames and headers, and the
	 * frames it read alone (the next read's guess). */
	uint8_t *xbuf, *cbuf;     /* XFRAMES * len, XCODES * clen */
	uint64_t xaddr[XFRAMES], caddr[XCODES];
	unsigned char xok[XFRAMES], cok[XCODES];
	size_t nx, nc;
	uint64_t alone[XFRAMES];
	size_t nalone;
	struct iovec *liov2, *riov2; /* the headers not guessed, compacted */
	unsigned char *ok2;
	size_t *map2;
	uint8_t tsb[TSB];         /* the thread state's words */
	/* The first call, when it was made ahead: by the last read (the
	 * thread read after it last time), or by the batch. */
	uint64_t pf_tstate;
	uint64_t pf_ns;
	int pf_batch;             /* made by the batch: fresh */
	unsigned char pf_ok[FIRST_IOV];
	size_t pf_n;
	struct iovec pf_riov1;    /* the guessed chunk read */
	int trust;                /* this read may skip headers */
	int trusted_any;          /* it did */
	uint64_t trust_gen;       /* the generation those entries were under */
	int distrust;             /* and the generation moved: read again */
	int ts_main;              /* the thread state is the main interp's */
	/* Between the phases of a read. */
	uint64_t mid, head, again[2];
	size_t n, nh, k2;
};

struct gs_pystack_reader {
	const struct gs_target *t;
	struct gs_pyobj obj;
	struct plan p;
	struct code_entry *slots; /* SLOTS + OVERFLOW */
	uint64_t *addrs;          /* their addr, for probes that touch less */
	size_t noverflow;
	uint32_t gen;             /* one per read: the mini tables' stamp */
	uint32_t pin;             /* entries handed out under it stay put */
	int holding;              /* gs_pystack_read_many(): pin held */
	uint32_t clock;
	uint64_t fills;
	unsigned retries;
	struct rd one;            /* gs_pystack_read()'s */
	struct rd *batch;         /* gs_pystack_read_many()'s, BATCH */
	struct iovec *bl, *br;    /* a batch's second call */
	unsigned char *bok;
	size_t bcap;
	/* Per thread, the innermost chunk and how much of it the last read
	 * copied: the next read copies that much (and some slack) in the
	 * same call as the thread state, which saves a read per stack when
	 * the chunk did not change and the stack did not outgrow it.
	 * The frames read alone (entry frames on the C stack, 3.15's base
	 * frame in the thread state) and the code headers are guessed the
	 * same way: what the last read of the thread needed, read again in
	 * that call, and used only where the walk reaches the same address. */
	struct guess {
		uint64_t tstate, chunk, len;
		uint64_t frame[XFRAMES], code[XCODES];
		uint32_t nframe, ncode;
		uint64_t next;    /* the thread state read after it last time */
	} guess[GUESSES];
	/* The thread states of a sample are read one after the other in
	 * the same order: a read's last call carries the first call of the
	 * thread state read after it last time. */
	uint64_t prev_tstate;
	/* The code generation (3.14+; cgen_addr 0 when none): its last two
	 * readings. */
	uint64_t cgen_addr, main_interp;
	uint64_t cgen_seen, cgen_before;
	int cgen_known;           /* readings taken: 0, 1 or 2 */
	int64_t ts_lo, ts_hi;     /* the thread-state bytes read in tsb */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t hash64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (uint32_t)v;
}

/* A field of a buffer read from lo. */
static uint64_t at(const uint8_t *buf, int64_t lo, struct gs_field f)
{
	return f.off == GS_NOFF ? 0 : gs_pyobj_load(buf + (f.off - lo), f.size);
}

static void span(int64_t *lo, int64_t *hi, struct gs_field f)
{
	if (f.off == GS_NOFF)
		return;
	if (f.off < *lo)
		*lo = f.off;
	if (f.off + f.size > *hi)
		*hi = f.off + f.size;
}

/* The thread-state bytes the first call reads: the head pointer and
 * the chunk word (72 and 232 bytes into 3.13's tstate), and from 3.14
 * the interp pointer, which tells whether the code generation applies.
 * ts_hi stays 0 when the words are too far apart to read as one. */
static void ts_span(struct gs_pystack_reader *r)
{
	const struct plan *p = &r->p;
	const struct gs_layout *l = &r->t->layout;
	int64_t lo = p->head1 < p->chunk ? p->head1 : p->chunk;
	int64_t hi = (p->head1 > p->chunk ? p->head1 : p->chunk) + 8;

	r->ts_lo = r->ts_hi = 0;
	if (p->chunk < 0 || hi - lo > TSB)
		return;
	r->ts_lo = lo;
	r->ts_hi = hi;
	if (l->interp_code_generation.off == GS_NOFF || !r->t->main_interp ||
	    l->ts_interp.off == GS_NOFF)
		return;
	lo = l->ts_interp.off < lo ? l->ts_interp.off : lo;
	hi = l->ts_interp.off + 8 > hi ? l->ts_interp.off + 8 : hi;
	if (hi - lo > TSB)
		return;
	r->ts_lo = lo;
	r->ts_hi = hi;
	r->main_interp = r->t->main_interp;
	r->cgen_addr = r->main_interp + (uint64_t)l->interp_code_generation.off;
}

static int make_plan(const struct gs_layout *l, struct plan *p)
{
	int64_t lo = INT64_MAX, hi = 0;

	memset(p, 0, sizeof *p);
	if (l->ts_frame.off != GS_NOFF) {
		/* PyFrameObjects, f_lasti an instruction offset. */
		p->head1 = l->ts_frame.off;
		p->head2 = -1;
		p->back = l->frame_back;
		p->code = l->frame_code;
		p->instr = l->frame_lasti;
		p->owner.off = p->is_entry.off = GS_NOFF;
		p->instr_base = -1;
		p->lasti_mult = l->linetable_kind == GS_LT_LNOTAB ? 1 : 2;
		p->entry = ENTRY_ALL;
	} else {
		p->head1 = l->ts_current_frame.off != GS_NOFF ? l->ts_current_frame.off
							       : l->ts_cframe.off;
		p->head2 = l->ts_current_frame.off != GS_NOFF ? -1
							       : l->cframe_current_frame.off;
		p->back = l->iframe_previous;
		p->code = l->iframe_code;
		p->instr = l->iframe_instr;
		p->owner = l->iframe_owner;
		p->is_entry = l->iframe_is_entry;
		p->instr_base = l->code_adaptive.off;
		p->lasti_mult = 1;
		p->entry = l->iframe_is_entry.off != GS_NOFF ? ENTRY_FIELD
							    : ENTRY_BEFORE_C;
	}
	p->chunk = l->ts_datastack_chunk.off != GS_NOFF && l->chunk_previous.off != GS_NOFF
		   ? l->ts_datastack_chunk.off : -1;
	p->chunk_previous = l->chunk_previous.off;
	p->owner_first_c = l->owner_first_c == GS_NOFF ? INT64_MAX : l->owner_first_c;
	p->owner_generator = l->owner_generator;
	span(&lo, &hi, p->back);
	span(&lo, &hi, p->code);
	span(&lo, &hi, p->instr);
	span(&lo, &hi, p->owner);
	span(&lo, &hi, p->is_entry);
	p->lo = lo;
	p->len = hi - lo;

	p->c_type = l->ob_type;
	p->c_name = l->code_qualname.off != GS_NOFF ? l->code_qualname : l->code_name;
	p->c_file = l->code_filename;
	p->c_first = l->code_firstlineno;
	p->c_table = l->code_linetable;
	p->c_trace = l->code_firsttraceable;
	lo = INT64_MAX;
	hi = 0;
	span(&lo, &hi, p->c_type);
	span(&lo, &hi, p->c_name);
	span(&lo, &hi, p->c_file);
	span(&lo, &hi, p->c_first);
	span(&lo, &hi, p->c_table);
	span(&lo, &hi, p->c_trace);
	p->clo = lo;
	p->clen = hi - lo;
	p->kind = (enum gs_linetable_kind)l->linetable_kind;
	return p->len > 0 && p->len <= 512 && p->clen > 0 && p->clen <= 1024 ? 0 : -1;
}

/* A read's buffers for the guessed frames and headers; the chunk
 * windows come when first needed. */
static int rd_init(struct gs_pystack_reader *r, struct rd *d)
{
	memset(d, 0, sizeof *d);
	if (!(d->xbuf = malloc(XFRAMES * (size_t)r->p.len)) ||
	    !(d->cbuf = malloc(XCODES * (size_t)r->p.clen))) {
		free(d->xbuf);
		d->xbuf = NULL; /* a batch tries again next time */
		return -1;
	}
	return 0;
}

/* Window i of d, allocated on first use; NULL when memory is short. */
static uint8_t *window(struct rd *d, size_t i)
{
	if (!d->win[i].buf)
		d->win[i].buf = malloc(WINDOW_MAX);
	return d->win[i].buf;
}

int gs_pystack_open(const struct gs_target *t, struct gs_pystack_reader **out)
{
	struct gs_pystack_reader *r;
	const char *miss = gs_layout_missing_stacks(&t->layout);

	*out = NULL;
	if (miss)
		return gs_fail(GS_EUNSUPPORTED,
			       "cannot read Python stacks of Python %s: its layout "
			       "(from %s) has no %s", t->ver.str,
			       gs_layout_source_name(t->source), miss);
	r = calloc(1, sizeof *r);
	if (!r || !(r->slots = calloc(SLOTS + OVERFLOW, sizeof *r->slots)) ||
	    !(r->addrs = calloc(SLOTS + OVERFLOW, sizeof *r->addrs))) {
		if (r)
			free(r->slots);
		free(r);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	if (make_plan(&t->layout, &r->p) != 0) {
		free(r->slots);
		free(r->addrs);
		free(r);
		return gs_fail(GS_EUNSUPPORTED, "the layout of Python %s gives "
			       "implausible frame offsets", t->ver.str);
	}
	if (rd_init(r, &r->one) != 0) {
		gs_pystack_close(r);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	r->t = t;
	r->retries = RETRIES;
	ts_span(r);
	gs_pyobj_init(&r->obj, &t->mem, &t->layout);
	*out = r;
	return 0;
}

void gs_pystack_set_retries(struct gs_pystack_reader *r, unsigned retries)
{
	r->retries = retries;
}

static void rd_free(struct rd *d)
{
	for (int i = 0; i < WINDOWS; i++)
		free(d->win[i].buf);
	free(d->raw);
	free(d->liov);
	free(d->riov);
	free(d->ok);
	free(d->hsrc);
	free(d->hdrs);
	free(d->ent);
	free(d->xbuf);
	free(d->cbuf);
	free(d->liov2);
	free(d->riov2);
	free(d->ok2);
	free(d->map2);
}

void gs_pystack_close(struct gs_pystack_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < SLOTS + OVERFLOW; i++)
		free(r->slots[i].table);
	free(r->slots);
	free(r->addrs);
	rd_free(&r->one);
	if (r->batch)
		for (size_t i = 0; i < BATCH; i++)
			rd_free(&r->batch[i]);
	free(r->batch);
	free(r->bl);
	free(r->br);
	free(r->bok);
	free(r);
}

/* Work arrays for n frames plus the head re-reads; grown, never shrunk,
 * so a steady state of one capacity allocates nothing. */
static int reserve(struct gs_pystack_reader *r, struct rd *d, size_t n)
{
	size_t k = n + 2;
	void *p;

	if (n <= d->cap)
		return 0;
#define GROW(field, size) \
	do { if (!(p = realloc(d->field, (size)))) return -1; d->field = p; } while (0)
	GROW(raw, n * sizeof *d->raw);
	GROW(liov, k * sizeof *d->liov);
	GROW(riov, k * sizeof *d->riov);
	GROW(ok, k);
	GROW(hsrc, k);
	GROW(hdrs, k * (size_t)r->p.clen + 16);
	GROW(ent, n * sizeof *d->ent);
	GROW(liov2, (k + 1 + FIRST_IOV) * sizeof *d->liov2);
	GROW(riov2, (k + 1 + FIRST_IOV) * sizeof *d->riov2);
	GROW(ok2, k + 1 + FIRST_IOV);
	GROW(map2, k * sizeof *d->map2);
#undef GROW
	d->cap = n;
	return 0;
}

/* The iovecs of a thread's first call: its thread state (ts_span()),
 * then what its last read needed.  Returns how many, 0 when the thread
 * state's words are not close enough to read as one. */
static size_t first_iovecs(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
			   struct iovec *liov, struct iovec *riov)
{
	const struct plan *p = &r->p;
	size_t niov = 2;

	if (!r->ts_hi || !tstate)
		return 0;
	const int64_t lo = r->ts_lo, hi = r->ts_hi;
	const struct guess *gu = &r->guess[hash64(tstate) & (GUESSES - 1)];
	const int mine = gu->tstate == tstate;
	const uint64_t gc = mine ? gu->chunk : 0;

	liov[0].iov_base = d->tsb;
	liov[0].iov_len = riov[0].iov_len = (size_t)(hi - lo);
	riov[0].iov_base = (void *)(uintptr_t)(tstate + (uint64_t)lo);
	/* Everything guessed is read after the thread state, in the same
	 * call, in the order separate reads would take. */
	liov[1].iov_base = riov[1].iov_base = NULL;
	liov[1].iov_len = riov[1].iov_len = 0;
	if (gc && p->head2 < 0 && p->chunk >= 0 && window(d, 0)) {
		liov[1].iov_base = d->win[0].buf;
		liov[1].iov_len = riov[1].iov_len = (size_t)gu->len;
		riov[1].iov_base = (void *)(uintptr_t)gc;
	}
	d->nx = mine ? gu->nframe : 0;
	for (size_t i = 0; i < d->nx; i++, niov++) {
		d->xaddr[i] = gu->frame[i];
		liov[niov].iov_base = d->xbuf + i * (size_t)p->len;
		liov[niov].iov_len = riov[niov].iov_len = (size_t)p->len;
		riov[niov].iov_base = (void *)(uintptr_t)gu->frame[i];
	}
	d->nc = mine ? gu->ncode : 0;
	for (size_t i = 0; i < d->nc; i++, niov++) {
		d->caddr[i] = gu->code[i];
		liov[niov].iov_base = d->cbuf + i * (size_t)p->clen;
		liov[niov].iov_len = riov[niov].iov_len = (size_t)p->clen;
		riov[niov].iov_base = (void *)(uintptr_t)(gu->code[i] + (uint64_t)p->clo);
	}
	return niov;
}

/* The head pointer, and the data-stack chunk in the same read when the
 * two words are close (ts_span()), with the guesses; taken from the last
 * read's call when that read this thread's first call too, a moment
 * ago. */
static int read_head(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
		     uint64_t *mid, uint64_t *head)
{
	const struct plan *p = &r->p;
	uint64_t v;
	struct iovec liov[FIRST_IOV], riov[FIRST_IOV];
	unsigned char ok[FIRST_IOV] = { 0 };
	size_t niov;
	const int ahead = d->pf_tstate == tstate &&
			  (d->pf_batch || now_ns() - d->pf_ns <= AHEAD_NS);

	d->pf_tstate = 0;
	d->next_chunk = 0;
	d->nalone = 0;
	d->head_chunk = 0;
	d->head_len = 0;
	d->guess_failed = 0;
	d->ts_main = 0;
	if (ahead) {
		memcpy(ok, d->pf_ok, sizeof ok);
		niov = d->pf_n;
	} else if ((niov = first_iovecs(r, d, tstate, liov, riov)) != 0) {
		/* Checked as a whole by the head re-read after it. */
		gs_pyobj_gather(&r->obj, liov, riov, niov, 0, 0, ok);
		d->pf_riov1 = riov[1];
	} else {
		d->nx = d->nc = 0;
	}
	if (niov) {
		const int64_t lo = r->ts_lo;
		uint64_t gc = (uint64_t)(uintptr_t)d->pf_riov1.iov_base;
		size_t glen = d->pf_riov1.iov_len;

		if (!ok[0])
			return -1;
		for (size_t i = 0; i < d->nx; i++)
			d->xok[i] = ok[2 + i];
		for (size_t i = 0; i < d->nc; i++)
			d->cok[i] = ok[2 + d->nx + i];
		if (!glen)
			ok[1] = 0;
		memcpy(&v, d->tsb + (p->head1 - lo), 8);
		memcpy(&d->next_chunk, d->tsb + (p->chunk - lo), 8);
		d->head_chunk = d->next_chunk;
		if (r->main_interp) {
			uint64_t interp;
			memcpy(&interp, d->tsb + (r->t->layout.ts_interp.off - lo), 8);
			d->ts_main = interp == r->main_interp;
		}
		d->guess_failed = glen && !ok[1];
		uint64_t flo = v + (uint64_t)p->lo, fhi = flo + (uint64_t)p->len;
		if (ok[1] && gc == d->next_chunk && v && flo >= gc &&
		    fhi - gc <= glen &&
		    (uint64_t)p->chunk_previous + 8 <= fhi - gc) {
			d->win[0].lo = gc;
			d->win[0].hi = gc + glen;
			d->nwin = 1;
			d->head_len = fhi - gc;
			memcpy(&d->next_chunk, d->win[0].buf + p->chunk_previous, 8);
		}
	} else if (gs_pyobj_read(&r->obj, tstate + (uint64_t)p->head1, &v, 8) != 0) {
		return -1;
	}
	*mid = v;
	if (p->head2 >= 0 && v &&
	    gs_pyobj_read(&r->obj, v + (uint64_t)p->head2, &v, 8) != 0)
		return -1;
	*head = v;
	return 0;
}

/* The bytes of the frame at addr: from a chunk already copied, from a
 * new copy of the chunk it lies in, or read alone into buf. */
static const uint8_t *frame_bytes(struct gs_pystack_reader *r, struct rd *d,
				  uint64_t addr, uint8_t *buf)
{
	const struct plan *p = &r->p;
	uint64_t lo = addr + (uint64_t)p->lo, hi = lo + (uint64_t)p->len;
	uint64_t c = d->next_chunk;

	for (size_t i = 0; i < d->nwin; i++)
		if (lo >= d->win[i].lo && hi <= d->win[i].hi)
			return d->win[i].buf + (lo - d->win[i].lo);
	if (c && d->nwin < WINDOWS && lo >= c && hi - c <= WINDOW_MAX &&
	    (uint64_t)p->chunk_previous + 8 <= hi - c && window(d, d->nwin)) {
		size_t i = d->nwin;
		if (gs_pyobj_read(&r->obj, c, d->win[i].buf, (size_t)(hi - c)) == 0) {
			if (c == d->head_chunk && !d->head_len)
				d->head_len = hi - c;
			d->win[i].lo = c;
			d->win[i].hi = hi;
			d->nwin++;
			memcpy(&d->next_chunk, d->win[i].buf + p->chunk_previous, 8);
			return d->win[i].buf + (lo - c);
		}
		d->next_chunk = 0;
	}
	if (d->nalone < XFRAMES)
		d->alone[d->nalone++] = lo;
	for (size_t i = 0; i < d->nx; i++)
		if (d->xaddr[i] == lo && d->xok[i])
			return d->xbuf + i * (size_t)p->len;
	if (gs_pyobj_read(&r->obj, lo, buf, (size_t)p->len) != 0)
		return NULL;
	return buf;
}

/* What the next read of this thread copies with its thread state: the
 * nh code headers this read asked for are in riov, hsrc says which it
 * took from the cache unread. */
static void remember(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
		     size_t nh)
{
	struct guess *gu = &r->guess[hash64(tstate) & (GUESSES - 1)];
	uint64_t len = d->head_len + (d->guess_failed ? 0 : GUESS_SLACK);

	gu->tstate = tstate;
	gu->chunk = d->head_len ? d->head_chunk : 0;
	gu->len = len < WINDOW_MAX ? len : WINDOW_MAX;
	gu->nframe = (uint32_t)d->nalone;
	memcpy(gu->frame, d->alone, d->nalone * sizeof *d->alone);
	gu->ncode = 0;
	for (size_t i = 0; i < nh && gu->ncode < XCODES; i++)
		if (d->riov[i].iov_base && d->hsrc[i] != HDR_TRUSTED)
			gu->code[gu->ncode++] = (uint64_t)(uintptr_t)d->riov[i].iov_base -
						(uint64_t)r->p.clo;
}

/* Phase 1: the chain from head, one read per frame. */
static size_t walk(struct gs_pystack_reader *r, struct rd *d, uint64_t head,
		   size_t cap, unsigned *flags)
{
	const struct plan *p = &r->p;
	uint8_t buf[512];
	uint64_t addr = head;
	size_t n = 0;
	long pending = -1;

	/* At most one C-owned frame per Python frame (each C call into the
	 * eval loop pushes one): a longer walk is a loop in torn memory, and
	 * the bound keeps the reads proportional to the capacity. */
	size_t bound = 2 * cap + 16;

	for (size_t depth = 0; addr; depth++) {
		struct raw *f;
		uint64_t next;
		int64_t owner;

		if (depth >= bound) {
			*flags |= GS_PYSTACK_TRUNCATED;
			break;
		}
		if (addr % 8) {
			*flags |= GS_PYSTACK_PARTIAL;
			break;
		}
		const uint8_t *fb = frame_bytes(r, d, addr, buf);
		if (!fb) {
			*flags |= GS_PYSTACK_PARTIAL;
			break;
		}
		next = at(fb, p->lo, p->back);
		owner = p->owner.off == GS_NOFF ? 0 : (int64_t)(int8_t)at(fb, p->lo, p->owner);
		if (next == addr) {
			*flags |= GS_PYSTACK_PARTIAL;
			break;
		}
		if (owner >= p->owner_first_c || owner < 0) {
			/* A frame of C code (the eval loop's entry frame, 3.15's
			 * base frame): the Python frame inside it is where C
			 * entered. */
			if (pending >= 0)
				d->raw[pending].entry = 1;
			pending = -1;
			addr = next;
			continue;
		}
		if (n == cap) {
			*flags |= GS_PYSTACK_TRUNCATED;
			break;
		}
		f = &d->raw[n];
		f->frame = addr;
		/* 3.14+ tags f_executable in its low bits; an object is at
		 * least 8-byte aligned, so clearing them is safe everywhere. */
		f->code = at(fb, p->lo, p->code) & ~(uint64_t)7;
		f->instr = at(fb, p->lo, p->instr);
		if (p->instr.size == 4)
			f->instr = (uint64_t)(int64_t)(int32_t)f->instr;
		f->owner = owner;
		f->entry = p->entry == ENTRY_ALL ||
			   (p->entry == ENTRY_FIELD && at(fb, p->lo, p->is_entry));
		pending = (long)n;
		n++;
		addr = next;
	}
	return n;
}

/* The cache entry for code object `code` with header h: a hit when
 * everything that identifies the object is unchanged, else a slot to
 * (re)fill (never one already handed out in this read). */
static struct code_entry *slot_for(struct gs_pystack_reader *r, uint64_t code,
				   const uint8_t *h, int *hit)
{
	const struct plan *p = &r->p;
	uint32_t base = hash64(code) & (SLOTS - 1);
	struct code_entry *victim = NULL, *e;
	uint64_t name = at(h, p->clo, p->c_name), file = at(h, p->clo, p->c_file),
		 table = at(h, p->clo, p->c_table);
	int32_t first = (int32_t)at(h, p->clo, p->c_first);

	*hit = 0;
	for (uint32_t i = 0; i < PROBE; i++) {
		uint32_t k = (base + i) & (SLOTS - 1);
		if (r->addrs[k] != code)
			continue;
		e = &r->slots[k];
		if (e->name_ptr == name && e->file_ptr == file &&
		    e->table_ptr == table && e->firstlineno == first) {
			*hit = 1;
			return e;
		}
		if (e->pin != r->pin)
			return e; /* same object, changed: refill in place */
	}
	for (uint32_t i = 0; i < PROBE; i++) {
		e = &r->slots[(base + i) & (SLOTS - 1)];
		if (e->pin == r->pin && e->addr)
			continue;
		if (!victim || !e->addr || (victim->addr && e->used < victim->used))
			victim = e;
	}
	if (!victim && r->noverflow < OVERFLOW)
		victim = &r->slots[SLOTS + r->noverflow++];
	return victim;
}

/* The entry for code whose header may go unread: cached under the code
 * generation the reader last saw, which the second call confirms. */
static struct code_entry *trusted_entry(struct gs_pystack_reader *r, uint64_t code)
{
	uint32_t base = hash64(code) & (SLOTS - 1);

	for (uint32_t i = 0; i < PROBE; i++) {
		uint32_t k = (base + i) & (SLOTS - 1);
		if (r->addrs[k] == code) {
			struct code_entry *e = &r->slots[k];
			return e->cgen_ok && e->cgen == r->cgen_seen ? e : NULL;
		}
	}
	return NULL;
}

static void fill(struct gs_pystack_reader *r, struct code_entry *e, uint64_t code,
		 const uint8_t *h)
{
	const struct plan *p = &r->p;
	const struct gs_layout *l = &r->t->layout;
	uint64_t size;

	e->addr = r->addrs[e - r->slots] = code;
	e->ident = ++r->fills;
	e->name_ptr = at(h, p->clo, p->c_name);
	e->file_ptr = at(h, p->clo, p->c_file);
	e->table_ptr = at(h, p->clo, p->c_table);
	e->firstlineno = (int32_t)at(h, p->clo, p->c_first);
	e->traceable = p->c_trace.off == GS_NOFF ? INT64_MIN
		       : 2 * (int64_t)(int32_t)at(h, p->clo, p->c_trace);
	e->memo_addr = INT64_MIN;
	if (gs_pystr_read(&r->obj, e->name_ptr, e->func, sizeof e->func) < 0)
		snprintf(e->func, sizeof e->func, "?");
	if (gs_pystr_read(&r->obj, e->file_ptr, e->file, sizeof e->file) < 0)
		snprintf(e->file, sizeof e->file, "?");
	e->table_len = 0;
	e->have_table = 0;
	if (gs_pyobj_read(&r->obj, e->table_ptr + (uint64_t)l->ob_size.off, &size, 8) != 0) {
		e->table_ptr = 0; /* unreadable now: try again next time */
		return;
	}
	if (size > TABLE_MAX)
		return; /* kept as is: a function with no line numbers */
	if (size > e->table_cap) {
		uint8_t *t = realloc(e->table, (size_t)size);
		if (!t)
			return;
		e->table = t;
		e->table_cap = (uint32_t)size;
	}
	if (size && gs_pyobj_read(&r->obj, e->table_ptr + (uint64_t)l->bytes_sval.off,
				  e->table, (size_t)size) != 0) {
		e->table_ptr = 0;
		return;
	}
	e->table_len = (uint32_t)size;
	e->have_table = 1;
}

static int line_of(struct code_entry *e, enum gs_linetable_kind kind, int64_t addr)
{
	if (e->memo_addr == addr)
		return e->memo_line;
	int line = e->have_table ? gs_linetable_line(kind, e->table, e->table_len,
						    e->firstlineno, addr) : -1;
	e->memo_addr = addr;
	e->memo_line = line < 0 ? 0 : line;
	return e->memo_line;
}

static const char unknown[] = "?";

/* Phase 2, before the call: the code headers of the walk's d->n frames
 * (one per code object; those guessed right came with the thread state,
 * those trusted are not read) and the head pointers again, compacted
 * into d->liov2 from index base (d->k2 of them). */
static void prepare(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
		    size_t base)
{
	const struct plan *p = &r->p;
	size_t nh = 0, k;

	for (size_t i = 0; i < d->n; i++) {
		struct raw *f = &d->raw[i];
		uint32_t m = hash64(f->code) & (MINI - 1);
		if (d->mini[m].gen == r->gen && d->mini[m].code == f->code) {
			f->hdr = d->mini[m].idx;
			continue;
		}
		f->hdr = nh;
		d->mini[m].gen = r->gen;
		d->mini[m].code = f->code;
		d->mini[m].idx = nh;
		d->hsrc[nh] = HDR_READ;
		if (d->trust && f->code && (d->ent[nh] = trusted_entry(r, f->code))) {
			d->hsrc[nh] = HDR_TRUSTED;
			d->trusted_any = 1;
			d->trust_gen = r->cgen_seen;
			d->ent[nh]->pin = r->pin; /* slot_for keeps off */
		}
		d->liov[nh].iov_base = d->hdrs + nh * (size_t)p->clen;
		d->liov[nh].iov_len = (size_t)p->clen;
		d->riov[nh].iov_base = (void *)(uintptr_t)(f->code + (uint64_t)p->clo);
		d->riov[nh].iov_len = (size_t)p->clen;
		nh++;
	}
	k = nh;
	d->again[0] = d->again[1] = 0;
	d->liov[k].iov_base = &d->again[0];
	d->liov[k].iov_len = 8;
	d->riov[k].iov_base = (void *)(uintptr_t)(tstate + (uint64_t)p->head1);
	d->riov[k].iov_len = 8;
	k++;
	if (p->head2 >= 0 && d->mid) {
		d->liov[k].iov_base = &d->again[1];
		d->liov[k].iov_len = 8;
		d->riov[k].iov_base = (void *)(uintptr_t)(d->mid + (uint64_t)p->head2);
		d->riov[k].iov_len = 8;
		k++;
	}
	for (size_t i = 0; i < nh; i++)
		if (d->riov[i].iov_base == (void *)(uintptr_t)p->clo)
			d->riov[i].iov_base = NULL; /* a NULL code pointer */
	size_t k2 = base;
	for (size_t i = 0; i < k; i++) {
		size_t j = d->nc;
		if (i < nh && d->hsrc[i] == HDR_TRUSTED) {
			d->ok[i] = 1;
			continue;
		}
		if (i < nh)
			for (j = 0; j < d->nc; j++)
				if (d->cok[j] && d->riov[i].iov_base &&
				    d->caddr[j] + (uint64_t)p->clo ==
				    (uint64_t)(uintptr_t)d->riov[i].iov_base)
					break;
		if (j < d->nc) {
			memcpy(d->liov[i].iov_base, d->cbuf + j * (size_t)p->clen,
			       (size_t)p->clen);
			d->ok[i] = 1;
			d->hsrc[i] = HDR_GUESSED;
			continue;
		}
		d->liov2[k2] = d->liov[i];
		d->riov2[k2] = d->riov[i];
		d->map2[k2++] = i;
	}
	d->nh = nh;
	d->k2 = k2 - base;
}

/* The iovec of the code generation's word, which a second call reads
 * first, into *v. */
static void cgen_iovec(const struct gs_pystack_reader *r, struct iovec *l,
		       struct iovec *rem, uint64_t *v)
{
	l->iov_base = v;
	l->iov_len = rem->iov_len = 8;
	rem->iov_base = (void *)(uintptr_t)r->cgen_addr;
}

/* The code generation's word, read first in a second call: kgen says
 * whether it was asked for, ok whether it came.  Returns whether the
 * headers read after it hold under it. */
static int take_cgen(struct gs_pystack_reader *r, size_t kgen, int ok, uint64_t v)
{
	if (!kgen)
		return 0;
	if (!ok) {
		r->cgen_known = 0;
		return 0;
	}
	r->cgen_before = r->cgen_seen;
	r->cgen_seen = v;
	if (r->cgen_known < 2)
		r->cgen_known++;
	return 1;
}

/* Phase 2, after the call (d->ok2 from index base filled): the cache
 * entries and then the frames into s.  Returns 1 when the head moved;
 * d->distrust says when headers went unread under a generation that
 * moved since. */
static int finish(struct gs_pystack_reader *r, struct rd *d, size_t base,
		  int cgen_now, uint64_t cgen, struct gs_pystack *s)
{
	const struct plan *p = &r->p;
	const size_t nh = d->nh;

	for (size_t i = base; i < base + d->k2; i++)
		d->ok[d->map2[i]] = d->ok2[i];
	/* A freed code object's address may hold another by now. */
	d->distrust = d->trusted_any && (!cgen_now || cgen != d->trust_gen);
	int moved = !d->ok[nh] || d->again[0] != d->mid ||
		    (p->head2 >= 0 && d->mid && (!d->ok[nh + 1] || d->again[1] != d->head)) ||
		    (p->head2 < 0 && d->again[0] != d->head);

	for (size_t i = 0; i < nh; i++) {
		const uint8_t *h = d->hdrs + i * (size_t)p->clen;
		uint64_t code = (uint64_t)(uintptr_t)d->riov[i].iov_base - (uint64_t)p->clo;
		struct code_entry *e;
		int hit;

		if (d->hsrc[i] == HDR_TRUSTED) {
			d->ent[i]->used = ++r->clock;
			continue;
		}
		d->ent[i] = NULL;
		if (!d->ok[i] ||
		    gs_pyobj_type(&r->obj, at(h, p->clo, p->c_type)) != GS_PYT_CODE)
			continue;
		e = slot_for(r, code, h, &hit);
		if (!e)
			continue;
		if (!hit) {
			fill(r, e, code, h);
			s->misses++;
			e->cgen_ok = 0;
		}
		/* The headers read in the second call come after the
		 * generation word and hold while it does; one guessed in the
		 * first call was read before it: a hit keeps what it had. */
		if (cgen_now && d->hsrc[i] == HDR_READ &&
		    e->table_ptr == at(h, p->clo, p->c_table)) {
			e->cgen = cgen;
			e->cgen_ok = 1;
		}
		e->pin = r->pin;
		e->used = ++r->clock;
		d->ent[i] = e;
	}

	s->n = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct raw *f = &d->raw[i];
		struct code_entry *e = d->ent[f->hdr];
		struct gs_pyframe *out = &s->frames[s->n];
		int64_t addr;

		if (!e) {
			/* Not a code object (freed, reused, torn): nothing
			 * outside this frame can be trusted either. */
			s->flags |= GS_PYSTACK_PARTIAL;
			break;
		}
		if (p->instr_base < 0)
			addr = (int64_t)f->instr < 0 ? -1 : (int64_t)f->instr * p->lasti_mult;
		else
			addr = (int64_t)(f->instr - (f->code + (uint64_t)p->instr_base));
		/* A frame pushed but not started yet (3.11+): CPython's own
		 * tracebacks skip it too. */
		if (e->traceable != INT64_MIN && f->owner != p->owner_generator &&
		    addr < e->traceable)
			continue;
		out->function = e->func[0] ? e->func : unknown;
		out->file = e->file[0] ? e->file : unknown;
		out->line = line_of(e, p->kind, addr);
		out->first_line = e->firstlineno;
		out->code = f->code;
		out->ident = e->ident;
		out->frame = f->frame;
		out->flags = f->entry ? GS_PYFRAME_ENTRY : 0;
		s->n++;
	}
	return moved;
}

/* A read's trust in cached headers: only the main interpreter's threads,
 * and only while the generation held still over the last two readings. */
static int may_trust(const struct gs_pystack_reader *r, const struct rd *d)
{
	return d->ts_main && r->cgen_known == 2 && r->cgen_seen == r->cgen_before;
}

/* A new read; outside gs_pystack_read_many() it unpins the entries the
 * previous read handed out (their strings are valid until the next
 * read). */
static void next_gen(struct gs_pystack_reader *r)
{
	if (++r->gen == 0)
		r->gen = 1;
	if (r->holding)
		return;
	if (++r->pin == 0)
		r->pin = 1;
	r->noverflow = 0;
}

/* Phase 2 of one read: its second call, which carries the first call of
 * the thread state read after it last time. */
static int resolve(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
		   struct gs_pystack *s)
{
	const size_t kgen = r->cgen_addr && d->ts_main;
	uint64_t cgen = 0;

	if (kgen)
		cgen_iovec(r, &d->liov2[0], &d->riov2[0], &cgen);
	prepare(r, d, tstate, kgen);
	const size_t k2 = kgen + d->k2;
	const struct guess *gu = &r->guess[hash64(tstate) & (GUESSES - 1)];
	uint64_t next = gu->tstate == tstate ? gu->next : 0;
	size_t nf = next ? first_iovecs(r, d, next, d->liov2 + k2, d->riov2 + k2) : 0;
	/* The generation word before the headers it vouches for; the rest
	 * only has to come after the first call. */
	gs_pyobj_gather(&r->obj, d->liov2, d->riov2, k2 + nf, kgen, 0, d->ok2);
	const int cgen_now = take_cgen(r, kgen, kgen && d->ok2[0], cgen);
	if (nf) {
		d->pf_tstate = next;
		d->pf_ns = now_ns();
		d->pf_n = nf;
		d->pf_riov1 = d->riov2[k2 + 1];
		memcpy(d->pf_ok, d->ok2 + k2, nf);
	}
	return finish(r, d, kgen, cgen_now, cgen, s);
}

static size_t capacity(const struct gs_pystack *s)
{
	size_t cap = s->cap < GS_PYSTACK_MAX_DEPTH ? s->cap : GS_PYSTACK_MAX_DEPTH;
	return cap ? cap : 1;
}

int gs_pystack_read(struct gs_pystack_reader *r, uint64_t tstate,
		    struct gs_pystack *s)
{
	unsigned long reads0 = r->obj.reads;
	struct rd *d = &r->one;
	size_t cap = capacity(s);

	s->n = 0;
	s->flags = 0;
	s->misses = 0;
	if (reserve(r, d, cap) != 0) {
		errno = ENOMEM;
		return -1;
	}
	if (r->prev_tstate && r->prev_tstate != tstate) {
		struct guess *gu = &r->guess[hash64(r->prev_tstate) & (GUESSES - 1)];
		if (gu->tstate == r->prev_tstate)
			gu->next = tstate;
	}
	r->prev_tstate = tstate;
	int trust = 1;
	for (unsigned attempt = 0;; attempt++) {
		next_gen(r);
		d->nwin = 0;
		s->flags = 0;
		if (read_head(r, d, tstate, &d->mid, &d->head) != 0)
			return -1;
		d->n = walk(r, d, d->head, cap, &s->flags);
		d->trust = trust && may_trust(r, d);
		d->trusted_any = 0;
		int moved = resolve(r, d, tstate, s);
		remember(r, d, tstate, d->nh);
		if (d->distrust) {
			/* Not the stack moving: read it again, every header. */
			trust = 0;
			attempt--;
			continue;
		}
		if (!moved)
			break;
		if (attempt >= r->retries) {
			s->flags |= GS_PYSTACK_TORN;
			break;
		}
	}
	s->reads = (unsigned)(r->obj.reads - reads0);
	return 0;
}

/* Room for a batch's calls: n iovecs. */
static int batch_room(struct gs_pystack_reader *r, size_t n)
{
	void *a, *b, *c;
	if (n <= r->bcap)
		return 0;
	if (!(a = realloc(r->bl, n * sizeof *r->bl)))
		return -1;
	r->bl = a;
	if (!(b = realloc(r->br, n * sizeof *r->br)))
		return -1;
	r->br = b;
	if (!(c = realloc(r->bok, n)))
		return -1;
	r->bok = c;
	r->bcap = n;
	return 0;
}

/* The end of a batch's read of thread state i, its second call's words
 * in place: whether it must be read again alone. */
static int batch_done(struct gs_pystack_reader *r, struct rd *d, uint64_t tstate,
		      int cgen_now, uint64_t cgen, struct gs_pystack *s)
{
	/* Only the main interpreter's frees move its count. */
	int moved = finish(r, d, 0, cgen_now && d->ts_main, cgen, s);
	remember(r, d, tstate, d->nh);
	return moved || d->distrust;
}

/* Up to BATCH thread states: every first call in one process_vm_readv,
 * the walks, every second call in another.  The first call ends, after
 * everything else it reads, with each thread's head pointer again and
 * the code generation: a thread whose walk found all it needed in that
 * call (its frames in the guessed chunk and frames, its code headers
 * guessed or trusted) is done there, its head re-read and the
 * generation vouching for it as a second call would.  A read the batch
 * could not finish (its head moved, its headers went unread under a
 * generation that moved, its thread state could not be read) is made
 * again alone. */
static void read_batch(struct gs_pystack_reader *r, const uint64_t *ts, size_t n,
		       struct gs_pystack *s, int *rc)
{
	const struct plan *p = &r->p;
	size_t off = 0, first[BATCH], nfirst[BATCH], tail[BATCH];
	unsigned long reads0 = r->obj.reads;
	int again[BATCH], late[BATCH], any_main = 0;
	uint64_t heads[BATCH], cgen1 = 0;

	next_gen(r);
	for (size_t i = 0; i < n; i++) {
		struct rd *d = &r->batch[i];
		s[i].n = 0;
		s[i].flags = 0;
		s[i].misses = 0;
		s[i].reads = 0;
		again[i] = 1;
		first[i] = off;
		nfirst[i] = 0;
		d->pf_tstate = 0;
		if ((!d->xbuf && rd_init(r, d) != 0) || reserve(r, d, capacity(&s[i])) != 0 ||
		    batch_room(r, off + FIRST_IOV + n + 1) != 0)
			continue;
		nfirst[i] = first_iovecs(r, d, ts[i], r->bl + off, r->br + off);
		d->pf_riov1 = r->br[off + 1];
		off += nfirst[i];
	}
	/* The tail: heads again (where one word leads to the frame), then
	 * the generation. */
	const size_t body = off;
	for (size_t i = 0; i < n; i++) {
		tail[i] = SIZE_MAX;
		if (!nfirst[i] || p->head2 >= 0)
			continue;
		tail[i] = off;
		r->bl[off].iov_base = &heads[i];
		r->bl[off].iov_len = r->br[off].iov_len = 8;
		r->br[off++].iov_base = (void *)(uintptr_t)(ts[i] + (uint64_t)p->head1);
	}
	const size_t kgen1 = off > body && r->cgen_addr ? off : SIZE_MAX;
	if (kgen1 != SIZE_MAX) {
		cgen_iovec(r, &r->bl[off], &r->br[off], &cgen1);
		off++;
	}
	gs_pyobj_gather(&r->obj, r->bl, r->br, off, 0, off - body, r->bok);
	const int cgen1_ok = kgen1 != SIZE_MAX && r->bok[kgen1];
	for (size_t i = 0; i < n; i++) {
		struct rd *d = &r->batch[i];
		late[i] = 1;
		if (!nfirst[i])
			continue;
		d->pf_tstate = ts[i];
		d->pf_batch = 1;
		d->pf_n = nfirst[i];
		memcpy(d->pf_ok, r->bok + first[i], nfirst[i]);
		d->nwin = 0;
		unsigned long before = r->obj.reads;
		if (read_head(r, d, ts[i], &d->mid, &d->head) != 0) {
			nfirst[i] = 0;
			continue;
		}
		d->n = walk(r, d, d->head, capacity(&s[i]), &s[i].flags);
		d->trust = may_trust(r, d);
		d->trusted_any = 0;
		prepare(r, d, ts[i], 0);
		/* Done in the first call: nothing read since, and nothing
		 * left to read but the head, which the tail has (prepare()
		 * always leaves the head to read: k2 of 1 is the head alone). */
		late[i] = r->obj.reads != before || tail[i] == SIZE_MAX || !r->bok[tail[i]] ||
			  d->k2 != 1 || (d->trusted_any && !cgen1_ok);
		any_main |= late[i] && d->ts_main;
	}
	if (cgen1_ok)
		take_cgen(r, 1, 1, cgen1);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct rd *d = &r->batch[i];
		if (!nfirst[i])
			continue;
		if (late[i]) {
			total += d->k2;
			continue;
		}
		d->again[0] = heads[i];
		d->ok2[0] = 1;
		again[i] = batch_done(r, d, ts[i], cgen1_ok, cgen1, &s[i]);
	}
	const size_t kgen = r->cgen_addr && any_main;
	uint64_t cgen = 0;
	total += kgen;
	if (total > kgen && batch_room(r, total) == 0) {
		if (kgen)
			cgen_iovec(r, &r->bl[0], &r->br[0], &cgen);
		off = kgen;
		for (size_t i = 0; i < n; i++) {
			struct rd *d = &r->batch[i];
			if (!nfirst[i] || !late[i])
				continue;
			first[i] = off;
			memcpy(r->bl + off, d->liov2, d->k2 * sizeof *r->bl);
			memcpy(r->br + off, d->riov2, d->k2 * sizeof *r->br);
			off += d->k2;
		}
		gs_pyobj_gather(&r->obj, r->bl, r->br, total, kgen, 0, r->bok);
		const int cgen_now = take_cgen(r, kgen, kgen && r->bok[0], cgen);
		for (size_t i = 0; i < n; i++) {
			struct rd *d = &r->batch[i];
			if (!nfirst[i] || !late[i])
				continue;
			memcpy(d->ok2, r->bok + first[i], d->k2);
			again[i] = batch_done(r, d, ts[i], cgen_now, cgen, &s[i]);
		}
	}
	/* What the batch cost, on its first stack; a stack read again
	 * alone counts its own. */
	unsigned long cost = r->obj.reads - reads0;
	for (size_t i = 0; i < n; i++) {
		if (again[i]) {
			rc[i] = gs_pystack_read(r, ts[i], &s[i]);
			continue;
		}
		rc[i] = 0;
		s[i].reads = (unsigned)cost;
		cost = 0;
	}
}

int gs_pystack_read_many(struct gs_pystack_reader *r, const uint64_t *tstates,
			 size_t n, struct gs_pystack *s, int *rc)
{
	if (!r->batch && !(r->batch = calloc(BATCH, sizeof *r->batch))) {
		errno = ENOMEM;
		return -1;
	}
	/* Every stack's strings stay valid until the next call. */
	next_gen(r);
	r->holding = 1;
	for (size_t i = 0; i < n; i += BATCH)
		read_batch(r, tstates + i, n - i < BATCH ? n - i : BATCH, s + i, rc + i);
	r->holding = 0;
	return 0;
}

int gs_pyframe_format(const struct gs_pyframe *f, char *buf, size_t n)
{
	if (f->line > 0)
		return snprintf(buf, n, "%s (%s:%d)", f->function, f->file, f->line);
	return snprintf(buf, n, "%s (%s)", f->function, f->file);
}
