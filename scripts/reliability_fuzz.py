"""Differential fuzzing of fastdeepcopy against stdlib's copy, with hostile classes.

    python scripts/reliability_fuzz.py [--examples N] [--seeds 1 2 3] [--derandomize]

Hypothesis draws a *spec* (plain data: a tree of containers, atoms, shared
references, cycles and instances of hostile classes); each implementation gets
its own original built from the spec (hooks may mutate it), and the outcomes
must be the same: equal copies (helpers_compare: structure, types, identity
pattern, sharing with the original, the originals equally mutated) or the same
exception (type and message).  Hostile behaviours: hooks raising at every stage
(including AttributeError, which stdlib's getattr(..., None) swallows), reduce
values of every shape, __deepcopy__ re-entering deepcopy with and without the
memo, tampering with the memo, returning garbage, mutating the container being
copied, keys whose copies hash differently.

Prints one JSON line: examples run per seed, failures (with the falsifying spec).
Exit status 1 on a failure.  FASTDEEPCOPY_FUZZ_EXAMPLES sets the default --examples.
"""
import argparse
import copyreg
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_common as rc  # noqa: E402

import helpers_compare as hc  # noqa: E402

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class FuzzError(Exception):
    pass


EXCEPTIONS = {"value": ValueError, "key": KeyError, "type": TypeError,
              "attribute": AttributeError, "fuzz": FuzzError, "index": IndexError}
STAGES = ["deepcopy", "deepcopy_attr", "reduce_ex", "reduce_ex_attr", "reduce", "getstate",
          "setstate", "init", "new_args"]


def _raise(exc, where):
    raise EXCEPTIONS[exc]("fuzz %s" % where)


# ---------------------------------------------------------------------------
# hostile classes (module level: some reduce through their names)


class Obj:
    """A plain instance: children as attributes."""


class SlotObj:
    __slots__ = ("c0", "c1", "c2")


class FlatObj:
    """A plain instance whose attributes are flat (atoms, bytearrays, short
    lists of atoms): the engine puts off its copied state (src/pending.c)."""


class FlatSlotObj:
    __slots__ = ("f0", "f1", "f2")


class ListSub(list):
    pass


class DictSub(dict):
    pass


class Target:
    def __init__(self, *args):
        self.args = args


class Raiser:
    """Raises `exc` at `stage` of the copy protocol (configured per instance)."""

    def __init__(self, stage, exc):
        object.__setattr__(self, "_cfg", (stage, exc))

    def __getattribute__(self, name):
        stage, exc = object.__getattribute__(self, "_cfg")
        if stage == "deepcopy_attr" and name == "__deepcopy__":
            _raise(exc, "getattr __deepcopy__")
        if stage == "reduce_ex_attr" and name == "__reduce_ex__":
            _raise(exc, "getattr __reduce_ex__")
        if stage == "deepcopy" and name == "__deepcopy__":
            return lambda memo: _raise(exc, "__deepcopy__")
        if stage == "reduce_ex" and name == "__reduce_ex__":
            return lambda proto: _raise(exc, "__reduce_ex__")
        return object.__getattribute__(self, name)

    def __reduce__(self):
        stage, exc = object.__getattribute__(self, "_cfg")
        if stage == "reduce":
            _raise(exc, "__reduce__")
        if stage == "new_args":
            return (Raiser.rebuild, (stage, exc, "x"))
        return (Raiser.rebuild, (stage, exc), {"s": [stage]})

    @staticmethod
    def rebuild(stage, exc, *extra):
        if stage == "init":
            _raise(exc, "reconstructor")
        if extra:
            _raise(exc, "reconstructor extra")
        return Raiser(stage, exc)

    def __getstate__(self):
        stage, exc = object.__getattribute__(self, "_cfg")
        if stage == "getstate":
            _raise(exc, "__getstate__")
        return {"s": [stage]}

    def __setstate__(self, state):
        stage, exc = object.__getattribute__(self, "_cfg")
        if stage == "setstate":
            _raise(exc, "__setstate__")
        object.__getattribute__(self, "__dict__").update(state)


class ReduceShape:
    """__reduce_ex__ returns reduce value number `shape` built around the children."""

    def __init__(self, shape, children):
        self.shape = shape
        self.children = children

    def __reduce_ex__(self, proto):
        c = list(self.children)
        k = self.shape % len(REDUCE_SHAPES)
        return REDUCE_SHAPES[k](c)


def _pad(c, n):
    return (c + [None] * n)[:n]


REDUCE_SHAPES = [
    lambda c: (Target, tuple(c)),
    lambda c: (Target, tuple(c), {"state": c}),
    lambda c: (Target, (), ({"d": c[:1]}, {"slot": c[1:]})),
    lambda c: (ListSub, (), None, iter(c)),
    lambda c: (DictSub, (), None, None, iter([("k%d" % i, v) for i, v in enumerate(c)])),
    lambda c: (Target, c),                          # args a list
    lambda c: (Target, iter(c)),                    # args an iterator
    lambda c: [Target, tuple(c)],                   # a list, not a tuple
    lambda c: (Target,),                            # too short
    lambda c: (Target, (), None, None, None, None),  # too long
    lambda c: (Target, 5),                          # args not iterable
    lambda c: (None, ()),                           # func not callable
    lambda c: (Target, (), 42),                     # state without __dict__.update target
    lambda c: (Target, (), (None, {1: 2})),          # slot state with a non-str key
    lambda c: (Target, (), None, 5),                # listitems not iterable
    lambda c: (Target, (), None, iter([1])),         # no append on the target
    lambda c: (dict, (), None, None, iter([1])),     # dictitems not pairs
    lambda c: "ReduceShapeName",                    # a string: the object itself
    lambda c: 42,                                    # not a tuple at all
    lambda c: (copyreg.__newobj__, (Target,) + tuple(_pad(c, 1))),
    lambda c: (copyreg.__newobj__, (type(iter([])),)),   # a type without tp_new
    lambda c: (copyreg.__newobj_ex__, (Target, tuple(c), {})),
    lambda c: (Target, (), {"a": c}, iter(c[:1]), None),
]


class DeepcopyHook:
    """__deepcopy__ variants: re-entering with/without memo, tampering, garbage."""

    def __init__(self, mode, children):
        self.mode = mode
        self.children = children

    def __deepcopy__(self, memo):
        dc = hc.current_deepcopy()
        m = self.mode
        if m == "memo":
            new = DeepcopyHook(m, None)
            memo[id(self)] = new
            new.children = dc(self.children, memo)
            return new
        if m == "nomemo":
            return DeepcopyHook(m, dc(self.children))
        if m == "self":
            return self
        if m == "garbage":
            return ("garbage", len(self.children))
        # (the hooks below keep the keep-alive list memo[id(memo)]: without it the
        # temporaries of reduce calls die, their ids are reused and what a memo
        # lookup finds depends on the allocator, for stdlib as much as for us)
        if m == "memo_clear":
            r = dc(self.children, memo)
            keep = memo.get(id(memo))
            memo.clear()
            if keep is not None:
                memo[id(memo)] = keep
            return DeepcopyHook(m, r)
        if m == "memo_drop_entries":
            for k in [k for k in memo if k != id(memo)][::2]:
                del memo[k]
            return DeepcopyHook(m, dc(self.children, memo))
        if m == "memo_poison_keepalive":
            r = DeepcopyHook(m, dc(self.children, memo))
            memo[id(memo)] = ("not", "a", "list")
            return r
        if m == "memo_describe":
            # what the memo holds, as far as it can be told apart from the
            # outside: its dict values in order, with their str keys (the
            # copied states of plain instances among them; other values are
            # left out, see KNOWN_BUG_MODES for the set temporaries)
            seen = [[k if isinstance(k, str) else type(k).__name__ for k in v]
                    for v in memo.values() if type(v) is dict]
            return DeepcopyHook(m, [seen, dc(self.children, memo)])
        if m == "mutate_children":
            self.children.append(["appended"])
            return DeepcopyHook(m, dc(self.children, memo))
        if m == "shrink_children":
            if self.children:
                self.children.pop()
            return DeepcopyHook(m, dc(self.children, memo))
        raise AssertionError(m)


DEEPCOPY_MODES = ["memo", "nomemo", "self", "garbage", "memo_clear", "memo_drop_entries",
                  "memo_poison_keepalive", "mutate_children", "shrink_children",
                  "memo_describe"]
# Modes that reach a known engine bug, left out unless --include-known-bugs (so that
# a campaign finds new bugs): memo_drop_entries deletes memo entries by position and
# so copies differently while the memo differs from stdlib's after a set/frozenset
# copy (tests/test_reliability_hostile.py::test_memo_seen_by_hook_after_set_copy).
KNOWN_BUG_MODES = {"memo_drop_entries"}


class ParentMutator:
    """__deepcopy__ that mutates the container holding it (set after building)."""

    def __init__(self, action):
        self.action = action
        self.parent = None

    def __deepcopy__(self, memo):
        p = self.parent
        a = self.action
        if isinstance(p, list):
            if a == "grow":
                p.append(["grown"])
            elif a == "shrink" and p:
                p.pop()
            elif a == "replace" and p:
                p[0] = ["replaced"]
        elif isinstance(p, dict):
            if a == "grow":
                p["grown-%d" % len(p)] = 1
            elif a == "shrink" and p:
                p.pop(next(iter(p)))
            elif a == "replace" and p:
                p[next(iter(p))] = ["replaced"]
        return ParentMutator(a)


class CopyHashKey:
    """Hashable; its copies hash differently (or raise, or collide)."""

    def __init__(self, mode, n, copied=False):
        self.mode, self.n, self.copied = mode, n, copied

    def __hash__(self):
        if not self.copied:
            return hash(("orig", self.n))
        if self.mode == "raise":
            raise FuzzError("copied key hash")
        if self.mode == "collide":
            return 1
        return hash(("copy", self.n))

    def __eq__(self, other):
        if self is other:
            return True
        if not isinstance(other, CopyHashKey):
            return False
        if self.copied and other.copied and self.mode == "collide" == other.mode:
            return True          # all collided copies are one key
        return False

    def __reduce__(self):
        return (CopyHashKey, (self.mode, self.n, True))


# ---------------------------------------------------------------------------
# specs and building

atoms = st.one_of(
    st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=5),
    st.binary(max_size=5), st.none(), st.booleans(), st.complex_numbers(max_magnitude=1e6),
    st.sampled_from([Ellipsis, NotImplemented, int, len, range(3)]),
)

hashable_specs = st.recursive(
    atoms.map(lambda a: ("atom", a)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: ("tuple", xs)),
        st.lists(atoms.filter(lambda a: not (isinstance(a, float) and a != a)),
                 max_size=3).map(lambda xs: ("frozenset_atoms", xs)),
        st.tuples(st.sampled_from(["differ", "raise", "collide"]),
                  st.integers(0, 3)).map(lambda t: ("hashkey",) + t),
    ),
    max_leaves=4,
)

# values a FlatObj may hold: atoms, bytearrays, short lists and str-keyed
# dicts of atoms, and references to anything made before (not flat: the
# engine's test must then say no)
_atom_specs = atoms.map(lambda a: ("atom", a))
flat_specs = st.one_of(
    _atom_specs,
    st.binary(max_size=4).map(lambda b: ("bytearray", b)),
    st.lists(_atom_specs, max_size=3).map(lambda xs: ("list", xs)),
    st.lists(st.tuples(st.text(max_size=2).map(lambda t: ("atom", t)), _atom_specs),
             max_size=3).map(lambda xs: ("dict", xs)),
    st.integers(0, 50).map(lambda k: ("ref", k)),
)


ACTIVE_MODES = [m for m in DEEPCOPY_MODES if m not in KNOWN_BUG_MODES]
if "--include-known-bugs" in sys.argv:
    ACTIVE_MODES = list(DEEPCOPY_MODES)


def _container(children):
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: ("list", xs)),
        st.lists(children, max_size=4).map(lambda xs: ("tuple", xs)),
        st.lists(st.tuples(hashable_specs, children), max_size=4).map(lambda xs: ("dict", xs)),
        st.lists(hashable_specs, max_size=4).map(lambda xs: ("set", xs)),
        st.lists(hashable_specs, max_size=3).map(lambda xs: ("frozenset", xs)),
        st.lists(children, max_size=3).map(lambda xs: ("obj", xs)),
        st.lists(children, max_size=3).map(lambda xs: ("slots", xs)),
        st.lists(flat_specs, max_size=3).map(lambda xs: ("flatobj", xs)),
        st.lists(flat_specs, max_size=3).map(lambda xs: ("flatslots", xs)),
        st.tuples(st.integers(0, len(REDUCE_SHAPES) - 1),
                  st.lists(children, max_size=3)).map(lambda t: ("reduce", t[0], t[1])),
        st.tuples(st.sampled_from(ACTIVE_MODES),
                  st.lists(children, max_size=3)).map(lambda t: ("hook", t[0], t[1])),
        st.lists(children, max_size=3).map(lambda xs: ("listsub", xs)),
    )


specs = st.recursive(
    st.one_of(
        atoms.map(lambda a: ("atom", a)),
        st.binary(max_size=4).map(lambda b: ("bytearray", b)),
        st.integers(0, 50).map(lambda k: ("ref", k)),
        st.just(("cycle",)),
        st.tuples(st.sampled_from(STAGES), st.sampled_from(sorted(EXCEPTIONS))).map(
            lambda t: ("raiser",) + t),
        st.sampled_from(["grow", "shrink", "replace"]).map(lambda a: ("mutator", a)),
    ),
    _container,
    max_leaves=25,
)


class Builder:
    def __init__(self):
        self.made = []          # every built non-atomic object, for ("ref", k)
        self.mutable = []       # enclosing lists/dicts/objects, for ("cycle",)

    def build(self, spec, hashable=False):
        kind = spec[0]
        if kind == "atom":
            return spec[1]
        if kind == "bytearray":
            return self._made(bytearray(spec[1]))
        if kind == "ref":
            pool = [o for o in self.made if not hashable or _is_hashable(o)]
            return pool[spec[1] % len(pool)] if pool else None
        if kind == "cycle":
            if hashable or not self.mutable:
                return None
            return self.mutable[-1]
        if kind == "raiser":
            return self._made(Raiser(spec[1], spec[2]))
        if kind == "mutator":
            m = ParentMutator(spec[1])
            m.parent = self.mutable[-1] if self.mutable else None
            return self._made(m)
        if kind == "hashkey":
            return self._made(CopyHashKey(spec[1], spec[2]))
        if kind == "tuple":
            return self._made(tuple(self.build(s, hashable) for s in spec[1]))
        if kind == "frozenset_atoms":
            return self._made(frozenset(spec[1]))
        if kind in ("set", "frozenset"):
            items = [self.build(s, True) for s in spec[1]]
            items = [i for i in items if _is_hashable(i)]
            return self._made(set(items) if kind == "set" else frozenset(items))
        if kind == "list" or kind == "listsub":
            x = [] if kind == "list" else ListSub()
            return self._fill(x, spec[1], lambda c, v: c.append(v))
        if kind == "dict":
            x = {}
            self._made(x)
            self.mutable.append(x)
            for ks, vs in spec[1]:
                k = self.build(ks, True)
                v = self.build(vs)
                if _is_hashable(k):
                    try:
                        x[k] = v
                    except Exception:
                        pass
            self.mutable.pop()
            return x
        if kind == "obj":
            x = Obj()
            return self._fill(x, spec[1], lambda c, v: setattr(c, "c%d" % len(vars(c)), v))
        if kind == "slots":
            x = SlotObj()
            self._made(x)
            for i, s in enumerate(spec[1][:3]):
                setattr(x, "c%d" % i, self.build(s))
            return x
        if kind in ("flatobj", "flatslots"):
            x = self._made(FlatObj() if kind == "flatobj" else FlatSlotObj())
            for i, s in enumerate(spec[1][:3]):
                setattr(x, "f%d" % i, self.build(s))
            return x
        if kind == "reduce":
            x = ReduceShape(spec[1], [])
            return self._fill(x, spec[2], lambda c, v: c.children.append(v))
        if kind == "hook":
            x = DeepcopyHook(spec[1], [])
            return self._fill(x, spec[2], lambda c, v: c.children.append(v))
        raise AssertionError(spec)

    def _made(self, x):
        self.made.append(x)
        return x

    def _fill(self, x, child_specs, add):
        self._made(x)
        self.mutable.append(x)
        for s in child_specs:
            add(x, self.build(s))
        self.mutable.pop()
        return x


def _is_hashable(x):
    try:
        hash(x)
        return True
    except Exception:
        return False


def build(spec):
    return Builder().build(spec)


# ---------------------------------------------------------------------------

def check_spec(spec, use_memo=False):
    memo_factory = dict if use_memo else None
    out_ref, out_ours, o_ref, o_ours = hc.run_both_fresh(lambda: build(spec), memo_factory)
    if out_ref[0] == "raise" or out_ours[0] == "raise":
        if not rc.same_exception(out_ref, out_ours):
            raise AssertionError("outcomes differ:\n  stdlib: %s\n  ours:   %s"
                                 % (hc.describe(out_ref), hc.describe(out_ours)))
        return out_ref[0]
    hc.assert_same_outcome(out_ref, out_ours, o_ref, our_original=o_ours)
    return "ok"


def run_campaign(examples, seed_value, derandomize=False, stats=None):
    stats = stats if stats is not None else {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), print_blob=True,
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(spec=specs, use_memo=st.booleans())
    def prop(spec, use_memo):
        stats["examples"] = stats.get("examples", 0) + 1
        kind = check_spec(spec, use_memo)
        stats[kind] = stats.get(kind, 0) + 1

    if not derandomize:
        prop = seed(seed_value)(prop)
    prop()
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int,
                    default=rc.env_int("FASTDEEPCOPY_FUZZ_EXAMPLES", 2000))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--derandomize", action="store_true")
    ap.add_argument("--include-known-bugs", action="store_true",
                    help="also draw the hooks that reach known engine bugs")
    args = ap.parse_args(argv)
    report = {"examples_per_seed": args.examples, "seeds": args.seeds, "runs": [],
              "modes": ACTIVE_MODES,
              "python": "%d.%d" % sys.version_info[:2]}
    failed = False
    for s in args.seeds:
        t0 = time.monotonic()
        stats = {}
        try:
            run_campaign(args.examples, s, args.derandomize, stats)
            error = None
        except Exception as e:  # hypothesis re-raises the shrunk failure
            failed = True
            error = "".join(traceback.format_exception_only(type(e), e))[-3000:]
            sys.stderr.write(traceback.format_exc())
        report["runs"].append({"seed": s, "seconds": round(time.monotonic() - t0, 1),
                               "error": error, **stats})
        sys.stderr.write("fuzz: seed %d: %s\n" % (s, json.dumps(report["runs"][-1])[:300]))
    report["total_examples"] = sum(r.get("examples", 0) for r in report["runs"])
    report["failed"] = failed
    rc.emit(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
