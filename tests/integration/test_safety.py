"""gilsnoop never hurts its target: no writes to its memory, no ptrace in
info, record and top, no signals to it; signals to gilsnoop itself (and
a reader that goes away) leave complete output and a running target; a
stopped target is read without hanging; and without the privilege it
needs gilsnoop says what is missing.
"""
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time

from common import Skip, start_target
from recording import load_trace, strict_json
from safety_helpers import (Background, EXIT_OK, EXIT_PERM, TERM_SIGNALS,
                            need_tool, one_line_error, pick, runs_on)

# Every way to write to another process or to signal one.
FORBIDDEN = ("process_vm_writev", "ptrace", "kill", "tkill", "tgkill",
             "pidfd_send_signal", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
WORKLOAD = ["--cpu", 1, "--sleep", 1, "--holdsleep"]
F_SETPIPE_SZ = 1031


def _strace_calls(log):
    """[(syscall, args text)] from an strace -f -o log."""
    calls = []
    pat = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ](.*)$")
    with open(log, errors="replace") as f:
        for line in f:
            m = pat.match(line)
            if m and m.group(1) in FORBIDDEN:
                calls.append((m.group(1), m.group(2)))
    return calls


def global_safety_no_writes_no_ptrace_no_signals(ctx):
    strace = need_tool("strace")
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        rec = os.path.join(ctx.tmpdir, "gil.json")
        runs = [
            ("info", ["info", "-p", t.pid]),
            ("info --json", ["info", "--json", "-p", t.pid]),
            ("record -p", ["record", "-p", t.pid, "-o", rec, "-d", 1.5]),
            ("top -b", ["top", "-b", "-n", 3, "-i", 0.3, "-p", t.pid]),
        ]
        target_ids = {str(x) for x in t.task_ids()}
        for label, args in runs:
            log = os.path.join(ctx.tmpdir, "strace.%s.log" % label.split()[0])
            cmd = [strace, "-f", "-qq", "-e", "trace=" + ",".join(FORBIDDEN),
                   "-o", log, ctx.gilsnoop] + [str(a) for a in args]
            # LeakSanitizer cannot run under ptrace; the other suites
            # check leaks.
            opts = os.environ.get("ASAN_OPTIONS", "")
            env = dict(os.environ, ASAN_OPTIONS=(opts + ":" if opts else "") +
                       "detect_leaks=0")
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60, env=env)
            err = p.stderr.decode(errors="replace")
            ctx.note("strace " + label, "[rc %d]\n%s" % (p.returncode, err[-2000:]))
            ctx.check_sanitizers(err, "gilsnoop " + label)
            assert p.returncode == 0, "%s under strace exited %d: %s" % (
                label, p.returncode, err[-500:])
            calls = _strace_calls(log)
            with open(log, errors="replace") as f:
                ctx.note("strace log of " + label, f.read()[-3000:])
            # None of these belongs in info, record -p or top at all;
            # at the target (any of its threads) they would be a bug of
            # the worst kind.
            at_target = [c for c in calls if set(re.findall(r"\d+", c[1])[:2]) & target_ids]
            assert not at_target, "%s sent %s to the target" % (label, at_target[:5])
            assert not calls, "%s made forbidden calls: %s" % (label, calls[:5])
        load_trace(rec)
        assert t.alive(), "the target died"
        with open("/proc/%d/status" % t.pid) as f:
            status = f.read()
        assert re.search(r"^TracerPid:\s+0$", status, re.M), \
            "the target is being traced: %s" % status


# ------------------------------------------------------------- signals

def _check_record_file(path, fmt, want_stop):
    """A finished recording: strictly valid, ends with the run record
    that names what stopped it."""
    if fmt == "json":
        g = load_trace(path)["otherData"]["gilsnoop"]
        assert g["stopped_by"] == want_stop, g
        return
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # strictly UTF-8
    if fmt == "jsonl":
        lines = [strict_json(l, path) for l in text.split("\n") if l]
        assert "gilsnoop" in lines[0], lines[0]
        assert "gilsnoop_end" in lines[-1], "last line %r" % lines[-1]
        assert lines[-1]["gilsnoop_end"]["stopped_by"] == want_stop, lines[-1]
    else:
        import csv
        import io
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        assert rows[0][0] == "tid" and all(len(r) == 10 for r in rows), rows[:3]
        assert raw.endswith(b"\r\n"), raw[-80:]


def global_safety_record_signals(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        cases = []
        for sig in TERM_SIGNALS:
            for delay in (0.0, 0.02, 0.15, 0.8):
                cases.append((sig, delay, "json"))
        cases += [(signal.SIGINT, 0.6, "jsonl"), (signal.SIGTERM, 0.6, "csv")]
        for i, (sig, delay, fmt) in enumerate(cases):
            f = os.path.join(ctx.tmpdir, "sig%d.%s" % (i, fmt))
            what = "record %s after %.2fs (%s)" % (sig.name, delay, fmt)
            bg = Background(ctx, ["record", "-p", t.pid, "-o", f, "--format", fmt])
            time.sleep(delay)
            bg.signal(sig)
            rc, out, err = bg.wait(timeout=20, allow_signal=True)
            if rc == -sig:
                # Only before the handlers are in place, which is before
                # the file is created.
                assert not os.path.exists(f), "%s: killed, but left %s" % (what, f)
            else:
                assert rc == EXIT_OK, "%s: exit %d: %s" % (what, rc, err)
                assert "gilsnoop:" not in err, "%s: stderr %r" % (what, err)
                _check_record_file(f, fmt, sig.name)
            assert t.alive(), "%s: the target died" % what
        # The target runs on, undisturbed.
        ok, figures = runs_on(t.pid)
        assert ok, "the target made no progress after the recordings " \
            "(CPU ns %s -> %s)" % figures


def global_safety_record_stdout_slow_reader(ctx):
    """SIGTERM while record is blocked writing "-o -" to a reader that
    lags: the stream must still end complete (a write the signal cut
    short is finished, not dropped)."""
    py = pick(ctx)
    with start_target(py, "threads.py", ["--cpu", 2, "--sleep", 4]) as t:
        # A pipe of one page, already full: record's very first write
        # blocks without writing a byte, the case where a signal makes
        # write() fail with EINTR.
        r, w = os.pipe()
        try:
            fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
        except OSError as e:
            os.close(r)
            os.close(w)
            raise Skip("cannot size a pipe: %s" % e)
        os.set_blocking(w, False)
        junk = 0
        try:
            while True:
                junk += os.write(w, b"#" * 512)
        except BlockingIOError:
            pass
        os.set_blocking(w, True)
        try:
            bg = Background(ctx, ["record", "-p", t.pid, "-o", "-", "--format",
                                  "jsonl"], stdout=w)
        finally:
            os.close(w)
        deadline = time.monotonic() + 10
        wchan = ""
        while time.monotonic() < deadline and bg.proc.poll() is None:
            with open("/proc/%d/wchan" % bg.pid) as f:
                wchan = f.read()
            if "pipe" in wchan:
                break
            time.sleep(0.02)
        ctx.note("record's wchan before SIGTERM", wchan)
        assert "pipe" in wchan, "record never blocked on the full pipe (%r)" % wchan
        bg.signal(signal.SIGTERM)
        time.sleep(0.2)
        with os.fdopen(r, "rb") as f:
            data = f.read()
        rc, out, err = bg.wait(timeout=20)
        assert rc == EXIT_OK, "exit %d after SIGTERM: %s" % (rc, err[-400:])
        assert data[:junk] == b"#" * junk, "the pipe's first %d bytes" % junk
        text = data[junk:].decode("utf-8")
        assert text.endswith("\n"), "stream ends mid-line: %r" % text[-200:]
        lines = [strict_json(l, "stdout") for l in text.split("\n") if l]
        assert "gilsnoop" in lines[0], "no header: %r" % lines[0]
        assert "gilsnoop_end" in lines[-1], "no closing record: %r" % lines[-1]
        assert lines[-1]["gilsnoop_end"]["stopped_by"] == "SIGTERM", lines[-1]
        assert t.alive()


def global_safety_top_batch_reader_goes_away(ctx):
    """top -b | head -1: top notices the reader left and exits quietly."""
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        p = subprocess.run(
            ["sh", "-c", '"$0" top -b -i 0.2 -p "$1" | head -1', ctx.gilsnoop,
             str(t.pid)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        out = p.stdout.decode(errors="replace")
        err = p.stderr.decode(errors="replace")
        ctx.note("top -b | head -1", "[rc %d]\n%s\n%s" % (p.returncode, out, err))
        ctx.check_sanitizers(err, "top -b | head -1")
        assert out.startswith("gilsnoop top  pid %d" % t.pid), out
        # Direct: see top's own exit status and stderr.
        bg = Background(ctx, ["top", "-b", "-i", "0.2", "-p", t.pid],
                        stdout=subprocess.PIPE)
        first = bg.proc.stdout.readline()
        assert first.startswith(b"gilsnoop top"), first
        bg.proc.stdout.close()
        rc, _, err = bg.wait(timeout=10, allow_signal=True)
        assert rc in (EXIT_OK, -signal.SIGPIPE), "top -b exited %d: %s" % (rc, err)
        assert err == "", "top -b complained about the closed pipe: %r" % err
        assert t.alive()


def global_safety_top_batch_signals(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        for sig in TERM_SIGNALS:
            for delay in (0.1, 0.7):
                bg = Background(ctx, ["top", "-b", "-i", 0.25, "-p", t.pid])
                time.sleep(delay)
                bg.signal(sig)
                rc, out, err = bg.wait(timeout=20, allow_signal=True)
                what = "top -b, %s after %.1fs" % (sig.name, delay)
                if rc == -sig:
                    assert out == "", "%s: killed mid-output: %r" % (what, out[-200:])
                else:
                    assert rc == EXIT_OK and err == "", "%s: %d %r" % (what, rc, err)
                    assert out == "" or out.endswith("\n\n"), \
                        "%s: output ends mid-frame: %r" % (what, out[-200:])
                assert t.alive(), what


def global_safety_info_closed_pipe_and_signals(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        # A reader that is gone before info writes.
        for args in (["info", "-p", t.pid], ["info", "--json", "-p", t.pid]):
            r, w = os.pipe()
            os.close(r)
            try:
                bg = Background(ctx, args, stdout=w)
            finally:
                os.close(w)
            rc, _, err = bg.wait(timeout=30, allow_signal=True)
            assert rc in (EXIT_OK, -signal.SIGPIPE), "%s: exit %d: %s" % (args, rc, err)
            assert err == "", "%s to a closed pipe: %r" % (args, err)
        # SIGINT/TERM/HUP at any moment: all the output or none of it.
        for i, sig in enumerate(TERM_SIGNALS * 3):
            bg = Background(ctx, ["info", "--json", "-p", t.pid])
            time.sleep(0.015 * i)
            bg.signal(sig)
            rc, out, err = bg.wait(timeout=30, allow_signal=True)
            assert rc in (EXIT_OK, -sig), "info, %s: exit %d: %s" % (sig.name, rc, err)
            if out:
                doc = strict_json(out, "info --json")
                assert doc["pid"] == t.pid
        assert t.alive()


# ------------------------------------------------------- stopped target

def global_safety_stopped_target(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", WORKLOAD) as t:
        os.kill(t.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with open("/proc/%d/stat" % t.pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "T":
                        break
                time.sleep(0.02)
            rc, out, err = ctx.run(["info", "--json", "-p", t.pid], timeout=20)
            assert rc == EXIT_OK, "info on a stopped target: %d %s" % (rc, err)
            doc = strict_json(out, "info --json")
            assert doc["stopped"] is True, "info --json does not say stopped"
            states = {th["state"] for th in doc["threads"]}
            assert states == {"T"}, "thread states %s, want all T" % states
            rc, out, err = ctx.run(["info", "-p", t.pid], timeout=20)
            assert rc == EXIT_OK and "stopped" in out.split("\n")[1], out[:400]

            f = os.path.join(ctx.tmpdir, "stopped.json")
            rc, out, err = ctx.run(["record", "-p", t.pid, "-o", f, "-d", 1.5],
                                   timeout=30)
            assert rc == EXIT_OK, "record on a stopped target: %d %s" % (rc, err)
            doc = load_trace(f)
            xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
            assert xs, "no intervals recorded"
            on_cpu = [e for e in xs if e["args"]["role"] in ("holding", "running")]
            assert not on_cpu, "a stopped thread shown on a CPU: %r" % on_cpu[:3]
            assert doc["otherData"]["gilsnoop"]["samples"] > 100, \
                doc["otherData"]["gilsnoop"]

            rc, out, err = ctx.run(["top", "-b", "-n", 2, "-i", 0.3, "-p", t.pid],
                                   timeout=30)
            assert rc == EXIT_OK, "top -b on a stopped target: %d %s" % (rc, err)
            assert str(t.tids["holdsleep"]) in out
        finally:
            os.kill(t.pid, signal.SIGCONT)
        # gilsnoop left nothing behind: the target runs on.
        ok, figures = runs_on(t.pid)
        assert ok, "the target did not run after SIGCONT (CPU ns %s -> %s)" % figures
        assert t.alive()


# ----------------------------------------------------- permission denied

def _as_nobody():
    if os.geteuid() != 0:
        raise Skip("needs root to switch to nobody")
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--"]
    raise Skip("neither setpriv nor runuser is installed")


def global_safety_permission_denied(ctx):
    prefix = _as_nobody()
    py = pick(ctx)
    # A copy nobody can run: the build directory may not be reachable.
    d = os.path.join(ctx.tmpdir, "nobody")
    os.mkdir(d)
    exe = os.path.join(d, "gilsnoop")
    shutil.copy2(ctx.gilsnoop, exe)
    for p in (ctx.tmpdir, d):
        os.chmod(p, 0o755)
    os.chmod(exe, 0o755)
    out_dir = os.path.join(d, "out")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    f = os.path.join(out_dir, "gil.json")
    with start_target(py, "threads.py", ["--sleep", 1]) as t:
        for label, args in (("info", ["info", "-p", t.pid]),
                            ("record", ["record", "-p", t.pid, "-o", f, "-d", 1]),
                            ("top -b", ["top", "-b", "-n", 1, "-p", t.pid])):
            cmd = prefix + [exe] + [str(a) for a in args]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30, cwd=d,
                               env=dict(os.environ, HOME=d, XDG_CACHE_HOME=""))
            err = p.stderr.decode(errors="replace")
            ctx.note("as nobody: " + " ".join(map(str, args)), "[rc %d] %s" % (p.returncode, err))
            ctx.check_sanitizers(err, label + " as nobody")
            one_line_error(p.returncode, err, EXIT_PERM, label + " as nobody",
                           ["permission denied", "CAP_SYS_PTRACE", "ptrace_scope"])
            assert not p.stdout, p.stdout[:200]
            assert not os.path.exists(f), "record as nobody left %s" % f
        assert t.alive()
