"""What the shim does when an interpreter starts.

Called once per process by a start-up hook: ``sitecustomize.py`` (the
PYTHONPATH and LD_PRELOAD routes) or the ``.pth`` line of an installed copy.

1. Read and validate the settings (fastdeepcopy._settings).
2. Stand down with exactly one ``fastdeepcopy: ...`` line on stderr when a
   setting is malformed, the interpreter is not supported or the extension
   for this interpreter is missing; silently when FASTDEEPCOPY switches us off.
3. Otherwise arm copy.deepcopy / copy.copy (fastdeepcopy._patch.arm): route
   the function objects, in place, to first-call functions that load the
   extension, patch for real (vectorcall on 3.12+, code trampoline before) and
   forward the call.  When the program has not imported ``copy`` yet
   (``python -c pass`` does not) a one-shot import hook arms it right after
   ``copy`` is first executed.  So a program pays for ``copy`` and the
   extension only when it uses them, and no code can reach the unpatched
   functions either way.

This module is imported by every process that has the shim: keep it small.

Failures never propagate: the program always starts, on the standard library
if need be.  Everything is recorded in ``fastdeepcopy._state`` for the doctor.
"""

import sys

from . import _settings, _state

TYPE_CHECKING = False
if TYPE_CHECKING:   # never true at run time: typing is not loaded at start-up
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

    from ._settings import Settings

_SUPPORTED = ((3, 10), (3, 13))
STDLIB = "the standard library copy module is in use"


def warn(message: str) -> None:
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


def run(route: str, hook_file: "str | None" = None) -> None:
    """The start-up hook's entry point; never raises (except KeyboardInterrupt & co)."""
    if _state.route is not None:     # another hook ran already (.pth and sitecustomize)
        return
    try:
        _run(route, hook_file)
    except Exception as exc:
        _state.active = False
        _state.error = "internal error: %s: %s" % (type(exc).__name__, exc)
        warn("internal error at start-up (%s: %s); %s" % (type(exc).__name__, exc, STDLIB))
        try:
            from . import disable
            disable()
        except Exception:
            pass


def _run(route: str, hook_file: "str | None") -> None:
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
        warn("malformed setting %s; %s" % (what, STDLIB))
        return
    impl = sys.implementation.name
    ver = sys.version_info[:2]
    if impl != "cpython" or not _SUPPORTED[0] <= ver <= _SUPPORTED[1]:
        why = "%s %d.%d is not supported (CPython %d.%d to %d.%d)" % (
            impl, ver[0], ver[1], *_SUPPORTED[0], *_SUPPORTED[1])
        st.decision = "off: " + why
        st.error = why
        warn("%s; %s" % (why, STDLIB))
        return
    missing = _missing_extension()
    if missing is not None:
        st.decision = "off: " + missing
        st.error = missing
        warn("%s; %s" % (missing, STDLIB))
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

    A cheap check (one directory listing) so that the common failures, no build
    or a build for another Python, are reported at start-up; a file that exists
    but does not load is reported when it is loaded.
    """
    import os
    import _imp
    pkg = __file__.rpartition(os.sep)[0] or "."
    try:
        names = os.listdir(pkg)
    except OSError:
        return None
    suffixes = _imp.extension_suffixes()
    if any("_engine" + suffix in names for suffix in suffixes):
        return None
    found = sorted(n for n in names if n.startswith("_engine.") and n.endswith((".so", ".pyd")))
    want = "%s%s_engine%s" % (pkg, os.sep, suffixes[0])
    if found:
        what = "missing %s; found only %s, built for another Python" % (want, ", ".join(found))
    else:
        what = "missing %s" % want
    return "the extension is not built for Python %d.%d (%s); run `make PYTHON=python%d.%d`" % (
        sys.version_info[0], sys.version_info[1], what, sys.version_info[0], sys.version_info[1])


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
