"""Test workload for several processes: a multiprocessing pool (fork
start method) of --workers N workers, each with its main thread
"w-spin" spinning in pure Python (it holds its own GIL) and a thread
"w-nap" in time.sleep (idle).  The parent's main thread ("main") waits
on a queue: idle.  Once every worker runs, prints

    ready {"pid": PID, "tids": {"main": TID}, "workers": [{"pid": P,
           "tids": {"w-spin": TID, "w-nap": TID}}, ...]}

On SIGUSR1 it waits --late-after seconds (default 2), then forks two
more workers after any attach: one with multiprocessing (fork) and one
with os.fork(), and prints one line for each once it runs:

    late {"how": "mp"|"os.fork", "pid": P, "tids": {...}}

Exits after --lifetime seconds (default 120), its workers with it.
Runnable by every CPython from 3.6 on.
"""
import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wlhelp import native_tid, set_comm as set_kernel_name  # noqa: E402


def spin():
    n = 0
    while True:
        for i in range(10000):
            n += i * i
        n %= 1000003


def nap(tids, started):
    set_kernel_name("w-nap")
    tids["w-nap"] = native_tid()
    started.set()
    # Long naps: a thread waking up would make the spinner wait for its
    # GIL, which on a busy machine can take long enough to blur roles.
    while True:
        time.sleep(60)


def die_with_parent():
    # A worker must not spin on once its parent was killed.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_worker(q, how):
    """In the worker: name the threads, report them, then spin."""
    die_with_parent()
    set_kernel_name("w-spin")
    tids = {"w-spin": native_tid()}
    started = threading.Event()
    threading.Thread(target=nap, args=(tids, started), daemon=True).start()
    started.wait()
    q.put({"how": how, "pid": os.getpid(), "tids": tids})
    spin()


queues = []


def pool_init(q):
    queues.append(q)


def pool_task(_):
    start_worker(queues[0], "pool")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--late-after", type=float, default=2.0)
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()
    set_kernel_name("main")
    poked = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: poked.set())
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    pool = ctx.Pool(a.workers, initializer=pool_init, initargs=(q,))
    # One endless task per worker: a busy worker takes no second one.
    for i in range(a.workers):
        pool.apply_async(pool_task, (i,))
    workers = [q.get(timeout=60) for _ in range(a.workers)]
    print("ready " + json.dumps({"pid": os.getpid(), "tids": {"main": native_tid()},
                                 "workers": workers}), flush=True)
    end = time.time() + a.lifetime
    children = []
    while time.time() < end:
        if poked.wait(0.2):
            break
    if poked.is_set():
        time.sleep(a.late_after)
        p = ctx.Process(target=start_worker, args=(q, "mp"), daemon=True)
        p.start()
        pid = os.fork()
        if pid == 0:
            try:
                start_worker(q, "os.fork")
            finally:
                os._exit(0)
        children.append(pid)
        for _ in range(2):
            print("late " + json.dumps(q.get(timeout=60)), flush=True)
    while time.time() < end:
        time.sleep(0.2)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    pool.terminate()


if __name__ == "__main__":
    main()
