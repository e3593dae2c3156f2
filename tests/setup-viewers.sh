#!/bin/sh
# Installs what tests/integration/test_viewers.py loads recordings into:
# Debian's chromium (apt, run headless) and speedscope from npm, pinned,
# into a cache directory.  Only those tests need them; without them they
# are reported as skipped, with the reason.
#
#   $GILSNOOP_VIEWER_DIR/node_modules/speedscope/   (default
#                                      /var/cache/gilsnoop/viewers)
#
# Safe to rerun: what is there already is only checked.
# Environment:
#   GILSNOOP_VIEWER_DIR   cache directory
#   GILSNOOP_SPEEDSCOPE   speedscope version (default 1.25.0)
# Exit status: 0 when both are ready, 1 otherwise (the reason is printed).

set -u

DIR=${GILSNOOP_VIEWER_DIR:-/var/cache/gilsnoop/viewers}
SPEEDSCOPE=${GILSNOOP_SPEEDSCOPE:-1.25.0}

say() { printf '%s\n' "setup-viewers: $*"; }

rc=0

if command -v chromium >/dev/null 2>&1; then
	say "chromium present: $(chromium --version 2>/dev/null)"
elif [ "$(id -u)" -ne 0 ]; then
	say "chromium missing and not root: apt-get install chromium"
	rc=1
elif ! command -v apt-get >/dev/null 2>&1; then
	say "chromium missing and no apt-get"
	rc=1
else
	say "apt-get install chromium"
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp /tmp/setup-viewers.XXXXXX)
	if ! apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
		-o DPkg::Lock::Timeout=600 chromium >"$log" 2>&1; then
		# Stale package lists: refresh once.
		apt-get update -qq -o DPkg::Lock::Timeout=600 >>"$log" 2>&1
		apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
			-o DPkg::Lock::Timeout=600 chromium >>"$log" 2>&1 ||
			{ tail -n 5 "$log" | sed 's/^/  | /'; say "installing chromium failed"; rc=1; }
	fi
	rm -f "$log"
fi

have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
	"$DIR/node_modules/speedscope/package.json" 2>/dev/null | head -n 1)
if [ "$have" = "$SPEEDSCOPE" ] && [ -f "$DIR/node_modules/speedscope/dist/release/index.html" ]; then
	say "speedscope $have present in $DIR"
elif ! command -v npm >/dev/null 2>&1; then
	say "npm missing: no speedscope"
	rc=1
elif ! mkdir -p "$DIR"; then
	say "cannot create $DIR"
	rc=1
else
	say "npm install speedscope@$SPEEDSCOPE into $DIR"
	log=$(mktemp /tmp/setup-viewers.XXXXXX)
	if ! (cd "$DIR" || exit 1
	      [ -f package.json ] || printf '{"private":true}\n' >package.json
	      timeout 600 npm install --no-audit --no-fund --ignore-scripts \
		      "speedscope@$SPEEDSCOPE") >"$log" 2>&1; then
		tail -n 5 "$log" | sed 's/^/  | /'
		say "installing speedscope failed"
		rc=1
	fi
	rm -f "$log"
fi
exit $rc
