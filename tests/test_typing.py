"""Types (issue 20): the package has a py.typed marker, the engine a stub
(_engine.pyi), and __init__.py declares the public API for type checkers.
mypy (from PyPI, TEST_REQS) runs as a subprocess on a typed client that must
pass --strict, and on a client whose every marked line must be an error (so
that a stub that made everything Any would fail here)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
CLIENTS = os.path.join(ROOT, "tests", "typed_client")
PUBLIC = ["fastdeepcopy/__init__.py", "fastdeepcopy/_engine.pyi", "fastdeepcopy/_patch.py",
          "fastdeepcopy/_settings.py", "fastdeepcopy/_metrics.py", "fastdeepcopy/_doctor.py",
          "fastdeepcopy/_startup.py", "fastdeepcopy/__main__.py", "sitecustomize.py"]

pytest.importorskip("mypy")


def mypy(*args: str, cwd: str, cache: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MYPY"))}
    env["MYPYPATH"] = SHIM
    p = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", cache,
                        "--python-version", "%d.%d" % sys.version_info[:2], *args],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert "error: " in p.stdout or p.returncode == 0, p.stdout + p.stderr
    return p.returncode, p.stdout.splitlines()


def test_py_typed_marker_is_shipped():
    assert os.path.isfile(os.path.join(SHIM, "fastdeepcopy", "py.typed"))
    assert os.path.isfile(os.path.join(SHIM, "fastdeepcopy", "_engine.pyi"))


def test_clients_are_checked(tmp_path):
    # the package's errors are not the client's (as for an installed package)
    rc, out = mypy("--strict", "--follow-imports=silent", "client_ok.py", "client_bad.py",
                   cwd=CLIENTS, cache=str(tmp_path))
    errors = {}
    for line in out:
        m = re.match(r"(client_\w+\.py):(\d+): error: ", line)
        if m:
            errors.setdefault(m.group(1), set()).add(int(m.group(2)))
    with open(os.path.join(CLIENTS, "client_bad.py")) as f:
        marked = {i for i, text in enumerate(f, 1) if re.search(r"# E\b", text)}
    assert rc == 1, out
    assert "client_ok.py" not in errors, out
    assert errors.get("client_bad.py") == marked, out
    assert len(marked) >= 8


def test_the_public_modules_pass_mypy(tmp_path):
    rc, out = mypy("--follow-imports=silent", *PUBLIC, cwd=SHIM, cache=str(tmp_path))
    assert rc == 0, "\n".join(out)
