"""A/B testing (issue 4): arms, statistics files, shadow verification, report.

Most tests run real child interpreters with the real start-up hook
(PYTHONPATH=<repo>/shim) and check what they did against what they wrote.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
if SHIM not in sys.path:
    sys.path.insert(0, SHIM)

from fastdeepcopy import _ab, _compare, _engine  # noqa: E402

# The workload of the child processes, also imported in-process to measure
# what the engine counts for it.
WORKLOAD = '''
import copy

DEEPCOPY = copy.deepcopy      # what H.__deepcopy__ calls for its contents


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class H:
    """Copies itself through a __deepcopy__ hook that recurses with the memo."""

    def __init__(self, v):
        self.v = v

    def __deepcopy__(self, memo):
        return H(DEEPCOPY(self.v, memo))


def structure():
    shared = [1, 2]
    return {"a": [1, 2.5, "s", (3, shared)], "b": shared, "p": Point(1, [2]),
            "h": H({"k": [3]}), "t": (1, 2)}


def failing():
    return [1, (i for i in ())]          # generators cannot be deep-copied


def run(deepcopy, n=7):
    """n copies of structure() and one failing copy: n + 1 top-level calls,
    n nested calls (from H.__deepcopy__), 1 error."""
    s = structure()
    for _ in range(n):
        deepcopy(s)
    try:
        deepcopy(failing())
    except TypeError:
        pass
    else:
        raise AssertionError("copying a generator should fail")
'''

CHILD = '''
import json, os, sys
sys.path.insert(0, {workdir!r})
import copy
import abwork
abwork.DEEPCOPY = copy.deepcopy
abwork.run(copy.deepcopy, {n})
import fastdeepcopy
from fastdeepcopy import _ab
print(json.dumps({{"pid": os.getpid(), "arm": _ab.arm, "status": fastdeepcopy._status(),
                   "wrapper": _ab._wrapper}}))
'''

N = 7


def child_env(**settings: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FASTDEEPCOPY") and k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = SHIM
    env.update(settings)
    return env


def start(code: str, **settings: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env=child_env(**settings),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, "child failed (%d):\n%s\n%s" % (p.returncode, out, err)
    return out, err


def run_child(code: str, **settings: str) -> tuple[str, str]:
    return finish(start(code, **settings))


def seeds_for(arm: str, sample: float, count: int, prefix: str = "s") -> list[str]:
    out = []
    i = 0
    while len(out) < count:
        seed = "%s%d" % (prefix, i)
        if _ab.decide_arm(sample, seed)[0] == arm:
            out.append(seed)
        i += 1
    return out


def read_json_files(folder: str) -> list[dict]:
    out = []
    for name in sorted(os.listdir(folder)):
        assert name.endswith(".json") and not name.startswith("."), name
        with open(os.path.join(folder, name)) as f:
            out.append(json.load(f))
    return out


def binomial_ok(hits: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    sd = math.sqrt(n * p * (1 - p))
    return abs(hits - n * p) <= sigmas * sd + 1


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("abwork")
    (d / "abwork.py").write_text(WORKLOAD)
    return str(d)


@pytest.fixture(scope="module")
def expected(workdir):
    """What the engine counts for abwork.run, measured in this process."""
    sys.path.insert(0, workdir)
    try:
        import abwork
    finally:
        sys.path.remove(workdir)
    abwork.DEEPCOPY = _engine.deepcopy
    before = _engine.stats()
    abwork.run(_engine.deepcopy, N)
    after = _engine.stats()
    d = {k: after[k] - before[k] for k in after}
    # The workload is what the docstring of run() says.
    assert d["toplevel"] == N + 1 and d["calls"] == 2 * N + 1 and d["errors"] == 1
    assert d["hook_deepcopy"] == N
    return d


@pytest.fixture(scope="module")
def batch(workdir, tmp_path_factory):
    """20 processes started at once, 10 seeded into each arm, timing on, all
    writing into the same directory ALL/; then their files are sorted by the
    arm they recorded into A/ (fast) and B/ (stdlib) for the --vs report."""
    base = tmp_path_factory.mktemp("abstats")
    dirs = {k: str(base / k) for k in ("ALL", "A", "B")}
    code = CHILD.format(workdir=workdir, n=N)
    procs = []
    for arm in ("fast", "stdlib"):
        for seed in seeds_for(arm, 0.5, 10, prefix="batch-"):
            procs.append((arm, start(code, FASTDEEPCOPY_SAMPLE="0.5",
                                     FASTDEEPCOPY_SEED=seed,
                                     FASTDEEPCOPY_STATS=dirs["ALL"],
                                     FASTDEEPCOPY_TIMING="1")))
    children = []
    for arm, p in procs:
        out, err = finish(p)
        assert err == "", err
        info = json.loads(out.strip().splitlines()[-1])
        info["expected_arm"] = arm
        children.append(info)
    os.mkdir(dirs["A"])
    os.mkdir(dirs["B"])
    for name in os.listdir(dirs["ALL"]):
        with open(os.path.join(dirs["ALL"], name), "rb") as f:
            data = f.read()
        side = "A" if json.loads(data)["arm"] == "fast" else "B"
        with open(os.path.join(dirs[side], name), "wb") as f:
            f.write(data)
    return {"dirs": dirs, "children": children}


# ---- the arm decision ------------------------------------------------------------
def test_arm_fraction_over_many_seeds():
    n = 2000
    for sample in (0.0, 0.05, 0.3, 0.5, 1.0):
        fast = sum(_ab.decide_arm(sample, "host-%d" % i)[0] == "fast" for i in range(n))
        if sample in (0.0, 1.0):
            assert fast == n * sample
        else:
            assert binomial_ok(fast, n, sample), (sample, fast)


def test_seeded_draws_are_uniform_and_stable():
    draws = [_ab.seed_draw("worker-%d" % i) for i in range(2000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    bins = [0] * 10
    for u in draws:
        bins[int(u * 10)] += 1
    assert all(binomial_ok(b, 2000, 0.1) for b in bins), bins
    # stable: pinned values (a change would reshuffle every rollout)
    assert _ab.seed_draw("worker-1") == draws[1]
    assert _ab.decide_arm(0.5, "worker-1") == _ab.decide_arm(0.5, "worker-1")


def test_widening_keeps_the_fast_processes():
    for i in range(500):
        seed = "pod-%d" % i
        if _ab.decide_arm(0.05, seed)[0] == "fast":
            assert _ab.decide_arm(0.25, seed)[0] == "fast"


def test_unseeded_draws_are_random():
    n = 2000
    fast = sum(_ab.decide_arm(0.3)[0] == "fast" for _ in range(n))
    assert binomial_ok(fast, n, 0.3), fast


# ---- real processes ----------------------------------------------------------------
def test_sampling_in_real_processes(workdir, tmp_path):
    code = CHILD.format(workdir=workdir, n=1)
    procs = [("0", start(code, FASTDEEPCOPY_SAMPLE="0")) for _ in range(6)]
    procs += [("1", start(code, FASTDEEPCOPY_SAMPLE="1")) for _ in range(6)]
    procs += [("0.3", start(code, FASTDEEPCOPY_SAMPLE="0.3")) for _ in range(30)]
    arms: dict[str, list[str]] = {"0": [], "1": [], "0.3": []}
    for sample, p in procs:
        out, err = finish(p)
        info = json.loads(out.strip().splitlines()[-1])
        arms[sample].append(info["arm"])
        if info["arm"] == "stdlib":
            # stdlib's code behind a counting wrapper; copy.copy untouched
            assert info["status"]["copy"] is None
            assert "_stdlib_entry" in info["status"]["deepcopy"]
        else:
            assert "engine" in info["status"]["copy"]
    assert arms["0"] == ["stdlib"] * 6
    assert arms["1"] == ["fast"] * 6
    # 30 processes at 0.3: both arms show up (all-one-arm odds: < 1e-4)
    assert 0 < arms["0.3"].count("fast") < 30
    assert binomial_ok(arms["0.3"].count("fast"), 30, 0.3)


def test_same_seed_same_arm_in_every_process(workdir):
    code = CHILD.format(workdir=workdir, n=1)
    fast_seed = seeds_for("fast", 0.5, 1, prefix="same-")[0]
    slow_seed = seeds_for("stdlib", 0.5, 1, prefix="same-")[0]
    procs = []
    for hashseed in ("0", "1", "random"):
        for seed in (fast_seed, slow_seed):
            procs.append((seed, start(code, FASTDEEPCOPY_SAMPLE="0.5",
                                      FASTDEEPCOPY_SEED=seed, PYTHONHASHSEED=hashseed)))
    for seed, p in procs:
        out, _ = finish(p)
        arm = json.loads(out.strip().splitlines()[-1])["arm"]
        assert arm == ("fast" if seed == fast_seed else "stdlib"), seed


def test_fast_arm_with_stats_only_adds_no_wrapper(workdir, tmp_path):
    out, err = run_child(CHILD.format(workdir=workdir, n=2),
                         FASTDEEPCOPY_STATS=str(tmp_path))
    info = json.loads(out.strip().splitlines()[-1])
    assert info["arm"] == "fast" and info["wrapper"] == "none"
    assert info["status"]["deepcopy"] in ("vectorcall -> engine", "trampoline -> engine")
    [rec] = read_json_files(str(tmp_path))
    assert rec["counters"]["toplevel"] == 3 and rec["timing"] is None


def test_stats_files_complete_and_never_clobbered(batch, expected):
    recs = read_json_files(batch["dirs"]["ALL"])
    assert len(recs) == 20          # one file per process, none overwritten
    files = {"fast": [r for r in recs if r["arm"] == "fast"],
             "stdlib": [r for r in recs if r["arm"] == "stdlib"]}
    assert len(files["fast"]) == 10 and len(files["stdlib"]) == 10
    pids = {c["pid"]: c for c in batch["children"]}
    seen = set()
    for arm, recs in files.items():
        for rec in recs:
            child = pids[rec["pid"]]
            assert child["arm"] == child["expected_arm"] == rec["arm"] == arm
            seen.add(rec["pid"])
            assert rec["format"] == "fastdeepcopy-stats/1"
            assert rec["settings"]["sample"] == 0.5 and rec["settings"]["timing"] is True
            c = rec["counters"]
            # what the child did: N + 1 top-level calls, N nested, 1 error
            assert c["toplevel"] == N + 1
            assert c["calls"] == 2 * N + 1
            assert c["errors"] == 1
            assert rec["timing"]["calls"] == N + 1
            assert rec["timing"]["nested"] == N
            assert rec["timing"]["ns"] > 0
            if arm == "fast":
                assert c["objects"] == expected["objects"]
                assert rec["fallbacks"]["hook_deepcopy"] == N
                assert rec["fallbacks"]["memo_exposed"] == expected["memo_exposed"]
            else:
                assert c["objects"] is None and rec["fallbacks"] is None
    assert seen == set(pids)
    for name in os.listdir(batch["dirs"]["ALL"]):
        assert re.fullmatch(r"fastdeepcopy-\d+-[0-9a-f]{8}\.json", name), name


def test_stats_file_template_and_no_overwrite(tmp_path, monkeypatch):
    spec = str(tmp_path / "sub" / "run.json")
    p1 = _ab.write_stats(spec)
    p2 = _ab.write_stats(spec)
    assert p1 != p2
    for p in (p1, p2):
        assert re.fullmatch(r"run\.%d-[0-9a-f]{8}\.json" % os.getpid(), os.path.basename(p))
        assert json.load(open(p))["pid"] == os.getpid()
    # a name that is taken is never overwritten
    monkeypatch.setattr(_ab.os, "urandom", lambda n: b"\x01" * n)
    taken = _ab.stats_path(spec)
    with open(taken, "w") as f:
        f.write("precious")
    with pytest.raises(FileExistsError):
        _ab.write_stats(spec)
    assert open(taken).read() == "precious"
    assert not [n for n in os.listdir(tmp_path / "sub") if n.endswith(".tmp")]


def test_forked_child_writes_its_own_numbers(workdir, tmp_path):
    code = textwrap.dedent('''
        import copy, os, sys
        copy.deepcopy([1])                       # activates; 1 top-level call
        pid = os.fork()
        if pid == 0:
            for _ in range(3):
                copy.deepcopy({"a": [1]})
            sys.exit(0)
        os.waitpid(pid, 0)
        for _ in range(4):
            copy.deepcopy({"a": [1]})
        print(os.getpid(), pid)
    ''')
    out, _ = run_child(code, FASTDEEPCOPY_STATS=str(tmp_path))
    parent, child = map(int, out.split())
    recs = {r["pid"]: r for r in read_json_files(str(tmp_path))}
    assert set(recs) == {parent, child}
    assert recs[parent]["counters"]["toplevel"] == 5
    assert recs[child]["counters"]["toplevel"] == 3


def test_bad_stats_destination_is_one_line_and_no_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out, err = run_child("import copy; print(copy.deepcopy([1, [2]]))",
                         FASTDEEPCOPY_STATS=str(blocker / "stats"))
    assert out.strip() == "[1, [2]]"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastdeepcopy: FASTDEEPCOPY_STATS="), err


def test_malformed_sample_falls_back_to_stdlib(tmp_path):
    out, err = run_child("import copy, fastdeepcopy; copy.deepcopy([1]); "
                         "print(fastdeepcopy._status())",
                         FASTDEEPCOPY_SAMPLE="lots", FASTDEEPCOPY_STATS=str(tmp_path))
    assert len(err.strip().splitlines()) == 1 and "FASTDEEPCOPY_SAMPLE" in err
    assert "None" in out and not os.listdir(tmp_path)


def test_validation_of_settings_objects(capsys):
    class S:
        quiet = False
        sample = 2.5
        verify = "often"
        seed = 17
        stats = None
        timing = 0
        copy = True
    conf = _ab._validate(S())
    assert conf["sample"] == 1.0 and conf["verify"] == 0.0 and conf["seed"] is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("fastdeepcopy: ") for line in err)


def test_startup_imports_stay_light(workdir, tmp_path):
    code = ("import copy, sys; copy.deepcopy({'a': [1]}); "
            "print(' '.join(sorted(m for m in ('json', 're', 'argparse', 'hashlib', 'random', "
            "'zlib', 'typing', 'fastdeepcopy._compare', 'fastdeepcopy._report') "
            "if m in sys.modules)))")
    base, _ = run_child(code, FASTDEEPCOPY="0")
    for arm in ("0", "1"):
        out, _ = run_child(code, FASTDEEPCOPY_SAMPLE=arm, FASTDEEPCOPY_STATS=str(tmp_path),
                           FASTDEEPCOPY_TIMING="1")
        assert out == base, (arm, out, base)


# ---- the stdlib arm ------------------------------------------------------------------
def test_stdlib_arm_is_the_stdlib_and_counts_cheaply(tmp_path):
    code = textwrap.dedent('''
        import copy, json
        class Mine:
            pass
        seen = []
        def mine_copier(x, memo):
            seen.append(x)
            return "copied-mine"
        copy._deepcopy_dispatch[Mine] = mine_copier   # honoured, as by stdlib
        deep = [[[[i, {"k": (i, [i])}] for i in range(50)]]]
        y = copy.deepcopy(deep)
        assert y == deep and y[0][0][3][1] is not deep[0][0][3][1]
        assert copy.deepcopy([Mine()]) == ["copied-mine"] and len(seen) == 1
        assert copy.copy.__code__.co_name == "copy"
        from fastdeepcopy import _ab
        s = _ab.stats()
        print(json.dumps([s["arm"], s["counters"]]))
    ''')
    out, err = run_child(code, FASTDEEPCOPY_SAMPLE="0", FASTDEEPCOPY_STATS=str(tmp_path))
    arm, counters = json.loads(out)
    assert arm == "stdlib"
    # hundreds of objects, two calls: the recursion never went through the wrapper
    assert counters == {"calls": 2, "toplevel": 2, "objects": None, "errors": 0}


# ---- shadow verification ---------------------------------------------------------------
VERIFY_CHILD = textwrap.dedent('''
    import copy, json, sys
    from fastdeepcopy import _ab, _engine

    class Foo:
        def __init__(self, x):
            self.x = x

    copy.deepcopy(0)                     # activates the shim (configure runs)
    real = _ab._engine_deepcopy

    def buggy(x, memo=None):
        y = real(x, memo)
        if memo is None and isinstance(y, list) and len(y) > 3 and isinstance(y[3], dict):
            y[3]["a"].x = 2            # the planted divergence
        return y

    def raising(x, memo=None):
        raise ValueError("engine bug")

    _ab._engine_deepcopy = buggy
    results = []
    for i in range(30):
        data = [0, 1, 2, {"a": Foo(1)}]
        y = copy.deepcopy(data)
        results.append(y[3]["a"].x)
    _ab._engine_deepcopy = raising
    fine = copy.deepcopy({"b": [1]})
    _ab._engine_deepcopy = real
    try:
        copy.deepcopy([(i for i in ())])
    except TypeError as e:
        stdlib_error = type(e).__name__
    s = _ab.stats()
    print(json.dumps({"results": results, "fine": fine, "stdlib_error": stdlib_error,
                      "verify": s["verify"]}))
''')


def test_verification_catches_a_planted_divergence(tmp_path):
    out, err = run_child(VERIFY_CHILD, FASTDEEPCOPY_VERIFY="1",
                         FASTDEEPCOPY_STATS=str(tmp_path))
    res = json.loads(out)
    # every call got the stdlib's (correct) result
    assert res["results"] == [1] * 30
    assert res["fine"] == {"b": [1]}
    assert res["stdlib_error"] == "TypeError"
    v = res["verify"]
    assert v["checked"] == 1 + 30 + 1 + 1
    assert v["mismatches"] == 31 and v["fast_raised"] == 1 and v["stdlib_raised"] == 1
    line = "list[3].dict['a'].Foo.x: int 2 (fast) != int 1 (stdlib)"
    assert v["examples"][line] == 30
    assert "<root>: the fast copy raised ValueError, stdlib returned a dict" in v["examples"]
    # rate-limited on stderr: at most 10 lines a minute
    lines = [ln for ln in err.splitlines() if "differs from stdlib" in ln]
    assert len(lines) == 10 and line in lines[0]
    assert "verify: 21 more mismatch line(s) were not shown (31 mismatches in all)" in err
    [rec] = read_json_files(str(tmp_path))
    assert rec["verify"]["mismatches"] == 31


def test_verification_sampling_fraction_and_shadow_isolation():
    code = textwrap.dedent('''
        import copy, json
        from fastdeepcopy import _ab, _engine

        class Hooked:
            def __init__(self, v):
                self.v = v
            def __deepcopy__(self, memo):
                return Hooked(copy.deepcopy(self.v, memo))

        copy.deepcopy(0)
        n = 400
        before = _engine.stats()["calls"]
        for _ in range(n):
            copy.deepcopy([Hooked([1, 2])])
        engine_calls = _engine.stats()["calls"] - before
        v = _ab.stats()["verify"]
        print(json.dumps([n, engine_calls, v["checked"], v["mismatches"]]))
    ''')
    out, _ = run_child(code, FASTDEEPCOPY_VERIFY="0.25", FASTDEEPCOPY_SEED="fixed")
    n, engine_calls, checked, mismatches = json.loads(out)
    assert binomial_ok(checked, n, 0.25), checked
    assert mismatches == 0
    # the engine ran each copy once (top level + the hook's nested call), never
    # for the shadow copy: its nested call stayed in the private stdlib
    assert engine_calls == 2 * n


# ---- report -----------------------------------------------------------------------------
def report(*args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "fastdeepcopy", "report", *args],
                       env=child_env(), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_report_json_matches_the_processes(batch, expected):
    a, b = batch["dirs"]["A"], batch["dirs"]["B"]
    rc, out, err = report(a, "--vs", b, "--json")
    assert rc == 0, err
    r = json.loads(out)
    ra, rb = r["a"], r["b"]
    assert ra["processes"] == rb["processes"] == 10
    assert ra["arms"] == {"fast": 10} and rb["arms"] == {"stdlib": 10}
    for side in (ra, rb):
        assert side["calls"] == 10 * (2 * N + 1)
        assert side["toplevel"] == 10 * (N + 1)
        assert side["errors"] == 10
        assert side["timed_calls"] == 10 * (N + 1)
    assert ra["objects"] == 10 * expected["objects"] and rb["objects_processes"] == 0
    assert ra["fallbacks"]["hook_deepcopy"] == 10 * N
    assert r["ratio"]["calls_per_process"] == 1.0
    assert r["ratio"]["processes"] == 1.0
    us_a = ra["timed_ns"] / ra["timed_calls"] / 1000
    assert ra["rates"]["us_per_timed_copy"] == pytest.approx(us_a)
    assert r["ratio"]["us_per_timed_copy"] == pytest.approx(
        ra["rates"]["us_per_timed_copy"] / rb["rates"]["us_per_timed_copy"])


def test_report_text_side_by_side_and_single_dir(batch, tmp_path):
    a, b = batch["dirs"]["A"], batch["dirs"]["B"]
    rc, out, _ = report(a, "--vs", b)
    assert rc == 0
    rows = {}
    for line in out.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 3:
            rows.setdefault(cells[0], cells[1:])
    assert rows["processes"] == ["10", "10", "1.00"]
    assert rows["calls"] == ["{:,}".format(10 * (2 * N + 1))] * 2
    assert rows["top-level copies"] == ["80", "80"]
    assert rows["errors raised"] == ["10", "10"]
    assert rows["timed copies"] == ["80", "80"]
    assert "us" in rows["time per top-level copy"][0]
    # one directory with both arms: split by the arm each process recorded
    both = tmp_path / "both"
    both.mkdir()
    folder = batch["dirs"]["ALL"]
    for name in os.listdir(folder):
        (both / name).write_bytes(open(os.path.join(folder, name), "rb").read())
    (both / "garbage.json").write_text("{not json")
    rc, out2, _ = report(str(both), "--json")
    r = json.loads(out2)
    assert r["a"]["arms"] == {"fast": 10} and r["b"]["arms"] == {"stdlib": 10}
    assert r["a"]["calls"] == r["b"]["calls"] == 10 * (2 * N + 1)
    assert len(r["unreadable"]) == 1 and "garbage.json" in r["unreadable"][0]


def test_report_usage_errors(tmp_path):
    assert report()[0] == 2
    assert report(str(tmp_path / "missing"))[0] == 2
    rc, _, err = report(str(tmp_path))           # exists, but empty
    assert rc == 1 and "no statistics files" in err


# ---- the comparison ---------------------------------------------------------------------
class Foo:
    def __init__(self, x):
        self.x = x


class Slotted:
    __slots__ = ("a", "__b")

    def __init__(self, a, b):
        self.a = a
        self.__b = b


def test_compare_equal_copies_of_a_rich_structure():
    import collections
    import datetime
    shared = [1]
    o = [0, "s", 1.5, float("nan"), b"x", None, (shared, shared), {"a": Foo({1, 2})},
         frozenset({3}), collections.OrderedDict(k=[1]), collections.deque([1, [2]], 3),
         collections.defaultdict(list, z=[1]), datetime.date(2020, 1, 2), bytearray(b"ab"),
         Slotted(1, [2]), len, Foo, set(Foo(i) for i in range(10))]
    o.append(o)
    assert _compare.compare(copy.deepcopy(o), copy.deepcopy(o), o) is None


@pytest.mark.parametrize("mutate, expect", [
    (lambda b: setattr(b[3]["a"], "x", 2),
     "list[3].dict['a'].Foo.x: int 1 (fast) != int 2 (stdlib)"),
    (lambda b: b.__setitem__(1, True), "list[1]: int 1 (fast) != bool True (stdlib)"),
    (lambda b: b.__setitem__(4, (b[4][0], list(b[4][0]))), "list[4].tuple[1]: sharing differs"),
    (lambda b: b.__setitem__(5, list(b)), "list[5]: sharing differs"),
    (lambda b: b[6]._Slotted__b.append(3), "list[6].Slotted._Slotted__b: list of length"),
    (lambda b: b[7].add(99), "list[7]: set of size"),
])
def test_compare_reports_the_first_difference(mutate, expect):
    def make():
        s = [9]
        o = [0, 1, 2, {"a": Foo(1)}, (s, s), None, Slotted(1, [2]), {1, 2}]
        o[5] = o
        return o
    o = make()
    a, b = copy.deepcopy(o), copy.deepcopy(o)
    mutate(b)
    diff = _compare.compare(a, b, o)
    assert diff is not None and diff.startswith(expect), diff


def test_compare_sharing_with_the_original():
    inner = Foo(1)
    o = {"a": inner}
    a, b = copy.deepcopy(o), copy.deepcopy(o)
    a["a"] = inner                       # the fast side forgot to copy it
    assert "reuses the original Foo" in _compare.compare(a, b, o)


def test_compare_is_iterative():
    def chain(n):
        top = x = []
        for _ in range(n):
            x.append([])
            x = x[0]
        return top
    assert _compare.compare(chain(100000), chain(100000)) is None
    diff = _compare.compare(chain(5000), chain(5001))
    assert "<" in diff and diff.endswith("list of length 0 (fast) != length 1 (stdlib)")
