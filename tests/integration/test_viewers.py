"""What a user sees: a recording of the demo (demo/gil_demo.py) drawn by
the viewers people have.  Every thread's slices must tile in the double
arithmetic a JavaScript viewer uses, and speedscope (npm, in Debian's
headless Chromium) must load it without the "Tried to end" complaints
it prints when slices overlap, show one timeline per thread, and group
all "GIL held" slices of a thread into one entry.

chromium and speedscope come from tests/setup-viewers.sh (.ci/run runs
it); without them the speedscope test is skipped, saying so.
GILSNOOP_SCREENSHOT_DIR=DIR keeps the screenshots it takes.
"""
import base64
import json
import os
import shutil

from common import Skip, start_target, timeout
from recording import load_trace, record, tiling_problems

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.normpath(os.path.join(HERE, "..", "..", "demo", "gil_demo.py"))
THREADS = ("cpu-1", "cpu-2", "sleeper")


def viewer_dir():
    return os.environ.get("GILSNOOP_VIEWER_DIR") or "/var/cache/gilsnoop/viewers"


def record_demo(py, ctx, seconds=3):
    with start_target(py, DEMO, ["--seconds", 120]) as t:
        path, _, _, _ = record(ctx, t, seconds=seconds, name="demo.json")
        pid = t.pid
    return path, load_trace(path), pid


def sample_period_us(doc):
    hz = doc["otherData"]["gilsnoop"]["achieved_rate_hz"]
    assert hz > 0, doc["otherData"]
    return 1e6 / hz


def test_viewers_demo_tiles(py, ctx):
    path, doc, pid = record_demo(py, ctx)
    # A thread's intervals run from sample to sample: consecutive slices
    # meet, and a gap could only be a sample the thread was missing from.
    problems, pairs = tiling_problems(doc["traceEvents"], 2 * sample_period_us(doc))
    assert pairs > 50, "only %d pairs of neighbouring slices in 3 s of the demo" % pairs
    assert not problems, "%d of %d neighbouring slices do not tile:\n%s" % (
        len(problems), pairs, "\n".join(problems[:10]))
    named = {e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(THREADS) <= named, named


def fractional_copy(doc):
    """The same slices with times as the writer used to print them:
    nanoseconds / 1000 with three decimals.  Their sums do not land
    exactly on the next slice's start, and speedscope stacks them."""
    out = dict(doc)
    evs = []
    for e in doc["traceEvents"]:
        if e.get("ph") == "X" and "gilsnoop" in e:
            e = dict(e)
            a, b = e["gilsnoop"]["ns"]
            start, end = e["ts"] * 1000 + a, (e["ts"] + e["dur"]) * 1000 + b
            e["ts"] = float("%d.%03d" % divmod(start, 1000))
            e["dur"] = float("%d.%03d" % divmod(end - start, 1000))
        evs.append(e)
    out["traceEvents"] = evs
    return out


def speedscope_load(ctx, browser, index, path, shots, label, title=None):
    """Opens path in speedscope the way its command line does (a script
    that hands the file over in base64); returns the console messages.
    speedscope titles the page after the file, or after the profile's
    own name when the file has one (title)."""
    name = os.path.basename(path)
    js = path + ".js"
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    with open(js, "w") as f:
        f.write("speedscope.loadFileFromBase64(%s, %s)" % (json.dumps(name),
                                                           json.dumps(data)))
    # A new document each time: a change of the hash alone would not
    # make speedscope load anything.
    browser.navigate("about:blank")
    browser.pump(0.5)
    browser.console.clear()
    browser.navigate("file://%s#localProfilePath=%s" % (index, js))
    browser.wait_for("document.title.indexOf(%s) >= 0" % json.dumps(title or name), 60,
                     "speedscope to load %s" % name)
    browser.pump(1.5)
    if shots:
        browser.screenshot(os.path.join(shots, label + "-time-order.png"))
    return list(browser.console)


@timeout(240)
def global_viewers_speedscope_loads_demo(ctx):
    from browser import Browser
    index = os.path.join(viewer_dir(), "node_modules", "speedscope", "dist",
                         "release", "index.html")
    if not os.path.exists(index):
        raise Skip("no speedscope in %s (bash tests/setup-viewers.sh)" % viewer_dir())
    if not ctx.interpreters:
        raise Skip("no interpreter to run the demo")
    py = ctx.interpreters[0]
    path, doc, pid = record_demo(py, ctx)
    ntracks = len({e["tid"] for e in doc["traceEvents"] if e.get("ph") == "X"})
    shots = os.environ.get("GILSNOOP_SCREENSHOT_DIR")
    if shots:
        os.makedirs(shots, exist_ok=True)
        shutil.copy(path, os.path.join(shots, "demo.json"))
    old = os.path.join(ctx.tmpdir, "demo-fractional.json")
    with open(old, "w") as f:
        json.dump(fractional_copy(doc), f)

    with Browser() as b:
        console = speedscope_load(ctx, b, index, path, shots, "demo")
        tried = [m for _, m in console if "Tried to end" in m]
        assert not tried, "speedscope: %d 'Tried to end' messages, e.g. %r" % (
            len(tried), tried[:3])
        assert not b.exceptions, "speedscope threw: %r" % b.exceptions[:3]
        title = b.evaluate("document.title")
        # One profile per thread, each named by its thread: "(1/N)" shows
        # in the toolbar, and the first is the main thread.
        bar = b.evaluate("document.body.innerText")
        assert "(1/%d)" % ntracks in bar, "want %d thread profiles: %r" % (
            ntracks, bar[:300])
        assert "GIL: " in bar, bar[:300]
        # The sandwich view lists each distinct slice identity once per
        # thread: every "GIL held" slice of cpu-1 in one row.
        b.call("Input.dispatchKeyEvent", type="keyDown", key="n", text="n")
        b.call("Input.dispatchKeyEvent", type="keyUp", key="n")
        b.call("Input.dispatchKeyEvent", type="keyDown", key="3", text="3")
        b.call("Input.dispatchKeyEvent", type="keyUp", key="3")
        b.pump(1.5)
        text = b.evaluate("document.body.innerText")
        ctx.note("sandwich view", text[:3000])
        if shots:
            b.screenshot(os.path.join(shots, "demo-sandwich.png"))
        rows = [l.strip() for l in text.split("\n")]
        held = [r for r in rows if r == "GIL held" or r.startswith("GIL held {")]
        assert "cpu-1" in text and len(held) == 1, (
            "want one GIL held row for cpu-1 in the sandwich view, got %r" % held[:5])
        if shots:
            b.call("Input.dispatchKeyEvent", type="keyDown", key="1", text="1")
            b.call("Input.dispatchKeyEvent", type="keyUp", key="1")
            b.pump(1)
            b.screenshot(os.path.join(shots, "demo-cpu-1-time-order.png"))
        ctx.note("speedscope", "title %r, %d console messages" % (title, len(console)))

        # The control: the same slices with the fractional times this
        # writer used to print do make speedscope complain, so the check
        # above can fail.
        console = speedscope_load(ctx, b, index, old, shots, "fractional")
        tried = [m for _, m in console if "Tried to end" in m]
        assert tried, "control: fractional times loaded without complaint; " \
            "the check proves nothing on this machine"


@timeout(240)
def global_viewers_speedscope_format(ctx):
    """record --stacks --format speedscope: speedscope loads it as one
    evented profile per thread, the GIL role at the bottom and the
    Python stack above it (crunch() of the CPU threads shows)."""
    import signal
    import time
    from browser import Browser
    index = os.path.join(viewer_dir(), "node_modules", "speedscope", "dist",
                         "release", "index.html")
    if not os.path.exists(index):
        raise Skip("no speedscope in %s (bash tests/setup-viewers.sh)" % viewer_dir())
    if not ctx.interpreters:
        raise Skip("no interpreter to run the workload")
    py = ctx.interpreters[-1]
    path = os.path.join(ctx.tmpdir, "why.speedscope.json")
    trace = os.path.join(ctx.tmpdir, "why-stacks.json")
    with start_target(py, "why.py", ["--lifetime", 60]) as t:
        os.kill(t.pid, signal.SIGUSR1)
        time.sleep(0.3)
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", path, "--stacks",
                                "--format", "speedscope", "-d", "2"], timeout=60)
        assert rc == 0, "record exit %d: %s" % (rc, err)
        # The Trace Event JSON with stacks (instants, stackFrames) too.
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", trace, "--stacks",
                                "-d", "1"], timeout=60)
        assert rc == 0, "record exit %d: %s" % (rc, err)
        ntracks = len(t.tids)
    with open(path) as f:
        doc = json.load(f)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json", doc.keys()
    assert len(doc["profiles"]) == ntracks, [p["name"] for p in doc["profiles"]]
    shots = os.environ.get("GILSNOOP_SCREENSHOT_DIR")
    with Browser() as b:
        console = speedscope_load(ctx, b, index, path, shots, "why-speedscope",
                                  title=doc["name"])
        tried = [m for _, m in console if "Tried to end" in m]
        assert not tried, "speedscope: %r" % tried[:3]
        assert not b.exceptions, "speedscope threw: %r" % b.exceptions[:3]
        bar = b.evaluate("document.body.innerText")
        assert "(1/%d)" % ntracks in bar, "want %d thread profiles: %r" % (ntracks, bar[:300])
        # Sandwich view of a CPU thread: the GIL role and crunch() are rows.
        for _ in range(2):
            b.call("Input.dispatchKeyEvent", type="keyDown", key="n", text="n")
            b.call("Input.dispatchKeyEvent", type="keyUp", key="n")
        b.call("Input.dispatchKeyEvent", type="keyDown", key="3", text="3")
        b.call("Input.dispatchKeyEvent", type="keyUp", key="3")
        b.pump(1.5)
        text = b.evaluate("document.body.innerText")
        ctx.note("sandwich view", text[:3000])
        if shots:
            b.screenshot(os.path.join(shots, "why-speedscope-sandwich.png"))
        assert "GIL held" in text and "crunch (" in text, text[:1500]
        # A Trace Event file with stacks still draws flat GIL tracks.
        console = speedscope_load(ctx, b, index, trace, shots, "why-stacks-trace")
        tried = [m for _, m in console if "Tried to end" in m]
        assert not tried, "speedscope on the trace with stacks: %r" % tried[:3]
        assert not b.exceptions, "speedscope threw on the trace with stacks: %r" % (
            b.exceptions[:3],)
        bar = b.evaluate("document.body.innerText")
        assert "(1/%d)" % ntracks in bar, "trace with stacks: want %d profiles: %r" % (
            ntracks, bar[:300])
