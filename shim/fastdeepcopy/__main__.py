"""python -m fastdeepcopy doctor | report ..."""

import sys

USAGE = """usage: python -m fastdeepcopy COMMAND [ARGS]

commands:
  doctor    is copy.deepcopy the fast one in this environment, and if not, why
            (exit status 0 when it is, 1 when it is not)
  report    summarise the A/B statistics written under FASTDEEPCOPY_STATS
"""


def main(argv: "list[str]") -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "doctor":
        from ._doctor import main as doctor
        return doctor(rest)
    if command == "report":
        try:
            import fastdeepcopy._report as _report
        except ModuleNotFoundError as exc:
            if exc.name != "fastdeepcopy._report":
                raise
            sys.stderr.write("fastdeepcopy: the report command is not available in this build\n")
            return 2
        return _report.main(rest)
    sys.stderr.write("fastdeepcopy: unknown command %r\n%s" % (command, USAGE))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
