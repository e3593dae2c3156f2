"""What every workload needs from the kernel: its threads' native tids
and kernel names (comm) that match their threading names, so tests can
find a thread in gilsnoop's output by name.

Importable by every CPython from 3.6 on: threading.get_native_id exists
only from 3.8, so older ones ask the kernel through ctypes.
"""
import ctypes
import threading

PR_SET_NAME = 15
SYS_gettid = 186  # x86_64
COMM_MAX = 15     # the kernel keeps 15 bytes of a thread's name

try:
    libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # no ctypes-loadable libc: names stay the kernel's
    libc = None


def native_tid():
    """The calling thread's kernel tid."""
    get = getattr(threading, "get_native_id", None)  # 3.8+
    if get is not None:
        return get()
    return libc.syscall(SYS_gettid)


def set_comm(name):
    """Set the calling thread's kernel name (str or bytes; cut to 15
    bytes).  Returns False when the kernel could not be asked."""
    if libc is None:
        return False
    raw = name.encode() if isinstance(name, str) else bytes(name)
    return libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw[:COMM_MAX]), 0, 0, 0) == 0


def name_thread():
    """Give the calling thread the kernel name of its threading name;
    returns (name, native tid)."""
    name = threading.current_thread().name
    set_comm(name)
    return name, native_tid()
