"""The pipeline's one-way flow (DEVELOPERS.md): tests/check-layers passes on
the tree, and catches an include that points up."""
import os
import shutil
import subprocess
import sys
import tempfile

from common import TESTS_DIR

CHECK = os.path.join(TESTS_DIR, "check-layers")
TOP = os.path.dirname(TESTS_DIR)


def run_check(top):
    p = subprocess.run([sys.executable, CHECK, top], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def global_layers_point_down(ctx):
    rc, out = run_check(TOP)
    assert rc == 0, "tests/check-layers failed on the tree:\n" + out
    assert "every include points down" in out, out


def global_layers_check_catches_upward_include(ctx):
    """A copy of two stages with a sample/ header included from proc/, a
    header outside any stage, and a bare include: each is named."""
    d = tempfile.mkdtemp(prefix="gs-layers-")
    try:
        for sub in ("src/proc", "src/sample", "include/proc", "include/sample"):
            os.makedirs(os.path.join(d, sub))
        open(os.path.join(d, "include/sample/classify.h"), "w").write(
            '#include "proc/taskstat.h"\n')
        open(os.path.join(d, "src/proc/taskstat.c"), "w").write(
            '#include "core/errors.h"\n#include "sample/classify.h"\n')
        open(os.path.join(d, "src/proc/maps.c"), "w").write(
            '#include "maps.h"\n#include "config.h"\n')
        open(os.path.join(d, "include/stray.h"), "w").write("\n")
        rc, out = run_check(d)
        assert rc == 1, "exit %d, wanted 1:\n%s" % (rc, out)
        for want in ('src/proc/taskstat.c:2: proc/ includes "sample/classify.h" '
                     'from the later stage sample/',
                     'src/proc/maps.c:1: includes "maps.h" without its stage folder',
                     "include/stray.h: not inside a stage folder"):
            assert want in out, "no %r in:\n%s" % (want, out)
        assert "config.h" not in out, out
        assert "include/sample/classify.h" not in out, out
    finally:
        shutil.rmtree(d)
