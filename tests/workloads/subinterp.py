"""Test workload: a subinterpreter with its own GIL (3.12+) spinning in
thread "sub", next to the main interpreter spinning in thread "main".
Both hold their own GIL at the same time; neither waits.  Prints

    ready {"pid": PID, "tids": {"main": TID, "sub": TID}, "module": NAME}

or, without a subinterpreter module, "nosub MESSAGE" and exits 0.
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wlhelp import native_tid, set_comm as set_kernel_name  # noqa: E402

try:
    import _interpreters as interp  # 3.13+

    def make():
        return interp.create("isolated")

    def run(i, code):
        interp.exec(i, code)
except ImportError:
    try:
        import _xxsubinterpreters as interp  # 3.12

        def make():
            return interp.create(isolated=True)

        def run(i, code):
            interp.run_string(i, code)
    except ImportError:
        print("nosub no _interpreters or _xxsubinterpreters module", flush=True)
        sys.exit(0)

SPIN = "n = 0\nwhile True:\n    n = (n + 1) % 1000003\n"
tids = {}
started = threading.Event()


def sub():
    set_kernel_name("sub")
    tids["sub"] = native_tid()
    i = make()
    started.set()
    run(i, SPIN)


threading.Thread(target=sub, daemon=True).start()
started.wait()
set_kernel_name("main")
tids["main"] = native_tid()
print("ready " + json.dumps({"pid": os.getpid(), "tids": tids,
                             "module": interp.__name__}), flush=True)
n = 0
while True:
    n = (n + 1) % 1000003
