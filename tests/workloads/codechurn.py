"""Test workload: code objects freed and made again all the time, so
their addresses are reused, for the stack reader's code cache
(test_pystack.py).

  codechurn.py [--threads 2] [--hold-ms 5] [--lifetime 120]

Each thread ("churn-a", "churn-b", ...) compiles a new function fn_N
(N counting up, one counter per thread), calls it from call site N % 4
of driver() (the lines marked "@site0".."@site3" below), lets it spin
for --hold-ms and then drops it, so the function's code object is freed
and the next one is likely to land at the same address.  Whatever the
moment, a stack whose innermost frame is fn_N has driver() at the line
of site N % 4: a reader that kept the name of a freed code object for
the object now at its address breaks that.

Prints one line once every thread is churning:

    ready {"pid": P, "tids": {NAME: TID}, "sites": [L0, L1, L2, L3]}

and runs until killed or --lifetime runs out.  3.6 syntax and the
standard library only.
"""
import argparse
import json
import os
import sys
import threading
import time

from wlhelp import name_thread

SOURCE = """
def fn_{n}(end, clock):
    while clock() < end:
        pass
"""


def driver(hold, started):
    clock = time.perf_counter
    n = 0
    started.release()
    while True:
        n += 1
        ns = {}
        exec(compile(SOURCE.format(n=n), "<churn>", "exec"), ns)
        fn = ns["fn_%d" % n]
        end = clock() + hold
        site = n % 4
        if site == 0:
            fn(end, clock)  # @site0
        elif site == 1:
            fn(end, clock)  # @site1
        elif site == 2:
            fn(end, clock)  # @site2
        else:
            fn(end, clock)  # @site3
        del fn, ns


def sites():
    lines = [0] * 4
    with open(os.path.abspath(__file__), encoding="utf-8") as f:
        for no, text in enumerate(f, 1):
            code, sep, mark = text.rstrip().rpartition("  # @site")
            if sep and code.strip().startswith("fn("):
                lines[int(mark)] = no
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hold-ms", type=float, default=5.0)
    ap.add_argument("--lifetime", type=float, default=120.0)
    a = ap.parse_args()
    tids = {}
    started = threading.Semaphore(0)

    def run():
        name, tid = name_thread()
        tids[name] = tid
        driver(a.hold_ms / 1000.0, started)

    for i in range(a.threads):
        threading.Thread(target=run, name="churn-%s" % chr(ord("a") + i),
                         daemon=True).start()
    for _ in range(a.threads):
        started.acquire()
    sys.stdout.write("ready %s\n" % json.dumps(
        {"pid": os.getpid(), "tids": tids, "sites": sites()}))
    sys.stdout.flush()
    time.sleep(a.lifetime)


if __name__ == "__main__":
    main()
