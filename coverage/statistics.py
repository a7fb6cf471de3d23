"""District statistics (区级统计): figures a plan states beside the facility register.

Plans state resource ratios as district totals (每千人口执业（助理）医师 2.94 in 2020,
每百张床位临床药师 0.32 ...), while a register holds staff and beds for a few
facilities only. A pack may carry ``statistics.toml`` beside ``region.toml``::

    [fields.anaesthetists]          # a staff field the plans use, declared as data
    name_zh = "麻醉医师"
    name_en = "anaesthetists"

    [[figure]]
    id = "physicians-2020"
    field = "physicians"            # a register field or a declared one
    value = 2.94
    per = 1000                      # per 1,000 (or 10,000 ...) residents
    denominator = "residents"       # or "beds": per ``per`` beds (临床药师 per 100 beds)
    year = 2020
    source = "seed 002 表1"
    quote = "每千人口执业（助理）医师数（人） 2.94"

The ``ratio`` rule of :mod:`coverage.targets` judges on the register when every
counted facility reports the field, and on these figures otherwise, saying which
(:func:`figures_for`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from coverage import schema
from coverage.errors import InputError

STATISTICS_FILE = "statistics.toml"
DENOMINATORS = {"residents": "常住人口 residents", "beds": "床位 beds"}


@dataclass(frozen=True)
class Figure:
    """One stated district figure."""

    id: str
    field: str
    value: float
    per: int
    denominator: str
    year: int
    source: str
    quote: str
    notes: str = ""


@dataclass
class Statistics:
    """A pack's statistics: declared fields (key -> names) and figures."""

    fields: dict[str, dict] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: str = ""


def load_statistics(region) -> Statistics:
    """The statistics of a region pack (empty when it has no ``statistics.toml``)."""
    path = Path(region.path) / STATISTICS_FILE
    return read_statistics(path) if path.exists() else Statistics()


def read_statistics(path: str | Path) -> Statistics:
    """Read and validate a statistics file.

    Raises
    ------
    InputError
        Naming the figure and field: invalid TOML, a missing or empty text, an
        unknown field, a value that is not a finite number >= 0, ``per`` not a
        positive whole number, an unknown denominator, a year that is not a year,
        a duplicate id.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    declared = data.get("fields", {})
    if not isinstance(declared, dict):
        raise InputError(path, "expected a table of declared fields", field="fields")
    for key, names in declared.items():
        if not isinstance(names, dict) or not all(str(names.get(k, "")).strip()
                                                  for k in ("name_zh", "name_en")):
            raise InputError(path, "a declared field needs name_zh and name_en",
                             field=f"fields.{key}")
    known = set(schema.INTEGER_FIELDS) | set(declared)
    figures, seen = [], set()
    for i, item in enumerate(data.get("figure", [])):
        label = f"figure {item.get('id', i + 1)}"
        for key in ("id", "field", "source", "quote"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise InputError(path, "missing value: expected text", field=f"{label}.{key}")
        if item["id"] in seen:
            raise InputError(path, f"duplicate figure id {item['id']!r}", field=f"{label}.id")
        seen.add(item["id"])
        if item["field"] not in known:
            raise InputError(path, f"unknown field {item['field']!r}: expected one of "
                             + ", ".join(sorted(known)) + " (declare new ones under [fields])",
                             field=f"{label}.field")
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise InputError(path, f"{value!r}: expected a number >= 0", field=f"{label}.value")
        per = item.get("per", 1000)
        if isinstance(per, bool) or not isinstance(per, int) or per <= 0:
            raise InputError(path, f"{per!r}: expected a positive whole number",
                             field=f"{label}.per")
        denominator = item.get("denominator", "residents")
        if denominator not in DENOMINATORS:
            raise InputError(path, f"{denominator!r}: expected one of "
                             + ", ".join(DENOMINATORS), field=f"{label}.denominator")
        year = item.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise InputError(path, f"{year!r}: expected a year", field=f"{label}.year")
        figures.append(Figure(item["id"], item["field"], float(value), per, denominator, year,
                              item["source"], item["quote"], str(item.get("notes", ""))))
    return Statistics({k: dict(v) for k, v in declared.items()}, figures,
                      str(data.get("notes", "")))


def field_names(stats: Statistics) -> set[str]:
    """Every field a ratio may name: the register's and the pack's declared ones."""
    return set(schema.INTEGER_FIELDS) | set(stats.fields)


def figures_for(stats: Statistics, name: str, per: int, denominator: str = "residents"
                ) -> list[dict]:
    """The figures of ``name`` over ``denominator``, rescaled to per ``per``, oldest first.

    Returned as JSON-ready dicts (id, value, year, source, quote), so that they can
    travel in a rule's pieces.
    """
    out = [{"id": f.id, "value": f.value * per / f.per, "year": f.year, "source": f.source,
            "quote": f.quote}
           for f in stats.figures if f.field == name and f.denominator == denominator]
    return sorted(out, key=lambda f: (f["year"], f["id"]))
