"""The start-up hook's entry point under its former module name.

The start-up code lives in the package itself (fastdeepcopy/__init__.py,
"what the shim does when an interpreter starts"): every process that has the
shim runs it, and a module of its own cost as much again as the code does.
This alias remains for ``.pth`` files written by older installs
(``import fastdeepcopy._startup as _fdc; _fdc.run(".pth")``) and for any other
caller of these names; nothing imports it at start-up any more.
"""

from . import _CopyImportHook, _missing_extension, _settings, _state  # noqa: F401
from . import _STDLIB as STDLIB  # noqa: F401
from . import _SUPPORTED  # noqa: F401
from . import _startup_run as run  # noqa: F401
from . import _warn as warn  # noqa: F401
