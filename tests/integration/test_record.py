"""gilsnoop record: the trace file's contract (docs/trace-format.md), how
recording ends (duration, SIGINT, target exit, SIGKILL of gilsnoop), the
launch mode, merging with a VizTracer trace, and bad input.
"""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

from common import Skip, start_sleeper, start_target
from recording import (CSV_HEADER, count_in, EVENT_NAMES, GIL_PID_OFFSET, JSONL_KEYS,
                       ROLE_EVENT, ROLES, Recorder, check_one_line_error,
                       exact_ns, file_has, gil_events, load_trace, mono_us,
                       nesting_problems, ns, record, skip_if_unsupported,
                       strict_json, summary_mentions, wait_for)

WORKLOAD = ["--cpu", 2, "--sleep", 1]
CPU = ("cpu-1", "cpu-2")


def test_record_contract(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        path, rc, out, err = record(ctx, t, seconds=2)
        tasks = set(t.task_ids())
    doc = load_trace(path)
    now = mono_us()
    gp = t.pid + GIL_PID_OFFSET
    events = doc["traceEvents"]
    g = doc["otherData"]["gilsnoop"]
    assert g["pid"] == t.pid, g
    assert g["python_version"].startswith("%d.%d." % py.version[:2]), g
    assert g["rate_hz"] == 1000 and g["samples"] > 100, g
    assert g["stopped_by"] == "duration" and g["target_exited"] is False, g

    # Nothing on the real pid: VizTracer owns its tracks.
    assert all(e.get("pid") == gp for e in events), \
        "events outside pid %d: %r" % (gp, [e for e in events if e.get("pid") != gp][:3])
    pnames = [e for e in events if e["ph"] == "M" and e["name"] == "process_name"]
    assert pnames and pnames[0]["args"]["name"].startswith("GIL: ") and \
        pnames[0]["args"]["name"].endswith("(pid %d)" % t.pid), pnames[:1]
    assert pnames[0]["args"]["gilsnoop"]["python_version"] == g["python_version"]
    assert any(e["ph"] == "M" and e["name"] == "process_sort_index" for e in events)

    xs = [e for e in events if e["ph"] == "X"]
    assert xs, "no X events"
    bad = [e for e in xs if e["name"] not in EVENT_NAMES or e.get("cat") != "gil"]
    assert not bad, "events outside the allowed names/category: %r" % bad[:3]
    instants = [e for e in events if e["ph"] == "i"]
    for e in xs + instants:
        assert e["args"]["role"] in ROLES and ROLE_EVENT[e["args"]["role"]] == e["name"], e
        # What varies from slice to slice stays out of args, which
        # speedscope takes for the slice's identity.
        assert set(e["args"]) <= {"role", "syscall", "path", "wchan"}, e
        g = e["gilsnoop"]
        assert isinstance(g["samples"], int) and g["samples"] >= 1, e
        assert len(g["ns"]) == 2 and all(isinstance(v, int) and 0 <= v < 1000
                                         for v in g["ns"]), e
        # Whole microseconds: they add exactly in a viewer's doubles.
        assert isinstance(e["ts"], int), e
        assert abs(e["ts"] - now) < 60e6, "ts %d is not within a minute of " \
            "CLOCK_MONOTONIC now (%.3f)" % (e["ts"], now)
    for e in xs:
        assert isinstance(e["dur"], int) and e["dur"] >= 1, e
    for e in instants:
        assert e["s"] == "t" and "dur" not in e, e
    # Consecutive intervals of a thread (slices and the instants of
    # those shorter than a microsecond) meet exactly, to the nanosecond.
    per_tid = {}
    for e in xs + instants:
        per_tid.setdefault(e["tid"], []).append(exact_ns(e) + (e["name"],))
    for tid, ivs in per_tid.items():
        ivs.sort()
        for a, b in zip(ivs, ivs[1:]):
            assert a[1] == b[0], "tid %d: %r ends at %d ns, %r starts at %d ns" % (
                tid, a[2], a[1], b[2], b[0])
    xtids = {e["tid"] for e in xs}
    assert xtids <= tasks, "tids %s are not threads of %d (%s)" % (
        sorted(xtids - tasks), t.pid, sorted(tasks))
    want = set(t.tids.values())
    assert want <= xtids, "no intervals for %s" % sorted(want - xtids)
    named = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert xtids <= set(named), "no thread_name for %s" % sorted(xtids - set(named))
    for name in CPU:
        assert named[t.tids[name]] == name, named
        kinds = {e["name"] for e in xs if e["tid"] == t.tids[name]}
        assert {"GIL held", "GIL wait"} <= kinds, \
            "%s (CPU bound) shows only %s" % (name, sorted(kinds))
    # A thread's intervals tile its time: no overlaps on any track.
    problems = nesting_problems(events)
    assert not problems, "\n".join(problems)

    counters = [e for e in events if e["ph"] == "C"]
    assert counters, "no GIL waiters counter"
    vals = [e["args"]["waiters"] for e in counters]
    assert all(a != b for a, b in zip(vals, vals[1:])), \
        "counter written without a change: %s" % vals[:40]
    assert all(0 <= v <= len(tasks) for v in vals), vals[:40]

    assert "GIL utilisation" in out, "no summary on stdout:\n" + out
    summary_mentions(out, [t.tids[n] for n in CPU])


def test_record_sigint_finalises(py, ctx):
    path = os.path.join(ctx.tmpdir, "gil.json")
    with start_target(py, "threads.py", WORKLOAD) as t:
        rec = Recorder(ctx, ["record", "-p", t.pid, "-o", path])
        try:
            wait_for(lambda: rec.proc.poll() is not None or
                     file_has(path, '"ph":"X"') and file_has(path, "gilsnoop_progress"),
                     20, "the first events to be flushed")
        finally:
            if rec.proc.poll() is None:
                rec.signal(signal.SIGINT)
        rc, out, err = rec.finish()
    skip_if_unsupported(rc, err)
    assert rc == 0, "exit %d after SIGINT: %s" % (rc, err)
    doc = load_trace(path)
    g = doc["otherData"]["gilsnoop"]
    assert g["stopped_by"] == "SIGINT", g
    assert "GIL utilisation" in out, out
    summary_mentions(out, [t.tids[n] for n in CPU])


def test_record_target_exit_finalises(py, ctx):
    path = os.path.join(ctx.tmpdir, "gil.json")
    with start_target(py, "threads.py", WORKLOAD) as t:
        rec = Recorder(ctx, ["record", "-p", t.pid, "-o", path])
        wait_for(lambda: rec.proc.poll() is not None or file_has(path, '"ph":"X"'),
                 20, "events in the file")
        t.proc.kill()
        t.proc.wait()
        rc, out, err = rec.finish()
    skip_if_unsupported(rc, err)
    assert rc == 0, "exit %d after the target exited: %s" % (rc, err)
    doc = load_trace(path)
    g = doc["otherData"]["gilsnoop"]
    assert g["target_exited"] is True and g["stopped_by"] == "target exited", g
    assert gil_events(doc, t.pid, "X"), "no intervals"
    assert "target exited" in out and "GIL utilisation" in out, out


def test_record_sigkill_report(py, ctx):
    path = os.path.join(ctx.tmpdir, "gil.json")
    with start_target(py, "threads.py", WORKLOAD) as t:
        rec = Recorder(ctx, ["record", "-p", t.pid, "-o", path])
        # Two progress records: the idle main thread is listed as open
        # in the second.
        wait_for(lambda: rec.proc.poll() is not None or
                 count_in(path, "gilsnoop_progress") >= 2,
                 30, "two progress records")
        rec.signal(signal.SIGKILL)
        rc, _, err = rec.finish(allow_signal=True)
    skip_if_unsupported(rc, err)
    assert rc == -signal.SIGKILL, "gilsnoop exited %d before the kill: %s" % (rc, err)
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    try:
        json.loads(text)
        raise AssertionError("a killed recording parsed as complete JSON")
    except ValueError:
        pass
    rc, out, err = ctx.run(["report", path])
    assert rc == 0, "report exited %d: %s" % (rc, err)
    assert "truncated" in out, "report does not say the file was cut:\n" + out
    summary_mentions(out, list(t.tids.values()))
    rc, out, err = ctx.run(["report", "--json", path])
    assert rc == 0, err
    s = strict_json(out, "report --json")
    assert s["truncated"] is True and s["pid"] == t.pid, s
    by_tid = {th["tid"]: th for th in s["threads"]}
    assert set(t.tids.values()) <= set(by_tid), by_tid.keys()
    for name in CPU:
        assert by_tid[t.tids[name]]["held_pct"] > 0, by_tid[t.tids[name]]
    # The main thread sleeps for the whole run: its single interval was
    # open when gilsnoop died and comes from the progress record.
    assert by_tid[t.tids["main"]]["seconds"] > 0.5, by_tid[t.tids["main"]]


# Spins for a fixed time rather than a fixed count, so that even the
# first attach (which may parse DWARF) leaves plenty to sample.
SHORT_SCRIPT = """
import sys, threading, time
def spin():
    end = time.time() + %f
    n = 0
    while time.time() < end:
        for i in range(1000):
            n += i
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
sys.exit(%d)
"""


def test_record_launch(py, ctx):
    path = os.path.join(ctx.tmpdir, "gil.json")
    rc, out, err = ctx.run(["record", "-o", path, "--"] + py.argv +
                           ["-c", SHORT_SCRIPT % (1.5, 7)], timeout=120)
    skip_if_unsupported(rc, err)
    assert rc == 7, "exit %d, want the command's 7: %s" % (rc, err)
    doc = load_trace(path)
    g = doc["otherData"]["gilsnoop"]
    assert g["target_exited"] is True, g
    assert g["python_version"] and g["python_version"].startswith(
        "%d.%d." % py.version[:2]), g
    xs = gil_events(doc, g["pid"], "X")
    held = {e["tid"] for e in xs if e["name"] == "GIL held"}
    assert len(held) >= 2, "want the GIL held by the spinning threads, got %s" % held
    assert "GIL utilisation" in out, out

    # Killed by a signal: 128 + N.
    path2 = os.path.join(ctx.tmpdir, "gil2.json")
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    rc, out, err = ctx.run(["record", "-o", path2, "--"] + py.argv + ["-c", code],
                           timeout=120)
    assert rc == 128 + signal.SIGTERM, "exit %d, want 143: %s" % (rc, err)
    load_trace(path2)


LATE_THREAD = """
import threading, time
time.sleep(0.5)
def spin():
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        pass
t = threading.Thread(target=spin, name="late")
t.start()
spin()
t.join()
"""


def test_record_launch_first_thread(py, ctx):
    """-- CMD on a program that starts its first thread only later: on
    3.6, whose GIL is made then, the recording starts there; one that
    never starts a thread leaves a file with no samples and a warning
    that says why."""
    path = os.path.join(ctx.tmpdir, "late.json")
    rc, out, err = ctx.run(["record", "-o", path, "--"] + py.argv + ["-c", LATE_THREAD],
                           timeout=60)
    skip_if_unsupported(rc, err)
    assert rc == 0, "exit %d: %s" % (rc, err)
    doc = load_trace(path)
    g = doc["otherData"]["gilsnoop"]
    xs = gil_events(doc, g["pid"], "X")
    held = {e["tid"] for e in xs if e["name"] == "GIL held"}
    assert len(held) == 2, "want both spinning threads holding, got %s" % held
    if py.version[:2] != (3, 6):
        return
    path2 = os.path.join(ctx.tmpdir, "nothread.json")
    rc, out, err = ctx.run(["record", "-o", path2, "--"] + py.argv +
                           ["-c", "import time; time.sleep(0.4)"], timeout=60)
    assert rc == 0, "exit %d: %s" % (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gilsnoop: warning: "), err
    assert "holds no samples" in lines[0] and "no GIL yet" in lines[0] and \
        "first thread" in lines[0], lines[0]
    doc = load_trace(path2)
    assert not gil_events(doc, doc["otherData"]["gilsnoop"]["pid"] or 0, "X"), \
        "samples in the recording of a 3.6 program without a GIL"


def test_record_viztracer_merge(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        path, rc, out, err = record(ctx, t, seconds=2)
    doc = load_trace(path)
    xs = gil_events(doc, t.pid, "X")
    t0 = min(e["ts"] for e in xs)
    t1 = max(e["ts"] + e["dur"] for e in xs)
    # VizTracer-style slices: pid = the process, tid = native tid, a
    # main() over the whole run, calls in it, and leaves in the calls.
    viz = []
    for tid in [t.tids[n] for n in CPU] + [t.tids["main"]]:
        viz.append({"ph": "X", "name": "main", "pid": t.pid, "tid": tid,
                    "ts": round(t0, 3), "dur": round(t1 - t0, 3), "cat": "FEE"})
        step = (t1 - t0) / 50
        for i in range(50):
            s = t0 + i * step
            viz.append({"ph": "X", "name": "work", "pid": t.pid, "tid": tid,
                        "ts": round(s + 1, 3), "dur": round(step - 2, 3), "cat": "FEE"})
            viz.append({"ph": "X", "name": "inner", "pid": t.pid, "tid": tid,
                        "ts": round(s + 2, 3), "dur": round((step - 4) / 2, 3),
                        "cat": "FEE"})
    viz.append({"ph": "M", "name": "process_name", "pid": t.pid, "tid": t.pid,
                "args": {"name": "python"}})
    assert not nesting_problems(viz), "the test's own VizTracer slices do not nest"
    merged = {"traceEvents": viz + doc["traceEvents"],
              "viztracer_metadata": {"version": "0.16.0"}}
    strict_json(json.dumps(merged), "merged")
    problems = nesting_problems(merged["traceEvents"])
    assert not problems, "after merging:\n" + "\n".join(problems)
    gil_tracks = {(e["pid"], e["tid"]) for e in xs}
    viz_tracks = {(e["pid"], e["tid"]) for e in viz if e["ph"] == "X"}
    assert not gil_tracks & viz_tracks, "GIL slices share VizTracer's tracks"


def test_record_jsonl_and_csv(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        pj, _, _, _ = record(ctx, t, seconds=1, fmt="jsonl", name="gil.jsonl")
        pc, _, _, _ = record(ctx, t, seconds=1, fmt="csv", name="gil.csv")
        # "-" is standard output; the summary then goes to stderr.
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", "-", "--format", "jsonl",
                                "-d", 1])
    assert rc == 0, err
    assert "GIL utilisation" in err and "GIL utilisation" not in out, (out[-300:], err)
    rows = [strict_json(l, "jsonl line") for l in out.splitlines()]
    assert rows and "gilsnoop" in rows[0] and "gilsnoop_end" in rows[-1], rows[:1]

    with open(pj, encoding="utf-8") as f:
        lines = [strict_json(l, pj) for l in f.read().splitlines()]
    ivs = [r for r in lines if "tid" in r]
    assert ivs, "no interval lines"
    for r in ivs:
        assert set(r) == JSONL_KEYS, sorted(r)
        assert r["state"] in ROLES, r
    assert {t.tids[n] for n in CPU} <= {r["tid"] for r in ivs}
    assert {r["name"] for r in ivs if r["tid"] == t.tids["cpu-1"]} == {"cpu-1"}

    with open(pc, newline="", encoding="utf-8") as f:
        raw = f.read()
    assert raw.startswith(",".join(CSV_HEADER) + "\r\n"), raw[:80]
    table = list(csv.reader(io.StringIO(raw, newline=""), strict=True))
    assert table[0] == CSV_HEADER
    assert all(len(r) == len(CSV_HEADER) for r in table), "ragged rows"
    assert {str(t.tids[n]) for n in CPU} <= {r[0] for r in table[1:]}
    for r in table[1:]:
        assert r[2] in ROLES, r
        float(r[3]), float(r[4]), int(r[5])


# ------------------------------------------------------------ bad input

def any_interpreter(ctx):
    if not ctx.interpreters:
        raise Skip("no interpreter to run a target")
    return ctx.interpreters[0]


def global_record_needs_output(ctx):
    rc, out, err = ctx.run(["record", "-p", os.getpid()])
    check_one_line_error(rc, out, err, 2, "no -o", ["-o"])
    assert out == ""


def global_record_bad_arguments(ctx):
    f = os.path.join(ctx.tmpdir, "x.json")
    cases = [
        (["-p", 1, "-o", f, "-r", "fast"], "rate"),
        (["-p", 1, "-o", f, "-r", "0"], "rate"),
        (["-p", 1, "-o", f, "-d", "-3"], "duration"),
        (["-p", 1, "-o", f, "--format", "xml"], "format"),
        (["-o", f], "-p PID"),
        (["-p", 1, "-o", f, "--", "true"], "not both"),
        (["-p", 1, "-o", "-"], "jsonl"),
        (["-p", "abc", "-o", f], "pid"),
    ]
    for args, word in cases:
        rc, out, err = ctx.run(["record"] + args)
        check_one_line_error(rc, out, err, 2, " ".join(map(str, args)), [word])
        assert out == ""
        assert not os.path.exists(f), "%s left %s behind" % (args, f)


def global_record_unwritable_output(ctx):
    bad = os.path.join(ctx.tmpdir, "no-such-dir", "gil.json")
    rc, out, err = ctx.run(["record", "-p", os.getpid(), "-o", bad])
    check_one_line_error(rc, out, err, 1, "missing directory", [bad])
    # A directory is not a file either.
    rc, out, err = ctx.run(["record", "-p", os.getpid(), "-o", ctx.tmpdir, "--force"])
    check_one_line_error(rc, out, err, 1, "directory", [ctx.tmpdir])


def global_record_existing_file(ctx):
    f = os.path.join(ctx.tmpdir, "gil.json")
    with open(f, "w") as fh:
        fh.write("precious\n")
    rc, out, err = ctx.run(["record", "-p", os.getpid(), "-o", f])
    check_one_line_error(rc, out, err, 1, "existing file", ["--force", f])
    with open(f) as fh:
        assert fh.read() == "precious\n", "existing file was changed"


def global_record_not_python_leaves_no_file(ctx):
    f = os.path.join(ctx.tmpdir, "gil.json")
    sleeper = start_sleeper()
    try:
        rc, out, err = ctx.run(["record", "-p", sleeper.pid, "-o", f])
    finally:
        sleeper.kill()
        sleeper.wait()
    check_one_line_error(rc, out, err, 5, "sleep is not Python")
    assert not os.path.exists(f), "a failed attach left %s behind" % f


def global_record_command_not_executable(ctx):
    f = os.path.join(ctx.tmpdir, "gil.json")
    rc, out, err = ctx.run(["record", "-o", f, "--", "/no/such/program", "x"])
    check_one_line_error(rc, out, err, 127, "missing command", ["/no/such/program"])
    assert not os.path.exists(f), "left %s behind" % f
    plain = os.path.join(ctx.tmpdir, "plain.txt")
    with open(plain, "w") as fh:
        fh.write("not a program\n")
    os.chmod(plain, 0o644)
    rc, out, err = ctx.run(["record", "-o", f, "--", plain])
    check_one_line_error(rc, out, err, 126, "non-executable command", [plain])
    assert not os.path.exists(f), "left %s behind" % f


def global_record_disk_full(ctx):
    py = any_interpreter(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", "/dev/full", "--force",
                                "-d", 5])
        skip_if_unsupported(rc, err)
        check_one_line_error(rc, out, err, 1, "/dev/full",
                             ["/dev/full is incomplete", os.strerror(28)])
        # A real file system that fills up: the partial file stays and
        # report reads it.
        mnt = os.path.join(ctx.tmpdir, "small")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if m.returncode != 0:
            ctx.note("tmpfs", "cannot mount a tmpfs (%s): checked /dev/full only"
                     % m.stderr.decode(errors="replace").strip())
            return
        try:
            f = os.path.join(mnt, "gil.json")
            rc, out, err = ctx.run(["record", "-p", t.pid, "-o", f, "-r", "max",
                                    "-d", 60])
            check_one_line_error(rc, out, err, 1, "full tmpfs",
                                 [f + " is incomplete", os.strerror(28)])
            assert os.path.getsize(f) > 0
            rc, out, err = ctx.run(["report", f])
            assert rc == 0 and "truncated" in out, (rc, out, err)
        finally:
            subprocess.run(["umount", "-l", mnt])


def test_record_rename(py, ctx):
    """A thread renamed (prctl(PR_SET_NAME)) after record first saw it gets
    a second thread_name event with its new name, and the summaries of
    record and report name it by that."""
    with start_target(py, "threads.py", ["--cpu", 1, "--rename"]) as t:
        tid = t.tids["rename-me"]
        path = os.path.join(ctx.tmpdir, "rename.json")
        r = Recorder(ctx, ["record", "-p", t.pid, "-o", path, "-d", 20])
        wait_for(lambda: file_has(path, '"rename-me"') or r.proc.poll() is not None,
                 15, "record to write the thread's first name")
        if r.proc.poll() is not None:
            rc, out, err = r.finish()
            skip_if_unsupported(rc, err)
            raise AssertionError("record exited %d before the rename: %s" % (rc, err))
        os.kill(t.pid, signal.SIGUSR1)
        wait_for(lambda: t.comm(tid) == "renamed", 5, "the target to rename its thread")
        # The file is flushed every second; the comm is re-read within
        # a second of the rename.
        wait_for(lambda: file_has(path, '"renamed"'), 10,
                 "a thread_name event with the new name in %s" % path)
        r.signal(signal.SIGINT)
        rc, out, err = r.finish()
    assert rc == 0, "record exited %d: %s" % (rc, err)
    doc = load_trace(path)
    names = [e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name" and e["tid"] == tid]
    assert names == ["rename-me", "renamed"], \
        "thread_name events of tid %d: %r, want the old name then the new" % (tid, names)
    line = [ln for ln in out.splitlines() if ln.split()[:1] == [str(tid)]]
    assert line and "renamed" in line[0], \
        "record's summary line for tid %d: %r, want the new name\n%s" % (tid, line, out)
    rc, rout, err = ctx.run(["report", path])
    assert rc == 0, "report exited %d: %s" % (rc, err)
    line = [ln for ln in rout.splitlines() if ln.split()[:1] == [str(tid)]]
    assert line and "renamed" in line[0], \
        "report's line for tid %d: %r, want the new name\n%s" % (tid, line, rout)
