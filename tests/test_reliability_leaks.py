"""Reliability (issue 6): no leak.

* every shape copied many times (2,000 by default, 10,000 with FASTDEEPCOPY_LONG=1):
  the memory traced by tracemalloc, the reference counts of every container and
  instance of the input, and the number of gc-tracked objects stay flat; the same
  for copies that fail (hooks raising, RecursionError, copy.Error) and for shallow
  copies; RSS stays flat over all shapes together;
* 1,000 short-lived threads each doing copies (a child process): RSS and traced
  memory come back within a few MiB (the per-thread memo is freed at thread exit);
* a huge copy (100,000 lists) then small ones: the thread's cached memo shrinks
  back (fastdeepcopy._memo_bytes()).
"""
import collections
import copy as _stdlib_copy
import dataclasses
import enum
import functools
import gc
import os
import sys
import tracemalloc
import types

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
import reliability_common as rc  # noqa: E402

import fastdeepcopy  # noqa: E402
import helpers_compare as hc  # noqa: E402

N = 10_000 if rc.LONG else (100 if rc.VALGRIND else (500 if rc.ASAN else 2_000))
WARMUP = 20 if rc.VALGRIND else 200
# growth of traced memory allowed over N copies: a leak of one object per copy
# (>= 16 bytes) over 2,000 copies is 32 KiB
TRACED_SLACK = 24 * 1024


def test_engine_is_the_expected_build():
    rc.check_expected_engine()


# ---------------------------------------------------------------------------
# shapes


class Plain:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Slots:
    __slots__ = ("a", "b", "c")

    def __init__(self, a, b):
        self.a, self.b = a, b       # c left unset


class ReduceFull:
    """__reduce__ with every part: args, state, listitems, dictitems."""

    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return (ReduceTarget, (self.n, [self.n]), {"s": [1, 2]},
                iter([[1], (2, [3])]), iter([("k", [4]), ("j", (5,))]))


class ReduceTarget(dict):
    def __init__(self, n, lst):
        super().__init__()
        self.args = (n, lst)
        self.items_ = []

    def append(self, v):
        self.items_.append(v)


class GetSet:
    def __init__(self):
        self.a = [1, 2]
        self.b = {"x": (1, [2])}

    def __getstate__(self):
        return {"a": self.a, "b": self.b, "extra": [3]}

    def __setstate__(self, state):
        self.__dict__.update(state)


class HookMemo:
    """__deepcopy__ that uses the memo: the native memo is materialized."""

    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        return HookMemo(hc.current_deepcopy()(self.payload, memo))


class HookNoMemo:
    """__deepcopy__ that starts an independent copy (a second memo on this thread)."""

    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        return HookNoMemo(hc.current_deepcopy()(self.payload))


class Raises:
    def __init__(self, exc):
        self.exc = exc

    def __deepcopy__(self, memo):
        raise self.exc("hook failed")


class BadReduce:
    def __reduce_ex__(self, proto):
        return (BadReduce, "not a tuple")


class Uncopyable:
    __reduce_ex__ = None
    __reduce__ = None


@dataclasses.dataclass
class DC:
    x: list
    y: dict = dataclasses.field(default_factory=dict)


class Color(enum.Enum):
    RED = 1


Point = collections.namedtuple("Point", "x y")


def _cycle():
    a = [1, 2]
    a.append(a)
    d = {"a": a}
    d["self"] = d
    p = Plain(d=d)
    p.me = p
    return [a, d, p, (a, d, p)]


def _shared():
    a = [1]
    t = (a, a)
    return [a, a, t, t, {"k": a, "t": t}, Plain(a=a, t=t)]


def _deep(n):
    x = []
    for _ in range(n):
        x = [x, {"k": (x,)}]
    return x


def _chain(n):
    x = []
    for _ in range(n):
        x = [x]
    return x


SHAPES = {
    "flat_ints": lambda: list(range(1000)),
    "flat_strs": lambda: ["s%d" % i for i in range(300)],
    "nested_builtins": lambda: {"a": [1, 2.5, "s", b"b", None, True, (3, [4])],
                                "b": {"c": {1, 2, 3}, "d": frozenset([(1, 2)]), "e": 3j},
                                "f": bytearray(b"xyz"), "g": (1, (2, (3, ())))},
    "tuples_of_lists": lambda: tuple((i, [i], (i, [i])) for i in range(50)),
    "atomic_tuples": lambda: [(i, "a", 1.5) for i in range(100)],
    "cycles": _cycle,
    "shared": _shared,
    "deep_200": lambda: _deep(200),
    "instances": lambda: [Plain(a=i, b=[i], c={"i": i}) for i in range(20)],
    "slots": lambda: [Slots(i, [i]) for i in range(20)],
    "reduce_full": lambda: [ReduceFull(i) for i in range(8)],
    "getstate_setstate": lambda: [GetSet() for _ in range(10)],
    "hook_with_memo": lambda: [HookMemo([1, {"a": [2]}]) for _ in range(10)] + [[1], {"x": 2}],
    "hook_without_memo": lambda: [HookNoMemo([1, {"a": [2]}]) for _ in range(10)],
    "stdlib_types": lambda: [collections.OrderedDict(a=[1], b=(2,)),
                             collections.defaultdict(list, a=[1]),
                             collections.deque([1, [2]], maxlen=5),
                             collections.Counter("abracadabra"),
                             DC([1, 2], {"a": [3]}), Point([1], 2), Color.RED,
                             functools.partial(max, [1]), types.SimpleNamespace(a=[1]),
                             range(3), slice(1, [2]), ValueError("x", [1])],
    "bound_methods": lambda: [Plain(a=1).__init__, [].append, {}.get],
    "big_beyond_retention": lambda: [[i] for i in range(5000)],
}

FAILING = {
    "hook_raises_late": lambda: [[i] for i in range(100)] + [Raises(ValueError)],
    "keyboard_interrupt": lambda: [[1], {"a": [2]}, Raises(KeyboardInterrupt)],
    "bad_reduce": lambda: [[1], (2, [3]), BadReduce()],
    "uncopyable": lambda: [[1], {"a": [2]}, Uncopyable()],
    "recursion_error": lambda: _chain(100_000),
}

BIG = {"big_beyond_retention", "recursion_error", "deep_200"}


def iterations(name):
    return max(N // 40, 20) if name in BIG else N


def reachable_containers(x):
    """The non-atomic, non-leaf objects reachable from x (kept alive by the list)."""
    seen, _atomic, keep = hc.reachable(x)
    objs = [o for o in seen.values() if not isinstance(o, hc.IDENTITY_LEAVES)]
    return objs, keep


def run_copy(fn, x, memo_factory=None):
    try:
        if memo_factory is None:
            return rc.checked_call(fn, x)
        return rc.checked_call(fn, x, memo_factory())
    except SystemError:
        raise                   # a result returned with an exception set
    except (Exception, KeyboardInterrupt):
        return None


def measure(name, x, fn, memo_factory=None):
    """Traced-memory growth, refcount changes and gc-count change over N copies."""
    n = iterations(name)
    objs, keep = reachable_containers(x)
    for _ in range(WARMUP):
        run_copy(fn, x, memo_factory)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(20):
            run_copy(fn, x, memo_factory)
        gc.collect()
        before_refs = rc.refcounts(objs)
        before_gc = len(gc.get_objects())
        before_mem = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            run_copy(fn, x, memo_factory)
        gc.collect()
        after_mem = tracemalloc.get_traced_memory()[0]
        after_gc = len(gc.get_objects())
    finally:
        tracemalloc.stop()
    rc.assert_refcounts_flat(objs, before_refs, "%s: " % name)
    growth = after_mem - before_mem
    assert growth < TRACED_SLACK, (
        "%s: traced memory grew by %d bytes over %d copies" % (name, growth, n))
    assert after_gc - before_gc < 10, (
        "%s: %d more gc-tracked objects after %d copies" % (name, after_gc - before_gc, n))
    del keep


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_deepcopy_no_leak(name):
    x = SHAPES[name]()
    # the copy is right before being measured
    hc.assert_same_outcome(*hc.run_both(x), x)
    measure(name, x, fastdeepcopy.deepcopy)


@pytest.mark.parametrize("name", ["nested_builtins", "cycles", "shared", "instances",
                                  "reduce_full", "hook_with_memo", "stdlib_types"])
def test_deepcopy_with_caller_memo_no_leak(name):
    x = SHAPES[name]()
    measure(name, x, fastdeepcopy.deepcopy, memo_factory=dict)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_deepcopy_no_leak(name):
    x = FAILING[name]()
    out = rc.outcome(fastdeepcopy.deepcopy, x)
    assert out[0] == "raise", rc.show(out)
    # (that it is stdlib's exception is checked by test_reliability_faults/_hostile)
    measure(name, x, fastdeepcopy.deepcopy)


@pytest.mark.parametrize("name", ["nested_builtins", "instances", "slots", "reduce_full",
                                  "stdlib_types", "bad_reduce"])
def test_shallow_copy_no_leak(name):
    x = (SHAPES.get(name) or FAILING[name])()

    def shallow_each(lst):
        return [fastdeepcopy.copy(item) for item in lst] if isinstance(lst, list) else \
            fastdeepcopy.copy(lst)
    measure(name, x, shallow_each)


@pytest.mark.skipif(rc.ASAN, reason="ASan's quarantine keeps freed memory resident")
def test_rss_flat_over_all_shapes():
    shapes = [(n, f()) for n, f in sorted(SHAPES.items())]
    failing = [(n, f()) for n, f in sorted(FAILING.items())]
    rounds = max(N // 10, 10)

    def one_round():
        for name, x in shapes:
            run_copy(fastdeepcopy.deepcopy, x)
            run_copy(fastdeepcopy.deepcopy, x, dict)
        for name, x in failing:
            if name != "recursion_error":
                run_copy(fastdeepcopy.deepcopy, x)

    for _ in range(max(rounds // 10, 5)):
        one_round()
    gc.collect()
    before = rc.rss_bytes()
    for _ in range(rounds):
        one_round()
    gc.collect()
    growth = rc.rss_bytes() - before
    assert growth < 4 * 1024 * 1024, "RSS grew by %.1f MiB over %d rounds" % (
        growth / 2**20, rounds)


# ---------------------------------------------------------------------------
# short-lived threads (child process: RSS of a fresh interpreter)

THREADS_CHILD = r"""
import gc, json, os, threading, tracemalloc
import fastdeepcopy
import reliability_common as rc

n_threads = int(sys.argv[1])
payload = [[i, {"k": (i, [i])}] for i in range(300)]    # ~1,200 objects: a memo kept by the thread

class Nested:
    def __deepcopy__(self, memo):
        # a copy without memo inside a copy: a second (temporary) memo on the thread
        return fastdeepcopy.deepcopy(payload[:50])

def work(kind):
    if kind == 0:
        fastdeepcopy.deepcopy(payload)
    elif kind == 1:
        fastdeepcopy.deepcopy([payload[:100], Nested()])
    elif kind == 2:
        try:
            fastdeepcopy.deepcopy([payload[:100], rc])   # a module: copy.Error... or TypeError
        except Exception:
            pass
    else:
        fastdeepcopy.deepcopy(payload, {})
    assert rc.memo_bytes() >= 0

def batch(count, kinds=4, parallel=4):
    for start in range(0, count, parallel):
        ts = [threading.Thread(target=work, args=((start + i) % kinds,))
              for i in range(min(parallel, count - start))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

batch(40)                     # warm up: allocator arenas, type caches
gc.collect()
rss0 = rc.rss_bytes()
tracemalloc.start()
batch(20)
gc.collect()
traced0 = tracemalloc.get_traced_memory()[0]
batch(n_threads)
gc.collect()
traced1 = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
rss1 = rc.rss_bytes()
rc.emit({"threads": n_threads, "rss_growth": rss1 - rss0, "traced_growth": traced1 - traced0,
         "memo_bytes_main": rc.memo_bytes()})
"""


def test_short_lived_threads_free_their_memo():
    n = 100 if rc.VALGRIND else 1000
    proc = rc.run_child(THREADS_CHILD, args=[n], timeout=900)
    res = rc.assert_child_ok(proc, "1,000 short-lived threads")
    assert res["threads"] == n
    # without freeing at thread exit, each thread would keep ~100 KiB of memo
    assert res["traced_growth"] < 256 * 1024, res
    if not rc.ASAN:      # ASan's quarantine keeps freed memory resident
        assert res["rss_growth"] < 6 * 1024 * 1024, res


# ---------------------------------------------------------------------------
# the cached memo after a huge copy


def test_memo_shrinks_after_huge_copy():
    small = [[1], {"a": (2, [3])}]
    fastdeepcopy.deepcopy(small)
    baseline = rc.memo_bytes()
    huge = [[i] for i in range(100_000)]
    y = fastdeepcopy.deepcopy(huge)
    assert len(y) == 100_000 and y[5] == [5] and y[5] is not huge[5]
    del y
    after_huge = rc.memo_bytes()
    for _ in range(10):
        fastdeepcopy.deepcopy(small)
    after_small = rc.memo_bytes()
    # 100,000 entries need several MiB; what is kept for small copies must be small
    assert after_huge <= max(baseline, 256 * 1024), (baseline, after_huge)
    assert after_small <= max(baseline, 256 * 1024), (baseline, after_small)


def test_memo_shrinks_after_huge_copy_traced():
    """The memory of the huge copy's memo is given back (tracemalloc sees the memo)."""
    small = [[1], {"a": (2, [3])}]
    huge = [[i] for i in range(100_000)]
    fastdeepcopy.deepcopy(small)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = fastdeepcopy.deepcopy(huge)
        peak_with_copy = tracemalloc.get_traced_memory()[0]
        del y
        fastdeepcopy.deepcopy(small)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert peak_with_copy - before > 4 * 1024 * 1024   # the copy itself is big
    assert after - before < 256 * 1024, "kept %d bytes after the huge copy" % (after - before)


def test_memo_shrinks_in_each_thread():
    import threading
    res = {}

    def work():
        fastdeepcopy.deepcopy([[i] for i in range(50_000)])
        fastdeepcopy.deepcopy([1, [2]])
        res["bytes"] = rc.memo_bytes()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert res["bytes"] <= 256 * 1024, res


def test_reference_module_untouched():
    # the reference is private: the stdlib module stays what it was
    assert hc.REF is not _stdlib_copy
