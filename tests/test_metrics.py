"""Fleet metrics (issue 20): the OpenMetrics file and the prometheus_client collector.

Real child interpreters with the real start-up hook write the file; what they
added up is checked against what each of them counted (its FASTDEEPCOPY_STATS
file), and the file is read with prometheus_client's own parsers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
if SHIM not in sys.path:
    sys.path.insert(0, SHIM)

from fastdeepcopy import __version__, _ab, _metrics  # noqa: E402

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.openmetrics.parser import (  # noqa: E402
    text_string_to_metric_families as openmetrics_families)
from prometheus_client.parser import (  # noqa: E402
    text_string_to_metric_families as text_families)

PYVER = "%d.%d" % sys.version_info[:2]

# K top-level copies (one through a __deepcopy__ hook) and one that fails
WORK = textwrap.dedent('''
    import copy, sys
    class Hooked:
        def __init__(self, v):
            self.v = v
        def __deepcopy__(self, memo):
            return Hooked(copy.deepcopy(self.v, memo))
    K = int(sys.argv[1])
    data = {"rows": [{"id": i, "tags": ["a", "b"], "h": Hooked([i])} for i in range(20)]}
    for _ in range(K):
        copy.deepcopy(data)
    try:
        copy.deepcopy([(i for i in ())])
    except TypeError:
        pass
''')


def env(**settings: str) -> dict:
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("FASTDEEPCOPY", "PYTHON"))}
    e["PYTHONPATH"] = SHIM
    e.update({k: v for k, v in settings.items() if v is not None})
    return e


def child(code: str, *args: str, **settings: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env(**settings),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and err == "", (p.returncode, out, err)
    return out


def seeds(arm: str, sample: float, n: int) -> list[str]:
    return [s for s in ("m%d" % i for i in range(500))
            if _ab.decide_arm(sample, s)[0] == arm][:n]


def families(text: str) -> dict:
    """{(sample name, arm[, kind]): value}, read by the strict OpenMetrics parser."""
    out = {}
    for fam in openmetrics_families(text):
        for s in fam.samples:
            assert s.labels["python_version"] == PYVER
            assert s.labels["engine_version"] == __version__
            key = (s.name, s.labels["arm"]) + ((s.labels["kind"],) if "kind" in s.labels else ())
            out[key] = s.value
    return out


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """8 processes at once, 4 in each arm (seeded), all adding to one metrics file
    (at exit only) and each writing its own statistics file."""
    base = tmp_path_factory.mktemp("fleet")
    prom, stats = str(base / "textfile" / "fastdeepcopy.prom"), str(base / "stats")
    procs = []
    for arm in ("fast", "stdlib"):
        for i, seed in enumerate(seeds(arm, 0.5, 4)):
            procs.append(child(WORK, str(3 + i), FASTDEEPCOPY_SAMPLE="0.5",
                               FASTDEEPCOPY_SEED=seed, FASTDEEPCOPY_TIMING="1",
                               FASTDEEPCOPY_STATS=stats, FASTDEEPCOPY_METRICS_FILE=prom,
                               FASTDEEPCOPY_METRICS_INTERVAL="0"))
    for p in procs:
        finish(p)
    recs = []
    for name in os.listdir(stats):
        with open(os.path.join(stats, name)) as f:
            recs.append(json.load(f))
    with open(prom) as f:
        text = f.read()
    return {"text": text, "records": recs, "dir": os.path.dirname(prom)}


def test_the_file_adds_up_what_every_process_counted(fleet):
    got = families(fleet["text"])
    want: dict = {}

    def add(key, v):
        want[key] = want.get(key, 0) + v

    for r in fleet["records"]:
        arm, c = r["arm"], r["counters"]
        add(("fastdeepcopy_processes_total", arm), 1)
        add(("fastdeepcopy_calls_total", arm), c["calls"])
        add(("fastdeepcopy_copies_total", arm), c["toplevel"])
        add(("fastdeepcopy_errors_total", arm), c["errors"])
        if c["objects"] is not None:
            add(("fastdeepcopy_objects_total", arm), c["objects"])
        for kind, v in (r["fallbacks"] or {}).items():
            add(("fastdeepcopy_fallbacks_total", arm, kind), v)
        add(("fastdeepcopy_copy_seconds_count", arm), r["timing"]["calls"])
        add(("fastdeepcopy_copy_seconds_sum", arm), r["timing"]["ns"] / 1e9)
    assert sorted(r["arm"] for r in fleet["records"]) == ["fast"] * 4 + ["stdlib"] * 4
    assert set(got) == set(want)
    for key, v in want.items():
        assert got[key] == pytest.approx(v, rel=1e-9), key
    # what the workload did: 3+4+5+6 good copies and 4 failing ones per arm
    for arm in ("fast", "stdlib"):
        assert got[("fastdeepcopy_copies_total", arm)] == 18 + 4
        assert got[("fastdeepcopy_errors_total", arm)] == 4
    assert got[("fastdeepcopy_fallbacks_total", "fast", "hook_deepcopy")] == 18 * 20


def test_the_file_is_openmetrics_and_prometheus_text(fleet):
    text = fleet["text"]
    assert text.endswith("# EOF\n")
    fams = {f.name: f for f in openmetrics_families(text)}
    assert fams["fastdeepcopy_calls"].type == "counter"
    assert fams["fastdeepcopy_copy_seconds"].type == "summary"
    assert fams["fastdeepcopy_copy_seconds"].unit == "seconds"
    # the Prometheus text format parser (what node_exporter's textfile collector
    # uses) reads the same samples
    flat = {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_families(text) for s in f.samples}
    strict = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in openmetrics_families(text) for s in f.samples}
    assert flat == strict
    # nothing but the file and its lock file is left in the directory
    assert sorted(os.listdir(fleet["dir"])) == ["fastdeepcopy.prom", "fastdeepcopy.prom.lock"]


PERIODIC = textwrap.dedent('''
    import copy, os, sys, time, warnings
    # 3.12+ warns that fork() in a multi-threaded process (the writer thread) may
    # deadlock the child (documented; FASTDEEPCOPY_METRICS_INTERVAL=0 has no thread)
    warnings.simplefilter("ignore", DeprecationWarning)
    prom = os.environ["FASTDEEPCOPY_METRICS_FILE"]
    for _ in range(5):
        copy.deepcopy({"a": [1, 2]})
    deadline = time.monotonic() + 60
    while not os.path.exists(prom) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = os.fork()
    if pid == 0:                      # a forked child adds its own share
        copy.deepcopy({"b": [3]})
        copy.deepcopy({"b": [3]})
        sys.exit(0)
    os.waitpid(pid, 0)
    print(open(prom).read())
    sys.stdout.flush()
    os._exit(0)                       # no atexit: only the periodic write counted
''')


def test_periodic_writes_and_forked_children(tmp_path):
    prom = str(tmp_path / "m.prom")
    out = finish(child(PERIODIC, FASTDEEPCOPY_METRICS_FILE=prom,
                       FASTDEEPCOPY_METRICS_INTERVAL="0.05"))
    seen = families(out.rsplit("# EOF", 1)[0] + "# EOF\n")
    assert seen[("fastdeepcopy_copies_total", "fast")] >= 5
    with open(prom) as f:
        final = families(f.read())
    assert final[("fastdeepcopy_copies_total", "fast")] == 7     # 5 + the child's 2
    assert final[("fastdeepcopy_processes_total", "fast")] == 2


def test_counters_only_grow_across_a_reset(tmp_path):
    prom = str(tmp_path / "m.prom")
    code = textwrap.dedent('''
        import copy, fastdeepcopy
        from fastdeepcopy import _metrics
        for _ in range(4):
            copy.deepcopy([[1]])
        _metrics.flush()
        fastdeepcopy.reset_stats()
        copy.deepcopy([[1]])
        _metrics.flush()
        copy.deepcopy([[1]])
    ''')
    finish(child(code, FASTDEEPCOPY_METRICS_FILE=prom, FASTDEEPCOPY_METRICS_INTERVAL="0"))
    with open(prom) as f:
        got = families(f.read())
    assert got[("fastdeepcopy_copies_total", "fast")] == 6
    assert got[("fastdeepcopy_processes_total", "fast")] == 1


def test_render_and_parse_round_trip():
    key = ("fastdeepcopy_fallbacks", "_total",
           (("arm", 'we"ird\\arm\n'), ("kind", "hook_deepcopy")))
    values = {key: 3, ("fastdeepcopy_copy_seconds", "_sum", (("arm", "fast"),)): 0.25,
              ("fastdeepcopy_copy_seconds", "_count", (("arm", "fast"),)): 2}
    text = _metrics.render(values)
    assert _metrics.parse(text) == values
    [fam] = [f for f in openmetrics_families(text) if f.name == "fastdeepcopy_fallbacks"]
    assert fam.samples[0].labels["arm"] == 'we"ird\\arm\n'
    # lines that are not ours are dropped
    assert _metrics.parse("other_total{a=\"b\"} 1\n" + text) == values


def test_bad_metrics_destination_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = child("import copy; print(copy.deepcopy([1]))",
              FASTDEEPCOPY_METRICS_FILE=str(blocker / "sub" / "m.prom"))
    out, err = p.communicate(timeout=60)
    assert out.strip() == "[1]"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "fastdeepcopy: FASTDEEPCOPY_METRICS_FILE="), err


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_malformed_interval_stands_down(value, tmp_path):
    p = child("import copy, fastdeepcopy; copy.deepcopy([1]); print(fastdeepcopy.arm())",
              FASTDEEPCOPY_METRICS_FILE=str(tmp_path / "m.prom"),
              FASTDEEPCOPY_METRICS_INTERVAL=value)
    out, err = p.communicate(timeout=60)
    assert out.strip() == "None"
    assert len(err.strip().splitlines()) == 1 and "FASTDEEPCOPY_METRICS_INTERVAL" in err
    assert not os.listdir(tmp_path)


COLLECTOR = textwrap.dedent('''
    import copy, json, sys
    if sys.argv[1] == "hide":
        sys.modules["prometheus_client"] = None      # not importable
    for _ in range(3):
        copy.deepcopy({"k": [1, 2]})
    from fastdeepcopy import _ab
    st = _ab.stats()
    if sys.argv[1] == "hide":
        print(json.dumps({"metrics": _ab.metrics}))
        sys.exit(0)
    import prometheus_client
    from prometheus_client.openmetrics.exposition import generate_latest
    print(json.dumps({"stats": st, "metrics": _ab.metrics,
                      "text": generate_latest(prometheus_client.REGISTRY).decode()}))
''')


@pytest.mark.parametrize("sample", ["1", "0"])
def test_prometheus_client_collector(sample):
    out = json.loads(finish(child(COLLECTOR, "show", FASTDEEPCOPY_PROMETHEUS="1",
                                  FASTDEEPCOPY_SAMPLE=sample)))
    arm = "fast" if sample == "1" else "stdlib"
    assert out["metrics"] == "prometheus_client collector registered"
    got = families("\n".join(line for line in out["text"].splitlines()
                             if line.startswith(("fastdeepcopy", "# EOF"))
                             or " fastdeepcopy" in line) + "\n")
    c = out["stats"]["counters"]
    assert got[("fastdeepcopy_copies_total", arm)] == c["toplevel"] == 3
    assert got[("fastdeepcopy_calls_total", arm)] == c["calls"]
    assert got[("fastdeepcopy_errors_total", arm)] == 0
    assert (("fastdeepcopy_objects_total", arm) in got) is (arm == "fast")


def test_prometheus_client_absent_is_silent():
    out = json.loads(finish(child(COLLECTOR, "hide", FASTDEEPCOPY_PROMETHEUS="1")))
    assert out["metrics"] == "prometheus_client not importable: no collector"


def test_metrics_load_nothing_at_start_up(tmp_path):
    code = "import sys; print(' '.join(sorted(sys.modules)))"
    plain = set(finish(child(code)).split())
    with_metrics = set(finish(child(code, FASTDEEPCOPY_METRICS_FILE=str(tmp_path / "m.prom"),
                                    FASTDEEPCOPY_PROMETHEUS="1")).split())
    assert with_metrics == plain
    assert not os.listdir(tmp_path)       # a process that never copies writes nothing


def test_the_file_is_replaced_atomically(tmp_path):
    """Readers polling while 6 processes write see a whole file every time."""
    prom = str(tmp_path / "m.prom")
    procs = [child(WORK, "2", FASTDEEPCOPY_METRICS_FILE=prom,
                   FASTDEEPCOPY_METRICS_INTERVAL="0.01") for _ in range(6)]
    reads = 0
    while any(p.poll() is None for p in procs):
        try:
            with open(prom) as f:
                text = f.read()
        except FileNotFoundError:
            time.sleep(0.001)
            continue
        assert text.endswith("# EOF\n"), text
        families(text)
        reads += 1
    for p in procs:
        finish(p)
    with open(prom) as f:
        got = families(f.read())
    assert got[("fastdeepcopy_processes_total", "fast")] == 6
    assert got[("fastdeepcopy_copies_total", "fast")] == 6 * 3
