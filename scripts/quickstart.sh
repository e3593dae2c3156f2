#!/bin/bash
# First contact: installs what is missing, builds gilsnoop in this checkout,
# starts demo/gil_demo.py (two threads fighting over the GIL, one sleeping)
# and shows what gilsnoop sees in it.  Run as root from the checkout:
#   bash scripts/quickstart.sh
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

# What to show, one gilsnoop command line each; PID is replaced by the
# demo's pid.  A new command for the tour is one more line here; a line
# whose command this build does not have yet is left out.
SHOW=(
	"info -p PID"
	"top -b -n 2 -i 1 -p PID"
)

say() { printf 'quickstart: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	say "note: not root; gilsnoop needs root or CAP_SYS_PTRACE to read the demo"
fi

bash scripts/install-deps.sh

log=$(mktemp /tmp/gilsnoop-quickstart.XXXXXX)
demo_out=$(mktemp /tmp/gilsnoop-demo.XXXXXX)
demo_pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
	if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
		kill -TERM "$demo_pid" 2>/dev/null || true
		wait "$demo_pid" 2>/dev/null || true
	fi
	rm -f "$log" "$demo_out"
}
trap cleanup EXIT

# Build output goes to a log that is shown only when a step fails, so the
# screen stays on what gilsnoop prints.
step() {
	local what=$1
	shift
	say "$what"
	if ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		say "failed: $what"
		exit 1
	fi
}
step "autoreconf -fi" autoreconf -fi
step "./configure" ./configure
step "make -j2" make -j2

say "starting demo/gil_demo.py with /usr/bin/python3"
/usr/bin/python3 demo/gil_demo.py --seconds 120 >"$demo_out" 2>&1 &
demo_pid=$!
for _ in $(seq 300); do
	grep -qx ready "$demo_out" && break
	if ! kill -0 "$demo_pid" 2>/dev/null; then
		cat "$demo_out" >&2
		say "the demo exited before it was ready"
		exit 1
	fi
	sleep 0.1
done
if ! grep -qx ready "$demo_out"; then
	say "the demo did not get ready within 30 s"
	exit 1
fi
grep -v -x ready "$demo_out" | sed 's/^/  /'
# Let the threads settle into their pattern before looking.
sleep 1

status=0
for cmd in "${SHOW[@]}"; do
	read -r -a args <<<"${cmd//PID/$demo_pid}"
	./gilsnoop help "${args[0]}" >/dev/null 2>&1 || continue
	echo
	echo "\$ ./gilsnoop ${args[*]}"
	rc=0
	./gilsnoop "${args[@]}" || rc=$?
	if [ $rc -ne 0 ]; then
		say "gilsnoop exited with $rc (see 'Exit codes' in README.md)"
		status=1
	fi
done
echo
say "done; next: bash tests/check.sh runs the test suite"
exit $status
