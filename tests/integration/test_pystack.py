"""The remote Python stack reader and the thread-name reader, through
`gilsnoop info --stacks`, on every interpreter of the matrix: a workload
(tests/workloads/stacks.py) whose threads sit at known lines of known
functions, with known names, including generators, a coroutine under
asyncio, a deep recursion and threads that come and go while reading."""

import json
import os
import re
import time

from common import start_target
from recording import jsonl_stack_samples, skip_if_unsupported

# What `info --stacks` shows per thread at most (src/cmd/info.c).
SHOWN = 64


def info(ctx, pid, *extra):
    rc, out, err = ctx.run(["info", "-p", pid, "--stacks"] + list(extra), timeout=60)
    assert rc == 0, "info --stacks exited %d: %s" % (rc, err.strip())
    return out


def info_json(ctx, pid):
    out = info(ctx, pid, "--json")
    try:
        return json.loads(out)
    except ValueError as e:
        raise AssertionError("info --stacks --json printed invalid JSON (%s): %r"
                             % (e, out[:400]))


def by_tid(doc):
    return {t["tid"]: t for t in doc["threads"]}


def qual(py, cls, fn):
    """co_qualname from 3.11, co_name before."""
    return "%s.%s" % (cls, fn) if py.minor >= 11 else fn


def expected_tops(py, t):
    """{thread name: [(function, line), ...]}: the innermost frames each
    thread must show, from the workload's own line marks."""
    ln = t.info["lines"]
    named = [("named_sleeper", ln["named"])]
    return {
        "sleeper-a": [("nap", ln["nap"]), ("level_b", ln["level_b"]),
                      ("level_a", ln["level_a"])],
        "method": [(qual(py, "Worker", "run_here"), ln["method"])],
        "gen": [("produce", ln["produce"]), ("consume", ln["consume"])],
        "coro": [("coro_inner", ln["coro_inner"]), ("coro_outer", ln["coro_outer"])],
        "deep": [("recurse", ln["recurse_bottom"])] + [("recurse", ln["recurse"])] * 5,
        "a-long-thread-name-for-comm": named,
        u"w\u00f6rker-\u00fc": named,
        u"\u7ebf\u7a0b-\u4e8c": named,
        u"snake-\U0001f40d": named,
        "MainThread": [("main", ln["main"])],
    }


def mismatches(py, t, doc):
    """What differs from the expected picture, as readable lines."""
    want = expected_tops(py, t)
    threads = by_tid(doc)
    path = t.info["file"]
    bad = []
    if doc.get("stacks_error"):
        return ["stacks unavailable: %s" % doc["stacks_error"]]
    for name, tid in sorted(t.tids.items()):
        th = threads.get(tid)
        if th is None:
            bad.append("%s (%d) missing" % (name, tid))
            continue
        if th.get("python_name") != name:
            bad.append("%s: python_name %r" % (name, th.get("python_name")))
        st = th.get("stack")
        if not st or st["partial"] or st["changing"]:
            bad.append("%s: stack %r" % (name, st))
            continue
        frames = st["frames"]
        if name not in want and name != "spin":
            continue  # the churner: starting and joining, anywhere
        if name == "spin":
            ln = t.info["lines"]
            top = frames[0] if frames else {}
            if (top.get("function"), top.get("file")) != ("spin_loop", path) or \
                    top.get("line") not in (ln["spin"], ln["spin2"], ln["spin"] - 1):
                bad.append("spin: top frame %r" % (top,))
            continue
        got = [(f["function"], f["line"]) for f in frames[:len(want[name])]]
        if got != want[name]:
            bad.append("%s: frames %r, want %r" % (name, got, want[name]))
        elif any(f["file"] != path for f in frames[:len(want[name])]):
            bad.append("%s: files %r" % (name, [f["file"] for f in frames[:3]]))
    return bad


def settled(ctx, t, py, attempts=30):
    """Sample until every thread shows its expected frames (a thread may
    be one bytecode short of its sleep when the ready line goes out)."""
    bad = None
    for _ in range(attempts):
        doc = info_json(ctx, t.pid)
        bad = mismatches(py, t, doc)
        if not bad:
            return doc
        time.sleep(0.1)
    raise AssertionError("after %d samples the stacks still differ:\n  %s"
                         % (attempts, "\n  ".join(bad)))


def test_stacks_named_threads(py, ctx):
    with start_target(py, "stacks.py") as t:
        doc = settled(ctx, t, py)
        threads = by_tid(doc)
        main = threads[t.tids["MainThread"]]["stack"]["frames"]
        assert main[-1]["function"] == "<module>", main[-1]
        for name, tid in t.tids.items():
            st = threads[tid]["stack"]
            frames = st["frames"]
            if name == "deep":
                continue
            assert not st["truncated"], "%s truncated: %d frames" % (name, len(frames))
            # Where C entered the eval loop: every frame up to 3.10; the
            # outermost frame always; from 3.11 a plain Python call runs
            # in its caller's eval loop.
            assert frames[-1]["entry"], "%s: outermost frame %r not an entry" % (
                name, frames[-1])
            if py.minor <= 10:
                assert all(f["entry"] for f in frames), "%s: %r" % (name, frames)
            elif name == "sleeper-a":
                assert not frames[0]["entry"] and not frames[1]["entry"], frames[:3]
            for f in frames:
                assert f["line"] > 0 and f["first_line"] > 0, "%s: %r" % (name, f)
                assert int(f["code"], 16) > 0, f


def test_stacks_generator_and_coroutine(py, ctx):
    with start_target(py, "stacks.py") as t:
        threads = by_tid(settled(ctx, t, py))
        gen = threads[t.tids["gen"]]["stack"]["frames"]
        # The running generator sits on its consumer, which sits on the
        # thread's bootstrap.
        assert [f["function"] for f in gen[:2]] == ["produce", "consume"], gen[:4]
        coro = threads[t.tids["coro"]]["stack"]["frames"]
        names = [f["function"] for f in coro]
        assert names[:2] == ["coro_inner", "coro_outer"], names
        assert "coro_thread" in names, "the loop's thread function is missing: %r" % names
        assert names.index("coro_thread") > 1, names
        # asyncio's own Python frames lie between the coroutine and the
        # thread function (run_until_complete at least).
        assert any("run_until_complete" in n for n in names), names


def test_stacks_deep_recursion_bounded(py, ctx):
    depth = 250
    with start_target(py, "stacks.py", ["--depth", depth]) as t:
        threads = by_tid(settled(ctx, t, py))
        st = threads[t.tids["deep"]]["stack"]
        frames = st["frames"]
        ln = t.info["lines"]
        assert len(frames) == SHOWN, "%d frames shown, want %d" % (len(frames), SHOWN)
        assert st["truncated"], "a %d-deep stack not marked truncated" % depth
        assert (frames[0]["function"], frames[0]["line"]) == ("recurse", ln["recurse_bottom"])
        assert all((f["function"], f["line"]) == ("recurse", ln["recurse"])
                   for f in frames[1:]), [(f["function"], f["line"]) for f in frames]
        text = info(ctx, t.pid)
        assert "more than %d frames" % SHOWN in text, text[-2000:]
        assert text.count("recurse (%s:%d)" % (t.info["file"], ln["recurse"])) == SHOWN - 1


def test_stacks_text_names(py, ctx):
    with start_target(py, "stacks.py") as t:
        settled(ctx, t, py)
        text = info(ctx, t.pid)
        rows = {}
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0].isdigit():
                rows.setdefault(int(parts[0]), line)
        for name, tid in t.tids.items():
            comm = t.comm(tid)
            row = rows.get(tid)
            assert row is not None, "no row for %s (%d):\n%s" % (name, tid, text)
            if comm == name:
                assert "(%s)" % name not in row, "name shown twice: %r" % row
            else:
                assert "%s (%s)" % (comm, name) in row, \
                    "row of %s (comm %r) lacks the Python name: %r" % (name, comm, row)
        assert "Python stacks (innermost frame first):" in text
        ln = t.info["lines"]
        assert "nap (%s:%d)" % (t.info["file"], ln["nap"]) in text, text


def test_stacks_thread_churn(py, ctx):
    """Threads created and destroyed while the stacks are read: every read
    succeeds, the steady threads keep their frames, and a vanishing
    thread never shows another thread's frames."""
    steady = {"nap", "level_b", "level_a", "recurse", "named_sleeper", "produce",
              "consume", "coro_inner", "coro_outer", "spin_loop", "main", "churn"}
    with start_target(py, "stacks.py", ["--churn"]) as t:
        settled(ctx, t, py)
        churn_seen = mapped = unmapped = 0
        while mapped < 15:
            doc = info_json(ctx, t.pid)
            if by_tid(doc)[t.pid]["native"]:
                # Before 3.11 a thread state names its thread by pthread_t
                # only, and attach may fail to find the kernel tid in
                # glibc's struct pthread while threads come and go (then
                # every thread shows as native): not the stack reader.
                unmapped += 1
                assert py.minor <= 10 and unmapped <= 10, \
                    "%d samples without thread states" % unmapped
                continue
            mapped += 1
            bad = [b for b in mismatches(py, t, doc) if not b.startswith("spin")]
            assert not bad, "with churn: %s" % bad
            for th in doc["threads"]:
                name = th.get("python_name") or ""
                if not name.startswith("churn-") or not th.get("stack"):
                    continue
                churn_seen += 1
                funcs = {f["function"].split(".")[-1] for f in th["stack"]["frames"]}
                assert not funcs & steady, "%s shows %r" % (name, funcs)
        assert t.alive(), "the target died"
        ctx.note("churn threads seen", "%d (%d samples unmapped)" % (churn_seen, unmapped))


def test_stacks_without_threading(py, ctx):
    """A process that never imported threading: no names, stacks still."""
    # 3.6 has no GIL before a second thread starts, and info refuses.
    py.require(min_version=(3, 7))
    # site may import threading (pyenv's certifi hooks do): forget it.
    code = ("import sys, time\n"
            "sys.modules.pop('threading', None)\n"
            "def wait_here():\n"
            "    print('ready'); sys.stdout.flush()\n"
            "    time.sleep(1000)\n"
            "wait_here()\n")
    with start_target(py, code) as t:
        for _ in range(30):
            doc = info_json(ctx, t.pid)
            th = by_tid(doc)[t.pid]
            frames = th["stack"]["frames"] if th.get("stack") else []
            if frames and frames[0]["function"] == "wait_here" and frames[0]["line"] == 5:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("main thread stack: %r" % (th,))
        assert th["python_name"] is None, th["python_name"]
        assert [f["function"] for f in frames] == ["wait_here", "<module>"], frames


def test_stacks_code_churn(py, ctx):
    """Code objects freed and made again, at the same addresses, while
    `record --stacks=all` samples at its highest rate (from 3.14 the
    reader skips code headers while the interpreter's count of freed
    code objects holds still): every sampled fn_N sits under driver()'s
    call site N % 4, and the functions really were new ones."""
    with start_target(py, "codechurn.py") as t:
        path = os.path.join(ctx.tmpdir, "churn.jsonl")
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", path, "--format", "jsonl",
                                "--stacks=all", "-r", "5000", "--stack-rate", "max", "-d", "3"],
                               timeout=90)
        skip_if_unsupported(rc, err)
        assert rc == 0, "record exited %d: %s" % (rc, err.strip())
        with open(path) as f:
            samples = jsonl_stack_samples([json.loads(line) for line in f])
    sites = t.info["sites"]
    inner = re.compile(r"fn_(\d+) \(<churn>:\d+\)$")
    checked, bad, seen = 0, [], set()
    for s in samples:
        fr = s["frames"]
        m = inner.match(fr[0]) if fr else None
        if not m:
            continue
        n = int(m.group(1))
        checked += 1
        seen.add((s["tid"], n))
        want = ":%d)" % sites[n % 4]
        if len(fr) < 2 or not fr[1].startswith("driver (") or not fr[1].endswith(want):
            bad.append((n, fr[:2]))
    ctx.note("code churn", "%d stacks in fn_N, %d distinct functions, %d misplaced"
             % (checked, len(seen), len(bad)))
    assert checked >= 200 and len(seen) >= 100, \
        "only %d stacks in %d distinct fn_N of %d samples" % (checked, len(seen), len(samples))
    # A read that races the thread's return from fn_N may be torn; more
    # than a few in a hundred is a stale code object.
    assert len(bad) <= checked // 100, "%d of %d stacks misplaced, e.g. %r" % (
        len(bad), checked, bad[:5])
