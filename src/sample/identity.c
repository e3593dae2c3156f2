/* Thread identity: whether the thread state last_holder names is still
 * the thread the last scan bound it to.  Its identity words (thread_id,
 * native_thread_id, and before 3.11 the kernel tid in glibc's struct
 * pthread) ride along in the sample's batched read; a mismatch makes the
 * role unknown and asks for a rescan, so a freed and reused thread state
 * never makes the wrong thread the holder. */
#include "sample/sampler_int.h"

void sam_id_span_init(struct gs_sampler *s)
{
	const struct gs_layout *l = &s->t->layout;
	const struct gs_field *f[] = { &l->ts_thread_id, &l->ts_native_thread_id,
				       &l->ts_holds_gil, &l->ts_gil_requested };
	int64_t lo = -1, hi = 0;
	for (size_t i = 0; i < 4; i++) {
		if (f[i]->off < 0)
			continue;
		int64_t size = f[i]->size > 0 ? f[i]->size : 8;
		int64_t nlo = lo < 0 || f[i]->off < lo ? f[i]->off : lo;
		int64_t nhi = f[i]->off + size > hi ? f[i]->off + size : hi;
		/* The flags only ride along when they are close by. */
		if (i >= 2 && nhi - nlo > ID_SPAN_MAX)
			continue;
		lo = nlo;
		hi = nhi;
	}
	if (lo < 0 || hi - lo > ID_SPAN_MAX)
		lo = hi = 0;
	s->id_lo = lo;
	s->id_hi = hi;
}

static uint64_t id_field(const struct gs_sampler *s, const unsigned char *buf,
			 struct gs_field f)
{
	uint64_t v = 0;
	memcpy(&v, buf + (f.off - s->id_lo), f.size > 0 && f.size <= 8 ? (size_t)f.size : 8);
	return v;
}

static int flag_of(const struct gs_sampler *s, const unsigned char *buf,
		   struct gs_field f, uint64_t mask)
{
	if (!sam_in_id_span(s, f))
		return -1;
	uint64_t v = id_field(s, buf, f);
	return mask ? (v & mask) != 0 : v != 0;
}

struct tracked *sam_by_tstate(struct gs_sampler *s, size_t gil, uint64_t tstate)
{
	if (!tstate)
		return NULL;
	for (size_t i = 0; i < s->nth; i++)
		if (s->th[i].tstate == tstate && s->th[i].gil == gil)
			return &s->th[i];
	return NULL;
}

/* Add the iovecs that check th's identity; returns how many (0-2). */
size_t sam_add_id_iov(struct gs_sampler *s, struct iovec *l, struct iovec *r,
		      const struct tracked *th, unsigned char *buf, int32_t *ptid)
{
	size_t n = 0;
	if (s->id_hi > s->id_lo) {
		l[n] = (struct iovec){ buf, (size_t)(s->id_hi - s->id_lo) };
		r[n] = (struct iovec){ (void *)(uintptr_t)(th->tstate + (uint64_t)s->id_lo),
				       (size_t)(s->id_hi - s->id_lo) };
		n++;
	}
	/* Before 3.11 thread_id is a pthread_t, and glibc reuses a finished
	 * thread's stack (and so its pthread_t) for the next one: the tid
	 * inside struct pthread tells them apart. */
	if (s->t->layout.ts_native_thread_id.off < 0 && s->t->pthread_tid_off >= 0 &&
	    th->thread_id) {
		l[n] = (struct iovec){ ptid, 4 };
		r[n] = (struct iovec){ (void *)(uintptr_t)(th->thread_id +
							   (uint64_t)s->t->pthread_tid_off), 4 };
		n++;
	}
	return n;
}

/* Compare what sam_add_id_iov read with th's binding; sets the flags. */
void sam_check_id(struct gs_sampler *s, struct tracked *th, const unsigned char *buf,
		  int32_t ptid, int read_ok)
{
	const struct gs_layout *l = &s->t->layout;
	int ok = read_ok;
	if (ok && sam_in_id_span(s, l->ts_thread_id) &&
	    id_field(s, buf, l->ts_thread_id) != th->thread_id)
		ok = 0;
	if (ok && sam_in_id_span(s, l->ts_native_thread_id) &&
	    id_field(s, buf, l->ts_native_thread_id) != th->native_id)
		ok = 0;
	if (ok && l->ts_native_thread_id.off < 0 && s->t->pthread_tid_off >= 0 &&
	    th->thread_id && ptid != th->tid)
		ok = 0;
	th->verified = ok;
	th->mismatch = !ok;
	if (!ok)
		s->need_rescan = 1;
	if (ok) {
		th->holds_gil = flag_of(s, buf, l->ts_holds_gil, l->holds_gil_mask);
		th->gil_requested = flag_of(s, buf, l->ts_gil_requested, 0);
	}
}
