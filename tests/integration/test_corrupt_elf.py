"""Corrupted ELF files, met the way gilsnoop meets them in practice.

gilsnoop reads the object that holds the runtime by its path under
/proc/PID/root (locate.c), so what it parses is whatever the target's
filesystem holds at that path now, which need not be what the target
mapped: a container image updated underneath a running process, a package
upgrade half-way, a disk error.  These tests recreate that exactly and
without touching the real files: the target runs in a mount namespace of
its own (unshare -m), and once it is ready a corrupted copy of its
libpython (or python executable) is bind-mounted over the original path
inside that namespace only.  /proc/PID/maps still names the original path,
the mapping still holds the intact bytes, and gilsnoop opens the
corrupted file.

For every corruption `gilsnoop info` must either work and be right (a
fallback: map_files, _Py_DebugOffsets, the generated tables) or fail
with one clean line on stderr and a documented exit code; never crash,
hang or trip a sanitizer (ctx.run checks those three).

The corrupted copies are made at test time from the interpreters' own
files (nothing big is committed): truncations, section and program
headers pointing outside the file or holding garbage, broken symbol and
string tables, a wrong machine or class, DWARF zeroed or cut, a bad
build-id note, a zeroed .rodata.
"""
import os
import random
import shutil
import struct
import subprocess

from common import Skip, start_target, timeout

# gilsnoop's documented exit codes (include/gilsnoop.h) that a damaged
# object may lead to: runtime failure, not Python, unsupported.
CLEAN_FAILURES = {1: "GS_EFAIL", 5: "GS_ENOTPY", 6: "GS_EUNSUPPORTED"}

SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11


# ---------------------------------------------------------------- ELF

class Elf:
    """Just enough of an ELF64 little-endian file to aim the damage."""

    def __init__(self, data):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise Skip("not an ELF64 little-endian file")
        self.data = data
        (self.phoff, self.shoff) = struct.unpack_from("<QQ", data, 0x20)
        (self.phentsize, self.phnum, self.shentsize, self.shnum,
         self.shstrndx) = struct.unpack_from("<HHHHH", data, 0x36)
        self.sections = []
        for i in range(self.shnum):
            off = self.shoff + i * self.shentsize
            (name, type_, flags, addr, offset, size, link, info, align,
             entsize) = struct.unpack_from("<IIQQQQIIQQ", data, off)
            self.sections.append(dict(index=i, name_off=name, type=type_,
                                      offset=offset, size=size, link=link,
                                      hdr=off))
        strtab = self.sections[self.shstrndx]
        for s in self.sections:
            start = strtab["offset"] + s["name_off"]
            end = data.index(b"\0", start)
            s["name"] = data[start:end].decode("ascii", "replace")

    def section(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def of_type(self, type_):
        return [s for s in self.sections if s["type"] == type_]


def _put(b, off, fmt, value):
    struct.pack_into(fmt, b, off, value)


def _garbage(b, start, length, seed):
    rnd = random.Random(seed)
    end = min(len(b), start + length)
    b[start:end] = bytes(rnd.getrandbits(8) for _ in range(end - start))


def corruptions(data):
    """[(name, function(bytearray) -> bytearray)] for one object; only the
    ones that apply (a stripped file has no DWARF to damage)."""
    elf = Elf(data)
    n = len(data)
    out = []

    def add(name, fn):
        out.append((name, fn))

    # Cut short, as a failed copy or a full disk leaves it.
    add("truncated to the ELF header (64 bytes)", lambda b: b[:64])
    add("truncated to 4 KiB", lambda b: b[:4096])
    add("truncated to half", lambda b: b[:n // 2])
    add("truncated before the section headers", lambda b: b[:elf.shoff])
    add("truncated by one byte", lambda b: b[:n - 1])

    # The ELF header.
    def shoff_past_eof(b):
        _put(b, 0x28, "<Q", n * 4)
        return b
    add("e_shoff past the end of the file", shoff_past_eof)

    def shnum_huge(b):
        _put(b, 0x3c, "<H", 0xffff)
        return b
    add("e_shnum 65535", shnum_huge)

    def shstrndx_bad(b):
        _put(b, 0x3e, "<H", 0xfff0)
        return b
    add("e_shstrndx out of range", shstrndx_bad)

    def phoff_past_eof(b):
        _put(b, 0x20, "<Q", n + 8)
        return b
    add("e_phoff past the end of the file", phoff_past_eof)

    def phdrs_garbage(b):
        _garbage(b, elf.phoff, elf.phnum * elf.phentsize, 1)
        return b
    add("garbage program headers", phdrs_garbage)

    def shdrs_garbage(b):
        _garbage(b, elf.shoff, elf.shnum * elf.shentsize, 2)
        return b
    add("garbage section headers", shdrs_garbage)

    def wrong_machine(b):
        _put(b, 0x12, "<H", 183)  # EM_AARCH64
        return b
    add("e_machine aarch64", wrong_machine)

    def wrong_class(b):
        b[4] = 1  # ELFCLASS32
        return b
    add("EI_CLASS 32-bit", wrong_class)

    # Symbols and strings.
    for sym in elf.of_type(SHT_DYNSYM) + elf.of_type(SHT_SYMTAB):
        def link_bad(b, sym=sym):
            _put(b, sym["hdr"] + 40, "<I", 0xfff0)
            return b
        add("%s sh_link out of range" % sym["name"], link_bad)

        def size_huge(b, sym=sym):
            _put(b, sym["hdr"] + 32, "<Q", 1 << 40)
            return b
        add("%s sh_size 1 TiB" % sym["name"], size_huge)

        strtab = elf.sections[sym["link"]] if sym["link"] < elf.shnum else None
        if strtab is not None:
            def strings_zeroed(b, s=strtab):
                b[s["offset"]:s["offset"] + s["size"]] = bytes(s["size"])
                return b
            add("%s zeroed" % strtab["name"], strings_zeroed)

            def names_out_of_range(b, sym=sym):
                for o in range(sym["offset"], sym["offset"] + sym["size"], 24):
                    _put(b, o, "<I", 0xfffffff0)
                return b
            add("every %s name out of range" % sym["name"], names_out_of_range)

    def no_symbols(b):
        for sym in elf.of_type(SHT_DYNSYM) + elf.of_type(SHT_SYMTAB):
            _put(b, sym["hdr"] + 40, "<I", 0xfff0)
        return b
    add("no usable symbol table", no_symbols)

    # Notes and read-only data.
    for note in elf.of_type(SHT_NOTE):
        if note["size"] >= 12:
            def note_huge(b, note=note):
                _put(b, note["offset"] + 4, "<I", 0x7ffffff0)  # n_descsz
                return b
            add("%s descsz huge" % note["name"], note_huge)
    rodata = elf.section(".rodata")
    if rodata:
        def rodata_zeroed(b):
            b[rodata["offset"]:rodata["offset"] + rodata["size"]] = bytes(rodata["size"])
            return b
        add(".rodata zeroed", rodata_zeroed)
    pyrt = elf.section(".PyRuntime")
    if pyrt:
        def pyrt_gone(b):
            # Renamed: the section that 3.12+ finds _PyRuntime by.
            name = pyrt["hdr"]
            _put(b, name, "<I", elf.sections[elf.shstrndx]["size"] + 100)
            return b
        add(".PyRuntime section name out of range", pyrt_gone)

    # DWARF.
    debug = [s for s in elf.sections if s["name"].startswith(".debug_")]
    if debug:
        def dwarf_zeroed(b):
            for s in debug:
                b[s["offset"]:s["offset"] + s["size"]] = bytes(s["size"])
            return b
        add("every .debug_* section zeroed", dwarf_zeroed)
        for name in (".debug_info", ".debug_abbrev", ".debug_str"):
            s = elf.section(name)
            if not s:
                continue

            def cut(b, s=s):
                _put(b, s["hdr"] + 32, "<Q", s["size"] * 64 + (1 << 32))
                return b
            add("%s sh_size past the end" % name, cut)

            def scrambled(b, s=s):
                _garbage(b, s["offset"], min(s["size"], 1 << 16), 3)
                return b
            add("%s first 64 KiB garbage" % name, scrambled)
    return out


# ------------------------------------------------------------ harness

class _InNamespace:
    """An Interpreter whose argv starts it in a mount namespace of its
    own; everything else is the interpreter's.  unshare execs, so the
    pid start_target checks is python's."""

    def __init__(self, py):
        self._py = py
        self.argv = ["unshare", "--mount", "--propagation", "private", "--"] + list(py.argv)

    def __getattr__(self, name):
        return getattr(self._py, name)


def _need_namespaces():
    if os.geteuid() != 0:
        raise Skip("needs root to bind-mount inside the target's mount namespace")
    for tool in ("unshare", "nsenter", "mount", "umount"):
        if not shutil.which(tool):
            raise Skip("%s not found (util-linux, mount)" % tool)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise Skip("cannot create a mount namespace: %s" % r.stdout.decode(
            errors="replace").strip())


def _ns(pid, *cmd):
    r = subprocess.run(["nsenter", "-t", str(pid), "-m", "--"] + list(cmd),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise AssertionError("%s in the target's namespace failed: %s" % (
            " ".join(cmd), r.stdout.decode(errors="replace").strip()))


def _check_info(ctx, t, what, rc, out, err, outcomes):
    """A correct answer, or one clean line and a documented exit code."""
    if rc == 0:
        for name in ("main", "cpu-1", "sleep-1"):
            tid = t.tids[name]
            assert str(tid) in out, (
                "%s: gilsnoop info succeeded but its thread table lacks %s "
                "(tid %d): a wrong answer, not a fallback:\n%s" % (
                    what, name, tid, out))
        assert "Holder:" in out, "%s: no Holder line:\n%s" % (what, out)
        outcomes.append("%s: ok (fallback)" % what)
        return
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc in CLEAN_FAILURES, (
        "%s: exit %d is not one of %s; stderr: %s" % (
            what, rc, sorted(CLEAN_FAILURES), err.strip()))
    assert len(lines) == 1 and lines[0].startswith("gilsnoop: "), (
        "%s: wanted one 'gilsnoop: ...' line on stderr, got %d:\n%s" % (
            what, len(lines), err))
    assert not out.strip(), "%s: failed (exit %d) but printed:\n%s" % (what, rc, out)
    outcomes.append("%s: exit %d (%s) %s" % (what, rc, CLEAN_FAILURES[rc], lines[0]))


def _run_corruptions(ctx, py):
    _need_namespaces()
    obj = os.path.realpath(py.runtime_object)
    with open(obj, "rb") as f:
        data = f.read()
    cases = corruptions(data)
    outcomes = []
    bad = os.path.join(ctx.tmpdir, "object")
    cache = os.path.join(ctx.tmpdir, "cache")
    with start_target(_InNamespace(py), "threads.py",
                      ["--cpu", 1, "--sleep", 1, "--lifetime", 600]) as t:
        def info(what):
            # A fresh cache each time: a layout cached from the intact
            # file (by build-id) must not hide the parse of the damaged
            # one.
            shutil.rmtree(cache, ignore_errors=True)
            rc, out, err = ctx.run(["info", "-p", t.pid], timeout=120,
                                   env={"GILSNOOP_CACHE_DIR": cache})
            _check_info(ctx, t, what, rc, out, err, outcomes)
            return rc

        assert info("intact") == 0, "gilsnoop info fails on the intact %s" % obj
        for what, damage in cases:
            with open(bad, "wb") as f:
                f.write(damage(bytearray(data)))
            _ns(t.pid, "mount", "--bind", bad, obj)
            try:
                rc = info(what)
            finally:
                _ns(t.pid, "umount", obj)
            if what == cases[0][0]:
                # Nothing can be found in 64 bytes: success would mean
                # gilsnoop did not read the damaged file at all.
                assert rc != 0, (
                    "gilsnoop succeeded on %s %s: the bind mount in the "
                    "target's namespace did not take effect" % (obj, what))
        assert t.alive(), "the target died during the test"
        # Back to the intact file: nothing was left mounted.
        info("intact again")
    ctx.note("outcomes for %s (%s)" % (py.id, obj), "\n".join(outcomes))
    return outcomes


def _pick(ctx, pred, what):
    for py in sorted(ctx.interpreters, key=lambda p: p.version, reverse=True):
        if pred(py):
            return py
    raise Skip("no %s interpreter here" % what)


@timeout(900)
def global_corrupt_libpython_newest_pyenv(ctx):
    """The newest pyenv build (shared libpython, DWARF; 3.13 also has
    _Py_DebugOffsets to fall back on)."""
    py = _pick(ctx, lambda p: p.kind == "pyenv" and p.runtime_object != p.binary,
               "pyenv with a shared libpython")
    _run_corruptions(ctx, py)


@timeout(900)
def global_corrupt_libpython_pyenv_3_9(ctx):
    """A 3.7-3.11 layout (GIL embedded in _PyRuntime), with DWARF."""
    py = _pick(ctx, lambda p: p.kind == "pyenv" and (3, 7) <= p.version[:2] <= (3, 11)
               and p.runtime_object != p.binary, "pyenv 3.7-3.11")
    _run_corruptions(ctx, py)


@timeout(900)
def global_corrupt_libpython_pyenv_3_6(ctx):
    """3.6: the GIL is found through .symtab statics only."""
    py = _pick(ctx, lambda p: p.kind == "pyenv" and p.version[:2] == (3, 6),
               "pyenv 3.6")
    _run_corruptions(ctx, py)


@timeout(900)
def global_corrupt_debian_python3_11(ctx):
    """/usr/bin/python3.11: the executable holds the runtime, stripped,
    no DWARF (layout from the generated tables)."""
    py = _pick(ctx, lambda p: p.kind == "debian", "Debian /usr/bin/python3.X")
    _run_corruptions(ctx, py)


@timeout(900)
def global_corrupt_sid_stripped_debug_offsets(ctx):
    """A stripped 3.13+ build: the layout comes from _Py_DebugOffsets in
    memory, the object only gives symbols and version."""
    py = _pick(ctx, lambda p: p.kind == "sid", "sid 3.13+")
    _run_corruptions(ctx, py)


@timeout(300)
def global_corrupt_libpython_replaced_by_rename(ctx):
    """The usual upgrade: a new file renamed over the mapped one.  The
    mapping now shows " (deleted)", and gilsnoop must read the bytes the
    target really mapped (/proc/PID/map_files), not the corrupt file now
    at the path."""
    py = _pick(ctx, lambda p: p.kind == "pyenv" and p.runtime_object != p.binary,
               "pyenv with a shared libpython")
    obj = os.path.realpath(py.runtime_object)
    libdir = os.path.join(ctx.tmpdir, "lib")
    os.mkdir(libdir)
    copy = os.path.join(libdir, os.path.basename(obj))
    shutil.copyfile(obj, copy)
    # The library is found by the name the executable asks for.
    for link in os.listdir(os.path.dirname(obj)):
        p = os.path.join(os.path.dirname(obj), link)
        if os.path.islink(p) and os.path.realpath(p) == obj:
            os.symlink(os.path.basename(obj), os.path.join(libdir, link))
    with open(obj, "rb") as f:
        data = f.read()
    with start_target(py, "threads.py", ["--cpu", 1, "--sleep", 1, "--lifetime", 300],
                      env={"LD_LIBRARY_PATH": libdir}) as t:
        with open("/proc/%d/maps" % t.pid) as f:
            maps = f.read()
        if copy not in maps:
            raise Skip("%s did not load the copy through LD_LIBRARY_PATH "
                       "(DT_RPATH?)" % py.id)
        outcomes = []
        for i, (what, damage) in enumerate(corruptions(data)[:6]):
            tmp = copy + ".new%d" % i
            with open(tmp, "wb") as f:
                f.write(damage(bytearray(data)))
            os.rename(tmp, copy)
            cache = os.path.join(ctx.tmpdir, "cache%d" % i)
            rc, out, err = ctx.run(["info", "-p", t.pid], timeout=120,
                                   env={"GILSNOOP_CACHE_DIR": cache})
            assert rc == 0, (
                "%s renamed over the mapped %s: gilsnoop should read the "
                "mapping through /proc/PID/map_files, got exit %d: %s" % (
                    what, copy, rc, err.strip()))
            _check_info(ctx, t, what, rc, out, err, outcomes)
        ctx.note("outcomes", "\n".join(outcomes))
