"""The wheel (issue 20): built once per test run with `python -m build` and
auditwheel, as `make wheel` does, installed into a fresh venv with pip; there
copy.deepcopy must be the installed engine's, through the .pth start-up hook.

Marked slow (about 20-40 s: the engine is compiled by setuptools); `make test`
runs it, for the one interpreter of that run.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYVER = "%d.%d" % sys.version_info[:2]
TAG = "cp%d%d" % sys.version_info[:2]


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FASTDEEPCOPY", "PYTHON", "LD_PRELOAD"))}
    env.update(extra)
    return env


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s\n%s" % (" ".join(cmd), p.returncode,
                                                      p.stdout[-4000:], p.stderr[-4000:]))
    return p


def base_python() -> str:
    exe = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
    return exe if os.path.exists(exe) else sys.executable


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sdist + repaired wheel, built from the checkout into a temporary directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    raw, house = str(tmp / "raw"), str(tmp / "wheelhouse")
    env = clean_env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", raw, ROOT, env=env)
    [sdist] = glob.glob(os.path.join(raw, "*.tar.gz"))
    [wheel] = glob.glob(os.path.join(raw, "*.whl"))
    sh(sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", house, wheel, env=env)
    [repaired] = glob.glob(os.path.join(house, "*.whl"))
    return {"tmp": tmp, "sdist": sdist, "wheel": repaired}


@pytest.fixture(scope="module")
def venv(built):
    """A fresh venv with the repaired wheel installed by pip."""
    path = str(built["tmp"] / "venv")
    sh(base_python(), "-m", "venv", "--without-pip", path, env=clean_env())
    py = os.path.join(path, "bin", "python")
    sh(sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--no-deps",
       "--disable-pip-version-check", "-q", built["wheel"], env=clean_env())
    return py


def test_the_wheel_is_manylinux_and_carries_the_hook(built):
    name = os.path.basename(built["wheel"])
    assert name.startswith("fastdeepcopy-0.1.0-%s-%s-manylinux_" % (TAG, TAG)), name
    with zipfile.ZipFile(built["wheel"]) as z:
        names = set(z.namelist())
        assert z.read("fastdeepcopy-startup.pth").decode().startswith(
            "import fastdeepcopy._settings, fastdeepcopy as _fdc; _fdc._startup_run(\".pth\")")
        meta = z.read("fastdeepcopy-0.1.0.dist-info/METADATA").decode()
    assert {"fastdeepcopy/__init__.py", "fastdeepcopy/_metrics.py", "fastdeepcopy/py.typed",
            "fastdeepcopy-0.1.0.dist-info/licenses/LICENSE"} <= names
    assert any(n.startswith("fastdeepcopy/_engine.%s" % TAG[:2]) for n in names), names
    assert "License-Expression: MIT" in meta
    assert "Requires-Python: <3.16,>=3.10" in meta or "Requires-Python: >=3.10,<3.16" in meta
    assert "Classifier: Programming Language :: Python :: %s" % PYVER in meta
    assert "Project-URL" not in meta


def test_the_sdist_can_build_the_engine(built):
    with tarfile.open(built["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    want = {"LICENSE", "README.md", "setup.py", "pyproject.toml", "shim/fastdeepcopy/py.typed"}
    want |= {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "src", "*.[ch]"))}
    assert want <= names, sorted(want - names)


def test_installed_wheel_routes_copy_deepcopy_to_its_engine(venv):
    site = sh(venv, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))").stdout.strip()
    probe = os.path.join(ROOT, "scripts", "wheel_probe.py")
    p = sh(venv, probe, env=clean_env(), cwd=str(os.path.dirname(site)))
    out = json.loads(p.stdout)
    assert out["route"] == ".pth" and out["arm"] == "fast" and out["engine_calls"] == 1
    assert out["engine"].startswith(site) and out["package"].startswith(site)
    assert not out["copy_at_start"]
    # the switch works there too
    p = subprocess.run([venv, probe], env=clean_env(FASTDEEPCOPY="0"), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert json.loads(p.stdout)["arm"] is None
    doctor = sh(venv, "-m", "fastdeepcopy", "doctor", env=clean_env())
    assert "start-up hook    .pth" in doctor.stdout
    assert doctor.stdout.rstrip().endswith("ACTIVE, fast arm: copy.deepcopy is fastdeepcopy's "
                                           "in this process")
