"""Terrain (地形): climbs from a DEM, and how they slow walkers and e-bikes.

Chongqing is a mountain city: a 2 km walk that climbs 150 m takes far longer than
the same walk on the flat. With an optional DEM (GeoTIFF in any CRS: a pack's
``files.dem`` or a command's ``--dem``) every edge of a routing graph gets its
profile, sampled at the edge's vertices (bilinear), and each direction is timed
on its own:

* walking follows Tobler's hiking function, ``W = 6 exp(-3.5 |S + 0.05|)`` km/h
  for a slope ``S = dh/dx`` (Tobler 1993): the speed table's walking speed is the
  flat speed, scaled by ``W(S) / W(0)``; a gentle descent (-5 %) is fastest, and a
  climb of 20 % takes 2.4 times as long as the flat;
* e-bikes (电动自行车) ride at the table speed on the flat and downhill; uphill
  they are limited by the power they can hold, ``v = P / (m g (sin θ + C_rr cos θ))``
  with ``P`` = :data:`EBIKE_POWER_W` (GB 17761-2018 caps the motor at 400 W; the
  rider's own effort is left out, the batteries' boost makes up for it),
  ``m`` = :data:`EBIKE_MASS_KG` (55 kg, the standard's cap on the bike, plus a 75 kg
  rider), ``C_rr`` = :data:`ROLLING_RESISTANCE` (road tyres on concrete); air drag
  is negligible at climbing speeds. A 10 % grade gives about 10 km/h;
* cars are not slowed by grades (their power is ample for every grade a road has).

The off-road leg of a resident (:func:`coverage.routing.snap_points`) is walked at
the off-road speed scaled by the same Tobler factor, for the slope of the straight
line from the resident to the road node. Cells without data count as flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from coverage.errors import InputError, file_sha256

#: Continuous motor power of an e-bike (W): GB 17761-2018's rated-power cap.
EBIKE_POWER_W = 400.0
#: Mass of an e-bike (55 kg, the standard's cap) and its rider (75 kg), kg.
EBIKE_MASS_KG = 130.0
#: Rolling resistance coefficient of road tyres on asphalt or concrete.
ROLLING_RESISTANCE = 0.015
#: Standard gravity, m/s².
GRAVITY = 9.80665
#: Slopes are clipped to this magnitude (100 %, 45°): steeper values are DEM noise.
MAX_SLOPE = 1.0


def tobler_factor(slope) -> np.ndarray:
    """Tobler's walking speed at ``slope`` (dh/dx) relative to the flat: ``W(S) / W(0)``."""
    slope = np.clip(np.asarray(slope, dtype=float), -MAX_SLOPE, MAX_SLOPE)
    return np.exp(-3.5 * (np.abs(slope + 0.05) - 0.05))


def ebike_kmh(flat_kmh, slope) -> np.ndarray:
    """E-bike speed (km/h) on ``slope``: the flat speed, or the power limit uphill."""
    slope = np.clip(np.asarray(slope, dtype=float), -MAX_SLOPE, MAX_SLOPE)
    theta = np.arctan(slope)
    resist = np.sin(theta) + ROLLING_RESISTANCE * np.cos(theta)
    with np.errstate(divide="ignore"):
        limit = np.where(slope > 0, EBIKE_POWER_W / (EBIKE_MASS_KG * GRAVITY * resist) * 3.6, np.inf)
    return np.minimum(np.asarray(flat_kmh, dtype=float), limit)


def mode_kmh(mode: str, flat_kmh, slope) -> np.ndarray:
    """Speed of ``mode`` on ``slope`` given its flat speed (cars are not slowed)."""
    if mode == "walk":
        return np.asarray(flat_kmh, dtype=float) * tobler_factor(slope)
    if mode == "ebike":
        return ebike_kmh(flat_kmh, slope)
    return np.broadcast_to(np.asarray(flat_kmh, dtype=float), np.shape(slope)).copy()


#: Heights outside this range (m) are no-data sentinels such as -32768.
VALID_HEIGHTS = (-500.0, 9000.0)


@dataclass
class Dem:
    """A DEM GeoTIFF, sampled bilinearly at WGS-84 or metric points.

    Only the window a batch of points needs is read, so a provincial DEM costs the
    memory of the district under the network, not of the province.

    Attributes
    ----------
    path
        The GeoTIFF.
    transform
        The raster's affine transform.
    crs
        The raster's CRS (WKT).
    shape
        Rows and columns.
    digest
        SHA-256 of the file, for caches of graphs built on it.
    """

    path: Path
    transform: object
    crs: str
    shape: tuple[int, int]
    digest: str

    def _window(self, row0: int, col0: int, row1: int, col1: int) -> np.ndarray:
        """Heights of rows ``row0..row1`` and columns ``col0..col1`` (inclusive), NaN
        where the raster has no data."""
        import rasterio
        from rasterio.windows import Window

        with rasterio.open(self.path, driver="GTiff") as src:
            block = src.read(1, window=Window(col0, row0, col1 - col0 + 1, row1 - row0 + 1),
                             masked=True)
        values = block.astype(float).filled(np.nan)
        values[(values < VALID_HEIGHTS[0]) | (values > VALID_HEIGHTS[1])] = np.nan
        return values

    def sample(self, x, y, crs: str = "EPSG:4326") -> np.ndarray:
        """Heights (m) at points given in ``crs``; NaN outside the raster or on no data."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        to_dem = pyproj.Transformer.from_crs(crs, self.crs, always_xy=True)
        dx, dy = (np.asarray(v) for v in to_dem.transform(x, y))
        a, b, c, d, e, f = tuple(~self.transform)[:6]
        # Cell centres sit at half-integer positions.
        col, row = a * dx + b * dy + c - 0.5, d * dx + e * dy + f - 0.5
        rows, cols = self.shape
        inside = (col >= -0.5) & (col <= cols - 0.5) & (row >= -0.5) & (row <= rows - 0.5)
        out = np.full(np.shape(col), np.nan)
        if not inside.any():
            return out
        col, row = col[inside], row[inside]
        c0, r0 = np.floor(col), np.floor(row)
        fc, fr = col - c0, row - r0
        top, left = int(max(r0.min(), 0)), int(max(c0.min(), 0))
        bottom, right = int(min(r0.max() + 1, rows - 1)), int(min(c0.max() + 1, cols - 1))
        values = self._window(top, left, bottom, right)
        total = np.zeros(col.shape)
        weight = np.zeros(col.shape)
        for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                          (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
            rr = (np.clip(r0 + dr, 0, rows - 1) - top).astype(np.int64)
            cc = (np.clip(c0 + dc, 0, cols - 1) - left).astype(np.int64)
            value = values[rr, cc]
            ok = np.isfinite(value) & (w > 0)
            total += np.where(ok, value * w, 0.0)
            weight += np.where(ok, w, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[inside] = np.where(weight > 0, total / weight, np.nan)
        return out


def read_dem(path: str | Path) -> Dem:
    """Open a DEM GeoTIFF (any CRS, heights in metres) and check it.

    Raises
    ------
    InputError
        If the file is missing, not a GeoTIFF, has no CRS, or holds no height (judged
        on an overview of at most 1024 x 1024 cells).
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "DEM not found: expected a GeoTIFF of heights in metres")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        raise InputError(path, "not a GeoTIFF: expected a DEM GeoTIFF (heights in metres)")
    try:
        with rasterio.open(path, driver="GTiff") as src:
            if src.crs is None:
                raise InputError(path, "the DEM has no CRS: expected a georeferenced GeoTIFF")
            overview = src.read(1, masked=True, out_shape=(min(src.height, 1024),
                                                           min(src.width, 1024)))
            transform, crs, shape = src.transform, src.crs.to_wkt(), (src.height, src.width)
    except RasterioIOError as exc:
        raise InputError(path, f"unreadable GeoTIFF: {exc}") from None
    values = overview.astype(float).filled(np.nan)
    if not ((values >= VALID_HEIGHTS[0]) & (values <= VALID_HEIGHTS[1])).any():
        raise InputError(path, "the DEM holds no height (every cell is no data)")
    return Dem(path=path, transform=transform, crs=crs, shape=shape, digest=file_sha256(path))


def directed_seconds(mode: str, flat_kmh: np.ndarray, length: np.ndarray, vertices_x,
                     vertices_y, vertex_edge: np.ndarray, dem: Dem, metric_crs: str
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of each edge forwards and backwards over its DEM profile.

    Parameters
    ----------
    mode
        Travel mode.
    flat_kmh
        Each edge's speed on the flat (> 0).
    length
        Each edge's length (m); its pieces' horizontal lengths are scaled to it.
    vertices_x, vertices_y
        Metric coordinates of the edges' vertices, edge by edge in drawing order.
    vertex_edge
        The edge of each vertex (non-decreasing).
    dem
        The DEM.
    metric_crs
        CRS of the vertices.

    Returns
    -------
    forward, backward
        Seconds from the first vertex to the last, and back.
    """
    n = flat_kmh.size
    z = dem.sample(vertices_x, vertices_y, metric_crs)
    same = vertex_edge[1:] == vertex_edge[:-1]
    edge = vertex_edge[1:][same]
    run = np.hypot(np.diff(vertices_x), np.diff(vertices_y))[same]
    climb = np.nan_to_num(np.diff(z)[same], nan=0.0)
    drawn = np.bincount(edge, weights=run, minlength=n)
    # Lengths are great-circle; scale each piece so the pieces add up to the edge.
    scale = np.divide(length, drawn, out=np.ones(n), where=drawn > 0)[edge]
    piece = run * scale
    slope = np.divide(climb, run, out=np.zeros_like(run), where=run > 0)
    fwd = piece / mode_kmh(mode, flat_kmh[edge], slope) * 3.6
    bwd = piece / mode_kmh(mode, flat_kmh[edge], -slope) * 3.6
    forward = np.bincount(edge, weights=fwd, minlength=n)
    backward = np.bincount(edge, weights=bwd, minlength=n)
    flat = drawn <= 0
    forward[flat] = backward[flat] = (length / flat_kmh * 3.6)[flat]
    return forward, backward
