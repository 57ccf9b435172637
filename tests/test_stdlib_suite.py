"""CPython's own test_copy, run against the patched copy module.

The suite ships with every interpreter (test.test_copy).  It runs in a
subprocess started with PYTHONPATH=shim, so copy.deepcopy / copy.copy are the
shim's through the real start-up route; the wrapper checks that the patch was
in place before and after the suite and that the engine did the copying.
"""
import os
import subprocess
import sys
import sysconfig
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "shim")
EXT = os.path.join(SHIM, "fastdeepcopy", "_engine" + sysconfig.get_config_var("EXT_SUFFIX"))

WRAPPER = r"""
import copy, sys, unittest
import fastdeepcopy
from fastdeepcopy import _engine

MODE = sys.argv[1]
copy.deepcopy(None)                        # complete the start-up patch
if MODE == "impl":                         # the trampoline route, on every version
    def impl(x, memo=None, _nil=[]):
        return _engine.deepcopy(x, memo)
    fastdeepcopy.enable(impl=impl)
status = fastdeepcopy._status()
route = "vectorcall -> engine" if sys.version_info >= (3, 12) else "trampoline -> engine"
expected = {"deepcopy": route, "copy": route}
if MODE == "impl":
    expected["deepcopy"] = "trampoline -> %r" % (impl,)
assert status == expected, status
before = _engine.stats()["calls"]
prog = unittest.main(module="test.test_copy", argv=["test_copy"], exit=False, verbosity=0)
calls = _engine.stats()["calls"] - before
assert fastdeepcopy._status() == expected, fastdeepcopy._status()
assert calls >= 50, "the engine saw only %d calls" % calls
print("RAN %d engine-calls %d" % (prog.result.testsRun, calls))
sys.exit(0 if prog.result.wasSuccessful() else 1)
"""


@pytest.mark.skipif(not os.path.exists(EXT), reason="extension not built for this interpreter")
@pytest.mark.parametrize("mode", ["startup", "impl"])
def test_cpython_test_copy_passes_with_the_patch(mode):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FASTDEEPCOPY", "PYTHON", "LD_PRELOAD"))}
    env["PYTHONPATH"] = SHIM
    p = subprocess.run([sys.executable, "-c", WRAPPER, mode], env=env, capture_output=True,
                       text=True, cwd=tempfile.gettempdir(), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "RAN " in p.stdout, p.stdout + p.stderr
    ran = int(p.stdout.split("RAN ")[1].split()[0])
    assert ran >= 70, p.stdout
