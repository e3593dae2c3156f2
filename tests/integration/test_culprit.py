"""Why threads waited: the culprit part of record's summary and of
report (text and --json), report --svg, and top's stacks and help.

One target per interpreter (tests/workloads/culprit.py): thread
"journal" holds the GIL off CPU in read() on a FIFO, called through
ctypes.PyDLL from journal_flush, about 150 ms at a time; "worker" spins
in pure Python and waits behind it.  One short recording with
--long-hold, then report, report --json and report --svg on its file,
then top on a terminal (tmux) on the same target.
"""
import json
import os
import re
import xml.etree.ElementTree as ET

from common import Skip, start_target
from test_top import ATTACH_S, Tmux

SVG = "{http://www.w3.org/2000/svg}"


def check_verdict(text, t, fifo, line, where):
    j, w = t.tids["journal"], t.tids["worker"]
    m = re.search(r"^journal \(%d\) held the GIL off-CPU (\d+\.\d)%% of the time in "
                  r"read\(%s\) (?:wchan=\S+ )?at journal_flush \((\S*culprit\.py):(\d+)\); "
                  r"worker \(%d\) waited behind it (\d+)%% of its time$"
                  % (j, re.escape(fifo), w), text, re.M)
    assert m, "%s: no verdict naming journal, read(%s), journal_flush and worker:\n%s" % (
        where, fifo, text)
    assert int(m.group(3)) == line, "%s: verdict at line %s, the read is on line %d" % (
        where, m.group(3), line)
    assert float(m.group(1)) > 50, "%s: journal held off CPU only %s%%" % (
        where, m.group(1))
    assert int(m.group(4)) > 50, "%s: worker waited behind journal only %s%%" % (
        where, m.group(4))


def check_json(d, t, fifo, line):
    j, w = t.tids["journal"], t.tids["worker"]
    g = d["offcpu_holds"][0]
    assert (g["tid"], g["name"], g["syscall"], g["path"]) == (j, "journal", "read", fifo), \
        "largest off-CPU group is not journal's read(%s): %r" % (fifo, g)
    assert re.fullmatch(r"journal_flush \(\S*culprit\.py:%d\)" % line, g["function"] or ""), \
        "off-CPU group's function: %r" % g["function"]
    assert g["stack"] and g["stack"][0] == g["function"], "group stack: %r" % g["stack"]
    assert g["count"] >= 3 and g["longest_ms"] >= 100, "group figures: %r" % g
    h = d["longest_holds"][0]
    assert h["tid"] == j and h["duration_ms"] >= 100 and h["syscall"] == "read", h
    assert h["stack"][0].startswith("journal_flush (") and \
        any(f.startswith("journal_loop (") for f in h["stack"]), h["stack"]
    assert h["waiters"] >= 1 and any(x["tid"] == w for x in h["waited_by"]), h
    # Waited behind, a two-thread case: the worker waits only for the GIL
    # and almost only behind journal (it has nothing else to wait for).
    wb = {x["tid"]: x for x in d["waited_behind"]}
    assert w in wb, "worker not among the waiting threads: %r" % d["waited_behind"]
    b = wb[w]["behind"]
    assert b[0]["tid"] == j and b[0]["wait_pct"] >= 85, \
        "worker's waits are not mostly behind journal: %r" % wb[w]
    # Every waited nanosecond is behind some holder or unattributed, and
    # the wait is the one the thread table has.
    thr = {x["tid"]: x for x in d["threads"]}
    total = sum(x["ms"] for x in b) + wb[w]["unattributed_ms"]
    assert abs(total - wb[w]["wait_ms"]) < 0.01 * len(b) + 0.01, \
        "behind %.3f ms + unattributed do not add up to the wait %.3f ms" % (
            total, wb[w]["wait_ms"])
    assert abs(wb[w]["wait_pct"] - thr[w]["waiting_pct"]) < 0.01, \
        "waited_behind's wait %.3f%% vs the table's WAIT%% %.3f%%" % (
            wb[w]["wait_pct"], thr[w]["waiting_pct"])
    assert d["verdict"].startswith("journal (%d) held the GIL off-CPU" % j), d["verdict"]


def check_svg(path, t):
    size = os.path.getsize(path)
    text = open(path, encoding="utf-8").read()
    root = ET.fromstring(text)   # raises on anything that is not XML
    assert root.tag == SVG + "svg", root.tag
    assert "<script" not in text and "href" not in text and "@import" not in text, \
        "the SVG refers to something outside itself"
    lanes = {int(g.get("data-tid")) for g in root.iter(SVG + "g")
             if g.get("class") == "lane"}
    assert lanes == set(t.tids.values()), "lanes for %r, threads %r" % (
        sorted(lanes), sorted(t.tids.values()))
    frames = [g.find(SVG + "title").text for g in root.iter(SVG + "g")
              if g.get("class") == "frame"]
    assert any(f.startswith("journal_flush (") for f in frames), \
        "no journal_flush box in the flame graph: %r" % frames[:8]
    marks = [g.find(SVG + "title").text for g in root.iter(SVG + "g")
             if g.get("class") == "mark"]
    assert any("longest hold #1" in m and "journal_flush" in m for m in marks), marks
    assert size < 2 << 20, "%d bytes for a 1 s recording" % size


def test_why_culprit_report_svg_top(py, ctx):
    fifo = os.path.join(ctx.tmpdir, "app.journal")
    os.mkfifo(fifo)
    out = os.path.join(ctx.tmpdir, "rec.json")
    svg = os.path.join(ctx.tmpdir, "rec.svg")
    with start_target(py, "culprit.py", [fifo, "--lifetime", 120]) as t:
        line = t.info["flush_line"]
        rc, text, err = ctx.run(["record", "-p", t.pid, "-d", "1.2", "--long-hold", "50",
                                 "-o", out], timeout=60)
        assert rc == 0, "record: exit %d: %s" % (rc, err)
        check_verdict(text, t, fifo, line, "record's summary")

        rc, text, err = ctx.run(["report", out, "--svg", svg])
        assert rc == 0, "report: exit %d: %s" % (rc, err)
        check_verdict(text, t, fifo, line, "report")
        assert re.search(r"^Waited behind", text, re.M), text
        assert re.search(r"^\s+worker \(%d\) waited .*: behind journal \(%d\)"
                         % (t.tids["worker"], t.tids["journal"]), text, re.M), text
        rc, js, err = ctx.run(["report", "--json", out])
        assert rc == 0, "report --json: exit %d: %s" % (rc, err)
        check_json(json.loads(js), t, fifo, line)
        check_svg(svg, t)

        # top: the holder line, the selected (top) row's stack, help.
        with Tmux(ctx, ["top", "-p", t.pid, "-i", "0.5"], width=120, height=30,
                  env={"LANG": "C", "NO_COLOR": "1"}) as tm:
            tm.wait(lambda s: re.search(r"^holder  %d journal  at journal_flush "
                                        r"\(culprit\.py:%d\)" % (t.tids["journal"], line),
                                        s[4]),
                    "the holder line with journal_flush", ATTACH_S)
            # Sorted by HELD%, journal is the first row and selected.
            tm.wait(lambda s: s[7].split()[1] == "journal", "journal on top")
            tm.keys("Enter")
            lines = tm.wait(lambda s: s[0].startswith("Python stack of %d journal"
                                                      % t.tids["journal"]),
                            "journal's stack view after Enter")
            lines = tm.wait(lambda s: any(re.search(r"^\s+0  journal_flush \(\S*culprit"
                                                    r"\.py:%d\)" % line, x) for x in s),
                            "journal_flush innermost in the stack view")
            tm.keys("Down")
            tm.wait(lambda s: re.match(r"Python stack of \d+ (worker|main)", s[0]),
                    "Down shows the next thread's stack")
            tm.keys("Escape")
            tm.wait(lambda s: s[0].startswith("gilsnoop top  pid"), "the table after Esc")
            tm.keys("?")
            lines = tm.wait(lambda s: "Help" in s[0], "the help screen")
            help_text = "\n".join(lines)
            for key in ("q", "Up Down", "Enter", "l ", "< >", "w / W", "p ", "r ",
                        "h  ?", "PgUp", "Esc", "/  F3", "^L"):
                assert key in help_text, "help does not list %r:\n%s" % (key, help_text)
            tm.keys("x")
            tm.wait(lambda s: s[0].startswith("gilsnoop top  pid"), "the table after help")
            # / selects by name; Enter then shows that thread's stack.
            tm.keys("/", "w", "o", "r", "Enter")
            tm.keys("Enter")
            tm.wait(lambda s: s[0].startswith("Python stack of %d worker" % t.tids["worker"])
                    and any("worker_spin (" in x for x in s),
                    "worker's stack (worker_spin) after /wor and Enter")
            tm.keys("Escape")
            tm.wait(lambda s: s[0].startswith("gilsnoop top  pid"), "the table after Esc")
            tm.keys("l")
            tm.wait(lambda s: "during the window's longest hold" in s[0] and
                    any("journal_flush" in x for x in s),
                    "the longest hold's kept stack after l", 12)
            tm.keys("q")
            tm.wait(lambda s: "[gilsnoop exit 0]" in "\n".join(s), "exit 0 after q")


def global_report_svg_bounded(ctx):
    """An hour of 24 threads switching every few ms gives an SVG of bounded
    size: at most 1024 columns per lane, whatever the length."""
    path = os.path.join(ctx.tmpdir, "hour.jsonl")
    svg = os.path.join(ctx.tmpdir, "hour.svg")
    roles = ["holding", "waiting", "idle", "holding-offcpu", "running"]
    t0 = 5e9
    with open(path, "w") as f:
        f.write(json.dumps({"gilsnoop": {"format_version": 1, "version": "0.1.0",
                                         "python_version": "3.12.1", "pid": 4242,
                                         "comm": "app", "rate_hz": 1000.0}}) + "\n")
        for tid in range(100, 124):
            t, k = t0, tid
            # Few long intervals, then a burst of short ones at the end:
            # the columns must have doubled to an hour's span.
            while t < t0 + 3600e6:
                k = (k * 1103515245 + 12345) % 2 ** 31
                d = 1.5e6 + k % 2000000 if t < t0 + 3590e6 else 2000.0 + k % 5000
                r = roles[k % len(roles)]
                f.write(json.dumps({"tid": tid, "name": "t%d" % tid, "state": r,
                                    "ts_us": round(t, 3), "dur_us": round(d, 3),
                                    "samples": 1, "syscall": "read" if r == "holding-offcpu"
                                    else "", "path": "", "wchan": ""}) + "\n")
                t += d
    rc, out, err = ctx.run(["report", path, "--svg", svg, "--stall", "50"], timeout=60)
    assert rc == 0, "exit %d: %s" % (rc, err)
    root = ET.parse(svg).getroot()
    lanes = [g for g in root.iter(SVG + "g") if g.get("class") == "lane"]
    assert len(lanes) == 24, "%d lanes for 24 threads" % len(lanes)
    most = max(len(g.findall(SVG + "rect")) for g in lanes)
    assert most <= 1024, "a lane has %d rectangles, more than 1024 columns" % most
    assert most >= 200, "a lane has only %d rectangles: no detail left" % most
    size = os.path.getsize(svg)
    assert size < 2 << 20, "%d bytes for an hour" % size
    ctx.note("svg", "%d bytes, at most %d rectangles a lane" % (size, most))
