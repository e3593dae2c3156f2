/* Context switches from perf side-band records.  One dummy software
 * event per thread asks for PERF_RECORD_SWITCH, each with its own small
 * ring (the kernel redirects a per-thread event only into a ring of the
 * same thread), so a poll is a look at every ring's head, with no
 * system call.  A ring is mapped writable: the kernel then never
 * overwrites what was not read, and says so with PERF_RECORD_LOST. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "proc/switches.h"

/* One page of 24-byte records per thread: ~170 switches of one thread
 * between two polls (a millisecond apart at the default rate). */
#define RING_PAGES 1

struct entry {
	pid_t tid;               /* 0: empty */
	int fd;
	void *ring;
	struct gs_switch_state st;
};

struct gs_switches {
	size_t ring_len, data_off, data_len;
	struct entry *v;
	size_t cap, used;
};

/* A switch record with sample_id_all and PERF_SAMPLE_TID | TIME. */
struct switch_rec {
	struct perf_event_header h;
	uint32_t pid, tid;
	uint64_t time;
};

static size_t slot_of(const struct gs_switches *sw, pid_t tid)
{
	return ((size_t)(uint32_t)tid * 2654435761u) & (sw->cap - 1);
}

static struct entry *find(const struct gs_switches *sw, pid_t tid)
{
	if (!sw->cap)
		return NULL;
	for (size_t i = slot_of(sw, tid);; i = (i + 1) & (sw->cap - 1)) {
		if (sw->v[i].tid == tid)
			return &sw->v[i];
		if (!sw->v[i].tid)
			return NULL;
	}
}

static struct entry *insert(struct gs_switches *sw, pid_t tid)
{
	size_t i = slot_of(sw, tid);
	while (sw->v[i].tid)
		i = (i + 1) & (sw->cap - 1);
	sw->used++;
	sw->v[i].tid = tid;
	return &sw->v[i];
}

static int grow(struct gs_switches *sw)
{
	size_t ncap = sw->cap ? sw->cap * 2 : 64;
	struct entry *old = sw->v;
	size_t ocap = sw->cap;
	struct entry *nv = calloc(ncap, sizeof *nv);
	if (!nv)
		return -1;
	sw->v = nv;
	sw->cap = ncap;
	sw->used = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].tid)
			*insert(sw, old[i].tid) = old[i];
	free(old);
	return 0;
}

static int open_event(pid_t tid)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	a.sample_id_all = 1;
	a.context_switch = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	/* Side-band records come whatever is excluded; excluding the
	 * kernel is what perf_event_paranoid 2 asks of a non-root user. */
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

struct gs_switches *gs_switches_new(void)
{
	struct gs_switches *sw = calloc(1, sizeof *sw);
	if (!sw)
		return NULL;
	long page = sysconf(_SC_PAGESIZE);
	sw->ring_len = (size_t)page * (1 + RING_PAGES);
	sw->data_off = (size_t)page;
	sw->data_len = (size_t)page * RING_PAGES;
	return sw;
}

int gs_switches_add(struct gs_switches *sw, pid_t tid)
{
	if (find(sw, tid))
		return 0;
	if ((sw->used + 1) * 2 > sw->cap && grow(sw))
		return -1;
	int fd = open_event(tid);
	if (fd < 0)
		return -1;
	void *m = mmap(NULL, sw->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	struct entry *e = insert(sw, tid);
	e->fd = fd;
	e->ring = m;
	memset(&e->st, 0, sizeof e->st);
	return 0;
}

void gs_switches_remove(struct gs_switches *sw, pid_t tid)
{
	struct entry *e = find(sw, tid);
	if (!e)
		return;
	munmap(e->ring, sw->ring_len);
	close(e->fd);
	/* Backward-shift deletion keeps every probe chain whole. */
	size_t i = (size_t)(e - sw->v);
	sw->v[i].tid = 0;
	sw->used--;
	for (size_t j = (i + 1) & (sw->cap - 1); sw->v[j].tid; j = (j + 1) & (sw->cap - 1)) {
		struct entry moved = sw->v[j];
		sw->v[j].tid = 0;
		sw->used--;
		*insert(sw, moved.tid) = moved;
	}
}

static void on_switch(struct gs_switch_state *st, const struct switch_rec *r)
{
	if (r->h.misc & PERF_RECORD_MISC_SWITCH_OUT) {
		/* On a CPU, last_ns is when it was switched in. */
		if (st->state == GS_CS_ON_CPU && r->time > st->last_ns)
			st->run_ns += r->time - st->last_ns;
		st->state = (r->h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
			? GS_CS_PREEMPTED : GS_CS_BLOCKED;
	} else {
		st->state = GS_CS_ON_CPU;
	}
	st->last_ns = r->time;
	st->gen++;
}

/* Read one thread's ring. */
static void drain(const struct gs_switches *sw, struct entry *e)
{
	struct perf_event_mmap_page *mp = e->ring;
	uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = mp->data_tail;
	if (head == tail)
		return;
	const unsigned char *data = (const unsigned char *)e->ring + sw->data_off;
	unsigned char buf[64];

	while (head - tail >= sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		size_t at = (size_t)(tail % sw->data_len);
		size_t first = sw->data_len - at;
		if (first >= sizeof h) {
			memcpy(&h, data + at, sizeof h);
		} else {
			memcpy(&h, data + at, first);
			memcpy((unsigned char *)&h + first, data, sizeof h - first);
		}
		if (h.size < sizeof h || head - tail < h.size)
			break; /* not a record: give up on the rest */
		size_t n = h.size < sizeof buf ? h.size : sizeof buf;
		if (first >= n) {
			memcpy(buf, data + at, n);
		} else {
			memcpy(buf, data + at, first);
			memcpy(buf + first, data, n - first);
		}
		if (h.type == PERF_RECORD_SWITCH && n >= sizeof(struct switch_rec)) {
			struct switch_rec r;
			memcpy(&r, buf, sizeof r);
			on_switch(&e->st, &r);
		} else if (h.type == PERF_RECORD_LOST) {
			/* Whatever it did meanwhile is not known. */
			e->st.state = GS_CS_UNKNOWN;
			e->st.gen++;
		}
		tail += h.size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
}

const struct gs_switch_state *gs_switches_get(const struct gs_switches *sw, pid_t tid)
{
	const struct entry *e = find(sw, tid);
	return e ? &e->st : NULL;
}

const struct gs_switch_state *gs_switches_poll(struct gs_switches *sw, pid_t tid)
{
	struct entry *e = find(sw, tid);
	if (!e)
		return NULL;
	drain(sw, e);
	return &e->st;
}

uint64_t gs_switch_run_ns(const struct gs_switch_state *st, uint64_t now)
{
	if (st->state == GS_CS_ON_CPU && now > st->last_ns)
		return st->run_ns + (now - st->last_ns);
	return st->run_ns;
}

void gs_switches_free(struct gs_switches *sw)
{
	if (!sw)
		return;
	for (size_t i = 0; i < sw->cap; i++)
		if (sw->v[i].tid) {
			munmap(sw->v[i].ring, sw->ring_len);
			close(sw->v[i].fd);
		}
	free(sw->v);
	free(sw);
}
