#!/bin/bash
# record --stacks=all: what one whole sample (every thread's Python
# stack) costs, against Tachyon, in one run (bench/README.md,
# "record --stacks").
#
#   bench/stackcpu.sh GILSNOOP [GILSNOOP...]
#
# On a sid python3.15 target with 4 CPU-bound threads, interleaved for
# BENCH_REPS repetitions of BENCH_SECONDS: Tachyon's samples/s and CPU
# time per sample (`perf stat` task-clock over its "Sample rate:" line,
# interpreter start-up included), then for each gilsnoop binary given
# (e.g. the one before a change and the one after) `record -r max
# --stacks=all --stack-rate max`: samples/s, process_vm_readv calls per
# stack and per sample, CPU time per sample.  The rates follow the
# scheduler (the sampler shares 2 CPUs with 4 busy threads); the CPU
# time per sample and the call counts are what a change moves.
# Needs perf.  Environment: BENCH_SECONDS (3), BENCH_REPS (3), BENCH_SID.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
SID=${BENCH_SID:-/var/cache/gilsnoop/sid}
PY315=$SID/python3.15/run
S=${BENCH_SECONDS:-3}
TMP=$(mktemp -d /tmp/stackcpu.XXXXXX)
T=
trap '[ -n "$T" ] && kill -9 "$T" 2>/dev/null; rm -rf "$TMP"' EXIT
[ -x "$PY315" ] || { echo "stackcpu: no $PY315" >&2; exit 1; }
command -v perf >/dev/null || { echo "stackcpu: needs perf" >&2; exit 1; }
"$PY315" "$SRC/tests/workloads/gilwork.py" --mode cpu --threads 4 >"$TMP/t" 2>&1 &
T=$!
for _ in $(seq 300); do grep -q ^ready "$TMP/t" && break; sleep 0.1; done
echo "stackcpu: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "${BENCH_REPS:-3}"); do
	perf stat -x, -e task-clock -o "$TMP/stat" "$PY315" -m profiling.sampling \
		attach -a -r 200khz -d "$S" --no-summary -o "$TMP/tach" "$T" >"$TMP/out" 2>&1
	r=$(sed -n 's/^Sample rate: *\([0-9.]*\).*/\1/p' "$TMP/out" | head -1)
	tc=$(grep task-clock "$TMP/stat" | cut -d, -f1)
	awk -v r="${r:-0}" -v tc="${tc:-0}" -v s="$S" 'BEGIN { printf "tachyon: %.0f samples/s, %.1f us CPU/sample\n", r, r ? tc * 1000 / (r * s) : 0 }'
	for gs in "$@"; do
		perf stat -x, -e syscalls:sys_enter_process_vm_readv,task-clock -o "$TMP/stat" \
			"$gs" record -p "$T" -o "$TMP/g.json" --force -r max --stacks=all \
			--stack-rate max -d "$S" >"$TMP/sum" 2>&1
		n=$(sed -n 's/^stacks: \([0-9]*\) stack samples.*/\1/p' "$TMP/sum")
		smp=$(sed -n 's/.* \([0-9]*\) samples (.*/\1/p' "$TMP/sum" | head -1)
		rv=$(grep process_vm "$TMP/stat" | cut -d, -f1)
		tc=$(grep task-clock "$TMP/stat" | cut -d, -f1)
		awk -v g="$gs" -v n="${n:-0}" -v s="${smp:-0}" -v rv="${rv:-0}" -v tc="${tc:-0}" -v S="$S" \
			'BEGIN { if (!n || !s) { print g ": no samples"; exit }
			printf "%s: %.0f samples/s, %.2f stacks/sample, %.2f process_vm_readv/stack, %.2f/sample, %.1f us CPU/sample\n", g, s / S, n / s, rv / n, rv / s, tc * 1000 / s }'
	done
done
