"""Why the GIL was held (issue 12): record --stacks, --long-hold,
--native, --folded and --stall, on one workload process per interpreter
(tests/workloads/why.py).  What is checked:

- folded counts: the held samples of each CPU-bound thread in the
  folded file equal the held stack samples of that thread in the JSON of
  the same run, and >= 90% of them have crunch() innermost;
- a long sorted() hold carries sort_big()'s stack in args.stack, and a
  ctypes usleep hold (GIL held off CPU) nap_holding()'s, with --native
  usleep/nanosleep in args.native_stack; the report reads the stacks back;
- --stall 250 --keep 0.6: one 300 ms stall in 3 s of small holds gives
  exactly one window (-o FILE: one gilsnoop_stall record; -o DIR/: one
  file) that covers the stall and about 0.6 s either side, with the
  stall's stack; the issue's 10 s run with --keep 10 has the same
  semantics, shortened here for CI time;
- jsonl: the stack samples as gilsnoop_sample lines, counted as in the
  folded file of the same run and read back by the report.
"""
import datetime
import json
import os
import signal
import subprocess
import time

from common import start_target
from recording import GIL_PID_OFFSET, jsonl_stack_samples, strict_json

HELD = ("holding", "holding-offcpu")


def events(path):
    with open(path) as f:
        doc = strict_json(f.read(), path)
    return doc, doc["traceEvents"]


def innermost(frames):
    return frames[0].split(" (")[0] if frames else ""


def folded_held(path, tid):
    """{stack line: count} of the held lines of thread tid."""
    out = {}
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            root = stack.split(";")[0]
            if root.endswith("(tid %d)" % tid) and root.startswith(("GIL held:", "GIL held off-CPU:")):
                out[stack] = out.get(stack, 0) + int(count)
    return out


def check_folded_and_holds(py, ctx, t):
    js = os.path.join(ctx.tmpdir, "why.json")
    fo = os.path.join(ctx.tmpdir, "why.folded")
    os.kill(t.pid, signal.SIGUSR1)          # the long holds start
    time.sleep(0.4)
    for attempt in (1, 2):
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", js, "--stacks", "--stack-rate", "500",
                                "--native", "--folded", fo, "-d", "2", "--force"], timeout=60)
        assert rc == 0, "record exit %d: %s" % (rc, err)
        doc, evs = events(js)
        # napper takes the GIL back after each sleep behind two CPU-bound
        # threads and a sorter; 3.6's GIL, which wakes any waiter, can
        # keep it out for the whole window (seen once in CI).  That is
        # the workload, not the recording: try once more.
        if any(e.get("cat") == "gil" and e["ph"] == "X" and e["tid"] == t.tids["napper"]
               and e["args"]["role"] == "holding-offcpu" and e["dur"] >= 100000 for e in evs):
            break
    samples = [e for e in evs if e.get("cat") == "stack"]
    assert samples, "no stack samples in %s" % js
    for name in ("cpu-1", "cpu-2"):
        tid = t.tids[name]
        held = [e for e in samples if e["tid"] == tid and e["args"]["role"] in HELD]
        fold = folded_held(fo, tid)
        total = sum(fold.values())
        assert total == len(held) and total > 0, \
            "%s: folded has %d held samples, the JSON %d" % (name, total, len(held))
        inner = sum(c for s, c in fold.items() if s.split(";")[-1].startswith("crunch ("))
        assert inner >= 0.9 * total, \
            "%s: %d of %d held samples in crunch(): %s" % (name, inner, total, fold)
    slices = [e for e in evs if e.get("cat") == "gil" and e["ph"] == "X"
              and isinstance(e["args"].get("stack"), list)]
    sorts = [e for e in slices if e["tid"] == t.tids["sorter"] and e["args"]["role"] == "holding"]
    assert sorts, "no long hold of sorter with args.stack (slices with stacks: %s)" % [
        (e["tid"], e["name"], e["dur"]) for e in slices]
    # A hold that begins in sorter() before the call may have its first
    # look there: the call shows at the first or the last look.
    def looks(e):
        return {innermost(e["args"]["stack"]), innermost(e["args"].get("stack_end", []))}
    assert any("sort_big" in looks(e) for e in sorts), [e["args"] for e in sorts]
    for e in sorts:
        assert e["dur"] >= 50000, e
    naps = [e for e in slices if e["tid"] == t.tids["napper"]
            and e["args"]["role"] == "holding-offcpu"]
    assert naps, "no off-CPU hold of napper with args.stack"
    assert any("nap_holding" in looks(e) for e in naps), [e["args"] for e in naps]
    nat = [e for e in naps if e["args"].get("native_stack")]
    assert nat, "no native stack on napper's holds (--native): %s\n%s" % (
        [e["args"] for e in naps], out)
    for e in nat:
        fr = " ".join(e["args"]["native_stack"])
        assert "usleep" in fr or "nanosleep" in fr, e["args"]["native_stack"]
    # The report reads the stacks back (the same counts).
    rc, rout, rerr = ctx.run(["report", js], timeout=30)
    assert rc == 0, "report exit %d: %s" % (rc, rerr)


def check_stall(py, ctx, t):
    one = os.path.join(ctx.tmpdir, "stalls.json")
    d = os.path.join(ctx.tmpdir, "stalls") + "/"
    args = ["record", "-p", str(t.pid), "--stall", "250", "--keep", "0.6", "-d", "3"]
    other = subprocess.Popen([ctx.gilsnoop] + args + ["-o", d], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
    try:
        # SIGUSR2 after 1.2 s: main() stalls 300 ms in stall_here().
        asked = time.time() + 1.2
        timer = subprocess.Popen(["sh", "-c", "sleep 1.2; kill -USR2 %d" % t.pid])
        rc, out, err = ctx.run(args + ["-o", one], timeout=60)
        timer.wait()
        oout, oerr = other.communicate(timeout=60)
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    ctx.check_sanitizers(oerr, "record -o DIR/")
    assert rc == 0, "record -o FILE exit %d: %s" % (rc, err)
    assert other.returncode == 0, "record -o DIR/ exit %d: %s" % (other.returncode, oerr)
    assert "stalls caught: 1 " in out, out
    assert "stall_here (" in out, "the summary does not name the stall's function:\n" + out
    files = sorted(os.listdir(d))
    assert len(files) == 1, "-o DIR/ wrote %s; its summary:\n%s" % (files, oout)
    for path in (one, os.path.join(d, files[0])):
        doc, evs = events(path)
        stalls = [e["args"]["gilsnoop_stall"] for e in evs
                  if e["ph"] == "M" and "gilsnoop_stall" in e.get("args", {})]
        assert len(stalls) == 1, "%s: %d stall records" % (path, len(stalls))
        st = stalls[0]
        assert st["tid"] == t.tids["MainThread"] and st["role"] in HELD, st
        assert 250000 <= st["dur_us"] <= 900000, st
        # When it happened, in wall time (local ISO 8601), as logs have
        # it, and as the header's clock pair converts st["t"].
        wall = datetime.datetime.fromisoformat(st["wall"]).timestamp()
        assert -0.5 < wall - asked < 5, "stall at %s, USR2 sent at %.3f" % (st["wall"], asked)
        clock = doc["otherData"]["gilsnoop"]["wall_clock"]
        conv = (clock["unix_us"] + st["t"] - clock["ts_us"]) / 1e6
        assert abs(conv - wall) < 0.05, (clock, st)
        assert "(%s)" % st["wall"] in out or path != one, \
            "the summary does not give the stall's wall time %s:\n%s" % (st["wall"], out)
        lo, hi = st["window"]
        assert abs((st["t"] - lo) - 600000) < 50000, "window starts %.0f us before" % (st["t"] - lo)
        assert abs((hi - st["t"] - st["dur_us"]) - 600000) < 50000, st
        gil = [e for e in evs if e.get("cat") == "gil"]
        assert gil and min(e["ts"] for e in gil) >= int(lo) - 1, path
        assert max(e["ts"] + e.get("dur", 0) for e in gil) <= hi + 1, path
        # Every thread is drawn from the window's start (or from the
        # first sample, when the attach took longer than the window's
        # lead): their first slices begin together.
        first = min(e["ts"] for e in gil)
        covered = {e["tid"] for e in gil if e["ts"] <= first + 1}
        assert set(t.tids.values()) <= covered, (first, lo, covered, t.tids)
        held = [e for e in gil if e["tid"] == t.tids["MainThread"] and e["ph"] == "X"
                and e["args"]["role"] in HELD and e["dur"] >= 200000]
        assert any("stall_here" in (innermost(e["args"].get("stack", [])),
                                    innermost(e["args"].get("stack_end", [])))
                   for e in held), [e["args"] for e in held]


def check_jsonl_samples(py, ctx, t):
    """jsonl carries the stack samples as run records (gilsnoop_sample,
    its stack an id defined on an earlier gilsnoop_stack line): their
    held counts per thread equal the folded file's of the same run, and
    the report's holder flame graph counts them all."""
    jl = os.path.join(ctx.tmpdir, "why.jsonl")
    fo = os.path.join(ctx.tmpdir, "why2.folded")
    rc, out, err = ctx.run(["record", "-p", t.pid, "-o", jl, "--format", "jsonl", "--stacks",
                            "--stack-rate", "500", "--folded", fo, "-d", "1"], timeout=60)
    assert rc == 0, "record exit %d: %s" % (rc, err)
    with open(jl) as f:
        samples = jsonl_stack_samples([json.loads(line) for line in f])
    assert samples, "no gilsnoop_sample line in %s" % jl
    for s in samples:
        assert s["pid"] == t.pid and s["role"] and s["ts_us"] > 0, s
    for name in ("cpu-1", "cpu-2"):
        tid = t.tids[name]
        held = [s for s in samples if s["tid"] == tid and s["role"] in HELD]
        total = sum(folded_held(fo, tid).values())
        assert total == len(held) and total > 0, \
            "%s: folded has %d held samples, the jsonl %d" % (name, total, len(held))
        inner = sum(1 for s in held if innermost(s["frames"]) == "crunch")
        assert inner >= 0.9 * len(held), "%s: %d of %d held samples in crunch()" % (
            name, inner, len(held))
    svg = os.path.join(ctx.tmpdir, "why.svg")
    rc, rout, rerr = ctx.run(["report", jl, "--svg", svg], timeout=30)
    assert rc == 0, "report exit %d: %s" % (rc, rerr)
    with open(svg) as f:
        picture = f.read()
    held_all = sum(1 for s in samples if s["role"] in HELD)
    assert "(%d stack samples;" % held_all in picture, \
        "the report's flame graph does not count the jsonl's %d held samples" % held_all


def test_why_stacks_and_stalls(py, ctx):
    with start_target(py, "why.py", ["--lifetime", 120]) as t:
        check_stall(py, ctx, t)
        check_folded_and_holds(py, ctx, t)
        check_jsonl_samples(py, ctx, t)


def global_why_usage_errors(ctx):
    """The new options' misuse: one 'gilsnoop ...' line, exit 2, no file."""
    out = os.path.join(ctx.tmpdir, "x.json")
    for args, word in ((["--stacks", "--format", "csv"], "csv"),
                       (["--keep", "3"], "--stall"),
                       (["--native"], "--native"),
                       (["--stacks=some"], "--stacks"),
                       (["--format", "speedscope"], "--stacks"),
                       (["--stack-rate", "50"], "--stacks"),
                       (["--stall", "0"], "--stall"),
                       (["--stall", "100", "--stacks", "--format", "folded"], "--stall")):
        rc, o, err = ctx.run(["record", "-p", os.getpid(), "-o", out] + args)
        assert rc == 2, "%s: exit %d, want 2: %s" % (args, rc, err)
        assert err.startswith("gilsnoop") and word in err and err.count("\n") == 1, (args, err)
        assert not os.path.exists(out), "%s left %s" % (args, out)
