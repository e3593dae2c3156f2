#!/bin/bash
# The stack reader's cost per stack: see bench/README.md ("Python stacks").
#
#   bench/stacks.sh [BUILD_DIR]
#
# Starts tests/workloads/stacks.py (threads at depths 2 to 255, a
# coroutine, a generator, a spinning thread) on each interpreter of
# BENCH_STACK_PYTHONS (default: pyenv 3.6, 3.10, 3.11, 3.12, 3.13 and sid
# 3.15 when present) one after the other, and runs bench/stackbench on
# it for BENCH_SECONDS (default 6).  Holds /tmp/gilsnoop-accuracy.lock
# while it measures, like every timing run on this machine.
set -u

BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-6}
if [ -z "${BENCH_STACK_PYTHONS:-}" ]; then
	BENCH_STACK_PYTHONS=""
	for v in 3.6 3.10 3.11 3.12 3.13; do
		p=$(ls -d /root/.pyenv/versions/$v.*/bin/python$v 2>/dev/null | tail -1)
		[ -n "$p" ] && BENCH_STACK_PYTHONS="$BENCH_STACK_PYTHONS $p"
	done
	for v in 3.15; do
		p=/var/cache/gilsnoop/sid/python$v/run
		[ -x "$p" ] && BENCH_STACK_PYTHONS="$BENCH_STACK_PYTHONS $p"
	done
fi

make -C "$BUILD" -s bench/stackbench >/dev/null || {
	echo "stacks: build failed in $BUILD" >&2
	exit 1
}

exec 9>/tmp/gilsnoop-accuracy.lock
flock 9
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for py in $BENCH_STACK_PYTHONS; do
	out=$(mktemp)
	"$py" "$SRC/tests/workloads/stacks.py" --lifetime 120 >"$out" 2>&1 &
	launcher=$!
	pid=
	for _ in $(seq 100); do
		pid=$(sed -n 's/^ready {.*"pid": \([0-9]*\).*/\1/p' "$out")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	if [ -z "$pid" ]; then
		echo "stacks: $py did not start" >&2
	else
		"$BUILD/bench/stackbench" "$pid" "$SECS"
	fi
	kill "$launcher" ${pid:+"$pid"} 2>/dev/null
	wait "$launcher" 2>/dev/null
	rm -f "$out"
done
