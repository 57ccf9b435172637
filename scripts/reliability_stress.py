"""Threads deep-copying shared structures at once (a child process of the tests).

    python scripts/reliability_stress.py [--seconds 2] [--threads 8] [--seed 1]

sys.setswitchinterval(1e-6) forces a thread switch at nearly every chance.  The
workers copy, at random, shared inputs that nobody mutates (each copy must equal
stdlib's copy of it, computed before the threads start) and inputs that hooks
mutate while other threads copy them (any outcome but a crash is accepted:
stdlib itself may raise RuntimeError there).  Hooks re-enter deepcopy without a
memo and with one, keep the memo in a global that other threads then pass as
their memo, run the garbage collector (whose finalizers copy too), and sleep(0).
Meanwhile a spawner starts and ends short-lived threads that copy.

The report is one JSON line: copies, mismatches (with the first few), outcomes
by exception type, threads started.  Exit status 1 when a non-mutated input was
copied wrong.
"""
import argparse
import collections
import gc
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_common as rc  # noqa: E402

import fastdeepcopy  # noqa: E402
import helpers_compare as hc  # noqa: E402

_impl = threading.local()


def deepcopy(*args):
    """The implementation the hooks call: stdlib's while the expected results are
    computed (main thread, before the workers), fastdeepcopy otherwise."""
    return getattr(_impl, "fn", fastdeepcopy.deepcopy)(*args)


STOLEN_MEMOS = collections.deque(maxlen=8)
MUTABLE_LIST = [[i] for i in range(50)]
MUTABLE_DICT = {i: [i] for i in range(50)}


class Payload:
    def __init__(self, n):
        self.n = n
        self.items = [n, [n, n + 1], {"k": (n, [n])}]


class ReenterNoMemo:
    """__deepcopy__ starting an independent copy (a second memo on the thread)."""

    def __init__(self, n):
        self.payload = Payload(n)

    def __deepcopy__(self, memo):
        new = ReenterNoMemo.__new__(ReenterNoMemo)
        new.payload = deepcopy(self.payload)
        return new


class ReenterMemo:
    def __init__(self, n, shared):
        self.payload = Payload(n)
        self.shared = shared

    def __deepcopy__(self, memo):
        new = ReenterMemo.__new__(ReenterMemo)
        memo[id(self)] = new
        new.payload = deepcopy(self.payload, memo)
        new.shared = deepcopy(self.shared, memo)
        return new


class KeepMemo:
    """Keeps the memo it was given; other threads copy with it later."""

    def __deepcopy__(self, memo):
        STOLEN_MEMOS.append(memo)
        return KeepMemo()


class ReduceReenter:
    """A memo-less copy inside __reduce__/__setstate__ (copium wiped the outer
    call's memo there): the outer copy's sharing must survive."""

    def __init__(self, n):
        self.v = [n]

    def __reduce__(self):
        deepcopy([self.v, {"a": self.v}])
        return (ReduceReenter, (0,), {"v": self.v})

    def __setstate__(self, state):
        deepcopy(state)
        self.__dict__.update(state)


class Switcher:
    def __init__(self, n):
        self.v = [n, [n]]

    def __deepcopy__(self, memo):
        time.sleep(0)
        new = Switcher.__new__(Switcher)
        new.v = deepcopy(self.v, memo)
        return new


class Collector:
    """Runs the garbage collector in the middle of a copy."""

    def __init__(self, n):
        self.v = [n]

    def __deepcopy__(self, memo):
        if random.random() < 0.05:
            gc.collect()
        new = Collector.__new__(Collector)
        new.v = deepcopy(self.v, memo)
        return new


class Finalized:
    """Garbage in cycles whose finalizer copies: runs in whichever thread collects."""

    def __init__(self):
        self.me = self

    def __del__(self):
        try:
            fastdeepcopy.deepcopy([[1], {"a": (2, [3])}])
        except Exception:
            pass


class Mutator:
    """Mutates the shared containers that other threads are copying."""

    def __deepcopy__(self, memo):
        r = random.random()
        if r < 0.3:
            MUTABLE_LIST.append([len(MUTABLE_LIST)])
        elif r < 0.6 and len(MUTABLE_LIST) > 10:
            MUTABLE_LIST.pop(random.randrange(len(MUTABLE_LIST)))
        elif r < 0.8:
            MUTABLE_DICT[random.randrange(100)] = [r]
        else:
            MUTABLE_DICT.pop(random.randrange(100), None)
        Finalized()
        return Mutator()


def make_stable_inputs():
    shared = [0, [1]]
    cyc = [shared]
    cyc.append(cyc)
    d = {"s": shared, "c": cyc}
    d["d"] = d
    return {
        "builtins": [1, "s", 2.5, (1, [2]), {"a": [3], "b": {4, 5}}, frozenset([6]),
                     bytearray(b"x"), [shared, shared]],
        "cycles": [cyc, d, (cyc, d)],
        "instances": [Payload(i) for i in range(20)],
        "reenter_nomemo": [ReenterNoMemo(i) for i in range(5)] + [shared, shared],
        "reenter_memo": [ReenterMemo(i, shared) for i in range(5)] + [shared],
        "reduce_reenter": [ReduceReenter(i) for i in range(5)] + [shared, shared],
        "switcher": [Switcher(i) for i in range(10)] + [shared, d],
        "collector": [Collector(i) for i in range(10)] + [cyc],
        "keep_memo": [shared, KeepMemo(), {"s": shared}],
        "big": [[i, {"k": (i,)}] for i in range(600)],
        "deep": _deep(100),
    }


def _deep(n):
    x = []
    for i in range(n):
        x = [i, x]
    return x


MUTATED = {
    "mutated_list": lambda: [MUTABLE_LIST, Mutator(), MUTABLE_LIST],
    "mutated_dict": lambda: {"d": MUTABLE_DICT, "m": Mutator()},
    "stolen_memo": None,
}


def worker(idx, deadline, stable, expected, stats, lock):
    rnd = random.Random(idx)
    names = sorted(stable)
    local = collections.Counter()
    mismatches = []
    while time.monotonic() < deadline:
        r = rnd.random()
        if r < 0.7:
            name = rnd.choice(names)
            x = stable[name]
            try:
                y = rc.checked_call(fastdeepcopy.deepcopy, x)
            except BaseException as e:  # noqa: B036
                mismatches.append("%s raised %s: %s" % (name, rc.exc_name(type(e)), e))
                continue
            try:
                hc.assert_same_copy(expected[name], y, x)
            except AssertionError as e:
                mismatches.append("%s: %s" % (name, str(e)[:400]))
            local["stable_copies"] += 1
        elif r < 0.85:
            x = MUTATED["mutated_list" if r < 0.78 else "mutated_dict"]()
            out = rc.outcome(fastdeepcopy.deepcopy, x)
            local["mutated_copies"] += 1
            local["mutated:" + ("ok" if out[0] == "ok" else rc.exc_name(out[1]))] += 1
        elif r < 0.95:
            memo = STOLEN_MEMOS[-1] if STOLEN_MEMOS else {}
            out = rc.outcome(fastdeepcopy.deepcopy, stable[rnd.choice(names)], memo)
            local["stolen_memo_copies"] += 1
            local["stolen:" + ("ok" if out[0] == "ok" else rc.exc_name(out[1]))] += 1
        else:
            out = rc.outcome(fastdeepcopy.copy, stable[rnd.choice(names)])
            local["shallow_copies"] += 1
    with lock:
        stats.update(local)
        stats["mismatch_list"].extend(mismatches)


def spawner(deadline, stable, stats, lock):
    started = 0
    while time.monotonic() < deadline:
        def short():
            fastdeepcopy.deepcopy(stable["instances"])
            fastdeepcopy.deepcopy([ReenterNoMemo(1), [1]])
        ts = [threading.Thread(target=short) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        started += len(ts)
    with lock:
        stats["short_lived_threads"] += started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    stable = make_stable_inputs()
    _impl.fn = hc.REF.deepcopy
    try:
        with hc.using("ref"):
            expected = {k: hc.REF.deepcopy(v) for k, v in stable.items()}
    finally:
        del _impl.fn
    STOLEN_MEMOS.clear()
    sys.setswitchinterval(1e-6)
    stats = collections.Counter()
    stats["mismatch_list"] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds
    threads = [threading.Thread(target=worker, args=(i, deadline, stable, expected, stats, lock))
               for i in range(args.threads)]
    threads.append(threading.Thread(target=spawner, args=(deadline, stable, stats, lock)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.setswitchinterval(0.005)
    gc.collect()
    mism = stats.pop("mismatch_list")
    report = dict(stats)
    report.update(threads=args.threads, seconds=args.seconds, mismatches=len(mism),
                  first_mismatches=mism[:5])
    # the state after: a copy on the main thread is still right
    x = stable["cycles"]
    hc.assert_same_copy(expected["cycles"], fastdeepcopy.deepcopy(x), x)
    rc.emit(report)
    return 1 if mism else 0


if __name__ == "__main__":
    sys.exit(main())
