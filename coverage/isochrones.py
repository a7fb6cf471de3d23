"""Isochrones (等时圈): the area within a travel time, drawn along the roads.

An isochrone is the reached part of the road network, buffered: every directed edge
``u -> v`` whose start is reached within the band contributes the stretch of road
from ``u`` to the point the remaining time reaches (the whole edge when the time
suffices), and every reached node contributes its own position. The pieces are
buffered by ``buffer_m`` in the metric CRS and dissolved. The polygon therefore
follows the roads: no convex or concave hull swallows an unreached valley, and an
unreached area enclosed by reached roads stays a hole when it is wider than
``2 * buffer_m``. A larger band reaches a superset of every piece, so bands are
nested by construction.

"Within 15 minutes" includes exactly 15: a node is reached when its time is
``<= T + EPS_SECONDS`` (``EPS_SECONDS = 1e-6`` s), which absorbs the rounding of
summed edge times (a road reached "at 900 s" may be summed to 900.0000000001 s).

The output is deterministic (same input, identical WKB): every step is vectorised
or runs per group in a fixed order. Speed comes from dissolving less: the two
directions of a road are drawn once, pieces are chained straight through junctions
into long lines before buffering, and groups are dissolved on every core (GEOS
releases the GIL).

Two entry points share the edge-cutting and dissolving code:
:func:`isochrone_polygons` draws the merged bands from one time per node (for
instance :func:`coverage.routing.nearest_facility`), :func:`facility_isochrones`
draws one polygon per facility and band from the sparse
:func:`coverage.routing.catchments`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import shapely

from coverage.crs import transform_geometry

#: Tolerance, in seconds, of "reached within T": a time ``t <= T + EPS_SECONDS``
#: counts as within T.
EPS_SECONDS = 1e-6

#: Segments per quarter circle of the buffers' round caps and joins: the polygon
#: deviates from the true buffer by at most ``buffer_m * (1 - cos(pi / 16))``, 1.4 m
#: for a 75 m buffer, and dissolves ~1.4x faster than with shapely's default of 8.
QUAD_SEGS = 4

#: A group with more lines than this (merged bands) is dissolved in spatially
#: coherent chunks, in parallel, and the chunks then dissolved together; measured
#: fastest between 500 and 1,500 on 100k-node grids.
_CHUNK_PIECES = 1_500

_THREADS = os.cpu_count() or 1


def isochrone_polygons(graph, node_seconds: np.ndarray, minutes: Sequence[float], *,
                       buffer_m: float = 75.0) -> gpd.GeoDataFrame:
    """Merged isochrone bands from one travel time per node.

    Parameters
    ----------
    graph
        A :class:`coverage.routing.Graph`.
    node_seconds
        Seconds to reach each graph node (``inf`` where unreachable), for instance
        the first result of :func:`coverage.routing.nearest_facility`.
    minutes
        The bands, in minutes (for example ``[5, 10, 15, 30]``).
    buffer_m
        Half-width, in metres, of the band drawn around each reached road.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``minutes`` and ``geometry`` (a valid (Multi)Polygon per band, empty
        when nothing is reached), EPSG:4326, sorted by minutes.
    """
    node_seconds = np.asarray(node_seconds, dtype=float)
    if node_seconds.shape != (len(graph.x),):
        raise ValueError(f"node_seconds has shape {node_seconds.shape}, expected "
                         f"({len(graph.x)},): one time per graph node")
    bands = _bands(minutes)
    reached = np.flatnonzero(node_seconds <= bands[-1] * 60.0 + EPS_SECONDS)
    group = np.zeros(len(reached), dtype=np.int64)
    index = _edge_index(graph)
    geoms = [_dissolve(graph, index, group, reached, node_seconds[reached], band * 60.0, 1,
                       buffer_m)[0] for band in bands]
    return gpd.GeoDataFrame({"minutes": bands},
                            geometry=_to_wgs84(np.array(geoms, dtype=object), graph.metric_crs),
                            crs="EPSG:4326")


def facility_isochrones(graph, source_nodes, minutes: Sequence[float], *, source_ids=None,
                        source_offsets=None, buffer_m: float = 75.0) -> gpd.GeoDataFrame:
    """One isochrone per facility and band.

    The reached nodes come from :func:`coverage.routing.catchments` (bounded
    searches, sparse output), limited to the largest band.

    Parameters
    ----------
    graph
        A :class:`coverage.routing.Graph`.
    source_nodes
        Graph node index of each facility (``-1``, as
        :func:`coverage.routing.snap_points` gives for a facility too far from any
        road, yields empty polygons).
    minutes
        The bands, in minutes.
    source_ids
        Facility identifiers, one per source (default ``0 .. n-1``).
    source_offsets
        Seconds already spent reaching each source's node (the access leg).
    buffer_m
        Half-width, in metres, of the band drawn around each reached road.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``facility_id``, ``minutes`` and ``geometry`` (EPSG:4326), one row
        per facility and band, in the order of the sources, then by minutes.
    """
    from coverage.routing import catchments

    source_nodes = np.asarray(source_nodes, dtype=np.int64).reshape(-1)
    n = len(source_nodes)
    ids = np.arange(n) if source_ids is None else np.asarray(source_ids)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} source_ids for {n} source_nodes")
    offsets = np.zeros(n) if source_offsets is None else np.asarray(source_offsets, float)
    if offsets.shape != (n,):
        raise ValueError(f"source_offsets has shape {offsets.shape}, expected ({n},)")
    bands = _bands(minutes)
    snapped = np.flatnonzero(source_nodes >= 0)
    found = catchments(graph, source_nodes[snapped], bands[-1] * 60.0 + EPS_SECONDS,
                       offsets[snapped])
    group = snapped[np.asarray(found.source, dtype=np.int64)]
    node = np.asarray(found.node, dtype=np.int64)
    seconds = np.asarray(found.seconds, dtype=float)
    index = _edge_index(graph)
    geoms = np.empty((n, len(bands)), dtype=object)
    for j, band in enumerate(bands):
        geoms[:, j] = _dissolve(graph, index, group, node, seconds, band * 60.0, n, buffer_m)
    return gpd.GeoDataFrame({"facility_id": np.repeat(ids, len(bands)),
                             "minutes": np.tile(bands, n)},
                            geometry=_to_wgs84(geoms.reshape(-1), graph.metric_crs),
                            crs="EPSG:4326")


def _bands(minutes: Sequence[float]) -> np.ndarray:
    """The bands as a sorted float array, checked."""
    bands = np.sort(np.unique(np.asarray(minutes, dtype=float).reshape(-1)))
    if len(bands) == 0 or not np.all(np.isfinite(bands)) or bands[0] <= 0:
        raise ValueError(f"minutes must be positive finite numbers, got {list(minutes)!r}")
    return bands


def _dissolve(graph, index: _EdgeIndex, group: np.ndarray, node: np.ndarray,
              seconds: np.ndarray, limit: float, n_groups: int, buffer_m: float) -> np.ndarray:
    """The isochrone polygon of each group, in the metric CRS.

    Parameters
    ----------
    index
        The graph's :func:`_edge_index`.
    group, node, seconds
        Sparse triples: in group ``group[i]`` (a facility, or 0 for merged bands),
        node ``node[i]`` is reached after ``seconds[i]``.
    limit
        The band, in seconds.
    n_groups
        Number of groups; groups with no triples get an empty polygon.

    Returns
    -------
    numpy.ndarray
        ``n_groups`` shapely geometries.
    """
    keep = seconds <= limit + EPS_SECONDS
    group, node, seconds = group[keep], node[keep], seconds[keep]
    piece_group, edge, fraction, has_piece = _reached_pieces(graph, index, group, node,
                                                             seconds, limit)
    lines = _cut_edges(graph, edge, fraction)
    # A piece ends at its edge's end node when whole, else at a point of its own.
    end = np.where(fraction >= 1.0, np.asarray(graph.edge_v)[edge], -1 - np.arange(len(edge)))
    chains, chain_group = _chain(lines, np.asarray(graph.edge_u)[edge], end, piece_group)
    lonely = ~has_piece  # reached nodes that no piece of road covers
    parts = np.concatenate([chains, shapely.points(graph.x[node[lonely]], graph.y[node[lonely]])])
    owner = np.concatenate([chain_group, group[lonely]])
    order = np.argsort(owner, kind="stable")
    parts, owner = parts[order], owner[order]
    bounds = np.searchsorted(owner, np.arange(n_groups + 1))
    tasks = []
    for g in range(n_groups):
        members = parts[bounds[g]:bounds[g + 1]]
        if len(members) > _CHUNK_PIECES:
            # Big groups (merged bands of a large region) are dissolved in chunks so
            # that every core works on them; chunks are runs along a Hilbert curve,
            # so that they overlap little.
            members = members[np.argsort(gpd.GeoSeries(members).hilbert_distance().to_numpy(),
                                         kind="stable")]
        tasks.extend((g, members[i:i + _CHUNK_PIECES])
                     for i in range(0, max(len(members), 1), _CHUNK_PIECES))

    def dissolve(task):
        return shapely.union_all(shapely.buffer(task[1], buffer_m, quad_segs=QUAD_SEGS))

    with ThreadPoolExecutor(_THREADS) as pool:
        chunks = list(pool.map(dissolve, tasks))
    out = np.empty(n_groups, dtype=object)
    by_group: dict[int, list] = {}
    for (g, _), geom in zip(tasks, chunks):
        by_group.setdefault(g, []).append(geom)
    for g, pieces in by_group.items():
        out[g] = pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)
    return shapely.make_valid(out)


def _chain(lines: np.ndarray, start: np.ndarray, end: np.ndarray,
           group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join the pieces of each group end to end into long lines, straight through nodes.

    Dissolving a few long buffered lines is ~3x faster than dissolving the buffers
    of every piece: the round caps stacked at each junction vanish. At each node the
    piece ends are sorted by direction and each is paired with the one opposite
    (ends ``i`` and ``i + degree // 2``), so chains run along the streets; the
    chains are the connected components of the pairings, merged by
    :func:`shapely.line_merge`. The buffered union is unchanged.

    Parameters
    ----------
    lines
        The pieces.
    start, end
        Node of each piece's first and last point (a unique id where a piece ends
        mid-edge).
    group
        Group of each piece; pieces of different groups are never joined.

    Returns
    -------
    tuple
        The chains ((Multi)LineStrings) and the group of each.
    """
    n = len(lines)
    coords, index = shapely.get_coordinates(lines, return_index=True)
    first = np.searchsorted(index, np.arange(n))
    last = np.searchsorted(index, np.arange(n), side="right") - 1
    heading = np.concatenate([coords[first + 1] - coords[first], coords[last - 1] - coords[last]])
    angle = np.arctan2(heading[:, 1], heading[:, 0])
    piece = np.concatenate([np.arange(n), np.arange(n)])
    node = np.concatenate([start, end])
    owner = np.concatenate([group, group])
    order = np.lexsort((piece, angle, node, owner))
    node, owner, piece = node[order], owner[order], piece[order]
    new_run = np.ones(2 * n, dtype=bool)
    new_run[1:] = (node[1:] != node[:-1]) | (owner[1:] != owner[:-1])
    run_start = np.flatnonzero(new_run)
    run = np.cumsum(new_run) - 1
    half = (np.diff(np.append(run_start, 2 * n)) // 2)[run]
    position = np.arange(2 * n) - run_start[run]
    a = np.flatnonzero(position < half)
    links = scipy.sparse.coo_array((np.ones(len(a)), (piece[a], piece[a + half[a]])),
                                   shape=(n, n))
    n_chains, label = scipy.sparse.csgraph.connected_components(links, directed=False)
    by_chain = np.argsort(label, kind="stable")
    chain_group = np.empty(n_chains, dtype=np.int64)
    chain_group[label] = group
    return (shapely.line_merge(shapely.multilinestrings(lines[by_chain], indices=label[by_chain])),
            chain_group)


def _reached_pieces(graph, index, group, node, seconds, limit):
    """The stretches of road reached within ``limit`` seconds.

    Each reached (group, node) contributes every edge leaving the node, cut at the
    fraction ``min(1, (limit - t) / edge_seconds)``. The two directions of a road
    are merged: when both are reached and their fractions sum to at least 1 the road
    is drawn once, whole; this halves the pieces to dissolve.

    Returns
    -------
    tuple
        ``(group, edge, fraction)`` of every piece (fraction in (0, 1], along edge
        ``edge`` from its start), and for each input triple whether a piece covers
        its node.
    """
    order, first = index.out_order, index.out_first
    degree = first[node + 1] - first[node]
    triple = np.repeat(np.arange(len(node)), degree)
    # Position of each expanded row within its node's run of outgoing edges.
    offset = np.arange(len(triple)) - np.repeat(np.cumsum(degree) - degree, degree)
    edge = order[first[node][triple] + offset]
    fraction = np.minimum(1.0, (limit + EPS_SECONDS - seconds[triple])
                          / np.asarray(graph.edge_seconds)[edge])
    piece_group = group[triple]
    positive = fraction > 0
    triple, edge, fraction, piece_group = (triple[positive], edge[positive],
                                           fraction[positive], piece_group[positive])

    reverse = index.reverse[edge]
    paired = reverse >= 0
    # Canonical key of the undirected road within its group: the smaller edge id.
    road = np.where(paired, np.minimum(edge, reverse), edge)
    key_order = np.lexsort((edge, road, piece_group))
    edge, fraction, piece_group, road, triple = (edge[key_order], fraction[key_order],
                                                 piece_group[key_order], road[key_order],
                                                 triple[key_order])
    # Where both directions are reached they come as consecutive rows; if their
    # fractions sum to 1 they cover the road (also when one alone is whole).
    pair = np.flatnonzero((road[1:] == road[:-1]) & (piece_group[1:] == piece_group[:-1]))
    whole = fraction[pair] + fraction[pair + 1] >= 1.0
    fraction[pair[whole]] = 1.0
    drop = np.zeros(len(edge), dtype=bool)
    drop[pair[whole] + 1] = True
    has_piece = np.bincount(triple, minlength=len(node)) > 0
    keep = ~drop
    return piece_group[keep], edge[keep], fraction[keep], has_piece


class _EdgeIndex(NamedTuple):
    """Lookups over a graph's edges, built once per call."""

    #: Edge indices sorted by start node; the edges leaving node ``i`` are
    #: ``out_order[out_first[i]:out_first[i + 1]]``.
    out_order: np.ndarray
    out_first: np.ndarray
    #: For each edge, the edge running the other way along the same road; ``-1``
    #: where there is none, and where parallel edges make the pairing ambiguous.
    reverse: np.ndarray


def _edge_index(graph) -> _EdgeIndex:
    """Build the :class:`_EdgeIndex` of ``graph``."""
    n = np.int64(len(graph.x))
    u = np.asarray(graph.edge_u, dtype=np.int64)
    v = np.asarray(graph.edge_v, dtype=np.int64)
    out_order = np.argsort(u, kind="stable")
    out_first = np.searchsorted(u[out_order], np.arange(n + 1))
    reverse = np.full(len(u), -1, dtype=np.int64)
    if len(u):
        key = u * n + v
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        dup = sorted_key[1:] == sorted_key[:-1]
        unique = np.ones(len(key), dtype=bool)
        unique[order[1:][dup]] = False
        unique[order[:-1][dup]] = False
        pos = np.minimum(np.searchsorted(sorted_key, v * n + u), len(key) - 1)
        candidate = order[pos]
        ok = (sorted_key[pos] == v * n + u) & unique & unique[candidate] & (u != v)
        reverse[ok] = candidate[ok]
    return _EdgeIndex(out_order, out_first, reverse)


def _cut_edges(graph, edge: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """LineStrings from the start of each edge to ``fraction`` of its length.

    Along ``graph.edge_geometry`` (oriented from ``edge_u`` to ``edge_v``) when the
    graph has it, else along the straight segment.
    """
    geometry = getattr(graph, "edge_geometry", None)
    if geometry is None:
        u = np.asarray(graph.edge_u)[edge]
        v = np.asarray(graph.edge_v)[edge]
        start = np.column_stack([graph.x[u], graph.y[u]])
        end = start + fraction[:, None] * (np.column_stack([graph.x[v], graph.y[v]]) - start)
        return shapely.linestrings(np.stack([start, end], axis=1))
    lines = np.asarray(geometry, dtype=object)[edge]
    partial = np.flatnonzero(fraction < 1.0)
    if len(partial) == 0:
        return lines
    lines = lines.copy()
    cut = lines[partial]
    coords, index = shapely.get_coordinates(cut, return_index=True)
    step = np.zeros(len(coords))
    same_line = index[1:] == index[:-1]
    step[1:] = np.where(same_line, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
    travelled = np.cumsum(step)
    line_start = np.searchsorted(index, np.arange(len(cut)))
    travelled -= travelled[line_start][index]
    target = fraction[partial] * shapely.length(cut)
    # Vertices strictly before the cut point, then the cut point itself.
    inside = travelled < target[index]
    end = shapely.get_coordinates(shapely.line_interpolate_point(cut, target))
    all_coords = np.concatenate([coords[inside], end])
    all_index = np.concatenate([index[inside], np.arange(len(cut))])
    order = np.argsort(all_index, kind="stable")
    lines[partial] = shapely.linestrings(all_coords[order], indices=all_index[order])
    return lines


def _to_wgs84(geoms: np.ndarray, metric_crs: str) -> gpd.GeoSeries:
    """Metric polygons to WGS-84, empty geometries as empty polygons."""
    geoms = np.where(shapely.is_missing(geoms) | shapely.is_empty(geoms),
                     shapely.Polygon(), geoms)
    return gpd.GeoSeries(transform_geometry(geoms, metric_crs), crs="EPSG:4326")
