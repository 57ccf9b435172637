"""__slots__ classes on the direct path (slots read and written by offset,
src/typecache.c), against stdlib: every way a slot name can stop meaning
"this member" -- unset, shadowed by a property in a subclass, replaced on the
class between copies or in the middle of one, deleted -- must give stdlib's
result or exception.
"""
import pytest

import helpers_compare as hc
from helpers_compare import current, current_deepcopy


class Point:
    __slots__ = ("x", "y", "tags", "__secret")

    def __init__(self, x, y, tags, secret=None):
        self.x = x
        self.y = y
        self.tags = tags
        if secret is not None:
            self.__secret = secret


class WithDict:
    __slots__ = ("a", "__dict__", "__weakref__")


class Shadowed(Point):
    """A subclass whose `y` is a property over an instance attribute."""
    __slots__ = ("_y",)

    @property
    def y(self):
        return ("via property", getattr(self, "_y", None))

    @y.setter
    def y(self, value):
        self._y = ("set through property", value)


LOG = []


class Mutator:
    """Copied as a slot value: changes the class of the object being copied."""

    def __init__(self, action):
        self.action = action

    def __deepcopy__(self, memo):
        LOG.append(current())
        self.action()
        return Mutator(self.action)


def _shapes():
    def unset():
        p = Point(1, 2, [3])
        del p.y
        return [p, Point(4, 5, [6], secret={"s": [7]})]

    def with_dict():
        w = WithDict()
        w.a = [1]
        w.b = {"c": w.a}
        return [w, w]

    def shadowed():
        s = Shadowed(1, 2, [3])
        return [s, Shadowed(4, None, [])]

    def shared():
        tags = [1, 2]
        return [Point(1, 2, tags), Point(3, 4, tags), tags]

    return {"unset": unset, "with_dict": with_dict, "shadowed": shadowed, "shared": shared}


SHAPES = _shapes()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_slots_shapes(name):
    obj = SHAPES[name]()
    out_ref, out_ours = hc.run_both(obj)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, obj)


def _fresh_class():
    class P:
        __slots__ = ("a", "b")
    return P


def test_member_replaced_by_property_between_copies():
    P = _fresh_class()
    p = P()
    p.a, p.b = [1], [2]
    for _ in range(3):   # the class's decision is cached by now
        hc.assert_same_outcome(*hc.run_both([p]), [p])
    member = P.__dict__["b"]
    P.b = property(lambda self: ("property", member.__get__(self)),
                   lambda self, v: member.__set__(self, ("set", v)))
    out_ref, out_ours = hc.run_both([p])
    hc.assert_same_outcome(out_ref, out_ours, [p])
    assert out_ours[1][0].b[0] == "property"


@pytest.mark.parametrize("change", ["property", "delete"])
def test_member_changed_during_the_copy(change):
    def make():
        P = _fresh_class()
        member = P.__dict__["b"]

        def act():
            if change == "delete":
                if "b" in P.__dict__:
                    del P.b
            else:
                P.b = property(lambda self: "property",
                               lambda self, v: member.__set__(self, ("set", v)))
        warm = P()
        warm.a, warm.b = 1, 2
        current_deepcopy()([warm, warm])   # cache the class first
        p = P()
        p.a, p.b = Mutator(act), [2]
        return [p]

    LOG.clear()
    out_ref, out_ours, _, _ = hc.run_both_fresh(make)
    assert LOG == ["ref", "ours"]
    # each run has its own class: compare what the copies hold
    assert out_ref[0] == out_ours[0], (hc.describe(out_ref), hc.describe(out_ours))
    if out_ref[0] == "raise":
        assert out_ref[1:] == out_ours[1:]
        return

    def slots(y):
        return [(n, type(getattr(y, n, None)).__name__, repr(getattr(y, n, None))[:12])
                for n in ("a", "b")]
    assert slots(out_ref[1][0]) == slots(out_ours[1][0])


def test_slot_name_given_another_class_member():
    """A slot name whose class attribute becomes the member descriptor of an
    unrelated class: reading or writing "by offset" would touch a field the
    object does not have; stdlib's getattr raises TypeError."""
    class Wide:
        __slots__ = ("a", "b", "c", "d", "e")

    class Narrow:
        __slots__ = ("x",)

    n = Narrow()
    n.x = [1]
    for which in ("ref", "ours"):          # the class decided, offsets cached
        with hc.using(which):
            hc.current_deepcopy()(n)
            hc.current_deepcopy()(n)
    Narrow.x = Wide.__dict__["e"]
    out_ref, out_ours = hc.run_both(n)
    assert out_ref[0] == "raise" and out_ref[1] is TypeError
    assert out_ours[:2] == out_ref[:2]
