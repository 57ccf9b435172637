"""__deepcopy__ methods known to return self, whose call the engine skips
(src/selfhook.c): fractions.Fraction's `if type(self) == Fraction: return
self`, re.Pattern's and re.Match's C methods.  Whatever those depend on may
change: the class's hook, the hook's code, the module global `Fraction`, a
global or builtin `type`, the metaclass's comparison.  Each change must be
seen, as stdlib sees it, also in the middle of a copy.
"""
import abc
import builtins
import fractions
import sys
import textwrap

import pytest

import helpers_compare as hc


def _check(factory):
    """Both implementations on a fresh original each; returns the copies."""
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return out_ref[1], out_ours[1], o_ref, o_ours


def _originals(copy, original):
    """For each item: is the copy's item the original's?"""
    return [c is o for c, o in zip(copy, original)]


def _fractions():
    f = fractions.Fraction(1, 3)
    return [f, fractions.Fraction(2, 7), f, (f,), {"k": f}, [fractions.Fraction(5)] * 3]


def test_fractions_are_their_own_copies():
    ref, ours, o_ref, o_ours = _check(_fractions)
    assert _originals(ref, o_ref)[:3] == [True, True, True]
    assert _originals(ours, o_ours) == _originals(ref, o_ref)


class FractionSub(fractions.Fraction):
    pass


class FractionSubWithDict(fractions.Fraction):
    __slots__ = ("__dict__",)


def test_subclasses_run_the_hook():
    """type(self) == Fraction is false: the hook builds a new object."""
    def make():
        a = FractionSub(1, 3)
        b = FractionSubWithDict(2, 3)
        b.note = [1]
        return [a, b, a, fractions.Fraction(1, 2), b]

    ref, ours, o_ref, o_ours = _check(make)
    assert _originals(ref, o_ref) == [False, False, False, True, False]
    assert _originals(ours, o_ours) == _originals(ref, o_ref)


def test_hook_replaced_on_the_class(monkeypatch):
    _check(_fractions)   # decided first
    monkeypatch.setattr(fractions.Fraction, "__deepcopy__",
                        lambda self, memo: ("replaced", str(self)))
    ref, ours, _, _ = _check(_fractions)
    assert ref[0][0] == "replaced"


def test_hook_code_replaced(monkeypatch):
    """The same function object, another __code__: the type's version is
    unchanged, the code object is not."""
    _check(_fractions)

    def other(self, memo):
        return ("other code", str(self))

    monkeypatch.setattr(fractions.Fraction.__deepcopy__, "__code__", other.__code__)
    ref, ours, _, _ = _check(_fractions)
    assert ref[0][0] == "other code"


def test_builtin_type_replaced():
    """A `type` builtin that counts its one-argument calls (a metaclass, so
    that stdlib's own issubclass(cls, type) still works)."""
    real_type = builtins.type
    hook_code = fractions.Fraction.__deepcopy__.__code__
    calls = []

    class CountingType(real_type):
        def __new__(mcls, *args):
            if len(args) == 1:
                if sys._getframe(1).f_code is hook_code:
                    calls.append(1)
                return real_type(args[0])
            return real_type.__new__(mcls, *args)

    _check(_fractions)
    counts = {}
    for which in ("ref", "ours"):
        fn = hc.REF.deepcopy if which == "ref" else hc.fastdeepcopy.deepcopy
        obj = _fractions()
        calls.clear()
        builtins.type = CountingType
        try:
            out = fn(obj)
        finally:
            builtins.type = real_type
        counts[which] = (len(calls), _originals(out, obj))
    assert counts["ref"] == counts["ours"]
    assert counts["ref"][0] > 0


# A class of the same shape in a namespace of its own: the recognised code,
# with a metaclass whose comparison is user code.

# fractions.Fraction's hook, as a function at module level and as a method
_HOOK = """def __deepcopy__(self, memo):
    if type(self) == Fraction:
        return self     # My components are also immutable
    return self.__class__(self._numerator, self._denominator)
"""

_CLASS = """class Fraction(%s):
    __slots__ = ("_numerator", "_denominator")

    def __init__(self, n, d):
        self._numerator = n
        self._denominator = d
"""

SOURCE = ("class Meta(type):\n    pass\n\n" + _CLASS % "metaclass=Meta" + "\n"
          + textwrap.indent(_HOOK, "    "))


def _namespace():
    ns = {"__name__": "fractionlike"}
    exec(SOURCE, ns)
    return ns


def test_same_code_elsewhere_is_recognised():
    ns = _namespace()
    cls = ns["Fraction"]
    shared = cls(1, 2)
    ref, ours, o_ref, o_ours = _check(lambda: [shared, cls(3, 4), shared])
    assert _originals(ref, o_ref) == [True, True, True]


def test_metaclass_comparison_is_user_code():
    ns = _namespace()
    cls, meta = ns["Fraction"], ns["Meta"]
    _check(lambda: [cls(1, 2)])
    calls = []

    def eq(a, b):
        calls.append(hc.current())
        return False

    meta.__eq__ = eq
    meta.__hash__ = type.__hash__
    ref, ours, o_ref, o_ours = _check(lambda: [cls(1, 2), cls(3, 4)])
    assert calls.count("ref") == calls.count("ours") == 2
    assert _originals(ref, o_ref) == [False, False]


def test_abc_metaclass_of_fraction_is_type_like():
    assert isinstance(fractions.Fraction, abc.ABCMeta)
    assert type(fractions.Fraction).__eq__ is type.__eq__


@pytest.mark.parametrize("memo", [None, "caller dict", "hit"])
def test_fraction_with_a_caller_memo(memo):
    f = fractions.Fraction(7, 9)

    def make_memo():
        if memo == "hit":
            return {id(f): "from memo"}
        return {} if memo else None

    out_ref, out_ours = hc.run_both([f, f], make_memo if memo else None)
    hc.assert_same_outcome(out_ref, out_ours, [f, f])


class Other:
    def __init__(self, n, d):
        self.n, self.d = n, d


def test_module_global_rebound():
    """`Fraction` in the hook's globals names another class: the test fails
    and the hook makes a new object; rebound back, it holds again."""
    ns = _namespace()
    cls = ns["Fraction"]
    shared = cls(1, 2)
    make = (lambda: [shared, cls(3, 4), shared])
    _check(make)
    ns["Fraction"] = Other
    ref, ours, o_ref, o_ours = _check(make)
    assert _originals(ref, o_ref) == [False, False, False]
    ns["Fraction"] = cls
    ref, ours, o_ref, o_ours = _check(make)
    assert _originals(ref, o_ref) == [True, True, True]


def test_module_global_type_shadows_the_builtin():
    ns = _namespace()
    cls = ns["Fraction"]
    _check(lambda: [cls(1, 2)])
    calls = []

    def fake_type(obj):
        calls.append(hc.current())
        return Other

    ns["type"] = fake_type
    ref, ours, o_ref, o_ours = _check(lambda: [cls(1, 2), cls(3, 4)])
    assert calls.count("ref") == calls.count("ours") == 2
    assert _originals(ref, o_ref) == [False, False]


class _Rebinds:
    """Copied between instances: rebinds the hook's global `Fraction`."""

    def __init__(self, ns, value):
        self.ns, self.value = ns, value

    def __deepcopy__(self, memo):
        self.ns["Fraction"] = self.value
        return "rebound"


def test_module_global_rebound_mid_copy():
    ns = _namespace()
    cls = ns["Fraction"]
    f = cls(1, 3)

    def make():
        ns["Fraction"] = cls
        return [f, cls(1, 5), _Rebinds(ns, Other), f, cls(2, 5), _Rebinds(ns, cls),
                cls(9, 9), f, cls(3, 5)]

    ref, ours, o_ref, o_ours = _check(make)
    pattern = _originals(ref, o_ref)
    # f was copied while the test failed: met again (after another instance
    # was found to be its own copy), it is a memo hit
    assert pattern == [True, True, False, False, False, False, True, False, True]
    assert _originals(ours, o_ours) == pattern


SOURCE_LATE = _CLASS % "" + "\n" + _HOOK


class _GivesHook:
    """Its reduce (which sees no memo) gives the class its __deepcopy__."""

    def __init__(self, ns):
        self.ns = ns

    def __reduce__(self):
        self.ns["Fraction"].__deepcopy__ = self.ns["__deepcopy__"]
        return "WEAK"   # a string: deepcopy returns the object itself


def test_instance_copied_before_its_class_became_its_own_copy():
    """x is copied through the reduce protocol (the memo holds its copy);
    then its class gets the hook: a later instance is its own copy, and x,
    met again, is still the memo's copy."""
    results = {}
    for which in ("ref", "ours"):
        ns = {"__name__": "fractionlike_late"}
        exec(SOURCE_LATE, ns)
        cls = ns["Fraction"]
        x = cls(1, 2)
        # (two instances: the class is decided at the first)
        obj = [x, _GivesHook(ns), cls(9, 9), cls(8, 8), x, cls(3, 4)]
        with hc.using(which):
            out = hc.current_deepcopy()(obj)
        results[which] = (_originals(out, obj), out[0] is out[4])
    assert results["ref"] == results["ours"]
    assert results["ref"] == ([False, True, True, True, False, True], True)


# array.array's C __deepcopy__ never reads its memo: it is called without
# one being made for it.

import array  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

import fastdeepcopy  # noqa: E402


# one bound method object, shared by the originals of both runs
_ELEMENT_DEEPCOPY = ET.Element("e", {"k": "v"}).__deepcopy__


class ArraySub(array.array):
    pass


class ArrayWithHook(array.array):
    def __deepcopy__(self, memo):
        return ("own hook", len(memo) > 0, self.tolist())


def _arrays():
    a = array.array("i", [1, 2, 3])
    s = ArraySub("d", [1.5])
    s.note = [a]
    shadowed = ArraySub("b", [4])
    shadowed.__deepcopy__ = lambda memo: ("instance hook", isinstance(memo, dict))
    # an instance attribute that is another C method, one that needs the memo
    element = ArraySub("b", [5])
    element.__deepcopy__ = _ELEMENT_DEEPCOPY
    return [a, a, s, [s, a], ArrayWithHook("i", [7]), shadowed, {"k": a}, element]


def test_arrays_and_their_subclasses():
    ref, ours, o_ref, o_ours = _check(_arrays)
    assert ref[4][0] == "own hook" and ref[5] == ("instance hook", True)


def test_arrays_after_the_memo_was_seen():
    """The memo is a dict already (a hook saw it): arrays still share."""
    class SeesMemo:
        def __deepcopy__(self, memo):
            return ("saw", type(memo).__name__)

    _check(lambda: [SeesMemo()] + _arrays())


def test_element_tree_copies_still_get_the_memo():
    """_elementtree.Element's C __deepcopy__ reads the memo (shared children
    stay shared): it is not one of the memo-free methods."""
    def make():
        root = ET.Element("root")
        child = ET.SubElement(root, "child")
        return [root, child, root]

    _check(make)


def test_a_plain_array_copy_leaves_the_memo_native():
    """Engine property: copying arrays alone hands no memo dict to anyone."""
    before = fastdeepcopy.stats()["engine"]["memo_exposed"]
    a = array.array("i", range(10))
    out = fastdeepcopy.deepcopy([a, a, array.array("b", [1])])
    assert out[0] is out[1] and out[0] == a and out[0] is not a
    assert fastdeepcopy.stats()["engine"]["memo_exposed"] == before


# decimal.Decimal (a static class before 3.13) is remembered as SELF once
# decided: lists of them take the list's class-level shortcut.

import decimal  # noqa: E402


class DecSub(decimal.Decimal):
    pass


def test_lists_of_decimals():
    d = decimal.Decimal("1.5")

    def make():
        items = [decimal.Decimal(i) / 7 for i in range(40)]
        return [items, [d, DecSub("2"), d, decimal.Decimal("NaN")], (d,), {"k": [d, d]}]

    ref, ours, o_ref, o_ours = _check(make)
    assert ref[0][0] is o_ref[0][0] and ref[1][1] is o_ref[1][1]


@pytest.mark.parametrize("hit", [0, 2])
def test_lists_of_decimals_with_a_caller_memo(hit):
    items = [decimal.Decimal(i) for i in range(6)]
    out_ref, out_ours = hc.run_both(items, lambda: {id(items[hit]): "memo hit"})
    hc.assert_same_outcome(out_ref, out_ours, items)
    assert out_ref[1][hit] == "memo hit"
