#!/usr/bin/env python3
"""How deep stdlib and the engine copy, on the running interpreter: a table.

    python scripts/depth_report.py [--shapes list,hook] [--depths 1000,...]

For each recursion limit (the default, 10**5, 10**6) and stack (the main
thread, a thread with a 256 KiB stack), the outcome of deep-copying a
structure nested DEPTH levels deep, with stdlib's copy.deepcopy and with the
engine (fastdeepcopy.enable()), each in a child process (tests/test_deep.py's
runner: a crash is reported as such).  Prints a Markdown table.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import test_deep  # noqa: E402

SHORT = {"ok": "copy", "RecursionError": "RecErr"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="list,dict,plain,hook")
    ap.add_argument("--depths", default="1000,10000,100000,400000")
    args = ap.parse_args()
    shapes = args.shapes.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    default = sys.getrecursionlimit()
    print("Python %d.%d: stdlib / ours\n" % sys.version_info[:2])
    print("| limit | stack | shape | " + " | ".join("%d" % d for d in depths) + " |")
    print("|---|---|---|" + "---|" * len(depths))
    for limit in (default, 10**5, 10**6):
        for stack in ("main", str(256 * 1024)):
            cases = [[s, d] for s in shapes for d in depths]
            ref = test_deep.run_cases("stdlib", limit, stack, cases)
            ours = test_deep.run_cases("ours", limit, stack, cases)
            for s in shapes:
                cells = []
                for d in depths:
                    r, u = ref[(s, d)], ours[(s, d)]
                    cells.append("%s / %s" % (SHORT.get(r, r), SHORT.get(u, u)))
                print("| %s | %s | %s | %s |" % (
                    "%.0e" % limit if limit != default else "default (%d)" % default,
                    "main" if stack == "main" else "256 KiB thread", s, " | ".join(cells)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
