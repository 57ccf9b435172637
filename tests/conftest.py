"""Test configuration: make `import fastdeepcopy` work from <repo>/shim.

Nothing here patches copy.deepcopy: the tests compare fastdeepcopy with a
private, pure-Python copy of the stdlib `copy` module (helpers_compare.REF).
"""
import copy
import copyreg
import os
import sys

import pytest

_TESTS = os.path.dirname(os.path.abspath(__file__))
_SHIM = os.path.join(os.path.dirname(_TESTS), "shim")
if _SHIM not in sys.path:
    sys.path.insert(0, _SHIM)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import helpers_compare  # noqa: E402


@pytest.fixture(scope="session")
def ref_copy():
    """The private pure-Python stdlib `copy` module (not sys.modules['copy'])."""
    return helpers_compare.REF


_MISSING = object()


class Registry:
    """Registers entries in copy._deepcopy_dispatch (of BOTH the real copy
    module, which the engine reads, and the private reference), in
    copyreg.dispatch_table (shared), and restores everything afterwards."""

    def __init__(self):
        self._undo = []

    def _set(self, table, key, value):
        old = table.get(key, _MISSING)
        self._undo.append((table, key, old))
        if value is _MISSING:
            table.pop(key, None)
        else:
            table[key] = value

    def deepcopy_dispatch(self, cls, copier):
        self._set(copy._deepcopy_dispatch, cls, copier)
        self._set(helpers_compare.REF._deepcopy_dispatch, cls, copier)

    def remove_deepcopy_dispatch(self, cls):
        self._set(copy._deepcopy_dispatch, cls, _MISSING)
        self._set(helpers_compare.REF._deepcopy_dispatch, cls, _MISSING)

    def copy_dispatch(self, cls, copier):
        self._set(copy._copy_dispatch, cls, copier)
        self._set(helpers_compare.REF._copy_dispatch, cls, copier)

    def reduce(self, cls, reducer):
        assert copy.dispatch_table is copyreg.dispatch_table
        assert helpers_compare.REF.dispatch_table is copyreg.dispatch_table
        self._set(copyreg.dispatch_table, cls, reducer)

    def restore(self):
        while self._undo:
            table, key, old = self._undo.pop()
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old


@pytest.fixture
def registry():
    r = Registry()
    try:
        yield r
    finally:
        r.restore()


@pytest.fixture
def stdlib_copy_unpatched():
    """The differential tests need the real `copy` module unpatched: hooks in
    them call copy.deepcopy while the reference runs.  Fails clearly if an
    earlier test left fastdeepcopy enabled."""
    import fastdeepcopy
    enabled = getattr(fastdeepcopy, "enabled", None)
    if enabled is not None and enabled():
        pytest.fail("copy.deepcopy/copy.copy are patched (fastdeepcopy.enable() left on by "
                    "an earlier test): the stdlib reference would call the engine")
    yield
