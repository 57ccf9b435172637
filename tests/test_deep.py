"""Deep structures (issue 21): wherever stdlib returns a copy, so does the engine.

Depth x recursion limit x thread stack size x shape, each compared with the
outcome of the running version's stdlib `copy` (unpatched) in a child
process: stdlib "ok" requires ours "ok" (and a correct copy); stdlib
RecursionError allows ours "ok" or RecursionError; ours never crashes.  A
child that dies is rerun from the case after the one it died on, so one
crash (the interpreter's own, with stdlib, in a small thread on 3.10/3.11)
costs only that case.  Children end with os._exit: freeing a 10,000-deep
list in a 256 KiB thread crashes CPython 3.13.0 itself (list_dealloc).
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(os.path.dirname(HERE), "shim")
PY = sys.version_info[:2]

CHILD = r"""
import collections, copy, json, os, sys, threading
sys.path.insert(0, %(shim)r)
which, limit, stack = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cases = json.loads(sys.argv[4])
if which == "ours":
    import fastdeepcopy
    fastdeepcopy.enable()   # hooks call copy.deepcopy: the engine's
    assert fastdeepcopy.enabled()
DEEPCOPY = copy.deepcopy

class Chain:
    def __init__(self, child=None):
        self.child = child
    def __reduce__(self):
        return (Chain, (self.child,))

class Plain:
    def __init__(self, child=None):
        self.child = child

class Hook:
    def __init__(self, child=None):
        self.child = child
    def __deepcopy__(self, memo):
        return Hook(copy.deepcopy(self.child, memo))

def build(shape, n):
    x = None
    for i in range(n):
        if shape == "list":
            x = [x]
        elif shape == "dict":
            x = {"k": x}
        elif shape == "tuple":
            x = (x, [])
        elif shape == "frozenset":
            x = frozenset([(x,)]) if x is not None else frozenset()
        elif shape == "mixed":
            x = [x] if i %% 3 == 0 else ({"k": x} if i %% 3 == 1 else (x, i))
        elif shape == "plain":
            x = Plain(x)
        elif shape == "reduce":
            x = Chain(x)
        elif shape == "hook":
            x = Hook(x)
    return x

def child_of(x):
    if isinstance(x, (list, tuple)):
        return x[0]
    if isinstance(x, dict):
        return x["k"]
    if isinstance(x, frozenset):
        return next(iter(x))[0] if x else None
    return x.child

def verify(orig, cp, n):
    for _ in range(n):
        if type(orig) is not type(cp) or (orig is cp and not isinstance(orig, frozenset)):
            return False
        orig, cp = child_of(orig), child_of(cp)
    return orig is None and cp is None

KEEP = []   # nothing deep is freed before os._exit

def run(shape, n):
    x = build(shape, n)
    KEEP.append(x)
    try:
        y = DEEPCOPY(x)
    except RecursionError:
        return "RecursionError"
    except MemoryError:
        return "MemoryError"
    KEEP.append(y)
    return "ok" if verify(x, y, n) else "wrong copy"

def main():
    sys.setrecursionlimit(limit)
    for shape, n in cases:
        print("START", json.dumps([shape, n]), flush=True)
        out = run(shape, n)
        # the interpreter is usable afterwards: a small copy works
        after = DEEPCOPY([[1], {"a": (2,)}]) == [[1], {"a": (2,)}]
        print("RESULT", json.dumps([shape, n, out, after]), flush=True)

if stack == "main":
    main()
else:
    threading.stack_size(int(stack))
    t = threading.Thread(target=main)
    t.start()
    t.join()
sys.stdout.flush()
os._exit(0)
"""

SHAPES = ["list", "dict", "tuple", "frozenset", "mixed", "plain", "reduce", "hook"]
DEPTHS = [2000, 10000, 30000]
LIMITS = [None, 100_000, 1_000_000]


def smallest_stack_size():
    """The smallest stack size threading.stack_size accepts here (CPython
    3.14 raises its floor above the platform's)."""
    code = ("import threading\n"
            "for k in range(2, 4097):\n"
            "    try:\n"
            "        threading.stack_size(k * 4096)\n"
            "    except ValueError:\n"
            "        continue\n"
            "    print(k * 4096)\n"
            "    break\n")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True,
                              text=True, check=True).stdout)


STACKS = ["main", str(256 * 1024), "smallest"]


def run_cases(which, limit, stack, cases):
    """{(shape, n): outcome} for each case; "crash" for one whose child died."""
    results = {}
    todo = list(cases)
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD % {"shim": SHIM}, which, str(limit), stack,
             json.dumps(todo)],
            capture_output=True, text=True, timeout=600)
        started = None
        for line in proc.stdout.splitlines():
            kind, _, payload = line.partition(" ")
            if kind == "START":
                started = tuple(json.loads(payload))
            elif kind == "RESULT":
                shape, n, out, after = json.loads(payload)
                results[(shape, n)] = out if after else out + " (interpreter unusable after)"
                started = None
        if started is None:
            break   # all done (or a child that printed nothing: reported below)
        results[started] = "crash (%s)" % proc.returncode
        todo = todo[todo.index(list(started)) + 1:]
    for shape, n in cases:
        results.setdefault((shape, n), "no result (%s): %s" % (proc.returncode,
                                                              proc.stderr[-500:]))
    return results


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("limit", LIMITS, ids=["default", "1e5", "1e6"])
def test_deep_copies_where_stdlib_copies(limit, stack):
    if stack == "smallest":
        stack = str(smallest_stack_size())
    if limit is None:
        limit = sys.getrecursionlimit()
    cases = [[shape, n] for shape in SHAPES for n in DEPTHS]
    ref = run_cases("stdlib", limit, stack, cases)
    ours = run_cases("ours", limit, stack, cases)
    bad = []
    for shape, n in cases:
        r, u = ref[(shape, n)], ours[(shape, n)]
        if r.startswith("crash"):
            # the interpreter itself does not survive this with stdlib (3.13
            # in a 32 KiB thread: freeing the RecursionError's 1,000-frame
            # traceback overflows the thread's stack in tb_dealloc)
            continue
        if u not in ("ok", "RecursionError"):
            bad.append((shape, n, r, u))   # ours never crashes or copies wrong
        elif r == "ok" and u != "ok":
            bad.append((shape, n, r, u))
    assert not bad, "(shape, depth, stdlib, ours): %r" % bad


def test_recursion_error_then_the_next_copy_works():
    """Far past the level cap: RecursionError, nothing leaked into the next
    copies' state, the interpreter usable."""
    code = r"""
import sys
sys.path.insert(0, %r)
import fastdeepcopy
sys.setrecursionlimit(5000)
x = []
for _ in range(200000):
    x = [x]
for _ in range(3):
    try:
        fastdeepcopy.deepcopy(x)
        print("copied")
    except RecursionError:
        print("RecursionError")
print(fastdeepcopy.deepcopy([[1], {"a": (2,)}]))
y = []
for _ in range(2000):
    y = [y]
z = fastdeepcopy.deepcopy(y)
n = 0
while z:
    z = z[0]
    n += 1
print(n)
""" % SHIM
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:5] == ["RecursionError"] * 3 + [
        "[[1], {'a': (2,)}]", "2000"], out.stdout
