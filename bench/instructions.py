#!/usr/bin/env python3
"""Instructions per call of one implementation on one case, under callgrind.

    .venv/bench-3.12/bin/python bench/instructions.py json_records ours
    .venv/bench-3.12/bin/python bench/instructions.py json_records copium --calls 10 60

Instruction counts are not disturbed by other work on the machine, unlike
times.  The child builds the case, warms up with 3 calls, then makes N calls;
it runs twice (N = the two --calls values) and the difference of the totals,
divided by the difference of N, is the cost of one call (start-up, imports and
building the case cancel out); the hash seed is fixed (PYTHONHASHSEED=0 unless
set), since str hashes decide how many probes a dict lookup takes.  IMPL: ours (fastdeepcopy.deepcopy, called
directly), copium (copium.deepcopy), stdlib (copy.deepcopy), ours_patched and
copium_patched (patched into copy.deepcopy, then called through it: for
custom_deepcopy, whose hooks call copy.deepcopy).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(os.path.dirname(HERE), "shim")

CHILD = r"""
import sys
sys.path[:0] = [%(here)r, %(shim)r]
import cases
name, impl, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
obj = cases.cases()[name][1]()
if impl == "ours":
    import fastdeepcopy
    f = fastdeepcopy.deepcopy
elif impl == "copium":
    import copium
    f = copium.deepcopy
elif impl.endswith("_patched"):
    import impls
    f = impls.patched(impl)
else:
    import copy
    f = copy.deepcopy
for _ in range(3):
    f(obj)
for _ in range(n):
    f(obj)
"""


def total_instructions(case: str, impl: str, n: int) -> int:
    code = CHILD % {"here": HERE, "shim": SHIM}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        # a fixed hash seed: str hashes decide dict probe counts
        env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
             sys.executable, "-c", code, case, impl, str(n)],
            capture_output=True, text=True, check=True, env=env)
    m = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if m is None:
        raise SystemExit("no instruction count in valgrind's output:\n" + proc.stderr[-2000:])
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case")
    ap.add_argument("impl", choices=["ours", "copium", "stdlib", "ours_patched", "copium_patched"])
    ap.add_argument("--calls", type=int, nargs=2, default=(10, 110), metavar=("N1", "N2"))
    args = ap.parse_args()
    n1, n2 = args.calls
    a = total_instructions(args.case, args.impl, n1)
    b = total_instructions(args.case, args.impl, n2)
    print("%s %s (python %d.%d): %d instructions per call"
          % (args.impl, args.case, sys.version_info[0], sys.version_info[1], (b - a) // (n2 - n1)))


if __name__ == "__main__":
    main()
