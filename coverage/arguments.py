"""Command-line values checked against the range that makes sense for each option.

Each factory returns an ``argparse`` type: a value out of range makes ``argparse``
print one line naming the option and what was expected, and exit with status 2,
before any file is read.
"""

from __future__ import annotations

import argparse
import math

from coverage.choices import GRADE_SEPARATED, REPAIR_TOLERANCE_M

#: Years a plan can be about (facilities' opening years are checked the same way).
YEARS = (1900, 2100)


def number(low: float, high: float, *, integer: bool = False, low_open: bool = False,
           what: str = "a number"):
    """An ``argparse`` type for a number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if integer else 'a number'}: expected "
                f"{what}") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected {what}, "
                                             f"{bound} and at most {high:g}")
        return value

    return parse


year = number(*YEARS, integer=True, what="a year")


def year_or_target(text: str):
    """A year, or ``target``: each target checked in its own year (``check --year target``)."""
    return text if text == "target" else year(text)

minutes = number(0, 24 * 60, low_open=True, what="minutes")
#: Side of the cells isochrone bands are evaluated on.
cell_m = number(1, 1_000, what="metres between 1 and 1000")
#: Below 10 m a candidate grid would hold a site at every road vertex of the region.
spacing_m = number(10, 100_000, what="metres between candidates")
top = number(1, 1_000_000, integer=True, what="a number of rows")
time_limit = number(0, 7 * 24 * 3600, low_open=True, what="seconds")
workers = number(1, 1_024, integer=True, what="a number of worker processes")
sites = number(0, 100_000, integer=True, what="a number of new sites")


def minutes_list(text: str) -> list[float]:
    """Comma-separated minutes, each more than 0 and at most a day (5,10,15,30)."""
    bands = [t for t in text.split(",") if t.strip()]
    if not bands:
        raise argparse.ArgumentTypeError(f"expected minutes such as 5,10,15,30, got {text!r}")
    try:
        return [minutes(t.strip()) for t in bands]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (in {text!r}; expected such as 5,10,15,30)") from None


def add_network_arguments(parser, *, crs_alias: bool = False) -> None:
    """Register the road-file flags (read by :func:`coverage.roadfile.options_from_args`) shared by every command that reads a road network.

    ``--network-crs`` is also ``--crs`` with ``crs_alias`` (``network info``/``repair``,
    where no other file has a CRS).
    """
    group = parser.add_argument_group("road file 路网文件 (default: region.toml [network])")
    group.add_argument(*(("--network-crs", "--crs") if crs_alias else ("--network-crs",)),
                       dest="network_crs", help="CRS of the road file: GCJ02, BD09, EPSG:n")
    group.add_argument("--class-column", help="road-class column (default: found by name or values)")
    group.add_argument("--class-mapping", help="CSV name,highway of extra class names or codes")
    group.add_argument("--default-class", help="class of every road when the file has no class column")
    group.add_argument("--speed-column", help="speed column (km/h) standing in for a class column")
    group.add_argument("--oneway-column", help="one-way column")
    group.add_argument("--oneway-codes", help="one-way coding: navinfo, or CODE=both|forward|backward,...")
    group.add_argument("--bridge-column", help="bridge/tunnel column: flagged roads are never noded")
    group.add_argument("--grade-separated", help="classes never noded at crossings, comma-separated "
                       f"(default: {','.join(GRADE_SEPARATED)})")
    group.add_argument("--tolerance", type=float, help="repair tolerance in metres "
                       f"(default: {REPAIR_TOLERANCE_M:g})")
