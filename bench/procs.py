#!/usr/bin/env python3
"""Side by side, one process per contender: for patched copy.deepcopy and for history.

    python bench/procs.py --cases custom_deepcopy \\
        --contender stdlib --contender pickle \\
        --contender ours=impls:ours_patched --contender copium=impls:copium_patched
    python bench/procs.py --cases 'small_*' --ref ours \\
        --contender ours=impls:ours \\
        --contender ours+json=impls:ours@prime=json_records \\
        --contender ours+lists=impls:ours@prime=lists_100k

``bench/run.py`` times every impl in one process.  That is wrong in two
situations, and this script covers them:

- an impl that patches ``copy.deepcopy`` (``impls:ours_patched``) changes the
  process for everyone, e.g. the inner calls that a ``__deepcopy__`` makes
  through ``copy.deepcopy`` (case ``custom_deepcopy``);
- a deliberate history (``@prime=CASE``: one deep copy of CASE's object, in the
  same thread, before the case) must not leak into the unprimed contender.

A contender is ``LABEL=SPEC[@prime=CASE]`` (``stdlib`` and ``pickle`` alone are
fine); SPEC is what ``run.py --impl`` takes (``stdlib``, ``pickle``,
``module:attr``).  CASE is any case of ``cases.py`` or one of ``PRIME_BUILDERS``
here (``lists_100k``: a list of 100,000 one-element lists).

Per case, every contender gets its own worker process (started one after the
other, never two working at once): it builds the case's object, computes
stdlib's reference copy *before* its impl is loaded (so the reference is pure
stdlib even if the impl patches ``copy.deepcopy``), loads the impl, primes,
checks the impl's result against the reference (``run.run_checks``: types,
values, aliasing, sharing), and calibrates its loop count.  Then the parent
runs ``--repeat`` rounds; in each round every worker times one batch, in
rotated order (A B C, B C A, ...), while the others wait on their pipe -- the
same interleaving as ``run.py``, across processes.  Reported per call: min and
median, ratio = REF / contender (REF = ``--ref``, default the first
contender; higher = faster), and tracemalloc's peak of one call.
The JSON output has ``run.py --json``'s shape.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, IO, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import cases as cases_module  # noqa: E402
import run  # noqa: E402


def build_lists_100k() -> list:
    return [[i] for i in range(100_000)]


PRIME_BUILDERS: Dict[str, Callable[[], Any]] = {"lists_100k": build_lists_100k}


def prime_builder(name: str) -> Callable[[], Any]:
    if name in PRIME_BUILDERS:
        return PRIME_BUILDERS[name]
    all_cases = cases_module.cases()
    if name in all_cases:
        return all_cases[name][1]
    raise SystemExit("error: unknown prime %r (a case name or one of %s)" % (name, ", ".join(PRIME_BUILDERS)))


class Contender:
    def __init__(self, raw: str) -> None:
        spec, _, opts = raw.partition("@")
        if "=" in spec:
            label, spec = spec.split("=", 1)
        elif spec in run.BUILTIN_IMPLS:
            label = spec
        else:
            raise SystemExit("error: contender %r needs a LABEL= (e.g. ours=impls:ours)" % raw)
        self.label = label.strip()
        self.spec = spec.strip()
        self.prime: Optional[str] = None
        for opt in filter(None, (o.strip() for o in opts.split(","))):
            key, _, value = opt.partition("=")
            if key == "prime" and value:
                prime_builder(value)  # validate early
                self.prime = value
            else:
                raise SystemExit("error: unknown contender option %r in %r" % (opt, raw))

    def describe(self) -> Dict[str, Any]:
        return {"spec": self.spec, "prime": self.prime}


# ---------------------------------------------------------------------------
# worker (one per contender and case)
# ---------------------------------------------------------------------------


def _load_fn(spec: str) -> Tuple[Callable[[Any], Any], Dict[str, Any]]:
    if spec in run.BUILTIN_IMPLS:
        return run.BUILTIN_IMPLS[spec][1], {}
    return run._resolve(spec)


def worker(case: str, spec: str, prime: Optional[str], min_time: float) -> int:
    out = os.fdopen(os.dup(1), "w")  # the pipe to the parent; stray prints go to stderr
    sys.stdout = sys.stderr

    def send(msg: Dict[str, Any]) -> None:
        out.write(json.dumps(msg, default=str) + "\n")
        out.flush()

    obj = cases_module.cases()[case][1]()
    reference = run.STDLIB_DEEPCOPY(obj)  # before the impl is loaded: pure stdlib
    ctx = run.CaseContext(obj, reference)
    try:
        fn, info = _load_fn(spec)
    except Exception as exc:
        send({"ready": False, "error": "cannot load %s: %s: %s" % (spec, type(exc).__name__, exc)})
        return 0
    impls_mod = sys.modules.get("impls")
    if impls_mod is not None:
        info["patch_method"] = dict(getattr(impls_mod, "METHOD", {}))
        info["copy_deepcopy_runs_stdlib"] = impls_mod.deepcopy_routes_to_stdlib()
    if prime:
        prime_obj = prime_builder(prime)()
        try:
            fn(prime_obj)
        except Exception as exc:
            info["prime_error"] = "%s: %s" % (type(exc).__name__, exc)
        del prime_obj
    chk = run.run_checks(run.Impl(spec, spec, fn, info), ctx)
    del ctx, reference
    # the largest of three calibrations: the least disturbed by other processes
    loops = max(run.calibrate(fn, obj, int(min_time * 1e9)) for _ in range(3)) if chk["ok"] else 0
    send({"ready": True, "check": chk, "loops": loops, "info": info})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd.startswith("loops "):
            loops = int(cmd.split()[1])
            send({"loops": loops})
        elif cmd == "time":
            gc.collect()
            send({"ns": run.time_batch(fn, obj, loops) / loops})
        elif cmd == "mem":
            send({"memory": run.tracemalloc_peak(fn, obj)})
        else:
            break
    return 0


class Worker:
    def __init__(self, contender: Contender, case: str, min_time: float) -> None:
        self.contender = contender
        cmd = [sys.executable, "-X", "faulthandler", os.path.abspath(__file__), "--worker",
               "--cases", case, "--spec", contender.spec, "--min-time", repr(min_time)]
        if contender.prime:
            cmd += ["--prime", contender.prime]
        # stderr to a file, not a pipe: a chatty impl (a warning per call) must not block on it
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)

    def ask(self, cmd: Optional[str]) -> Dict[str, Any]:
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        if cmd is not None:
            stdin.write(cmd + "\n")
            stdin.flush()
        line = stdout.readline()
        if not line:
            self.proc.wait()
            self.err.seek(0)
            err = self.err.read()
            raise RuntimeError("worker %s died (exit %s): %s"
                               % (self.contender.label, self.proc.returncode, err[-1500:]))
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
                self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


# ---------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------


def pin_cpu(choice: str) -> Optional[int]:
    """Pin this process (and so the workers it starts) to one CPU.

    Unpinned, each worker tends to stay on the core it woke up on, and on a
    shared machine one core can be busier than the other for minutes: identical
    contenders then differ by up to 2x.  On one core, every contender sees the
    same load, interleaved batch by batch.
    """
    if choice == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[-1] if choice == "auto" else int(choice)
    os.sched_setaffinity(0, {cpu})
    return cpu


def run_case(name: str, contenders: List[Contender], ref: str, args: argparse.Namespace) -> Dict[str, Any]:
    desc = cases_module.cases()[name][0]
    case: Dict[str, Any] = {"description": desc, "check": {}, "timing": {}, "memory": {}, "info": {},
                            "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None}
    workers: List[Worker] = []
    try:
        for c in contenders:
            w = Worker(c, name, args.min_time)
            try:
                ready = w.ask(None)
            except RuntimeError as exc:
                case["check"][c.label] = {"ok": False, "error": str(exc), "mismatches": []}
                w.close()
                continue
            if not ready.get("ready"):
                case["check"][c.label] = {"ok": False, "error": ready.get("error"), "mismatches": []}
                w.close()
                continue
            case["check"][c.label] = ready["check"]
            case["info"][c.label] = ready.get("info", {})
            if ready["check"]["ok"]:
                w.loops = ready["loops"]  # type: ignore[attr-defined]
                workers.append(w)
            else:
                w.close()
        all_loops = [w.loops for w in workers]  # type: ignore[attr-defined]
        if workers and (args.same_loops or (len({c.spec for c in contenders}) == 1
                                            and max(all_loops) <= 3 * min(all_loops))):
            # one impl, several histories, similar speeds: equal batches, so that preemption
            # hits all alike (a contender many times slower keeps its own count: equal loops
            # would make its batches last many times --min-time)
            common = max(all_loops)
            for w in workers:
                w.loops = w.ask("loops %d" % common)["loops"]  # type: ignore[attr-defined]
        samples: Dict[str, List[float]] = {w.contender.label: [] for w in workers}
        k = len(workers)
        for r in range(args.repeat):
            for w in workers[r % k:] + workers[: r % k]:
                samples[w.contender.label].append(w.ask("time")["ns"])
        for w in workers:
            entry: Dict[str, Any] = {"loops": w.loops, "samples_ns": samples[w.contender.label]}  # type: ignore[attr-defined]
            entry.update(run.summarize(samples[w.contender.label]))
            case["timing"][w.contender.label] = entry
            if not args.no_memory:
                case["memory"][w.contender.label] = w.ask("mem")["memory"]
    except RuntimeError as exc:
        case["crashed"] = 1
        case["output_tail"] = str(exc)
    finally:
        for w in workers:
            w.close()
    ref_t = case["timing"].get(ref)
    if ref_t:
        for t in case["timing"].values():
            t["ratio_median"] = ref_t["median_ns"] / t["median_ns"]
            t["ratio_min"] = ref_t["min_ns"] / t["min_ns"]
    return case


def print_summary(report: Dict[str, Any], labels: List[str], ref: str) -> None:
    others = [x for x in labels if x != ref]
    print("== summary: %s median per call, and %s/contender ratio of medians (higher = faster)" % (ref, ref))
    rows = []
    for name, case in report["cases"].items():
        ref_t = case["timing"].get(ref)
        row = [name, run.fmt_ns(ref_t["median_ns"]) if ref_t else "-"]
        for o in others:
            t = case["timing"].get(o)
            if t is None or "ratio_median" not in t:
                chk = case["check"].get(o, {})
                row.append("CRASH" if case.get("crashed") else "ERROR" if chk.get("error") else "-" if not chk else "MISMATCH")
            else:
                row.append("%.3fx" % t["ratio_median"])
        rows.append(row)
    run.print_table(rows, ["case", ref] + others, right=range(1, 2 + len(others)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contender", action="append", default=[], metavar="LABEL=SPEC[@prime=CASE]",
                    help="a contender, in its own process (repeatable)")
    ap.add_argument("--ref", help="label the ratios are relative to (default: the first contender)")
    ap.add_argument("--cases", default="custom_deepcopy", help="case names or fnmatch patterns")
    ap.add_argument("--repeat", type=int, default=15, help="interleaved rounds per case (default 15)")
    ap.add_argument("--min-time", type=float, default=0.02, help="target seconds per batch (default 0.02)")
    ap.add_argument("--cpu", default="auto",
                    help="pin this process and every worker to one CPU: a number, 'auto' (the last one)"
                         " or 'none' (default auto)")
    ap.add_argument("--same-loops", action="store_true",
                    help="give every contender the same loop count (automatic when all share one SPEC"
                         " and their calibrations are within 3x)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc measurement")
    ap.add_argument("--json", help="write every number to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--prime", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return worker(args.cases, args.spec, args.prime, args.min_time)
    if args.repeat < 1:
        raise SystemExit("error: --repeat must be >= 1")
    contenders = [Contender(c) for c in (args.contender or ["stdlib", "pickle"])]
    labels = [c.label for c in contenders]
    if len(set(labels)) != len(labels):
        raise SystemExit("error: contender labels must be unique: %s" % labels)
    ref = args.ref or labels[0]
    if ref not in labels:
        raise SystemExit("error: --ref %r is not a contender label" % ref)
    names = run.select_cases(list(cases_module.cases()), args.cases)
    pinned = pin_cpu(args.cpu)

    report: Dict[str, Any] = {
        "meta": {
            "tool": "bench/procs.py (one process per contender)",
            "python": sys.version,
            "executable": sys.executable,
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": list(sys.argv if argv is None else argv),
            "repeat": args.repeat,
            "min_time_s": args.min_time,
            "ref": ref,
            "cpu": pinned,
        },
        "impls": {c.label: c.describe() for c in contenders},
        "cases": {},
    }
    print("python %s  (%s)" % (sys.version.split()[0], sys.executable))
    print("contenders (one process each): " + ", ".join(
        "%s=%s%s" % (c.label, c.spec, "@prime=" + c.prime if c.prime else "") for c in contenders))
    print("repeat=%d  min-time=%.3fs  ratios relative to %s  %s\n"
          % (args.repeat, args.min_time, ref, "all processes on CPU %s" % pinned if pinned is not None else "not pinned"))
    impl_rows = [run.Impl(c.label, c.spec, None, {}) for c in contenders]  # type: ignore[arg-type]
    for name in names:
        t0 = time.perf_counter()
        case = run_case(name, contenders, ref, args)
        report["cases"][name] = case
        run._print_case(name, case, impl_rows, time.perf_counter() - t0)
        for label, info in case["info"].items():
            if info.get("patch_method") or info.get("prime_error"):
                print("  .. %s: %s" % (label, ", ".join("%s=%s" % kv for kv in sorted(info.items())
                                                         if kv[0] != "module_file")))
    print_summary(report, labels, ref)
    report["meta"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
        print("\nwrote %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
