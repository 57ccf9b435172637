"""Deep structural comparison of two deep copies of the same object.

Used by shadow verification (``FASTDEEPCOPY_VERIFY``, see ``_ab``): the fast
path's result ``a`` and the standard library's result ``b`` of copying the
same original ``o`` must agree on

* exact types, everywhere;
* values of immutable atoms (int, str, float, ...), compared by value;
* containers element-wise (lists, tuples, deques in order; dicts item by item,
  in order, keys included; sets and frozensets by a matching of elements);
* instances attribute by attribute (``__dict__`` in order, then ``__slots__``);
* the identity pattern: sharing and cycles.  Every non-atomic object of ``a``
  is paired with exactly one object of ``b`` (a bijection of ids), so an
  object shared twice on one side must be shared the same way on the other;
* which objects are shared with the original: where ``b`` is an object of the
  original graph, ``a`` must be that same object, and vice versa.

``compare(a, b, original)`` returns None when they agree, or a one-line
description of the first difference, e.g.
``list[3].dict['a'].Foo.x: int 2 (fast) != int 1 (stdlib)``: the path names
each container's type and the key, index or attribute taken in it.

The walk is iterative (no recursion limit), looks at each object once, and
never calls user ``__eq__`` on objects whose state it can see.  It imports
nothing at module level.
"""
from __future__ import annotations

# Compared by value, never paired by identity (caches and interning make the
# identity of equal atoms meaningless).
_VALUE_TYPES = frozenset({int, float, complex, str, bytes, bool, type(None),
                          type(Ellipsis), type(NotImplemented), range, slice})


def _identity_types() -> frozenset:
    import _weakref

    def f() -> None:
        pass
    return frozenset({type, type(len), type(f), type(f.__code__), property, _weakref.ref})


# Never copied by deepcopy: both sides must hold the very same object.
_IDENTITY_TYPES = _identity_types()
_HEAPTYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class defined in Python
_MAX_SET_MATCH = 256   # larger sets not pairing up in order: element types only
_REPR_MAX = 40
_MAX_SEGMENTS = 16   # longer paths keep their first and last 8 steps
_MISSING = object()


class Mismatch(Exception):
    """Raised inside the walk; ``str()`` is the report line."""

    def __init__(self, path: tuple | None, reason: str) -> None:
        Exception.__init__(self, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        p = format_path(self.path)
        return "%s: %s" % (p, self.reason) if p else self.reason


def format_path(path: tuple | None) -> str:
    """Paths are linked tuples (parent, segment), built without formatting
    anything; a segment is a str or (container name, key, kind)."""
    parts: list[str] = []
    while path is not None:
        path, seg = path
        parts.append(seg if type(seg) is str else _format_segment(seg))
    parts.reverse()
    if len(parts) > _MAX_SEGMENTS:
        keep = _MAX_SEGMENTS // 2
        parts[keep:len(parts) - keep] = ["<%d more>" % (len(parts) - 2 * keep)]
    return ".".join(parts)


_INDEX, _KEY, _ATTR, _KEYPOS = range(4)


def _format_segment(seg: tuple) -> str:
    name, key, kind = seg
    if kind == _INDEX:
        return "%s[%d]" % (name, key)
    if kind == _KEY:
        return "%s[%s]" % (name, _short(key))
    if kind == _ATTR:
        return "%s.%s" % (name, key) if type(key) is str else \
            "%s.__dict__[%s]" % (name, _short(key))
    return "%s.key#%d" % (name, key)


def _short(v: object) -> str:
    try:
        r = repr(v)
    except Exception:
        r = "<unrepresentable>"
    if len(r) > _REPR_MAX:
        r = r[:_REPR_MAX - 3] + "..."
    return r


def _tname(t: type) -> str:
    return getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")


def _describe(v: object) -> str:
    t = type(v)
    if t in _VALUE_TYPES:
        return "%s %s" % (t.__name__, _short(v))
    return "%s object" % _tname(t)


def _same_value(a: object, b: object) -> bool:
    if a is b:
        return True
    if type(a) is float:
        return a == b or (a != a and b != b)   # NaN copies are fine
    if type(a) is complex:
        return a == b or repr(a) == repr(b)
    try:
        return bool(a == b)
    except Exception:
        return False


_slot_cache: dict[type, list[str]] = {}


def _slot_names(t: type) -> list[str]:
    """The slot attributes of t's instances (private names mangled); cached."""
    names = _slot_cache.get(t)
    if names is not None:
        return names
    names = []
    for k in t.__mro__:
        slots = k.__dict__.get("__slots__")
        if slots is None:
            continue
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = "_%s%s" % (k.__name__.lstrip("_"), name)
            if name not in names:
                names.append(name)
    if len(_slot_cache) > 4096:
        _slot_cache.clear()
    _slot_cache[t] = names
    return names


def _native_base(t: type) -> type:
    """The first class of the MRO implemented in C (``object`` for plain classes)."""
    for k in t.__mro__:
        if not (k.__flags__ & _HEAPTYPE):
            return k
    return object


def _instance_dict(x: object) -> dict | None:
    try:
        d = object.__getattribute__(x, "__dict__")
    except Exception:
        return None
    return d if isinstance(d, dict) else None


def _deque_type() -> type | None:
    import sys
    mod = sys.modules.get("collections")
    return getattr(mod, "deque", None) if mod is not None else None


def _defaultdict_type() -> type | None:
    import sys
    mod = sys.modules.get("collections")
    return getattr(mod, "defaultdict", None) if mod is not None else None


class _Walker:
    def __init__(self) -> None:
        self.a2b: dict[int, object] = {}
        self.b2a: dict[int, object] = {}
        self.keep: list[object] = []     # ids stay valid while we hold the objects
        self.log: list[tuple[int, int]] | None = None   # pairings to undo in a trial
        self.deque = _deque_type()
        self.defaultdict = _defaultdict_type()

    def trial(self, pairs: list[tuple[object, object]], path: tuple | None) -> bool:
        """Compare pairs tentatively: keep the pairings on success, undo on failure."""
        saved = self.log
        self.log = []
        try:
            self.walk([(a, b, None, path) for a, b in pairs])
        except Mismatch:
            for ia, ib in self.log:
                self.a2b.pop(ia, None)
                self.b2a.pop(ib, None)
            return False
        finally:
            done = self.log
            self.log = saved
        if saved is not None:
            saved.extend(done)
        return True

    # -- the walk -----------------------------------------------------------
    def walk(self, stack: list[tuple[object, object, object, tuple | None]]) -> None:
        a2b, b2a, log = self.a2b, self.b2a, self.log
        keep = self.keep.append
        pop = stack.pop
        value_types, identity_types = _VALUE_TYPES, _IDENTITY_TYPES
        while stack:
            a, b, o, path = pop()
            ta = type(a)
            if ta in value_types:
                if a is b or (ta is type(b) and _same_value(a, b)):
                    continue
                raise Mismatch(path, "%s (fast) != %s (stdlib)" % (_describe(a), _describe(b)))
            if ta is not type(b):
                raise Mismatch(path, "%s (fast) != %s (stdlib)" % (_describe(a), _describe(b)))
            if o is not None and (a is o) is not (b is o):
                raise Mismatch(path, "the fast copy %s the original %s object, the "
                               "stdlib copy %s" % (
                                   "reuses" if a is o else "copies", _tname(ta),
                                   "copies it" if a is o else "reuses it"))
            ia, ib = id(a), id(b)
            pa = a2b.get(ia, _MISSING)
            if pa is not _MISSING:
                if pa is b:
                    continue                  # seen, and paired the same way
                raise Mismatch(path, "sharing differs: this %s is shared with another "
                               "place on the fast side only" % _tname(ta))
            if ib in b2a:
                raise Mismatch(path, "sharing differs: this %s is shared with another "
                               "place on the stdlib side only" % _tname(ta))
            if a is not b and (ta in identity_types or issubclass(ta, type)):
                raise Mismatch(path, "different %s objects (deepcopy never copies "
                               "them)" % _tname(ta))
            a2b[ia] = b
            b2a[ib] = a
            keep(a)                           # ids stay valid while we hold them
            keep(b)
            if log is not None:
                log.append((ia, ib))
            if a is not b:                    # the same object: nothing to compare
                self.expand(a, b, o, ta, path, stack)

    def expand(self, a, b, o, ta: type, path: tuple | None, stack: list) -> None:
        if ta is list or ta is tuple:            # the common cases, first
            self.sequence(a, b, o, ta, ta, path, stack)
        elif ta is dict:
            self.mapping(a, b, o, ta, path, stack)
        elif isinstance(a, (list, tuple)) or (self.deque is not None
                                              and isinstance(a, self.deque)):
            base = list if isinstance(a, list) else tuple if isinstance(a, tuple) \
                else self.deque
            if base is self.deque and a.maxlen != b.maxlen:
                raise Mismatch(path, "deque maxlen %r (fast) != %r (stdlib)"
                               % (a.maxlen, b.maxlen))
            self.instance_state(a, b, o, ta, path, stack)
            self.sequence(a, b, o, ta, base, path, stack)
        elif isinstance(a, dict):
            self.instance_state(a, b, o, ta, path, stack)
            if self.defaultdict is not None and isinstance(a, self.defaultdict):
                stack.append((a.default_factory, b.default_factory,
                              o.default_factory if type(o) is ta else None,
                              (path, "%s.default_factory" % _tname(ta))))
            self.mapping(a, b, o, ta, path, stack)
        elif isinstance(a, (set, frozenset)):
            self.compare_sets(a, b, ta, path)
            if ta is not set and ta is not frozenset:
                self.instance_state(a, b, o, ta, path, stack)
        elif isinstance(a, bytearray):
            if bytes(a) != bytes(b):
                raise Mismatch(path, "%s contents differ" % _tname(ta))
            if ta is not bytearray:
                self.instance_state(a, b, o, ta, path, stack)
        else:
            self.native_value(a, b, ta, path)
            self.instance_state(a, b, o, ta, path, stack)

    def sequence(self, a, b, o, ta: type, base: type, path: tuple | None,
                 stack: list) -> None:
        la = a if ta is list or ta is tuple else list(base.__iter__(a))
        lb = b if ta is list or ta is tuple else list(base.__iter__(b))
        n = len(la)
        if n != len(lb):
            raise Mismatch(path, "%s of length %d (fast) != length %d (stdlib)"
                           % (_tname(ta), n, len(lb)))
        lo = None
        if o is not None and type(o) is ta:
            lo = o if ta is list or ta is tuple else list(base.__iter__(o))
            if len(lo) != n:
                lo = None
        name = _tname(ta)
        push = stack.append
        if lo is None:
            for i in range(n - 1, -1, -1):
                push((la[i], lb[i], None, (path, (name, i, _INDEX))))
        else:
            for i in range(n - 1, -1, -1):
                push((la[i], lb[i], lo[i], (path, (name, i, _INDEX))))

    def mapping(self, a, b, o, ta: type, path: tuple | None, stack: list) -> None:
        ia, ib = list(dict.items(a)), list(dict.items(b))
        n = len(ia)
        if n != len(ib):
            raise Mismatch(path, "%s of length %d (fast) != length %d (stdlib)"
                           % (_tname(ta), n, len(ib)))
        io = None
        if o is not None and type(o) is ta:
            io = list(dict.items(o))
            if len(io) != n:
                io = None
        name = _tname(ta)
        push = stack.append
        for i in range(n - 1, -1, -1):
            (ka, va), (kb, vb) = ia[i], ib[i]
            ko, vo = io[i] if io is not None else (None, None)
            push((va, vb, vo, (path, (name, ka, _KEY))))
            push((ka, kb, ko, (path, (name, i, _KEYPOS))))

    def instance_state(self, a: object, b: object, o: object, ta: type,
                       path: tuple | None, stack: list) -> bool:
        """Push __dict__ and slot values; False if the type shows no such state."""
        name = _tname(ta)
        da, db = _instance_dict(a), _instance_dict(b)
        slots = _slot_names(ta)
        if da is None and db is None and not slots:
            return False
        if (da is None) != (db is None):
            raise Mismatch(path, "%s has a __dict__ on one side only" % name)
        do = _instance_dict(o) if o is not None and type(o) is ta else None
        for s in reversed(slots):
            va = getattr(a, s, _MISSING)
            vb = getattr(b, s, _MISSING)
            if (va is _MISSING) != (vb is _MISSING):
                raise Mismatch((path, "%s.%s" % (name, s)),
                               "slot set on the %s side only"
                               % ("fast" if vb is _MISSING else "stdlib"))
            if va is not _MISSING:
                vo = getattr(o, s, None) if o is not None and type(o) is ta else None
                stack.append((va, vb, vo, (path, (name, s, _ATTR))))
        if da is not None:
            ka, kb = list(da), list(db)
            if ka != kb:
                only_a = [k for k in ka if k not in db]
                only_b = [k for k in kb if k not in da]
                if only_a or only_b:
                    raise Mismatch(path, "%s attributes differ: fast only %s, "
                                   "stdlib only %s" % (name, _short(only_a),
                                                       _short(only_b)))
                raise Mismatch(path, "%s attributes in a different order" % name)
            for k in reversed(ka):
                vo = do.get(k) if do is not None else None
                stack.append((da[k], db[k], vo, (path, (name, k, _ATTR))))
        return True

    def native_value(self, a: object, b: object, ta: type, path: tuple | None) -> None:
        """The state a C base type keeps out of sight (datetime, int subclasses,
        array, ...): compare it with that base type's own __eq__."""
        base = _native_base(ta)
        if base is object:
            return
        eq = getattr(base, "__eq__", None)
        if eq is None or eq is object.__eq__:
            return
        try:
            same = eq(a, b)
            if same is NotImplemented:
                return
            same = bool(same)
        except Exception:
            return   # e.g. array-likes whose == is element-wise
        if not same:
            raise Mismatch(path, "%s values differ: %s != %s"
                           % (_tname(ta), _short(a), _short(b)))

    def compare_sets(self, a, b, ta: type, path: tuple | None) -> None:
        name = _tname(ta)
        la, lb = list(a), list(b)
        if len(la) != len(lb):
            raise Mismatch(path, "%s of size %d (fast) != size %d (stdlib)"
                           % (name, len(la), len(lb)))
        if not la:
            return
        # Copies of sets built the same way usually iterate in the same order.
        if self.trial(list(zip(la, lb)), (path, "%s{}" % name)):
            return
        if len(la) > _MAX_SET_MATCH:
            # Too big to match element by element: compare the element types
            # (copies of identity-hashed objects cannot be matched by ==).
            count: dict[type, int] = {}
            for e in la:
                count[type(e)] = count.get(type(e), 0) + 1
            for e in lb:
                count[type(e)] = count.get(type(e), 0) - 1
            if any(count.values()):
                raise Mismatch(path, "%s holds other element types" % name)
            return
        left = list(lb)
        for i, ea in enumerate(la):
            for j, eb in enumerate(left):
                if self.trial([(ea, eb)], (path, "%s{%d}" % (name, i))):
                    del left[j]
                    break
            else:
                raise Mismatch((path, "%s{%d}" % (name, i)),
                               "%s has no matching element in the stdlib copy"
                               % _describe(ea))


def compare(a: object, b: object, original: object = None) -> str | None:
    """None if ``a`` and ``b`` are equivalent deep copies, else the first difference.

    ``original`` (optional) is what both were copied from; with it, the walk
    also checks that both sides share the same objects with the original.
    Raises whatever a hostile object raises while being inspected.
    """
    w = _Walker()
    try:
        w.walk([(a, b, original, None)])
    except Mismatch as m:
        return str(m) if m.path is not None else "<root>: " + m.reason
    return None
