# mk/install.mk — install the shim into a Python environment (included by Makefile).
#
#   make install                                   into $(PY)'s site-packages
#   make install INSTALL_PYTHON=/path/venv/bin/python   into that environment
#   make install PREFIX=/opt/x                     under a prefix (its platlib)
#   make install DESTDIR=/tmp/stage                staged (packaging)
#   make uninstall [same variables]
#
# It copies the package shim/fastdeepcopy (with the extension built for that
# interpreter) into site-packages, plus fastdeepcopy-startup.pth, a one-line
# start-up hook that `site` executes in every interpreter of the environment:
# it does what shim/sitecustomize.py does (same settings, FASTDEEPCOPY=0 turns
# it off) without taking the environment's sitecustomize slot.  `pip install .`
# installs the same two things (pyproject.toml, setup.py).
#
# INSTALL_BUILD=0 skips (re)building the extension: install what is built.

INSTALL_PYTHON ?= $(PY)
INSTALL_BUILD ?= 1
PREFIX ?=
DESTDIR ?=
FDC_PTH := fastdeepcopy-startup.pth
FDC_PTH_LINE := import fastdeepcopy._settings, fastdeepcopy as _fdc; _fdc._startup_run(".pth")
# site-packages (platlib) of an interpreter, or of PREFIX when it is given
FDC_SITE_PY := import sys, sysconfig; p = sys.argv[1]; print(sysconfig.get_path("platlib", vars={"base": p, "platbase": p} if p else None))
FDC_SUFFIX_PY := import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))

.PHONY: install uninstall shim-pyc

install:
ifneq ($(INSTALL_BUILD),0)
	$(MAKE) --no-print-directory PYTHON='$(INSTALL_PYTHON)' build
endif
	@set -e; \
	py="$$(scripts/findpython.sh '$(INSTALL_PYTHON)')"; \
	site="$$("$$py" -c '$(FDC_SITE_PY)' '$(PREFIX)')"; \
	ext="shim/fastdeepcopy/_engine$$("$$py" -c '$(FDC_SUFFIX_PY)')"; \
	if [ ! -f "$$ext" ]; then \
		echo "install: $$ext is not built; run: make PYTHON=$$py" >&2; exit 1; fi; \
	dest="$(DESTDIR)$$site"; \
	if [ -d "$$dest/fastdeepcopy" ] && [ ! -f "$$dest/fastdeepcopy/.installed-by-make" ]; then \
		echo "install: $$dest/fastdeepcopy exists and was not installed by make" \
		     "(pip?); remove it first (pip uninstall fastdeepcopy)" >&2; exit 1; fi; \
	rm -rf "$$dest/fastdeepcopy"; \
	install -d "$$dest/fastdeepcopy"; \
	install -m 644 shim/fastdeepcopy/*.py "$$dest/fastdeepcopy/"; \
	install -m 755 "$$ext" "$$dest/fastdeepcopy/"; \
	: > "$$dest/fastdeepcopy/.installed-by-make"; \
	printf '%s\n' '$(FDC_PTH_LINE)' > "$$dest/$(FDC_PTH)"; \
	if [ -z '$(DESTDIR)' ]; then "$$py" -m compileall -q "$$dest/fastdeepcopy" >/dev/null; fi; \
	echo "installed fastdeepcopy into $$dest (start-up hook: $(FDC_PTH))"

uninstall:
	@set -e; \
	py="$$(scripts/findpython.sh '$(INSTALL_PYTHON)')"; \
	site="$$("$$py" -c '$(FDC_SITE_PY)' '$(PREFIX)')"; \
	dest="$(DESTDIR)$$site"; \
	if [ -d "$$dest/fastdeepcopy" ] && [ ! -f "$$dest/fastdeepcopy/.installed-by-make" ]; then \
		echo "uninstall: $$dest/fastdeepcopy was not installed by make; use pip uninstall fastdeepcopy" >&2; \
		exit 1; fi; \
	rm -rf "$$dest/fastdeepcopy" "$$dest/$(FDC_PTH)"; \
	echo "removed fastdeepcopy from $$dest"

# Byte-compile the shim for $(PY) as part of `make`: the start-up hook runs in
# every process, and without .pyc files (PYTHONDONTWRITEBYTECODE=1, read-only
# checkouts) compiling it would cost several milliseconds per process start.
build: shim-pyc
shim-pyc:
	@$(PY) -m compileall -q shim >/dev/null
