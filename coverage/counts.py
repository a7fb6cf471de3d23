"""Facility designations and grades that change over the years, for counting facilities.

Plans count facilities by what they are in a year: "三级医院 4 → 6", "甲级基层 from 2 to
6", "5个区域医疗次中心", "4家社区医院". A register records it as data, two optional
text columns of ``|``-separated entries, each ``value`` (always) or ``value@year``
(from that year on):

* ``designations``: roles and titles, e.g. ``区域医疗次中心@2025|社区医院``;
* ``grades``: grades after the register's ``grade``, e.g. ``甲级基层@2023|二级@2025``
  (a centre upgraded in 2023 counts as 甲级基层 from 2023).

:func:`count_facilities` counts the open facilities of a year that match types,
grades and designations (the ``count`` rule of :mod:`coverage.targets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from coverage import schema

#: Separator of entries, and of an entry's value and year.
ENTRY_SEP, YEAR_SEP = "|", "@"


def parse_dated(text: str, normalise: Callable[[str], str] | None = None
                ) -> list[tuple[str, int | None]]:
    """``'甲级基层@2023|二级@2025'`` as ``[('甲级基层', 2023), ('二级', 2025)]``.

    Raises
    ------
    ValueError
        For an empty value, a year that is not a four-digit number, or a value that
        ``normalise`` rejects.
    """
    entries = []
    for part in str(text or "").split(ENTRY_SEP):
        part = part.strip()
        if not part:
            continue
        value, _, year = part.partition(YEAR_SEP)
        value, year = value.strip(), year.strip()
        if not value:
            raise ValueError(f"{part!r}: expected value or value@year")
        if year and not (year.isdigit() and len(year) == 4):
            raise ValueError(f"{part!r}: the year after @ must be four digits")
        entries.append((normalise(value) if normalise else value, int(year) if year else None))
    return entries


def _in_year(entries: list[tuple[str, int | None]], year: int | None) -> list[str]:
    return [value for value, since in entries
            if since is None or (year is not None and since <= year)]


def grade_in_year(grade: str, grades: str, year: int | None) -> str:
    """The grade of a facility in ``year``: the latest ``grades`` entry in force (of one
    year, the last written), else ``grade`` (``year`` None: as registered, dated
    upgrades not yet counted)."""
    dated = [(since or 0, i, value) for i, (value, since) in enumerate(parse_dated(grades,
                                                                            schema.grade))
             if since is None or (year is not None and since <= year)]
    return max(dated)[2] if dated else grade


def designations_in_year(designations: str, year: int | None) -> list[str]:
    """The designations a facility holds in ``year``."""
    return _in_year(parse_dated(designations), year)


def matching(facilities: pd.DataFrame, year: int | None, *, grades: Iterable[str] = (),
             designations: Iterable[str] = ()) -> pd.Series:
    """Boolean mask of the facilities holding one of ``grades`` (if any given) and one
    of ``designations`` (if any given) in ``year``."""
    wanted_grades = {schema.grade(g) for g in grades}
    wanted_names = set(designations)
    blank = pd.Series("", index=facilities.index)
    keep = []
    for grade, dated, named in zip(facilities["grade"], facilities.get("grades", blank),
                                   facilities.get("designations", blank)):
        ok = not wanted_grades or grade_in_year(grade, dated, year) in wanted_grades
        ok = ok and (not wanted_names or bool(wanted_names & set(designations_in_year(named,
                                                                                       year))))
        keep.append(ok)
    return pd.Series(keep, index=facilities.index, dtype=bool)
