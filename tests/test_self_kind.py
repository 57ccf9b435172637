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
