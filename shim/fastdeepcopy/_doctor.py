"""python -m fastdeepcopy doctor: is copy.deepcopy the fast one here, and if not, why.

Everything is checked for real in this process: the start-up hook's record
(fastdeepcopy._state), the extension, and the copy.deepcopy / copy.copy
function objects themselves (their vectorcall or code object, and one call
through each).  The last line is the verdict, naming the arm (fastdeepcopy.arm()):
"ACTIVE, fast arm", "ACTIVE, stdlib arm" (an A/B sample's stdlib arm: routed by
fastdeepcopy, copying with the standard library's code) or "INACTIVE".  Exit
status 0 when copy.deepcopy is routed by fastdeepcopy (either arm), 1 otherwise.
"""

import os
import sys

import fastdeepcopy as fdc

from . import _settings


def _line(out: "list[str]", label: str, text: str) -> None:
    out.append("%-16s %s" % (label, text))


def _hook_text(st: "fdc._State") -> str:
    if st.route is None:
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fdc.__file__)))
        why = []
        if sys.flags.no_site:
            why.append("python ran with -S")
        if sys.flags.ignore_environment:
            why.append("python ran with -E or -I, which ignore PYTHONPATH")
        if not why:
            why.append("%s is not on PYTHONPATH and no fastdeepcopy .pth file is installed"
                       % pkg_parent)
        return "none ran in this process (%s); to use the shim: PYTHONPATH=%s python ..." % (
            "; ".join(why), pkg_parent)
    where = " (%s)" % st.hook_file if st.hook_file else ""
    return st.route + where


def _function_text(name: str, status: "dict[str, str | None]") -> "tuple[bool, str]":
    import copy
    how = status.get(name)
    func = fdc._originals.get(name, (None,))[0]
    current = getattr(copy, name, None)
    if how is None:
        _patch = sys.modules.get("fastdeepcopy._patch")   # loaded if anything was patched
        if _patch is not None and _patch.stale(name):
            return False, ("standard library: copy was imported again and its new %s is "
                           "not patched (fastdeepcopy.enable() patches it)" % name)
        return False, "standard library (not patched)"
    text = "patched: " + how
    if current is not func:
        text += "; but copy.%s has since been rebound to %r" % (name, current)
    return True, text


def _live_check() -> "tuple[str, object]":
    """Call copy.deepcopy once, as a program would (this also completes a pending
    start-up patch), and see whether the engine counted the call."""
    import copy
    engine = sys.modules.get("fastdeepcopy._engine")
    before = engine.stats()["calls"] if engine is not None else None
    ab = sys.modules.get("fastdeepcopy._ab")
    ab_before = ab._calls if ab is not None else 0
    try:
        copy.deepcopy([{"doctor": 1}])
    except Exception as exc:
        return "copy.deepcopy raised %s: %s" % (type(exc).__name__, exc), None
    ab = sys.modules.get("fastdeepcopy._ab")
    if ab is not None and ab.arm == "stdlib" and ab._calls > ab_before:
        return ("copy.deepcopy([...]) ran the standard library's code, counted by the "
                "A/B layer (stdlib arm)"), None
    engine = sys.modules.get("fastdeepcopy._engine")
    if engine is None:
        return "copy.deepcopy([...]) ran without the engine", None
    after = engine.stats()["calls"]
    if after > (before or 0):
        return "copy.deepcopy([...]) went through the engine", engine
    return "copy.deepcopy([...]) did not reach the engine", engine


def report() -> "tuple[bool, list[str]]":
    """(active, lines) for the current process."""
    st = fdc._state
    import copy   # what a program gets: a pending start-up hook arms it now
    live, _ = _live_check()
    try:
        engine = fdc._load_engine()
        ext = "loaded: %s" % (engine.__file__,)
    except ImportError as exc:
        ext = "NOT loaded: %s" % (exc,)
    status = fdc._status()

    out: "list[str]" = []
    _line(out, "package", "fastdeepcopy %s at %s" % (
        fdc.__version__, os.path.dirname(os.path.abspath(fdc.__file__))))
    _line(out, "python", "%s (%s) %s" % (
        sys.version.split()[0], sys.implementation.name, sys.executable))
    why = fdc._unsupported()
    (lo0, lo1), (hi0, hi1) = fdc._SUPPORTED
    _line(out, "supported", "yes (CPython %d.%d-%d.%d, GIL builds)" % (lo0, lo1, hi0, hi1)
          if why is None else "NO: %s; %s" % (why, fdc._STDLIB))
    _line(out, "extension", ext)
    _line(out, "start-up hook", _hook_text(st))
    settings = st.settings
    problems = st.problems
    if settings is None:
        settings, problems = _settings.read()
        _line(out, "settings", "read now (no start-up hook applied them):")
    else:
        _line(out, "settings", "as read at start-up:")
    for name, value, decided in _settings.describe(settings):
        _line(out, "", "%-20s = %-10s -> %s" % (name, value, decided))
    for name, problem in problems:
        _line(out, "", "malformed: %s: %s" % (name, problem))
    for name in _settings.unknown():
        _line(out, "", "unknown, ignored: %s" % name)
    if st.decision:
        _line(out, "decision", st.decision)
    if st.ab:
        _line(out, "A/B layer", st.ab)
    ab_mod = sys.modules.get("fastdeepcopy._ab")
    if ab_mod is not None and getattr(ab_mod, "metrics", None):
        _line(out, "metrics", ab_mod.metrics)
    for w in st.warnings:
        _line(out, "warned", w)
    active, text = _function_text("deepcopy", status)
    _line(out, "copy.deepcopy", text)
    _line(out, "copy.copy", _function_text("copy", status)[1])
    _line(out, "live check", live)
    if st.route in ("sitecustomize", "LD_PRELOAD"):
        if st.chain_error:
            chained = "one was found and failed: %s" % st.chain_error
        else:
            chained = st.chained or "none (no other sitecustomize on sys.path)"
        _line(out, "chained", chained)
    arm = fdc.arm() if active else None
    _line(out, "arm", _arm_text(arm))
    reason = st.error or why
    if not active and reason:
        _line(out, "why not", reason)
    out.append(verdict(arm))
    del copy
    return active, out


def _arm_text(arm: "str | None") -> str:
    if arm is None:
        return "none (the shim is off)"
    ab = sys.modules.get("fastdeepcopy._ab")
    if ab is None or ab.arm is None or ab._draw is None:
        return "%s (no A/B sample)" % arm
    sample = float((ab._conf or {}).get("sample", 1.0))
    return "%s (draw %.4f %s FASTDEEPCOPY_SAMPLE=%g)" % (
        arm, ab._draw, "<" if ab.arm == "fast" else ">=", sample)


def verdict(arm: "str | None") -> str:
    """The doctor's last line, for fastdeepcopy.arm()'s answer."""
    if arm == "fast":
        return "ACTIVE, fast arm: copy.deepcopy is fastdeepcopy's in this process"
    if arm == "stdlib":
        return ("ACTIVE, stdlib arm: copy.deepcopy runs the standard library's code in this "
                "process (routed by fastdeepcopy only to count calls for the A/B sample)")
    return "INACTIVE: copy.deepcopy is the standard library's in this process"


def main(argv: "list[str]") -> int:
    if argv:
        sys.stderr.write("usage: python -m fastdeepcopy doctor\n")
        return 2
    active, lines = report()
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if active else 1
