"""Python thread names (threading.Thread.name) next to the kernel name
wherever record, report and top name a thread: "k-name (py-name)" for a
thread whose names differ, the comm alone when they match.  A thread
renamed in Python only, while it is recorded, gets a second thread_name
event.

One target per interpreter: record (json) runs while record --format
jsonl -d 0.5 and top -b watch the same process (they may see either name:
the thread is renamed once the json recording has written its first)."""
import json
import os
import signal

from common import Skip, start_target
from recording import (Recorder, file_has, load_trace, skip_if_unsupported,
                       wait_for)

NAMED = "k-name (py-name)"
RENAMED = "k-name (py-renamed)"


def _row(text, tid):
    return [ln for ln in text.splitlines() if ln.split()[:1] == [str(tid)]]


def _skip_without_names(ctx, t):
    """A build whose layout cannot read objects shows comms only (info
    says so too): that is a skip, not a pass."""
    rc, out, err = ctx.run(["info", "--json", "-p", t.pid])
    assert rc == 0, "info --json exited %d: %s" % (rc, err)
    by_tid = {th["tid"]: th for th in json.loads(out)["threads"]}
    if by_tid[t.tids["py-name"]]["python_name"] is None:
        raise Skip("no Python thread names on this build (info shows none)")


def test_pynames_record_top_report(py, ctx):
    with start_target(py, "threads.py", ["--cpu", 1, "--pyname"]) as t:
        tid, main = t.tids["py-name"], t.tids["main"]
        comm = t.comm(main)
        main_name = comm if comm == "MainThread" else "%s (MainThread)" % comm
        path = os.path.join(ctx.tmpdir, "pynames.json")
        jl = os.path.join(ctx.tmpdir, "pynames.jsonl")
        r = Recorder(ctx, ["record", "-p", t.pid, "-o", path, "-d", 20])
        j = Recorder(ctx, ["record", "-p", t.pid, "-o", jl, "-d", 0.5,
                           "--format", "jsonl"])
        tp = Recorder(ctx, ["top", "-b", "-p", t.pid, "-n", 1, "-i", 0.4])
        try:
            wait_for(lambda: file_has(path, '"%s"' % NAMED) or r.proc.poll() is not None,
                     15, "record to write %r" % NAMED)
        except AssertionError:
            pass
        if not file_has(path, '"%s"' % NAMED):
            r.signal(signal.SIGINT)
            rc, out, err = r.finish()
            skip_if_unsupported(rc, err)
            _skip_without_names(ctx, t)
            raise AssertionError("record (rc %d) never named tid %d %r: %s" % (
                rc, tid, NAMED, err))
        os.kill(t.pid, signal.SIGUSR2)
        # Names are re-read every second, the file flushed every second.
        wait_for(lambda: file_has(path, RENAMED), 10,
                 "a thread_name event %r in %s" % (RENAMED, path))
        r.signal(signal.SIGINT)
        rc, out, err = r.finish()
        jrc, jout, jerr = j.finish()
        trc, top, terr = tp.finish()
    assert jrc == 0, "record --format jsonl exited %d: %s" % (jrc, jerr)
    assert trc == 0, "top -b exited %d: %s" % (trc, terr)
    assert rc == 0, "record exited %d: %s" % (rc, err)

    row = _row(top, tid)
    assert row and (NAMED in row[0] or RENAMED in row[0]), \
        "top -b row of tid %d: %r, want %r\n%s" % (tid, row, NAMED, top)
    row = _row(top, main)
    assert row and main_name in row[0], "top -b row of main: %r, want %r" % (row, main_name)

    names = {}
    with open(jl, encoding="utf-8") as f:
        for ln in f.read().splitlines()[1:]:
            rec = json.loads(ln)
            if "tid" in rec:
                names.setdefault(rec["tid"], set()).add(rec["name"])
    assert names.get(tid) and names[tid] <= {NAMED, RENAMED}, \
        "jsonl intervals of tid %d named %r, want %r" % (tid, names.get(tid), NAMED)
    assert names.get(main) == {main_name}, "jsonl: main named %r, want %r" % (
        names.get(main), main_name)
    row = _row(jout, tid)
    assert row and (NAMED in row[0] or RENAMED in row[0]), "jsonl record's summary: %r\n%s" % (row, jout)

    doc = load_trace(path)
    evs = [e for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
    got = [e["args"]["name"] for e in evs if e["tid"] == tid]
    assert got == [NAMED, RENAMED], \
        "thread_name events of tid %d: %r, want %r then %r" % (tid, got, NAMED, RENAMED)
    got = [e["args"]["name"] for e in evs if e["tid"] == main]
    assert got == [main_name], "thread_name of main: %r, want %r" % (got, main_name)
    row = _row(out, tid)
    assert row and RENAMED in row[0], "record's summary: %r, want %r\n%s" % (row, RENAMED, out)
    rc, rout, err = ctx.run(["report", path])
    assert rc == 0, "report exited %d: %s" % (rc, err)
    row = _row(rout, tid)
    assert row and RENAMED in row[0], "report: %r, want %r\n%s" % (row, RENAMED, rout)
    row = _row(rout, main)
    assert row and main_name in row[0], "report: %r, want %r" % (row, main_name)
