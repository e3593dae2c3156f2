"""The release tarball and the install, seen through the build tree's
Makefile with `make -n` (nothing is built or written): make dist must not
run the fuzzers (the folder fuzz/ is also the phony target `fuzz`), and
make install must install docs/trace-format.md beside the man pages.
.ci/run's distcheck leg does the real thing.
"""
import os
import re
import shutil
import subprocess

from common import Skip


def build_tree(ctx):
    top = os.path.dirname(os.path.abspath(ctx.gilsnoop))
    if not os.path.exists(os.path.join(top, "Makefile")) or not shutil.which("make"):
        raise Skip("gilsnoop was not built by this tree's Makefile (%s)" % top)
    return top


def dry_run(top, target):
    p = subprocess.run(["make", "-n", target], cwd=top, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "make -n %s exited %d:\n%s" % (target, p.returncode, out[-2000:])
    return out


def global_dist_does_not_fuzz(ctx):
    out = dry_run(build_tree(ctx), "dist")
    assert "fuzz/run.sh" not in out, "make dist would run the fuzzers:\n" + "\n".join(
        l for l in out.splitlines() if "fuzz" in l)[:2000]
    assert re.search(r"^cp .*fuzz .*/fuzz$", out, re.M), "make dist leaves fuzz/ out"


def global_install_puts_the_format_in_docdir(ctx):
    out = dry_run(build_tree(ctx), "install")
    docs = [l for l in out.splitlines() if "trace-format.md" in l]
    assert docs, "make install does not install docs/trace-format.md"
    assert any("/doc/gilsnoop" in l or "docdir" in l for l in out.splitlines()), \
        "no install into the documentation directory:\n" + "\n".join(docs)
