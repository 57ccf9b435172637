"""The exposed memo and its native index (src/mirror.c), against stdlib.

Once a __deepcopy__ has seen the memo, the engine writes every entry to that
dict as stdlib does but answers lookups from a native index.  These hooks
change the dict behind the index's back in every way a dict can change --
appended keys, overwritten values, deletions, clear(), keys of other types that
compare equal to an id(), a replaced keep-alive list -- and then the copy goes
on to look up objects whose entries were touched.  Result, memo contents and
every memo a hook saw must be stdlib's.
"""
import sys

import pytest

import helpers_compare as hc
from helpers_compare import current, current_deepcopy

SEEN = {}   # implementation -> [memo, ...] as the hooks received them


class IntKey(int):
    """Hashes like the int, but equals nothing: a dict lookup of the int misses."""

    __hash__ = int.__hash__

    def __eq__(self, other):
        return False


class KeepBox:
    """A keep-alive container that is not a list."""

    def __init__(self):
        self.items = []

    def append(self, x):
        self.items.append(x)

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def _overwrite_shared(memo, hook):
    memo[id(hook.shared)] = "REPLACED"


def _overwrite_shared_same_size(memo, hook):
    # value changes only: the dict's layout stays the same
    if id(hook.shared) in memo:
        memo[id(hook.shared)] = ["REPLACED"]


def _delete_shared(memo, hook):
    memo.pop(id(hook.shared), None)


def _delete_then_append(memo, hook):
    memo.pop(id(hook.shared), None)
    memo[-1] = "a"
    memo[-2] = "b"


def _delete_then_add_one(memo, hook):
    # the dict's size is what it was: only the deletion itself tells
    if memo.pop(id(hook.shared), None) is not None:
        memo[-1] = "a"


def _pop_item(memo, hook):
    if memo:
        memo.popitem()
        memo[-1] = "a"


def _delete_first(memo, hook):
    if memo:
        del memo[next(iter(memo))]


def _clear(memo, hook):
    memo.clear()


def _clear_and_refill(memo, hook):
    items = list(memo.items())
    memo.clear()
    memo.update(items)


def _refill_permuted(memo, hook):
    # the same key objects, the last two in their places (this hook's own
    # entry and the one before it), the others reversed: an entry's position
    # no longer says which key it is
    items = list(memo.items())
    memo.clear()
    memo.update(items[-3::-1] + items[-2:])


def _float_key(memo, hook):
    memo.pop(id(hook.shared), None)
    memo[float(id(hook.shared))] = "FLOAT"


def _int_subclass_key(memo, hook):
    memo.pop(id(hook.shared), None)
    memo[IntKey(id(hook.shared))] = "SUBCLASS"


def _str_and_odd_keys(memo, hook):
    memo["note"] = 1
    memo[-5] = "negative"
    memo[2 ** 100] = "huge"


def _replace_keep_alive(memo, hook):
    memo[id(memo)] = []


def _delete_keep_alive(memo, hook):
    memo.pop(id(memo), None)


def _keep_alive_not_a_list(memo, hook):
    memo[id(memo)] = KeepBox()


def _many_appends(memo, hook):
    for i in range(200):
        memo[-1000 - i] = i


def _overwrite_own_entry(memo, hook):
    memo[id(hook)] = "SELF"


def _copy_shared_twice(memo, hook):
    current_deepcopy()(hook.shared, memo)
    current_deepcopy()([hook.shared, hook.shared], memo)


def _nested_copy_without_memo(memo, hook):
    current_deepcopy()([hook.shared, Hook("none", [hook.shared], hook.shared)])


ACTIONS = {f.__name__.lstrip("_"): f for f in [
    _overwrite_shared, _overwrite_shared_same_size, _delete_shared, _delete_then_append,
    _delete_then_add_one, _pop_item,
    _delete_first, _clear, _clear_and_refill, _refill_permuted, _float_key, _int_subclass_key,
    _str_and_odd_keys, _replace_keep_alive, _delete_keep_alive, _keep_alive_not_a_list,
    _many_appends, _overwrite_own_entry, _copy_shared_twice, _nested_copy_without_memo]}
ACTIONS["none"] = lambda memo, hook: None


class Hook:
    """The usual hand-written __deepcopy__ (register, then copy the payload with
    the memo), with an action on the memo in between."""

    def __init__(self, action, payload, shared):
        self.action = action
        self.payload = payload
        self.shared = shared

    def __deepcopy__(self, memo):
        SEEN.setdefault(current(), []).append(memo)
        new = Hook.__new__(Hook)
        memo[id(self)] = new
        ACTIONS[self.action](memo, self)
        new.action = self.action
        new.payload = current_deepcopy()(self.payload, memo)
        new.shared = current_deepcopy()(self.shared, memo)
        return new


def _structure(action, where):
    shared = [1, [2, "s"], {"k": (3, [4])}]
    hook = Hook(action, [shared, {"in": shared}, (shared, 5)], shared)
    tail = [shared, [shared], {"s": shared}, (shared,), Hook("none", [shared], shared)]
    if where == "first":
        return [hook, shared] + tail
    return [shared, {"a": [shared]}, hook] + tail


@pytest.mark.parametrize("where", ["first", "after"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_memo_changed_by_hook(action, where):
    SEEN.clear()
    obj = _structure(action, where)
    out_ref, out_ours = hc.run_both(obj)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    assert len(SEEN["ref"]) == len(SEEN["ours"])
    for ref_memo, our_memo in zip(SEEN["ref"], SEEN["ours"]):
        assert type(our_memo) is dict
        hc.assert_same_memo(ref_memo, our_memo, comp)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_memo_changed_by_hook_with_caller_memo(action):
    """The caller's own memo is never mirrored: same answers through the dict."""
    SEEN.clear()
    obj = _structure(action, "after")
    factory, memos = hc.recording_memos(lambda: {"caller": 1})
    out_ref, out_ours = hc.run_both(obj, factory)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    hc.assert_same_memo(memos[0], memos[1], comp)


class Thief:
    """Keeps the memo and uses it again after the copy has finished."""
    kept = {}

    def __deepcopy__(self, memo):
        Thief.kept[current()] = memo
        return Thief()


def test_memo_used_after_the_copy_ended():
    shared = [1, [2]]
    obj = [Thief(), shared, {"x": shared}]
    out_ref, out_ours = hc.run_both(obj)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    ref_memo, our_memo = Thief.kept["ref"], Thief.kept["ours"]
    hc.assert_same_memo(ref_memo, our_memo, comp)
    # the dict lives on as a plain dict: a later copy with it behaves as stdlib's
    with hc.using("ref"):
        again_ref = hc.REF.deepcopy([shared, [5]], ref_memo)
    with hc.using("ours"):
        again_ours = hc.fastdeepcopy.deepcopy([shared, [5]], our_memo)
    assert again_ref[0] is out_ref[1][1] and again_ours[0] is out_ours[1][1]
    hc.assert_same_memo(ref_memo, our_memo, comp)


ATOMS = (7, "key", 2.5, None, True, b"raw")


class AtomHook:
    """Stores entries under the ids of atomic objects, which stdlib's lookups
    then find: every int, str, float... of a later copy with this memo is
    looked up, also where the engine takes runs of atomic items at once."""

    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        new = AtomHook.__new__(AtomHook)
        memo[id(self)] = new
        for a in ATOMS:
            memo[id(a)] = ("replaced", a)
        new.payload = current_deepcopy()(self.payload, memo)
        return new


@pytest.mark.parametrize("payload", [
    [1, 2, 7, 3],                         # a run of ints with one entry in it
    [7],
    ["a", "key", "b", 2.5, None, True],
    {"key": 1},                           # an atomic key with an entry
    {"a": 7, "b": 2},                     # an atomic value with an entry
    {"a": 1, "b": [7, 8]},                # a flat list holding one
    {"a": 1, "b": [1, 2], "c": b"raw"},
    {"a": 1, "b": [1, 2], "c": {"key": 3}},
    {"a": 1, "c": {"k": 7}},              # a flat dict value holding one
    {"a": [1, 2], "b": [3, None]},        # the second flat list holds one
    [[1, 2], {"x": 1}, (7, 8), [b"raw"]],
], ids=repr)
def test_memo_entries_for_atomic_objects(payload):
    obj = [[1, 2], AtomHook(payload), [1, 7], {"key": 7}]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)


class ContainerHook:
    """Stores an entry under the id of a flat container before a copy with
    this memo meets it as a dict's value: stdlib's lookup finds it."""

    def __init__(self, flat, payload):
        self.flat = flat
        self.payload = payload

    def __deepcopy__(self, memo):
        new = ContainerHook.__new__(ContainerHook)
        memo[id(self)] = new
        memo[id(self.flat)] = ("stored", len(self.flat))
        new.payload = current_deepcopy()(self.payload, memo)
        return new


@pytest.mark.parametrize("kind", ["list", "dict", "bytearray"])
def test_memo_entry_for_a_flat_value(kind):
    flat = {"list": [1, 2], "dict": {"k": 1}, "bytearray": bytearray(b"ab")}[kind]
    obj = [ContainerHook(flat, {"n": 1, "v": flat, "w": [3]}), {"again": flat}]
    out_ref, out_ours = hc.run_both(obj)
    hc.assert_same_outcome(out_ref, out_ours, obj)
    assert out_ours[1][0].payload["v"] == ("stored", 2 if kind != "dict" else 1)


class PayloadHook:
    """The usual __deepcopy__, keeping the memo it was given."""

    def __init__(self, payload):
        self.payload = payload

    def __deepcopy__(self, memo):
        SEEN.setdefault(current(), []).append(memo)
        new = PayloadHook.__new__(PayloadHook)
        memo[id(self)] = new
        new.payload = current_deepcopy()(self.payload, memo)
        return new


@pytest.mark.parametrize("payload", [
    {"a": 1, "b": [1, 2]},                # memo[id(x)] = y before the list's entry
    {"a": 1, "b": [1, 2], "c": {"k": 3}, "d": bytearray(b"x")},
    {"a": 1, "b": [1, 2], "c": {"k": 3}, "e": [4]},
    {"a": 1, "b": 2},
    [1, 2, [3], 4],
    [[1], [2]],
], ids=repr)
def test_flat_payload_memo_order(payload):
    """A dict or list that is the object of a hook's inner call: stdlib's memo
    has its entry before those of the containers inside it."""
    SEEN.clear()
    obj = [PayloadHook(payload), [1, 2]]
    out_ref, out_ours = hc.run_both(obj)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    for ref_memo, our_memo in zip(SEEN["ref"], SEEN["ours"]):
        hc.assert_same_memo(ref_memo, our_memo, comp)


class OwnEntryHook:
    """Stores memo[id(self)] = new, copies its payload with the memo, then
    does something to its own entry before returning new.  stdlib then stores
    memo[id(self)] = new again; the engine skips that store only when the dict
    already holds new (it may have been overwritten after the index read it)."""

    def __init__(self, mode, payload):
        self.mode = mode
        self.payload = payload

    def __deepcopy__(self, memo):
        SEEN.setdefault(current(), []).append(memo)
        new = OwnEntryHook.__new__(OwnEntryHook)
        new.mode = self.mode
        memo[id(self)] = new
        new.payload = current_deepcopy()(self.payload, memo)
        if self.mode == "overwrite":
            memo[id(self)] = "SELF"
        elif self.mode == "overwrite and back":
            memo[id(self)] = "SELF"
            memo[id(self)] = new
        elif self.mode == "other object":
            memo[id(self)] = [new]
        elif self.mode == "overwrite then copy":
            memo[id(self)] = "SELF"
            new.more = current_deepcopy()([self.payload, [1]], memo)
        return new


@pytest.mark.parametrize("mode", ["keep", "overwrite", "overwrite and back", "other object",
                                  "overwrite then copy"])
def test_hook_result_stored_again(mode):
    SEEN.clear()
    shared = [1, [2]]
    first = OwnEntryHook(mode, {"s": shared, "l": [3]})
    obj = [first, OwnEntryHook("keep", [shared]), first, {"again": first}]
    out_ref, out_ours = hc.run_both(obj)
    comp = hc.assert_same_outcome(out_ref, out_ours, obj)
    assert out_ours[1][2] is out_ours[1][0]
    assert len(SEEN["ref"]) == len(SEEN["ours"])
    for ref_memo, our_memo in zip(SEEN["ref"], SEEN["ours"]):
        hc.assert_same_memo(ref_memo, our_memo, comp)


class SizeProbe:
    """Records the size of the memo it is handed (sys.getsizeof)."""

    def __deepcopy__(self, memo):
        SEEN.setdefault(current(), []).append(sys.getsizeof(memo))
        return SizeProbe()


def test_one_big_copy_does_not_inflate_the_next_memo():
    """A memo dict is made with room for the entries of the smaller of the last
    two memos handed out on the thread: after a big copy, a small one's memo
    is the size stdlib's is."""
    SEEN.clear()
    small = [SizeProbe(), [1]]
    big = [SizeProbe()] + [[i] for i in range(3000)]
    for obj in (small, big, small, big, small):
        hc.run_both(obj)
    assert len(SEEN["ref"]) == len(SEEN["ours"]) == 5
    for k in (2, 4):   # the small copies after a big one and a small one
        assert SEEN["ours"][k] == SEEN["ref"][k]


def test_memo_room_after_big_copies_is_bounded():
    """After two big copies, a small copy's memo is made with bounded room:
    far smaller than the big copies' memos were."""
    SEEN.clear()
    small = [SizeProbe(), [1]]
    big = [[i] for i in range(12000)] + [SizeProbe()]   # the probe sees the full memo
    for obj in (small, big, big, small):
        hc.run_both(obj)
    assert len(SEEN["ref"]) == len(SEEN["ours"]) == 4
    assert SEEN["ours"][3] < SEEN["ref"][2] / 2
