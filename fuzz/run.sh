#!/bin/bash
# Builds the fuzz harnesses and runs each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]     (default 60 s, all nine)
#
# Each harness runs with -max_total_time=SECONDS -timeout=5
# -rss_limit_mb=2048 on its own corpus directory, which starts from the
# committed seeds (fuzz/seeds/NAME/) and the generated ones and keeps
# what the fuzzer finds between runs.  Exits nonzero if any harness
# crashed, leaked, hung on an input (> 5 s), ran out of memory or
# printed a sanitizer report; the reproducer's path is printed.
#
# Environment:
#   FUZZ_BUILD    top directory (default /tmp/gilsnoop-fuzz): corpora in
#                 FUZZ_BUILD/corpus/NAME (shared by every checkout),
#                 reproducers in FUZZ_BUILD/artifacts, this checkout's
#                 harnesses and logs in FUZZ_BUILD/build-KEY (fuzz/build.sh)
#   FUZZ_CORPUS   corpus root instead of FUZZ_BUILD/corpus
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=4 -workers=4"
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
top=${FUZZ_BUILD:-/tmp/gilsnoop-fuzz}
B=$top/build-$(printf '%s' "$src" | cksum | cut -d' ' -f1)
ALL="fuzz_elf fuzz_dwarf fuzz_debug_offsets fuzz_remote fuzz_trace fuzz_procfs fuzz_pystack fuzz_linetable fuzz_stack fuzz_sampler"

secs=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	secs=$1
	shift
fi
names=${*:-$ALL}
for n in $names; do
	case " $ALL " in
	*" $n "*) ;;
	*) echo "fuzz/run.sh: unknown harness '$n' (one of: $ALL)" >&2; exit 2 ;;
	esac
done

say() { printf 'fuzz: %s\n' "$*"; }

if ! bash "$src/fuzz/build.sh" "$B"; then
	say "build failed"
	exit 1
fi

corpus_root=${FUZZ_CORPUS:-$top/corpus}
art=$top/artifacts
mkdir -p "$corpus_root" "$art" "$B/logs"
# Old logs and reproducers go after a week; this run's are named by its
# pid, so that runs side by side never take each other's for their own.
find "$B/logs" "$art" -type f -mtime +7 -delete 2>/dev/null
read -r -a extra <<<"${FUZZ_ARGS:-}"
failed=0

for n in $names; do
	corpus=$corpus_root/$n
	log=$B/logs/$n.$$.log
	mkdir -p "$corpus"
	for d in "$src/fuzz/seeds/$n" "$B/seeds/$n"; do
		[ -d "$d" ] && cp -f "$d"/* "$corpus"/ 2>/dev/null
	done
	dict=()
	[ -f "$src/fuzz/$n.dict" ] && dict=("-dict=$src/fuzz/$n.dict")
	say "$n: ${secs}s on $corpus ($(ls "$corpus" | wc -l) inputs)"
	# detect_leaks is libFuzzer's default under ASan; spelled out.
	ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:allocator_may_return_null=0 \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$B/bin/$n" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/$n-$$-" \
		"${dict[@]}" "${extra[@]}" "$corpus" >"$log" 2>&1 </dev/null
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	repro=$(ls "$art/$n-$$-"* 2>/dev/null | head -n 1)
	if [ $rc -eq 0 ] && [ -z "$repro" ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		say "$n: PASS ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l)"
	else
		failed=$((failed + 1))
		say "$n: FAIL (exit $rc) after ${runs:-?} runs; log $log"
		# The report from its first line: the error and the top frames.
		sed -n '/==ERROR\|runtime error:\|contract violated\|ALARM\|out-of-memory/,$p' "$log" |
			grep -v 'in fuzzer::\|libc_start\|in _start\|^NOTE: libFuzzer\|Combine libFuzzer' |
			awk '/^Shadow bytes around/ { skip = 1 } /^==[0-9]+==ABORTING|^SUMMARY:|^MS: / { skip = 0 } !skip' |
			head -n 30 | sed 's/^/  | /'
		if [ -n "$repro" ]; then
			say "$n: reproducer $repro"
			say "$n: reproduce with: $B/bin/$n $repro"
		fi
	fi
done
# fuzz_dwarf removes its private directory (named by its pid) at exit;
# a crash leaves it behind.  Only those of processes that are gone.
for d in /dev/shm/gilsnoop-fuzz-dwarf.* "${TMPDIR:-/tmp}"/gilsnoop-fuzz-dwarf.*; do
	[ -d "$d" ] || continue
	pid=${d##*gilsnoop-fuzz-dwarf.}
	pid=${pid%%.*}
	[[ $pid =~ ^[0-9]+$ ]] && [ ! -d "/proc/$pid" ] && rm -rf "$d"
done
if [ $failed -ne 0 ]; then
	say "$failed of $(echo $names | wc -w) harnesses failed"
	exit 1
fi
say "all $(echo $names | wc -w) harnesses passed (${secs}s each)"
