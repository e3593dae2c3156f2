#!/bin/bash
# Installs what building gilsnoop and running its tests need on Debian 12.
# Safe to run again and again: it only touches apt when a package is missing,
# and only refreshes the package lists when apt cannot find a package.
set -euo pipefail

PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libelf-dev libdw-dev libunwind-dev libncurses-dev libjson-c-dev
	python3 linux-perf strace tmux gdb procps binutils file
	# libFuzzer and the sanitizer runtimes are only a Recommends of clang,
	# and recommends are not installed here.
	clang libclang-rt-dev
)

say() { printf 'install-deps: %s\n' "$*"; }

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	say "this script needs Debian's apt/dpkg (Debian 12); install the packages by hand: ${PACKAGES[*]}"
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#PACKAGES[@]} packages present"
	exit 0
fi
say "missing: ${missing[*]}"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		say "not root and no sudo: run as root, or install: ${missing[*]}"
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine often runs apt's daily jobs at boot; wait for their lock
# instead of failing.
APT_WAIT=(-o DPkg::Lock::Timeout=600)
log=$(mktemp /tmp/install-deps.XXXXXX.log)
trap 'rm -f "$log"' EXIT

run_logged() {
	if ! "$@" >"$log" 2>&1; then
		say "failed: $*"
		tail -n 20 "$log" | sed 's/^/  | /' >&2
		return 1
	fi
}

apt_update() {
	say "apt-get update"
	run_logged "${SUDO[@]}" apt-get update -qq "${APT_WAIT[@]}"
}

# A brand-new machine has empty package lists; an old one may have lists
# that no longer name a package.  Either way apt-cache cannot show it.
need_update=0
for p in "${missing[@]}"; do
	if ! apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
		need_update=1
		break
	fi
done
updated=0
if [ $need_update -eq 1 ]; then
	apt_update
	updated=1
fi

install() {
	say "apt-get install ${missing[*]}"
	run_logged "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Use-Pty=0 "${APT_WAIT[@]}" "${missing[@]}"
}

# Stale lists point at files the mirror has dropped (404): refresh once.
if ! install; then
	[ $updated -eq 1 ] && exit 1
	apt_update
	install
fi

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	say "still missing after install: ${still[*]}"
	exit 1
fi
say "done"
