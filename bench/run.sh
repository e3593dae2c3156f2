#!/bin/bash
# The sampler benchmark: see bench/README.md.
#
#   bench/run.sh [BUILD_DIR]
#
# BUILD_DIR is a configured gilsnoop build (default: the current
# directory); gilsnoop and bench/gilbench are (re)built in it.
#
# Environment:
#   BENCH_PYTHON   interpreter for the targets (default: the newest pyenv
#                  3.12, else python3)
#   BENCH_SECONDS  length of each rate measurement (default 4)
#   BENCH_REPS     repetitions of each slowdown configuration (default 5)
#   BENCH_RATES    sampler rates for the slowdown runs (default
#                  "default max"; e.g. "100 1000 10000 max")
#   BENCH_SID      Debian sid tree for the Tachyon comparison (default
#                  /var/cache/gilsnoop/sid)
#
# Everything is measured in one run on the same targets and printed side
# by side as ratios: the machine this runs on is shared and noisy, so only
# ratios measured together mean anything.
set -u

BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-4}
REPS=${BENCH_REPS:-5}
RATES=${BENCH_RATES:-"default max"}
SID=${BENCH_SID:-/var/cache/gilsnoop/sid}
WORK=$SRC/tests/workloads/gilwork.py

if [ -z "${BENCH_PYTHON:-}" ]; then
	BENCH_PYTHON=$(ls -d /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)
	[ -n "$BENCH_PYTHON" ] || BENCH_PYTHON=python3
fi
PY=$BENCH_PYTHON

make -C "$BUILD" -s gilsnoop bench/gilbench >/dev/null || {
	echo "bench: build failed in $BUILD" >&2
	exit 1
}
GS=$BUILD/gilsnoop
GB=$BUILD/bench/gilbench
TMP=$(mktemp -d /tmp/gilbench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# start_target OUTFILE [taskset -c N] PYTHON ARGS...: start a gilwork.py
# target and wait for its ready line; sets TPID.
start_target() {
	local out=$1 pin=()
	shift
	if [ "$1" = taskset ]; then
		pin=("$1" "$2" "$3")
		shift 3
	fi
	local py=$1
	shift
	"${pin[@]}" $py "$WORK" "$@" >"$out" 2>"$out.err" &
	TPID=$!
	PIDS+=("$TPID")
	for _ in $(seq 300); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		kill -0 "$TPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: target did not start: $py $WORK $*" >&2
	cat "$out.err" >&2
	exit 1
}

stop() { # stop PID: kill a target without bash's "Killed" line
	{ kill -9 "$1" && wait "$1"; } 2>/dev/null
}

field() { # field KEY LINE
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "gilsnoop sampler benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "target interpreter: $PY ($($PY -c 'import sys; print(sys.version.split()[0])'))"
echo

# ---- (a) and (b): rates on one target with 4 CPU-bound Python threads.
start_target "$TMP/cpu4" "$PY" --mode cpu --threads 4
CPU4=$TPID
a=$("$GB" words "$CPU4" "$SECS")
b=$("$GB" full "$CPU4" "$SECS")
echo "(a) GIL words at max rate: $(field words_per_s "$a")/s; bare process_vm_readv" \
	"loop on the same words: $(field bare_per_s "$a")/s; ratio $(field ratio "$a") (target >= 0.5)"
echo "(b) full classification, 4 Python threads: $(field samples_per_s "$b") samples/s," \
	"$(field proc_reads_per_sample "$b") /proc reads per sample"
stop "$CPU4"

# ---- (c): the target's wall-time slowdown.
# run_once MODE RATE ARGS...: one target doing fixed work; prints its
# elapsed seconds (and appends the sampler's CPU seconds to $TMP/cpu.RATE).
run_once() {
	local rate=$1
	shift
	start_target "$TMP/run" $PIN "$PY" "$@" --delay 1.5
	local t=$TPID rec=""
	if [ "$rate" != none ]; then
		local ropt=()
		[ "$rate" = default ] || ropt=(-r "$rate")
		# -o - to /dev/null: the sampler's cost, not a disk's.
		/usr/bin/time -f "%U %S" -o "$TMP/time" $PIN \
			"$GS" record -p "$t" -o - --format jsonl "${ropt[@]}" >/dev/null 2>"$TMP/rec.err" &
		rec=$!
	fi
	wait "$t" 2>/dev/null
	[ -n "$rec" ] && wait "$rec" 2>/dev/null
	[ -n "$rec" ] && awk '{ print $1 + $2 }' "$TMP/time" >>"$TMP/cpu.$rate"
	sed -n 's/^elapsed //p' "$TMP/run"
}

# Unpinned, as programs run; then target and sampler pinned to CPU 0,
# the worst case, where every cycle the sampler uses is taken from the
# target (and the GIL-churn workload, whose speed otherwise depends on
# whether its threads happen to share a CPU, is repeatable).
for wl in cpu churn cpu-pinned churn-pinned; do
	PIN=""
	case $wl in
	cpu*) args=(--mode cpu --threads 2 --work 300) ;;
	churn*) args=(--mode churn --threads 3 --churn-work 20 --work 20000) ;;
	esac
	case $wl in *-pinned) PIN="taskset -c 0" ;; esac
	rm -f "$TMP"/el.* "$TMP"/cpu.*
	for _ in $(seq "$REPS"); do
		# Interleaved, in a new random order each time, so that the
		# machine's drift hits all alike.
		for rate in $(printf '%s\n' none $RATES | shuf); do
			run_once "$rate" "${args[@]}" >>"$TMP/el.$rate"
		done
	done
	base=$(median <"$TMP/el.none")
	line="(c) $wl: no sampler ${base}s"
	for rate in $RATES; do
		m=$(median <"$TMP/el.$rate")
		c=$(median <"$TMP/cpu.$rate")
		line="$line; $rate ${m}s ($(ratio "$m" "$base")x, sampler CPU ${c}s)"
	done
	echo "$line  [median of $REPS]"
done

# ---- (d): Tachyon (CPython 3.15's profiling.sampling) on a 3.15 target.
PY315=$SID/python3.15/run
if [ -x "$PY315" ]; then
	start_target "$TMP/cpu15" "$PY315" --mode cpu --threads 4
	T15=$TPID
	tach=$("$PY315" -m profiling.sampling attach -a --mode gil -r 200khz -d "$SECS" \
		--no-summary -o "$TMP/tachyon.out" "$T15" 2>&1)
	trate=$(sed -n 's/^Sample rate: *\([0-9.]*\).*/\1/p' <<<"$tach" | head -1)
	g=$("$GB" full "$T15" "$SECS")
	grate=$(field samples_per_s "$g")
	echo "(d) python3.15, 4 threads: Tachyon (attach -a --mode gil -r 200khz)" \
		"${trate:-?}/s; gilsnoop full classification ${grate}/s; ratio" \
		"$(ratio "${grate:-0}" "${trate:-0}") (target >= 2)"
	stop "$T15"
else
	echo "(d) skipped: no $PY315 (run tests/setup-sid-pythons.sh)"
fi

# ---- (e): what the accuracy tests' ground truth costs: the interposer
# tests/truth/libgiltruth.so, armed on the GIL as test_accuracy.py arms
# it, on the same pinned GIL-churn workload, next to gilsnoop at the
# default rate; and bench/truthcost's ns per lock/unlock pair.
TL=$BUILD/tests/truth/libgiltruth.so
if make -C "$BUILD" -s tests/truth/libgiltruth.so bench/truthcost >/dev/null 2>&1; then
	args=(--mode churn --threads 3 --churn-work 20 --work 20000 --delay 3)
	rm -f "$TMP"/up.*
	for _ in $(seq "$REPS"); do
		for cfg in $(printf '%s\n' none truth gilsnoop | shuf); do
			h=""
			if [ "$cfg" = truth ]; then
				rm -f "$TMP/truth.bin"
				# Through env, so that nothing but the target inherits them.
				start_target "$TMP/run" taskset -c 0 \
					"env LD_PRELOAD=$TL GS_TRUTH_OUT=$TMP/truth.bin $PY" "${args[@]}"
				python3 - "$SRC" "$GS" "$TMP/run" "$TMP/truth.bin" <<'PYEOF' || echo "(e) cannot arm the interposer" >&2
import json, sys
src, gs, run, path = sys.argv[1:]
sys.path.insert(0, src + "/tests/truth")
import giltruth
pid = json.loads(open(run).readline()[len("ready"):])["pid"]
giltruth.arm(path, pid, *giltruth.gil_addresses(gs, pid))
PYEOF
			else
				start_target "$TMP/run" taskset -c 0 "$PY" "${args[@]}"
			fi
			t=$TPID
			if [ "$cfg" = gilsnoop ]; then
				taskset -c 0 "$GS" record -p "$t" -o - --format jsonl >/dev/null 2>&1 &
				h=$!
			fi
			wait "$t" 2>/dev/null
			if [ -n "$h" ]; then
				kill -INT "$h" 2>/dev/null
				wait "$h" 2>/dev/null
			fi
			sed -n 's/^elapsed //p' "$TMP/run" >>"$TMP/up.$cfg"
		done
	done
	base=$(median <"$TMP/up.none")
	u=$(median <"$TMP/up.truth")
	g=$(median <"$TMP/up.gilsnoop")
	echo "(e) churn-pinned: no tracing ${base}s; GIL truth interposer (armed)" \
		"${u}s ($(ratio "$u" "$base")x); gilsnoop at the default rate ${g}s" \
		"($(ratio "$g" "$base")x)  [median of $REPS]"
	rm -f "$TMP/tc.bin"
	echo "(e) bench/truthcost, no interposer: $("$BUILD/bench/truthcost" 1000000 | head -1)"
	LD_PRELOAD=$TL GS_TRUTH_OUT=$TMP/tc.bin "$BUILD/bench/truthcost" 1000000 |
		sed 's/^/(e) bench\/truthcost, interposer: /'
	rm -f "$TMP/tc.bin"
else
	echo "(e) skipped: cannot build tests/truth/libgiltruth.so and bench/truthcost in $BUILD"
fi
