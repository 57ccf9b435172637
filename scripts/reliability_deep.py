"""Very deep inputs (a child process of tests/test_reliability_hostile.py).

    python scripts/reliability_deep.py SHAPE DEPTH VARIANT[,VARIANT...] [--ref]
    python scripts/reliability_deep.py --list

Builds one SHAPE nested DEPTH levels deep, then copies it with fastdeepcopy in
each VARIANT, printing "START variant" before and one JSON line after each:

* default     the default recursion limit, main thread
* highlimit   sys.setrecursionlimit(10**6), main thread
* thread      a thread with threading.stack_size(256 KiB), default limit
* threadhigh  the same thread stack with the limit at 10**6

The outcome must be RecursionError or a correct copy; a crash (the child dies)
is what the caller looks for.  --ref also runs stdlib's copy (the private
reference) in the "default" variant; --stdlib-only copies with stdlib's instead
of ours everywhere (to see where stdlib itself overflows the C stack).
"""
import collections
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_common as rc  # noqa: E402

import fastdeepcopy  # noqa: E402
import helpers_compare as hc  # noqa: E402

DEFAULT_LIMIT = sys.getrecursionlimit()


class ReduceChain:
    def __init__(self, child):
        self.child = child

    def __reduce__(self):
        return (ReduceChain, (self.child,))


class StateChain:
    def __init__(self, child):
        self.child = child


class HookChain:
    def __init__(self, child):
        self.child = child

    def __deepcopy__(self, memo):
        return HookChain(hc.current_deepcopy()(self.child, memo))


class SlotsChain:
    __slots__ = ("child",)

    def __init__(self, child):
        self.child = child


class ListSub(list):
    pass


def _mixed(child, i):
    k = i % 5
    if k == 0:
        return [child]
    if k == 1:
        return {"c": child}
    if k == 2:
        return (child, [])
    if k == 3:
        return StateChain(child)
    return ReduceChain(child)


BUILDERS = {
    "list": lambda c, i: [c],
    "dict": lambda c, i: {"c": c},
    "tuple": lambda c, i: (c, []),
    "frozenset": lambda c, i: frozenset([c]),
    "set_of_frozensets": lambda c, i: frozenset([c]),
    "reduce_chain": lambda c, i: ReduceChain(c),
    "state_chain": lambda c, i: StateChain(c),
    "hook_chain": lambda c, i: HookChain(c),
    "slots_chain": lambda c, i: SlotsChain(c),
    "ordered_dict": lambda c, i: collections.OrderedDict(c=c),
    "list_subclass": lambda c, i: ListSub([c]),
    "mixed": _mixed,
}


def build(shape, depth):
    make = BUILDERS[shape]
    x = None
    for i in range(depth):
        x = make(x, i)
    if shape == "set_of_frozensets":
        x = {x, frozenset()}
    return x


def check_copy(x, y):
    """Walk both chains iteratively (the comparator would recurse)."""
    n = 0
    if isinstance(x, set):
        if type(y) is not set or len(x) != len(y):
            return "top-level set"
        x = next(e for e in x if e)
        y = next(e for e in y if e)
    while x is not None:
        if type(x) is not type(y):
            return "type %s vs %s at level %d" % (type(x).__name__, type(y).__name__, n)
        if isinstance(x, (list, tuple)):
            if len(x) != len(y) or (len(x) and x[0] is y[0] and x[0] is not None):
                return "list/tuple content at level %d" % n
            x, y = (x[0], y[0]) if x else (None, None)
        elif isinstance(x, dict):
            x, y = x["c"], y["c"]
        elif isinstance(x, frozenset):
            if len(x) != 1 or len(y) != 1:
                return "frozenset size at level %d" % n
            (x,), (y,) = x, y
        else:
            x, y = x.child, y.child
        n += 1
    return None


IMPL = {"fn": None}
# Copies made in a thread are freed on the main thread, at exit: CPython 3.13.0
# itself crashes freeing a 10,000-deep list in a 256 KiB thread (list_dealloc),
# with or without the engine, now that the engine copies that deep there.
KEPT = []


def run_variant(x, variant, with_ref):
    limit = 10 ** 6 if variant in ("highlimit", "threadhigh") else DEFAULT_LIMIT
    result = {}

    def body():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(limit)
        try:
            if IMPL["fn"] is not None:
                with hc.using("ref"):
                    out = rc.outcome(IMPL["fn"], x)
            else:
                out = rc.outcome(fastdeepcopy.deepcopy, x)
        finally:
            sys.setrecursionlimit(old)
        KEPT.append(out)
        if out[0] == "ok":
            problem = check_copy(x, out[1])
            result["ours"] = "ok" if problem is None else "wrong: " + problem
        else:
            result["ours"] = rc.exc_name(out[1])
            result["ours_message"] = out[2][:200]
        if with_ref and variant == "default":
            with hc.using("ref"):
                ref = rc.outcome(hc.REF.deepcopy, x)
            result["ref"] = "ok" if ref[0] == "ok" else rc.exc_name(ref[1])
        # a small copy right after, on the same thread
        a = [1]
        y = fastdeepcopy.deepcopy([a, a, {"k": a}])
        result["after_ok"] = y[0] is y[1] is y[2]["k"] and y[0] == [1] and y[0] is not a

    if variant.startswith("thread"):
        old = threading.stack_size(256 * 1024)
        try:
            t = threading.Thread(target=body)
            t.start()
            t.join()
        finally:
            threading.stack_size(old)
    else:
        body()
    return result


def main(argv):
    if "--list" in argv:
        print("\n".join(sorted(BUILDERS)))
        return 0
    with_ref = "--ref" in argv
    if "--stdlib-only" in argv:     # measure stdlib itself in the same variants
        IMPL["fn"] = hc.REF.deepcopy
    argv = [a for a in argv if a not in ("--ref", "--stdlib-only")]
    shape, depth, variants = argv[0], int(argv[1]), argv[2].split(",")
    x = build(shape, depth)
    for variant in variants:
        sys.stdout.write("START %s\n" % variant)
        sys.stdout.flush()
        res = run_variant(x, variant, with_ref)
        res.update(shape=shape, depth=depth, variant=variant)
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
