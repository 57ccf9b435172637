"""Is copy.deepcopy the engine's in this environment, through the installed start-up hook?

Run with the interpreter of an environment where the fastdeepcopy wheel is
installed, without PYTHONPATH (tests/test_wheel.py, cibuildwheel's
test-command).  Prints one JSON object; exit status 0 when the .pth hook
routed copy.deepcopy to the installed engine.
"""
import json
import sys


def main() -> int:
    out = {"copy_at_start": "copy" in sys.modules}
    import copy
    import fastdeepcopy
    from fastdeepcopy import _engine
    data = {"rows": [{"id": i, "tags": ["a", (i, i + 1)]} for i in range(10)]}
    before = _engine.stats()["calls"]
    y = copy.deepcopy(data)
    out.update(
        equal=y == data and y["rows"][0] is not data["rows"][0],
        engine_calls=_engine.stats()["calls"] - before,
        route=fastdeepcopy._state.route,
        status=fastdeepcopy._status(),
        arm=fastdeepcopy.arm(),
        package=fastdeepcopy.__file__,
        engine=_engine.__file__,
        prefix=sys.prefix,
    )
    print(json.dumps(out))
    ok = (out["equal"] and out["engine_calls"] == 1 and out["route"] == ".pth"
          and out["arm"] == "fast" and _engine.__file__.startswith(sys.prefix))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
