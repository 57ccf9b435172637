"""What differs between the versions of Lib/copy.py, against the running one.

Each test runs on every version and compares fastdeepcopy with the stdlib
`copy` of the running interpreter (helpers_compare.REF); the `expect` and
version-dependent asserts only make sure a case exercises what its name says
on that version:

- 3.14: deepcopy returns `cls in _atomic_types` before the memo is looked at
  (a caller's memo entry under id(5) is not used); copy() asks
  `_copy_atomic_types` and `_copy_builtin_containers`; "too many values to
  unpack (expected 2, got N)" for exact lists, tuples and dicts.
- 3.15: `d in memo` then `memo[d]` (no _nil); frozendict.
"""
import builtins
import copy
import sys

import pytest

import fastdeepcopy
import helpers_compare as hc

pytestmark = pytest.mark.usefixtures("stdlib_copy_unpatched")

PY = sys.version_info[:2]
FROZENDICT = getattr(builtins, "frozendict", None)
needs_atomic_set = pytest.mark.skipif(PY < (3, 14), reason="copy._atomic_types is new in 3.14")
needs_frozendict = pytest.mark.skipif(FROZENDICT is None, reason="frozendict is new in 3.15")


def check(obj, memo_factory=None, *, shallow=False, expect=None):
    out_ref, out_ours = hc.run_both(obj, memo_factory, shallow=shallow)
    if expect is not None:
        assert out_ref[0] == expect, "reference: " + hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    return out_ref, out_ours


class Thing:
    def __init__(self, a):
        self.a = a


# ---------------------------------------------------------------------------
# atomic objects and a caller's memo


def test_caller_memo_entries_under_ids_of_atomic_objects():
    """Until 3.13 the memo is looked up first (the entries are returned);
    from 3.14 atomic objects are returned before it."""
    n, s = 123456789, "a string"
    x = [n, s, (n, s), {s: n}]
    factory, memos = hc.recording_memos()

    def memo():
        m = factory()
        m[id(n)] = "int from memo"
        m[id(s)] = "str from memo"
        return m
    out_ref, out_ours = check(x, memo, expect="ok")
    assert (out_ref[1][0] == "int from memo") == (PY < (3, 14))
    for top in (n, s):
        out_ref, _ = check(top, memo, expect="ok")
        assert (out_ref[1] is top) == (PY >= (3, 14))


def test_recording_memo_calls_in_stdlib_order():
    """get (until 3.14) or `in` then [] (3.15), and the stores, in order."""
    shared = [1]
    x = [shared, Thing(shared), {"k": shared}, 7, "s", (shared,)]
    logs = []

    def memo():
        logs.append([])
        return hc.RecordingMemo(logs[-1])
    check(x, memo, expect="ok")
    ref_log, our_log = logs

    def normalize(log):
        return [op for op, _ in log]
    assert normalize(ref_log) == normalize(our_log)
    assert ("contains" in normalize(ref_log)) == (PY >= (3, 15))


def test_memo_hit_on_a_mapping_whose_contains_lies():
    """3.15: `d in memo` decides, then memo[d] (a KeyError propagates)."""
    class Liar(dict):
        def __contains__(self, key):
            return True
    out_ref, _ = check([[1]], Liar)
    assert out_ref[0] == ("raise" if PY >= (3, 15) else "ok")


# ---------------------------------------------------------------------------
# copy._atomic_types (3.14+)


@needs_atomic_set
def test_class_added_to_atomic_types(registry):
    t = Thing([1])
    registry.atomic_type(Thing)
    out_ref, _ = check([t, {"t": t}, (t,)], expect="ok")
    assert out_ref[1][0] is t
    out_ref, _ = check(t, expect="ok")
    assert out_ref[1] is t
    check(t, dict, expect="ok")


@needs_atomic_set
def test_range_removed_from_atomic_types(registry):
    """range goes through the rest of the protocol: _deepcopy_dispatch (none),
    __reduce_ex__(4), and its copy is memoized."""
    registry.atomic_type(range, present=False)
    r = range(5)
    out_ref, _ = check([r, 2, [r, 1000]], expect="ok")
    assert out_ref[1][0] is not r and out_ref[1][0] is out_ref[1][2][0]
    check({1: r, "a": (r,)}, expect="ok")
    check(r, expect="ok")
    check([r, r], dict, expect="ok")


@needs_atomic_set
def test_int_removed_from_atomic_types(registry):
    """An int's reduce value holds the int: stdlib recurses until RecursionError."""
    registry.atomic_type(int, present=False)
    check([1], expect="raise")
    check(5, expect="raise")


@needs_atomic_set
def test_atomic_types_changed_by_a_hook_mid_copy(registry):
    """A __deepcopy__ that adds a class to the set while the copy runs."""
    class Late:
        pass

    class Adder:
        def __deepcopy__(self, memo):
            mod = copy if hc.current() == "ours" else hc.REF
            if isinstance(mod._atomic_types, set):
                mod._atomic_types.add(Late)
            else:
                mod._atomic_types = mod._atomic_types | {Late}
            return "added"
    registry.atomic_type(Late, present=False)   # (restored afterwards)
    late = Late()
    out_ref, _ = check([late, Adder(), late, [late]], expect="ok")


@needs_atomic_set
def test_atomic_types_rebound(registry):
    """copy._atomic_types replaced by another container: asked with `in`."""
    class Container:
        def __init__(self, items):
            self.items = set(items)
            self.asked = []

        def __contains__(self, cls):
            self.asked.append(cls.__name__)
            return cls in self.items
    for mod in (copy, hc.REF):
        registry._set(mod.__dict__, "_atomic_types", Container(mod._atomic_types))
    t = Thing(1)
    out_ref, _ = check([1, "a", t, (2,)], expect="ok")
    assert copy._atomic_types.asked == hc.REF._atomic_types.asked
    for mod in (copy, hc.REF):
        registry._set(mod.__dict__, "_atomic_types", None)
    check([1], expect="raise")   # `cls in None`: TypeError


@needs_atomic_set
def test_atomic_types_deleted(registry):
    for mod in (copy, hc.REF):
        registry._set(mod.__dict__, "_atomic_types", registry_missing())
    out_ref, _ = check([1], expect="raise")
    assert out_ref[1] is NameError


def registry_missing():
    import conftest
    return conftest._MISSING


# ---------------------------------------------------------------------------
# messages


class ReduceWithItems:
    """A reduce value whose dict items are not pairs."""
    def __init__(self, items):
        self.items = items

    def __reduce__(self):
        return (dict, (), None, None, iter(self.items))


class Three:
    """An iterable of three items that is no list, tuple or dict."""
    def __iter__(self):
        return iter((1, 2, 3))


@pytest.mark.parametrize("item", [(1, 2, 3), [1, 2, 3], {1: 1, 2: 2, 3: 3}, "abc", b"abc",
                                  (1,), [], Three()], ids=repr)
def test_unpack_messages(item):
    """'too many values to unpack (expected 2, got 3)' from 3.14 for an exact
    list, tuple or dict."""
    out_ref, _ = check(ReduceWithItems([item]), expect=None)
    check(ReduceWithItems([item]), shallow=True)
    if isinstance(item, (tuple, list, dict)) and len(item) == 3:
        assert ("got 3" in out_ref[2]) == (PY >= (3, 14))


# ---------------------------------------------------------------------------
# frozendict (3.15)


@needs_frozendict
@pytest.mark.parametrize("make", [
    lambda: FROZENDICT(),
    lambda: FROZENDICT(a=1, b="s", c=(1, 2)),
    lambda: FROZENDICT({1: [1, 2], (1, 2): {"x": [3]}}),
    lambda: [FROZENDICT(a=[1])] * 3,
    lambda: FROZENDICT(t=Thing([1]), f=FROZENDICT(g=[2])),
    lambda: {FROZENDICT(a=1): [FROZENDICT(a=1)]},
], ids=["empty", "atomic", "nested", "shared", "instances", "as-key"])
def test_frozendict_shapes(make):
    x = make()
    check(x, expect="ok")
    check(x, dict, expect="ok")
    check([x, x], expect="ok")
    check(x, shallow=True, expect="ok")


@needs_frozendict
def test_frozendict_in_a_cycle():
    """stdlib does not memoize the frozendict before its items: a list that
    holds it and is held by it is copied twice over, then memo[id(x)] wins."""
    def make():
        lst = []
        fd = FROZENDICT(l=lst)
        lst.append(fd)
        return lst
    lst = make()
    out_ref, _ = check(lst, expect="ok")
    check(lst[0], expect="ok")
    check(lst[0], dict, expect="ok")
    factory, memos = hc.recording_memos()
    check(lst, factory)
    hc.assert_same_memo(memos[0], memos[1], hc.Comparator())


@needs_frozendict
def test_frozendict_memo_entry_from_the_caller():
    fd = FROZENDICT(a=[1])

    def memo():
        return {id(fd): "from memo"}
    out_ref, _ = check([fd], memo, expect="ok")
    assert out_ref[1] == ["from memo"]


@needs_frozendict
def test_frozendict_values_with_hooks():
    class Hook:
        def __deepcopy__(self, memo):
            return ("hook saw", len(memo))
    check(FROZENDICT(h=Hook(), l=[1], m=Hook()), expect="ok")


@needs_frozendict
def test_frozendict_dispatch_entry_replaced(registry):
    registry.deepcopy_dispatch(FROZENDICT, lambda x, memo: ("replaced", len(x)))
    out_ref, _ = check([FROZENDICT(a=1)], expect="ok")
    assert out_ref[1][0][0] == "replaced"
    registry.remove_deepcopy_dispatch(FROZENDICT)
    check([FROZENDICT(a=[1])], expect="ok")


@needs_frozendict
def test_frozendict_subclass():
    class FD(FROZENDICT):
        pass
    check(FD(a=[1]), expect=None)


def test_engine_signature_matches_stdlib():
    """deepcopy(x, memo=None, _nil=[]) until 3.14, deepcopy(x, memo=None) in
    3.15: a third argument is refused there with stdlib's message."""
    for args in ((1, None, []), (1, None, [], 4)):
        ref = hc.outcome(hc.REF.deepcopy, *args)
        ours = hc.outcome(fastdeepcopy.deepcopy, *args)
        assert ref[0] == ours[0]
        if ref[0] == "raise":
            assert ref[1:] == ours[1:]


def test_dispatch_entry_for_type_seen_by_plain_instances(registry):
    """A plain instance's reduce value holds its class in args, which
    _reconstruct deep-copies: a copier registered for `type` (an atomic
    class) is called for it, so the per-class shortcuts must not be taken."""
    class Plain:
        def __init__(self):
            self.a = [1]
    warm = [Plain(), Plain()]
    check(warm, expect="ok")   # the class's decision is made and cached
    registry.atomic_copier(type, lambda x, memo: Plain)
    check([Plain(), Plain()], expect="ok")
    registry.atomic_copier(type, lambda x, memo: ("not a class", x))
    check([Plain()], expect="raise")
    check(Plain(), expect="raise")
