"""Hypothesis-generated object graphs, copied by stdlib and by fastdeepcopy.

A drawn "graph program" creates N nodes of random kinds (built-in containers,
instances of classes using each copy protocol, value types) and random edges
between them (cycles and shared references included), then picks a root.  Both
implementations copy the root; the comparator of helpers_compare must accept
the pair (or both must raise the same exception).

Deterministic (derandomize=True); FASTDEEPCOPY_FUZZ_EXAMPLES=N runs N examples
per test instead of the default 200.
"""
import collections
import copyreg
import dataclasses
import datetime
import decimal
import enum
import os
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdeepcopy  # noqa: F401  (the engine under test; used through helpers_compare)
import helpers_compare as hc

pytestmark = pytest.mark.usefixtures("stdlib_copy_unpatched")

EXAMPLES = int(os.environ.get("FASTDEEPCOPY_FUZZ_EXAMPLES", "200"))

SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------
# the prepared classes


class HPlain:
    pass


class HSlots:
    __slots__ = ("a", "b", "c")


class HReduceArgs:
    def __init__(self, a=None):
        self.a = a

    def __reduce__(self):
        state = {k: v for k, v in self.__dict__.items() if k != "a"}
        return (HReduceArgs, (self.a,), state or None)


class HReduceEx:
    """__reduce_ex__ with copyreg.__newobj__, a state dict and list items."""

    def append(self, x):
        self.__dict__.setdefault("items", []).append(x)

    def __reduce_ex__(self, proto):
        state = {k: v for k, v in self.__dict__.items() if k != "items"}
        return (copyreg.__newobj__, (type(self),), state, iter(self.__dict__.get("items", ())))


class HGetSetState:
    def __getstate__(self):
        return ("v1", dict(self.__dict__))

    def __setstate__(self, state):
        tag, d = state
        self.__dict__.update(d)
        self.restored = tag


class HDeepcopy:
    """A __deepcopy__ that copies its attributes with the memo it is given."""

    memos = {}

    def __deepcopy__(self, memo):
        HDeepcopy.memos[hc.current()] = memo
        new = HDeepcopy.__new__(HDeepcopy)
        memo[id(self)] = new
        for k, v in list(self.__dict__.items()):
            setattr(new, k, hc.current_deepcopy()(v, memo))
        return new


class HDict(dict):
    pass


class HList(list):
    pass


HNT = collections.namedtuple("HNT", "a b")


@dataclasses.dataclass(eq=False)
class HDC:
    a: object = None
    b: object = None


@dataclasses.dataclass(frozen=True)
class HFrozenDC:
    a: object = None
    b: object = None


class HSlotsDict:
    __slots__ = ("a", "__dict__")


class HNTSub(HNT):
    pass


class HTZ(datetime.tzinfo):
    """A Python tzinfo with state (deep-copied as an ordinary instance)."""

    def utcoffset(self, dt):
        return datetime.timedelta(hours=len(self.__dict__) % 12)

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return "HTZ"


class HColor(enum.Enum):
    RED = 1
    BLUE = "b"


class HInt(enum.IntEnum):
    ONE = 1


TZ = datetime.timezone(datetime.timedelta(hours=-3), "HX")

# weak references are atomic, but as dict keys or set elements they are never
# taken by the fast paths (comparing two compares their referents)
WEAK_ATOMS = [weakref.ref(HPlain), weakref.ref(HInt), weakref.ref(HInt)]

MUTABLE = ["list", "dict", "set", "plain", "slots", "reduce_ex", "getset", "deepcopy",
           "dictsub", "listsub", "dataclass", "bytearray", "slots_dict", "tz"]
IMMUTABLE = ["tuple", "frozenset", "namedtuple", "frozen_dc", "reduce_args", "enum",
             "datetime", "decimal", "nt_sub", "aware", "zero_delta"]
KINDS = MUTABLE + IMMUTABLE

# ---------------------------------------------------------------------------
# the graph program

atoms = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
    st.binary(max_size=4), st.complex_numbers(max_magnitude=1e6, allow_nan=False),
    st.sampled_from([Ellipsis, NotImplemented, int, HPlain, len, hc.safe_repr] + WEAK_ATOMS),
)
slot = st.one_of(st.tuples(st.just("node"), st.integers(0, 10 ** 6)),
                 st.tuples(st.just("atom"), atoms))


def programs(kinds):
    node = st.tuples(st.sampled_from(kinds), st.lists(slot, max_size=4))
    return st.tuples(st.lists(node, min_size=1, max_size=10),
                     st.lists(slot, min_size=1, max_size=4), st.booleans())


def hashable(x):
    try:
        hash(x)
    except TypeError:
        return False
    return True


def build(program):
    """Objects of the program; returns the root."""
    specs, root_slots, root_is_list = program
    n = len(specs)
    nodes = [None] * n

    def earlier(s, i):
        """a slot's value, restricted to nodes before i (for immutable kinds)"""
        tag, v = s
        if tag == "atom":
            return v
        return nodes[v % i] if i else None

    def anyref(s):
        tag, v = s
        return v if tag == "atom" else nodes[v % n]

    # pass 1: create every node; immutable ones get their (earlier) children now
    for i, (kind, slots) in enumerate(specs):
        vals = [earlier(s, i) for s in slots]
        two = (vals + [None, None])[:2]
        if kind == "list":
            obj = []
        elif kind == "dict":
            obj = {}
        elif kind == "set":
            obj = set()
        elif kind == "plain":
            obj = HPlain()
        elif kind == "slots":
            obj = HSlots()
        elif kind == "reduce_ex":
            obj = HReduceEx()
        elif kind == "getset":
            obj = HGetSetState()
        elif kind == "deepcopy":
            obj = HDeepcopy()
        elif kind == "dictsub":
            obj = HDict()
        elif kind == "listsub":
            obj = HList()
        elif kind == "dataclass":
            obj = HDC()
        elif kind == "slots_dict":
            obj = HSlotsDict()
        elif kind == "tz":
            obj = HTZ()
        elif kind == "nt_sub":
            obj = HNTSub(*two)
        elif kind == "aware":
            tzs = [nd for nd in nodes[:i] if isinstance(nd, datetime.tzinfo)]
            tz = tzs[len(slots) % len(tzs)] if tzs else TZ
            obj = (datetime.datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=tz, fold=len(slots) % 2)
                   if len(slots) % 3 else datetime.time(12, tzinfo=tz))
        elif kind == "bytearray":
            obj = bytearray(bytes(range(len(slots))))
        elif kind == "tuple":
            obj = tuple(vals)
        elif kind == "frozenset":
            obj = frozenset(v for v in vals if hashable(v))
        elif kind == "namedtuple":
            obj = HNT(*two)
        elif kind == "frozen_dc":
            obj = HFrozenDC(*two)
        elif kind == "reduce_args":
            obj = HReduceArgs(two[0])
        elif kind == "enum":
            obj = [HColor.RED, HColor.BLUE, HInt.ONE][len(slots) % 3]
        elif kind == "datetime":
            obj = [datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=TZ), datetime.date(1999, 9, 9),
                   datetime.timedelta(seconds=len(slots) + 1), TZ][len(slots) % 4]
        elif kind == "zero_delta":
            # timedelta(0) is a singleton on 3.13, and timezone.utc reduces to it
            obj = [datetime.timedelta(0), datetime.timezone.utc,
                   datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)][len(slots) % 3]
        elif kind == "decimal":
            obj = decimal.Decimal(len(slots)) / 7
        else:  # pragma: no cover
            raise AssertionError(kind)
        nodes[i] = obj

    # pass 2: edges of the mutable nodes (to any node: cycles)
    for i, (kind, slots) in enumerate(specs):
        obj = nodes[i]
        vals = [anyref(s) for s in slots]
        if kind in ("list", "listsub"):
            obj.extend(vals)
            if kind == "listsub":
                obj.attr = vals[-1] if vals else None
        elif kind in ("dict", "dictsub"):
            for k, v in enumerate(vals):
                key = v if hashable(v) else "k%d" % k
                obj[key] = vals[(k + 1) % len(vals)]
            if kind == "dictsub":
                obj.attr = vals[0] if vals else None
        elif kind == "set":
            obj.update(v for v in vals if hashable(v))
        elif kind in ("plain", "getset", "deepcopy", "slots_dict", "tz"):
            for k, v in enumerate(vals):
                setattr(obj, "a%d" % k if k or kind != "slots_dict" else "a", v)
        elif kind == "nt_sub":
            for k, v in enumerate(vals):
                setattr(obj, "x%d" % k, v)
        elif kind == "slots":
            for name, v in zip(("a", "b", "c"), vals):   # later slots stay unset
                setattr(obj, name, v)
        elif kind == "reduce_ex":
            for k, v in enumerate(vals):
                if k % 2:
                    obj.append(v)
                else:
                    setattr(obj, "a%d" % k, v)
        elif kind == "dataclass":
            obj.a, obj.b = (vals + [None, None])[:2]
        elif kind == "reduce_args":
            for k, v in enumerate(vals[1:]):
                setattr(obj, "x%d" % k, v)

    if root_is_list:
        return [anyref(s) for s in root_slots]
    return nodes[root_slots[0][1] % n] if root_slots[0][0] == "node" else nodes[0]


def compare_deep(root, memo_factory=None):
    out_ref, out_ours = hc.run_both(root, memo_factory)
    return hc.assert_same_outcome(out_ref, out_ours, root)


# ---------------------------------------------------------------------------
# the tests


@SETTINGS
@given(programs(KINDS))
def test_graph_deepcopy(program):
    compare_deep(build(program))


@SETTINGS
@given(programs(KINDS))
def test_graph_shallow_copy(program):
    root = build(program)
    out_ref, out_ours = hc.run_both(root, shallow=True)
    hc.assert_same_outcome(out_ref, out_ours, root)
    for item in (root if isinstance(root, list) else []):
        out_ref, out_ours = hc.run_both(item, shallow=True)
        hc.assert_same_outcome(out_ref, out_ours, item)


def _check_with_memo(program):
    root = build(program)
    memos = []

    def factory():
        m = {}
        memos.append(m)
        return m

    comp = compare_deep(root, factory)
    if comp is not None:
        hc.assert_same_memo(memos[0], memos[1], comp)


@SETTINGS
@given(programs(KINDS))
def test_graph_deepcopy_caller_memo(program):
    """With a caller memo: same result and the same memo afterwards."""
    _check_with_memo(program)


def _check_memo_calls(program):
    root = build(program)
    memos = []

    def factory():
        m = hc.RecordingMemo()
        memos.append(m)
        return m

    comp = compare_deep(root, factory)
    seen, _, keep = hc.reachable(root)
    index = {i: n for n, i in enumerate(seen)}

    def translate(m):
        return [(op, "self" if k == id(m) else index.get(k, "other")) for op, k in m.log]

    assert translate(memos[0]) == translate(memos[1])
    if comp is not None:
        hc.assert_same_memo(memos[0], memos[1], comp)


@SETTINGS
@given(programs(KINDS))
def test_graph_memo_calls(program):
    """With a dict-subclass memo, the same calls on it, in the same order."""
    _check_memo_calls(program)


@SETTINGS
@given(programs(KINDS))
def test_graph_memo_seen_by_hooks(program):
    """The memo a __deepcopy__ inside the graph receives (the native memo
    turned into a dict mid-copy, then used by Python code) ends up holding
    what stdlib's memo holds."""
    root = build(program)
    HDeepcopy.memos.clear()
    comp = compare_deep(root)
    assert sorted(HDeepcopy.memos) in ([], ["ours", "ref"])
    if comp is not None and HDeepcopy.memos:
        hc.assert_same_memo(HDeepcopy.memos["ref"], HDeepcopy.memos["ours"], comp)


class Stealer:
    def __deepcopy__(self, memo):
        Stealer.memos[hc.current()] = memo
        return Stealer()


Stealer.memos = {}


def _check_exposed(program, position):
    root = build(program)
    wrapped = [root]
    wrapped.insert(position % 2, Stealer())
    Stealer.memos.clear()
    comp = compare_deep(wrapped)
    if comp is not None:
        hc.assert_same_memo(Stealer.memos["ref"], Stealer.memos["ours"], comp)


@SETTINGS
@given(programs(KINDS), st.integers(0, 4))
def test_graph_exposed_memo(program, position):
    """A __deepcopy__ somewhere in the graph keeps the memo: after the copy it
    holds what stdlib's memo would."""
    _check_exposed(program, position)


def test_builder_makes_cycles_and_sharing():
    """The strategy's builder really produces cycles and shared references
    (a sanity check that the fuzz tests cover them)."""
    lst_cycle = build(([("list", [("node", 0)])], [("node", 0)], False))
    assert lst_cycle[0] is lst_cycle
    shared = build(([("list", []), ("tuple", [("node", 0), ("node", 0)])],
                    [("node", 1)], False))
    assert shared[0] is shared[1]
    through_tuple = build(([("list", [("node", 1)]), ("tuple", [("node", 0)])],
                           [("node", 0)], False))
    assert through_tuple[0][0] is through_tuple
