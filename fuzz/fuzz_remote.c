/* libFuzzer harness: the remote-structure readers (include/threads.h,
 * include/classify.h) walking a fake target's memory.  The input format
 * is in fuzz_remote.h; gen_seeds.c writes well-formed images for every
 * version, with one and two interpreters, pthread structs and cycles.
 *
 * The promises checked: the walks end (bounded by GS_MAX_INTERPS and
 * GS_MAX_THREADS, with a bounded number of reads), a snapshot either
 * fails with errno set or is self-consistent, and the classifier returns
 * a role for whatever the words say. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sample/classify.h"
#include "fuzz.h"
#include "fuzz_remote.h"
#include "core/errors.h"
#include "layout/layout.h"
#include "runtime/target.h"
#include "runtime/threads.h"

static struct gs_layout layouts[16];
static int have_layout[16];

static void init_layouts(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	for (int minor = 6; minor <= 15; minor++)
		have_layout[minor] = fuzz_layout_for(minor, &layouts[minor]) == 0;
}

/* Apply one 4-byte edit; keep it only if the layout stays one that a
 * layout source could return. */
static void edit_layout(struct gs_layout *l, int minor, const uint8_t *e)
{
	const struct gs_layout_field *f = &gs_layout_fields[e[0] % gs_layout_nfields];
	struct gs_layout x = *l;
	uint16_t v = (uint16_t)(e[1] | e[2] << 8);
	char why[256];

	switch (f->kind) {
	case GS_LF_FIELD: {
		struct gs_field *g = (struct gs_field *)((char *)&x + f->offset);
		g->off = v == 0xffff ? GS_NOFF : v;
		g->size = v == 0xffff ? 0 : e[3];
		break;
	}
	case GS_LF_I64:
		*(int64_t *)((char *)&x + f->offset) = v;
		break;
	case GS_LF_U64:
		*(uint64_t *)((char *)&x + f->offset) = (uint64_t)v << (e[3] % 64);
		break;
	}
	if (gs_layout_check(&x, why, sizeof why) == 0 &&
	    !gs_layout_missing(&x, 3, minor))
		*l = x;
}

static uint64_t futex_addr(const struct gs_gil_addrs *g, int kind, int delta)
{
	switch (kind) {
	case REM_FUTEX_COND: return g->cond + (uint64_t)delta;
	case REM_FUTEX_MUTEX: return g->mutex + (uint64_t)delta;
	case REM_FUTEX_SWITCH_COND: return g->switch_cond + (uint64_t)delta;
	case REM_FUTEX_SWITCH_MUTEX: return g->switch_mutex + (uint64_t)delta;
	case REM_FUTEX_ELSEWHERE: return 0x7fff00001000ull + (uint64_t)delta;
	}
	return 0;
}

static void classify_all(const struct gs_target *t, const struct gs_snapshot *s,
			 const struct gs_gil_addrs *gil, const uint8_t *hdr)
{
	struct gs_gil_words w = { 0, 0, 0 };
	int32_t locked;
	uint64_t u;

	if (gil->locked && gs_mem_read_i32(&t->mem, gil->locked, &locked) == 0)
		w.locked = locked;
	if (gil->last_holder && gs_mem_read_u64(&t->mem, gil->last_holder, &u) == 0)
		w.last_holder = u;
	if (gil->switch_number && gs_mem_read_u64(&t->mem, gil->switch_number, &u) == 0)
		w.switch_number = u;

	for (size_t i = 0; i < s->nthreads && i < 64; i++) {
		const struct gs_pythread *p = &s->threads[i];
		struct gs_taskstat now, prev;
		struct gs_classify_in in;
		int kind = hdr[13] % REM_FUTEX_N;

		memset(&now, 0, sizeof now);
		now.state = (char)hdr[12];
		now.syscall_nr = kind == REM_FUTEX_NONE ?
			((hdr[13] & 0x80) ? 7 : GS_SYSCALL_RUNNING) : SYS_futex;
		now.syscall_args[0] = futex_addr(gil, kind, (int8_t)hdr[14]);
		now.run_ns = p->tstate & 0xffff;
		now.wait_ns = p->thread_id & 0xffff;
		prev = now;
		prev.run_ns = now.run_ns ? now.run_ns - (hdr[15] & 1) : 0;
		prev.wait_ns = now.wait_ns >> 1;

		memset(&in, 0, sizeof in);
		in.tstate = p->tstate;
		in.holds_gil = p->holds_gil;
		in.gil_requested = p->gil_requested;
		in.now = &now;
		in.prev = (hdr[1] & REM_F_PREV) ? &prev : NULL;
		in.on_cpu_known = !!(hdr[1] & REM_F_ON_CPU);
		in.on_cpu = hdr[15] >> 7;
		enum gs_role r = gs_classify(gil, &w, &in);
		FUZZ_ASSERT((int)r >= 0 && r < GS_ROLE_COUNT, "a role in range");
		FUZZ_ASSERT(gs_role_name(r) != NULL, "every role has a name");
		/* The futex test comes first, whatever the words say. */
		if (now.syscall_nr == SYS_futex &&
		    (kind == REM_FUTEX_COND || kind == REM_FUTEX_MUTEX) &&
		    hdr[14] == 0 && (kind == REM_FUTEX_COND ? gil->cond < gil->cond_end
						      : gil->mutex < gil->mutex_end))
			FUZZ_ASSERT(r == GS_ROLE_WAITING,
				    "blocked on the GIL's cond/mutex is waiting");
	}
	/* A native thread (no tstate) never holds the GIL. */
	{
		struct gs_taskstat now;
		struct gs_classify_in in;
		memset(&now, 0, sizeof now);
		now.state = 'R';
		now.syscall_nr = GS_SYSCALL_RUNNING;
		memset(&in, 0, sizeof in);
		in.holds_gil = in.gil_requested = -1;
		in.now = &now;
		enum gs_role r = gs_classify(gil, &w, &in);
		FUZZ_ASSERT(r != GS_ROLE_HELD && r != GS_ROLE_HELD_OFFCPU,
			    "a thread without a tstate does not hold the GIL");
	}
}

static void check_snapshot(const struct gs_snapshot *s)
{
	size_t sum = 0;

	FUZZ_ASSERT(s->ninterps <= GS_MAX_INTERPS, "interpreters bounded");
	FUZZ_ASSERT(s->nthreads <= GS_MAX_THREADS, "threads bounded");
	for (size_t i = 0; i < s->ninterps; i++)
		sum += s->interps[i].nthreads;
	FUZZ_ASSERT(sum == s->nthreads, "per-interpreter counts add up");
	/* The lookups are linear: check the first threads only, so that a
	 * list of thousands stays fast. */
	for (size_t i = 0; i < s->nthreads && i < 256; i++) {
		const struct gs_pythread *p = &s->threads[i], *q;
		int found = 0;
		for (size_t k = 0; k < s->ninterps; k++)
			found |= s->interps[k].addr == p->interp;
		FUZZ_ASSERT(found, "a thread's interpreter is in the snapshot");
		FUZZ_ASSERT(p->tstate != 0, "no thread state at NULL");
		FUZZ_ASSERT(p->holds_gil >= -1 && p->holds_gil <= 1, "holds_gil is -1/0/1");
		FUZZ_ASSERT(p->gil_requested >= -1 && p->gil_requested <= 1,
			    "gil_requested is -1/0/1");
		FUZZ_ASSERT(p->tid >= 0, "tid is 0 or a tid");
		q = gs_snapshot_by_tstate(s, p->tstate);
		FUZZ_ASSERT(q && q->tstate == p->tstate, "found by tstate");
		if (p->tid) {
			q = gs_snapshot_by_tid(s, p->tid);
			FUZZ_ASSERT(q && q->tid == p->tid, "found by tid");
		}
	}
	FUZZ_ASSERT(!gs_snapshot_by_tstate(s, 0), "tstate 0 is nobody");
	FUZZ_ASSERT(!gs_snapshot_by_tid(s, 0), "tid 0 is nobody");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rem_image im;
	static struct gs_target t;
	static struct gs_snapshot s;
	const uint8_t *hdr = data;
	int minor, rc, rc2;
	size_t n1;

	if (size < REM_HDR)
		return 0;
	init_layouts();
	minor = 6 + hdr[0] % 10;
	if (!have_layout[minor])
		return 0;
	rem_parse_regions(&im, data + REM_HDR, size - REM_HDR);
	im.max_read = 4096 * 2; /* a structure read stays small */

	rem_target_init(&t, &im, minor, &layouts[minor]);
	if (hdr[1] & REM_F_EDIT) {
		edit_layout(&t.layout, minor, hdr + 4);
		edit_layout(&t.layout, minor, hdr + 8);
	}
	t.pthread_tid_off = (hdr[1] & REM_F_PTHREAD_OFF) ?
		(int64_t)(hdr[2] | hdr[3] << 8) : -1;

	if (minor >= 7) {
		t.runtime_addr = REM_RUNTIME;
		t.interp_head_addr = REM_RUNTIME +
				     (uint64_t)t.layout.rt_interpreters_head.off;
		if (t.layout.rt_gil.off >= 0) {
			gs_gil_addrs_from_base(&t.layout, REM_RUNTIME +
					       (uint64_t)t.layout.rt_gil.off, &t.gil);
		} else {
			/* 3.12+: the main interpreter's ceval.gil pointer,
			 * as locate.c follows it. */
			uint64_t interp = 0, gil = 0;
			if (t.layout.rt_interpreters_main.off >= 0)
				(void)gs_mem_read_u64(&t.mem, REM_RUNTIME +
					(uint64_t)t.layout.rt_interpreters_main.off, &interp);
			if (interp && t.layout.interp_ceval_gil.off >= 0)
				(void)gs_mem_read_u64(&t.mem, interp +
					(uint64_t)t.layout.interp_ceval_gil.off, &gil);
			gs_gil_addrs_from_base(&t.layout, gil, &t.gil);
		}
	} else {
		/* 3.6: static variables, laid out like gen_seeds.c does. */
		uint64_t b = REM_RUNTIME + 0x100;
		t.interp_head_addr = REM_RUNTIME;
		t.gil.locked = b;
		t.gil.last_holder = b + 8;
		t.gil.switch_number = b + 16;
		t.gil.interval = b + 24;
		t.gil.cond = b + 32;
		t.gil.cond_end = b + 80;
		t.gil.mutex = b + 80;
		t.gil.mutex_end = b + 120;
		t.gil.switch_cond = b + 120;
		t.gil.switch_cond_end = b + 168;
		t.gil.switch_mutex = b + 168;
		t.gil.switch_mutex_end = b + 208;
	}

	im.reads = 0;
	errno = 0;
	rc = gs_snapshot_read(&t, &s);
	/* Every read is of a list link, a field or a pthread's tid. */
	FUZZ_ASSERT(im.reads <= 1 + 3 * GS_MAX_INTERPS + 2 * GS_MAX_THREADS +
				GS_MAX_INTERPS,
		    "the walk is bounded");
	if (rc == 0) {
		check_snapshot(&s);
		classify_all(&t, &s, &t.gil, hdr);
		for (size_t i = 0; i < s.ninterps && i < 4; i++) {
			struct gs_gil_addrs g;
			gs_gil_addrs_from_base(&t.layout, s.interps[i].gil, &g);
			classify_all(&t, &s, &g, hdr);
		}
	} else {
		FUZZ_ASSERT(rc == -1 && errno != 0, "a failed snapshot sets errno");
	}
	/* The same memory read again into the same (reused) snapshot gives
	 * the same answer. */
	if (hdr[15] & 2) {
		n1 = s.nthreads;
		rc2 = gs_snapshot_read(&t, &s);
		FUZZ_ASSERT(rc2 == rc && (rc || s.nthreads == n1),
			    "a second read of unchanged memory agrees");
	}

	if (hdr[1] & REM_F_FIND_TID) {
		im.reads = 0;
		rc = gs_find_pthread_tid_offset(&t);
		FUZZ_ASSERT((rc == 0 && t.pthread_tid_off >= 0 &&
			     t.pthread_tid_off < 4096) ||
			    (rc == -1 && t.pthread_tid_off == -1),
			    "pthread tid offset found in range, or -1");
	}
	gs_snapshot_free(&s);
	gs_clear_error();
	return 0;
}
