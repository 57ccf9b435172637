"""Shared helpers of the reliability checks (issue 6).

Used by tests/test_reliability_*.py and by the scripts/reliability_*.py programs
that those tests (and the make targets of mk/reliability.mk) run as child
processes, so that a crash is a reported failure instead of the end of the run.

Paths are derived from this file's location: <root>/scripts/reliability_common.py,
so a mirror of the checkout (build/asan/X.Y, see mk/reliability.mk) uses its own
shim/ and tests/.
"""
import importlib
import json
import os
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
SHIM = os.path.join(ROOT, "shim")
TESTS = os.path.join(ROOT, "tests")

for _p in (TESTS, SHIM):
    if _p not in sys.path:
        sys.path.insert(0, _p)

LONG = os.environ.get("FASTDEEPCOPY_LONG", "") not in ("", "0")
# valgrind makes everything ~50x slower: the tests shrink their counts under it
VALGRIND = os.environ.get("FASTDEEPCOPY_VALGRIND", "") not in ("", "0")
# under `make test-asan`: slower, and ASan's quarantine holds freed memory (RSS grows)
ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

# A child's stderr containing one of these means a failure even when it exits 0.
BAD_STDERR = (
    "Fatal Python error",
    "Exception ignored",
    "AddressSanitizer",
    "runtime error:",          # UndefinedBehaviorSanitizer
    "LeakSanitizer",
    "Segmentation fault",
    "lost sys.stderr",
)


def engine():
    """The extension module (imported on demand: the package loads it lazily)."""
    return importlib.import_module("fastdeepcopy._engine")


def memo_bytes():
    """Bytes retained by this thread's cached native memo."""
    import fastdeepcopy
    fn = getattr(fastdeepcopy, "_memo_bytes", None)
    if fn is None:
        fn = engine()._memo_bytes
    return fn()


def rss_bytes():
    """Resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def check_expected_engine():
    """Under `make test-asan` the tests must use the instrumented build."""
    want = os.environ.get("FASTDEEPCOPY_EXPECT_ENGINE")
    if want:
        got = os.path.realpath(engine().__file__)
        assert got == os.path.realpath(want), "engine %s is not the expected %s" % (got, want)


PRELUDE = (
    "import sys, faulthandler\n"
    "faulthandler.enable()\n"
    "sys.path[:0] = [%r, %r, %r]\n" % (SHIM, TESTS, SCRIPTS)
)


def child_env(**extra):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)      # no start-up shim: children import what they need
    env.setdefault("PYTHONFAULTHANDLER", "1")
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def run_child(code=None, *, script=None, args=(), timeout=600, env=None, python=None):
    """Run `code` (with PRELUDE) or scripts/<script> in a fresh interpreter."""
    cmd = [python or sys.executable]
    if script is not None:
        cmd.append(os.path.join(SCRIPTS, script))
    else:
        cmd += ["-c", PRELUDE + code]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=child_env(**(env or {})), cwd=ROOT)


def describe_status(rc):
    if rc < 0:
        import signal
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        return "killed by %s" % name
    return "exit status %d" % rc


def assert_child_ok(proc, what="child"):
    """Exit status 0 and nothing alarming on stderr; returns the last JSON line."""
    tail = proc.stderr[-4000:]
    if proc.returncode != 0:
        raise AssertionError("%s: %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s"
                             % (what, describe_status(proc.returncode), proc.stdout[-2000:], tail))
    for bad in BAD_STDERR:
        if bad in proc.stderr:
            raise AssertionError("%s: %r on stderr\n%s" % (what, bad, tail))
    return last_json(proc)


def last_json(proc):
    for line in reversed(proc.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


def emit(obj):
    """A child's report: one JSON line on stdout."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def checked_call(fn, *args):
    """fn(*args) through a generic call path (map), which turns a result returned
    with an exception still set into SystemError.  (The eval loop's specialized
    calls of builtins do not check that in release builds: such a stray exception
    would only surface later, somewhere else.)"""
    return next(map(fn, *[[a] for a in args]))


def outcome(fn, *args):
    """("ok", value) or ("raise", type, message) -- BaseException included."""
    try:
        return ("ok", checked_call(fn, *args))
    except BaseException as e:  # noqa: B036 - KeyboardInterrupt is part of the contract
        return ("raise", type(e), str(e))


def exc_name(tp):
    return "%s.%s" % (tp.__module__, tp.__qualname__)


def same_exception(a, b):
    """Both outcomes raised, same type (by module and qualname: the reference has its
    own copy.Error) and the same message (type only for RecursionError)."""
    if a[0] != "raise" or b[0] != "raise":
        return False
    if (a[1].__module__, a[1].__qualname__) != (b[1].__module__, b[1].__qualname__):
        return False
    return issubclass(a[1], RecursionError) or a[2] == b[2]


def show(out):
    if out[0] == "ok":
        try:
            r = repr(out[1])
        except BaseException as e:  # noqa: B036
            r = "<repr raised %s>" % type(e).__name__
        return "ok: " + r[:200]
    return "raise %s: %s" % (exc_name(out[1]), out[2][:300])


def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def assert_refcounts_flat(objs, before, what=""):
    after = refcounts(objs)
    bad = [(i, type(o).__name__, b, a) for i, (o, b, a) in enumerate(zip(objs, before, after))
           if a != b]
    assert not bad, "%sreference counts of inputs changed (index, type, before, after): %s" % (
        what, bad[:10])
