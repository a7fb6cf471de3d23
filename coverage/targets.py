"""Planning targets as data, and the rules that check them.

Each region pack carries a ``targets.toml`` beside its ``region.toml``: one
``[[target]]`` table per target of the district's plan, with its ``id``,
``name_zh``, ``name_en``, ``source`` (the document), ``quote`` (the exact Chinese
text), ``rule``, optional ``year`` (when it is due) and ``notes``, and a
``[target.parameters]`` table for the rule. :func:`load_targets` reads it and
:func:`evaluate` checks every target for a year.

A rule in :data:`RULES` is called as ``rule(region, context, params) -> Outcome``;
it works in two steps (:class:`Rule`): ``measure`` the additive pieces a region
contributes (per-township residents and covered residents, summed times, counts of
its own facilities), then ``judge`` them. Parts of a large region are measured
apart and their pieces added up (:func:`merge_pieces`, :mod:`coverage.batch`):
judged, they give the whole region's outcome. The rules:

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
    Staff, beds or ambulances per 1,000 or 10,000 residents or per 100 beds, from the
    register when complete, else from the pack's statistics (:mod:`coverage.statistics`).
``tiered``
    头疼脑热不出村、常见病不出乡镇、大病不出区: reach to each level of care.
``count``
    "N 三级医院", "甲级基层 2 → 6", "5个区域医疗次中心": open facilities of types
    holding grades and designations in the year (:mod:`coverage.counts`).

An outcome's status is ``pass``, ``fail``, ``no data`` (the pack holds nothing to
judge by) or ``insufficient data`` (too few records carry the numbers); a value is
never made up.

Off-network residents (离网居民, an off-road leg over
:data:`coverage.modes.OFF_NETWORK_M` to the nearest road open to the target's mode)
are counted like everyone else, at their slow off-road pace: none is dropped, so no
target is impossible because of them. Every reach target reports them per township
(:attr:`Outcome.off_network`), and a target that fails but would pass on the other
residents alone says so (:attr:`Outcome.only_off_network`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage import modes, schema
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, population_within
from coverage.errors import InputError
from coverage.facilities import BASIC_CARE_TYPES
from coverage.output import json_scalar, neutralise_formulas
from coverage.population import assign_townships
from coverage.target_file import TARGETS_FILE, read_target_file

STATUSES = {"pass": "达标", "fail": "未达标", "no data": "无数据",
            "insufficient data": "数据不足"}
#: Primary-care centres: one per township (一镇/街一医疗机构).
CENTRE_TYPES = ("township_health_centre", "community_health_centre")
HOSPITAL_TYPES = ("secondary_hospital", "tertiary_hospital")
#: Slack on share comparisons (float sums of populations).
SHARE_EPS = 1e-9
#: Optional register column: the code of the township a facility lies in (the
#: nearest if none holds it), located among the *whole* region's townships. A part
#: of a region (:mod:`coverage.batch`) holds only its own townships, so its register
#: carries this column; without it facilities are located in ``region.townships``.
LOCATED = "located_code"


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
    #: Off-network residents by township code (reach targets only).
    off_network: dict[str, float] = field(default_factory=dict)
    #: Fails, but would pass on the residents on the network alone.
    only_off_network: bool = False


#: Said of a target that fails only because of off-network residents.
ONLY_OFF_NETWORK = "仅因离网居民未达标 fails only because of off-network residents"


def _off_network_text(off: dict[str, float]) -> str:
    total = sum(off.values())
    return (f"离网居民 off-network {total:,.0f} 人 residents (步行离路 > "
            f"{modes.OFF_NETWORK_M / 1000:g} km off-road)") if total > 0 else ""


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
    """Read and validate a target file (see :func:`coverage.target_file.read_target_file`)."""
    return [Target(**item) for item in read_target_file(path)]


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
    return judge_targets(targets, measure_targets(region, context, targets), region.townships,
                         year)


def measure_targets(region, context: AccessContext, targets: list[Target]) -> dict[str, dict]:
    """Each target's pieces (:class:`Rule`), by target id: what ``region`` contributes.

    Pieces are JSON-ready numbers, flags, lists and dicts keyed by township code, so
    that parts of a region (:mod:`coverage.batch`) can be measured apart and
    added up with :func:`merge_pieces`.
    """
    return {t.id: RULES[t.rule].measure(region, context, _params(t)) for t in targets}


def judge_targets(targets: list[Target], pieces: dict[str, dict], townships: pd.DataFrame,
                  year: int | None = None) -> list[Result]:
    """Each target's outcome from its pieces, for the region of ``townships``."""
    return [Result(t, year, RULES[t.rule].judge(pieces[t.id], _params(t), townships))
            for t in targets]


def merge_pieces(pieces: Iterable[dict]) -> dict:
    """The pieces of a whole region from those of its parts (disjoint sets of townships).

    Dicts are merged key by key: township keys of different parts are simply
    united; a key several parts share is merged -- numbers added, flags or-ed,
    lists joined, dicts merged the same way.
    """
    merged: dict = {}
    for piece in pieces:
        merged = _merge(merged, piece)
    return merged


def _merge(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a[k], v) if k in a else v for k, v in b.items()}}
    if isinstance(a, bool) and isinstance(b, bool):
        return a or b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    raise ValueError(f"cannot merge target pieces {a!r} and {b!r}")


def _params(target: Target) -> dict:
    return {**DEFAULTS[target.rule], **target.parameters}


@dataclass(frozen=True)
class Rule:
    """A rule in two steps, so that the parts of a region can be measured apart.

    ``measure(region, context, params) -> dict`` returns what the region's own
    townships and own facilities (:func:`own_facilities`) contribute, as additive
    pieces (per-township populations, covered residents, counts); ``judge(pieces,
    params, townships) -> Outcome`` decides from the pieces of the whole region.
    Calling the rule does both on one region.
    """

    measure: Callable[..., dict]
    judge: Callable[..., Outcome]

    def __call__(self, region, context: AccessContext, params: dict) -> Outcome:
        return self.judge(self.measure(region, context, params), params, region.townships)


def located_townships(region, facilities: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the township each facility lies in (the nearest if none holds it).

    Taken from the :data:`LOCATED` column when the register carries one (a part of
    a region, located among the whole region's townships), else located among
    ``region.townships``.
    """
    if LOCATED in facilities:
        return facilities[LOCATED].astype(str).to_numpy(dtype=object)
    if len(facilities) == 0:
        return np.array([], dtype=object)
    return assign_townships(region.townships, facilities.geometry.x, facilities.geometry.y,
                            region.metric_crs)


def owning_townships(region, facilities: gpd.GeoDataFrame) -> np.ndarray:
    """The township each facility belongs to: the one it declares, else where it lies."""
    declared = facilities["township_code"].astype(str).to_numpy(dtype=object)
    if (declared != "").all():
        return declared
    return np.where(declared != "", declared, located_townships(region, facilities))


def own_facilities(region, facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The facilities that belong to one of ``region``'s townships (:func:`owning_townships`).

    On a whole region that is every facility; on a part of one it leaves out the
    neighbours' facilities pulled in for travel, so that each facility is counted
    by exactly one part.
    """
    codes = region.townships["code"].astype(str).to_numpy()
    return facilities[np.isin(owning_townships(region, facilities), codes)]


def _share_pieces(region, context: AccessContext, seconds: np.ndarray, minutes: float,
                  facilities: gpd.GeoDataFrame, mode) -> dict:
    """Residents and residents within ``minutes`` per township, own facilities counted;
    the same for the off-network residents of ``mode`` (one, or per township kind)."""
    points = context.population
    off = context.off_network(mode)
    pieces = {"facilities": len(own_facilities(region, facilities))}
    for prefix, sel in (("", slice(None)), ("off_", off)):
        table = population_within(points[sel], seconds[sel], [minutes], region.townships)
        towns = table[table["code"] != ""]
        pieces[f"{prefix}population"] = dict(zip(towns["code"], map(float, towns["population"])))
        pieces[f"{prefix}covered"] = dict(zip(towns["code"], map(float, towns["covered"])))
    return pieces


def _share_status(pieces: dict, codes: list[str], required: float, prefix: str = ""
                  ) -> tuple[float, float, list[str], float]:
    """Share measured, residents, failing townships and residents covered, over all
    residents, or (``prefix='on'``) over the residents on the network only."""
    def column(key):
        values = pd.Series([pieces[key].get(c, 0.0) for c in codes], dtype=float)
        if prefix == "on":
            values -= pd.Series([pieces.get(f"off_{key}", {}).get(c, 0.0) for c in codes],
                                dtype=float)
        return values

    population, covered = column("population"), column("covered")
    share = covered / population.where(population > 0)
    failing = [c for c, ok in zip(codes, share.fillna(1.0) >= required - SHARE_EPS) if not ok]
    total = population.sum()
    measured = float(covered.sum() / total) if total > 0 else math.nan
    return measured, float(total), failing, float(covered.sum())


def _share_outcome(pieces: dict, townships: pd.DataFrame, required: float, unit: str,
                   details: str) -> Outcome:
    codes = townships["code"].astype(str).tolist()
    measured, total, failing, within_total = _share_status(pieces, codes, required)
    status = "pass" if measured >= required - SHARE_EPS else "fail"
    off = {c: v for c, v in pieces.get("off_population", {}).items() if v > 0}
    on_measured = _share_status(pieces, codes, required, "on")[0]
    only = status == "fail" and bool(off) and not on_measured < required - SHARE_EPS
    texts = [f"未覆盖 uncovered {total - within_total:,.0f} 人 residents",
             _off_network_text(off), ONLY_OFF_NETWORK if only else "", details]
    return Outcome(status, measured, required, unit, failing, "; ".join(t for t in texts if t),
                   off_network=off, only_off_network=only)


def measure_circle(region, context: AccessContext, params: dict) -> dict:
    """Share of residents within ``minutes`` of an open basic-care facility.

    Each resident travels by the mode of their township's kind (``modes``); the
    region's share is checked against ``required_share``; townships below it fail.
    """
    facilities = context.facilities(params["types"])
    seconds, _ = context.seconds_by_kind(params["modes"], facilities)
    return _share_pieces(region, context, seconds, params["minutes"], facilities,
                         params["modes"])


def judge_circle(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    return _share_outcome(pieces, townships, params["required_share"], "share",
                          f"{pieces['facilities']} 机构 facilities; " + _modes_text(params["modes"]))


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


def measure_one_per_township(region, context: AccessContext, params: dict) -> dict:
    """Every township has an open centre, by location and by declared township code.

    ``judge`` decides which evidence counts: ``'both'`` (default: the point lies in
    the township *and* the register names it), ``'code'`` or ``'location'``. Every
    facility whose point lies in another township than the one it declares is
    reported (by the part it declares, in a batch run).
    """
    found = centres(context.facilities(), region.facilities, params["types"], params["upgraded"])
    codes = region.townships["code"].astype(str).tolist()
    declared = found["township_code"].astype(str).to_numpy(dtype=object)
    located = located_townships(region, found)
    owner = np.where(declared != "", declared, located)
    mine = np.isin(owner, codes)
    misplaced = {str(i): [str(name), str(where), str(code)]
                 for i, name, where, code in zip(found["id"][mine], found["name"][mine],
                                                 located[mine], declared[mine])
                 if code and code != where}
    return {"by_code": [c for c in codes if c in set(declared)],
            "by_location": [c for c in codes if c in set(located)],
            "facilities": int(mine.sum()), "misplaced": misplaced}


def judge_one_per_township(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    judge = params["judge"]
    if judge not in ("both", "code", "location"):
        raise ValueError(f"judge must be both, code or location, got {judge!r}")
    codes = townships["code"].astype(str).tolist()
    names = dict(zip(codes, townships["name"]))
    by_code, by_location = set(pieces["by_code"]), set(pieces["by_location"])
    served = {"both": by_code & by_location, "code": by_code, "location": by_location}[judge]
    failing = [c for c in codes if c not in served]
    notes = [f"{name} 位于 lies in {names.get(where, where)} 但登记为 but is "
             f"registered in {names.get(code, code)}"
             for _, (name, where, code) in sorted(pieces["misplaced"].items())]
    only = sorted((by_code ^ by_location) & set(codes))
    if only:
        notes.append("依据不一致 location and code disagree for " + "、".join(names[c] for c in only))
    return Outcome("pass" if not failing else "fail", float(len(codes) - len(failing)),
                   float(len(codes)), "townships", failing,
                   "; ".join(notes) or f"{pieces['facilities']} 机构 facilities, "
                   "位置与登记一致 location and code agree")


def measure_one_per_village(region, context: AccessContext, params: dict) -> dict:
    """One open 村卫生室 per administrative village (村委会; 社区 not counted).

    Judged per village where every village of a township has a point: a clinic
    serves the village point nearest to it, and each village needs one. Elsewhere
    per township: as many clinics as villages. ``no data`` when the pack has no
    village table, or when the register lists no village clinic at all in any
    year: a register without them says nothing about the villages, so they cannot
    be failed on it.
    """
    table = region.villages if region.villages is not None else pd.DataFrame(
        {"township_code": []})
    villages = table
    if "kind" in villages:
        villages = villages[villages["kind"].astype(str) == params["village_kind"]]
    kinds = [schema.facility_type(t) for t in params["types"]]
    codes = region.townships["code"].astype(str).tolist()
    need = villages["township_code"].astype(str).value_counts()
    listed = own_facilities(region, region.facilities[region.facilities["type"].isin(kinds)])
    clinics = context.facilities(kinds)
    owner = owning_townships(region, clinics)
    mine = np.isin(owner, codes)
    have = pd.Series(owner[mine], dtype=object).value_counts()
    served, by_village = {}, []
    for code in codes:
        own = villages[villages["township_code"].astype(str) == code]
        if len(own) == 0 or "lon" not in own or own["lon"].isna().any():
            continue
        by_village.append(code)
        points = np.column_stack([own["lon"].astype(float), own["lat"].astype(float)])
        here = clinics[owner == code]
        nearest = {int(np.argmin(np.hypot(*(points - [p.x, p.y]).T))) for p in here.geometry}
        served[code] = len(nearest)
    return {"village_table": len(table) > 0, "listed": len(listed),
            "villages": int(need.reindex(codes, fill_value=0).sum()),
            "clinics": int(mine.sum()),
            "have": {c: int(served.get(c, have.get(c, 0))) for c in codes},
            "need": {c: int(need.get(c, 0)) for c in codes},
            "by_village": by_village}


def judge_one_per_village(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    if not pieces["village_table"]:
        return Outcome("no data", None, 1.0, "share", [], "无村数据 the pack has no village table")
    if pieces["listed"] == 0:
        return Outcome("no data", None, 1.0, "share", [],
                       f"名录无村卫生室 the register lists no village clinics ({pieces['villages']} "
                       "行政村 villages in the pack)")
    codes = townships["code"].astype(str).tolist()
    have, need = pieces["have"], pieces["need"]
    met = sum(min(have.get(c, 0), need.get(c, 0)) for c in codes)
    total = sum(need.get(c, 0) for c in codes)
    failing = [c for c in codes if have.get(c, 0) < need.get(c, 0)]
    measured = met / total if total else None
    per_village = len(set(pieces.get("by_village", [])) & set(codes))
    return Outcome("pass" if not failing else "fail", measured, 1.0, "share", failing,
                   f"{pieces['clinics']} 村卫生室 clinics for {total} 行政村 villages; "
                   f"按村判定 judged per village in {per_village} 街镇 whose villages all have "
                   f"points, 按街镇计数 by count per township in {len(codes) - per_village}")


def _hospitals(context: AccessContext, params: dict) -> gpd.GeoDataFrame:
    hospitals = context.facilities(params["types"])
    return hospitals[hospitals["grade"].isin([schema.grade(g) for g in params["grades"]])]


def measure_hospital_reach(region, context: AccessContext, params: dict) -> dict:
    """Share of residents within ``minutes`` by ``mode`` of an open hospital of ``grades``."""
    hospitals = _hospitals(context, params)
    seconds, _ = context.seconds(params["mode"], hospitals)
    return _share_pieces(region, context, seconds, params["minutes"], hospitals,
                         params["mode"])


def judge_hospital_reach(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    details = (f"{pieces['facilities']} 医院 hospitals" if pieces["facilities"] else
               "区域内无此等级医院 no hospital of that grade in the register "
               "(hospitals outside the pack are not modelled)")
    return _share_outcome(pieces, townships, params["required_share"], "share", details)


def _response_pieces(region, context: AccessContext, mode: str,
                     dispatch: gpd.GeoDataFrame) -> dict:
    """Per township: reached and unreached residents, their summed times, the slowest
    time, how many unreached residents are on the roads (snapped, yet no dispatcher
    reaches them: on a clipped network, perhaps only beyond its reach), and the same
    sums over the off-network residents alone (``off_*``)."""
    seconds, _ = context.seconds(mode, dispatch, from_facility=True)
    points = context.population
    weight = points["population"].to_numpy(dtype=float)
    reached = np.isfinite(seconds)
    on_road = context._snap(mode).node >= 0
    off = context.off_network(mode)
    frame = pd.DataFrame({"code": points["township_code"].astype(str).to_numpy(),
                          "weight": np.where(reached, weight, 0.0),
                          "weighted": np.where(reached, seconds * weight, 0.0),
                          "lost": np.where(reached, 0.0, weight), "reached": reached,
                          "stranded": ~reached & on_road,
                          "slowest": np.where(reached, seconds, 0.0)})
    for column in ("weight", "weighted", "lost"):
        frame[f"off_{column}"] = np.where(off, frame[column], 0.0)
    sums = frame.groupby("code").agg(weight=("weight", "sum"), weighted=("weighted", "sum"),
                                     lost=("lost", "sum"), reached=("reached", "sum"),
                                     stranded=("stranded", "sum"), slowest=("slowest", "max"),
                                     off_weight=("off_weight", "sum"),
                                     off_weighted=("off_weighted", "sum"),
                                     off_lost=("off_lost", "sum"))
    pieces = {column: dict(zip(sums.index, map(float, sums[column])))
              for column in ("weight", "weighted", "lost", "slowest", "off_weight",
                             "off_weighted", "off_lost")}
    for column in ("reached", "stranded"):
        pieces[column] = dict(zip(sums.index, map(int, sums[column])))
    pieces["dispatchers"] = len(own_facilities(region, dispatch))
    return pieces


def measure_ambulance_response(region, context: AccessContext, params: dict) -> dict:
    """Population-weighted mean time from the nearest dispatching facility to residents.

    Dispatchers are the open facilities of ``dispatch_types`` (急救站), or, when
    the register has none open, of ``fallback_types`` (二级及以上医院). The mean is
    over residents the ambulances reach; any resident they cannot reach fails the
    target too, as does every township whose own mean exceeds ``max_minutes``.
    Pieces: per township, for the stations, and for the fallback when the region
    owns no open station.
    """
    pieces = {"stations": _response_pieces(region, context, params["mode"],
                                            context.facilities(params["dispatch_types"]))}
    if pieces["stations"]["dispatchers"] == 0:
        pieces["fallback"] = _response_pieces(region, context, params["mode"],
                                              context.facilities(params["fallback_types"]))
    return pieces


def dispatch_pieces(pieces: dict) -> tuple[dict, str]:
    """The dispatchers' pieces an ambulance target is judged on, and their description."""
    if pieces["stations"]["dispatchers"] > 0:
        return pieces["stations"], "急救站 emergency stations"
    return pieces["fallback"], "无急救站，以二级及以上医院代 no emergency station: hospitals grade 2+"


def judge_ambulance_response(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    times, basis = dispatch_pieces(pieces)
    codes = townships["code"].astype(str).tolist()
    limit = params["max_minutes"]
    if sum(times["reached"].values()) == 0:
        return Outcome("fail", None, limit, "minutes", codes,
                       f"{basis}: {times['dispatchers']}; 无人可达 no resident reached")
    present = [c for c in codes if c in times["weight"]]

    def judge(prefix: str):
        """Mean, failing townships and unreached residents, over everyone or (``'on'``)
        over the residents on the network only."""
        weight, weighted, lost = (pd.Series([times[k][c] for c in present], dtype=float)
                                  for k in ("weight", "weighted", "lost"))
        if prefix == "on":
            weight, weighted, lost = (
                series - pd.Series([times.get(f"off_{k}", {}).get(c, 0.0) for c in present],
                                   dtype=float)
                for series, k in ((weight, "weight"), (weighted, "weighted"), (lost, "lost")))
        mean = float(weighted.sum() / weight.sum() / 60.0) if weight.sum() > 0 else None
        town_mean = weighted / weight.where(weight > 0) / 60.0
        failing = [c for c, gone, m, w in zip(present, lost, town_mean, weight)
                   if gone > 0 or (w > 0 and not m <= limit)]
        unreached = float(lost.sum())
        ok = mean is not None and mean <= limit and unreached == 0
        return mean, failing, unreached, ok

    mean, failing, unreached, ok = judge("")
    status = "pass" if ok else "fail"
    off = {c: n for c in present
           if (n := times.get("off_weight", {}).get(c, 0.0) + times.get("off_lost", {}).get(c, 0.0))}
    only = status == "fail" and bool(off) and judge("on")[3]
    texts = [f"{basis}: {times['dispatchers']}; 不可达 unreached {unreached:,.0f} 人 residents",
             _off_network_text(off), ONLY_OFF_NETWORK if only else ""]
    return Outcome(status, mean, limit, "minutes", failing, "; ".join(t for t in texts if t),
                   off_network=off, only_off_network=only)


def measure_ratio(region, context: AccessContext, params: dict) -> dict:
    """``field`` per ``per`` residents (or beds), summed over the open facilities of ``types``.

    The register's numbers are complete only when every counted facility has one
    (and, per beds, its beds). Otherwise the pack's district statistics
    (:mod:`coverage.statistics`) are used when they hold the field; failing both,
    the sum is a lower bound: it passes if even the lower bound meets ``required``,
    else the result is ``insufficient data``, with the lower bound shown only if at
    least ``min_data_share`` of the facilities carry the number. A target with
    ``comparison = 'at_most'`` is never passed on a lower bound. ``field`` may be a
    staff field the pack declares in ``statistics.toml``.
    """
    from coverage.statistics import field_names, figures_for, load_statistics

    name = params["field"]
    stats = load_statistics(region)
    if name not in field_names(stats):
        raise InputError(Path(region.path) / TARGETS_FILE, f"{name!r} is not a register field "
                         "nor one declared in statistics.toml: expected one of "
                         + ", ".join(sorted(field_names(stats))), field="parameters.field")
    facilities = own_facilities(region, context.facilities(params["types"] or None))
    values = facilities[name] if name in facilities else pd.Series(pd.NA, index=facilities.index)
    beds = facilities["beds"]
    return {"sum": float(values.dropna().sum()), "known": int(values.notna().sum()),
            "facilities": len(facilities),
            "beds": float(beds.dropna().sum()), "beds_known": int(beds.notna().sum()),
            "statistics": figures_for(stats, name, params["per"], params["denominator"]),
            "population": dict(zip(region.townships["code"].astype(str),
                                   map(float, region.townships["population"])))}


def _ratio_text(params: dict, value: float | None, basis: str) -> str:
    """baseline → measured → required, binding or indicative, and the plan's other figures."""
    def num(v):
        return "—" if v is None else f"{v:g}"

    base = params["baseline"]
    text = (f"基线 baseline {num(base)}"
            + (f" ({params['baseline_year']})" if base is not None and params["baseline_year"]
               else "")
            + f" → 实测 measured {num(None if value is None else round(value, 4))} [{basis}]"
            + f" → 要求 required {num(params['required'])}")
    if params["nature"]:
        text += f"; {params['nature']}"
    for other in params["required_also"]:
        meets = None if value is None else value >= other["value"] - SHARE_EPS
        verdict = "" if meets is None else ("，亦达标 also met" if meets else "，亦未达标 not met either")
        text += (f"; 规划另处要求 the plan also states {num(other['value'])} "
                 f"({other['source']}){verdict}")
    return text


def judge_ratio(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    name, per, required = params["field"], params["per"], params["required"]
    known, count = pieces["known"], pieces["facilities"]
    population = float(pd.Series([pieces["population"].get(c, 0.0) for c in
                                  townships["code"].astype(str)], dtype=float).sum())
    by_beds = params["denominator"] == "beds"
    denominator = pieces["beds"] if by_beds else population
    unit = f"{name} per {per:,}" + (" beds" if by_beds else "")
    coverage_text = f"{known}/{count} 机构有数据 facilities report {name}"
    at_least = params["comparison"] == "at_least"

    def meets(value):
        return value >= required - SHARE_EPS if at_least else value <= required + SHARE_EPS

    complete = count > 0 and known == count and (not by_beds or pieces["beds_known"] == count)
    figures = list({f["id"]: f for f in pieces.get("statistics", [])}.values())
    if complete and denominator > 0:
        value = pieces["sum"] / denominator * per
        return Outcome("pass" if meets(value) else "fail", value, required, unit, [],
                       _ratio_text(params, value, "名录 register, complete") + "; " + coverage_text)
    if figures:
        latest = max(figures, key=lambda f: (f["year"], f["id"]))
        value = latest["value"]
        basis = f"区级统计 district statistics {latest['year']}, {latest['source']}"
        return Outcome("pass" if meets(value) else "fail", value, required, unit, [],
                       _ratio_text(params, value, basis)
                       + f"; 名录不全 register incomplete ({coverage_text})")
    if known == 0 or denominator <= 0:
        return Outcome("insufficient data", None, required, unit, [],
                       _ratio_text(params, None, "无数据 no data") + "; " + coverage_text)
    value = pieces["sum"] / denominator * per
    if at_least and meets(value):
        return Outcome("pass", value, required, unit, [],
                       coverage_text + "; 下限已达标 the lower bound already meets the target")
    shown = value if known / count >= params["min_data_share"] else None
    return Outcome("insufficient data", shown, required, unit, [],
                   coverage_text + ("; 数值为下限 value is a lower bound" if shown is not None else ""))


def measure_count(region, context: AccessContext, params: dict) -> dict:
    """How many open facilities of ``types`` hold one of ``grades`` and ``designations``
    in the context's year (grades and designations by year: :mod:`coverage.counts`)."""
    from coverage.counts import matching

    facilities = own_facilities(region, context.facilities(params["types"] or None))
    found = facilities[matching(facilities, context.year, grades=params["grades"],
                                designations=params["designations"]).to_numpy()]
    return {"count": len(found), "names": sorted(map(str, found["name"]))}


def judge_count(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    required, count = params["required"], pieces["count"]
    ok = {"at_least": count >= required, "at_most": count <= required,
          "equal": count == required}.get(params["comparison"])
    if ok is None:
        raise ValueError(f"comparison must be at_least, at_most or equal, "
                         f"got {params['comparison']!r}")
    base = params["baseline"]
    text = ((f"基线 baseline {base:g} → " if base is not None else "")
            + f"实测 measured {count} → 要求 required {required:g}: "
            + ("、".join(pieces["names"]) or "无 none"))
    return Outcome("pass" if ok else "fail", float(count), float(required), "facilities", [],
                   text)


#: The 乡镇 level of ``tiered``: a centre located in each township.
TIERED_TOWNSHIP = {"types": CENTRE_TYPES, "upgraded": True, "judge": "location"}


def measure_tiered(region, context: AccessContext, params: dict) -> dict:
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
    pieces = {}
    for level in ("village", "district"):
        facilities = context.facilities(params[f"{level}_types"])
        seconds, _ = context.seconds(params[f"{level}_mode"], facilities)
        pieces[level] = _share_pieces(region, context, seconds, params[f"{level}_minutes"],
                                      facilities, params[f"{level}_mode"])
    pieces["township"] = measure_one_per_township(region, context, TIERED_TOWNSHIP)
    return pieces


def judge_tiered(pieces: dict, params: dict, townships: pd.DataFrame) -> Outcome:
    """Levels met out of three. Off-network residents are those of the level (of the
    two reach levels) with more of them in each township; the target fails only
    because of them when each failing level is a reach level that does."""
    levels, failing, texts, off, only = 0, set(), [], {}, True
    labels = {**DEFAULTS["tiered"]["labels"], **params["labels"]}
    for level in ("village", "district"):
        label = labels[level]
        outcome = _share_outcome(pieces[level], townships, params["required_share"], "share", "")
        levels += outcome.status == "pass"
        failing.update(outcome.failing)
        only &= outcome.status == "pass" or outcome.only_off_network
        for code, n in outcome.off_network.items():
            off[code] = max(off.get(code, 0.0), n)
        texts.append(f"{label} ≤{params[f'{level}_minutes']:g} min {params[f'{level}_mode']}: "
                     f"{outcome.measured:.1%}")
    township = judge_one_per_township(pieces["township"], TIERED_TOWNSHIP, townships)
    levels += township.status == "pass"
    failing.update(township.failing)
    texts.insert(1, f"{labels['township']}: {township.measured:.0f}/{township.required:.0f}")
    only &= levels < 3 and township.status == "pass"
    texts += [_off_network_text(off), ONLY_OFF_NETWORK if only else ""]
    order = townships["code"].astype(str).tolist()
    return Outcome("pass" if levels == 3 else "fail", float(levels), 3.0, "levels",
                   [c for c in order if c in failing], "; ".join(t for t in texts if t),
                   off_network=off, only_off_network=only)


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
              "comparison": "at_least", "min_data_share": 0.5, "denominator": "residents",
              "baseline": None, "baseline_year": None, "nature": "", "required_also": []},
    "count": {"required": REQUIRED, "types": [], "grades": [], "designations": [],
              "comparison": "at_least", "baseline": None},
    "tiered": {"village_minutes": 15, "village_mode": "walk",
               "village_types": ["village_clinic", *CENTRE_TYPES],
               "district_minutes": 60, "district_mode": "car", "district_types": list(HOSPITAL_TYPES),
               "required_share": 1.0,
               "labels": {"village": "村 village", "township": "乡镇 township",
                          "district": "区 district"}},
}

#: Rules whose value is counted from the register (名录统计); the others are modelled
#: on the network and the estimated population (测算).
REGISTER_RULES = frozenset({"one_per_township", "one_per_village", "ratio", "count"})

RULES: dict[str, Rule] = {
    "circle": Rule(measure_circle, judge_circle),
    "one_per_township": Rule(measure_one_per_township, judge_one_per_township),
    "one_per_village": Rule(measure_one_per_village, judge_one_per_village),
    "hospital_reach": Rule(measure_hospital_reach, judge_hospital_reach),
    "ambulance_response": Rule(measure_ambulance_response, judge_ambulance_response),
    "ratio": Rule(measure_ratio, judge_ratio),
    "tiered": Rule(measure_tiered, judge_tiered),
    "count": Rule(measure_count, judge_count),
}
#: 一镇/街一医疗机构 on one region (used by :mod:`coverage.siting`).
rule_one_per_township = RULES["one_per_township"]


# --- output ------------------------------------------------------------------------

def results_frame(results: list[Result], townships: pd.DataFrame) -> pd.DataFrame:
    """One row per result, Chinese first, deterministic (values rounded to 6 digits).

    ``off_network`` counts the target's off-network residents,
    ``off_network_townships`` lists them by township (``name code: residents``),
    ``only_off_network`` flags a failure due to them alone.
    """
    names = dict(zip(townships["code"].astype(str), townships["name"]))
    order = townships["code"].astype(str).tolist()
    rows = []
    for r in results:
        t, o = r.target, r.outcome
        off = [(c, o.off_network[c]) for c in order if o.off_network.get(c, 0) > 0]
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
            "off_network": round(sum(n for _, n in off), 6),
            "off_network_townships": "; ".join(f"{names.get(c, c)} {c}: {n:.0f}" for c, n in off),
            "only_off_network": o.only_off_network,
        })
    frame = pd.DataFrame(rows, columns=["id", "name_zh", "name_en", "rule", "target_year", "year",
                                        "status_zh", "status", "measured", "required", "unit",
                                        "failing_zh", "failing_codes", "details", "source", "quote",
                                        "off_network", "off_network_townships",
                                        "only_off_network"])
    return frame.astype({"target_year": "Int64", "year": "Int64", "measured": "Float64",
                         "required": "Float64", "off_network": "Float64"})


def _value(value, unit: str) -> str:
    value = json_scalar(value)
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    if unit in ("townships", "levels", "facilities"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def format_results(frame: pd.DataFrame, fmt: str = "table") -> str:
    """Results as a text table, JSON or CSV (CSV starts with a UTF-8 byte-order mark)."""
    if fmt == "json":
        records = [{k: json_scalar(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        neutralise_formulas(frame).to_csv(buffer, index=False, lineterminator="\n",
                                          quoting=csv.QUOTE_MINIMAL)
        return "\ufeff" + buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}: expected table, json or csv")
    lines = []
    for row in frame.to_dict(orient="records"):
        due = f" ({json_scalar(row['target_year'])})" if json_scalar(row["target_year"]) else ""
        lines.append(f"[{row['status_zh']} {row['status']}] {row['name_zh']} / {row['name_en']}{due}")
        kind = "名录统计 counted" if row["rule"] in REGISTER_RULES else "测算 modelled"
        lines.append(f"    {kind} {_value(row['measured'], row['unit'])}   "
                     f"要求 required {_value(row['required'], row['unit'])}   ({row['unit']})")
        if row["failing_zh"]:
            lines.append(f"    未达标街镇 failing townships: {row['failing_zh']} "
                         f"({row['failing_codes'].replace(';', ', ')})")
        if row["details"]:
            lines.append(f"    {row['details']}")
        if row["off_network_townships"]:
            lines.append(f"    离网居民（按街镇）off-network residents by township: "
                         f"{row['off_network_townships']}")
        if row.get("estimated_inputs"):
            lines.append(f"    估算输入 estimated inputs: {row['estimated_inputs']}")
        if row.get("undated"):
            lines.append(f"    未定年份的规划机构 undated planned facilities (never counted open): "
                         f"{row['undated']}")
    return "\n".join(lines) + "\n"


def circle_parameters(region) -> dict:
    """Threshold, facility types and mode per kind of the pack's circle target."""
    params = dict(DEFAULTS["circle"])
    for target in load_targets(region):
        if target.rule == "circle":
            params.update(target.parameters)
            break
    return params
