"""Isochrones (等时圈): where a resident reaches a facility within a time, on any network.

An isochrone is drawn by the coverage rule itself (:mod:`coverage.bands`): a place is
inside the ``T``-minute band when a resident there, walking off-road to the nearest
road node open to the mode and travelling from it *to* the facility (on the
reversed graph, so one-way streets count the right way), arrives within ``T``
minutes. The rule is evaluated on a grid of :data:`coverage.bands.CELL_M` cells and
the cells inside are traced into polygons, so a resident is inside the band
exactly when counted as covered, holes stay holes, larger bands contain smaller
ones, and no GEOS topology error can arise.

"Within 15 minutes" includes exactly 15 (:func:`coverage.access.within`). These
graph-level functions know the facilities by their nodes only; a pack's bands, which
time each cell with the residents' own function including any rule that needs the
facilities' positions, are :func:`coverage.bands.region_bands`.

Two entry points: :func:`isochrone_polygons` draws the merged bands from one time
per node (to the nearest facility), :func:`facility_isochrones` one polygon per
facility and band from the sparse :func:`coverage.routing.catchments`, whose cost
grows with the cells drawn, not with the nodes reached times the facilities.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from coverage import routing
from coverage.access import within
from coverage.bands import CELL_M, Cells, check_minutes, grid_over, index_dtype
from coverage.tracing import trace_cells


#: Facilities whose catchments are held at once by :func:`facility_isochrones`.
_CHUNK_FACILITIES = 32


def _cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _spatial_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """An order of the points along a Z-order (Morton) curve: runs of it are compact."""
    def spread(v: np.ndarray) -> np.ndarray:  # bits of a 16-bit value to the even bits
        v = v.astype(np.uint64)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    if x.size == 0:
        return np.empty(0, dtype=np.int64)
    qx = (x - x.min()) / max(float(np.ptp(x)), 1.0) * 65535
    qy = (y - y.min()) / max(float(np.ptp(y)), 1.0) * 65535
    return np.argsort(spread(qx) | (spread(qy) << np.uint64(1)), kind="stable")


def graph_cells(graph: routing.Graph, limit_s: float, cell_m: float = CELL_M) -> Cells:
    """Every cell a resident could be counted from within ``limit_s`` seconds: the
    extent of the nodes open to the mode, widened by the off-road walk of that time."""
    open_nodes = graph.snappable()
    if not open_nodes.any():
        open_nodes = np.ones(graph.n_nodes, dtype=bool)
    x, y = graph.x[open_nodes], graph.y[open_nodes]
    reach = limit_s * _offroad_speed(graph, x[0], y[0])
    bounds = (x.min() - reach, y.min() - reach, x.max() + reach, y.max() + reach)
    return Cells.of(grid_over(bounds, graph.metric_crs, cell_m), from_wgs84=False)


def _offroad_speed(graph: routing.Graph, x: float, y: float) -> float:
    """Metres per second of the off-road leg, read from :func:`coverage.routing.snap_points`
    itself (a point 10 m from a node), so the grid follows whatever rule it applies."""
    lon, lat = pyproj.Transformer.from_crs(graph.metric_crs, "EPSG:4326",
                                           always_xy=True).transform([x], [y + 10.0])
    snap = routing.snap_points(graph, lon, lat)
    seconds = float(snap.access_seconds[0])
    return float(snap.distance_m[0]) / seconds if 0 < seconds < np.inf else 0.0


def isochrone_polygons(graph: routing.Graph, node_seconds: np.ndarray, minutes: Sequence[float], *,
                 cells: Cells | None = None, cell_m: float = CELL_M) -> gpd.GeoDataFrame:
    """Merged bands from each node's time *to* its nearest facility.

    Parameters
    ----------
    graph
        A :class:`coverage.routing.Graph`.
    node_seconds
        Seconds from each graph node to the nearest facility (``inf`` where none),
        as :func:`coverage.routing.nearest_facility` gives with ``to_sources=True``
        and the facilities' access legs as offsets.
    minutes
        The bands, in minutes.
    cells
        Where to evaluate (default :func:`graph_cells` at ``cell_m``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``minutes`` and ``geometry`` (WGS-84), one row per band, sorted.
    """
    node_seconds = np.asarray(node_seconds, dtype=float)
    if node_seconds.shape != (graph.n_nodes,):
        raise ValueError(f"node_seconds has shape {node_seconds.shape}, expected "
                         f"({graph.n_nodes},): one time per graph node")
    bands = check_minutes(minutes)
    cells = graph_cells(graph, bands[-1] * 60.0, cell_m) if cells is None else cells
    seconds = cells.seconds(graph, node_seconds)
    to_wgs = pyproj.Transformer.from_crs(graph.metric_crs, "EPSG:4326", always_xy=True)
    geoms = [trace_cells(cells.grid, cells.index[within(seconds, m)], to_wgs.transform)
             for m in bands]
    return gpd.GeoDataFrame({"minutes": bands}, geometry=geoms, crs="EPSG:4326")


def facility_isochrones(graph: routing.Graph, source_nodes, minutes: Sequence[float], *,
                   source_ids=None, source_offsets=None, cells: Cells | None = None,
                   cell_m: float = CELL_M, workers: int | None = None) -> gpd.GeoDataFrame:
    """One band per facility and threshold, by the coverage rule.

    Each facility's catchment is searched on the reversed graph
    (:func:`coverage.routing.catchments` with ``to_sources=True``), so the cost grows
    with the cells drawn: each reached node brings the cells snapped to it.
    ``workers`` threads trace the polygons (default: one per core); the result does
    not depend on it.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``minutes``, ``geometry`` (WGS-84), in the order of the
        sources, then by minutes; empty polygons for unsnapped sources (``-1``).
    """
    source_nodes = np.asarray(source_nodes, dtype=np.int64).reshape(-1)
    n = len(source_nodes)
    ids = np.arange(n) if source_ids is None else np.asarray(source_ids)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} source_ids for {n} source_nodes")
    offsets = np.zeros(n) if source_offsets is None else np.asarray(source_offsets, float)
    if offsets.shape != (n,):
        raise ValueError(f"source_offsets has shape {offsets.shape}, expected ({n},)")
    bands = check_minutes(minutes)
    limit = bands[-1] * 60.0
    cells = graph_cells(graph, limit, cell_m) if cells is None else cells
    snap = cells.snap(graph)
    # Cells by node: the cells snapped to node i are by_node[first[i]:first[i + 1]].
    snapped = np.flatnonzero(snap.node >= 0)
    order = np.argsort(snap.node[snapped], kind="stable")
    # int32 positions where they fit: half the memory, and each facility's lookups
    # into them (random, by node) stay in cache more often.
    compact = index_dtype(cells.index.size)
    first = np.searchsorted(snap.node[snapped[order]],
                            np.arange(graph.n_nodes + 1)).astype(compact)
    by_node = snapped[order].astype(compact)
    del snapped, order
    # A whole grid's cells are numbered as the grid's: no lookup of their indices.
    cell_ids = None if cells.index.size == cells.grid.size else cells.index
    geoms = np.full((n, len(bands)), shapely.Polygon(), dtype=object)
    active = np.flatnonzero(source_nodes >= 0)
    # Chunks of neighbouring facilities: each chunk's searches stay in a smaller box.
    active = active[_spatial_order(graph.x[source_nodes[active]], graph.y[source_nodes[active]])]
    to_wgs = pyproj.Transformer.from_crs(graph.metric_crs, "EPSG:4326", always_xy=True)

    def draw(found: routing.Catchments, lo: int, hi: int) -> list:
        """One facility's bands from its reached nodes ``found[lo:hi]``."""
        node = found.node[lo:hi]
        begin = first[node]
        count = first[node + 1] - begin
        start = np.repeat(begin - np.cumsum(count) + count, count)
        which = by_node[start + np.arange(count.sum())]
        seconds = snap.access_seconds[which] + np.repeat(found.seconds[lo:hi], count)
        inside = [which[within(seconds, m)] for m in bands]
        # Vertices go to WGS-84 before the polygons are built: one copy, built once.
        return [trace_cells(cells.grid, ids if cell_ids is None else cell_ids[ids],
                            to_wgs.transform) for ids in inside]

    # Facilities are searched in chunks, so the reached (facility, node) triples held
    # at once stay small whatever the number of facilities. Searches run on this
    # thread (scipy's Dijkstra holds the GIL) while the previous chunk's facilities
    # are traced on every core (numpy, shapely and pyproj release it).
    with ThreadPoolExecutor(max(1, workers or _cores())) as pool:
        pending: list = []
        for chunk in range(0, active.size + _CHUNK_FACILITIES, _CHUNK_FACILITIES):
            part = active[chunk:chunk + _CHUNK_FACILITIES]
            drawing = []
            if part.size:
                found = routing.catchments(graph, source_nodes[part], limit, offsets[part],
                                           to_sources=True)
                bounds = np.searchsorted(found.source, np.arange(part.size + 1))
                drawing = [(i, pool.submit(draw, found, lo, hi))
                           for i, lo, hi in zip(part, bounds[:-1], bounds[1:])]
            for i, future in pending:
                geoms[i] = future.result()
            pending = drawing
    return gpd.GeoDataFrame({"facility_id": np.repeat(ids, len(bands)),
                             "minutes": np.tile(bands, n)},
                            geometry=geoms.reshape(-1), crs="EPSG:4326")
