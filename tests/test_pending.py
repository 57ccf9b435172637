"""State dicts put off until someone looks (src/pending.c), against stdlib.

stdlib copies a plain instance through a temporary dict, deepcopy(x.__dict__),
that lives on as memo[id(x.__dict__)].  The engine builds that dict only when
the memo is handed to user code or x.__dict__ is met again.  Every way of
looking at it must show stdlib's dict: its keys and values in order, its values
the very objects the copy's attributes hold, its place in the memo, the
keep-alive list -- also when user code changed the copy's attributes before
anyone looked.
"""
import pytest

import helpers_compare as hc
from helpers_compare import current, current_deepcopy


class Rec:
    """A plain class: its instances take the deferred path when their
    attributes are flat (atomic, or small lists/dicts of atomics, bytearrays)."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


class MemoStateProbe:
    """When copied, logs the memo it is given: for each key in order, which
    original it is the id of (index in `originals`), and for dict values
    their keys and, per value, whether it is the object the copy of
    `originals[0]` holds under that name."""
    log = {}

    def __init__(self, originals):
        self.originals = originals

    def __deepcopy__(self, memo):
        index = {id(o): i for i, o in enumerate(self.originals)}
        first = memo.get(id(self.originals[0]))
        attrs = getattr(first, "__dict__", {})
        entries = []
        for key, value in memo.items():
            role = "keep" if key == id(memo) else index.get(key, "other")
            if isinstance(value, dict):
                desc = ("dict", type(value).__name__, list(value),
                        [value[k] is attrs.get(k, object()) for k in value],
                        value is attrs)
            elif isinstance(value, list) and role == "keep":
                desc = ("keep", [index.get(id(o), "other") if not isinstance(o, (dict, tuple))
                                 else (type(o).__name__, len(o)) for o in value])
            elif type(value) is tuple:
                # which memo entry holds each item (T' = (None, S') holds S')
                values = list(memo.values())
                desc = ("tuple", [next((i for i, w in enumerate(values) if w is item), None)
                                  if item is not None else None for item in value])
            else:
                desc = (type(value).__name__,)
            entries.append((role, desc))
        MemoStateProbe.log.setdefault(current(), []).append(entries)
        return self


def check(root_factory):
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(root_factory)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return out_ref, out_ours


def flat_record():
    return Rec(a=1, b="s", c=[1, 2, (3,)], d={"k": 1.5}, e=bytearray(b"xy"), f=None)


def test_state_seen_by_a_later_hook():
    """A hook after the instance: memo[id(x.__dict__)] is a dict with stdlib's
    keys, in order, whose values are the copy's attributes themselves."""
    MemoStateProbe.log.clear()

    def factory():
        r = flat_record()
        return [r, MemoStateProbe([r, r.__dict__, r.c, r.d, r.e])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]
    state_entries = [desc for role, desc in MemoStateProbe.log["ref"][0] if role == 1]
    assert state_entries and state_entries[0][0] == "dict"   # the case means what it says


def test_several_instances_then_hook():
    MemoStateProbe.log.clear()

    def factory():
        rs = [flat_record() for _ in range(3)]
        shared = [7, 8]
        for r in rs:
            r.shared = shared
        originals = [rs[0]] + [r.__dict__ for r in rs] + [shared]
        return [rs, MemoStateProbe(originals), rs[1]]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_instance_dict_met_again():
    """x.__dict__ itself is in the graph after x: it copies to stdlib's
    temporary dict (not to the copy's __dict__), the same object each time."""
    def factory():
        r = flat_record()
        return [r, r.__dict__, {"again": r.__dict__}]
    out_ref, out_ours = check(factory)
    ours = out_ours[1]
    assert ours[1] is ours[2]["again"]
    assert ours[1] is not ours[0].__dict__
    assert ours[1] == ours[0].__dict__


def test_instance_dict_met_again_inside_list_run():
    """The list copier's own memo-hit shortcut must not hand out the snapshot."""
    def factory():
        r = flat_record()
        return [r, r.__dict__, 5, r.__dict__]
    out_ref, out_ours = check(factory)
    assert isinstance(out_ours[1][1], dict) and out_ours[1][1] is out_ours[1][3]


def test_shared_instance_dict():
    """Two instances sharing one __dict__ object: the second finds the first's
    state in the memo."""
    def factory():
        a = flat_record()
        b = Rec()
        b.__dict__ = a.__dict__
        return [a, b, MemoStateProbe([a, a.__dict__])]
    MemoStateProbe.log.clear()
    out_ref, out_ours = check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


class Tamper:
    """__setstate__ changes the objects its state holds: the copy of an
    earlier instance, before any hook has seen the memo."""

    def __init__(self, target):
        self.target = target

    def __setstate__(self, state):
        state["target"].c.append("tampered")
        state["target"].added = "late"
        state["target"].__dict__.pop("a")
        self.__dict__.update(state)


def test_copy_changed_before_the_memo_is_seen():
    """The memo's dict is the state as it was copied, not the copy's
    attributes as user code left them."""
    MemoStateProbe.log.clear()

    def factory():
        r = flat_record()
        return [r, Tamper(r), MemoStateProbe([r, r.__dict__, r.c])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]
    # the case means what it says: stdlib's dict still has "a" and no "added"
    state = [desc for role, desc in MemoStateProbe.log["ref"][0] if role == 1][0]
    assert state[2] == ["a", "b", "c", "d", "e", "f"]


def test_recorded_memo_order_with_caller_memo():
    """With a memo of the caller's, nothing is put off: same memo as stdlib."""
    def factory():
        return [flat_record(), flat_record()]
    for _ in range(2):
        out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory, dict)
        hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)


@pytest.mark.parametrize("attrs", [
    {"a": 1},
    {"a": [1] * 40},                       # a list too long to be flat
    {"a": {"k": [1]}},                     # a dict holding a list
    {"a": 1, "b": object()},               # a value that is not flat
    {str(i): i for i in range(17)},        # more items than the buffer
    {"a": (1, [2])},                       # a tuple that is not atomic
])
def test_shapes(attrs):
    MemoStateProbe.log.clear()

    def factory():
        r = Rec(**attrs)
        return [r, r, MemoStateProbe([r, r.__dict__])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_many_instances_of_a_class_with_unflat_state():
    """After instances whose state cannot be put off, the class is no longer
    tried; later flat ones still copy as stdlib does."""
    MemoStateProbe.log.clear()

    def factory():
        rs = [Rec(a=object()) for _ in range(20)] + [flat_record() for _ in range(3)]
        return [rs, MemoStateProbe([rs[-1], rs[-1].__dict__])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


class SlotRec:
    __slots__ = ("a", "b", "c", "d", "e")

    def __init__(self, a=1, b="s", c=(), d=None, e=None):
        self.a, self.b, self.c, self.d = a, b, c, d
        if e is not None:
            self.e = e


class SlotRecSub(SlotRec):
    """A property over the base's slot `a`: setattr(y, "a", v) runs it."""
    __slots__ = ("_a",)
    log = []

    @property
    def a(self):
        return getattr(self, "_a", None)

    @a.setter
    def a(self, value):
        SlotRecSub.log.append(value)
        self._a = ("set", value)


def flat_slots():
    return SlotRec(1, "s", [1, 2], {"k": (1,)}, bytearray(b"z"))


def test_slots_state_seen_by_a_later_hook():
    """Slots-only instances: memo[id(S)] = S' and memo[id(T)] = T' = (None, S')
    for the reduction's temporaries, the keep-alive list holding S and T."""
    MemoStateProbe.log.clear()

    def factory():
        r = flat_slots()
        return [r, flat_slots(), MemoStateProbe([r, r.c, r.d, r.e])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]
    kinds = [desc[0] for role, desc in MemoStateProbe.log["ref"][0]]
    assert "tuple" in kinds and "dict" in kinds   # the case means what it says


def test_slots_partly_unset_and_shared():
    MemoStateProbe.log.clear()

    def factory():
        shared = [1, 2]
        rs = [SlotRec(i, "x", shared) for i in range(4)]
        return [rs, MemoStateProbe([rs[0], shared]), rs[2]]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_slots_with_a_slot_that_is_not_flat():
    MemoStateProbe.log.clear()

    def factory():
        r = SlotRec(1, "s", [object()], None)
        return [r, MemoStateProbe([r])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_slots_and_dict():
    """A class with both slots and a __dict__: the state is (dict, slots)."""
    class Both:
        __slots__ = ("a", "__dict__")

    def factory():
        b = Both()
        b.a = [1]
        b.z = 2
        e = Both()
        e.a = 3
        return [b, e, MemoStateProbe([b, e])]
    MemoStateProbe.log.clear()
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_slots_set_through_a_property():
    """A slot name that a subclass's property shadows is set with setattr,
    after the memo work, as stdlib does."""
    MemoStateProbe.log.clear()

    def factory():
        SlotRecSub.log.clear()
        r = SlotRecSub(5, "s", [1])
        r.d = {"k": 1}
        return [r, MemoStateProbe([r])]
    out_ref, out_ours = check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]
    assert out_ours[1][0]._a == out_ref[1][0]._a


class Shadowed:
    """Instance dict keys named like class attributes: a property (a data
    descriptor, whose setter y.__dict__.update never calls), a plain class
    attribute and a method (setattr would store those in the instance too)."""
    setter_calls = []
    plain = "class value"

    def __init__(self):
        self.__dict__["prop"] = [1, 2]
        self.__dict__["plain"] = "instance value"
        self.__dict__["method"] = 3
        self.other = 4

    @property
    def prop(self):
        return "the property"

    @prop.setter
    def prop(self, value):
        Shadowed.setter_calls.append(value)

    def method(self):
        return "method"


def test_state_keys_named_like_class_attributes():
    def factory():
        return [Shadowed(), Shadowed()]
    Shadowed.setter_calls.clear()
    out_ref, out_ours = check(factory)
    assert Shadowed.setter_calls == []
    for ref, ours in zip(out_ref[1], out_ours[1]):
        assert list(ours.__dict__.items()) == list(ref.__dict__.items())


def test_state_order_kept_when_stored_as_attributes():
    """Keys in another order than the class's first instance had them: the
    copy's __dict__ has the original's order (stdlib's update)."""
    def factory():
        a = Rec(x=1, y=[2], z="3")
        b = Rec(z="3", y=[2], x=1)
        b.extra = (1, 2)
        return [a, b]
    out_ref, out_ours = check(factory)
    for ref, ours in zip(out_ref[1], out_ours[1]):
        assert list(ours.__dict__) == list(ref.__dict__)


# ---------------------------------------------------------------------------
# Open snapshots: states whose values' copies may run user code (a value that
# is an instance, a hook, a list of them).  The snapshot is filled as the
# values are copied; user code that looks meanwhile sees stdlib's half-built
# dict, and what it does to the original dict, the memo or the copy shows as
# in stdlib's.


def _unflat(r, tail):
    """r with a first attribute that is flat, a second that is not, the hook
    `tail` (itself not flat), then one more of each."""
    r.a = 1
    r.node = Rec(v=[1])
    r.tail = tail
    r.b = [2, 3]
    r.c = Rec(w="x")
    return r


def test_open_state_seen_half_built():
    """A hook among the values sees memo[id(x.__dict__)] with the items
    copied before it, and the copy's __dict__ still empty."""
    MemoStateProbe.log.clear()

    def factory():
        r = _unflat(Rec(), None)
        r.tail = MemoStateProbe([r, r.__dict__, r.node])
        return [r, r.__dict__]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]
    state = [desc for role, desc in MemoStateProbe.log["ref"][0] if role == 1][0]
    assert state[2] == ["a", "node"]   # the case means what it says


def test_open_state_seen_from_deeper():
    MemoStateProbe.log.clear()

    def factory():
        r = Rec()
        r.a = 1
        r.deep = [Rec(inner=[2, {"k": [MemoStateProbe([r, r.__dict__])]}])]
        r.after = [3]
        return [r, MemoStateProbe([r, r.__dict__])]
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


def test_open_state_meets_itself():
    """x.__dict__ among its own values: the copy holds stdlib's temporary
    dict, half-built when met, completed after."""
    def factory():
        r = Rec()
        r.a = [1]
        r.me = r.__dict__
        r.b = Rec(z=2)
        return [r, r.__dict__]
    out_ref, out_ours = check(factory)
    ours = out_ours[1]
    assert ours[0].me is ours[1] and ours[1] is not ours[0].__dict__
    assert list(ours[1]) == list(out_ref[1][1]) == ["a", "me", "b"]


def _dict_action(kind, holder):
    def action(memo):
        d = holder[0].__dict__
        if kind == "add":
            d["added"] = 1
        elif kind == "replace_later":
            d["b"] = ["replaced"]
        elif kind == "replace_earlier":
            d["a"] = ["replaced"]
        elif kind == "swap_key":
            del d["a"]
            d["new"] = [4]
        elif kind == "swap_key_not_str":
            del d["a"]
            d[5] = [4]
        elif kind == "swap_later_key":
            del d["c"]
            d["new"] = [4]
        elif kind == "new_dict":
            holder[0].__dict__ = {"other": 1}
        elif kind == "clear_and_refill":
            items = list(d.items())
            d.clear()
            d.update(reversed(items))
        elif kind == "memo_entry":
            memo[id(d)] = "stored by the hook"
        elif kind == "raise":
            raise KeyError("from the hook")
    return action


RAISING = {"add", "raise"}
EITHER = {"swap_key"}   # "keys changed during iteration" on 3.11+, not on 3.10


@pytest.mark.parametrize("kind", ["add", "replace_later", "replace_earlier", "swap_key",
                                  "swap_key_not_str", "swap_later_key", "new_dict",
                                  "clear_and_refill", "memo_entry", "raise"])
def test_open_state_changed_by_a_hook(kind):
    """A hook among the values changes the original dict, replaces it, or
    writes the memo: the same copy, or the same exception, as stdlib's."""
    MemoStateProbe.log.clear()

    def factory():
        r = Rec()
        holder = [r]
        _unflat(r, hc.ActsOnce(_dict_action(kind, holder)))
        d = r.__dict__
        return [r, MemoStateProbe([r, d]), d]
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory)
    if kind not in EITHER:
        assert out_ref[0] == ("raise" if kind in RAISING else "ok"), hc.describe(out_ref)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    assert MemoStateProbe.log.get("ref") == MemoStateProbe.log.get("ours")


def test_open_states_of_a_cyclic_graph():
    """Instances pointing at each other (the benchmark's graph shape): every
    state is open; a hook at the end sees stdlib's memo."""
    MemoStateProbe.log.clear()

    def factory():
        shared = {"label": "c", "limits": [1, 2]}
        nodes = [Rec(name="n%d" % i, idx=i, attrs=shared, nb=[]) for i in range(6)]
        for i, n in enumerate(nodes):
            n.nb.append(nodes[(i + 1) % 6])
            n.nb.append(nodes[0])
        return {"root": nodes[0], "all": nodes,
                "probe": MemoStateProbe([nodes[0], nodes[0].__dict__, nodes[3].__dict__,
                                         shared, nodes[2].nb])}
    check(factory)
    assert MemoStateProbe.log["ref"] == MemoStateProbe.log["ours"]


# ---------------------------------------------------------------------------
# Stand-ins: for a slots-only instance the reduction's temporaries S = {slot:
# value} and T = (None, S) are only memo keys and keep-alives in stdlib; the
# engine makes them when the memo is handed out.  A hook then sees them as
# stdlib's: in the keep-alive list, under their own ids, holding the
# original's values themselves, T holding S.


class TemporaryProbe:
    """Logs, for each dict or tuple in the keep-alive list: its shape, whether
    its id is a memo key, what the memo holds there, and for a dict whether
    its values are the slots of `originals` (index of the one) themselves."""
    log = {}

    def __init__(self, originals):
        self.originals = originals

    def __deepcopy__(self, memo):
        kept = memo.get(id(memo), [])
        entries = []
        for i, o in enumerate(kept):
            if type(o) is dict:
                owner = next((j for j, x in enumerate(self.originals)
                              if all(getattr(x, k, None) is v for k, v in o.items())), None)
                copy = memo.get(id(o))
                # deepcopy through the memo finds the copy (the engine looks
                # ids up in its own index of the memo)
                again = current_deepcopy()(o, memo)
                entries.append(("dict", sorted(o), id(o) in memo, owner,
                                type(copy).__name__,
                                copy is not None and sorted(copy) == sorted(o),
                                again is copy))
            elif type(o) is tuple:
                copy = memo.get(id(o))
                entries.append(("tuple", len(o), o[0], id(o) in memo,
                                current_deepcopy()(o, memo) is copy,
                                i > 0 and o[1] is kept[i - 1],
                                type(copy) is tuple and copy[1] is memo.get(id(o[1]))))
        TemporaryProbe.log.setdefault(current(), []).append(entries)
        return self


@pytest.mark.parametrize("later", ["probe", "probe_twice"])
def test_slots_temporaries_seen_by_a_hook(later):
    TemporaryProbe.log.clear()

    def factory():
        rs = [flat_slots(), SlotRec(2, "t", [3]), flat_slots()]
        probe = TemporaryProbe(rs)
        tail = [probe, TemporaryProbe(rs)] if later == "probe_twice" else [probe]
        return rs + tail
    check(factory)
    assert TemporaryProbe.log["ref"] == TemporaryProbe.log["ours"]
    first = TemporaryProbe.log["ref"][0]
    # the case means what it says: the three S dicts, under their own ids,
    # and their T tuples
    assert sorted(e[3] for e in first if e[0] == "dict" and e[3] is not None) == [0, 1, 2]
    assert all(e[2] for e in first if e[0] == "dict")
    assert all(e[6] for e in first if e[0] == "dict")
    assert sum(1 for e in first if e[0] == "tuple" and e[4] and e[5] and e[6]) >= 3


def test_slots_temporaries_after_a_hook_before_them():
    """A hook first (the memo is a dict from then on), slots-only instances
    after: no stand-ins, stdlib's temporaries as they are."""
    TemporaryProbe.log.clear()

    def factory():
        rs = [flat_slots(), flat_slots()]
        return [MemoStateProbe([rs[0]])] + rs + [TemporaryProbe(rs)]
    check(factory)
    assert TemporaryProbe.log["ref"] == TemporaryProbe.log["ours"]


def test_slots_temporaries_with_a_caller_memo():
    def factory():
        rs = [flat_slots(), SlotRec(1, "x", [2])]
        return rs + [rs[1]]
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(factory, dict)
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
