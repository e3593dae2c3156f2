"""Test workload: a process in which every thread is stuck.

  stuck.py FIFO [--waiters N] [--lifetime 900]

N threads "waiter-1".. spin in pure Python, so they need the GIL.  Thread
"stuck" opens FIFO (which the caller makes; nobody writes to it) and
read()s one byte from it through ctypes.PyDLL, i.e. while HOLDING the
GIL: the read never returns, so the GIL is never released and every
other thread, main included, waits for it for ever.  The one line

    ready {"pid": PID, "tids": {"main": TID, "stuck": TID, "waiter-1": TID, ...}}

is written by "stuck" itself with write(2) through PyDLL (the GIL is not
released between it and the read), since no other thread can print once
the read blocks.  The process ends after --lifetime seconds by SIGALRM's
default action (no Python handler could run).  3.6 syntax and the
standard library only.
"""
import argparse
import ctypes
import json
import os
import threading
import time

from wlhelp import libc as _libc, native_tid, set_comm

_pylibc = ctypes.PyDLL(None)


tids = {}
tids_lock = threading.Lock()


def register(started):
    name = threading.current_thread().name
    set_comm(name)
    with tids_lock:
        tids[name] = native_tid()
    started.release()


def waiter(started):
    register(started)
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


def stuck(started, go, path):
    register(started)
    fd = os.open(path, os.O_RDWR)  # a FIFO opened read-write never blocks
    go.wait()
    with tids_lock:
        line = json.dumps({"pid": os.getpid(), "tids": tids}, sort_keys=True)
    data = ("ready " + line + "\n").encode()
    write = _pylibc.write
    write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    read = _pylibc.read
    read.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    buf = ctypes.create_string_buffer(1)
    write(1, data, len(data))
    read(fd, buf, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fifo")
    ap.add_argument("--waiters", type=int, default=2)
    ap.add_argument("--lifetime", type=int, default=900)
    args = ap.parse_args()

    _libc.alarm(args.lifetime)
    started = threading.Semaphore(0)
    go = threading.Event()
    threads = [threading.Thread(target=waiter, args=(started,),
                                name="waiter-%d" % (i + 1))
               for i in range(args.waiters)]
    threads.append(threading.Thread(target=stuck, args=(started, go, args.fifo),
                                    name="stuck"))
    tids["main"] = native_tid()
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()
    go.set()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
