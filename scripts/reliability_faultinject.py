"""Allocation-failure injection into fastdeepcopy (a child process of the tests).

    python scripts/reliability_faultinject.py SHAPE [SHAPE...] [--modes persistent,single,thread]
    python scripts/reliability_faultinject.py --list

For each shape, _testcapi.set_nomemory(start, stop) makes allocations fail:

* persistent: every allocation from the start-th on fails (stop=0); start goes
  0, 1, 2, ... until a copy succeeds without reaching the fault;
* single: only the start-th allocation fails (stop=start+1), for every start up
  to the number of allocations a successful copy makes (so the error paths run
  with the allocations after them succeeding);
* thread: like single, each attempt in a fresh thread (its first copy creates
  the per-thread state, so the faults hit that too).

Each attempt must raise MemoryError or succeed with a copy equal to stdlib's,
return no result with an exception still set, and not crash; after
_testcapi.remove_mem_hooks() the next copy on that thread must work and equal
stdlib's.  At the end the reference counts of the input's objects must be what
they were.  The report is one JSON line (see main()); exit status 1 on a failure.
"""
import collections
import copy
import gc
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_common as rc  # noqa: E402

import _testcapi  # noqa: E402

import fastdeepcopy  # noqa: E402
import helpers_compare as hc  # noqa: E402

DEEP = fastdeepcopy.deepcopy
SHALLOW = fastdeepcopy.copy
SET_NOMEMORY = _testcapi.set_nomemory
REMOVE_HOOKS = _testcapi.remove_mem_hooks


# ---------------------------------------------------------------------------
# shapes: name -> (factory, how to copy: "deep" | "memo" | "shallow")


class Plain:
    def __init__(self):
        self.a = [1, 2]
        self.b = {"x": (3, [4])}


class Slots:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = [1]


class ReduceFull:
    def __reduce__(self):
        return (Target, ([1],), {"s": [2]}, iter([[3], (4,)]), iter([("k", [5])]))


class Target(dict):
    def __init__(self, arg):
        super().__init__()
        self.arg = arg
        self.items_ = []

    def append(self, v):
        self.items_.append(v)


class SetState:
    def __init__(self):
        self.v = [1, {"a": 2}]

    def __getstate__(self):
        return (self.v, [3])

    def __setstate__(self, state):
        self.v = state


class HookMemo:
    """Uses the memo: the native memo is materialized while copying."""

    def __init__(self):
        # (atomic runs and a dict of flat values: the mirrored memo's fast paths)
        self.p = [1, [2], {"a": 1, "b": [3, 4], "c": bytearray(b"x"), "d": {"e": 5}}]

    def __deepcopy__(self, memo):
        new = HookMemo.__new__(HookMemo)
        new.p = hc.current_deepcopy()(self.p, memo)
        return new


class HookWrites:
    """The usual hand-written hook: registers its copy in the memo first, so
    that the copies it asks for find the memo changed by someone else (hits
    confirmed by the dict, the keep-alive list found again)."""

    def __init__(self, shared):
        self.p = [shared, [2], {"s": shared}]

    def __deepcopy__(self, memo):
        new = HookWrites.__new__(HookWrites)
        memo[id(self)] = new
        new.p = hc.current_deepcopy()(self.p, memo)
        return new


def _hook_writes():
    shared = [1, [3]]
    return [shared, HookWrites(shared), {"a": shared}, HookWrites(shared)]


class HookNested:
    """A copy without memo inside the copy: a second memo on the thread."""

    def __init__(self):
        self.p = [1, {"a": [2]}]

    def __deepcopy__(self, memo):
        new = HookNested.__new__(HookNested)
        new.p = hc.current_deepcopy()(self.p)
        return new


def _builtins():
    return [1, "s", 2.5, None, [2, 3], {"a": [4], "b": (5, [6])}, (7, 8), {9, 10},
            frozenset([11, (12,)]), b"b", 3j]


def _cycles():
    a = [1]
    x = [a, a, {"k": a}, (a, a)]
    x.append(x)
    d = {"x": x}
    d["d"] = d
    return [x, d]


def _deep():
    x = []
    for i in range(40):
        x = [i, x, {"k": (x,)}]
    return x


def _stdlib_types():
    return [collections.OrderedDict(a=[1]), collections.defaultdict(list, b=[2]),
            collections.deque([[3]]), collections.namedtuple("NT", "a b")([1], 2)]


SHAPES = {
    "builtins": (_builtins, "deep"),
    "cycles": (_cycles, "deep"),
    "deep_nesting": (_deep, "deep"),
    "dict_big": (lambda: {i: [i] for i in range(40)}, "deep"),
    "list_big": (lambda: [[i] for i in range(40)], "deep"),
    "plain_instances": (lambda: [Plain(), Plain()], "deep"),
    "slots": (lambda: [Slots(), Slots()], "deep"),
    "reduce_full": (lambda: [ReduceFull()], "deep"),
    "setstate": (lambda: [SetState()], "deep"),
    "stdlib_types": (_stdlib_types, "deep"),
    "bound_method": (lambda: [Plain().__init__, Plain()], "deep"),
    "hook_memo": (lambda: [[1], HookMemo(), {"a": [2]}], "deep"),
    "hook_nested": (lambda: [[1], HookNested(), {"a": [2]}], "deep"),
    "hook_writes": (_hook_writes, "deep"),
    "caller_memo": (lambda: [_builtins(), _cycles(), Plain()], "memo"),
    "bytearray": (lambda: [bytearray(b"abc"), bytearray(b"")], "deep"),
    # (no bytearray: copy.copy calls bytearray.copy, whose failure path has CPython's
    # own uninitialized-read bug, for stdlib as much as for us)
    "shallow": (lambda: [Plain(), Slots(), ReduceFull(), [1, [2]], {"a": [1]}, (1, [2]),
                         {1, 2}], "shallow"),
    # the copy module's globals changed just before the copy: the engine re-reads
    # them (its snapshot of copy/copyreg) during the faulty call
    "env_refresh_copy": (lambda: [Plain(), [1, {"a": (2,)}]], "deep"),
    "env_refresh_copyreg": (lambda: [Plain(), [1, {"a": (2,)}]], "deep"),
}


class _Poke:
    pass


def _poke_copy():
    copy.__dict__["_reliability_poke"] = object()


def _poke_copyreg():
    import copyreg
    copyreg.dispatch_table[_Poke] = None
    del copyreg.dispatch_table[_Poke]


# run outside the faulty region, before each attempt and before the next copy
PRE = {"env_refresh_copy": _poke_copy, "env_refresh_copyreg": _poke_copyreg}


def copier(how):
    if how == "deep":
        return DEEP
    if how == "memo":
        return lambda x: DEEP(x, {})
    return lambda lst: [SHALLOW(item) for item in lst]


def reference(how, x):
    if how == "shallow":
        with hc.using("ref"):
            return [hc.REF.copy(item) for item in x]
    with hc.using("ref"):
        return hc.REF.deepcopy(x) if how == "deep" else hc.REF.deepcopy(x, {})


# ---------------------------------------------------------------------------


# Engine bugs that have their own test in tests/test_reliability_faults.py
# (none open now; fixed: "builtins.RuntimeError: fastdeepcopy: no thread state dict"
# when the thread's dict could not be allocated)
KNOWN_WRONG_EXCEPTIONS = set()


def attempt(fn, x, start, stop, pre=None):
    """One copy with allocations failing; the injection covers only the call."""
    if pre is not None:
        pre()
    SET_NOMEMORY(start, stop)
    try:
        y = fn(x)
    finally:
        REMOVE_HOOKS()
    return y


def prime_allocator():
    """Leave freed blocks full of 0x5a in the small-object size classes, so that
    reading a field the engine (or an API it calls) leaves uninitialized on an
    error path sees garbage, deterministically."""
    junk = [bytes([0x5A]) * n for n in range(8, 200, 8) for _ in range(64)]
    del junk


class Checker:
    def __init__(self, name):
        self.name = name
        factory, self.how = SHAPES[name]
        self.x = factory()
        self.fn = copier(self.how)
        self.expected = reference(self.how, self.x)
        self.pre = PRE.get(name)
        self.failures = []
        self.counts = collections.Counter()

    def same(self, y, what):
        try:
            if self.how == "shallow":
                assert len(y) == len(self.expected)
                for a, b, o in zip(self.expected, y, self.x):
                    assert type(a) is type(b)
                    if isinstance(o, (list, dict, set, bytearray)):
                        assert a == b and b is not o
            else:
                hc.assert_same_copy(self.expected, y, self.x)
        except AssertionError as e:
            self.failures.append("%s: wrong copy: %s" % (what, str(e)[:500]))

    def one(self, start, stop, mode):
        """Returns True when the copy succeeded."""
        what = "%s start=%d stop=%d" % (mode, start, stop)
        result = {}

        def body():
            prime_allocator()
            try:
                result["y"] = attempt(self.fn, self.x, start, stop, self.pre)
                # a result returned with an exception still set surfaces here
                rc.checked_call(id, result["y"])
            except MemoryError:
                result["exc"] = "MemoryError"
            except BaseException as e:  # noqa: B036
                result["exc"] = "%s: %s" % (rc.exc_name(type(e)), e)
            # the next copy on this thread, without faults
            try:
                if self.pre is not None:
                    self.pre()
                result["after"] = rc.checked_call(self.fn, self.x)
            except BaseException as e:  # noqa: B036
                result["after_exc"] = "%s: %s" % (rc.exc_name(type(e)), e)

        if mode == "thread":
            # Allocation failures are process-wide: this thread must be blocked
            # where it allocates nothing while the worker injects them (t.join()
            # allocates, and failed here now and then).
            go, finished = threading.Lock(), threading.Lock()
            go.acquire()
            finished.acquire()

            def worker():
                go.acquire()
                try:
                    body()
                finally:
                    finished.release()

            t = threading.Thread(target=worker)
            t.start()
            go.release()
            finished.acquire()
            t.join()
        else:
            body()
        self.counts["attempts"] += 1
        ok = "y" in result
        if ok:
            self.counts["succeeded"] += 1
            self.same(result["y"], what)
        elif result.get("exc") == "MemoryError":
            self.counts["memory_errors"] += 1
        elif result.get("exc") in KNOWN_WRONG_EXCEPTIONS:
            # a known engine bug with its own (xfail) test: counted, not repeated here
            self.counts["known_wrong_exception"] += 1
        else:
            self.failures.append("%s: raised %s (expected MemoryError)" % (what, result.get("exc")))
        if "after_exc" in result:
            self.failures.append("%s: the next copy raised %s" % (what, result["after_exc"]))
        else:
            self.same(result["after"], what + " (next copy)")
        return ok

    def run(self, modes, limit):
        objs, keep = [], None
        if self.how != "shallow":
            seen, _a, keep = hc.reachable(self.x)
            objs = [o for o in seen.values() if not isinstance(o, hc.IDENTITY_LEAVES)]
        for _ in range(3):
            rc.checked_call(self.fn, self.x)
        gc.collect()
        before = rc.refcounts(objs)
        allocations = None
        if "persistent" in modes:
            for start in range(limit):
                if self.one(start, 0, "persistent"):
                    allocations = start
                    break
            else:
                self.failures.append("persistent: no success within %d allocations" % limit)
        n_single = (allocations if allocations is not None else 200) + 5
        if "single" in modes:
            for start in range(n_single):
                self.one(start, start + 1, "single")
        if "thread" in modes:
            for start in range(n_single + 40):   # + the thread's own start-up
                self.one(start, start + 1, "thread")
        gc.collect()
        after = rc.refcounts(objs)
        changed = [(type(o).__name__, b, a) for o, b, a in zip(objs, before, after) if a != b]
        if changed:
            self.failures.append("reference counts of the input changed: %s" % changed[:5])
        return {"shape": self.name, "allocations": allocations, "failures": self.failures,
                **self.counts}


def main(argv):
    if "--list" in argv:
        print("\n".join(sorted(SHAPES)))
        return 0
    modes = {"persistent", "single", "thread"}
    limit = 5000
    names = []
    it = iter(argv)
    for a in it:
        if a == "--modes":
            modes = set(next(it).split(","))
        elif a == "--limit":
            limit = int(next(it))
        else:
            names.append(a)
    if names == ["all"]:
        names = sorted(SHAPES)
    reports = []
    for name in names:
        sys.stderr.write("faultinject: %s\n" % name)
        sys.stderr.flush()
        reports.append(Checker(name).run(modes, limit))
    failed = [r for r in reports if r["failures"]]
    rc.emit({"reports": reports, "shapes": len(reports),
             "faults_injected": sum(r.get("memory_errors", 0) for r in reports),
             "attempts": sum(r.get("attempts", 0) for r in reports),
             "failed": len(failed)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
