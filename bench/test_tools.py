"""Checks of the project's benchmark tools: ``python bench/test_tools.py`` (about 20 s).

Covers bench/impls.py, procs.py, overhead.py, report.py and suite.py helpers,
with tiny repeat counts: these test the machinery, never a speed.  Needs the
extension built for this interpreter (``make build``) for the ``ours`` parts;
copium is not needed (its parts are skipped without it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import procs  # noqa: E402
import report  # noqa: E402
import suite  # noqa: E402


def has_module(name: str) -> bool:
    code = "import sys; sys.path.insert(0, %r); import impls, importlib; importlib.import_module(%r)" % (HERE, name)
    return subprocess.run([sys.executable, "-c", code], env=suite.clean_env(), capture_output=True).returncode == 0


HAS_OURS = has_module("fastdeepcopy")
HAS_COPIUM = has_module("copium")


def py(code: str) -> str:
    full = "import sys; sys.path.insert(0, %r)\n%s" % (HERE, code)
    proc = subprocess.run([sys.executable, "-c", full], env=suite.clean_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc.stdout.strip()


def run_tool(script: str, *args: str) -> dict:
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run([sys.executable, os.path.join(HERE, script), *args, "--json", path],
                              env=suite.clean_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(proc.stdout[-2000:] + proc.stderr[-2000:])
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


class ImplsChecks(unittest.TestCase):
    def test_unpatched_process_runs_stdlib(self) -> None:
        self.assertEqual(py("import impls; print(impls.deepcopy_routes_to_stdlib())"), "True")

    @unittest.skipUnless(HAS_OURS, "extension not built for this interpreter")
    def test_ours_patched_routes_away_from_stdlib(self) -> None:
        out = py("import impls, copy, fastdeepcopy\n"
                 "f = impls.ours_patched\n"
                 "print(impls.deepcopy_routes_to_stdlib(), f is copy.deepcopy, impls.ours is fastdeepcopy.deepcopy)")
        self.assertEqual(out, "False True True")

    @unittest.skipUnless(HAS_OURS, "extension not built for this interpreter")
    def test_direct_impl_does_not_patch(self) -> None:
        self.assertEqual(py("import impls; f = impls.ours; print(impls.deepcopy_routes_to_stdlib())"), "True")

    @unittest.skipUnless(HAS_COPIUM, "copium not installed")
    def test_copium_patched_routes_away_from_stdlib(self) -> None:
        self.assertEqual(py("import impls; f = impls.copium_patched; print(impls.deepcopy_routes_to_stdlib())"),
                         "False")

    def test_unknown_name(self) -> None:
        import impls

        with self.assertRaises(AttributeError):
            impls.no_such_impl  # noqa: B018


class ProcsChecks(unittest.TestCase):
    def test_contender_syntax(self) -> None:
        c = procs.Contender("a=impls:ours@prime=lists_100k")
        self.assertEqual((c.label, c.spec, c.prime), ("a", "impls:ours", "lists_100k"))
        self.assertEqual(procs.Contender("pickle").label, "pickle")
        with self.assertRaises(SystemExit):
            procs.Contender("impls:ours")  # no label
        with self.assertRaises(SystemExit):
            procs.Contender("a=pickle@prime=nope")
        with self.assertRaises(SystemExit):
            procs.Contender("a=pickle@bogus=1")

    def test_run_shape_ratios_and_mismatch(self) -> None:
        data = run_tool("procs.py", "--cases", "pyperf_memo", "--contender", "stdlib", "--contender", "pickle",
                        "--contender", "naive=selftest:naive_deepcopy", "--contender", "p2=pickle@prime=lists_100k",
                        "--repeat", "3", "--min-time", "0.001", "--cpu", "none")
        case = data["cases"]["pyperf_memo"]
        self.assertEqual(set(case["timing"]), {"stdlib", "pickle", "p2"})
        self.assertAlmostEqual(case["timing"]["stdlib"]["ratio_median"], 1.0)
        self.assertEqual(len(case["timing"]["pickle"]["samples_ns"]), 3)
        self.assertFalse(case["check"]["naive"]["ok"])  # loses the sharing: caught, not timed
        self.assertIn("tracemalloc_peak_bytes", case["memory"]["pickle"])

    def test_same_spec_gets_same_loops(self) -> None:
        data = run_tool("procs.py", "--cases", "small_dict", "--contender", "a=pickle", "--contender",
                        "b=pickle@prime=json_records", "--repeat", "2", "--min-time", "0.001", "--no-memory")
        t = data["cases"]["small_dict"]["timing"]
        self.assertEqual(t["a"]["loops"], t["b"]["loops"])
        self.assertIsNotNone(data["meta"]["cpu"])

    def test_unloadable_impl_is_reported(self) -> None:
        data = run_tool("procs.py", "--cases", "small_dict", "--contender", "stdlib", "--contender",
                        "x=no_such_module:deepcopy", "--repeat", "1", "--min-time", "0.001", "--no-memory")
        self.assertIn("cannot load", data["cases"]["small_dict"]["check"]["x"]["error"])

    @unittest.skipUnless(HAS_OURS, "extension not built for this interpreter")
    def test_patched_custom_deepcopy(self) -> None:
        data = run_tool("procs.py", "--cases", "custom_deepcopy", "--contender", "stdlib", "--contender",
                        "ours=impls:ours_patched", "--repeat", "2", "--min-time", "0.001", "--no-memory")
        case = data["cases"]["custom_deepcopy"]
        self.assertTrue(case["check"]["ours"]["ok"], case["check"]["ours"])
        self.assertFalse(case["info"]["ours"]["copy_deepcopy_runs_stdlib"])


@unittest.skipUnless(HAS_OURS, "extension not built for this interpreter")
class OverheadChecks(unittest.TestCase):
    def test_overhead_json(self) -> None:
        data = run_tool("overhead.py", "--impl", "ours", "--cases", "small_dict", "--repeat", "3",
                        "--min-time", "0.001")
        case = data["cases"]["small_dict"]
        self.assertTrue(all(c["ok"] for c in case["check"].values()))
        self.assertEqual({t["loops"] for t in case["timing"].values()}.__len__(), 1)  # same loop count
        self.assertGreater(case["patched_over_direct"], 0)
        self.assertFalse(data["patch"]["copy_deepcopy_runs_stdlib"])


class ReportChecks(unittest.TestCase):
    def test_replace_section(self) -> None:
        text = "# doc\n\nintro\n"
        once = report.replace_section(text, "3.12", "A\n")
        self.assertIn(report.begin_marker("3.12"), once)
        twice = report.replace_section(once, "3.12", "B\n")
        self.assertNotIn("\nA\n", twice)
        self.assertEqual(twice.count(report.end_marker("3.12")), 1)
        self.assertTrue(twice.startswith(text.rstrip("\n")))
        other = report.replace_section(twice, "3.11", "C\n")
        self.assertIn("\nB\n", other)

    def test_targets_from_synthetic_results(self) -> None:
        def case(**medians: float) -> dict:
            return {"timing": {k: {"median_ns": v, "min_ns": v} for k, v in medians.items()},
                    "memory": {k: {"tracemalloc_peak_bytes": 100 if k == "stdlib" else 50} for k in medians},
                    "check": {}}

        common = {"python": "3.12.1", "copium": {"ok": True, "version": "0"}, "commands": ["c1", "c2"],
                  "engine": {}, "date": "d", "loadavg": [1.0, 1, 1]}
        cases = {n: case(stdlib=100.0, pickle=50.0, ours=10.0, copium=30.0)
                 for n in ("dataclasses", "slots_objects", "namedtuples", "datetime_decimal", "graph_cyclic",
                           "enums", "custom_deepcopy")}
        main = dict(common, kind="main", run={"cases": cases, "impls": {"pickle": {}, "ours": {}, "copium": {}},
                                              "meta": {"repeat": 1, "min_time_s": 0.1}},
                    patched={"cases": {"custom_deepcopy": case(stdlib=100.0, ours=80.0, copium=40.0)},
                             "impls": {"stdlib": {}, "ours": {}, "copium": {}}})
        t = report.targets({"main": main}, "3.12")
        verdicts = {r[0]: r[2] for r in t.rows}
        self.assertEqual(verdicts["geometric mean: ours >= 1.5x copium"], "met")  # (3^6 * 0.5)^(1/7) = 2.3
        self.assertEqual(verdicts["cyclic graphs: ours >= 1.5x copium"], "met")
        self.assertEqual(verdicts["custom __deepcopy__ (patched): ours >= 1.5x stdlib"], "**not met**")  # 1.25x
        self.assertEqual(verdicts["enums: ours faster than pickle"], "met")
        self.assertTrue(report.table_main(main).markdown().startswith("#### All cases"))


class SuiteChecks(unittest.TestCase):
    def test_shell_line_and_env(self) -> None:
        line = suite.shell_line([sys.executable, os.path.join(HERE, "run.py"), "--cases", "a b"],
                                {"PYTHONPATH": suite.SHIM})
        self.assertIn("PYTHONPATH=shim", line)
        self.assertIn("bench/run.py", line)
        self.assertIn("'a b'", line)
        os.environ["FASTDEEPCOPY"] = "1"
        try:
            self.assertNotIn("FASTDEEPCOPY", suite.clean_env())
            self.assertEqual(suite.clean_env({"FASTDEEPCOPY": "0"})["FASTDEEPCOPY"], "0")
        finally:
            del os.environ["FASTDEEPCOPY"]


if __name__ == "__main__":
    unittest.main()
