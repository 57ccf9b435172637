#!/usr/bin/env python3
"""Tables from ``bench/suite.py``'s results, as text or as markdown for docs/performance.md.

    python bench/report.py [--results bench/results] [--versions 3.11,3.12,3.13] [--write docs/performance.md]

``--write`` replaces, per version, the text between
``<!-- BEGIN GENERATED X.Y -->`` and ``<!-- END GENERATED X.Y -->`` (appended
at the end when the markers are missing); the rest of the file is left alone.
A version whose results directory is missing keeps its old text.

Ratio conventions (every one from two figures measured side by side in one run):
``xN`` columns are stdlib's median / the impl's median (higher = faster);
``copium/ours`` is copium's median / ours' (>= 1.00: ours is at least as fast);
memory columns divide tracemalloc peaks (lower = less memory).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import run  # noqa: E402  (fmt_ns, fmt_bytes, geomean, print_table)

PARTS = ("main", "floors", "history", "patch", "pyperformance", "startup")
TWO_X_CASES = ("dataclasses", "slots_objects", "namedtuples", "datetime_decimal")


class Table:
    def __init__(self, title: str, header: List[str], rows: List[List[str]], notes: Sequence[str] = (),
                 command: Sequence[str] = ()) -> None:
        self.title, self.header, self.rows = title, header, rows
        self.notes, self.command = list(notes), list(command)

    def text(self) -> str:
        import io
        import contextlib

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            run.print_table(self.rows, self.header, right=range(1, len(self.header)))
        out = ["== " + self.title, buf.getvalue().rstrip()]
        out += ["  " + n for n in self.notes]
        return "\n".join(out) + "\n"

    def markdown(self) -> str:
        out = ["#### " + self.title, ""]
        if self.command:
            out += ["```", *self.command, "```", ""]
        out.append("| " + " | ".join(self.header) + " |")
        out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.header))) + "|")
        for r in self.rows:
            out.append("| " + " | ".join(str(c) for c in r) + " |")
        if self.notes:
            out.append("")
            out += self.notes
        return "\n".join(out) + "\n"


def x(v: Optional[float], digits: int = 2) -> str:
    return "-" if v is None else ("%%.%dfx" % digits) % v


def med(case: Dict[str, Any], impl: str) -> Optional[float]:
    t = case.get("timing", {}).get(impl)
    return t["median_ns"] if t else None


def status(case: Dict[str, Any], impl: str) -> str:
    if "crashed" in case:
        return "CRASH"
    chk = case.get("check", {}).get(impl)
    if chk is None:
        return "-"
    return "ERROR" if chk.get("error") else "MISMATCH"


def div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


# ---------------------------------------------------------------------------
# main: every case, with custom_deepcopy from the patched (one process each) run
# ---------------------------------------------------------------------------


def main_cases(res: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    out = []
    patched = (res.get("patched") or {}).get("cases", {})
    for name, case in res["run"]["cases"].items():
        if name in patched:
            out.append((name + " (patched)", patched[name]))
        else:
            out.append((name, case))
    return out


def main_metrics(res: Dict[str, Any]) -> Dict[str, Dict[str, Optional[float]]]:
    """case -> {ours, copium, pickle (stdlib/impl), copium_over_ours, mem_ours, mem_copium (peak/stdlib)}."""
    out: Dict[str, Dict[str, Optional[float]]] = {}
    for name, case in main_cases(res):
        m: Dict[str, Optional[float]] = {}
        for impl in ("pickle", "ours", "copium"):
            m[impl] = div(med(case, "stdlib"), med(case, impl))
            peak = case.get("memory", {}).get(impl, {}).get("tracemalloc_peak_bytes")
            ref = case.get("memory", {}).get("stdlib", {}).get("tracemalloc_peak_bytes")
            m["mem_" + impl] = div(peak, ref) if peak is not None and ref else None
        m["copium_over_ours"] = div(med(case, "copium"), med(case, "ours"))
        out[name.split(" ")[0]] = m
    return out


def table_main(res: Dict[str, Any]) -> Table:
    impls = [i for i in ("pickle", "ours", "copium") if i in res["run"]["impls"]]
    has_copium = "copium" in impls
    header = ["case", "stdlib"] + ["x" + i for i in impls]
    if has_copium:
        header.append("copium/ours")
    header += ["peak stdlib"] + ["peak %s/stdlib" % i for i in impls]
    rows: List[List[str]] = []
    ratios: Dict[str, List[float]] = {k: [] for k in impls + ["copium/ours"]}
    for name, case in main_cases(res):
        ref = med(case, "stdlib")
        row = [name, run.fmt_ns(ref) if ref else status(case, "stdlib")]
        for i in impls:
            r = div(ref, med(case, i))
            row.append(x(r) if r else status(case, i))
            if r:
                ratios[i].append(r)
        if has_copium:
            r = div(med(case, "copium"), med(case, "ours"))
            row.append(x(r) if r else "-")
            if r:
                ratios["copium/ours"].append(r)
        mem = case.get("memory", {})
        ref_peak = mem.get("stdlib", {}).get("tracemalloc_peak_bytes")
        row.append(run.fmt_bytes(ref_peak))
        for i in impls:
            p = mem.get(i, {}).get("tracemalloc_peak_bytes")
            row.append("%.2f" % (p / ref_peak) if p is not None and ref_peak else "-")
        rows.append(row)
    geo = ["geometric mean", ""] + [x(run.geomean(ratios[i])) for i in impls]
    if has_copium:
        geo.append(x(run.geomean(ratios["copium/ours"])))
    rows.append(geo + [""] * (1 + len(impls)))
    meta = res["run"]["meta"]
    notes = ["Per call medians of %d interleaved rounds (min-time %ss); `xN` = stdlib median / impl median; "
             "`copium/ours` = copium median / ours median (>= 1.00: ours at least as fast); "
             "`peak` = tracemalloc peak of one call (`peak X/stdlib` <= 1.00: no more than stdlib)."
             % (meta["repeat"], meta["min_time_s"])]
    if res.get("patched"):
        notes.append("`custom_deepcopy (patched)`: from `bench/procs.py`, every impl patched into "
                     "`copy.deepcopy` in its own process (table below); the other rows from `bench/run.py`, "
                     "impls called directly, all in one process per case.")
    if not res["copium"]["ok"]:
        notes.append("copium: not importable on this version (%s)." % res["copium"]["why"])
    problems = [(n, i) for n, c in main_cases(res) for i in impls if i not in c.get("timing", {})]
    if problems:
        notes.append("Not timed (error, mismatch or crash): " + ", ".join("%s/%s" % p for p in problems) + ".")
    return Table("All cases (Python %s)" % res["python"], header, rows, notes, res["commands"][:1])


def table_patched(res: Dict[str, Any]) -> Optional[Table]:
    data = res.get("patched")
    if not data or "custom_deepcopy" not in data["cases"]:
        return None
    case = data["cases"]["custom_deepcopy"]
    ref = med(case, "stdlib")
    rows = []
    for label in data["impls"]:
        t = case["timing"].get(label)
        peak = case.get("memory", {}).get(label, {}).get("tracemalloc_peak_bytes")
        info = case.get("info", {}).get(label, {})
        how = ", ".join(info.get("patch_method", {}).values()) or ("(not patched)" if label in ("stdlib", "pickle") else "")
        if t is None:
            rows.append([label, status(case, label), "-", "-", how])
            continue
        rows.append([label, run.fmt_ns(t["median_ns"]), x(div(ref, t["median_ns"])), run.fmt_bytes(peak), how])
    notes = ["Each impl in its own process, batches interleaved across the processes; the stdlib reference copy is "
             "computed before the impl is patched in. `xstdlib` = stdlib median / impl median."]
    return Table("custom_deepcopy, each impl patched into copy.deepcopy (Python %s)" % res["python"],
                 ["impl", "median", "xstdlib", "peak", "patched with"], rows, notes, res["commands"][1:2])


def table_floors(res: Dict[str, Any]) -> Table:
    rows = []
    for name, case in res["run"]["cases"].items():
        base = med(case, "list.copy")
        row = [name, run.fmt_ns(base) if base else status(case, "list.copy")]
        for i in ("ours", "copium"):
            m = med(case, i)
            row += [run.fmt_ns(m) if m else status(case, i), x(div(m, base))]
        rows.append(row)
    return Table("Floors: deepcopy vs list.copy() (Python %s)" % res["python"],
                 ["case", "list.copy", "ours", "ours/list.copy", "copium", "copium/list.copy"], rows,
                 ["Ratios are time / list.copy() time (lower = closer to a shallow copy)."], res["commands"])


def history_ratios(res: Dict[str, Any]) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
    """impl -> case -> {json_records, lists_100k}: primed median / unprimed median."""
    out: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {}
    for impl, data in res["runs"].items():
        for name, case in data["cases"].items():
            base = med(case, "unprimed")
            out.setdefault(impl, {})[name] = {p: div(med(case, p), base) for p in ("json_records", "lists_100k")}
    return out


def table_history(res: Dict[str, Any]) -> Table:
    rows = []
    for impl, data in res["runs"].items():
        for name, case in data["cases"].items():
            base = med(case, "unprimed")
            row = [impl, name, run.fmt_ns(base) if base else status(case, "unprimed")]
            for p in ("json_records", "lists_100k"):
                m = med(case, p)
                row += [run.fmt_ns(m) if m else status(case, p), "%.3f" % (m / base) if m and base else "-"]
            c = div(med(case, "control"), base)
            row.append("%.3f" % c if c else "-")
            rows.append(row)
    return Table("History independence (Python %s)" % res["python"],
                 ["impl", "case", "unprimed", "after json_records", "ratio", "after lists_100k", "ratio", "control"],
                 rows,
                 ["Four processes per impl (all on one CPU, same loop count), batches interleaved: unprimed, after "
                  "one deep copy of json_records, after one deep copy of a list of 100,000 one-element lists (same "
                  "thread), and a second unprimed process (`control`: its ratio shows this run's noise between "
                  "processes). ratio = primed median / unprimed median (1.000 = no effect)."], res["commands"])


def patch_ratios(res: Dict[str, Any]) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
    out: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {}
    for impl, data in res["runs"].items():
        for name, case in data["cases"].items():
            out.setdefault(impl, {})[name] = {"gross": case.get("patched_over_direct"), "net": case.get("net"),
                                              "min": case.get("patched_over_direct_min")}
    return out


def table_patch(res: Dict[str, Any]) -> Table:
    rows = []
    ratios = patch_ratios(res)
    for impl, data in res["runs"].items():
        patch = data.get("patch", {})
        how = str(patch.get("method"))
        if patch.get("same_function_object"):
            how += " (same function object, %s)" % ("__code__ swapped" if patch.get("code_swapped")
                                                      else "__code__ untouched")
        for name, case in data["cases"].items():
            r = ratios[impl][name]
            rows.append([impl, name, run.fmt_ns(med(case, "direct")), run.fmt_ns(med(case, "patched")),
                         x(r["gross"], 3), x(r["min"], 3), x(r["net"], 3), run.fmt_ns(med(case, run.BASELINE)), how])
    loops = ", ".join("%s %d rounds" % (i, d["meta"]["repeat"]) for i, d in res["runs"].items())
    return Table("Patch overhead: copy.deepcopy(x) patched vs impl.deepcopy(x) (Python %s)" % res["python"],
                 ["impl", "case", "direct", "via copy.deepcopy", "patched/direct", "(mins)", "net", "loop+call",
                  "patched with"],
                 rows, ["One process per impl; direct, patched and the bare loop calling `callable(obj)` "
                        "(`loop+call`) with the same loop count, interleaved (%s); medians. `net` subtracts "
                        "the loop from both." % loops], res["commands"])


def pyperf_ratios(res: Dict[str, Any]) -> Dict[str, Dict[str, Optional[float]]]:
    out = {}
    for bench, by in res["benchmarks"].items():
        m = {k: v["median_s"] for k, v in by.items()}
        out[bench] = {"ours": div(m.get("stdlib"), m.get("ours")), "copium": div(m.get("stdlib"), m.get("copium")),
                      "copium_over_ours": div(m.get("copium"), m.get("ours"))}
    return out


def table_pyperformance(res: Dict[str, Any]) -> Table:
    def fmt_s(v: Optional[float]) -> str:
        return run.fmt_ns(v * 1e9) if v else "-"

    rows = []
    ratios = pyperf_ratios(res)
    for bench, by in res["benchmarks"].items():
        r = ratios[bench]
        rows.append([bench] + [fmt_s(by.get(k, {}).get("median_s")) for k in ("stdlib", "ours", "copium")]
                    + [x(r["ours"]), x(r["copium"]), x(r["copium_over_ours"])])
    notes = ["pyperformance %s, bm_deepcopy run by pyperf %s; %d rounds rotating the order, each appending to "
             "the config's JSON; medians of all values. ours via %s; copium via COPIUM_PATCH_ENABLE=1 "
             "(copium's own .pth hook)." % (res["pyperformance"], res["pyperf"], res["rounds"], res["ours_via"]),
             "copy.deepcopy runs the stdlib code, checked in a process with each config's environment: %s."
             % ", ".join("%s=%s" % kv for kv in res["routes_to_stdlib"].items())]
    return Table("pyperformance bm_deepcopy (Python %s)" % res["python"],
                 ["benchmark", "stdlib", "ours", "copium", "xours", "xcopium", "copium/ours"], rows, notes,
                 res["commands"])


def table_startup(res: Dict[str, Any]) -> Table:
    rows = []
    for label, by in res["startup"].items():
        b, sh = by["bare"], by["shim"]
        rows.append(["python -c %r" % STARTUP_CODES_TEXT.get(label, label), str(res["runs_each"][label])]
                    + ["%.2f ms" % b["cpu"]["median_ms"], "%.2f ms" % sh["cpu"]["median_ms"],
                       "%+.2f ms" % sh["cpu"]["diff_ms"], "%.3f" % sh["cpu"]["ratio"]]
                    + ["%.2f ms" % b["wall"]["median_ms"], "%.2f ms" % sh["wall"]["median_ms"],
                       "%+.2f ms" % sh["wall"]["diff_ms"]])
    imp = res["import_engine"]
    notes = ["Runs without and with `PYTHONPATH=shim` alternate; medians per process of its CPU time (user + "
             "system, from `wait4`: little disturbed by other work on the machine) and of the wall time "
             "around the spawn (disturbed by it). Bytecode caches allowed (`PYTHONDONTWRITEBYTECODE` unset), "
             "warmed up first. Interpreter: `%s`." % res["interpreter"]]
    for label, mods in res["startup_modules"].items():
        notes.append("Modules the shim adds to `python -c %r`: %s." % (STARTUP_CODES_TEXT.get(label, label),
                                                                       ", ".join(mods) or "none"))
    notes.append("`import fastdeepcopy._engine` alone (`-X importtime`, cumulative, median of %d): %s us; "
                 "modules it imports: %s." % (imp["runs"], imp["cumulative_us_median"], ", ".join(imp["modules"])))
    return Table("Start-up (Python %s)" % res["python"],
                 ["command", "runs each", "CPU bare", "CPU shim", "CPU difference", "CPU ratio", "wall bare",
                  "wall shim", "wall difference"], rows, notes, res["commands"])


STARTUP_CODES_TEXT = {"pass": "pass", "import copy": "import copy",
                      "first deepcopy": "import copy; copy.deepcopy({})"}


TABLES: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "main": lambda r: [t for t in (table_main(r), table_patched(r)) if t],
    "floors": lambda r: [table_floors(r)],
    "history": lambda r: [table_history(r)],
    "patch": lambda r: [table_patch(r)],
    "pyperformance": lambda r: [table_pyperformance(r)],
    "startup": lambda r: [table_startup(r)],
}


def print_part(res: Dict[str, Any]) -> None:
    for t in TABLES[res["kind"]](res):
        print(t.text())


# ---------------------------------------------------------------------------
# targets of issue 5
# ---------------------------------------------------------------------------


def _fmt_case_ratios(items: Sequence[Tuple[str, Optional[float]]]) -> str:
    return ", ".join("%s %s" % (n, x(v)) for n, v in items)


def targets(parts: Dict[str, Dict[str, Any]], pyver: str) -> Table:
    rows: List[List[str]] = []

    def add(target: str, measured: str, ok: Optional[bool]) -> None:
        rows.append([target, measured, "n/a" if ok is None else ("met" if ok else "**not met**")])

    main = parts.get("main")
    if main:
        m = main_metrics(main)
        co = {n: v["copium_over_ours"] for n, v in m.items()}
        if all(v is None for v in co.values()):
            add("every case: ours time <= copium time", "copium not measured", None)
        else:
            worst = sorted((v, n) for n, v in co.items() if v is not None)
            missing = [n for n, v in co.items() if v is None]
            bad = [(n, v) for v, n in worst if v < 1.0]
            add("every case: ours time <= copium time (copium/ours >= 1.00)",
                ("worst: %s" % _fmt_case_ratios([(n, v) for v, n in worst[:3]]))
                + ("; below 1.00 in %d of %d cases" % (len(bad), len(worst)))
                + ("; not comparable: %s" % ", ".join(missing) if missing else ""),
                not bad and not missing)
            g = run.geomean([v for v in co.values() if v])
            add("geometric mean: ours >= 1.5x copium", "%s" % x(g), g is not None and g >= 1.5)
            two = [(n, co.get(n)) for n in TWO_X_CASES if n in co]
            add("dataclasses, __slots__, namedtuples, datetimes: ours >= 2x copium", _fmt_case_ratios(two),
                all(v is not None and v >= 2.0 for _, v in two) and bool(two))
            g2 = co.get("graph_cyclic")
            add("cyclic graphs: ours >= 1.5x copium", x(g2), g2 is not None and g2 >= 1.5)
        e = m.get("enums")
        if e:
            r = div(e["ours"], e["pickle"])
            add("enums: ours faster than pickle", "pickle/ours %s" % x(r), r is not None and r > 1.0)
        c = m.get("custom_deepcopy")
        if c:
            add("custom __deepcopy__ (patched): ours >= 1.5x stdlib", x(c["ours"]),
                c["ours"] is not None and c["ours"] >= 1.5)
        mem = [(n, v["mem_ours"]) for n, v in m.items() if v.get("mem_ours") is not None]
        worst_mem = sorted(mem, key=lambda kv: -kv[1])[:3]
        add("memory: tracemalloc peak ours <= stdlib, every case",
            "highest ours/stdlib: " + ", ".join("%s %.2f" % kv for kv in worst_mem),
            bool(mem) and all(v <= 1.0 for _, v in mem))
    floors = parts.get("floors")
    if floors:
        cs = floors["run"]["cases"]
        for name, limit, label in (("flat_ints", 2.0, "flat list of 10,000 ints: ours within 2x of list.copy()"),
                                   ("tuples_atomic", 4.0, "list of tuples of atomics: ours within 4x of list.copy()")):
            if name in cs:
                r = div(med(cs[name], "ours"), med(cs[name], "list.copy"))
                add(label, "ours/list.copy %s" % x(r), r is not None and r <= limit)
    pp = parts.get("pyperformance")
    if pp:
        r = pyperf_ratios(pp)
        vals = [(b, v["copium_over_ours"]) for b, v in r.items()]
        if "copium" not in pp["configs"]:
            add("pyperformance bm_deepcopy: ours >= copium on all three", "copium not measured", None)
        else:
            add("pyperformance bm_deepcopy: ours >= copium on all three", "copium/ours: " + _fmt_case_ratios(vals),
                bool(vals) and all(v is not None and v >= 1.0 for _, v in vals))
    pa = parts.get("patch")
    if pa and "ours" in pa["runs"]:
        r = patch_ratios(pa)["ours"]
        sd = r.get("small_dict") or next(iter(r.values()))
        applies = tuple(int(p) for p in pyver.split(".")) >= (3, 12)
        add("patch overhead <= 5% (3.12+; reported on 3.10/3.11)",
            "patched/direct %s (net %s), small_dict" % (x(sd["gross"], 3), x(sd["net"], 3)),
            (sd["gross"] is not None and sd["gross"] <= 1.05) if applies else None)
    st = parts.get("startup")
    if st:
        diffs = [(k, v["shim"]["cpu"]["diff_ms"]) for k, v in st["startup"].items()]
        add("start-up overhead <= 2 ms (CPU time of `python -c pass`; others shown)",
            ", ".join("%s %+.2f ms" % kv for kv in diffs), st["startup"]["pass"]["shim"]["cpu"]["diff_ms"] <= 2.0)
    hi = parts.get("history")
    if hi and "ours" in hi["runs"]:
        r = history_ratios(hi)["ours"]
        vals = [(c, p, v) for c, by in r.items() for p, v in by.items() if v is not None]
        worst = max(vals, key=lambda t: abs(t[2] - 1.0)) if vals else None
        add("history independence: ours within 10% primed vs unprimed",
            "worst %s after %s: %.3f" % worst if worst else "-",
            bool(vals) and all(abs(v - 1.0) <= 0.10 for _, _, v in vals))
    return Table("Targets vs measured (Python %s)" % pyver, ["target (issue 5)", "measured", "verdict"], rows,
                 ["Verdicts are computed by `bench/report.py` from the tables above (strict: a ratio of 0.99 "
                  "where 1.00 is required is *not met*)."])


# ---------------------------------------------------------------------------
# markdown per version
# ---------------------------------------------------------------------------


def load_parts(results: str, pyver: str) -> Dict[str, Dict[str, Any]]:
    parts = {}
    for p in PARTS:
        path = os.path.join(results, pyver, p + ".json")
        if os.path.exists(path):
            with open(path) as f:
                parts[p] = json.load(f)
    return parts


def version_markdown(parts: Dict[str, Dict[str, Any]], pyver: str) -> str:
    any_part = next(iter(parts.values()))
    eng = any_part["engine"]
    lines = ["### Python %s" % any_part["python"], ""]
    lines.append("Engine: `%s` (commit %s%s, built %s, sha256 %s…); copium %s. Machine: 2 shared cores, "
                 "so only ratios from one run are compared." % (
                     eng.get("extension"), eng.get("commit", "?"),
                     " + uncommitted changes in src/ or shim/" if eng.get("src_modified") else "",
                     eng.get("built", "?"), eng.get("sha256_12", "?"),
                     any_part["copium"].get("version") or "not importable (%s)" % any_part["copium"].get("why")))
    lines.append("")
    lines.append("| part | measured on | engine sha256 | load average at start |")
    lines.append("|---|---|---|---:|")
    for p in PARTS:
        if p in parts:
            la = parts[p].get("loadavg")
            lines.append("| %s | %s | %s… | %s |" % (p, parts[p]["date"], parts[p]["engine"].get("sha256_12", "?"),
                                                   "%.2f" % la[0] if la else "-"))
    lines.append("")
    body = [targets(parts, pyver)]
    for p in PARTS:
        if p in parts:
            body += TABLES[p](parts[p])
    return "\n".join(lines) + "\n" + "\n".join(t.markdown() for t in body)


def begin_marker(pyver: str) -> str:
    return "<!-- BEGIN GENERATED %s: make bench-report PYTHON=python%s -->" % (pyver, pyver)


def end_marker(pyver: str) -> str:
    return "<!-- END GENERATED %s -->" % pyver


def replace_section(text: str, pyver: str, body: str) -> str:
    begin, end = begin_marker(pyver), end_marker(pyver)
    i = text.find("<!-- BEGIN GENERATED %s:" % pyver)
    j = text.find(end)
    block = "%s\n%s\n%s" % (begin, body.rstrip("\n"), end)
    if i >= 0 and j > i:
        return text[:i] + block + text[j + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(results: str, versions: List[str], write: Optional[str]) -> int:
    found = False
    text = None
    if write:
        with open(write) as f:
            text = f.read()
    for v in versions:
        parts = load_parts(results, v)
        if not parts:
            print("no results for %s in %s" % (v, results))
            continue
        found = True
        if text is not None:
            text = replace_section(text, v, version_markdown(parts, v))
        else:
            print(targets(parts, v).text())
            for p in PARTS:
                if p in parts:
                    for t in TABLES[p](parts[p]):
                        print(t.text())
    if write and found and text is not None:
        with open(write, "w") as f:
            f.write(text)
        print("updated %s" % write)
    return 0 if found else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--versions", default="3.11,3.12,3.13")
    ap.add_argument("--write")
    a = ap.parse_args()
    sys.exit(main(a.results, a.versions.split(","), a.write))
