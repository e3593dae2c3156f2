"""Bad input for info, record (-p) and top -b: whatever the pid names,
gilsnoop prints one clear line, exits with the documented code
(man/gilsnoop.1 EXIT STATUS), does not crash or hang, and record leaves
no file behind; and a target that exits or execs while gilsnoop attaches
or records is reported as such.
"""
import json
import os
import random
import re
import subprocess
import sys
import time

from common import Skip, start_sleeper, start_target
from recording import load_trace
from safety_helpers import (Background, EXIT_NOPROC, EXIT_NOTPY, EXIT_OK,
                            EXIT_USAGE, alive, need_tool, one_line_error,
                            pick, run_each)


def _reaped_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def global_badinput_pid_values(ctx):
    for bad in ("0", "-1", "-5", "abc", "", "1.5", "12x", " 7", "+7",
                "0x1f", "99999999999999999999"):
        run_each(ctx, bad, EXIT_USAGE, ["pid"], "-p %r" % bad)
    # Free pids: one just reaped, and one above any pid_max.
    run_each(ctx, _reaped_pid(), EXIT_NOPROC, ["no process"], "(reaped pid)")
    run_each(ctx, 2147483647, EXIT_NOPROC, ["no process"], "(pid 2^31-1)")


def _kernel_thread():
    """The pid of some kernel thread (PF_KTHREAD in /proc/PID/stat)."""
    for pid in [2] + sorted(int(d) for d in os.listdir("/proc") if d.isdigit()):
        try:
            with open("/proc/%d/stat" % pid) as f:
                flags = int(f.read().rsplit(")", 1)[1].split()[6])
        except (OSError, IndexError, ValueError):
            continue
        if flags & 0x00200000:
            return pid
    raise Skip("no kernel thread visible in /proc")


def global_badinput_kernel_thread(ctx):
    kt = _kernel_thread()
    run_each(ctx, kt, EXIT_NOTPY, ["kernel thread"], "(kernel thread %d)" % kt)


def global_badinput_not_python(ctx):
    p = start_sleeper()
    try:
        run_each(ctx, p.pid, EXIT_NOTPY, ["not a Python process"], "(sleep)")
    finally:
        p.kill()
        p.wait()


def global_badinput_zombie(ctx):
    # The child exits at once and its parent never waits for it.
    code = ("import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
            "print(pid, flush=True)\ntime.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        zpid = int(p.stdout.readline())
        deadline = time.monotonic() + 5
        while alive(zpid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(zpid) and os.path.exists("/proc/%d" % zpid), \
            "pid %d did not become a zombie" % zpid
        run_each(ctx, zpid, EXIT_NOPROC, ["zombie"], "(zombie %d)" % zpid)
    finally:
        p.kill()
        p.wait()


def global_badinput_own_pid(ctx):
    # $$ of a shell that then execs gilsnoop is gilsnoop's own pid.
    f = os.path.join(ctx.tmpdir, "self.json")
    for args in (["info", "-p", "$$"], ["info", "--json", "-p", "$$"],
                 ["record", "-p", "$$", "-o", f, "-d", "1"],
                 ["top", "-b", "-n", "1", "-p", "$$"]):
        script = 'exec "$0" %s' % " ".join(args)
        p = subprocess.run(["sh", "-c", script, ctx.gilsnoop],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        err = p.stderr.decode(errors="replace")
        ctx.note("sh -c '%s'" % script, "[rc %d] %s" % (p.returncode, err))
        ctx.check_sanitizers(err, "gilsnoop " + " ".join(args))
        one_line_error(p.returncode, err, EXIT_USAGE, " ".join(args),
                       ["gilsnoop itself"])
        assert not p.stdout, p.stdout[:200]
        assert not os.path.exists(f), "left %s behind" % f


def global_badinput_thread_id(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", ["--sleep", 1]) as t:
        tid = t.tids["sleep-1"]
        run_each(ctx, tid, EXIT_USAGE, ["thread of process %d" % t.pid],
                 "(a thread id)")


_NOINIT_C = r"""
#include <dlfcn.h>
#include <unistd.h>
/* Preloaded into a Python interpreter: stop it before main(), with the
 * runtime mapped but not initialised.  Anything else (the sh of a
 * launcher) runs on. */
__attribute__((constructor)) static void hold(void)
{
	if (!dlsym(RTLD_DEFAULT, "Py_Initialize"))
		return;
	if (write(1, "ready\n", 6) != 6)
		_exit(1);
	for (;;)
		pause();
}
"""


def _noinit_so(ctx):
    gcc = need_tool("gcc")
    src = os.path.join(ctx.tmpdir, "noinit.c")
    so = os.path.join(ctx.tmpdir, "noinit.so")
    with open(src, "w") as f:
        f.write(_NOINIT_C)
    p = subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-o", so, src, "-ldl"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Skip("cannot build the preload library: %s" %
                   p.stderr.decode(errors="replace")[-300:])
    return so


def test_badinput_not_initialised(py, ctx):
    so = _noinit_so(ctx)
    with start_target(py, "pass\n", env={"LD_PRELOAD": so}) as t:
        run_each(ctx, t.pid, EXIT_NOTPY, ["not initialised"],
                 "(runtime not initialised)")
        assert t.alive(), "the target died"


def global_badinput_force_keeps_file_on_failed_attach(ctx):
    f = os.path.join(ctx.tmpdir, "precious.json")
    with open(f, "w") as fh:
        fh.write("precious\n")
    p = start_sleeper()
    try:
        rc, out, err = ctx.run(["record", "-p", p.pid, "-o", f, "--force"])
    finally:
        p.kill()
        p.wait()
    one_line_error(rc, err, EXIT_NOTPY, "record --force on a non-Python pid")
    with open(f) as fh:
        got = fh.read()
    assert got == "precious\n", "a failed attach with --force changed the " \
        "existing file: %r" % got[:200]


# ----------------------------------------------- exit and exec mid-way

SPIN_THEN_EXEC = r"""
import os, sys, threading, time
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
print("ready", flush=True)
time.sleep(%s)
os.execvp("sleep", ["sleep", "60"])
"""


def global_badinput_exec_during_record(ctx):
    py = pick(ctx)
    f = os.path.join(ctx.tmpdir, "exec.json")
    with start_target(py, SPIN_THEN_EXEC % 0.5) as t:
        # No -d: the exec alone must end the recording.
        bg = Background(ctx, ["record", "-p", t.pid, "-o", f])
        rc, out, err = bg.wait(timeout=20)
        assert rc == EXIT_OK, "record exited %d: %s" % (rc, err)
        assert "exec'd" in err and "sleep" in err, \
            "record did not say the target exec'd: %r" % err
        doc = load_trace(f)
        g = doc["otherData"]["gilsnoop"]
        assert g["target_exited"] is True and g["stopped_by"] == "target exec'd", g
        assert "the target exited" in out, out
        assert t.alive(), "the exec'd target (sleep) died"
        rc, out, err = ctx.run(["report", f])
        assert rc == 0 and "stopped by target exec'd" in out, (rc, out, err)

    with start_target(py, SPIN_THEN_EXEC % 0.5) as t:
        rc, out, err = ctx.run(["top", "-b", "-i", "0.2", "-p", t.pid], timeout=20)
        assert rc == EXIT_OK, "top -b exited %d: %s" % (rc, err)
        last = out.rstrip("\n").split("\n")[-1]
        assert "exec'd" in last and "sleep" in last, \
            "top -b did not end with the exec: %r" % last


# A Python that keeps re-executing itself, each image living 20-60 ms.
REEXEC = r"""
import os, random, sys, time
if os.environ.get("GS_READY") != "1":
    os.environ["GS_READY"] = "1"
    print("ready", flush=True)
time.sleep(random.uniform(0.02, 0.06))
os.execv(sys.executable, [sys.executable] + sys.argv)
"""


def _check_attach_race(ctx, label, rc, out, err, f=None):
    """An attach that races with an exit or exec: it works, or it says
    the process exited/exec'd or is not (yet) Python.  Returns what
    happened, without numbers."""
    if rc == EXIT_OK:
        if f is not None:
            load_trace(f)
            os.unlink(f)
        return "ok"
    line = one_line_error(rc, err, (EXIT_NOPROC, EXIT_NOTPY), label)
    if f is not None:
        assert not os.path.exists(f), "%s: rc %d left %s behind" % (label, rc, f)
    return "rc %d: %s" % (rc, re.sub(r"[0-9]+", "N", line))


def global_badinput_exec_or_exit_during_attach(ctx):
    py = pick(ctx)
    if py.kind == "sid":
        raise Skip("the re-exec loop needs a directly executable interpreter")
    f = os.path.join(ctx.tmpdir, "race.json")
    script = os.path.join(ctx.tmpdir, "reexec.py")
    with open(script, "w") as fh:
        fh.write(REEXEC)
    seen = {}
    with start_target(py, script) as t:
        for i in range(8):
            for label, args, path in (
                    ("info", ["info", "-p", t.pid], None),
                    ("record", ["record", "-p", t.pid, "-o", f, "-d", 0.3], f),
                    ("top -b", ["top", "-b", "-n", 1, "-i", 0.1, "-p", t.pid], None)):
                rc, out, err = ctx.run(args, timeout=30)
                what = label + " " + _check_attach_race(
                    ctx, label + " (re-exec loop)", rc, out, err, path)
                seen[what] = seen.get(what, 0) + 1
            time.sleep(random.uniform(0, 0.03))
        assert t.alive(), "the re-exec loop died"
    ctx.note("outcomes against the re-exec loop", json.dumps(seen, indent=1))

    # Processes that exit while gilsnoop attaches.
    for i in range(12):
        life = random.uniform(0.0, 0.08)
        p = subprocess.Popen(py.argv + ["-c", "import time; time.sleep(%f)" % life])
        try:
            time.sleep(random.uniform(0, 0.05))
            rc, out, err = ctx.run(["info", "-p", p.pid], timeout=30)
            _check_attach_race(ctx, "info (exiting target)", rc, out, err)
        finally:
            p.kill()
            p.wait()
