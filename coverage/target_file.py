"""Reading and validating a pack's ``targets.toml`` (规划目标), before anything is measured.

Every ``[[target]]`` table and every parameter of its rule is checked when the pack
loads (:func:`coverage.region.load_region`), so that ``coverage validate`` reports a
bad target file and ``coverage batch`` never fails part by part over one. Each rule's
parameters are declared in :data:`PARAMETERS`, one checker per parameter: a new rule
adds its entry there (and its measure/judge pair and defaults in
:mod:`coverage.targets`).

A checker takes the value as TOML gives it and raises :class:`ValueError` saying what
was expected; the error is reported naming the file, the target and the parameter.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coverage import schema
from coverage.errors import InputError
from coverage.modes import MODES

TARGETS_FILE = "targets.toml"
#: Text fields every target carries.
TEXT_FIELDS = ("id", "name_zh", "name_en", "source", "quote", "rule")
#: Keys a ``[[target]]`` table may hold.
TARGET_KEYS = (*TEXT_FIELDS, "year", "notes", "parameters")
#: Longest threshold a rule may ask for: a day.
MAX_MINUTES = 24 * 60
YEARS = (1900, 2100)


@dataclass(frozen=True)
class Param:
    """One parameter of a rule: how to check it, and whether it must be given."""

    check: Callable[[object], None]
    required: bool = False


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value, low: float, high: float, *, low_open: bool, what: str) -> None:
    if isinstance(value, str):
        raise ValueError(f"{value!r} is text: expected {what}, a number without quotes")
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number: expected {what}")
    if value < low or (low_open and value == low) or value > high:
        raise ValueError(f"{value!r} is out of range: expected {what}")


def minutes(value) -> None:
    """Minutes of travel: more than 0, at most a day."""
    _number(value, 0, MAX_MINUTES, low_open=True,
            what=f"minutes greater than 0 and at most {MAX_MINUTES}")


def share(value) -> None:
    """A share of residents: more than 0, at most 1 (0.9 for 90%)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        raise ValueError(f"{value!r} is text: expected a share between 0 and 1, "
                         "such as 0.9 for 90%")
    _number(value, 0, 1, low_open=True, what="a share greater than 0 and at most 1, "
            "such as 0.9 for 90%")


def per(value) -> None:
    """Residents the ratio is counted per: a whole number, 1 to 1,000,000 (1000: 每千人)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number: expected residents per, "
                         "such as 1000 (每千人) or 10000 (每万人)")
    if not 1 <= value <= 1_000_000:
        raise ValueError(f"{value!r} is out of range: expected 1 to 1,000,000 residents, "
                         "such as 1000 (每千人)")


def ratio_value(value) -> None:
    """A required ratio: 0 or more, at most 1,000,000."""
    _number(value, 0, 1_000_000, low_open=False, what="a ratio of 0 or more")


def boolean(value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")


def text(value) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not text")


def mode(value) -> None:
    """A travel mode of :data:`coverage.modes.MODES`."""
    if value not in MODES:
        raise ValueError(f"{value!r} is not a travel mode: expected one of {', '.join(MODES)}")


def modes(value) -> None:
    """One mode for everyone, or a mode for each township kind: street, town and township."""
    kinds = [term.key for term in schema.TOWNSHIP_KINDS]
    if isinstance(value, str):
        mode(value)
        return
    if not isinstance(value, dict) or sorted(value) != sorted(kinds):
        raise ValueError(f"{value!r} is neither a mode nor a table giving a mode for each "
                         f"township kind: expected {{ {', '.join(f'{k} = ...' for k in kinds)} }}")
    for chosen in value.values():
        mode(chosen)


def _listed(normalise: Callable[[str], str], *, empty: bool = False) -> Callable[[object], None]:
    def check(value) -> None:
        if not isinstance(value, list) or not (value or empty):
            raise ValueError(f"{value!r} is not a list such as [\"...\", \"...\"]"
                             + ("" if empty else " with at least one entry"))
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not text")
            normalise(item)

    return check


def choice(*allowed: str) -> Callable[[object], None]:
    def check(value) -> None:
        if value not in allowed:
            raise ValueError(f"{value!r} is not allowed: expected one of {', '.join(allowed)}")

    return check


def note(value) -> None:
    """Text that may be empty (a target's 约束性/预期性 nature)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")


def statistic_field(value) -> None:
    """A register number or a staff field the pack declares in ``statistics.toml``
    (undeclared ones are named when the ratio is measured)."""
    if not isinstance(value, str) or not value.strip().isidentifier():
        raise ValueError(f"{value!r} is not a field name: expected a register number "
                         f"({', '.join(schema.INTEGER_FIELDS)}) or a field of statistics.toml")


def optional_year(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1900 <= value <= 2100:
        raise ValueError(f"{value!r} is not a year from 1900 to 2100")


def other_requirements(value) -> None:
    """Requirements another part of the plan states: ``[{value = 4, source = "..."}]``."""
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list of {{value = ..., source = \"...\"}} tables")
    for item in value:
        if not isinstance(item, dict) or set(item) - {"value", "source"} or "value" not in item:
            raise ValueError(f"{item!r} is not a table {{value = ..., source = \"...\"}}")
        ratio_value(item["value"])
        if "source" in item:
            text(item["source"])


def tier_labels(value) -> None:
    """The plan's own words for its tiers: a table of ``village``, ``township``, ``district``."""
    if not isinstance(value, dict) or set(value) - {"village", "township", "district"}:
        raise ValueError(f"{value!r} is not a table with keys village, township, district")
    for label in value.values():
        text(label)


facility_types = _listed(schema.facility_type)
grades = _listed(schema.grade)

#: Each rule's parameters and their checks. A rule of :mod:`coverage.targets` has
#: exactly these parameters (tested); one missing from a target takes its default.
PARAMETERS: dict[str, dict[str, Param]] = {
    "circle": {"minutes": Param(minutes), "types": Param(facility_types),
               "modes": Param(modes), "required_share": Param(share)},
    "one_per_township": {"types": Param(facility_types), "upgraded": Param(boolean),
                         "judge": Param(choice("both", "code", "location"))},
    "one_per_village": {"types": Param(facility_types), "village_kind": Param(text)},
    "hospital_reach": {"minutes": Param(minutes), "mode": Param(mode),
                       "types": Param(facility_types), "grades": Param(grades),
                       "required_share": Param(share)},
    "ambulance_response": {"max_minutes": Param(minutes), "mode": Param(mode),
                           "dispatch_types": Param(facility_types),
                           "fallback_types": Param(facility_types)},
    "ratio": {"field": Param(statistic_field, required=True), "per": Param(per),
              "required": Param(ratio_value, required=True),
              "types": Param(_listed(schema.facility_type, empty=True)),
              "comparison": Param(choice("at_least", "at_most")),
              "min_data_share": Param(share),
              "denominator": Param(choice("residents", "beds")),
              "baseline": Param(ratio_value), "baseline_year": Param(optional_year),
              "nature": Param(note), "required_also": Param(other_requirements)},
    "count": {"required": Param(ratio_value, required=True),
              "types": Param(_listed(schema.facility_type, empty=True)),
              "grades": Param(_listed(schema.grade, empty=True)),
              "designations": Param(_listed(str.strip, empty=True)),
              "comparison": Param(choice("at_least", "at_most", "equal")),
              "baseline": Param(ratio_value)},
    "tiered": {"village_minutes": Param(minutes), "village_mode": Param(mode),
               "village_types": Param(facility_types), "district_minutes": Param(minutes),
               "district_mode": Param(mode), "district_types": Param(facility_types),
               "required_share": Param(share), "labels": Param(tier_labels)},
}


def read_target_file(path: str | Path) -> list[dict]:
    """The ``[[target]]`` tables of a target file, each checked completely.

    Returns
    -------
    list of dict
        One dict per target with the keys of :data:`TARGET_KEYS` (``year`` None and
        ``notes`` empty when not given; ``parameters`` only those written).

    Raises
    ------
    InputError
        Naming the file, the target (``target <id>``) and the field or parameter:
        invalid TOML, ``[target]`` written for ``[[target]]``, a missing or duplicate
        id, an unknown rule, an unknown, missing or wrongly typed parameter.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"target"})
    if extra:
        raise InputError(path, f"unknown top-level key(s) {', '.join(extra)}: expected only "
                         "[[target]] tables", field=extra[0])
    items = data.get("target", [])
    if not isinstance(items, list):
        raise InputError(path, "expected [[target]] (an array of tables, double brackets), "
                         "found a single [target] table or value", field="target")
    targets, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(path, f"{item!r} is not a table: expected [[target]]",
                             field=f"target {i + 1}")
        targets.append(_target(item, path, i, seen))
    return targets


def check_fields(targets: list[dict], fields: set[str], path: str | Path) -> None:
    """Refuse a ratio whose ``field`` is neither a register number nor a field the pack
    declares in its ``statistics.toml`` (``fields``: both kinds)."""
    for target in targets:
        name = target["parameters"].get("field")
        if target["rule"] == "ratio" and name not in fields:
            raise InputError(path, f"{name!r} is not a register field nor one declared in "
                             f"statistics.toml: expected one of {', '.join(sorted(fields))}",
                             field=f"target {target['id']}, parameters.field")


def _target(item: dict, path: Path, i: int, seen: set) -> dict:
    raw_id = item.get("id")
    label = f"target {raw_id if isinstance(raw_id, str) and raw_id.strip() else i + 1}"
    unknown = sorted(set(item) - set(TARGET_KEYS))
    if unknown:
        raise InputError(path, f"unknown key(s) {', '.join(unknown)}: expected "
                         + ", ".join(TARGET_KEYS), field=f"{label}.{unknown[0]}")
    for key in TEXT_FIELDS:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            problem = "missing value" if value is None else f"{value!r} is not text"
            raise InputError(path, f"{problem}: expected text", field=f"{label}.{key}")
    if item["id"] in seen:
        raise InputError(path, f"duplicate target id {item['id']!r}", field=f"{label}.id")
    seen.add(item["id"])
    rule = item["rule"]
    if rule not in PARAMETERS:
        raise InputError(path, f"unknown rule {rule!r}: expected one of " + ", ".join(PARAMETERS),
                         field=f"{label}.rule")
    year = item.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)
                             or not YEARS[0] <= year <= YEARS[1]):
        raise InputError(path, f"{year!r} is not a year: expected a whole number "
                         f"{YEARS[0]}..{YEARS[1]}", field=f"{label}.year")
    notes = item.get("notes", "")
    if not isinstance(notes, str):
        raise InputError(path, f"{notes!r} is not text", field=f"{label}.notes")
    params = item.get("parameters", {})
    if not isinstance(params, dict):
        raise InputError(path, "expected a [target.parameters] table",
                         field=f"{label}.parameters")
    _check_parameters(rule, params, path, label)
    return {"id": item["id"], "name_zh": item["name_zh"], "name_en": item["name_en"],
            "source": item["source"], "quote": item["quote"], "rule": rule,
            "parameters": dict(params), "year": year, "notes": notes}


def _check_parameters(rule: str, params: dict, path: Path, label: str) -> None:
    spec = PARAMETERS[rule]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise InputError(path, f"unknown parameter(s) {', '.join(unknown)} for rule {rule!r}: "
                         "expected " + ", ".join(sorted(spec)),
                         field=f"{label}.parameters.{unknown[0]}")
    missing = sorted(name for name, param in spec.items() if param.required and name not in params)
    if missing:
        raise InputError(path, f"missing parameter(s) {', '.join(missing)} for rule {rule!r}",
                         field=f"{label}.parameters.{missing[0]}")
    for name, value in params.items():
        try:
            spec[name].check(value)
        except ValueError as exc:
            raise InputError(path, str(exc), field=f"{label}.parameters.{name}") from None
