#!/bin/bash
# Several processes (issue 13): see bench/README.md, "Many processes".
#
#   bench/multi.sh [BUILD_DIR]
#
# (m1) N processes x 4 threads (threads.py --cpu C --sleep 4-C; C is
#      BENCH_CPU, default 0: the sampler's own cost, not the scheduler's
#      share of a CPU among N spinners) recorded by one `gilsnoop record -p LIST`
#      at RATE: the rate each process got (median, min) and gilsnoop's
#      CPU (user+sys over wall) — one sampler loop serves them all.
# (m2) `record --children`: a parent forks a child every 0.3 s, the child
#      notes CLOCK_MONOTONIC right after the fork; the pickup latency is
#      the child's first sample minus that (median, max of 10).
# (m3) bench/forkbench: attaching to a forked child the full way against
#      reusing its parent's located runtime and layout.
#
# Environment: BENCH_PYTHON (default the newest pyenv 3.12), BENCH_PROCS
# (32), BENCH_RATE (1000), BENCH_SECONDS (5).  Takes the machine-wide
# timing lock.
set -u

BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
NPROC=${BENCH_PROCS:-32}
RATE=${BENCH_RATE:-1000}
SECS=${BENCH_SECONDS:-5}
CPU=${BENCH_CPU:-0}
if [ -z "${BENCH_PYTHON:-}" ]; then
	BENCH_PYTHON=$(ls -d /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)
	[ -n "$BENCH_PYTHON" ] || BENCH_PYTHON=python3
fi
PY=$BENCH_PYTHON
make -C "$BUILD" -s gilsnoop bench/forkbench >/dev/null || {
	echo "bench: build failed in $BUILD" >&2
	exit 1
}
GS=$BUILD/gilsnoop
TMP=$(mktemp -d /tmp/multibench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

exec 9>/tmp/gilsnoop-accuracy.lock
flock 9

# ---- (m1) ------------------------------------------------------------
for i in $(seq "$NPROC"); do
	"$PY" "$SRC/tests/workloads/threads.py" --cpu "$CPU" --sleep $((4 - CPU)) --lifetime 120 \
		>"$TMP/t$i.out" 2>/dev/null &
	PIDS+=($!)
done
for i in $(seq "$NPROC"); do
	for _ in $(seq 300); do grep -q '^ready' "$TMP/t$i.out" && break; sleep 0.1; done
done
LIST=$(IFS=,; echo "${PIDS[*]}")
/usr/bin/time -f "%U %S %e" -o "$TMP/time" "$GS" record -p "$LIST" -d "$SECS" -r "$RATE" \
	--format jsonl -o "$TMP/m1.jsonl" >"$TMP/m1.txt" 2>"$TMP/m1.err"
read -r user sys wall <"$TMP/time"
python3 - "$TMP/m1.txt" "$NPROC" "$RATE" "$user" "$sys" "$wall" "$CPU" <<'EOF'
import re, statistics, sys
text, n, rate, user, sys_, wall, cpu_threads = open(sys.argv[1]).read(), *sys.argv[2:]
hz = [float(x) for x in re.findall(r"samples \((\d+) Hz achieved\)", text)]
cpu = (float(user) + float(sys_)) / float(wall)
samples = sum(int(x) for x in re.findall(r"; [0-9.]+ s, (\d+) samples", text))
print("(m1) %s processes x 4 threads (%s spinning) at %s Hz: %d sections, rate per process median %.0f Hz, "
      "min %.0f Hz; gilsnoop CPU %.2f of one core (user %s s, sys %s s, wall %s s, "
      "attach included), %.1f us per process-sample"
      % (n, cpu_threads, rate, len(hz), statistics.median(hz) if hz else 0,
         min(hz) if hz else 0, cpu, user, sys_, wall,
         1e6 * (float(user) + float(sys_)) / samples if samples else 0))
EOF
for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
PIDS=()

# ---- (m2) ------------------------------------------------------------
cat >"$TMP/forker.py" <<'EOF'
import os, sys, time
print("ready", flush=True)
time.sleep(1.0)
for i in range(10):
    pid = os.fork()
    if pid == 0:
        t = time.monotonic()
        sys.stdout.write("child %d %.6f\n" % (os.getpid(), t))
        sys.stdout.flush()
        end = t + 0.5
        while time.monotonic() < end:
            pass
        os._exit(0)
    time.sleep(0.2 + 0.3 * ((i * 7919) % 10) / 10)  # not in step with the 100 ms poll
time.sleep(1.0)
EOF
"$PY" "$TMP/forker.py" >"$TMP/forker.out" &
FP=$!
PIDS+=($FP)
for _ in $(seq 100); do grep -q '^ready' "$TMP/forker.out" && break; sleep 0.05; done
"$GS" record --children -p "$FP" --format jsonl -o "$TMP/m2.jsonl" >/dev/null 2>"$TMP/m2.err"
python3 - "$TMP/forker.out" "$TMP/m2.jsonl" <<'EOF'
import json, statistics, sys
born = {int(l.split()[1]): float(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("child")}
first = {}
for l in open(sys.argv[2]):
    d = json.loads(l)
    if "tid" in d and d["pid"] in born:
        first[d["pid"]] = min(first.get(d["pid"], 1e18), d["ts_us"] / 1e6)
lat = [1e3 * (first[p] - born[p]) for p in born if p in first]
print("(m2) --children pickup of a forked child: %d/%d seen, latency median %.0f ms, "
      "max %.0f ms (poll every 100 ms)" % (len(lat), len(born),
      statistics.median(lat) if lat else -1, max(lat) if lat else -1))
EOF

# ---- (m3) ------------------------------------------------------------
"$PY" -c '
import os, sys, time
print("ready", flush=True)
pid = os.fork()
if pid == 0:
    print("child", os.getpid(), flush=True)
time.sleep(60)
' >"$TMP/pair.out" &
PP=$!
PIDS+=($PP)
for _ in $(seq 100); do grep -q '^child' "$TMP/pair.out" && break; sleep 0.05; done
CP=$(awk '/^child/ {print $2}' "$TMP/pair.out")
PIDS+=($CP)
echo "(m3) attach to a forked child: $("$BUILD/bench/forkbench" "$PP" "$CP" 50)"
