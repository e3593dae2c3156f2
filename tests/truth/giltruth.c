/* Ground truth for the accuracy tests: every take and drop of the GIL,
 * timed inside the target, without traps.
 *
 * Loaded with LD_PRELOAD, it interposes pthread_mutex_lock and
 * pthread_mutex_unlock.  CPython's take_gil locks gil->mutex, waits on
 * gil->cond (glibc re-takes the mutex inside pthread_cond_*wait, not
 * through the PLT, so those re-takes are not seen), sets locked = 1 and
 * unlocks; drop_gil locks gil->mutex, sets locked = 0, signals and
 * unlocks.  So for the GIL's own mutex one lock/unlock pair of a thread
 * is a take when locked is 1 at the unlock, and a drop when it is 0; the
 * lock's time is when a take began to wait.
 *
 * The library does not look for the GIL itself (on 3.6 its variables
 * are static, on 3.12+ it hangs off the interpreter): the test finds it
 * with `gilsnoop info --json` and writes the addresses of gil->mutex and
 * gil->locked into the header of the shared file below; from then on
 * the calls on that mutex are logged.  Until then a call costs one
 * compare.
 *
 * Environment: GS_TRUTH_OUT=FILE (required; the first process to load
 * the library owns it, so a child that inherits LD_PRELOAD finds it
 * taken and logs nothing), GS_TRUTH_EVENTS=N slots (default 8M, 16 bytes each; the
 * file is sparse).  File layout (little-endian): the header below, then
 * the slots from offset 4096.  A slot's kind is stored last, with
 * release order, so a reader skips slots whose kind is still 0 (claimed
 * by a thread that was killed before it wrote them).  Slots of one
 * thread are in its program order; times across threads may be a few
 * ns out of slot order.
 *
 * The hot path makes no syscall but clock_gettime (vDSO), allocates
 * nothing and takes no lock: one atomic add claims a slot. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GS_TRUTH_MAGIC 0x3168747572747367ull /* "gstruth1" */
#define GS_TRUTH_DATA 4096
#define GS_TRUTH_DEFAULT_EVENTS (8u << 20)

enum { EV_LOCK = 1, EV_UNLOCK = 2 };

struct truth_header {
	uint64_t magic;
	uint64_t mutex_addr;   /* written by the test: &gil->mutex */
	uint64_t locked_addr;  /* written by the test first: &gil->locked */
	uint64_t capacity;     /* slots */
	uint64_t count;        /* slots claimed (may exceed capacity) */
	uint64_t pid;
};

struct truth_event {
	uint64_t ns;     /* CLOCK_MONOTONIC: before the lock, at the unlock */
	uint32_t tid;
	uint8_t kind;    /* EV_LOCK, EV_UNLOCK; 0 = not written */
	uint8_t locked;  /* gil->locked once the mutex was held */
	uint16_t pad;
};

typedef int (*mutex_fn)(pthread_mutex_t *);

static struct truth_header unarmed; /* mutex_addr 0: matches nothing */
static struct truth_header *hdr = &unarmed;
static struct truth_event *slots;
static mutex_fn real_lock, real_unlock;
static __thread uint32_t my_tid __attribute__((tls_model("initial-exec")));

static void resolve(void)
{
	/* dlsym takes ld.so's own locks, not pthread_mutex_lock through the
	 * PLT, so it cannot recurse into us. */
	if (!real_lock)
		real_lock = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_lock");
	if (!real_unlock)
		real_unlock = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_unlock");
	if (!real_lock || !real_unlock)
		abort();
}

static void in_child(void)
{
	/* The fork child shares the mapping but not the parent's GIL. */
	hdr = &unarmed;
	my_tid = 0;
}

__attribute__((constructor)) static void truth_init(void)
{
	resolve();
	const char *path = getenv("GS_TRUTH_OUT");
	if (!path || !*path)
		return;
	uint64_t cap = GS_TRUTH_DEFAULT_EVENTS;
	const char *n = getenv("GS_TRUTH_EVENTS");
	if (n && *n)
		cap = strtoull(n, NULL, 10);
	if (cap == 0)
		return;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		/* A file made by another process belongs to it (we are its
		 * child, or it is still writing the header: never truncate a
		 * file someone else may have mapped, or they die of SIGBUS).
		 * One whose header names our own pid was made by the launcher
		 * that exec'd us (sid's run script is a shell), whose mapping
		 * the exec dropped: ours to start afresh. */
		if (errno != EEXIST)
			return;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return;
		struct truth_header old;
		if (pread(fd, &old, sizeof old, 0) != (ssize_t)sizeof old ||
		    old.magic != GS_TRUTH_MAGIC || old.pid != (uint64_t)getpid()) {
			close(fd);
			return;
		}
	}
	size_t size = GS_TRUTH_DATA + cap * sizeof(struct truth_event);
	void *m = MAP_FAILED;
	if (ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)size) == 0)
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	struct truth_header *h = m;
	h->capacity = cap;
	h->pid = (uint64_t)getpid();
	__atomic_store_n(&h->magic, GS_TRUTH_MAGIC, __ATOMIC_RELEASE);
	slots = (struct truth_event *)((char *)m + GS_TRUTH_DATA);
	pthread_atfork(NULL, NULL, in_child);
	hdr = h;
}

static void log_event(uint64_t ns, int kind)
{
	const int *lp = (const int *)(uintptr_t)
		__atomic_load_n(&hdr->locked_addr, __ATOMIC_RELAXED);
	if (!my_tid)
		my_tid = (uint32_t)syscall(SYS_gettid);
	uint64_t i = __atomic_fetch_add(&hdr->count, 1, __ATOMIC_RELAXED);
	if (i >= hdr->capacity)
		return;
	struct truth_event *e = &slots[i];
	e->ns = ns;
	e->tid = my_tid;
	e->locked = lp ? (uint8_t)__atomic_load_n(lp, __ATOMIC_RELAXED) : 0xff;
	__atomic_store_n(&e->kind, (uint8_t)kind, __ATOMIC_RELEASE);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int is_gil(const pthread_mutex_t *m)
{
	return (uintptr_t)m ==
	       __atomic_load_n(&hdr->mutex_addr, __ATOMIC_RELAXED);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (__builtin_expect(!real_lock, 0))
		resolve();
	if (!is_gil(m))
		return real_lock(m);
	uint64_t t = now_ns();
	int rc = real_lock(m);
	if (rc == 0)
		log_event(t, EV_LOCK);
	return rc;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (__builtin_expect(!real_unlock, 0))
		resolve();
	if (is_gil(m))
		log_event(now_ns(), EV_UNLOCK);
	return real_unlock(m);
}
