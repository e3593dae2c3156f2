"""The sampler under thread churn: threads that come and go faster than
any scan, whose thread states (and, before 3.11, whose pthread_t stacks)
are reused by the next thread, sampled as fast as gilsnoop can.  It must
not crash, and it must never name a thread as the GIL holder at a time
when that thread was not alive: a thread state freed by one thread and
reused by the next must not carry the first thread's tid.

The workload logs, for every short-lived thread, its tid and the
CLOCK_MONOTONIC times its Python code started and ended; gilsnoop's
jsonl intervals use the same clock.
"""
import json
import os

from common import start_target, timeout

RECORD_SECONDS = 2
# After its Python code ends a thread still takes the GIL to tear down
# its thread state, and on a busy machine it may wait long for it: a
# hold up to this long after is still its own.  (Before its code starts
# it does the same; the log has the time it was spawned for that.)
SLACK_US = 250000


def _intervals(text):
    ivs, end = [], None
    for line in text.splitlines():
        d = json.loads(line)
        if "tid" in d:
            ivs.append(d)
        elif "gilsnoop_end" in d:
            end = d["gilsnoop_end"]
    return ivs, end


@timeout(90)
def test_thread_churn_never_names_a_dead_holder(py, ctx):
    lifetimes = os.path.join(ctx.tmpdir, "lifetimes")
    with start_target(py, "gilwork.py", ["--mode", "spawn", "--threads", 2,
                                         "--lifetimes", lifetimes]) as t:
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", "-", "--format", "jsonl",
                                "-r", "max", "-d", RECORD_SECONDS], timeout=60)
        assert rc == 0, "gilsnoop record exited %d: %s" % (rc, err)
        long_lived = set(t.tids.values())
    ivs, end = _intervals(out)
    assert end is not None, "no gilsnoop_end line:\n%s" % out[-2000:]
    assert end["samples"] > 0, "no samples: %r" % end
    life = {}
    with open(lifetimes) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                tid, a, b = int(parts[0]), float(parts[1]) * 1e6, float(parts[3]) * 1e6
                # A tid can come back for a later thread: keep every life.
                life.setdefault(tid, []).append((a, b))
    assert len(life) > 20, "only %d short-lived threads ran" % len(life)
    last_us = end["last_ts"]
    bad, held_short, held_cpu = [], 0, 0.0
    for d in ivs:
        if d["state"] not in ("holding", "holding-offcpu"):
            continue
        tid, a, b = d["tid"], d["ts_us"], d["ts_us"] + d["dur_us"]
        if tid in long_lived:
            if tid == t.tids["cpu-1"]:
                held_cpu += d["dur_us"]
            continue
        held_short += 1
        lives = life.get(tid)
        if lives is None:
            # Killed before it could log its life: only at the very end.
            if a < last_us - 200000:
                bad.append("tid %d holds at %.0f but never lived" % (tid, a))
            continue
        if not any(s <= a and b <= e + SLACK_US for s, e in lives):
            bad.append("tid %d holds over [%.0f, %.0f], outside its life %s" % (
                tid, a, b, ["[%.0f, %.0f]" % x for x in lives]))
    ctx.note("churn", "%d samples (%d torn), %d short-lived threads, %d holds by them"
             % (end["samples"], end["torn_samples"], len(life), held_short))
    assert not bad, "; ".join(bad[:5])
    assert held_cpu > 0, "cpu-1 never seen holding the GIL"
    # Torn samples are allowed (that is what they are for), not a flood.
    assert end["torn_samples"] <= end["samples"] // 10, (
        "%d of %d samples torn" % (end["torn_samples"], end["samples"]))
