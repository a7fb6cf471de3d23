"""What-if scenarios (情景): edits on a facility register and what they change.

A scenario is a list of edits on a region's facility register, written as a small
TOML file beside the pack (``scenarios/<name>.toml``) that diffs well::

    name_zh = "石板镇卫生院迁建"
    name_en = "Shiban health centre relocation"
    description = "..."
    source = "seed 000 ..."
    year = 2025                      # the year the scenario stands for
    notes = "..."

    [[edit]]
    action = "close"                 # move | add | close | set
    facility = "gx-shiban-thc"
    year = 2025

    [[edit]]
    action = "move"
    facility = "gx-shiban-thc-new"
    lon = 106.35
    lat = 29.43
    crs = "GCJ02"                    # optional: WGS84 (default), GCJ02, BD09, EPSG:n
    location_quality = "illustrative"

Actions:

``move``
    New ``lon``/``lat`` (in ``crs``, converted to WGS-84 once, when applied);
    ``location_quality`` defaults to ``illustrative``: a site chosen in a scenario
    is not a surveyed one unless the edit says so. ``township_code`` may be given.
``add``
    A new facility record (``facility`` is its id; ``name``, ``type``, ``lon``,
    ``lat`` required; any register field may be given). It opens in the
    scenario's year unless ``opening_year`` says otherwise; status ``planned``
    and ``location_quality`` ``illustrative`` by default.
``close``
    Closes the facility in ``year`` (default the scenario's year): status
    ``closed`` and ``closing_year``, so it is open before that year and not from it.
``set``
    Any register field: ``type``, ``grade``, ``status``, ``opening_year``,
    ``closing_year``, ``beds``, ``physicians``, ... (see :data:`SET_FIELDS`).

Edits apply in order, so a later edit of the same facility wins. :func:`apply`
returns a new register validated exactly as a pack's
(:func:`coverage.facilities.validate_facilities`); :func:`compare` evaluates the
region before and after for a year: residents gaining and losing access at each
threshold per township, targets that change state, and the areas gaining or
losing coverage.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage import crs as crs_mod
from coverage import schema
from coverage.access import AccessContext, point_modes, population_within, within
from coverage.bands import RegionCells
from coverage.errors import InputError, write_text_atomic
from coverage.facilities import COLUMNS as FACILITY_COLUMNS
from coverage.facilities import active_facilities, validate_facilities
from coverage.output import json_scalar

#: Folder of a pack holding its scenarios.
SCENARIO_DIR = "scenarios"
ACTIONS = ("move", "add", "close", "set")
#: Top-level keys of a scenario file, in the order they are written.
HEADER = ("name_zh", "name_en", "description", "source", "year", "region", "notes")
#: Register fields a ``set`` edit may change (all but the id).
SET_FIELDS = tuple(f for f in FACILITY_COLUMNS if f != "id")
#: Fields each action accepts besides ``action`` and ``facility``.
ACTION_FIELDS = {
    "move": ("lon", "lat", "crs", "location_quality", "township_code", "notes"),
    "add": (*SET_FIELDS, "lon", "lat", "crs", "notes"),
    "close": ("year", "notes"),
    "set": (*SET_FIELDS, "notes"),
}
REQUIRED_FIELDS = {"move": ("lon", "lat"), "add": ("name", "type", "lon", "lat"),
                   "close": (), "set": ()}
#: Order of an edit's fields in a written file.
FIELD_ORDER = ("lon", "lat", "crs", "year", *SET_FIELDS, "notes")
VOCABULARIES = {"type": schema.facility_type, "grade": schema.grade,
                "status": schema.facility_status, "location_quality": schema.location_quality}


@dataclass
class Edit:
    """One edit of a scenario: an action on a facility id, with its fields."""

    action: str
    facility: str
    values: dict = field(default_factory=dict)


@dataclass
class Scenario:
    """A named list of edits standing for a year (see the module docstring)."""

    name_zh: str
    name_en: str
    year: int
    edits: list[Edit]
    description: str = ""
    source: str = ""
    region: str = ""
    notes: str = ""
    path: Path | None = None
    #: Facility ids edited by more than one of the scenarios :func:`combine` joined,
    #: with the names of those scenarios (not written to the file).
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The file's name, or the English name when the scenario has no file."""
        return self.path.name if self.path is not None else self.name_en


# --- reading and writing ------------------------------------------------------------

def load_scenario(path: str | Path, facilities: gpd.GeoDataFrame | None = None) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        The TOML file.
    facilities
        The register it edits; when given, every edited id must be in it (or added
        by an earlier edit) and no added id may be.

    Raises
    ------
    InputError
        Naming the file, the edit number and the field: invalid TOML, a missing or
        unknown key, an unknown action, a bad value (vocabulary, number, coordinate,
        CRS) or an unknown facility id.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable TOML file: {exc}") from None
    unknown = sorted(set(data) - set(HEADER) - {"edit"})
    if unknown:
        raise InputError(path, f"unknown key: expected {', '.join(HEADER)} and [[edit]] tables",
                         field=unknown[0])
    for key in ("name_zh", "name_en", "year"):
        if key not in data:
            raise InputError(path, "missing key", field=key)
    for key in HEADER:
        if key in data and key != "year" and not isinstance(data[key], str):
            raise InputError(path, f"{data[key]!r} is not text", field=key)
    year = _year(data["year"], path, None, "year")
    edits = data.get("edit", [])
    if not isinstance(edits, list):
        raise InputError(path, "expected [[edit]] tables", field="edit")
    scenario = Scenario(
        name_zh=data["name_zh"], name_en=data["name_en"], year=year,
        edits=[_edit(item, path, i + 1) for i, item in enumerate(edits)],
        description=data.get("description", ""), source=data.get("source", ""),
        region=data.get("region", ""), notes=data.get("notes", ""), path=path)
    if facilities is not None:
        check_ids(scenario, facilities["id"])
    return scenario


def _edit(item, path: Path, number: int) -> Edit:
    if not isinstance(item, dict):
        raise InputError(path, "expected a table", row=number, kind="edit")
    action = item.get("action")
    if action not in ACTIONS:
        raise InputError(path, f"unknown action {action!r}: expected one of {', '.join(ACTIONS)}",
                         row=number, field="action", kind="edit")
    facility = item.get("facility")
    if not isinstance(facility, str) or not facility.strip():
        raise InputError(path, "missing facility id: expected text", row=number,
                         field="facility", kind="edit")
    values = {k: v for k, v in item.items() if k not in ("action", "facility")}
    allowed = ACTION_FIELDS[action]
    for key in values:
        if key not in allowed:
            raise InputError(path, f"not a field of a {action} edit: expected "
                             + ", ".join(allowed), row=number, field=key, kind="edit")
    for key in REQUIRED_FIELDS[action]:
        if key not in values:
            raise InputError(path, f"a {action} edit needs {key}", row=number, field=key,
                             kind="edit")
    if action == "set" and not set(values) - {"notes"}:
        raise InputError(path, "a set edit changes at least one field: expected one of "
                         + ", ".join(SET_FIELDS), row=number, kind="edit")
    out = {}
    for key, value in values.items():
        try:
            out[key] = _value(key, value)
        except ValueError as exc:
            raise InputError(path, str(exc), row=number, field=key, kind="edit") from None
    if "lon" in out:
        _check_coordinates(out, path, number)
    return Edit(action, facility.strip(), {k: out[k] for k in FIELD_ORDER if k in out})


def _year(value, path, number, key) -> int:
    try:
        return _value("year", value)
    except ValueError as exc:
        raise InputError(path, str(exc), row=number, field=key, kind="edit") from None


def _value(key: str, value):
    """The canonical value of one edit field (raises ValueError naming what was expected)."""
    if key in VOCABULARIES:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return VOCABULARIES[key](value)
    if key in ("year", *schema.YEAR_FIELDS, *schema.INTEGER_FIELDS):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not a whole number")
        minimum = 0 if key in schema.INTEGER_FIELDS else 1900
        if value < minimum:
            raise ValueError(f"{value} is below the minimum {minimum}")
        if value > schema.MAXIMA[key]:
            raise ValueError(f"{value} is above the maximum {schema.MAXIMA[key]}")
        return value
    if key in ("lon", "lat"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return float(value)
    if key == "crs":
        return crs_mod.normalise_crs_name(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _check_coordinates(values: dict, path: Path, number: int) -> None:
    """Longitude and latitude in range, for the geographic datums."""
    if values.get("crs", "WGS84") not in ("WGS84", "GCJ02", "BD09"):
        return
    for key, limit, name in (("lon", 180.0, "经度 longitude"), ("lat", 90.0, "纬度 latitude")):
        if abs(values[key]) > limit:
            raise InputError(path, f"{values[key]!r} is not a valid {name}: expected "
                             f"-{limit:g}..{limit:g} (is the CRS right?)", row=number, field=key,
                             kind="edit")


def check_ids(scenario: Scenario, ids: Iterable[str]) -> None:
    """Every edited id exists when edited, and no added id exists already.

    Raises
    ------
    InputError
        Naming the scenario file, the edit number and ``facility``.
    """
    known = set(map(str, ids))
    for number, edit in enumerate(scenario.edits, start=1):
        if edit.action == "add":
            if edit.facility in known:
                raise InputError(scenario.path or scenario.label,
                                 f"facility {edit.facility!r} already exists: an add needs a "
                                 "new id", row=number, field="facility", kind="edit")
            known.add(edit.facility)
        elif edit.facility not in known:
            raise InputError(scenario.path or scenario.label,
                             f"unknown facility {edit.facility!r}: expected an id of the "
                             "register or of an earlier add", row=number, field="facility",
                             kind="edit")


def scenario_text(scenario: Scenario) -> str:
    """The scenario as TOML text: keys in a fixed order, one ``[[edit]]`` table per edit."""
    lines = [f"{key} = {_toml(getattr(scenario, key))}" for key in HEADER
             if key == "year" or getattr(scenario, key)]
    for edit in scenario.edits:
        lines += ["", "[[edit]]", f"action = {_toml(edit.action)}",
                  f"facility = {_toml(edit.facility)}"]
        lines += [f"{key} = {_toml(edit.values[key])}" for key in FIELD_ORDER
                  if key in edit.values]
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    # A JSON string is a valid TOML basic string (the same escapes); keep non-ASCII.
    return json.dumps(str(value), ensure_ascii=False)


def save_scenario(scenario: Scenario, path: str | Path) -> Path:
    """Write a scenario as TOML, atomically; the same scenario gives the same bytes."""
    path = Path(path)
    write_text_atomic(path, scenario_text(scenario))
    return path


def find_scenarios(region) -> list[Path]:
    """The scenario files of a pack (``<pack>/scenarios/*.toml``), sorted."""
    folder = Path(region.path) / SCENARIO_DIR
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def resolve_scenario(region, name: str | Path) -> Path:
    """A scenario file from a path, or a name in the pack's ``scenarios/`` folder."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (Path(region.path) / SCENARIO_DIR / path.name,
                      Path(region.path) / SCENARIO_DIR / f"{path.name}.toml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(p.stem for p in find_scenarios(region)) or "none"
    raise InputError(path, f"no such scenario file, nor in {region.path / SCENARIO_DIR} "
                     f"(the pack's scenarios: {known})")


def combine(*scenarios: Scenario, name_zh: str | None = None, name_en: str | None = None,
            description: str = "", notes: str = "") -> Scenario:
    """One scenario with the edits of all, in order (a later edit of a facility wins).

    The year is the latest of the scenarios'. Facilities edited by more than one of
    them are listed in ``conflicts`` so the planner can check that the later edit is
    the one meant.
    """
    if not scenarios:
        raise ValueError("combine needs at least one scenario")
    touched: dict[str, list[str]] = {}
    for s in scenarios:
        for fid in dict.fromkeys(e.facility for e in s.edits):
            touched.setdefault(fid, []).append(s.label)
    regions = sorted({s.region for s in scenarios if s.region})
    return Scenario(
        name_zh=name_zh or " + ".join(s.name_zh for s in scenarios),
        name_en=name_en or " + ".join(s.name_en for s in scenarios),
        year=max(s.year for s in scenarios),
        edits=[dataclasses.replace(e, values=dict(e.values)) for s in scenarios for e in s.edits],
        description=description, notes=notes,
        source="; ".join(dict.fromkeys(s.source for s in scenarios if s.source)),
        region=regions[0] if len(regions) == 1 else "",
        conflicts={fid: names for fid, names in touched.items() if len(names) > 1})


# --- applying ------------------------------------------------------------------------

def apply(scenario: Scenario, facilities: gpd.GeoDataFrame, *,
          township_codes: Iterable[str] | None = None, boundary=None) -> gpd.GeoDataFrame:
    """The register after the scenario's edits, validated as a pack's register.

    Parameters
    ----------
    scenario
        The edits.
    facilities
        A validated register (:func:`coverage.facilities.read_facilities`), WGS-84.
    township_codes, boundary
        As for :func:`coverage.facilities.validate_facilities`: checks that the
        edited records name known townships and lie in the region.

    Raises
    ------
    InputError
        Naming the scenario file and the edit (the last one touching the facility)
        for an unknown id or a record the edits made invalid (closing before
        opening, a site outside the region, ...).
    """
    check_ids(scenario, facilities["id"])
    frame = pd.DataFrame(facilities[list(FACILITY_COLUMNS)]).reset_index(drop=True)
    frame["lon"] = facilities.geometry.x.to_numpy()
    frame["lat"] = facilities.geometry.y.to_numpy()
    frame = frame.astype({c: object for c in frame.columns})
    rows = {fid: i for i, fid in enumerate(frame["id"])}
    last_edit: dict[str, int] = {}
    for number, edit in enumerate(scenario.edits, start=1):
        values = {k: v for k, v in edit.values.items() if k not in ("notes", "crs")}
        if "lon" in values:
            lon, lat = crs_mod.to_wgs84([values["lon"]], [values["lat"]],
                                        edit.values.get("crs"))
            values["lon"], values["lat"] = float(lon[0]), float(lat[0])
        if edit.action == "add":
            record = {"id": edit.facility, "status": "planned", "opening_year": scenario.year,
                      "location_quality": "illustrative", **values}
            rows[edit.facility] = len(frame)
            frame.loc[len(frame)] = [record.get(c) for c in frame.columns]
        else:
            if edit.action == "move":
                values.setdefault("location_quality", "illustrative")
            elif edit.action == "close":
                values = {"status": "closed", "closing_year": values.get("year", scenario.year)}
            i = rows[edit.facility]
            for key, value in values.items():
                frame.at[i, key] = value
        last_edit[edit.facility] = number
    path = scenario.path or scenario.label
    try:
        return validate_facilities(frame, path, township_codes=township_codes, boundary=boundary)
    except InputError as exc:
        fid = frame["id"].iloc[exc.row - 1] if exc.row else None
        if fid not in last_edit:
            raise
        raise InputError(path, f"facility {fid!r} after the edits: {exc.problem}",
                         row=last_edit[fid], field=exc.field, kind="edit") from None


# --- comparing -----------------------------------------------------------------------

@dataclass
class ScenarioResult:
    """Before and after a scenario, for one region and year.

    Attributes
    ----------
    townships
        One row per township and threshold, then the region's (``code`` empty):
        ``code``, ``name``, ``kind``, ``mode``, ``minutes``, ``population``,
        ``covered_before``, ``covered_after``, ``gained``, ``lost``, ``net``.
    targets
        One row per target: ``id``, names, status and measured value before and
        after, ``change`` (``state``, ``value`` or empty) and failing townships.
    changes
        Areas gaining or losing coverage at ``area_minutes`` (WGS-84): ``change``
        (``gained``/``lost``), ``mode``, ``minutes``, ``area_km2``, ``residents``
        (of that mode's townships gaining or losing access), ``geometry``.
    facilities
        Each edited facility: ``id``, ``name``, ``type``, open in the year before
        and after, ``moved_m`` and the actions applied.
    """

    region: str
    region_name: str
    scenario: Scenario
    year: int
    minutes: tuple[float, ...]
    area_minutes: float
    modes: Mapping[str, str] | str
    townships: pd.DataFrame
    targets: pd.DataFrame
    changes: gpd.GeoDataFrame
    facilities: pd.DataFrame
    #: The band at ``area_minutes`` after the scenario, one boolean per cell of
    #: the baseline's :class:`coverage.bands.RegionCells`, each cell by its own mode.
    band_after: np.ndarray | None = None

    @property
    def totals(self) -> pd.DataFrame:
        """The region's rows of :attr:`townships`."""
        return self.townships[self.townships["code"] == ""].reset_index(drop=True)


class Baseline:
    """A region as registered for a year, evaluated once and shared by every :func:`compare`.

    Holds the :class:`coverage.access.AccessContext` (population, graphs, snaps),
    the residents' travel times, the targets' results and, per mode, the nodes'
    times and the merged isochrone band, so that a what-if only computes its own side.

    Parameters
    ----------
    region
        A :class:`coverage.region.Region` with a road network.
    year
        Facilities open in this year.
    modes, types
        Travel mode (one, or per township kind) and the facility types that give
        access; default those of the pack's circle target (15分钟基本医疗卫生服务圈),
        whose threshold is also the one gained and lost areas are drawn at.
    cache_dir
        Folder of built graphs (as :class:`coverage.access.AccessContext`).
    context
        An existing context of ``region`` and ``year`` to share (its graphs, snapped
        points and times), e.g. the app's cached one.
    area_minutes
        Threshold at which gained and lost areas are drawn (default the circle's).
    """

    def __init__(self, region, year: int | None, *, modes: Mapping[str, str] | str | None = None,
                 types: Iterable[str] | None = None, cache_dir=None,
                 context: AccessContext | None = None, area_minutes: float | None = None) -> None:
        from coverage.targets import circle_parameters, load_targets

        params = circle_parameters(region)
        self.region = region
        self.year = year
        self.modes = params["modes"] if modes is None else modes
        self.types = list(params["types"] if types is None else types)
        self.area_minutes = float(params["minutes"] if area_minutes is None else area_minutes)
        self.context = (AccessContext(region, year=year, cache_dir=cache_dir)
                        if context is None else context)
        self.targets = load_targets(region)
        self._results: list | None = None
        self._bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._kind_band: np.ndarray | None = None

    def seconds(self) -> np.ndarray:
        """Each population point's seconds to its nearest facility, by its mode."""
        return self.context.seconds_by_kind(self.modes, self.context.facilities(self.types))[0]

    def results(self) -> list:
        """The targets checked for the year (:func:`coverage.targets.evaluate`)."""
        if self._results is None:
            from coverage.targets import evaluate

            self._results = evaluate(self.region, year=self.year, targets=self.targets,
                                     context=self.context)
        return self._results

    @property
    def cells(self) -> RegionCells:
        """The region's band cells (:class:`coverage.bands.RegionCells`), shared by both sides."""
        return RegionCells.cached(self.region, cache_dir=self.context.cache_dir)

    def band(self, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Cell seconds and the band at :attr:`area_minutes` (one boolean per cell) for ``mode``."""
        if mode not in self._bands:
            self._bands[mode] = area_band(self.context, mode, self.types, self.area_minutes,
                                          cells=self.cells)
        return self._bands[mode]

    def kind_band(self, bands: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """The band with each cell by its own mode (:attr:`modes`): ``bands`` per mode
        (default the baseline's own)."""
        if bands is None and self._kind_band is not None:
            return self._kind_band
        out = np.zeros(self.cells.township.size, dtype=bool)
        for mode, sel in self.cells.mode_cells(self.modes).items():
            out[sel] = (self.band(mode)[1] if bands is None else bands[mode])[sel]
        if bands is None:
            self._kind_band = out
        return out


def compare(region, scenario: Scenario, *, year: int | None = None,
            minutes: Sequence[float] = (5, 10, 15, 30),
            modes: Mapping[str, str] | str | None = None, types: Iterable[str] | None = None,
            baseline: Baseline | None = None) -> ScenarioResult:
    """Evaluate a region before and after a scenario.

    Parameters
    ----------
    region
        A :class:`coverage.region.Region` with a road network.
    scenario
        The edits (:func:`load_scenario`).
    year
        Facilities open in this year on both sides; default the scenario's year.
    minutes
        Thresholds (inclusive) at which residents gaining and losing access are counted.
    modes, types
        As for :class:`Baseline` (default: the pack's circle target's).
    baseline
        The region's :class:`Baseline` for ``year``, to reuse across scenarios.

    Returns
    -------
    ScenarioResult
    """
    from coverage.targets import evaluate

    if scenario.region and scenario.region != region.slug:
        raise InputError(scenario.path or scenario.label, f"the scenario is for region "
                         f"{scenario.region!r}, not {region.slug!r}", field="region")
    year = scenario.year if year is None else year
    if baseline is None:
        baseline = Baseline(region, year, modes=modes, types=types)
    elif (baseline.year != year or baseline.region is not region
          or (modes is not None and modes != baseline.modes)
          or (types is not None and list(types) != baseline.types)):
        raise ValueError(f"the baseline is for {baseline.region.slug} {baseline.year} "
                         f"({baseline.modes}, {baseline.types}), not this comparison")
    modes, types = baseline.modes, baseline.types
    after_facilities = apply(scenario, region.facilities, township_codes=region.townships["code"],
                             boundary=region.boundary)
    after = baseline.context.sharing(dataclasses.replace(region, facilities=after_facilities))
    before_s = baseline.seconds()
    after_s, _ = after.seconds_by_kind(modes, after.facilities(types))
    townships = access_changes(baseline.context.population, before_s, after_s, minutes,
                               region.townships, modes=modes, region_name=region.name_zh)
    targets = target_changes(baseline.results(), evaluate(after.region, year=year,
                                                          targets=baseline.targets,
                                                          context=after), region.townships)
    m = baseline.area_minutes
    changes, band_after = coverage_changes(baseline, after,
                                           gained=~within(before_s, m) & within(after_s, m),
                                           lost=within(before_s, m) & ~within(after_s, m))
    return ScenarioResult(
        region=region.slug, region_name=region.name_zh, scenario=scenario, year=year,
        minutes=tuple(minutes), area_minutes=m, modes=modes, townships=townships,
        targets=targets, changes=changes,
        facilities=facility_changes(scenario, region.facilities, after_facilities, year,
                                    region.metric_crs), band_after=band_after)


def access_changes(points: pd.DataFrame, before: np.ndarray, after: np.ndarray,
                   minutes: Sequence[float], townships: pd.DataFrame, *,
                   modes: Mapping[str, str] | str = "", region_name: str = "") -> pd.DataFrame:
    """Residents within each threshold before and after, and those gaining and losing access.

    ``before`` and ``after`` are each point's seconds to its nearest facility. A
    resident gains access at ``m`` minutes when within ``m`` after but not before,
    and loses it the other way round (:func:`coverage.access.within`); ``net`` is
    ``gained - lost`` = ``covered_after - covered_before``.
    """
    table = population_within(points, before, minutes, townships, mode=modes,
                              region_name=region_name).rename(columns={"covered": "covered_before"})
    table["covered_after"] = population_within(points, after, minutes, townships, mode=modes,
                                               region_name=region_name)["covered"].to_numpy()
    codes = townships["code"].astype(str).to_numpy()
    point_codes = points["township_code"].astype(str).to_numpy()
    weight = points["population"].to_numpy(dtype=float)
    gained, lost = [], []
    for m in minutes:
        was, now = within(before, m), within(after, m)
        for mask, out in ((now & ~was, gained), (was & ~now, lost)):
            sums = pd.Series(np.where(mask, weight, 0.0)).groupby(point_codes).sum().reindex(
                codes, fill_value=0.0)
            out += [*sums.to_numpy(), sums.sum()]
    table["gained"] = gained
    table["lost"] = lost
    table["net"] = table["gained"] - table["lost"]
    return table[["code", "name", "kind", "mode", "minutes", "population", "covered_before",
                  "covered_after", "gained", "lost", "net"]]


def target_changes(before: list, after: list, townships: pd.DataFrame) -> pd.DataFrame:
    """Targets before and after (:func:`coverage.targets.evaluate` results), side by side.

    ``change`` is ``state`` when the status differs, ``value`` when only the measured
    value does (beyond 1e-6), empty otherwise.
    """
    from coverage.targets import results_frame

    keep = ["id", "name_zh", "name_en", "status", "status_zh", "measured", "required", "unit",
            "failing_zh"]
    b = results_frame(before, townships)[keep]
    a = results_frame(after, townships)[["id", "status", "status_zh", "measured", "failing_zh"]]
    frame = b.merge(a, on="id", suffixes=("_before", "_after"), validate="one_to_one")
    same_value = ((frame["measured_before"].isna() & frame["measured_after"].isna())
                  | ((frame["measured_before"] - frame["measured_after"]).abs() <= 1e-6)
                  ).fillna(False).to_numpy(dtype=bool)
    state = (frame["status_before"] != frame["status_after"]).to_numpy()
    frame["change"] = np.where(state, "state", np.where(same_value, "", "value"))
    return frame[["id", "name_zh", "name_en", "change", "status_before", "status_zh_before",
                  "measured_before", "status_after", "status_zh_after", "measured_after",
                  "required", "unit", "failing_zh_before", "failing_zh_after"]]


def coverage_changes(baseline: Baseline, after: AccessContext, *, gained: np.ndarray,
                     lost: np.ndarray) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Areas gaining and losing coverage at the baseline's ``area_minutes``, per mode (WGS-84).

    Each band is the coverage rule evaluated on the region's cells
    (:func:`area_band`), each cell by its township's mode; an area gains where the
    after band holds a cell the before band does not, and loses the other way round.
    Differences are taken cell by cell and then traced, so no polygon set operation
    is involved; only the changed cells are traced. ``gained``/``lost`` flag the population points changing state,
    whose residents each row reports: they are the residents of the cells drawn.

    Returns
    -------
    changes, band_after
        The areas (``change``, ``mode``, ``minutes``, ``area_km2``, ``residents``,
        ``geometry``) and the after band, one boolean per cell.
    """
    region = baseline.region
    cells = baseline.cells
    point_mode = point_modes(baseline.context.population, baseline.modes)
    mode_cells = cells.mode_cells(baseline.modes)
    weight = baseline.context.population["population"].to_numpy(dtype=float)
    cell_km2 = (cells.cells.grid.cell_m / 1000.0) ** 2
    after_bands, rows = {}, []
    for mode in sorted(set(point_mode)):
        before = baseline.band(mode)
        after_bands[mode] = area_band(after, mode, baseline.types, baseline.area_minutes,
                                      cells=cells, unchanged=before)[1]
        served = mode_cells.get(mode, np.zeros(cells.township.size, dtype=bool))
        for change, now, was, mask in (("gained", after_bands[mode], before[1], gained),
                                       ("lost", before[1], after_bands[mode], lost)):
            drawn = now & ~was & served
            sel = mask & (point_mode == mode)
            if not drawn.any() and not sel.any():
                continue
            rows.append({"change": change, "mode": mode, "minutes": baseline.area_minutes,
                         "area_km2": float(drawn.sum()) * cell_km2,
                         "residents": float(weight[sel].sum()),
                         "geometry": shapely.MultiPolygon(shapely.get_parts(cells.trace(drawn)))})
    frame = gpd.GeoDataFrame(rows, columns=["change", "mode", "minutes", "area_km2", "residents",
                                            "geometry"], geometry="geometry",
                             crs=region.metric_crs)
    return frame.to_crs("EPSG:4326"), baseline.kind_band(after_bands)


def area_band(context: AccessContext, mode: str, types: Iterable[str], minutes: float, *,
              cells: RegionCells, unchanged: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from each region cell to its nearest open facility of ``types`` by
    ``mode``, and the cells within ``minutes``.

    The cells are timed as residents are (:meth:`coverage.bands.RegionCells.seconds`:
    the trip towards the facilities, the off-road leg), so a resident is in the band
    exactly when counted as within ``minutes``. ``unchanged`` is another side's
    result, returned as it is when no cell's time differs (so nothing is drawn twice).
    """
    seconds = cells.seconds(context, mode, context.facilities(types))
    if unchanged is not None and np.array_equal(seconds, unchanged[0]):
        return unchanged
    return seconds, within(seconds, minutes)


def facility_changes(scenario: Scenario, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame,
                     year: int, metric_crs: str) -> pd.DataFrame:
    """Each facility a scenario edits: open in ``year`` before and after, and how far it moved."""
    ids = list(dict.fromkeys(e.facility for e in scenario.edits))
    actions = {fid: ", ".join(dict.fromkeys(e.action for e in scenario.edits if e.facility == fid))
               for fid in ids}
    open_before = set(active_facilities(before, year)["id"])
    open_after = set(active_facilities(after, year)["id"])
    old = before.set_index("id").geometry.to_crs(metric_crs)
    new = after.set_index("id")
    new_metric = new.geometry.to_crs(metric_crs)
    rows = []
    for fid in ids:
        moved = (float(old[fid].distance(new_metric[fid])) if fid in old.index else math.nan)
        rows.append({"id": fid, "name": new.at[fid, "name"], "type": new.at[fid, "type"],
                     "open_before": fid in open_before, "open_after": fid in open_after,
                     "moved_m": moved, "actions": actions[fid],
                     "location_quality": new.at[fid, "location_quality"]})
    return pd.DataFrame(rows, columns=["id", "name", "type", "open_before", "open_after",
                                       "moved_m", "actions", "location_quality"])


# --- output --------------------------------------------------------------------------

def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: json_scalar(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def result_dict(result: ScenarioResult) -> dict:
    """The result as plain data (JSON-ready, deterministic)."""
    s = result.scenario
    return {
        "region": result.region, "region_name": result.region_name,
        "scenario": {"file": s.label, "name_zh": s.name_zh, "name_en": s.name_en,
                     "description": s.description, "source": s.source, "year": s.year,
                     "notes": s.notes, "edits": len(s.edits), "conflicts": s.conflicts},
        "year": result.year, "minutes": [json_scalar(float(m)) for m in result.minutes],
        "modes": result.modes,
        "facilities": _records(result.facilities),
        "totals": _records(result.totals.drop(columns=["code", "kind"])),
        "townships": _records(result.townships[result.townships["code"] != ""]),
        "targets": _records(result.targets),
        "changes": _records(pd.DataFrame(result.changes.drop(columns="geometry"))),
    }


def format_result(result: ScenarioResult, fmt: str = "text") -> str:
    """A Chinese-first text report, or JSON (``fmt='json'``)."""
    if fmt == "json":
        return json.dumps(result_dict(result), ensure_ascii=False, indent=2) + "\n"
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}: expected text or json")
    s = result.scenario
    lines = [f"情景 scenario: {s.name_zh} / {s.name_en}  ({s.label})",
             f"区域 region: {result.region_name} [{result.region}]   年份 year: {result.year}"]
    if s.description:
        lines.append(f"  {s.description}")
    for fid, names in sorted(s.conflicts.items()):
        lines.append(f"  ⚠ 冲突 {fid} is edited by {', '.join(names)}: the later edit wins")
    lines.append("")
    lines.append("机构变化 facilities:")
    state = {True: "开放 open", False: "未开放 not open"}
    for row in result.facilities.to_dict(orient="records"):
        moved = f", 移址 moved {row['moved_m']:,.0f} m" if row["moved_m"] > 0 else ""
        sited = not row["moved_m"] == 0  # moved, or added (NaN)
        quality = " [示意 illustrative site]" if sited and row["location_quality"] == "illustrative" else ""
        lines.append(f"  {row['name']} ({row['id']}): {state[row['open_before']]} → "
                     f"{state[row['open_after']]}{moved}{quality}  [{row['actions']}]")
    modes = result.modes if isinstance(result.modes, str) else ", ".join(
        f"{schema.label(schema.TOWNSHIP_KINDS, k)} {m}" for k, m in sorted(result.modes.items()))
    lines += ["", f"可达居民 residents within (nearest basic-care facility; {modes}):",
              f"  {'分钟 min':>8} {'之前 before':>12} {'之后 after':>12} {'获得 gained':>12} "
              f"{'失去 lost':>12} {'净 net':>10}"]
    for row in result.totals.to_dict(orient="records"):
        lines.append(f"  {row['minutes']:>8g} {row['covered_before']:>12,.0f} "
                     f"{row['covered_after']:>12,.0f} {row['gained']:>12,.0f} "
                     f"{row['lost']:>12,.0f} {row['net']:>+10,.0f}")
    towns = result.townships[(result.townships["code"] != "")
                             & ((result.townships["gained"] > 0) | (result.townships["lost"] > 0))]
    if len(towns):
        lines.append("  分街镇 by township:")
        for row in towns.to_dict(orient="records"):
            lines.append(f"    {row['name']} ≤{row['minutes']:g} min: 获得 +{row['gained']:,.0f}, "
                         f"失去 −{row['lost']:,.0f}")
    else:
        lines.append("  无居民可达性变化 no resident gains or loses access")
    lines += ["", "目标 targets:"]
    changed = result.targets[result.targets["change"] != ""]
    for row in changed.to_dict(orient="records"):
        tag = "状态变化 state" if row["change"] == "state" else "数值变化 value"
        lines.append(f"  [{tag}] {row['name_zh']} / {row['name_en']} ({row['id']}): "
                     f"{row['status_zh_before']} {_show(row['measured_before'], row['unit'])} → "
                     f"{row['status_zh_after']} {_show(row['measured_after'], row['unit'])}")
        if row["failing_zh_before"] != row["failing_zh_after"]:
            lines.append(f"      未达标街镇 failing: {row['failing_zh_before'] or '—'} → "
                         f"{row['failing_zh_after'] or '—'}")
    if not len(changed):
        lines.append("  无变化 no target changes")
    lines += ["", f"覆盖范围变化 areas within {result.area_minutes:g} min:"]
    for row in result.changes.to_dict(orient="records"):
        word = "新增 gained" if row["change"] == "gained" else "失去 lost"
        lines.append(f"  {word} ({row['mode']}): {row['area_km2']:.2f} km², "
                     f"{row['residents']:,.0f} 人 residents")
    if not len(result.changes):
        lines.append("  无变化 none")
    return "\n".join(lines) + "\n"


def _show(value, unit: str) -> str:
    value = json_scalar(value)
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:g}"


#: The files :func:`write_result_layers` writes.
RESULT_FILES = ("gained.geojson", "lost.geojson", "townships.csv", "targets.csv")


def write_result_layers(result: ScenarioResult, out_dir: str | Path, *, region=None,
                        inputs=()) -> list[Path]:
    """``gained.geojson``, ``lost.geojson``, ``townships.csv`` and ``targets.csv`` in ``out_dir``.

    GeoJSON is WGS-84 and deterministic (:func:`coverage.layers.geojson_text`); CSVs
    start with a UTF-8 byte-order mark for Excel. The folder is written as one unit
    (:func:`coverage.outputs.write_folder`): replaced whole once every file is
    written, and refused if it holds files this program did not write, is the pack
    ``region``, lies in its data folders or holds one of ``inputs``.
    """
    from coverage.layers import geojson_text
    from coverage.output import csv_text
    from coverage.outputs import write_folder

    files = {f"{change}.geojson": geojson_text(result.changes[result.changes["change"] == change]
                                               .reset_index(drop=True))
             for change in ("gained", "lost")}
    files["townships.csv"] = csv_text(result.townships.round(6))
    files["targets.csv"] = csv_text(result.targets.round(6))
    return write_folder(out_dir, files, region=region, inputs=inputs)
