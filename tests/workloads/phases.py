"""The accuracy tests' workloads, one after another in one process.

    phases.py --go FILE [--seconds S] PHASE...

Prints "ready {"pid": PID, "tids": {"main": TID}}", waits until FILE
exists (time for the test to arm its ground truth and start gilsnoop),
then runs each PHASE for S seconds (default 2) with fresh threads,
stops and joins them, and prints one line per phase:

    phase {"name": NAME, "start": T0, "end": T1, "tids": {thread: tid}}

(T0 once all its threads were told to go, T1 before they are told to stop, both
time.monotonic() seconds, i.e. CLOCK_MONOTONIC), then "done".

Phases:
  cpu     two pure-Python CPU threads, cpu-1 and cpu-2
  churn   ping and pong passing a byte through pipes, each running
          ~1 ms of Python per turn; yield, which runs ~1 ms of Python
          and then time.sleep(0); and cpu, a CPU thread next to them
  convoy  ticker, which sleeps 30 ms and writes a byte to a pipe, and
          reader, which reads it and runs ~0.1 ms of Python: two I/O
          threads that block for longer than the sampler's quiet
          threshold (20 ms) and, woken, wait for the GIL behind cpu,
          a CPU thread (the convoy effect)
  ctypes  holder, which sleeps 20 ms in usleep() called through
          ctypes.PyDLL (so it holds the GIL asleep), and cpu
  sort    sort, calling sorted() on a big list (one long hold per
          call), and cpu
  many    20 CPU threads, many-1..many-20

Runs on every CPython from 3.6 on.
"""
import argparse
import ctypes
import json
import os
import sys
import threading
import time

from wlhelp import name_thread

TURN = 20000   # loop turns of ~1 ms of Python on this machine's CPUs


def spin(n):
    x = 0
    for i in range(n):
        x += i
    return x


def cpu(stop):
    while not stop.is_set():
        spin(TURN)


def ping(stop, rfd, wfd, first):
    if first:
        os.write(wfd, b"x")
    while not stop.is_set():
        os.read(rfd, 1)
        spin(TURN)
        os.write(wfd, b"x")


def yielder(stop):
    while not stop.is_set():
        spin(TURN)
        time.sleep(0)


def ticker(stop, wfd):
    while not stop.is_set():
        time.sleep(0.03)
        os.write(wfd, b"x")


def reader(stop, rfd):
    while not stop.is_set():
        os.read(rfd, 1)
        spin(TURN // 10)


def holder(stop):
    usleep = ctypes.PyDLL(None).usleep
    usleep.argtypes = [ctypes.c_uint]
    while not stop.is_set():
        usleep(20000)


def sorter(stop):
    import random
    rnd = random.Random(1)
    data = [rnd.random() for _ in range(200000)]
    while not stop.is_set():
        sorted(data)


def specs(phase, stop):
    if phase == "cpu":
        return [("cpu-1", cpu, ()), ("cpu-2", cpu, ())]
    if phase == "churn":
        a, b = os.pipe(), os.pipe()
        # Closing the write ends when the phase ends wakes a reader.
        return [("ping", ping, (a[0], b[1], True)), ("pong", ping, (b[0], a[1], False)),
                ("yield", yielder, ()), ("cpu", cpu, ())], (a, b)
    if phase == "convoy":
        a = os.pipe()
        return [("ticker", ticker, (a[1],)), ("reader", reader, (a[0],)),
                ("cpu", cpu, ())], (a,)
    if phase == "ctypes":
        return [("holder", holder, ()), ("cpu", cpu, ())]
    if phase == "sort":
        return [("sort", sorter, ()), ("cpu", cpu, ())]
    if phase == "many":
        return [("many-%d" % (i + 1), cpu, ()) for i in range(20)]
    raise SystemExit("unknown phase %r" % phase)


def run_phase(phase, seconds):
    stop = threading.Event()
    got = specs(phase, stop)
    pipes = ()
    if isinstance(got, tuple):
        got, pipes = got
    tids, lock = {}, threading.Lock()
    started = threading.Semaphore(0)
    go = threading.Event()

    def body(fn, extra):
        name, tid = name_thread()
        with lock:
            tids[name] = tid
        started.release()
        go.wait()  # so that no thread waits for the GIL to start
        try:
            fn(stop, *extra)
        except OSError:
            pass  # a pipe closed at the end of the phase

    threads = [threading.Thread(target=body, name=n, args=(fn, extra))
               for n, fn, extra in got]
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()
    go.set()
    t0 = time.monotonic()
    time.sleep(seconds)
    t1 = time.monotonic()
    stop.set()
    for p in pipes:
        os.write(p[1], b"x")  # wake a reader blocked on its pipe
    for t in threads:
        t.join()
    for p in pipes:
        os.close(p[0])
        os.close(p[1])
    line = json.dumps({"name": phase, "start": t0, "end": t1, "tids": tids},
                      sort_keys=True)
    sys.stdout.write("phase " + line + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--go", required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("phases", nargs="+")
    args = ap.parse_args()
    _name, tid = name_thread()
    sys.stdout.write("ready " + json.dumps({"pid": os.getpid(), "tids": {"main": tid}}) + "\n")
    sys.stdout.flush()
    while not os.path.exists(args.go):
        time.sleep(0.01)
    for phase in args.phases:
        run_phase(phase, args.seconds)
    sys.stdout.write("done\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
