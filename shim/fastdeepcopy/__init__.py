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

    from ._settings import Settings
    from ._startup import _CopyImportHook

__version__ = "0.1.0"
__all__ = ["Error", "copy", "deepcopy", "stats", "reset_stats",
           "enable", "disable", "enabled", "__version__"]

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


def __getattr__(name: str) -> object:
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
    """
    if "copy" not in sys.modules:
        return _state.pending is not None
    if not _originals:
        return False
    from . import _patch
    return _patch.how("deepcopy") is not None or _patch.how("copy") is not None


def _status() -> "dict[str, str | None]":
    """{'deepcopy': ..., 'copy': ...}: None (the stdlib's), 'vectorcall -> engine',
    'trampoline -> engine', 'trampoline -> <repr of a callable>' or 'armed' (the
    start-up hook loads the engine at the first call)."""
    if not _originals:
        return {"deepcopy": None, "copy": None}
    from . import _patch
    return _patch.status()
