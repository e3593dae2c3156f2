"""Test workload: a known set of named threads, for integration tests.

  --cpu N       N threads spinning in pure Python ("cpu-1".."cpu-N")
  --sleep M     M threads sleeping with the GIL released ("sleep-1"..)
  --holdsleep   one thread ("holdsleep") that sleeps in usleep() called
                through ctypes.PyDLL, i.e. while it HOLDS the GIL
  --holdsleep-us  length of each of those naps (default 200000)
  --rename      one more thread ("rename-me") that spins like a CPU
                thread and, when the process gets SIGUSR1, renames itself
                "renamed" (kernel name by prctl, and Python name)
  --lifetime S  exit after S seconds (default 900)

Each thread names its kernel thread (/proc/.../comm) like its Python name.
Once every thread runs, prints one line and then nothing more:

    ready {"pid": PID, "tids": {"main": TID, "cpu-1": TID, ...}}

and runs until killed or --lifetime runs out.  Must stay runnable by every
CPython from 3.6 on: no syntax or library newer than 3.6.
"""
import argparse
import ctypes
import json
import os
import signal
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


def cpu_loop(started):
    register(started)
    n = 0
    while True:
        for i in range(10000):
            n += i * i
        n %= 1000003


def sleep_loop(started):
    register(started)
    while True:
        time.sleep(1)


def holdsleep_loop(started, usec):
    # PyDLL keeps the GIL across the call, so this thread holds the GIL
    # while the kernel has it asleep: gilsnoop must call it "holding, off
    # CPU", not "idle".
    usleep = ctypes.PyDLL(None).usleep
    usleep.argtypes = [ctypes.c_uint]
    register(started)
    while True:
        usleep(usec)


def rename_loop(started, asked):
    register(started)
    n = 0
    while True:
        for i in range(10000):
            n += i * i
        n %= 1000003
        if asked and asked.is_set():
            asked.clear()
            set_comm("renamed")
            threading.current_thread().name = "renamed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--sleep", type=int, default=0)
    ap.add_argument("--holdsleep", action="store_true")
    ap.add_argument("--holdsleep-us", type=int, default=200000)
    ap.add_argument("--rename", action="store_true")
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()

    started = threading.Semaphore(0)
    threads = []
    for i in range(args.cpu):
        threads.append(threading.Thread(target=cpu_loop, args=(started,),
                                        name="cpu-%d" % (i + 1)))
    for i in range(args.sleep):
        threads.append(threading.Thread(target=sleep_loop, args=(started,),
                                        name="sleep-%d" % (i + 1)))
    if args.holdsleep:
        threads.append(threading.Thread(target=holdsleep_loop,
                                        args=(started, args.holdsleep_us),
                                        name="holdsleep"))
    if args.rename:
        asked = threading.Event()
        signal.signal(signal.SIGUSR1, lambda signo, frame: asked.set())
        threads.append(threading.Thread(target=rename_loop,
                                        args=(started, asked),
                                        name="rename-me"))
    tids["main"] = native_tid()
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()

    with tids_lock:
        line = json.dumps({"pid": os.getpid(), "tids": tids}, sort_keys=True)
    sys.stdout.write("ready " + line + "\n")
    sys.stdout.flush()
    # A copy started by hand and forgotten would spin on and skew every
    # timing test after it on a 2-core machine; the harness kills its own
    # targets long before this.
    time.sleep(args.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
