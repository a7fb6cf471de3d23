"""Gaps (服务盲区): clusters of residents no facility reaches within the threshold.

A gap is a set of adjacent population cells whose residents are not covered
(:func:`coverage.access.within`): each uncovered point marks the cell of a grid of
``cell_m`` (aligned on multiples of ``cell_m`` in the region's metric CRS, so the
population surface's points are cell centres) holding it; each township's marked
cells (each resident's own township) are labelled into connected parts
(:func:`scipy.ndimage.label`) and each part traced into a polygon
(:func:`coverage.bands.trace`), never dissolved by polygon set operations, so no GEOS
topology error can arise and every gap carries its own township's residents. Cells
sharing an edge join; cells touching only at a corner stay separate parts. Each gap
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
    frame = pd.DataFrame({
        "population": points["population"].to_numpy(float)[out],
        "code": points["township_code"].astype(str).to_numpy()[out],
        "seconds": seconds[out], "nearest": nearest[out]})
    townships = context.region.townships
    names = dict(zip(townships["code"].astype(str), townships["name"]))
    ids = facilities["id"].to_numpy()
    fac_names = facilities["name"].to_numpy()
    rows = []
    # Each township's uncovered cells are labelled on their own, so a gap never mixes
    # townships and carries its own township's residents.
    for code, town in frame.groupby("code", sort=True):
        index = town.index.to_numpy()
        part, parts = _cell_parts(x[index], y[index], cell_m, context.region.metric_crs)
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


def _cell_parts(x: np.ndarray, y: np.ndarray, cell_m: float,
                crs: str) -> tuple[np.ndarray, list]:
    """The connected parts of the cells holding metric points ``x``, ``y``.

    Returns the part of each point and the parts' polygons (metric), parts numbered
    in scan order of the grid (north to south, west to east).
    """
    from scipy import ndimage

    from coverage.bands import grid_over, trace

    grid = grid_over((x.min(), y.min(), x.max(), y.max()), crs, cell_m)
    # A point on the grid's east or south edge belongs to the last cell.
    cell = grid.cell_of(np.minimum(x, grid.left + grid.cols * cell_m - cell_m / 2),
                        np.maximum(y, grid.top - grid.rows * cell_m + cell_m / 2))
    mask = np.zeros(grid.size, dtype=bool)
    mask[cell] = True
    labels, n = ndimage.label(mask.reshape(grid.rows, grid.cols))
    labels = labels.reshape(-1)
    marked = np.flatnonzero(labels)
    order = np.argsort(labels[marked], kind="stable")
    bounds = np.searchsorted(labels[marked][order], np.arange(1, n + 2))
    parts = [trace(grid, marked[order][bounds[i]:bounds[i + 1]]) for i in range(n)]
    return labels[cell] - 1, parts
