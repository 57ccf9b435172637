"""Misuses of fastdeepcopy's API, one per line marked E: mypy must report an
error on each of those lines and on no other (tests/test_typing.py)."""
import fastdeepcopy
from fastdeepcopy import arm, copy, deepcopy, enable, enabled, stats


def misuse() -> None:
    n: int = deepcopy("text")  # E: the copy has the original's type
    s: str = copy([1])  # E
    deepcopy([1], memo=[])  # E: memo is a dict
    length: int = len(arm())  # E: arm() may be None
    enable(deepcopy="yes")  # E
    flag: str = enabled()  # E
    stats(1)  # E
    fastdeepcopy.no_such_function()  # E: unknown names are errors, not Any
    print(n, s, length, flag)
