#!/usr/bin/env python3
"""Measure gilsnoop against the interposer's GIL ground truth, by hand.

    tests/truth/measure.py [--gilsnoop ./gilsnoop] [--seconds 2] [--hog]
        [--record-arg=-r --record-arg=1000] PYTHON [PHASE...]

Starts PYTHON tests/workloads/phases.py under LD_PRELOAD=libgiltruth.so
(built by make next to gilsnoop, or $GILSNOOP_TRUTH_LIB), arms the
interposer with the GIL's address from `gilsnoop info --json`, records
the phases (default: all) with `gilsnoop record --format jsonl` and
prints per phase and thread gilsnoop's held and waiting shares next to
the truth's.  --keep keeps the files for a closer look.  --hog adds one busy process per CPU; --gilsnoop-nice -10
runs gilsnoop (only) at a higher priority.  --json prints the
comparison as JSON instead.  Takes /tmp/gilsnoop-accuracy.lock.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import giltruth  # noqa: E402

PHASES = giltruth.PHASES
WORKLOAD = os.path.join(os.path.dirname(HERE), "workloads", "phases.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gilsnoop", default="./gilsnoop")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--hog", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--record-arg", action="append", default=[])
    ap.add_argument("--gilsnoop-nice", type=int, default=0,
                    help="run gilsnoop at this nice increment (e.g. -10), the "
                    "target at its normal priority: tells sampler starvation "
                    "from misclassification")
    ap.add_argument("--keep", action="store_true",
                    help="keep the truth, the recording and the target's phase lines "
                    "(truth.bin, gil.jsonl, phases.txt) and print their directory")
    ap.add_argument("python")
    ap.add_argument("phases", nargs="*")
    a = ap.parse_args()
    phases = a.phases or PHASES
    lib = giltruth.lib_path(a.gilsnoop)
    tmp = tempfile.mkdtemp(prefix="gilsnoop-truth.")
    truth = os.path.join(tmp, "truth.bin")
    go = os.path.join(tmp, "go")
    rec = os.path.join(tmp, "gil.jsonl")
    env = dict(os.environ)
    env.update(giltruth.env(lib, truth))
    with giltruth.machine_lock():
        hogs = giltruth.start_hogs() if a.hog else []
        target = gs = None
        try:
            target = subprocess.Popen(
                [a.python, WORKLOAD, "--go", go, "--seconds", str(a.seconds)] + phases,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env,
                universal_newlines=True)
            line = target.stdout.readline()
            if not line.startswith("ready"):
                raise SystemExit("target did not start: %r" % line)
            pid = target.pid
            locked, mutex = giltruth.gil_addresses(a.gilsnoop, pid)
            giltruth.arm(truth, pid, locked, mutex)
            gs = subprocess.Popen([a.gilsnoop, "record", "-p", str(pid), "-o", rec,
                                   "--format", "jsonl"] + a.record_arg,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, universal_newlines=True,
                                  preexec_fn=(lambda: os.nice(a.gilsnoop_nice))
                                  if a.gilsnoop_nice else None)
            if not giltruth.wait_for_file_line(rec, gs):
                raise SystemExit("gilsnoop record did not start: %s" % gs.stderr.read())
            time.sleep(0.2)
            open(go, "w").close()
            outside = giltruth.OutsideLoad([pid, gs.pid] + [h.pid for h in hogs])
            out = []
            for line in target.stdout:
                out.append(line)
                if line.strip() == "done":
                    break
            outside_cpus = outside.cpus()
            gs.send_signal(signal.SIGINT)
            err = gs.communicate(timeout=60)[1]
            if gs.returncode != 0:
                raise SystemExit("gilsnoop record exited %d: %s" % (gs.returncode, err))
        finally:
            for p in (gs, target):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
            giltruth.stop_hogs(hogs)
    with open(rec) as f:
        text = f.read()
    head, end, results = giltruth.analyse(truth, text, giltruth.parse_phases("".join(out)))
    if a.json:
        print(json.dumps({"rate_hz": end.get("achieved_rate_hz"), "overflow": head["overflow"],
                          "outside_cpus": round(outside_cpus, 3),
                          "phases": [{"phase": ph["name"], "window_s": (w1 - w0) / 1e9,
                                      "threads": cmp, "overlapping_holds": len(ov)}
                                     for ph, w0, w1, cmp, ov in results]}, indent=1))
    else:
        print("%d truth events%s; gilsnoop at %s Hz; outside load %.2f CPUs" % (
            head["count"], " (OVERFLOW)" if head["overflow"] else "",
            end.get("achieved_rate_hz"), outside_cpus))
        for ph, w0, w1, cmp, ov in results:
            print("phase %s over %.2f s%s:" % (ph["name"], (w1 - w0) / 1e9,
                                               "  (%d OVERLAPPING HOLDS)" % len(ov) if ov else ""))
            print("  " + giltruth.table(cmp).replace("\n", "\n  "))
    if a.keep:
        with open(os.path.join(tmp, "phases.txt"), "w") as f:
            f.write("".join(out))
        print("kept in %s" % tmp)
        return
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
