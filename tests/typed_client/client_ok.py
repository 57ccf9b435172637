"""A typed client of fastdeepcopy's public API: mypy --strict must accept it
(tests/test_typing.py).  Never imported by the tests, only type-checked."""
import sys
from dataclasses import dataclass

import fastdeepcopy
from fastdeepcopy import Error, arm, copy, deepcopy, disable, enable, enabled, reset_stats, stats


@dataclass(frozen=True)
class Point:
    x: int
    y: int


def use() -> None:
    rows: list[dict[str, int]] = deepcopy([{"a": 1}])
    memo: dict[int, object] = {}
    pair: tuple[int, str] = deepcopy((1, "a"), memo)
    shallow: dict[str, list[int]] = copy({"a": [1]})
    p: Point = fastdeepcopy.deepcopy(Point(1, 2))
    which: str | None = arm()
    if which == "stdlib":
        print("counted, not accelerated")
    on: bool = enabled()
    enable(deepcopy=True, copy=False, impl=None)
    enable(impl=lambda x, memo=None: x)
    disable()
    counters = stats()
    calls: int = counters["counters"]["calls"]
    reset_stats()
    try:
        deepcopy(iter([]))
    except Error as exc:
        message: str = str(exc)
        print(message)
    problem: ImportError | None = fastdeepcopy.import_error
    if sys.version_info >= (3, 13):
        moved: Point = fastdeepcopy.replace(p, x=3)
        print(moved)
    print(rows, pair, shallow, on, calls, problem, fastdeepcopy.__version__)
