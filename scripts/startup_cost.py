"""What the shim adds to an interpreter's start (and to a process that copies).

    python3.12 scripts/startup_cost.py [--runs 200] [--instructions]

Variants, each a child ``python -c CODE`` with a clean environment:

  pass            -c pass                                       (no copy)
  copy            -c "import copy; copy.deepcopy([1])"          (loads the engine)
  imports         copy, then 30 more stdlib modules imported     (import hooks' cost)

each bare (no PYTHONPATH), with the shim (PYTHONPATH=shim) and with the shim
plus FASTDEEPCOPY_METRICS_FILE (a fresh file in a temporary directory; the
process adds its counters to it at exit).

Default: --runs interleaved runs of every variant; median wall time and mean
CPU time (user + system) of the child.  --instructions: one run of each under
valgrind's callgrind instead, whose instruction count is deterministic (the
machine's load does not change it).  Standard library only.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
MODULES = ("json email.message http.client urllib.parse logging argparse decimal fractions "
           "dataclasses enum typing pathlib tempfile shutil csv textwrap string random "
           "hashlib base64 uuid datetime calendar gettext locale difflib pprint heapq "
           "bisect queue").split()
CODES = {
    "pass": "pass",
    "copy": "import copy; copy.deepcopy([1])",
    "imports": "import copy; copy.deepcopy([1]); import " + ", ".join(MODULES),
}


def environments(tmp: str) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "FASTDEEPCOPY", "LD_PRELOAD"))}
    base["PYTHONHASHSEED"] = "0"
    return {
        "bare": base,
        "shim": dict(base, PYTHONPATH=SHIM),
        "shim+metrics": dict(base, PYTHONPATH=SHIM,
                             FASTDEEPCOPY_METRICS_FILE=os.path.join(tmp, "m.prom")),
    }


def instructions(py: str, code: str, env: dict[str, str]) -> int:
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        py, "-c", code], env=env, capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if m is None:
        raise RuntimeError("no instruction count in valgrind's output:\n" + p.stderr)
    return int(m.group(1))


def timed(py: str, code: str, env: dict[str, str]) -> tuple[float, float]:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([py, "-c", code], env=env, check=True)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    return (t1 - t0) * 1e3, cpu * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--instructions", action="store_true")
    ap.add_argument("--codes", default=",".join(CODES))
    args = ap.parse_args()
    codes = {k: CODES[k] for k in args.codes.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        envs = environments(tmp)
        for env in envs.values():          # .pyc files written, page cache warm
            for code in codes.values():
                subprocess.run([args.python, "-c", code], env=env, check=True)
        version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        print("CPython %s (%s)" % (version, args.python))
        if args.instructions:
            for cname, code in codes.items():
                counts = {e: instructions(args.python, code, env) for e, env in envs.items()}
                ref = counts["bare"]
                print("%-8s " % cname + "  ".join(
                    "%s %.2f M (%+.2f M)" % (e, n / 1e6, (n - ref) / 1e6)
                    for e, n in counts.items()))
            return 0
        keys = [(c, e) for c in codes for e in envs]
        wall: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
        cpu: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
        for i in range(args.runs):
            order = keys[i % len(keys):] + keys[:i % len(keys)]
            for c, e in order:
                w, u = timed(args.python, codes[c], envs[e])
                wall[(c, e)].append(w)
                cpu[(c, e)].append(u)
        print("%d interleaved runs of each; median wall, mean CPU (user+system), ms;"
              " (+x) = added to the bare run" % args.runs)
        for c in codes:
            w0, u0 = statistics.median(wall[(c, "bare")]), statistics.mean(cpu[(c, "bare")])
            for e in envs:
                w, u = statistics.median(wall[(c, e)]), statistics.mean(cpu[(c, e)])
                print("%-8s %-13s wall %7.2f (%+.2f)  cpu %7.2f (%+.2f)"
                      % (c, e, w, w - w0, u, u - u0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
