#!/usr/bin/env python3
"""Instructions per call of every case, ours against copium: a Markdown table.

    .venv/bench-3.14/bin/python bench/instruction_table.py [--cases a,b]

Runs bench/instructions.py (callgrind; the difference of two runs, so
start-up cancels out) for each case of the yardstick with `ours` and
`copium` (custom_deepcopy: both patched into copy.deepcopy), and prints the
table with copium/ours (above 1: ours executes fewer instructions).
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases  # noqa: E402

SMALL = {"small_dict", "small_atomic", "small_empty_list", "pyperf_dict", "pyperf_dataclass",
         "pyperf_reduce", "pyperf_memo"}


def count(case: str, impl: str) -> int:
    calls = ["200", "1000"] if case in SMALL else ["2", "10"]
    out = subprocess.run([sys.executable, os.path.join(HERE, "instructions.py"), case, impl,
                          "--calls"] + calls, capture_output=True, text=True, check=True).stdout
    m = re.search(r"([\d,]+) instructions per call", out)
    assert m, out
    return int(m.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="")
    args = ap.parse_args()
    names = [c for c in cases.cases() if not args.cases or c in args.cases.split(",")]
    print("| case | ours | copium | copium/ours |")
    print("|---|---:|---:|---:|")
    for name in names:
        pair = ("ours_patched", "copium_patched") if name == "custom_deepcopy" else ("ours", "copium")
        a, b = count(name, pair[0]), count(name, pair[1])
        label = name + (" (patched)" if name == "custom_deepcopy" else "")
        print("| %s | %s | %s | %.2f |" % (label, format(a, ","), format(b, ","), b / a))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
