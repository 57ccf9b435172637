"""make demo (issue 20): examples/demo.py runs the unmodified examples/app.py
with and without the shim and reports both times, the speed-up, whether the
results agree, and the doctor's verdict."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTDEEPCOPY", "PYTHON"))}
    env.update(extra)
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", "demo.py"),
                           "--requests", "20", "--rounds", "1"],
                          env=env, capture_output=True, text=True, timeout=300)


def test_demo_reports_both_runs_and_the_verdict():
    p = demo()
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("examples/app.py, 20 requests (")
    assert re.fullmatch(r"  standard library  FASTDEEPCOPY=0 +[0-9.]+ s", lines[1]), lines
    assert re.fullmatch(r"  fastdeepcopy      PYTHONPATH=shim +[0-9.]+ s +[0-9.]+x as fast, "
                        r"same results: yes", lines[2]), lines
    assert lines[3] == "doctor: ACTIVE, fast arm: copy.deepcopy is fastdeepcopy's in this process"


def test_the_app_does_not_know_about_fastdeepcopy():
    with open(os.path.join(ROOT, "examples", "app.py")) as f:
        text = f.read()
    assert "import fastdeepcopy" not in text and "from fastdeepcopy" not in text
