#!/bin/bash
# The stall flight recorder's memory over a long run (bench/README.md,
# "record --stall: memory").
#
#   bench/stallrss.sh [BUILD_DIR] [SECONDS]
#
# Starts tests/workloads/why.py with its long holds on (two CPU threads,
# a 0.2 s sorted() and a 150 ms off-CPU usleep every 0.3 s) and a 300 ms
# stall every 15 s, runs `gilsnoop record --stacks --stall 200 --keep 10
# -o DIR/` on it for SECONDS (default 600), and prints gilsnoop's VmRSS
# every 30 s and its VmHWM (peak) at the end, with the stalls caught.
set -u
BUILD=$(cd "${1:-.}" && pwd)
SECS=${2:-600}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=${BENCH_PYTHON:-$(ls -d /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)}
TMP=$(mktemp -d /tmp/stallrss.XXXXXX)
trap 'kill -9 $TP 2>/dev/null; rm -rf "$TMP"' EXIT
$PY "$SRC/tests/workloads/why.py" --lifetime $((SECS + 60)) >"$TMP/w" 2>&1 &
TP=$!
for _ in $(seq 100); do grep -q ready "$TMP/w" && break; sleep 0.1; done
kill -USR1 $TP
"$BUILD/gilsnoop" record -p $TP --stacks --stall 200 --keep 10 -o "$TMP/stalls/" \
	-d "$SECS" >"$TMP/sum" 2>&1 &
GP=$!
echo "stallrss: $(date -u +%FT%TZ), $SECS s, load $(cut -d' ' -f1-3 /proc/loadavg), $($PY -V)"
t=0
while kill -0 $GP 2>/dev/null; do
	sleep 5
	t=$((t + 5))
	[ $((t % 15)) = 0 ] && kill -USR2 $TP 2>/dev/null
	if [ $((t % 30)) = 0 ]; then
		echo "t=${t}s $(grep -E 'VmRSS|VmHWM' /proc/$GP/status 2>/dev/null | tr -s ' \t' ' ' | tr '\n' ' ')"
		grep VmHWM /proc/$GP/status 2>/dev/null >"$TMP/hwm"
	fi
done
wait $GP
echo "rc=$? peak: $(cat "$TMP/hwm") files: $(ls "$TMP/stalls" | wc -l)"
grep -A2 "stalls caught" "$TMP/sum"
grep "^stacks" "$TMP/sum"
