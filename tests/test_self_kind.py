"""Classes whose __deepcopy__ is `return self` (enum members): the engine skips
the call, and remembers per member that its instance dict holds no
`__deepcopy__` of its own (src/typecache.c, self_applies).  An instance
attribute added, replaced or removed later must be seen, as stdlib sees it.
"""
import enum

import helpers_compare as hc


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def _instance_hook(tag):
    def __deepcopy__(memo):
        return ("instance hook", tag, hc.current())
    return __deepcopy__


def _check(obj):
    out_ref, out_ours = hc.run_both(obj)
    assert out_ref[0] == "ok", hc.describe(out_ref)
    # the hook's result names the implementation that ran it: compare the rest
    strip = (lambda r: [x[:2] if isinstance(x, tuple) and len(x) == 3 else x for x in r])
    assert strip(out_ref[1]) == strip(out_ours[1])
    return out_ours[1]


def test_instance_attribute_added_and_removed_between_copies():
    member = Color.GREEN
    obj = [Color.RED, member, Level.HIGH, member]
    try:
        for _ in range(3):   # the member is remembered as "no instance hook"
            assert _check(obj)[1] is member
        member.__dict__["__deepcopy__"] = _instance_hook("first")
        assert _check(obj)[1][:2] == ("instance hook", "first")
        member.__dict__["__deepcopy__"] = _instance_hook("second")
        assert _check(obj)[1][:2] == ("instance hook", "second")
    finally:
        member.__dict__.pop("__deepcopy__", None)
    assert _check(obj)[1] is member


class Adder:
    """Copied before the member: gives the member an instance hook mid-copy."""

    def __init__(self, member):
        self.member = member

    def __deepcopy__(self, memo):
        self.member.__dict__["__deepcopy__"] = _instance_hook("mid-copy")
        return Adder(self.member)


def test_instance_attribute_added_during_the_copy():
    member = Level.LOW
    outs = {}
    try:
        for which in ("ref", "ours"):
            member.__dict__.pop("__deepcopy__", None)
            with hc.using(which):
                fn = hc.REF.deepcopy if which == "ref" else hc.fastdeepcopy.deepcopy
                assert fn([member])[0] is member      # remembered first
                out = fn([member, Adder(member), member])
            outs[which] = [out[0], out[2][:2] if isinstance(out[2], tuple) else out[2]]
    finally:
        member.__dict__.pop("__deepcopy__", None)
    assert outs["ref"] == outs["ours"]


def test_instance_hook_set_after_the_member_was_copied():
    """The member is copied first (its instance dict then exists), then given
    an instance __deepcopy__: on 3.13 that attribute can land without changing
    the dict's version, so no decision may be remembered by the version."""
    class Shade(enum.Enum):
        DARK = 1

    member = Shade.DARK
    for which in ("ref", "ours"):
        with hc.using(which):
            assert hc.current_deepcopy()(member) is member
    member.__deepcopy__ = lambda memo: "instance hook"
    try:
        out_ref, out_ours = hc.run_both([member, member])
        assert out_ref[1] == ["instance hook", "instance hook"]
        hc.assert_same_outcome(out_ref, out_ours, [member, member])
    finally:
        del member.__deepcopy__


# ---- a list's members remembered as their own copies (containers.c, self_run) --
# Within one list, a member found to be its own copy is taken again without a
# look until Python code may have run.  Each test below runs Python code between
# two sightings of a member and changes what stdlib's copy of it is.

# Enum's `return self` __deepcopy__ (3.11+); before, members take __reduce_ex__
# and stdlib memoizes them, so later sightings are memo hits
SELF_KIND = "__deepcopy__" in vars(enum.Enum)


class Tone(enum.Enum):
    LOW = 1
    MID = 2
    HIGH = 3


# more members than a list remembers (at most half of its 32 slots)
Many = enum.Enum("Many", ["M%02d" % i for i in range(40)])


class Midway:
    """Copied between two sightings of a member: runs `action(memo)` first."""

    def __init__(self, action):
        self.action = action

    def __deepcopy__(self, memo):
        self.action(memo)
        return "midway"


def _strip_tags(value):
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "instance hook":
        return value[:2]
    return value


def _compare_fresh(factory, cleanup):
    """run_both_fresh with cleanup() before each run and at the end; the
    results compared item by item (instance hook results without the tag of
    the implementation that ran them)."""
    def make():
        cleanup()
        return factory()
    try:
        out_ref, out_ours, _, _ = hc.run_both_fresh(make)
    finally:
        cleanup()
    assert out_ref[0] == out_ours[0] == "ok", (out_ref, out_ours)
    ref = [_strip_tags(v) for v in out_ref[1]]
    ours = [_strip_tags(v) for v in out_ours[1]]
    assert len(ref) == len(ours)
    for a, b in zip(ref, ours):
        assert a == b and (a is b or not isinstance(a, enum.Enum)), (ref, ours)
    return ours


def _drop_instance_hook(*members):
    def cleanup():
        for m in members:
            m.__dict__.pop("__deepcopy__", None)
    return cleanup


def test_run_sees_an_instance_hook_set_with_setattr_mid_list():
    # setattr on a member with inline values (3.13) leaves its dict's version
    # alone: only forgetting the run after Python code keeps this right
    member = Tone.MID
    set_hook = (lambda memo: setattr(member, "__deepcopy__", _instance_hook("set")))
    out = _compare_fresh(
        lambda: [member, Tone.LOW, member, Midway(set_hook), member, Tone.LOW, member],
        _drop_instance_hook(member))
    assert out[2] is member and (out[4] == ("instance hook", "set") or not SELF_KIND)


def test_run_sees_an_instance_hook_removed_mid_list():
    member = Tone.HIGH
    def factory():
        member.__deepcopy__ = _instance_hook("early")
        return [member, Tone.LOW, Tone.LOW, Midway(lambda memo: delattr(member, "__deepcopy__")),
                member, Tone.LOW, member]
    out = _compare_fresh(factory, _drop_instance_hook(member))
    # the hook's result was memoized: later sightings find it there
    assert out[0] == ("instance hook", "early") and out[4] == out[0]


def test_run_sees_a_class_hook_replaced_mid_list():
    class Hue(enum.Enum):
        RED = 1
        BLUE = 2
    original = vars(Hue).get("__deepcopy__")

    def cleanup():
        if original is not None:
            Hue.__deepcopy__ = original
        elif "__deepcopy__" in vars(Hue):
            del Hue.__deepcopy__

    def replace(memo):
        Hue.__deepcopy__ = lambda self, memo: ("class hook", self.name)

    out = _compare_fresh(lambda: [Hue.RED, Hue.BLUE, Hue.RED, Midway(replace), Hue.RED, Hue.BLUE],
                         cleanup)
    assert out[2] is Hue.RED and (out[4] == ("class hook", "RED") or not SELF_KIND)


def test_run_sees_a_memo_entry_made_mid_list():
    member = Tone.LOW
    def store(memo):
        memo[id(member)] = "from the memo"
    out = _compare_fresh(lambda: [member, member, Midway(store), member, Tone.MID],
                         lambda: None)
    assert out[1] is member and (out[3] == "from the memo" or not SELF_KIND)


def test_run_with_more_members_than_it_remembers():
    members = list(Many)
    out = _compare_fresh(lambda: members * 3 + [Midway(lambda memo: None)] + members,
                         lambda: None)
    assert all(a is b for a, b in zip(out, members * 3))


def test_run_sees_a_hook_set_on_one_of_many_members():
    members = list(Many)
    target = members[-1]     # not among the remembered ones
    first = members[0]       # among them
    def set_hooks(memo):
        target.__deepcopy__ = _instance_hook("target")
        first.__deepcopy__ = _instance_hook("first")
    out = _compare_fresh(lambda: members * 2 + [Midway(set_hooks)] + [first, target] * 2,
                         _drop_instance_hook(target, first))
    if SELF_KIND:
        assert out[-1] == ("instance hook", "target") and out[-2] == ("instance hook", "first")


def test_run_sees_an_instance_hook_set_by_a_key_comparison():
    class Pitch(enum.Enum):
        DO = 1
        RE = 2

    other, sly = Pitch.DO, Pitch.RE
    sly.__dict__[hc.KeyLikeDeepcopy("sly")] = True

    def cleanup():
        other.__dict__.pop("__deepcopy__", None)
        hc.KeyLikeDeepcopy.action = lambda: setattr(other, "__deepcopy__", _instance_hook("eq"))

    try:
        out = _compare_fresh(lambda: [other, other, sly, other, sly, other], cleanup)
    finally:
        hc.KeyLikeDeepcopy.action = None
        for key in [k for k in sly.__dict__ if type(k) is hc.KeyLikeDeepcopy]:
            del sly.__dict__[key]
    assert out[1] is other and (out[3] == ("instance hook", "eq") or not SELF_KIND)
