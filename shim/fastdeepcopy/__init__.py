"""fastdeepcopy: a C implementation of copy.deepcopy (see README).

``fastdeepcopy.deepcopy`` / ``copy`` / ``Error`` / ``stats`` / ``reset_stats``
come from the extension ``fastdeepcopy._engine``, loaded on first use, so that
importing the package (which the start-up hook does in every process) costs
next to nothing and works even when the extension cannot be loaded:
``fastdeepcopy.import_error`` then holds the reason.

``enable()`` routes the standard library's own ``copy.deepcopy`` (and
``copy.copy``) function objects to the engine *in place*, so names bound
earlier by ``from copy import deepcopy`` and the stdlib's internal calls use it
too; ``disable()`` undoes it and ``enabled()`` tells (fastdeepcopy._patch).
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:   # never true at run time: importing typing costs start-up time
    from collections.abc import Callable
    from types import CodeType, FunctionType, ModuleType

    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from typing import Any, Literal

    from ._settings import Settings

    # The public API that module __getattr__ below provides at run time, for
    # type checkers (the package has a py.typed marker; the engine's types are
    # in _engine.pyi).
    from ._ab import reset_stats as reset_stats, stats as stats
    from ._engine import Error as Error, copy as copy, deepcopy as deepcopy
    if sys.version_info >= (3, 13):
        from ._engine import replace as replace
    import_error: ImportError | None

__version__ = "0.1.0"
__all__ = ["Error", "copy", "deepcopy", "replace", "stats", "reset_stats",
           "enable", "disable", "enabled", "arm", "__version__"]

_ENGINE_NAMES = ("Error", "copy", "deepcopy", "replace")
# statistics of this process (engine counters, A/B arm, timing, verification)
_AB_NAMES = ("stats", "reset_stats")


class _State:
    """What the start-up hook did in this process (read by the doctor)."""

    __slots__ = ("route", "hook_file", "settings", "problems", "decision", "active",
                 "pending", "error", "warnings", "chained", "chain_error", "ab")

    def __init__(self) -> None:
        # "sitecustomize", "LD_PRELOAD" or ".pth"; None: no start-up hook ran
        self.route: "str | None" = None
        self.hook_file: "str | None" = None    # the file of the hook that ran
        self.settings: "Settings | None" = None  # as read at start-up
        self.problems: "list[tuple[str, str]]" = []
        self.decision: "str | None" = None     # one line: what start-up decided and why
        self.active = False                    # did start-up patch (or arrange to)?
        self.pending: "_CopyImportHook | None" = None  # waiting for `import copy`
        self.error: "str | None" = None        # why the engine is not in use, if it failed
        self.warnings: "list[str]" = []        # lines written to stderr
        self.chained: "str | None" = None      # file of the next sitecustomize, run by ours
        self.chain_error: "str | None" = None  # what the chained sitecustomize raised
        self.ab: "str | None" = None           # what happened with fastdeepcopy._ab


_state = _State()
_engine_error: "ImportError | None" = None
# "deepcopy"/"copy" -> (the stdlib's function object, its original __code__),
# recorded by fastdeepcopy._patch at the first patch
_originals: "dict[str, tuple[FunctionType, CodeType]]" = {}


def _load_engine() -> "ModuleType":
    """The module fastdeepcopy._engine, or raise ImportError (kept as import_error)."""
    global _engine_error
    try:
        import copy  # noqa: F401  (first: the engine needs it, and it may arm the shim)
        from . import _engine
    except ImportError as exc:
        _engine_error = exc
        raise
    _engine_error = None
    return _engine


def _module_getattr(name: str) -> object:
    if name in _AB_NAMES:
        from . import _ab
        value = getattr(_ab, name)
        globals()[name] = value
        return value
    if name in _ENGINE_NAMES:
        value = getattr(_load_engine(), name)
        globals()[name] = value
        return value
    if name == "import_error":
        try:
            _load_engine()
        except ImportError:
            pass
        return _engine_error
    raise AttributeError("module 'fastdeepcopy' has no attribute %r" % name)


if not TYPE_CHECKING:     # hidden from type checkers: unknown names are errors there
    __getattr__ = _module_getattr


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_ENGINE_NAMES) | set(_AB_NAMES) | {"import_error"})


def enable(deepcopy: bool = True, copy: bool = True,
           impl: "Callable[..., object] | None" = None) -> None:
    """Route the stdlib's copy.deepcopy (and copy.copy) to the engine, in place.

    impl: a callable with deepcopy's signature to route copy.deepcopy to instead
    of the engine (it is called as ``impl(x, memo)``).  Idempotent; calling it
    again with other arguments switches to them.  Raises ImportError when the
    engine is needed but cannot be loaded (nothing is patched then).
    """
    from . import _patch
    _patch.enable(deepcopy, copy, impl)


def disable() -> None:
    """Give copy.deepcopy and copy.copy their standard library behaviour back."""
    if _originals or _state.pending is not None:
        from . import _patch
        _patch.disable()


def enabled() -> bool:
    """Is copy.deepcopy or copy.copy routed by fastdeepcopy in this process?

    True too while the start-up hook waits for the program to import `copy`, or
    for its first call, to load the engine.

    True also in the *stdlib arm* of an A/B sample (FASTDEEPCOPY_SAMPLE < 1):
    copy.deepcopy is then routed by fastdeepcopy to a counting wrapper around
    the standard library's own code, so copies are the standard library's and
    run at its speed.  ``arm()`` tells the two apart.

    If `copy` is imported again or reloaded, the new module's functions are
    routed like the old ones (a sys.meta_path entry does it while anything is
    patched); should they be unpatched all the same, this says False.
    """
    if _state.pending is not None:
        return True
    if not _originals:
        return False
    from . import _patch
    return _patch.how("deepcopy") is not None or _patch.how("copy") is not None


def arm() -> "Literal['fast', 'stdlib'] | None":
    """Which arm this process is in: "fast", "stdlib", or None when the shim is off.

    "fast": copy.deepcopy (or, with FASTDEEPCOPY_COPY alone, copy.copy) runs
    fastdeepcopy's engine (or a callable given to ``enable(impl=...)``).
    "stdlib": the stdlib arm of an A/B sample (FASTDEEPCOPY_SAMPLE): routed by
    fastdeepcopy to count the calls, but copying with the standard library's
    code.  None: copy.deepcopy and copy.copy are the standard library's.

    The arm is drawn when the shim activates, at the program's first copy; asked
    before that, arm() activates the shim now (it imports `copy` and loads the
    extension, as that first copy would).
    """
    if _state.pending is None and not _originals:
        return None
    from . import _patch
    _patch.activate_pending()
    answer = _patch.arm_of()
    if answer == "stdlib":
        return "stdlib"
    return "fast" if answer == "fast" else None


def _status() -> "dict[str, str | None]":
    """{'deepcopy': ..., 'copy': ...}: None (the stdlib's), 'vectorcall -> engine',
    'trampoline -> engine', 'trampoline -> <repr of a callable>' or 'armed' (the
    start-up hook loads the engine at the first call)."""
    if not _originals:
        return {"deepcopy": None, "copy": None}
    from . import _patch
    return _patch.status()


# ---- what the shim does when an interpreter starts ---------------------------------
#
# Called once per process by a start-up hook: ``sitecustomize.py`` (the
# PYTHONPATH and LD_PRELOAD routes) or the ``.pth`` line of an installed copy.
# It lives here rather than in a module of its own because every process that
# has the shim runs it: each module imported at start-up costs about as much as
# everything this code does (fastdeepcopy._startup remains, as an alias, for
# the .pth line of older installs).
#
# 1. Read and validate the settings (fastdeepcopy._settings).
# 2. Stand down with exactly one ``fastdeepcopy: ...`` line on stderr when a
#    setting is malformed, the interpreter is not supported (_unsupported: not
#    CPython, a version outside _SUPPORTED, a free-threaded build) or the extension
#    for this interpreter is missing; silently when FASTDEEPCOPY switches us off.
# 3. Otherwise arm copy.deepcopy / copy.copy (fastdeepcopy._patch.arm): route
#    the function objects, in place, to first-call functions that load the
#    extension, patch for real (vectorcall on 3.12+, code trampoline before) and
#    forward the call.  When the program has not imported ``copy`` yet
#    (``python -c pass`` does not) a one-shot import hook arms it right after
#    ``copy`` is first executed.  So a program pays for ``copy`` and the
#    extension only when it uses them, and no code can reach the unpatched
#    functions either way.
#
# Failures never propagate: the program always starts, on the standard library
# if need be.  Everything is recorded in ``_state`` for the doctor.

# The supported interpreters: CPython from the first to the last version here,
# inclusive, GIL builds only.  The one place in the code that says so;
# pyproject.toml (requires-python, classifiers), the Makefile's VERSIONS and the
# README repeat it, and tests/test_shim.py checks that they agree.
_SUPPORTED = ((3, 10), (3, 15))
_STDLIB = "the standard library copy module is in use"


def _free_threaded() -> bool:
    """Is this a free-threaded (--disable-gil, "3.13t") build of CPython?"""
    flags = getattr(sys, "abiflags", None)   # "t" in it on such builds (POSIX; Windows 3.14+)
    if flags is not None:
        return "t" in flags
    if not hasattr(sys, "_is_gil_enabled"):  # before 3.13 there are no such builds
        return False
    import sysconfig                         # Windows, 3.13: no abiflags
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _unsupported() -> "str | None":
    """Why fastdeepcopy refuses this interpreter (one phrase), or None if it supports it."""
    (lo0, lo1), (hi0, hi1) = _SUPPORTED
    supported = "CPython %d.%d-%d.%d" % (lo0, lo1, hi0, hi1)
    impl = sys.implementation.name
    major, minor = sys.version_info[:2]
    if impl != "cpython":
        return "%s %d.%d is not CPython; only %s is supported" % (impl, major, minor, supported)
    if not _SUPPORTED[0] <= (major, minor) <= _SUPPORTED[1]:
        return "CPython %d.%d is outside the supported range %d.%d-%d.%d" % (
            major, minor, lo0, lo1, hi0, hi1)
    if _free_threaded():
        return ("CPython %d.%d is a free-threaded build (python%d.%dt): "
                "free-threaded builds are not supported yet" % (major, minor, major, minor))
    return None


def _warn(message: str) -> None:
    """Write one line on stderr (unless FASTDEEPCOPY_QUIET) and record it."""
    line = "fastdeepcopy: " + " ".join(message.split())
    _state.warnings.append(line)
    s = _state.settings
    if s is not None and s.quiet:
        return
    err = sys.stderr
    if err is not None:
        try:
            err.write(line + "\n")
            err.flush()
        except Exception:
            pass


def _startup_run(route: str, hook_file: "str | None" = None) -> None:
    """The start-up hook's entry point; never raises (except KeyboardInterrupt & co)."""
    if _state.route is not None:     # another hook ran already (.pth and sitecustomize)
        return
    try:
        _start(route, hook_file)
    except Exception as exc:
        _state.active = False
        _state.error = "internal error: %s: %s" % (type(exc).__name__, exc)
        _warn("internal error at start-up (%s: %s); %s" % (type(exc).__name__, exc, _STDLIB))
        try:
            disable()
        except Exception:
            pass


def _start(route: str, hook_file: "str | None") -> None:
    from . import _settings
    st = _state
    st.route = route
    st.hook_file = hook_file
    if route == "sitecustomize":
        import os
        if "libfastdeepcopy_preload" in os.environ.get("LD_PRELOAD", ""):
            st.route = "LD_PRELOAD"
    settings, problems = _settings.read()
    st.settings, st.problems = settings, problems
    if settings.master_off:
        st.decision = "off: FASTDEEPCOPY=%s" % settings.raw["FASTDEEPCOPY"]
        return
    if problems:
        what = "; ".join("%s: %s" % p for p in problems)
        st.decision = "off: malformed setting (%s)" % what
        _warn("malformed setting %s; %s" % (what, _STDLIB))
        return
    why = _unsupported()
    if why is not None:
        st.decision = "off: " + why
        st.error = why
        _warn("%s; %s" % (why, _STDLIB))
        return
    missing = _missing_extension()
    if missing is not None:
        st.decision = "off: " + missing
        st.error = missing
        _warn("%s; %s" % (missing, _STDLIB))
        return
    st.active = True
    if "copy" in sys.modules:
        from ._patch import arm
        arm(settings)
    else:
        hook = _CopyImportHook(settings)
        sys.meta_path.insert(0, hook)
        st.pending = hook
        st.decision = "on: copy is armed when the program first imports it"


def _missing_extension() -> "str | None":
    """Why the extension for this interpreter is surely absent, or None.

    A cheap check (one stat, or one directory listing when that fails) so that
    the common failures, no build or a build for another Python, are reported
    at start-up; a file that exists but does not load is reported when it is
    loaded.
    """
    import os
    import _imp
    pkg = __file__.rpartition(os.sep)[0] or "."
    suffixes = _imp.extension_suffixes()
    try:                # the usual case: the build for this interpreter is there
        os.stat(pkg + os.sep + "_engine" + suffixes[0])
        return None
    except (OSError, ValueError):
        pass
    try:
        names = os.listdir(pkg)
    except OSError:
        return None
    if any("_engine" + suffix in names for suffix in suffixes):
        return None
    found = sorted(n for n in names if n.startswith("_engine.") and n.endswith((".so", ".pyd")))
    want = "%s%s_engine%s" % (pkg, os.sep, suffixes[0])
    if found:
        what = "missing %s; found only %s, built for another Python" % (want, ", ".join(found))
    else:
        what = "missing %s" % want
    major, minor = sys.version_info[:2]
    return "the extension is not built for Python %d.%d (%s); run `make PYTHON=python%d.%d%s`" % (
        major, minor, what, major, minor, getattr(sys, "abiflags", ""))


class _CopyImportHook:
    """One-shot sys.meta_path entry: patch `copy` right after it is first executed."""

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings

    def cancel(self) -> None:
        if self in sys.meta_path:
            # A new list, not list.remove(): another thread may be iterating
            # over the old one (importlib does) and must not skip a finder.
            sys.meta_path = [f for f in sys.meta_path if f is not self]
        if _state.pending is self:
            _state.pending = None

    def find_spec(self, fullname: str, path: "Sequence[str] | None" = None,
                  target: "ModuleType | None" = None) -> "ModuleSpec | None":
        if fullname != "copy":
            return None
        self.cancel()
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        loader: "Any" = getattr(spec, "loader", None)
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            _state.active = False
            _state.decision = "off: copy is loaded by %r, which the shim cannot hook" % (loader,)
            return spec
        settings = self.settings

        def exec_module_and_patch(module: "ModuleType") -> None:
            try:
                del loader.exec_module     # back to the loader's own method
            except AttributeError:
                pass
            exec_module(module)
            if module.__name__ == "copy":
                try:
                    from ._patch import arm
                    arm(settings)
                except Exception as exc:   # arm() never raises; belt and braces
                    _state.active = False
                    _state.error = "internal error: %s: %s" % (type(exc).__name__, exc)

        try:
            loader.exec_module = exec_module_and_patch
        except (AttributeError, TypeError):
            _state.active = False
            _state.decision = "off: cannot hook the loader of copy (%r)" % (loader,)
        return spec
