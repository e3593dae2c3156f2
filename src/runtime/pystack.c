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
 * name until the count next moves. */
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
	uint32_t gen;             /* last read that used it: pinned then */
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

struct gs_pystack_reader {
	const struct gs_target *t;
	struct gs_pyobj obj;
	struct plan p;
	struct code_entry *slots; /* SLOTS + OVERFLOW */
	size_t noverflow;
	uint32_t gen, clock;
	uint64_t fills;
	unsigned retries;
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
	/* The thread states of a sample are read one after the other in
	 * the same order: a read's last call carries the first call of the
	 * thread state read after it last time. */
	uint8_t tsb[512];         /* the thread state's words */
	uint64_t prev_tstate, pf_tstate;
	uint64_t pf_ns;
	unsigned char pf_ok[FIRST_IOV];
	size_t pf_n;
	struct iovec pf_riov1;    /* the guessed chunk read */
	/* The code generation (3.14+; cgen_addr 0 when none): its last two
	 * readings, and whether this read may use cached headers. */
	uint64_t cgen_addr, main_interp;
	uint64_t cgen_seen, cgen_before;
	int cgen_known;           /* readings taken: 0, 1 or 2 */
	int trust;                /* this read may skip headers */
	int trusted_any;          /* it did */
	int distrust;             /* and the generation moved: read again */
	int ts_main;              /* the thread state is the main interp's */
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
	if (p->chunk < 0 || hi - lo > (int64_t)sizeof r->tsb)
		return;
	r->ts_lo = lo;
	r->ts_hi = hi;
	if (l->interp_code_generation.off == GS_NOFF || !r->t->main_interp ||
	    l->ts_interp.off == GS_NOFF)
		return;
	lo = l->ts_interp.off < lo ? l->ts_interp.off : lo;
	hi = l->ts_interp.off + 8 > hi ? l->ts_interp.off + 8 : hi;
	if (hi - lo > (int64_t)sizeof r->tsb)
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
	if (!r || !(r->slots = calloc(SLOTS + OVERFLOW, sizeof *r->slots))) {
		free(r);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	if (make_plan(&t->layout, &r->p) != 0) {
		free(r->slots);
		free(r);
		return gs_fail(GS_EUNSUPPORTED, "the layout of Python %s gives "
			       "implausible frame offsets", t->ver.str);
	}
	if (!(r->xbuf = malloc(XFRAMES * (size_t)r->p.len)) ||
	    !(r->cbuf = malloc(XCODES * (size_t)r->p.clen))) {
		gs_pystack_close(r);
		return gs_fail(GS_EFAIL, "out of memory");
	}
	if (r->p.chunk >= 0) {
		for (int i = 0; i < WINDOWS; i++)
			if (!(r->win[i].buf = malloc(WINDOW_MAX))) {
				gs_pystack_close(r);
				return gs_fail(GS_EFAIL, "out of memory");
			}
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

void gs_pystack_close(struct gs_pystack_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < SLOTS + OVERFLOW; i++)
		free(r->slots[i].table);
	free(r->slots);
	for (int i = 0; i < WINDOWS; i++)
		free(r->win[i].buf);
	free(r->raw);
	free(r->liov);
	free(r->riov);
	free(r->ok);
	free(r->hsrc);
	free(r->hdrs);
	free(r->ent);
	free(r->xbuf);
	free(r->cbuf);
	free(r->liov2);
	free(r->riov2);
	free(r->ok2);
	free(r->map2);
	free(r);
}

/* Work arrays for n frames plus the head re-reads; grown, never shrunk,
 * so a steady state of one capacity allocates nothing. */
static int reserve(struct gs_pystack_reader *r, size_t n)
{
	size_t k = n + 2;
	void *p;

	if (n <= r->cap)
		return 0;
#define GROW(field, size) \
	do { if (!(p = realloc(r->field, (size)))) return -1; r->field = p; } while (0)
	GROW(raw, n * sizeof *r->raw);
	GROW(liov, k * sizeof *r->liov);
	GROW(riov, k * sizeof *r->riov);
	GROW(ok, k);
	GROW(hsrc, k);
	GROW(hdrs, k * (size_t)r->p.clen + 16);
	GROW(ent, n * sizeof *r->ent);
	GROW(liov2, (k + 1 + FIRST_IOV) * sizeof *r->liov2);
	GROW(riov2, (k + 1 + FIRST_IOV) * sizeof *r->riov2);
	GROW(ok2, k + 1 + FIRST_IOV);
	GROW(map2, k * sizeof *r->map2);
#undef GROW
	r->cap = n;
	return 0;
}

/* The iovecs of a thread's first call: its thread state (ts_span()),
 * then what its last read needed.  Returns how many, 0 when the thread
 * state's words are not close enough to read as one. */
static size_t first_iovecs(struct gs_pystack_reader *r, uint64_t tstate,
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

	liov[0].iov_base = r->tsb;
	liov[0].iov_len = riov[0].iov_len = (size_t)(hi - lo);
	riov[0].iov_base = (void *)(uintptr_t)(tstate + (uint64_t)lo);
	/* Everything guessed is read after the thread state, in the same
	 * call, in the order separate reads would take. */
	liov[1].iov_base = riov[1].iov_base = NULL;
	liov[1].iov_len = riov[1].iov_len = 0;
	if (gc && p->head2 < 0 && r->win[0].buf) {
		liov[1].iov_base = r->win[0].buf;
		liov[1].iov_len = riov[1].iov_len = (size_t)gu->len;
		riov[1].iov_base = (void *)(uintptr_t)gc;
	}
	r->nx = mine ? gu->nframe : 0;
	for (size_t i = 0; i < r->nx; i++, niov++) {
		r->xaddr[i] = gu->frame[i];
		liov[niov].iov_base = r->xbuf + i * (size_t)p->len;
		liov[niov].iov_len = riov[niov].iov_len = (size_t)p->len;
		riov[niov].iov_base = (void *)(uintptr_t)gu->frame[i];
	}
	r->nc = mine ? gu->ncode : 0;
	for (size_t i = 0; i < r->nc; i++, niov++) {
		r->caddr[i] = gu->code[i];
		liov[niov].iov_base = r->cbuf + i * (size_t)p->clen;
		liov[niov].iov_len = riov[niov].iov_len = (size_t)p->clen;
		riov[niov].iov_base = (void *)(uintptr_t)(gu->code[i] + (uint64_t)p->clo);
	}
	return niov;
}

/* The head pointer, and the data-stack chunk in the same read when the
 * two words are close (ts_span()), with the guesses; taken from the last
 * read's call when that read this thread's first call too, a moment
 * ago. */
static int read_head(struct gs_pystack_reader *r, uint64_t tstate, uint64_t *mid,
		     uint64_t *head)
{
	const struct plan *p = &r->p;
	uint64_t v;
	struct iovec liov[FIRST_IOV], riov[FIRST_IOV];
	unsigned char ok[FIRST_IOV] = { 0 };
	size_t niov;
	const int ahead = r->pf_tstate == tstate && now_ns() - r->pf_ns <= AHEAD_NS;

	r->pf_tstate = 0;
	r->next_chunk = 0;
	r->nalone = 0;
	r->head_chunk = 0;
	r->head_len = 0;
	r->guess_failed = 0;
	r->ts_main = 0;
	if (ahead) {
		memcpy(ok, r->pf_ok, sizeof ok);
		niov = r->pf_n;
	} else if ((niov = first_iovecs(r, tstate, liov, riov)) != 0) {
		/* Checked as a whole by the head re-read after it. */
		gs_pyobj_gather(&r->obj, liov, riov, niov, 0, ok);
		r->pf_riov1 = riov[1];
	} else {
		r->nx = r->nc = 0;
	}
	if (niov) {
		const int64_t lo = r->ts_lo;
		uint64_t gc = (uint64_t)(uintptr_t)r->pf_riov1.iov_base;
		size_t glen = r->pf_riov1.iov_len;

		if (!ok[0])
			return -1;
		for (size_t i = 0; i < r->nx; i++)
			r->xok[i] = ok[2 + i];
		for (size_t i = 0; i < r->nc; i++)
			r->cok[i] = ok[2 + r->nx + i];
		if (!glen)
			ok[1] = 0;
		memcpy(&v, r->tsb + (p->head1 - lo), 8);
		memcpy(&r->next_chunk, r->tsb + (p->chunk - lo), 8);
		r->head_chunk = r->next_chunk;
		if (r->main_interp) {
			uint64_t interp;
			memcpy(&interp, r->tsb + (r->t->layout.ts_interp.off - lo), 8);
			r->ts_main = interp == r->main_interp;
		}
		r->guess_failed = glen && !ok[1];
		uint64_t flo = v + (uint64_t)p->lo, fhi = flo + (uint64_t)p->len;
		if (ok[1] && gc == r->next_chunk && v && flo >= gc &&
		    fhi - gc <= glen &&
		    (uint64_t)p->chunk_previous + 8 <= fhi - gc) {
			r->win[0].lo = gc;
			r->win[0].hi = gc + glen;
			r->nwin = 1;
			r->head_len = fhi - gc;
			memcpy(&r->next_chunk, r->win[0].buf + p->chunk_previous, 8);
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
static const uint8_t *frame_bytes(struct gs_pystack_reader *r, uint64_t addr,
				  uint8_t *buf)
{
	const struct plan *p = &r->p;
	uint64_t lo = addr + (uint64_t)p->lo, hi = lo + (uint64_t)p->len;
	uint64_t c = r->next_chunk;

	for (size_t i = 0; i < r->nwin; i++)
		if (lo >= r->win[i].lo && hi <= r->win[i].hi)
			return r->win[i].buf + (lo - r->win[i].lo);
	if (c && r->nwin < WINDOWS && lo >= c && hi - c <= WINDOW_MAX &&
	    (uint64_t)p->chunk_previous + 8 <= hi - c) {
		size_t i = r->nwin;
		if (gs_pyobj_read(&r->obj, c, r->win[i].buf, (size_t)(hi - c)) == 0) {
			if (c == r->head_chunk && !r->head_len)
				r->head_len = hi - c;
			r->win[i].lo = c;
			r->win[i].hi = hi;
			r->nwin++;
			memcpy(&r->next_chunk, r->win[i].buf + p->chunk_previous, 8);
			return r->win[i].buf + (lo - c);
		}
		r->next_chunk = 0;
	}
	if (r->nalone < XFRAMES)
		r->alone[r->nalone++] = lo;
	for (size_t i = 0; i < r->nx; i++)
		if (r->xaddr[i] == lo && r->xok[i])
			return r->xbuf + i * (size_t)p->len;
	if (gs_pyobj_read(&r->obj, lo, buf, (size_t)p->len) != 0)
		return NULL;
	return buf;
}

/* What the next read of this thread copies with its thread state: the
 * nh code headers this read asked for are in riov, hsrc says which it
 * took from the cache unread. */
static void remember(struct gs_pystack_reader *r, uint64_t tstate, size_t nh)
{
	struct guess *gu = &r->guess[hash64(tstate) & (GUESSES - 1)];
	uint64_t len = r->head_len + (r->guess_failed ? 0 : GUESS_SLACK);

	gu->tstate = tstate;
	gu->chunk = r->head_len ? r->head_chunk : 0;
	gu->len = len < WINDOW_MAX ? len : WINDOW_MAX;
	gu->nframe = (uint32_t)r->nalone;
	memcpy(gu->frame, r->alone, r->nalone * sizeof *r->alone);
	gu->ncode = 0;
	for (size_t i = 0; i < nh && gu->ncode < XCODES; i++)
		if (r->riov[i].iov_base && r->hsrc[i] != HDR_TRUSTED)
			gu->code[gu->ncode++] = (uint64_t)(uintptr_t)r->riov[i].iov_base -
						(uint64_t)r->p.clo;
}

/* Phase 1: the chain from head, one read per frame. */
static size_t walk(struct gs_pystack_reader *r, uint64_t head, size_t cap,
		   unsigned *flags)
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
		const uint8_t *fb = frame_bytes(r, addr, buf);
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
				r->raw[pending].entry = 1;
			pending = -1;
			addr = next;
			continue;
		}
		if (n == cap) {
			*flags |= GS_PYSTACK_TRUNCATED;
			break;
		}
		f = &r->raw[n];
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
		e = &r->slots[(base + i) & (SLOTS - 1)];
		if (e->addr == code) {
			if (e->name_ptr == name && e->file_ptr == file &&
			    e->table_ptr == table && e->firstlineno == first) {
				*hit = 1;
				return e;
			}
			if (e->gen != r->gen)
				return e; /* same object, changed: refill in place */
		}
		if (e->gen == r->gen && e->addr)
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
		struct code_entry *e = &r->slots[(base + i) & (SLOTS - 1)];
		if (e->addr == code)
			return e->cgen_ok && e->cgen == r->cgen_seen ? e : NULL;
	}
	return NULL;
}

static void fill(struct gs_pystack_reader *r, struct code_entry *e, uint64_t code,
		 const uint8_t *h)
{
	const struct plan *p = &r->p;
	const struct gs_layout *l = &r->t->layout;
	uint64_t size;

	e->addr = code;
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

/* Phase 2: the code headers of the n frames and the head pointers, in
 * one batch; then the frames themselves.  Returns 1 when the head moved. */
static int resolve(struct gs_pystack_reader *r, uint64_t tstate, uint64_t mid,
		   uint64_t head, size_t n, struct gs_pystack *s, size_t *nhp)
{
	const struct plan *p = &r->p;
	size_t nh = 0, k;
	uint64_t again[2] = { 0, 0 };
	int moved;

	for (size_t i = 0; i < n; i++) {
		struct raw *f = &r->raw[i];
		uint32_t m = hash64(f->code) & (MINI - 1);
		if (r->mini[m].gen == r->gen && r->mini[m].code == f->code) {
			f->hdr = r->mini[m].idx;
			continue;
		}
		f->hdr = nh;
		r->mini[m].gen = r->gen;
		r->mini[m].code = f->code;
		r->mini[m].idx = nh;
		r->hsrc[nh] = HDR_READ;
		if (r->trust && f->code && (r->ent[nh] = trusted_entry(r, f->code))) {
			r->hsrc[nh] = HDR_TRUSTED;
			r->trusted_any = 1;
			r->ent[nh]->gen = r->gen; /* pinned: slot_for keeps off */
		}
		r->liov[nh].iov_base = r->hdrs + nh * (size_t)p->clen;
		r->liov[nh].iov_len = (size_t)p->clen;
		r->riov[nh].iov_base = (void *)(uintptr_t)(f->code + (uint64_t)p->clo);
		r->riov[nh].iov_len = (size_t)p->clen;
		nh++;
	}
	k = nh;
	r->liov[k].iov_base = &again[0];
	r->liov[k].iov_len = 8;
	r->riov[k].iov_base = (void *)(uintptr_t)(tstate + (uint64_t)p->head1);
	r->riov[k].iov_len = 8;
	k++;
	if (p->head2 >= 0 && mid) {
		r->liov[k].iov_base = &again[1];
		r->liov[k].iov_len = 8;
		r->riov[k].iov_base = (void *)(uintptr_t)(mid + (uint64_t)p->head2);
		r->riov[k].iov_len = 8;
		k++;
	}
	for (size_t i = 0; i < nh; i++)
		if (r->riov[i].iov_base == (void *)(uintptr_t)p->clo)
			r->riov[i].iov_base = NULL; /* a NULL code pointer */
	/* Headers guessed right were read with the thread state, trusted
	 * ones are not read; the code generation first, the rest and the
	 * heads again, in one call. */
	size_t k2 = 0;
	uint64_t cgen = 0;
	if (r->cgen_addr && r->ts_main) {
		r->liov2[0].iov_base = &cgen;
		r->liov2[0].iov_len = r->riov2[0].iov_len = 8;
		r->riov2[0].iov_base = (void *)(uintptr_t)r->cgen_addr;
		r->map2[0] = SIZE_MAX;
		k2 = 1;
	}
	const size_t kgen = k2;
	for (size_t i = 0; i < k; i++) {
		size_t j = r->nc;
		if (i < nh && r->hsrc[i] == HDR_TRUSTED) {
			r->ok[i] = 1;
			continue;
		}
		if (i < nh)
			for (j = 0; j < r->nc; j++)
				if (r->cok[j] && r->riov[i].iov_base &&
				    r->caddr[j] + (uint64_t)p->clo ==
				    (uint64_t)(uintptr_t)r->riov[i].iov_base)
					break;
		if (j < r->nc) {
			memcpy(r->liov[i].iov_base, r->cbuf + j * (size_t)p->clen,
			       (size_t)p->clen);
			r->ok[i] = 1;
			r->hsrc[i] = HDR_GUESSED;
			continue;
		}
		r->liov2[k2] = r->liov[i];
		r->riov2[k2] = r->riov[i];
		r->map2[k2++] = i;
	}
	/* The next thread's first call, after this one's re-read. */
	const struct guess *gu = &r->guess[hash64(tstate) & (GUESSES - 1)];
	uint64_t next = gu->tstate == tstate ? gu->next : 0;
	size_t nf = next ? first_iovecs(r, next, r->liov2 + k2, r->riov2 + k2) : 0;
	/* The generation word before the headers it vouches for; the rest
	 * only has to come after the first call. */
	gs_pyobj_gather(&r->obj, r->liov2, r->riov2, k2 + nf, kgen, r->ok2);
	for (size_t i = kgen; i < k2; i++)
		r->ok[r->map2[i]] = r->ok2[i];
	/* The headers read in this call come after the generation word:
	 * they hold while it does. */
	const int cgen_now = kgen && r->ok2[0];
	if (cgen_now) {
		r->cgen_before = r->cgen_seen;
		r->cgen_seen = cgen;
		if (r->cgen_known < 2)
			r->cgen_known++;
	} else if (kgen) {
		r->cgen_known = 0;
	}
	/* Headers went unread under a generation that has moved since: a
	 * freed code object's address may hold another. */
	r->distrust = r->trusted_any && (!cgen_now || cgen != r->cgen_before);
	if (nf) {
		r->pf_tstate = next;
		r->pf_ns = now_ns();
		r->pf_n = nf;
		r->pf_riov1 = r->riov2[k2 + 1];
		memcpy(r->pf_ok, r->ok2 + k2, nf);
	}
	moved = !r->ok[nh] || again[0] != mid ||
		(p->head2 >= 0 && mid && (!r->ok[nh + 1] || again[1] != head)) ||
		(p->head2 < 0 && again[0] != head);

	for (size_t i = 0; i < nh; i++) {
		const uint8_t *h = r->hdrs + i * (size_t)p->clen;
		uint64_t code = (uint64_t)(uintptr_t)r->riov[i].iov_base - (uint64_t)p->clo;
		struct code_entry *e;
		int hit;

		if (r->hsrc[i] == HDR_TRUSTED) {
			r->ent[i]->used = ++r->clock;
			continue;
		}
		r->ent[i] = NULL;
		if (!r->ok[i] ||
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
		/* A header guessed in the first call was read before the
		 * generation word: a hit keeps what the entry had. */
		if (cgen_now && r->hsrc[i] == HDR_READ &&
		    e->table_ptr == at(h, p->clo, p->c_table)) {
			e->cgen = cgen;
			e->cgen_ok = 1;
		}
		e->gen = r->gen;
		e->used = ++r->clock;
		r->ent[i] = e;
	}

	s->n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct raw *f = &r->raw[i];
		struct code_entry *e = r->ent[f->hdr];
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
	*nhp = nh;
	return moved;
}

int gs_pystack_read(struct gs_pystack_reader *r, uint64_t tstate,
		    struct gs_pystack *s)
{
	unsigned long reads0 = r->obj.reads;
	size_t cap = s->cap < GS_PYSTACK_MAX_DEPTH ? s->cap : GS_PYSTACK_MAX_DEPTH;

	s->n = 0;
	s->flags = 0;
	s->misses = 0;
	if (reserve(r, cap ? cap : 1) != 0) {
		errno = ENOMEM;
		return -1;
	}
	if (r->prev_tstate && r->prev_tstate != tstate) {
		struct guess *gu = &r->guess[hash64(r->prev_tstate) & (GUESSES - 1)];
		if (gu->tstate == r->prev_tstate)
			gu->next = tstate;
	}
	r->prev_tstate = tstate;
	int may_trust = 1;
	for (unsigned attempt = 0;; attempt++) {
		uint64_t mid, head;
		size_t n;

		/* A new generation unpins the previous read's entries. */
		if (++r->gen == 0)
			r->gen = 1;
		r->noverflow = 0;
		r->nwin = 0;
		s->flags = 0;
		if (read_head(r, tstate, &mid, &head) != 0)
			return -1;
		n = walk(r, head, cap, &s->flags);
		size_t nh;
		r->trust = may_trust && r->ts_main && r->cgen_known == 2 &&
			   r->cgen_seen == r->cgen_before;
		r->trusted_any = 0;
		int moved = resolve(r, tstate, mid, head, n, s, &nh);
		remember(r, tstate, nh);
		if (r->distrust) {
			/* Not the stack moving: read it again, every header. */
			may_trust = 0;
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

int gs_pyframe_format(const struct gs_pyframe *f, char *buf, size_t n)
{
	if (f->line > 0)
		return snprintf(buf, n, "%s (%s:%d)", f->function, f->file, f->line);
	return snprintf(buf, n, "%s (%s)", f->function, f->file);
}
