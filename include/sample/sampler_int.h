/* The sampler's own state, shared by its files and by nothing else:
 * src/sample/sampler.c (taking a sample: classification), threadlist.c
 * (the thread list and which GIL each thread is on), identity.c (is a
 * thread state still the thread it was bound to) and reading.c (the
 * batched memory reads and the /proc reads).  The design and its cost
 * are described at the top of sampler.c. */
#ifndef GS_SAMPLER_INT_H
#define GS_SAMPLER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "proc/procfs.h"
#include "proc/switches.h"
#include "proc/taskstat.h"
#include "runtime/pynames.h"
#include "runtime/target.h"
#include "runtime/threads.h"
#include "sample/gilwords.h"
#include "sample/sampler.h"

#define MS (1000ull * 1000)
/* Every thread's /proc state is re-read at least this often, whatever
 * the GIL does.  Overridable for the benchmark. */
#ifndef GS_SLOW_MS
#define GS_SLOW_MS 10
#endif
#define SLOW_NS (GS_SLOW_MS * MS)
/* The thread count (nlink of /proc/PID/task) is checked this often. */
#define NLINK_NS (5 * MS)
/* A thread state created without a new kernel thread (PyGILState_Ensure
 * on an existing native thread) is seen by a periodic rescan, or as soon
 * as it takes the GIL (an unknown last_holder). */
#define RESCAN_NS (250 * MS)
/* A thread's comm is re-read at a scan when it ran since the last
 * read of it and COMM_RAN_NS have passed (prctl(PR_SET_NAME) renames
 * only the calling thread, so a thread that has not run has not renamed
 * itself), and every COMM_SLOW_NS whatever it did (another thread can
 * write /proc/.../comm). */
#define COMM_RAN_NS (250 * MS)
#define COMM_SLOW_NS (2000 * MS)
/* Python thread names (threading.Thread.name) are re-read at a scan at
 * most this often, and at a scan that found a thread it did not know:
 * a re-read costs one read per thread plus a few (runtime/pynames.h). */
#define PYNAMES_NS (1000 * MS)
/* Rescans asked for by an unknown holder, at most this often. */
#define RESCAN_MIN_NS (1 * MS)
/* Runnable with a schedstat that has not moved for this long: the task
 * is queued for a CPU, not on one (a task on a CPU is charged its time
 * at every tick, 10 ms apart at worst). */
#define STALE_RUN_NS (20 * MS)
/* A thread blocked with a schedstat that has not moved for QUIET_NS is
 * quiet: most threads of a big service sleep in a queue or a poll for
 * seconds.  Quiet threads are not re-read when the GIL struct changes
 * (what wakes one moves its schedstat first, and it is seen when it is
 * next read or watched, or at once if it takes the GIL), only every
 * QUIET_SLOW_NS, and at most QUIET_BUDGET of them per sample: their cost
 * stays flat however many there are.  A thread whose schedstat moved is
 * not quiet, unless it was quiet at the read before that move and is
 * blocked with a still schedstat at its next read (a thread woken once a
 * second, briefly).
 * The read before the move must itself have shown it quiet by the
 * clock: quiet threads are read seldom, so "a long time since the last
 * move" alone would keep a thread woken every millisecond quiet. */
#define QUIET_NS (20 * MS)
#define QUIET_SLOW_NS (100 * MS)
#define QUIET_BUDGET 2
/* A quiet Python thread, though, is watched for a wake-up at every
 * sample in which a thread started to wait on the GIL's cond: an I/O
 * thread woken after a long recv() waits for the GIL at once, and behind
 * a CPU-bound holder that wait lasts a switch interval or more; read
 * only every QUIET_SLOW_NS it would pass for idle, and the convoy it is
 * stuck in would not show (the convoy test's reader and ticker showed 0-3%
 * waiting against a true 13-26%; the churn test's ping and pong, whose
 * reads last 20 ms and more, lost up to 25 points).  Watching costs a
 * look at its switch ring (no system call, but a page touched) where
 * perf follows it, else a pread of its schedstat; at most this many
 * quiet Python threads are watched per sample, in turns, so that a
 * service of hundreds of sleepers sees each wake-up within a few
 * samples and the cost per sample stays flat. */
#define QUIET_WATCH_RING 64
#define QUIET_WATCH_READ 8

/* A Python thread seen waiting for the GIL (or, where perf gives exact
 * CPU time, holding it) and now runnable without it is inside take_gil
 * (queued for a CPU, or between two waits) until it has been charged
 * more CPU time than this since: take_gil itself runs for microseconds,
 * and the kernel charges a running task at every tick (4 ms at
 * HZ=250, with all the time since the last charge), so code running
 * without the GIL passes it at its first tick.  Where perf's switch
 * records give the CPU time to the nanosecond, the bound is what
 * take_gil can use, not a tick: a thread that took the GIL between two
 * samples and ran Python with it has been charged more, and is now
 * between its drop and its next take, not waiting. */
#define STORY_RUN_NS (4 * MS)
#define STORY_RUN_SW_NS (200ull * 1000)

#define ID_SPAN_MAX 256   /* bytes of thread state read to check identity */

struct gil_slot {
	struct gs_gil_reader r;
	unsigned char cur[GS_GIL_BUF], prev[GS_GIL_BUF];
	struct gs_gil_words w, pw;
	uint64_t interval;
	int have_prev;
	int valid;             /* this sample's words were read and sane */
	int changed;           /* a byte differs from the previous sample */
	int cond_changed;      /* a byte of its cond does (changed, where
				* the cond is not read) */
	uint64_t delta;        /* switch_number advance */
	/* The thread state whose identity this sample checks, and what the
	 * check read. */
	uint64_t spec_tstate;
	unsigned char spec_buf[ID_SPAN_MAX];
	int32_t spec_ptid;
	int spec_ok;           /* read in full */
	/* Tenure accounting, for missed switches. */
	int have_tenure;
	uint64_t tenure_holder;
	int tenure_seen;
};

struct tracked {
	pid_t tid;
	struct gs_task task;
	uint64_t tstate;         /* 0: native */
	uint64_t thread_id;      /* identity bound at the last scan */
	uint64_t native_id;
	size_t gil;              /* index into gils */
	int need;                /* /proc is read in this sample */
	int verified;            /* identity checked in this sample */
	int mismatch;            /* identity check failed in this sample */
	int holds_gil, gil_requested; /* -1 unless read in this sample */
	int32_t ptid;
	size_t nid;

	/* Kernel state. */
	struct gs_taskstat ts;   /* last syscall (and state) read */
	int have_ts;
	size_t ss_len;
	uint64_t ss_changed_ns;  /* when schedstat last moved */
	int was_quiet;           /* it was quiet when that move was seen */
	uint64_t read_ns;        /* when /proc was last consulted */
	int on_cpu;
	/* Followed by s->sw: its context switches replace schedstat
	 * (sw_gen: the switch generation its state was last taken at). */
	int sw;
	int sw_polled;           /* its ring was read in this sample */
	uint64_t sw_gen;

	enum gs_role role;       /* as of the last classification */
	int sticky_wait;         /* waiting on the GIL cond: inside take_gil */
	uint64_t story_run_ns;   /* its schedstat CPU time when last seen
				  * holding, waiting or handing off by the
				  * kernel's or the GIL's own evidence */

	/* Details for holding-offcpu and idle, and what they were for. */
	int detail_ok;
	long detail_nr;
	uint64_t detail_fd;
	uint64_t comm_ns;        /* when the comm was last read */
	unsigned name_gen;

	/* Buffers last: every sample walks every thread, and the fields
	 * above are what it reads. */
	char ss[64];             /* last schedstat text */
	unsigned char idbuf[ID_SPAN_MAX];
	char comm[64], pyname[GS_PYNAME_MAX];
	/* What the sinks show (they keep 64 bytes): the comm, and the
	 * Python name next to it when they differ ("python3 (MainThread)"). */
	char name[64];
	char path[256], wchan[64];
};

struct gs_sampler {
	struct gs_target *t;
	const struct gs_procfs *fs;
	struct gil_slot gils[GS_MAX_GILS];
	size_t ngils;
	struct gs_gil_sample gil_out[GS_MAX_GILS];
	struct tracked *th;
	size_t nth;
	struct gs_thread_sample *out;
	struct iovec *local, *remote;
	size_t cap_iov;
	int task_dir;
	uint64_t nlink;
	uint64_t nlink_ns, rescan_ns;
	int need_rescan;
	struct gs_snapshot snap;
	struct gs_sample smp;
	struct gs_sampler_stats st;
	int words_only;
	int ss_gate;             /* schedstat moves: usable as a change test */
	/* The kernel's context-switch records of the threads, where perf
	 * events are allowed (NULL: schedstat is polled instead). */
	struct gs_switches *sw;
	int sw_works;            /* some thread was followed */
	unsigned quiet_left;     /* quiet threads still to be read this sample */
	/* Quiet Python threads watched in turns (the turn: st.samples),
	 * by way of watching (0: schedstat, 1: switch ring): how many this
	 * sample has met, and how many the last one met. */
	size_t quiet_seen[2], quiet_prev[2];
	int out_stale;           /* out[] was made anew: fill every entry */
	uint64_t tid_off_ns;     /* last search for the pthread tid offset */
	/* Python thread names: NULL reader when the layout cannot read
	 * them (names stay the comm). */
	struct gs_pynames_reader *pyn;
	int pyn_off;             /* opening it failed: do not try again */
	struct gs_pynames pynames;
	uint64_t pynames_ns;     /* when they were last read */
	/* Identity span inside a thread state. */
	int64_t id_lo, id_hi;
};

int sam_gone(const struct gs_sampler *s);

/* threadlist.c */
int sam_rescan(struct gs_sampler *s);
void sam_gil_slot_init(struct gil_slot *g, const struct gs_gil_addrs *a);

/* Whether the thread list must be read again before this sample: asked
 * for (and not too soon), due, or the task count moved.  Every sample
 * asks, so it is inline. */
static inline int sam_threads_changed(struct gs_sampler *s, uint64_t t)
{
	uint64_t nlink;
	if (s->need_rescan && t - s->rescan_ns >= RESCAN_MIN_NS)
		return 1;
	if (t - s->rescan_ns >= RESCAN_NS)
		return 1;
	if (t - s->nlink_ns >= NLINK_NS) {
		s->nlink_ns = t;
		if (s->fs->nlink(s->fs->ctx, s->task_dir, &nlink) == 0 && nlink != s->nlink)
			return 1;
	}
	return 0;
}

/* identity.c */
void sam_id_span_init(struct gs_sampler *s);
struct tracked *sam_by_tstate(struct gs_sampler *s, size_t gil, uint64_t tstate);
size_t sam_add_id_iov(struct gs_sampler *s, struct iovec *l, struct iovec *r,
		      const struct tracked *th, unsigned char *buf, int32_t *ptid);
void sam_check_id(struct gs_sampler *s, struct tracked *th, const unsigned char *buf,
		  int32_t ptid, int read_ok);

static inline int sam_in_id_span(const struct gs_sampler *s, struct gs_field f)
{
	int64_t size = f.size > 0 ? f.size : 8;
	return f.off >= 0 && f.off >= s->id_lo && f.off + size <= s->id_hi && size <= 8;
}

/* reading.c */
int sam_read_gils(struct gs_sampler *s);
int sam_verify_new_holders(struct gs_sampler *s);
int sam_need_read(struct gs_sampler *s, struct tracked *th, uint64_t t);
int sam_read_flags(struct gs_sampler *s);
int sam_read_task(struct gs_sampler *s, struct tracked *th, int holder, uint64_t t);
void sam_lookup_detail(struct gs_sampler *s, struct tracked *th);

#endif
