"""gilsnoop report: the summary rebuilt from a recording in each format,
from files cut short, and clear errors for files that are not recordings.
"""
import json
import os
import re
import subprocess
import sys

from common import start_target
from recording import (check_one_line_error, load_trace, record, strict_json,
                       summary_mentions)

WORKLOAD = ["--cpu", 2, "--sleep", 1]
CPU = ("cpu-1", "cpu-2")


def held_pct_column(text, tid):
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == str(tid):
            return float(f[2])
    raise AssertionError("no row for %d in:\n%s" % (tid, text))


def test_report_each_format(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        files = {}
        for fmt in ("json", "jsonl", "csv"):
            files[fmt] = record(ctx, t, seconds=1, fmt=fmt, name="gil." + fmt)
    for fmt, (path, _, rec_out, _) in files.items():
        rc, out, err = ctx.run(["report", path])
        assert rc == 0, "report %s exited %d: %s" % (fmt, rc, err)
        assert err == "", "report %s warned: %r" % (fmt, err)
        assert "truncated" not in out, "%s read as truncated:\n%s" % (fmt, out)
        summary_mentions(out, [t.tids[n] for n in CPU])
        rc, jout, err = ctx.run(["report", "--json", path])
        assert rc == 0, err
        s = strict_json(jout, "report --json " + fmt)
        assert s["truncated"] is False, s
        tids = {th["tid"] for th in s["threads"]}
        assert {t.tids[n] for n in CPU} <= tids, tids
        # The columns are named as in gilsnoop top.
        assert re.search(r"^\s*TID NAME +HELD% +OFFC% +WAIT% +HAND% +RUN% +IDLE% "
                         r"+LONGEST ", out, re.M), out
        # Only the json format says which threads run Python.
        want = bool if fmt == "json" else type(None)
        assert all(isinstance(th["python"], want) for th in s["threads"]), \
            (fmt, s["threads"])
        if fmt == "csv":
            assert s["samples"] is None and s["pid"] is None, s
            continue
        assert s["pid"] == t.pid and s["samples"] > 0, s
        assert s["python_version"].startswith("%d.%d." % py.version[:2]), s
        # The same figures as record printed when it stopped.
        for n in CPU:
            a = held_pct_column(rec_out, t.tids[n])
            b = held_pct_column(out, t.tids[n])
            assert abs(a - b) < 2.0, "%s held%%: record said %.1f, report %.1f" % (
                n, a, b)


def test_report_cut_mid_line(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        path, _, _, _ = record(ctx, t, seconds=2)
    load_trace(path)
    with open(path, "rb") as f:
        data = f.read()
    cut = os.path.join(ctx.tmpdir, "cut.json")
    # Half-way, in the middle of a line.
    k = len(data) // 2
    k = data.index(b"\n", k) + 10
    with open(cut, "wb") as f:
        f.write(data[:k])
    rc, out, err = ctx.run(["report", cut])
    assert rc == 0, "report of a cut file exited %d: %s" % (rc, err)
    assert "truncated" in out, out
    assert err == "", "one partial line is expected, not warned about: %r" % err
    summary_mentions(out, [t.tids[n] for n in CPU])


# A recording written by hand from docs/trace-format.md: thread 11 holds
# for 3 ms and waits 1 ms, thread 12 the other way round, then hands off.
G = (1 << 30) + 10
HAND = "\n".join([
    '{"traceEvents":[',
    '{"ph":"M","name":"process_name","pid":%d,"args":{"name":"GIL: x (pid 10)",'
    '"gilsnoop":{"format_version":1,"version":"0.1.0","python_version":"3.12.1",'
    '"pid":10,"comm":"x","rate_hz":1000.000}}},' % G,
    '{"ph":"M","name":"thread_name","pid":%d,"tid":11,"args":{"name":"a,\\"b","python":true}},' % G,
    '{"ph":"M","name":"thread_name","pid":%d,"tid":12,"args":{"name":"c","python":true}},' % G,
    '{"ph":"X","cat":"gil","name":"GIL held","pid":%d,"tid":11,"ts":100.000,"dur":3000.000,"args":{"role":"holding","samples":3}},' % G,
    '{"ph":"X","cat":"gil","name":"GIL wait","pid":%d,"tid":12,"ts":100.000,"dur":3000.000,"args":{"role":"waiting","samples":3}},' % G,
    '{"ph":"C","name":"GIL waiters","pid":%d,"ts":100.000,"args":{"waiters":1}},' % G,
    '{"ph":"Q","future":"event kinds are skipped"},',
    '{"ph":"X","cat":"gil","name":"GIL wait","pid":%d,"tid":11,"ts":3100.000,"dur":1000.000,"args":{"role":"waiting","samples":1}},' % G,
    '{"ph":"X","cat":"gil","name":"GIL held","pid":%d,"tid":12,"ts":3100.000,"dur":500.000,"args":{"role":"holding","samples":1}},' % G,
    '{"ph":"X","cat":"gil","name":"idle","pid":%d,"tid":12,"ts":3600.000,"dur":500.000,"args":{"role":"handoff","samples":1}},' % G,
    '{"ph":"M","name":"process_name","pid":%d,"args":{"name":"GIL: x (pid 10)",'
    '"gilsnoop_end":{"samples":5,"torn_samples":0,"switches":2,"missed_switches":0,'
    '"first_ts":100.000,"last_ts":4100.000,"target_exited":false,"stopped_by":"SIGINT"}}}' % G,
    '],',
    '"displayTimeUnit":"ns",',
    '"viztracer_metadata":{},',
    '"otherData":{"gilsnoop":{"format_version":1,"version":"0.1.0","python_version":'
    '"3.12.1","pid":10,"comm":"x","rate_hz":1000.000,"samples":5,"torn_samples":0,'
    '"switches":2,"missed_switches":0,"achieved_rate_hz":1000.000,"first_ts":100.000,'
    '"last_ts":4100.000,"target_exited":false,"stopped_by":"SIGINT"}}',
    '}', ''])


def write(ctx, name, data):
    path = os.path.join(ctx.tmpdir, name)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def global_report_reads_the_documented_format(ctx):
    json.loads(HAND)  # the hand-written file is itself valid JSON
    path = write(ctx, "hand.json", HAND)
    rc, out, err = ctx.run(["report", "--json", path])
    assert rc == 0, err
    assert err == "", "unknown event kinds must be skipped quietly: %r" % err
    s = strict_json(out, "report --json")
    assert s["pid"] == 10 and s["python_version"] == "3.12.1", s
    assert s["samples"] == 5 and s["switches"] == 2 and s["truncated"] is False, s
    assert abs(s["duration_s"] - 0.004) < 1e-9, s
    th = {t["tid"]: t for t in s["threads"]}
    assert th[11]["name"] == 'a,"b', th[11]
    assert abs(th[11]["held_pct"] - 75) < 1e-6 and abs(th[11]["waiting_pct"] - 25) < 1e-6, th[11]
    assert abs(th[12]["handoff_pct"] - 12.5) < 1e-6 and th[12]["idle_pct"] == 0, th[12]
    assert abs(th[11]["longest_hold_ms"] - 3) < 1e-6, th[11]
    assert th[11]["waits"] == 1 and abs(th[11]["wait_max_ms"] - 1) < 1e-6, th[11]
    rc, text, err = ctx.run(["report", path])
    assert rc == 0 and "SIGINT" in text and "truncated" not in text, text
    # The same file on standard input.
    rc, out2, err = ctx.run(["report", "--json", "-"], input=HAND)
    assert rc == 0 and strict_json(out2) == s, (rc, err)


def global_report_damaged_lines(ctx):
    lines = HAND.split("\n")
    lines.insert(5, "this line is damaged")
    path = write(ctx, "damaged.json", "\n".join(lines))
    rc, out, err = ctx.run(["report", path])
    assert rc == 0, err
    assert "skipped 1 events or lines" in err and "line 6" in err, err
    assert len(err.strip().splitlines()) == 1, err


def global_report_cut_everywhere(ctx):
    """Every prefix of a recording is read without a crash; the ones
    that lack the closing lines say truncated."""
    data = HAND.encode()
    header = data.index(b"\n")
    for k in range(0, len(data), 13):
        path = write(ctx, "p.json", data[:k])
        rc, out, err = ctx.run(["report", "--json", path])
        if k == 0:
            check_one_line_error(rc, out, err, 1, "empty file", ["empty"])
            continue
        if k < header:
            # Not even the first line: nothing says it is a recording.
            check_one_line_error(rc, out, err, 1, "prefix %d" % k,
                                 ["not a gilsnoop recording"])
            continue
        assert rc == 0, "prefix of %d bytes: exit %d %s" % (k, rc, err)
        assert strict_json(out)["truncated"] is True, "prefix %d not truncated" % k


def global_report_errors(ctx):
    rc, out, err = ctx.run(["report"])
    check_one_line_error(rc, out, err, 2, "no file")
    rc, out, err = ctx.run(["report", "a", "b"])
    check_one_line_error(rc, out, err, 2, "two files")
    missing = os.path.join(ctx.tmpdir, "nope.json")
    rc, out, err = ctx.run(["report", missing])
    check_one_line_error(rc, out, err, 1, "missing file", [missing])
    rc, out, err = ctx.run(["report", write(ctx, "e.json", "")])
    check_one_line_error(rc, out, err, 1, "empty file", ["empty"])
    rc, out, err = ctx.run(["report", write(ctx, "g.txt", "hello\nworld\n")])
    check_one_line_error(rc, out, err, 1, "text file", ["not a gilsnoop recording"])
    rc, out, err = ctx.run(["report", write(ctx, "b.bin", os.urandom(4096))])
    check_one_line_error(rc, out, err, 1, "random bytes", ["not a gilsnoop recording"])
    rc, out, err = ctx.run(["report", ctx.tmpdir])
    check_one_line_error(rc, out, err, 1, "a directory", [ctx.tmpdir])
    assert out == ""


# ------------------------------------------------- files other tools rewrote

def viztracer_events(doc, pid, tids):
    """VizTracer-style function slices on the real pid's tracks, with its
    own thread names (Python's, not the kernel's), and a VizTracer-style
    top level: what `viztracer --combine` merges with."""
    xs = [e for e in doc["traceEvents"] if e.get("ph") == "X"]
    t0 = min(e["ts"] for e in xs)
    t1 = max(e["ts"] + e["dur"] for e in xs)
    ev = [{"ph": "M", "name": "process_name", "pid": pid, "tid": pid,
           "args": {"name": "python3"}}]
    for i, tid in enumerate(tids):
        ev.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                   "args": {"name": "Thread-%d" % i}})
        step = (t1 - t0) / 20
        for k in range(20):
            ev.append({"ph": "X", "name": "work (app.py:%d)" % k, "pid": pid,
                       "tid": tid, "ts": t0 + k * step + 0.125, "dur": step / 2,
                       "cat": "FEE", "args": {"samples": k}})
    return ev


def rewritten(ctx, path, doc, pid, tids):
    """The same recording as other tools leave it: {name: path}."""
    out = {}
    out["json.tool"] = os.path.join(ctx.tmpdir, "tool.json")
    with open(out["json.tool"], "wb") as f:
        subprocess.run([sys.executable, "-m", "json.tool", path], stdout=f, check=True)
    out["one line"] = write(ctx, "one.json", json.dumps(doc, separators=(",", ":")))
    viz = viztracer_events(doc, pid, tids)
    # viztracer --combine gil.json result.json: the first file's top level,
    # the second's events appended.
    first = dict(doc)
    first["traceEvents"] = doc["traceEvents"] + viz
    first["viztracer_metadata"] = {"version": "1.1.0"}
    out["combined, gil.json first"] = write(ctx, "comb1.json", json.dumps(first))
    # viztracer --combine result.json gil.json: VizTracer's top level (no
    # otherData), a big file_info that the reader must skip, events first.
    second = {"traceEvents": viz + doc["traceEvents"],
              "viztracer_metadata": {"version": "1.1.0", "overflow": False},
              "file_info": {"files": {"app.py": ["x = '{[\"]}' \\\n" * 2000, 2000]},
                            "functions": {"work (app.py:1)": ["app.py", 1]}},
              "displayTimeUnit": "ns"}
    out["combined, result.json first"] = write(ctx, "comb2.json", json.dumps(second))
    return out


def global_report_reads_rewritten_files(ctx):
    from test_record import any_interpreter
    py = any_interpreter(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        path, _, _, _ = record(ctx, t, seconds=2)
        tids = [t.pid] + [t.tids[n] for n in CPU]
    doc = load_trace(path)
    rc, out, err = ctx.run(["report", "--json", path])
    assert rc == 0, err
    want = strict_json(out, "report of the original")
    rc, want_text, err = ctx.run(["report", path])
    assert rc == 0, err
    want_text = want_text.split("\n", 1)[1]  # past the line naming the file
    for what, p in rewritten(ctx, path, doc, t.pid, tids).items():
        rc, out, err = ctx.run(["report", "--json", p])
        assert rc == 0, "report of the %s file exited %d: %s" % (what, rc, err)
        assert err == "", "report of the %s file warned: %r" % (what, err)
        got = strict_json(out, "report of the %s file" % what)
        assert got == want, "the %s file gives another summary:\n%s\nwant\n%s" % (
            what, got, want)
        rc, text, err = ctx.run(["report", p])
        assert rc == 0 and text.split("\n", 1)[1] == want_text, (
            "%s: text summary differs:\n%s\nwant\n%s" % (what, text, want_text))
    # Cut short, the one-line file still reads, as truncated.
    with open(os.path.join(ctx.tmpdir, "one.json"), "rb") as f:
        data = f.read()
    cut = write(ctx, "one-cut.json", data[:len(data) * 2 // 3])
    rc, out, err = ctx.run(["report", "--json", cut])
    assert rc == 0, err
    s = strict_json(out, "report of the cut one-line file")
    assert s["truncated"] is True and {th["tid"] for th in s["threads"]} >= set(tids[1:]), s


def global_report_foreign_trace(ctx):
    """A Trace Event file that holds nobody's GIL: one clear line."""
    other = {"traceEvents": [{"ph": "X", "name": "f", "pid": 5, "tid": 5, "ts": 1,
                              "dur": 2, "cat": "FEE"}], "displayTimeUnit": "ms"}
    rc, out, err = ctx.run(["report", write(ctx, "other.json", json.dumps(other))])
    check_one_line_error(rc, out, err, 1, "a foreign trace", ["no gilsnoop events"])
    rc, out, err = ctx.run(["report", write(ctx, "list.json", json.dumps(
        other["traceEvents"]))])
    check_one_line_error(rc, out, err, 1, "a foreign event list", ["no gilsnoop events"])
