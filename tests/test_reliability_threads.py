"""Reliability (issue 6): threads.

* 8 threads copying shared structures for ~2 s with sys.setswitchinterval(1e-6)
  (scripts/reliability_stress.py, in a child process): hooks re-enter deepcopy
  with and without memo, keep the memo in a global that other threads then use,
  mutate inputs other threads are copying, run the gc (finalizers copy too); a
  spawner starts and ends short-lived copying threads.  No crash, and every copy
  of a non-mutated input equals stdlib's.
* interpreter shutdown while daemon threads are copying;
* a memo kept by a thread that has ended; threads ended by SystemExit from a hook;
* os.fork() from inside a copy.
FASTDEEPCOPY_STRESS_SECONDS sets the stress duration (default 2).
"""
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
import reliability_common as rc  # noqa: E402

import fastdeepcopy  # noqa: E402
import helpers_compare as hc  # noqa: E402

SECONDS = float(os.environ.get("FASTDEEPCOPY_STRESS_SECONDS", "") or (20 if rc.LONG else 2))


def test_eight_threads_stress():
    proc = rc.run_child(script="reliability_stress.py",
                        args=["--seconds", SECONDS, "--threads", 8], timeout=600)
    res = rc.assert_child_ok(proc, "8-thread stress")
    assert res["mismatches"] == 0, res["first_mismatches"]
    assert res["stable_copies"] >= 8, res
    assert res["mutated_copies"] > 0 and res["stolen_memo_copies"] > 0, res
    assert res["short_lived_threads"] > 0, res


SHUTDOWN_CHILD = r"""
import threading, time, sys
import fastdeepcopy

class Slow:
    def __init__(self, n):
        self.v = [n, [n]]
    def __deepcopy__(self, memo):
        time.sleep(0)
        return fastdeepcopy.deepcopy(self.v, memo)

data = [[Slow(i), {"k": [i]}] for i in range(200)]
def loop():
    while True:
        fastdeepcopy.deepcopy(data)
        fastdeepcopy.deepcopy([data[:10], Slow(1)], {})

sys.setswitchinterval(1e-5)
for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
time.sleep(0.3)
print("exiting")
"""


@pytest.mark.parametrize("round_", range(3))
def test_shutdown_with_daemon_threads_copying(round_):
    proc = rc.run_child(SHUTDOWN_CHILD, timeout=120)
    rc.assert_child_ok(proc, "shutdown with copying daemon threads")
    assert "exiting" in proc.stdout


def test_memo_kept_after_its_thread_ended():
    kept = []

    class Keep:
        def __deepcopy__(self, memo):
            kept.append(memo)
            return Keep()

    shared = [1, [2]]
    x = [shared, Keep(), shared, {"a": shared}]
    results = []

    def work():
        results.append(fastdeepcopy.deepcopy(x))

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 20 and len(results) == 20
    for memo, y in zip(kept, results):
        # the memo outlives the thread and its native state: still a working dict
        assert isinstance(memo, dict)
        assert memo[id(shared)] is y[0] or any(v is y[0] for v in memo.values())
        assert y[0] is y[2] is y[3]["a"] and y[0] == shared
        z = fastdeepcopy.deepcopy([shared, shared[1]], memo)
        assert z[0] is y[0]
    memo = kept[0]
    for _ in range(3):
        # the kept memo used from several threads at once
        ts = [threading.Thread(target=fastdeepcopy.deepcopy, args=(x, memo)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    hc.assert_same_outcome(*hc.run_both(x), x)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_threads_ended_by_system_exit_from_a_hook():
    class Exit:
        def __deepcopy__(self, memo):
            raise SystemExit

    big = [[i] for i in range(500)]
    done = []

    def work():
        try:
            fastdeepcopy.deepcopy([big, Exit()])
        finally:
            done.append(1)

    for _ in range(10):
        ts = [threading.Thread(target=work) for _ in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert len(done) == 100
    y = fastdeepcopy.deepcopy([big, big])
    assert y[0] is y[1] and y[0] == big


FORK_CHILD = r"""
import os, sys
import fastdeepcopy

class Forker:
    def __deepcopy__(self, memo):
        pid = os.fork()
        if pid == 0:
            # the child: the outer copy is still running here (the memo is in use)
            try:
                inner = fastdeepcopy.deepcopy([shared, shared])
                ok = inner[0] is inner[1] and inner[0] == shared
            except BaseException:
                ok = False
            memo["child"] = ok
            return "child" if ok else "child-failed"
        os.waitpid(pid, 0)
        return "parent"

shared = [1, [2]]
x = [shared, Forker(), shared]
y = fastdeepcopy.deepcopy(x)
ok = y[0] is y[2] and y[0] == shared and y[1] in ("child", "parent")
z = fastdeepcopy.deepcopy(x[::2])
ok = ok and z[0] is z[1]
if y[1] != "parent":
    os._exit(0 if ok and y[1] == "child" else 3)
print("parent ok" if ok else "parent failed")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_inside_a_copy():
    proc = rc.run_child(FORK_CHILD, timeout=120)
    rc.assert_child_ok(proc, "fork inside a copy")
    assert "parent ok" in proc.stdout
