"""What a target check rests on, said beside every result (``coverage check``).

A pack's numbers are partly estimates: the roads of the shipped packs are
synthetic, township populations are shared out by a rule, facility positions are
illustrative. A result must not read as more than it is, so every result carries
(:func:`annotate`):

* ``caveats``: the pack's data caveats (``region.toml [caveats]``);
* ``estimated_inputs``: the layers the target's rule uses whose provenance is
  estimated, illustrative or synthetic (:data:`RULE_INPUTS`);
* ``undated``: planned facilities of the target's types with no opening year,
  which no year's check counts as open.

:func:`evaluate_at_target_years` checks each target as of its own ``year``
(``coverage check --year target``).
"""

from __future__ import annotations

import pandas as pd

from coverage import schema
from coverage.targets import DEFAULTS, Result, Target, evaluate

#: The pack layers each rule reads.
RULE_INPUTS: dict[str, tuple[str, ...]] = {
    "circle": ("network", "population", "townships", "facilities"),
    "one_per_township": ("townships", "facilities"),
    "one_per_village": ("villages", "facilities"),
    "hospital_reach": ("network", "population", "townships", "facilities"),
    "ambulance_response": ("network", "population", "townships", "facilities"),
    "ratio": ("population", "facilities"),
    "tiered": ("network", "population", "townships", "facilities"),
    "count": ("facilities",),
}
#: Provenance classes that are not measurements.
NOT_MEASURED = ("estimated", "illustrative", "synthetic")
UNDATED_STATUSES = ("planned", "under_construction")


def estimated_inputs(region, target: Target) -> list[str]:
    """``'network: synthetic'``, ... for the rule's layers that are not measured."""
    out = []
    for layer in RULE_INPUTS.get(target.rule, ()):
        quality = region.provenance.get(layer, {}).get("quality")
        if quality in NOT_MEASURED:
            out.append(f"{layer}: {schema.label(schema.PROVENANCE_QUALITIES, quality)} {quality}")
    return out


def _types(target: Target) -> list[str] | None:
    params = {**DEFAULTS.get(target.rule, {}), **target.parameters}
    for key in ("types", "village_types", "district_types", "dispatch_types"):
        if params.get(key):
            return [schema.facility_type(t) for t in params[key]]
    return None


def undated_facilities(region, target: Target) -> list[str]:
    """Names of planned facilities (of the target's types) without an opening year."""
    facilities = region.facilities
    types = _types(target)
    mask = facilities["status"].isin(UNDATED_STATUSES) & facilities["opening_year"].isna()
    if types:
        mask &= facilities["type"].isin(types)
    return sorted(map(str, facilities.loc[mask, "name"]))


def annotate(frame: pd.DataFrame, results: list[Result], region) -> pd.DataFrame:
    """The results table with ``caveats``, ``estimated_inputs`` and ``undated`` columns."""
    caveats = "; ".join(text for _, text in sorted(region.caveats.items()))
    frame = frame.copy()
    frame["caveats"] = caveats
    frame["estimated_inputs"] = ["; ".join(estimated_inputs(region, r.target)) for r in results]
    frame["undated"] = ["、".join(undated_facilities(region, r.target)) for r in results]
    return frame


def evaluate_at_target_years(region, targets: list[Target]) -> list[Result]:
    """Each target checked as of its own ``year`` (targets without one: as registered),
    in the order given; targets of one year share one evaluation."""
    by_year: dict = {}
    for target in targets:
        by_year.setdefault(target.year, []).append(target)
    found = {}
    for year, group in by_year.items():
        for result in evaluate(region, year=year, targets=group):
            found[result.target.id] = result
    return [found[t.id] for t in targets]
