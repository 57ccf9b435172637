"""The A/B counters as metrics, in the OpenMetrics text format (docs/operations.md).

Two ways out, both set up by fastdeepcopy._ab.configure() when the process
first copies:

* FASTDEEPCOPY_METRICS_FILE=/path/fastdeepcopy.prom: every process *adds* what
  it counted since its last write to the totals in that file, every
  FASTDEEPCOPY_METRICS_INTERVAL seconds (default 60; 0: at exit only) and at
  exit.  So the file holds counters that only grow, summed over all the
  processes of a host (or of whatever shares the file), one series per arm,
  Python version and engine version: what node_exporter's textfile collector
  serves.  A write takes a POSIX lock on ``<file>.lock`` (fcntl.lockf: not
  inherited by forked children), reads the file, adds, writes a temporary file
  in the same directory and renames it over the file: readers never see a
  partial file.
* FASTDEEPCOPY_PROMETHEUS=1: if the application can import prometheus_client,
  a collector with this process's counters is registered in its default
  registry (``register()`` does it for another registry).  Without
  prometheus_client nothing happens.

Labels: arm ("fast"/"stdlib"), python_version ("3.12"), engine_version
(fastdeepcopy.__version__), and kind for the fallbacks.  Nothing host- or
process-specific: the scraper adds its own target labels.

Standard library only; imported only when one of those settings is given.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    # a sample: (family, suffix, labels as ((name, value), ...) sorted by name)
    Key = tuple[str, str, tuple[tuple[str, str], ...]]

# (family, type, unit, help); a counter's sample is <family>_total, a summary's
# are <family>_count and <family>_sum
FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    ("fastdeepcopy_calls", "counter", "",
     "Entries into copy.deepcopy, nested calls from __deepcopy__ hooks included"),
    ("fastdeepcopy_copies", "counter", "",
     "Top-level copy.deepcopy calls (no memo, an object that is not atomic)"),
    ("fastdeepcopy_errors", "counter", "", "copy.deepcopy calls that raised"),
    ("fastdeepcopy_objects", "counter", "", "Objects visited by the engine (fast arm)"),
    ("fastdeepcopy_fallbacks", "counter", "",
     "Python code run for a copy by the engine, by kind (fast arm)"),
    ("fastdeepcopy_verified_copies", "counter", "",
     "Copies also made by the standard library and compared (FASTDEEPCOPY_VERIFY)"),
    ("fastdeepcopy_verify_mismatches", "counter", "",
     "Verified copies that differed from the standard library's"),
    ("fastdeepcopy_copy_seconds", "summary", "seconds",
     "Wall time of timed top-level copy.deepcopy calls (FASTDEEPCOPY_TIMING=1)"),
    ("fastdeepcopy_processes", "counter", "",
     "Processes that added their counters to this file"),
)
_KIND = {name: typ for name, typ, _, _ in FAMILIES}
_SUFFIXES = {"counter": ("_total",), "summary": ("_count", "_sum")}
_FALLBACKS = ("hook_deepcopy", "hook_dispatch", "reconstruct_py", "memo_exposed",
              "reduce_calls")


def labels() -> dict[str, str]:
    """This process's labels (without kind)."""
    from . import __version__, _ab
    arm = _ab.arm
    if arm is None:
        import fastdeepcopy
        arm = fastdeepcopy.arm() or "off"
    return {"arm": arm, "python_version": "%d.%d" % sys.version_info[:2],
            "engine_version": __version__}


def samples(st: dict[str, Any] | None = None) -> dict[Key, float]:
    """This process's counters, from fastdeepcopy._ab.stats(), as samples."""
    from . import _ab
    if st is None:
        st = _ab.stats()
    base = labels()

    def key(family: str, suffix: str, **extra: str) -> Key:
        return family, suffix, tuple(sorted(dict(base, **extra).items()))

    out: dict[Key, float] = {}
    c = st.get("counters") or {}
    for family, field in (("fastdeepcopy_calls", "calls"), ("fastdeepcopy_copies", "toplevel"),
                          ("fastdeepcopy_errors", "errors"), ("fastdeepcopy_objects", "objects")):
        v = c.get(field)
        if isinstance(v, int):
            out[key(family, "_total")] = v
    for kind, v in (st.get("fallbacks") or {}).items():
        if kind in _FALLBACKS and isinstance(v, int):
            out[key("fastdeepcopy_fallbacks", "_total", kind=kind)] = v
    ver = st.get("verify")
    if ver:
        out[key("fastdeepcopy_verified_copies", "_total")] = ver["checked"]
        out[key("fastdeepcopy_verify_mismatches", "_total")] = ver["mismatches"]
    t = st.get("timing")
    if t:
        out[key("fastdeepcopy_copy_seconds", "_count")] = t["calls"]
        out[key("fastdeepcopy_copy_seconds", "_sum")] = t["ns"] / 1e9
    return out


# ---- the text format -----------------------------------------------------------

def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _number(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1 << 53):
        return str(int(v))
    return repr(float(v))


def render(values: dict[Key, float]) -> str:
    """The OpenMetrics text of the samples (families in FAMILIES' order, then # EOF)."""
    lines = []
    for family, typ, unit, help_text in FAMILIES:
        mine = sorted((k, v) for k, v in values.items() if k[0] == family)
        if not mine:
            continue
        lines.append("# TYPE %s %s" % (family, typ))
        if unit:
            lines.append("# UNIT %s %s" % (family, unit))
        lines.append("# HELP %s %s" % (family, help_text))
        # a summary's samples grouped by label set: _count then _sum
        mine.sort(key=lambda kv: (kv[0][2], kv[0][1]))
        for (_, suffix, lab), v in mine:
            text = ",".join('%s="%s"' % (n, _escape(x)) for n, x in lab)
            lines.append("%s%s{%s} %s" % (family, suffix, text, _number(v)))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _labels(text: str) -> "tuple[tuple[str, str], ...] | None":
    """'a="x",b="y\\"z"' -> (("a", "x"), ("b", 'y"z')) sorted; None if malformed.
    (No `re`: importing and compiling it would cost a process more than the rest.)"""
    out = []
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
            return None
        name = text[i:eq].strip()
        j = eq + 2
        chars = []
        while j < n and text[j] != '"':
            ch = text[j]
            if ch == "\\" and j + 1 < n:
                j += 1
                ch = "\n" if text[j] == "n" else text[j]
            chars.append(ch)
            j += 1
        if j >= n:
            return None
        out.append((name, "".join(chars)))
        i = j + 1
        if i < n and text[i] == ",":
            i += 1
    return tuple(sorted(out))


def parse(text: str) -> dict[Key, float]:
    """The samples of our families in a file written by render() (others are dropped)."""
    out: dict[Key, float] = {}
    for line in text.splitlines():
        if not line.startswith("fastdeepcopy_"):
            continue
        head, _, value = line.rpartition(" ")
        name, brace, lab = head.partition("{")
        if not brace or not lab.endswith("}"):
            continue
        for family, typ, _, _ in FAMILIES:
            if name.startswith(family) and name[len(family):] in _SUFFIXES[typ]:
                break
        else:
            continue
        labels_ = _labels(lab[:-1])
        if labels_ is None:
            continue
        try:
            v: float = int(value)
        except ValueError:
            try:
                v = float(value)
            except ValueError:
                continue
        out[(family, name[len(family):], labels_)] = v
    return out


# ---- the file ------------------------------------------------------------------

_path: str | None = None
_interval = 0.0
_flushed: dict[Key, float] = {}   # what this process has added to the file so far
_counted = False                   # has this process added itself to fastdeepcopy_processes?
_lock: Any = None                  # in this process: one write at a time
_thread_started = False
_hooks_registered = False


def check_path(spec: str) -> str:
    """The metrics file's absolute path; OSError if its directory is unusable."""
    path = os.path.abspath(os.path.expanduser(spec))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError("%s is not writable" % folder)
    return path


def start_file(path: str, interval: float) -> None:
    """Write to path at exit and, with interval > 0, every interval seconds."""
    global _path, _interval, _lock, _hooks_registered
    import _thread
    _path, _interval = path, interval
    _lock = _thread.allocate_lock()
    if not _hooks_registered:
        import atexit
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
        _hooks_registered = True
    _start_thread()


def _start_thread() -> None:
    global _thread_started
    if _interval > 0 and not _thread_started:
        import _thread
        _thread.start_new_thread(_every, (_interval,))
        _thread_started = True


def _every(interval: float) -> None:
    from time import sleep
    while True:
        sleep(interval)
        if _path is None:
            return
        _flush_or_warn()


def _after_fork_in_child() -> None:
    """A forked child's counters start at zero (fastdeepcopy._ab): so does its share."""
    global _lock, _counted, _thread_started
    import _thread
    _lock = _thread.allocate_lock()
    _flushed.clear()
    _counted = False
    _thread_started = False
    if _path is not None:
        _start_thread()


def _at_exit() -> None:
    if _path is None:
        return
    _flush_or_warn()


def _flush_or_warn() -> None:
    try:
        flush()
    except Exception as exc:
        _warn(exc)


_warned = False


def _warn(exc: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        from . import _ab
        _ab._warn("cannot write metrics to %s (%s: %s)" % (_path, type(exc).__name__, exc))


def flush(path: str | None = None) -> str:
    """Add what this process counted since its last write to the file; its path."""
    global _counted
    path = path or _path
    if path is None:
        raise ValueError("no metrics file (FASTDEEPCOPY_METRICS_FILE)")
    lock = _lock
    if lock is not None:
        lock.acquire()
    try:
        now = samples()
        delta: dict[Key, float] = {}
        for k, v in now.items():
            before = _flushed.get(k, 0)
            # (zeros too: a series exists from the first write on)
            delta[k] = v - before if v >= before else v     # reset: all of v is new
        if not _counted:
            lab = tuple(sorted(labels().items()))
            delta[("fastdeepcopy_processes", "_total", lab)] = 1
        _add_to_file(path, delta)
        _counted = True
        _flushed.clear()
        _flushed.update(now)
        return path
    finally:
        if lock is not None:
            lock.release()


def _add_to_file(path: str, delta: dict[Key, float]) -> None:
    folder, name = os.path.split(path)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl
            fcntl.lockf(fd, fcntl.LOCK_EX)   # released when fd is closed
        except ImportError:
            pass
        try:
            with open(path, encoding="utf-8") as f:
                totals = parse(f.read())
        except FileNotFoundError:
            totals = {}
        for k, d in delta.items():
            totals[k] = totals.get(k, 0) + d
        tmp = os.path.join(folder, ".%s.%d.tmp" % (name, os.getpid()))
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(render(totals))
        os.replace(tmp, path)
    finally:
        os.close(fd)


# ---- prometheus_client -----------------------------------------------------------

class Collector:
    """A prometheus_client collector of this process's counters."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily
        values = samples()
        for family, typ, unit, help_text in FAMILIES:
            mine = {k: v for k, v in values.items() if k[0] == family}
            if not mine:
                continue
            names = [n for n, _ in next(iter(mine))[2]]
            if typ == "counter":
                m: Any = CounterMetricFamily(family, help_text, labels=names)
                for (_, _, lab), v in sorted(mine.items()):
                    m.add_metric([x for _, x in lab], v)
            else:
                m = SummaryMetricFamily(family, help_text, labels=names, unit=unit)
                for lab in sorted({k[2] for k in mine}):
                    m.add_metric([x for _, x in lab], mine.get((family, "_count", lab), 0),
                                 mine.get((family, "_sum", lab), 0.0))
            yield m


_registered: list[tuple[Any, Collector]] = []


def register(registry: Any = None) -> Collector | None:
    """Register a Collector in registry (default: prometheus_client's REGISTRY).

    None, silently, when prometheus_client cannot be imported; once per registry."""
    try:
        if registry is None:
            from prometheus_client import REGISTRY as registry
        else:
            import prometheus_client  # noqa: F401
    except ImportError:
        return None
    for reg, col in _registered:
        if reg is registry:
            return col
    col = Collector()
    registry.register(col)
    _registered.append((registry, col))
    return col
