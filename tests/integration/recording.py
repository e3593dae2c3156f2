"""Helpers shared by test_record.py and test_report.py: running
`gilsnoop record` in the background, and checking what it wrote against
docs/trace-format.md.  Not a test module (its name has no test_ prefix).
"""
import json
import os
import signal
import subprocess
import time

from common import Skip, _kill_group, _set_pdeathsig, tail

GIL_PID_OFFSET = 1 << 30
EVENT_NAMES = {"GIL held", "GIL held off-CPU", "GIL wait", "running (no GIL)", "idle"}
ROLES = {"holding", "holding-offcpu", "waiting", "handoff", "running", "idle"}
ROLE_EVENT = {
    "holding": "GIL held", "holding-offcpu": "GIL held off-CPU",
    "waiting": "GIL wait", "running": "running (no GIL)", "idle": "idle",
    "handoff": "idle",
}
OTHERDATA_KEYS = {"version", "python_version", "pid", "rate_hz",
                  "achieved_rate_hz", "samples", "switches", "missed_switches"}
JSONL_KEYS = {"pid", "tid", "name", "state", "ts_us", "dur_us", "samples", "syscall",
              "path", "wchan"}
CSV_HEADER = ["tid", "name", "state", "ts_us", "dur_us", "samples", "syscall",
              "path", "wchan", "pid"]
EXIT_UNSUPPORTED = 6


def strict_json(text, what="file"):
    """json.loads with no tolerance: NaN/Infinity and duplicate keys fail."""
    def no_constant(name):
        raise AssertionError("%s: JSON has non-standard constant %s" % (what, name))

    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        dup = {k for k in keys if keys.count(k) > 1}
        assert not dup, "%s: duplicate keys %s" % (what, sorted(dup))
        return dict(pairs)
    return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_dupes)


def mono_us():
    return time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6


def ns(us):
    """Microseconds as written (3 decimals) to integer nanoseconds."""
    return int(round(us * 1000))


class Recorder:
    """gilsnoop running in the background (record with no -d)."""

    def __init__(self, ctx, args):
        self.ctx = ctx
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(
            [ctx.gilsnoop] + self.args, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_set_pdeathsig)
        ctx._procs.append(self.proc)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def finish(self, timeout=30, allow_signal=False):
        """Wait for the end; (rc, stdout, stderr)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            out, err = self.proc.communicate()
            self.ctx.note("gilsnoop " + " ".join(self.args),
                          "[killed]\n" + tail(err.decode(errors="replace")))
            raise AssertionError("gilsnoop %s did not stop within %ss"
                                 % (" ".join(self.args), timeout))
        out = out.decode(errors="replace")
        err = err.decode(errors="replace")
        rc = self.proc.returncode
        self.ctx.note("gilsnoop " + " ".join(self.args),
                      "[rc %d]\n--- stdout\n%s\n--- stderr\n%s" % (rc, tail(out), tail(err)))
        self.ctx.check_sanitizers(err, "gilsnoop " + " ".join(self.args))
        if rc < 0 and not allow_signal:
            raise AssertionError("gilsnoop died of signal %d" % -rc)
        return rc, out, err


def skip_if_unsupported(rc, err):
    if rc == EXIT_UNSUPPORTED:
        raise Skip("gilsnoop does not support this build: " + err.strip()[:200])


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def count_in(path, needle):
    try:
        with open(path, "rb") as f:
            return f.read().count(needle.encode())
    except OSError:
        return 0


def file_has(path, needle):
    try:
        with open(path, "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


def record(ctx, target, seconds=2, fmt="json", name="gil.json", extra=()):
    """Record target for `seconds` with -d.  Returns (path, rc, out, err);
    skips when the interpreter is not supported."""
    path = os.path.join(ctx.tmpdir, name)
    args = ["record", "-p", target.pid, "-o", path, "-d", seconds]
    if fmt != "json":
        args += ["--format", fmt]
    rc, out, err = ctx.run(args + list(extra), timeout=seconds + 60)
    skip_if_unsupported(rc, err)
    assert rc == 0, "record exited %d: %s" % (rc, err.strip())
    return path, rc, out, err


def load_trace(path):
    """Read a json recording strictly and check its top level."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    doc = strict_json(text, path)
    assert isinstance(doc, dict), "%s: top level is %s, want an object" % (
        path, type(doc).__name__)
    want = {"traceEvents", "displayTimeUnit", "viztracer_metadata", "otherData"}
    # stackFrames ends a complete file whose stack samples name them.
    if isinstance(doc.get("traceEvents"), list) and any(
            "sf" in e for e in doc["traceEvents"] if isinstance(e, dict)):
        want.add("stackFrames")
    assert set(doc) == want, "%s: top-level keys %s, want %s" % (
        path, sorted(doc), sorted(want))
    assert doc["displayTimeUnit"] == "ns", doc["displayTimeUnit"]
    assert doc["viztracer_metadata"] == {}, doc["viztracer_metadata"]
    assert isinstance(doc["traceEvents"], list)
    g = doc["otherData"].get("gilsnoop")
    assert isinstance(g, dict), "otherData has no gilsnoop object: %r" % doc["otherData"]
    missing = OTHERDATA_KEYS - set(g)
    assert not missing, "otherData.gilsnoop lacks %s: %r" % (sorted(missing), g)
    # One event per line, so that a cut-off file can be read line by line.
    lines = text.split("\n")
    assert lines[0] == '{"traceEvents":[', "first line %r" % lines[0][:80]
    n_event_lines = sum(1 for l in lines if l.startswith('{"ph":'))
    assert n_event_lines == len(doc["traceEvents"]), (
        "%d events but %d event lines: not one event per line" % (
            len(doc["traceEvents"]), n_event_lines))
    return doc


def jsonl_stack_samples(lines):
    """The stack samples of a jsonl recording (lines: its parsed
    objects) as dicts {pid, tid, ts_us, role, stack, frames}, each
    stack resolved through the gilsnoop_stack line that must define it
    earlier in the file."""
    defined, out = {}, []
    for n, d in enumerate(lines, 1):
        if "gilsnoop_stack" in d:
            defined[d["gilsnoop_stack"]["id"]] = d["gilsnoop_stack"]["frames"]
        elif "gilsnoop_sample" in d:
            s = dict(d["gilsnoop_sample"])
            assert s["stack"] in defined, "line %d: stack %s used before it is defined" % (
                n, s["stack"])
            s["frames"] = defined[s["stack"]]
            out.append(s)
    return out


def json_stack_samples(doc):
    """The same for a json recording: its stack instants, each stack
    resolved through its gilsnoop_stack record."""
    defined = {}
    for e in doc["traceEvents"]:
        st = e.get("args", {}).get("gilsnoop_stack") if e["ph"] == "M" else None
        if st:
            defined[st["id"]] = st["frames"]
    out = []
    for e in doc["traceEvents"]:
        if e.get("cat") != "stack":
            continue
        sid = e["args"]["stack_id"]
        assert sid in defined, "stack %s is not defined in the recording" % sid
        out.append({"pid": e["pid"] - GIL_PID_OFFSET, "tid": e["tid"], "ts_us": e["ts"],
                    "role": e["args"]["role"], "stack": sid, "frames": defined[sid]})
    return out


def gil_events(doc, pid, ph=None):
    gp = pid + GIL_PID_OFFSET
    return [e for e in doc["traceEvents"] if e.get("pid") == gp and
            (ph is None or e.get("ph") == ph)]


def nesting_problems(events):
    """Per (pid, tid) track, X slices must nest: each slice lies inside
    the one enclosing it or after it, never partly over it.  Touching
    ends are fine.  Returns a list of problem strings."""
    tracks = {}
    for e in events:
        if e.get("ph") != "X":
            continue
        start = ns(e["ts"])
        tracks.setdefault((e["pid"], e["tid"]), []).append(
            (start, -(start + ns(e["dur"])), e["name"]))
    problems = []
    for key, sl in tracks.items():
        sl.sort()
        stack = []
        for start, negend, name in sl:
            end = -negend
            while stack and stack[-1][1] <= start:
                stack.pop()
            if stack and end > stack[-1][1]:
                problems.append("track %s: %r [%d,%d] overlaps %r [%d,%d]" % (
                    key, name, start, end, stack[-1][2], stack[-1][0], stack[-1][1]))
                if len(problems) > 5:
                    return problems
            stack.append((start, end, name))
    return problems


def gil_slices(events):
    """Per tid, the GIL process's slices (X) in time order."""
    tracks = {}
    for e in events:
        if e.get("ph") == "X" and e.get("cat") == "gil":
            tracks.setdefault(e["tid"], []).append(e)
    for sl in tracks.values():
        sl.sort(key=lambda e: (e["ts"], e["dur"]))
    return tracks


def tiling_problems(events, max_gap_us):
    """Consecutive slices of a thread as a viewer computes them, in IEEE
    doubles (JavaScript's numbers; Python's floats are the same): each
    must end at or before the next begins, ts[i] + dur[i] <= ts[i+1],
    and leave no gap wider than max_gap_us.  Returns (problems, pairs)."""
    problems, pairs = [], 0
    for tid, sl in gil_slices(events).items():
        for a, b in zip(sl, sl[1:]):
            pairs += 1
            end = float(a["ts"]) + float(a["dur"])
            if end > float(b["ts"]):
                problems.append("tid %d: %r ends at %r, after %r starts at %r" % (
                    tid, a["name"], end, b["name"], b["ts"]))
            elif float(b["ts"]) - end > max_gap_us:
                problems.append("tid %d: a gap of %.3f us between %r and %r at %r" % (
                    tid, float(b["ts"]) - end, a["name"], b["name"], end))
    return problems, pairs


def exact_ns(e):
    """(start, end) in nanoseconds: the microsecond grid of ts and dur
    plus the nanoseconds in the event's "gilsnoop" member."""
    a, b = e["gilsnoop"]["ns"]
    return e["ts"] * 1000 + a, (e["ts"] + e.get("dur", 0)) * 1000 + b


def check_one_line_error(rc, out, err, want_rc, what, words=()):
    assert rc == want_rc, "%s: exit %d, want %d; stderr %r" % (what, rc, want_rc, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], "%s: want one stderr line, got %r" % (what, err)
    assert lines[0].startswith("gilsnoop"), "%s: %r" % (what, lines[0])
    for w in words:
        assert w in lines[0], "%s: %r does not say %r" % (what, lines[0], w)


def summary_mentions(text, tids):
    missing = [t for t in tids if not any(l.lstrip().startswith(str(t) + " ")
                                          for l in text.splitlines())]
    assert not missing, "summary has no row for tids %s:\n%s" % (missing, text)


def terminate(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
