"""``python -m fastdeepcopy report``: compare the statistics of two A/B arms.

    python -m fastdeepcopy report A_DIR --vs B_DIR [--json]
    python -m fastdeepcopy report DIR [--json]

Each directory holds the per-process files written by FASTDEEPCOPY_STATS
(files or directories may also be given one by one).  With ``--vs`` the files
under A are aggregated against the files under B; with a single directory
(both arms writing to the same place, the usual rollout) its files are split
by the arm each process recorded: A = fast, B = stdlib.

Totals depend on how many processes each arm had, so the comparison ("A/B"
column) is made on rates: per process, per top-level copy, per million calls,
and time per timed top-level copy.
"""
from __future__ import annotations

import json
import os
import sys

_COUNTERS = ("calls", "toplevel", "objects", "errors")
_FALLBACKS = ("hook_deepcopy", "hook_dispatch", "reconstruct_py", "memo_exposed",
              "reduce_calls")
_VERIFY = ("checked", "mismatches", "fast_raised", "stdlib_raised", "compare_failed")


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(os.path.join(path, n) for n in os.listdir(path)
                      if n.endswith(".json") and not n.startswith("."))
    return [path]


def load(paths: list[str]) -> tuple[list[dict], list[str]]:
    """The stats records under paths, and the files that could not be read."""
    records: list[dict] = []
    bad: list[str] = []
    for p in paths:
        for f in _files(p):
            try:
                with open(f, encoding="utf-8") as fh:
                    rec = json.load(fh)
                if not isinstance(rec, dict) or not str(rec.get("format", "")).startswith(
                        "fastdeepcopy-stats/"):
                    raise ValueError("not a fastdeepcopy statistics file")
                records.append(rec)
            except (OSError, ValueError) as exc:
                bad.append("%s: %s" % (f, exc))
    return records, bad


def _num(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def aggregate(records: list[dict]) -> dict:
    """Sum the records of one side."""
    agg: dict = {"processes": len(records), "arms": {}, "python": {},
                 "settings": {"sample": set(), "verify": set(), "timing": set()}}
    for k in _COUNTERS:
        agg[k] = 0
    agg["objects_processes"] = 0       # processes that counted objects
    agg["fallbacks"] = {k: 0 for k in _FALLBACKS}
    agg["fallback_processes"] = 0
    agg["timed_processes"] = 0
    agg["timed_calls"] = agg["timed_ns"] = agg["nested_calls"] = 0
    agg["verify_processes"] = 0
    agg["verify"] = {k: 0 for k in _VERIFY}
    agg["verify"]["ns"] = 0
    examples: dict[str, int] = {}
    for r in records:
        a = str(r.get("arm"))
        agg["arms"][a] = agg["arms"].get(a, 0) + 1
        conf = r.get("settings")
        if isinstance(conf, dict):
            for key in ("sample", "verify", "timing"):
                v = conf.get(key)
                if isinstance(v, (int, float)):
                    agg["settings"][key].add(v)
        py = str(r.get("python", "?"))
        agg["python"][py] = agg["python"].get(py, 0) + 1
        c = r.get("counters") or {}
        for k in _COUNTERS:
            agg[k] += _num(c.get(k))
        if c.get("objects") is not None:
            agg["objects_processes"] += 1
        fb = r.get("fallbacks")
        if isinstance(fb, dict):
            agg["fallback_processes"] += 1
            for k in _FALLBACKS:
                agg["fallbacks"][k] += _num(fb.get(k))
        t = r.get("timing")
        if isinstance(t, dict):
            agg["timed_processes"] += 1
            agg["timed_calls"] += _num(t.get("calls"))
            agg["timed_ns"] += _num(t.get("ns"))
            agg["nested_calls"] += _num(t.get("nested"))
        v = r.get("verify")
        if isinstance(v, dict):
            agg["verify_processes"] += 1
            for k in _VERIFY + ("ns",):
                agg["verify"][k] += _num(v.get(k))
            for line, n in (v.get("examples") or {}).items():
                examples[line] = examples.get(line, 0) + _num(n)
    agg["settings"] = {k: sorted(v) for k, v in agg["settings"].items()}
    agg["mismatch_examples"] = sorted(examples.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    rates: dict = {}
    n = agg["processes"]
    rates["calls_per_process"] = agg["calls"] / n if n else None
    rates["toplevel_per_process"] = agg["toplevel"] / n if n else None
    rates["objects_per_toplevel"] = (agg["objects"] / agg["toplevel"]
                                     if agg["objects_processes"] and agg["toplevel"] else None)
    rates["us_per_timed_copy"] = (agg["timed_ns"] / agg["timed_calls"] / 1000.0
                                  if agg["timed_calls"] else None)
    fb_total = sum(agg["fallbacks"][k] for k in ("hook_deepcopy", "hook_dispatch",
                                                 "reconstruct_py"))
    agg["fallbacks_total"] = fb_total if agg["fallback_processes"] else None
    rates["fallbacks_per_toplevel"] = (fb_total / agg["toplevel"]
                                       if agg["fallback_processes"] and agg["toplevel"]
                                       else None)
    rates["errors_per_million_calls"] = (agg["errors"] * 1e6 / agg["calls"]
                                         if agg["calls"] else None)
    vc = agg["verify"]["checked"]
    rates["mismatches_per_verified"] = agg["verify"]["mismatches"] / vc if vc else None
    agg["rates"] = rates
    return agg


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def compare(a: dict, b: dict) -> dict:
    """Ratios A/B of the comparable rates."""
    out = {k: _ratio(a["rates"][k], b["rates"][k]) for k in a["rates"]}
    out["processes"] = _ratio(a["processes"], b["processes"])
    return out


# ---- rendering -----------------------------------------------------------------
def _int(v: int | None) -> str:
    return "-" if v is None else "{:,}".format(v)


def _flt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    return "{:,.{d}f}".format(v, d=digits)


def _rat(v: float | None) -> str:
    return "-" if v is None else "%.2f" % v


def _arms(agg: dict) -> str:
    arms = ", ".join("%s %d" % kv for kv in sorted(agg["arms"].items())) or "no files"
    settings = []
    for key in ("sample", "verify"):
        values = sorted(agg["settings"][key])
        if values:
            settings.append("%s=%s" % (key, "/".join("%g" % v for v in values)))
    timing = sorted(agg["settings"]["timing"])
    if timing:
        settings.append("timing=%s" % "/".join("on" if t else "off" for t in timing))
    return arms + ("; " + ", ".join(settings) if settings else "")


def render(a: dict, b: dict, ratio: dict, label_a: str, label_b: str,
           bad: list[str]) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, va: str, vb: str, r: str = "") -> None:
        rows.append((name, va, vb, r))

    ra, rb = a["rates"], b["rates"]
    row("processes", _int(a["processes"]), _int(b["processes"]), _rat(ratio["processes"]))
    row("calls", _int(a["calls"]), _int(b["calls"]))
    row("  per process", _flt(ra["calls_per_process"]), _flt(rb["calls_per_process"]),
        _rat(ratio["calls_per_process"]))
    row("top-level copies", _int(a["toplevel"]), _int(b["toplevel"]))
    row("  per process", _flt(ra["toplevel_per_process"]), _flt(rb["toplevel_per_process"]),
        _rat(ratio["toplevel_per_process"]))
    row("objects visited", _int(a["objects"] if a["objects_processes"] else None),
        _int(b["objects"] if b["objects_processes"] else None))
    row("  per top-level copy", _flt(ra["objects_per_toplevel"]),
        _flt(rb["objects_per_toplevel"]), _rat(ratio["objects_per_toplevel"]))
    row("time per top-level copy", _flt(ra["us_per_timed_copy"], 2) + (
        " us" if ra["us_per_timed_copy"] is not None else ""),
        _flt(rb["us_per_timed_copy"], 2) + (" us" if rb["us_per_timed_copy"] is not None
                                            else ""),
        _rat(ratio["us_per_timed_copy"]))
    row("  timed copies", _int(a["timed_calls"] if a["timed_processes"] else None),
        _int(b["timed_calls"] if b["timed_processes"] else None))
    row("fall-backs to Python code", _int(a["fallbacks_total"]), _int(b["fallbacks_total"]))
    row("  per top-level copy", _flt(ra["fallbacks_per_toplevel"], 3),
        _flt(rb["fallbacks_per_toplevel"], 3), _rat(ratio["fallbacks_per_toplevel"]))
    for key, name in (("hook_deepcopy", "  of which __deepcopy__ methods"),
                      ("hook_dispatch", "  of which _deepcopy_dispatch entries"),
                      ("reconstruct_py", "  of which copy._reconstruct calls"),
                      ("memo_exposed", "memo handed to Python code"),
                      ("reduce_calls", "objects copied via __reduce_ex__")):
        row(name, _int(a["fallbacks"][key] if a["fallback_processes"] else None),
            _int(b["fallbacks"][key] if b["fallback_processes"] else None))
    row("errors raised", _int(a["errors"]), _int(b["errors"]))
    row("  per million calls", _flt(ra["errors_per_million_calls"], 2),
        _flt(rb["errors_per_million_calls"], 2), _rat(ratio["errors_per_million_calls"]))
    va, vb = a["verify"], b["verify"]
    row("verified copies", _int(va["checked"] if a["verify_processes"] else None),
        _int(vb["checked"] if b["verify_processes"] else None))
    row("  mismatches", _int(va["mismatches"] if a["verify_processes"] else None),
        _int(vb["mismatches"] if b["verify_processes"] else None))
    row("  of which fast path raised", _int(va["fast_raised"] if a["verify_processes"] else None),
        _int(vb["fast_raised"] if b["verify_processes"] else None))

    head = ("", "A", "B", "A/B")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    widths[1] = max(widths[1], 12)
    widths[2] = max(widths[2], 12)
    lines = [
        "fastdeepcopy A/B report",
        "  A: %s  (%s)" % (label_a, _arms(a)),
        "  B: %s  (%s)" % (label_b, _arms(b)),
        "",
    ]
    fmt = "%-{0}s  %{1}s  %{2}s  %{3}s".format(*widths)
    lines.append((fmt % head).rstrip())
    lines.append("-" * (sum(widths) + 6))
    for r in rows:
        lines.append((fmt % r).rstrip())
    su = ratio["us_per_timed_copy"]
    if su:
        lines.append("")
        lines.append("A takes %.2fx the time of B per top-level copy (%s)." % (
            su, "%.1fx faster" % (1 / su) if su < 1 else "%.1fx slower" % su))
    ex = a["mismatch_examples"] + b["mismatch_examples"]
    if ex:
        lines.append("")
        lines.append("verification mismatches (most frequent first):")
        for line, n in sorted(ex, key=lambda kv: -kv[1])[:10]:
            lines.append("  %6d  %s" % (n, line))
    if bad:
        lines.append("")
        lines.append("%d file(s) could not be read:" % len(bad))
        for line in bad[:10]:
            lines.append("  " + line)
    return "\n".join(lines) + "\n"


def _usage(err: str | None = None) -> int:
    out = sys.stderr if err else sys.stdout
    if err:
        out.write("fastdeepcopy report: %s\n" % err)
    out.write("usage: python -m fastdeepcopy report A_DIR [--vs B_DIR] [--json]\n"
              "  A_DIR, B_DIR  directories (or files) of FASTDEEPCOPY_STATS output;\n"
              "                with one directory, its processes are split by arm\n"
              "                (A = fast, B = stdlib)\n"
              "  --json        print the aggregates as JSON\n")
    return 2 if err else 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "report":
        args = args[1:]
    as_json = False
    side_a: list[str] = []
    side_b: list[str] = []
    target = side_a
    vs = False
    for arg in args:
        if arg in ("-h", "--help"):
            return _usage()
        if arg == "--json":
            as_json = True
        elif arg == "--vs":
            if vs:
                return _usage("--vs given twice")
            vs = True
            target = side_b
        elif arg.startswith("-"):
            return _usage("unknown option %s" % arg)
        else:
            target.append(arg)
    if not side_a:
        return _usage("no statistics directory given")
    if vs and not side_b:
        return _usage("--vs needs a directory")
    for p in side_a + side_b:
        if not os.path.exists(p):
            return _usage("%s does not exist" % p)
    if vs:
        rec_a, bad_a = load(side_a)
        rec_b, bad_b = load(side_b)
        bad = bad_a + bad_b
        label_a, label_b = " ".join(side_a), " ".join(side_b)
    else:
        recs, bad = load(side_a)
        rec_a = [r for r in recs if r.get("arm") == "fast"]
        rec_b = [r for r in recs if r.get("arm") == "stdlib"]
        label_a = "%s, fast arm" % " ".join(side_a)
        label_b = "%s, stdlib arm" % " ".join(side_a)
    agg_a, agg_b = aggregate(rec_a), aggregate(rec_b)
    ratio = compare(agg_a, agg_b)
    if as_json:
        json.dump({"a": dict(agg_a, label=label_a), "b": dict(agg_b, label=label_b),
                   "ratio": ratio, "unreadable": bad}, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(agg_a, agg_b, ratio, label_a, label_b, bad))
    if not rec_a and not rec_b:
        sys.stderr.write("fastdeepcopy report: no statistics files found\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
