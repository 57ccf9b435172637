#!/usr/bin/env python3
"""Shapes outside the yardstick suite, ours against copium and stdlib.

    python bench/shapes.py [--shapes a,b] [--repeat 30] [--min-time 0.01] [--json out.json]

The suite (bench/cases.py) is the issue's yardstick; these are other shapes a
user may try first: subclasses of dict, list, str and int, Fractions,
Decimals, compiled patterns, arrays, frozensets of tuples, standard-library
mappings and value classes.  Each shape's object is checked against stdlib
(run.run_checks: structure, sharing) before it is timed, and the three run in
one process, interleaved and rotated (run.time_case).  Reported: median per
call and copium/ours (>= 1.00: ours at least as fast), stdlib/ours.
"""

from __future__ import annotations

import argparse
import array
import collections
import dataclasses
import datetime
import decimal
import fractions
import functools
import ipaddress
import json
import os
import pathlib
import re
import sys
import types
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import impls  # noqa: E402
import run  # noqa: E402


class DictSub(dict):
    pass


class ListSub(list):
    pass


class StrSub(str):
    pass


class IntSub(int):
    pass


class WithNewArgsEx:
    def __init__(self, a: Any, *, b: Any) -> None:
        self.a, self.b = a, b

    def __getnewargs_ex__(self) -> Any:
        return (self.a,), {"b": self.b}


class WithGetState:
    def __init__(self, i: int) -> None:
        self.i, self.l = i, [i]

    def __getstate__(self) -> Any:
        return {"i": self.i, "l": self.l}

    def __setstate__(self, s: Any) -> None:
        self.__dict__.update(s)


@dataclasses.dataclass
class Node:
    name: str
    children: list
    meta: dict


def _tree(depth: int) -> Node:
    return Node("n", [_tree(depth - 1) for _ in range(3)] if depth else [], {"d": depth})


SHAPES: Dict[str, Callable[[], Any]] = {
    "dict_subclass": lambda: [DictSub(a=[i], b=i) for i in range(300)],
    "list_subclass": lambda: [ListSub([i, [i]]) for i in range(300)],
    "str_subclass": lambda: [StrSub("abc%d" % i) for i in range(500)],
    "int_subclass": lambda: [IntSub(i) for i in range(500)],
    "ordereddict": lambda: [collections.OrderedDict((str(i), [i]) for i in range(10)) for _ in range(100)],
    "defaultdict": lambda: [collections.defaultdict(list, {str(i): [i] for i in range(10)}) for _ in range(100)],
    "deque": lambda: [collections.deque([i, [i], (i,)]) for i in range(300)],
    "fractions": lambda: [fractions.Fraction(i, 7) for i in range(500)],
    "decimals": lambda: [decimal.Decimal(i) / 7 for i in range(500)],
    "patterns": lambda: [re.compile("a+b%d" % (i % 10)) for i in range(300)],
    "arrays": lambda: [array.array("i", range(50)) for _ in range(200)],
    "frozensets_of_tuples": lambda: [frozenset({(i, i + 1)}) for i in range(500)],
    "uuids": lambda: [uuid.UUID(int=i) for i in range(500)],
    "getstate": lambda: [WithGetState(i) for i in range(500)],
    "getnewargs_ex": lambda: [WithNewArgsEx(i, b=[i]) for i in range(300)],
    "dataclass_tree": lambda: _tree(5),
    "simplenamespace": lambda: [types.SimpleNamespace(a=i, b=[i]) for i in range(300)],
    "partials": lambda: [functools.partial(max, i, key=abs) for i in range(300)],
    "paths": lambda: [pathlib.PurePosixPath("/a/b/%d" % i) for i in range(300)],
    "ip_addresses": lambda: [ipaddress.ip_address("10.0.0.%d" % (i % 250)) for i in range(300)],
    "aware_datetimes": lambda: [datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)] * 300,
    "tuples_with_lists": lambda: [(i, [i], "x") for i in range(500)],
    "tuple_keys": lambda: {(i, "k"): [i] for i in range(500)},
    "deep_lists": lambda: [[[[[[i]]]]] for i in range(300)],
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", help="comma-separated names (default: all)")
    ap.add_argument("--repeat", type=int, default=30, help="interleaved rounds (default 30)")
    ap.add_argument("--min-time", type=float, default=0.01, help="seconds per batch (default 0.01)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    names = run.select_cases(list(SHAPES), args.shapes)
    stdlib = run._private_stdlib_copy().deepcopy
    contenders = [("stdlib", stdlib), ("copium", impls.copium), ("ours", impls.ours)]
    results: Dict[str, Any] = {}
    print("%-22s %12s %12s %12s %12s %11s" % ("shape", "stdlib", "copium", "ours",
                                               "copium/ours", "stdlib/ours"))
    for name in names:
        obj = SHAPES[name]()
        ctx = run.CaseContext(obj, stdlib(obj))
        bad = []
        for label, fn in contenders[1:]:
            check = run.run_checks(run.Impl(label, label, fn, {}), ctx)
            if not check["ok"]:
                bad.append("%s: %s" % (label, check.get("error") or check["mismatches"][:2]))
        timing = run.time_case(contenders, obj, args.repeat, int(args.min_time * 1e9), False)
        med = {k: v["median_ns"] for k, v in timing.items()}
        results[name] = {"median_ns": med, "check_failures": bad}
        print("%-22s %10.1fus %10.1fus %10.1fus %11.2fx %10.1fx%s" % (
            name, med["stdlib"] / 1e3, med["copium"] / 1e3, med["ours"] / 1e3,
            med["copium"] / med["ours"], med["stdlib"] / med["ours"],
            ("   CHECK: " + "; ".join(bad)) if bad else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version, "shapes": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
