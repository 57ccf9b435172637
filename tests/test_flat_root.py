"""deepcopy(x) without a memo of a list or dict whose items are atomic or a
few distinct flat containers runs without any memo (src/containers.c,
fdc_copy_flat_root).  Everything that needs one must still take the memo
road: a flat container met twice, too many of them, a container that is not
flat, a key that is not a plain atomic object, user entries in the dispatch
tables.
"""
import copy

import pytest

import helpers_compare as hc


def _shapes():
    a = [1, 2]
    d = {"k": 1}
    b = bytearray(b"xy")
    many = [[i] for i in range(9)]
    return {
        "empty list": [],
        "empty dict": {},
        "atomics": [1, "a", 2.5, None, True, b"b", (1, "t"), 3j],
        "flat lists": [[1], [2, "x"], 3],
        "flat dict values": {"l": [1, 2], "d": {"a": True}, "b": bytearray(b"z"), "s": "x"},
        "pyperf dict": {"list": [1, 2, 3, 43], "t": (1, 2, 3), "str": "hello",
                        "subdict": {"a": True}},
        "shared list": [a, a],
        "shared in dict": {"x": a, "y": a},
        "shared dict and bytearray": [d, b, d, b],
        "equal, not shared": {"x": [1, 2], "y": [1, 2]},
        "eight flats": [[i] for i in range(8)],
        "nine flats": many,
        "nine flats in a dict": {i: v for i, v in enumerate(many)},
        "not flat": [[1, [2]]],
        "too long to be flat": [[0] * 40],
        "tuple key": {(1, 2): [1]},
        "frozenset value": {"f": frozenset([1])},
        "object value": [object()],
        "list holding an atomic tuple": [[(1, 2)], (3,)],
        "long list (memo road)": list(range(40)) + [a, a, [1]],
        "long dict": {i: (i, "x") for i in range(40)},
    }


SHAPES = _shapes()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_flat_roots_like_stdlib(name):
    obj = SHAPES[name]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


def test_shared_flat_value_stays_shared():
    a = [1]
    for obj in ([a, a], {"x": a, "y": a}):
        out_ref, out_ours = hc.run_both(obj)
        hc.assert_same_outcome(out_ref, out_ours, obj)
        copied = out_ours[1]
        first, second = (copied[0], copied[1]) if isinstance(copied, list) else \
            (copied["x"], copied["y"])
        assert first is second and first is not a


def test_split_table_instance_dict():
    class C:
        pass
    c = C()
    c.a = [1]
    c.b = 2
    obj = c.__dict__
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


@pytest.mark.parametrize("cls", [list, dict, int, str, tuple])
def test_dispatch_entry_honoured(registry, cls):
    def copier(x, memo):
        return ("custom", type(x).__name__)

    registry.deepcopy_dispatch(cls, copier)
    obj = [1, "s", (1,), [2], {"k": 3}] if cls is not list else [1, [2]]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


def test_copyreg_entry_for_bytearray(registry):
    registry.reduce(bytearray, lambda b: (list, (["reduced", bytes(b)],)))
    obj = {"b": bytearray(b"q"), "l": [1]}
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    assert out_ours[1]["b"] == ["reduced", b"q"]


def test_stats_count_the_copy():
    import fastdeepcopy
    fastdeepcopy.reset_stats()
    fastdeepcopy.deepcopy({"a": [1, 2], "b": 3})
    s = fastdeepcopy.stats()["engine"]
    assert s["toplevel"] == 1 and s["calls"] == 1 and s["errors"] == 0
    assert s["objects"] == 7   # the dict, its 2 keys and 2 values, the list's 2 items
    assert copy.deepcopy is not fastdeepcopy.deepcopy


# ---- flat containers inside a dict copied with a memo (copy_known_flat) -------
# A dict whose values are atomic or flat is cloned, and each flat value is
# copied without being taken apart again; it still meets the memo as the
# recursion would: looked up first, then stored.

@pytest.mark.parametrize("name", sorted(SHAPES))
def test_nested_under_a_memo_like_stdlib(name):
    obj = [SHAPES[name], {"wrapped": SHAPES[name]}, [[0, [1]]]]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


def _sharing_shapes():
    a, b, d = [1, 2], bytearray(b"x"), {"k": 1}
    return {
        "copied before the dict": [a, {"x": a, "n": 1}],
        "copied after the dict": [{"x": a, "n": 1}, a],
        "in two dicts": {"p": {"x": a, "y": d}, "q": {"y": d, "x": a, "b": b}, "r": [b]},
        "twice in one nested dict": [{"x": a, "y": a}, [[0]]],
        "dict value of itself elsewhere": [d, {"d": d}, {"e": d}],
    }


@pytest.mark.parametrize("name", sorted(_sharing_shapes()))
def test_shared_flat_values_under_a_memo(name):
    obj = _sharing_shapes()[name]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


def test_shared_flat_value_in_a_caller_memo():
    a = [1]
    obj = {"x": a, "n": 2}
    factory, memos = hc.recording_memos()
    out_ref, out_ours = hc.run_both(obj, factory)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    hc.assert_same_memo(memos[0], memos[1], comp)


def test_nested_copyreg_entry_for_bytearray(registry):
    registry.reduce(bytearray, lambda b: (list, (["reduced", bytes(b)],)))
    obj = [{"b": bytearray(b"q"), "l": [1]}, [[0]]]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    assert out_ours[1][0]["b"] == ["reduced", b"q"]


def _stdlib_deepcopy_calls(obj):
    """How many times stdlib's deepcopy runs for obj (the root included)."""
    import sys
    code = hc.REF.deepcopy.__code__
    calls = [0]

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is code:
            calls[0] += 1

    sys.setprofile(profile)
    try:
        hc.REF.deepcopy(obj)
    finally:
        sys.setprofile(None)
    return calls[0]


def test_stats_count_nested_flat_values():
    """`objects` counts what stdlib's deepcopy calls count: every visit,
    memo hits included."""
    import fastdeepcopy
    a = [1, 2]
    for obj in ([{"a": a, "b": 3}, a, [[0]]], [a, {"a": a, "b": [4]}, [[0]]]):
        fastdeepcopy.reset_stats()
        fastdeepcopy.deepcopy(obj)
        assert fastdeepcopy.stats()["engine"]["objects"] == _stdlib_deepcopy_calls(obj)
