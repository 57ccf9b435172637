"""Copying in a loop leaks nothing.

For each shape: after warm-up, 1000 copies leave sys.getrefcount of the input
and of its parts (items, attribute values, their classes) unchanged, and
tracemalloc sees no growth beyond a small slack.  The same for copies that fail
inside hooks (errors raised by __deepcopy__, __reduce__, __setstate__,
malformed reduce values, mutation during the copy, a caller memo).

Each measurement is also run with a deliberately leaking copier first, to
show the measurement can fail.
"""
import collections
import copyreg
import datetime
import decimal
import gc
import sys
import tracemalloc

import pytest

import fastdeepcopy

pytestmark = pytest.mark.usefixtures("stdlib_copy_unpatched")

LOOPS = 1000
MEM_SLACK = 16 * 1024   # bytes of growth tolerated over 1000 copies


class Plain:
    def __init__(self, /, **kw):
        self.__dict__.update(kw)

    def method(self):
        return self


class Slotted:
    __slots__ = ("a", "b")


class WithReduce:
    def __init__(self, a):
        self.a = a

    def __reduce__(self):
        return (WithReduce, (self.a,), {"extra": [1]})


class WithReduceEx:
    def __reduce_ex__(self, proto):
        return (copyreg.__newobj__, (WithReduceEx,), {"s": [2]}, iter([[3]]), None)

    def append(self, x):
        self.__dict__.setdefault("items", []).append(x)


class WithState:
    def __init__(self):
        self.a = [1]

    def __getstate__(self):
        return {"a": self.a, "more": (1, [2])}

    def __setstate__(self, state):
        self.__dict__.update(state)


class WithDeepcopy:
    def __init__(self, a):
        self.a = a

    def __deepcopy__(self, memo):
        new = WithDeepcopy.__new__(WithDeepcopy)
        memo[id(self)] = new
        new.a = fastdeepcopy.deepcopy(self.a, memo)
        return new


class DictSub(dict):
    pass


class ListSub(list):
    pass


NT = collections.namedtuple("NT", "x y")


class Boom(Exception):
    pass


class RaisesInDeepcopy:
    def __deepcopy__(self, memo):
        raise Boom("deepcopy")


class RaisesInReduce:
    def __reduce_ex__(self, proto):
        raise Boom("reduce")


class RaisesInSetstate:
    def __init__(self):
        self.payload = [1, [2]]

    def __setstate__(self, state):
        raise Boom("setstate")


class RaisesInGetstate:
    def __getstate__(self):
        raise Boom("getstate")


class BadReduce:
    def __init__(self, rv):
        self.rv = rv

    def __reduce_ex__(self, proto):
        return self.rv


class MutatesList:
    def __init__(self, target):
        self.target = target

    def __deepcopy__(self, memo):
        self.target.append("grown")
        self.target.pop()
        return "m"


class AddsKey:
    def __init__(self, target):
        self.target = target

    def __deepcopy__(self, memo):
        self.target["new"] = 1          # -> RuntimeError: dictionary changed size
        return "m"


def _shapes():
    big = 10 ** 30 + 7                   # a unique int object we can count
    text = "unique text %d" % id(object())
    shared = [big, text]
    cyc = [shared]
    cyc.append(cyc)
    p = Plain(a=shared, b=(shared, big), self=None)
    p.self = p
    s = Slotted()
    s.a = shared
    d = DictSub(k=shared)
    d.attr = [text]
    lst = ListSub([shared])
    lst.attr = cyc
    od = collections.OrderedDict(a=shared)
    dd = collections.defaultdict(list, {"a": [big]})
    return {
        "nested-builtins": [shared, {"k": shared, big: (text,)}, (shared, [big]), {big, text},
                            frozenset({big}), bytearray(b"xy")],
        "cycles": cyc,
        "instance": p,
        "slots": s,
        "bound-method": [p.method, p],
        "reduce": [WithReduce(shared), WithReduce(big)],
        "reduce-ex": WithReduceEx(),
        "getstate": WithState(),
        "deepcopy-hook": [WithDeepcopy(shared), shared],
        "subclasses": [d, lst, NT(shared, big)],
        "stdlib-types": [od, dd, collections.deque([shared]), datetime.datetime(2020, 1, 1),
                         decimal.Decimal("1.5")],
        "atomic-tuple": (big, text, (big,)),
    }


SHAPES = _shapes()

ERRORS = {
    "raises-in-deepcopy": lambda: [[1], RaisesInDeepcopy(), [2]],
    "raises-in-reduce": lambda: {"a": [1], "b": RaisesInReduce()},
    "raises-in-setstate": lambda: [RaisesInSetstate()],
    "raises-in-getstate": lambda: [Plain(x=[1]), RaisesInGetstate()],
    "reduce-wrong-length": lambda: [BadReduce((Plain,))],
    "reduce-bad-args": lambda: [BadReduce((Plain, 5))],
    "reduce-bad-state": lambda: [BadReduce((Plain, (), [1, 2]))],
    "reduce-bad-dictitems": lambda: [BadReduce((DictSub, (), None, None, iter([1])))],
    "reduce-uncallable": lambda: [BadReduce((None, ()))],
    "dict-grows": None,   # built below (needs the dict itself)
}


def _dict_grows():
    d = {"a": [1]}
    d["m"] = AddsKey(d)
    d["z"] = [2]
    return d


def _list_mutated():
    lst = [[1]]
    lst.append(MutatesList(lst))
    lst.append([2])
    return lst


ERRORS["dict-grows"] = _dict_grows


def parts_of(obj):
    """The input and the objects it holds (two levels of items/attributes),
    with their classes."""
    out = []
    seen = set()
    stack = [(obj, 0)]
    while stack:
        x, depth = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        out.append(x)
        out.append(type(x))
        if depth >= 3:
            continue
        kids = []
        if isinstance(x, dict):
            kids.extend(dict.keys(x))
            kids.extend(dict.values(x))
        elif isinstance(x, (list, tuple, set, frozenset, collections.deque)):
            kids.extend(x)
        d = getattr(x, "__dict__", None)
        if isinstance(d, dict):
            kids.extend(d.values())
        for name in ("a", "b"):
            if isinstance(x, Slotted) and hasattr(x, name):
                kids.append(getattr(x, name))
        stack.extend((k, depth + 1) for k in kids)
    return out


def _shared_by_the_interpreter(o):
    """Objects whose reference count other code changes all the time."""
    if o is None or o is True or o is False or o is Ellipsis or o is NotImplemented:
        return True
    if type(o) is int and -5 <= o <= 256:
        return True
    if type(o) is str and len(o) <= 1:
        return True
    if isinstance(o, type) and not (o.__flags__ & (1 << 9)):   # static (built-in) types
        return True
    return False


def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def run_copies(copier, make, n, swallow):
    for _ in range(n):
        obj = make()
        try:
            copier(obj)
        except swallow:
            pass
        del obj


def check_no_refcount_change(copier, obj, swallow=()):
    parts = [p for p in parts_of(obj) if not _shared_by_the_interpreter(p)]
    run_copies(copier, lambda: obj, 50, swallow)       # warm-up: caches, memo tables
    gc.collect()
    before = refcounts(parts)
    run_copies(copier, lambda: obj, LOOPS, swallow)
    gc.collect()
    after = refcounts(parts)
    changed = [(type(p).__name__, b, a) for p, b, a in zip(parts, before, after) if a != b]
    assert not changed, "reference counts changed over %d copies: %s" % (LOOPS, changed[:10])


def check_no_memory_growth(copier, make, swallow=()):
    run_copies(copier, make, 100, swallow)
    gc.collect()
    tracemalloc.start()
    try:
        run_copies(copier, make, 100, swallow)   # warm-up under tracing
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        run_copies(copier, make, LOOPS, swallow)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    growth = end - start
    assert growth <= MEM_SLACK, "traced memory grew by %d bytes over %d copies" % (growth, LOOPS)


# copiers under test
COPIERS = {
    "deepcopy": fastdeepcopy.deepcopy,
    "deepcopy-memo": lambda x: fastdeepcopy.deepcopy(x, {}),
    "copy": fastdeepcopy.copy,
}


@pytest.mark.parametrize("copier", sorted(COPIERS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_refcounts_unchanged(shape, copier):
    check_no_refcount_change(COPIERS[copier], SHAPES[shape])


@pytest.mark.parametrize("copier", ["deepcopy", "deepcopy-memo"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_memory_does_not_grow(shape, copier):
    obj = SHAPES[shape]
    check_no_memory_growth(COPIERS[copier], lambda: obj)


@pytest.mark.parametrize("copier", ["deepcopy", "deepcopy-memo"])
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_paths_do_not_leak(case, copier):
    make = ERRORS[case]
    fn = COPIERS[copier]
    obj = make()
    try:
        fn(obj)
    except Exception:
        pass
    else:
        pytest.fail("the case %r was expected to raise" % case)
    check_no_refcount_change(fn, obj, swallow=Exception)
    check_no_memory_growth(fn, make, swallow=Exception)


def test_list_mutated_during_copy_does_not_leak():
    obj = _list_mutated()
    check_no_refcount_change(fastdeepcopy.deepcopy, obj)
    check_no_memory_growth(fastdeepcopy.deepcopy, _list_mutated)


def test_fresh_inputs_do_not_leak():
    """Inputs built anew for each copy (so that ids are not reused from a
    warm memo) are freed with their copies."""
    def make():
        a = [Plain(), "x" * 20]
        return [a, {"k": a}, Plain(a=a), (a,)]
    check_no_memory_growth(fastdeepcopy.deepcopy, make)


def test_exposed_memo_does_not_leak():
    class Exposes:
        def __deepcopy__(self, memo):
            memo.setdefault("seen", 0)
            return Exposes()

    obj = [[1], Exposes(), {"a": [2]}]
    check_no_refcount_change(fastdeepcopy.deepcopy, obj)
    check_no_memory_growth(fastdeepcopy.deepcopy, lambda: obj)


def test_short_lived_threads_do_not_leak():
    """Each thread's cached memo is freed when the thread ends."""
    import threading

    payload = [[i, [i]] for i in range(2000)]     # makes each thread's memo table big

    def work():
        fastdeepcopy.deepcopy(payload)
        fastdeepcopy.deepcopy([payload[:10], {"k": payload[:10]}])

    def run_threads(n):
        for _ in range(n):
            t = threading.Thread(target=work)
            t.start()
            t.join()

    run_threads(5)
    gc.collect()
    tracemalloc.start()
    try:
        run_threads(5)
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        run_threads(60)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start <= 4 * MEM_SLACK, "60 threads left %d bytes behind" % (end - start)


# --- the measurements themselves can fail -----------------------------------

_LEAKED = []


def _leaky_copier(x):
    _LEAKED.append(x)          # keeps a reference and some memory per call
    _LEAKED.append([0] * 8)
    return fastdeepcopy.deepcopy(x)


def test_refcount_check_detects_a_leak():
    obj = [[1], "x"]
    try:
        with pytest.raises(AssertionError, match="reference counts changed"):
            check_no_refcount_change(_leaky_copier, obj)
    finally:
        _LEAKED.clear()


def test_memory_check_detects_a_leak():
    try:
        with pytest.raises(AssertionError, match="traced memory grew"):
            check_no_memory_growth(_leaky_copier, lambda: [1])
    finally:
        _LEAKED.clear()
