"""The shim: start-up hooks, settings, patching in place, doctor, install routes.

Almost everything runs in real subprocesses of the interpreter running pytest
(sys.executable), with a clean environment: no FASTDEEPCOPY* and no PYTHON*
variables unless a test sets them.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
PKG = os.path.join(SHIM, "fastdeepcopy")
PRELOAD = os.path.join(SHIM, "libfastdeepcopy_preload.so")
EXT = os.path.join(PKG, "_engine" + sysconfig.get_config_var("EXT_SUFFIX"))
PY = sys.executable
VECTORCALL = sys.version_info >= (3, 12)
ROUTE = "vectorcall -> engine" if VECTORCALL else "trampoline -> engine"

if not os.path.exists(EXT):
    pytest.skip("the extension is not built for this interpreter", allow_module_level=True)

# What a program sees: run before anything imported copy, then call both functions.
PROBE = r"""
import json, sys
out = {"copy_at_start": "copy" in sys.modules,
       "engine_at_start": "fastdeepcopy._engine" in sys.modules}
import copy
x = [1, {"a": (2, [3])}]
assert copy.deepcopy(x) == x and copy.deepcopy(x) is not x
assert copy.copy(x) == x and copy.copy(x) is not x
fdc = sys.modules.get("fastdeepcopy")
out["hook_ran"] = fdc is not None and fdc._state.route is not None
if fdc is not None:
    out["enabled"] = fdc.enabled()
    out["status"] = fdc._status()
    st = fdc._state
    out.update(route=st.route, decision=st.decision, chained=st.chained,
               chain_error=st.chain_error, ab=st.ab, error=st.error)
engine = sys.modules.get("fastdeepcopy._engine")
if engine is not None:
    before = engine.stats()["calls"]
    copy.deepcopy(x)
    out["engine_counted"] = engine.stats()["calls"] - before
print(json.dumps(out))
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FASTDEEPCOPY", "PYTHON", "LD_PRELOAD"))}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def run(code, *, pythonpath=SHIM, args=(), python=PY, check=True, **env):
    """Run `python [args] -c code`; env: extra variables (None: unset)."""
    e = clean_env(**env)
    if pythonpath is not None:
        e["PYTHONPATH"] = pythonpath
    cmd = [python, *args] + (["-c", code] if code is not None else [])
    p = subprocess.run(cmd, env=e, cwd=tempfile.gettempdir(), capture_output=True,
                       text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("exit %d\nstdout:\n%s\nstderr:\n%s"
                             % (p.returncode, p.stdout, p.stderr))
    return p


def probe(**kw):
    p = run(PROBE, **kw)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def assert_active(out, copy_too=True):
    assert out["hook_ran"] and out["enabled"], out
    assert out["status"]["deepcopy"] == ROUTE, out
    assert out["status"]["copy"] == (ROUTE if copy_too else None), out
    assert out["engine_counted"] == 1, out


def assert_stdlib(out):
    assert out.get("status", {}).get("deepcopy") is None, out
    assert out.get("status", {}).get("copy") is None, out
    assert not out.get("enabled"), out


def one_warning(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fastdeepcopy: "), stderr
    return lines[0]


def copy_shim(dest, *, with_ext=True, drop=()):
    """A copy of shim/ (sources only, plus this interpreter's extension)."""
    shutil.copytree(SHIM, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "*.so", *drop))
    if with_ext:
        shutil.copy2(EXT, os.path.join(dest, "fastdeepcopy"))
    return dest


# ---- the PYTHONPATH route -------------------------------------------------------

def test_patched_by_default():
    out, err = probe()
    assert err == ""
    assert_active(out)
    assert out["route"] == "sitecustomize"
    assert not out["copy_at_start"] and not out["engine_at_start"]


@pytest.mark.parametrize("value", ["0", "off", "false", "no", "OFF", " No "])
def test_toggled_off(value):
    out, err = probe(FASTDEEPCOPY=value)
    assert err == ""
    assert_stdlib(out)
    assert "engine_counted" not in out          # the extension was not even loaded
    assert out["decision"].startswith("off: FASTDEEPCOPY=")


@pytest.mark.parametrize("value", ["1", "on", "true", "yes", "TRUE", ""])
def test_toggled_on(value):
    out, err = probe(FASTDEEPCOPY=value)
    assert err == ""
    assert_active(out)


def test_copy_toggle():
    out, err = probe(FASTDEEPCOPY_COPY="0")
    assert err == ""
    assert_active(out, copy_too=False)


@pytest.mark.parametrize("name,value", [
    ("FASTDEEPCOPY", "maybe"),
    ("FASTDEEPCOPY_COPY", "2"),
    ("FASTDEEPCOPY_QUIET", "loud"),
    ("FASTDEEPCOPY_SAMPLE", "1.5"),
    ("FASTDEEPCOPY_SAMPLE", "nan"),
    ("FASTDEEPCOPY_VERIFY", "abc"),
    ("FASTDEEPCOPY_TIMING", "sometimes"),
])
def test_malformed_setting_warns_once_and_runs_stdlib(name, value):
    out, err = probe(**{name: value})
    line = one_warning(err)
    assert name in line and repr(value.strip()) in line
    assert_stdlib(out)


def test_malformed_settings_are_one_line():
    out, err = probe(FASTDEEPCOPY_SAMPLE="2", FASTDEEPCOPY_VERIFY="-1")
    line = one_warning(err)
    assert "FASTDEEPCOPY_SAMPLE" in line and "FASTDEEPCOPY_VERIFY" in line
    assert_stdlib(out)


def test_quiet_silences_warnings():
    out, err = probe(FASTDEEPCOPY="maybe", FASTDEEPCOPY_QUIET="1")
    assert err == ""
    assert_stdlib(out)


def test_off_switch_is_silent_even_with_malformed_settings():
    out, err = probe(FASTDEEPCOPY="0", FASTDEEPCOPY_SAMPLE="oops")
    assert err == ""
    assert_stdlib(out)


def test_startup_imports_nothing_it_does_not_need():
    code = "import sys; print(' '.join(sorted(sys.modules)))"
    plain = set(run(code, pythonpath=None).stdout.split())
    shimmed = set(run(code).stdout.split())
    assert shimmed - plain <= {"sitecustomize", "fastdeepcopy", "fastdeepcopy._settings",
                               "fastdeepcopy._startup"}
    # Importing copy and using it adds the extension, and nothing heavy.
    code = "import copy, sys; copy.deepcopy([1]); print(' '.join(sorted(sys.modules)))"
    plain = set(run(code, pythonpath=None).stdout.split())
    shimmed = set(run(code).stdout.split())
    extra = shimmed - plain
    assert "fastdeepcopy._engine" in extra
    assert not extra & {"re", "typing", "decimal", "fractions", "json", "argparse",
                        "__future__", "enum", "inspect", "importlib.util"}, extra


def test_bound_before_patch_and_stdlib_internal_uses():
    code = r"""
import copy, dataclasses, sys
from copy import deepcopy as bound_early
import fastdeepcopy
from fastdeepcopy import _engine
assert not fastdeepcopy.enabled()
def calls(f, *a):
    before = _engine.stats()["calls"]
    f(*a)
    return _engine.stats()["calls"] - before
assert calls(bound_early, [1]) == 0
fastdeepcopy.enable()
assert calls(bound_early, [1]) == 1                   # bound before the patch
assert calls(copy._deepcopy_list, [[1]], {}) >= 1     # the stdlib's own recursion
@dataclasses.dataclass
class D:
    x: object
assert calls(dataclasses.asdict, D({1, 2})) >= 1        # another stdlib module
fastdeepcopy.disable()
assert calls(bound_early, [1]) == 0
print("ok")
"""
    assert run(code, FASTDEEPCOPY="0").stdout.strip() == "ok"


def test_subprocesses_inherit_the_shim():
    code = ("import subprocess, sys; "
            "sys.stdout.write(subprocess.run([sys.executable, '-c', %r], "
            "capture_output=True, text=True, check=True).stdout)" % PROBE)
    out = json.loads(run(code).stdout)
    assert_active(out)


@pytest.mark.parametrize("flag", ["-I", "-E", "-S"])
def test_isolation_flags_disable_a_pythonpath_shim(flag):
    out, err = probe(args=[flag])
    assert not out["hook_ran"]


# ---- chaining the sitecustomize we hide -----------------------------------------

def test_chained_sitecustomize_runs_exactly_once(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    marker = tmp_path / "ran.txt"
    (other / "sitecustomize.py").write_text(
        "import sys\n"
        "with open(%r, 'a') as f: f.write('x')\n"
        "sys.path.append('/nonexistent/added-by-other')\n" % str(marker))
    out, err = probe(pythonpath=os.pathsep.join([SHIM, str(other)]))
    assert err == ""
    assert_active(out)
    assert marker.read_text() == "x"
    assert out["chained"] == str(other / "sitecustomize.py")
    code = ("import sys; print(sys.modules['sitecustomize'].__file__); "
            "print(sys.path.count(%r)); print(sys.path[-1])" % SHIM)
    lines = run(code, pythonpath=os.pathsep.join([SHIM, str(other)])).stdout.split()
    assert lines == [os.path.join(SHIM, "sitecustomize.py"), "1", "/nonexistent/added-by-other"]
    assert marker.read_text() == "xx"


def test_chained_sitecustomize_error_is_reported_like_site(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("raise ValueError('boom')\n")
    out, err = probe(pythonpath=os.pathsep.join([SHIM, str(tmp_path)]))
    assert err.splitlines() == ["Error in sitecustomize; set PYTHONVERBOSE for traceback:",
                                "ValueError: boom"]
    assert out["chain_error"] == "ValueError: boom"
    assert_active(out)


def test_sitecustomize_earlier_on_the_path_hides_ours(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("")
    out, err = probe(pythonpath=os.pathsep.join([str(tmp_path), SHIM]))
    assert not out["hook_ran"]
    p = run(None, args=["-m", "fastdeepcopy", "doctor"], check=False,
            pythonpath=os.pathsep.join([str(tmp_path), SHIM]))
    assert p.returncode == 1
    assert "none ran in this process" in p.stdout


# ---- broken installations fail open, loudly once ----------------------------------

def test_missing_extension(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"), with_ext=False)
    out, err = probe(pythonpath=shim)
    line = one_warning(err)
    assert "not built" in line and "make PYTHON=python" in line
    assert_stdlib(out)


def test_extension_of_another_python(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"), with_ext=False)
    shutil.copy2(EXT, os.path.join(shim, "fastdeepcopy", "_engine.cpython-39-x86_64-linux-gnu.so"))
    out, err = probe(pythonpath=shim)
    line = one_warning(err)
    assert "_engine.cpython-39-x86_64-linux-gnu.so" in line and "another Python" in line
    assert_stdlib(out)


def test_corrupt_extension(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"), with_ext=False)
    with open(os.path.join(shim, "fastdeepcopy", os.path.basename(EXT)), "wb") as f:
        f.write(b"not an ELF file")
    out, err = probe(pythonpath=shim)
    line = one_warning(err)
    assert "cannot load the extension" in line
    assert_stdlib(out)
    out, err = probe(pythonpath=shim, FASTDEEPCOPY_QUIET="yes")
    assert err == ""


def test_broken_package_still_starts(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"))
    with open(os.path.join(shim, "fastdeepcopy", "_settings.py"), "w") as f:
        f.write("raise RuntimeError('broken on purpose')\n")
    p = run("import copy; print(copy.deepcopy([7]))", pythonpath=shim)
    assert p.stdout.strip() == "[7]"
    line = one_warning(p.stderr)
    assert "broken on purpose" in line
    p = run("import copy; print(copy.deepcopy([7]))", pythonpath=shim, FASTDEEPCOPY_QUIET="on")
    assert p.stdout.strip() == "[7]" and p.stderr == ""


# Pretending to be another interpreter: -S, so that no start-up hook has run yet;
# change what fastdeepcopy._unsupported looks at, then run the hook (site.main()).
PRETEND = {
    "3.9": "sys.version_info = (3, 9, 18, 'final', 0)",
    "3.16": "sys.version_info = (3, 16, 0, 'alpha', 1)",
    "free-threaded": "sys.abiflags = 't'",
    "pypy": ("import types; impl = types.SimpleNamespace(**vars(sys.implementation)); "
             "impl.name = 'pypy'; sys.implementation = impl"),
}
REFUSED = {
    "3.9": "CPython 3.9 is outside the supported range 3.10-3.15",
    "3.16": "CPython 3.16 is outside the supported range 3.10-3.15",
    "free-threaded": "CPython %d.%d is a free-threaded build (python%d.%dt): "
                     "free-threaded builds are not supported yet" % (sys.version_info[:2] * 2),
    "pypy": "pypy %d.%d is not CPython; only CPython 3.10-3.15 is supported" % sys.version_info[:2],
}


def pretend(what, code):
    return "import sys; %s; import site; site.main()\n%s" % (PRETEND[what], code)


@pytest.mark.parametrize("what", sorted(PRETEND))
def test_unsupported_interpreter(what):
    p = run(pretend(what, PROBE), args=["-S"])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    line = one_warning(p.stderr)
    assert line == "fastdeepcopy: %s; the standard library copy module is in use" % REFUSED[what]
    assert_stdlib(out)
    assert out["decision"] == "off: " + REFUSED[what] and out["error"] == REFUSED[what]
    assert "engine_counted" not in out          # the extension was not even loaded
    p = run(pretend(what, PROBE), args=["-S"], FASTDEEPCOPY_QUIET="1")
    assert p.stderr == ""


def test_unsupported_reasons(monkeypatch):
    import fastdeepcopy as fdc
    assert fdc._SUPPORTED == ((3, 10), (3, 15))
    assert fdc._unsupported() is None and not fdc._free_threaded()
    monkeypatch.setattr(sys, "version_info", (3, 16, 0, "final", 0))
    assert fdc._unsupported() == REFUSED["3.16"]
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    assert fdc._unsupported() == REFUSED["3.9"]
    monkeypatch.undo()
    monkeypatch.setattr(fdc, "_free_threaded", lambda: True)
    assert fdc._unsupported() == REFUSED["free-threaded"]
    monkeypatch.undo()
    monkeypatch.setattr(sys, "abiflags", "td", raising=False)
    assert fdc._free_threaded()
    monkeypatch.setattr(sys, "abiflags", "d", raising=False)
    assert not fdc._free_threaded()


def test_supported_range_is_stated_consistently():
    """_SUPPORTED is the one constant; the files that repeat the range agree with it."""
    import re
    import fastdeepcopy as fdc
    (lo0, lo1), (hi0, hi1) = fdc._SUPPORTED
    assert lo0 == hi0 == 3
    versions = ["3.%d" % m for m in range(lo1, hi1 + 1)]

    def read(name):
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            return f.read()
    pyproject = read("pyproject.toml")
    assert re.search(r'^requires-python = ">=3\.%d,<3\.%d"' % (lo1, hi1 + 1), pyproject, re.M)
    assert re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject) == versions
    assert re.search(r"^VERSIONS \?= %s$" % re.escape(" ".join(versions)), read("Makefile"), re.M)
    stated = "CPython %s\u2013%s" % (versions[0], versions[-1])
    assert stated in read("README.md")
    assert stated in read(os.path.join("docs", "operations.md"))


def test_ab_layer_missing_is_silent(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"), drop=("_ab.py",))
    out, err = probe(pythonpath=shim, FASTDEEPCOPY_TIMING="1")
    assert err == ""
    assert_active(out)
    assert out["ab"].startswith("not installed")


def test_ab_layer_failure_warns_once_and_keeps_the_engine(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"))
    with open(os.path.join(shim, "fastdeepcopy", "_ab.py"), "w") as f:
        f.write("def configure(settings):\n    raise ValueError('ab exploded')\n")
    out, err = probe(pythonpath=shim, FASTDEEPCOPY_TIMING="1")
    line = one_warning(err)
    assert "ab exploded" in line and "plain engine" in line
    assert_active(out)


def test_ab_layer_impl_is_installed(tmp_path):
    shim = copy_shim(str(tmp_path / "shim"))
    with open(os.path.join(shim, "fastdeepcopy", "_ab.py"), "w") as f:
        f.write("import sys\n"
                "def configure(settings):\n"
                "    from fastdeepcopy import _engine\n"
                "    def ab_impl(x, memo=None, _nil=[]):\n"
                "        sys.stderr.write('ab ')\n"
                "        return _engine.deepcopy(x, memo)\n"
                "    return ab_impl\n")
    out, err = probe(pythonpath=shim, FASTDEEPCOPY_SAMPLE="0.5")
    assert out["status"]["deepcopy"].startswith("trampoline -> <function")
    assert out["engine_counted"] == 1 and set(err.split()) == {"ab"}


# ---- the other routes ---------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(PRELOAD), reason="preload library not built")
def test_ld_preload_route():
    out, err = probe(pythonpath=None, LD_PRELOAD=PRELOAD)
    assert err == ""
    assert_active(out)
    assert out["route"] == "LD_PRELOAD"
    code = "import os; print(os.environ['PYTHONPATH'])"
    assert run(code, pythonpath=None, LD_PRELOAD=PRELOAD).stdout.strip() == SHIM
    assert run(code, pythonpath="/x:/y", LD_PRELOAD=PRELOAD).stdout.strip() == SHIM + ":/x:/y"
    assert run(code, pythonpath="/x:" + SHIM, LD_PRELOAD=PRELOAD).stdout.strip() == "/x:" + SHIM
    out, err = probe(pythonpath=None, LD_PRELOAD=PRELOAD, FASTDEEPCOPY="0")
    assert_stdlib(out)


def _base_python():
    exe = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
    return exe if os.path.exists(exe) else sys.executable


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_installed_route(tmp_path):
    venv = str(tmp_path / "venv")
    subprocess.run([_base_python(), "-m", "venv", "--without-pip", venv], check=True,
                   env=clean_env())
    vpy = os.path.join(venv, "bin", "python")
    make = ["make", "-s", "-C", ROOT, "PYTHON=" + vpy, "INSTALL_PYTHON=" + vpy, "INSTALL_BUILD=0"]
    subprocess.run(make + ["install"], check=True, env=clean_env(), capture_output=True)
    site = subprocess.run([vpy, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    assert os.path.exists(os.path.join(site, "fastdeepcopy-startup.pth"))

    out, err = probe(python=vpy, pythonpath=None)
    assert err == ""
    assert_active(out)
    assert out["route"] == ".pth"
    out, err = probe(python=vpy, pythonpath=None, FASTDEEPCOPY="0")
    assert_stdlib(out)
    # another .pth that imports copy before ours: copy is armed at once
    with open(os.path.join(site, "aaa-imports-copy.pth"), "w") as f:
        f.write("import copy\n")
    out, err = probe(python=vpy, pythonpath=None)
    assert out["copy_at_start"]
    assert_active(out)
    p = run(None, python=vpy, pythonpath=None, args=["-m", "fastdeepcopy", "doctor"])
    assert "start-up hook    .pth" in p.stdout

    subprocess.run(make + ["uninstall"], check=True, env=clean_env(), capture_output=True)
    assert not os.path.exists(os.path.join(site, "fastdeepcopy"))
    p = run("import copy; print(copy.deepcopy([1]))", python=vpy, pythonpath=None)
    assert p.stdout.strip() == "[1]" and p.stderr == ""


# ---- the doctor ----------------------------------------------------------------------

def doctor(**kw):
    return run(None, args=["-m", "fastdeepcopy", "doctor"], check=False, **kw)


def test_doctor_active():
    p = doctor()
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "fastdeepcopy 0.1.0" in out and sys.executable in out
    assert "extension        loaded: " + EXT in out
    assert "start-up hook    sitecustomize (%s)" % os.path.join(SHIM, "sitecustomize.py") in out
    assert "copy.deepcopy    patched: " + ROUTE in out
    assert "copy.copy        patched: " + ROUTE in out
    assert "went through the engine" in out
    assert "chained          none" in out
    assert "arm              fast (no A/B sample)" in out
    assert out.rstrip().endswith(
        "\nACTIVE, fast arm: copy.deepcopy is fastdeepcopy's in this process")


def test_doctor_inactive():
    p = doctor(FASTDEEPCOPY="off")
    assert p.returncode == 1
    assert "FASTDEEPCOPY         = off        -> shim off" in p.stdout
    assert "copy.deepcopy    standard library (not patched)" in p.stdout
    assert "arm              none (the shim is off)" in p.stdout
    assert p.stdout.rstrip().endswith(
        "INACTIVE: copy.deepcopy is the standard library's in this process")


@pytest.mark.parametrize("sample,seeded", [("0", False), ("0.5", True)])
def test_doctor_names_the_stdlib_arm(sample, seeded):
    import fastdeepcopy._ab as ab
    seed = None
    if seeded:    # a seed that lands in the stdlib arm at this sample
        seed = next("doc-%d" % i for i in range(1000)
                    if ab.decide_arm(float(sample), "doc-%d" % i)[0] == "stdlib")
    p = doctor(FASTDEEPCOPY_SAMPLE=sample, FASTDEEPCOPY_SEED=seed)
    assert p.returncode == 0, p.stdout + p.stderr      # routed by fastdeepcopy
    lines = p.stdout.rstrip().splitlines()
    assert lines[-1] == ("ACTIVE, stdlib arm: copy.deepcopy runs the standard library's code "
                         "in this process (routed by fastdeepcopy only to count calls for the "
                         "A/B sample)")
    assert any(line.startswith("arm              stdlib (draw ") and
               line.endswith(">= FASTDEEPCOPY_SAMPLE=%s)" % sample) for line in lines), lines
    assert "ran the standard library's code, counted by the A/B layer" in p.stdout
    assert "went through the engine" not in p.stdout


ARM_PROBE = r"""
import json, sys
import fastdeepcopy
out = {"before_copy": "copy" in sys.modules, "enabled_before": fastdeepcopy.enabled()}
out["arm"] = fastdeepcopy.arm()          # before any copy: activates now
out["enabled"] = fastdeepcopy.enabled()
out["engine_loaded"] = "fastdeepcopy._engine" in sys.modules
out["status"] = fastdeepcopy._status()
import copy
y = copy.deepcopy({"a": [1]})
fastdeepcopy.disable()
out["after_disable"] = [fastdeepcopy.arm(), fastdeepcopy.enabled()]
print(json.dumps(out))
"""


@pytest.mark.parametrize("env,arm", [
    ({}, "fast"),
    ({"FASTDEEPCOPY_SAMPLE": "1", "FASTDEEPCOPY_TIMING": "1"}, "fast"),
    ({"FASTDEEPCOPY_SAMPLE": "0"}, "stdlib"),
    ({"FASTDEEPCOPY": "0"}, None),
    ({"FASTDEEPCOPY_SAMPLE": "7"}, None),                 # malformed: the shim stands down
])
def test_arm(env, arm):
    p = run(ARM_PROBE, check=True, FASTDEEPCOPY_QUIET="1", **env)
    out = json.loads(p.stdout)
    assert not out["before_copy"]
    assert out["arm"] == arm, out
    assert out["enabled"] is (arm is not None)
    assert out["enabled_before"] is (arm is not None)  # pending: waits for `import copy`
    if arm == "fast":
        assert out["engine_loaded"]
        assert (out["status"]["deepcopy"] == ROUTE
                or out["status"]["deepcopy"].startswith("trampoline -> <function _fast_entry_timed"))
    elif arm == "stdlib":
        assert "_stdlib_entry" in out["status"]["deepcopy"] and out["status"]["copy"] is None
    else:
        assert out["status"] == {"deepcopy": None, "copy": None}
    assert out["after_disable"] == [None, False]


def test_arm_without_startup_hook():
    code = ("import fastdeepcopy; a = fastdeepcopy.arm(); fastdeepcopy.enable(); "
            "b = fastdeepcopy.arm(); fastdeepcopy.enable(deepcopy=False); c = fastdeepcopy.arm(); "
            "fastdeepcopy.disable(); print(a, b, c, fastdeepcopy.arm())")
    # FASTDEEPCOPY=0: the start-up hook does nothing; enable() patches in-process
    assert run(code, FASTDEEPCOPY="0").stdout.split() == ["None", "fast", "fast", "None"]


# copy imported again, or reloaded: its new functions are patched like the old ones
REIMPORT = r"""
import importlib, json, sys
import copy
from copy import deepcopy as early
import fastdeepcopy
copy.deepcopy([0])                         # the shim activates
from fastdeepcopy import _ab, _engine

def counted(f):
    e, a = _engine.stats()["calls"], _ab._calls
    f([1, {"k": (2, [3])}])
    return [_engine.stats()["calls"] - e, _ab._calls - a]

out = {"first": [fastdeepcopy.arm(), counted(copy.deepcopy)]}
del sys.modules["copy"]
import copy as copy2
assert copy2 is not copy and copy2.deepcopy is not copy.deepcopy
out["reimport"] = [fastdeepcopy.enabled(), fastdeepcopy.arm(), fastdeepcopy._status(),
                   counted(copy2.deepcopy), counted(early)]
importlib.reload(copy2)
out["reload"] = [fastdeepcopy.enabled(), fastdeepcopy._status(), counted(copy2.deepcopy),
                 counted(early)]
class Mine:
    pass
copy2._deepcopy_dispatch[Mine] = lambda x, memo: "mine"
out["dispatch"] = copy2.deepcopy([Mine()]) == ["mine"]
fastdeepcopy.disable()
out["disabled"] = [fastdeepcopy.enabled(), counted(copy2.deepcopy), counted(early),
                   [type(f).__name__ for f in sys.meta_path if "Watcher" in type(f).__name__],
                   sorted(k for k in vars(copy2) if k.startswith("__fastdeepcopy"))]
print(json.dumps(out))
"""


@pytest.mark.parametrize("arm", ["fast", "stdlib"])
def test_copy_imported_again_or_reloaded_is_patched(arm):
    out = json.loads(run(REIMPORT, FASTDEEPCOPY_SAMPLE="1" if arm == "fast" else "0").stdout)
    one = [1, 0] if arm == "fast" else [0, 1]          # engine calls, stdlib-arm calls
    assert out["first"] == [arm, one]
    enabled, arm_now, status, new, old = out["reimport"]
    assert enabled and arm_now == arm
    assert new == one and old == one                     # the new module, and names bound before
    if arm == "fast":
        assert status == {"deepcopy": ROUTE, "copy": ROUTE}
    enabled, status, new, old = out["reload"]
    assert enabled and new == one and old == one
    # the stdlib arm reads the new module's tables; the engine keeps reading the
    # tables of the copy module it was loaded with (src/env.c), a known limit
    assert out["dispatch"] is (arm == "stdlib")
    assert out["disabled"] == [False, [0, 0], [0, 0], [], []]


def test_copy_imported_behind_the_watchers_back_is_reported():
    code = r"""
import sys, copy, fastdeepcopy
copy.deepcopy([1])
sys.meta_path = [f for f in sys.meta_path if type(f).__name__ != "_CopyWatcher"]
del sys.modules["copy"]
import copy
print(fastdeepcopy.enabled(), fastdeepcopy.arm(), fastdeepcopy._status()["deepcopy"])
from fastdeepcopy import _doctor
print([l for l in _doctor.report()[1] if l.startswith(("copy.deepcopy", "ACTIVE", "INACTIVE"))])
fastdeepcopy.enable()
print(fastdeepcopy.enabled(), fastdeepcopy.arm(), fastdeepcopy._status()["deepcopy"])
"""
    lines = run(code).stdout.splitlines()
    assert lines[0] == "False None None"
    assert "copy was imported again and its new deepcopy is not patched" in lines[1]
    assert "INACTIVE" in lines[1]
    assert lines[2] == "True fast " + ROUTE


def test_doctor_malformed_and_unknown():
    p = doctor(FASTDEEPCOPY_VERIFY="lots", FASTDEEPCOPY_TYPO="1")
    assert p.returncode == 1
    assert "malformed: FASTDEEPCOPY_VERIFY" in p.stdout
    assert "unknown, ignored: FASTDEEPCOPY_TYPO" in p.stdout
    assert len(p.stderr.splitlines()) == 1


def test_doctor_without_startup_hook():
    p = run(None, args=["-S", "-m", "fastdeepcopy", "doctor"], check=False)
    assert p.returncode == 1
    assert "none ran in this process (python ran with -S)" in p.stdout


def test_doctor_says_supported():
    p = doctor()
    assert "supported        yes (CPython 3.10-3.15, GIL builds)" in p.stdout


@pytest.mark.parametrize("what", sorted(PRETEND))
def test_doctor_says_why_an_interpreter_is_refused(what):
    code = pretend(what, "from fastdeepcopy._doctor import main; sys.exit(main([]))")
    p = run(code, args=["-S"], check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    why = REFUSED[what]
    assert "supported        NO: %s; the standard library copy module is in use" % why in p.stdout
    assert "decision         off: " + why in p.stdout
    assert "why not          " + why in p.stdout
    assert p.stdout.rstrip().endswith(
        "INACTIVE: copy.deepcopy is the standard library's in this process")
    one_warning(p.stderr)


def test_doctor_says_why_without_startup_hook():
    code = pretend("3.16", "").replace("import site; site.main()", "")
    code += "from fastdeepcopy._doctor import main; sys.exit(main([]))"
    p = run(code, args=["-S"], check=False)
    assert "why not          " + REFUSED["3.16"] in p.stdout


def test_doctor_chained(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("")
    p = doctor(pythonpath=os.pathsep.join([SHIM, str(tmp_path)]))
    assert p.returncode == 0
    assert "chained          %s" % (tmp_path / "sitecustomize.py") in p.stdout


def test_main_usage():
    p = run(None, args=["-m", "fastdeepcopy", "frobnicate"], check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run(None, args=["-m", "fastdeepcopy"], check=False)
    assert p.returncode == 2 and "doctor" in p.stdout


# ---- in this process: enable() / disable() -------------------------------------------

@pytest.fixture
def unpatched():
    import copy
    import fastdeepcopy
    if fastdeepcopy.enabled():
        pytest.skip("copy is patched in the test process itself")
    func = copy.deepcopy, copy.copy
    code = copy.deepcopy.__code__, copy.copy.__code__
    try:
        yield fastdeepcopy
    finally:
        fastdeepcopy.disable()
        assert (copy.deepcopy, copy.copy) == func
        assert (copy.deepcopy.__code__, copy.copy.__code__) == code


def _identity(f):
    import inspect
    return (f.__name__, f.__qualname__, f.__module__, f.__doc__, f.__defaults__,
            f.__kwdefaults__, str(inspect.signature(f)))


def test_enable_disable_round_trip(unpatched):
    import copy
    fdc = unpatched
    from fastdeepcopy import _engine
    from copy import deepcopy as bound
    d, c = copy.deepcopy, copy.copy
    ident = _identity(d), _identity(c)
    for _ in range(2):                              # idempotent, and reversible
        fdc.enable()
        fdc.enable()
        assert fdc.enabled()
        assert fdc._status() == {"deepcopy": ROUTE, "copy": ROUTE}
        assert copy.deepcopy is d and copy.copy is c
        assert (_identity(d), _identity(c)) == ident
        before = _engine.stats()["calls"]
        x = [1, {"k": [2]}]
        assert bound(x) == x and bound(x, {}) == x and bound(x=x, memo=None) == x
        assert _engine.stats()["calls"] - before == 3
        assert c(x) == x and c(x=x) == x and c(x) is not x
        fdc.disable()
        fdc.disable()
        assert not fdc.enabled()
        assert fdc._status() == {"deepcopy": None, "copy": None}
        before = _engine.stats()["calls"]
        assert bound(x) == x
        assert _engine.stats()["calls"] == before
        assert "__fastdeepcopy_deepcopy__" not in copy.__dict__


def test_enable_with_impl(unpatched):
    import copy
    fdc = unpatched
    from copy import deepcopy as bound
    seen = []

    def impl(x, memo=None, _nil=None):
        seen.append((x, memo))
        return ["from impl"]

    fdc.enable(impl=impl)
    assert fdc._status()["deepcopy"].startswith("trampoline -> <function")
    assert fdc._status()["copy"] == ROUTE
    memo = {}
    assert bound(1) == ["from impl"] and copy.deepcopy(2, memo) == ["from impl"]
    assert seen == [(1, None), (2, memo)]
    assert copy.deepcopy.__name__ == "deepcopy"
    fdc.enable()                                   # switch back to the engine
    assert fdc._status()["deepcopy"] == ROUTE
    assert bound([3]) == [3]
    fdc.enable(deepcopy=False, copy=True)
    assert fdc._status() == {"deepcopy": None, "copy": ROUTE}
    fdc.enable(deepcopy=True, copy=False)
    assert fdc._status() == {"deepcopy": ROUTE, "copy": None}
    with pytest.raises(TypeError):
        fdc.enable(impl=42)


def test_patched_signatures_raise_like_python(unpatched):
    import copy
    fdc = unpatched
    fdc.enable()
    for call in (lambda: copy.deepcopy(), lambda: copy.deepcopy(1, None, [], 4),
                 lambda: copy.deepcopy(1, y=2), lambda: copy.copy(),
                 lambda: copy.copy(1, 2), lambda: copy.copy(y=1),
                 lambda: copy.copy(1, x=1)):
        with pytest.raises(TypeError):
            call()


def test_vectorcall_helpers():
    from fastdeepcopy import _engine
    assert _engine._VECTORCALL_PATCH is VECTORCALL

    def f(x):
        return ("f", x)

    assert _engine._vectorcall_kind(f) == "default"
    assert not _engine._is_vectorcall_patched(f)
    with pytest.raises(TypeError):
        _engine._vectorcall_kind(len)
    if not VECTORCALL:
        with pytest.raises(NotImplementedError):
            _engine._set_vectorcall(f, "copy")
        return
    with pytest.raises(ValueError):
        _engine._set_vectorcall(f, "nope")
    _engine._set_vectorcall(f, "copy")
    try:
        assert _engine._vectorcall_kind(f) == "copy"
        x = [1]
        assert f(x) == x and f(x) is not x        # now it is copy.copy
    finally:
        assert _engine._restore_vectorcall(f) is True
    assert _engine._restore_vectorcall(f) is False
    assert f(1) == ("f", 1)


# ---- settings parsing ------------------------------------------------------------------

def test_settings_defaults_and_values():
    from fastdeepcopy import _settings
    s, problems = _settings.read({})
    assert problems == [] and s.enabled and s.copy and not s.quiet
    assert (s.sample, s.seed, s.stats, s.timing, s.verify) == (1.0, None, None, False, 0.0)
    assert not s.ab_requested
    s, problems = _settings.read({
        "FASTDEEPCOPY": " Yes ", "FASTDEEPCOPY_COPY": "off", "FASTDEEPCOPY_QUIET": "1",
        "FASTDEEPCOPY_SAMPLE": "0.25", "FASTDEEPCOPY_SEED": "abc",
        "FASTDEEPCOPY_STATS": "/tmp/s.json", "FASTDEEPCOPY_TIMING": "true",
        "FASTDEEPCOPY_VERIFY": "1e-2"})
    assert problems == []
    assert (s.enabled, s.copy, s.quiet, s.sample, s.seed, s.stats, s.timing, s.verify) == (
        True, False, True, 0.25, "abc", "/tmp/s.json", True, 0.01)
    assert s.ab_requested
    s, problems = _settings.read({"FASTDEEPCOPY": "", "FASTDEEPCOPY_SAMPLE": "  "})
    assert problems == [] and s.enabled and s.sample == 1.0
    s, problems = _settings.read({"FASTDEEPCOPY": "no", "FASTDEEPCOPY_SAMPLE": "x"})
    assert s.master_off and not s.enabled and [n for n, _ in problems] == ["FASTDEEPCOPY_SAMPLE"]
    unknown = _settings.unknown({"FASTDEEPCOPY_TYPO": "1", "FASTDEEPCOPY": "1"})
    assert unknown == ["FASTDEEPCOPY_TYPO"]
