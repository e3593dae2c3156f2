#!/bin/sh
# Fetch Debian sid's python3.13, 3.14 and 3.15 (stripped distribution
# builds) onto a Debian 12 host without installing anything, so the
# integration tests can check gilsnoop on interpreters that carry no DWARF
# and must be read through _Py_DebugOffsets.
#
# Each version is unpacked with its own copy of sid's glibc and libraries
# into $GILSNOOP_SID_DIR/python3.X/root, and started through sid's dynamic
# loader by $GILSNOOP_SID_DIR/python3.X/run.  /proc/PID/exe of such a
# process is therefore the loader, not python.
#
# apt runs with a private sources list, state and cache under
# $GILSNOOP_SID_DIR/apt, so the host's apt configuration, package lists and
# dpkg database are never touched.  Safe to rerun: ready versions are
# only smoke-tested again.
#
# Environment:
#   GILSNOOP_SID_DIR       cache directory (default /var/cache/gilsnoop/sid)
#   GILSNOOP_SID_VERSIONS  minor versions to fetch (default "13 14 15")
#   GILSNOOP_SID_MIRROR    Debian mirror URL (default: the host's own)
#
# Exit status: 0 once the attempt ran (missing versions are reported and
# skipped), 1 when the attempt cannot even start (no apt, no mirror, the
# cache directory is not writable).

set -u

SID_DIR=${GILSNOOP_SID_DIR:-/var/cache/gilsnoop/sid}
VERSIONS=${GILSNOOP_SID_VERSIONS:-"13 14 15"}
APT_DIR=$SID_DIR/apt
DEB_DIR=$SID_DIR/debs
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Package lists younger than this are reused, so a rerun that has to fetch
# one more version does not refresh the whole index.
LISTS_MAX_AGE_MIN=720

say() { printf '%s\n' "setup-sid-pythons: $*"; }
die() { say "$*" >&2; exit 1; }

# The host's Debian mirror, from either source format.  The sid suite is
# served by the same host as bookworm, and a sandbox without internet
# can typically reach only that one.
host_mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk 'tolower($1) == "uris:" {
			for (i = 2; i <= NF; i++)
				if ($i ~ /\/debian\/?$/) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk '$1 == "deb" {
			for (i = 2; i <= NF; i++)
				if ($i ~ /^[a-z+]+:\/\/.*\/debian\/?$/) { print $i; exit }
		}' "$f"
	done
}

command -v apt-get >/dev/null 2>&1 || die "apt-get not found; this needs a Debian host"
command -v dpkg >/dev/null 2>&1 || die "dpkg not found; this needs a Debian host"

MIRROR=${GILSNOOP_SID_MIRROR:-$(host_mirror | head -n 1)}
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list*; set GILSNOOP_SID_MIRROR"
MIRROR=${MIRROR%/}

mkdir -p "$APT_DIR/etc" "$APT_DIR/state/lists/partial" \
	"$APT_DIR/cache/archives/partial" "$DEB_DIR" 2>/dev/null ||
	die "cannot create $SID_DIR"
[ -w "$SID_DIR" ] || die "$SID_DIR is not writable"

if [ -r "$KEYRING" ]; then
	SIGNED="[signed-by=$KEYRING] "
else
	SIGNED=""
fi
printf 'deb %s%s sid main\n' "$SIGNED" "$MIRROR" >"$APT_DIR/etc/sources.list.new"
if ! cmp -s "$APT_DIR/etc/sources.list.new" "$APT_DIR/etc/sources.list"; then
	mv "$APT_DIR/etc/sources.list.new" "$APT_DIR/etc/sources.list"
	rm -f "$APT_DIR/state/lists/"*_Packages* "$APT_DIR/state/lists/"*Release*
else
	rm -f "$APT_DIR/etc/sources.list.new"
fi
# An empty dpkg status: what the host has installed must not shape what
# apt thinks sid needs.
[ -e "$APT_DIR/state/status" ] || : >"$APT_DIR/state/status"

# Host settings in apt.conf.d (proxies, Check-Valid-Until) still apply;
# only sources, lists, status and caches are redirected.  The download
# sandbox user cannot write into a root-owned cache, hence the override.
set -- \
	-o "Dir::Etc::SourceList=$APT_DIR/etc/sources.list" \
	-o "Dir::Etc::SourceParts=/dev/null" \
	-o "Dir::Etc::Preferences=/dev/null" \
	-o "Dir::Etc::PreferencesParts=/dev/null" \
	-o "Dir::State=$APT_DIR/state" \
	-o "Dir::State::Lists=$APT_DIR/state/lists" \
	-o "Dir::State::status=$APT_DIR/state/status" \
	-o "Dir::Cache=$APT_DIR/cache" \
	-o "Dir::Cache::pkgcache=pkgcache.bin" \
	-o "Dir::Cache::srcpkgcache=srcpkgcache.bin" \
	-o "APT::Architecture=amd64" \
	-o "APT::Architectures::=amd64" \
	-o "APT::Get::List-Cleanup=1" \
	-o "Acquire::Languages=none"
if [ "$(id -u)" = 0 ]; then
	set -- "$@" -o "APT::Sandbox::User=root"
fi

papt_get() { apt-get -q "$@"; }
papt_cache() { apt-cache "$@"; }

run_ok() { # $1 = launcher
	"$1" -c 'import threading, ctypes, json; print(1)' 2>/dev/null | grep -qx 1
}

# Packages needed by python3.$1: the Python packages themselves and, by
# following Depends and Pre-Depends through library packages only, the
# shared libraries under them.  Walking only lib* keeps debconf, perl and
# the rest of an installed system out: the tests need an interpreter that
# runs, not one that is installed.
closure() { # $1 = minor, then the apt options
	todo="python3.$1 python3.$1-minimal libpython3.$1 libpython3.$1-minimal libpython3.$1-stdlib"
	shift
	seen=" "
	# One apt-cache call per level of the walk: each call parses the
	# whole sid index, which is what the time goes on.
	while [ -n "$todo" ]; do
		level=""
		for p in $todo; do
			case "$seen" in *" $p "*) continue ;; esac
			seen="$seen$p "
			level="$level $p"
		done
		[ -n "$level" ] || break
		next=""
		# shellcheck disable=SC2086 # one word per package
		deps=$(papt_cache "$@" depends --no-recommends --no-suggests \
			--no-conflicts --no-breaks --no-replaces --no-enhances $level 2>/dev/null |
			awk '$1 ~ /^\|?(Pre)?Depends:$/ && $2 !~ /^</ { print $2 }')
		for d in $deps; do
			case "$d" in
			lib*-dev | lib*-doc | libc-gconv-modules-extra) ;;
			lib* | zlib1g) next="$next $d" ;;
			esac
		done
		todo=$next
	done
	# shellcheck disable=SC2086 # one word per package
	printf '%s\n' $seen
}
lists_fresh() {
	[ -n "$(find "$APT_DIR/state/lists" -maxdepth 1 -name '*_Packages*' \
		-mmin -"$LISTS_MAX_AGE_MIN" 2>/dev/null | head -n 1)" ]
}

updated=0
update_lists() {
	[ "$updated" = 1 ] && return 0
	if lists_fresh; then
		updated=1
		return 0
	fi
	say "fetching sid package lists from $MIRROR"
	papt_get "$@" update >"$APT_DIR/update.log" 2>&1 || {
		say "apt-get update failed; see $APT_DIR/update.log"
		return 1
	}
	updated=1
}

# The loader as sid's libc6 ships it; the path moved with the /usr merge.
find_loader() {
	for l in usr/lib64/ld-linux-x86-64.so.2 lib64/ld-linux-x86-64.so.2 \
		usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
		lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
		if [ -e "$1/$l" ]; then
			printf '%s\n' "$l"
			return 0
		fi
	done
	return 1
}

# apt-get download names files NAME_VERSION_ARCH.deb with the epoch colon
# escaped.  Every package in the closure is amd64 or all.
deb_path() {
	for a in amd64 all; do
		f="$DEB_DIR/${1}_$(printf '%s' "$2" | sed 's/:/%3a/')_$a.deb"
		if [ -e "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
	done
	printf '%s\n' "$DEB_DIR/${1}_$2_missing.deb"
}

write_launcher() { # $1 = version dir, $2 = minor
	root=$1/root
	loader=$(find_loader "$root") || return 1
	libpath="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu:$root/usr/lib:$root/lib"
	# PYTHONHOME because the executable path python sees is not where the
	# kernel started it; --argv0 so sys.executable names the real binary.
	cat >"$1/run.new" <<EOF
#!/bin/sh
# Generated by gilsnoop's tests/setup-sid-pythons.sh: Debian sid's
# python3.$2 run through sid's own loader and libraries.
PYTHONHOME='$root/usr'
export PYTHONHOME
exec '$root/$loader' --library-path '$libpath' \\
	--argv0 '$root/usr/bin/python3.$2' '$root/usr/bin/python3.$2' "\$@"
EOF
	chmod 755 "$1/run.new" && mv "$1/run.new" "$1/run"
}

setup_one() { # $1 = minor, then the apt options
	x=$1
	shift
	vdir=$SID_DIR/python3.$x
	if [ -f "$vdir/ready" ] && [ -x "$vdir/run" ] && run_ok "$vdir/run"; then
		say "python3.$x: ready (cached, $(cat "$vdir/ready"))"
		return 0
	fi
	update_lists "$@" || return 1
	ver=$(papt_cache "$@" show --no-all-versions "python3.$x" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }')
	if [ -z "$ver" ]; then
		say "python3.$x: not available in sid at $MIRROR; skipped"
		return 1
	fi
	pkgs=$(closure "$x" "$@")
	# One "package version" line each, for the candidate versions.
	# shellcheck disable=SC2086 # one word per package
	papt_cache "$@" show --no-all-versions $pkgs 2>/dev/null |
		awk '$1 == "Package:" { p = $2 } $1 == "Version:" { print p, $2 }' \
		>"$vdir.pkgs"
	# Download only what the deb cache lacks, by exact version, so a
	# rerun after a partial failure costs nothing more.
	need=""
	while read -r p pv; do
		[ -e "$(deb_path "$p" "$pv")" ] || need="$need $p=$pv"
	done <"$vdir.pkgs"
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086 # one word per package
		if ! (cd "$DEB_DIR" && papt_get "$@" download $need) >"$vdir.log" 2>&1; then
			say "python3.$x: download failed; see $vdir.log"
			return 1
		fi
	fi
	rm -rf "$vdir/root" "$vdir/ready"
	mkdir -p "$vdir/root"
	while read -r p pv; do
		deb=$(deb_path "$p" "$pv")
		dpkg -x "$deb" "$vdir/root" || {
			say "python3.$x: dpkg -x $deb failed"
			return 1
		}
	done <"$vdir.pkgs"
	write_launcher "$vdir" "$x" || {
		say "python3.$x: no dynamic loader in sid's libc6"
		return 1
	}
	if ! run_ok "$vdir/run"; then
		say "python3.$x: unpacked but does not run; try $vdir/run -c 'import ctypes'"
		return 1
	fi
	printf '%s\n' "$ver" >"$vdir/ready"
	say "python3.$x: ready ($ver)"
}

ready=""
missing=""
for x in $VERSIONS; do
	if setup_one "$x" "$@"; then
		ready="$ready python3.$x"
	else
		missing="$missing python3.$x"
	fi
done
say "ready:${ready:- none}${missing:+; not ready:$missing} (in $SID_DIR)"
for x in $ready; do
	printf '  %s\n' "$SID_DIR/$x/run"
done
exit 0
