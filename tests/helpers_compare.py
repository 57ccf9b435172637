"""Differential comparison of fastdeepcopy against a private stdlib reference.

* ``REF`` is a private module object built from the running interpreter's
  ``Lib/copy.py``: even if ``copy.deepcopy`` is patched, ``REF.deepcopy`` is the
  pure-Python stdlib code.  It has its own ``_deepcopy_dispatch`` and ``Error``
  (``copyreg.dispatch_table`` is shared with the real ``copy`` module).
* ``run_both`` runs the reference and fastdeepcopy on the same input and returns
  two outcomes, ``("ok", result)`` or ``("raise", exc_type, message)``.
* ``assert_same_copy`` walks both results in parallel: exact types, atomic
  values, container contents (dicts in order), instance ``__dict__`` and slots,
  the identity pattern (a bijection between the objects of the two results),
  and sharing with the original (our copy may reuse an object of the original
  exactly where stdlib's copy does).

Hooks in test classes call ``current_deepcopy()`` / ``current_copy()``: the
implementation under test at that moment (the reference while the reference
runs, fastdeepcopy while fastdeepcopy runs), the way a patched ``copy.deepcopy``
would behave.
"""
import array
import builtins
import collections
import contextlib
import copy
import copyreg
import datetime
import decimal
import functools
import importlib.util
import os
import re
import sys
import types
import weakref

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(_ROOT, "shim")
if SHIM not in sys.path:
    sys.path.insert(0, SHIM)

import fastdeepcopy  # noqa: E402


def load_reference():
    """A separate module object executing the stdlib's Lib/copy.py.

    It is named "copy" (so that its Error is ``copy.Error`` by module and
    qualified name, and its functions' names in messages are the stdlib's) but
    it is not registered in sys.modules."""
    path = copy.__file__
    assert path.endswith("copy.py"), path
    spec = importlib.util.spec_from_file_location("copy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod is not copy and mod.deepcopy is not copy.deepcopy
    assert isinstance(mod.deepcopy, types.FunctionType)
    return mod


REF = load_reference()

# ---------------------------------------------------------------------------
# which implementation hooks should call

_CURRENT = ["ours"]


class ActsOnce:
    """A __deepcopy__ that runs action(memo) the first time it is copied, then
    copies as itself: user code at a chosen place of an original."""

    def __init__(self, action):
        self.action = action

    def __deepcopy__(self, memo):
        action, self.action = self.action, None
        if action is not None:
            action(memo)
        return self


class KeyLikeDeepcopy(str):
    """An instance-dict key that hashes like "__deepcopy__": looking that name
    (or another of equal hash) up in the dict compares with __eq__, which runs
    KeyLikeDeepcopy.action once and says "not equal"."""

    action = None

    def __hash__(self):
        return hash("__deepcopy__")

    def __eq__(self, other):
        action, KeyLikeDeepcopy.action = KeyLikeDeepcopy.action, None
        if action is not None:
            action()
        return False


def current():
    return _CURRENT[-1]


def current_deepcopy():
    return REF.deepcopy if _CURRENT[-1] == "ref" else fastdeepcopy.deepcopy


def current_copy():
    return REF.copy if _CURRENT[-1] == "ref" else fastdeepcopy.copy


def current_error():
    return REF.Error if _CURRENT[-1] == "ref" else copy.Error


@contextlib.contextmanager
def using(which):
    assert which in ("ref", "ours")
    _CURRENT.append(which)
    try:
        yield
    finally:
        _CURRENT.pop()


def our_replace():
    f = getattr(fastdeepcopy, "replace", None)
    if f is None:
        f = getattr(fastdeepcopy._engine, "replace", None)
    return f


# ---------------------------------------------------------------------------
# outcomes


def outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # RecursionError included
        return ("raise", type(e), str(e))


def _call(which, kind, obj, memo):
    if kind == "deep":
        fn = REF.deepcopy if which == "ref" else fastdeepcopy.deepcopy
        if memo is None:
            return outcome(fn, obj)
        return outcome(fn, obj, memo)
    fn = REF.copy if which == "ref" else fastdeepcopy.copy
    return outcome(fn, obj)


def run_both(obj, memo_factory=None, *, shallow=False):
    """Copy obj with the reference, then with fastdeepcopy.

    memo_factory, when given, is called once per run to make the memo passed
    to deepcopy (record it yourself if you want to inspect it afterwards)."""
    kind = "shallow" if shallow else "deep"
    with using("ref"):
        memo = memo_factory() if memo_factory is not None else None
        out_ref = _call("ref", kind, obj, memo)
    with using("ours"):
        memo = memo_factory() if memo_factory is not None else None
        out_ours = _call("ours", kind, obj, memo)
    return out_ref, out_ours


def recording_memos(make=dict):
    """A memo_factory for run_both and the list it appends each memo to
    (the reference's first, then ours), to inspect them afterwards."""
    memos = []

    def factory():
        memos.append(make())
        return memos[-1]

    return factory, memos


def run_both_fresh(factory, memo_factory=None, *, shallow=False):
    """Like run_both, but each run gets its own original made by factory()
    (for hooks that mutate the original).  Returns
    (out_ref, out_ours, original_ref, original_ours)."""
    kind = "shallow" if shallow else "deep"
    with using("ref"):
        orig_ref = factory()
        memo = memo_factory() if memo_factory is not None else None
        out_ref = _call("ref", kind, orig_ref, memo)
    with using("ours"):
        orig_ours = factory()
        memo = memo_factory() if memo_factory is not None else None
        out_ours = _call("ours", kind, orig_ours, memo)
    return out_ref, out_ours, orig_ref, orig_ours


def exc_key(tp):
    return (tp.__module__, tp.__qualname__)


def describe(out):
    if out[0] == "ok":
        return "ok: %s" % safe_repr(out[1])
    return "raise %s.%s: %s" % (out[1].__module__, out[1].__qualname__, out[2])


def assert_same_outcome(out_ref, out_ours, original=None, our_original=None):
    """Both raised the same exception (type by module+qualname, and message;
    only the type for RecursionError, whose message stdlib itself varies), or
    both returned copies that assert_same_copy accepts.  Returns the
    Comparator of the results (None for exceptions)."""
    if out_ref[0] != out_ours[0]:
        raise AssertionError("outcomes differ:\n  stdlib: %s\n  ours:   %s"
                             % (describe(out_ref), describe(out_ours)))
    if out_ref[0] == "raise":
        if exc_key(out_ref[1]) != exc_key(out_ours[1]):
            raise AssertionError("exception types differ:\n  stdlib: %s\n  ours:   %s"
                                 % (describe(out_ref), describe(out_ours)))
        if not issubclass(out_ref[1], RecursionError) and out_ref[2] != out_ours[2]:
            raise AssertionError("exception messages differ:\n  stdlib: %s\n  ours:   %s"
                                 % (describe(out_ref), describe(out_ours)))
        if our_original is not None:
            # hooks may have mutated the originals: they must agree too
            assert_same_graph(original, our_original)
        return None
    return assert_same_copy(out_ref[1], out_ours[1], original, our_original=our_original)


# ---------------------------------------------------------------------------
# the structural walk

ATOMIC_TYPES = frozenset([type(None), bool, int, float, complex, str, bytes,
                          type(Ellipsis), type(NotImplemented)])

IDENTITY_LEAVES = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType,
                   types.CodeType, property, weakref.ref, types.MethodDescriptorType,
                   types.WrapperDescriptorType, types.MethodWrapperType,
                   types.GetSetDescriptorType, types.MemberDescriptorType,
                   types.ClassMethodDescriptorType, staticmethod, classmethod,
                   types.FrameType, types.TracebackType, types.GeneratorType)

# C value types without an instance dict whose state is compared through
# their reduce value (copyreg.dispatch_table first, then __reduce_ex__(4)).
REDUCE_VALUE_TYPES = (datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo,
                      decimal.Decimal, functools.partial, re.Pattern, range, slice,
                      BaseException)


class _Unset:
    def __repr__(self):
        return "<unset slot>"


UNSET = _Unset()


class Mismatch(AssertionError):
    pass


def safe_repr(x, limit=160):
    try:
        r = repr(x)
    except Exception as e:  # pragma: no cover - defensive
        r = "<repr failed: %r>" % (e,)
    if len(r) > limit:
        r = r[:limit] + "..."
    return r


def atomic_equal(a, b):
    if type(a) in (float, complex):
        return repr(a) == repr(b)
    return a == b


def instance_dict(x):
    try:
        d = object.__getattribute__(x, "__dict__")
    except (AttributeError, TypeError):
        return None
    return d if isinstance(d, dict) else None


def _mangle(cls, name):
    if name.startswith("__") and not name.endswith("__"):
        return "_%s%s" % (cls.__name__.lstrip("_"), name)
    return name


def slot_values(x):
    """[(label, value or UNSET)] for every __slots__ member of type(x)'s MRO."""
    out = []
    for cls in type(x).__mro__:
        slots = cls.__dict__.get("__slots__")
        if slots is None:
            continue
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__"):
                continue
            mname = _mangle(cls, name)
            desc = cls.__dict__.get(mname)
            if not isinstance(desc, types.MemberDescriptorType):
                continue
            try:
                v = desc.__get__(x, cls)
            except AttributeError:
                v = UNSET
            out.append(("slot %s.%s" % (cls.__qualname__, mname), v))
    return out


def reduce_parts(x):
    reductor = copyreg.dispatch_table.get(type(x))
    if reductor is not None:
        rv = reductor(x)
    else:
        rv = x.__reduce_ex__(4)
    if isinstance(rv, str):
        return [("reduce-name", rv)]
    rv = tuple(rv) + (None,) * (5 - len(rv))
    func, args, state, listitems, dictitems = rv[:5]
    out = [("reduce.func", func), ("reduce.args", args), ("reduce.state", state)]
    if listitems is not None:
        out.append(("reduce.listitems", list(listitems)))
    if dictitems is not None:
        out.append(("reduce.dictitems", [tuple(p) for p in dictitems]))
    return out


FROZENDICT = getattr(builtins, "frozendict", None)   # 3.15


def children(x):
    """The parts of x that a deep copy reproduces: ([(label, child)], set_elements)."""
    out = []
    set_elems = None
    handled = False
    if isinstance(x, dict) or (FROZENDICT is not None and isinstance(x, FROZENDICT)):
        if isinstance(x, collections.OrderedDict):
            items = list(collections.OrderedDict.items(x))
        elif not isinstance(x, dict):
            items = list(FROZENDICT.items(x))
        else:
            items = list(dict.items(x))
        for i, (k, v) in enumerate(items):
            shown = ("[%s]" % safe_repr(k, 40)) if type(k) in ATOMIC_TYPES else "[key#%d]" % i
            out.append(("key#%d" % i, k))
            out.append((shown, v))
        if isinstance(x, collections.defaultdict):
            out.append((".default_factory", x.default_factory))
        handled = True
    elif isinstance(x, list):
        out.extend(("[%d]" % i, v) for i, v in enumerate(list.__iter__(x)))
        handled = True
    elif isinstance(x, tuple):
        out.extend(("[%d]" % i, v) for i, v in enumerate(tuple.__iter__(x)))
        handled = True
    elif isinstance(x, set):
        set_elems = list(set.__iter__(x))
        handled = True
    elif isinstance(x, frozenset):
        set_elems = list(frozenset.__iter__(x))
        handled = True
    elif isinstance(x, bytearray):
        out.append(("bytes", bytes(x)))
        handled = True
    elif isinstance(x, collections.deque):
        out.extend(("[%d]" % i, v) for i, v in enumerate(collections.deque.__iter__(x)))
        out.append((".maxlen", x.maxlen))
        handled = True
    elif isinstance(x, array.array):
        out.append((".typecode", x.typecode))
        out.append((".tolist()", x.tolist()))
        handled = True
    elif isinstance(x, types.MethodType):
        out.append((".__func__", x.__func__))
        out.append((".__self__", x.__self__))
        handled = True
    elif isinstance(x, REDUCE_VALUE_TYPES):
        out.extend(reduce_parts(x))
        handled = True
    d = instance_dict(x)
    if d is not None:
        out.append((".__dict__", d))
        handled = True
    slots = slot_values(x)
    if slots:
        out.extend(slots)
        handled = True
    if not handled:
        out.extend(reduce_parts(x))
    return out, set_elems


class Comparator:
    """Parallel walk of a stdlib result (r) and ours (u).

    orig_r maps id(object of the ref-side original) -> the corresponding object
    of our side's original (the same object when both runs used one original);
    orig_u is the set of ids of our side's original objects."""

    def __init__(self, orig_r=None, orig_u=None, orig_atomic_ids=None, same_code_ok=False):
        # same_code_ok: functions match when they share their code object (for
        # two originals built separately by one factory, whose lambdas differ)
        self.same_code_ok = same_code_ok
        self.orig_r = orig_r or {}
        self.orig_u = orig_u or set()
        self.orig_atomic_ids = orig_atomic_ids or set()
        self.r2u = {}
        self.u2r = {}
        self.keep = []   # keeps every visited object (and temporaries) alive

    def fail(self, path, msg, r=None, u=None):
        extra = ""
        if r is not None or u is not None:
            extra = "\n  stdlib: %s\n  ours:   %s" % (safe_repr(r), safe_repr(u))
        raise Mismatch("at %s: %s%s" % (path, msg, extra))

    def walk(self, r, u, path="root"):
        if r is UNSET or u is UNSET:
            if r is not u:
                self.fail(path, "slot set on one side only", r, u)
            return
        tr = type(r)
        if tr is not type(u):
            self.fail(path, "types differ: %r vs %r" % (tr, type(u)), r, u)
        if tr in ATOMIC_TYPES:
            if not atomic_equal(r, u):
                self.fail(path, "values differ", r, u)
            if id(r) in self.orig_atomic_ids and r is not u:
                self.fail(path, "stdlib returns the original atomic object, ours another", r, u)
            return
        ir, iu = id(r), id(u)
        self.keep.append(r)
        self.keep.append(u)
        mapped = self.orig_r.get(ir)
        if mapped is not None:
            if mapped is not u:
                self.fail(path, "stdlib's copy uses the original object here, ours a "
                          "different one", r, u)
        elif iu in self.orig_u:
            self.fail(path, "our copy shares an object of the original where stdlib's "
                      "copy has a new one", r, u)
        prev = self.r2u.get(ir)
        if prev is not None:
            if prev is not u:
                self.fail(path, "identity pattern differs: this stdlib object was already "
                          "matched with another of ours (sharing/cycle not reproduced)", r, u)
            return
        if iu in self.u2r:
            self.fail(path, "identity pattern differs: this object of ours was already "
                      "matched with another stdlib object (we share where stdlib does not)",
                      r, u)
        self.r2u[ir] = u
        self.u2r[iu] = r
        if mapped is not None:
            return
        if isinstance(r, IDENTITY_LEAVES):
            if r is not u and not (self.same_code_ok and isinstance(r, types.FunctionType)
                                   and r.__code__ is u.__code__):
                self.fail(path, "not the same object", r, u)
            return
        cr, sr = children(r)
        cu, su = children(u)
        self.keep.append((cr, sr, cu, su))
        lr = [label for label, _ in cr]
        lu = [label for label, _ in cu]
        if lr != lu:
            self.fail(path, "structure differs: %s vs %s" % (lr, lu), r, u)
        for (label, a), (_, b) in zip(cr, cu):
            self.walk(a, b, path + label if label.startswith(("[", ".")) else
                      "%s<%s>" % (path, label))
        if sr is not None:
            self.walk_set(sr, su, path, r, u)

    def walk_set(self, er, eu, path, r, u):
        if len(er) != len(eu):
            self.fail(path, "set sizes differ", r, u)

        def akey(e):
            return (type(e).__qualname__, repr(e) if type(e) in (float, complex) else e)

        ar = collections.Counter(akey(e) for e in er if type(e) in ATOMIC_TYPES)
        au = collections.Counter(akey(e) for e in eu if type(e) in ATOMIC_TYPES)
        if ar != au:
            self.fail(path, "atomic set elements differ", r, u)
        nr = [e for e in er if type(e) not in ATOMIC_TYPES]
        remaining = [e for e in eu if type(e) not in ATOMIC_TYPES]
        for e in nr:
            p = self.r2u.get(id(e))
            if p is not None:
                for i, c in enumerate(remaining):
                    if c is p:
                        del remaining[i]
                        break
                else:
                    self.fail(path, "set element matched elsewhere is missing here", e)
                continue
            for i, c in enumerate(remaining):
                if type(c) is not type(e):
                    continue
                saved = (dict(self.r2u), dict(self.u2r), len(self.keep))
                try:
                    self.walk(e, c, path + "{elem}")
                except Mismatch:
                    self.r2u, self.u2r = saved[0], saved[1]
                    continue
                del remaining[i]
                break
            else:
                self.fail(path, "no matching set element in ours for", e)


def reachable(root):
    """(objects reachable from root through children(), ids of atomic ones);
    the returned list also keeps every temporary alive."""
    seen = {}
    atomic_ids = set()
    keep = []
    stack = [root]
    while stack:
        x = stack.pop()
        if type(x) in ATOMIC_TYPES:
            atomic_ids.add(id(x))
            keep.append(x)
            continue
        if x is UNSET or id(x) in seen:
            continue
        seen[id(x)] = x
        if isinstance(x, IDENTITY_LEAVES):
            continue
        try:
            cs, se = children(x)
        except Exception:
            continue
        keep.append((cs, se))
        stack.extend(c for _, c in cs)
        if se:
            stack.extend(se)
    return seen, atomic_ids, keep


def assert_same_graph(a, b):
    """Two separately built originals have the same structure and identity
    pattern.  Returns the Comparator whose r2u pairs them."""
    c = Comparator(same_code_ok=True)
    try:
        c.walk(a, b, "original")
    except Mismatch as e:
        raise AssertionError("the originals differ after the copies (a hook ran "
                             "differently): %s" % e) from None
    return c


def assert_same_copy(ref_result, our_result, original, *, our_original=None):
    """Fail unless our_result is indistinguishable from ref_result as a copy
    of original (see the module docstring).  When the two runs used separately
    built originals, pass the ref's as `original` and ours as `our_original`.
    Returns the Comparator (its r2u pairs stdlib objects with ours)."""
    if our_original is None:
        seen, atomic_ids, keep = reachable(original)
        comp = Comparator({i: o for i, o in seen.items()}, set(seen), atomic_ids)
        comp.keep.append(keep)
    else:
        pairing = assert_same_graph(original, our_original)
        orig_r = dict(pairing.r2u)
        comp = Comparator(orig_r, {id(v) for v in orig_r.values()})
        comp.keep.append(pairing.keep)
    comp.walk(ref_result, our_result)
    return comp


# ---------------------------------------------------------------------------
# memos


class RecordingMemo(dict):
    """A dict-subclass memo recording the calls stdlib makes on it (get,
    __getitem__, __setitem__) in `log`, a list of (operation, key)."""

    def __init__(self, log=None):
        super().__init__()
        self.log = [] if log is None else log

    def get(self, key, default=None):
        self.log.append(("get", key))
        return super().get(key, default)

    def __getitem__(self, key):
        self.log.append(("getitem", key))
        return super().__getitem__(key)

    def __contains__(self, key):   # 3.15's deepcopy asks `d in memo`
        self.log.append(("contains", key))
        return super().__contains__(key)

    def __setitem__(self, key, value):
        self.log.append(("setitem", key))
        super().__setitem__(key, value)


def assert_same_memo(ref_memo, our_memo, comp):
    """The two memos after the copies: same keys in the same order (id of an
    original, or the memo's own id for the keep-alive list), values matched by
    the Comparator of the results, keep-alive lists equal element by element
    (originals by identity)."""
    kr = list(ref_memo.keys())
    ku = list(our_memo.keys())
    keep_r = ref_memo.get(id(ref_memo))
    keep_u = our_memo.get(id(our_memo))
    summary = "\n  stdlib memo: %d keys, keep-alive %s\n  our memo:    %d keys, keep-alive %s" % (
        len(kr), _keep_summary(keep_r), len(ku), _keep_summary(keep_u))
    if len(kr) != len(ku):
        raise AssertionError("memo sizes differ" + summary)

    def role(key, memo, side):
        if key == id(memo):
            return ("keep-alive",)
        if side == "r":
            if key in comp.orig_r:
                return ("orig", id(comp.orig_r[key]))
        elif key in comp.orig_u:
            return ("orig", key)
        return ("other",)

    for i, (a, b) in enumerate(zip(kr, ku)):
        ra, rb = role(a, ref_memo, "r"), role(b, our_memo, "u")
        if ra != rb:
            raise AssertionError("memo key #%d differs: %r vs %r%s" % (i, ra, rb, summary))
        if ra[0] != "keep-alive":
            comp.walk(ref_memo[a], our_memo[b], "memo[key#%d]" % i)
    if (keep_r is None) != (keep_u is None):
        raise AssertionError("keep-alive list present on one side only" + summary)
    if keep_r is not None:
        if type(keep_r) is not type(keep_u) or len(keep_r) != len(keep_u):
            raise AssertionError("keep-alive lists differ" + summary)
        for i, (a, b) in enumerate(zip(keep_r, keep_u)):
            ma = comp.orig_r.get(id(a))
            if ma is not None:
                if ma is not b:
                    raise AssertionError("keep-alive item %d: stdlib keeps original %s, ours %s"
                                         % (i, safe_repr(a), safe_repr(b)))
            elif id(b) in comp.orig_u:
                raise AssertionError("keep-alive item %d: ours keeps original %s, stdlib "
                                     "a temporary %s" % (i, safe_repr(b), safe_repr(a)))
            else:
                # a temporary of the copy (e.g. a reduce argument): same structure
                Comparator().walk(a, b, "keep-alive[%d]" % i)


def _keep_summary(keep):
    if keep is None:
        return "none"
    try:
        return "[%s]" % ", ".join(type(k).__name__ for k in keep)
    except TypeError:
        return safe_repr(keep)
