"""Views of a region for one set of controls: what the app shows, computed by the library.

A view is a year, a travel mode (one mode for everyone, or each township kind's
mode as in the 15-minute circle target), a threshold in minutes and a set of
facility types. The functions here turn an :class:`coverage.access.AccessContext`
and those controls into the frames the map, the dashboard and the downloads show,
so that ``app.py`` only lays them out. Uploaded files are validated by the
library's own readers (:mod:`coverage.uploads`), never executed or unpickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import geopandas as gpd
import pandas as pd

from coverage.access import AccessContext, population_within
from coverage.bands import region_bands
from coverage.gaps import coverage_gaps
from coverage.layers import (
    BANDS,
    MIN_GAP_POPULATION,
    mode_isochrones,
    township_coverage,
)
from coverage.targets import circle_parameters, evaluate, results_frame
from coverage.uploads import stored_upload

#: Travel-mode choices: each township kind's mode (the circle target's), or one mode.
MODE_CHOICES = ("by_kind", "walk", "ebike", "car")
#: Thresholds offered, in minutes.
THRESHOLDS = (5, 10, 15, 20, 30, 45, 60)


def display_bands(minutes: float) -> tuple[float, ...]:
    """The isochrone bands a map shows for a threshold: it and the two offered below it.

    Bands beyond the threshold are left out: they say nothing about the target and
    the widest band costs the most to draw.
    """
    below = [m for m in THRESHOLDS if m < minutes][-2:]
    return (*below, minutes)


def for_year(context: AccessContext, year: int | None) -> AccessContext:
    """A context for another year of the same region, sharing ``context``'s population,
    graphs and snaps (they do not depend on the year; travel times are kept per
    facility set, so nothing stale is shared)."""
    other = context.sharing(context.region)
    other.year = year
    return other


def travel_mode(region, choice: str) -> str | dict[str, str]:
    """The mode setting for a choice of :data:`MODE_CHOICES` (``by_kind``: the circle's)."""
    if choice not in MODE_CHOICES:
        raise ValueError(f"unknown travel mode {choice!r}: expected one of {', '.join(MODE_CHOICES)}")
    return dict(circle_parameters(region)["modes"]) if choice == "by_kind" else choice


def format_value(value, unit: str) -> str:
    """A target's measured or required value as shown: shares in %, counts whole, else 2 decimals."""
    if value is None or pd.isna(value):
        return "—"
    if unit == "share":
        return f"{float(value):.1%}"
    if unit in ("townships", "levels"):
        return f"{float(value):.0f}"
    return f"{float(value):.2f}"


def modes_used(region, mode: str | Mapping[str, str]) -> list[str]:
    """The modes a setting needs for the region's townships, sorted."""
    if isinstance(mode, str):
        return [mode]
    return sorted({mode[k] for k in region.townships["kind"].unique()})


def township_view(context: AccessContext, *, minutes: float, types: Iterable[str],
                  mode: str | Mapping[str, str], facilities: gpd.GeoDataFrame | None = None
                  ) -> gpd.GeoDataFrame:
    """Township polygons with ``population``, ``covered`` and ``share`` within ``minutes``.

    ``facilities`` replaces the context's open facilities of ``types`` (a what-if).
    """
    if facilities is None:
        facilities = context.facilities(list(types))
    seconds, _ = context.seconds_by_kind(mode, facilities)
    table = population_within(context.population, seconds, [minutes], context.region.townships,
                              mode=mode, region_name=context.region.name_zh)
    return township_coverage(context.region, table, minutes)


def isochrone_view(context: AccessContext, facilities: gpd.GeoDataFrame,
                   mode: str | Mapping[str, str], bands: Sequence[float] = BANDS
                   ) -> gpd.GeoDataFrame:
    """Isochrone bands (``minutes``, geometry) around ``facilities``.

    With a mode per township kind, each place travels by its township's mode, so the
    map shows the reach each resident is judged by (:func:`coverage.bands.region_bands`:
    residents inside a band are those counted as within it). Bands are nested and
    keep their holes.
    """
    if len(facilities) == 0:
        return gpd.GeoDataFrame({"minutes": []}, geometry=[], crs="EPSG:4326")
    return region_bands(context, facilities, mode, bands)


def gaps_view(context: AccessContext, *, minutes: float, types: Iterable[str],
              mode: str | Mapping[str, str]) -> gpd.GeoDataFrame:
    """Gaps (服务盲区) of at least :data:`coverage.layers.MIN_GAP_POPULATION` residents."""
    return coverage_gaps(context, minutes=minutes, types=list(types), mode=mode,
                         min_population=MIN_GAP_POPULATION)


def targets_view(context: AccessContext) -> pd.DataFrame:
    """Every planning target of the pack checked for the context's year (results frame)."""
    region = context.region
    return results_frame(evaluate(region, year=context.year, context=context), region.townships)


def report_html(context: AccessContext, *, minutes: float, types: Iterable[str],
                mode: str | Mapping[str, str]) -> str:
    """The self-contained HTML report (:func:`coverage.report.render_report`) of this view."""
    from coverage.report import render_report

    region = context.region
    types = list(types)
    facilities = context.facilities(types)
    bands = sorted({*BANDS, minutes})
    isochrones = pd.concat([mode_isochrones(context, m, facilities, bands)
                            for m in modes_used(region, mode)]
                           + [region_bands(context, facilities, mode, [minutes])
                              .assign(mode="by_kind")], ignore_index=True)
    params = {**circle_parameters(region), "minutes": minutes, "types": types, "modes": mode}
    return render_report(
        region, year=context.year, params=params,
        townships=township_view(context, minutes=minutes, types=types, mode=mode),
        targets=targets_view(context), facilities=context.facilities(),
        isochrones=isochrones, gaps=gaps_view(context, minutes=minutes, types=types, mode=mode))


def with_uploads(region, *, facilities: tuple[bytes, str] | None = None,
                 facilities_crs: str = "WGS84", roads: tuple[bytes, str] | None = None,
                 raster: tuple[bytes, str] | None = None):
    """``region`` with an uploaded register, road file and/or population raster.

    Each upload is ``(data, file name)``; every file is stored in a temporary folder
    (:func:`coverage.uploads.stored_upload`), read by the library's readers, so it is
    validated as a pack's own would be, and removed once read.

    Returns
    -------
    tuple
        The region (a copy; its new road network already loaded) and the raster's
        population points, or ``None`` without a raster.

    Raises
    ------
    InputError
        From the readers, naming the file, row and field.
    """
    from coverage.facilities import read_facilities
    from coverage.population import raster_points

    changes = {}
    if facilities is not None:
        with stored_upload(*facilities, "facilities") as path:
            changes["facilities"] = read_facilities(
                path, crs=facilities_crs, township_codes=region.townships["code"],
                boundary=region.boundary)
    if roads is not None:
        with stored_upload(*roads, "network") as path:
            extra = {}
            if region.network_options is not None:  # the pack's reading options fit its own file only
                extra["network_options"] = region.network_options.for_other_file()
            region = dataclasses.replace(region, files={**region.files, "network": path},
                                         _network=None, **extra)
            region.load_network()  # read now: the file goes with its folder
    region = dataclasses.replace(region, **changes)
    population = None
    if raster is not None:
        with stored_upload(*raster, "raster") as path:
            population = raster_points(path, region.townships, region.metric_crs,
                                       boundary=region.boundary)
    return region, population


def open_facilities_table(context: AccessContext) -> pd.DataFrame:
    """The facilities open in the context's year as a table with ``lon``/``lat``, which
    reads back as a register unchanged: a ``replaces`` naming a record not in the
    table (the closed old site of a relocation) is left empty, since the reader
    requires it to name a facility of the same file."""
    open_now = context.facilities()
    table = pd.DataFrame(open_now.drop(columns="geometry"))
    ids = set(table["id"].astype(str))
    table["replaces"] = [r if isinstance(r, str) and r in ids else None
                         for r in table["replaces"]]
    return table.assign(lon=open_now.geometry.x.to_numpy(), lat=open_now.geometry.y.to_numpy())


def year_choices(region) -> list[int]:
    """Years worth offering: from the earliest dated register change to the latest target year."""
    from coverage.targets import load_targets

    years = [*region.facilities["opening_year"].dropna(), *region.facilities["closing_year"].dropna(),
             *[t.year for t in load_targets(region) if t.year is not None]]
    if region.census_year is not None:
        years.append(region.census_year)
    if not years:
        return []
    return list(range(int(min(years)), int(max(years)) + 1))


def baseline(context: AccessContext, *, minutes: float, types: Iterable[str],
             mode: str | Mapping[str, str]):
    """A :class:`coverage.scenarios.Baseline` sharing ``context`` (graphs, snaps, times).

    Gained and lost areas are drawn at ``minutes`` (the view's threshold).
    """
    from coverage.scenarios import Baseline

    return Baseline(context.region, context.year, modes=mode, types=list(types),
                    context=context, area_minutes=minutes)


def scenario_from_edits(edits: Sequence[Mapping], *, year: int, name_zh: str, name_en: str):
    """A :class:`coverage.scenarios.Scenario` from edits as plain dicts (``action``,
    ``facility`` and the edit's fields), as the workbench builds them."""
    from coverage.scenarios import Edit, Scenario

    return Scenario(name_zh=name_zh, name_en=name_en, year=year, edits=[
        Edit(e["action"], e["facility"], {k: v for k, v in e.items()
                                          if k not in ("action", "facility")})
        for e in edits])


def what_if(base, scenario, *, minutes: float):
    """A scenario compared with ``base``, and the register after it.

    Returns
    -------
    result, after
        :class:`coverage.scenarios.ScenarioResult` at ``minutes``, and the
        :class:`AccessContext` of the edited register (sharing the baseline's graphs).
    """
    from coverage.scenarios import apply, compare

    region = base.region
    result = compare(region, scenario, year=base.year, minutes=(minutes,), baseline=base)
    edited = apply(scenario, region.facilities, township_codes=region.townships["code"],
                   boundary=region.boundary)
    return result, base.context.sharing(dataclasses.replace(region, facilities=edited))


def what_if_bands(base, result) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The threshold band before and after a scenario (``minutes``, geometry; WGS-84).

    Both are the coverage rule on the region's cells, each cell by its township's
    mode: before is the baseline's (:meth:`coverage.scenarios.Baseline.kind_band`,
    computed once), after is the one :func:`coverage.scenarios.compare` evaluated, so
    nothing is routed twice and no polygon set operation is involved.
    """
    cells = base.cells
    after = result.band_after if result.band_after is not None else base.kind_band()
    frames = [gpd.GeoDataFrame({"minutes": [base.area_minutes]},
                               geometry=[cells.trace(mask)], crs=base.region.metric_crs)
              .to_crs("EPSG:4326") for mask in (base.kind_band(), after)]
    return frames[0], frames[1]
