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


class _Action:
    """Copies as itself, after running `action(memo)` (once)."""

    def __init__(self, action):
        self.action = action

    def __deepcopy__(self, memo):
        action, self.action = self.action, None
        if action is not None:
            action(memo)
        return self


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
        hook = _Action(ACTIONS[name](cls, holder))
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


def _summary(v):
    """What the copy holds, with the classes (fresh in each run) by name."""
    if isinstance(v, _Action):
        return "hook"
    if isinstance(v, (list, tuple)):
        return [_summary(i) for i in v]
    if isinstance(v, dict):
        return {k: _summary(i) for k, i in v.items()}
    if callable(v):
        return "callable"
    if hasattr(v, "__dict__") or hasattr(v, "__slots__"):
        slots = {s: _summary(getattr(v, s)) for s in getattr(type(v), "__slots__", ())
                 if s != "__dict__" and hasattr(v, s)}
        return (type(v).__name__, _summary(dict(getattr(v, "__dict__", {}))), slots)
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
        x.h = _Action(_class_setstate(cls))
        return x
    ref, ours = _both(build)
    assert _summary(ref) == _summary(ours)
    assert hasattr(ref, "got")
