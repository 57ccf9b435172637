#!/usr/bin/env python3
"""Patch overhead: ``copy.deepcopy(x)`` patched vs the implementation called directly.

    python bench/overhead.py --impl ours   [--cases small_dict,pyperf_dict] [--repeat 200] [--json out.json]
    python bench/overhead.py --impl copium

In one process: ``direct`` is ``impls:IMPL`` (e.g. ``fastdeepcopy.deepcopy``),
``patched`` is the live ``copy.deepcopy`` after ``impls:IMPL_patched`` patched
it (``fastdeepcopy.enable()``: on 3.12+ the same function object with its
vectorcall swapped, before 3.12 a trampoline ``__code__``).  Both, and the
bare loop calling ``callable(obj)``, run with the *same* loop count in short
interleaved batches (A B C, B C A, ...): on a loaded machine, batches of equal
length are preempted alike, so the ratio of medians measures the patch and not
the scheduler.  The result of each is checked against stdlib first
(``run.run_checks``).  Reported: median and min per call, patched/direct
(gross), and net of the loop (``(patched - loop) / (direct - loop)``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import cases as cases_module  # noqa: E402
import impls  # noqa: E402
import run  # noqa: E402

LOOP = run.BASELINE


def measure(obj: Any, fns: List[Tuple[str, Callable[[Any], Any]]], repeat: int, min_time: float) -> Dict[str, Any]:
    direct = fns[0][1]
    loops = max(run.calibrate(direct, obj, int(min_time * 1e9)) for _ in range(3))
    samples: Dict[str, List[float]] = {n: [] for n, _ in fns}
    k = len(fns)
    for r in range(repeat):
        for name, fn in fns[r % k:] + fns[: r % k]:
            gc.collect()
            samples[name].append(run.time_batch(fn, obj, loops) / loops)
    out: Dict[str, Any] = {}
    for name, _ in fns:
        entry: Dict[str, Any] = {"loops": loops, "samples_ns": samples[name]}
        entry.update(run.summarize(samples[name]))
        out[name] = entry
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impl", default="ours", choices=["ours", "copium"])
    ap.add_argument("--cases", default="small_dict,pyperf_dict")
    ap.add_argument("--repeat", type=int, default=400, help="interleaved rounds (default 400)")
    ap.add_argument("--min-time", type=float, default=0.002,
                    help="seconds per batch (default 0.002: shorter than a scheduler slice)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    all_cases = cases_module.cases()
    names = run.select_cases(list(all_cases), args.cases)
    direct = getattr(impls, args.impl)
    before = sys.modules["copy"].deepcopy
    patched = getattr(impls, args.impl + "_patched")
    code = getattr(patched, "__code__", None)
    info = {"method": impls.METHOD.get(args.impl + "_patched"),
            "same_function_object": patched is before,
            # before 3.12 the patchers swap __code__ for a trampoline; from 3.12 the vectorcall
            "code_swapped": code is not None and code.co_code != impls._lib_copy_code().co_code,
            "copy_deepcopy_runs_stdlib": impls.deepcopy_routes_to_stdlib()}
    fns = [("direct", direct), ("patched", patched), (LOOP, callable)]
    report: Dict[str, Any] = {"meta": {"tool": "bench/overhead.py", "python": sys.version, "impl": args.impl,
                                       "repeat": args.repeat, "min_time_s": args.min_time,
                                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                       "argv": list(sys.argv if argv is None else argv)},
                              "patch": info, "cases": {}}
    print("python %s: %s.deepcopy(x) vs copy.deepcopy(x) patched with %s (same function object: %s)"
          % (sys.version.split()[0], args.impl, info["method"], info["same_function_object"]))
    if info["copy_deepcopy_runs_stdlib"]:
        raise SystemExit("error: copy.deepcopy still runs the stdlib code after the patch")
    for name in names:
        obj = all_cases[name][1]()
        ctx = run.CaseContext(obj, run.STDLIB_DEEPCOPY(obj))
        check = {n: run.run_checks(run.Impl(n, n, fn, {}), ctx) for n, fn in fns[:2]}
        bad = [n for n, c in check.items() if not c["ok"]]
        case: Dict[str, Any] = {"description": all_cases[name][0], "check": check, "timing": {}}
        if not bad:
            t = measure(obj, fns, args.repeat, args.min_time)
            d, p, b = t["direct"], t["patched"], t[LOOP]
            case["timing"] = t
            case["patched_over_direct"] = p["median_ns"] / d["median_ns"]
            case["patched_over_direct_min"] = p["min_ns"] / d["min_ns"]
            if d["median_ns"] > b["median_ns"]:
                case["net"] = (p["median_ns"] - b["median_ns"]) / (d["median_ns"] - b["median_ns"])
            print("  %-12s direct %s  patched %s  loop %s  patched/direct %.3f (min %.3f, net %s)"
                  % (name, run.fmt_ns(d["median_ns"]), run.fmt_ns(p["median_ns"]), run.fmt_ns(b["median_ns"]),
                     case["patched_over_direct"], case["patched_over_direct_min"],
                     "%.3f" % case["net"] if "net" in case else "-"))
        else:
            print("  %-12s not timed: %s failed the check: %s" % (name, ", ".join(bad), check))
        report["cases"][name] = case
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
