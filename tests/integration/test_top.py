"""gilsnoop top: the live screen, driven in a real terminal under tmux, and
batch mode (-b).

The screen tests run gilsnoop in a detached tmux session of a private
tmux server (its own socket and an empty config, so a user's tmux is
never touched), type keys with send-keys and read the screen with
capture-pane.  The status bar is off so the pane is the whole 80x24.
Each keeps to a few seconds: top refreshes every 0.5 s here.
"""
import datetime
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time

from common import Skip, start_target

WORKLOAD = ["--cpu", 2, "--sleep", 1]
STATES = ("holding-offcpu", "holding", "waiting", "handoff", "running",
          "idle", "unknown", "exited")
# Shares, then LONGEST and WAITp99, then DETAIL on wide lines.  HAND%
# (between WAIT% and RUN%) is there from 82 columns: six shares or five.
SHARE = r"-|\d+\.\d"
DUR = r"-|<1us|\d+us|\d+\.\d+ms|\d+(?:\.\d+)?s"
ROW = re.compile(r"^\s*(\d+) (.{1,64}?)\s+(%s)((?:\s+(?:%s)){5,6})\s+(%s)\s+(%s)"
                 r"(?:\s+(.*))?$" % ("|".join(STATES), SHARE, DUR, DUR))
# The first attach to a build parses its DWARF (the runner starts with an
# empty layout cache), which takes seconds on a busy machine.
ATTACH_S = 30
TABLE_HEAD = 6   # screen line of the column titles
TABLE_TOP = 7


def parse_row(line):
    """{tid, name, state, held, offcpu, wait, handoff, run, idle, longest,
    p99} or None; shares are floats, None for '-' (handoff also when the
    line has no HAND%)."""
    m = ROW.match(line)
    if not m:
        return None
    def pct(s):
        return None if s == "-" else float(s)
    sh = [pct(x) for x in m.group(4).split()]
    if len(sh) == 5:
        sh.insert(3, None)
    return {"tid": int(m.group(1)), "name": m.group(2).strip(),
            "state": m.group(3), "held": sh[0], "offcpu": sh[1],
            "wait": sh[2], "handoff": sh[3], "run": sh[4], "idle": sh[5],
            "longest": m.group(5), "p99": m.group(6)}


def check_roles(rows, t, where):
    """The CPU-bound threads hold and wait for the GIL, the sleeper idles."""
    by_tid = {r["tid"]: r for r in rows}
    for name in ("cpu-1", "cpu-2"):
        r = by_tid[t.tids[name]]
        assert r["held"] is not None and r["held"] >= 5, \
            "%s: %s held %s%%, want >= 5%%: %r" % (where, name, r["held"], r)
        assert r["wait"] is not None and r["wait"] >= 1, \
            "%s: %s waited %s%%, want >= 1%%: %r" % (where, name, r["wait"], r)
    # sleep-1 wakes every second and then waits for the GIL like anyone
    # else; on a loaded machine one such wait can fill a good part of a
    # short run.  main never wakes.
    for name, idle in (("sleep-1", 50), ("main", 80)):
        r = by_tid[t.tids[name]]
        assert r["idle"] is not None and r["idle"] >= idle, \
            "%s: %s idle %s%%, want >= %d%%: %r" % (where, name, r["idle"], idle, r)
        assert r["held"] is not None and r["held"] < 5, \
            "%s: %s held %s%%, want ~0: %r" % (where, name, r["held"], r)


class Tmux:
    """One detached session of a private tmux server running gilsnoop."""

    def __init__(self, ctx, args, width=80, height=24, env=None):
        if shutil.which("tmux") is None:
            raise Skip("tmux is not installed")
        self.ctx = ctx
        sock = os.path.join(ctx.tmpdir, "tmux.sock")
        conf = os.path.join(ctx.tmpdir, "tmux.conf")
        self.err = os.path.join(ctx.tmpdir, "gilsnoop.stderr")
        with open(conf, "w") as f:
            # "screen" is in ncurses-base everywhere; tmux-256color is not.
            f.write('set -g default-terminal "screen"\nset -g status off\n')
        self.base = ["tmux", "-S", sock, "-f", conf]
        assigns = " ".join("%s=%s" % (k, shlex.quote(v))
                           for k, v in sorted((env or {}).items()))
        cmd = "%s %s %s 2>%s; echo \"[gilsnoop exit $?]\"; sleep 600" % (
            "env " + assigns if assigns else "", shlex.quote(ctx.gilsnoop),
            " ".join(shlex.quote(str(a)) for a in args), shlex.quote(self.err))
        self.label = "tmux: gilsnoop " + " ".join(map(str, args))
        self.tmux("new-session", "-d", "-s", "top", "-x", str(width), "-y",
                  str(height), cmd)

    def tmux(self, *args):
        p = subprocess.run(self.base + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        if p.returncode != 0:
            raise AssertionError("tmux %s failed: %s" % (
                " ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "top", *keys)

    def screen(self, escapes=False):
        out = self.tmux("capture-pane", "-p", "-t", "top", *(["-e"] if escapes else []))
        return out.rstrip("\n").split("\n")

    def wait(self, pred, what, timeout=8.0):
        """The screen (a list of lines) once pred(screen) holds."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            try:
                if pred(lines):
                    return lines
            except (IndexError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("%s: not seen within %.0fs; the screen:\n%s"
                                     % (what, timeout, "\n".join(lines)))
            time.sleep(0.1)

    def _stop_gilsnoop(self):
        """SIGTERM to a gilsnoop still running in the pane, and a wait for
        it.  Left to kill-server, it gets SIGHUP and SIGCONT at once; under
        ASan, a SIGCONT that lands while LeakSanitizer stops the process
        at exit leaves it spinning for ever, an orphan burning a CPU
        through the rest of the run.  Returns the pane's pid."""
        try:
            pane = int(self.tmux("display-message", "-p", "-t", "top",
                                 "#{pane_pid}").strip())
            with open("/proc/%d/task/%d/children" % (pane, pane)) as f:
                kids = [int(x) for x in f.read().split()]
        except (AssertionError, OSError, ValueError, subprocess.TimeoutExpired):
            return None
        for k in kids:
            try:
                with open("/proc/%d/comm" % k) as f:
                    if f.read().strip() != "gilsnoop":
                        continue
                os.kill(k, signal.SIGTERM)
            except OSError:
                continue
            deadline = time.monotonic() + 10
            while os.path.exists("/proc/%d" % k) and time.monotonic() < deadline:
                try:
                    with open("/proc/%d/stat" % k) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                            break
                except OSError:
                    break
                time.sleep(0.05)
        return pane

    def close(self):
        try:
            text = "\n".join(self.screen())
        except Exception:
            text = "(no screen)"
        pane = self._stop_gilsnoop()
        try:
            with open(self.err, errors="replace") as f:
                err = f.read()
        except OSError:
            err = ""
        self.ctx.note(self.label, "--- last screen\n%s\n--- stderr\n%s" % (text, err))
        subprocess.run(self.base + ["kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        if pane:
            try:
                os.killpg(pane, signal.SIGKILL)
            except OSError:
                pass
        self.ctx.check_sanitizers(err, self.label)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def rows_of(lines):
    return [r for r in map(parse_row, lines[TABLE_TOP:]) if r]


def has_rows(tids):
    want = set(tids)
    return lambda lines: want <= {r["tid"] for r in rows_of(lines)}


def check_frame(lines, width, height, tids, where):
    """A whole, clean frame: every line where it belongs and nothing else."""
    assert len(lines) <= height, "%s: %d lines on a %d-line screen" % (
        where, len(lines), height)
    lines = lines + [""] * (height - len(lines))
    for i, line in enumerate(lines):
        assert len(line) <= width, "%s: line %d is %d wide on %d columns: %r" % (
            where, i, len(line), width, line)
    assert lines[0].startswith("gilsnoop top  pid "), "%s: top line %r" % (where, lines[0])
    assert lines[TABLE_HEAD].lstrip().startswith("TID NAME"), \
        "%s: column titles not on line %d: %r" % (where, TABLE_HEAD, lines[TABLE_HEAD])
    assert lines[-1].startswith("q quit"), "%s: last line %r" % (where, lines[-1])
    seen = []
    for i in range(TABLE_TOP, height - 1):
        if not lines[i].strip():
            continue
        r = parse_row(lines[i])
        assert r, "%s: line %d is neither a thread row nor blank: %r" % (
            where, i, lines[i])
        seen.append(r["tid"])
    assert len(seen) == len(set(seen)), "%s: a thread shown twice: %r" % (where, seen)
    assert set(tids) <= set(seen), "%s: rows %r lack some of %r" % (where, seen, tids)


def frame_ok(lines, width, height, tids):
    try:
        check_frame(lines, width, height, tids, "")
    except AssertionError:
        return False
    return True


def sgr_colours(lines):
    """Colour parameters in the SGR sequences of a capture-pane -e."""
    found = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", "\n".join(lines)):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 38 or 40 <= int(p) <= 48 or
                                90 <= int(p) <= 107):
                found.add(int(p))
    return found


def test_top_screen_rows(py, ctx):
    # Rows carry the workload's tids, the roles show, colour is on.
    with start_target(py, "threads.py", WORKLOAD) as t:
        with Tmux(ctx, ["top", "-p", t.pid, "-i", "0.5", "-w", "all"],
                  env={"LANG": "C.UTF-8"}) as tm:
            lines = tm.wait(has_rows(t.tids.values()), "a row per thread", ATTACH_S)
            # Two refreshes give the shares something to cover.
            time.sleep(1.2)
            lines = tm.wait(has_rows(t.tids.values()), "rows after 1 s")
            check_frame(lines, 80, 24, t.tids.values(), "80x24")
            rows = rows_of(lines)
            for r in rows:
                if r["tid"] in t.tids.values():
                    want = [k for k, v in t.tids.items() if v == r["tid"]][0]
                    if want != "main":
                        assert r["name"] == want, "tid %d is named %r, want %r" % (
                            r["tid"], r["name"], want)
            check_roles(rows, t, "screen, window all")
            assert "Python %d.%d" % (py.version[0], py.version[1]) in lines[0], lines[0]
            assert "pid %d " % t.pid in lines[0], lines[0]
            assert re.search(r"now \d+\.\d%  session \d+\.\d%", lines[1]), lines[1]
            assert lines[2].startswith("last 60s ") and \
                re.search("[\u2581-\u2588]", lines[2]), \
                "no block-character sparkline in a UTF-8 locale: %r" % lines[2]
            assert re.search(r"interval \d+\.\dms", lines[3]), lines[3]
            assert re.search(r"^holder  (\d+ |none|a thread)", lines[4]), lines[4]
            colours = sgr_colours(tm.screen(escapes=True))
            assert colours, "no colour on the screen without NO_COLOR"


def test_top_screen_keys_and_resize(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        tids = list(t.tids.values())
        with Tmux(ctx, ["top", "-p", t.pid, "-i", "0.5"],
                  env={"LANG": "C", "NO_COLOR": "1"}) as tm:
            lines = tm.wait(has_rows(tids), "a row per thread", ATTACH_S)
            assert not sgr_colours(tm.screen(escapes=True)), \
                "colour used although NO_COLOR=1"
            assert "window: 1s" in lines[0] and "sort: HELD%" in lines[-1], lines

            # p freezes the frame: the clock in the header stops.
            tm.keys("p")
            lines = tm.wait(lambda s: "PAUSED" in s[5] and "p resume" in s[-1],
                            "the pause line")
            time.sleep(1.3)
            later = tm.screen()
            assert later[0] == lines[0] and later[7:-1] == lines[7:-1], \
                "the display moved while paused:\n%s\n---\n%s" % (
                    "\n".join(lines), "\n".join(later))
            tm.keys("p")
            tm.wait(lambda s: "PAUSED" not in "\n".join(s) and "p pause" in s[-1],
                    "the pause line gone after a second p")

            tm.keys(">")
            tm.wait(lambda s: "sort: OFFC%" in s[-1], "sort moved to OFFC% by >")
            tm.keys("<")
            tm.wait(lambda s: "sort: HELD%" in s[-1], "sort back to HELD% by <")
            tm.keys("w")
            tm.wait(lambda s: "window: 10s" in s[0] and "window: 10s" in s[-1],
                    "window 10s after w")
            tm.keys("w")
            tm.wait(lambda s: "window: all" in s[0], "window all after a second w")
            tm.keys("h")
            tm.wait(lambda s: "Help" in s[0] and any("quit" in l for l in s),
                    "the help screen")
            tm.keys("x")
            tm.wait(lambda s: s[0].startswith("gilsnoop top  pid"),
                    "the table back after a key in help")

            # A frame is redrawn for the new size within one refresh; the
            # stale one tmux keeps meanwhile is cut, not whole.
            tm.tmux("resize-window", "-t", "top", "-x", "100", "-y", "30")
            lines = tm.wait(lambda s: frame_ok(s, 100, 30, tids) and
                            "DETAIL" in s[TABLE_HEAD], "a whole 100x30 frame")
            tm.tmux("resize-window", "-t", "top", "-x", "80", "-y", "24")
            lines = tm.wait(lambda s: frame_ok(s, 80, 24, tids) and
                            "DETAIL" not in s[TABLE_HEAD], "a whole 80x24 frame")
            assert re.fullmatch(r"last 60s [ _.\-:=+*#]*", lines[2]), \
                "sparkline not ASCII in the C locale: %r" % lines[2]

            tm.keys("q")
            tm.wait(lambda s: "[gilsnoop exit 0]" in "\n".join(s), "exit 0 after q")


def test_top_screen_target_exit(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        tids = list(t.tids.values())
        with Tmux(ctx, ["top", "-p", t.pid, "-i", "0.5"]) as tm:
            tm.wait(has_rows(tids), "a row per thread", ATTACH_S)
            time.sleep(0.6)
            t.proc.kill()
            t.proc.wait()
            msg = "process %d exited" % t.pid
            lines = tm.wait(lambda s: msg in s[5], "'%s'" % msg)
            rows = rows_of(lines)
            assert set(tids) <= {r["tid"] for r in rows}, \
                "rows gone after the exit: %r" % rows
            assert any(r["held"] for r in rows), "no figures kept: %r" % rows
            # The final figures stay put until q.
            time.sleep(1.2)
            assert tm.screen() == lines, "the screen changed after the exit"
            tm.keys("q")
            tm.wait(lambda s: "[gilsnoop exit 0]" in "\n".join(s), "exit 0 after q")


def parse_batch(out, longest=None):
    """[(header lines, rows)] per iteration, and the lines after them.
    An iteration's "longest hold ..." line is left out of its header and
    appended to the list longest, when given, as (iteration, line)."""
    blocks, tail = [], []
    for line in out.split("\n"):
        if line.startswith("gilsnoop top  pid "):
            blocks.append(([line], []))
        elif blocks and line.startswith("longest hold ") and len(blocks[-1][0]) < 6:
            if longest is not None:
                longest.append((len(blocks) - 1, line))
        elif blocks and line and len(blocks[-1][0]) < 6:
            blocks[-1][0].append(line)
        elif blocks and line:
            r = parse_row(line)
            if r:
                blocks[-1][1].append(r)
            else:
                tail.append(line)
    return blocks, tail


def test_top_batch(py, ctx):
    with start_target(py, "threads.py", WORKLOAD) as t:
        rc, out, err = ctx.run(["top", "-p", t.pid, "-b", "-n", 3, "-i", "0.5",
                                "-w", "all"], timeout=30)
        assert rc == 0, "exit %d: %s" % (rc, err)
        assert err == "", "stderr: %r" % err
        blocks, tail = parse_batch(out)
        assert len(blocks) == 3, "%d iterations, want 3:\n%s" % (len(blocks), out)
        assert not tail, "unexpected lines: %r" % tail
        stamps = []
        for i, (head, rows) in enumerate(blocks):
            assert "pid %d " % t.pid in head[0], head[0]
            assert head[5].lstrip().startswith("TID NAME"), head
            # Named as in report, HAND% included; each refresh says when.
            assert head[5].split()[3:9] == ["HELD%", "OFFC%", "WAIT%", "HAND%",
                                            "RUN%", "IDLE%"], head[5]
            assert all(r["handoff"] is not None for r in rows), rows
            m = re.search(r"  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"
                          r"[+-]\d\d:\d\d)$", head[0])
            assert m, "no wall-clock time at the end of %r" % head[0]
            stamps.append(datetime.datetime.strptime(
                m.group(1)[:23] + m.group(1)[23:].replace(":", ""),
                "%Y-%m-%dT%H:%M:%S.%f%z"))
            assert abs((stamps[-1] - datetime.datetime.now(
                datetime.timezone.utc)).total_seconds()) < 120, \
                "wall-clock time %s is not now" % m.group(1)
            got = sorted(r["tid"] for r in rows)
            assert got == sorted(t.tids.values()), \
                "iteration %d shows tids %r, want %r" % (i + 1, got,
                                                          sorted(t.tids.values()))
        assert stamps == sorted(set(stamps)), \
            "wall-clock times do not increase: %r" % stamps
        check_roles(blocks[-1][1], t, "batch, iteration 3, window all")
        assert out.endswith("\n\n"), "iterations end with a blank line"


def test_top_batch_longest_hold(py, ctx):
    """-b prints the screen's message line: the window's longest hold,
    its thread and the Python frames it held the GIL in."""
    with start_target(py, "gilwork.py", ["--mode", "sort", "--threads", "1",
                                         "--sort-size", "400000", "--work", "100000"]) as t:
        rc, out, err = ctx.run(["top", "-p", t.pid, "-b", "-n", 3, "-i", "0.7"], timeout=30)
        assert rc == 0, "exit %d: %s" % (rc, err)
        longest = []
        blocks, tail = parse_batch(out, longest)
        assert len(blocks) == 3 and not tail, out
        assert longest, "no 'longest hold' line in three refreshes:\n%s" % out
        sort_tid = t.tids.get("sort")
        for i, line in longest:
            m = re.match(r"longest hold (\d+(?:\.\d+)?)(us|ms|s)  (\d+) (\S+)  at (.*)$", line)
            assert m, "iteration %d: %r" % (i + 1, line)
            ms = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
            assert ms >= 10, "a hold under the 10 ms that get a stack: %r" % line
            assert int(m.group(3)) == sort_tid and m.group(4) == "sort", \
                "the longest hold is the sort thread's (%d): %r" % (sort_tid, line)
            assert "sort_loop (gilwork.py:" in m.group(5), \
                "not held in sort_loop: %r" % line
            assert "(l: its stack)" not in line, "a key hint in a log: %r" % line


def test_top_stacks_of_every_process(py, ctx):
    """-p A,B: the stacks of B's threads are read too: B's long sort
    holds give the longest-hold line, with B's frames, although A is
    the first process."""
    with start_target(py, "gilwork.py", ["--mode", "cpu", "--threads", "1"]) as a, \
            start_target(py, "gilwork.py", ["--mode", "sort", "--threads", "1",
                                            "--sort-size", "400000", "--work", "100000"]) as b:
        rc, out, err = ctx.run(["top", "-p", "%d,%d" % (a.pid, b.pid), "-b", "-n", 3,
                                "-i", "0.7"], timeout=30)
        assert rc == 0, "exit %d: %s" % (rc, err)
        longest = [l for l in out.splitlines() if l.startswith("longest hold ")]
        assert longest, "no 'longest hold' line:\n%s" % out
        sort_tid = b.tids["sort"]
        assert any(" %d sort  at sort_loop (gilwork.py:" % sort_tid in l for l in longest), \
            "the longest holds are not B's sort thread's (%d) in sort_loop: %r" % (
                sort_tid, longest)


def test_top_batch_target_exit(py, ctx):
    # The target dies only once top has printed an iteration, so that a
    # slow attach cannot turn this into a "no such process" run.
    with start_target(py, "threads.py", WORKLOAD) as t:
        args = ["top", "-p", str(t.pid), "-b", "-i", "0.5"]
        proc = subprocess.Popen([ctx.gilsnoop] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True, universal_newlines=True)
        lines = []

        def read():
            for line in proc.stdout:
                lines.append(line)
        reader = threading.Thread(target=read)
        reader.start()
        try:
            deadline = time.monotonic() + ATTACH_S
            while not any(l.lstrip().startswith("TID NAME") for l in list(lines)):
                assert proc.poll() is None, "top exited with %s before printing" \
                    " an iteration: %s" % (proc.returncode, proc.stderr.read())
                assert time.monotonic() < deadline, "no iteration within %ds" % ATTACH_S
                time.sleep(0.05)
            t.proc.kill()
            t.proc.wait()
            try:
                rc = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise AssertionError("top still running 15 s after the target exited")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
            err = proc.stderr.read()
            proc.stderr.close()
            proc.stdout.close()
        out = "".join(lines)
        ctx.note("$ gilsnoop " + " ".join(args), "[rc %s]\n--- stdout\n%s\n--- stderr\n%s"
                 % (proc.returncode, out[-3000:], err))
        ctx.check_sanitizers(err, "gilsnoop " + " ".join(args))
        assert rc == 0, "exit %d after the target exited, want 0: %s" % (rc, err)
        blocks, tail = parse_batch(out)
        assert blocks, "no iteration before the exit:\n%s" % out
        assert tail == ["process %d exited" % t.pid], \
            "want one final line 'process %d exited', got %r" % (t.pid, tail)
        assert out.rstrip("\n").split("\n")[-1] == tail[0], "final line not last"


def assert_usage_error(rc, out, err, what):
    assert rc == 2, "%s: exit %d, want 2" % (what, rc)
    assert out == "", "%s: printed on stdout: %r" % (what, out[:200])
    assert len(err.splitlines()) == 1 and err.startswith("gilsnoop: "), \
        "%s: want one 'gilsnoop: ' line on stderr, got %r" % (what, err)


def global_top_usage_errors(ctx):
    me = str(os.getpid())
    for args in (["-p", me, "-b", "-w", "5"], ["-p", me, "-b", "-i", "0"],
                 ["-p", me, "-b", "-i", "x"], ["-p", me, "-b", "-n", "0"],
                 ["-p", me, "-b", "-r", "fast"], ["-p", me, "-b", "-s", "nosuch"],
                 ["-b"], ["-p", me, "-b", "extra"], ["-p", me, "-b", "--nosuch"],
                 ["-p", "abc", "-b"]):
        rc, out, err = ctx.run(["top"] + args)
        assert_usage_error(rc, out, err, "top " + " ".join(args))


def global_top_needs_a_terminal(ctx):
    # ctx.run gives gilsnoop a pipe for stdout: no terminal, no -b.
    rc, out, err = ctx.run(["top", "-p", str(os.getpid())])
    assert_usage_error(rc, out, err, "top without a terminal")
    assert "-b" in err, "the message does not point at -b: %r" % err


def global_top_help(ctx):
    rc, out, err = ctx.run(["help", "top"])
    assert rc == 0 and err == "", "exit %d: %r" % (rc, err)
    for opt in ("-p", "-r", "-i", "-b", "-n", "-w", "-v", "-h"):
        assert re.search(r"^\s+%s[, ]" % re.escape(opt), out, re.M), \
            "help top does not describe %s:\n%s" % (opt, out)
    assert "sampling continues" in out, "help does not say what p does to sampling"
    assert re.search(r"^Exit status: 0 .*\b2 bad command line", out, re.M | re.S), \
        "help top has no exit-status section:\n%s" % out
    rc, out2, _ = ctx.run(["top", "--help"])
    assert rc == 0 and out2 == out, "top --help differs from help top"
    rc, out3, _ = ctx.run(["--help"])
    assert re.search(r"^\s+top\s+\S", out3, re.M), "top not in the command list"
