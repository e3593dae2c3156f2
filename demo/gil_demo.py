#!/usr/bin/env python3
"""A small program with something to see for gilsnoop.

Two threads spin in pure Python and fight over the GIL ("cpu-1", "cpu-2");
one thread sleeps in short naps and so rarely wants it ("sleeper").  Run it,
then point gilsnoop at the pid it prints:

    python3 demo/gil_demo.py --seconds 60 &
    sudo ./gilsnoop info -p PID

Works with any CPython 3.6 or newer and needs nothing outside the standard
library, so keep the syntax 3.6-compatible.
"""
import argparse
import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_NAME = 15


def set_kernel_thread_name(name):
    """Name the calling thread in /proc/PID/task/TID/comm.

    threading only names the kernel thread itself from 3.14 on; doing it
    here makes every version show the same names in gilsnoop and top -H.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no ctypes or no prctl: the thread keeps the process name


def cpu_worker(stop, started):
    set_kernel_thread_name(threading.current_thread().name)
    started.release()
    n = 0
    while not stop.is_set():
        for i in range(20000):
            n += i * i
        n %= 1000003


def sleeper(stop, started):
    set_kernel_thread_name(threading.current_thread().name)
    started.release()
    while not stop.is_set():
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=None,
                    help="exit after this long (default: run until "
                         "SIGINT or SIGTERM)")
    args = ap.parse_args()

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    started = threading.Semaphore(0)
    threads = [
        threading.Thread(target=cpu_worker, name="cpu-1", args=(stop, started)),
        threading.Thread(target=cpu_worker, name="cpu-2", args=(stop, started)),
        threading.Thread(target=sleeper, name="sleeper", args=(stop, started)),
    ]
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()

    print("gil_demo: pid %d, threads %s, python %s" % (
        os.getpid(), ", ".join(t.name for t in threads),
        sys.version.split()[0]))
    print("ready")
    sys.stdout.flush()

    deadline = None if args.seconds is None else time.time() + args.seconds
    # Waiting in short steps keeps the main thread responsive to signals
    # on 3.6, where a long Event.wait() delays the handler.
    while not stop.is_set():
        if deadline is not None and time.time() >= deadline:
            break
        stop.wait(0.2)
    stop.set()
    for t in threads:
        t.join(2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
