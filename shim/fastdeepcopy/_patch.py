"""Patching the standard library's copy.deepcopy / copy.copy in place.

The function objects themselves are changed, never the module attributes, so
names bound earlier (``from copy import deepcopy``) and the stdlib's internal
calls follow.  Two ways:

- vectorcall (CPython 3.12+, target = the engine): ``_engine._set_vectorcall``
  (src/patch.c) makes every call of the function object go straight to C;
- trampoline (before 3.12, or target = any Python callable): ``__code__`` is
  swapped for the code of a one-line function that calls a global injected into
  the copy module (``__fastdeepcopy_deepcopy__`` / ``__fastdeepcopy_copy__``).

Identity, __name__, __qualname__, __doc__, __module__, defaults and the
signature stay those of the original; undoing restores the original vectorcall
and code object.  The originals are kept in ``fastdeepcopy._originals``.

*Arming* (used by the start-up hook) is a trampoline to first-call functions
that load the extension, patch for real and forward the call: a process pays
for the extension only when it copies something.

Not imported at start-up: only when ``copy`` is (or by enable()/disable()).
"""

import sys

from . import _originals, _state

TYPE_CHECKING = False
if TYPE_CHECKING:   # never true at run time
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import CodeType, FunctionType, ModuleType
    from typing import Any

    from ._settings import Settings

NAMES = ("deepcopy", "copy")
GLOBAL = {"deepcopy": "__fastdeepcopy_deepcopy__", "copy": "__fastdeepcopy_copy__"}


# The trampolines: their code objects replace the originals' __code__.  They
# run with the copy module's globals, where the target is injected.
if sys.version_info >= (3, 15):
    # 3.15's copy.deepcopy(x, memo=None) has no _nil
    def _deepcopy_trampoline(x: object,
                             memo: "dict[int, object] | None" = None) -> object:
        return __fastdeepcopy_deepcopy__(x, memo)  # type: ignore[name-defined]  # noqa: F821
else:
    def _deepcopy_trampoline(x: object, memo: "dict[int, object] | None" = None,
                             _nil: "list[object]" = []) -> object:  # noqa: B006 (stdlib's)
        return __fastdeepcopy_deepcopy__(x, memo)  # type: ignore[name-defined]  # noqa: F821


def _copy_trampoline(x: object) -> object:
    return __fastdeepcopy_copy__(x)  # type: ignore[name-defined]  # noqa: F821


def _trampoline_code(name: str) -> "CodeType":
    code = (_deepcopy_trampoline if name == "deepcopy" else _copy_trampoline).__code__
    if sys.version_info >= (3, 11):
        return code.replace(co_name=name, co_qualname=name)
    return code.replace(co_name=name)


TRAMPOLINE = {name: _trampoline_code(name) for name in NAMES}


# Functions of an earlier `copy` module (imported again, or reloaded) that are
# still routed: (name, function, original code).  disable() restores them.
_retired: "list[tuple[str, FunctionType, CodeType]]" = []


# ---- copy imported again -----------------------------------------------------------
#
# ``del sys.modules["copy"]; import copy`` (or importlib.reload(copy)) makes new
# function objects.  While anything is patched, a sys.meta_path entry (the
# watcher) sees that import, lets the real finder and loader do their work, and
# routes the new module's functions as the old ones are routed (armed, the
# engine, or the A/B layer).  It answers None for every other module: one
# Python call per import of a module that is not loaded yet.

class _CopyWatcher:
    """sys.meta_path entry: patch every `copy` module executed while we are enabled."""

    def find_spec(self, fullname: str, path: "Sequence[str] | None" = None,
                  target: "ModuleType | None" = None) -> "ModuleSpec | None":
        if fullname != "copy":
            return None
        spec = None
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        loader: "Any" = getattr(spec, "loader", None)
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_module_and_follow(module: "ModuleType") -> None:
            try:
                del loader.exec_module     # back to the loader's own method
            except AttributeError:
                pass
            exec_module(module)
            if module.__name__ == "copy":
                follow(module)

        try:
            loader.exec_module = exec_module_and_follow
        except (AttributeError, TypeError):
            pass
        return spec


_watcher: "_CopyWatcher | None" = None


def _watch() -> None:
    global _watcher
    if _watcher is None or _watcher not in sys.meta_path:
        _watcher = _CopyWatcher()
        # a new list: another thread may be iterating over the old one
        sys.meta_path = [_watcher] + [f for f in sys.meta_path
                                      if type(f).__name__ != "_CopyWatcher"]


def _unwatch() -> None:
    global _watcher
    if _watcher is not None:
        w, _watcher = _watcher, None
        if w in sys.meta_path:
            sys.meta_path = [f for f in sys.meta_path if f is not w]


def follow(mod: "ModuleType") -> None:
    """Route a newly executed copy module's functions as the recorded ones are."""
    plan = []
    for name in NAMES:
        rec = _originals.get(name)
        if rec is None or rec[0] is mod.__dict__.get(name):
            continue
        target = _target(name, *rec)
        if target is not None:
            plan.append((name, target))
    if not plan:
        return
    try:
        ab = sys.modules.get("fastdeepcopy._ab")
        engine = _engine_if_loaded()
        for name, target in plan:
            if ab is not None and name == "deepcopy" and ab.is_stdlib_entry(target):
                ab.follow_copy_module(mod)
            patch(mod, name, target, engine)
    except Exception as exc:
        _fail("cannot patch copy imported again (%s: %s)" % (type(exc).__name__, exc))


def activate_pending() -> None:
    """Do now what the first copy would do: load the extension and patch for real."""
    if _state.pending is not None:
        import copy  # noqa: F401  (the start-up import hook arms it)
    for name in NAMES:
        if status().get(name) == "armed":
            _first_call(name)
            return


def arm_of() -> "str | None":
    """'stdlib' when copy.deepcopy runs the A/B stdlib arm's wrapper, 'fast' when it
    (or copy.copy) is routed otherwise, None when neither is routed."""
    rec = _originals.get("deepcopy")
    if rec is not None and how("deepcopy") is not None:
        ab = sys.modules.get("fastdeepcopy._ab")
        target = _target("deepcopy", *rec)
        if ab is not None and ab.is_stdlib_entry(target):
            return "stdlib"
        return "fast"
    return "fast" if how("copy") is not None else None


def _stdlib_copy() -> "ModuleType":
    import copy
    return copy


def _engine_if_loaded() -> "ModuleType | None":
    return sys.modules.get("fastdeepcopy._engine")


def original(mod: "ModuleType", name: str) -> "tuple[FunctionType, CodeType]":
    """copy.<name>'s function object and its original code, checked and recorded.

    When `copy` was imported again (a new module) or reloaded (new function
    objects in the same module), the functions recorded before are *retired*:
    they stay routed as they are (code that kept a reference to them, such as
    ``from copy import deepcopy``, stays fast) and disable() restores them too.
    """
    rec = _originals.get(name)
    current = mod.__dict__.get(name)
    if rec is not None and (rec[0] is current or (rec[0].__globals__ is mod.__dict__
                                                  and not _is_stdlib_function(current, name))):
        return rec
    from types import FunctionType   # loaded already: copy imports types
    func = current
    if type(func) is not FunctionType or func.__module__ != mod.__name__:
        raise RuntimeError("copy.%s is not the standard library's function (%r); "
                           "not patching it" % (name, func))
    code = func.__code__
    tramp = TRAMPOLINE[name]
    if (code.co_argcount, code.co_kwonlyargcount, code.co_varnames[:code.co_argcount]) != (
            tramp.co_argcount, tramp.co_kwonlyargcount, tramp.co_varnames[:tramp.co_argcount]):
        raise RuntimeError("copy.%s has an unexpected signature; not patching it" % name)
    if rec is not None:
        _retired.append((name, rec[0], rec[1]))
    _originals[name] = (func, code)
    return func, code


def _is_stdlib_function(obj: object, name: str) -> bool:
    """Is obj a function object that `copy` itself defines as <name>?"""
    code = getattr(obj, "__code__", None)
    return (getattr(obj, "__module__", None) == "copy" and code is not None
            and code.co_name == name and type(obj).__name__ == "function")


def stale(name: str) -> bool:
    """Is copy.<name> in sys.modules a function of `copy` other than the one recorded?

    (copy imported again or reloaded behind the watcher's back; the watcher
    normally patches the new function at once.)"""
    rec = _originals.get(name)
    mod = sys.modules.get("copy")
    if rec is None or mod is None:
        return False
    current = getattr(mod, "__dict__", {}).get(name)
    return current is not rec[0] and _is_stdlib_function(current, name)


def how(name: str) -> "str | None":
    """How copy.<name> is routed now: None, 'vectorcall' or 'trampoline'.

    None too when the copy module in sys.modules has a new, unpatched function
    (see stale())."""
    rec = _originals.get(name)
    if rec is None or stale(name):
        return None
    return _how(name, rec[0], rec[1])


def _how(name: str, func: "FunctionType", code: "CodeType") -> "str | None":
    engine = _engine_if_loaded()
    if engine is not None and engine._is_vectorcall_patched(func):
        return "vectorcall"
    if func.__code__ is not code and GLOBAL[name] in func.__code__.co_names:
        return "trampoline"
    return None


def _target(name: str, func: "FunctionType", code: "CodeType") -> "Callable[..., object] | None":
    """What the function object func (copy.<name>) is routed to, or None."""
    h = _how(name, func, code)
    if h == "vectorcall":
        return getattr(_engine_if_loaded(), name)
    if h == "trampoline":
        return func.__globals__.get(GLOBAL[name])
    return None


def unpatch(name: str) -> None:
    """copy.<name> back to the stdlib's, and the retired functions of that name too."""
    rec = _originals.get(name)
    if rec is not None:
        _restore(name, *rec)
    keep = [r for r in _retired if r[0] != name]
    for r in _retired:
        if r[0] == name:
            _restore(*r)
    _retired[:] = keep


def _restore(name: str, func: "FunctionType", code: "CodeType") -> None:
    engine = _engine_if_loaded()
    if engine is not None:
        engine._restore_vectorcall(func)
    if func.__code__ is not code:
        func.__code__ = code
    g = func.__globals__
    others = [r[1] for r in _retired if r[0] == name]
    rec = _originals.get(name)
    if rec is not None:
        others.append(rec[0])
    if not any(f is not func and f.__globals__ is g and f.__code__ is TRAMPOLINE[name]
               for f in others):        # (after a reload, functions share the module dict)
        g.pop(GLOBAL[name], None)


def patch(mod: "ModuleType", name: str, target: "Callable[..., object]",
          engine: "ModuleType | None") -> None:
    """Route copy.<name> to `target`; through the vectorcall when it is the engine's.

    Retired functions of that name (of an earlier `copy`) that were armed follow."""
    func, code = original(mod, name)
    _watch()
    _route(name, func, code, target, engine)
    if _retired and not _first_call_function(target):
        for r_name, f, c in _retired:
            if r_name == name and _first_call_function(_target(name, f, c)):
                _route(name, f, c, target, engine)


def _first_call_function(target: object) -> bool:
    return bool(getattr(target, "_fastdeepcopy_first_call", False))


def _route(name: str, func: "FunctionType", code: "CodeType",
           target: "Callable[..., object]", engine: "ModuleType | None") -> None:
    if engine is not None and target is getattr(engine, name) and engine._VECTORCALL_PATCH:
        if _how(name, func, code) != "vectorcall":
            _restore(name, func, code)
            engine._set_vectorcall(func, name)
        return
    if _how(name, func, code) == "vectorcall":
        _restore(name, func, code)
    func.__globals__[GLOBAL[name]] = target
    func.__code__ = TRAMPOLINE[name]


def cancel_pending() -> None:
    hook = _state.pending
    if hook is not None:
        _state.pending = None
        hook.cancel()


def enable(deepcopy: bool, copy: bool, impl: "Callable[..., object] | None") -> None:
    """fastdeepcopy.enable()."""
    from . import _load_engine
    if impl is not None and not callable(impl):
        raise TypeError("impl must be callable, not %r" % type(impl).__name__)
    mod = _stdlib_copy()
    engine = _load_engine() if (copy or (deepcopy and impl is None)) else None
    cancel_pending()
    try:
        if not deepcopy:
            unpatch("deepcopy")
        elif impl is not None:
            patch(mod, "deepcopy", impl, engine)
        elif engine is not None:
            patch(mod, "deepcopy", engine.deepcopy, engine)
        if not copy:
            unpatch("copy")
        elif engine is not None:
            patch(mod, "copy", engine.copy, engine)
    except BaseException:
        disable()
        raise


def disable() -> None:
    """fastdeepcopy.disable()."""
    cancel_pending()
    _unwatch()
    for name in NAMES:
        unpatch(name)


def status() -> "dict[str, str | None]":
    """fastdeepcopy._status()."""
    out: "dict[str, str | None]" = {}
    for name in NAMES:
        h = how(name)
        if h == "trampoline":
            func = _originals[name][0]
            target = func.__globals__.get(GLOBAL[name])
            engine = _engine_if_loaded()
            if engine is not None and target is getattr(engine, name):
                h = "trampoline -> engine"
            elif getattr(target, "_fastdeepcopy_first_call", False):
                h = "armed"
            else:
                h = "trampoline -> %r" % (target,)
        elif h == "vectorcall":
            h = "vectorcall -> engine"
        out[name] = h
    return out


# ---- arming: what the start-up hook does once `copy` exists ------------------------

_settings_in_force: "Settings | None" = None   # the Settings that armed copy
_activating = False


def arm(settings: "Settings") -> None:
    """Route copy's functions to the first-call functions below.  Never raises."""
    global _settings_in_force
    _state.pending = None
    _settings_in_force = settings
    try:
        mod = _stdlib_copy()
        patch(mod, "deepcopy", _first_deepcopy, None)
        if settings.copy:
            patch(mod, "copy", _first_copy, None)
    except Exception as exc:
        _fail("cannot patch copy (%s: %s)" % (type(exc).__name__, exc))
        return
    _state.decision = "on: armed; the extension is loaded at the first copy.deepcopy%s call" % (
        "/copy.copy" if settings.copy else "")


def _fail(why: str) -> None:
    from . import _STDLIB as STDLIB, _warn as warn
    _state.active = False
    _state.error = why
    _state.decision = "off: " + why
    warn("%s; %s" % (why, STDLIB))
    try:
        disable()
    except Exception:
        pass


def _stdlib_function(name: str) -> "Callable[..., object]":
    """A fresh, unpatched function with the stdlib code of copy.<name>."""
    func, code = _originals[name]
    return type(func)(code, func.__globals__, name, func.__defaults__)


def _first_call(name: str) -> "Callable[..., object]":
    """The function object copy.<name> after activation (or the stdlib's)."""
    global _activating
    if _activating:                 # a copy made while activating: plain stdlib
        return _stdlib_function(name)
    _activating = True
    try:
        if status().get(name) == "armed":
            settings = _settings_in_force
            if settings is None:
                from ._settings import read
                settings = read()[0]
            _activate(settings)
        if "armed" in status().values():   # must never loop back to us
            disable()
    finally:
        _activating = False
    return _originals[name][0]


def _first_deepcopy(x: object, memo: "dict[int, object] | None" = None,
                    _nil: object = None) -> object:
    return _first_call("deepcopy")(x, memo)


def _first_copy(x: object) -> object:
    return _first_call("copy")(x)


_first_deepcopy._fastdeepcopy_first_call = True  # type: ignore[attr-defined]
_first_copy._fastdeepcopy_first_call = True  # type: ignore[attr-defined]


def _activate(settings: "Settings") -> None:
    """Load the extension and patch for real.  Never raises."""
    _state.pending = None
    try:
        impl = _configure_ab(settings) if settings.ab_requested else None
        ab = sys.modules.get("fastdeepcopy._ab")
        enable(deepcopy=True, copy=settings.copy and getattr(ab, "route_copy", True), impl=impl)
    except Exception as exc:
        if isinstance(exc, ImportError):
            _fail("cannot load the extension (%s)" % (exc,))
        else:
            _fail("cannot patch copy (%s: %s)" % (type(exc).__name__, exc))
        return
    _state.active = True
    ab = sys.modules.get("fastdeepcopy._ab")
    if impl is not None and getattr(ab, "arm", None) == "stdlib":
        _state.decision = "on, stdlib arm of the A/B sample: copy.deepcopy counted, not accelerated"
    else:
        _state.decision = "on: copy.deepcopy%s routed to %s" % (
            "" if settings.copy else " (not copy.copy)",
            "the engine" if impl is None else "the A/B layer")


def _configure_ab(settings: "Settings") -> "Callable[..., object] | None":
    """fastdeepcopy._ab.configure(settings) -> an impl for copy.deepcopy, or None.

    It may also set settings.copy = False (copy.copy stays the stdlib's).
    """
    from . import _warn as warn
    try:
        import fastdeepcopy._ab
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "fastdeepcopy._ab":
            _state.ab = "not installed (A/B settings ignored)"
        else:
            _state.ab = "failed to import: %s: %s" % (type(exc).__name__, exc)
            warn("the A/B layer failed to import (%s: %s); using the plain engine" % (
                type(exc).__name__, exc))
        return None
    try:
        impl = fastdeepcopy._ab.configure(settings)
        if impl is not None and not callable(impl):
            raise TypeError("configure() returned a non-callable %r" % type(impl).__name__)
    except Exception as exc:
        _state.ab = "configure() failed: %s: %s" % (type(exc).__name__, exc)
        warn("the A/B layer failed (%s: %s); using the plain engine" % (type(exc).__name__, exc))
        return None
    _state.ab = "configured" if impl is None else "configured: copy.deepcopy -> %r" % (impl,)
    return impl
