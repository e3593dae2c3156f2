"""Test workload: thread churn, for load tests.

  churn.py [--rate 1000] [--batch 10] [--sleep 0] [--lifetime 900]

Starts and joins short-lived threads at about --rate threads per second,
--batch at a time (each runs a few microseconds of Python and exits), so
that a sampler sees thread ids and thread states appear and vanish all
the time.  --sleep M also keeps M long-lived threads ("sleep-1"..) that
sleep with the GIL released.  Once the churn runs it prints

    ready {"pid": PID, "tids": {"main": TID, "sleep-1": TID, ...}}

and then, once a second, a line "rate N" with the threads started in
that second, until killed or --lifetime runs out.  3.6 syntax and the
standard library only.
"""
import argparse
import json
import os
import sys
import threading
import time

from wlhelp import native_tid, set_comm

tids = {}
tids_lock = threading.Lock()


def short_lived():
    n = 0
    for i in range(50):
        n += i
    return n


def sleeper(started):
    name = threading.current_thread().name
    set_comm(name)
    with tids_lock:
        tids[name] = native_tid()
    started.release()
    while True:
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--sleep", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()

    started = threading.Semaphore(0)
    for i in range(args.sleep):
        t = threading.Thread(target=sleeper, args=(started,),
                             name="sleep-%d" % (i + 1))
        t.daemon = True
        t.start()
    for _ in range(args.sleep):
        started.acquire()
    tids["main"] = native_tid()

    period = args.batch / args.rate
    t0 = time.monotonic()
    end = t0 + args.lifetime
    next_batch = t0
    second = t0 + 1
    count = 0
    ready = False
    while True:
        batch = [threading.Thread(target=short_lived) for _ in range(args.batch)]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        count += args.batch
        now = time.monotonic()
        if not ready and now - t0 >= 0.2:
            # The churn is in full swing: tell the harness.
            with tids_lock:
                line = json.dumps({"pid": os.getpid(), "tids": tids},
                                  sort_keys=True)
            sys.stdout.write("ready " + line + "\n")
            sys.stdout.flush()
            ready = True
        if now >= second:
            sys.stdout.write("rate %d\n" % count)
            sys.stdout.flush()
            count = 0
            second += 1
            if second < now:
                second = now + 1
        if now >= end:
            os._exit(0)
        next_batch += period
        if next_batch > now:
            time.sleep(next_batch - now)
        else:
            next_batch = now


if __name__ == "__main__":
    main()
