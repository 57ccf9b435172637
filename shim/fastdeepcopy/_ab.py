"""A/B testing of fastdeepcopy in production (see docs/ab-testing.md).

The start-up hook (fastdeepcopy._patch) calls ``configure(settings)`` once
per process, when the shim activates (at the first copy.deepcopy/copy.copy
call), if any A/B setting is present (FASTDEEPCOPY_SAMPLE, _SEED, _STATS,
_TIMING, _VERIFY).  It returns what ``copy.deepcopy`` must be routed to: None
for the engine itself, or one of the wrappers below.  ``stats()`` works in
any process, configured or not.

Arms.  The process draws a number u in [0, 1) once: from FASTDEEPCOPY_SEED
when it is set (a stable hash, so the same seed always lands in the same
arm, and a seed in the fast arm at 5% is still in it at 25%), from
os.urandom otherwise.  u < FASTDEEPCOPY_SAMPLE: "fast" arm (the engine),
else "stdlib" arm (the standard library's own code).

Counters.  Both arms count the same things with the same meaning, the
engine's (src/stats.c): calls (every entry into copy.deepcopy, nested calls
from __deepcopy__ hooks included), toplevel (calls without a memo, on a
non-atomic object), errors (calls that raised).  The fast arm reads the
engine's C counters, and, with neither timing nor verification, adds no
Python code at all to a call.  The stdlib arm routes copy.deepcopy to a small
counting wrapper around a private function object running the stdlib's own
code: the stdlib's internal recursion goes straight to that function (the
default arguments of copy's helpers are pointed at it), so counting costs
one extra call per top-level copy, never one per object.

Timing (FASTDEEPCOPY_TIMING=1) measures top-level calls with
time.perf_counter_ns; calls made while a timed call runs on the same thread
are counted as nested and not timed again.

Shadow verification (FASTDEEPCOPY_VERIFY=p, fast arm only) runs a fraction p
of top-level calls twice: first with a private copy of Lib/copy.py (never
patched), then with the engine; it compares the two results with
fastdeepcopy._compare and returns the stdlib's result (or raises the stdlib's
exception).  Differences are counted and reported on stderr, at most
_LOG_PER_MINUTE lines a minute.

Statistics (``stats()``) are written at exit to FASTDEEPCOPY_STATS: a
directory (one file per process, fastdeepcopy-<pid>-<random>.json) or a
``*.json`` name used as a template (name.<pid>-<random>.json).  Files are
written under a temporary name and hard-linked into place, so no file is ever
overwritten and readers never see a partial one.

Start-up cost: this module imports only os and sys; json, math, time,
importlib and _compare are imported when first needed.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORMAT = "fastdeepcopy-stats/1"
_MASK = (1 << 64) - 1
_LOG_PER_MINUTE = 10      # mismatch lines on stderr, at most, per minute
_MAX_EXAMPLES = 20        # distinct mismatch descriptions kept in the stats

# ---- what configure() decided --------------------------------------------------
arm: str | None = None             # "fast", "stdlib", or None (not configured)
route_copy = True                  # may copy.copy go to the engine? (False: stdlib arm)
_draw: float | None = None         # the process's number in [0, 1)
_decided_by: str | None = None     # "seed" or "random"
_conf: dict | None = None          # the validated settings, as recorded in the stats
_wrapper: str = "none"             # what copy.deepcopy is routed to by us
_started: float | None = None
_quiet = False
_stats_spec: str | None = None
_atexit_registered = False
_fork_registered = False

# ---- counters of the Python wrappers (the engine keeps its own in C) --------
_calls = 0
_toplevel = 0
_errors = 0
_nested = 0           # calls while a timed/verified call runs on the same thread
_timed_calls = 0
_timed_ns = 0

# ---- shadow verification -------------------------------------------------------
_verify_p = 0.0
_countdown = 0        # top-level calls left before the next verified one
_rng_state = 0
_v_checked = 0
_v_mismatches = 0
_v_fast_raised = 0    # part of mismatches: the engine raised, stdlib did not
_v_stdlib_raised = 0  # stdlib raised (the caller got stdlib's exception)
_v_compare_failed = 0
_v_ns = 0             # time spent in verified calls (both copies + comparison)
_v_examples: dict[str, int] = {}
_log_window = 0.0
_log_count = 0
_log_suppressed = 0
_shadow_mod = None    # the private stdlib copy module
_shadow_map: dict[int, tuple] = {}   # id(copy's helper) -> (helper, private helper)
_shadow_seen: list | None = None     # copy._deepcopy_dispatch's items at the last sync

# ---- the stdlib arm ------------------------------------------------------------
_std = None           # a function object running the stdlib's deepcopy code
_atomic: frozenset = frozenset()
_rerouted: list[tuple] = []   # (function, attribute, old value): for restore()

_engine_deepcopy = None


def _make_tls():
    import _thread

    class TLS(_thread._local):
        """Per thread: a timed/verified call is running; a shadow copy is running."""
        depth = 0
        shadow = False
    return TLS()


_tls = _make_tls()


# ---- the arm ---------------------------------------------------------------------
def seed_draw(seed: str) -> float:
    """A stable number in [0, 1) for a seed string (FNV-1a 64, then murmur3's fmix64).

    Salted, so that the same seed used by other experiments is not correlated
    with ours."""
    h = 0xCBF29CE484222325
    for byte in ("fastdeepcopy/ab\0" + seed).encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * 0x100000001B3) & _MASK
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK
    h ^= h >> 33
    return (h >> 11) / float(1 << 53)


def random_draw() -> float:
    return (int.from_bytes(os.urandom(8), "big") >> 11) / float(1 << 53)


def decide_arm(sample: float, seed: str | None = None) -> tuple[str, float]:
    """("fast" or "stdlib", the draw): fast when draw < sample."""
    u = seed_draw(seed) if seed is not None else random_draw()
    return ("fast" if u < sample else "stdlib"), u


# ---- settings ------------------------------------------------------------------
def _warn(message: str) -> None:
    if _quiet:
        return
    err = sys.stderr
    if err is None:
        return
    try:
        err.write("fastdeepcopy: %s\n" % message)
        err.flush()
    except Exception:
        pass


def _fraction(settings, name: str, env: str, default: float) -> float:
    v = getattr(settings, name, default)
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = -1.0
    if not 0.0 <= f <= 1.0:        # NaN fails too
        _warn("%s=%r is not a number from 0 to 1; using %g" % (env, v, default))
        return default
    return f


def _stats_spec_ok(spec: str) -> str | None:
    """The stats destination made usable (directory created), or None with a warning."""
    spec = os.path.abspath(os.path.expanduser(spec))   # the program may chdir later
    target_dir = os.path.dirname(spec) if spec.endswith(".json") else spec
    try:
        if target_dir:
            os.makedirs(target_dir, exist_ok=True)
        probe = target_dir or os.curdir
        if not os.access(probe, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        _warn("FASTDEEPCOPY_STATS=%s: cannot write there (%s); statistics are not "
              "written" % (spec, exc.strerror or exc))
        return None
    return spec


def _validate(settings) -> dict:
    global _quiet
    _quiet = bool(getattr(settings, "quiet", False))
    seed = getattr(settings, "seed", None)
    if seed is not None and not isinstance(seed, str):
        _warn("FASTDEEPCOPY_SEED must be a string; ignoring it")
        seed = None
    stats = getattr(settings, "stats", None)
    if stats is not None and not isinstance(stats, str):
        _warn("FASTDEEPCOPY_STATS must be a path; statistics are not written")
        stats = None
    if stats:
        stats = _stats_spec_ok(stats)
    metrics_file = getattr(settings, "metrics_file", None)
    if metrics_file:
        from ._metrics import check_path
        try:
            metrics_file = check_path(str(metrics_file))
        except OSError as exc:
            _warn("FASTDEEPCOPY_METRICS_FILE=%s: cannot write there (%s); metrics are not "
                  "written" % (metrics_file, exc.strerror or exc))
            metrics_file = None
    try:
        interval = float(getattr(settings, "metrics_interval", 60.0))
    except (TypeError, ValueError):
        interval = -1.0
    if not 0.0 <= interval < float("inf"):
        _warn("FASTDEEPCOPY_METRICS_INTERVAL=%r is not a number of seconds >= 0; using 60"
              % getattr(settings, "metrics_interval", None))
        interval = 60.0
    return {
        "metrics_file": metrics_file or None,
        "metrics_interval": interval,
        "prometheus": bool(getattr(settings, "prometheus", False)),
        "sample": _fraction(settings, "sample", "FASTDEEPCOPY_SAMPLE", 1.0),
        "seed": seed,
        "stats": stats or None,
        "timing": bool(getattr(settings, "timing", False)),
        "verify": _fraction(settings, "verify", "FASTDEEPCOPY_VERIFY", 0.0),
        "copy": bool(getattr(settings, "copy", True)),
    }


# ---- configure -------------------------------------------------------------------
def configure(settings):
    """Decide this process's arm and set up counting; return copy.deepcopy's route.

    Returns None (route copy.deepcopy to the engine) or a callable with
    deepcopy's signature.  In the stdlib arm it also sets ``settings.copy``
    and ``route_copy`` to False: copy.copy stays the standard library's.
    """
    global arm, route_copy, _draw, _decided_by, _conf, _started, _stats_spec
    global _wrapper, _verify_p, _ns, _engine_deepcopy
    import time
    _ns = time.perf_counter_ns
    conf = _validate(settings)
    _conf = conf
    _started = time.time()
    a, u = decide_arm(conf["sample"], conf["seed"])
    arm, _draw = a, u
    _decided_by = "seed" if conf["seed"] is not None else "random"
    _stats_spec = conf["stats"]
    _reset_counters()
    impl = None
    if a == "stdlib":
        route_copy = False
        try:
            settings.copy = False          # the start-up hook reads it next
        except Exception:
            pass
        try:
            impl = _setup_stdlib_arm(conf["timing"])
        except BaseException:
            arm, _wrapper = None, "failed"   # not a stdlib-arm process after all
            raise
    else:
        route_copy = conf["copy"]
        from . import _engine
        _engine_deepcopy = _engine.deepcopy
        _verify_p = conf["verify"]
        if _verify_p > 0.0:
            _seed_rng(conf["seed"])
            _set_countdown()
        if conf["timing"] or _verify_p > 0.0:
            impl = _fast_entry_timed if conf["timing"] else _fast_entry
            _wrapper = "fast+timing" if conf["timing"] else "fast"
            if _verify_p > 0.0:
                _wrapper += "+verify"
        else:
            _wrapper = "none"
    _register_hooks()
    _start_metrics(conf)
    return impl


metrics: str | None = None   # what configure() set up for fastdeepcopy._metrics


def _start_metrics(conf: dict) -> None:
    """FASTDEEPCOPY_METRICS_FILE and FASTDEEPCOPY_PROMETHEUS (fastdeepcopy._metrics)."""
    global metrics
    if not conf["metrics_file"] and not conf["prometheus"]:
        return
    from . import _metrics
    done = []
    if conf["metrics_file"]:
        _metrics.start_file(conf["metrics_file"], conf["metrics_interval"])
        done.append("file %s (%s)" % (conf["metrics_file"], "at exit" if not
                                      conf["metrics_interval"] else
                                      "every %gs and at exit" % conf["metrics_interval"]))
    if conf["prometheus"]:
        if _metrics.register() is not None:
            done.append("prometheus_client collector registered")
        else:
            done.append("prometheus_client not importable: no collector")
    metrics = "; ".join(done)


def _register_hooks() -> None:
    global _atexit_registered, _fork_registered
    if (_stats_spec or _verify_p > 0.0) and not _atexit_registered:
        import atexit
        atexit.register(_at_exit)
        _atexit_registered = True
    if not _fork_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_registered = True


def _after_fork_in_child() -> None:
    """A forked child starts its own statistics (its file is written under its pid)."""
    global _started
    import time
    _started = time.time()
    _reset_counters()
    engine = sys.modules.get("fastdeepcopy._engine")
    if engine is not None and arm == "fast":
        engine.reset_stats()
    if _verify_p > 0.0 and (_conf or {}).get("seed") is None:
        _seed_rng(None)


def _reset_counters() -> None:
    global _calls, _toplevel, _errors, _nested, _timed_calls, _timed_ns
    global _v_checked, _v_mismatches, _v_fast_raised, _v_stdlib_raised
    global _v_compare_failed, _v_ns, _log_count, _log_suppressed
    _calls = _toplevel = _errors = _nested = _timed_calls = _timed_ns = 0
    _v_checked = _v_mismatches = _v_fast_raised = _v_stdlib_raised = 0
    _v_compare_failed = _v_ns = _log_count = _log_suppressed = 0
    _v_examples.clear()


def reset_stats() -> None:
    """Zero every counter (ours and the engine's)."""
    _reset_counters()
    engine = sys.modules.get("fastdeepcopy._engine")
    if engine is not None:
        engine.reset_stats()


# ---- the stdlib arm ------------------------------------------------------------
def _original_deepcopy(copy_mod):
    """copy.deepcopy's function object and its original code (before any patch)."""
    func = copy_mod.__dict__["deepcopy"]
    pkg = sys.modules.get("fastdeepcopy")
    rec = getattr(pkg, "_originals", {}).get("deepcopy") if pkg is not None else None
    if rec is not None and rec[0] is func:
        return func, rec[1]
    code = func.__code__
    if code.co_name != "deepcopy" or "_deepcopy_dispatch" not in code.co_names:
        raise RuntimeError("copy.deepcopy is already replaced; cannot find the "
                           "standard library's code")
    return func, code


def _setup_stdlib_arm(timing: bool, copy_mod=None):
    """Build the private stdlib function and return the counting wrapper."""
    global _std, _atomic, _wrapper
    if copy_mod is None:
        import copy as copy_mod
    func, code = _original_deepcopy(copy_mod)
    g = copy_mod.__dict__
    std = type(func)(code, g, "deepcopy", func.__defaults__, func.__closure__)
    std.__kwdefaults__ = func.__kwdefaults__
    std.__qualname__ = func.__qualname__
    std.__doc__ = func.__doc__
    _std = std
    atomic_copier = g.get("_deepcopy_atomic")
    _atomic = frozenset(t for t, f in g.get("_deepcopy_dispatch", {}).items()
                        if f is atomic_copier)
    _reroute(g, func, std)
    _wrapper = "stdlib+timing" if timing else "stdlib"
    return _stdlib_entry_timed if timing else _stdlib_entry


def _reroute(g: dict, old, new) -> None:
    """Point the default arguments ``deepcopy=deepcopy`` of copy's helpers
    (_deepcopy_list, _deepcopy_tuple, _deepcopy_dict, _reconstruct) at ``new``,
    so that the stdlib's recursion stays in the private function."""
    ftype = type(new)
    for f in list(g.values()):
        if type(f) is not ftype or f.__globals__ is not g or f is old:
            continue
        d = f.__defaults__
        if d and any(v is old for v in d):
            _rerouted.append((f, "__defaults__", d))
            f.__defaults__ = tuple(new if v is old else v for v in d)
        kw = f.__kwdefaults__
        if kw and any(v is old for v in kw.values()):
            _rerouted.append((f, "__kwdefaults__", kw))
            f.__kwdefaults__ = {k: (new if v is old else v) for k, v in kw.items()}


def is_stdlib_entry(target: object) -> bool:
    """Is target the stdlib arm's counting wrapper (what copy.deepcopy is routed to there)?"""
    return target is _stdlib_entry or target is _stdlib_entry_timed


def follow_copy_module(copy_mod) -> None:
    """`copy` was imported again or reloaded: the stdlib arm runs its new code."""
    if arm == "stdlib":
        _setup_stdlib_arm(bool(_conf and _conf["timing"]), copy_mod)


def restore() -> None:
    """Undo what the stdlib arm changed in the copy module (for tests)."""
    while _rerouted:
        f, attr, old = _rerouted.pop()
        setattr(f, attr, old)


def _stdlib_entry(x, memo=None, _nil=None):
    global _calls, _toplevel, _errors
    _calls += 1
    if memo is None and type(x) not in _atomic:
        _toplevel += 1
    try:
        return _std(x, memo)
    except BaseException:
        _errors += 1
        raise


def _stdlib_entry_timed(x, memo=None, _nil=None):
    global _calls, _toplevel, _errors, _nested, _timed_calls, _timed_ns
    _calls += 1
    tls = _tls
    if memo is None and type(x) not in _atomic:
        _toplevel += 1                # as the engine counts: nested ones too
    if memo is not None or tls.depth:
        _nested += 1
        try:
            return _std(x, memo)
        except BaseException:
            _errors += 1
            raise
    tls.depth = 1
    t0 = _ns()
    try:
        return _std(x, None)
    except BaseException:
        _errors += 1
        raise
    finally:
        _timed_ns += _ns() - t0
        _timed_calls += 1
        tls.depth = 0


def _ns() -> int:
    global _ns
    from time import perf_counter_ns
    _ns = perf_counter_ns
    return perf_counter_ns()


# ---- the fast arm with timing and/or verification -------------------------------
def _fast_entry(x, memo=None, _nil=None):
    """Engine, plus shadow verification of sampled top-level calls."""
    global _nested, _countdown
    tls = _tls
    if tls.shadow:                           # a hook called us inside a shadow copy
        return _shadow_mod.deepcopy(x, memo)
    if memo is not None or tls.depth:
        _nested += 1
        return _engine_deepcopy(x, memo)
    _countdown -= 1
    if _countdown > 0:
        return _engine_deepcopy(x)
    _set_countdown()
    tls.depth = 1
    try:
        return _verified(x)
    finally:
        tls.depth = 0


def _fast_entry_timed(x, memo=None, _nil=None):
    """Engine, timed, plus shadow verification when FASTDEEPCOPY_VERIFY > 0."""
    global _nested, _countdown, _timed_calls, _timed_ns
    tls = _tls
    if tls.shadow:
        return _shadow_mod.deepcopy(x, memo)
    if memo is not None or tls.depth:
        _nested += 1
        return _engine_deepcopy(x, memo)
    tls.depth = 1
    try:
        if _verify_p > 0.0:
            _countdown -= 1
            if _countdown <= 0:
                _set_countdown()
                return _verified(x)      # timed separately (verify.ns)
        t0 = _ns()
        try:
            return _engine_deepcopy(x)
        finally:
            _timed_ns += _ns() - t0
            _timed_calls += 1
    finally:
        tls.depth = 0


def _seed_rng(seed: str | None) -> None:
    global _rng_state
    if seed is not None:
        _rng_state = int(seed_draw("verify\0" + seed) * (1 << 53))
    else:
        _rng_state = int.from_bytes(os.urandom(8), "big")


def _next_uniform() -> float:
    """splitmix64: a number in (0, 1]."""
    global _rng_state
    _rng_state = (_rng_state + 0x9E3779B97F4A7C15) & _MASK
    z = _rng_state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return ((z >> 11) + 1) / float(1 << 53)


def _set_countdown() -> None:
    """Calls until the next verified one: geometric with parameter p, so every
    top-level call is verified with probability p, independently of the others."""
    global _countdown
    p = _verify_p
    if p >= 1.0:
        _countdown = 1
        return
    if p <= 0.0:
        _countdown = 1 << 62
        return
    from math import log, log1p
    _countdown = 1 + int(min(log(_next_uniform()) / log1p(-p), 1 << 62))


def _shadow() -> object:
    """The private stdlib copy module, its dispatch table synced with copy's."""
    global _shadow_mod
    import copy as copy_mod
    mod = _shadow_mod
    if mod is None:
        import importlib.util
        path = copy_mod.__file__
        spec = importlib.util.spec_from_file_location("fastdeepcopy._stdlib_copy", path)
        if spec is None or spec.loader is None:
            raise ImportError("cannot load a private copy of %s" % path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.Error = mod.error = copy_mod.Error
        for name in ("_deepcopy_atomic", "_deepcopy_list", "_deepcopy_tuple",
                     "_deepcopy_dict", "_deepcopy_method", "_reconstruct", "_keep_alive"):
            real, mine = getattr(copy_mod, name, None), getattr(mod, name, None)
            if real is not None and mine is not None:
                _shadow_map[id(real)] = (real, mine)
        _shadow_mod = mod
    # User entries of copy._deepcopy_dispatch count for stdlib too; copy's own
    # helpers are swapped for the private ones (theirs recurse into the engine).
    # Rebuilt when copy's table changed, as a new dict bound in one step (another
    # thread may be in a shadow copy).
    global _shadow_seen
    items = list(copy_mod._deepcopy_dispatch.items())
    if items != _shadow_seen:
        get = _shadow_map.get
        table = {}
        for k, v in items:
            rec = get(id(v))
            table[k] = rec[1] if rec is not None and rec[0] is v else v
        mod._deepcopy_dispatch = table
        _shadow_seen = items
    return mod


def _verified(x):
    """Copy x with stdlib then with the engine; compare; stdlib's outcome wins."""
    global _v_checked, _v_stdlib_raised, _v_fast_raised, _v_compare_failed, _v_ns
    t0 = _ns()
    _v_checked += 1
    try:
        mod = _shadow()
    except Exception as exc:
        _v_checked -= 1
        _disable_verify("cannot load the stdlib reference (%s: %s)" % (type(exc).__name__, exc))
        return _engine_deepcopy(x)
    tls = _tls
    std_exc = fast_exc = None
    std = fast = None
    tls.shadow = True
    try:
        std = mod.deepcopy(x)
    except Exception as exc:
        std_exc = exc
    finally:
        tls.shadow = False
    try:
        fast = _engine_deepcopy(x)
    except Exception as exc:
        fast_exc = exc
    try:
        if std_exc is not None:
            _v_stdlib_raised += 1
            if fast_exc is None:
                _mismatch("<root>: stdlib raised %s, the fast copy returned a %s"
                          % (type(std_exc).__name__, type(fast).__name__))
            elif type(fast_exc) is not type(std_exc):
                _mismatch("<root>: stdlib raised %s, the fast copy raised %s"
                          % (type(std_exc).__name__, type(fast_exc).__name__))
            raise std_exc
        if fast_exc is not None:
            _v_fast_raised += 1
            _mismatch("<root>: the fast copy raised %s, stdlib returned a %s"
                      % (type(fast_exc).__name__, type(std).__name__))
            return std
        try:
            from ._compare import compare
            diff = compare(fast, std, x)
        except Exception:
            _v_compare_failed += 1
            return std
        if diff is not None:
            _mismatch(diff)
        return std
    finally:
        del fast_exc
        _v_ns += _ns() - t0


def _disable_verify(why: str) -> None:
    global _verify_p, _countdown
    _verify_p = 0.0
    _countdown = 1 << 62
    _warn("shadow verification is off: " + why)


def _mismatch(line: str) -> None:
    global _v_mismatches, _log_window, _log_count, _log_suppressed
    _v_mismatches += 1
    if line in _v_examples:
        _v_examples[line] += 1
    elif len(_v_examples) < _MAX_EXAMPLES:
        _v_examples[line] = 1
    from time import monotonic
    now = monotonic()
    if now - _log_window >= 60.0:
        if _log_suppressed:
            _warn("verify: %d more mismatch line(s) suppressed in the last minute"
                  % _log_suppressed)
        _log_window, _log_count, _log_suppressed = now, 0, 0
    if _log_count < _LOG_PER_MINUTE:
        _log_count += 1
        _warn("verify: the fast copy differs from stdlib's (stdlib's result "
              "used): " + line)
    else:
        _log_suppressed += 1


# ---- statistics ------------------------------------------------------------------
_FALLBACK_KEYS = ("hook_deepcopy", "hook_dispatch", "reconstruct_py", "memo_exposed",
                  "reduce_calls")


def stats() -> dict[str, Any]:
    """This process's A/B statistics (what FASTDEEPCOPY_STATS files hold)."""
    import time
    engine = sys.modules.get("fastdeepcopy._engine")
    if engine is None and arm != "stdlib":
        try:
            from . import _engine as engine
        except ImportError:
            engine = None
    raw = engine.stats() if engine is not None else {}
    out: dict = {
        "format": FORMAT,
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "arm": arm,
        "draw": _draw,
        "decided_by": _decided_by,
        "settings": dict(_conf) if _conf is not None else None,
        "wrapper": _wrapper,
        "started": _started,
        "now": time.time(),
    }
    if arm == "stdlib":
        out["counters"] = {"calls": _calls, "toplevel": _toplevel,
                           "objects": None, "errors": _errors}
        out["fallbacks"] = None
    else:
        out["counters"] = {k: raw.get(k) for k in ("calls", "toplevel", "objects", "errors")}
        out["fallbacks"] = {k: raw.get(k) for k in _FALLBACK_KEYS} if raw else None
    if _conf is not None and _conf["timing"]:
        out["timing"] = {"calls": _timed_calls, "ns": _timed_ns, "nested": _nested}
    else:
        out["timing"] = None
    if arm == "fast" and _conf is not None and _conf["verify"] > 0.0:
        out["verify"] = {
            "fraction": _conf["verify"],
            "active": _verify_p > 0.0,
            "checked": _v_checked,
            "mismatches": _v_mismatches,
            "fast_raised": _v_fast_raised,
            "stdlib_raised": _v_stdlib_raised,
            "compare_failed": _v_compare_failed,
            "ns": _v_ns,
            "examples": dict(_v_examples),
        }
    else:
        out["verify"] = None
    out["engine"] = raw or None
    return out


def stats_path(spec: str, pid: int | None = None) -> str:
    """A fresh file name for this process under FASTDEEPCOPY_STATS=spec."""
    pid = os.getpid() if pid is None else pid
    tag = "%d-%s" % (pid, os.urandom(4).hex())
    spec = os.path.expanduser(spec)
    if spec.endswith(".json"):
        return "%s.%s.json" % (spec[:-5], tag)
    return os.path.join(spec, "fastdeepcopy-%s.json" % tag)


def write_stats(spec: str | None = None) -> str:
    """Write stats() to a new file under spec (default FASTDEEPCOPY_STATS); its path."""
    import json
    spec = spec or _stats_spec
    if not spec:
        raise ValueError("no statistics destination (FASTDEEPCOPY_STATS)")
    text = json.dumps(stats(), indent=1, sort_keys=True) + "\n"
    for _ in range(8):
        final = stats_path(spec)
        folder = os.path.dirname(final)
        if folder:
            os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, ".%s.tmp" % os.path.basename(final))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            try:
                os.link(tmp, final)          # fails rather than overwrite
            except FileExistsError:
                continue
            except OSError:                  # no hard links here
                if os.path.exists(final):
                    continue
                os.rename(tmp, final)
            return final
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    raise FileExistsError("no free file name under %s" % spec)


def _at_exit() -> None:
    if _log_suppressed:
        _warn("verify: %d more mismatch line(s) were not shown (%d mismatches in all)"
              % (_log_suppressed, _v_mismatches))
    if not _stats_spec:
        return
    try:
        write_stats(_stats_spec)
    except Exception as exc:
        _warn("cannot write statistics to %s (%s: %s)" % (_stats_spec, type(exc).__name__, exc))
