"""Reliability (issue 6): a bounded slice of the differential fuzzing campaign.

scripts/reliability_fuzz.py draws specs of nested containers, shared references,
cycles and hostile classes, builds a fresh original for stdlib and for us, and
requires the same outcome.  `make fuzz` runs the long campaign (many seeds,
FUZZ_EXAMPLES each); this slice runs FASTDEEPCOPY_FUZZ_SLICE (default 100)
derandomized examples in a child process (a crash is a failure, not the end of
the run).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
import reliability_common as rc  # noqa: E402

EXAMPLES = rc.env_int("FASTDEEPCOPY_FUZZ_SLICE", 1000 if rc.LONG else 100)


def test_fuzz_slice_derandomized():
    proc = rc.run_child(script="reliability_fuzz.py",
                        args=["--examples", EXAMPLES, "--seeds", 0, "--derandomize"],
                        timeout=900)
    report = rc.last_json(proc)
    assert report is not None, "fuzz child: %s\n%s" % (rc.describe_status(proc.returncode),
                                                      proc.stderr[-3000:])
    run = report["runs"][0]
    assert run["error"] is None, run["error"]
    rc.assert_child_ok(proc, "fuzz slice")
    assert run["examples"] >= min(EXAMPLES, 50), run
    assert run.get("ok", 0) > 0 and run.get("raise", 0) > 0, run
