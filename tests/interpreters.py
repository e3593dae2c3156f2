"""The Python interpreters the integration tests run against.

Three kinds are looked for:

  pyenv   /root/.pyenv/versions/3.X.Y/bin/python3.X ($PYENV_ROOT honoured);
          built from source with DWARF in libpython.
  debian  /usr/bin/python3.X, the system interpreters (stripped).
  sid     Debian sid builds unpacked by tests/setup-sid-pythons.sh under
          ${GILSNOOP_SID_DIR:-/var/cache/gilsnoop/sid}/python3.X/ and started
          through the launcher python3.X/run, which execs sid's own dynamic
          loader (so /proc/PID/exe of a target is that loader, not python).

EXPECTED is the matrix the project promises to test.  An expected
interpreter that is not on this machine is still returned, as a Missing
entry carrying the reason, so that it shows up as a skipped column and is
never silently dropped.  Interpreters found beyond EXPECTED are tested too.

GILSNOOP_PYTHONS=id1,id2 restricts the run to those ids.
"""
import glob
import json
import os
import re
import struct
import subprocess

EXPECTED = [
    "pyenv-3.6", "pyenv-3.7", "pyenv-3.8", "pyenv-3.9", "pyenv-3.10",
    "pyenv-3.11", "pyenv-3.12", "pyenv-3.13",
    "debian-3.11",
    "sid-3.13", "sid-3.14", "sid-3.15",
]


def pyenv_root():
    return os.environ.get("PYENV_ROOT") or "/root/.pyenv"


def sid_dir():
    return os.environ.get("GILSNOOP_SID_DIR") or "/var/cache/gilsnoop/sid"


class Skip(Exception):
    """Raised by a test (or a require() helper) to skip itself."""


def _minor_key(id_):
    kind, _, ver = id_.partition("-")
    nums = tuple(int(x) for x in re.findall(r"\d+", ver))
    order = {"pyenv": 0, "debian": 1, "sid": 2}.get(kind, 3)
    return (order, nums, ver)


# ---------------------------------------------------------------- ELF bits
# Just enough ELF reading to answer "is there DWARF for this object?"
# without depending on binutils being installed.

def _elf_sections(path):
    """{name: (offset, size)} of an ELF64 little-endian file, or None."""
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2:
                return None
            shoff, = struct.unpack_from("<Q", ident, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ident, 0x3A)
            if shoff == 0 or shnum == 0 or shentsize < 64:
                return {}
            f.seek(shoff)
            raw = f.read(shentsize * shnum)
            hdrs = []
            for i in range(shnum):
                name, _type, _flags, _addr, off, size = struct.unpack_from(
                    "<IIQQQQ", raw, i * shentsize)
                hdrs.append((name, off, size))
            stroff, strsize = hdrs[shstrndx][1], hdrs[shstrndx][2]
            f.seek(stroff)
            strtab = f.read(strsize)
            out = {}
            for name, off, size in hdrs:
                end = strtab.find(b"\0", name)
                out[strtab[name:end].decode("latin-1")] = (off, size)
            return out
    except (OSError, struct.error, IndexError):
        return None


def _build_id(path, sections):
    sec = sections.get(".note.gnu.build-id")
    if not sec:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(sec[0])
            note = f.read(sec[1])
        namesz, descsz, _type = struct.unpack_from("<III", note, 0)
        desc = 12 + ((namesz + 3) & ~3)
        return note[desc:desc + descsz].hex()
    except (OSError, struct.error):
        return None


def dwarf_for(path, root="/"):
    """Where the DWARF of the ELF object at path lives, or None.

    Either the object itself (.debug_info present) or a split debug file
    under ROOT/usr/lib/debug/.build-id/ (what Debian's -dbg/-dbgsym
    packages install)."""
    secs = _elf_sections(path)
    if secs is None:
        return None
    if ".debug_info" in secs:
        return path
    bid = _build_id(path, secs)
    if bid and len(bid) > 2:
        dbg = os.path.join(root, "usr/lib/debug/.build-id",
                           bid[:2], bid[2:] + ".debug")
        if os.path.exists(dbg):
            return dbg
    link = _debuglink(path, secs)
    if link:
        # gdb's search order for .gnu_debuglink, relative to the object's
        # directory as seen inside root.
        d = os.path.dirname(os.path.relpath(path, root))
        for cand in (os.path.join(root, d, link),
                     os.path.join(root, d, ".debug", link),
                     os.path.join(root, "usr/lib/debug", d, link)):
            if os.path.exists(cand) and os.path.realpath(cand) != os.path.realpath(path):
                return cand
    return None


def _debuglink(path, sections):
    sec = sections.get(".gnu_debuglink")
    if not sec:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(sec[0])
            data = f.read(sec[1])
        return data.split(b"\0", 1)[0].decode("latin-1") or None
    except OSError:
        return None


# ------------------------------------------------------------ interpreters

class Interpreter:
    """One interpreter to run targets with.

    id        "pyenv-3.9", "debian-3.11", "sid-3.14"
    kind      "pyenv" | "debian" | "sid"
    version   (3, 9, 18)
    argv      prefix that runs it: argv + ["script.py", ...]
    binary    the python ELF executable itself
    runtime_object  the ELF object holding _PyRuntime (libpython if shared)
    dwarf     path of the file with its DWARF, or None
    root      filesystem root its files live under ("/" except for sid)
    """

    def __init__(self, id_, kind, argv, binary, root="/"):
        self.id = id_
        self.kind = kind
        self.argv = list(argv)
        self.binary = binary
        self.root = root
        self.version = None
        self.runtime_object = binary
        self.dwarf = None

    @property
    def has_dwarf(self):
        return self.dwarf is not None

    @property
    def minor(self):
        return self.version[1]

    def __repr__(self):
        return "<Interpreter %s %s %s>" % (
            self.id, ".".join(map(str, self.version or ())), self.argv)

    # Helpers for tests: each raises Skip with a reason when unmet.
    def require(self, dwarf=None, min_version=None, max_version=None,
                kind=None):
        if dwarf is True and not self.has_dwarf:
            raise Skip("%s has no DWARF" % self.id)
        if dwarf is False and self.has_dwarf:
            raise Skip("%s has DWARF; test needs a build without" % self.id)
        if min_version is not None and self.version < tuple(min_version):
            raise Skip("%s is older than %s" % (
                self.id, ".".join(map(str, min_version))))
        if max_version is not None and self.version[:len(max_version)] > tuple(max_version):
            raise Skip("%s is newer than %s" % (
                self.id, ".".join(map(str, max_version))))
        if kind is not None:
            kinds = (kind,) if isinstance(kind, str) else tuple(kind)
            if self.kind not in kinds:
                raise Skip("%s is not a %s interpreter" % (
                    self.id, "/".join(kinds)))


class Missing:
    """An expected interpreter that cannot be used here, and why."""

    def __init__(self, id_, reason):
        self.id = id_
        self.reason = reason

    def __repr__(self):
        return "<Missing %s: %s>" % (self.id, self.reason)


def _cache_file():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    # Not in gilsnoop's own cache directory, which holds layouts only.
    return os.path.join(base, "gilsnoop-tests", "interpreters.json")


def _load_cache():
    try:
        with open(_cache_file()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _save_cache(cache):
    path = _cache_file()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".%d" % os.getpid()
        with open(tmp, "w") as f:
            json.dump(cache, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache we cannot write only costs a few process starts


def _stamp(path):
    st = os.stat(path)
    return "%s:%d:%d" % (os.path.realpath(path), st.st_mtime_ns, st.st_size)


def probe_version(interp, cache):
    """Run the interpreter once for its version; returns (version, error)."""
    key = interp.id + "|" + " ".join(interp.argv)
    try:
        stamp = _stamp(interp.binary)
    except OSError as e:
        return None, "cannot stat %s: %s" % (interp.binary, e.strerror)
    hit = cache.get(key)
    if hit and hit.get("stamp") == stamp:
        return tuple(hit["version"]), None
    try:
        p = subprocess.run(
            interp.argv + ["-c", "import sys;print(list(sys.version_info[:3]))"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
            env=clean_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "failed to run %s: %s" % (" ".join(interp.argv), e)
    if p.returncode != 0:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return None, "%s exited %d: %s" % (
            " ".join(interp.argv), p.returncode, " ".join(tail))
    try:
        version = tuple(json.loads(p.stdout.decode()))
    except ValueError:
        return None, "unexpected version output %r" % p.stdout[:80]
    cache[key] = {"stamp": stamp, "version": list(version)}
    return version, None


def clean_env(extra=None):
    """Environment for a target: nothing that points one interpreter at
    another's library (PYTHONPATH/PYTHONHOME from the caller) and no .pyc
    litter in the checkout."""
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"):
        env.pop(k, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def _find_pyenv():
    """{id: Interpreter}, plus {id: reason} for pyenv dirs unusable."""
    found, bad = {}, {}
    root = os.path.join(pyenv_root(), "versions")
    best = {}
    for vdir in sorted(glob.glob(os.path.join(root, "*"))):
        name = os.path.basename(vdir)
        m = re.match(r"^3\.(\d+)\.(\d+)(t?)$", name)
        if not m:
            continue  # 2.7, pypy, virtualenvs, "system"...
        minor, patch, ft = int(m.group(1)), int(m.group(2)), m.group(3)
        id_ = "pyenv-3.%d%s" % (minor, ft)
        exe = os.path.join(vdir, "bin", "python3.%d%s" % (minor, ft))
        if not os.access(exe, os.X_OK):
            bad[id_] = "no executable %s" % exe
            continue
        # Two patch releases of one minor: test the newest.
        if id_ in best and best[id_] > patch:
            continue
        best[id_] = patch
        bad.pop(id_, None)
        interp = Interpreter(id_, "pyenv", [exe], exe)
        libs = sorted(glob.glob(os.path.join(
            vdir, "lib", "libpython3.%d%s*.so*" % (minor, ft))))
        if libs:
            interp.runtime_object = os.path.realpath(libs[0])
        found[id_] = interp
    return found, bad


def _find_debian():
    found = {}
    for exe in sorted(glob.glob("/usr/bin/python3.*")):
        m = re.match(r"^python3\.(\d+)$", os.path.basename(exe))
        if not m or not os.access(exe, os.X_OK):
            continue
        id_ = "debian-3.%s" % m.group(1)
        found[id_] = Interpreter(id_, "debian", [exe], os.path.realpath(exe))
    return found


def _find_sid():
    found, bad = {}, {}
    base = sid_dir()
    for d in sorted(glob.glob(os.path.join(base, "python3.*"))):
        m = re.match(r"^python3\.(\d+)$", os.path.basename(d))
        if not m:
            continue
        minor = m.group(1)
        id_ = "sid-3.%s" % minor
        run = os.path.join(d, "run")
        if not os.access(run, os.X_OK):
            bad[id_] = "no launcher %s" % run
            continue
        try:
            with open(run) as f:
                text = f.read()
        except OSError as e:
            bad[id_] = "cannot read %s: %s" % (run, e.strerror)
            continue
        # The launcher names the real binary as ROOT/usr/bin/python3.X.
        m2 = re.search(r"(\S*)/usr/bin/python3\.%s\b" % minor, text)
        if not m2:
            bad[id_] = "launcher %s names no .../usr/bin/python3.%s" % (run, minor)
            continue
        root = m2.group(1).strip("'\"") or "/"
        binary = os.path.join(root, "usr/bin/python3.%s" % minor)
        if not os.path.exists(binary):
            bad[id_] = "launcher %s points at missing %s" % (run, binary)
            continue
        interp = Interpreter(id_, "sid", [run], binary, root=root)
        libs = sorted(glob.glob(os.path.join(
            root, "usr/lib/x86_64-linux-gnu/libpython3.%s.so*" % minor)))
        # sid's python3.X is linked statically against libpython; a shared
        # libpython in the tree is only used if the binary needs it.
        if libs and _needs(binary, "libpython3.%s" % minor):
            interp.runtime_object = os.path.realpath(libs[0])
        found[id_] = interp
    return found, bad


def _needs(binary, libname):
    try:
        with open(binary, "rb") as f:
            return libname.encode() in f.read(1 << 16)
    except OSError:
        return False


def _missing_reason(id_, bad):
    if id_ in bad:
        return "not installed: " + bad[id_]
    kind, _, ver = id_.partition("-")
    if kind == "pyenv":
        return "not installed: no %s/versions/%s.*/bin/python%s" % (
            pyenv_root(), ver, ver)
    if kind == "debian":
        return "not installed: no /usr/bin/python%s" % ver
    if kind == "sid":
        return ("not installed: no %s/python%s/run "
                "(run: bash tests/setup-sid-pythons.sh)" % (sid_dir(), ver))
    return "unknown interpreter id"


def discover(selection=None):
    """All interpreters, in matrix order.

    Returns (interpreters, missing, unselected): usable Interpreter objects
    (expected ones first, then extras), Missing entries for columns that
    cannot run, and ids left out by the selection.
    selection defaults to $GILSNOOP_PYTHONS (comma list of ids)."""
    if selection is None:
        env = os.environ.get("GILSNOOP_PYTHONS", "").strip()
        selection = [s.strip() for s in env.split(",") if s.strip()] or None

    found, bad = {}, {}
    f, b = _find_pyenv()
    found.update(f)
    bad.update(b)
    found.update(_find_debian())
    f, b = _find_sid()
    found.update(f)
    bad.update(b)

    cache = _load_cache()
    before = json.dumps(cache, sort_keys=True)
    for id_ in list(found):
        interp = found[id_]
        version, err = probe_version(interp, cache)
        if err:
            del found[id_]
            bad[id_] = err
            continue
        interp.version = version
        interp.dwarf = dwarf_for(interp.runtime_object, interp.root)
    if json.dumps(cache, sort_keys=True) != before:
        _save_cache(cache)

    all_ids = list(EXPECTED) + sorted(
        (i for i in set(found) | set(bad) if i not in EXPECTED), key=_minor_key)
    if selection is not None:
        unselected = [i for i in all_ids if i not in selection]
        ids = list(selection)
    else:
        unselected = []
        ids = all_ids

    interps, missing = [], []
    for id_ in ids:
        if id_ in found:
            interps.append(found[id_])
        elif id_ in bad or id_ in EXPECTED:
            missing.append(Missing(id_, _missing_reason(id_, bad)))
        else:
            missing.append(Missing(id_, "unknown id in GILSNOOP_PYTHONS "
                                   "(known: %s)" % ", ".join(all_ids)))
    return interps, missing, unselected


if __name__ == "__main__":
    interps, missing, unselected = discover()
    for i in interps:
        print("%-12s %-9s dwarf=%-3s %s" % (
            i.id, ".".join(map(str, i.version)), "yes" if i.has_dwarf else "no",
            " ".join(i.argv)))
    for m in missing:
        print("%-12s skipped (%s)" % (m.id, m.reason))
    if unselected:
        print("not selected by GILSNOOP_PYTHONS: %s" % ", ".join(unselected))
