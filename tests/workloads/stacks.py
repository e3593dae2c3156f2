"""Test workload: threads with known Python stacks and known names, for
the stack reader and the thread-name reader (test_pystack.py).

  stacks.py [--depth 250] [--churn] [--lifetime 900]

Every thread but "spin" blocks in time.sleep (GIL released) at a line
marked with a trailing "@NAME" comment below, so its innermost frame is
fixed:

  sleeper-a         nap -> level_b -> level_a (a plain call chain)
  method            Worker.run_here (a qualified name from 3.11)
  gen               produce (a running generator) <- consume
  coro              coro_inner <- coro_outer, run by an asyncio loop
  deep              recurse, --depth calls deep
  spin              spin_loop, CPU-bound: its line is one of the loop's
  a-long-thread-name-for-comm   a name past the kernel's 15 bytes
  wörker-ü, 线程-二, snake-🐍   names in Latin-1, UCS-2 and UCS-4

Only the first four set their kernel comm (like their Python name); the
others keep the process's comm (3.14's threading names it anyway).
With --churn, threads "churn-N" are started and joined all the time.
Once every thread sits at its line, prints one line:

    ready {"pid": P, "tids": {NAME: TID}, "lines": {MARK: LINE},
           "file": PATH}

and runs until killed or --lifetime runs out.  3.6 syntax and the
standard library only.
"""
import argparse
import asyncio
import json
import os
import sys
import threading
import time

from wlhelp import native_tid, set_comm

FOREVER = 100000

tids = {}
tids_lock = threading.Lock()
arrived = threading.Semaphore(0)


def register(comm):
    name = threading.current_thread().name
    if comm:
        set_comm(name)
    with tids_lock:
        tids[name] = native_tid()


def arrive():
    # Released just before the marked sleep: the thread is at most one
    # bytecode away from its line when the ready line goes out, and the
    # test retries until it sees it there.
    arrived.release()


def nap():
    arrive()
    time.sleep(FOREVER)  # @nap


def level_b():
    nap()  # @level_b


def level_a():
    register(True)
    level_b()  # @level_a


class Worker(object):
    def run_here(self):
        register(True)
        arrive()
        time.sleep(FOREVER)  # @method


def produce():
    arrive()
    while True:
        time.sleep(FOREVER)  # @produce
        yield 1


def consume():
    register(True)
    for _ in produce():  # @consume
        pass


async def coro_inner():
    arrive()
    # Blocks the loop's thread on purpose: the coroutine stays on the
    # stack, running.
    time.sleep(FOREVER)  # @coro_inner


async def coro_outer():
    await coro_inner()  # @coro_outer


def coro_thread():
    register(True)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(coro_outer())


def recurse(n):
    if n == 0:
        arrive()
        time.sleep(FOREVER)  # @recurse_bottom
    return recurse(n - 1)  # @recurse


def deep(depth):
    register(False)
    recurse(depth)


def spin_loop():
    register(False)
    arrive()
    n = 0
    while True:
        n += 1  # @spin
        n %= 1000003  # @spin2


def named_sleeper():
    register(False)
    arrive()
    time.sleep(FOREVER)  # @named


def short_lived():
    n = 0
    for i in range(20):
        n += i
    return n


def churn():
    register(False)
    arrive()
    i = 0
    while True:
        batch = [threading.Thread(target=short_lived, name="churn-%d" % (i + k))
                 for k in range(8)]
        i += 8
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        time.sleep(0.001)


def marks():
    lines = {}
    with open(os.path.abspath(__file__)) as f:
        for no, text in enumerate(f, 1):
            code, sep, mark = text.rstrip().rpartition("  # @")
            if sep and code.strip() and mark.replace("_", "").isalnum():
                lines[mark] = no
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=250)
    ap.add_argument("--churn", action="store_true")
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()
    sys.setrecursionlimit(max(1000, args.depth + 200))

    specs = [
        ("sleeper-a", level_a, ()),
        ("method", Worker().run_here, ()),
        ("gen", consume, ()),
        ("coro", coro_thread, ()),
        ("deep", deep, (args.depth,)),
        ("spin", spin_loop, ()),
        ("a-long-thread-name-for-comm", named_sleeper, ()),
        (u"w\u00f6rker-\u00fc", named_sleeper, ()),
        (u"\u7ebf\u7a0b-\u4e8c", named_sleeper, ()),
        (u"snake-\U0001f40d", named_sleeper, ()),
    ]
    if args.churn:
        specs.append(("churner", churn, ()))
    tids["MainThread"] = native_tid()
    for name, fn, fargs in specs:
        t = threading.Thread(target=fn, args=fargs, name=name)
        t.daemon = True
        t.start()
    for _ in specs:
        arrived.acquire()
    time.sleep(0.05)

    with tids_lock:
        line = json.dumps({"pid": os.getpid(), "tids": tids, "lines": marks(),
                           "file": os.path.abspath(__file__)},
                          sort_keys=True)
    sys.stdout.write("ready " + line + "\n")
    sys.stdout.flush()
    time.sleep(args.lifetime)  # @main
    os._exit(0)


if __name__ == "__main__":
    main()
