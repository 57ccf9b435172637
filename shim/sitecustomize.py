"""fastdeepcopy's start-up hook.

``site`` imports the first ``sitecustomize`` on sys.path at interpreter start,
so ``PYTHONPATH=/path/to/shim python app.py`` runs this file: it makes the
standard library's copy.deepcopy the fast one for the whole process
(fastdeepcopy._startup_run; FASTDEEPCOPY=0 turns it off), then runs the
sitecustomize that this one hides (the next one on sys.path), exactly once,
reporting its errors the way ``site`` would.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def _fastdeepcopy_start() -> None:
    startup = _import_startup()
    if startup is not None:
        startup._startup_run("sitecustomize", __file__)
    if __name__ != "sitecustomize":
        return
    chained, error = _chain_next_sitecustomize()
    if startup is not None:
        from fastdeepcopy import _state
        _state.chained, _state.chain_error = chained, error


def _import_startup() -> "ModuleType | None":
    """The package fastdeepcopy (start-up code included), or None after one line on stderr."""
    try:
        import fastdeepcopy._settings    # the start-up code needs both
        return fastdeepcopy
    except Exception as exc:
        import os
        import sys
        quiet = os.environ.get("FASTDEEPCOPY_QUIET", "").strip().lower()
        try:
            if quiet not in ("1", "on", "true", "yes"):
                sys.stderr.write("fastdeepcopy: cannot import the fastdeepcopy package (%s: %s); "
                                 "the standard library copy module is in use\n"
                                 % (type(exc).__name__, exc))
        except Exception:
            pass
        return None


def _chain_next_sitecustomize() -> "tuple[str | None, str | None]":
    """Import the next sitecustomize on sys.path; (its file or None, its error or None)."""
    import os
    import sys
    # site has made the entries absolute and normalised them, as __file__ is.
    # (No realpath: it costs more than the rest of the shim's start-up.  A second
    # spelling of this directory only means that our hook is chained to itself,
    # which then does nothing but go on to the next one.)
    here = os.path.dirname(os.path.abspath(__file__))
    removed = [(i, entry) for i, entry in enumerate(sys.path)
               if isinstance(entry, str) and os.path.abspath(entry) == here]
    for i, _ in reversed(removed):
        del sys.path[i]
    me = sys.modules.pop("sitecustomize", None)
    chained = error = None
    try:
        import sitecustomize as following
        chained = getattr(following, "__file__", None) or repr(following)
    except Exception as exc:
        if not (isinstance(exc, ImportError) and exc.name == "sitecustomize"):
            error = _report_like_site(exc)
    finally:
        if me is not None:
            sys.modules["sitecustomize"] = me
        for i, entry in removed:
            sys.path.insert(i, entry)
    return chained, error


def _report_like_site(exc: BaseException) -> str:
    """What site.execsitecustomize prints for an error in sitecustomize."""
    import sys
    line = "%s: %s" % (exc.__class__.__name__, exc)
    try:
        if sys.flags.verbose:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        else:
            sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                             "%s\n" % line)
    except Exception:
        pass
    return line


_fastdeepcopy_start()
