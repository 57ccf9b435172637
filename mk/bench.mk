# Benchmarks (issue 5).  Included by the main Makefile (PY, PYVER, EXT, build).
#   make bench                   all cases side by side: stdlib, pickle, ours, copium
#   make bench-all               the same for each of $(BENCH_VERSIONS)
#   make bench-history           small cases unprimed vs after a big copy (ours, copium)
#   make bench-patch             copy.deepcopy patched vs fastdeepcopy.deepcopy direct
#   make bench-floors            flat ints / tuples of atomics vs list.copy()
#   make bench-pyperformance     pyperformance bm_deepcopy: stdlib, the shim, copium
#   make bench-startup           python -c pass with and without PYTHONPATH=shim
#   make bench-report            all of the above, then the $(PYVER) section of docs/performance.md
#   make bench-report-all        bench-report for each of $(BENCH_VERSIONS)
#   make bench-selftest          the harness's own checks (no benchmark venv needed)
# Options: BENCH_CASES=a,b (run.py --cases), BENCH_ARGS='--prime json_records' (extra run.py
# arguments for make bench), BENCH_JSON=path (make bench's JSON; default bench/results/X.Y/main.json).
# Results: bench/results/X.Y/*.json (git-ignored).  The benchmark venv .venv/bench-X.Y holds
# copium, pyperf and pyperformance; they are never runtime or test dependencies.

BENCH_VERSIONS ?= 3.11 3.12 3.13 3.14
BENCH_VENV := .venv/bench-$(PYVER)
BENCH_PY := $(BENCH_VENV)/bin/python
# the versions every figure in docs/performance.md was measured with
BENCH_REQS := pyperf==2.11.0 pyperformance==1.14.0
BENCH_COPIUM := copium==0.1.0
BENCH_RESULTS := bench/results/$(PYVER)
BENCH_CASES ?=
BENCH_ARGS ?=
BENCH_JSON ?= $(BENCH_RESULTS)/main.json
BENCH_DOC := docs/performance.md
BENCH_SUITE = $(BENCH_PY) bench/suite.py --out $(BENCH_RESULTS)
BENCH_PARTS := bench bench-history bench-patch bench-floors bench-pyperformance bench-startup

.PHONY: bench-venv $(BENCH_PARTS) bench-all bench-report bench-report-all bench-selftest

$(BENCH_VENV)/.stamp: mk/bench.mk
	test -x $(BENCH_PY) || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q --disable-pip-version-check $(BENCH_REQS)
	$(BENCH_PY) -m pip install -q --disable-pip-version-check $(BENCH_COPIUM) \
	  || echo "bench: copium does not install on Python $(PYVER); the benchmarks run without it"
	touch $@

bench-venv: $(BENCH_VENV)/.stamp

bench: build bench-venv
	$(BENCH_SUITE) main --cases "$(BENCH_CASES)" --run-args "$(BENCH_ARGS)" --json "$(BENCH_JSON)"

bench-history: build bench-venv
	$(BENCH_SUITE) history

bench-patch: build bench-venv
	$(BENCH_SUITE) patch

bench-floors: build bench-venv
	$(BENCH_SUITE) floors

bench-pyperformance: build bench-venv
	$(BENCH_SUITE) pyperformance

bench-startup: build bench-venv
	$(BENCH_SUITE) startup --python $(PY)

bench-all:
	set -e; for v in $(BENCH_VERSIONS); do $(MAKE) --no-print-directory PYTHON=python$$v bench; done

# One version: every part, then its section of docs/performance.md (the rest of the file is kept).
bench-report: build bench-venv
	$(BENCH_SUITE) main --json $(BENCH_RESULTS)/main.json
	$(BENCH_SUITE) floors
	$(BENCH_SUITE) history
	$(BENCH_SUITE) patch
	$(BENCH_SUITE) pyperformance
	$(BENCH_SUITE) startup --python $(PY)
	$(BENCH_PY) bench/report.py --versions $(PYVER) --write $(BENCH_DOC)

bench-report-all:
	set -e; for v in $(BENCH_VERSIONS); do $(MAKE) --no-print-directory PYTHON=python$$v bench-report; done

bench-selftest: build
	$(PY) bench/selftest.py
	$(PY) bench/test_tools.py
