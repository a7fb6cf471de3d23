"""The ``coverage`` command line. Each subcommand parses its arguments and calls the
library; no analysis lives here.

Every error the library raises for bad input (:class:`coverage.errors.InputError`)
is printed as one line naming the file, row, field and what was expected, and the
command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from coverage.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="coverage",
        description="重庆医疗卫生服务覆盖规划 / Chongqing health service-coverage planning",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each _add_* function registers one command and sets ``func``.
    for add in (_add_validate,):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coverage`` console command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# --- validate ---------------------------------------------------------------

def _add_validate(sub) -> None:
    p = sub.add_parser("validate", help="load a region pack, validate it and print a summary")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    from coverage.region import load_region, summary

    region = load_region(args.region)
    print(summary(region))
    return 0


if __name__ == "__main__":
    sys.exit(main())
