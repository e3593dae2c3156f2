"""Reading the GIL ground truth that libgiltruth.so (giltruth.c) logs.

A target started with env(path) writes every lock and unlock of the
GIL's mutex into the file at path, once arm() told it where the mutex
is.  timeline() turns those events into per-thread hold and wait
intervals; shares() sums them over a window.  Times are nanoseconds of
CLOCK_MONOTONIC, the clock gilsnoop's recordings use (in microseconds).

Runs on the system python3 (the test runner's), standard library only.
"""
import json
import os
import random
import struct
import subprocess
import time

MAGIC = 0x3168747572747367
HEADER = struct.Struct("<QQQQQQ")  # magic mutex locked capacity count pid
EVENT = struct.Struct("<QIBBH")    # ns tid kind locked pad
DATA_OFFSET = 4096
EV_LOCK, EV_UNLOCK = 1, 2
LIB_NAME = os.path.join("tests", "truth", "libgiltruth.so")
# The phases of tests/workloads/phases.py that the accuracy tests and
# measure.py run, in order.
PHASES = ["cpu", "churn", "convoy", "ctypes", "sort", "many"]


class TruthError(Exception):
    """The truth could not be taken; the message says why."""


def lib_path(gilsnoop):
    """The interposer built next to the gilsnoop binary under test, or
    $GILSNOOP_TRUTH_LIB."""
    path = os.environ.get("GILSNOOP_TRUTH_LIB") or os.path.join(
        os.path.dirname(os.path.abspath(gilsnoop)), LIB_NAME)
    if not os.path.exists(path):
        raise TruthError("no %s: build it with `make %s` in the build tree "
                         "(make check builds it)" % (path, LIB_NAME))
    return path


def env(lib, path, events=None):
    """Environment entries that make a target log its GIL into path."""
    if os.path.exists(path):
        os.unlink(path)
    out = {"LD_PRELOAD": lib, "GS_TRUTH_OUT": path}
    if events:
        out["GS_TRUTH_EVENTS"] = str(events)
    return out


def gil_addresses(gilsnoop, pid, run=None):
    """(&gil->locked, &gil->mutex) of process pid, from gilsnoop info."""
    argv = ["info", "--json", "-p", str(pid)]
    if run is not None:
        rc, out, err = run(argv)
    else:
        p = subprocess.run([gilsnoop] + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=60)
        rc, out, err = p.returncode, p.stdout, p.stderr
    if rc != 0:
        raise TruthError("gilsnoop info -p %s exited %d: %s" % (pid, rc, err.strip()))
    doc = json.loads(out)
    return int(doc["gil_locked_address"], 16), int(doc["gil_mutex_address"], 16)


def arm(path, pid, locked_addr, mutex_addr, wait_s=10):
    """Tell the target's interposer where the GIL is.  Fails if the
    target never created path (LD_PRELOAD not honoured).  Call it once
    the target runs Python code (after its ready line): a launcher that
    execs the interpreter under the same pid (sid's run script) made the
    file first, and the interpreter starts it afresh."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with open(path, "rb") as f:
                head = f.read(HEADER.size)
            if len(head) == HEADER.size and HEADER.unpack(head)[0] == MAGIC:
                break
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise TruthError("the target did not create %s: its loader did not "
                             "honour LD_PRELOAD" % path)
        time.sleep(0.01)
    magic, _m, _l, _cap, _n, owner = HEADER.unpack(head)
    if owner != pid:
        raise TruthError("%s belongs to pid %d, not to the target %d" % (path, owner, pid))
    fd = os.open(path, os.O_RDWR)
    try:
        # locked first: the interposer reads it once the mutex matches.
        os.pwrite(fd, struct.pack("<Q", locked_addr), 16)
        os.pwrite(fd, struct.pack("<Q", mutex_addr), 8)
    finally:
        os.close(fd)


def read_events(path):
    """(header dict, [(tid, ns, kind, locked)] in slot order)."""
    with open(path, "rb") as f:
        data = f.read(DATA_OFFSET)
        magic, mutex, locked, cap, count, pid = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise TruthError("%s is not a truth file" % path)
        n = min(count, cap)
        body = f.read(n * EVENT.size)
    events = []
    for ns, tid, kind, lk, _pad in EVENT.iter_unpack(body[:len(body) // EVENT.size * EVENT.size]):
        if kind:
            events.append((tid, ns, kind, lk))
    head = {"mutex": mutex, "locked": locked, "capacity": cap, "count": count,
            "pid": pid, "overflow": count > cap}
    return head, events


def timeline(events):
    """{tid: [(start_ns, end_ns, "hold"|"wait")]}, from the events of
    each thread in program order.  A lock/unlock pair is a take when
    locked is 1 at the unlock (wait from the lock, hold from the unlock)
    and a drop when it is 0 (hold ends at the unlock).  What a thread did
    before its first event follows from that event; after its last one
    it keeps its state (end = None: open)."""
    per = {}
    for tid, ns, kind, lk in events:
        per.setdefault(tid, []).append((ns, kind, lk))
    out = {}
    for tid, evs in per.items():
        ivs = []
        state, since = None, None   # None: not known yet (before any unlock)
        lock_ns = None
        for ns, kind, lk in evs:
            if kind == EV_LOCK:
                lock_ns = ns
                continue
            if lk == 1:
                if state == "hold":
                    pass            # the holder used the mutex: still holds
                else:
                    start = lock_ns if lock_ns is not None else None
                    ivs.append((start, ns, "wait"))
                    state, since = "hold", ns
            else:
                if state == "hold" or state is None:
                    ivs.append((since, ns, "hold"))
                state, since = "none", ns
            lock_ns = None
        if state == "hold":
            ivs.append((since, None, "hold"))
        elif lock_ns is not None:
            ivs.append((lock_ns, None, "wait"))  # waiting at the end
        out[tid] = ivs
    return out


def overlapping_holds(tl, w0, w1):
    """Pairs of holds of different threads that overlap inside [w0, w1]:
    there must be none, or the truth is wrong."""
    holds = []
    for tid, ivs in tl.items():
        for s, e, what in ivs:
            if what == "hold":
                holds.append((max(s if s is not None else w0, w0),
                              min(e if e is not None else w1, w1), tid))
    holds = sorted(h for h in holds if h[1] > h[0])
    bad = []
    for a, b in zip(holds, holds[1:]):
        if b[0] < a[1]:
            bad.append((a, b))
    return bad


def shares(tl, w0, w1):
    """{tid: {"hold": ns, "wait": ns}} inside [w0, w1] (ns)."""
    out = {}
    for tid, ivs in tl.items():
        acc = {"hold": 0, "wait": 0}
        for s, e, what in ivs:
            lo = w0 if s is None else max(s, w0)
            hi = w1 if e is None else min(e, w1)
            if hi > lo:
                acc[what] += hi - lo
        out[tid] = acc
    return out


def gilsnoop_shares(rows, w0, w1):
    """{tid: {role: ns}} of jsonl interval rows inside [w0, w1] (ns)."""
    out = {}
    for d in rows:
        s = int(round(d["ts_us"] * 1000))
        e = s + int(round(d["dur_us"] * 1000))
        lo, hi = max(s, w0), min(e, w1)
        if hi > lo:
            acc = out.setdefault(d["tid"], {})
            acc[d["state"]] = acc.get(d["state"], 0) + hi - lo
    return out


# A holding interval whose samples are further apart than this on
# average spans a gap in the sampling (the sampler starved, or the
# machine stalled): compare() reports how much held time such intervals
# credit and how much of it the truth confirms, so that a miss caused by
# gaps is told apart from one caused by misreading the GIL.
SPARSE_NS = 3 * 1000 * 1000


def sparse_holds(rows, tl, w0, w1):
    """{tid: (ns credited as held by sparse intervals, ns of them the
    truth has the thread holding)} inside [w0, w1]."""
    out = {}
    for d in rows:
        if d["state"] not in ("holding", "holding-offcpu"):
            continue
        s = int(round(d["ts_us"] * 1000))
        e = s + int(round(d["dur_us"] * 1000))
        if e - s <= SPARSE_NS * max(1, d.get("samples", 1)):
            continue
        lo, hi = max(s, w0), min(e, w1)
        if hi <= lo:
            continue
        confirmed = 0
        for ts, te, what in tl.get(d["tid"], ()):
            if what != "hold":
                continue
            a = lo if ts is None else max(ts, lo)
            b = hi if te is None else min(te, hi)
            if b > a:
                confirmed += b - a
        c, t = out.get(d["tid"], (0, 0))
        out[d["tid"]] = (c + hi - lo, t + confirmed)
    return out


# The floor: what a sampler that never misclassifies would still be off
# by.  It sees each thread's true state at one random instant of each
# period, as gilsnoop's pacing takes its samples (src/sample/pace.c),
# and credits that state until the next sample, as gilsnoop's intervals
# do: a hold shorter than the period is counted whole or not at all, and
# every handoff lands up to a period late.  The spread of its error over
# FLOOR_TRIALS draws is the noise sampling alone puts on a thread's
# shares over that window; gilsnoop's error is misreading only where it
# is well above it.  (A fixed grid would do worse on a loaded machine:
# threads then switch at the scheduler's ticks, in step with a grid
# from the same clock, and the errors of a whole window add up.)
FLOOR_TRIALS = 16


def _sample_times(w0, w1, period, rnd):
    """One instant drawn at random in each period of [w0, w1)."""
    out = []
    slot = w0
    while slot < w1:
        t = slot + int(rnd.random() * period)
        if t < w1:
            out.append(t)
        slot += period
    return out


def _sampled_shares(ivs, times, w1):
    """ns credited to "hold" and "wait" by sampling ivs (sorted, as
    timeline() gives them) at times, each state held until the next."""
    acc = {"hold": 0, "wait": 0}
    i, n = 0, len(ivs)
    for k, t in enumerate(times):
        until = times[k + 1] if k + 1 < len(times) else w1
        while i < n and ivs[i][1] is not None and ivs[i][1] <= t:
            i += 1
        if i < n and (ivs[i][0] is None or ivs[i][0] <= t):
            acc[ivs[i][2]] += until - t
    return acc


def sampling_floor(tl, truth, tids, w0, w1, rate_hz, trials=FLOOR_TRIALS):
    """{name: (held sd, waiting sd)} in percentage points of [w0, w1):
    the spread of an exact classifier's error when it samples the truth
    (tl, and its shares(tl, w0, w1)) as gilsnoop's pacing does at
    rate_hz, over trials seeded draws."""
    period = int(1e9 / (rate_hz or 1000.0))
    span = float(w1 - w0)
    draws = [_sample_times(w0, w1, period, random.Random(k)) for k in range(trials)]
    out = {}
    for name, tid in tids.items():
        ivs = tl.get(tid, [])
        tr = truth.get(tid, {"hold": 0, "wait": 0})
        errs = {"hold": [], "wait": []}
        for times in draws:
            got = _sampled_shares(ivs, times, w1)
            for what in errs:
                errs[what].append(100.0 * (got[what] - tr[what]) / span)
        sd = []
        for what in ("hold", "wait"):
            v = errs[what]
            m = sum(v) / len(v)
            sd.append((sum((x - m) ** 2 for x in v) / len(v)) ** 0.5)
        out[name] = tuple(sd)
    return out


def read_jsonl(text):
    """(interval rows, gilsnoop_end record) of a jsonl recording."""
    rows, end = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        if "tid" in d:
            rows.append(d)
        elif "gilsnoop_end" in d:
            end = d["gilsnoop_end"]
    return rows, end


def compare(tl, rows, tids, w0, w1, rate_hz=1000.0):
    """Per named thread: held and waiting shares (percent of [w0, w1])
    by gilsnoop and by the truth, and the sampling floor at rate_hz.
    {name: {"held", "held_truth", "wait", "wait_truth", "offcpu",
    "hold_truth_ns", "offcpu_ns", "floor"}}"""
    span = float(w1 - w0)
    truth = shares(tl, w0, w1)
    gs = gilsnoop_shares(rows, w0, w1)
    sparse = sparse_holds(rows, tl, w0, w1)
    floor = sampling_floor(tl, truth, tids, w0, w1, rate_hz)
    out = {}
    for name, tid in sorted(tids.items()):
        tr = truth.get(tid, {"hold": 0, "wait": 0})
        g = gs.get(tid, {})
        held = g.get("holding", 0) + g.get("holding-offcpu", 0)
        out[name] = {
            "tid": tid,
            "held": 100.0 * held / span,
            "held_truth": 100.0 * tr["hold"] / span,
            "wait": 100.0 * g.get("waiting", 0) / span,
            "wait_truth": 100.0 * tr["wait"] / span,
            "offcpu_ns": g.get("holding-offcpu", 0),
            "hold_truth_ns": tr["hold"],
            "truth_intervals": len(tl.get(tid, ())),  # over the whole run
            "roles": {k: round(100.0 * v / span, 2) for k, v in sorted(g.items())},
            "sparse": tuple(100.0 * x / span for x in sparse.get(tid, (0, 0))),
            "floor": floor[name],
        }
    return out


def table(result):
    lines = []
    for name, r in result.items():
        lines.append("%-12s held %5.1f%% (truth %5.1f%%, %+5.1f)  waiting %5.1f%% "
                     "(truth %5.1f%%, %+5.1f)  %s" % (
                         name, r["held"], r["held_truth"], r["held"] - r["held_truth"],
                         r["wait"], r["wait_truth"], r["wait"] - r["wait_truth"],
                         " ".join("%s=%.1f" % kv for kv in r["roles"].items())))
        if "floor" in r:
            lines[-1] += "  [sampling alone: sd %.2f held, %.2f waiting]" % r["floor"]
        if r.get("sparse", (0, 0))[0] >= 0.5:
            lines[-1] += "  [held across sampling gaps %.1f, truth holding %.1f]" % r["sparse"]
    return "\n".join(lines)


# ------------------------------------------------- one phased measurement

LOCK_FILE = "/tmp/gilsnoop-accuracy.lock"
HOG_CODE = "while True: pass"
# Inside a phase, the first and last moments belong to threads starting
# and stopping; the comparison leaves them out.
EDGE_NS = 100 * 1000 * 1000


def parse_phases(stdout):
    """[{"name", "start", "end", "tids"}] from phases.py's output."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("phase "):
            out.append(json.loads(line[len("phase "):]))
    return out


def analyse(truth_path, jsonl_text, phases):
    """Compare every phase.  Returns (header, end record,
    [(phase, w0, w1, {name: comparison}, overlaps)])."""
    head, events = read_events(truth_path)
    rows, end = read_jsonl(jsonl_text)
    if end is None:
        raise TruthError("the recording has no gilsnoop_end record")
    g0 = int(round(end["first_ts"] * 1000))
    g1 = int(round(end["last_ts"] * 1000))
    tl = timeline(events)
    results = []
    for ph in phases:
        w0 = max(int(ph["start"] * 1e9) + EDGE_NS, g0)
        w1 = min(int(ph["end"] * 1e9) - EDGE_NS, g1)
        if w1 - w0 < 5 * EDGE_NS:
            raise TruthError("phase %s [%d, %d] and the recording [%d, %d] overlap "
                             "for only %.3f s" % (ph["name"], ph["start"] * 1e9,
                                                  ph["end"] * 1e9, g0, g1,
                                                  max(0, w1 - w0) / 1e9))
        tids = {k: int(v) for k, v in ph["tids"].items()}
        results.append((ph, w0, w1, compare(tl, rows, tids, w0, w1,
                                            end.get("achieved_rate_hz") or 1000.0),
                        overlapping_holds(tl, w0, w1)))
    return head, end, results


class machine_lock:
    """flock on LOCK_FILE: one timing measurement at a time on the
    machine, whichever test run or helper it belongs to."""

    def __init__(self, wait_s=600):
        self.wait_s = wait_s

    def __enter__(self):
        import fcntl
        self.fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise TruthError("another measurement held %s for %d s"
                                     % (LOCK_FILE, self.wait_s))
                time.sleep(0.2)

    def __exit__(self, *exc):
        os.close(self.fd)


def _busy_jiffies():
    """(busy, total) jiffies of all CPUs from /proc/stat; steal time
    (another VM on the host) counts as busy."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy, busy + v[3] + v[4]


def _proc_jiffies(pid):
    """utime + stime of every thread of pid, 0 once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(v[11]) + int(v[12])


class OutsideLoad:
    """CPU time the machine spent on anything but the measurement's own
    processes, while it ran: other jobs of a shared machine, or another
    VM's steal.  The loaded setting means one hog per CPU and nothing
    more; a measurement beside a compiler is of another setting.

        o = OutsideLoad([pid, ...])  # at the start of the window
        o.cpus()                     # at its end: outside CPUs, 0.0-N
    """

    def __init__(self, pids):
        self.pids = [os.getpid()] + list(pids)
        self.own0 = sum(_proc_jiffies(p) for p in self.pids)
        self.busy0, self.total0 = _busy_jiffies()

    def cpus(self):
        own = sum(_proc_jiffies(p) for p in self.pids) - self.own0
        busy, total = _busy_jiffies()
        elapsed = total - self.total0
        if elapsed <= 0:
            return 0.0
        ncpu = os.cpu_count() or 1
        return max(0.0, (busy - self.busy0 - own) * ncpu / elapsed)


def start_hogs(python="python3", n=None):
    """One busy process per CPU (the loaded setting)."""
    n = n or os.cpu_count() or 1
    return [subprocess.Popen([python, "-c", HOG_CODE], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


def stop_hogs(hogs):
    for h in hogs:
        if h.poll() is None:
            h.kill()
    for h in hogs:
        h.wait()


def wait_for_file_line(path, proc, timeout_s=30):
    """Until path holds a whole first line (gilsnoop record attached)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if "\n" in f.read(4096):
                    return True
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False
