"""GIL workloads for the accuracy tests and the benchmark (bench/run.sh).

  --mode cpu      --threads N pure-Python CPU threads ("cpu-1".."cpu-N")
  --mode churn    --threads N threads in a ring of pipes with N-1 tokens
                  going round: each reads one byte, does --churn-work
                  loop turns of Python and writes one byte to the next
                  ("churn-1"..); the GIL changes hands at every read and
                  write
  --mode holdsleep  one CPU thread ("cpu-1") and one thread ("holdsleep")
                  that sleeps --holdsleep-us in usleep() called through
                  ctypes.PyDLL, i.e. while it HOLDS the GIL
  --mode sort     one thread ("sort") sorting a big list over and over
                  (sorted() never lets the GIL go while it runs) and one
                  CPU thread ("cpu-1") waiting for it
  --mode spawn    one CPU thread ("cpu-1") and a stream of short-lived
                  threads ("short"), --threads of them alive at a time,
                  each running ~0.5 ms of Python; with --lifetimes FILE
                  each appends "TID SPAWNED START END" to FILE as it
                  finishes its Python code (time.monotonic(): SPAWNED
                  just before Thread.start(), START and END around its
                  Python code)

--idle K adds K threads ("idle-1"..) that sleep in time.sleep(1), as the
idle workers of a service do (bench/cost.py); they are not part of the
work.

Without --work: prints a ready line like tests/workloads/threads.py,

    ready {"pid": PID, "tids": {"main": TID, "cpu-1": TID, ...}}

and runs until killed.  With --work N (bench): prints the ready line,
sleeps --delay seconds (time for a sampler to attach), does N units of
work per thread, prints "elapsed SECONDS" and exits.

Runs on every CPython from 3.6 on.
"""
import argparse
import ctypes
import json
import os
import sys
import threading
import time

from wlhelp import native_tid, set_comm


tids = {}
tids_lock = threading.Lock()


def register(started):
    name = threading.current_thread().name
    set_comm(name)
    with tids_lock:
        tids[name] = native_tid()
    started.release()


def forever():
    return iter(int, 1)


def cpu_loop(started, go, units):
    register(started)
    go.wait()
    n = 0
    for _ in (range(units) if units else forever()):
        for i in range(10000):
            n += i * i
        n %= 1000003


def churn_loop(started, go, units, rfd, wfd, token, work):
    register(started)
    go.wait()
    if token:
        os.write(wfd, b"x")
    n = 0
    for _ in (range(units) if units else forever()):
        os.read(rfd, 1)
        for i in range(work):
            n += i
        os.write(wfd, b"x")


def holdsleep_loop(started, go, units, usec):
    usleep = ctypes.PyDLL(None).usleep
    usleep.argtypes = [ctypes.c_uint]
    register(started)
    go.wait()
    for _ in (range(units) if units else forever()):
        usleep(usec)


def sort_loop(started, go, units, size):
    import random
    rnd = random.Random(1)
    data = [rnd.random() for _ in range(size)]
    register(started)
    go.wait()
    for _ in (range(units) if units else forever()):
        sorted(data)


def idle_loop(started):
    register(started)
    while True:
        time.sleep(1)


def short_life(lifetimes, spawned):
    start = time.monotonic()
    set_comm("short")
    n = 0
    for i in range(3000):
        n += i
    if lifetimes is not None:
        lifetimes.write("%d %.6f %.6f %.6f\n" % (native_tid(), spawned, start,
                                                 time.monotonic()))
        lifetimes.flush()


def spawn_loop(started, go, units, nalive, path):
    register(started)
    go.wait()
    lifetimes = open(path, "a") if path else None
    alive = []
    for _ in (range(units) if units else forever()):
        while len(alive) >= nalive:
            alive.pop(0).join()
        t = threading.Thread(target=short_life, args=(lifetimes, time.monotonic()),
                             name="short")
        t.start()
        alive.append(t)
    for t in alive:
        t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="cpu",
                    choices=["cpu", "churn", "holdsleep", "sort", "spawn"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=int, default=0)
    ap.add_argument("--delay", type=float, default=1.5)
    ap.add_argument("--holdsleep-us", type=int, default=20000)
    ap.add_argument("--sort-size", type=int, default=100000)
    ap.add_argument("--churn-work", type=int, default=100)
    ap.add_argument("--lifetimes", default=None)
    ap.add_argument("--idle", type=int, default=0)
    args = ap.parse_args()

    started = threading.Semaphore(0)
    go = threading.Event()
    units = args.work
    specs = []
    if args.mode == "cpu":
        for i in range(args.threads):
            specs.append(("cpu-%d" % (i + 1), cpu_loop, ()))
    elif args.mode == "churn":
        n = max(args.threads, 2)
        pipes = [os.pipe() for _ in range(n)]
        for i in range(n):
            rfd = pipes[i][0]
            wfd = pipes[(i + 1) % n][1]
            specs.append(("churn-%d" % (i + 1), churn_loop,
                          (rfd, wfd, i < n - 1, args.churn_work)))
    elif args.mode == "holdsleep":
        specs.append(("cpu-1", cpu_loop, ()))
        specs.append(("holdsleep", holdsleep_loop, (args.holdsleep_us,)))
    elif args.mode == "sort":
        specs.append(("cpu-1", cpu_loop, ()))
        specs.append(("sort", sort_loop, (args.sort_size,)))
    elif args.mode == "spawn":
        specs.append(("cpu-1", cpu_loop, ()))
        specs.append(("spawner", spawn_loop, (args.threads, args.lifetimes)))

    threads = []
    for name, fn, extra in specs:
        t = threading.Thread(target=fn, name=name,
                             args=(started, go, units) + tuple(extra))
        t.daemon = True
        threads.append(t)
    idle = [threading.Thread(target=idle_loop, name="idle-%d" % (i + 1),
                             args=(started,)) for i in range(args.idle)]
    for t in idle:
        t.daemon = True
    tids["main"] = native_tid()
    for t in threads + idle:
        t.start()
    for _ in threads + idle:
        started.acquire()
    with tids_lock:
        line = json.dumps({"pid": os.getpid(), "tids": tids}, sort_keys=True)
    sys.stdout.write("ready " + line + "\n")
    sys.stdout.flush()

    if not units:
        go.set()
        while True:
            time.sleep(3600)
    time.sleep(args.delay)
    start = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    sys.stdout.write("elapsed %.6f\n" % (time.perf_counter() - start))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
