"""Gaps (服务盲区): clusters of residents no facility reaches within the threshold.

A gap is a set of adjacent population cells whose residents are not covered
(:func:`coverage.access.within`): each uncovered point is drawn as its grid cell (a
square of ``cell_m`` centred on it, in the region's metric CRS), the cells are
dissolved and split into connected parts. Cells sharing an edge join; cells touching
only at a corner stay separate parts. A part spanning townships is split by township
(each resident's own), so every gap carries its own township's residents. Each gap
has the facility most of its reaching residents have nearest and their
population-weighted travel time to their nearest facility, from the same
nearest-facility pass as the coverage figures. These are the blind spots a planner
has to close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, within
from coverage.facilities import BASIC_CARE_TYPES
from coverage.population import CELL_M

COLUMNS = ("id", "population", "points", "area_km2", "township_code", "township_name",
           "nearest_id", "nearest_name", "nearest_minutes", "geometry")


def coverage_gaps(context: AccessContext, *, minutes: float = 15,
                  types: Iterable[str] = BASIC_CARE_TYPES,
                  mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
                  cell_m: float = CELL_M, min_population: float = 0.0) -> gpd.GeoDataFrame:
    """Clusters of uncovered residents as polygons.

    Parameters
    ----------
    context
        The region and year (:class:`coverage.access.AccessContext`).
    minutes
        The threshold (inclusive): residents within it are covered.
    types
        Facility types that cover (default basic care).
    mode
        One mode, or a mapping township kind -> mode (as :func:`coverage_table`).
    cell_m
        Side of a population cell in metres: the township-table surface's grid
        (:data:`coverage.population.CELL_M`), or the raster's cell size.
    min_population
        Gaps with fewer residents are dropped.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`COLUMNS`, EPSG:4326, sorted by population (descending), then
        township code, then the polygon's lowest-left corner; ``id`` is ``G001``,
        ``G002``, ... in that order. ``nearest_minutes`` is the population-weighted
        mean time of the gap's residents to their nearest facility (those who reach
        one); ``nearest_*`` are empty (``nearest_minutes`` NaN) when none does.
    """
    facilities = context.facilities(types)
    seconds, nearest = context.seconds_by_kind(mode, facilities)
    points = context.population
    out = ~within(seconds, minutes)
    if not out.any():
        return gpd.GeoDataFrame(columns=list(COLUMNS), geometry="geometry", crs="EPSG:4326")
    x = points["x"].to_numpy(float)[out]
    y = points["y"].to_numpy(float)[out]
    half = cell_m / 2.0
    cells = shapely.box(x - half, y - half, x + half, y + half)
    frame = pd.DataFrame({
        "population": points["population"].to_numpy(float)[out],
        "code": points["township_code"].astype(str).to_numpy()[out],
        "seconds": seconds[out], "nearest": nearest[out]})
    townships = context.region.townships
    names = dict(zip(townships["code"].astype(str), townships["name"]))
    ids = facilities["id"].to_numpy()
    fac_names = facilities["name"].to_numpy()
    rows = []
    # Each township's uncovered cells are dissolved on their own, so a gap never
    # mixes townships and carries its own township's residents.
    for code, town in frame.groupby("code", sort=True):
        index = town.index.to_numpy()
        parts = shapely.get_parts(shapely.union_all(cells[index]))
        # Each cell centre lies in exactly one part.
        hit_point, hit_part = shapely.STRtree(parts).query(
            shapely.points(x[index], y[index]), predicate="within")
        part = np.full(index.size, -1, dtype=np.int64)
        part[hit_point] = hit_part
        for p, group in town.groupby(part, sort=True):
            weight = group["population"].to_numpy()
            secs = group["seconds"].to_numpy()
            reach = np.isfinite(secs)
            nearest_id = nearest_name = ""
            mean = np.nan
            if reach.any():
                w = weight[reach] if weight[reach].sum() > 0 else np.ones(reach.sum())
                mean = float(np.average(secs[reach], weights=w)) / 60.0
                k = int(pd.Series(w).groupby(group["nearest"].to_numpy()[reach]).sum().idxmax())
                nearest_id, nearest_name = ids[k], fac_names[k]
            geom = parts[p]
            rows.append({"population": float(weight.sum()), "points": len(group),
                         "area_km2": geom.area / 1e6, "township_code": code,
                         "township_name": names.get(code, ""),
                         "nearest_id": nearest_id, "nearest_name": nearest_name,
                         "nearest_minutes": mean,
                         "geometry": geom, "_corner": shapely.bounds(geom)[[1, 0]].tolist()})
    gaps = pd.DataFrame(rows)
    gaps = gaps[gaps["population"] >= min_population]
    gaps = gaps.assign(_y=gaps["_corner"].str[0], _x=gaps["_corner"].str[1]).sort_values(
        ["population", "township_code", "_y", "_x"], ascending=[False, True, True, True],
        kind="stable").reset_index(drop=True)
    gaps["id"] = [f"G{i + 1:03d}" for i in range(len(gaps))]
    result = gpd.GeoDataFrame(gaps[list(COLUMNS)], geometry="geometry",
                              crs=context.region.metric_crs)
    return result.to_crs("EPSG:4326")
