"""gilsnoop dump: every thread once, the holder first, and native stacks
from a brief ptrace stop of one thread at a time.  What is checked:

- the holder asleep in usleep() called through ctypes.PyDLL is shown
  holding the GIL off CPU, in clock_nanosleep or nanosleep, and its
  native stack (taken by default, and with --native) holds the libc
  frame and the eval loop;
- a process in which every thread is stuck behind a holder blocked in
  read() on a FIFO;
- no thread of the target is left stopped or traced after a dump, after
  a dump killed by SIGINT, SIGTERM or SIGKILL at each point of the stop
  sequence (GILSNOOP_TEST_STOP_DELAY makes each point last), and the
  target keeps running;
- under strace: --no-native (and a default dump with nothing to stop)
  makes no ptrace call at all; --native seizes with no options, reads
  only registers, and detaches every thread it seized;
- a thread already stopped is not touched; threads created and
  destroyed while dumping; the error contract.
"""
import json
import os
import re
import signal
import subprocess
import time

from common import Skip, start_sleeper, start_stuck, start_target, timeout
from safety_helpers import (EXIT_NOPROC, EXIT_NOTPY, EXIT_USAGE, Background,
                            need_tool, one_line_error, pick, runs_on)

HOLD = ["--cpu", 1, "--sleep", 1, "--holdsleep"]
SLEEP_CALLS = ("clock_nanosleep", "nanosleep")


def dump_json(ctx, pid, *args, env=None):
    rc, out, err = ctx.run(["dump", "-p", pid, "--json"] + list(args),
                           timeout=60, env=env)
    assert rc == 0, "dump exited %d: %s" % (rc, err.strip()[-500:])
    try:
        return json.loads(out)
    except ValueError as e:
        raise AssertionError("dump --json printed invalid JSON (%s): %r" % (e, out[:400]))


def by_tid(doc):
    return {th["tid"]: th for th in doc["threads"]}


def until_holder(ctx, pid, tid, *args, attempts=30, also=None):
    """dump until tid is the holder (it hands the GIL over now and then)
    and also(doc) holds, if given."""
    doc = None
    for _ in range(attempts):
        doc = dump_json(ctx, pid, *args)
        if doc["gil"]["holder_tid"] == tid and (also is None or also(doc)):
            return doc
        time.sleep(0.05)
    raise AssertionError("thread %d never held the GIL%s in %d dumps; last: %s"
                         % (tid, "" if also is None else " (with the rest in place)",
                            attempts, json.dumps(doc["threads"])[:3000]))


def task_status(pid):
    """{tid: (state letter, TracerPid)} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                tracer = int(re.search(r"^TracerPid:\s+(\d+)", f.read(), re.M).group(1))
        except (OSError, AttributeError, IndexError):
            continue  # gone meanwhile
        out[int(tid)] = (state, tracer)
    return out


def assert_untouched(pid, what):
    """No thread of pid stopped by a tracer (t) or traced at all."""
    # A detach returns before the thread is scheduled again: give the
    # kernel a moment to run it out of its stop.
    for _ in range(50):
        st = task_status(pid)
        bad = {t: s for t, s in st.items() if s[0] == "t" or s[1] != 0}
        if not bad:
            return
        time.sleep(0.02)
    raise AssertionError("%s: threads left stopped or traced (tid: state, tracer): %s"
                         % (what, bad))


def assert_runs(pid, what):
    ok, figures = runs_on(pid)
    assert ok, "%s: the target got no CPU time afterwards (schedstat %s)" % (what, figures)


def frame_names(th):
    ns = th["native_stack"]
    return [f["function"] or "" for f in ns["frames"]] if ns and ns.get("taken") else []


# The members docs/dump-format.md documents, all present in every object.
DOC_TOP = {"format", "format_version", "pid", "python_version", "build", "stopped", "gil",
           "python_stacks_error", "native_stacks_error", "threads"}
DOC_GIL = {"locked", "holder_tid", "switch_number", "interval_us", "waiters", "long_hold"}
DOC_THREAD = {"tid", "name", "python_name", "role", "native", "holder", "tstate", "state",
              "syscall", "path", "wchan", "offcpu_ms", "python_stack", "native_stack"}
DOC_NATIVE = {"taken", "stopped_us", "window_us", "group_stop", "frames", "merged",
              "eval_found_by", "eval_frames", "entry_frames", "truncated", "live_reads",
              "stopped_early"}
DOC_FRAME = {"pc", "function", "offset", "object", "object_offset", "file", "line", "inlined",
             "eval", "gil", "signal"}


def check_documented(doc):
    missing = [("top", DOC_TOP - set(doc)), ("gil", DOC_GIL - set(doc["gil"]))]
    for th in doc["threads"]:
        missing.append(("thread", DOC_THREAD - set(th)))
        ns = th["native_stack"]
        if ns and ns["taken"]:
            missing.append(("native_stack", DOC_NATIVE - set(ns)))
            for f in ns["frames"]:
                missing.append(("frame", DOC_FRAME - set(f)))
    missing = [(w, m) for w, m in missing if m]
    assert not missing, "documented members missing: %s" % missing[:5]


def check_usleep_native(th, where):
    ns = th["native_stack"]
    assert ns is not None, "%s: no native stack for the off-CPU holder" % where
    assert ns["taken"], "%s: native stack not taken: %s" % (where, ns.get("error"))
    names = frame_names(th)
    libc = [f for f in ns["frames"] if f["function"] in SLEEP_CALLS + ("usleep",)
            and "libc" in os.path.basename(f["object"] or "")]
    assert libc, "%s: no libc sleep frame in %s" % (where, names)
    assert any(f["eval"] for f in ns["frames"]), \
        "%s: no eval-loop frame in %s" % (where, names)
    assert ns["stopped_early"] is None, "%s: unwind stopped: %s" % (where, ns["stopped_early"])


# ---------------------------------------------------------------- per interpreter

def test_dump_holder_asleep_in_usleep(py, ctx):
    with start_target(py, "threads.py", HOLD) as t:
        hs = t.tids["holdsleep"]
        doc = until_holder(ctx, t.pid, hs)
        assert doc["format"] == "gilsnoop-dump" and doc["format_version"] == 1, doc["format"]
        check_documented(doc)
        assert doc["python_version"].startswith("%d.%d." % (3, py.minor)), doc["python_version"]
        assert doc["threads"][0]["tid"] == hs, "the holder is not the first block"
        th = by_tid(doc)[hs]
        assert th["role"] == "holding-offcpu", th["role"]
        assert th["holder"] is True
        assert th["syscall"] in SLEEP_CALLS, th["syscall"]
        assert th["offcpu_ms"] is not None and 0 <= th["offcpu_ms"] < 60000, th["offcpu_ms"]
        # By default the off-CPU holder, and only it, is stopped briefly.
        check_usleep_native(th, "default dump")
        others = [x for x in doc["threads"] if x["tid"] != hs]
        assert all(x["native_stack"] is None for x in others), \
            "default dump took native stacks of non-holders"
        waiting = [x for x in doc["threads"] if x["role"] == "waiting"]
        assert doc["gil"]["waiters"] == len(waiting)
        # Waiters come right after the holder.
        roles = [x["role"] for x in doc["threads"][1:]]
        assert roles == sorted(roles, key=lambda r: r != "waiting"), roles
        assert_untouched(t.pid, "after dump")


def test_dump_text(py, ctx):
    with start_target(py, "threads.py", HOLD) as t:
        hs = t.tids["holdsleep"]
        for _ in range(30):
            rc, out, err = ctx.run(["dump", "-p", t.pid], timeout=60)
            assert rc == 0, err
            if "GIL: held by thread %d " % hs in out:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("holdsleep never shown as the holder:\n" + out[-2000:])
        head = out.split("\n")[0]
        assert head.startswith("Process %d: Python 3.%d." % (t.pid, py.minor)), head
        block = out.split("\nThread %d " % hs, 1)[1].split("\nThread ", 1)[0]
        assert "holding the GIL off CPU" in block, block
        assert re.search(r"in (clock_)?nanosleep", block), block
        assert re.search(r"Native stack \(the thread was stopped \d+ [um]?s, at most \d+ [um]?s from seize", block), block
        assert re.search(r"#\d+ +(clock_nanosleep|__nanosleep|nanosleep|usleep)\+0x", block), block
        for line in out.split("\n"):
            assert "\x1b" not in line and "\r" not in line, repr(line)


def test_dump_native_every_thread(py, ctx):
    with start_target(py, "threads.py", HOLD) as t:
        doc = dump_json(ctx, t.pid, "--native")
        check_documented(doc)
        threads = by_tid(doc)
        for name, tid in t.tids.items():
            th = threads[tid]
            ns = th["native_stack"]
            assert ns is not None and ns["taken"], "%s: %s" % (name, ns)
            assert len(ns["frames"]) >= 4, "%s: %s" % (name, frame_names(th))
            assert ns["stopped_early"] is None, "%s: %s" % (name, ns["stopped_early"])
            assert 0 < ns["stopped_us"] < 1000000, ns["stopped_us"]
        hs = threads[t.tids["holdsleep"]]
        if hs["syscall"] in SLEEP_CALLS:
            check_usleep_native(hs, "--native")
        # The waiters and sleepers wait inside libc on a futex or a timer.
        for name in ("cpu-1", "sleep-1"):
            if threads[t.tids[name]]["role"] not in ("waiting", "idle"):
                continue  # cpu-1 caught running
            names = frame_names(threads[t.tids[name]])
            assert any(re.search(r"futex|cond|nanosleep|select|sem_|lll_", n) for n in names), \
                "%s: %s" % (name, names)
        # A waiter's stack tells the GIL story (take_gil, or the exported
        # function around it: Debian's 3.11 names neither).
        cpu = threads[t.tids["cpu-1"]]
        if cpu["role"] == "waiting" and py.kind != "debian":
            assert any(f["gil"] for f in cpu["native_stack"]["frames"]), \
                "waiting cpu-1 without a GIL frame: %s" % frame_names(cpu)
        assert_untouched(t.pid, "after dump --native")
        assert_runs(t.pid, "after dump --native")


def test_dump_long_hold(py, ctx):
    """By default an on-CPU holder is stopped only after 100 ms of one
    hold: a lone spinning thread keeps the GIL; two pass it every 5 ms."""
    with start_target(py, "threads.py", ["--cpu", 1]) as t:
        cpu = t.tids["cpu-1"]
        doc = until_holder(ctx, t.pid, cpu, also=lambda d: by_tid(d)[cpu]["role"] == "holding")
        assert doc["gil"]["long_hold"] is True, doc["gil"]
        ns = by_tid(doc)[cpu]["native_stack"]
        assert ns is not None and ns["taken"], ns
        assert any(f["eval"] for f in ns["frames"]) or py.kind == "sid", frame_names(by_tid(doc)[cpu])
        assert_untouched(t.pid, "after a long-hold dump")
    with start_target(py, "threads.py", ["--cpu", 2]) as t:
        cpus = (t.tids["cpu-1"], t.tids["cpu-2"])
        doc = None
        for _ in range(10):
            doc = dump_json(ctx, t.pid)
            if doc["gil"]["holder_tid"] in cpus and by_tid(doc)[doc["gil"]["holder_tid"]]["role"] == "holding":
                break
        assert doc["gil"]["long_hold"] is False, doc["gil"]
        assert all(th["native_stack"] is None for th in doc["threads"]), \
            "a holder that lets go every 5 ms was stopped"
        rc, out, err = ctx.run(["dump", "-p", t.pid, "--no-native", "--json"])
        assert json.loads(out)["gil"]["long_hold"] is None, "--no-native watched the GIL"


def test_dump_every_thread_stuck(py, ctx):
    with start_stuck(py, ctx) as t:
        stuck = t.tids["stuck"]
        waiters = (t.tids["waiter-1"], t.tids["waiter-2"])
        # Right after "ready" the waiters may still be on their way into
        # take_gil.
        doc = until_holder(ctx, t.pid, stuck, also=lambda d: all(
            by_tid(d)[w]["role"] == "waiting" for w in waiters))
        th = by_tid(doc)[stuck]
        assert th["role"] == "holding-offcpu", th["role"]
        assert th["syscall"] == "read" and th["path"] == t.fifo, (th["syscall"], th["path"])
        names = frame_names(th)
        assert "read" in names or "__libc_read" in names or "__GI___libc_read" in names, names
        for w in ("waiter-1", "waiter-2"):
            assert by_tid(doc)[t.tids[w]]["role"] == "waiting", by_tid(doc)[t.tids[w]]
        assert_untouched(t.pid, "after dump of a stuck process")


def test_dump_killed_inside_the_stop(py, ctx):
    """SIGKILL while a thread is held: the kernel detaches it."""
    with start_target(py, "threads.py", HOLD) as t:
        bg = Background(ctx, ["dump", "-p", t.pid, "--native"],
                        env={"GILSNOOP_TEST_STOP_DELAY": "stopped:5000"})
        held = wait_for(lambda: any(s[0] == "t" for s in task_status(t.pid).values()), 10)
        assert held, "no thread of the target was ever seen stopped (t)"
        bg.signal(signal.SIGKILL)
        rc, _, _ = bg.wait(timeout=10, allow_signal=True)
        assert rc == -signal.SIGKILL, rc
        assert_untouched(t.pid, "after SIGKILL inside the stop window")
        assert_runs(t.pid, "after SIGKILL inside the stop window")


# ---------------------------------------------------------------- once

def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def in_long_sleep(pid, ms=300):
    """gilsnoop pid has been in a nanosleep for at least ms (the test
    delay; its own pauses are 5 ms at most)."""
    def sleeping():
        try:
            with open("/proc/%d/syscall" % pid) as f:
                nr = f.read().split()[0]
        except (OSError, IndexError):
            return False
        return nr in ("35", "230")  # nanosleep, clock_nanosleep
    start = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sleeping():
            start = start or time.monotonic()
            if time.monotonic() - start >= ms / 1000.0:
                return True
        else:
            start = None
        time.sleep(0.01)
    return False


@timeout(300)
def global_dump_killed_partway(ctx):
    """Every signal at every point of the stop sequence."""
    py = pick(ctx)
    with start_target(py, "threads.py", HOLD) as t:
        for point in ("seize", "seized", "stopped", "detached"):
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                what = "%s at %s" % (signal.Signals(sig).name, point)
                bg = Background(ctx, ["dump", "-p", t.pid, "--native"],
                                env={"GILSNOOP_TEST_STOP_DELAY": point + ":3000"},
                                label="dump --native (%s)" % what)
                if point == "stopped":
                    ok = wait_for(lambda: any(s[0] == "t" for s in
                                              task_status(t.pid).values()), 10)
                elif point == "seized":
                    ok = wait_for(lambda: any(s[1] == bg.pid for s in
                                              task_status(t.pid).values()), 10)
                else:
                    ok = in_long_sleep(bg.pid)
                assert ok, "%s: never reached the point" % what
                if point == "detached":
                    # Asleep after a detach, gilsnoop holds nothing.
                    st = task_status(t.pid)
                    assert all(s == (s[0], 0) and s[0] != "t" for s in st.values()), \
                        "%s: a thread is still held after its detach: %s" % (what, st)
                t0 = time.monotonic()
                bg.signal(sig)
                rc, _, _ = bg.wait(timeout=15, allow_signal=True)
                # Blocked in the window, a signal takes effect right after
                # the detach; outside it, at once.
                assert rc == -sig, "%s: exit %d, want death by the signal" % (what, rc)
                assert time.monotonic() - t0 < 5, "%s: took %.1fs to end" % (
                    what, time.monotonic() - t0)
                assert_untouched(t.pid, what)
                assert_runs(t.pid, what)


def _strace(ctx, args, label):
    strace = need_tool("strace")
    log = os.path.join(ctx.tmpdir, "strace.%s.log" % label)
    cmd = [strace, "-f", "-qq", "-e",
           "trace=ptrace,process_vm_writev,kill,tkill,tgkill,pidfd_send_signal",
           "-o", log, ctx.gilsnoop] + [str(a) for a in args]
    opts = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=(opts + ":" if opts else "") + "detect_leaks=0")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, env=env)
    err = p.stderr.decode(errors="replace")
    ctx.check_sanitizers(err, "gilsnoop " + label)
    with open(log, errors="replace") as f:
        text = f.read()
    ctx.note("strace log of " + label, text[-3000:])
    assert p.returncode == 0, "%s under strace exited %d: %s" % (label, p.returncode, err[-500:])
    return text


def global_dump_ptrace_calls(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", HOLD) as t:
        text = _strace(ctx, ["dump", "-p", t.pid, "--no-native"], "no-native")
        assert not re.search(r"\b(ptrace|process_vm_writev|kill|tkill|tgkill|pidfd_send_signal)\(",
                             text), "dump --no-native: " + text[-1000:]

        text = _strace(ctx, ["dump", "-p", t.pid, "--native"], "native")
        calls = re.findall(r"ptrace\((PTRACE_[A-Z_]+), (\d+)(.*)", text)
        assert calls, "dump --native made no ptrace call"
        kinds = {c[0] for c in calls}
        assert kinds <= {"PTRACE_SEIZE", "PTRACE_INTERRUPT", "PTRACE_GETREGS",
                         "PTRACE_DETACH"}, kinds
        seized = [int(c[1]) for c in calls if c[0] == "PTRACE_SEIZE"]
        detached = [int(c[1]) for c in calls if c[0] == "PTRACE_DETACH"]
        assert sorted(seized) == sorted(set(t.task_ids()) & set(seized)), \
            "seized threads that are not the target's: %s" % seized
        assert sorted(seized) == sorted(detached), \
            "seized %s, detached %s" % (sorted(seized), sorted(detached))
        for c in calls:
            if c[0] == "PTRACE_SEIZE":
                assert re.match(r", NULL, 0\) = 0", c[2]), "seize with options: " + c[2]
        assert not re.search(r"\b(process_vm_writev|kill|tkill|tgkill|pidfd_send_signal)\(",
                             text), text[-1000:]
        assert_untouched(t.pid, "after dump --native under strace")

    # Nothing to stop: no holder (every thread sleeps with the GIL
    # released), so the default dump takes no native stack.
    with start_target(py, "threads.py", ["--sleep", 2]) as t:
        text = _strace(ctx, ["dump", "-p", t.pid], "default-idle")
        assert "ptrace(" not in text, "default dump without a holder used ptrace: " + text[-800:]


def global_dump_stopped_target_untouched(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", HOLD) as t:
        os.kill(t.pid, signal.SIGSTOP)
        try:
            assert wait_for(lambda: all(s[0] == "T" for s in task_status(t.pid).values()), 5)
            text = _strace(ctx, ["dump", "-p", t.pid, "--native", "--json"], "stopped")
            assert "PTRACE_SEIZE" not in text, "seized a stopped thread: " + text[-800:]
            st = task_status(t.pid)
            assert all(s == ("T", 0) for s in st.values()), st
        finally:
            os.kill(t.pid, signal.SIGCONT)
        rc, out, err = ctx.run(["dump", "-p", t.pid, "--native", "--json"])
        assert rc == 0, err
        assert_untouched(t.pid, "after SIGCONT")


def global_dump_thread_churn(ctx):
    py = pick(ctx)
    with start_target(py, "churn.py", ["--rate", 1000, "--sleep", 1]) as t:
        for i in range(5):
            doc = dump_json(ctx, t.pid, "--native")
            assert doc["threads"], "no thread at all"
            for th in doc["threads"]:
                ns = th["native_stack"]
                assert ns is not None, th
                assert ns["taken"] or "exited" in ns["error"] or "stopped" in ns["error"], ns
            assert_untouched(t.pid, "after dump %d of a churning process" % i)
        assert t.alive()


def global_dump_errors(ctx):
    rc, out, err = ctx.run(["dump"])
    one_line_error(rc, err, EXIT_USAGE, "dump without -p", ["-p"])
    rc, out, err = ctx.run(["dump", "-p", 1, "--native", "--no-native"])
    one_line_error(rc, err, EXIT_USAGE, "--native --no-native", ["--native"])
    rc, out, err = ctx.run(["dump", "-p", "12x"])
    one_line_error(rc, err, EXIT_USAGE, "dump -p 12x")
    rc, out, err = ctx.run(["dump", "-p", 4000000])
    one_line_error(rc, err, EXIT_NOPROC, "dump of no process")
    p = start_sleeper()
    try:
        rc, out, err = ctx.run(["dump", "-p", p.pid, "--native"])
        one_line_error(rc, err, EXIT_NOTPY, "dump of sleep(1)")
        assert out == "", out
        assert_untouched(p.pid, "after dump of a non-Python process")
    finally:
        p.kill()
        p.wait()


def global_dump_traced_thread_untouched(ctx):
    """A thread another tracer holds is left to it, and said to be."""
    strace = need_tool("strace")
    py = pick(ctx)
    with start_target(py, "threads.py", HOLD) as t:
        tid = t.tids["sleep-1"]
        tr = subprocess.Popen([strace, "-qq", "-o", "/dev/null", "-p", str(tid)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert wait_for(lambda: task_status(t.pid).get(tid, ("", 0))[1] == tr.pid, 10), \
                "strace never attached"
            doc = dump_json(ctx, t.pid, "--native")
            ns = by_tid(doc)[tid]["native_stack"]
            assert ns["taken"] is False and "traced by process %d" % tr.pid in ns["error"], ns
            others = [th for th in doc["threads"] if th["tid"] != tid]
            assert all(th["native_stack"]["taken"] for th in others), \
                [th["native_stack"] for th in others]
            assert task_status(t.pid)[tid][1] == tr.pid, "the other tracer lost its thread"
        finally:
            tr.kill()
            tr.wait()
        assert_untouched(t.pid, "after the other tracer left")


FREEZER = "/sys/fs/cgroup/freezer"


class Frozen:
    """One thread frozen by the cgroup v1 freezer: it sleeps
    uninterruptibly (state D) and cannot reach a ptrace stop."""

    def __init__(self, tid):
        if not os.access(os.path.join(FREEZER, "tasks"), os.W_OK):
            raise Skip("no writable cgroup v1 freezer at %s" % FREEZER)
        self.tid = tid
        self.dir = os.path.join(FREEZER, "gilsnoop-test-%d" % os.getpid())
        os.makedirs(self.dir, exist_ok=True)
        self._write("tasks", tid)
        self._write("freezer.state", "FROZEN")
        if not wait_for(lambda: self._read("freezer.state") == "FROZEN", 5):
            self.close()
            raise Skip("the freezer did not freeze the thread")

    def _write(self, name, value):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("%s\n" % value)

    def _read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read().strip()

    def thaw(self):
        self._write("freezer.state", "THAWED")

    def close(self):
        try:
            self.thaw()
            with open(os.path.join(self.dir, "tasks")) as f:
                tids = f.read().split()
            for t in tids:
                with open(os.path.join(FREEZER, "tasks"), "w") as f:
                    f.write(t + "\n")
            os.rmdir(self.dir)
        except OSError:
            pass


@timeout(300)
def global_dump_thread_that_will_not_stop(ctx):
    """A thread in uninterruptible sleep: dump gives up after 50 ms, says
    why, and leaves no trace of itself, whether the thread wakes up
    while dump still runs or after it has gone."""
    py = pick(ctx)
    with start_target(py, "threads.py", ["--cpu", 1, "--sleep", 3, "--holdsleep"]) as t:
        # The main thread: first in line after the holder and waiters,
        # so that dump still has three threads to go after it.
        tid = t.tids["main"]
        fr = Frozen(tid)
        try:
            assert wait_for(lambda: task_status(t.pid)[tid][0] == "D", 5), task_status(t.pid)
            doc = dump_json(ctx, t.pid, "--native")
            ns = by_tid(doc)[tid]["native_stack"]
            assert ns["taken"] is False and "did not stop within 50 ms" in ns["error"], ns
            assert "state D" in ns["error"], ns
            # dump has exited: the kernel let go of the seized thread.
            assert task_status(t.pid)[tid] == ("D", 0), task_status(t.pid)[tid]
            fr.thaw()
            assert wait_for(lambda: task_status(t.pid)[tid][0] != "D", 5)
            assert_untouched(t.pid, "thawed after dump ended")

            # Thawed while dump still runs: the thread reaches the stop
            # it was asked for, and dump lets it go.
            fr._write("freezer.state", "FROZEN")
            assert wait_for(lambda: task_status(t.pid)[tid][0] == "D", 5)
            bg = Background(ctx, ["dump", "-p", t.pid, "--native"],
                            env={"GILSNOOP_TEST_STOP_DELAY": "detached:2000"})
            # Holder and waiters go first, 2 s each.
            assert wait_for(lambda: task_status(t.pid)[tid][1] == bg.pid, 30), \
                "dump never seized the frozen thread"
            time.sleep(0.3)  # past dump's 50 ms wait: it has given up on it
            fr.thaw()
            assert wait_for(lambda: task_status(t.pid)[tid][0] == "t", 3), \
                "the thawed thread never reached its stop: %s" % (task_status(t.pid),)
            # dump lets it go with its next thread (2 s apart here), not
            # only at its end (three threads, 6 s, later).
            assert wait_for(lambda: task_status(t.pid)[tid][1] == 0, 4), \
                "dump kept the woken thread: %s" % (task_status(t.pid),)
            assert bg.proc.poll() is None, "dump ended before it let the thread go"
            rc, out, err = bg.wait(timeout=60)
            assert rc == 0, err
            assert_untouched(t.pid, "thawed while dump ran")
            assert_runs(t.pid, "thawed while dump ran")
        finally:
            fr.close()


# ---------------------------------------------------------------- Python frames

import test_pystack as tp  # noqa: E402  (its expected stacks of stacks.py)

SHOWN = 256  # Python frames dump shows per thread (DUMP_PY_FRAMES)


def py_mismatches(py, t, doc):
    want = tp.expected_tops(py, t)
    threads = by_tid(doc)
    bad = []
    if doc["python_stacks_error"]:
        return ["stacks unavailable: %s" % doc["python_stacks_error"]]
    for name, tid in sorted(t.tids.items()):
        th = threads.get(tid)
        if th is None:
            bad.append("%s (%d) missing" % (name, tid))
            continue
        if th["python_name"] != name:
            bad.append("%s: python_name %r" % (name, th["python_name"]))
        st = th["python_stack"]
        if name not in want:
            continue
        if not st or st["partial"] or st["changing"]:
            bad.append("%s: stack %r" % (name, st))
            continue
        got = [(f["function"], f["line"]) for f in st["frames"][:len(want[name])]]
        if got != want[name]:
            bad.append("%s: frames %r, want %r" % (name, got, want[name]))
        elif any(f["file"] != t.info["file"] for f in st["frames"][:len(want[name])]):
            bad.append("%s: files %r" % (name, [f["file"] for f in st["frames"][:3]]))
    return bad


def py_settled(ctx, t, py, *args, attempts=30):
    bad = None
    for _ in range(attempts):
        doc = dump_json(ctx, t.pid, *args)
        bad = py_mismatches(py, t, doc)
        if not bad:
            return doc
        time.sleep(0.1)
    raise AssertionError("after %d dumps the stacks still differ:\n  %s"
                         % (attempts, "\n  ".join(bad)))


def test_dump_python_stacks(py, ctx):
    """Named threads at known lines, a generator, a coroutine under
    asyncio: functions, files, lines and thread names right, in text
    as in JSON."""
    with start_target(py, "stacks.py") as t:
        doc = py_settled(ctx, t, py, "--no-native")
        threads = by_tid(doc)
        coro = [f["function"] for f in threads[t.tids["coro"]]["python_stack"]["frames"]]
        assert any("run_until_complete" in n for n in coro), coro
        rc, out, err = ctx.run(["dump", "-p", t.pid, "--no-native"])
        assert rc == 0, err
        ln = t.info["lines"]
        block = out.split("\nThread %d " % t.tids["sleeper-a"], 1)[1].split("\nThread ", 1)[0]
        assert block.startswith('"sleeper-a"'), block[:200]
        assert "      nap (%s:%d)\n      level_b (%s:%d)\n" % (
            t.info["file"], ln["nap"], t.info["file"], ln["level_b"]) in block, block


def test_dump_native_interleaved(py, ctx):
    """With --native, each thread's Python frames sit under its eval-loop
    frames, all of them, in order, read in the same stop."""
    with start_target(py, "stacks.py") as t:
        doc = py_settled(ctx, t, py, "--native")
        unmerged = []
        for name, tid in sorted(t.tids.items()):
            th = by_tid(doc)[tid]
            ns, st = th["native_stack"], th["python_stack"]
            if name == "spin" or not ns["taken"] or not st["frames"]:
                continue
            if not ns["merged"]:
                unmerged.append("%s: %d eval frames (by %s), %d entry frames; native %s"
                                % (name, ns["eval_frames"], ns["eval_found_by"],
                                   ns["entry_frames"], frame_names(th)))
                continue
            order = [i for f in ns["frames"] for i in f.get("python_frames", [])]
            assert order == list(range(len(st["frames"]))), (name, order)
        assert not unmerged, "not interleaved:\n  " + "\n  ".join(unmerged)
        if py.minor >= 12:
            assert all(by_tid(doc)[tid]["native_stack"]["eval_found_by"] == "stack"
                       for n, tid in t.tids.items()
                       if by_tid(doc)[tid]["native_stack"]["taken"] and n != "spin"), \
                "3.12+ finds eval loops from the C stack"
        assert_untouched(t.pid, "after dump --native of stacks.py")


def test_dump_deep_recursion_bounded(py, ctx):
    depth = 300
    with start_target(py, "stacks.py", ["--depth", depth]) as t:
        doc = py_settled(ctx, t, py, "--native")
        th = by_tid(doc)[t.tids["deep"]]
        st = th["python_stack"]
        assert len(st["frames"]) == SHOWN and st["truncated"], (len(st["frames"]), st["truncated"])
        assert th["native_stack"]["taken"], th["native_stack"]
        assert not th["native_stack"]["merged"], "a cut Python stack was interleaved"
        rc, out, err = ctx.run(["dump", "-p", t.pid, "--native"])
        assert rc == 0, err
        block = out.split("\nThread %d " % t.tids["deep"], 1)[1].split("\nThread ", 1)[0]
        assert "(the outermost frames are not shown)" in block, block[-500:]
        assert "Python frames not interleaved" in block, block[-800:]
        # Bounded by the caps: 256 Python frames, 4096 native ones.
        assert len(block.split("\n")) < SHOWN + 4096 + 20, "unbounded output"
        assert not th["native_stack"]["truncated"], "300 calls fit the native cap"
