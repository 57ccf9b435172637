"""Subclasses of dict and list copied by the type cache's PLAIN road
(src/typecache.c): object.__reduce_ex__(4) gives (copyreg.__newobj__,
(cls,), state, None, iter(x.items())) or (..., iter(x), None), and
copy._reconstruct fills the new object with y[k] = v or y.append(v).  The
engine does the same without the reduce tuple, as long as the class leaves
the protocol alone; every hook a class or an instance can put in the way
must still be called as stdlib calls it.
"""
import collections

import pytest

import helpers_compare as hc


def _check(factory, expect="ok"):
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory)
    assert out_ref[0] == expect, hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return out_ref, out_ours


class D(dict):
    pass


class L(list):
    pass


class DSlots(dict):
    __slots__ = ("tag",)


class LSlotsAndDict(list):
    __slots__ = ("tag", "__dict__")


def _shapes():
    shared = [1, 2]
    d = D(a=shared, b=(shared, 3), c="s")
    d.attr = {"x": shared}
    d["self"] = d
    l = L([shared, {"k": shared}, 5])
    l.append(l)
    l.note = "n"
    ds = DSlots(k=[1])
    ds.tag = [2]
    ls = LSlotsAndDict([[3]])
    ls.tag = ls
    ls.more = {"m": 1}
    return [d, l, shared, ds, ls, D(), L(), [D(x=L([D()]))]]


def test_shapes_with_state_slots_cycles_and_sharing():
    _check(_shapes)


class LoggingDict(dict):
    log = []

    def __setitem__(self, k, v):
        LoggingDict.log.append((hc.current(), "set", k))
        super().__setitem__(k, v)


class LoggingList(list):
    log = []

    def append(self, v):
        LoggingList.log.append((hc.current(), "append", repr(v)))
        super().append(v)

    def extend(self, vs):
        LoggingList.log.append((hc.current(), "extend"))
        super().extend(vs)


def test_overridden_setitem_and_append_are_called():
    LoggingDict.log.clear()
    LoggingList.log.clear()
    _check(lambda: [LoggingDict(a=1, b=[2]), LoggingList([1, [2], 3])])
    for log in (LoggingDict.log, LoggingList.log):
        ref = [e[1:] for e in log if e[0] == "ref"]
        ours = [e[1:] for e in log if e[0] == "ours"]
        assert ref == ours and ref


class OwnIter(list):
    def __iter__(self):
        return reversed(list(list.__iter__(self)))


class OwnItems(dict):
    def items(self):
        return [(k, ("via items", v)) for k, v in dict.items(self)]


class WithReduce:
    def __reduce_ex__(self, proto):
        return (D, (), None, None, iter([("from", "mixin")]))


class MixedIn(WithReduce, dict):
    pass


def test_classes_that_change_the_protocol():
    out_ref, _ = _check(lambda: [OwnIter([1, 2, 3]), OwnItems(a=1), MixedIn(x=1)])
    assert out_ref[1][0] == [3, 2, 1] and out_ref[1][1]["a"] == ("via items", 1)
    assert out_ref[1][2] == {"from": "mixin"}


def test_instance_attributes_named_like_the_protocol():
    """stdlib calls x.items() (an instance attribute wins) and y.append (y's
    instance dict, filled from the state first)."""
    def make():
        d = D(a=1)
        d.items = lambda: [("from instance", "items")]
        l = L([1, 2])
        l.append = "not callable"
        return [d, l]

    _check(make, expect="raise")

    def make_callable():
        d = D(a=1)
        d.items = lambda: [("from instance", "items")]
        return [d]

    out_ref, _ = _check(make_callable)
    assert out_ref[1][0] == {"from instance": "items"}


class Grows:
    """Its copy changes the original container it sits in."""

    def __init__(self, target):
        self.target = target

    def __deepcopy__(self, memo):
        if isinstance(self.target, dict):
            self.target["added"] = 1
        else:
            self.target.append("added")
        return "grew"


def test_original_changed_during_the_copy():
    def make_dict():
        d = D(a=1)
        d["g"] = Grows(d)
        d["z"] = 2
        return d

    def make_list():
        l = L([1])
        l.append(Grows(l))
        l.append(2)
        return l

    _check(make_dict, expect="raise")      # dictionary changed size during iteration
    out_ref, _ = _check(make_list)         # the list iterator sees the new item
    assert out_ref[1][-1] == "added"


class _MemoView:
    log = {}

    def __deepcopy__(self, memo):
        _MemoView.log[hc.current()] = sorted(
            (type(v).__name__, repr(v)[:40]) for k, v in memo.items() if k != id(memo))
        return "viewed"


def test_memo_seen_by_a_later_hook():
    _MemoView.log.clear()
    _check(lambda: [D(a=[1]), L([[2], 3]), DSlots(k=1), _MemoView()])
    assert _MemoView.log["ref"] == _MemoView.log["ours"]


def test_class_changed_between_copies():
    class Late(dict):
        pass

    calls = []
    _check(lambda: [Late(a=1)])

    def setitem(self, k, v):
        calls.append(hc.current())
        dict.__setitem__(self, k, v)

    Late.__setitem__ = setitem
    _check(lambda: [Late(a=1, b=2)])
    assert calls.count("ref") == calls.count("ours") == 2


@pytest.mark.parametrize("cls", [collections.OrderedDict, collections.defaultdict,
                                 collections.Counter, collections.UserDict])
def test_standard_library_mappings(cls):
    def make():
        m = cls(int) if cls is collections.defaultdict else cls()
        m["a"] = [1]
        m["b"] = 2
        return [m, m]

    _check(make)
