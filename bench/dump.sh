#!/bin/bash
# The dump benchmark: see bench/README.md, "dump".
#
#   bench/dump.sh [BUILD_DIR]
#
# BUILD_DIR is a configured gilsnoop build (default: the current
# directory); gilsnoop and bench/stopbench are (re)built in it.
#
# Environment:
#   BENCH_PYTHON   interpreter for the targets (default: the newest pyenv
#                  3.12, else python3)
#   BENCH_REPS     runs of each command (default 20)
#   BENCH_STOPS    stops per thread for the stop-window figures (default 25)
#
# Takes the machine-wide timing lock /tmp/gilsnoop-accuracy.lock.
set -u

BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
REPS=${BENCH_REPS:-20}
STOPS=${BENCH_STOPS:-25}
if [ -z "${BENCH_PYTHON:-}" ]; then
	BENCH_PYTHON=$(ls -d /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)
	[ -n "$BENCH_PYTHON" ] || BENCH_PYTHON=python3
fi

make -C "$BUILD" -s gilsnoop bench/stopbench >/dev/null || {
	echo "bench: build failed in $BUILD" >&2
	exit 1
}
exec 8>/tmp/gilsnoop-accuracy.lock
flock 8

export GILSNOOP_CACHE_DIR=$(mktemp -d /tmp/dumpbench.XXXXXX)
trap 'rm -rf "$GILSNOOP_CACHE_DIR"' EXIT
echo "dump bench: $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $BENCH_PYTHON"

python3 - "$BUILD/gilsnoop" "$BUILD/bench/stopbench" "$BENCH_PYTHON" \
	"$SRC/tests/workloads/threads.py" "$REPS" "$STOPS" <<'EOF'
import json, os, resource, subprocess, sys, time

gs, stopbench, py, work, reps, stops = sys.argv[1:7]
stacks_py = os.path.join(os.path.dirname(work), "stacks.py")
reps, stops = int(reps), int(stops)


def start(args, script=None):
    p = subprocess.Popen([py, script or work] + args + ["--lifetime", "600"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    assert line.startswith("ready "), line
    return p, json.loads(line[6:])


def own_time(args):
    """gilsnoop's CPU time (user + sys) and wall time, in ms."""
    t0 = time.monotonic()
    p = subprocess.Popen([gs] + args, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.monotonic() - t0) * 1e3
    assert os.WEXITSTATUS(status) == 0, (args, status)
    return (ru.ru_utime + ru.ru_stime) * 1e3, wall


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def measure(label, cmds):
    """Interleave the commands, reps times; print medians side by side."""
    res = {k: ([], []) for k in cmds}
    for _ in range(reps):
        for k, args in cmds.items():
            c, w = own_time(args)
            res[k][0].append(c)
            res[k][1].append(w)
    base = None
    for k in cmds:
        c, w = median(res[k][0]), median(res[k][1])
        base = base or c
        print("  %-28s own CPU %7.1f ms  wall %7.1f ms  (%.2fx the first)" % (k, c, w, c / base))
    return {k: median(res[k][0]) for k in cmds}


procs = []
try:
    # 100 threads: 2 spinning, 97 asleep in time.sleep, and the holder
    # asleep in usleep while it holds the GIL.
    p, info = start(["--cpu", "2", "--sleep", "97", "--holdsleep"])
    procs.append(p)
    pid = str(info["pid"])
    n = len(os.listdir("/proc/%s/task" % pid))
    own_time(["info", "-p", pid])  # fills the layout cache
    print("(f) %d-thread target, layout cached, medians of %d runs:" % (n, reps))
    measure("f", {"info -p": ["info", "-p", pid],
                  "dump --no-native": ["dump", "-p", pid, "--no-native"],
                  "dump --no-native --json": ["dump", "-p", pid, "--no-native", "--json"],
                  "dump (holder's native)": ["dump", "-p", pid],
                  "dump --native": ["dump", "-p", pid, "--native"]})
    print("(g) stop window per thread on the %d-thread target, 1 stop each:" % n)
    sys.stdout.flush()
    subprocess.run([stopbench, pid, "1"])
    p.kill()
    procs.pop()

    p, info = start(["--cpu", "2", "--sleep", "1", "--holdsleep"])
    procs.append(p)
    pid = str(info["pid"])
    print("(h) stop window per thread, 5-thread target, %d stops each:" % stops)
    sys.stdout.flush()
    subprocess.run([stopbench, pid, str(stops)])
    p.kill()
    procs.pop()

    # dump --native as it runs: the Python stack is read inside each
    # stop too (stacks.py: 2 to 250 frames deep).
    p, info = start([], stacks_py)
    procs.append(p)
    pid = str(info["pid"])
    win, held = [], []
    for _ in range(max(1, reps // 4)):
        out = subprocess.run([gs, "dump", "-p", pid, "--native", "--json"],
                             stdout=subprocess.PIPE, check=True).stdout
        for th in json.loads(out)["threads"]:
            ns = th["native_stack"]
            if ns and ns["taken"]:
                win.append(ns["window_us"])
                held.append(ns["stopped_us"])
    win.sort()
    held.sort()
    print("(i) dump --native of stacks.py, Python stacks read in the stop, %d stops:" % len(win))
    print("  window    median %5d us  p90 %5d us  max %6d us" % (
        win[len(win) // 2], win[len(win) * 9 // 10], win[-1]))
    print("  held      median %5d us  p90 %5d us  max %6d us" % (
        held[len(held) // 2], held[len(held) * 9 // 10], held[-1]))
finally:
    for p in procs:
        p.kill()
EOF
