#!/bin/bash
# record --stacks: what it costs the target, and how many stacks a second
# it takes (bench/README.md, "record --stacks").
#
#   bench/whystacks.sh [BUILD_DIR]
#
# (f) the target's wall time for fixed work (tests/workloads/gilwork.py
#     --mode cpu --threads 4) with no sampler, `record` at the default
#     rate, `record --stacks` at the default stack rate, and `record
#     --stacks --stack-rate max` (-r max too), interleaved in a random
#     order for each of BENCH_REPS repetitions; medians and ratios;
# (g) on a sid python3.15 target with 4 CPU-bound threads: stack samples
#     per second of `record -r max --stacks --stack-rate max` (holder)
#     and `--stacks=all` (every thread, per sample), next to CPython's
#     own sampler `python3.15 -m profiling.sampling attach -a -r 200khz`
#     in its default mode (its "Sample rate:" line).
# Environment: BENCH_PYTHON, BENCH_SECONDS (4), BENCH_REPS (5), BENCH_SID.
set -u
BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-4}
REPS=${BENCH_REPS:-5}
SID=${BENCH_SID:-/var/cache/gilsnoop/sid}
WORK=$SRC/tests/workloads/gilwork.py
PY=${BENCH_PYTHON:-$(ls -d /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)}
GS=$BUILD/gilsnoop
TMP=$(mktemp -d /tmp/whystacks.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

start_target() { # start_target OUT PYTHON ARGS...: sets TPID
	local out=$1 py=$2
	shift 2
	$py "$WORK" "$@" >"$out" 2>"$out.err" &
	TPID=$!
	PIDS+=("$TPID")
	for _ in $(seq 300); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "whystacks: target did not start" >&2
	cat "$out.err" >&2
	exit 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

echo "whystacks: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $($PY -V)"

# ---- (f)
cfg_args() {
	case $1 in
	none) ;;
	plain) echo "" ;;
	stacks) echo "--stacks" ;;
	stacksmax) echo "-r max --stacks --stack-rate max" ;;
	esac
}
rm -f "$TMP"/el.*
for _ in $(seq "$REPS"); do
	for cfg in $(printf '%s\n' none plain stacks stacksmax | shuf); do
		start_target "$TMP/run" "$PY" --mode cpu --threads 4 --work 400 --delay 1.5
		t=$TPID rec=""
		if [ $cfg != none ]; then
			# shellcheck disable=SC2046
			"$GS" record -p "$t" -o "$TMP/rec.json" --force $(cfg_args $cfg) \
				>"$TMP/rec.$cfg.sum" 2>&1 &
			rec=$!
		fi
		wait "$t" 2>/dev/null
		[ -n "$rec" ] && wait "$rec" 2>/dev/null
		sed -n 's/^elapsed //p' "$TMP/run" >>"$TMP/el.$cfg"
	done
done
base=$(median <"$TMP/el.none")
for cfg in plain stacks stacksmax; do
	m=$(median <"$TMP/el.$cfg")
	echo "(f) 4 CPU-bound threads, $cfg ($(cfg_args $cfg)): median ${m}s vs ${base}s" \
		"without a sampler: $(ratio "$m" "$base")x ($(grep -o '[0-9]* stack samples' "$TMP/rec.$cfg.sum" | head -1))"
done

# ---- (g)
PY315=$SID/python3.15/run
if [ -x "$PY315" ]; then
	start_target "$TMP/cpu15" "$PY315" --mode cpu --threads 4
	T=$TPID
	tach=$("$PY315" -m profiling.sampling attach -a -r 200khz -d "$SECS" \
		--no-summary -o "$TMP/tachyon.out" "$T" 2>&1)
	trate=$(sed -n 's/^Sample rate: *\([0-9.]*\).*/\1/p' <<<"$tach" | head -1)
	for mode in holder all; do
		"$GS" record -p "$T" -o "$TMP/g.json" --force -r max --stacks=$mode \
			--stack-rate max -d "$SECS" >"$TMP/g.sum" 2>&1
		n=$(sed -n 's/^stacks: \([0-9]*\) stack samples.*/\1/p' "$TMP/g.sum")
		smp=$(sed -n 's/.* \([0-9]*\) samples (.*/\1/p' "$TMP/g.sum" | head -1)
		rate=$(awk -v n="$n" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')
		srate=$(awk -v n="$smp" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')
		# holder: one stack per sample, against Tachyon's samples; all:
		# whole samples (every thread's stack) against its samples.
		cmp=$rate
		[ $mode = all ] && cmp=$srate
		echo "(g) python3.15, 4 threads, --stacks=$mode --stack-rate max -r max:" \
			"$rate stacks/s over $srate GIL samples/s; Tachyon (attach -a -r 200khz," \
			"default mode) ${trate:-?} samples/s; ratio $(ratio "$cmp" "${trate:-0}")" \
			"(goal >= 2)"
	done
else
	echo "(g) skipped: no $PY315"
fi
