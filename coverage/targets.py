"""Planning targets as data, and the rules that check them.

Each region pack carries a ``targets.toml`` beside its ``region.toml``: one
``[[target]]`` table per target of the district's plan, with its ``id``,
``name_zh``, ``name_en``, ``source`` (the document), ``quote`` (the exact Chinese
text), ``rule``, optional ``year`` (when it is due) and ``notes``, and a
``[target.parameters]`` table for the rule. :func:`load_targets` reads it and
:func:`evaluate` checks every target for a year.

A rule is a function ``rule(region, context, params) -> Outcome`` in :data:`RULES`:

``circle``
    15分钟基本医疗卫生服务圈: share of residents within ``minutes`` of a basic-care
    facility, by the travel mode of their township's kind.
``one_per_township``
    一镇/街一医疗机构: every township has an open 乡镇卫生院 or 社区卫生服务中心 (or
    the secondary hospital that was one), judged by location and by declared code.
``one_per_village``
    一村一室: one 村卫生室 per administrative village.
``hospital_reach``
    一小时三甲: share of residents within ``minutes`` of a hospital of the grades.
``ambulance_response``
    急救平均反应时间: population-weighted mean time from the nearest dispatching
    facility to residents.
``ratio``
    Staff, beds or ambulances per 1,000 or 10,000 residents from the register.
``tiered``
    头疼脑热不出村、常见病不出乡镇、大病不出区: reach to each level of care.

An outcome's status is ``pass``, ``fail``, ``no data`` (the pack holds nothing to
judge by) or ``insufficient data`` (too few records carry the numbers); a value is
never made up.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage import schema
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, population_within
from coverage.errors import InputError
from coverage.facilities import BASIC_CARE_TYPES
from coverage.population import assign_townships

TARGETS_FILE = "targets.toml"
STATUSES = {"pass": "达标", "fail": "未达标", "no data": "无数据",
            "insufficient data": "数据不足"}
#: Primary-care centres: one per township (一镇/街一医疗机构).
CENTRE_TYPES = ("township_health_centre", "community_health_centre")
HOSPITAL_TYPES = ("secondary_hospital", "tertiary_hospital")
#: Slack on share comparisons (float sums of populations).
SHARE_EPS = 1e-9


@dataclass
class Target:
    """One target of a plan, as written in ``targets.toml``."""

    id: str
    name_zh: str
    name_en: str
    source: str
    quote: str
    rule: str
    parameters: dict = field(default_factory=dict)
    year: int | None = None
    notes: str = ""


@dataclass
class Outcome:
    """What a rule found: status, measured and required values, failing townships."""

    status: str
    measured: float | None
    required: float | None
    unit: str
    failing: list[str] = field(default_factory=list)
    details: str = ""


@dataclass
class Result:
    """A target checked for a year."""

    target: Target
    year: int | None
    outcome: Outcome


# --- reading ---------------------------------------------------------------------

def load_targets(region) -> list[Target]:
    """The targets of a region pack (``targets.toml`` beside ``region.toml``).

    Returns an empty list when the pack has no target file.

    Raises
    ------
    InputError
        Naming the target and field: invalid TOML, a missing field, a duplicate id,
        an unknown rule or an unknown parameter of a rule.
    """
    path = Path(region.path) / TARGETS_FILE
    if not path.exists():
        return []
    return read_targets(path)


def read_targets(path: str | Path) -> list[Target]:
    """Read and validate a target file (see :func:`load_targets`)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    targets, seen = [], set()
    for i, item in enumerate(data.get("target", [])):
        label = f"target {item.get('id', i + 1)}"
        for key in ("id", "name_zh", "name_en", "source", "quote", "rule"):
            if not str(item.get(key, "")).strip():
                raise InputError(path, "missing value: expected text", field=f"{label}.{key}")
        if item["id"] in seen:
            raise InputError(path, f"duplicate target id {item['id']!r}", field=f"{label}.id")
        seen.add(item["id"])
        if item["rule"] not in RULES:
            raise InputError(path, f"unknown rule {item['rule']!r}: expected one of "
                             + ", ".join(RULES), field=f"{label}.rule")
        params = dict(item.get("parameters", {}))
        unknown = sorted(set(params) - set(DEFAULTS[item["rule"]]))
        if unknown:
            raise InputError(path, f"unknown parameter(s) {', '.join(unknown)} for rule "
                             f"{item['rule']!r}: expected "
                             + ", ".join(sorted(DEFAULTS[item["rule"]])),
                             field=f"{label}.parameters")
        missing = sorted(k for k, v in DEFAULTS[item["rule"]].items() if v is REQUIRED
                         and k not in params)
        if missing:
            raise InputError(path, f"missing parameter(s) {', '.join(missing)}",
                             field=f"{label}.parameters")
        year = item.get("year")
        if year is not None and not isinstance(year, int):
            raise InputError(path, f"{year!r} is not a year", field=f"{label}.year")
        targets.append(Target(id=item["id"], name_zh=item["name_zh"], name_en=item["name_en"],
                              source=item["source"], quote=item["quote"], rule=item["rule"],
                              parameters=params, year=year, notes=item.get("notes", "")))
    return targets


# --- evaluating --------------------------------------------------------------------

def evaluate(region, *, year: int | None = None, targets: list[Target] | None = None,
             context: AccessContext | None = None) -> list[Result]:
    """Check each target for ``year`` (default: the register as it stands).

    ``context`` shares population points, graphs and travel times between targets;
    one is made for ``year`` when not given.
    """
    if targets is None:
        targets = load_targets(region)
    if context is None:
        context = AccessContext(region, year=year)
    results = []
    for target in targets:
        params = {**DEFAULTS[target.rule], **target.parameters}
        results.append(Result(target, year, RULES[target.rule](region, context, params)))
    return results


def _share_outcome(table: pd.DataFrame, required: float, unit: str, details: str) -> Outcome:
    region_row = table[table["code"] == ""].iloc[0]
    towns = table[table["code"] != ""]
    failing = towns.loc[~(towns["share"].fillna(1.0) >= required - SHARE_EPS), "code"].tolist()
    measured = float(region_row["share"])
    uncovered = float(region_row["population"] - region_row["covered"])
    status = "pass" if measured >= required - SHARE_EPS else "fail"
    return Outcome(status, measured, required, unit, failing,
                   f"未覆盖 uncovered {uncovered:,.0f} 人 residents" + (f"; {details}" if details else ""))


def rule_circle(region, context: AccessContext, params: dict) -> Outcome:
    """Share of residents within ``minutes`` of an open basic-care facility.

    Each resident travels by the mode of their township's kind (``modes``); the
    region's share is checked against ``required_share``; townships below it fail.
    """
    facilities = context.facilities(params["types"])
    seconds, _ = context.seconds_by_kind(params["modes"], facilities)
    table = population_within(context.population, seconds, [params["minutes"]],
                              region.townships, mode=params["modes"])
    return _share_outcome(table, params["required_share"], "share",
                          f"{len(facilities)} 机构 facilities; " + _modes_text(params["modes"]))


def _modes_text(modes) -> str:
    if isinstance(modes, str):
        return modes
    return ", ".join(f"{schema.label(schema.TOWNSHIP_KINDS, k)} {m}" for k, m in sorted(modes.items()))


def centres(facilities: gpd.GeoDataFrame, register: gpd.GeoDataFrame, types,
            upgraded: bool) -> gpd.GeoDataFrame:
    """The facilities of ``types``, plus (``upgraded``) secondary hospitals that were one.

    A secondary hospital counts as its township's centre when it replaces a record of
    those types, or one of its aliases names one (e.g. 曾家医院, alias 曾家镇卫生院).
    """
    wanted = [schema.facility_type(t) for t in types]
    keep = facilities["type"].isin(wanted).to_numpy().copy()
    if upgraded:
        centre_ids = set(register.loc[register["type"].isin(wanted), "id"])
        suffixes = tuple(schema.label(schema.FACILITY_TYPES, t)[-3:] for t in wanted)
        for i, (kind, old, aliases) in enumerate(zip(facilities["type"], facilities["replaces"],
                                                     facilities["aliases"])):
            if kind == "secondary_hospital" and (
                    old in centre_ids
                    or any(a.strip().endswith(suffixes) for a in str(aliases).split("|") if a)):
                keep[i] = True
    return facilities[keep]


def rule_one_per_township(region, context: AccessContext, params: dict) -> Outcome:
    """Every township has an open centre, by location and by declared township code.

    ``judge`` decides which evidence counts: ``'both'`` (default: the point lies in
    the township *and* the register names it), ``'code'`` or ``'location'``. Every
    facility whose point lies in another township than the one it declares is
    reported.
    """
    found = centres(context.facilities(), region.facilities, params["types"], params["upgraded"])
    codes = region.townships["code"].astype(str).tolist()
    names = dict(zip(codes, region.townships["name"]))
    located = assign_townships(region.townships, found.geometry.x, found.geometry.y,
                               region.metric_crs) if len(found) else np.array([], dtype=object)
    by_code = set(found["township_code"]) - {""}
    by_location = set(located)
    judge = params["judge"]
    if judge not in ("both", "code", "location"):
        raise ValueError(f"judge must be both, code or location, got {judge!r}")
    served = {"both": by_code & by_location, "code": by_code, "location": by_location}[judge]
    failing = [c for c in codes if c not in served]
    notes = []
    for (_, fac), where in zip(found.iterrows(), located):
        if fac["township_code"] and fac["township_code"] != where:
            notes.append(f"{fac['name']} 位于 lies in {names.get(where, where)} 但登记为 but is "
                         f"registered in {names.get(fac['township_code'], fac['township_code'])}")
    only = sorted((by_code ^ by_location) & set(codes))
    if only:
        notes.append("依据不一致 location and code disagree for " + "、".join(names[c] for c in only))
    return Outcome("pass" if not failing else "fail", float(len(codes) - len(failing)),
                   float(len(codes)), "townships", failing,
                   "; ".join(notes) or f"{len(found)} 机构 facilities, 位置与登记一致 location and code agree")


def rule_one_per_village(region, context: AccessContext, params: dict) -> Outcome:
    """One open 村卫生室 per administrative village (村委会; 社区 not counted).

    ``no data`` when the pack has no village table, or when the register lists no
    village clinic at all in any year: a register without them says nothing about
    the villages, so they cannot be failed on it.
    """
    villages = region.villages
    if villages is None or len(villages) == 0:
        return Outcome("no data", None, 1.0, "share", [], "无村数据 the pack has no village table")
    if "kind" in villages:
        villages = villages[villages["kind"].astype(str) == params["village_kind"]]
    kinds = [schema.facility_type(t) for t in params["types"]]
    if not region.facilities["type"].isin(kinds).any():
        return Outcome("no data", None, 1.0, "share", [],
                       f"名录无村卫生室 the register lists no village clinics ({len(villages)} "
                       "行政村 villages in the pack)")
    clinics = context.facilities(kinds)
    where = clinics["township_code"].where(clinics["township_code"] != "")
    if where.isna().any():
        located = assign_townships(region.townships, clinics.geometry.x, clinics.geometry.y,
                                   region.metric_crs)
        where = where.fillna(pd.Series(located, index=where.index))
    have = where.value_counts()
    need = villages["township_code"].astype(str).value_counts()
    codes = region.townships["code"].astype(str).tolist()
    met = sum(min(int(have.get(c, 0)), int(need.get(c, 0))) for c in codes)
    total = int(need.reindex(codes, fill_value=0).sum())
    failing = [c for c in codes if have.get(c, 0) < need.get(c, 0)]
    measured = met / total if total else None
    return Outcome("pass" if not failing else "fail", measured, 1.0, "share", failing,
                   f"{len(clinics)} 村卫生室 clinics for {total} 行政村 villages")


def rule_hospital_reach(region, context: AccessContext, params: dict) -> Outcome:
    """Share of residents within ``minutes`` by ``mode`` of an open hospital of ``grades``."""
    hospitals = context.facilities(params["types"])
    hospitals = hospitals[hospitals["grade"].isin([schema.grade(g) for g in params["grades"]])]
    seconds, _ = context.seconds(params["mode"], hospitals)
    table = population_within(context.population, seconds, [params["minutes"]], region.townships,
                              mode=params["mode"])
    details = (f"{len(hospitals)} 医院 hospitals" if len(hospitals) else
               "区域内无此等级医院 no hospital of that grade in the register "
               "(hospitals outside the pack are not modelled)")
    return _share_outcome(table, params["required_share"], "share", details)


def rule_ambulance_response(region, context: AccessContext, params: dict) -> Outcome:
    """Population-weighted mean time from the nearest dispatching facility to residents.

    Dispatchers are the open facilities of ``dispatch_types`` (急救站), or, when
    the register has none open, of ``fallback_types`` (二级及以上医院). The mean is
    over residents the ambulances reach; any resident they cannot reach fails the
    target too, as does every township whose own mean exceeds ``max_minutes``.
    """
    dispatch = context.facilities(params["dispatch_types"])
    basis = "急救站 emergency stations"
    if len(dispatch) == 0:
        dispatch = context.facilities(params["fallback_types"])
        basis = "无急救站，以二级及以上医院代 no emergency station: hospitals grade 2+"
    seconds, _ = context.seconds(params["mode"], dispatch, from_facility=True)
    points = context.population
    weight = points["population"].to_numpy(dtype=float)
    reached = np.isfinite(seconds)
    if not reached.any():
        return Outcome("fail", None, params["max_minutes"], "minutes",
                       region.townships["code"].astype(str).tolist(),
                       f"{basis}: {len(dispatch)}; 无人可达 no resident reached")
    mean = float(np.average(seconds[reached], weights=weight[reached]) / 60.0)
    frame = pd.DataFrame({"code": points["township_code"].astype(str).to_numpy(),
                          "w": weight, "ws": np.where(reached, seconds * weight, 0.0),
                          "lost": np.where(reached, 0.0, weight)})
    sums = frame.groupby("code")[["w", "ws", "lost"]].sum()
    town_mean = sums["ws"] / (sums["w"] - sums["lost"]).where(sums["w"] > sums["lost"]) / 60.0
    limit = params["max_minutes"]
    failing = [c for c in region.townships["code"].astype(str)
               if c in sums.index and (sums.at[c, "lost"] > 0 or not town_mean[c] <= limit)]
    lost = float(weight[~reached].sum())
    status = "pass" if mean <= limit and lost == 0 else "fail"
    return Outcome(status, mean, limit, "minutes", failing,
                   f"{basis}: {len(dispatch)}; 不可达 unreached {lost:,.0f} 人 residents")


def rule_ratio(region, context: AccessContext, params: dict) -> Outcome:
    """``field`` per ``per`` residents, summed over the open facilities of ``types``.

    The register's numbers are complete only when every counted facility has one.
    When some lack it the sum is a lower bound: it passes if even the lower bound
    meets ``required``; otherwise the result is ``insufficient data``, with the
    lower bound shown only if at least ``min_data_share`` of the facilities carry
    the number. A target with ``comparison = 'at_most'`` is never passed on a
    lower bound.
    """
    name = params["field"]
    if name not in schema.INTEGER_FIELDS:
        raise ValueError(f"field must be one of {', '.join(schema.INTEGER_FIELDS)}, got {name!r}")
    facilities = context.facilities(params["types"] or None)
    values = facilities[name]
    known = int(values.notna().sum())
    population = float(region.townships["population"].sum())
    per = params["per"]
    unit = f"{name} per {per:,}"
    coverage_text = f"{known}/{len(facilities)} 机构有数据 facilities report {name}"
    if known == 0 or population <= 0:
        return Outcome("insufficient data", None, params["required"], unit, [], coverage_text)
    value = float(values.dropna().sum()) / population * per
    at_least = params["comparison"] == "at_least"
    meets = value >= params["required"] - SHARE_EPS if at_least else value <= params["required"] + SHARE_EPS
    if known == len(facilities):
        return Outcome("pass" if meets else "fail", value, params["required"], unit, [], coverage_text)
    if at_least and meets:
        return Outcome("pass", value, params["required"], unit, [],
                       coverage_text + "; 下限已达标 the lower bound already meets the target")
    shown = value if known / len(facilities) >= params["min_data_share"] else None
    return Outcome("insufficient data", shown, params["required"], unit, [],
                   coverage_text + ("; 数值为下限 value is a lower bound" if shown is not None else ""))


def rule_tiered(region, context: AccessContext, params: dict) -> Outcome:
    """Reach to each level: 村 (primary care near home), 乡镇 (a centre in the township), 区.

    * 头疼脑热不出村: residents within ``village_minutes`` by ``village_mode`` of a
      facility of ``village_types`` (村卫生室, or a centre, which serves its own
      neighbourhood), share at least ``required_share``;
    * 常见病不出乡镇: a centre located in each township (as ``one_per_township``,
      judged by location);
    * 大病不出区: residents within ``district_minutes`` by ``district_mode`` of a
      hospital of ``district_types`` in the region, share at least ``required_share``.

    The measured value is the number of levels met, out of three.
    """
    levels, failing, texts = 0, set(), []
    for key, types, minutes, mode in (
            ("村 village", params["village_types"], params["village_minutes"], params["village_mode"]),
            ("区 district", params["district_types"], params["district_minutes"], params["district_mode"])):
        seconds, _ = context.seconds(mode, context.facilities(types))
        table = population_within(context.population, seconds, [minutes], region.townships, mode=mode)
        outcome = _share_outcome(table, params["required_share"], "share", "")
        levels += outcome.status == "pass"
        failing.update(outcome.failing)
        texts.append(f"{key} ≤{minutes:g} min {mode}: {outcome.measured:.1%}")
    township = rule_one_per_township(region, context, {
        "types": CENTRE_TYPES, "upgraded": True, "judge": "location"})
    levels += township.status == "pass"
    failing.update(township.failing)
    texts.insert(1, f"乡镇 township: {township.measured:.0f}/{township.required:.0f}")
    order = region.townships["code"].astype(str).tolist()
    return Outcome("pass" if levels == 3 else "fail", float(levels), 3.0, "levels",
                   [c for c in order if c in failing], "; ".join(texts))


REQUIRED = object()

#: Parameters of each rule and their defaults (``REQUIRED``: must be given).
DEFAULTS: dict[str, dict] = {
    "circle": {"minutes": 15, "types": list(BASIC_CARE_TYPES), "modes": DEFAULT_MODE_BY_KIND,
               "required_share": 1.0},
    "one_per_township": {"types": list(CENTRE_TYPES), "upgraded": True, "judge": "both"},
    "one_per_village": {"types": ["village_clinic"], "village_kind": "village"},
    "hospital_reach": {"minutes": 60, "mode": "car", "types": list(HOSPITAL_TYPES),
                       "grades": ["三甲"], "required_share": 1.0},
    "ambulance_response": {"max_minutes": 18, "mode": "car", "dispatch_types": ["emergency_station"],
                           "fallback_types": list(HOSPITAL_TYPES)},
    "ratio": {"field": REQUIRED, "per": 1000, "required": REQUIRED, "types": [],
              "comparison": "at_least", "min_data_share": 0.5},
    "tiered": {"village_minutes": 15, "village_mode": "walk",
               "village_types": ["village_clinic", *CENTRE_TYPES],
               "district_minutes": 60, "district_mode": "car", "district_types": list(HOSPITAL_TYPES),
               "required_share": 1.0},
}

RULES = {"circle": rule_circle, "one_per_township": rule_one_per_township,
         "one_per_village": rule_one_per_village, "hospital_reach": rule_hospital_reach,
         "ambulance_response": rule_ambulance_response, "ratio": rule_ratio, "tiered": rule_tiered}


# --- output ------------------------------------------------------------------------

def results_frame(results: list[Result], townships: pd.DataFrame) -> pd.DataFrame:
    """One row per result, Chinese first, deterministic (values rounded to 6 digits)."""
    names = dict(zip(townships["code"].astype(str), townships["name"]))
    rows = []
    for r in results:
        t, o = r.target, r.outcome
        rows.append({
            "id": t.id, "name_zh": t.name_zh, "name_en": t.name_en, "rule": t.rule,
            "target_year": t.year, "year": r.year,
            "status_zh": STATUSES[o.status], "status": o.status,
            "measured": None if o.measured is None else round(o.measured, 6),
            "required": None if o.required is None else round(float(o.required), 6),
            "unit": o.unit,
            "failing_zh": "、".join(names.get(c, c) for c in o.failing),
            "failing_codes": ";".join(o.failing),
            "details": o.details, "source": t.source, "quote": t.quote,
        })
    frame = pd.DataFrame(rows, columns=["id", "name_zh", "name_en", "rule", "target_year", "year",
                                        "status_zh", "status", "measured", "required", "unit",
                                        "failing_zh", "failing_codes", "details", "source", "quote"])
    return frame.astype({"target_year": "Int64", "year": "Int64", "measured": "Float64",
                         "required": "Float64"})


def _plain(value):
    """A JSON-ready scalar: missing values None, numpy numbers as Python ones."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _value(value, unit: str) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    if unit in ("townships", "levels"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def format_results(frame: pd.DataFrame, fmt: str = "table") -> str:
    """Results as a text table, JSON or CSV (CSV starts with a UTF-8 byte-order mark)."""
    if fmt == "json":
        records = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        return "\ufeff" + buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}: expected table, json or csv")
    lines = []
    for row in frame.to_dict(orient="records"):
        due = f" ({_plain(row['target_year'])})" if _plain(row["target_year"]) else ""
        lines.append(f"[{row['status_zh']} {row['status']}] {row['name_zh']} / {row['name_en']}{due}")
        lines.append(f"    实测 measured {_value(row['measured'], row['unit'])}   "
                     f"要求 required {_value(row['required'], row['unit'])}   ({row['unit']})")
        if row["failing_zh"]:
            lines.append(f"    未达标街镇 failing townships: {row['failing_zh']} "
                         f"({row['failing_codes'].replace(';', ', ')})")
        if row["details"]:
            lines.append(f"    {row['details']}")
    return "\n".join(lines) + "\n"
