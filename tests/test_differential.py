"""Differential tests: fastdeepcopy against the stdlib `copy` of this interpreter.

Every test runs the private pure-Python reference (helpers_compare.REF) and
fastdeepcopy on the same input and requires the same outcome: equal copies
(structure, types, identity pattern, sharing with the original) or the same
exception (type and message).  Where a test also checks what the reference
does, that is only to make sure the case exercises what its name says.
"""
import array
import collections
import copy
import copyreg
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import json
import os
import re
import subprocess
import sys
import types
import weakref
import xml.etree.ElementTree as ET

import pytest

import fastdeepcopy
import helpers_compare as hc
from helpers_compare import current, current_copy, current_deepcopy

pytestmark = pytest.mark.usefixtures("stdlib_copy_unpatched")

PY = sys.version_info[:2]


# ---------------------------------------------------------------------------
# helpers


def check(obj, memo_factory=None, *, shallow=False, expect=None):
    """Run both on obj and require the same outcome.  expect ("ok"/"raise")
    asserts what the reference does, so that the case means what it says."""
    out_ref, out_ours = hc.run_both(obj, memo_factory, shallow=shallow)
    if expect is not None:
        assert out_ref[0] == expect, "reference: " + hc.describe(out_ref)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    return out_ref, out_ours, comp


def check_fresh(factory, memo_factory=None, *, shallow=False, expect=None):
    """Like check, with a separately built original for each run."""
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory, memo_factory,
                                                          shallow=shallow)
    if expect is not None:
        assert out_ref[0] == expect, "reference: " + hc.describe(out_ref)
    comp = hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return out_ref, out_ours, comp


class PerRun(dict):
    """Records keyed by the implementation running: rec[current()]."""

    def add(self, item):
        self.setdefault(current(), []).append(item)


def xfail_engine(reason, condition=True):
    return pytest.mark.xfail(condition, strict=True, reason="engine bug: " + reason)


# ---------------------------------------------------------------------------
# classes used by the cases (module level: some reduce through their names)


class Plain:
    def __init__(self, /, **kw):
        self.__dict__.update(kw)

    def method(self):
        return self

    @classmethod
    def cm(cls):
        return cls


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


class Slotted:
    __slots__ = ("a", "b", "__private")

    def __init__(self, a=None, b=None):
        self.a = a
        if b is not None:
            self.b = b
        self.__private = [a]


class InheritedSlots(Slotted):
    __slots__ = ("c",)


class SlotsAndDict:
    __slots__ = ("a", "__dict__")


class SlotsSubNoSlots(Slotted):
    pass


class DictSub(dict):
    pass


class ListSub(list):
    pass


class IntSub(int):
    pass


class StrSub(str):
    pass


class TupleSub(tuple):
    pass


NT = collections.namedtuple("NT", "x y")


@dataclasses.dataclass
class DC:
    x: object
    y: object = None


@dataclasses.dataclass(frozen=True)
class FrozenDC:
    x: object
    y: object = None


@dataclasses.dataclass(slots=True)
class SlotsDC:
    x: object
    y: object = None


class Color(enum.Enum):
    RED = 1
    GREEN = [2]


class IntColor(enum.IntEnum):
    A = 1
    B = 2


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class WithGetState:
    def __init__(self, a):
        self.a = a

    def __getstate__(self):
        return {"a": self.a, "extra": [len(self.__dict__)]}


class WithSetState:
    def __init__(self, a):
        self.a = a

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.restored = [True]


class GetSetState:
    def __init__(self, a):
        self.a = a

    def __getstate__(self):
        return ("state", self.a)

    def __setstate__(self, state):
        tag, self.a = state


class GetStateNone:
    def __init__(self):
        self.a = [1]

    def __getstate__(self):
        return None


class SlotsGetState:
    __slots__ = ("a", "b")

    def __init__(self, a):
        self.a = a

    def __getstate__(self):
        return (None, {"a": self.a, "b": "from-getstate"})


class ReduceArgs:
    def __init__(self, a, b=None):
        self.a = a
        self.b = b

    def __reduce__(self):
        return (type(self), (self.a, self.b))


class ReduceState:
    def __init__(self):
        self.x = [1]

    def __reduce__(self):
        return (ReduceState, (), self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)


class ReduceFull:
    """A 5-tuple reduce value with list and dict items."""

    def __init__(self):
        self.items = []
        self.mapping = {}

    def append(self, x):
        self.items.append(x)

    def __setitem__(self, k, v):
        self.mapping[k] = v

    def __reduce__(self):
        return (ReduceFull, (), {"tag": "t"}, iter(self.items), iter(self.mapping.items()))


class ReduceExRecorder:
    calls = PerRun()

    def __init__(self, a):
        self.a = a

    def __reduce_ex__(self, proto):
        ReduceExRecorder.calls.add(proto)
        return object.__reduce_ex__(self, proto)


REDUCE_STR_SINGLETON = None


class ReduceStr:
    def __reduce__(self):
        return "REDUCE_STR_SINGLETON"


class ReduceExStr:
    def __reduce_ex__(self, proto):
        return "REDUCE_STR_SINGLETON"


class NewArgs:
    def __new__(cls, a, b):
        self = object.__new__(cls)
        self.args = (a, b)
        return self

    def __getnewargs__(self):
        return self.args


class NewArgsEx:
    def __new__(cls, a, *, k):
        self = object.__new__(cls)
        self.a = a
        self.k = k
        return self

    def __getnewargs_ex__(self):
        return ((self.a,), {"k": self.k})


class Target:
    pass


class AppendTarget:
    def __init__(self):
        self.items = []

    def append(self, x):
        self.items.append(x)


class DictTarget(dict):
    pass


class SetStateRaises:
    def __setstate__(self, state):
        raise ValueError("bad state %r" % (state,))


class NoReduce:
    __reduce_ex__ = None
    __reduce__ = None


class ReduceExNone:
    __reduce_ex__ = None

    def __init__(self):
        self.a = [1]

    def __reduce__(self):
        return (ReduceExNone, (), self.__dict__)


class DeepcopyNone:
    __deepcopy__ = None

    def __init__(self):
        self.a = [1]


class CopyNone:
    __copy__ = None

    def __init__(self):
        self.a = [1]


class RV:
    """An object whose reduce value is made by a function of the instance."""

    def __init__(self, make):
        self.make = make

    def __reduce_ex__(self, proto):
        return self.make(self)


class PyTuple(tuple):
    pass


def module_function():
    return 1


module_lambda = lambda: 2  # noqa: E731

WEAK_TARGET = Plain(name="weak target")


# ---------------------------------------------------------------------------
# shapes: factories of fresh inputs, used for deep, shallow and memo tests


def shape_nested():
    return [1, "a", [2.5, (3, None)], {"k": [b"x"], 2: (True,), (1, 2): {}}, (), [], {}]


def shape_shared():
    a = [1]
    d = {"x": a}
    t = (a, d)
    return [a, a, (a,), d, {"d": d, "a": a}, t, t]


def shape_self_list():
    lst = [1]
    lst.append(lst)
    return lst


def shape_self_dict():
    d = {"a": 1}
    d["self"] = d
    return d


def shape_tuple_parent_list():
    lst = [1]
    t = (lst, 2)
    lst.append(t)
    return t


def shape_list_with_tuple_child():
    lst = [1]
    t = (lst, 2)
    lst.append(t)
    return lst


def shape_tuple_tuple_cycle():
    lst = []
    inner = (lst,)
    t = (inner, lst, inner)
    lst.append(t)
    return [t, lst, inner]


def shape_atomic_tuples():
    t = (1, "a", None, 2.5)
    return [t, t, (t,), ((),), ((t, t),)]


def shape_sets():
    fs = frozenset({1, (2, 3)})
    return [{1, 2, "a"}, fs, fs, {fs}, frozenset(), set()]


def shape_set_of_instances():
    p = Plain(a=[1])
    return [p, {p, 1}, frozenset({p, (p,)})]


def shape_bytearray():
    b = bytearray(b"ab")
    return [b, b, bytearray()]


def shape_bound_methods():
    p = Plain(x=[1])
    return [p.method, p, p.method, [].append, Plain.cm, Plain.method, "x".upper]


def shape_classes():
    return [int, Plain, WithMeta, Meta, type, object, type(None), Color]


def shape_functions():
    code = module_function.__code__
    return [len, module_function, module_lambda, code, property(lambda s: 1), range(5),
            weakref.ref(WEAK_TARGET), WEAK_TARGET, Ellipsis, NotImplemented]


def shape_plain_instance():
    a = [1]
    p = Plain(a=a, b=a, t=(a,), self=None)
    p.self = p
    return p


def shape_slots():
    s1 = Slotted([1], [2])
    s2 = Slotted([3])           # slot b unset
    s3 = InheritedSlots([4], [5])
    s3.c = s3
    s4 = InheritedSlots()       # c unset
    return [s1, s2, s3, s4, s1]


def shape_slots_dict():
    s = SlotsAndDict()
    s.a = [1]
    s.extra = s
    t = SlotsAndDict()          # a unset, empty dict
    u = SlotsSubNoSlots([2], [3])
    u.more = [u]
    return [s, t, u]


def shape_getstate():
    return [WithGetState([1]), WithSetState({"k": [2]}), GetSetState([3]), GetStateNone(),
            SlotsGetState([4])]


def shape_builtin_subclasses():
    d = DictSub(a=[1])
    d.attr = [2]
    d["self"] = d
    lst = ListSub([1, [2]])
    lst.attr = lst
    lst.append(lst)
    i = IntSub(300)
    i.attr = [i]
    s = StrSub("abc")
    s.attr = {"k": s}
    t = TupleSub(([1], 2))
    t.attr = t
    return [d, lst, i, s, t]


def shape_namedtuples():
    a = [1]
    return [NT(a, (a,)), NT(1, 2), NT(NT(1, 2), a)]


def shape_dataclasses():
    a = [1]
    return [DC(a, {"a": a}), FrozenDC(a, (a,)), FrozenDC(1, 2), SlotsDC(a, [a])]


def shape_enums():
    return [Color.RED, Color.GREEN, IntColor.B, Perm.R | Perm.W, Perm.R, Perm(0),
            {Color.RED: [Color.RED]}]


def shape_datetimes():
    tz = datetime.timezone(datetime.timedelta(hours=2), "X")
    return [datetime.datetime(2020, 1, 2, 3, 4, 5, 6),
            datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
            datetime.datetime(2021, 5, 6, 7, tzinfo=tz), datetime.date(2020, 2, 29),
            datetime.time(1, 2, 3, tzinfo=tz), datetime.timedelta(days=1, seconds=5), tz,
            datetime.timezone.utc]


def shape_numbers():
    d = decimal.Decimal("1.10")
    return [d, d, decimal.Decimal("NaN"), decimal.Decimal("-0"), fractions.Fraction(1, 3),
            complex(1, -0.0), float("nan"), 2 ** 100]


def shape_ordered_dict():
    od = collections.OrderedDict(a=[1], b=2, c=3)
    od.move_to_end("a")
    od["self"] = od
    return od


def shape_defaultdict():
    dd = collections.defaultdict(list)
    dd["a"].append(1)
    dd["b"] = dd
    return [dd, collections.defaultdict(None, {"x": [1]})]


def shape_deque():
    d = collections.deque([1, [2]], maxlen=5)
    d.append(d)
    return [d, collections.deque()]


def shape_counter():
    c = collections.Counter("abca")
    return [c, c]


def shape_patterns():
    p = re.compile("a+")
    return [p, re.compile(b"x", re.I), p]


def shape_partial():
    arg = [1]
    p = functools.partial(Plain, arg, k=[2], arg=arg)
    p.attr = [3]
    return [p, arg]


def shape_namespace():
    ns = types.SimpleNamespace(a=[1])
    ns.self = ns
    return ns


def shape_arrays():
    a = array.array("i", [1, 2, 3])
    return [a, a, array.array("d", [1.5]), array.array("b", [1, -2])]


def shape_element():
    root = ET.Element("root", {"k": "v"})
    child = ET.SubElement(root, "child")
    child.text = "text"
    return [root, child, root]


def shape_reduce():
    a = [1]
    return [ReduceArgs(a, (2, a)), ReduceArgs(a), ReduceState(), a]


def shape_reduce_full():
    r = ReduceFull()
    r.items.extend([1, [2]])
    r.mapping.update({"k": [3]})
    return [r, r]


def shape_newargs():
    a = [1]
    return [NewArgs(a, 2), NewArgsEx(a, k=[3]), a]


def shape_reduce_str():
    return [ReduceStr(), ReduceExStr()]


def shape_exceptions():
    e = ValueError("x", [1])
    e.note = [2]
    return [e, KeyError([3])]


def shape_objects():
    o = object()
    return [o, o, object()]


def shape_big_mixture():
    shared = {"s": [1, 2]}
    lst = [shared]
    p = Plain(shared=shared, lst=lst)
    lst.append(p)
    t = (p, lst, frozenset({1, 2}))
    return {"t": t, "p": p, "l": lst, "again": (t, t), "dt": datetime.date(2020, 1, 1),
            "dec": decimal.Decimal("3.14"), "od": collections.OrderedDict(x=lst)}


SHAPES = {name[len("shape_"):]: f for name, f in sorted(globals().items())
          if name.startswith("shape_")}


# ---------------------------------------------------------------------------
# atomic types


ATOMICS = [None, True, False, 0, 1, -5, 2 ** 100, -(2 ** 70), 1.5, float("nan"), -0.0,
           float("inf"), 1 + 2j, "", "abc", "\u1234\U0001f600", b"", b"x\x00", Ellipsis,
           NotImplemented, int, type, object, Plain, WithMeta, len, module_function,
           module_lambda, module_function.__code__, range(3), property(),
           weakref.ref(WEAK_TARGET), print, "".join]


@pytest.mark.parametrize("x", ATOMICS, ids=[hc.safe_repr(a, 30) for a in ATOMICS])
def test_atomic(x):
    out_ref, out_ours, _ = check(x, expect="ok")
    assert (out_ref[1] is x) == (out_ours[1] is x)
    check([x, x, (x,)], expect="ok")
    check(x, dict, expect="ok")
    out_ref, out_ours, _ = check(x, shallow=True, expect="ok")
    assert (out_ref[1] is x) == (out_ours[1] is x)


# ---------------------------------------------------------------------------
# every shape: deep, shallow, with a caller memo


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_deep_shapes(name, crash_guard):
    crash_guard("deep:" + name)
    check(SHAPES[name](), expect="ok")


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shallow_shapes(name, crash_guard):
    crash_guard("shallow:" + name)
    obj = SHAPES[name]()
    check(obj, shallow=True)
    if isinstance(obj, list):
        for item in obj:
            check(item, shallow=True)


# Known engine bugs, by shape, for the memo tests: {name: (reason, condition)}
# (none at present: sets' temporary lists are recorded, src/pending.c)
EXPOSED_LAST_BUGS: dict = {}


def _memo_params(bugs=None):
    out = []
    for name in sorted(SHAPES):
        marks = []
        if bugs and name in bugs:
            reason, condition = bugs[name]
            marks.append(xfail_engine(reason, condition))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _memo_params())
def test_caller_memo_contents(name, crash_guard):
    """deepcopy(x, memo) with a caller dict: same result, and afterwards the
    same memo: keys (in order), values, keep-alive list (originals by identity)."""
    crash_guard("memo:" + name)
    obj = SHAPES[name]()
    memos = []

    def factory():
        m = {}
        memos.append(m)
        return m

    _, _, comp = check(obj, factory, expect="ok")
    hc.assert_same_memo(memos[0], memos[1], comp)


STOLEN = {}


class MemoStealer:
    """A __deepcopy__ that keeps the memo it was given in a global."""

    def __deepcopy__(self, memo):
        STOLEN[current()] = memo
        assert isinstance(memo, dict)
        return MemoStealer()


@pytest.mark.parametrize("name,where",
                         [pytest.param(p.values[0], "first", id=p.id + "-first")
                          for p in _memo_params()] +
                         [pytest.param(p.values[0], "last", marks=p.marks, id=p.id + "-last")
                          for p in _memo_params(EXPOSED_LAST_BUGS)])
def test_exposed_memo_contents(name, where, crash_guard):
    """A __deepcopy__ that stores the memo in a global: after the copy, the
    stored memo holds what stdlib's would (the native memo converted to a dict
    when the hook runs, then every later entry)."""
    crash_guard("exposed-%s:%s" % (where, name))
    STOLEN.clear()
    obj = SHAPES[name]()
    root = [MemoStealer(), obj] if where == "first" else [obj, MemoStealer()]
    _, _, comp = check(root, expect="ok")
    hc.assert_same_memo(STOLEN["ref"], STOLEN["ours"], comp)


# ---------------------------------------------------------------------------
# cycles, shared references, tuples and the memo re-check


def test_tuple_returns_memoized_copy():
    t = shape_tuple_parent_list()
    out_ref, out_ours, _ = check(t, expect="ok")
    # the case is about the re-check: stdlib's result is the tuple memoized inside
    assert out_ref[1][0][1] is out_ref[1]
    assert out_ours[1][0][1] is out_ours[1]


def test_cycle_through_dict_and_instance():
    d = {}
    p = Plain(d=d)
    d["p"] = p
    d["t"] = (p, d)
    check([d, p], expect="ok")


def test_shared_atomic_tuple_identity():
    t = (1, 2)
    check({"a": t, "b": [t]}, expect="ok")


def test_dict_key_copied_after_value():
    """y[deepcopy(key)] = deepcopy(value): the value is copied first."""
    order = PerRun()

    class Rec:
        def __init__(self, tag):
            self.tag = tag

        def __deepcopy__(self, memo):
            order.add(self.tag)
            return self

        def __hash__(self):
            return hash(self.tag)

    check({Rec("k1"): Rec("v1"), Rec("k2"): Rec("v2")}, expect="ok")
    assert order["ref"] == order["ours"]


# ---------------------------------------------------------------------------
# __deepcopy__ hooks and the memo they see


class MemoInspector:
    log = PerRun()

    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        p = self.payload
        MemoInspector.log.add({
            "isdict": isinstance(memo, dict),
            "type": type(memo).__name__,
            "len": len(memo),
            "self_in": id(self) in memo,
            "payload_in": id(p) in memo,
            "get_payload": type(memo.get(id(p), "absent")).__name__,
            "setdefault": memo.setdefault(8, "value-for-8"),
            "keep_alive_len": len(memo.get(id(memo), ())),
        })
        new = MemoInspector.__new__(MemoInspector)
        memo[id(self)] = new
        new.payload = copy.deepcopy(p, memo)          # the stdlib module's function
        new.again = current_deepcopy()(p, memo)       # the implementation under test
        return new


def test_deepcopy_hook_inspects_memo():
    MemoInspector.log.clear()
    shared = [1, [2]]
    cyc = [shared]
    cyc.append(cyc)
    root = [shared, cyc, MemoInspector([shared, cyc, (shared,)]), shared,
            MemoInspector(shared), cyc]
    check(root, expect="ok")
    assert MemoInspector.log["ref"] == MemoInspector.log["ours"]


def test_deepcopy_hook_inspects_caller_memo():
    MemoInspector.log.clear()
    shared = [1]
    root = [shared, MemoInspector(shared), {"s": shared}]
    check(root, dict, expect="ok")
    assert MemoInspector.log["ref"] == MemoInspector.log["ours"]


class MemoKeysProbe:
    """Logs, when copied, which originals the memo holds, in its order (by
    their index in `originals`), and the keep-alive list's length."""
    log = PerRun()

    def __init__(self, originals):
        self.originals = originals

    def __deepcopy__(self, memo):
        index = {id(o): i for i, o in enumerate(self.originals)}
        keys = ["keep" if k == id(memo) else index.get(k, "other") for k in memo]
        MemoKeysProbe.log.add((keys, len(memo.get(id(memo), ()))))
        return self


def _big_dict_of_flat_values(n):
    shared = bytearray(b"shared")
    d = {}
    for i in range(n):
        kind = i % 6
        if kind == 0:
            d["b%d" % i] = bytearray(b"x" * i)
        elif kind == 1:
            d["l%d" % i] = [i, "s", None, (1, 2)]
        elif kind == 2:
            d["d%d" % i] = {"k": i, "t": (i,)}
        elif kind == 3:
            d["s%d" % i] = shared
        else:
            d[i] = "v%d" % i
    return d


@pytest.mark.parametrize("n", [5, 16, 17, 40, 200])
def test_dict_of_flat_values_memo_order(n):
    """A dict whose values are atomic or flat (bytearrays, lists and dicts of
    atomics, one bytearray several times): the copy, and the memo a later
    hook sees, are stdlib's at every size (small dicts are scanned into a
    buffer, bigger ones walked again)."""
    MemoKeysProbe.log.clear()
    d = _big_dict_of_flat_values(n)
    originals = [d] + list(d.values())
    root = [d, MemoKeysProbe(originals), d]
    check(root, expect="ok")
    assert MemoKeysProbe.log["ref"] == MemoKeysProbe.log["ours"]


@pytest.mark.parametrize("position", [0, 3, 16, 17, 39])
def test_big_dict_with_a_hook_value(position):
    """A value whose copy runs user code, at several places of a dict of 40
    otherwise flat values: the hook sees stdlib's memo."""
    MemoKeysProbe.log.clear()
    d = _big_dict_of_flat_values(40)
    originals = [d] + list(d.values())
    key = list(d)[position]
    d[key] = MemoKeysProbe(originals)
    check([d, d], expect="ok")
    assert MemoKeysProbe.log["ref"] == MemoKeysProbe.log["ours"]


class GrowList:
    """Appends `extra` to `target` while it is being copied (from
    __reduce_ex__: user code that does not see the memo)."""

    def __init__(self, target, extra):
        self.target = target
        self.extra = extra

    def __reduce_ex__(self, protocol):
        self.target.extend(self.extra)
        return (str, ("grown",))


@pytest.mark.parametrize("extra", [[1, 2, 3], list(range(50)), [7, [8], "s", (1,), 9.5]])
def test_list_grows_during_copy(extra):
    """The list being copied grows while one of its items is copied: the copy
    has every item stdlib's has (the copy outgrows the room reserved for it)."""
    def factory():
        lst = [1, "a"]
        lst.append(GrowList(lst, list(extra)))
        lst.extend([2, 3])
        return lst
    check_fresh(factory, expect="ok")


def _instance_setstate(state):
    SetStateShadowed.calls.add(("instance", sorted(state)))


class SetStateShadowed:
    """__setstate__ on the class, and an instance attribute of that name set
    by __init__ (which the reconstruction runs): y.__setstate__ is the latter."""
    calls = PerRun()

    def __init__(self, shadow="callable"):
        self.shadow = shadow
        if shadow == "callable":
            self.__setstate__ = _instance_setstate
        elif shadow == "none":
            self.__setstate__ = None

    def __reduce__(self):
        return (SetStateShadowed, (self.shadow,), {"a": [1], "shadow": self.shadow})

    def __setstate__(self, state):
        SetStateShadowed.calls.add(("class", sorted(state)))
        self.__dict__.update(state)


@pytest.mark.parametrize("shadow", ["callable", "none", "absent"])
def test_setstate_shadowed_by_instance_attribute(shadow):
    SetStateShadowed.calls.clear()
    check([SetStateShadowed(shadow)])
    assert SetStateShadowed.calls.get("ref") == SetStateShadowed.calls.get("ours")


class HookOnInstance:
    pass


def test_deepcopy_hook_on_instance():
    """stdlib looks __deepcopy__ up on the instance."""
    h = HookOnInstance()
    h.__deepcopy__ = lambda memo: ("instance hook", len(memo) >= 0)
    out_ref, _, _ = check([h, h], expect="ok")
    assert out_ref[1][0][0] == "instance hook"


def test_deepcopy_none_falls_through():
    check([DeepcopyNone()], expect="ok")


def test_element_tree_requires_real_dict():
    root, child, _ = shape_element()
    check([root, child, root], expect="ok")
    check([child, root], dict, expect="ok")


class MappingMemo:
    """A memo that is not a dict: stdlib only needs get/[]/[]=."""

    def __init__(self, log):
        self.d = {}
        self.log = log

    def get(self, key, default=None):
        self.log.append(("get", key))
        return self.d.get(key, default)

    def __getitem__(self, key):
        self.log.append(("getitem", key))
        return self.d[key]

    def __setitem__(self, key, value):
        self.log.append(("setitem", key))
        self.d[key] = value

    def setdefault(self, key, default=None):
        self.log.append(("setdefault", key))
        return self.d.setdefault(key, default)

    def __len__(self):
        return len(self.d)

    def __contains__(self, key):
        return key in self.d


def _memo_call_log(memo_cls, obj, expect="ok"):
    logs = []
    memos = []

    def factory():
        log = []
        logs.append(log)
        m = memo_cls(log)
        memos.append(m)
        return m

    check(obj, factory, expect=expect)
    seen, _, keep = hc.reachable(obj)
    index = {i: n for n, i in enumerate(seen)}

    def translate(log, memo):
        out = []
        for op, key in log:
            if key == id(memo):
                out.append((op, "memo-self"))
            elif key in index:
                out.append((op, "orig", index[key]))
            else:
                out.append((op, "other"))
        return out

    assert translate(logs[0], memos[0]) == translate(logs[1], memos[1])
    assert logs[0], "the memo was not used at all"
    return memos


MEMO_CALL_SHAPES = sorted(SHAPES)

MEMO_CALL_BUGS = {}   # {shape name: reason} for known engine bugs (none at present)


def _memo_call_params():
    return [pytest.param(n, id=n, marks=[xfail_engine(MEMO_CALL_BUGS[n])]
                         if n in MEMO_CALL_BUGS else [])
            for n in MEMO_CALL_SHAPES]


@pytest.mark.parametrize("name", _memo_call_params())
def test_dict_subclass_memo_calls(name):
    _memo_call_log(hc.RecordingMemo, SHAPES[name]())


@pytest.mark.parametrize("name", _memo_call_params())
def test_mapping_memo_calls(name):
    # Element.__deepcopy__ insists on a dict memo
    _memo_call_log(MappingMemo, SHAPES[name](), expect="raise" if name == "element" else "ok")


def test_mapping_memo_given_to_hooks():
    MemoInspector.log.clear()
    shared = [1]
    _memo_call_log(MappingMemo, [shared, MemoInspector(shared)])
    assert MemoInspector.log["ref"] == MemoInspector.log["ours"]


def test_mapping_memo_rejected_by_element_tree():
    root = ET.Element("r")
    _memo_call_log(MappingMemo, [1, root], expect="raise")


def test_prepopulated_memo():
    a = [1]
    b = {"k": a}
    obj = [a, b, (a,), "s"]
    check(obj, lambda: {id(a): "replacement for a"}, expect="ok")
    check(obj, lambda: {id(obj): "the whole thing"}, expect="ok")
    check(obj, lambda: {id(b): None}, expect="ok")


class KeepAliveRecorder:
    """Stands in for the memo's keep-alive list."""

    def __init__(self):
        self.items = []

    def append(self, x):
        self.items.append(type(x).__name__)


@pytest.mark.parametrize("keep", ["list", "tuple", "recorder", "none"])
def test_prepopulated_keep_alive_entry(keep):
    made = []

    def factory():
        m = {}
        m[id(m)] = {"list": lambda: ["pre"], "tuple": lambda: ("pre",),
                    "recorder": KeepAliveRecorder, "none": lambda: None}[keep]()
        made.append(m)
        return m

    a = [1]
    obj = [a, (a,), Plain(a=a)]
    out_ref, out_ours, _ = check(obj, factory)
    if keep == "recorder":
        assert made[0][id(made[0])].items == made[1][id(made[1])].items
    elif keep == "list" and out_ref[0] == "ok":
        assert len(made[0][id(made[0])]) == len(made[1][id(made[1])])


@pytest.mark.parametrize("memo", [[], 5, "memo", (), frozenset()], ids=repr)
def test_memo_that_is_not_a_mapping(memo):
    check([1, [2]], lambda: memo, expect="raise")
    # 3.14: an atomic object is returned before the memo is looked at
    check(5, lambda: memo, expect="raise" if PY < (3, 14) else "ok")


def test_memo_argument_forms():
    a = [1]
    obj = [a, a]
    for call in (lambda f: f(obj, None), lambda f: f(obj, memo=None),
                 lambda f: f(x=obj), lambda f: f(obj, memo={}), lambda f: f(obj, {}, [])):
        hc.assert_same_outcome(hc.outcome(call, hc.REF.deepcopy),
                               hc.outcome(call, fastdeepcopy.deepcopy), obj)


def test_nil_argument_is_the_miss_sentinel():
    a = [1]
    sentinel = "sentinel"
    memo_r = {id(a): sentinel}
    memo_u = {id(a): sentinel}
    hc.assert_same_outcome(hc.outcome(hc.REF.deepcopy, a, memo_r, sentinel),
                           hc.outcome(fastdeepcopy.deepcopy, a, memo_u, sentinel), a)


@pytest.mark.parametrize("fn,args,kwargs", [
    ("deepcopy", (), {}),
    ("deepcopy", (1, None, [], 4), {}),
    ("deepcopy", (1,), {"bogus": 1}),
    ("deepcopy", (1,), {"x": 1}),
    ("deepcopy", (1, None), {"memo": None}),
    ("copy", (), {}),
    ("copy", (1, 2), {}),
    ("copy", (), {"x": [1]}),
    ("copy", (1,), {"y": 1}),
])
def test_signatures(fn, args, kwargs):
    out_ref = hc.outcome(getattr(hc.REF, fn), *args, **kwargs)
    out_ours = hc.outcome(getattr(fastdeepcopy, fn), *args, **kwargs)
    hc.assert_same_outcome(out_ref, out_ours, (args, kwargs))


# ---------------------------------------------------------------------------
# copy._deepcopy_dispatch and copyreg.dispatch_table


class Dispatched:
    def __init__(self, a):
        self.a = a


def test_deepcopy_dispatch_entry(registry):
    seen = PerRun()

    def copier(x, memo):
        seen.add((isinstance(memo, dict), len(memo)))
        y = Dispatched.__new__(Dispatched)
        memo[id(x)] = y
        y.a = current_deepcopy()(x.a, memo)
        y.via = "dispatch"
        return y

    registry.deepcopy_dispatch(Dispatched, copier)
    shared = [1]
    d = Dispatched([shared])
    d.a.append(d)
    out_ref, _, _ = check([shared, d, d], expect="ok")
    assert out_ref[1][1].via == "dispatch"
    assert seen["ref"] == seen["ours"]


def test_replace_list_entry(registry):
    def copier(x, memo):
        y = []
        memo[id(x)] = y
        for a in x:
            y.append(current_deepcopy()(a, memo))
        y.append("custom")
        return y

    registry.deepcopy_dispatch(list, copier)
    inner = [2]
    lst = [1, inner, (inner,), {"k": inner}]
    lst.append(lst)
    out_ref, _, _ = check(lst, expect="ok")
    assert out_ref[1][-1] == "custom"


def test_replace_atomic_entries(registry):
    registry.atomic_copier(int, lambda x, memo: x + 1)
    registry.atomic_copier(str, lambda x, memo: x.upper())
    out_ref, _, _ = check([1, "ab", {2: "cd"}, (3,), {"k": [4]}], expect="ok")
    assert out_ref[1][0] == 2


def test_replace_atomic_entries_top_level(registry):
    """deepcopy(5) itself, after copies that took the atomic fast path."""
    for x in (5, "s", 2.5):
        check(x, expect="ok")
    registry.atomic_copier(int, lambda x, memo: ("int copier", x))
    registry.atomic_copier(str, lambda x, memo: x.upper())
    for x in (5, "s", 2.5):
        out_ref, _, _ = check(x, expect="ok")
    assert out_ref[1] == 2.5
    assert check(5)[0][1] == ("int copier", 5)
    registry.remove_atomic(float)
    check(2.5, expect=None)


def test_remove_dict_and_list_entries(registry):
    registry.remove_deepcopy_dispatch(dict)
    registry.remove_deepcopy_dispatch(list)
    d = {"a": [1], "b": (2, [3])}
    d["self"] = d
    check([d, d["a"]], expect="ok")


def test_remove_tuple_entry_recursion(registry):
    """Without the tuple entry a tuple reduces to (copyreg.__newobj__, (tuple, t)):
    stdlib recurses until RecursionError; so must we (and not crash)."""
    registry.remove_deepcopy_dispatch(tuple)
    check([(1, 2)], expect="raise")
    check([()], expect=None)


def test_dispatch_for_set_and_method(registry):
    def set_copier(x, memo):
        return sorted(current_deepcopy()(list(x), memo), key=repr)

    def method_copier(x, memo):
        return ("method", x.__func__.__name__)

    registry.deepcopy_dispatch(set, set_copier)
    registry.deepcopy_dispatch(types.MethodType, method_copier)
    p = Plain()
    check([{3, 1, 2}, p.method, frozenset({1})], expect="ok")


def test_dispatch_entry_added_during_copy(registry):
    """A hook registers an entry mid-copy: later objects of that type use it."""

    def copier(x, memo):
        return "copied by late entry"

    class Registers:
        def __deepcopy__(self, memo):
            table = hc.REF._deepcopy_dispatch if current() == "ref" else copy._deepcopy_dispatch
            registry._set(table, Dispatched, copier)
            return "registered"

    def make():
        # each run starts without the entry
        copy._deepcopy_dispatch.pop(Dispatched, None)
        hc.REF._deepcopy_dispatch.pop(Dispatched, None)
        return [Dispatched(1), Registers(), Dispatched(2), [Dispatched(3)]]

    out_ref, _, _ = check_fresh(make, expect="ok")
    assert out_ref[1][2] == "copied by late entry"


class HasHook:
    """A class whose __deepcopy__ the type cache remembers (it skips the
    _deepcopy_dispatch lookup for it while the table is unchanged)."""

    def __init__(self, a):
        self.a = a

    def __deepcopy__(self, memo):
        y = HasHook.__new__(HasHook)
        memo[id(self)] = y
        y.a = current_deepcopy()(self.a, memo)
        y.via = "hook"
        return y


def test_dispatch_entry_for_class_with_hook_after_copies(registry):
    """Copied through its __deepcopy__ first; a dispatch entry added after
    that takes precedence, as in stdlib, and stops doing so once removed."""
    shared = [1]
    out_ref, _, _ = check([HasHook(shared), shared], expect="ok")
    assert out_ref[1][0].via == "hook"

    def copier(x, memo):
        return ("dispatch", current_deepcopy()(x.a, memo))

    registry.deepcopy_dispatch(HasHook, copier)
    out_ref, _, _ = check([HasHook(shared), shared], expect="ok")
    assert out_ref[1][0][0] == "dispatch"
    registry.remove_deepcopy_dispatch(HasHook)
    out_ref, _, _ = check([HasHook(shared), shared], expect="ok")
    assert out_ref[1][0].via == "hook"


def test_dispatch_entry_for_class_with_hook_added_during_copy(registry):
    class Registers:
        def __deepcopy__(self, memo):
            table = hc.REF._deepcopy_dispatch if current() == "ref" else copy._deepcopy_dispatch
            registry._set(table, HasHook, lambda x, memo: "copied by late entry")
            return "registered"

    def make():
        copy._deepcopy_dispatch.pop(HasHook, None)
        hc.REF._deepcopy_dispatch.pop(HasHook, None)
        return [HasHook(1), Registers(), HasHook(2), [HasHook(3)]]

    out_ref, _, _ = check_fresh(make, expect="ok")
    assert out_ref[1][0].via == "hook"
    assert out_ref[1][2] == "copied by late entry"


def test_instance_attribute_none_hides_class_hook():
    """getattr(x, "__deepcopy__", None) is None: the reduce protocol copies x."""
    plain, hidden = HasHook([1]), HasHook([2])
    hidden.__deepcopy__ = None
    out_ref, _, _ = check([plain, hidden, plain], expect="ok")
    assert out_ref[1][0].via == "hook"
    assert not hasattr(out_ref[1][1], "via")


def test_metaclass_with_hook_copies_classes_atomically():
    """A class whose metaclass has __deepcopy__ is still copied as atomic."""

    class Meta(type):
        def __deepcopy__(cls, memo):
            return "meta hook"

    class WithMeta(metaclass=Meta):
        pass

    out_ref, _, _ = check([WithMeta, WithMeta], expect="ok")
    assert out_ref[1][0] is WithMeta


def test_copyreg_pickle(registry):
    calls = PerRun()

    def reducer(obj):
        calls.add(type(obj).__name__)
        return (Dispatched, (obj.a,), {"via": "copyreg"})

    registry.reduce(Dispatched, reducer)
    shared = [1]
    check([Dispatched(shared), shared], expect="ok")
    check([Dispatched(shared), shared], shallow=True, expect="ok")
    assert calls["ref"] == calls["ours"]


def test_copyreg_pickle_for_set(registry):
    registry.reduce(set, lambda s: (set, (sorted(s),), None))
    registry.reduce(bytearray, lambda b: (bytearray, (bytes(b) + b"!",)))
    check([{2, 1}, bytearray(b"a")], expect="ok")


def test_copyreg_reducer_returns_string(registry):
    registry.reduce(Dispatched, lambda obj: "WEAK_TARGET")
    d = Dispatched([1])
    out_ref, _, _ = check([d, d], expect="ok")
    assert out_ref[1][0] is d


def test_copyreg_falsy_reducer(registry):
    class FalsyReducer:
        def __call__(self, obj):
            return (Dispatched, ("from falsy reducer",))

        def __bool__(self):
            return False

    registry.reduce(Dispatched, FalsyReducer())
    check([Dispatched([1])], expect="ok")


def test_copyreg_entry_added_during_copy(registry):
    class Registers:
        def __deepcopy__(self, memo):
            registry.reduce(Dispatched, lambda obj: (Dispatched, ("late",)))
            return "registered"

    def make():
        copyreg.dispatch_table.pop(Dispatched, None)
        return [Dispatched(1), Registers(), Dispatched(2)]

    out_ref, _, _ = check_fresh(make, expect="ok")
    assert out_ref[1][2].a == "late"


class FalsyCallable:
    def __init__(self, result):
        self.result = result

    def __call__(self, *args):
        return self.result

    def __bool__(self):
        return False


def test_deepcopy_dispatch_none_entry(registry):
    """`copier is not None`: a None entry means 'no entry'."""
    registry.deepcopy_dispatch(Dispatched, None)
    check([Dispatched([1])], expect="ok")


def test_deepcopy_dispatch_none_list_entry(registry):
    registry.deepcopy_dispatch(list, None)
    check([[1], {"a": [2]}], expect="ok")


def test_deepcopy_dispatch_falsy_entry(registry):
    """deepcopy calls a falsy copier (`is not None`); copy() skips it (`if copier:`)."""
    registry.deepcopy_dispatch(Dispatched, FalsyCallable("falsy copier"))
    out_ref, _, _ = check([Dispatched([1])], expect="ok")
    assert out_ref[1] == ["falsy copier"]
    if PY >= (3, 14):
        return   # (copy() has no dispatch table)
    registry.copy_dispatch(Dispatched, FalsyCallable("falsy copier"))
    out_ref, _, _ = check(Dispatched([1]), shallow=True, expect="ok")
    assert out_ref[1] != "falsy copier"


only_copy_dispatch = pytest.mark.skipif(PY >= (3, 14), reason="copy._copy_dispatch is gone in 3.14")
sets_of_copy = pytest.mark.skipif(PY < (3, 14), reason="copy._copy_atomic_types is new in 3.14")


@only_copy_dispatch
def test_copy_dispatch_none_entry(registry):
    registry.copy_dispatch(Dispatched, None)
    check(Dispatched([1]), shallow=True, expect="ok")


def test_copyreg_none_entry_deep(registry):
    registry.reduce(Dispatched, None)
    check([Dispatched([1])], expect="ok")


def test_copyreg_none_entry_shallow(registry):
    registry.reduce(Dispatched, None)
    check(Dispatched([1]), shallow=True, expect="ok")


def test_copyreg_falsy_reducer_shallow(registry):
    """copy() calls a falsy reducer (`is not None`)."""
    registry.reduce(Dispatched, FalsyCallable((Dispatched, ("from falsy reducer",))))
    out_ref, _, _ = check(Dispatched([1]), shallow=True, expect="ok")
    assert out_ref[1].a == "from falsy reducer"


@only_copy_dispatch
def test_copy_dispatch_entry(registry):
    registry.copy_dispatch(Dispatched, lambda x: ("shallow", x.a))
    check(Dispatched([1]), shallow=True, expect="ok")
    registry.copy_dispatch(list, lambda x: x[::-1])
    check([1, [2]], shallow=True, expect="ok")


class CopyMethod(Dispatched):
    """A class whose class attribute `copy` is what copy() calls for a
    member of _copy_builtin_containers (cls.copy(x))."""
    @classmethod
    def copy(cls, x):
        return ("copied by", cls.__name__, x.a)


@sets_of_copy
def test_copy_atomic_types_entry(registry):
    x = Dispatched([1])
    out_ref, _, _ = check(x, shallow=True, expect="ok")
    assert out_ref[1] is not x
    registry.copy_atomic_type(Dispatched)
    out_ref, _, _ = check(x, shallow=True, expect="ok")
    assert out_ref[1] is x
    registry.copy_atomic_type(int, present=False)
    check(5, shallow=True, expect="ok")
    registry.copy_atomic_type(tuple, present=False)
    out_ref, _, _ = check((1, [2]), shallow=True, expect="ok")


@sets_of_copy
def test_copy_builtin_containers_entry(registry):
    registry.copy_builtin_container(CopyMethod)
    out_ref, _, _ = check(CopyMethod([1]), shallow=True, expect="ok")
    assert out_ref[1][0] == "copied by"
    registry.copy_builtin_container(list, present=False)
    check([1, [2]], shallow=True, expect="ok")
    registry.copy_builtin_container(Dispatched)   # no attribute `copy`: AttributeError
    check(Dispatched([1]), shallow=True, expect="raise")


# ---------------------------------------------------------------------------
# reduce protocol: good and malformed reduce values


def test_reduce_ex_protocol():
    ReduceExRecorder.calls.clear()
    a = [1]
    check([ReduceExRecorder(a), a], expect="ok")
    check(ReduceExRecorder(a), shallow=True, expect="ok")
    assert ReduceExRecorder.calls["ref"] == ReduceExRecorder.calls["ours"]


def test_reduce_ex_none_uses_reduce():
    check([ReduceExNone()], expect="ok")


def test_reduce_ex_none_uses_reduce_shallow():
    check(ReduceExNone(), shallow=True, expect="ok")


def test_uncopyable_raises_copy_error():
    out_ref, out_ours, _ = check([NoReduce()], expect="raise")
    assert out_ours[1] is copy.Error


def test_uncopyable_raises_copy_error_shallow():
    out_ref, out_ours, _ = check(NoReduce(), shallow=True, expect="raise")
    assert out_ours[1] is copy.Error


_MALFORMED = [
    # (id, function of the instance -> reduce value, reference outcome)
    ("len0", lambda s: (), "raise"),
    ("len1", lambda s: (Target,), "raise"),
    ("len6", lambda s: (Target, (), None, None, None, None), "raise"),
    ("len2-ok", lambda s: (Target, ()), "ok"),
    ("len5-nones", lambda s: (Target, (), None, None, None), "ok"),
    ("list-rv", lambda s: [Target, ()], "ok"),
    ("list-rv-len1", lambda s: [Target], "raise"),
    ("tuple-subclass-rv", lambda s: PyTuple((Target, (), {"a": [1]})), "ok"),
    ("none-rv", lambda s: None, "raise"),
    ("int-rv", lambda s: 42, "raise"),
    ("str-subclass-rv", lambda s: StrSub("WEAK_TARGET"), "ok"),
    ("args-int", lambda s: (Target, 5), "raise"),
    ("args-zero", lambda s: (Target, 0), "raise"),
    ("args-none", lambda s: (Target, None), "raise"),
    ("args-str", lambda s: (Plain.cm.__func__, ""), "raise"),
    ("args-list", lambda s: (ReduceArgs, [[1], [2]]), "ok"),
    ("args-dict", lambda s: (ReduceArgs, {"k": [1]}), "ok"),
    ("args-iterator", lambda s: (ReduceArgs, iter([[1], [2]])), "ok"),
    ("args-generator", lambda s: (ReduceArgs, (i for i in ([1], [2]))), "ok"),
    ("args-wrong-count", lambda s: (ReduceArgs, (1, 2, 3)), "raise"),
    ("func-int", lambda s: (42, ()), "raise"),
    ("func-none", lambda s: (None, ()), "raise"),
    ("func-raises", lambda s: (int, ("x",)), "raise"),
    ("state-int", lambda s: (Target, (), 5), "raise"),
    ("state-list", lambda s: (Target, (), [1]), "raise"),
    ("state-str", lambda s: (Target, (), "ab"), "raise"),
    ("state-pairs-list", lambda s: (Target, (), [("a", [1])]), "ok"),
    ("state-3tuple", lambda s: (Target, (), (1, 2, 3)), "raise"),
    ("state-slot-list", lambda s: (Target, (), (None, [1, 2])), "raise"),
    ("state-slot-nonstr-key", lambda s: (Target, (), (None, {1: 2})), "raise"),
    ("state-slot-ok", lambda s: (Target, (), ({"a": [1]}, {"b": [2]})), "ok"),
    ("state-dict-none-slots", lambda s: (Target, (), (None, None)), "ok"),
    ("state-false", lambda s: (Target, (), False), "raise"),
    ("state-empty-dict", lambda s: (Target, (), {}), "ok"),
    ("setstate-raises", lambda s: (SetStateRaises, (), [1]), "raise"),
    ("state-on-int", lambda s: (int, (), {"a": 1}), "raise"),
    ("listitems-int", lambda s: (Target, (), None, 5), "raise"),
    ("listitems-no-append", lambda s: (Target, (), None, iter([1])), "raise"),
    ("listitems-ok", lambda s: (AppendTarget, (), None, [1, [2]]), "ok"),
    ("listitems-empty-noappend", lambda s: (Target, (), None, []), "ok"),
    ("dictitems-int", lambda s: (DictTarget, (), None, None, 5), "raise"),
    ("dictitems-nonpair-int", lambda s: (DictTarget, (), None, None, iter([1])), "raise"),
    ("dictitems-triple", lambda s: (DictTarget, (), None, None, iter([(1, 2, 3)])), "raise"),
    ("dictitems-single", lambda s: (DictTarget, (), None, None, iter([(1,)])), "raise"),
    ("dictitems-str-pair", lambda s: (DictTarget, (), None, None, iter(["ab"])), "ok"),
    ("dictitems-list-pairs", lambda s: (DictTarget, (), None, None, [[1, [2]]]), "ok"),
    ("dictitems-unhashable-key", lambda s: (DictTarget, (), None, None, [([1], 2)]), "raise"),
    ("dictitems-no-setitem", lambda s: (Target, (), None, None, [(1, 2)]), "raise"),
    ("newobj-no-args", lambda s: (copyreg.__newobj__, ()), "raise"),
    ("newobj-not-a-class", lambda s: (copyreg.__newobj__, (5,)), "raise"),
    ("newobj-extra-args", lambda s: (copyreg.__newobj__, (Target, 1)), "raise"),
    ("newobj-list-args", lambda s: (copyreg.__newobj__, [Target]), "ok"),
    ("newobj-int", lambda s: (copyreg.__newobj__, (IntSub, 7)), "ok"),
    ("newobj-abstract", lambda s: (copyreg.__newobj__, (collections.abc.Sized,)), "raise"),
    ("newobj-ex-ok", lambda s: (copyreg.__newobj_ex__, (NewArgsEx, ([1],), {"k": [2]})), "ok"),
    ("newobj-ex-none-kwargs", lambda s: (copyreg.__newobj_ex__, (Target, (), None)), "raise"),
]

_MALFORMED_BUGS = {}   # {case id: reason} for known engine bugs (none at present)


def _malformed_params(shallow):
    out = []
    for name, make, expect in _MALFORMED:
        marks = []
        if not shallow and name in _MALFORMED_BUGS:
            marks.append(xfail_engine(_MALFORMED_BUGS[name]))
        out.append(pytest.param(make, expect, id=name, marks=marks))
    return out


@pytest.mark.parametrize("make,expect", _malformed_params(False))
def test_reduce_values_deep(make, expect, crash_guard, request):
    crash_guard("reduce-deep:" + request.node.callspec.id)
    shared = [1]
    check([shared, RV(make), shared], expect=expect)


@pytest.mark.parametrize("make,expect", _malformed_params(True))
def test_reduce_values_shallow(make, expect, crash_guard, request):
    crash_guard("reduce-shallow:" + request.node.callspec.id)
    check(RV(make), shallow=True)


def test_exception_args_tuple_not_shared():
    e = KeyError("k")
    out_ref, out_ours, _ = check(e, expect="ok")
    assert (out_ref[1].args is e.args) == (out_ours[1].args is e.args)


def test_reduce_string_returns_original():
    x = ReduceStr()
    out_ref, _, _ = check([x, x], expect="ok")
    assert out_ref[1][0] is x


def _tp_new_null_types():
    found = []
    for t in (type(sys.flags), type(sys.version_info), type(iter([])), type(iter(())),
              types.FrameType, types.GeneratorType, type(iter({}))):
        try:
            t()
        except TypeError as e:
            if "cannot create" in str(e):
                found.append(t)
    return found


TP_NEW_NULL = _tp_new_null_types()


def test_tp_new_null_types_found():
    assert len(TP_NEW_NULL) >= 3


@pytest.mark.parametrize("tp", TP_NEW_NULL, ids=[t.__name__ for t in TP_NEW_NULL])
@pytest.mark.parametrize("extra", [(), (1, 2)], ids=["noargs", "args"])
def test_newobj_type_without_tp_new(tp, extra, crash_guard):
    crash_guard("tpnew:%s:%d" % (tp.__name__, len(extra)))
    obj = RV(lambda s: (copyreg.__newobj__, (tp,) + extra))
    check([obj], expect="raise")
    check(obj, shallow=True, expect="raise")


def test_reduce_args_tuple_not_modified():
    """The reduce value's tuples must not be written to (a module-level constant)."""
    for args in (([1], "x"), [[1], "x"], ((1, [2]),)):
        CONST = (ReduceArgs, args, {"state": [3]})
        before = (CONST[1], list(CONST[1]), CONST[1][0], repr(CONST))
        obj = RV(lambda s: CONST)
        check([obj, obj], expect="ok")
        check(obj, shallow=True, expect="ok")
        assert CONST[1] is before[0] and list(CONST[1]) == before[1]
        assert CONST[1][0] is before[2] and repr(CONST) == before[3]


# ---------------------------------------------------------------------------
# __getstate__ / __setstate__, slots


def test_object_getstate_default():
    p = Plain(a=[1])
    check(p, expect="ok")
    if PY >= (3, 11):
        assert p.__getstate__() == {"a": [1]}


def test_getstate_variants():
    check(shape_getstate(), expect="ok")
    for obj in shape_getstate():
        check(obj, shallow=True, expect="ok")


def test_slots_unset_and_inherited():
    check(shape_slots(), expect="ok")
    check(shape_slots_dict(), expect="ok")


# ---------------------------------------------------------------------------
# mutation of the container being copied


class MutateInDeepcopy:
    def __init__(self, target, action, tag="m"):
        self.target = target
        self.action = action
        self.tag = tag
        self.done = False

    def __deepcopy__(self, memo):
        if not self.done:
            self.done = True
            self.action(self.target)
        return ("copy of", self.tag)

    def __hash__(self):
        return hash(self.tag)


class MutateInReduce:
    def __init__(self, target, action, tag="m"):
        self.target = target
        self.action = action
        self.tag = tag
        self.done = False

    def __reduce__(self):
        if not self.done:
            self.done = True
            self.action(self.target)
        return (Plain, (), {"tag": self.tag})

    def __hash__(self):
        return hash(self.tag)


HOOKS = {"deepcopy": MutateInDeepcopy, "reduce": MutateInReduce}

LIST_ACTIONS = {
    "append": lambda t: t.append([3]),
    "append-self": lambda t: t.append(t),
    "extend-many": lambda t: t.extend([[i] for i in range(20)]),
    "pop-last": lambda t: t.pop(),
    "pop-first": lambda t: t.pop(0),
    "insert-front": lambda t: t.insert(0, ["front"]),
    "clear": lambda t: t.clear(),
    "reverse": lambda t: t.reverse(),
    "replace-slice": lambda t: t.__setitem__(slice(None), [[9]]),
}


@pytest.mark.parametrize("hook", sorted(HOOKS))
@pytest.mark.parametrize("action", sorted(LIST_ACTIONS))
def test_list_mutated_during_copy(hook, action, crash_guard):
    crash_guard("list-mut:%s:%s" % (hook, action))
    check_fresh(make_list_mut(hook, action))


def make_list_mut(hook, action):
    def make():
        lst = [[1], "a", [2], "b"]
        lst.insert(2, HOOKS[hook](lst, LIST_ACTIONS[action]))
        return lst
    return make


DICT_ACTIONS = {
    "add-key": lambda t: t.__setitem__("new", [0]),
    "delete-later-key": lambda t: t.pop("z"),
    "delete-earlier-key": lambda t: t.pop("a"),
    "reassign-later-value": lambda t: t.__setitem__("z", ["reassigned"]),
    "reassign-earlier-value": lambda t: t.__setitem__("a", ["reassigned"]),
    "replace-key": lambda t: (t.pop("z"), t.__setitem__("zz", [5])),
    "replace-earlier-key": lambda t: (t.pop("a"), t.__setitem__("aa", [5])),
    "clear": lambda t: t.clear(),
    "clear-and-refill": lambda t: (t.clear(), t.update(a=[1], m=2, z=[3])),
}


@pytest.mark.parametrize("position", ["value", "key"])
@pytest.mark.parametrize("hook", sorted(HOOKS))
@pytest.mark.parametrize("action", sorted(DICT_ACTIONS))
def test_dict_mutated_during_copy(hook, action, position, crash_guard):
    crash_guard("dict-mut:%s:%s:%s" % (hook, action, position))
    check_fresh(make_dict_mut(hook, action, position))


def make_dict_mut(hook, action, position):
    def make():
        d = {"a": [1]}
        m = HOOKS[hook](d, DICT_ACTIONS[action])
        if position == "value":
            d["m"] = m
        else:
            d[m] = "v"
        d["z"] = [3]
        return d
    return make


CONTAINER_MUTATIONS = {
    "set-add": (lambda: set(), lambda t: t.add("added")),
    "set-discard": (lambda: set(), lambda t: t.discard("b")),
    "ordered-dict-add": (collections.OrderedDict, lambda t: t.__setitem__("new", 1)),
    "ordered-dict-move": (collections.OrderedDict, lambda t: t.move_to_end("a")),
    "dict-subclass-add": (DictSub, lambda t: t.__setitem__("new", 1)),
    "dict-subclass-reassign": (DictSub, lambda t: t.__setitem__("z", "re")),
    "list-subclass-append": (ListSub, lambda t: t.append("new")),
    "list-subclass-clear": (ListSub, lambda t: t.clear()),
    "deque-append": (collections.deque, lambda t: t.append("new")),
    "defaultdict-add": (lambda: collections.defaultdict(list), lambda t: t["new"]),
}


@pytest.mark.parametrize("hook", sorted(HOOKS))
@pytest.mark.parametrize("case", sorted(CONTAINER_MUTATIONS))
def test_other_containers_mutated_during_copy(case, hook, crash_guard):
    crash_guard("container-mut:%s:%s" % (hook, case))
    check_fresh(make_container_mut(hook, case))


def make_container_mut(hook, case):
    make_container, action = CONTAINER_MUTATIONS[case]

    def make():
        c = make_container()
        m = HOOKS[hook](c, action)
        if isinstance(c, set):
            c.update(["a", m, "b"])
        elif isinstance(c, dict):
            c["a"] = [1]
            c["m"] = m
            c["z"] = [3]
        else:
            c.extend([[1], m, [3]])
        return c
    return make


def test_tuple_item_mutates_parent_list():
    def make():
        lst = [[0]]
        t = (MutateInDeepcopy(lst, lambda x: x.append("late")), lst)
        lst.append(t)
        return lst

    check_fresh(make, expect="ok")


class MutateInSetState:
    def __init__(self, target):
        self.target = target

    def __getstate__(self):
        return {"target": self.target}

    def __setstate__(self, state):
        self.__dict__.update(state)
        state["target"].append("from setstate")


def test_setstate_mutates_the_copy_being_built():
    def make():
        lst = [[1]]
        lst.append(MutateInSetState(lst))
        lst.append([2])
        return lst

    check_fresh(make, expect="ok")


# ---------------------------------------------------------------------------
# a memo-less deepcopy called from inside a hook


class NestedInDeepcopy:
    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        inner = current_deepcopy()(self.payload)
        new = NestedInDeepcopy.__new__(NestedInDeepcopy)
        memo[id(self)] = new
        new.payload = current_deepcopy()(self.payload, memo)
        new.inner = inner
        return new


class NestedInReduce:
    def __init__(self, payload):
        self.payload = payload

    def __reduce__(self):
        self.inner = current_deepcopy()(self.payload)
        return (NestedInReduce.__new__, (NestedInReduce,), self.__dict__)


class NestedInGetState:
    def __init__(self, payload):
        self.payload = payload

    def __getstate__(self):
        state = dict(self.__dict__)
        state["inner"] = current_deepcopy()(self.payload)
        return state


class NestedInSetState:
    def __init__(self, payload):
        self.payload = payload

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.inner = current_deepcopy()(state["payload"])


class NestedShallowInReduce:
    def __init__(self, payload):
        self.payload = payload

    def __reduce__(self):
        self.inner = current_copy()(self.payload)
        return (NestedShallowInReduce.__new__, (NestedShallowInReduce,), self.__dict__)


NESTED = {"deepcopy": NestedInDeepcopy, "reduce": NestedInReduce,
          "getstate": NestedInGetState, "setstate": NestedInSetState,
          "shallow-in-reduce": NestedShallowInReduce}


@pytest.mark.parametrize("where", sorted(NESTED))
def test_memoless_deepcopy_inside_hook(where, crash_guard):
    crash_guard("nested:" + where)
    check_fresh(make_nested(where), expect="ok")


def make_nested(where):
    def make():
        shared = [1, 2]
        cyc = [shared]
        cyc.append(cyc)
        d = {"shared": shared}
        hook = NESTED[where]([shared, cyc, {"k": shared}, d])
        return [shared, cyc, hook, shared, cyc, d, {"s": shared, "c": cyc}, hook]
    return make


@pytest.mark.parametrize("where", sorted(NESTED))
def test_memoless_deepcopy_inside_hook_with_caller_memo(where):
    def make():
        shared = [1]
        hook = NESTED[where]([shared])
        return [shared, hook, shared]

    check_fresh(make, dict, expect="ok")


class HookCopiesSelfFresh:
    """A hook whose inner memo-less copy reaches the object being copied."""

    def __init__(self):
        self.items = [1]
        self.root = None

    def __reduce__(self):
        snapshot = current_deepcopy()(self.root)
        self.snapshot_len = len(snapshot) if isinstance(snapshot, list) else -1
        return (HookCopiesSelfFresh.__new__, (HookCopiesSelfFresh,), {"items": self.items})


def test_inner_copy_reaches_outer_object():
    def make():
        h = HookCopiesSelfFresh()
        root = [h.items, "x"]
        h.root = [root, h.items]
        root.append(h)
        root.append(h.items)
        return root

    check_fresh(make)


# ---------------------------------------------------------------------------
# shallow copy specifics


class CopyOnClass:
    def __init__(self):
        self.a = [1]

    def __copy__(self):
        new = CopyOnClass.__new__(CopyOnClass)
        new.a = self.a
        new.via = "class __copy__"
        return new


class CopyOnInstanceOnly:
    def __init__(self):
        self.a = [1]


def test_copy_hook_on_class():
    out_ref, _, _ = check(CopyOnClass(), shallow=True, expect="ok")
    assert out_ref[1].via == "class __copy__"


def test_copy_hook_on_instance_is_ignored():
    x = CopyOnInstanceOnly()
    x.__copy__ = lambda: "instance __copy__"
    out_ref, _, _ = check(x, shallow=True, expect="ok")
    assert out_ref[1] != "instance __copy__"


def test_copy_none_falls_through():
    check(CopyNone(), shallow=True, expect="ok")


# ---------------------------------------------------------------------------
# copy.replace (3.13+)

needs_replace = pytest.mark.skipif(PY < (3, 13), reason="copy.replace is new in 3.13")


class ReplaceNone:
    __replace__ = None


class ReplaceOnInstance:
    pass


@needs_replace
def test_replace_exported():
    assert hc.our_replace() is not None
    assert getattr(fastdeepcopy, "replace", None) is not None, \
        "fastdeepcopy does not export replace on 3.13"


def _replace_cases():
    a = [1]
    ns = types.SimpleNamespace(a=a, b=2)
    inst = ReplaceOnInstance()
    inst.__replace__ = lambda **kw: "instance"
    return [
        ("namedtuple", (NT(a, 2),), {"y": [3]}, "ok"),
        ("dataclass", (DC(a, 2),), {"x": 5}, "ok"),
        ("frozen-dataclass", (FrozenDC(a),), {"y": a}, "ok"),
        ("dataclass-bad-field", (DC(a),), {"zzz": 1}, "raise"),
        ("namespace", (ns,), {"b": 3}, "ok"),
        ("date", (datetime.date(2020, 1, 1),), {"day": 5}, "ok"),
        ("date-bad", (datetime.date(2020, 1, 1),), {"day": 45}, "raise"),
        ("int", (1,), {}, "raise"),
        ("replace-none", (ReplaceNone(),), {}, "raise"),
        ("instance-only", (inst,), {}, "raise"),
        ("two-args", (1, 2), {}, "raise"),
        ("no-args", (), {}, "raise"),
        ("obj-keyword", (), {"obj": 1}, "raise"),
    ]


_REPLACE_BUGS: dict = {}


@needs_replace
@pytest.mark.parametrize("case", [pytest.param(c, id=c[0], marks=[xfail_engine(_REPLACE_BUGS[c[0]])]
                                               if c[0] in _REPLACE_BUGS else [])
                                  for c in (_replace_cases() if PY >= (3, 13) else [])])
def test_replace(case):
    name, args, kwargs, expect = case
    out_ref = hc.outcome(hc.REF.replace, *args, **kwargs)
    out_ours = hc.outcome(hc.our_replace(), *args, **kwargs)
    assert out_ref[0] == expect, hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, (args, kwargs))


# ---------------------------------------------------------------------------
# deep structures: RecursionError, never a crash (run in a subprocess)

_DEEP_SCRIPT = r"""
import collections, copy, importlib.util, json, sys
sys.path.insert(0, SHIM)
import fastdeepcopy
spec = importlib.util.spec_from_file_location("copy", copy.__file__)
REF = importlib.util.module_from_spec(spec)
spec.loader.exec_module(REF)
CURRENT = "ours"

class Chain:
    def __init__(self, child=None):
        self.child = child
    def __reduce__(self):
        return (Chain, (self.child,))

class HookChain:
    def __init__(self, child=None):
        self.child = child
    def __deepcopy__(self, memo):
        f = fastdeepcopy.deepcopy if CURRENT == "ours" else REF.deepcopy
        return HookChain(f(self.child, memo))

class StateChain:
    def __init__(self, child=None):
        self.child = child

class ListSub(list):
    pass

def build(shape, n):
    x = None
    for i in range(n):
        if shape == "list":
            x = [x]
        elif shape == "dict":
            x = {"k": x}
        elif shape == "tuple":
            x = (x, [])
        elif shape == "reduce-chain":
            x = Chain(x)
        elif shape == "state-chain":
            x = StateChain(x)
        elif shape == "hook-chain":
            x = HookChain(x)
        elif shape == "ordered-dict":
            x = collections.OrderedDict(k=x)
        elif shape == "list-subclass":
            x = ListSub([x])
        elif shape == "mixed":
            x = [x] if i % 3 == 0 else ({"k": x} if i % 3 == 1 else Chain(x))
    return x

def child_of(x):
    if isinstance(x, (list, tuple)):
        return x[0]
    if isinstance(x, dict):
        return x["k"]
    return x.child

def verify(orig, cp, n):
    # the copy has the same depth, types, and shares nothing with the original
    for _ in range(n):
        if type(orig) is not type(cp) or orig is cp:
            return False
        orig, cp = child_of(orig), child_of(cp)
    return orig is None and cp is None

def py_depth():
    if NO_DEPTH:
        return -1
    n = 0
    def f():
        nonlocal n
        n += 1
        f()
    try:
        f()
    except RecursionError:
        pass
    return n

def run(fn, x, n, memo):
    try:
        y = fn(x, {}) if memo else fn(x)
        # a result returned with an exception still set shows up here
        probe = [len([1]) for _ in range(3)]
        return ["ok", verify(x, y, n)]
    except RecursionError:
        return ["RecursionError"]
    except BaseException as e:
        return ["other", type(e).__name__, str(e)[:300]]

shape, memo, with_ref = sys.argv[1], sys.argv[2] == "memo", sys.argv[3] == "ref"
depth_before = py_depth()
results = []
for n in map(int, sys.argv[4:]):
    x = build(shape, n)
    CURRENT = "ours"
    ours = run(fastdeepcopy.deepcopy, x, n, memo)
    after_ours = py_depth()
    CURRENT = "ref"
    # (stdlib is not run once our copy has upset the recursion counter: it could
    # then recurse without bound)
    ref = run(REF.deepcopy, x, n, memo) if with_ref and after_ours == depth_before else None
    results.append({"n": n, "ours": ours, "ref": ref, "py_depth": after_ours})
    del x
a = [1]
y = fastdeepcopy.deepcopy([a, a, {"a": a}])
after_ok = y[0] is y[1] is y[2]["a"] and y[0] == [1] and y[0] is not a
print(json.dumps({"results": results, "after_ok": after_ok, "py_depth": depth_before}))
"""

DEEP_SHAPES = ["list", "dict", "tuple", "reduce-chain", "state-chain", "hook-chain",
               "ordered-dict", "list-subclass", "mixed"]


def _run_deep(shape, sizes, memo=False, limit=None, with_ref=True):
    script = "SHIM = %r\nNO_DEPTH = %r\n" % (hc.SHIM, limit is not None)
    if limit is not None:
        script += "import sys; sys.setrecursionlimit(%d)\n" % limit
    script += _DEEP_SCRIPT
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script, shape,
                           "memo" if memo else "nomemo", "ref" if with_ref else "noref"]
                          + [str(n) for n in sizes],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, ("child died with status %d (negative = signal)\n%s"
                                  % (proc.returncode, proc.stderr[-2500:]))
    assert "Exception ignored" not in proc.stderr, proc.stderr[-2500:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["after_ok"], res
    return res


def _check_no_stray_state(res):
    for r in res["results"]:
        assert r["py_depth"] == res["py_depth"], (
            "after copying depth %d the recursion depth available to Python code changed "
            "from %d to %d (unbalanced recursion counter)" % (r["n"], res["py_depth"],
                                                             r["py_depth"]))


@pytest.mark.parametrize("memo", [False, True], ids=["nomemo", "memo"])
@pytest.mark.parametrize("shape", DEEP_SHAPES)
def test_deep_structure_raises_recursion_error(shape, memo):
    """100,000 levels: stdlib raises RecursionError; so must we, without crashing,
    and leave the interpreter as it was."""
    res = _run_deep(shape, [100_000], memo)
    (r,) = res["results"]
    assert r["ours"] == ["RecursionError"], r
    _check_no_stray_state(res)
    assert r["ref"] == ["RecursionError"], r


@pytest.mark.parametrize("shape", DEEP_SHAPES)
def test_medium_depth_no_stray_exception(shape):
    """Depths around the recursion limits: our copy may succeed where stdlib's
    Python recursion gives up, but it must then be a correct copy, and neither
    outcome may leave an exception set or the recursion counter changed."""
    res = _run_deep(shape, [50, 400, 1000, 2000, 5000, 20000], with_ref=False)
    for r in res["results"]:
        assert r["ours"] in (["ok", True], ["RecursionError"]), r
    _check_no_stray_state(res)


@pytest.mark.parametrize("shape", ["list", "reduce-chain", "ordered-dict", "mixed"])
def test_deep_structure_high_recursion_limit_does_not_crash(shape):
    """With a recursion limit far above what the C stack can hold, the engine
    must stop with RecursionError (or finish), never overflow the stack.
    (stdlib itself is not run: on 3.10 it would overflow the C stack.)"""
    res = _run_deep(shape, [200_000], limit=10_000_000, with_ref=False)
    (r,) = res["results"]
    assert r["ours"] in (["ok", True], ["RecursionError"]), r


# ---------------------------------------------------------------------------
# per-class decisions: instance-level hooks, classes changed after a copy,
# lookups through __getattr__, namedtuples, datetimes


class Evolving:
    """A plain class that tests change after instances were copied."""

    def __init__(self):
        self.a = [1]


def _reset_evolving():
    for name in ("__deepcopy__", "__reduce_ex__", "__reduce__", "__getstate__",
                 "__setstate__", "__getnewargs__", "__copy__", "__slotnames__"):
        if name in Evolving.__dict__:
            delattr(Evolving, name)


EVOLUTIONS = {
    "deepcopy": ("__deepcopy__", lambda self, memo: ("deepcopy hook", id(self) in memo)),
    "reduce_ex": ("__reduce_ex__", lambda self, proto: (Target, (), {"proto": proto})),
    "reduce": ("__reduce__", lambda self: (Target, (), {"via": "reduce"})),
    "getstate": ("__getstate__", lambda self: {"from": "getstate", "a": self.a}),
    "setstate": ("__setstate__", lambda self, st: self.__dict__.update(st, set=True)),
    "getnewargs": ("__getnewargs__", lambda self: ()),
    "copy": ("__copy__", lambda self: ("copy hook",)),
    "deepcopy-none": ("__deepcopy__", None),
}


@pytest.mark.parametrize("change", sorted(EVOLUTIONS))
def test_class_changed_after_copies(change):
    """Hooks added to (then removed from) a class after its instances were
    copied are honoured at once."""
    name, value = EVOLUTIONS[change]
    _reset_evolving()
    try:
        shared = [0]
        objs = [Evolving(), Evolving()]
        objs[0].shared = shared
        for _ in range(3):                       # warm any per-class cache
            check([objs, shared], expect="ok")
            check(objs[0], shallow=True, expect="ok")
        setattr(Evolving, name, value)
        check([objs, shared], expect="ok")
        check(objs[0], shallow=True)
        delattr(Evolving, name)
        check([objs, shared], expect="ok")
        check(objs[0], shallow=True, expect="ok")
    finally:
        _reset_evolving()


@pytest.mark.parametrize("name,value", [
    ("__deepcopy__", lambda memo: ("instance deepcopy", len(memo) >= 0)),
    ("__reduce_ex__", lambda proto: (Target, (), {"instance": proto})),
    ("__reduce__", lambda: (Target, (), {"instance": "reduce"})),
    ("__getstate__", lambda: {"instance": "getstate"}),
    ("__copy__", lambda: "instance copy"),
    ("__setstate__", lambda st: None),
], ids=lambda v: v if isinstance(v, str) else "")
def test_instance_level_hooks_after_copies(name, value):
    """stdlib looks hooks up with getattr(x, ...): instance attributes count
    (except for __copy__, looked up on the class)."""
    for cls in (Evolving, Plain):
        plain = cls()
        check([plain, plain], expect="ok")          # the class is known by now
        hooked = cls()
        setattr(hooked, name, value)
        check([plain, hooked, hooked], expect="ok")
        check(hooked, shallow=True)


def test_instance_hook_on_return_self_class():
    """A class whose __deepcopy__ is `return self`, with an instance-level
    __deepcopy__ on one instance."""
    class ReturnsSelf:
        def __deepcopy__(self, memo):
            return self

    a, b = ReturnsSelf(), ReturnsSelf()
    check([a, a], expect="ok")
    b.__deepcopy__ = lambda memo: "instance hook"
    out_ref, _, _ = check([a, b], expect="ok")
    assert out_ref[1][1] == "instance hook"


class CallableHook:
    def __init__(self, tag):
        self.tag = tag

    def __call__(self, *args):
        return ("callable hook", self.tag, len(args))


def _raising_property(exc):
    def getter(self):
        raise exc
    return property(getter)


HOOK_FLAVOURS = {
    "staticmethod": staticmethod(lambda *args: ("static", len(args))),
    "classmethod": classmethod(lambda cls, *args: ("classmethod", cls.__name__, len(args))),
    "callable-object": CallableHook("x"),
    "property-attributeerror": _raising_property(AttributeError("no hook")),
    "property-valueerror": _raising_property(ValueError("hook lookup failed")),
    "property-returning-none": property(lambda self: None),
    "not-callable": 42,
}


@pytest.mark.parametrize("hook", ["__deepcopy__", "__copy__", "__reduce_ex__", "__reduce__",
                                  "__getstate__", "__setstate__"])
@pytest.mark.parametrize("flavour", sorted(HOOK_FLAVOURS))
def test_hook_flavours(hook, flavour):
    """Hooks that are not plain functions: descriptors, callables, properties
    (the lookup itself may raise), non-callables."""
    cls = type("Flavoured", (), {hook: HOOK_FLAVOURS[flavour],
                                 "__init__": lambda self: setattr(self, "a", [1])})
    obj = cls()
    check([obj, obj])
    check(obj, shallow=True)


class Other:
    def __init__(self):
        self.b = [2]


def test_instance_class_reassigned():
    x = Evolving()
    check([x], expect="ok")
    x.__class__ = Other
    check([x, x], expect="ok")
    x.__class__ = Evolving
    check([x, x], expect="ok")


def test_instance_dict_with_unusual_keys():
    x = Plain(a=[1])
    check([x], expect="ok")
    y = Plain(a=[1])
    y.__dict__[1] = [2]                  # a non-string key
    y.__dict__["with space"] = 3
    check([y, y], expect="ok")
    check(y, shallow=True, expect="ok")


def test_instance_dict_replaced_by_subclass():
    x = Plain(a=1)
    check([x], expect="ok")
    y = Plain()
    y.__dict__ = DictSub(a=[1], b=2)
    check([y, y], expect="ok")
    check(y, shallow=True)


class Recorder:
    """Records attribute lookups that reach __getattr__ and attribute sets."""

    log = PerRun()

    def __init__(self):
        object.__setattr__(self, "a", [1])

    def __getattr__(self, name):
        Recorder.log.add(("getattr", name))
        raise AttributeError(name)

    def __setattr__(self, name, value):
        Recorder.log.add(("setattr", name))
        object.__setattr__(self, name, value)


def test_hook_lookups_reach_getattr():
    Recorder.log.clear()
    r = Recorder()
    check([r, r], expect="ok")
    check(r, shallow=True, expect="ok")
    assert Recorder.log["ref"] == Recorder.log["ours"]
    assert ("getattr", "__deepcopy__") in Recorder.log["ref"]


class GetattrAnswers:
    """A proxy-like class whose __getattr__ answers every name."""

    def __init__(self):
        self.a = [1]

    def __getattr__(self, name):
        if name == "__deepcopy__":
            return lambda memo: ("answered by __getattr__",)
        raise AttributeError(name)


def test_getattr_provides_deepcopy():
    out_ref, _, _ = check([GetattrAnswers()], expect="ok")
    assert out_ref[1][0] == ("answered by __getattr__",)


class NewRecorder:
    calls = PerRun()

    def __new__(cls, *args):
        NewRecorder.calls.add(args)
        return object.__new__(cls)

    def __init__(self):
        self.a = [1]


def test_custom_new_is_called():
    x = NewRecorder()
    NewRecorder.calls.clear()
    check([x, x], expect="ok")
    check(x, shallow=True, expect="ok")
    assert NewRecorder.calls["ref"] == NewRecorder.calls["ours"]


def test_copyreg_newobj_replaced(monkeypatch):
    calls = PerRun()
    real = copyreg.__newobj__

    def recording_newobj(cls, *args):
        calls.add(cls.__name__)
        return real(cls, *args)

    check([Plain(a=1)], expect="ok")
    monkeypatch.setattr(copyreg, "__newobj__", recording_newobj)
    check([Plain(a=[1]), Slotted([2])], expect="ok")
    check(Plain(a=[1]), shallow=True, expect="ok")
    assert calls["ref"] == calls["ours"] and calls["ref"]


NT3 = collections.namedtuple("NT3", "a b c", defaults=[None])
NTRenamed = collections.namedtuple("NTRenamed", ["x", "def", "x"], rename=True)


class NTSub(NT):
    pass


class NTSubSlots(NT):
    __slots__ = ()

    def total(self):
        return self.x


class NTNewArgs(NT):
    __slots__ = ()

    def __new__(cls, x, y=None):
        return super().__new__(cls, x, [y])


def test_namedtuple_variants():
    a = [1]
    sub = NTSub(a, 2)
    sub.attr = [sub]
    objs = [NT3(a, 2), NT3(1, 2, 3), NTRenamed(1, [2], a), sub, NTSubSlots(a, (a,)),
            NTNewArgs(a, 5), NT(NT(a, a), [a])]
    check(objs, expect="ok")
    check(objs, dict, expect="ok")
    for o in objs:
        check(o, shallow=True, expect="ok")


@pytest.mark.parametrize("kind", ["tuple", "namedtuple"])
def test_tuple_in_cycle_through_its_list(kind):
    """t = T(lst) with lst containing t: stdlib's inner copy of t is memoized
    first; the outer tuple re-check (plain tuple) or overwrite (namedtuple)
    decides what the copy of t is."""
    lst = [1]
    t = (lst, 2) if kind == "tuple" else NT(lst, 2)
    lst.append(t)
    for root in (t, lst, [t, lst], [lst, t], {"t": t}):
        check(root, expect="ok")
        check(root, dict, expect="ok")


def test_namedtuple_new_replaced_after_copies():
    Local = collections.namedtuple("Local", "a b")
    x = Local([1], 2)
    check([x], expect="ok")
    original_new = Local.__new__
    Local.__new__ = lambda cls, a, b: original_new(cls, a, ("replaced", b))
    try:
        check([x], expect="ok")
    finally:
        Local.__new__ = original_new
    check([x], expect="ok")


class StatefulTZ(datetime.tzinfo):
    def __init__(self, hours=1):
        self.hours = hours
        self.seen = []

    def utcoffset(self, dt):
        return datetime.timedelta(hours=self.hours)

    def dst(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "S%d" % self.hours


class BadTZ(datetime.tzinfo):
    def __deepcopy__(self, memo):
        return "not a tzinfo"


class DateSub(datetime.date):
    pass


class DateTimeSub(datetime.datetime):
    pass


class DeltaSub(datetime.timedelta):
    pass


def test_datetime_variants():
    tz = StatefulTZ(3)
    tz.seen.append(tz)
    ds = DateSub(2020, 1, 1)
    ds.attr = [ds]
    objs = [datetime.datetime(2021, 11, 7, 1, 30, fold=1),
            datetime.time(1, 30, fold=1), datetime.time(23, 59, 59, 999999, tzinfo=tz),
            datetime.datetime(2020, 5, 5, tzinfo=tz), datetime.datetime(2020, 5, 6, tzinfo=tz),
            tz, datetime.datetime.min, datetime.datetime.max, datetime.date.min,
            datetime.timedelta(days=-3, microseconds=5), datetime.timedelta.max, ds,
            DateTimeSub(2000, 1, 1, tzinfo=datetime.timezone.utc), DeltaSub(seconds=5),
            datetime.timezone(datetime.timedelta(hours=5, minutes=30))]
    check(objs, expect="ok")
    check(objs, dict, expect="ok")
    for o in objs:
        check(o, shallow=True, expect="ok")


def test_datetime_with_tzinfo_copying_to_a_non_tzinfo():
    check([datetime.datetime(2020, 1, 1, tzinfo=BadTZ())], expect="raise")
    check([datetime.time(1, tzinfo=BadTZ())], expect="raise")


def test_decimal_variants():
    class DecSub(decimal.Decimal):
        pass

    d = DecSub("1.5")
    d.attr = [1]
    check([decimal.Decimal("2.5"), d, d, decimal.Decimal("sNaN")], expect="ok")


def test_regex_patterns_and_matches_are_their_own_copies():
    """re.Pattern's and re.Match's C __deepcopy__ return self (the type
    cache knows them): the copies are the originals, in containers, as
    dict values and with a caller's memo."""
    p = re.compile(r"(a+)(b)?")
    m = p.match("aab")
    out_ref, _, _ = check([p, m, {"p": p, "m": [m]}, (p, m), {p}], expect="ok")
    assert out_ref[1][0] is p and out_ref[1][1] is m
    check(p, memo_factory=dict, expect="ok")
    check(m, memo_factory=lambda: {id(m): "stored"}, expect="ok")


def test_enum_with_overridden_copy_hooks():
    class Marked(enum.Enum):
        A = 1

        def __deepcopy__(self, memo):
            return ("marked", self.name)

        def __copy__(self):
            return ("copied", self.name)

    class Plain2(enum.Enum):
        B = [2]

    check([Marked.A, Plain2.B, Color.RED], expect="ok")
    check(Marked.A, shallow=True, expect="ok")


def test_sets_of_atomics_with_replaced_entries(registry):
    registry.atomic_copier(int, lambda x, memo: x * 10)
    s = {1, 2, "a"}
    out_ref, _, _ = check([s, frozenset({3}), s], expect="ok")
    assert 10 in out_ref[1][0]


def test_sets_of_unusual_elements():
    class Key:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(self.k)

        def __eq__(self, other):
            return isinstance(other, Key) and other.k == self.k

    k = Key(1)
    check([{k, Key(2), 3}, k, frozenset({(1, 2), (k,)}), {IntSub(5), 5.5, StrSub("s")}],
          expect="ok")


# ---------------------------------------------------------------------------
# the comparator itself: each of these must be rejected (so that the
# differential tests above can fail)


def _rejects(ref_result, our_result, original, our_original=None):
    with pytest.raises(AssertionError):
        hc.assert_same_copy(ref_result, our_result, original, our_original=our_original)


def test_comparator_accepts_a_real_copy():
    a = [1]
    orig = [a, a, (a,), {"k": a}]
    hc.assert_same_copy(hc.REF.deepcopy(orig), hc.REF.deepcopy(orig), orig)


def test_comparator_rejects_broken_sharing():
    a = [1]
    orig = [a, a]
    x = [1]
    _rejects([x, x], [[1], [1]], orig)


def test_comparator_rejects_extra_sharing():
    orig = [[1], [1]]
    y = [1]
    _rejects([[1], [1]], [y, y], orig)


def test_comparator_rejects_sharing_with_the_original():
    a = [1]
    orig = [a]
    _rejects([[1]], [a], orig)
    t = (1, 2)
    _rejects(t, tuple([1, 2]), t)   # stdlib returns the original tuple, "ours" a new one


def test_comparator_rejects_a_lost_cycle():
    orig = []
    orig.append(orig)
    r = []
    r.append(r)
    v = []
    v.append(v)
    u = [v]
    _rejects(r, u, orig)


def test_comparator_rejects_type_and_value_differences():
    orig = [1]
    _rejects([1], (1,), orig)
    _rejects([1], [True], orig)
    _rejects([0.0], [-0.0], [0.0])
    _rejects([1], [2], orig)
    _rejects(Plain(a=1), Plain(a=2), Plain(a=1))
    _rejects(Plain(a=1), Plain(a=1, b=2), Plain(a=1))
    _rejects(DictTarget(a=1), {"a": 1}, DictTarget(a=1))


def test_comparator_rejects_dict_order_and_set_differences():
    _rejects({"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 2})
    _rejects({1, 2}, {1, 3}, {1, 2})
    p, q = Plain(a=1), Plain(a=2)
    _rejects({p}, {Plain(a=3)}, {p, q} and {p})


def test_comparator_rejects_slot_and_attribute_differences():
    s1, s2 = Slotted([1]), Slotted([1])
    s2.b = 5
    _rejects(s1, s2, Slotted([1]))
    d1, d2 = DictSub(), DictSub()
    d1.attr = [1]
    _rejects(d1, d2, d1)


def test_comparator_rejects_different_functions_and_reduce_state():
    _rejects([module_function], [module_lambda], [module_function])
    _rejects(datetime.date(2020, 1, 1), datetime.date(2020, 1, 2), datetime.date(2020, 1, 1))
    _rejects(functools.partial(len, [1]), functools.partial(len, [2]),
             functools.partial(len, [1]))


def test_outcome_comparison_rejects_differences():
    ok = ("ok", 1)
    with pytest.raises(AssertionError):
        hc.assert_same_outcome(ok, ("raise", TypeError, "x"), 1)
    with pytest.raises(AssertionError):
        hc.assert_same_outcome(("raise", TypeError, "x"), ("raise", ValueError, "x"), 1)
    with pytest.raises(AssertionError):
        hc.assert_same_outcome(("raise", TypeError, "x"), ("raise", TypeError, "y"), 1)
    # copy.Error of the reference and of the real module are the same by name
    hc.assert_same_outcome(("raise", hc.REF.Error, "m"), ("raise", copy.Error, "m"), 1)


def test_memo_comparison_rejects_differences():
    a = [1]
    orig = [a]
    m1, m2 = {}, {}
    r1 = hc.REF.deepcopy(orig, m1)
    r2 = hc.REF.deepcopy(orig, m2)
    comp = hc.assert_same_copy(r1, r2, orig)
    hc.assert_same_memo(m1, m2, comp)
    m2[12345] = "extra"
    with pytest.raises(AssertionError):
        hc.assert_same_memo(m1, m2, comp)
    del m2[12345]
    m2[id(m2)].append([0])
    with pytest.raises(AssertionError):
        hc.assert_same_memo(m1, m2, comp)


def test_reference_is_private_and_pure(ref_copy):
    assert ref_copy is hc.REF
    assert ref_copy is not copy and "copy" in sys.modules and sys.modules["copy"] is copy
    assert ref_copy.deepcopy is not copy.deepcopy
    assert ref_copy._deepcopy_dispatch is not copy._deepcopy_dispatch
    assert ref_copy.dispatch_table is copyreg.dispatch_table
    assert ref_copy.deepcopy.__code__.co_filename == copy.__file__
    assert ref_copy.Error is not copy.Error
    assert hc.exc_key(ref_copy.Error) == hc.exc_key(copy.Error)


# ---------------------------------------------------------------------------
# crash isolation: the cases above that run in this process are first run with
# fastdeepcopy alone in a child interpreter; a case that kills the child fails
# here (with the signal) instead of killing the whole test run.


def probe_cases():
    F = fastdeepcopy
    cases = {}

    def add(cid, fn):
        cases[cid] = fn

    for name, make in SHAPES.items():
        add("deep:" + name, lambda make=make: F.deepcopy(make()))
        add("shallow:" + name, lambda make=make: [F.copy(i) for i in [make()] + (
            make() if isinstance(make(), list) else [])])
        add("memo:" + name, lambda make=make: F.deepcopy(make(), {}))
        add("exposed-first:" + name, lambda make=make: F.deepcopy([MemoStealer(), make()]))
        add("exposed-last:" + name, lambda make=make: F.deepcopy([make(), MemoStealer()]))
    for cid, make, _ in _MALFORMED:
        add("reduce-deep:" + cid, lambda make=make: F.deepcopy([1, RV(make)]))
        add("reduce-shallow:" + cid, lambda make=make: F.copy(RV(make)))
    for tp in TP_NEW_NULL:
        for extra in [(), (1, 2)]:
            obj = RV(lambda s, tp=tp, extra=extra: (copyreg.__newobj__, (tp,) + extra))
            add("tpnew:%s:%d" % (tp.__name__, len(extra)),
                lambda obj=obj: (F.deepcopy([obj]), F.copy(obj)))
    for hook in HOOKS:
        for action in LIST_ACTIONS:
            add("list-mut:%s:%s" % (hook, action),
                lambda m=make_list_mut(hook, action): F.deepcopy(m()))
        for action in DICT_ACTIONS:
            for position in ("value", "key"):
                add("dict-mut:%s:%s:%s" % (hook, action, position),
                    lambda m=make_dict_mut(hook, action, position): F.deepcopy(m()))
        for case in CONTAINER_MUTATIONS:
            add("container-mut:%s:%s" % (hook, case),
                lambda m=make_container_mut(hook, case): F.deepcopy(m()))
    for where in NESTED:
        add("nested:" + where, lambda m=make_nested(where): F.deepcopy(m()))
    return cases


_PROBE_CHILD = r"""
import faulthandler, os, sys
faulthandler.enable()
sys.path[:0] = [TESTS, SHIM]
import test_differential as T
cases = T.probe_cases()
ids = sorted(cases)
start = int(sys.argv[1])
for cid in ids[start:]:
    sys.stdout.write("START %s\n" % cid)
    sys.stdout.flush()
    try:
        cases[cid]()
    except BaseException:
        pass
    sys.stdout.write("END %s\n" % cid)
    sys.stdout.flush()
sys.stdout.write("ALL-DONE\n")
"""


@pytest.fixture(scope="module")
def crash_results():
    """{case id: failure text} for the cases that crash the interpreter."""
    ids = sorted(probe_cases())
    crashed = {}
    start = 0
    script = "TESTS = %r\nSHIM = %r\n" % (os.path.dirname(os.path.abspath(__file__)), hc.SHIM)
    script += _PROBE_CHILD
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    while start < len(ids):
        proc = subprocess.run([sys.executable, "-c", script, str(start)], capture_output=True,
                              text=True, timeout=600, env=env)
        lines = proc.stdout.splitlines()
        if proc.returncode == 0 and lines and lines[-1] == "ALL-DONE":
            break
        started = [ln[6:] for ln in lines if ln.startswith("START ")]
        if not started:
            raise AssertionError("the crash probe could not start (status %d):\n%s"
                                 % (proc.returncode, proc.stderr[-3000:]))
        last = started[-1]
        crashed[last] = "status %d (negative = signal)\n%s" % (proc.returncode,
                                                                proc.stderr[-1500:])
        start = ids.index(last) + 1
    return crashed


@pytest.fixture
def crash_guard(crash_results):
    def guard(cid):
        assert cid in _PROBE_IDS, "unknown crash-probe case %r" % cid
        if cid in crash_results:
            pytest.fail("fastdeepcopy crashed the interpreter on this case (in a child "
                        "process): " + crash_results[cid], pytrace=False)
    return guard


_PROBE_IDS = frozenset(probe_cases())
