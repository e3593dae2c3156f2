"""Load: record and top keep working on a target that starts and ends
about 1000 threads a second, and on one with 500 threads; their memory
stays bounded (VmHWM read from /proc while they run) and they report the
sampling rate they achieved.
"""
import os
import re
import time

from common import Skip, start_target
from recording import load_trace
from safety_helpers import Background, EXIT_OK, is_asan, pick, status_kb

# VmHWM ceilings in kB.  A plain build needs a few MB; ASan's shadow
# memory and quarantine (capped below) come on top.
HWM_PLAIN_KB = 64 * 1024
HWM_ASAN_KB = 256 * 1024
ASAN_QUARANTINE = "quarantine_size_mb=32"


def _env(ctx):
    if not is_asan(ctx.gilsnoop):
        return None
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + ASAN_QUARANTINE}


def _ceiling(ctx):
    return HWM_ASAN_KB if is_asan(ctx.gilsnoop) else HWM_PLAIN_KB


def _achieved(summary):
    m = re.search(r"(\d+) samples \((\d+) Hz achieved, ([^)]*) requested\)", summary)
    assert m, "record's summary does not report the achieved rate:\n%s" % summary
    return int(m.group(1)), int(m.group(2))


def _watch(bg, seconds):
    """Poll gilsnoop's memory while it runs; (early VmRSS, peak VmHWM)."""
    early = None
    t0 = time.monotonic()
    while bg.proc.poll() is None and time.monotonic() - t0 < seconds:
        bg.poll_memory()
        if early is None and time.monotonic() - t0 > 1.5:
            early = status_kb(bg.pid, "VmRSS")
        time.sleep(0.1)
    return early


def _record_and_top(ctx, t, seconds, label):
    """record -d and then top -b under load; returns the figures."""
    f = os.path.join(ctx.tmpdir, "load.json")
    bg = Background(ctx, ["record", "-p", t.pid, "-o", f, "-d", seconds],
                    env=_env(ctx))
    early = _watch(bg, seconds + 5)
    rc, out, err = bg.wait(timeout=30)
    assert rc == EXIT_OK, "%s: record exited %d: %s" % (label, rc, err[-400:])
    samples, hz = _achieved(out)
    ctx.note("%s: record" % label, "%d samples, %d Hz achieved, VmRSS %s kB at "
             "1.5 s, VmHWM %d kB" % (samples, hz, early, bg.hwm_kb))
    # Working, not fast: the rates are the sampler's (and the machine's)
    # business, measured by bench/; a stalled sampler is ours.
    assert samples > 10 and hz > 2, "%s: record sampled %d times (%d Hz)" % (
        label, samples, hz)
    assert bg.hwm_kb and bg.hwm_kb < _ceiling(ctx), \
        "%s: record's VmHWM %d kB, want < %d kB" % (label, bg.hwm_kb, _ceiling(ctx))
    doc = load_trace(f)
    g = doc["otherData"]["gilsnoop"]
    assert g["achieved_rate_hz"] > 2, g

    top = Background(ctx, ["top", "-b", "-n", seconds, "-w", "all", "-p", t.pid],
                     env=_env(ctx))
    _watch(top, seconds + 5)
    rc, out, err = top.wait(timeout=30)
    assert rc == EXIT_OK, "%s: top -b exited %d: %s" % (label, rc, err[-400:])
    rates = [int(x) for x in re.findall(r"sampling (\d+)/s of", out)]
    ctx.note("%s: top" % label, "sampling %s, VmHWM %d kB" % (rates, top.hwm_kb))
    assert len(rates) == seconds, "%s: top printed %d frames, want %d" % (
        label, len(rates), seconds)
    assert rates[-1] > 2, "%s: top sampled at %s/s" % (label, rates)
    assert top.hwm_kb and top.hwm_kb < _ceiling(ctx), \
        "%s: top's VmHWM %d kB, want < %d kB" % (label, top.hwm_kb, _ceiling(ctx))
    return doc, bg.hwm_kb, early


def global_load_thread_churn(ctx):
    py = pick(ctx)
    with start_target(py, "churn.py", ["--rate", 1000, "--sleep", 2]) as t:
        doc, hwm, early = _record_and_top(ctx, t, 5, "churn")
        rates = [int(x) for x in re.findall(r"^rate (\d+)$", t.stdout(), re.M)]
        assert t.alive(), "the target died"
    ctx.note("churn rate of the target", str(rates))
    if not rates or max(rates) < 200:
        raise Skip("the target churned only %s threads/s (a busy machine?): "
                   "no load to speak of" % rates)
    names = [e for e in doc["traceEvents"] if e.get("name") == "thread_name"]
    assert len(names) > 5, "the recording saw only %d threads come and go" % len(names)
    # Growth over the run, not just a ceiling: a plain build must not
    # gain more than a few MB while threads come and go.
    if not is_asan(ctx.gilsnoop) and early:
        assert hwm - early < 16 * 1024, \
            "record grew from %d kB (1.5 s) to %d kB" % (early, hwm)


def global_load_500_threads(ctx):
    py = pick(ctx)
    with start_target(py, "threads.py", ["--sleep", 500, "--cpu", 1],
                      ready_timeout=60) as t:
        assert len(t.task_ids()) >= 501, "only %d threads" % len(t.task_ids())
        doc, hwm, early = _record_and_top(ctx, t, 4, "500 threads")
        tids = {e["tid"] for e in doc["traceEvents"] if e.get("ph") == "X"}
        want = set(t.tids.values())
        missing = want - tids
        assert not missing, "%d of the %d threads have no interval" % (
            len(missing), len(want))
        assert t.alive()
