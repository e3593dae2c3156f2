"""Context switches from perf records (proc/switches.h) against the
schedstat fallback: both must give the same roles.  A holder blocked in
read() while holding the GIL is holding-offcpu in that syscall, its
waiters (runnable CPU-bound threads that cannot run) are waiting, and a
lone CPU-bound holder is holding on a CPU; gilsnoop -v says which source
it used.  GILSNOOP_NO_PERF=1 is how a user (or a container without perf
events) gets the fallback.
"""
import json
import os

from common import start_stuck, start_target, timeout


def _record(ctx, pid, env, seconds=1):
    out = os.path.join(ctx.tmpdir, "rec-%s.jsonl" % ("noperf" if env else "perf"))
    rc, _, err = ctx.run(["record", "-v", "-p", pid, "-d", seconds, "-o", out,
                          "--format", "jsonl"], env=env, timeout=60)
    assert rc == 0, err
    shares = {}
    with open(out) as f:
        for line in f:
            d = json.loads(line)
            if "tid" in d and "state" in d:
                s = shares.setdefault(d["tid"], {})
                s[d["state"]] = s.get(d["state"], 0) + d["dur_us"]
                if d["state"] == "holding-offcpu":
                    s.setdefault("syscalls", set()).add(d.get("syscall"))
    return err, shares


def _frac(s, role):
    total = sum(v for k, v in s.items() if k != "syscalls")
    return s.get(role, 0) / total if total else 0.0


SOURCES = [(None, "context switches from perf records"),
           ({"GILSNOOP_NO_PERF": "1"}, "context switches from schedstat")]


@timeout(90)
def test_switches_stuck_holder(py, ctx):
    with start_stuck(py, ctx) as t:
        stuck = t.tids["stuck"]
        waiters = (t.tids["waiter-1"], t.tids["waiter-2"])
        for env, says in SOURCES:
            err, shares = _record(ctx, t.pid, env)
            assert says in err, "gilsnoop -v did not say %r:\n%s" % (says, err)
            s = shares.get(stuck, {})
            assert _frac(s, "holding-offcpu") > 0.95, (says, s)
            assert s.get("syscalls") == {"read"}, (says, s)
            for w in waiters:
                assert _frac(shares.get(w, {}), "waiting") > 0.95, (says, w, shares.get(w))


@timeout(90)
def test_switches_cpu_holder(py, ctx):
    """One CPU-bound thread keeps the GIL: holding on a CPU (a holder
    queued behind other work for less than 20 ms still counts as on a
    CPU, whichever source says so)."""
    with start_target(py, "threads.py", ["--cpu", 1]) as t:
        cpu = t.tids["cpu-1"]
        for env, says in SOURCES:
            err, shares = _record(ctx, t.pid, env)
            assert says in err, "gilsnoop -v did not say %r:\n%s" % (says, err)
            s = shares.get(cpu, {})
            assert _frac(s, "holding") + _frac(s, "holding-offcpu") > 0.95, (says, s)
            assert _frac(s, "holding") > 0.5, (says, s)
