#!/bin/bash
# Builds the libFuzzer harnesses and the generated seed corpora.
#
#   fuzz/build.sh [BUILD_DIR]
#
# BUILD_DIR defaults to ${FUZZ_BUILD:-/tmp/gilsnoop-fuzz}/build-KEY, KEY
# naming this checkout, so that checkouts sharing a machine (and their
# corpora, in ${FUZZ_BUILD:-/tmp/gilsnoop-fuzz}/corpus) never rebuild
# each other's harnesses under a running fuzzer; runs from one checkout
# take turns through a lock.
# The harnesses link the library sources themselves, compiled here with
# clang and -fsanitize=fuzzer-no-link,address,undefined (the normal build
# uses gcc and may have no sanitizers), so this needs no configured build
# tree and works next to an in-tree one.  Rebuilds only what changed.
# Results:
#   BUILD_DIR/bin/fuzz_*            the harnesses
#   BUILD_DIR/seeds/<harness>/      generated seeds (fuzz/run.sh adds the
#                                   committed ones from fuzz/seeds/)
# Environment: FUZZ_CC (default clang), FUZZ_SEED_CC (default gcc),
# FUZZ_JOBS (parallel compiles, default 2).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-${FUZZ_BUILD:-/tmp/gilsnoop-fuzz}/build-$(printf '%s' "$src" | cksum | cut -d' ' -f1)}
CC=${FUZZ_CC:-clang}
SEED_CC=${FUZZ_SEED_CC:-gcc}
JOBS=${FUZZ_JOBS:-2}

HARNESSES="fuzz_elf fuzz_dwarf fuzz_debug_offsets fuzz_remote fuzz_trace fuzz_procfs
	fuzz_pystack fuzz_linetable fuzz_stack fuzz_sampler"
# The library sources the harnesses reach (the linker takes what it
# needs from the archive).  Everything but the subcommands and the TUI.
# Paths below src/, without .c.
LIBSRC="core/errors core/clock core/json core/hist proc/mem proc/maps
	proc/elfobj proc/procfs proc/taskstat proc/switches proc/debugfile proc/readfile
	proc/sched
	layout/schema layout/dwarf layout/dwarf_objects layout/cache
	layout/debug_offsets layout/tables layout/resolve runtime/process
	runtime/version runtime/gil runtime/locate runtime/threads
	runtime/linetable runtime/pyobj runtime/pystack runtime/pynames
	stack/ehframe stack/symname stack/merge
	sample/classify sample/gilwords sample/identity sample/threadlist
	sample/reading sample/sampler sample/pace model/intervals model/holds
	model/culprit model/summary model/stacks model/flight model/timeline sink/trace_writer
	sink/trace_json sink/trace_csv sink/trace_records sink/flame sink/trace_reader
	sink/culprit_print sink/summary_print sink/svg_report"

say() { printf 'fuzz/build: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang libclang-rt-dev)"
command -v pkg-config >/dev/null || die "pkg-config not found"
ELF_CFLAGS=$(pkg-config --cflags libelf libdw) || die "libelf/libdw development files missing"
ELF_LIBS=$(pkg-config --libs libdw libelf)
# The trace reader parses with json-c (uninstrumented: the harness
# covers our code, not the library's).
JSONC_CFLAGS=$(pkg-config --cflags json-c) || die "json-c development files missing (apt-get install libjson-c-dev)"
ELF_CFLAGS="$ELF_CFLAGS $JSONC_CFLAGS"
ELF_LIBS="$ELF_LIBS $(pkg-config --libs json-c)"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN
	-Wall -Wextra -Wno-unused-parameter -Wno-unused-function
	-I$src/include -I$B/gen $ELF_CFLAGS"
CFLAGS=$(echo $CFLAGS)

mkdir -p "$B/gen" "$B/obj" "$B/bin" "$B/seeds"

# One build at a time per directory (two `make check` of one checkout).
if command -v flock >/dev/null; then
	exec 9>"$B/.lock"
	flock 9
fi

# A build dir reused for another checkout or other flags starts over.
stamp="$src|$CC|$CFLAGS"
if [ ! -f "$B/stamp" ] || [ "$(cat "$B/stamp")" != "$stamp" ]; then
	rm -rf "$B/obj" "$B/bin" "$B/gen" "$B/lib"
	mkdir -p "$B/gen" "$B/obj" "$B/bin"
	printf '%s' "$stamp" >"$B/stamp"
fi

# Generated headers: what configure and the Makefile would make.
version=$(sed -n 's/^AC_INIT(\[gilsnoop\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
printf '#define PACKAGE_VERSION "%s-fuzz"\n' "${version:-0}" >"$B/gen/config.h.new"
cmp -s "$B/gen/config.h.new" "$B/gen/config.h" 2>/dev/null ||
	mv "$B/gen/config.h.new" "$B/gen/config.h"
rm -f "$B/gen/config.h.new"
mkdir -p "$B/gen/proc"
if [ ! -s "$B/gen/proc/syscall_names.h" ] ||
   [ "$src/tools/gen-syscall-names.sh" -nt "$B/gen/proc/syscall_names.h" ]; then
	sh "$src/tools/gen-syscall-names.sh" "$CC -E" >"$B/gen/proc/syscall_names.h.tmp"
	mv "$B/gen/proc/syscall_names.h.tmp" "$B/gen/proc/syscall_names.h"
fi

# newest mtime among the headers: a changed header rebuilds everything.
newest_header=$(ls -t "$src"/include/*/*.h "$src"/fuzz/*.h "$B"/gen/*.h "$B"/gen/*/*.h | head -n 1)

stale() { # stale OUTPUT INPUT...
	local out=$1
	shift
	[ -f "$out" ] || return 0
	[ "$newest_header" -nt "$out" ] && return 0
	for i in "$@"; do
		[ "$i" -nt "$out" ] && return 0
	done
	return 1
}

# Library objects, with coverage instrumentation for the fuzzer.
todo=()
for s in $LIBSRC; do
	stale "$B/obj/${s//\//_}.o" "$src/src/$s.c" && todo+=("$s")
done
if [ ${#todo[@]} -gt 0 ]; then
	say "compiling ${#todo[@]} library sources with $CC"
	export CC CFLAGS B src
	printf '%s\n' "${todo[@]}" |
		xargs -P "$JOBS" -I{} sh -c \
			'o=$B/obj/$(echo {} | tr / _).o; $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src/src/{}.c" -o "$o.tmp" && mv "$o.tmp" "$o"' ||
		die "compiling the library failed"
	rm -f "$B/obj/libgs.a"
fi
if [ ! -f "$B/obj/libgs.a" ]; then
	objs=()
	for s in $LIBSRC; do objs+=("$B/obj/${s//\//_}.o"); done
	ar crs "$B/obj/libgs.a" "${objs[@]}"
fi

for h in $HARNESSES; do
	if stale "$B/bin/$h" "$src/fuzz/$h.c" "$B/obj/libgs.a"; then
		say "linking $h"
		$CC $CFLAGS -fsanitize=fuzzer "$src/fuzz/$h.c" "$B/obj/libgs.a" \
			$ELF_LIBS -o "$B/bin/$h.tmp" || die "building $h failed"
		mv "$B/bin/$h.tmp" "$B/bin/$h"
	fi
done

# ---- generated seeds ------------------------------------------------------

if stale "$B/bin/gen_seeds" "$src/fuzz/gen_seeds.c" "$B/obj/libgs.a"; then
	say "building gen_seeds"
	$CC $CFLAGS "$src/fuzz/gen_seeds.c" "$B/obj/libgs.a" $ELF_LIBS \
		-fsanitize=fuzzer-no-link -o "$B/bin/gen_seeds" ||
		die "building gen_seeds failed"
	rm -rf "$B/seeds/fuzz_remote" "$B/seeds/fuzz_sampler" "$B/seeds/fuzz_trace" \
		"$B/seeds/fuzz_debug_offsets" "$B/seeds/fuzz_pystack" "$B/seeds/fuzz_linetable"
	"$B/bin/gen_seeds" "$B/seeds" || die "gen_seeds failed"
fi

# ELF and DWARF seeds: fuzz/seed-src/pyobj.c, a stand-in libpython, built
# once per Python version and DWARF flavour.  The compilation unit is
# named Python/pystate.c (the one layout_dwarf.c searches first) or
# Modules/other.c (found only by the full scan).  fuzz_dwarf's inputs
# start with one byte that picks the Python minor version asked for.
pyobj=$src/fuzz/seed-src/pyobj.c
if stale "$B/seeds/.elf-done" "$pyobj" "$src/fuzz/build.sh"; then
	if ! command -v "$SEED_CC" >/dev/null; then
		say "$SEED_CC not found: no ELF/DWARF seeds generated"
	else
		say "building ELF/DWARF seeds with $SEED_CC"
		w=$B/seeds/work
		rm -rf "$w" "$B/seeds/fuzz_elf" "$B/seeds/fuzz_dwarf"
		mkdir -p "$w/Python" "$w/Modules" "$B/seeds/fuzz_elf" "$B/seeds/fuzz_dwarf"
		cp "$pyobj" "$w/Python/pystate.c"
		cp "$pyobj" "$w/Modules/other.c"
		LDF="-shared -nostdlib -fPIC -Wl,-z,noseparate-code -Wl,--build-id -Wl,--hash-style=gnu"
		# name minor compiler unit flags...
		variants=(
			"d5-6 6 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-7 7 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-8 8 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-9 9 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-10 10 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-11 11 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-12 12 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-13 13 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-14 14 $SEED_CC Python/pystate.c -gdwarf-5"
			"d5-15 15 $SEED_CC Python/pystate.c -gdwarf-5"
			"d4-13 13 $SEED_CC Modules/other.c -gdwarf-4"
			"d2-9 9 $SEED_CC Python/pystate.c -gdwarf-2 -gstrict-dwarf"
			"d2-13 13 $SEED_CC Python/pystate.c -gdwarf-2 -gstrict-dwarf"
			"types-12 12 $SEED_CC Python/pystate.c -gdwarf-4 -fdebug-types-section"
			"clang-11 11 clang Python/pystate.c -gdwarf-5"
			"clang-13 13 clang Modules/other.c -gdwarf-4"
		)
		for v in "${variants[@]}"; do
			read -r name minor cc unit flags <<<"$v"
			command -v "$cc" >/dev/null || continue
			out=$w/$name.so
			if ! (cd "$w" && $cc -DPYMINOR="$minor" $flags $LDF "$unit" -o "$out") \
				>"$w/$name.log" 2>&1; then
				say "seed $name did not build (skipped): $(head -n 1 "$w/$name.log")"
				continue
			fi
			cp "$out" "$B/seeds/fuzz_elf/$name.so"
			# Bit 7 of the first byte: pass a build-id, and check
			# the layout cache round trip (fuzz_dwarf.c).
			first=$((minor - 6))
			case $name in d5-*) first=$((first + 128)) ;; esac
			{ printf "\\x$(printf %02x $first)"; cat "$out"; } \
				>"$B/seeds/fuzz_dwarf/$name"
		done
		# Stripped objects, split debug files, a debuglink, an object
		# without section headers, a PIE with PT_INTERP.
		if command -v objcopy >/dev/null && [ -f "$w/d5-12.so" ]; then
			objcopy --only-keep-debug "$w/d5-12.so" "$w/d5-12.debug" &&
				cp "$w/d5-12.debug" "$B/seeds/fuzz_elf/split.debug" &&
				{ printf '\x06'; cat "$w/d5-12.debug"; } >"$B/seeds/fuzz_dwarf/split-12.debug"
			objcopy --strip-debug --add-gnu-debuglink="$w/d5-12.debug" \
				"$w/d5-12.so" "$w/stripped-12.so" &&
				cp "$w/stripped-12.so" "$B/seeds/fuzz_elf/stripped-debuglink.so" &&
				{ printf '\x06'; cat "$w/stripped-12.so"; } >"$B/seeds/fuzz_dwarf/stripped-12"
			objcopy --strip-all "$w/d5-7.so" "$B/seeds/fuzz_elf/strip-all-7.so" || true
		fi
		if [ -f "$w/d5-11.so" ]; then
			# e_shoff, e_shnum, e_shstrndx zeroed: only the program
			# headers are left to find build-id and strings.
			python3 - "$w/d5-11.so" "$B/seeds/fuzz_elf/no-shdrs.so" <<'PY' || true
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0x28:0x30] = bytes(8)
b[0x3c:0x40] = bytes(4)
open(sys.argv[2], "wb").write(b)
PY
		fi
		(cd "$w" && $SEED_CC -DPYMINOR=6 -g -nostdlib -pie -fPIE -Wl,-e,0 \
			-Wl,-z,noseparate-code Python/pystate.c -o pie-6) >/dev/null 2>&1 &&
			cp "$w/pie-6" "$B/seeds/fuzz_elf/pie-6"
		touch "$B/seeds/.elf-done"
	fi
fi
say "ok: $(for h in $HARNESSES; do printf '%s ' "$h"; done)in $B/bin"
