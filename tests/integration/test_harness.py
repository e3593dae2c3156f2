"""The test harness itself, on every interpreter: the workload starts,
reports the right thread ids, and names its kernel threads.  Every other
integration test leans on this; when it fails on an interpreter, fix the
harness (or the interpreter's install) before reading other failures."""
import time

from common import start_target


def test_workload_threads(py, ctx):
    with start_target(py, "threads.py", ["--cpu", 2, "--sleep", 1, "--holdsleep"]) as t:
        assert t.pid == t.info["pid"], "ready line pid %r" % t.info
        want = {"main", "cpu-1", "cpu-2", "sleep-1", "holdsleep"}
        assert set(t.tids) == want, "tids %r" % t.tids
        tasks = t.task_ids()
        assert t.tids["main"] == t.pid, "main tid %d != pid %d" % (
            t.tids["main"], t.pid)
        for name, tid in t.tids.items():
            assert tid in tasks, "%s tid %d not a task of %d (%r)" % (
                name, tid, t.pid, tasks)
            if name != "main":
                assert t.comm(tid) == name, "comm of %s is %r" % (
                    name, t.comm(tid))


def test_workload_holdsleep_sleeps(py, ctx):
    # The holdsleep thread must spend its time asleep in the kernel (it
    # holds the GIL there); a test of "holding, off CPU" relies on it.
    with start_target(py, "threads.py", ["--holdsleep"]) as t:
        tid = t.tids["holdsleep"]
        states = []
        for _ in range(20):
            with open("/proc/%d/task/%d/stat" % (t.pid, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
            time.sleep(0.01)
        assert states.count("S") >= 15, "states %s" % "".join(states)
