#!/usr/bin/env python3
"""gilsnoop's own CPU time per sample, and what it costs the target.

    bench/cost.py GILSNOOP [GILSNOOP_BEFORE]

For each thread count (COST_THREADS, default "4 50 200 500": 4 CPU-bound
Python threads, plus idle threads sleeping in time.sleep(1) up to the
count, plus the main thread), in one run:

  cost      `gilsnoop record -p PID -d COST_SECONDS -r 1000` on a target
            that runs forever: user + system CPU of the gilsnoop process
            (wait4 rusage, attach included) divided by the samples its
            summary reports, in microseconds per sample
  slowdown  the target's own wall time for a fixed amount of work
            (gilwork.py --work) while gilsnoop records it, divided by
            its wall time with nobody watching

With a second binary (say, one built from main), both are measured in the
same run, interleaved, so that their ratio means something on a shared
machine.  Repetitions: COST_REPS (3); medians are printed.  The target is
COST_PYTHON (default: the newest pyenv 3.12).  Takes the machine-wide
timing lock (/tmp/gilsnoop-accuracy.lock) for the whole run.
"""
import fcntl
import glob
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(SRC, "tests", "workloads", "gilwork.py")
SECONDS = float(os.environ.get("COST_SECONDS", "5"))
REPS = int(os.environ.get("COST_REPS", "3"))
COUNTS = [int(x) for x in os.environ.get("COST_THREADS", "4 50 200 500").split()]
CPU_THREADS = 4


def python():
    py = os.environ.get("COST_PYTHON")
    if py:
        return py
    found = sorted(glob.glob("/root/.pyenv/versions/3.12.*/bin/python3.12"))
    return found[-1] if found else "python3"


def start(py, nthreads, work=0):
    idle = max(nthreads - CPU_THREADS - 1, 0)
    args = [py, WORK, "--mode", "cpu", "--threads", str(CPU_THREADS),
            "--idle", str(idle)]
    if work:
        args += ["--work", str(work), "--delay", "1.5"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, universal_newlines=True)
    line = p.stdout.readline()
    if not line.startswith("ready "):
        p.kill()
        raise SystemExit("cost: target did not start: %r" % line)
    return p


def record(gs, pid, seconds, out):
    """gilsnoop record: (cpu seconds, samples)."""
    # Into a file, not a pipe: nobody reads a pipe before wait4, and the
    # summary of a 200-thread target is more than a pipe holds.
    log = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([gs, "record", "-p", str(pid), "-o", out, "--force",
                          "-r", "1000"] + (["-d", str(seconds)] if seconds else []),
                         stdout=log, stderr=subprocess.STDOUT)
    p.log = log
    return p


def finish(p):
    _, status, ru = os.wait4(p.pid, 0)
    p.log.seek(0)
    out = p.log.read()
    p.log.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    m = re.search(r"(\d+) samples", out)
    if p.returncode != 0 or not m:
        raise SystemExit("cost: record failed (%d): %s" % (p.returncode, out))
    return ru.ru_utime + ru.ru_stime, int(m.group(1))


def cost_once(gs, py, n, tmp):
    t = start(py, n)
    try:
        time.sleep(0.5)
        cpu, samples = finish(record(gs, t.pid, SECONDS, os.path.join(tmp, "c.json")))
    finally:
        t.kill()
        t.wait()
    return cpu / samples * 1e6


def elapsed(py, n, work, gs, tmp):
    t = start(py, n, work)
    r = record(gs, t.pid, 0, os.path.join(tmp, "s.json")) if gs else None
    line = t.stdout.readline()
    t.wait()
    if r:
        finish(r)
    m = re.match(r"elapsed ([0-9.]+)", line)
    if not m:
        raise SystemExit("cost: no elapsed line: %r" % line)
    return float(m.group(1))


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    bins = [("after", os.path.abspath(sys.argv[1]))]
    if len(sys.argv) > 2:
        bins.insert(0, ("before", os.path.abspath(sys.argv[2])))
    py = python()
    work = int(os.environ.get("COST_WORK", "600"))
    lock = open("/tmp/gilsnoop-accuracy.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    tmp = tempfile.mkdtemp(prefix="gilcost.")
    print("python %s, %d s per record, %d reps, load %.1f" %
          (py, SECONDS, REPS, os.getloadavg()[0]))
    for n in COUNTS:
        us = {name: [] for name, _ in bins}
        wall = {name: [] for name, _ in bins}
        wall["none"] = []
        for _ in range(REPS):
            order = bins[:]
            random.shuffle(order)
            for name, gs in order:
                us[name].append(cost_once(gs, py, n, tmp))
            runs = bins + [("none", None)]
            random.shuffle(runs)
            for name, gs in runs:
                wall[name].append(elapsed(py, n, work, gs, tmp))
        base = statistics.median(wall["none"])
        for name, _ in bins:
            print("threads=%d %s us_per_sample=%.1f slowdown=%.3f" %
                  (n, name, statistics.median(us[name]),
                   statistics.median(wall[name]) / base))
        if len(bins) == 2:
            print("threads=%d after/before cost=%.2f" %
                  (n, statistics.median(us["after"]) / statistics.median(us["before"])))
        sys.stdout.flush()
    print("load %.1f at the end" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
