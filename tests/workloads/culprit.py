"""Test workload: one thread that holds the GIL off CPU, and one that waits
behind it (test_culprit.py).

  culprit.py FIFO [--nap-ms 150] [--lifetime 900]

Thread "journal" reads one byte at a time from FIFO (which the caller
makes) through ctypes.PyDLL, i.e. while HOLDING the GIL, in function
journal_flush at the line marked "@flush".  A child process (forked
before any thread starts) writes one byte to FIFO every --nap-ms, so
each read holds the GIL off CPU in read() on FIFO for about that long.
Thread "worker" spins in pure Python (worker_spin) and so waits behind
every such read; "main" sleeps.  Once both threads run, prints

    ready {"pid": P, "tids": {NAME: TID}, "flush_line": N, "file": PATH}

and runs until killed or --lifetime runs out.  3.6 syntax and the
standard library only.
"""
import argparse
import ctypes
import json
import os
import sys
import threading
import time

SYS_gettid = 186  # x86_64
PR_SET_NAME = 15

_libc = ctypes.CDLL(None, use_errno=True)
tids = {}
started = threading.Semaphore(0)


def register(name):
    tid = _libc.syscall(SYS_gettid)
    _libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
    tids[name] = tid
    started.release()


def journal_flush(read, fd, buf):
    return read(fd, buf, 1)  # @flush


def journal_loop(path):
    read = ctypes.PyDLL(None).read
    read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(path, os.O_RDONLY)
    buf = ctypes.create_string_buffer(1)
    register("journal")
    while True:
        if journal_flush(read, fd, buf) <= 0:
            time.sleep(0.01)


def worker_spin():
    register("worker")
    n = 0
    while True:
        n += 1


def flush_line():
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if line.rstrip().endswith("# @flush"):
                return i
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fifo")
    ap.add_argument("--nap-ms", type=float, default=150)
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()

    if os.fork() == 0:
        # The writer: no threads, no GIL games; gone with the group.
        fd = os.open(args.fifo, os.O_WRONLY)
        deadline = time.time() + args.lifetime
        while time.time() < deadline and os.getppid() != 1:
            time.sleep(args.nap_ms / 1000.0)
            os.write(fd, b"x")
        os._exit(0)

    register("main")
    threading.Thread(target=journal_loop, args=(args.fifo,), daemon=True).start()
    threading.Thread(target=worker_spin, daemon=True).start()
    for _ in range(3):
        started.acquire()
    print("ready " + json.dumps({"pid": os.getpid(), "tids": tids,
                                 "flush_line": flush_line(),
                                 "file": os.path.abspath(__file__)}))
    sys.stdout.flush()
    deadline = time.time() + args.lifetime
    while time.time() < deadline:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
