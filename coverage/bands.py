"""Bands (覆盖范围) drawn from the coverage rule itself, on a grid of cells.

A resident is counted as covered within ``T`` minutes when the off-road walk to the
nearest road node open to the mode (:func:`coverage.routing.snap_points`), plus the
trip from that node *to* the nearest facility (on the reversed graph, so one-way
streets are driven the right way, including the facility's own access leg) is at
most ``T`` (:func:`coverage.access.within`). A band is the set of places where a
resident would be counted so: the rule is evaluated at the centre of every cell of
a grid of :data:`CELL_M` metres in the metric CRS, and the cells inside are traced
into polygons. Around each reached node the band therefore holds the area a
resident can walk off-road in the time left, and a resident is inside the band
exactly when counted as covered: the grid is aligned on multiples of ``CELL_M``,
so the population surface's points (centres of a 200 m grid aligned the same way,
:data:`coverage.population.CELL_M`) are cell centres, and a region's cells are timed
by the residents' own function (:func:`coverage.access.travel_seconds`), whatever
rule it applies.

Polygons are traced from cells (:func:`rasterio.features.shapes`, 4-connected), and
differences between bands (areas gained and lost by a scenario) are differences of
cell masks: no shapely set operation touches a band, so no GEOS topology error
(``unable to assign free hole to a shell`` and the like) can arise on any network.
Traced polygons keep their holes, and are deterministic (scan order).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from coverage import routing
from coverage.access import travel_seconds, within
from coverage.array_cache import cached_arrays, content_key

#: Side of a band cell in metres; 200 m (the population grid) is an odd multiple of
#: it, so population points are cell centres.
CELL_M = 40.0

#: Metres within which two nodes count as equally near a cell centre (a projection
#: there and back moves a point by nanometres).
_TIE_M = 1e-6


@dataclass(frozen=True)
class Grid:
    """A north-up grid of square cells in a metric CRS, aligned on multiples of ``cell_m``.

    Cell ``k`` is row ``k // cols`` (from the north edge ``top``), column ``k % cols``
    (from the west edge ``left``).
    """

    left: float
    top: float
    cell_m: float
    rows: int
    cols: int
    crs: str

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.rows * self.cols

    def centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metric x, y of the centres of ``cells`` (flat indices)."""
        row, col = np.divmod(np.asarray(cells, dtype=np.int64), self.cols)
        return self.left + (col + 0.5) * self.cell_m, self.top - (row + 0.5) * self.cell_m

    def cell_of(self, x, y) -> np.ndarray:
        """Flat index of the cell holding each metric point (``-1`` outside the grid)."""
        col = np.floor((np.asarray(x, float) - self.left) / self.cell_m).astype(np.int64)
        row = np.floor((self.top - np.asarray(y, float)) / self.cell_m).astype(np.int64)
        inside = (col >= 0) & (col < self.cols) & (row >= 0) & (row < self.rows)
        return np.where(inside, row * self.cols + col, -1)


def grid_over(bounds: Sequence[float], crs: str, cell_m: float = CELL_M) -> Grid:
    """The smallest aligned grid covering metric ``bounds`` (minx, miny, maxx, maxy)."""
    if not (np.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres, got {cell_m!r}")
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    left, bottom = np.floor(minx / cell_m) * cell_m, np.floor(miny / cell_m) * cell_m
    right, top = np.ceil(maxx / cell_m) * cell_m, np.ceil(maxy / cell_m) * cell_m
    cols = max(int(round((right - left) / cell_m)), 1)
    rows = max(int(round((top - bottom) / cell_m)), 1)
    return Grid(float(left), float(top), float(cell_m), rows, cols, crs)


@dataclass
class Cells:
    """Cells of a grid snapped to a mode's graph, as a resident there would be.

    Attributes
    ----------
    grid
        The grid.
    index
        Flat indices of the cells evaluated (sorted).
    from_wgs84
        Snap the cells from their WGS-84 centres, as residents are (a region's cells:
        a resident and the cell centre it stands on then get the same time to the
        bit); otherwise from the metric centres directly (graph-level isochrones:
        millions of cells are not projected there and back, and hold no coordinates).
    """

    grid: Grid
    index: np.ndarray
    from_wgs84: bool = True
    _wgs84: tuple | None = field(default=None, repr=False)
    #: Where the nearest nodes of cells snapped from WGS-84 are kept (a pack's ``cache/``).
    cache_dir: str | os.PathLike | None = field(default=None, repr=False)
    _snaps: dict = field(default_factory=dict, repr=False)
    _nearest: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, grid: Grid, index: np.ndarray | None = None, *,
           from_wgs84: bool = True) -> "Cells":
        """``index`` (default every cell) of ``grid``."""
        index = (np.arange(grid.size, dtype=np.int64) if index is None
                 else np.asarray(index, dtype=np.int64))
        if not from_wgs84:
            index = index.astype(index_dtype(grid.size))  # graph-level grids run to millions
        return cls(grid, index, from_wgs84)

    @property
    def lon(self) -> np.ndarray:
        """WGS-84 longitude of each cell's centre (computed as the population points' are)."""
        return self._centres_wgs84()[0]

    @property
    def lat(self) -> np.ndarray:
        """WGS-84 latitude of each cell's centre."""
        return self._centres_wgs84()[1]

    def _centres_wgs84(self) -> tuple[np.ndarray, np.ndarray]:
        if self._wgs84 is None:
            x, y = self.grid.centres(self.index)
            lon, lat = pyproj.Transformer.from_crs(self.grid.crs, "EPSG:4326",
                                                   always_xy=True).transform(x, y)
            self._wgs84 = (np.asarray(lon, float), np.asarray(lat, float))
        return self._wgs84

    def snap(self, graph: routing.Graph) -> routing.Snap:
        """The cells snapped to ``graph`` by the coverage rule's own function, once per
        mode. Cells snapped from WGS-84 find their nearest nodes once for all modes
        that share them, as the default pack's do (0.2 s a mode for its 185,000
        cells); graph-level cells keep only each cell's node and off-road seconds
        (their Snap's ``distance_m`` is None): on 9.4M cells the distances alone
        would be 75 MB."""
        held = self._snaps.get(graph.mode)
        if held is None or held[0] is not graph:
            if self.from_wgs84:
                key = routing.snap_key(graph)
                if key not in self._nearest:
                    nearest = self._nearest_nodes(graph, key)
                    for shared in nearest:  # every mode's Snap holds them
                        shared.flags.writeable = False
                    self._nearest[key] = nearest
                snap = routing.snap_points(graph, self.lon, self.lat, nearest=self._nearest[key])
            else:
                snap = self._snap_xy(graph)
            held = self._snaps[graph.mode] = (graph, snap)
        return held[1]

    def _nearest_nodes(self, graph: routing.Graph, key: str) -> tuple[np.ndarray, ...]:
        """:func:`coverage.routing.nearest_nodes` of the WGS-84 centres, kept in
        ``cache_dir`` keyed by the graph's snappable nodes and the centres."""
        names = ("x", "y", "node", "distance")
        found = cached_arrays(
            self.cache_dir, "nearest",
            content_key("cell-nearest 1", key, pyproj.__version__, pyproj.proj_version_str,
                        self.lon, self.lat),
            names, lambda: dict(zip(names, routing.nearest_nodes(graph, self.lon, self.lat))))
        return tuple(found[name] for name in names)

    def _snap_xy(self, graph: routing.Graph) -> routing.Snap:
        """Snapped from the metric centres, a block at a time. Where two nodes are all
        but equally near, the WGS-84 centre decides, as it does for a resident standing
        there (elsewhere the node is the same and the distance differs by nanometres)."""
        node = np.empty(self.index.size, dtype=index_dtype(graph.n_nodes))
        access = np.empty(self.index.size)
        for block in _blocks(self.index.size):
            x, y = self.grid.centres(self.index[block])
            near, distance, tie = routing.nearest_nodes_xy(graph, x, y, tie_m=_TIE_M)
            if tie.any():
                lon, lat = pyproj.Transformer.from_crs(self.grid.crs, "EPSG:4326",
                                                       always_xy=True).transform(x[tie], y[tie])
                _, _, near[tie], distance[tie] = routing.nearest_nodes(graph, lon, lat)
            node[block] = near
            access[block] = routing.snap_xy(graph, x, y, nearest=(near, distance)).access_seconds
        return routing.Snap(node=node, distance_m=None, access_seconds=access)

    def seconds(self, graph: routing.Graph, node_seconds: np.ndarray) -> np.ndarray:
        """Seconds from each cell to the nearest facility: off-road leg + the node's time.

        ``node_seconds`` are times *to* the facilities (``to_sources=True``), summed
        as :func:`coverage.access.travel_seconds` sums a resident's road trip. Any
        rule needing the facilities' own positions is :meth:`RegionCells.seconds`'s.
        """
        snap = self.snap(graph)
        out = np.full(self.index.size, np.inf)
        snapped = snap.node >= 0
        out[snapped] = snap.access_seconds[snapped] + node_seconds[snap.node[snapped]]
        return out


def index_dtype(n: int) -> type:
    """The smallest integer type indexing ``n`` things (with -1 for none)."""
    return np.int32 if n < 2**31 else np.int64


def _blocks(n: int, size: int = 1 << 20):
    """Slices of ``range(n)`` of ``size``: millions of cells are handled a block at a time."""
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def trace(grid: Grid, cells: np.ndarray) -> shapely.Geometry:
    """The polygon (or multipolygon) covering ``cells`` (flat indices), metric CRS.

    Cells sharing an edge join; cells touching only at a corner are separate
    parts; holes are kept. An empty polygon when there are no cells.
    """
    from itertools import chain

    from affine import Affine
    from rasterio.features import shapes

    cells = np.asarray(cells, dtype=np.int64)
    if cells.size == 0:
        return shapely.Polygon()
    row, col = np.divmod(cells, grid.cols)
    r0, c0 = row.min(), col.min()
    mask = np.zeros((row.max() - r0 + 1, col.max() - c0 + 1), dtype=np.uint8)
    mask[row - r0, col - c0] = 1
    transform = Affine(grid.cell_m, 0.0, grid.left + c0 * grid.cell_m,
                       0.0, -grid.cell_m, grid.top - r0 * grid.cell_m)
    # Rings of all parts built at once: a part's first ring is its shell, the rest holes.
    rings, ring_part = [], []
    for k, (g, _) in enumerate(shapes(mask, mask=mask.view(bool), connectivity=4,
                                      transform=transform)):
        rings.extend(g["coordinates"])
        ring_part.extend([k] * len(g["coordinates"]))
    sizes = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    coords = np.array(list(chain.from_iterable(rings)), dtype=float)
    linear = shapely.linearrings(coords, indices=np.repeat(np.arange(len(rings)), sizes))
    parts = shapely.polygons(linear, indices=np.asarray(ring_part))
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))


def to_wgs84(geoms, crs: str) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=crs).to_crs("EPSG:4326")


def check_minutes(minutes: Sequence[float]) -> np.ndarray:
    """The bands as a sorted float array, checked."""
    bands = np.sort(np.unique(np.asarray(minutes, dtype=float).reshape(-1)))
    if len(bands) == 0 or not np.all(np.isfinite(bands)) or bands[0] <= 0:
        raise ValueError(f"minutes must be positive finite numbers, got {list(minutes)!r}")
    return bands


#: Region cells by (township table, CRS, cell size): see :meth:`RegionCells.cached`.
_CACHE: dict[tuple, tuple] = {}


# --- region level: the pack's residents ---------------------------------------------

@dataclass
class RegionCells:
    """A region's cells, each with the township (and so the travel mode) it lies in.

    A cell belongs to the township whose WGS-84 outline contains its centre, the
    test the population surface uses, so a resident's cell travels by the
    resident's own mode. Cells outside every township are left out: bands are
    clipped to the region.
    """

    cells: Cells
    #: Row of ``region.townships`` of each cell.
    township: np.ndarray
    #: Kind (街道 street, 镇 town, 乡 township) of each township.
    town_kinds: np.ndarray
    #: The cells' straight-walk query, shared by the modes timing the same facilities.
    _nearest_sites: routing.NearestSites = field(
        default_factory=routing.NearestSites, repr=False, compare=False)

    @classmethod
    def of(cls, region, cell_m: float = CELL_M, *, cache_dir=None) -> "RegionCells":
        """The region's cells; with ``cache_dir`` (a pack's ``cache/``) kept on disk,
        keyed by the township outlines, the grid and the geometry libraries' versions
        (:func:`coverage.array_cache.cached_arrays`: 0.08 s for the default pack's
        185,000 cells, every scenario and layers run)."""
        towns = region.townships
        grid = grid_over(towns.to_crs(region.metric_crs).total_bounds, region.metric_crs, cell_m)

        def locate() -> dict[str, np.ndarray]:
            everything = Cells.of(grid)
            township = np.full(grid.size, -1, dtype=np.int64)
            for t, outline in enumerate(towns.geometry.to_numpy()):
                minx, miny, maxx, maxy = outline.bounds
                free = np.flatnonzero((township < 0) & (everything.lon >= minx)
                                      & (everything.lon <= maxx) & (everything.lat >= miny)
                                      & (everything.lat <= maxy))
                shapely.prepare(outline)
                hit = shapely.contains_xy(outline, everything.lon[free], everything.lat[free])
                township[free[hit]] = t
            keep = township >= 0
            return {"index": everything.index[keep], "lon": everything.lon[keep],
                    "lat": everything.lat[keep], "township": township[keep]}

        # "region-cells N": bump N when the way cells are located changes.
        key = content_key("region-cells 1", grid, pyproj.__version__, pyproj.proj_version_str,
                          shapely.__version__, shapely.geos_version_string,
                          *shapely.to_wkb(towns.geometry.to_numpy()))
        found = cached_arrays(cache_dir, "cells", key, ("index", "lon", "lat", "township"),
                              locate)
        cells = Cells(grid, found["index"], _wgs84=(found["lon"], found["lat"]),
                      cache_dir=cache_dir)
        return cls(cells, found["township"], towns["kind"].astype(str).to_numpy())

    @classmethod
    def cached(cls, region, cell_m: float = CELL_M, *, cache_dir=None) -> "RegionCells":
        """:meth:`of`, kept while the region's township table lives (scenario sides
        and views of one pack share it)."""
        towns = region.townships
        key = (id(towns), region.metric_crs, cell_m)
        held = _CACHE.get(key)
        if held is None or held[0]() is not towns:
            held = _CACHE[key] = (weakref.ref(towns), cls.of(region, cell_m, cache_dir=cache_dir))
            weakref.finalize(towns, _CACHE.pop, key, None)
        return held[1]

    def mode_cells(self, mode: Mapping[str, str] | str) -> dict[str, np.ndarray]:
        """Each travel mode some cell travels by (one, or its township kind's; a kind the
        mapping lacks travels by none), sorted, with the boolean mask of its cells:
        found per township, not by comparing 185,000 per-cell mode names."""
        if isinstance(mode, str):
            return ({mode: np.ones(self.township.size, dtype=bool)}
                    if mode and self.township.size else {})
        town_mode = np.array([mode.get(k, "") for k in self.town_kinds], dtype=object)
        masks = {m: (town_mode == m)[self.township] for m in sorted(set(town_mode) - {""})}
        return {m: sel for m, sel in masks.items() if sel.any()}

    def seconds(self, context, mode: str, facilities: gpd.GeoDataFrame) -> np.ndarray:
        """Each cell's seconds to the nearest of ``facilities`` by ``mode``: the cells
        snapped as residents are, timed by the residents' own function
        (:func:`coverage.access.travel_seconds`), so a cell centre and a resident there
        get the same time, whatever the rule (off-road leg, road trip towards the
        facility, straight walks)."""
        graph = context.graph(mode)
        return travel_seconds(graph, self.cells.snap(graph), facilities,
                              nearest_sites=self._nearest_sites)[0]

    def trace(self, mask: np.ndarray) -> shapely.Geometry:
        """The cells of a boolean mask (one value per cell) as a metric polygon."""
        return trace(self.cells.grid, self.cells.index[mask])


def cell_seconds(context, cells: RegionCells, facilities: gpd.GeoDataFrame,
                 mode: Mapping[str, str] | str, *,
                 per_mode: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Each region cell's seconds to the nearest facility, by the cell's own mode.

    ``per_mode`` holds each mode's cell seconds to these same ``facilities`` once
    computed (it is filled in here), so bands by kind reuse the single-mode ones.
    """
    out = np.full(cells.township.size, np.inf)
    known = {} if per_mode is None else per_mode
    for m, sel in cells.mode_cells(mode).items():
        if m not in known:
            known[m] = cells.seconds(context, m, facilities)
        out[sel] = known[m][sel]
    return out


def region_bands(context, facilities: gpd.GeoDataFrame, mode: Mapping[str, str] | str,
                 minutes: Sequence[float], *, cells: RegionCells | None = None,
                 per_mode: dict[str, np.ndarray] | None = None) -> gpd.GeoDataFrame:
    """A region's bands around ``facilities``: ``minutes`` and ``geometry`` (WGS-84).

    ``mode`` is one travel mode, or a mapping township kind -> mode (each cell then
    travels by its township's mode, as :meth:`coverage.access.AccessContext.seconds_by_kind`
    times residents). Residents inside a band are exactly those counted as within it.
    ``per_mode`` is as :func:`cell_seconds`'s.
    """
    bands = check_minutes(minutes)
    cells = (RegionCells.cached(context.region, cache_dir=context.cache_dir) if cells is None
             else cells)
    seconds = cell_seconds(context, cells, facilities, mode, per_mode=per_mode)
    geoms = [cells.trace(within(seconds, m)) for m in bands]
    return gpd.GeoDataFrame({"minutes": bands},
                            geometry=to_wgs84(geoms, context.region.metric_crs),
                            crs="EPSG:4326")
