"""The libFuzzer harnesses of fuzz/ (fuzz/README.md), one test each.

Each test runs `fuzz/run.sh SECONDS NAME`: builds the harnesses with
clang and ASan+UBSan if needed, then fuzzes for SECONDS from the seed
corpora.  It fails on any crash, leak, hang (an input taking over 5 s),
out-of-memory or sanitizer report, naming the reproducer.

  GILSNOOP_FUZZ_SECONDS  time per harness (default 60 when CI=true, else 10)
  GILSNOOP_SKIP_FUZZ=1   skip them (.ci/run sets it for its second leg,
                         so that the harnesses run once per CI run)
  FUZZ_BUILD             where to build and keep the corpora (default
                         /tmp/gilsnoop-fuzz; see fuzz/run.sh)
"""
import os
import re
import shutil
import subprocess

import common
from common import Skip, timeout

SRC = os.path.dirname(common.TESTS_DIR)
RUN = os.path.join(SRC, "fuzz", "run.sh")


def _seconds():
    v = os.environ.get("GILSNOOP_FUZZ_SECONDS")
    if v:
        return max(1, int(v))
    return 60 if os.environ.get("CI") == "true" else 10


SECONDS = _seconds()
# Room for building the harnesses (the first test) on a busy machine.
LIMIT = SECONDS + 900


def _fuzz(ctx, name):
    if os.environ.get("GILSNOOP_SKIP_FUZZ") == "1":
        raise Skip("GILSNOOP_SKIP_FUZZ=1 (the harnesses run once, in "
                   "another leg)")
    if not os.path.exists(RUN):
        raise Skip("no fuzz/run.sh in %s" % SRC)
    if not shutil.which(os.environ.get("FUZZ_CC", "clang")):
        msg = "clang not found (apt-get install clang libclang-rt-dev)"
        if os.environ.get("CI") == "true":
            raise AssertionError(msg)
        raise Skip(msg)
    cmd = ["bash", RUN, str(SECONDS), name]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=common._set_pdeathsig)
    ctx._procs.append(proc)  # killed with its group if the test times out
    try:
        out, _ = proc.communicate(timeout=LIMIT - 30)
    except subprocess.TimeoutExpired:
        common._kill_group(proc)
        out, _ = proc.communicate()
        ctx.note("$ " + " ".join(cmd), common.tail(out.decode(errors="replace"), 40))
        raise AssertionError("fuzz/run.sh %s did not finish within %ss" % (
            name, LIMIT - 30)) from None
    finally:
        if proc.poll() is not None and proc in ctx._procs:
            ctx._procs.remove(proc)
    text = out.decode(errors="replace")
    ctx.note("$ " + " ".join(cmd) + " [rc %d]" % proc.returncode,
             common.tail(text, 60))
    if proc.returncode == 0:
        return
    if "fuzz: build failed" in text:
        if os.environ.get("CI") != "true" and "libclang_rt.fuzzer" in text:
            raise Skip("clang cannot link -fsanitize=fuzzer "
                       "(apt-get install libclang-rt-dev)")
        raise AssertionError("building the harnesses failed:\n" +
                             common.tail(text, 20))
    # The first line of the report, without addresses, and the reproducer.
    first = [l.strip(" |") for l in text.splitlines()
             if "contract violated" in l or "ERROR:" in l or "runtime error:" in l][:1]
    first = [re.sub(r"^==\d+==\s*|\s+(on address|at pc) .*$", "", l) for l in first]
    repro = [l.split("reproduce with: ", 1)[1] for l in text.splitlines()
             if l.startswith("fuzz: %s: reproduce with: " % name)][:1]
    if any(m in text for m in common.SANITIZER_MARKERS):
        ctx.sanitizer_reports.append((name, text))
    raise AssertionError("%s failed: %s%s" % (
        name, first[0] if first else "fuzz/run.sh exited %d" % proc.returncode,
        "; reproduce with: " + repro[0] if repro else ""))


@timeout(LIMIT)
def global_fuzz_elf(ctx):
    """ELF queries of include/elfobj.h on arbitrary files."""
    _fuzz(ctx, "fuzz_elf")


@timeout(LIMIT)
def global_fuzz_dwarf(ctx):
    """gs_layout_from_dwarf on arbitrary objects."""
    _fuzz(ctx, "fuzz_dwarf")


@timeout(LIMIT)
def global_fuzz_debug_offsets(ctx):
    """_Py_DebugOffsets probe and layout from fake memory."""
    _fuzz(ctx, "fuzz_debug_offsets")


@timeout(LIMIT)
def global_fuzz_remote(ctx):
    """Interpreter/thread-state walks and the classifier on fake memory."""
    _fuzz(ctx, "fuzz_remote")


@timeout(LIMIT)
def global_fuzz_trace(ctx):
    """The recording reader and the report summary."""
    _fuzz(ctx, "fuzz_trace")


@timeout(LIMIT)
def global_fuzz_procfs(ctx):
    """/proc/PID/maps and task stat/syscall/schedstat parsers."""
    _fuzz(ctx, "fuzz_procfs")


@timeout(LIMIT)
def global_fuzz_pystack(ctx):
    """The Python stack reader and the thread-name reader on fake memory."""
    _fuzz(ctx, "fuzz_pystack")


@timeout(LIMIT)
def global_fuzz_linetable(ctx):
    """The three line-table decoders on arbitrary bytes."""
    _fuzz(ctx, "fuzz_linetable")


@timeout(LIMIT)
def global_fuzz_stack(ctx):
    """.eh_frame_hdr, symbol names, the sched file and the merge plan."""
    _fuzz(ctx, "fuzz_stack")


@timeout(LIMIT)
def global_fuzz_sampler(ctx):
    """The whole sampler on fake memory, fake /proc text and a fake clock."""
    _fuzz(ctx, "fuzz_sampler")
