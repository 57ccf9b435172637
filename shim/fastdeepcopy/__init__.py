"""fastdeepcopy: a C implementation of copy.deepcopy (see README)."""
from ._engine import Error, copy, deepcopy, stats, reset_stats  # noqa: F401
