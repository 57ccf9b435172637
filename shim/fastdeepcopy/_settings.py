"""Every environment setting of fastdeepcopy, parsed and validated in one place.

This runs at interpreter start-up, so it imports nothing (annotations are
strings; ``typing`` is not loaded at start-up and must not be by us).

| variable            | values                       | default | effect                      |
|---------------------|------------------------------|---------|-----------------------------|
| FASTDEEPCOPY        | 1/on/true/yes, 0/off/false/no | on     | master switch of the shim   |
| FASTDEEPCOPY_COPY   | boolean                      | on      | also route copy.copy        |
| FASTDEEPCOPY_QUIET  | boolean                      | off     | no warning lines on stderr  |
| FASTDEEPCOPY_SAMPLE | number in [0, 1]             | 1       | A/B: fraction in fast arm   |
| FASTDEEPCOPY_SEED   | any string                   | unset   | A/B: seed of the arm draw   |
| FASTDEEPCOPY_STATS  | a path                       | unset   | A/B: statistics written to  |
| FASTDEEPCOPY_TIMING | boolean                      | off     | A/B: time calls             |
| FASTDEEPCOPY_VERIFY | number in [0, 1]             | 0       | A/B: fraction of calls checked |
| FASTDEEPCOPY_METRICS_FILE | a path                 | unset   | OpenMetrics file the counters are added to |
| FASTDEEPCOPY_METRICS_INTERVAL | seconds >= 0       | 60      | how often it is written (0: at exit only) |
| FASTDEEPCOPY_PROMETHEUS | boolean                  | off     | collector in prometheus_client's registry |

Values are case-insensitive and surrounding blanks are ignored; an empty
value is the same as an unset one.  Any malformed value makes the whole shim
stand down (``Settings.enabled`` is False): the app then runs on the standard
library and start-up prints one warning line (unless FASTDEEPCOPY itself
switched the shim off, or FASTDEEPCOPY_QUIET is on).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:   # never true at run time: typing is not loaded at start-up
    from collections.abc import Mapping

PREFIX = "FASTDEEPCOPY"
NAMES = (
    "FASTDEEPCOPY",
    "FASTDEEPCOPY_COPY",
    "FASTDEEPCOPY_QUIET",
    "FASTDEEPCOPY_SAMPLE",
    "FASTDEEPCOPY_SEED",
    "FASTDEEPCOPY_STATS",
    "FASTDEEPCOPY_TIMING",
    "FASTDEEPCOPY_VERIFY",
    "FASTDEEPCOPY_METRICS_FILE",
    "FASTDEEPCOPY_METRICS_INTERVAL",
    "FASTDEEPCOPY_PROMETHEUS",
)
# The settings consumed by the A/B layer (fastdeepcopy._ab, which hands the
# metrics ones to fastdeepcopy._metrics), if present.
AB_NAMES = NAMES[3:]

_TRUE = ("1", "on", "true", "yes")
_FALSE = ("0", "off", "false", "no")
_BOOL_HINT = "expected 1/on/true/yes or 0/off/false/no"


class Settings:
    """What the environment asked for.  ``raw`` maps each set variable to its value."""

    __slots__ = ("enabled", "master_off", "copy", "quiet", "sample", "seed", "stats",
                 "timing", "verify", "metrics_file", "metrics_interval", "prometheus", "raw")

    def __init__(self) -> None:
        self.enabled = True       # False when switched off or any value is malformed
        self.master_off = False   # FASTDEEPCOPY itself said off
        self.copy = True
        self.quiet = False
        self.sample = 1.0
        self.seed: "str | None" = None
        self.stats: "str | None" = None
        self.timing = False
        self.verify = 0.0
        self.metrics_file: "str | None" = None
        self.metrics_interval = 60.0
        self.prometheus = False
        self.raw: "dict[str, str]" = {}

    @property
    def ab_requested(self) -> bool:
        """Did the environment set any of the A/B settings?"""
        return any(name in self.raw for name in AB_NAMES)

    def __repr__(self) -> str:
        fields = ", ".join("%s=%r" % (name, getattr(self, name)) for name in self.__slots__)
        return "Settings(%s)" % fields


def _bool(value: str) -> "bool | None":
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def _fraction(value: str) -> "float | None":
    try:
        f = float(value)
    except ValueError:
        return None
    return f if 0.0 <= f <= 1.0 else None   # NaN fails both comparisons


def _seconds(value: str) -> "float | None":
    try:
        f = float(value)
    except ValueError:
        return None
    return f if 0.0 <= f < float("inf") else None


def _environ(environ: "Mapping[str, str] | None") -> "Mapping[str, str]":
    if environ is None:
        import os
        return os.environ
    return environ


def read(environ: "Mapping[str, str] | None" = None) -> "tuple[Settings, list[tuple[str, str]]]":
    """Parse the settings from ``environ`` (default ``os.environ``).

    Returns the settings and a list of (variable, problem) for malformed values.
    """
    env = _environ(environ)
    s = Settings()
    problems: "list[tuple[str, str]]" = []
    for key in NAMES:
        value = env.get(key)
        if value is not None and value.strip():
            s.raw[key] = value.strip()

    def flag(name: str, default: bool) -> bool:
        value = s.raw.get(name)
        if value is None:
            return default
        b = _bool(value)
        if b is None:
            problems.append((name, "%r is not a boolean (%s)" % (value, _BOOL_HINT)))
            return default
        return b

    def fraction(name: str, default: float) -> float:
        value = s.raw.get(name)
        if value is None:
            return default
        f = _fraction(value)
        if f is None:
            problems.append((name, "%r is not a number from 0 to 1" % value))
            return default
        return f

    master = flag("FASTDEEPCOPY", True)
    s.master_off = not master
    s.copy = flag("FASTDEEPCOPY_COPY", True)
    s.quiet = flag("FASTDEEPCOPY_QUIET", False)
    s.sample = fraction("FASTDEEPCOPY_SAMPLE", 1.0)
    s.seed = s.raw.get("FASTDEEPCOPY_SEED")
    s.stats = s.raw.get("FASTDEEPCOPY_STATS")
    s.timing = flag("FASTDEEPCOPY_TIMING", False)
    s.verify = fraction("FASTDEEPCOPY_VERIFY", 0.0)
    s.metrics_file = s.raw.get("FASTDEEPCOPY_METRICS_FILE")
    interval = s.raw.get("FASTDEEPCOPY_METRICS_INTERVAL")
    if interval is not None:
        seconds = _seconds(interval)
        if seconds is None:
            problems.append(("FASTDEEPCOPY_METRICS_INTERVAL",
                             "%r is not a number of seconds >= 0" % interval))
        else:
            s.metrics_interval = seconds
    s.prometheus = flag("FASTDEEPCOPY_PROMETHEUS", False)
    s.enabled = master and not problems
    return s, problems


def unknown(environ: "Mapping[str, str] | None" = None) -> "list[str]":
    """FASTDEEPCOPY* variables that are set but mean nothing to us (they are ignored)."""
    return sorted(k for k in _environ(environ) if k.startswith(PREFIX) and k not in NAMES)


def describe(s: Settings) -> "list[tuple[str, str, str]]":
    """(variable, value as read or '<unset>', what it decided) for every setting."""
    def onoff(b: bool) -> str:
        return "on" if b else "off"

    decided = {
        "FASTDEEPCOPY": "shim off" if s.master_off else "shim on",
        "FASTDEEPCOPY_COPY": "copy.copy routed: " + onoff(s.copy),
        "FASTDEEPCOPY_QUIET": "warnings " + ("silenced" if s.quiet else "shown"),
        "FASTDEEPCOPY_SAMPLE": "A/B sample fraction %g" % s.sample,
        "FASTDEEPCOPY_SEED": "A/B seed %s" % ("unset" if s.seed is None else repr(s.seed)),
        "FASTDEEPCOPY_STATS": "A/B statistics file %s" % (s.stats or "none"),
        "FASTDEEPCOPY_TIMING": "A/B timing " + onoff(s.timing),
        "FASTDEEPCOPY_VERIFY": "A/B verify fraction %g" % s.verify,
        "FASTDEEPCOPY_METRICS_FILE": "metrics file %s" % (s.metrics_file or "none"),
        "FASTDEEPCOPY_METRICS_INTERVAL": "metrics written %s" % (
            "at exit only" if s.metrics_interval == 0 else
            "every %gs and at exit" % s.metrics_interval),
        "FASTDEEPCOPY_PROMETHEUS": "prometheus_client collector " + onoff(s.prometheus),
    }
    return [(name, s.raw.get(name, "<unset>"), decided[name]) for name in NAMES]
