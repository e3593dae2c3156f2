#!/bin/bash
# The project's test command, for a fresh clone as much as a work tree:
#   bash tests/check.sh
# installs missing build dependencies, builds, and runs `make check` (unit
# tests, then integration tests on every interpreter found).
#
#   BUILD_DIR=dir                    build out of tree (VPATH) in dir
#   GILSNOOP_CONFIGURE_FLAGS="..."   extra ./configure flags
#   TESTFLAGS="-k cli"               passed on to tests/run-tests
#   GILSNOOP_PYTHONS=pyenv-3.12,...  only these interpreters
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$top}
read -r -a flags <<<"${GILSNOOP_CONFIGURE_FLAGS:-}"

say() { printf 'check: %s\n' "$*"; }

bash "$top/scripts/install-deps.sh"

say "autoreconf -fi"
# Its "installing build-aux/..." chatter only matters when it fails.
log=$(mktemp)
if ! (cd "$top" && autoreconf -fi) >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	say "autoreconf failed"
	exit 1
fi
rm -f "$log"

mkdir -p "$build"
cd "$build"
say "configure ${flags[*]} (in $build)"
"$top/configure" --quiet "${flags[@]}"
say "make -j2"
make -j2
say "make check"
make check
