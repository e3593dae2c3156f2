"""Hostile names: thread names and file paths holding quotes, backslashes,
control characters, C1 controls and invalid UTF-8 come out of every
output escaped, and parse back (strictly) to what the kernel holds:

  JSON (info --json, record json/jsonl, report --json) and CSV
      the exact text, except that each byte that is not valid UTF-8 is
      U+FFFD (docs/trace-format.md);
  plain text (info, record's and report's summaries)
      one line per thread; control characters (C0, DEL, C1) and invalid
      bytes are '?', valid UTF-8 is kept;
  top -b
      ASCII only: every byte outside printable ASCII is '?'.

tests/workloads/hostile.py makes the names, and a thread holding the GIL
off CPU in read() on a FIFO whose name is hostile too (and an idle one on
another): the paths travel in info's DETAIL and the intervals' path.
"""
import binascii
import codecs
import csv
import io
import os

from common import start_target
from recording import load_trace, strict_json
from safety_helpers import EXIT_FAIL, EXIT_OK, one_line_error, pick


def _per_byte_fffd(err):
    # One U+FFFD per invalid byte, as gilsnoop writes it (Python's own
    # 'replace' would use one per maximal invalid sequence).
    return "\ufffd", err.start + 1


def _per_byte_q(err):
    return "?", err.start + 1


codecs.register_error("gs-fffd", _per_byte_fffd)
codecs.register_error("gs-q", _per_byte_q)


def as_json(b):
    """What a JSON or CSV output must decode to."""
    return b.decode("utf-8", "gs-fffd")


def as_text(b, limit=None):
    """What a plain-text output prints (gs_text_clean), cut to limit
    bytes on a character boundary."""
    s = "".join("?" if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f else c
                for c in b.decode("utf-8", "gs-q"))
    if limit is not None:
        while len(s.encode()) > limit:
            s = s[:-1]
    return s


def as_top(b, limit=15):
    """top's batch output: printable ASCII, the rest '?'."""
    return "".join(chr(c) if 0x20 <= c < 0x7f else "?" for c in b)[:limit]


def _info(t):
    names = {k: binascii.unhexlify(v) for k, v in t.info["names"].items()}
    paths = {k: binascii.unhexlify(v) for k, v in t.info["paths"].items()}
    return names, paths


def _shown(t, names):
    """The names record, report and top show: the kernel's, and the Python
    name (threading's "Thread-N (...)") after it when they differ."""
    out = {}
    for label, raw in names.items():
        py = t.info["pynames"][label].encode()
        out[label] = raw if py == raw else raw + b" (" + py + b")"
    return out


def _row(text, tid):
    rows = [l for l in text.split("\n") if l.lstrip().startswith("%d " % tid)]
    assert len(rows) == 1, "want one line for tid %d, got %d:\n%s" % (
        tid, len(rows), text[-3000:])
    return rows[0]


def _check_summary_text(what, text, t, names, from_file=False):
    for label, raw in names.items():
        row = _row(text, t.tids[label])
        # A file holds U+FFFD where the name had invalid bytes.
        want = as_text(as_json(raw).encode() if from_file else raw, 15)
        assert (" %s " % want) in row or row.split(None, 1)[1].startswith(want), \
            "%s: row of %s shows %r, want the name as %r" % (what, label, row, want)
    assert all(c == "\n" or c == "\t" or ord(c) >= 0x20 for c in text), \
        "%s: control characters in the text: %r" % (
            what, [c for c in text if ord(c) < 0x20 and c not in "\n\t"][:5])


def _check_summary_json(what, doc, t, names):
    by_tid = {th["tid"]: th for th in doc["threads"]}
    for label, raw in names.items():
        th = by_tid.get(t.tids[label])
        assert th, "%s: no thread %s" % (what, label)
        assert th["name"] == as_json(raw), "%s: %s named %r, want %r" % (
            what, label, th["name"], as_json(raw))


def global_names_hostile(ctx):
    py = pick(ctx)
    d = os.path.join(ctx.tmpdir, "fifos")
    os.mkdir(d)
    with start_target(py, "hostile.py", [d]) as t:
        names, paths = _info(t)
        holder, reader = t.tids["holder"], t.tids["reader"]

        # info --json
        rc, out, err = ctx.run(["info", "--json", "-p", t.pid])
        assert rc == EXIT_OK, err
        doc = strict_json(out, "info --json")
        by_tid = {th["tid"]: th for th in doc["threads"]}
        for label, raw in names.items():
            got = by_tid[t.tids[label]]["name"]
            assert got == as_json(raw), "info --json: %s named %r, want %r" % (
                label, got, as_json(raw))
        # The holder can be between two reads; ask again until it is seen
        # holding off CPU in read() with its path.
        for _ in range(20):
            th = by_tid[holder]
            if th["role"] == "holding-offcpu" and th["path"]:
                break
            rc, out, err = ctx.run(["info", "--json", "-p", t.pid])
            by_tid = {x["tid"]: x for x in strict_json(out)["threads"]}
        assert by_tid[holder]["path"] == as_json(paths["holder"]), by_tid[holder]
        assert by_tid[reader]["role"] == "idle", by_tid[reader]
        assert by_tid[reader]["path"] == as_json(paths["reader"]), by_tid[reader]

        # info (text): one line per thread, path included.
        for _ in range(20):
            rc, out, err = ctx.run(["info", "-p", t.pid])
            assert rc == EXIT_OK, err
            if "holding-offcpu" in _row(out, holder):
                break
        table = out.split("\n\n", 1)[1].strip("\n").split("\n")
        assert len(table) == 1 + len(t.task_ids()), \
            "info's table has %d lines for %d threads:\n%s" % (
                len(table), len(t.task_ids()), out)
        for label, raw in names.items():
            row = _row(out, t.tids[label])
            assert as_text(raw) in row, "info: %s row %r lacks %r" % (
                label, row, as_text(raw))
        assert as_text(paths["holder"]) in _row(out, holder), _row(out, holder)
        assert as_text(paths["reader"]) in _row(out, reader), _row(out, reader)
        _check_summary_text("info", out, t, names)

        # record, in all three formats, names the threads as _shown does.
        shown = _shown(t, names)
        files = {}
        for fmt in ("json", "jsonl", "csv"):
            f = os.path.join(ctx.tmpdir, "hostile." + fmt)
            rc, out, err = ctx.run(["record", "-p", t.pid, "-o", f, "-d", 1.5,
                                    "--format", fmt], timeout=60)
            assert rc == EXIT_OK, "record --format %s: %s" % (fmt, err)
            _check_summary_text("record's summary (%s)" % fmt, out, t, shown)
            files[fmt] = f

        doc = load_trace(files["json"])
        tn = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
              if e.get("name") == "thread_name"}
        for label, raw in shown.items():
            assert tn.get(t.tids[label]) == as_json(raw), \
                "json: thread_name of %s is %r, want %r" % (
                    label, tn.get(t.tids[label]), as_json(raw))
        xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
        _check_paths("json", [(e["tid"], e["args"]["role"], e["args"].get("path", ""))
                              for e in xs], holder, reader, paths)

        with open(files["jsonl"], encoding="utf-8") as fh:
            lines = [strict_json(l, "jsonl") for l in fh.read().split("\n") if l]
        ivs = [l for l in lines if "tid" in l]
        for label, raw in shown.items():
            got = {l["name"] for l in ivs if l["tid"] == t.tids[label]}
            assert got == {as_json(raw)}, "jsonl: %s named %r, want %r" % (
                label, got, as_json(raw))
        _check_paths("jsonl", [(l["tid"], l["state"], l["path"]) for l in ivs],
                     holder, reader, paths)

        with open(files["csv"], "rb") as fh:
            raw_csv = fh.read()
        text = raw_csv.decode("utf-8")  # strictly: invalid bytes are U+FFFD
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        assert all(len(r) == 10 for r in rows), [r for r in rows if len(r) != 10][:3]
        body = rows[1:]
        for label, raw in shown.items():
            got = {r[1] for r in body if r[0] == str(t.tids[label])}
            assert got == {as_json(raw)}, "csv: %s named %r, want %r" % (
                label, got, as_json(raw))
        _check_paths("csv", [(int(r[0]), r[2], r[7]) for r in body],
                     holder, reader, paths)

        # report, text and JSON, of each file.
        for fmt, f in files.items():
            rc, out, err = ctx.run(["report", f])
            assert rc == EXIT_OK, "report %s: %s" % (fmt, err)
            _check_summary_text("report (%s)" % fmt, out, t, shown, True)
            rc, out, err = ctx.run(["report", "--json", f])
            assert rc == EXIT_OK, "report --json %s: %s" % (fmt, err)
            _check_summary_json("report --json (%s)" % fmt,
                                strict_json(out, "report --json"), t, shown)

        # top -b: ASCII, one row per thread, the holder line too.
        rc, out, err = ctx.run(["top", "-b", "-n", 2, "-i", 0.5, "-p", t.pid],
                               env={"LC_ALL": "C"})
        assert rc == EXIT_OK, err
        assert all(0x20 <= ord(c) < 0x7f or c == "\n" for c in out), \
            "top -b printed non-ASCII or control characters: %r" % (
                [c for c in out if not (0x20 <= ord(c) < 0x7f or c == "\n")][:5])
        frame = out.rstrip("\n").split("\n\n")[-1]
        for label, raw in shown.items():
            row = _row(frame, t.tids[label])
            assert row[8:8 + 15].rstrip() == as_top(raw).rstrip(), \
                "top -b: %s row %r, want the name as %r" % (label, row, as_top(raw))
        assert t.alive()


def _check_paths(what, ivs, holder, reader, paths):
    """ivs: (tid, role, path).  The holder held the GIL off CPU in read()
    on FIFO A and the reader idled in read() on FIFO B."""
    hp = {p for tid, role, p in ivs if tid == holder and role == "holding-offcpu"}
    assert as_json(paths["holder"]) in hp, \
        "%s: no holding-offcpu interval of the holder on %r (paths %r)" % (
            what, as_json(paths["holder"]), hp)
    rp = {p for tid, role, p in ivs if tid == reader and role == "idle"}
    assert as_json(paths["reader"]) in rp, \
        "%s: no idle interval of the reader on %r (paths %r)" % (
            what, as_json(paths["reader"]), rp)


HOSTILE_FILE = b'o"u\\t \x01\xff\n,;.json'


def global_names_hostile_file_paths(ctx):
    """Output file names with hostile bytes: record writes them, report
    reads them, and messages that quote them stay on one line."""
    py = pick(ctx)
    d = os.fsencode(ctx.tmpdir)
    f = os.path.join(d, HOSTILE_FILE)
    fs = os.fsdecode(f)  # subprocess gives the program the bytes back
    with start_target(py, "threads.py", ["--sleep", 1]) as t:
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", fs, "-d", 1])
        assert rc == EXIT_OK, err
        assert os.path.exists(f)
        # Again: it exists now, and the message names it on one line.
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", fs])
        one_line_error(rc, err, EXIT_FAIL, "record onto an existing hostile name",
                       ["--force"])
        missing = os.fsdecode(os.path.join(d, HOSTILE_FILE, b"x.json"))
        rc, out, err = ctx.run(["record", "-p", t.pid, "-o", missing])
        one_line_error(rc, err, EXIT_FAIL, "record into a hostile missing dir")
    rc, out, err = ctx.run(["report", fs])
    assert rc == EXIT_OK, err
    first = out.split("\n")[0]
    assert first.startswith(as_text(f)), "report's first line %r, want it to " \
        "start with %r" % (first, as_text(f))
    assert "json recording" in first, first
    rc, out, err = ctx.run(["report", "--json", fs])
    assert rc == EXIT_OK, err
    strict_json(out, "report --json")
