"""Several processes in one recording (issue 13): a multiprocessing pool
recorded by a -p list and with --children, workers forked after the
recording started (multiprocessing's fork start method and os.fork),
picked up with their parent's layout reused; one pool target per
interpreter.
"""
import json
import os
import signal
import subprocess

from common import Skip, start_target
from safety_helpers import pick
from recording import (GIL_PID_OFFSET, Recorder, file_has, json_stack_samples,
                       jsonl_stack_samples, load_trace, skip_if_unsupported, wait_for)


def report_json(ctx, path):
    rc, out, err = ctx.run(["report", "--json", path], timeout=30)
    assert rc == 0, "report exited %d: %s" % (rc, err.strip())
    return json.loads(out)


def check_roles(summary, pid, tids, what, min_held=50):
    """Every thread of tids shows under pid with its role: w-spin holds
    its own GIL, w-nap and main are idle, and none waits: the threads of
    one process never wait for another process's GIL."""
    rows = {(t["pid"], t["tid"]): t for t in summary["threads"]}
    for name, tid in tids.items():
        row = rows.get((pid, tid))
        assert row, "%s: thread %s (%d) not under pid %d: %r" % (
            what, name, tid, pid, sorted(rows))
        if name == "w-spin":
            assert row["held_pct"] > min_held, "%s: %s of %d holds %.1f%%, wanted > %d: %r" % (
                what, name, pid, row["held_pct"], min_held, row)
        else:
            assert row["idle_pct"] > 50, "%s: %s of %d idle %.1f%%, wanted > 50: %r" % (
                what, name, pid, row["idle_pct"], row)
        assert row["waiting_pct"] < 5, "%s: %s of %d waits %.1f%%: %r" % (
            what, name, pid, row["waiting_pct"], row)


def check_spin_stacks(samples, workers, what):
    """Every worker's w-spin has held stack samples in spin() (samples:
    from recording.jsonl_stack_samples or json_stack_samples)."""
    got = {}
    for s in samples:
        if s["role"] == "holding":
            got.setdefault((s["pid"], s["tid"]), []).append(
                s["frames"][0].split(" (")[0] if s["frames"] else "")
    for w in workers:
        inner = got.get((w["pid"], w["tids"]["w-spin"]), [])
        assert inner and inner.count("spin") >= 0.9 * len(inner), \
            "%s: held stack samples of w-spin in %d: %r (every sampled thread: %r)" % (
                what, w["pid"], inner[:10], sorted(got))


def test_multi_pool(py, ctx):
    with start_target(py, "pool.py", ["--late-after", 2]) as t:
        workers = t.info["workers"]
        assert len(workers) == 4, t.info
        pids = [w["pid"] for w in workers]

        # A -p list: one file, every worker under its own pid.
        listed = os.path.join(ctx.tmpdir, "list.jsonl")
        rc, out, err = ctx.run(["record", "-p", ",".join(map(str, pids)), "-o", listed,
                                "-d", 1, "--format", "jsonl", "--stacks"], timeout=60)
        skip_if_unsupported(rc, err)
        assert rc == 0, "record -p LIST exited %d: %s" % (rc, err.strip())
        with open(listed) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        seen = {l["pid"] for l in lines if "tid" in l}
        assert seen == set(pids), "jsonl pids %r, wanted %r" % (seen, pids)
        # --stacks reads every listed process's stacks, not the first's.
        check_spin_stacks(jsonl_stack_samples(lines), workers, "-p list")
        s = report_json(ctx, listed)
        assert {p["pid"] for p in s["processes"]} == set(pids), s["processes"]
        for w in workers:
            check_roles(s, w["pid"], w["tids"], "-p list")

        # top: one GIL line per process, and a PID column.
        rc, out, err = ctx.run(["top", "-b", "-p", ",".join(map(str, pids)), "-n", 1,
                                "-i", 0.5], timeout=30)
        assert rc == 0, "top -p LIST exited %d: %s" % (rc, err.strip())
        gil_lines = {int(l.split()[0]): l for l in out.splitlines()
                     if l[:1] in " >" and " GIL " in l and l.split()[0].isdigit()}
        assert set(gil_lines) == set(pids), "GIL lines %r, wanted %r:\n%s" % (
            sorted(gil_lines), pids, out)
        head = [i for i, l in enumerate(out.splitlines()) if l.split()[:2] == ["PID", "TID"]]
        assert head, "no PID column:\n" + out
        rows = [l.split() for l in out.splitlines()[head[0] + 1:] if l.strip()]
        for w in workers:
            spin = [r for r in rows if r[:2] == [str(w["pid"]), str(w["tids"]["w-spin"])]]
            assert spin and spin[0][3].startswith("holding"), \
                "w-spin of %d in top: %r\n%s" % (w["pid"], spin, out)

        # --children from the parent; two workers forked 2 s in.
        tree = os.path.join(ctx.tmpdir, "tree.json")
        rec = Recorder(ctx, ["record", "--children", "-p", t.pid, "-o", tree,
                             "-d", 3.5, "-v", "--stacks"])
        wait_for(lambda: file_has(tree, "process_sort_index"), 20, "the recording to start")
        os.kill(t.pid, signal.SIGUSR1)
        rc, out, err = rec.finish(timeout=60)
        assert rc == 0, "record --children exited %d: %s" % (rc, err.strip())
        # A loaded machine may take a while to let them report.
        wait_for(lambda: t.stdout().count("\nlate ") >= 2, 20, "the late workers' lines")
        late = [json.loads(l[len("late "):]) for l in t.stdout().splitlines()
                if l.startswith("late ")]
    assert sorted(l["how"] for l in late) == ["mp", "os.fork"], late

    doc = load_trace(tree)
    # Processes found after the start (the late ones) get their stacks
    # read too.
    check_spin_stacks(json_stack_samples(doc), workers + late, "--children")
    names = {e["pid"] - GIL_PID_OFFSET: e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"}
    everyone = [t.pid] + pids + [l["pid"] for l in late]
    s = report_json(ctx, tree)
    cmdlines = {p["pid"]: p["cmdline"] for p in s["processes"]}
    for pid in everyone:
        assert pid in names and names[pid].startswith("GIL: ") and \
            names[pid].endswith("pool.py --late-after 2 (pid %d)" % pid), \
            "no GIL track named for %d: %r" % (pid, names)
        assert "pool.py" in cmdlines.get(pid, ""), (pid, cmdlines)
    check_roles(s, t.pid, {"main": t.tids["main"]}, "--children")
    for w in workers:
        check_roles(s, w["pid"], w["tids"], "--children (%s)" % w["how"])
    # The late ones were recorded from their start up: a loaded machine
    # may take a good part of their second to set them going.
    for w in late:
        check_roles(s, w["pid"], w["tids"], "--children (%s)" % w["how"], min_held=25)
    # The late ones started 2 s in, and were forked: the parent's layout
    # was reused rather than parsed again.
    first = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            p = e["pid"] - GIL_PID_OFFSET
            first[p] = min(first.get(p, e["ts"]), e["ts"])
    start = min(first.values())
    for l in late:
        assert first[l["pid"]] - start > 1.5e6, "%s worker seen %.2f s in, wanted > 1.5" % (
            l["how"], (first[l["pid"]] - start) / 1e6)
        assert "following process %d" % l["pid"] in err and \
            "process %d (Python" % l["pid"] in err, err[-2000:]
        line = [x for x in err.splitlines() if "following process %d " % l["pid"] in x]
        assert line and "layout reused" in line[0], line
    # The workers' exit at the end is no error; nothing went wrong.
    assert "not followed" not in err, err[-2000:]


def test_multi_subinterpreter_own_gil(py, ctx):
    py.require(min_version=(3, 12))
    probe = subprocess.run(list(py.argv) + ["-c", "try:\n import _interpreters\n"
                                            "except ImportError:\n import _xxsubinterpreters"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if probe.returncode:
        raise Skip("%s has neither _interpreters nor _xxsubinterpreters" % py.id)
    with start_target(py, "subinterp.py") as t:
        main, sub = t.tids["main"], t.tids["sub"]
        rc, out, err = ctx.run(["info", "-p", t.pid, "--json"], timeout=30)
        skip_if_unsupported(rc, err)
        assert rc == 0, "info exited %d: %s" % (rc, err.strip())
        info = json.loads(out)
        roles = {th["tid"]: th for th in info["threads"]}
        # Each holds its own GIL: info calls both "holding", as top does.
        assert roles[main]["role"].startswith("holding") and roles[main]["gil"] == 0, roles
        assert roles[sub]["role"].startswith("holding") and roles[sub]["gil"] > 0, roles
        holders = {g["index"]: g["holder_tid"] for g in info["gils"]}
        assert holders.get(0) == main and holders.get(roles[sub]["gil"]) == sub, info["gils"]

        rc, out, err = ctx.run(["top", "-b", "-p", t.pid, "-n", 1, "-i", 0.5], timeout=30)
        assert rc == 0, "top exited %d: %s" % (rc, err.strip())
        state = {int(l.split()[0]): l.split()[2] for l in out.splitlines()
                 if l.split() and l.split()[0].isdigit() and len(l.split()) > 3}
        assert state.get(main, "").startswith("holding") and \
            state.get(sub, "").startswith("holding"), out
        # One line per GIL, each with its own holder.
        gil_lines = [l.split() for l in out.splitlines() if l.split()[:1] == ["GIL"]
                     and len(l.split()) > 2 and l.split()[1].isdigit()]
        holders = {int(l[1]): l[l.index("holder") + 1] for l in gil_lines if "holder" in l}
        assert holders.get(0) == str(main) and holders.get(roles[sub]["gil"]) == str(sub), \
            "per-GIL lines of top: %r\n%s" % (holders, out)

        path = os.path.join(ctx.tmpdir, "sub.json")
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", path, "-d", 1], timeout=60)
        assert rc == 0, "record exited %d: %s" % (rc, err.strip())
    assert "GIL 1" in out, "no per-GIL line in the summary:\n" + out
    s = report_json(ctx, path)
    rows = {th["tid"]: th for th in s["threads"]}
    for tid in (main, sub):
        assert rows[tid]["held_pct"] > 50 and rows[tid]["waiting_pct"] < 5 and \
            rows[tid]["running_pct"] < 5, rows[tid]
    # At the same time: the two threads' hold slices overlap for most of
    # the recording, each on its own GIL.
    doc = load_trace(path)
    held = {main: [], sub: []}
    for e in doc["traceEvents"]:
        if e["ph"] == "X" and e.get("tid") in held and e["args"]["role"].startswith("holding"):
            held[e["tid"]].append((e["ts"], e["ts"] + e["dur"], e["gilsnoop"].get("gil", 0)))
    assert all(g == 0 for _, _, g in held[main]) and all(g > 0 for _, _, g in held[sub]), held
    overlap = sum(max(0, min(a1, b1) - max(a0, b0))
                  for a0, a1, _ in held[main] for b0, b1, _ in held[sub])
    span = max(e for _, e, _ in held[main] + held[sub]) - min(s for s, _, _ in held[main] + held[sub])
    assert overlap > 0.5 * span, "holds overlap %.0f of %.0f us" % (overlap, span)


EXITS = r'''
import os, sys, threading, time
# 3.6 creates its GIL at the first thread: without one there is nothing
# to record (record says so; test_cli checks that line).
threading.Thread(target=lambda: None).start()
def child(then):
    time.sleep(0.6)
    then()
kids = []
for then in (lambda: os.execv("/bin/sleep", ["sleep", "3"]), lambda: os._exit(0)):
    pid = os.fork()
    if pid == 0:
        child(then)
    kids.append(pid)
sys.stdout.write("kids %d %d\n" % tuple(kids))
sys.stdout.flush()
end = time.monotonic() + 2.0
while time.monotonic() < end:
    pass
for pid in kids:
    os.waitpid(pid, 0)
'''


def global_multi_exit_and_exec(ctx):
    """record --children -- CMD: a child that exec's a program that is
    not Python and one that exits are dropped with one line each, and the
    recording goes on with the parent until it exits."""
    py = pick(ctx)
    script = os.path.join(ctx.tmpdir, "exits.py")
    with open(script, "w") as f:
        f.write(EXITS)
    path = os.path.join(ctx.tmpdir, "exits.json")
    rc, out, err = ctx.run(["record", "--children", "-o", path, "--"] + list(py.argv) +
                           [script], timeout=60)
    skip_if_unsupported(rc, err)
    assert rc == 0, "record exited %d: %s" % (rc, err.strip())
    kids = [int(x) for l in err.splitlines() + out.splitlines() if l.startswith("kids ")
            for x in l.split()[1:]]
    assert len(kids) == 2, out + err
    execd, exited = kids
    lines = [l for l in err.splitlines() if l.startswith("gilsnoop: ")]
    assert any(("process %d exec'd" % execd) in l and "following the other" in l
               for l in lines), lines
    assert any(("process %d exited; following the other" % exited) in l for l in lines), lines
    s = report_json(ctx, path)
    assert {p["pid"] for p in s["processes"]} >= set(kids), s["processes"]
    assert s["target_exited"] is True, s
    # The exec'd child is not recorded past its exec: its threads end
    # long before the parent's.
    last = {}
    for e in load_trace(path)["traceEvents"]:
        if e["ph"] == "X":
            p = e["pid"] - GIL_PID_OFFSET
            last[p] = max(last.get(p, 0), e["ts"] + e["dur"])
    parent = max(last, key=lambda p: last[p])
    assert last[execd] < last[parent] - 0.8e6, "exec'd child recorded until %.2f s before the end" % (
        (last[parent] - last[execd]) / 1e6)
