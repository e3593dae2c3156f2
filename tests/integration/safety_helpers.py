"""Helpers shared by test_safety.py, test_badinput.py, test_load.py and
test_names.py: picking an interpreter, background gilsnoop runs, memory
figures, strict checks of errors and output files.  Not a test module
(its name has no test_ prefix).
"""
import os
import shutil
import signal
import subprocess
import time

from common import Skip, _kill_group, _set_pdeathsig, tail

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOPROC, EXIT_PERM, EXIT_NOTPY, \
    EXIT_UNSUPPORTED = range(7)
TERM_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def pick(ctx, prefer=("pyenv-3.12", "pyenv-3.13", "pyenv-3.11")):
    """One interpreter for a test that runs once: a pyenv build with
    DWARF if there is one (fast and predictable), else any."""
    if not ctx.interpreters:
        raise Skip("no interpreter to run a target")
    by_id = {p.id: p for p in ctx.interpreters}
    for want in prefer:
        if want in by_id:
            return by_id[want]
    for p in ctx.interpreters:
        if p.kind == "pyenv":
            return p
    return ctx.interpreters[0]


_ASAN = {}


def is_asan(path):
    """Whether the binary under test was built with AddressSanitizer
    (its memory figures then include the sanitizer's shadow and
    quarantine)."""
    if path not in _ASAN:
        try:
            with open(path, "rb") as f:
                _ASAN[path] = b"__asan_init" in f.read()
        except OSError:
            _ASAN[path] = False
    return _ASAN[path]


def status_kb(pid, field):
    """A kB figure (VmHWM, VmRSS) from /proc/PID/status, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class Background:
    """gilsnoop running in the background; stdout and stderr go to files
    (never a pipe nobody drains) unless stdout is given."""

    def __init__(self, ctx, args, stdout=None, env=None, label=None):
        self.ctx = ctx
        self.args = [str(a) for a in args]
        self.label = label or "gilsnoop " + " ".join(self.args)
        n = len(os.listdir(ctx.tmpdir))
        self.out_path = os.path.join(ctx.tmpdir, "bg%d.out" % n)
        self.err_path = os.path.join(ctx.tmpdir, "bg%d.err" % n)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._out = open(self.out_path, "wb") if stdout is None else None
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [ctx.gilsnoop] + self.args, stdin=subprocess.DEVNULL,
            stdout=self._out if stdout is None else stdout, stderr=self._err,
            env=full_env, start_new_session=True, preexec_fn=_set_pdeathsig)
        ctx._procs.append(self.proc)
        self.hwm_kb = 0

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def poll_memory(self):
        """Keep the largest VmHWM seen (the process must still run)."""
        v = status_kb(self.proc.pid, "VmHWM")
        if v is not None and v > self.hwm_kb:
            self.hwm_kb = v
        return v

    def wait(self, timeout=30, allow_signal=False):
        """Wait for the end; (rc, stdout, stderr) as text.  A hang, a
        sanitizer report or (unless allowed) death by a signal fails."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            self.poll_memory()
            if time.monotonic() > deadline:
                _kill_group(self.proc)
                self._close()
                self.ctx.note(self.label, "[killed after %ss]\n%s" % (
                    timeout, tail(self.read_err())))
                raise AssertionError("%s did not finish within %ss (hang)"
                                     % (self.label, timeout))
            time.sleep(0.05)
        self._close()
        rc = self.proc.returncode
        out, err = self.read_out(), self.read_err()
        self.ctx.note(self.label, "[rc %d]\n--- stdout\n%s\n--- stderr\n%s" % (
            rc, tail(out), tail(err)))
        self.ctx.check_sanitizers(err, self.label)
        if rc < 0 and not allow_signal:
            raise AssertionError("%s died of signal %s" % (
                self.label, signal.Signals(-rc).name))
        return rc, out, err

    def _close(self):
        for f in (self._out, self._err):
            if f is not None and not f.closed:
                f.close()

    def read_out(self):
        if self._out is None:
            return ""
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def read_err(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")


def one_line_error(rc, err, want_rc, what, words=()):
    """The error contract: the documented exit code and exactly one line
    on stderr, starting with 'gilsnoop', that says the given words."""
    if isinstance(want_rc, int):
        want_rc = (want_rc,)
    assert rc in want_rc, "%s: exit %d, want %s; stderr %r" % (
        what, rc, " or ".join(map(str, want_rc)), err[-400:])
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("gilsnoop"), \
        "%s: want one stderr line starting 'gilsnoop', got %r" % (what, err[-600:])
    for w in words:
        assert w in lines[0], "%s: %r does not say %r" % (what, lines[0], w)
    return lines[0]


def commands(pid, out_file):
    """info, record -p and top -b against pid, as (label, args)."""
    return [
        ("info", ["info", "-p", pid]),
        ("info --json", ["info", "--json", "-p", pid]),
        ("record", ["record", "-p", pid, "-o", out_file, "-d", 1]),
        ("top -b", ["top", "-b", "-n", 1, "-i", 0.2, "-p", pid]),
    ]


def run_each(ctx, pid, want_rc, words=(), what="", timeout=30):
    """Run every command of commands() against pid and check the error
    contract; record must leave no file behind."""
    f = os.path.join(ctx.tmpdir, "rec.json")
    for label, args in commands(pid, f):
        rc, out, err = ctx.run(args, timeout=timeout)
        one_line_error(rc, err, want_rc, "%s %s" % (label, what), words)
        assert out == "", "%s %s printed on stdout: %r" % (label, what, out[:300])
        assert not os.path.exists(f), "%s %s left %s behind" % (label, what, f)


def alive(pid):
    """Running (not a zombie, not gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def run_ns(pid):
    """CPU time of all threads of pid in ns (schedstat), or None."""
    total, seen = 0, False
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
                seen = True
        except (OSError, IndexError, ValueError):
            pass
    return total if seen else None


def runs_on(pid, seconds=0.3):
    """Whether pid gets CPU time (its threads run) over a short while."""
    a = run_ns(pid)
    time.sleep(seconds)
    b = run_ns(pid)
    return a is not None and b is not None and b > a, (a, b)


def need_tool(name):
    path = shutil.which(name)
    if not path:
        raise Skip("%s is not installed" % name)
    return path
