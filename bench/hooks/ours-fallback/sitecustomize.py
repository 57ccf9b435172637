"""Stand-in for the shim's start-up hook, used by ``bench/suite.py pyperformance``
only while ``shim/sitecustomize.py`` does not exist (the run then says so).

It patches fastdeepcopy into ``copy.deepcopy`` the way ``bench/impls.py`` does
(``fastdeepcopy.enable()`` if the package has it, else assignment).
"""
import os
import sys

_bench = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, _bench)
try:
    import impls

    impls.patched("ours_patched")
except Exception as exc:  # site would swallow it: say it
    sys.stderr.write("ours-fallback sitecustomize: %s: %s\n" % (type(exc).__name__, exc))
finally:
    sys.path.remove(_bench)
