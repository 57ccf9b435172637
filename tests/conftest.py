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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long test (the wheel build); `make test` runs it, "
                   "-m 'not slow' leaves it out")


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

        def undo():
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self._undo.append(undo)
        if value is _MISSING:
            table.pop(key, None)
        else:
            table[key] = value

    def _set_member(self, mod, name, item, present):
        """`item` in (present) or out of the set mod.<name>: a set is changed
        in place (3.14's), a frozenset (3.15's) is replaced."""
        current = getattr(mod, name)
        if isinstance(current, set):
            was = item in current

            def undo():
                (current.add if was else current.discard)(item)
            self._undo.append(undo)
            (current.add if present else current.discard)(item)
        else:
            self._undo.append(lambda: setattr(mod, name, current))
            setattr(mod, name, current | {item} if present else current - {item})

    def atomic_type(self, cls, present=True):
        """cls in (or out of) copy._atomic_types (3.14+)."""
        for mod in (copy, helpers_compare.REF):
            self._set_member(mod, "_atomic_types", cls, present)

    def copy_atomic_type(self, cls, present=True):
        """cls in (or out of) copy._copy_atomic_types (3.14+)."""
        for mod in (copy, helpers_compare.REF):
            self._set_member(mod, "_copy_atomic_types", cls, present)

    def copy_builtin_container(self, cls, present=True):
        """cls in (or out of) copy._copy_builtin_containers (3.14+)."""
        for mod in (copy, helpers_compare.REF):
            self._set_member(mod, "_copy_builtin_containers", cls, present)

    def atomic_copier(self, cls, copier):
        """Make deepcopy call `copier` for the atomic class cls: its
        _deepcopy_dispatch entry, and from 3.14 cls out of _atomic_types
        (which deepcopy asks first)."""
        if hasattr(copy, "_atomic_types"):
            self.atomic_type(cls, present=False)
        self.deepcopy_dispatch(cls, copier)

    def remove_atomic(self, cls):
        """Make the atomic class cls go through the rest of deepcopy's
        protocol: out of _deepcopy_dispatch, and from 3.14 out of
        _atomic_types."""
        if hasattr(copy, "_atomic_types"):
            self.atomic_type(cls, present=False)
        self.remove_deepcopy_dispatch(cls)

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
            self._undo.pop()()


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
