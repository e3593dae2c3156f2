"""Test workload: holds with known Python stacks, for record --stacks,
--long-hold, --native and --stall (test_why.py).

  why.py [--lifetime 900]

Threads (each sets its kernel name like its Python name):

  cpu-1, cpu-2   crunch(), pure Python: short holds and waits; until
                 SIGUSR1 in bursts of about 1 ms with 2 ms sleeps (a
                 light load, so that a loaded machine does not preempt a
                 holder into a stall of its own), then CPU-bound
  sorter         while long holds are on, calls sort_big() every 0.3 s:
                 one sorted() of 800k numbers, a long hold on CPU
  napper         while long holds are on, calls nap_holding() every
                 0.3 s: usleep(150 ms) through ctypes.PyDLL, a long hold
                 off CPU
  main           on SIGUSR2, calls stall_here(): usleep(300 ms) through
                 ctypes.PyDLL, one stall

SIGUSR1 turns the long holds and CPU-bound crunching on (they are off at
the start).  Once every
thread runs it prints

    ready {"pid": P, "tids": {NAME: TID}}

and runs until killed or --lifetime runs out.  3.6 syntax and the
standard library only.
"""
import argparse
import ctypes
import json
import os
import random
import signal
import sys
import threading
import time

from wlhelp import name_thread

# PyDLL keeps the GIL across the call: the caller holds it while asleep.
_held = ctypes.PyDLL(None)
_held.usleep.argtypes = [ctypes.c_uint]

tids = {}
tids_lock = threading.Lock()
long_holds = threading.Event()
stall_asked = threading.Event()


def register():
    name, tid = name_thread()
    with tids_lock:
        tids[name] = tid


def crunch():
    x = 0
    while True:
        for i in range(1000):
            x += i * i
        x &= 0xffff
        if not long_holds.is_set():
            time.sleep(0.002)


def cpu():
    register()
    crunch()


def sort_big(data):
    return sorted(data)


# 800k: 3.12 sorts 250k floats in 40 ms, under record's 50 ms long-hold
# threshold, so the test's long hold came only when contention slowed
# it; 800k takes 130 ms (3.12) to 290 ms (3.6).
DATA = [random.random() for _ in range(800000)]


def sorter():
    register()
    data = DATA
    while True:
        if long_holds.is_set():
            sort_big(data)
        time.sleep(0.3)


def nap_holding():
    _held.usleep(150000)


def napper():
    register()
    while True:
        if long_holds.is_set():
            nap_holding()
        time.sleep(0.3)


def stall_here():
    _held.usleep(300000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=900)
    a = ap.parse_args()
    signal.signal(signal.SIGUSR1, lambda *_: long_holds.set())
    signal.signal(signal.SIGUSR2, lambda *_: stall_asked.set())
    register()
    for name, fn in (("cpu-1", cpu), ("cpu-2", cpu), ("sorter", sorter),
                     ("napper", napper)):
        threading.Thread(target=fn, name=name, daemon=True).start()
    while len(tids) < 5:
        time.sleep(0.01)
    print("ready " + json.dumps({"pid": os.getpid(), "tids": tids}), flush=True)
    end = time.time() + a.lifetime
    while time.time() < end:
        if stall_asked.wait(0.05):
            stall_asked.clear()
            stall_here()
    return 0


if __name__ == "__main__":
    sys.exit(main())
