/* libFuzzer harness: the whole sampler (include/sample/sampler.h) on a
 * fake target: memory through gs_mem, /proc through a gs_procfs serving
 * text from the input, and a clock the input moves.  Rescans, identity
 * checks, classification, the off-CPU confirmation and several GILs all
 * run as they do on a live process.  The input format is in
 * fuzz_sampler.h; gen_seeds.c writes well-formed targets for every
 * version, with one GIL and with a subinterpreter's own.
 *
 * The promises checked, sample after sample: a sample or a recorded
 * error; every thread sample is a listed task, once, with a role in
 * range and a GIL index the sample has; a thread is holding only if the
 * GIL words of this very sample name its thread state as the holder and
 * that thread state still belongs to it (its native_thread_id, or before
 * 3.11 the tid in its struct pthread, is the task's tid in memory); a
 * GIL's holder_tid is such a holder; the main GIL's figures are gils[0]'s;
 * details (path, wchan) only for holding-offcpu and idle, terminated. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errors.h"
#include "fuzz.h"
#include "fuzz_remote.h"
#include "fuzz_sampler.h"
#include "layout/layout.h"
#include "proc/procfs.h"
#include "runtime/target.h"
#include "sample/sampler.h"

/* ---- the clock -------------------------------------------------------- */

/* The harness's own gs_now_ns (so core/clock.o stays out of the link):
 * a microsecond per call, plus what SAM_OP_CLOCK adds, so that a run is
 * the same every time and every time-based path can be reached. */
static uint64_t fake_now = 1000000000ull;

uint64_t gs_now_ns(void)
{
	return fake_now += 1000;
}

/* ---- memory ----------------------------------------------------------- */

struct region {
	uint64_t addr;
	unsigned char *p;
	size_t n;
};

struct later {
	unsigned long at;       /* after this many reads */
	uint64_t addr;
	const uint8_t *p;
	size_t n;
};

struct memory {
	struct region r[REM_MAX_REGIONS];
	size_t nr;
	unsigned char *arena;
	unsigned long reads;
	struct later later[16];
	size_t nlater;
};

/* The region that serves addr: the last one covering it. */
static const struct region *region_at(const struct memory *m, uint64_t addr, size_t *from)
{
	for (size_t i = m->nr; i-- > 0;) {
		const struct region *r = &m->r[i];
		if (addr >= r->addr && addr - r->addr < r->n) {
			*from = i;
			return r;
		}
	}
	return NULL;
}

static void mem_write(struct memory *m, uint64_t addr, const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t i;
		const struct region *r = region_at(m, addr + k, &i);
		if (r)
			r->p[addr + k - r->addr] = p[k];
	}
}

static void apply_later(struct memory *m)
{
	for (size_t i = 0; i < m->nlater;) {
		if (m->reads >= m->later[i].at) {
			mem_write(m, m->later[i].addr, m->later[i].p, m->later[i].n);
			m->later[i] = m->later[--m->nlater];
		} else {
			i++;
		}
	}
}

static int mem_read(void *ctx, uint64_t addr, void *out, size_t n)
{
	struct memory *m = ctx;
	unsigned char *o = out;
	FUZZ_ASSERT(n <= 8192, "a memory read stays small");
	m->reads++;
	apply_later(m);
	while (n) {
		size_t i;
		const struct region *r = region_at(m, addr, &i);
		if (!r) {
			errno = EFAULT;
			return -1;
		}
		size_t k = r->n - (size_t)(addr - r->addr);
		if (k > n)
			k = n;
		/* A later region starting inside the chunk takes over there. */
		for (size_t j = i + 1; j < m->nr; j++)
			if (m->r[j].addr > addr && m->r[j].addr - addr < k && m->r[j].n)
				k = (size_t)(m->r[j].addr - addr);
		memcpy(o, r->p + (addr - r->addr), k);
		o += k;
		addr += k;
		n -= k;
	}
	return 0;
}

static size_t parse_image(struct memory *m, const uint8_t *d, size_t n)
{
	m->nr = 0;
	m->arena = malloc(n ? n : 1);
	if (!m->arena)
		abort();
	memcpy(m->arena, d, n);
	size_t off = 0;
	while (n - off >= REM_REGION_HDR && m->nr < REM_MAX_REGIONS) {
		uint64_t addr;
		uint16_t len;
		memcpy(&addr, m->arena + off, 8);
		memcpy(&len, m->arena + off + 8, 2);
		off += REM_REGION_HDR;
		if (len > n - off)
			len = (uint16_t)(n - off);
		m->r[m->nr++] = (struct region){ addr, m->arena + off, len };
		off += len;
	}
	return m->nr;
}

/* ---- /proc ------------------------------------------------------------ */

#define DIR_FD 3
#define TASK_FD(task, file) (16 + (task) * 8 + (file))

struct task {
	pid_t tid;               /* 0: not listed */
	int gone;                /* open files read 0 bytes */
	char text[SAM_FILE_N][SAM_TEXT_MAX + 1];
	int have[SAM_FILE_N];
	uint64_t run_ns;         /* the default schedstat, moving */
};

struct procfs {
	pid_t pid;
	struct task t[SAM_MAX_TASKS];
	int ntasks;
	uint64_t nlink_bump;
	char fdlink[SAM_TEXT_MAX + 1];
	int open_files;          /* opened and not closed */
};

static const char *const file_names[SAM_FILE_N] = {
	"stat", "syscall", "schedstat", "comm", "wchan",
};

static int task_of(const struct procfs *f, pid_t tid)
{
	for (int i = 0; i < f->ntasks; i++)
		if (f->t[i].tid && f->t[i].tid == tid)
			return i;
	return -1;
}

static int fs_open(void *ctx, const char *path)
{
	struct procfs *f = ctx;
	int pid, tid, n = 0;
	char name[32];
	if (sscanf(path, "/proc/%d/task%n", &pid, &n) == 1 && !path[n] && pid == f->pid) {
		f->open_files++;
		return DIR_FD;
	}
	if (sscanf(path, "/proc/%d/task/%d/%31s", &pid, &tid, name) == 3 && pid == f->pid) {
		int k = task_of(f, tid);
		for (int file = 0; k >= 0 && !f->t[k].gone && file < SAM_FILE_N; file++)
			if (!strcmp(name, file_names[file])) {
				f->open_files++;
				return TASK_FD(k, file);
			}
	}
	errno = ENOENT;
	return -1;
}

/* The text of a file now; the default schedstat moves at every read. */
static const char *task_text(struct task *t, int file, char *buf, size_t n)
{
	if (t->have[file])
		return t->text[file];
	switch (file) {
	case SAM_FILE_STAT: {
		int k = snprintf(buf, n, "%d (t%d) R", (int)t->tid, (int)t->tid);
		for (int i = 0; i < 35 && k > 0 && (size_t)k < n; i++)
			k += snprintf(buf + k, n - (size_t)k, " 1");
		if (k > 0 && (size_t)k < n)
			snprintf(buf + k, n - (size_t)k, " 0\n");
		return buf;
	}
	case SAM_FILE_SYSCALL:
		return "running\n";
	case SAM_FILE_SCHEDSTAT:
		snprintf(buf, n, "%llu 100 %llu\n", (unsigned long long)(t->run_ns += 1000),
			 (unsigned long long)(t->run_ns / 1000));
		return buf;
	case SAM_FILE_COMM:
		snprintf(buf, n, "t%d\n", (int)t->tid);
		return buf;
	}
	return "0";
}

static ssize_t fs_pread(void *ctx, int fd, void *buf, size_t n)
{
	struct procfs *f = ctx;
	char tmp[SAM_TEXT_MAX + 1];
	int k = (fd - 16) / 8, file = (fd - 16) % 8;
	FUZZ_ASSERT(fd >= 16 && k < f->ntasks && file < SAM_FILE_N,
		    "pread of a descriptor the fake handed out");
	struct task *t = &f->t[k];
	if (t->gone)
		return 0;
	const char *s = task_text(t, file, tmp, sizeof tmp);
	size_t len = strlen(s);
	if (len > n)
		len = n;
	memcpy(buf, s, len);
	return (ssize_t)len;
}

static void fs_close(void *ctx, int fd)
{
	struct procfs *f = ctx;
	FUZZ_ASSERT(fd == DIR_FD || fd >= 16, "close of a descriptor the fake handed out");
	f->open_files--;
}

static int fs_nlink(void *ctx, int fd, uint64_t *out)
{
	struct procfs *f = ctx;
	uint64_t n = 2;
	FUZZ_ASSERT(fd == DIR_FD, "nlink of the task directory");
	for (int i = 0; i < f->ntasks; i++)
		n += f->t[i].tid != 0;
	*out = n + f->nlink_bump;
	return 0;
}

static ssize_t fs_readlink(void *ctx, const char *path, char *buf, size_t n)
{
	struct procfs *f = ctx;
	int pid, fd;
	size_t len = strlen(f->fdlink);
	if (sscanf(path, "/proc/%d/fd/%d", &pid, &fd) != 2 || pid != f->pid || !len) {
		errno = ENOENT;
		return -1;
	}
	if (len > n)
		len = n;
	memcpy(buf, f->fdlink, len);
	return (ssize_t)len;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static ssize_t fs_list(void *ctx, const char *path, pid_t **out)
{
	struct procfs *f = ctx;
	char want[64];
	snprintf(want, sizeof want, "/proc/%d/task", (int)f->pid);
	if (strcmp(path, want)) {
		errno = ENOENT;
		return -1;
	}
	pid_t *v = malloc(SAM_MAX_TASKS * sizeof *v);
	size_t n = 0;
	if (!v)
		return -1;
	for (int i = 0; i < f->ntasks; i++)
		if (f->t[i].tid && task_of(f, f->t[i].tid) == i)
			v[n++] = f->t[i].tid;
	qsort(v, n, sizeof *v, cmp_pid);
	*out = v;
	return (ssize_t)n;
}

/* ---- the script ------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static int take(struct input *in, void *out, size_t n)
{
	if (in->n < n)
		return -1;
	memcpy(out, in->p, n);
	in->p += n;
	in->n -= n;
	return 0;
}

static int words_only;

/* Apply one step's operations.  Returns -1 when the input ran out. */
static int apply_ops(struct input *in, struct memory *m, struct procfs *f,
		     struct gs_sampler *s)
{
	uint8_t nops, op, a, b, len;
	uint64_t addr;
	uint16_t ms;
	uint32_t tid;
	if (take(in, &nops, 1))
		return -1;
	for (int i = 0; i < nops % 16; i++) {
		if (take(in, &op, 1))
			return -1;
		switch (op % SAM_OP_N) {
		case SAM_OP_MEM:
			if (take(in, &addr, 8) || take(in, &len, 1) || in->n < len)
				return -1;
			mem_write(m, addr, in->p, len);
			in->p += len;
			in->n -= len;
			break;
		case SAM_OP_LATER:
			if (take(in, &a, 1) || take(in, &addr, 8) || take(in, &len, 1) ||
			    in->n < len)
				return -1;
			if (m->nlater < sizeof m->later / sizeof m->later[0])
				m->later[m->nlater++] = (struct later){ m->reads + a, addr, in->p, len };
			in->p += len;
			in->n -= len;
			break;
		case SAM_OP_TEXT:
			if (take(in, &a, 1) || take(in, &b, 1) || take(in, &len, 1) || in->n < len)
				return -1;
			if (f->ntasks) {
				struct task *t = &f->t[a % f->ntasks];
				memcpy(t->text[b % SAM_FILE_N], in->p, len);
				t->text[b % SAM_FILE_N][len] = 0;
				t->have[b % SAM_FILE_N] = 1;
			}
			in->p += len;
			in->n -= len;
			break;
		case SAM_OP_TID:
			if (take(in, &a, 1) || take(in, &tid, 4))
				return -1;
			f->t[a % f->ntasks].tid = (pid_t)(tid & 0x3fffff);
			break;
		case SAM_OP_GONE:
			if (take(in, &a, 1))
				return -1;
			f->t[a % f->ntasks].gone = 1;
			break;
		case SAM_OP_CLOCK:
			if (take(in, &ms, 2))
				return -1;
			fake_now += (uint64_t)ms * 1000000;
			break;
		case SAM_OP_NLINK:
			f->nlink_bump++;
			break;
		case SAM_OP_FDLINK:
			if (take(in, &len, 1) || in->n < len)
				return -1;
			memcpy(f->fdlink, in->p, len);
			f->fdlink[len] = 0;
			in->p += len;
			in->n -= len;
			break;
		case SAM_OP_WORDS:
			if (take(in, &a, 1))
				return -1;
			words_only = a & 1;
			gs_sampler_set_words_only(s, words_only);
			break;
		}
	}
	return 0;
}

/* ---- the promises ----------------------------------------------------- */

static int in_memory_tid(const struct gs_target *t, uint64_t tstate, pid_t *out)
{
	const struct gs_layout *l = &t->layout;
	uint64_t v = 0;
	if (l->ts_native_thread_id.off >= 0) {
		size_t n = l->ts_native_thread_id.size > 0 && l->ts_native_thread_id.size <= 8
			? (size_t)l->ts_native_thread_id.size : 8;
		if (gs_mem_read(&t->mem, tstate + (uint64_t)l->ts_native_thread_id.off, &v, n))
			return -1;
		*out = (pid_t)v;
		return 0;
	}
	int32_t tid;
	if (t->pthread_tid_off < 0 ||
	    gs_mem_read(&t->mem, tstate + (uint64_t)l->ts_thread_id.off, &v, 8) || !v ||
	    gs_mem_read_i32(&t->mem, v + (uint64_t)t->pthread_tid_off, &tid))
		return -1;
	*out = tid;
	return 0;
}

static void check_sample(const struct gs_target *t, const struct gs_sample *smp,
			 uint64_t seq, int words_only)
{
	FUZZ_ASSERT(smp->pid == t->pid, "the sample names its process");
	FUZZ_ASSERT(smp->seq == seq, "samples are numbered from 1");
	FUZZ_ASSERT(smp->ngils >= 1 && smp->ngils <= GS_MAX_GILS, "1 to GS_MAX_GILS GILs");
	FUZZ_ASSERT(smp->nthreads <= SAM_MAX_TASKS, "no more threads than tasks");
	const struct gs_gil_sample *g0 = &smp->gils[0];
	FUZZ_ASSERT(g0->words.locked == smp->gil.locked &&
		    g0->words.last_holder == smp->gil.last_holder &&
		    g0->words.switch_number == smp->gil.switch_number &&
		    g0->holder_tid == smp->holder_tid && g0->torn == smp->torn &&
		    g0->switches == smp->switches && g0->missed == smp->missed &&
		    g0->interval_us == smp->interval_us,
		    "the main GIL's figures are gils[0]'s");
	for (size_t i = 0; i < smp->nthreads; i++) {
		const struct gs_thread_sample *ts = &smp->threads[i];
		FUZZ_ASSERT(ts->tid > 0, "a thread has a tid");
		for (size_t k = 0; k < i; k++)
			FUZZ_ASSERT(smp->threads[k].tid != ts->tid, "each task once");
		FUZZ_ASSERT((int)ts->role >= 0 && ts->role < GS_ROLE_COUNT, "a role in range");
		FUZZ_ASSERT(ts->gil < smp->ngils, "a GIL the sample has");
		FUZZ_ASSERT(ts->name && strlen(ts->name) < 64, "a terminated name");
		FUZZ_ASSERT((!ts->path && !ts->wchan) || ts->role == GS_ROLE_HELD_OFFCPU ||
			    ts->role == GS_ROLE_IDLE, "details only off CPU or idle");
		FUZZ_ASSERT(!ts->path || strlen(ts->path) < 256, "a terminated path");
		FUZZ_ASSERT(!ts->wchan || strlen(ts->wchan) < 64, "a terminated wchan");
		const struct gs_gil_sample *g = &smp->gils[ts->gil];
		if (ts->role != GS_ROLE_HELD && ts->role != GS_ROLE_HELD_OFFCPU)
			continue;
		FUZZ_ASSERT(ts->tstate && !g->torn && g->words.locked == 1 &&
			    g->words.last_holder == ts->tstate,
			    "a holder is the one this sample's GIL words name");
		pid_t tid;
		/* Words-only mode names the holder without the identity
		 * check (sampler.h). */
		if (!words_only && in_memory_tid(t, ts->tstate, &tid) == 0)
			FUZZ_ASSERT(tid == ts->tid,
				    "a holder's thread state is still its own");
	}
	for (size_t k = 0; k < smp->ngils; k++) {
		const struct gs_gil_sample *g = &smp->gils[k];
		int found = !g->holder_tid;
		for (size_t i = 0; i < smp->nthreads && !found; i++)
			found = smp->threads[i].tid == g->holder_tid && smp->threads[i].gil == k &&
				(smp->threads[i].role == GS_ROLE_HELD ||
				 smp->threads[i].role == GS_ROLE_HELD_OFFCPU);
		FUZZ_ASSERT(found, "a GIL's holder_tid is a holding thread on it");
		FUZZ_ASSERT(g->missed <= g->switches, "missed switches are switches");
	}
}

/* ---- the run ---------------------------------------------------------- */

/* FUZZ_DEBUG=1: one line per sample, to see what a seed drives. */
static void debug_sample(const struct gs_sample *smp)
{
	fprintf(stderr, "sample %llu: %zu GILs, main %s locked %d last_holder %#llx "
		"holder %d sw +%llu;", (unsigned long long)smp->seq, smp->ngils,
		smp->torn ? "torn" : "ok", (int)smp->gil.locked,
		(unsigned long long)smp->gil.last_holder, (int)smp->holder_tid,
		(unsigned long long)smp->switches);
	for (size_t i = 0; i < smp->nthreads; i++)
		fprintf(stderr, " %d@%u(%#llx)=%s%s%s", (int)smp->threads[i].tid,
			smp->threads[i].gil, (unsigned long long)smp->threads[i].tstate,
			gs_role_name(smp->threads[i].role), smp->threads[i].path ? ":" : "",
			smp->threads[i].path ? smp->threads[i].path : "");
	fputc('\n', stderr);
}

static struct gs_layout layouts[16];
static int have_layout[16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	static struct memory m;
	static struct procfs f;
	static struct gs_target t;
	struct input in = { data, size };
	uint8_t hdr[SAM_HDR];

	static int debug;
	if (!init) {
		init = 1;
		debug = getenv("FUZZ_DEBUG") != NULL;
		for (int minor = 6; minor <= 15; minor++)
			have_layout[minor] = fuzz_layout_for(minor, &layouts[minor]) == 0;
	}
	if (take(&in, hdr, SAM_HDR))
		return 0;
	int minor = 6 + hdr[0] % 10;
	if (!have_layout[minor])
		return 0;

	memset(&f, 0, sizeof f);
	f.ntasks = 1 + hdr[4] % SAM_MAX_TASKS;
	for (int i = 0; i < f.ntasks; i++) {
		uint32_t tid;
		if (take(&in, &tid, 4))
			return 0;
		f.t[i].tid = (pid_t)(tid & 0x3fffff);
	}
	f.pid = f.t[0].tid;
	if (f.pid <= 0)
		return 0;
	uint16_t mlen = (uint16_t)(hdr[5] | hdr[6] << 8);
	if (mlen > in.n)
		mlen = (uint16_t)in.n;
	memset(&m, 0, sizeof m);
	parse_image(&m, in.p, mlen);
	in.p += mlen;
	in.n -= mlen;

	memset(&t, 0, sizeof t);
	t.pid = f.pid;
	t.mem = (struct gs_mem){ t.pid, mem_read, &m };
	t.ver.major = 3;
	t.ver.minor = minor;
	t.layout = layouts[minor];
	t.pthread_tid_off = (hdr[1] & SAM_F_PTHREAD_OFF) ? (int64_t)(hdr[2] | hdr[3] << 8) : -1;
	fuzz_target_init(&t);

	const struct gs_procfs fs = {
		.ctx = &f, .open = fs_open, .pread = fs_pread, .close = fs_close,
		.nlink = fs_nlink, .readlink = fs_readlink, .list = fs_list,
	};
	gs_clear_error();
	words_only = 0;
	struct gs_sampler *s = gs_sampler_new(&t, &fs);
	if (!s) {
		FUZZ_ASSERT(gs_last_code() != 0, "a sampler or a reason");
		if (debug)
			fprintf(stderr, "no sampler: %s\n", gs_last_error());
		FUZZ_ASSERT(f.open_files == 0, "a failed start closes what it opened");
		free(m.arena);
		return 0;
	}
	uint64_t seq = 0;
	for (int step = 0; step < SAM_MAX_STEPS; step++) {
		if (apply_ops(&in, &m, &f, s))
			break;
		const struct gs_sample *smp;
		gs_clear_error();
		if (gs_sampler_sample(s, &smp)) {
			FUZZ_ASSERT(gs_last_code() != 0, "a failed sample says why");
			if (debug)
				fprintf(stderr, "sample failed: %s\n", gs_last_error());
			break;
		}
		if (debug)
			debug_sample(smp);
		check_sample(&t, smp, ++seq, words_only);
	}
	struct gs_sampler_stats st;
	gs_sampler_stats(s, &st);
	FUZZ_ASSERT(st.samples == seq, "every sample counted");
	gs_sampler_free(s);
	FUZZ_ASSERT(f.open_files == 0, "the sampler closes every file it opened");
	free(m.arena);
	gs_clear_error();
	return 0;
}
