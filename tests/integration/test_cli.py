"""The command line itself: version, help, and usage errors (exit code 2).

These run once, not per interpreter.  Usage errors must say what is wrong
in one line on stderr and print nothing on stdout, so that scripts reading
stdout never mistake an error for output.
"""
import os
import re
import subprocess

from common import TESTS_DIR, start_sleeper

EXIT_CODES = {
    0: "success",
    1: "runtime failure",
    2: "bad command line",
    3: "no such process",
    4: "permission denied",
    5: "not a Python process",
    6: "not supported",
}


# Messages read "gilsnoop: ..." or, from a subcommand, "gilsnoop info: ...".
PREFIX = re.compile(r"gilsnoop( [a-z]+)?: \S")


def configured_version():
    with open(os.path.join(os.path.dirname(TESTS_DIR), "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[gilsnoop\],\s*\[([^\]]+)\]", f.read())
    assert m, "no AC_INIT version in configure.ac"
    return m.group(1)


def assert_usage_error(rc, out, err, what):
    assert rc == 2, "%s: exit %d, want 2 (bad command line)" % (what, rc)
    assert out == "", "%s: printed on stdout: %r" % (what, out[:200])
    lines = err.splitlines()
    assert len(lines) == 1, "%s: want one line on stderr, got %d: %r" % (
        what, len(lines), err[:400])
    assert PREFIX.match(lines[0]), \
        "%s: stderr line does not start with 'gilsnoop[ COMMAND]: ': %r" % (
            what, lines[0])


def global_version(ctx):
    rc, out, err = ctx.run(["--version"])
    assert rc == 0, "exit %d" % rc
    assert re.fullmatch(r"gilsnoop \d+\.\d+\.\d+\n", out), "stdout: %r" % out
    assert out.split()[1] == configured_version(), \
        "--version says %s, configure.ac says %s" % (out.split()[1],
                                                     configured_version())
    assert err == "", "stderr: %r" % err
    rc2, out2, _ = ctx.run(["-V"])
    assert rc2 == 0 and out2 == out, "-V differs from --version: %r" % out2


def global_help(ctx):
    rc, out, err = ctx.run(["--help"])
    assert rc == 0, "exit %d" % rc
    assert err == "", "stderr: %r" % err
    assert "Usage: gilsnoop" in out, out
    assert re.search(r"^Commands:", out, re.M), "no Commands: section"
    for cmd in ("info", "help"):
        assert re.search(r"^\s+%s\s+\S" % cmd, out, re.M), \
            "command %s not listed with a summary" % cmd
    for code, words in EXIT_CODES.items():
        m = re.search(r"^\s+%d\s+(.*)$" % code, out, re.M)
        assert m, "exit code %d missing from the table" % code
        assert words in m.group(1), "exit code %d is described as %r, want %r" % (
            code, m.group(1), words)
    rc2, out2, _ = ctx.run(["-h"])
    assert rc2 == 0 and out2 == out, "-h differs from --help"
    assert re.search(r"^\s+-V, --version\s+\S", out, re.M), "-V is not documented"


def global_help_info(ctx):
    rc, out, err = ctx.run(["help", "info"])
    assert rc == 0, "exit %d" % rc
    assert err == "", "stderr: %r" % err
    assert "info" in out, out
    assert re.search(r"-p\b|--pid\b", out), "help info does not mention -p/--pid"
    m = re.search(r"^Exit status:(.*?)(\n\n|\Z)", out, re.M | re.S)
    assert m, "help info has no Exit status section:\n" + out
    for code in range(0, 7):
        assert re.search(r"\b%d\b" % code, m.group(1)), \
            "help info's exit status does not mention %d: %r" % (code, m.group(1))


def global_help_without_command(ctx):
    rc, out, err = ctx.run(["help"])
    assert rc == 0, "exit %d" % rc
    assert "Commands:" in out, out


def global_help_unknown_command(ctx):
    rc, out, err = ctx.run(["help", "nosuch"])
    assert_usage_error(rc, out, err, "help nosuch")
    assert "nosuch" in err, "message does not name the command: %r" % err


def global_unknown_command(ctx):
    rc, out, err = ctx.run(["nosuch"])
    assert_usage_error(rc, out, err, "gilsnoop nosuch")
    assert "nosuch" in err, "message does not name the command: %r" % err


def global_unknown_option(ctx):
    rc, out, err = ctx.run(["--nosuch"])
    assert_usage_error(rc, out, err, "gilsnoop --nosuch")


def global_no_arguments(ctx):
    rc, out, err = ctx.run([])
    assert rc == 2, "exit %d, want 2" % rc
    assert out == "", "printed on stdout: %r" % out[:200]
    assert "Usage: gilsnoop" in err, "no usage on stderr: %r" % err[:400]


def global_info_bad_pid(ctx):
    for bad in ("abc", "0", "-5", "12x", "99999999999999999999"):
        rc, out, err = ctx.run(["info", "-p", bad])
        assert_usage_error(rc, out, err, "info -p %s" % bad)


def global_info_missing_pid(ctx):
    rc, out, err = ctx.run(["info"])
    assert rc == 2, "exit %d, want 2" % rc
    assert out == "", "printed on stdout: %r" % out[:200]
    assert PREFIX.match(err), "stderr: %r" % err[:400]


def global_info_no_such_process(ctx):
    # A pid that was just reaped: free, and unlikely to be reused within
    # the next few milliseconds.
    p = subprocess.Popen(["true"])
    p.wait()
    rc, out, err = ctx.run(["info", "-p", str(p.pid)])
    assert rc == 3, "exit %d, want 3 (no such process); stderr %r" % (rc, err)
    assert len(err.splitlines()) == 1, "want one line on stderr: %r" % err
    assert str(p.pid) in err, "message does not name the pid: %r" % err


def global_info_not_python(ctx):
    # A process that is certainly not Python: a sleeping shell utility.
    p = start_sleeper()
    try:
        rc, out, err = ctx.run(["info", "-p", str(p.pid)])
    finally:
        p.kill()
        p.wait()
    assert rc == 5, "exit %d, want 5 (not a Python process); stderr %r" % (rc, err)
    assert len(err.splitlines()) == 1, "want one line on stderr: %r" % err
