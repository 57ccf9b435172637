"""A `__setstate__` that appears while an instance's state is copied.

stdlib's `_reconstruct` asks `hasattr(y, '__setstate__')` only after
`state = deepcopy(state, memo)`.  A hook run by that copy may give the new
instance `y` (found in the memo) or its class a `__setstate__`, or change y's
class; stdlib then calls it.  The engine's plain-class road decides "no
`__setstate__`" when it first sees the class: it must ask again after the copy.
Each original is built after a few instances of its (fresh) class were copied,
so that the class is a known plain class by then.
"""
import pytest

import helpers_compare as hc
from helpers_compare import current_deepcopy

pytestmark = pytest.mark.usefixtures("stdlib_copy_unpatched")


def _fresh_plain_class(base=object):
    class Fresh(base):
        pass
    for i in range(4):   # known to the type cache before the real copy
        w = Fresh()
        w.v = [i]
        current_deepcopy()(w)
    return Fresh


def _recording_setstate(self, state):
    self.got = _summary(state)


def _instance_setstate(holder):
    def action(memo):
        y = memo[id(holder[0])]
        calls = []
        y.__setstate__ = calls.append
        y.calls = calls
    return action


def _class_setstate(cls):
    def action(memo):
        cls.__setstate__ = _recording_setstate
    return action


def _base_setstate(cls):
    def action(memo):
        cls.__mro__[1].__setstate__ = _recording_setstate
    return action


def _other_class(holder):
    class Other:
        __setstate__ = _recording_setstate

    def action(memo):
        memo[id(holder[0])].__class__ = Other
    return action


def _other_attribute(holder):
    def action(memo):
        memo[id(holder[0])].extra = "set during the copy"
    return action


class _Base:
    pass


ACTIONS = {
    "instance_setstate": lambda cls, holder: _instance_setstate(holder),
    "class_setstate": lambda cls, holder: _class_setstate(cls),
    "base_setstate": lambda cls, holder: _base_setstate(cls),
    "class_changed": lambda cls, holder: _other_class(holder),
    "other_attribute": lambda cls, holder: _other_attribute(holder),
}


def _factory(name, where):
    def build():
        cls = _fresh_plain_class(type("Base", (_Base,), {}))
        x = cls()
        holder = [x]
        hook = hc.ActsOnce(ACTIONS[name](cls, holder))
        x.a = 1
        if where == "first":
            x.h = hook
            x.data = [1, 2]
        elif where == "nested":
            x.data = [1, {"k": [hook]}]
        else:
            x.data = [1, 2]
            x.h = hook
        return x
    return build


def _summary(v, seen=None):
    """What the copy holds, with the classes (fresh in each run) by name; an
    instance met again is shown by the order it was first met in."""
    seen = {} if seen is None else seen
    if isinstance(v, hc.ActsOnce):
        return "hook"
    if isinstance(v, (list, tuple)):
        return [_summary(i, seen) for i in v]
    if isinstance(v, dict):
        return (type(v).__name__, {k: _summary(i, seen) for k, i in v.items()})
    if callable(v):
        return "callable"
    if hasattr(v, "__dict__") or hasattr(v, "__slots__"):
        if id(v) in seen:
            return ("again", seen[id(v)])
        seen[id(v)] = len(seen)
        slots = {s: _summary(getattr(v, s), seen) for s in getattr(type(v), "__slots__", ())
                 if s != "__dict__" and hasattr(v, s)}
        return (type(v).__name__, _summary(getattr(v, "__dict__", {}), seen), slots)
    return v


def _both(build):
    out_ref, out_ours, _, _ = hc.run_both_fresh(build)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    assert out_ours[0] == "ok", hc.describe(out_ours)
    return out_ref[1], out_ours[1]


@pytest.mark.parametrize("where", ["first", "nested", "last"])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_setstate_appearing_during_state_copy(name, where):
    ref, ours = _both(_factory(name, where))
    assert _summary(ref) == _summary(ours)
    if name == "instance_setstate":
        # stdlib called the instance's own __setstate__, with the state
        assert len(ref.calls) == 1


def test_slots_and_dict_class_gets_setstate():
    """A class with __slots__ and a __dict__: the state is (dict, slots)."""
    def build():
        class Base:
            __slots__ = ("s", "__dict__")
        cls = _fresh_plain_class(Base)
        x = cls()
        x.s = [1]
        x.h = hc.ActsOnce(_class_setstate(cls))
        return x
    ref, ours = _both(build)
    assert _summary(ref) == _summary(ours)
    assert hasattr(ref, "got")


class _LoggingDict(dict):
    """An instance __dict__ whose update() is user code."""

    def update(self, *args, **kwargs):
        self["updated_by"] = "LoggingDict.update"
        super().update(*args, **kwargs)


def _dict_replaced(holder):
    def action(memo):
        y = memo[id(holder[0])]
        y.__dict__ = _LoggingDict(before="hook")
    return action


class _ParentSetter:
    """Reaches the parent's copy without the memo: through its own state,
    in __setstate__ (the memo stays the engine's)."""

    def __init__(self, parent):
        self.parent = parent

    def __setstate__(self, state):
        self.__dict__.update(state)
        state["parent"].__dict__ = _LoggingDict(before="setstate")


@pytest.mark.parametrize("where", ["first", "nested", "last"])
def test_instance_dict_replaced_during_state_copy(where):
    """y.__dict__ = a dict subclass with its own update(): stdlib's
    y.__dict__.update(state) calls it."""
    def build():
        cls = _fresh_plain_class()
        x = cls()
        x.a = 1
        hook = hc.ActsOnce(_dict_replaced([x]))
        if where == "first":
            x.h, x.data = hook, [1]
        elif where == "nested":
            x.data = [{"k": hook}]
        else:
            x.data, x.h = [1], hook
        return x
    ref, ours = _both(build)
    assert type(vars(ref)) is _LoggingDict and vars(ref)["updated_by"]
    assert _summary(ref) == _summary(ours)
    assert type(vars(ours)) is type(vars(ref))


def test_instance_dict_replaced_by_a_setstate_without_the_memo():
    def build():
        cls = _fresh_plain_class()
        x = cls()
        x.a = [1]
        x.child = _ParentSetter(x)
        x.b = [2]
        return x
    ref, ours = _both(build)
    assert type(vars(ref)) is _LoggingDict and vars(ref)["updated_by"]
    assert _summary(ref) == _summary(ours)
    assert type(vars(ours)) is type(vars(ref))


# ---------------------------------------------------------------------------
# The same for namedtuples: stdlib rebuilds one as copyreg.__newobj__(cls,
# *copied_items), i.e. cls.__new__ looked up after the items were copied.


def _nt_new(cls, *items):
    return tuple.__new__(cls, ("made by the hook's __new__",) + items[1:])


def _fresh_namedtuple():
    from collections import namedtuple
    nt = namedtuple("NT", ["a", "b"])
    for i in range(4):
        current_deepcopy()(nt([i], i))
    return nt


@pytest.mark.parametrize("target", ["class", "base"])
def test_namedtuple_new_replaced_during_item_copy(target):
    def build():
        nt = _fresh_namedtuple()
        cls = nt if target == "class" else type("NTSub", (nt,), {"__slots__": ()})
        for i in range(4):
            current_deepcopy()(cls([i], i))
        where = nt

        def action(memo):
            where.__new__ = _nt_new
        return [cls(1, [hc.ActsOnce(action)])]
    ref, ours = _both(build)
    assert ref[0][0] == "made by the hook's __new__"
    assert _summary(list(ref[0])) == _summary(list(ours[0]))
    assert type(ref[0]).__name__ == type(ours[0]).__name__


# ---------------------------------------------------------------------------
# Before the state: the look-ups of __deepcopy__ & co. in x's own dict compare
# keys; a str-subclass key's __eq__ is user code, which may change the class.


def test_class_changed_by_a_key_compared_in_the_hook_lookups():
    def build():
        cls = _fresh_plain_class()
        x = cls()
        x.a = [1]
        x.__dict__[hc.KeyLikeDeepcopy("k")] = 2

        def action():
            cls.__reduce_ex__ = lambda self, proto: (str, ("reduced by the new method",))
        hc.KeyLikeDeepcopy.action = action
        return [x]
    try:
        ref, ours = _both(build)
    finally:
        hc.KeyLikeDeepcopy.action = None
    assert ref[0] == "reduced by the new method"
    assert ours[0] == ref[0]
