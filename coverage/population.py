"""Where residents live: a population surface as weighted points.

Coverage is counted in people, so the region's population is represented as points
(cell centres) carrying a number of residents. Two sources:

* a **raster** (GeoTIFF such as WorldPop 100 m, any CRS), read in windows over the
  region: every cell with population > 0 becomes a point at its centre;
* without a raster, the **township table** (常住人口 per 街道/镇/乡), spread over each
  township by the rule of :func:`township_surface`.

Points are WGS-84 (``geometry``) and also carry metric ``x``/``y`` in the region's
metric CRS. :func:`compare_population` reports where a raster and the table disagree.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from coverage.drivers import open_raster
from coverage.errors import InputError

#: Default grid cell of the township-table surface (m).
CELL_M = 200.0
#: Distance-decay scale of the kernel around seats and villages (m).
KERNEL_M = 1000.0
#: Weight of a cell far from every seat and village: scattered rural homes.
FLOOR_WEIGHT = 0.05
#: Rows of a raster read at once (the window height).
WINDOW_ROWS = 512

COLUMNS = ("township_code", "population", "x", "y")


def population_points(region, *, raster: str | Path | None = None,
                      cell_m: float = CELL_M) -> gpd.GeoDataFrame:
    """The region's residents as weighted points.

    Parameters
    ----------
    region
        A :class:`coverage.region.Region`.
    raster
        A population GeoTIFF; default the pack's ``population_raster`` layer if it
        has one, else the township table is spread by :func:`township_surface`.
    cell_m
        Grid cell of the township-table surface (ignored for a raster).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``township_code``, ``population`` (residents at the point, > 0),
        ``x``, ``y`` (metres in ``region.metric_crs``) and point ``geometry``
        (EPSG:4326), ordered by township code, then y, then x.
    """
    if raster is None:
        raster = region.files.get("population_raster")
    if raster is None:
        return township_surface(region.townships, region.metric_crs, cell_m=cell_m,
                                villages=village_points(region))
    points = raster_points(raster, region.townships, region.metric_crs, boundary=region.boundary)
    if points.empty:
        raise InputError(raster, "no resident inside the region: every cell over it is nodata, "
                         "NaN or 0 (expected a population raster such as WorldPop, people per "
                         "cell)", field="band 1")
    return points


def village_points(region) -> np.ndarray:
    """WGS-84 lon/lat (``n x 2``) of the pack's villages that have a location."""
    villages = region.villages
    if villages is None or len(villages) == 0:
        return np.empty((0, 2))
    if isinstance(villages, gpd.GeoDataFrame) and villages.geometry.name in villages:
        geoms = villages.geometry.to_crs("EPSG:4326") if villages.crs is not None else villages.geometry
        geoms = geoms[geoms.notna() & ~geoms.is_empty]
        return shapely.get_coordinates(geoms.to_numpy())
    if "lon" not in villages or "lat" not in villages:
        return np.empty((0, 2))
    lon = pd.to_numeric(villages["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(villages["lat"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(lon) & np.isfinite(lat)
    if "crs" in villages:
        from coverage.crs import to_wgs84

        out = np.empty((int(known.sum()), 2))
        crs = villages["crs"].fillna("WGS84").astype(str).to_numpy()[known]
        for name in sorted(set(crs)):
            sel = crs == name
            out[sel, 0], out[sel, 1] = to_wgs84(lon[known][sel], lat[known][sel], name)
        return out
    return np.column_stack([lon[known], lat[known]])


def township_surface(townships: gpd.GeoDataFrame, metric_crs: str, *, cell_m: float = CELL_M,
                     villages: np.ndarray | None = None,
                     kernel_m: float = KERNEL_M) -> gpd.GeoDataFrame:
    """Spread each township's population over its area (the no-raster rule).

    The rule, deterministic and documented so an estimate can be told from data:

    1. Cover the region with a grid of ``cell_m`` cells aligned on multiples of
       ``cell_m`` in ``metric_crs``; a township owns the cells whose centre lies in
       its polygon (a township too small to own one gets its representative point).
    2. Weight each cell ``FLOOR_WEIGHT + Σ exp(-d / kernel_m)`` over the township
       seats (镇政府/街道办, ``seat_lon``/``seat_lat``; the representative point
       when unknown) and the located villages (村委会/居委会), ``d`` the distance in
       metres: people live around seats and villages, thinly elsewhere.
    3. Share the township's population in proportion to the weights, in whole
       people by largest remainders (ties to the earlier cell), so that each
       township sums exactly to its population; cells given nobody are dropped.
    """
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    polygons = townships.geometry.to_crs(metric_crs).to_numpy()
    seat_lon = pd.to_numeric(townships.get("seat_lon"), errors="coerce")
    seat_lat = pd.to_numeric(townships.get("seat_lat"), errors="coerce")
    centres = []
    for i, polygon in enumerate(polygons):
        if seat_lon is not None and np.isfinite(seat_lon.iloc[i]) and np.isfinite(seat_lat.iloc[i]):
            centres.append(to_metric.transform(seat_lon.iloc[i], seat_lat.iloc[i]))
        else:
            p = polygon.representative_point()
            centres.append((p.x, p.y))
    if villages is not None and len(villages):
        vx, vy = to_metric.transform(villages[:, 0], villages[:, 1])
        centres.extend(zip(vx, vy))
    centres = np.asarray(centres, dtype=float)

    to_wgs = pyproj.Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    frames = []
    for polygon, outline, code, population in zip(polygons, townships.geometry,
                                                  townships["code"], townships["population"]):
        x, y = _grid_centres(polygon, outline, cell_m, to_wgs)
        if x.size == 0:
            p = polygon.representative_point()
            x, y = np.array([p.x]), np.array([p.y])
        d = np.hypot(x[:, None] - centres[None, :, 0], y[:, None] - centres[None, :, 1])
        weight = FLOOR_WEIGHT + np.exp(-d / kernel_m).sum(axis=1)
        people = _largest_remainder(int(population), weight)
        keep = people > 0
        frames.append(pd.DataFrame({"township_code": str(code), "population": people[keep],
                                    "x": x[keep], "y": y[keep]}))
    return _points_frame(pd.concat(frames, ignore_index=True), metric_crs)


def _grid_centres(polygon, outline, cell_m: float, to_wgs) -> tuple[np.ndarray, np.ndarray]:
    """Metric centres of the ``cell_m`` grid cells whose centre lies inside the township.

    Inside is tested on the WGS-84 ``outline`` (the polygon as stored), so that a
    point is always in the township it is assigned to; ``polygon`` (metric) only
    bounds the grid.
    """
    minx, miny, maxx, maxy = polygon.buffer(cell_m).bounds
    xs = (np.arange(np.floor(minx / cell_m), np.ceil(maxx / cell_m)) + 0.5) * cell_m
    ys = (np.arange(np.floor(miny / cell_m), np.ceil(maxy / cell_m)) + 0.5) * cell_m
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    lon, lat = to_wgs.transform(gx, gy)
    shapely.prepare(outline)
    inside = shapely.contains_xy(outline, lon, lat)
    return gx[inside], gy[inside]


def _largest_remainder(total: int, weight: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weight`` summing exactly to ``total``."""
    share = total * weight / weight.sum()
    whole = np.floor(share).astype(np.int64)
    rest = total - int(whole.sum())
    # Stable sort: equal remainders go to the earlier cell, so the result is deterministic.
    order = np.argsort(-(share - whole), kind="stable")
    whole[order[:rest]] += 1
    return whole


def raster_points(raster: str | Path, townships: gpd.GeoDataFrame, metric_crs: str, *,
                  boundary=None, window_rows: int = WINDOW_ROWS) -> gpd.GeoDataFrame:
    """Cells of a population raster with population > 0, as points in the region.

    The raster is read band 1, in windows of ``window_rows`` rows over the bounding
    box of the region only (a national WorldPop file is never read whole); nodata
    and non-positive cells are skipped. Cell centres are reprojected from the
    raster's CRS to WGS-84; those outside ``boundary`` (default: the union of the
    townships) are dropped, the rest assigned to the township containing them (the
    nearest one for a centre in a sliver between polygons).
    """
    import rasterio
    from rasterio.windows import Window, from_bounds

    path = Path(raster)
    if boundary is None:
        boundary = shapely.union_all(townships.geometry.to_numpy())
    src = open_raster(path)  # GTiff only: a VRT upload could read any file on the server
    with src:
        if src.crs is None:
            raise InputError(path, "the raster has no CRS: expected a georeferenced GeoTIFF")
        to_raster = pyproj.Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        bounds = shapely.transform(boundary, lambda c: np.column_stack(
            to_raster.transform(c[:, 0], c[:, 1]))).bounds
        box = from_bounds(*bounds, transform=src.transform)
        col0, row0 = max(0, math.floor(box.col_off)), max(0, math.floor(box.row_off))
        col1 = min(src.width, math.ceil(box.col_off + box.width))
        row1 = min(src.height, math.ceil(box.row_off + box.height))
        if col1 <= col0 or row1 <= row0:
            raise InputError(path, "the raster does not overlap the region")
        window = Window(col0, row0, col1 - col0, row1 - row0)
        xs, ys, values = [], [], []
        row_end = window.row_off + window.height
        for row in range(window.row_off, row_end, window_rows):
            part = Window(window.col_off, row, window.width, min(window_rows, row_end - row))
            data = src.read(1, window=part, masked=True)
            filled = np.ma.filled(data.astype(float), 0.0)
            _check_cells(filled, part, src, path)
            rows, cols = np.nonzero(np.isfinite(filled) & (filled > 0))
            if rows.size == 0:
                continue
            x, y = rasterio.transform.xy(src.window_transform(part), rows, cols, offset="center")
            xs.append(np.asarray(x, float))
            ys.append(np.asarray(y, float))
            values.append(filled[rows, cols])
        to_wgs = pyproj.Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
    if not values:
        return _points_frame(pd.DataFrame(columns=list(COLUMNS)), metric_crs)
    lon, lat = to_wgs.transform(np.concatenate(xs), np.concatenate(ys))
    value = np.concatenate(values)
    shapely.prepare(boundary)
    inside = shapely.contains_xy(boundary, lon, lat)
    lon, lat, value = lon[inside], lat[inside], value[inside]
    x, y = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform(lon, lat)
    codes = assign_townships(townships, lon, lat, metric_crs)
    return _points_frame(pd.DataFrame({"township_code": codes, "population": value,
                                       "x": x, "y": y}), metric_crs)


#: Residents per km² no cell can hold (the densest city blocks hold about 100,000).
MAX_DENSITY_KM2 = 500_000


def _check_cells(values: np.ndarray, window, src, path: Path) -> None:
    """Refuse negative cells and cells denser than :data:`MAX_DENSITY_KM2`, naming one."""
    res_x, res_y = src.res
    if src.crs.is_geographic:
        lat = math.radians(src.xy(window.row_off, window.col_off)[1])
        km2 = abs(res_x * res_y) * 111.32 * 110.57 * max(math.cos(lat), 0.01)
    else:
        km2 = abs(res_x * res_y) * src.crs.linear_units_factor[1] ** 2 / 1e6
    for bad, what in ((values < 0, "is negative: expected 0 or more residents (or nodata)"),
                      (values > MAX_DENSITY_KM2 * km2,
                       f"is absurd: more than {MAX_DENSITY_KM2:,} residents per km² "
                       f"({MAX_DENSITY_KM2 * km2:,.0f} in a cell; is the unit people per cell?)")):
        if bad.any():
            r, c = (int(i[0]) for i in np.nonzero(bad))
            raise InputError(path, f"cell (row {window.row_off + r + 1}, column "
                             f"{window.col_off + c + 1}) value {values[r, c]:g} {what}",
                             field="band 1")


def assign_townships(townships: gpd.GeoDataFrame, lon, lat, metric_crs: str) -> np.ndarray:
    """Code of the township containing each WGS-84 point (the nearest if none does)."""
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    codes = np.full(lon.size, None, dtype=object)
    for code, polygon in zip(townships["code"], townships.geometry):
        free = codes == None  # noqa: E711 (elementwise on an object array)
        if not free.any():
            break
        hit = shapely.contains_xy(polygon, lon[free], lat[free])
        codes[np.flatnonzero(free)[hit]] = str(code)
    rest = np.flatnonzero(codes == None)  # noqa: E711
    if rest.size:
        metric = townships.geometry.to_crs(metric_crs).to_numpy()
        x, y = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform(
            lon[rest], lat[rest])
        tree = shapely.STRtree(metric)
        nearest = tree.nearest(shapely.points(x, y))
        codes[rest] = townships["code"].astype(str).to_numpy()[nearest]
    return codes


def _points_frame(frame: pd.DataFrame, metric_crs: str) -> gpd.GeoDataFrame:
    frame = frame.astype({"x": float, "y": float})
    frame = frame.sort_values(["township_code", "y", "x"], kind="stable").reset_index(drop=True)
    lon, lat = pyproj.Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True).transform(
        frame["x"].to_numpy(), frame["y"].to_numpy())
    return gpd.GeoDataFrame(frame[list(COLUMNS)], geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")


def compare_population(points: gpd.GeoDataFrame, townships: pd.DataFrame) -> pd.DataFrame:
    """Per township, the population of a surface (e.g. a raster) against the table.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``table`` (the township's 常住人口), ``surface`` (sum of
        the points assigned to it), ``difference`` (surface - table) and
        ``relative`` (difference / table; NaN when the table says 0), by code.
    """
    surface = points.groupby("township_code")["population"].sum()
    out = pd.DataFrame({"code": townships["code"].astype(str).to_numpy(),
                        "name": townships["name"].to_numpy(),
                        "table": townships["population"].astype(float).to_numpy()})
    out["surface"] = out["code"].map(surface).fillna(0.0).astype(float)
    out["difference"] = out["surface"] - out["table"]
    out["relative"] = out["difference"] / out["table"].where(out["table"] > 0)
    return out.sort_values("code", kind="stable").reset_index(drop=True)
