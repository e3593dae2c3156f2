#!/usr/bin/env python3
"""The accuracy table of bench/README.md, from a GILSNOOP_ACCURACY_LOG file.

    GILSNOOP_ACCURACY_LOG=acc.jsonl tests/run-tests -k accuracy
    tests/truth/table.py acc.jsonl

Per interpreter and setting: the largest held and waiting error over
every thread of every phase (percentage points, signed), the phase and
thread it was seen on, the sampling floor of that thread (the standard
deviation of an exact classifier's error when it samples the truth as
gilsnoop does, at the achieved rate: giltruth.sampling_floor), the ctypes holder's off-CPU error and the
sampling rate gilsnoop achieved.  A measurement logged twice (reruns)
counts its last run.
"""
import json
import sys


def _floor(sd):
    return "-" if sd is None else "%.2f" % sd


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: table.py ACCURACY_LOG")
    runs = {}
    with open(sys.argv[1]) as f:
        for line in f:
            d = json.loads(line)
            if "setting" in d:
                runs[(d["py"], d["setting"], d["phase"])] = d
    order = []
    for py, setting, _phase in runs:
        if (py, setting) not in order:
            order.append((py, setting))
    print("| interpreter | setting | held err (pp) | where | floor sd | waiting err (pp) "
          "| where | floor sd | off-CPU err | rate (Hz) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for py, setting in order:
        worst_h = worst_w = (0.0, "", None)
        off, rates = None, []
        for (p, s, phase), d in runs.items():
            if (p, s) != (py, setting):
                continue
            rates.append(d.get("rate_hz") or 0)
            if "offcpu_rel_err" in d:
                off = d["offcpu_rel_err"]
            for thread, t in d["threads"].items():
                dh = t["held"] - t["held_truth"]
                dw = t["wait"] - t["wait_truth"]
                if abs(dh) > abs(worst_h[0]):
                    worst_h = (dh, "%s/%s" % (phase, thread), t.get("floor_held"))
                if abs(dw) > abs(worst_w[0]):
                    worst_w = (dw, "%s/%s" % (phase, thread), t.get("floor_wait"))
        print("| %s | %s | %+.1f | %s | %s | %+.1f | %s | %s | %s | %.0f |" % (
            py, setting, worst_h[0], worst_h[1], _floor(worst_h[2]),
            worst_w[0], worst_w[1], _floor(worst_w[2]),
            "-" if off is None else "%.1f%%" % (100 * off),
            min(rates) if rates else 0))


if __name__ == "__main__":
    main()
