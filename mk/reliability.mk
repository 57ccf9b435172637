# mk/reliability.mk — issue 6: no crash, no leak, no lost object (included by Makefile).
#
#   make test-reliability     only tests/test_reliability_*.py (part of `make test` anyway)
#   make test-asan            extension built with -fsanitize=address,undefined -O1 into
#                             build/asan/X.Y/, then the whole of tests/ against it with the
#                             sanitizer runtimes preloaded (PYTHONMALLOC=malloc so that every
#                             allocation gets red zones)
#   make test-valgrind        scripts/reliability_valgrind.py (a representative workload) and
#                             a slice of the reliability tests under valgrind memcheck; fails
#                             when an error report has a frame in _engine*.so
#   make fuzz                 long hypothesis differential campaign (hostile classes):
#                             FUZZ_EXAMPLES examples for each of FUZZ_SEEDS
#   make stress               the 8-thread stress for STRESS_SECONDS
#   make reliability          all of the above for $(PYTHON)
#   make <target>-all         any of test-asan, test-valgrind, fuzz, stress, reliability for
#                             every version in $(VERSIONS)
# Long mode of the leak tests (10,000 copies per shape): FASTDEEPCOPY_LONG=1 make test-reliability

ASAN_ROOT := build/asan/$(PYVER)
ASAN_EXT := $(ASAN_ROOT)/shim/fastdeepcopy/_engine$(EXT_SUFFIX)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_LIBS = $(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so)
# detect_leaks=0: CPython itself "leaks" at exit.  verify_asan_link_order=0 lets a child
# process that a test deliberately starts without LD_PRELOAD (the start-up shim tests clean
# their environment) still import the instrumented extension; such children are checked
# less thoroughly (no heap interception) but the rest is.
ASAN_OPTIONS_VALUE := detect_leaks=0:malloc_fill_byte=90:detect_stack_use_after_return=0:verify_asan_link_order=0:abort_on_error=0:print_summary=1:halt_on_error=1
UBSAN_OPTIONS_VALUE := print_stacktrace=1:halt_on_error=1
ASAN_ENV = ASAN_OPTIONS=$(ASAN_OPTIONS_VALUE) UBSAN_OPTIONS=$(UBSAN_OPTIONS_VALUE) \
	PYTHONMALLOC=malloc LD_PRELOAD=$(ASAN_LIBS) FASTDEEPCOPY_EXPECT_ENGINE=$(abspath $(ASAN_EXT))
# the mirror of the checkout the sanitized tests run in: copies of shim/, tests/, scripts/
# (tests find the package as <their parent>/shim) and links to everything else
ASAN_LINKS := Makefile mk src bench docs README.md pyproject.toml setup.py .venv
ASAN_PYTEST_ARGS ?=

VG_ROOT := build/valgrind/$(PYVER)
VG_SUPP := scripts/reliability_valgrind.supp
VALGRIND ?= valgrind
VG_FLAGS := --tool=memcheck --suppressions=$(VG_SUPP) --num-callers=40 --error-limit=no \
	--track-origins=yes --trace-children=no
VG_TESTS ?= tests/test_reliability_faults.py::test_hook_exception_in_process

FUZZ_EXAMPLES ?= 20000
FUZZ_SEEDS ?= 1 2 3 4 5
STRESS_SECONDS ?= 60

.PHONY: test-reliability test-asan asan-build test-valgrind fuzz stress reliability \
	test-asan-all test-valgrind-all fuzz-all stress-all reliability-all

test-reliability: build venv
	$(VPY) -m pytest -q -p no:cacheprovider tests/test_reliability_*.py $(PYTEST_ARGS)

# ---- AddressSanitizer + UndefinedBehaviorSanitizer ------------------------------------

$(ASAN_EXT): $(SRCS) $(HDRS) Makefile mk/reliability.mk
	@mkdir -p $(dir $@)
	$(MAKE) --no-print-directory PYTHON=$(PY) EXT=$(abspath $@) OPT=-O1 WHOLE= ASSERTS= \
	  EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)" $(abspath $@)

asan-build: $(ASAN_EXT) build
	@set -e; root=$(ASAN_ROOT); \
	rm -rf $$root/tests $$root/scripts; \
	cp -R tests scripts $$root/; \
	find shim -maxdepth 1 -type f -exec cp {} $$root/shim/ \; ; \
	cp shim/fastdeepcopy/*.py $$root/shim/fastdeepcopy/; \
	for f in $(ASAN_LINKS); do \
	  if [ -e $$f ] && [ ! -e $$root/$$f ]; then ln -s $(CURDIR)/$$f $$root/$$f; fi; done; \
	find $$root -name __pycache__ -prune -exec rm -rf {} +; \
	echo "asan: instrumented extension $(ASAN_EXT); mirror of the checkout in $$root"

test-asan: asan-build venv
	cd $(ASAN_ROOT) && $(ASAN_ENV) $(CURDIR)/$(VPY) -m pytest -q -p no:cacheprovider \
	  tests $(ASAN_PYTEST_ARGS)

# ---- valgrind memcheck ----------------------------------------------------------------

test-valgrind: build venv
	@rm -rf $(VG_ROOT); mkdir -p $(VG_ROOT)
	PYTHONMALLOC=malloc $(VALGRIND) $(VG_FLAGS) --log-file=$(VG_ROOT)/workload.%p.log \
	  $(VPY) scripts/reliability_valgrind.py run
	PYTHONMALLOC=malloc FASTDEEPCOPY_VALGRIND=1 $(VALGRIND) $(VG_FLAGS) \
	  --log-file=$(VG_ROOT)/pytest.%p.log \
	  $(VPY) -m pytest -q -p no:cacheprovider $(VG_TESTS)
	$(VPY) scripts/reliability_valgrind.py check $(VG_ROOT)

# ---- long campaigns -----------------------------------------------------------------

fuzz: build venv
	$(VPY) scripts/reliability_fuzz.py --examples $(FUZZ_EXAMPLES) --seeds $(FUZZ_SEEDS)

stress: build venv
	$(VPY) scripts/reliability_stress.py --seconds $(STRESS_SECONDS) --threads 8

reliability: test-reliability test-asan test-valgrind fuzz stress

test-asan-all test-valgrind-all fuzz-all stress-all reliability-all:
	set -e; for v in $(VERSIONS); do \
	  $(MAKE) --no-print-directory PYTHON=python$$v $(@:-all=); done
