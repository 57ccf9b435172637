"""Classes with their own __reduce__ (a Python function) and object's
__reduce_ex__: the engine calls the function directly, skipping the
getattr(x, "__deepcopy__"), getattr(x, "__reduce_ex__")(4) and the lookups
object.__reduce_ex__ makes (src/typecache.c, FDC_KIND_OWN_REDUCE).  Everything
that would make stdlib take another road must be seen: instance attributes of
those names, a class changed between or during copies, copyreg entries, a
metaclass, other kinds of __reduce__.
"""
import copyreg

import pytest

import helpers_compare as hc


class Reduced:
    """pyperformance's deepcopy_reduce class."""

    def __init__(self):
        self.a = 1
        self.b = [2, 3]

    def __reduce__(self):
        return (Reduced, (), self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)


class ReducedSlots:
    __slots__ = ("a", "b")

    def __init__(self, a=1, b=None):
        self.a = a
        self.b = b if b is not None else [a]

    def __reduce__(self):
        return (ReducedSlots, (self.a, self.b))


class ReducedToName:
    def __reduce__(self):
        return "ReducedToName"   # a str: the object is its own copy


class ReduceRaises:
    def __reduce__(self):
        raise ValueError("no reduce for you")


class ReduceSub(Reduced):
    pass


def _check(obj):
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    return out_ref, out_ours


@pytest.mark.parametrize("make", [
    lambda: Reduced(),
    lambda: [Reduced(), Reduced()],
    lambda: (lambda r: [r, r, {"again": r}])(Reduced()),
    lambda: ReducedSlots(),
    lambda: [ReducedSlots(5, [1, 2]), ReducedSlots()],
    lambda: [ReducedToName(), ReducedToName()],
    lambda: [1, ReduceRaises()],
    lambda: [ReduceSub(), Reduced()],
], ids=["one", "two", "shared", "slots", "slots2", "to-name", "raises", "subclass"])
def test_own_reduce_like_stdlib(make):
    _check(make())


def test_own_reduce_with_caller_memo():
    obj = [Reduced(), Reduced()]
    factory, memos = hc.recording_memos()
    out_ref, out_ours = hc.run_both(obj, factory)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    hc.assert_same_memo(memos[0], memos[1], comp)


@pytest.mark.parametrize("name, value", [
    ("__reduce__", lambda: (list, ([1, "instance __reduce__"],))),
    ("__reduce_ex__", lambda proto: (list, ([proto, "instance __reduce_ex__"],))),
    ("__deepcopy__", lambda memo: ["instance __deepcopy__"]),
    ("__reduce__", None),
])
def test_instance_attribute_shadows(name, value):
    x = Reduced()
    for _ in range(2):   # the class's decision is made and cached first
        _check([x])
    x.__dict__[name] = value
    _check([x, Reduced()])
    del x.__dict__[name]
    _check([x])


def _fresh_class():
    class Local:
        def __init__(self):
            self.v = [1]

        def __reduce__(self):
            return (Local, (), {"v": self.v, "how": "first"})

    return Local


def _second_reduce(self):
    return (type(self), (), {"v": self.v, "how": "second"})


def _deepcopy_hook(self, memo):
    return ["class __deepcopy__"]


def _reduce_ex_hook(self, proto):
    return (list, (["class __reduce_ex__", proto],))


@pytest.mark.parametrize("attr, value", [
    ("__reduce__", _second_reduce),
    ("__reduce__", staticmethod(lambda: (list, (["static"],)))),
    ("__reduce__", None),
    ("__deepcopy__", _deepcopy_hook),
    ("__reduce_ex__", _reduce_ex_hook),
])
def test_class_changed_between_copies(attr, value):
    cls = _fresh_class()
    obj = [cls(), cls()]
    for _ in range(2):
        _check(obj)
    setattr(cls, attr, value)
    _check(obj)


def test_copyreg_entry_added_later():
    cls = _fresh_class()
    obj = [cls()]
    _check(obj)
    copyreg.dispatch_table[cls] = lambda x: (list, (["from copyreg"],))
    try:
        _check(obj)
    finally:
        del copyreg.dispatch_table[cls]
    _check(obj)


def _first_reduce(self):
    return (type(self), (), {"v": self.v, "how": "first"})


class Changeable:
    def __init__(self):
        self.v = [1]


class Changer:
    """Copied first: gives the class of the objects after it another __reduce__."""

    def __deepcopy__(self, memo):
        Changeable.__reduce__ = _second_reduce
        return "changed"


def test_class_changed_during_the_copy():
    def run():
        Changeable.__reduce__ = _first_reduce
        return [Changeable(), Changer(), Changeable()]

    out_ref, out_ours, orig_ref, orig_ours = hc.run_both_fresh(run)
    hc.assert_same_outcome(out_ref, out_ours, orig_ref, orig_ours)
    assert out_ours[1][0].__dict__["how"] == "first"
    assert out_ours[1][2].__dict__["how"] == "second"


class SneakyKey(str):
    """An instance-dict key that compares equal to nothing but, when compared,
    replaces the class's __reduce__ (hash of '__deepcopy__', so stdlib's own
    getattr(x, '__deepcopy__') meets it too)."""

    def __hash__(self):
        return hash("__deepcopy__")

    def __eq__(self, other):
        Sneaky.__reduce__ = _second_reduce
        return False


class Sneaky:
    def __init__(self):
        self.v = [1]

    def __reduce__(self):
        return (Sneaky, (), {"v": self.v, "how": "first"})


def test_class_changed_by_a_dict_key_comparison():
    def run():
        Sneaky.__reduce__ = _first_reduce
        x = Sneaky()
        x.__dict__[SneakyKey("k")] = 1
        return [x]

    out_ref, out_ours, orig_ref, orig_ours = hc.run_both_fresh(run)
    hc.assert_same_outcome(out_ref, out_ours, orig_ref, orig_ours)
    assert out_ours[1][0].__dict__["how"] == "second"


class Meta(type):
    """getattr(cls, '__reduce__') in object.__reduce_ex__ meets this first."""

    @property
    def __reduce__(cls):
        return object.__reduce__


class WithMeta(metaclass=Meta):
    def __init__(self):
        self.v = [1]

    def __reduce__(self):
        return (list, (["own reduce"],))


def test_metaclass_decides_the_override():
    # stdlib: the class's __reduce__ reads as object's: _common_reduce, not ours
    out_ref, out_ours = _check([WithMeta()])
    assert out_ours[1][0] != ["own reduce"]
