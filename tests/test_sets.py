"""Sets and frozensets of atomic items, copied natively from the set's table
(src/containers.c, copy_atomic_set).  stdlib builds type(x)(list(x)): the
copy's iteration order is the result of adding x's items in x's order to an
empty set, and must come out the same here (the structural comparator of
helpers_compare ignores set order, so these tests compare it directly).

Also the atomic objects that are not hashed on those fast paths: weak
references, whose comparison (on equal hashes) calls their referents' __eq__,
as set elements and as dict keys (src/fdc.h, fdc_is_atomic_key_type).
"""
import gc
import random
import weakref

import pytest

import helpers_compare as hc


def _orders(obj):
    """Iteration order of every set in the copies made by stdlib and by us."""
    out_ref, out_ours = hc.run_both(obj)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    ref, ours = out_ref[1], out_ours[1]
    return [list(s) for s in ref], [list(s) for s in ours]


def _with_dummies(kind, n, removed, seed):
    rng = random.Random(seed)
    s = set(range(n)) | {"k%d" % i for i in range(n)}
    for v in rng.sample(sorted(s, key=str), removed):
        s.discard(v)
    return s if kind is set else frozenset(s)


@pytest.mark.parametrize("kind", [set, frozenset])
@pytest.mark.parametrize("n,removed", [(3, 1), (8, 5), (40, 30), (300, 17)])
def test_order_after_deletions(kind, n, removed):
    # discard leaves dummies in the table; a frozenset made from such a set
    # keeps its own layout
    sets = [_with_dummies(kind, n, removed, seed) for seed in range(4)]
    ref, ours = _orders(sets)
    assert ref == ours


@pytest.mark.parametrize("kind", [set, frozenset])
def test_order_with_colliding_hashes(kind):
    # hash(-1) == hash(-2); ints that differ by multiples of the table size
    # land in the same slot; 1, 1.0 and True are one element
    values = [-1, -2, 0, 8, 16, 32, 64, 2 ** 61, 2 ** 61 - 1, 1.0, 1, True, 0.5,
              "a", b"a", None, (), 3j, range(3), len, type, ...]
    sets = [kind(values), kind(reversed(values)), kind(values[::3])]
    ref, ours = _orders(sets)
    assert ref == ours


@pytest.mark.parametrize("seed", range(6))
def test_order_of_random_sets(seed):
    rng = random.Random(seed)
    sets = []
    for _ in range(30):
        s = set()
        for _ in range(rng.randrange(0, 60)):
            r = rng.random()
            if r < 0.4:
                s.add(rng.randrange(-1000, 1000) * rng.choice([1, 8, 1024]))
            elif r < 0.7:
                s.add("s%d" % rng.randrange(500))
            elif r < 0.8:
                s.add(rng.randrange(100) / 4)
            elif s:
                s.discard(rng.choice(sorted(s, key=repr)))
        sets.append(s if rng.random() < 0.5 else frozenset(s))
    ref, ours = _orders(sets)
    assert ref == ours


class _Referent:
    """Referent of weak references with equal hashes: comparing two of the
    references calls this __eq__, which counts its calls and runs `action`
    (one that changes the container being copied)."""

    calls = 0
    action = None

    def __init__(self, n):
        self.n = n

    def __hash__(self):
        return 7

    def __eq__(self, other):
        _Referent.calls += 1
        if _Referent.action is not None:
            _Referent.action()
        return self is other


@pytest.mark.parametrize("kind", [set, frozenset])
def test_weak_references_whose_referents_change_the_set(kind):
    # weakref.ref is atomic, but comparing two refs compares their referents:
    # the set takes the general path (stdlib's snapshot list), never a loop
    # over a table that user code can replace
    def run(which):
        a, b = _Referent(1), _Referent(2)
        victim = {1, 2, weakref.ref(a), weakref.ref(b)}
        target = victim if kind is set else frozenset(victim)
        _Referent.action = lambda: victim.update(range(1000, 1100))   # resizes its table
        try:
            with hc.using(which):
                fn = hc.REF.deepcopy if which == "ref" else hc.fastdeepcopy.deepcopy
                out = hc.outcome(fn, [target, 5])
        finally:
            _Referent.action = None
        summary = (out[0], sorted(repr(type(v)) for v in out[1][0]), len(victim)) \
            if out[0] == "ok" else out
        del a, b
        gc.collect()
        return summary

    assert run("ref") == run("ours")


class _Plain:
    pass


def _weak_keyed(shape, referents):
    refs = [weakref.ref(o) for o in referents]
    if shape == "atomic values":            # the whole dict is a clone
        return {r: i for i, r in enumerate(refs)}
    if shape == "then an instance":         # a leading run, then the general path
        d = {r: i for i, r in enumerate(refs)}
        d["z"] = _Plain()
        return d
    if shape == "instance first":           # the item-by-item loop
        d = {"z": _Plain()}
        d.update((r, i) for i, r in enumerate(refs))
        return d
    if shape == "flat values":              # clone, then flat values patched
        return {r: [i] for i, r in enumerate(refs)}
    raise AssertionError(shape)


SHAPES = ["atomic values", "then an instance", "instance first", "flat values"]


@pytest.mark.parametrize("clears", [False, True], ids=["counts", "clears"])
@pytest.mark.parametrize("nested", [False, True], ids=["root", "nested"])
@pytest.mark.parametrize("shape", SHAPES)
def test_weak_dict_keys_compare_as_stdlib_compares_them(shape, nested, clears):
    def run(which):
        referents = [_Referent(i) for i in range(5)]
        x = _weak_keyed(shape, referents)
        obj = [x, {"k": 1}] if nested else x
        _Referent.calls = 0
        _Referent.action = x.clear if clears else None   # frees the other weak keys
        fn = hc.REF.deepcopy if which == "ref" else hc.fastdeepcopy.deepcopy
        try:
            with hc.using(which):
                out = hc.outcome(fn, obj)
        finally:
            _Referent.action = None
        if out[0] == "ok":
            y = out[1][0] if nested else out[1]
            out = ("ok", [type(k).__name__ for k in y])
        return out, _Referent.calls, len(x)

    assert run("ref") == run("ours")


# ---------------------------------------------------------------------------
# The temporary list(x) of stdlib's copy: memo[id(L)] = L' and L in the
# keep-alive list, made by the engine only when a hook is handed the memo
# (src/pending.c, fdc_memo_set_temporaries).


class _MemoView:
    """Logs, when copied: the lists in the keep-alive list (their items), and
    for each whether its id is a memo key holding an equal list of its own."""
    log = {}

    def __deepcopy__(self, memo):
        kept = memo.get(id(memo), [])
        view = []
        for o in kept:
            if type(o) is list:
                c = memo.get(id(o))
                view.append((sorted(o, key=repr), type(c) is list and c == o and c is not o,
                             hc.current_deepcopy()(o, memo) is c))
        _MemoView.log[hc.current()] = view
        return self


class _ChangesSet:
    """Changes a set of the original before the memo is seen (a __setstate__
    does not see the memo): stdlib's L was made before."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (_ChangesSet, (None,), {"target": self.target})

    def __setstate__(self, state):
        state["target"].clear()
        state["target"].add("changed")


def _view(factory):
    _MemoView.log.clear()
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return _MemoView.log["ref"], _MemoView.log["ours"]


@pytest.mark.parametrize("kind", [set, frozenset])
def test_temporary_lists_seen_by_a_later_hook(kind):
    ref, ours = _view(lambda: [kind({1, 2, "a"}), [kind(), kind(range(20))], _MemoView()])
    assert ref == ours
    assert len(ref) == 4 and all(seen and again for _, seen, again in ref)


def test_temporary_list_of_a_set_changed_before_the_hook():
    def factory():
        s = {1, 2, 3}
        return [s, _ChangesSet(s), _MemoView()]
    ref, ours = _view(factory)
    assert ref == ours
    assert ref[0][0] == [1, 2, 3]   # the case means what it says: L as it was


def test_temporary_lists_in_a_fresh_thread():
    """A thread's first copy (its memo has recorded nothing yet), a frozenset
    first."""
    import threading
    results = []

    def run():
        results.append(_view(lambda: [frozenset("ab"), {3}, _MemoView()]))
    t = threading.Thread(target=run)
    t.start()
    t.join()
    ref, ours = results[0]
    assert ref == ours and len(ref) == 2


# Tuples of atomic items are their own copies (stdlib's _deepcopy_tuple
# returns them and stores nothing): sets of them take the native path too.

class _CountingKey:
    """Hashable, with an __eq__ that counts its calls (user code)."""

    calls = 0

    def __init__(self, n):
        self.n = n

    def __hash__(self):
        return hash(self.n)

    def __eq__(self, other):
        _CountingKey.calls += 1
        return isinstance(other, _CountingKey) and self.n == other.n


@pytest.mark.parametrize("kind", [set, frozenset])
def test_order_of_sets_of_tuples(kind):
    rng = random.Random(7)
    sets = []
    for size in (0, 1, 5, 40, 200):
        items = {(rng.randrange(-50, 50) * rng.choice([1, 8]), "t%d" % rng.randrange(30),
                  rng.choice([None, 1.5, b"b"]))
                 for _ in range(size)}
        items |= {(), (1,), (1, 1.0), (True,), ("a", 2 ** 70)}
        sets.append(kind(items))
    ref, ours = _orders(sets)
    assert ref == ours


@pytest.mark.parametrize("kind", [set, frozenset])
@pytest.mark.parametrize("item", ["nested tuple", "tuple with object", "tuple with range"])
def test_sets_of_tuples_that_need_the_full_protocol(kind, item):
    key = {"nested tuple": ((1, 2), 3),
           "tuple with object": (1, _CountingKey(5)),
           "tuple with range": (range(3), 1)}[item]
    _CountingKey.calls = 0
    sets = [kind({(1, 2), key, (3, "x")}), kind({key})]
    ref, ours = _orders(sets)
    assert ref == ours


@pytest.mark.parametrize("kind", [set, frozenset])
def test_tuples_in_sets_are_the_originals(kind):
    t = (1, "a", 2.5)
    s = kind({t, (2,)})
    out_ref, out_ours = hc.run_both([s, t])
    assert out_ref[0] == out_ours[0] == "ok"
    hc.assert_same_outcome(out_ref, out_ours, [s, t])
    for out in (out_ref, out_ours):
        copied_set, copied_t = out[1]
        assert copied_t is t and any(u is t for u in copied_set)


@pytest.mark.parametrize("kind", [set, frozenset])
def test_temporary_lists_of_sets_of_tuples_seen_by_a_later_hook(kind):
    ref, ours = _view(lambda: [kind({(1, 2), ("a",)}), [kind({()})], _MemoView()])
    assert ref == ours
    # the two temporary lists and the list holding the second set
    assert len(ref) == 3 and all(seen and again for _, seen, again in ref)


def test_sets_of_tuples_with_the_tuple_entry_replaced(registry):
    def tuple_copier(x, memo):
        return tuple(reversed(x))

    registry.deepcopy_dispatch(tuple, tuple_copier)
    ref, ours = _orders([{(1, 2), (3, 4)}, frozenset({(5, 6)})])
    assert ref == ours
    assert sorted(ref[0]) == [(2, 1), (4, 3)]
