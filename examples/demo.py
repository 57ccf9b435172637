"""make demo: what fastdeepcopy does for an unmodified program, in a few lines.

Runs examples/app.py (which only uses copy.deepcopy) with the shim
(PYTHONPATH=shim) and without it (FASTDEEPCOPY=0), interleaved, ROUNDS times
each; prints the best time of each, the speed-up, whether both computed the
same result, and the doctor's verdict for the shim's environment.

    python examples/demo.py [--python PYTHON] [--requests N] [--rounds R]
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHIM = os.path.join(ROOT, "shim")
APP = os.path.join(HERE, "app.py")


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("FASTDEEPCOPY", "PYTHON"))}
    e.update(extra)
    return e


def run_app(python, requests, **extra):
    p = subprocess.run([python, APP, str(requests)], env=env(**extra), capture_output=True,
                       text=True, check=True)
    m = re.search(r"in ([0-9.]+) s \(last result (\w+)\)", p.stdout)
    if m is None:
        raise SystemExit("demo: unexpected output from app.py: %r %r" % (p.stdout, p.stderr))
    return float(m.group(1)), m.group(2), p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    on = {"PYTHONPATH": SHIM}
    off = {"PYTHONPATH": SHIM, "FASTDEEPCOPY": "0"}
    fast, slow, digests, warnings = [], [], set(), ""
    for _ in range(args.rounds):
        t, d, err = run_app(args.python, args.requests, **off)
        slow.append(t)
        digests.add(d)
        t, d, err = run_app(args.python, args.requests, **on)
        fast.append(t)
        digests.add(d)
        warnings += err
    doctor = subprocess.run([args.python, "-m", "fastdeepcopy", "doctor"], env=env(**on),
                            capture_output=True, text=True)
    verdict = (doctor.stdout.strip().splitlines() or ["(no output)"])[-1]
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    best_slow, best_fast = min(slow), min(fast)
    print("examples/app.py, %d requests (config trees, order records, dataclasses), "
          "CPython %s, best of %d:" % (args.requests, version, args.rounds))
    print("  standard library  FASTDEEPCOPY=0   %7.3f s" % best_slow)
    print("  fastdeepcopy      PYTHONPATH=shim  %7.3f s   %.1fx as fast, same results: %s"
          % (best_fast, best_slow / best_fast, "yes" if len(digests) == 1 else "NO"))
    print("doctor: " + verdict)
    if warnings:
        sys.stdout.write(warnings)
    return 0 if len(digests) == 1 and doctor.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
