"""gilsnoop info: locating the runtime and classifying threads once, on
every interpreter of the matrix, plus a stripped libpython with split
debug info and the documented refusals."""

import json
import os
import shutil
import subprocess
import time

from common import Skip, start_sleeper, start_target

EXPECTED_SOURCE = {
    "pyenv": ("dwarf", "dwarf-cached"),
    "debian": ("table",),
    "sid": ("debug-offsets",),
}
KEYS = ("python_version", "layout_source", "runtime_address", "gil_address",
        "interval_us", "holder_tid", "threads")


def info_json(ctx, pid, env=None):
    rc, out, err = ctx.run(["info", "-p", pid, "--json"], timeout=30, env=env)
    assert rc == 0, "info exited %d: %s" % (rc, err.strip())
    try:
        return json.loads(out)
    except ValueError as e:
        raise AssertionError("info --json printed invalid JSON (%s): %r" % (e, out[:400]))


def roles(doc):
    return {t["tid"]: t["role"] for t in doc["threads"]}


def until(ctx, pid, want, attempts=40, env=None):
    """Sample with info until want(doc) holds; a single sample may land
    in a GIL hand-over, so a few tries are allowed.  Returns the last doc."""
    doc = None
    for _ in range(attempts):
        doc = info_json(ctx, pid, env)
        if want(doc):
            return doc
        time.sleep(0.05)
    raise AssertionError("after %d samples, never saw the expected roles; last: %s"
                         % (attempts, json.dumps(doc["threads"])))


def version_str(py):
    return ".".join(str(v) for v in py.version)


def test_info_json_contract(py, ctx):
    with start_target(py, "threads.py", ["--cpu", 2, "--sleep", 1]) as t:
        doc = info_json(ctx, t.pid)
        for k in KEYS:
            assert k in doc, "key %s missing from %s" % (k, sorted(doc))
        assert doc["pid"] == t.pid
        assert doc["python_version"] == version_str(py), \
            "version %s, interpreter is %s" % (doc["python_version"], version_str(py))
        assert doc["layout_source"] in EXPECTED_SOURCE[py.kind], \
            "layout from %s on %s" % (doc["layout_source"], py.id)
        assert doc["interval_us"] == 5000, doc["interval_us"]
        assert int(doc["runtime_address"], 16) > 0 or py.minor == 6
        assert int(doc["gil_address"], 16) > 0
        by_tid = {th["tid"]: th for th in doc["threads"]}
        for name, tid in t.tids.items():
            assert tid in by_tid, "thread %s (%d) missing: %s" % (name, tid, sorted(by_tid))
            assert by_tid[tid]["native"] is False, "%s has a thread state" % name
            if name != "main":
                assert by_tid[tid]["name"] == name, (name, by_tid[tid]["name"])
        cpu = (t.tids["cpu-1"], t.tids["cpu-2"])
        sleepers = (t.tids["sleep-1"], t.tids["main"])

        # The main thread may still be on its way from printing "ready"
        # into its sleep, so the expected picture is awaited, not assumed.
        def expected(d):
            r = roles(d)
            return (d["holder_tid"] in cpu and r[d["holder_tid"]] == "holding"
                    and "waiting" in (r[cpu[0]], r[cpu[1]])
                    and all(r[s] == "idle" for s in sleepers))
        doc = until(ctx, t.pid, expected)
        sleeper = [x for x in doc["threads"] if x["tid"] == t.tids["sleep-1"]][0]
        assert sleeper["syscall"] in (
            "clock_nanosleep", "nanosleep", "select", "pselect6"), sleeper


def test_info_text(py, ctx):
    with start_target(py, "threads.py", ["--cpu", 1, "--sleep", 1]) as t:
        rc, out, err = ctx.run(["info", "-p", t.pid], timeout=30)
        assert rc == 0, err
        assert "Python:        %s" % version_str(py) in out, out
        assert "Layout from:" in out and "Holder:" in out, out
        for tid in t.tids.values():
            assert "\n%7d  " % tid in out, "tid %d not in the table:\n%s" % (tid, out)


def test_info_holder_asleep_in_ctypes(py, ctx):
    """The case users hunt: the GIL held by a thread the kernel has asleep."""
    with start_target(py, "threads.py", ["--cpu", 1, "--holdsleep"]) as t:
        hs, cpu = t.tids["holdsleep"], t.tids["cpu-1"]

        def asleep_holding(d):
            r = roles(d)
            return d["holder_tid"] == hs and r[hs] == "holding-offcpu" and r[cpu] == "waiting"
        doc = until(ctx, t.pid, asleep_holding)
        th = [x for x in doc["threads"] if x["tid"] == hs][0]
        assert th["syscall"] in ("clock_nanosleep", "nanosleep"), th


def _pyenv(ctx, ident):
    pys = [p for p in ctx.interpreters if p.id == ident]
    if not pys:
        raise Skip("%s is not installed" % ident)
    return pys[0]


def _build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    return [l.split()[-1] for l in out.splitlines() if "Build ID" in l][0]


def _with_split_debug(ctx, py, debug_source, check):
    """Run py on a stripped copy of its libpython whose build-id debug
    file is made from debug_source (the copy itself, or another build)."""
    tmp = ctx.tmpdir
    copy = os.path.join(tmp, os.path.basename(py.runtime_object))
    shutil.copy(py.runtime_object, copy)
    bid = _build_id(copy)
    dbg_dir = "/usr/lib/debug/.build-id/" + bid[:2]
    dbg = os.path.join(dbg_dir, bid[2:] + ".debug")
    if os.path.exists(dbg):
        raise Skip("%s already exists; not touching it" % dbg)
    os.makedirs(dbg_dir, exist_ok=True)
    try:
        subprocess.run(["objcopy", "--only-keep-debug", debug_source or copy, dbg],
                       check=True)
        subprocess.run(["strip", "--strip-debug", copy], check=True)
        sections = subprocess.run(["readelf", "-S", copy], capture_output=True,
                                  text=True).stdout
        assert ".debug_info" not in sections, "strip left .debug_info in the copy"
        with start_target(py, "threads.py", ["--cpu", 2],
                          env={"LD_LIBRARY_PATH": tmp}) as t:
            assert copy in open("/proc/%d/maps" % t.pid).read(), \
                "target did not load the stripped copy"
            check(t, bid, os.path.join(tmp, "cache"))
    finally:
        os.unlink(dbg)
        try:
            os.rmdir(dbg_dir)
        except OSError:
            pass


def global_info_split_debug_by_build_id(ctx):
    """A stripped copy of a pyenv libpython whose DWARF lives in
    /usr/lib/debug/.build-id/xx/rest.debug."""
    py = _pyenv(ctx, "pyenv-3.11")

    def check(t, bid, cache):
        env = {"GILSNOOP_CACHE_DIR": cache}
        doc = info_json(ctx, t.pid, env=env)
        assert doc["layout_source"] == "dwarf-split", doc["layout_source"]
        assert bid[2:] in doc["layout_detail"], doc["layout_detail"]
        assert doc["python_version"] == version_str(py)
        # The second attach reads the layout cached by build-id.
        doc = info_json(ctx, t.pid, env=env)
        assert doc["layout_source"] == "dwarf-cached", doc["layout_source"]
        assert doc["holder_tid"] in (t.tids["cpu-1"], t.tids["cpu-2"], None)
    _with_split_debug(ctx, py, None, check)


def global_info_wrong_debug_file_falls_back(ctx):
    """Debug info from another build at the build-id path is inconsistent:
    gilsnoop falls back to the next source and says so with -v."""
    py = _pyenv(ctx, "pyenv-3.11")
    other = _pyenv(ctx, "pyenv-3.12").runtime_object

    def check(t, bid, cache):
        env = {"GILSNOOP_CACHE_DIR": cache}
        rc, out, err = ctx.run(["info", "-v", "-p", t.pid, "--json"], timeout=30, env=env)
        assert rc == 0, err
        doc = json.loads(out)
        assert doc["layout_source"] == "table", doc["layout_source"]
        assert "DWARF" in err, "no word of the DWARF fallback with -v: %r" % err
        assert doc["holder_tid"] in (t.tids["cpu-1"], t.tids["cpu-2"], None)
    _with_split_debug(ctx, py, other, check)


def global_info_stripped_36_refused(ctx):
    py = _pyenv(ctx, "pyenv-3.6")
    tmp = ctx.tmpdir
    copy = os.path.join(tmp, os.path.basename(py.runtime_object))
    shutil.copy(py.runtime_object, copy)
    subprocess.run(["strip", copy], check=True)
    with start_target(py, "threads.py", ["--cpu", 1], env={"LD_LIBRARY_PATH": tmp}) as t:
        rc, out, err = ctx.run(["info", "-p", t.pid], timeout=30)
        assert rc == 6, "exit %d, want 6 (unsupported): %s" % (rc, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "stripped" in err and "3.6" in err, err


def global_info_python2_refused(ctx):
    py2 = "/root/.pyenv/versions/2.7.18/bin/python2.7"
    if not os.path.exists(py2):
        raise Skip("no Python 2.7 here")
    p = subprocess.Popen([py2, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)
        rc, out, err = ctx.run(["info", "-p", p.pid], timeout=30)
        assert rc == 6, "exit %d, want 6: %s" % (rc, err)
        assert "2.7" in err and "not supported" in err, err
    finally:
        p.kill()
        p.wait()


def global_info_errors(ctx):
    cases = [
        (["info", "-p", "0"], 2, "invalid pid"),
        (["info", "-p", "-5"], 2, None),
        (["info", "-p", "abc"], 2, "invalid pid"),
        (["info"], 2, "-p"),
        (["info", "-p", "2"], 5, "kernel thread"),
        (["info", "-p", "4194303"], 3, "no process"),
        (["info", "--bogus"], 2, None),
    ]
    for args, want_rc, want_text in cases:
        rc, out, err = ctx.run(args, timeout=30)
        assert rc == want_rc, "%s: exit %d, want %d (%s)" % (args, rc, want_rc, err)
        assert len(err.strip().splitlines()) == 1, "%s: not one line: %r" % (args, err)
        if want_text:
            assert want_text in err, "%s: %r" % (args, err)
    p = start_sleeper()
    try:
        rc, out, err = ctx.run(["info", "-p", p.pid], timeout=30)
        assert rc == 5 and "not a Python process" in err, (rc, err)
    finally:
        p.kill()
        p.wait()
