"""What integration tests import: Skip, the test context, start_target.

See tests/README.md for the test API.  tests/run-tests builds one Context
per test (and per interpreter) and tears it down afterwards; tests never
construct one themselves.
"""
import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.join(TESTS_DIR, "workloads")
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from interpreters import Skip, clean_env  # noqa: E402  (one Skip class for all)

__all__ = ["Skip", "SanitizerError", "TestTimeout", "Context", "Target",
           "start_target", "timeout", "WORKLOADS", "tail", "streams"]

# Markers of a sanitizer report.  Whatever the exit code, their presence
# fails the test: a UBSan "runtime error:" can be printed by a run that
# otherwise succeeds.
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

# The context of the test that is running, so that start_target can add
# the target's output to the failure report without being handed ctx.
CURRENT = None


class SanitizerError(AssertionError):
    pass


class TestTimeout(BaseException):
    """The per-test time limit ran out.  A BaseException so that a test's
    own `except Exception` cannot swallow it."""


def timeout(seconds):
    """Decorator: give one test a time limit other than the default."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def tail(text, lines=20):
    parts = text.rstrip("\n").splitlines()
    if len(parts) > lines:
        parts = ["[... %d lines cut ...]" % (len(parts) - lines)] + parts[-lines:]
    return "\n".join(parts)


def streams(out, err, lines=20):
    """Tails of a process's stdout and stderr for a report; empty ones are
    left out."""
    text = ""
    if out.strip():
        text += "\n--- stdout\n" + tail(out, lines)
    if err.strip():
        text += "\n--- stderr\n" + tail(err, lines)
    return text or " (no output)"


def sanitizer_excerpt(text, lines=40):
    """A sanitizer report from its first line on: the top of an ASan report
    (the error and the first frames) is what matters, not its tail."""
    starts = [text.find(m) for m in SANITIZER_MARKERS if m in text]
    start = text.rfind("\n", 0, min(starts)) + 1 if starts else 0
    return "\n".join(text[start:].splitlines()[:lines])


def _set_pdeathsig():
    # Runs in the child between fork and exec: if the runner dies, its
    # targets and gilsnoop runs die with it instead of spinning forever.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _kill_group(proc):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Context:
    """Handed to every test.

    gilsnoop      absolute path of the binary under test ($GILSNOOP)
    interpreters  every usable Interpreter (for global tests)
    missing       Missing entries (expected interpreters not here)
    workloads     tests/workloads
    tmpdir        a fresh directory, removed after the test
    run(...)      run gilsnoop; see below
    note(l, t)    add a labelled text to this test's failure report
    """

    def __init__(self, gilsnoop, interpreters=(), missing=(), run_timeout=60):
        self.gilsnoop = gilsnoop
        self.interpreters = list(interpreters)
        self.missing = list(missing)
        self.workloads = WORKLOADS
        self.run_timeout = run_timeout
        self.transcript = []       # (label, text), printed on failure
        self.sanitizer_reports = []
        self._procs = []
        self._tmpdir = None

    @property
    def tmpdir(self):
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="gilsnoop-test.")
        return self._tmpdir

    def note(self, label, text):
        self.transcript.append((label, text))

    def check_sanitizers(self, text, what="gilsnoop"):
        """Fail if text (a stderr) holds a sanitizer report."""
        for marker in SANITIZER_MARKERS:
            if marker in text:
                self.sanitizer_reports.append((what, text))
                raise SanitizerError("%s printed a sanitizer report (%r)" % (
                    what, marker))

    def run(self, args, timeout=None, env=None, input=None, allow_signal=False):
        """Run gilsnoop with args (a list, or a string split like a shell).

        Returns (rc, stdout, stderr) as text.  Fails the test when gilsnoop
        does not finish within timeout seconds (a hang), dies of a signal
        (a crash; allow_signal=True to expect one), or prints a sanitizer
        report.  env entries are added to the inherited environment."""
        if isinstance(args, str):
            args = shlex.split(args)
        cmd = [self.gilsnoop] + [str(a) for a in args]
        timeout = self.run_timeout if timeout is None else timeout
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        label = "$ " + " ".join(shlex.quote(c) for c in cmd)
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
            start_new_session=True, preexec_fn=_set_pdeathsig)
        self._procs.append(proc)
        data = input.encode() if isinstance(input, str) else input
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            self.note(label, "[killed after %ss]%s" % (
                timeout, streams(out.decode(errors="replace"),
                                 err.decode(errors="replace"))))
            raise AssertionError("gilsnoop did not finish within %ss (hang): %s"
                                 % (timeout, " ".join(args))) from None
        finally:
            if proc.poll() is not None and proc in self._procs:
                self._procs.remove(proc)
        out = out.decode(errors="replace")
        err = err.decode(errors="replace")
        self.note(label, "[rc %d]%s" % (proc.returncode, streams(out, err)))
        self.check_sanitizers(err, " ".join(["gilsnoop"] + list(map(str, args))))
        if proc.returncode < 0 and not allow_signal:
            sig = -proc.returncode
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            raise AssertionError("gilsnoop died of signal %s: %s" % (
                name, " ".join(map(str, args))))
        return proc.returncode, out, err

    def cleanup(self):
        for proc in self._procs:
            _kill_group(proc)
        self._procs = []
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class Target:
    """A running target process, as yielded by start_target.

    pid    its pid (as it reports it; the same as proc.pid)
    tids   {"main": tid, "cpu-1": tid, ...} from the ready line (empty when
           the ready line carried no JSON)
    info   the whole parsed ready-line JSON, or {}
    py     the Interpreter running it
    proc   the subprocess.Popen
    """

    def __init__(self, py, proc, out_path, err_path):
        self.py = py
        self.proc = proc
        self.pid = proc.pid
        self.tids = {}
        self.info = {}
        self.ready_line = None
        self._out_path = out_path
        self._err_path = err_path

    def alive(self):
        return self.proc.poll() is None

    def stdout(self):
        with open(self._out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self._err_path, errors="replace") as f:
            return f.read()

    def comm(self, tid):
        """The kernel name of a thread, or None when it is gone."""
        try:
            with open("/proc/%d/task/%d/comm" % (self.pid, tid)) as f:
                return f.read().rstrip("\n")
        except OSError:
            return None

    def task_ids(self):
        try:
            return sorted(int(t) for t in os.listdir("/proc/%d/task" % self.pid))
        except OSError:
            return []


# clock_nanosleep and nanosleep on x86_64.
_SLEEP_SYSCALLS = ("230", "35")


def start_sleeper(seconds=60, timeout_s=10):
    """A process that is certainly not Python, sleep(1), once it sleeps.
    Popen returns when the exec has begun, not when the kernel has
    finished setting up the new program: until then its /proc/PID/stat
    (start_brk, randomised last) may still move, which a gilsnoop
    attached at that moment rightly takes for an exec.  Only a process
    blocked in its sleep is done with exec."""
    p = subprocess.Popen(["sleep", str(seconds)])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % p.pid) as f:
                if f.read().split(" ", 1)[0] in _SLEEP_SYSCALLS:
                    return p
        except OSError:
            pass
        time.sleep(0.005)
    p.kill()
    p.wait()
    raise AssertionError("sleep %d (pid %d) was not asleep within %d s"
                         % (seconds, p.pid, timeout_s))


def _resolve_script(script_or_code):
    """(argv tail, label).  A workload file name, a path, or else code."""
    if "\n" not in script_or_code and script_or_code.endswith(".py"):
        path = script_or_code
        if not os.path.isabs(path):
            path = os.path.join(WORKLOADS, path)
        if not os.path.exists(path):
            raise FileNotFoundError("no workload %s" % path)
        return [path], os.path.basename(path)
    return ["-c", script_or_code], "-c code"


@contextlib.contextmanager
def start_target(py, script_or_code="threads.py", args=(), ready_timeout=30,
                 env=None):
    """Start py running a workload and wait until it prints its ready line.

    script_or_code: a file in tests/workloads/ ("threads.py"), a path, or a
    string of Python code (which must print a line starting with "ready"
    and flush).  The ready line may carry JSON after "ready ":
    {"pid": N, "tids": {name: tid}}.

    Yields a Target.  The target (its whole process group) is killed with
    SIGKILL when the with-block ends, however it ends; its output is added
    to the test's failure report."""
    tail_argv, label = _resolve_script(script_or_code)
    argv = list(py.argv) + tail_argv + [str(a) for a in args]
    tmp = tempfile.mkdtemp(prefix="gilsnoop-target.")
    out_path = os.path.join(tmp, "stdout")
    err_path = os.path.join(tmp, "stderr")
    # Files, not pipes: a target that prints after "ready" can never block
    # on a full pipe that nobody drains, and all it printed is kept.
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
            env=clean_env(env), start_new_session=True,
            preexec_fn=_set_pdeathsig)
    target = Target(py, proc, out_path, err_path)
    ctx = CURRENT
    if ctx is not None:
        # The test's time limit may strike inside the finally below; the
        # context's cleanup then still kills the target.
        ctx._procs.append(proc)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            # Only whole lines: the JSON may still be half-written.
            for line in target.stdout().split("\n")[:-1]:
                if line == "ready" or line.startswith("ready "):
                    target.ready_line = line
                    break
            if target.ready_line is not None:
                break
            if proc.poll() is not None:
                raise AssertionError(
                    "target %s %s exited with %d before ready:\n%s" % (
                        py.id, label, proc.returncode, tail(target.stderr())))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "target %s %s not ready after %ss:\n%s" % (
                        py.id, label, ready_timeout, tail(target.stderr())))
            time.sleep(0.02)
        payload = target.ready_line[len("ready"):].strip()
        if payload:
            target.info = json.loads(payload)
            target.tids = {k: int(v) for k, v in target.info.get("tids", {}).items()}
            reported = target.info.get("pid")
            if reported is not None and int(reported) != proc.pid:
                raise AssertionError(
                    "target reports pid %s but was started as %d: the "
                    "launcher %s did not exec" % (reported, proc.pid, py.argv[0]))
        yield target
    finally:
        _kill_group(proc)
        if ctx is not None:
            ctx.note("target %s: %s" % (py.id, " ".join(argv)),
                     "[pid %d, rc %s]%s" % (
                         proc.pid, proc.returncode,
                         streams(target.stdout(), target.stderr(), 10)))
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def start_stuck(py, ctx, waiters=2):
    """start_target on tests/workloads/stuck.py: thread "stuck" holds
    the GIL in a read() of a FIFO nobody writes (made here; its path in
    the target's fifo), threads "waiter-1".."waiter-N" wait for it for
    ever."""
    fifo = os.path.join(ctx.tmpdir, "stuck.fifo")
    os.mkfifo(fifo)
    with start_target(py, "stuck.py", [fifo, "--waiters", waiters]) as t:
        t.fifo = fifo
        yield t
