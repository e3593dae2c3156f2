"""Test workload: thread names and file paths that need escaping.

  hostile.py DIR [--lifetime 900]

Every thread but main gets a kernel name (prctl PR_SET_NAME, at most 15
bytes) made of bytes an output format must escape: quotes, backslashes,
control characters (newline, tab, ESC, DEL, \\x01), invalid UTF-8, a C1
control (U+009B, a CSI to some terminals), and a name cut by the kernel
in the middle of a UTF-8 character.  In DIR (which the caller creates and
removes) it makes two FIFOs whose names hold such bytes too:

  holder    reads FIFO A one byte at a time through ctypes.PyDLL, i.e.
            while HOLDING the GIL; a child `sh` writes a byte every
            100 ms, so the thread holds the GIL off CPU inside read() on
            A most of the time (gilsnoop: holding-offcpu, path A).
  reader    blocks in os.read() on FIFO B, which nobody writes, with the
            GIL released (gilsnoop: idle, path B).
  the rest  sleep in time.sleep (GIL released).

When all that runs it prints one line:

    ready {"pid": PID, "tids": {"main": TID, "holder": TID, ...},
           "names": {"holder": HEX, ...}, "paths": {"holder": HEX,
           "reader": HEX}}

names are the bytes the kernel kept (read back from /proc, so a cut
multi-byte character shows as it is) and paths the FIFOs' full paths,
both hex-encoded since neither need be UTF-8.  3.6 syntax and the
standard library only.
"""
import argparse
import binascii
import ctypes
import json
import os
import subprocess
import sys
import threading
import time

from wlhelp import native_tid, set_comm

NAMES = {
    "holder": b'h"q\\b\x01\xff',
    "reader": b"r\nnl\ttab\x1b[0m",
    "quote": b"q\"uo'te,;<&>",
    "utf8": u"\u00e9t\u00e9-ok".encode("utf-8"),
    "badutf8": b"bad\xc3(\xfe\x80\x7f\r",
    # 16 bytes: the kernel keeps 15 and cuts the e-acute in half.
    "cut": b"abcdefghijklmn" + u"\u00e9".encode("utf-8"),
    "c1": u"c1\u009b31m".encode("utf-8"),
    # A writer that forgot to escape backslashes would turn this into 'A'.
    "escapes": b'\\u0041\\"\\n',
}
FIFO_A = b'fifo "A" \\ \n\x01\xff,x'
FIFO_B = b"fifo 'B' \t\x1b[1m\xfe;y"


def kernel_name(tid):
    with open("/proc/self/task/%d/comm" % tid, "rb") as f:
        data = f.read()
    return data[:-1] if data.endswith(b"\n") else data


tids = {}
names = {}
lock = threading.Lock()


def register(label, started):
    set_comm(NAMES[label])
    tid = native_tid()
    with lock:
        tids[label] = tid
        names[label] = kernel_name(tid)
    started.release()


def holder(started, fd):
    # PyDLL: the GIL stays held across the call, so the thread holds it
    # while the kernel has it asleep in read().
    read = ctypes.PyDLL(None).read
    read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    buf = ctypes.create_string_buffer(1)
    register("holder", started)
    while True:
        read(fd, buf, 1)


def reader(started, fd):
    register("reader", started)
    while True:
        os.read(fd, 1)


def sleeper(label, started):
    register(label, started)
    while True:
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()

    d = os.fsencode(args.dir)
    path_a = os.path.join(d, FIFO_A)
    path_b = os.path.join(d, FIFO_B)
    os.mkfifo(path_a)
    os.mkfifo(path_b)
    # O_RDWR: opening a FIFO never blocks that way, and the FIFO never
    # reads EOF however its writers come and go.
    fd_a = os.open(path_a, os.O_RDWR)
    fd_b = os.open(path_b, os.O_RDWR)
    fd_w = os.open(path_a, os.O_WRONLY)
    # In the target's process group, so the harness kills it too.
    subprocess.Popen(["sh", "-c", "while :; do sleep 0.1; printf x; done"],
                     stdout=fd_w, stdin=subprocess.DEVNULL)
    os.close(fd_w)

    started = threading.Semaphore(0)
    threads = [threading.Thread(target=holder, args=(started, fd_a)),
               threading.Thread(target=reader, args=(started, fd_b))]
    for label in NAMES:
        if label not in ("holder", "reader"):
            threads.append(threading.Thread(target=sleeper,
                                            args=(label, started)))
    tids["main"] = native_tid()
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()

    with lock:
        info = {
            "pid": os.getpid(),
            "tids": tids,
            "names": dict((k, binascii.hexlify(v).decode())
                          for k, v in names.items()),
            "paths": {"holder": binascii.hexlify(path_a).decode(),
                      "reader": binascii.hexlify(path_b).decode()},
        }
    sys.stdout.write("ready " + json.dumps(info, sort_keys=True) + "\n")
    sys.stdout.flush()
    time.sleep(args.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
