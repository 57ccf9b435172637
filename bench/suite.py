#!/usr/bin/env python3
"""The project's benchmark suite: runs the harnesses, keeps every number as JSON.

    python bench/suite.py main          [--cases A,B] [--run-args '...'] [--json PATH]
    python bench/suite.py history       small cases unprimed vs primed, per impl
    python bench/suite.py patch         copy.deepcopy patched vs the impl called directly
    python bench/suite.py floors        flat ints / tuples vs list.copy()
    python bench/suite.py pyperformance pyperformance's bm_deepcopy: stdlib, shim, copium
    python bench/suite.py startup       python -c pass with and without the shim; import time
    python bench/suite.py report        [--write docs/performance.md]

Run it with the benchmark venv's interpreter (``make bench`` makes it:
``.venv/bench-X.Y``, with copium, pyperf and pyperformance).  Results go to
``--out`` (default ``bench/results/X.Y/``, one ``NAME.json`` per part), which
``report`` turns into tables (and into docs/performance.md with ``--write``).

Every figure is a ratio of two things measured side by side in one run:

- main: ``bench/run.py`` (all impls interleaved in one process per case) with
  stdlib, pickle, ours (``impls:ours`` = fastdeepcopy.deepcopy) and copium;
  then case ``custom_deepcopy`` again with ``bench/procs.py``, every impl
  patched into ``copy.deepcopy`` in its own process (what the shim's users get).
- history: ``procs.py``, per impl four processes -- unprimed, after one copy of
  ``json_records``, after one copy of a list of 100,000 lists, and a second
  unprimed one (the noise floor) -- interleaved.
- patch: ``bench/overhead.py``: the impl called directly and through
  ``copy.deepcopy`` patched, in one process, equal batches interleaved.
- floors: ``run.py`` with ``list.copy`` as an impl.
- pyperformance: bm_deepcopy run by pyperf three ways, in rounds that rotate
  the order (``--append``), so that all three see the same machine.
- startup: runs with and without ``PYTHONPATH=shim`` alternate (``-c pass``,
  ``-c "import copy"``, and a first ``copy.deepcopy`` call).

Copium missing or not importable on a version is reported, and the run goes on
without it.  Standard library only (pyperf for the pyperformance part).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHIM = os.path.join(REPO, "shim")
PYVER = "%d.%d" % sys.version_info[:2]
SMALL_CASES = "small_dict,small_atomic,small_empty_list,pyperf_dict"
# variables that switch a shim or a patch on; cleared for every child unless a part sets them
TOGGLES = ("PYTHONPATH", "FASTDEEPCOPY", "COPIUM_PATCH_ENABLE", "COPIUM_PATCH_DISABLE")

if HERE not in sys.path:
    sys.path.insert(0, HERE)

import report as report_mod  # noqa: E402


def rel(path: str) -> str:
    ap = os.path.abspath(path)
    return os.path.relpath(ap, REPO) if ap.startswith(REPO + os.sep) else path


def shell_line(argv: Sequence[str], env: Optional[Dict[str, str]] = None) -> str:
    """The command as one would type it from the repo's root."""
    pre = ["%s=%s" % (k, rel(v) if os.sep in v else v) for k, v in sorted((env or {}).items())]
    return " ".join(shlex.quote(x) for x in pre + [rel(a) for a in argv])


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TOGGLES}
    env.update(extra or {})
    return env


def run(argv: List[str], extra_env: Optional[Dict[str, str]] = None, quiet: bool = False) -> str:
    """Run a command with the toggles cleared (plus ``extra_env``); echo and return its output."""
    print("$ " + shell_line(argv, extra_env), flush=True)
    proc = subprocess.Popen(argv, env=clean_env(extra_env), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = []
    for line in proc.stdout:  # type: ignore[union-attr]
        out.append(line)
        if not quiet:
            sys.stdout.write(line)
            sys.stdout.flush()
    if proc.wait() != 0:
        if quiet:
            sys.stdout.write("".join(out[-40:]))
        raise SystemExit("error: command failed (exit %d): %s" % (proc.returncode, shell_line(argv, extra_env)))
    return "".join(out)


def load_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def tmp_json(tag: str) -> str:
    fd, path = tempfile.mkstemp(prefix="bench-%s-" % tag, suffix=".json")
    os.close(fd)
    return path


# ---------------------------------------------------------------------------
# what is being measured
# ---------------------------------------------------------------------------


NO_COPIUM = False  # --no-copium


def copium_status() -> Dict[str, Any]:
    if NO_COPIUM:
        return {"ok": False, "why": "left out with --no-copium"}
    try:
        import copium  # noqa: F401
    except Exception as exc:
        return {"ok": False, "why": "%s: %s" % (type(exc).__name__, exc)}
    from importlib import metadata

    try:
        version = metadata.version("copium")
    except Exception:
        version = "?"
    return {"ok": True, "version": version}


def engine_info() -> Dict[str, Any]:
    import sysconfig

    so = os.path.join(SHIM, "fastdeepcopy", "_engine" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    info: Dict[str, Any] = {"extension": rel(so)}
    if os.path.exists(so):
        with open(so, "rb") as f:
            info["sha256_12"] = hashlib.sha256(f.read()).hexdigest()[:12]
        info["built"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(so)))
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                                        capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "shim", "Makefile"], cwd=REPO,
                               text=True, capture_output=True).stdout.strip()
        info["src_modified"] = bool(dirty)
    except OSError:
        pass
    info["shim_sitecustomize"] = os.path.exists(os.path.join(SHIM, "sitecustomize.py"))
    return info


def header(kind: str) -> Dict[str, Any]:
    return {
        "kind": kind,
        "python": sys.version.split()[0],
        "pyver": PYVER,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "engine": engine_info(),
        "copium": copium_status(),
        "commands": [],
    }


def note_copium(res: Dict[str, Any]) -> bool:
    st = res["copium"]
    if not st["ok"]:
        print("note: copium is not importable on Python %s (%s); continuing without it" % (PYVER, st["why"]))
    return bool(st["ok"])


def save(res: Dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)
    print("wrote %s" % rel(path))


# ---------------------------------------------------------------------------
# parts
# ---------------------------------------------------------------------------


def part_main(args: argparse.Namespace) -> Dict[str, Any]:
    res = header("main")
    has_copium = note_copium(res)
    impls = ["pickle", "ours=impls:ours"] + (["copium=impls:copium"] if has_copium else [])
    out = tmp_json("main")
    argv = [sys.executable, os.path.join(HERE, "run.py")]
    for i in impls:
        argv += ["--impl", i]
    if args.cases:
        argv += ["--cases", args.cases]
    argv += shlex.split(args.run_args or "") + ["--json", out]
    run(argv)
    res["commands"].append(shell_line(argv[:-2]))
    res["run"] = load_json(out)
    os.unlink(out)
    if "custom_deepcopy" in res["run"]["cases"]:
        print("\n# custom_deepcopy with each impl patched into copy.deepcopy, one process each\n")
        contenders = ["stdlib", "pickle", "ours=impls:ours_patched"]
        if has_copium:
            contenders.append("copium=impls:copium_patched")
        res["patched"] = procs(res, contenders, "custom_deepcopy", None, args.procs_args)
    return res


def procs(res: Dict[str, Any], contenders: List[str], cases: str, ref: Optional[str],
          extra: Optional[str] = None) -> Dict[str, Any]:
    out = tmp_json("procs")
    argv = [sys.executable, os.path.join(HERE, "procs.py"), "--cases", cases]
    for c in contenders:
        argv += ["--contender", c]
    if ref:
        argv += ["--ref", ref]
    argv += shlex.split(extra or "") + ["--json", out]
    run(argv)
    res["commands"].append(shell_line(argv[:-2]))
    data = load_json(out)
    os.unlink(out)
    return data


def part_history(args: argparse.Namespace) -> Dict[str, Any]:
    res = header("history")
    impls = {"ours": "impls:ours"}
    if note_copium(res):
        impls["copium"] = "impls:copium"
    res["runs"] = {}
    for name, spec in impls.items():
        print("\n# history independence of %s\n" % name)
        # "control" is a second unprimed process: its ratio is the noise floor of this run
        contenders = ["unprimed=%s" % spec, "json_records=%s@prime=json_records" % spec,
                      "lists_100k=%s@prime=lists_100k" % spec, "control=%s" % spec]
        res["runs"][name] = procs(res, contenders, args.cases or SMALL_CASES, "unprimed",
                                  args.procs_args or "--repeat 60")
    return res


def part_patch(args: argparse.Namespace) -> Dict[str, Any]:
    res = header("patch")
    impls = ["ours"] + (["copium"] if note_copium(res) else [])
    res["runs"] = {}
    for name in impls:
        print("\n# patch overhead of %s: copy.deepcopy(x) patched vs %s.deepcopy(x)\n" % (name, name))
        out = tmp_json("patch")
        argv = [sys.executable, os.path.join(HERE, "overhead.py"), "--impl", name]
        if args.cases:
            argv += ["--cases", args.cases]
        argv += shlex.split(args.run_args or "")
        run(argv + ["--json", out])
        res["commands"].append(shell_line(argv))
        res["runs"][name] = load_json(out)
        os.unlink(out)
    return res


def part_floors(args: argparse.Namespace) -> Dict[str, Any]:
    res = header("floors")
    impls = ["ours=impls:ours", "list.copy=builtins:list.copy"]
    if note_copium(res):
        impls.append("copium=impls:copium")
    out = tmp_json("floors")
    argv = [sys.executable, os.path.join(HERE, "run.py"), "--cases", args.cases or "flat_ints,tuples_atomic"]
    for i in impls:
        argv += ["--impl", i]
    argv += ["--no-memory"] + shlex.split(args.run_args or "--repeat 30")
    run(argv + ["--json", out])
    res["commands"].append(shell_line(argv))
    res["run"] = load_json(out)
    os.unlink(out)
    return res


def find_bm_deepcopy() -> Optional[str]:
    try:
        import pyperformance
    except ImportError:
        return None
    base = os.path.dirname(pyperformance.__file__)
    hits = glob.glob(os.path.join(base, "data-files", "benchmarks", "bm_deepcopy", "run_benchmark.py"))
    hits = hits or glob.glob(os.path.join(base, "**", "bm_deepcopy", "run_benchmark.py"), recursive=True)
    return hits[0] if hits else None


def routes_to_stdlib(env: Dict[str, str]) -> Any:
    code = "import sys; sys.path.insert(0, %r); import impls; print(impls.deepcopy_routes_to_stdlib())" % HERE
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(env), text=True, capture_output=True)
    if proc.returncode != 0:
        return "error: " + proc.stderr.strip()[-300:]
    return proc.stdout.strip().splitlines()[-1] == "True"


def part_pyperformance(args: argparse.Namespace) -> Dict[str, Any]:
    import pyperf  # the bench venv has it

    res = header("pyperformance")
    bm = find_bm_deepcopy()
    if bm is None:
        raise SystemExit("error: pyperformance's bm_deepcopy not found (pip install pyperformance)")
    from importlib import metadata

    res["pyperformance"] = metadata.version("pyperformance")
    res["pyperf"] = pyperf.__version__
    res["benchmark_script"] = bm
    configs: Dict[str, Dict[str, str]] = {"stdlib": {}}
    if res["engine"]["shim_sitecustomize"]:
        configs["ours"] = {"PYTHONPATH": SHIM, "FASTDEEPCOPY": "1"}
        res["ours_via"] = "shim (PYTHONPATH=shim FASTDEEPCOPY=1)"
    else:
        configs["ours"] = {"PYTHONPATH": os.path.join(HERE, "hooks", "ours-fallback")}
        res["ours_via"] = "FALLBACK bench/hooks/ours-fallback (shim/sitecustomize.py does not exist yet)"
        print("note: shim/sitecustomize.py does not exist: 'ours' uses the stand-in bench/hooks/ours-fallback")
    if note_copium(res):
        configs["copium"] = {"COPIUM_PATCH_ENABLE": "1"}  # copium's own _copium.pth acts on it
    res["configs"] = {k: {e: rel(v) for e, v in env.items()} for k, env in configs.items()}
    res["routes_to_stdlib"] = {k: routes_to_stdlib(env) for k, env in configs.items()}
    print("copy.deepcopy runs stdlib code: %s" % res["routes_to_stdlib"])
    for k, expect in (("stdlib", True), ("ours", False), ("copium", False)):
        if k in configs and res["routes_to_stdlib"][k] is not expect:
            raise SystemExit("error: config %s: copy.deepcopy %s stdlib (expected the opposite)"
                             % (k, "runs" if res["routes_to_stdlib"][k] else "does not run"))
    outdir = args.out
    files = {k: os.path.join(outdir, "pyperf-%s.json" % k) for k in configs}
    for f in files.values():
        if os.path.exists(f):
            os.unlink(f)
    inherit = ",".join(sorted({e for env in configs.values() for e in env}))
    pyperf_args = shlex.split(args.pyperf_args or "-p 4 -n 3 -w 1 --min-time 0.05")
    names = list(configs)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        print("\n# round %d/%d: %s" % (r + 1, args.rounds, ", ".join(order)))
        for k in order:
            argv = [sys.executable, bm] + pyperf_args + ["-q", "--inherit-environ", inherit,
                                                          "--append", files[k]]
            run(argv, configs[k])
            if r == 0:
                res["commands"].append(shell_line(argv, configs[k]))
    res["rounds"] = args.rounds
    res["benchmarks"] = {}
    for k, path in files.items():
        suite = pyperf.BenchmarkSuite.load(path)
        for b in suite.get_benchmarks():
            res["benchmarks"].setdefault(b.get_name(), {})[k] = {
                "median_s": b.median(), "mean_s": b.mean(), "stdev_s": b.stdev() if b.get_nvalue() > 1 else 0.0,
                "values": b.get_nvalue()}
    res["files"] = {k: rel(v) for k, v in files.items()}
    cmp_argv = [sys.executable, "-m", "pyperf", "compare_to", "--table"] + [files[k] for k in names]
    run(cmp_argv)
    return res


def _spawn(argv: List[str], env: Dict[str, str]) -> Tuple[int, int]:
    """Run argv to completion: (wall ns, CPU ns of the child: user + system, from wait4)."""
    devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=devnull)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter_ns() - t0
    if status != 0:
        raise SystemExit("error: %s exited with status %d" % (shell_line(argv), status))
    return wall, int((usage.ru_utime + usage.ru_stime) * 1e9)


def _importtime(py: str, code: str, env: Dict[str, str]) -> Dict[str, int]:
    """module -> cumulative us, from ``-X importtime``."""
    proc = subprocess.run([py, "-X", "importtime", "-c", code], env=env, text=True, capture_output=True)
    out: Dict[str, int] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            out[m.group(3)] = int(m.group(2))
    return out


STARTUP_CODES = {"pass": "pass", "import copy": "import copy",
                 "first deepcopy": "import copy; copy.deepcopy({})"}


def part_startup(args: argparse.Namespace) -> Dict[str, Any]:
    res = header("startup")
    py = args.python or getattr(sys, "_base_executable", sys.executable)
    # the binary itself, not a wrapper in front of it (a pyenv shim is a shell script)
    py = subprocess.run([py, "-c", "import sys; print(sys.executable)"], env=clean_env(), text=True,
                        capture_output=True, check=True).stdout.strip() or py
    res["interpreter"] = py
    variants = {"bare": {}, "shim": {"PYTHONPATH": SHIM}}
    envs = {k: clean_env(v) for k, v in variants.items()}
    # as users run it: with the bytecode caches (written by the warm-up runs if need be)
    for env in envs.values():
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = list(variants)
    res["runs_each"] = {}
    res["startup"] = {}
    res["startup_modules"] = {}
    for label, code in STARTUP_CODES.items():
        argv = [py, "-c", code]
        runs = args.runs if code == "pass" else max(1, args.runs // 2)
        for env in envs.values():  # warm the page cache
            _spawn(argv, env)
        wall: Dict[str, List[int]] = {k: [] for k in variants}
        cpu: Dict[str, List[int]] = {k: [] for k in variants}
        for r in range(runs):
            for k in names[r % len(names):] + names[: r % len(names)]:
                w, c = _spawn(argv, envs[k])
                wall[k].append(w)
                cpu[k].append(c)
        res["runs_each"][label] = runs
        res["startup"][label] = {}
        for k in names:
            entry = {}
            for what, samples in (("wall", wall), ("cpu", cpu)):
                m, b = statistics.median(samples[k]), statistics.median(samples["bare"])
                entry[what] = {"median_ms": m / 1e6, "min_ms": min(samples[k]) / 1e6,
                               "diff_ms": (m - b) / 1e6, "ratio": m / b}
            res["startup"][label][k] = entry
        res["commands"].append("%s  # %d runs each, alternating, without and with PYTHONPATH=shim"
                               % (shell_line(argv), runs))
        bare_mods = _importtime(py, code, envs["bare"])
        res["startup_modules"][label] = sorted(set(_importtime(py, code, envs["shim"])) - set(bare_mods))
    # the extension on its own
    bare_mods = _importtime(py, "pass", envs["bare"])
    code = "import sys; sys.path.insert(0, %r); import fastdeepcopy._engine" % SHIM
    cum: List[int] = []
    engine_mods: List[str] = []
    for _ in range(args.import_runs):
        mods = _importtime(py, code, envs["bare"])
        if "fastdeepcopy" in mods:
            cum.append(mods["fastdeepcopy"])
        engine_mods = sorted(set(mods) - set(bare_mods))
    res["import_engine"] = {"command": shell_line([py, "-X", "importtime", "-c", code]),
                            "runs": args.import_runs,
                            "cumulative_us_median": statistics.median(cum) if cum else None,
                            "modules": engine_mods}
    res["commands"].append(res["import_engine"]["command"] + "  # x%d, median" % args.import_runs)
    return res


PARTS = {"main": part_main, "history": part_history, "patch": part_patch, "floors": part_floors,
         "pyperformance": part_pyperformance, "startup": part_startup}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=list(PARTS) + ["report"])
    ap.add_argument("--out", default=os.path.join(HERE, "results", PYVER), help="results directory")
    ap.add_argument("--json", help="main: where to write its JSON (default OUT/main.json)")
    ap.add_argument("--cases", help="cases for main/history/patch/floors (run.py --cases syntax)")
    ap.add_argument("--run-args", help="extra arguments for bench/run.py (main, floors) or bench/overhead.py (patch)")
    ap.add_argument("--procs-args", help="extra arguments for bench/procs.py (main's custom_deepcopy, history)")
    ap.add_argument("--pyperf-args", help="pyperf options per round (default: -p 4 -n 3 -w 1 --min-time 0.05)")
    ap.add_argument("--rounds", type=int, default=3, help="pyperformance: rounds (default 3)")
    ap.add_argument("--python", help="startup: interpreter to start (default: the base interpreter)")
    ap.add_argument("--runs", type=int, default=200, help="startup: runs per variant of -c pass (half that for the others; default 200)")
    ap.add_argument("--import-runs", type=int, default=21, help="startup: -X importtime runs (default 21)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="report: the directory holding one results directory per version")
    ap.add_argument("--versions", default="3.11,3.12,3.13", help="report: versions to include")
    ap.add_argument("--write", help="report: rewrite the generated sections of this markdown file")
    ap.add_argument("--no-copium", action="store_true", help="leave copium out even if it is installed")
    args = ap.parse_args(argv)

    global NO_COPIUM
    NO_COPIUM = args.no_copium
    if args.part == "report":
        return report_mod.main(args.results, args.versions.split(","), args.write)
    res = PARTS[args.part](args)
    path = args.json if (args.part == "main" and args.json) else os.path.join(args.out, args.part + ".json")
    save(res, path)
    print()
    report_mod.print_part(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
