"""The project's implementations, by name, for ``bench/run.py --impl`` and ``bench/procs.py``.

    python bench/run.py --impl ours=impls:ours --impl copium=impls:copium
    python bench/procs.py --contender ours=impls:ours_patched --contender copium=impls:copium_patched

Importing this module puts the project's ``shim/`` directory at the end of
``sys.path`` (``FASTDEEPCOPY_SHIM_DIR`` overrides which one), so
``fastdeepcopy`` is importable *without* ``PYTHONPATH=shim``: the shim's
``sitecustomize`` therefore does not run, and ``copy.deepcopy`` of the process
stays the stdlib function unless a ``*_patched`` name is looked up.

Names (each looked up lazily, PEP 562):

- ``ours``: ``fastdeepcopy.deepcopy``, called directly.
- ``copium``: ``copium.deepcopy``, called directly.
- ``ours_patched``: patches fastdeepcopy into ``copy.deepcopy`` of the whole
  process -- ``fastdeepcopy.enable()`` when the package has it (the shim's
  API), else ``copy.deepcopy = fastdeepcopy.deepcopy`` -- and returns the live
  ``copy.deepcopy``, so every call goes through the patched function, as the
  shim's users call it, and a ``__deepcopy__`` that calls ``copy.deepcopy``
  recurses through it too.
- ``copium_patched``: the same with ``copium.patch.enable()`` (copium's own
  API, the one its ``copium-autopatch`` .pth file calls), else assignment.

``METHOD`` records how each patch was applied.  A patch is process-wide: never
put two patching impls, or a patching impl and stdlib on a case whose objects
call ``copy.deepcopy`` themselves, in one process -- ``bench/procs.py`` gives
every contender its own process.

``deepcopy_routes_to_stdlib()`` tells, by behaviour, whether ``copy.deepcopy``
of this process still runs the stdlib's Python code.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM_DIR = os.environ.get("FASTDEEPCOPY_SHIM_DIR") or os.path.join(os.path.dirname(HERE), "shim")
if SHIM_DIR not in sys.path:
    sys.path.append(SHIM_DIR)

METHOD: Dict[str, str] = {}

_LIB_CODE: List[Any] = []  # deepcopy's code object from a private run of Lib/copy.py


def _ours_module() -> Any:
    return importlib.import_module("fastdeepcopy")


def _copium_module() -> Any:
    return importlib.import_module("copium")


def patch_ours() -> str:
    fdc = _ours_module()
    enable = getattr(fdc, "enable", None)
    if callable(enable):
        enable()
        return "fastdeepcopy.enable()"
    copy.deepcopy = fdc.deepcopy
    return "copy.deepcopy = fastdeepcopy.deepcopy"


def patch_copium() -> str:
    copium = _copium_module()
    try:
        patch_mod = importlib.import_module("copium.patch")
    except ImportError:
        patch_mod = getattr(copium, "patch", None)
    enable = getattr(patch_mod, "enable", None)
    if callable(enable):
        enable()
        return "copium.patch.enable()"
    copy.deepcopy = copium.deepcopy
    return "copy.deepcopy = copium.deepcopy"


_PATCHERS: Dict[str, Callable[[], str]] = {"ours_patched": patch_ours, "copium_patched": patch_copium}
_DIRECT: Dict[str, Callable[[], Any]] = {"ours": _ours_module, "copium": _copium_module}


def patched(name: str) -> Callable[[Any], Any]:
    """Patch ``name`` (``ours_patched``/``copium_patched``) in; return the live copy.deepcopy."""
    if name not in METHOD:
        METHOD[name] = _PATCHERS[name]()
    return copy.deepcopy


def deepcopy_routes_to_stdlib() -> bool:
    """Does ``copy.deepcopy(x)`` in this process run the stdlib's own Python code?

    A probe's ``__reduce_ex__`` looks at its caller: the stdlib ``deepcopy``
    calls it from its own frame; a C implementation (patched by assignment, by
    a swapped vectorcall, or behind a trampoline ``__code__``) does not.
    """
    callers: List[Any] = []

    class _Probe:
        def __reduce_ex__(self, protocol: int) -> Any:
            callers.append(sys._getframe(1).f_code)
            return (_Probe, ())

    copy.deepcopy(_Probe())
    code = callers[0] if callers else None
    if code is None or code.co_name != "deepcopy":
        return False
    # Compare with Lib/copy.py itself, not with copy.deepcopy.__code__ of this process: a
    # shim that ran at start-up may already have swapped that for a trampoline (3.10/3.11).
    return os.path.basename(code.co_filename) == "copy.py" and code.co_code == _lib_copy_code().co_code


def _lib_copy_code() -> Any:
    if not _LIB_CODE:
        import importlib.machinery
        import importlib.util

        spec = importlib.machinery.PathFinder.find_spec("copy", [os.path.dirname(os.__file__)])
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        _LIB_CODE.append(mod.deepcopy.__code__)
    return _LIB_CODE[0]


def __getattr__(name: str) -> Any:  # PEP 562: ``impls:ours`` etc. resolve here
    if name in _PATCHERS:
        return patched(name)
    if name in _DIRECT:
        mod = _DIRECT[name]()
        return mod.deepcopy
    raise AttributeError(name)
