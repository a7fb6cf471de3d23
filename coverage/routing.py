"""Routing: per-mode travel-time graphs, snapping, nearest-facility times, catchments.

A :class:`~coverage.network.RoadNetwork` becomes, for one travel mode (步行 walk,
电动车 e-bike, 小汽车 car), a compact directed graph whose edge weights are travel
seconds (:func:`build_graph`), over the terrain of a DEM when one is given
(:mod:`coverage.terrain`). Points are snapped to it with an off-road walking leg,
without a cap (:func:`snap_points`, the one function every analysis uses for it). Two searches run on it, both on
:func:`scipy.sparse.csgraph.dijkstra`:

* :func:`nearest_facility`: the time from the nearest of many facilities to every
  node, in one multi-source pass;
* :func:`catchments`: every node each facility reaches within a time limit, as
  sparse triples, by bounded per-facility searches.

Numerical conventions
---------------------
Limits are inclusive: a node reached in exactly ``limit`` seconds is inside. Sums
of float edge times can land a few ulps either side of a round limit, so every
comparison with a limit allows ``TOLERANCE_S`` (one microsecond). Access legs
(``source_offsets``) are honoured through one virtual node per source, joined to its
graph node by an edge weighing the offset; a zero offset becomes ``ZERO_OFFSET_S``
because sparse graph code may read an explicit zero as a missing edge, and that
amount is subtracted again from the results.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import scipy.sparse
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from coverage import modes
from coverage.crs import utm_crs
from coverage.errors import InputError, atomic_path
from coverage.network import RoadNetwork

#: Slack, in seconds, on every comparison with a time limit (see module notes).
TOLERANCE_S = 1e-6
#: Weight given to a zero access leg so that it stays an edge (see module notes).
ZERO_OFFSET_S = 1e-9
#: Edges faster than this are floored to it, so no edge weighs zero.
MIN_EDGE_S = 1e-6
#: Memory bound of the dense (sources x nodes) block of one batch of catchments.
BLOCK_BYTES = 64 << 20
#: Bump when the cached arrays change meaning.
_CACHE_VERSION = "routing-graph-2"


@dataclass
class Graph:
    """A road network as a directed travel-time graph for one mode.

    Attributes
    ----------
    mode
        ``'walk'``, ``'ebike'`` or ``'car'`` (:data:`coverage.modes.MODES`).
    metric_crs
        The metric CRS of ``x``, ``y`` and ``edge_geometry``.
    node_ids
        Network node id of each graph node (graph node ``i`` is ``node_ids[i]``).
    lon, lat
        WGS-84 node coordinates.
    x, y
        Node coordinates in ``metric_crs`` (metres).
    csr
        ``n x n`` sparse matrix of travel seconds (> 0) from row node to column node,
        one entry per directed pair (the fastest of parallel edges).
    edge_u, edge_v
        Node indices of every traversable directed edge, parallel edges included; a
        two-way road appears once in each direction.
    edge_seconds, edge_length
        Travel seconds and metres of each directed edge.
    edge_geometry
        Metric LineStrings running from ``edge_u`` to ``edge_v``, or ``None`` when the
        network has no geometry (edges are straight segments).
    offroad_kmh
        Speed of the off-road leg (:data:`coverage.modes.OFFROAD_KMH` by default).
    dem
        The DEM the graph was built on (:class:`coverage.terrain.Dem`), or ``None``;
        it also slows the off-road legs by their slope.
    node_z
        Node heights (m) from the DEM, NaN where it has none; ``None`` without a DEM.
    """

    mode: str
    metric_crs: str
    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    csr: scipy.sparse.csr_array
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_seconds: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray | None = None
    offroad_kmh: float = modes.OFFROAD_KMH
    dem: object | None = None
    node_z: np.ndarray | None = None
    _snap: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _reverse: scipy.sparse.csr_array | None = field(default=None, init=False, repr=False,
                                                     compare=False)
    _top_speed: float | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return self.node_ids.size

    def snappable(self) -> np.ndarray:
        """Boolean mask of the nodes with at least one edge open to the mode."""
        degree = np.diff(self.csr.indptr) + np.bincount(self.csr.indices, minlength=self.n_nodes)
        return degree > 0

    def snap_index(self) -> tuple[cKDTree, np.ndarray]:
        """KD-tree over the snappable nodes, and their node indices (built once)."""
        if self._snap is None:
            candidates = np.flatnonzero(self.snappable())
            tree = cKDTree(np.column_stack([self.x[candidates], self.y[candidates]]))
            self._snap = (tree, candidates)
        return self._snap

    def top_speed(self) -> float:
        """The fastest straight-line progress over any edge, m/s: the distance between
        its two nodes over its seconds. No trip of ``t`` seconds ends farther than ``t``
        times this from where it began (:func:`catchments` bounds its searches so)."""
        if self._top_speed is None:
            csr = self.csr
            rows = np.repeat(np.arange(self.n_nodes), np.diff(csr.indptr))
            chord = np.hypot(self.x[rows] - self.x[csr.indices], self.y[rows] - self.y[csr.indices])
            with np.errstate(divide="ignore", invalid="ignore"):
                speed = np.where(chord > 0, chord / csr.data, 0.0)
            self._top_speed = float(speed.max()) if speed.size else 0.0
        return self._top_speed

    def reverse_csr(self) -> scipy.sparse.csr_array:
        """The transposed graph: searching it gives times *to* the sources (built once)."""
        if self._reverse is None:
            self._reverse = _csr32(self.csr.T.tocsr())
        return self._reverse


@dataclass
class Snap:
    """Points snapped to a graph.

    Attributes
    ----------
    node
        Graph node index of each point (the nearest node open to the mode), ``-1``
        only when the point has no coordinates or the graph no usable node.
    distance_m
        Length of the off-road leg: straight distance to that node (NaN when not
        snapped; None where not kept, as for graph-level band cells).
    access_seconds
        Walking time of the leg at the graph's off-road speed, slowed by its slope
        when the graph has a DEM; ``inf`` when not snapped.
    x, y, z
        The points' metric coordinates and DEM heights (``z`` NaN without a DEM),
        for straight off-road walks to facilities (:func:`direct_seconds`).
    """

    node: np.ndarray
    distance_m: np.ndarray | None
    access_seconds: np.ndarray
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    z: np.ndarray | None = None

    @property
    def off_network(self) -> np.ndarray:
        """Points whose off-road leg is longer than :data:`coverage.modes.OFF_NETWORK_M`."""
        return np.nan_to_num(self.distance_m, nan=0.0) > modes.OFF_NETWORK_M


@dataclass
class Catchments:
    """Sparse (source, node, seconds) triples, one per node a source reaches.

    Sorted by source, then node. ``source`` indexes the sources as passed in.
    """

    source: np.ndarray
    node: np.ndarray
    seconds: np.ndarray


# --- building --------------------------------------------------------------------

def build_graph(network: RoadNetwork, mode: str, *, metric_crs: str | None = None,
                speeds: pd.DataFrame | None = None,
                cache_dir: str | Path | None = None,
                offroad_kmh: float = modes.OFFROAD_KMH, dem=None) -> Graph:
    """Build the travel-time graph of ``network`` for one mode.

    Edges closed to the mode (speed 0) are dropped; an edge takes
    ``length / speed`` seconds; two-way edges are added in both directions, one-way
    edges only from ``u`` to ``v`` when the mode respects one-way restrictions
    (:func:`coverage.modes.respects_oneway`). Self-loops are dropped (they are never
    on a shortest path); of parallel edges the graph matrix keeps the fastest.

    Parameters
    ----------
    network
        The road network.
    mode
        One of :data:`coverage.modes.MODES`.
    metric_crs
        Metric CRS for node coordinates; default the UTM zone of the nodes' mean.
    speeds
        Speed table (:func:`coverage.modes.speed_table`); default the shipped one.
    cache_dir
        Folder for a cache of built graphs, keyed by a SHA-256 of the network's
        arrays, the mode, the CRS, the speed table and the DEM (``.npz``, no
        pickle). ``None``: no cache.
    offroad_kmh
        Speed of the off-road leg of points snapped to the graph (> 0).
    dem
        A DEM (:class:`coverage.terrain.Dem`, or the path of a GeoTIFF): each edge
        is timed in each direction over its climbs (:mod:`coverage.terrain`).

    An edge with a ``wait_s`` (a ferry's boarding wait) takes that much longer.
    """
    if mode not in modes.MODES:
        raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(modes.MODES)}")
    if len(network.nodes) == 0:
        raise InputError(network.source or "network", "the network has no nodes")
    if not (np.isfinite(offroad_kmh) and offroad_kmh > 0):
        raise ValueError(f"offroad_kmh must be a speed > 0 km/h, got {offroad_kmh!r}")
    table = modes.speed_table() if speeds is None else speeds
    if dem is not None and not hasattr(dem, "sample"):
        from coverage.terrain import read_dem

        dem = read_dem(dem)
    lon = network.nodes["x"].to_numpy(dtype=float)
    lat = network.nodes["y"].to_numpy(dtype=float)
    if metric_crs is None:
        metric_crs = utm_crs(float(np.mean(lon)), float(np.mean(lat)))
    if cache_dir is None:
        graph = _build(network, mode, metric_crs, table, dem)
    else:
        key = _cache_key(network, mode, metric_crs, table, dem)
        path = Path(cache_dir) / f"graph-{mode}-{key[:32]}.npz"
        graph = None
        if path.exists():
            try:
                graph = read_graph(path)
            except Exception as exc:  # noqa: BLE001 (any damage: truncated, not a zip, wrong arrays)
                warnings.warn(f"{path}: the graph cache is damaged ({type(exc).__name__}); "
                              "rebuilt it from the network", CacheRebuilt, stacklevel=2)
        if graph is None:
            graph = _build(network, mode, metric_crs, table, dem)
            _save(graph, path)
    graph.offroad_kmh = float(offroad_kmh)
    graph.dem = dem
    return graph


def _build(network: RoadNetwork, mode: str, metric_crs: str, table: pd.DataFrame,
           dem=None) -> Graph:
    nodes, edges = network.nodes, network.edges
    label = network.source or "network"
    node_ids = nodes.index.to_numpy(dtype=np.int64)
    lon = nodes["x"].to_numpy(dtype=float)
    lat = nodes["y"].to_numpy(dtype=float)
    n = node_ids.size
    index = pd.Index(node_ids)
    if not index.is_unique:
        raise InputError(label, "node ids are not unique")
    u = index.get_indexer(edges["u"].to_numpy(dtype=np.int64))
    v = index.get_indexer(edges["v"].to_numpy(dtype=np.int64))
    for name, ends in (("u", u), ("v", v)):
        if (ends < 0).any():
            row = int(np.flatnonzero(ends < 0)[0])
            raise InputError(label, f"node id {edges[name].iloc[row]} is not in the node table",
                             row=row + 1, field=name)
    length = edges["length"].to_numpy(dtype=float)
    if not (np.isfinite(length) & (length >= 0)).all():
        row = int(np.flatnonzero(~(np.isfinite(length) & (length >= 0)))[0])
        raise InputError(label, f"length {length[row]!r} is not a non-negative number of metres",
                         row=row + 1, field="length")

    kmh = np.asarray(modes.edge_speeds(edges, mode, table), dtype=float)
    usable = (kmh > 0) & (u != v)
    oneway = edges["oneway"].to_numpy(dtype=bool) if "oneway" in edges else np.zeros(len(edges), bool)
    backward = usable & ~(oneway & modes.respects_oneway(mode))
    fwd, bwd = np.flatnonzero(usable), np.flatnonzero(backward)
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    x, y = to_metric.transform(lon, lat)
    x, y = np.asarray(x, float), np.asarray(y, float)
    speed = np.where(usable, kmh, 1.0)
    node_z = None
    if dem is None:
        ahead = back = length / speed * 3.6
    else:
        from coverage.terrain import directed_seconds

        node_z = dem.sample(x, y, metric_crs)
        vx, vy, which = _edge_vertices(edges, u, v, x, y, to_metric)
        ahead, back = directed_seconds(mode, speed, length, vx, vy, which, dem, metric_crs)
    wait = edges["wait_s"].to_numpy(dtype=float) if "wait_s" in edges else np.zeros(len(edges))
    wait = np.nan_to_num(wait, nan=0.0)
    ahead = np.maximum(ahead + wait, MIN_EDGE_S)
    back = np.maximum(back + wait, MIN_EDGE_S)
    edge_u = np.concatenate([u[fwd], v[bwd]]).astype(np.int32)
    edge_v = np.concatenate([v[fwd], u[bwd]]).astype(np.int32)
    edge_seconds = np.concatenate([ahead[fwd], back[bwd]])
    edge_length = np.concatenate([length[fwd], length[bwd]])
    geometry = None
    if "geometry" in edges and edges["geometry"].notna().any():
        geoms = np.asarray(edges["geometry"].to_numpy(), dtype=object)
        rows = np.concatenate([fwd, bwd])
        lines = geoms[rows]
        missing = pd.isna(lines)
        # Edges without geometry are straight between their nodes.
        start, end = u[rows[missing]], v[rows[missing]]
        lines[missing] = shapely.linestrings(
            np.stack([np.column_stack([lon[start], lat[start]]),
                      np.column_stack([lon[end], lat[end]])], axis=1))
        lines[fwd.size:] = shapely.reverse(lines[fwd.size:])
        geometry = shapely.transform(
            lines, lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])))

    return Graph(mode=mode, metric_crs=metric_crs, node_ids=node_ids, lon=lon, lat=lat,
                 x=x, y=y, csr=_fastest_csr(edge_u, edge_v, edge_seconds, n),
                 edge_u=edge_u, edge_v=edge_v, edge_seconds=edge_seconds,
                 edge_length=edge_length, edge_geometry=geometry, node_z=node_z)


def _edge_vertices(edges: pd.DataFrame, u: np.ndarray, v: np.ndarray, x: np.ndarray,
                   y: np.ndarray, to_metric) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metric vertices of every edge from ``u`` to ``v`` (its geometry's, or its two
    nodes'), and the edge each belongs to: the profile a DEM is sampled along."""
    n = len(edges)
    geoms = (np.asarray(edges["geometry"].to_numpy(), dtype=object) if "geometry" in edges
             else np.full(n, None, dtype=object))
    has = ~pd.isna(geoms)
    xs = [x[u[~has]], x[v[~has]]]
    ys = [y[u[~has]], y[v[~has]]]
    which = [np.flatnonzero(~has), np.flatnonzero(~has)]
    if has.any():
        coords, index = shapely.get_coordinates(geoms[has], return_index=True)
        gx, gy = to_metric.transform(coords[:, 0], coords[:, 1])
        xs.append(np.asarray(gx, float))
        ys.append(np.asarray(gy, float))
        which.append(np.flatnonzero(has)[index])
    which = np.concatenate(which)
    # Stable by edge keeps each edge's vertices in drawing order.
    order = np.argsort(which, kind="stable")
    vx, vy, which = np.concatenate(xs)[order], np.concatenate(ys)[order], which[order]
    # A line drawn from v to u is walked from its last vertex.
    start = np.searchsorted(which, which, side="left")
    end = np.searchsorted(which, which, side="right") - 1
    first = start[np.r_[True, which[1:] != which[:-1]]]
    e = which[first]
    flipped = (np.hypot(vx[first] - x[v[e]], vy[first] - y[v[e]])
               < np.hypot(vx[first] - x[u[e]], vy[first] - y[u[e]]))
    flip = np.zeros(n, dtype=bool)
    flip[e[flipped]] = True
    pos = np.arange(which.size)
    pos = np.where(flip[which], start + end - pos, pos)
    return vx[pos], vy[pos], which


def _fastest_csr(u: np.ndarray, v: np.ndarray, seconds: np.ndarray, n: int) -> scipy.sparse.csr_array:
    """CSR matrix keeping the fastest of parallel edges (scipy would sum them)."""
    order = np.lexsort((seconds, v, u))
    u, v, seconds = u[order], v[order], seconds[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, seconds = u[first], v[first], seconds[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return _csr32(scipy.sparse.csr_array((seconds, v, indptr), shape=(n, n)))


def _csr32(csr: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """32-bit indices: csgraph converts to them on every call otherwise."""
    csr.indices = csr.indices.astype(np.int32, copy=False)
    csr.indptr = csr.indptr.astype(np.int32, copy=False)
    csr.has_sorted_indices = True
    return csr


# --- cache -----------------------------------------------------------------------

class CacheRebuilt(UserWarning):
    """A damaged cache file was ignored and its content computed again."""


def _cache_key(network: RoadNetwork, mode: str, metric_crs: str, table: pd.DataFrame,
               dem=None) -> str:
    digest = hashlib.sha256()
    for text in (_CACHE_VERSION, mode, metric_crs, table.to_csv(),
                 dem.digest if dem is not None else ""):
        digest.update(text.encode("utf-8") + b"\0")
    nodes, edges = network.nodes, network.edges
    digest.update(nodes.index.to_numpy(dtype=np.int64).tobytes())
    digest.update(nodes[["x", "y"]].to_numpy(dtype=float).tobytes())
    closed = tuple(c for c in edges.columns if str(c).startswith("closed_"))
    for column in ("u", "v", "length", "oneway", "highway", "maxspeed", "wait_s", *closed):
        if column in edges:
            # pandas' hash is stable, vectorised and handles object columns.
            digest.update(pd.util.hash_pandas_object(edges[column], index=False).to_numpy().tobytes())
    if "geometry" in edges:
        coords, which = shapely.get_coordinates(edges["geometry"].to_numpy(), return_index=True)
        digest.update(coords.tobytes())
        digest.update(which.tobytes())
    return digest.hexdigest()


_ARRAYS = ("node_ids", "lon", "lat", "x", "y", "edge_u", "edge_v", "edge_seconds", "edge_length")


def _save(graph: Graph, path: Path) -> None:
    arrays = {name: getattr(graph, name) for name in _ARRAYS}
    arrays.update(mode=np.array(graph.mode), metric_crs=np.array(graph.metric_crs),
                  csr_data=graph.csr.data, csr_indices=graph.csr.indices,
                  csr_indptr=graph.csr.indptr)
    if graph.edge_geometry is not None:
        coords, which = shapely.get_coordinates(graph.edge_geometry, return_index=True)
        arrays.update(geometry_coords=coords, geometry_index=which)
    if graph.node_z is not None:
        arrays.update(node_z=graph.node_z)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def read_graph(path: str | Path) -> Graph:
    """A graph kept by :func:`build_graph`'s ``cache_dir`` (``graph-<mode>-<key>.npz``),
    read without its network (plain arrays, ``allow_pickle=False``). The off-road
    speed and DEM are not kept in the file: they are the defaults until set."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    n = arrays["node_ids"].size
    geometry = None
    if "geometry_coords" in arrays:
        geometry = shapely.linestrings(arrays["geometry_coords"], indices=arrays["geometry_index"])
    csr = _csr32(scipy.sparse.csr_array(
        (arrays["csr_data"], arrays["csr_indices"], arrays["csr_indptr"]), shape=(n, n)))
    return Graph(mode=str(arrays["mode"]), metric_crs=str(arrays["metric_crs"]), csr=csr,
                 edge_geometry=geometry, node_z=arrays.get("node_z"),
                 **{name: arrays[name] for name in _ARRAYS})


# --- snapping --------------------------------------------------------------------

#: Points snapped per KD-tree query by :func:`nearest_nodes`.
_SNAP_BLOCK = 1 << 20
#: Points from which a KD-tree query is spread over every core (results are the same).
_PARALLEL_QUERY = 1 << 16


def nearest_nodes(graph: Graph, lon, lat) -> tuple[np.ndarray, ...]:
    """The first half of :func:`snap_points`: metric ``x``, ``y`` of the WGS-84 points,
    their nearest snappable node (-1 without coordinates) and its distance (m).

    Graphs of other modes with the same snappable nodes at the same places give the
    same answer (:func:`snap_key`), so it can be shared between them.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", graph.metric_crs, always_xy=True)
    x, y = to_metric.transform(lon, lat)
    return (x, y) + nearest_nodes_xy(graph, x, y)


def nearest_nodes_xy(graph: Graph, x, y, *, tie_m: float | None = None
                     ) -> tuple[np.ndarray, ...]:
    """The nearest snappable node of each metric point (-1 without coordinates or
    usable nodes) and its distance (m): :func:`nearest_nodes` for points already in
    the graph's metric CRS, such as a grid's cell centres.

    With ``tie_m``, also a boolean per point: whether a second node is within
    ``tie_m`` of as near (which of the two is nearest then depends on the last bits
    of the coordinates). Large queries use every core (``workers=-1``).
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    valid = np.isfinite(x) & np.isfinite(y)
    node = np.full(x.size, -1, dtype=np.int64)
    distance = np.full(x.size, np.nan)
    tie = np.zeros(x.size, dtype=bool)
    tree, candidates = graph.snap_index()
    where = np.flatnonzero(valid) if candidates.size else np.empty(0, dtype=np.int64)
    k = 1 if tie_m is None or candidates.size < 2 else 2
    # Queried in blocks, so snapping millions of band cells holds no second copy of them.
    for start in range(0, where.size, _SNAP_BLOCK):
        block = where[start:start + _SNAP_BLOCK]
        d, i = tree.query(np.column_stack([x[block], y[block]]), k=k,
                          workers=-1 if block.size >= _PARALLEL_QUERY else 1)
        if k == 2:
            tie[block] = d[:, 1] - d[:, 0] <= tie_m
            d, i = d[:, 0], i[:, 0]
        distance[block] = d
        node[block] = candidates[i]
    return (node, distance) if tie_m is None else (node, distance, tie)


def snap_key(graph: Graph) -> str:
    """What :func:`nearest_nodes` depends on in a graph: its metric CRS and its snappable
    nodes with their coordinates (SHA-256, hex)."""
    _, candidates = graph.snap_index()
    digest = hashlib.sha256(graph.metric_crs.encode() + b"\0")
    for values in (candidates, graph.x[candidates], graph.y[candidates]):
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def snap_points(graph: Graph, lon, lat, *, nearest: tuple[np.ndarray, ...] | None = None) -> Snap:
    """Snap WGS-84 points to the nearest graph node open to the graph's mode.

    The off-road leg is walked along the straight line at the graph's
    ``offroad_kmh`` (:data:`coverage.modes.OFFROAD_KMH` unless the pack sets
    ``[routing] offroad_kmh``), however long it is: a point far from the roads is
    slow to reach, never dropped. With a DEM the leg is slowed by Tobler's function
    of its slope, from the point towards the node (:mod:`coverage.terrain`). This is
    the one definition of the off-road leg: coverage, targets, isochrones, bands and
    siting all call it. ``nearest`` is :func:`nearest_nodes` of these points, when
    already known for a graph with the same :func:`snap_key`.
    """
    x, y, node, distance = nearest_nodes(graph, lon, lat) if nearest is None else nearest
    return snap_xy(graph, x, y, nearest=(node, distance))


def snap_xy(graph: Graph, x, y, *, nearest: tuple[np.ndarray, np.ndarray] | None = None) -> Snap:
    """:func:`snap_points` for metric points (the graph's CRS); ``nearest`` is
    :func:`nearest_nodes_xy` of them when already known."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    node, distance = nearest_nodes_xy(graph, x, y) if nearest is None else nearest
    valid = np.isfinite(x) & np.isfinite(y)
    snapped = node >= 0
    z = np.full(node.size, np.nan)
    if graph.dem is not None and valid.any():
        z[valid] = graph.dem.sample(x[valid], y[valid], graph.metric_crs)
    node_z = graph.node_z[node[snapped]] if graph.node_z is not None else np.nan
    access = np.full(node.size, np.inf)
    access[snapped] = offroad_seconds(graph, distance[snapped], node_z - z[snapped])
    return Snap(node=node, distance_m=distance, access_seconds=access, x=x, y=y, z=z)


def offroad_seconds(graph: Graph, distance_m, rise_m=np.nan) -> np.ndarray:
    """Seconds to walk ``distance_m`` straight across country, climbing ``rise_m``.

    The off-road pace is the graph's ``offroad_kmh``, scaled by Tobler's factor of the
    slope (:func:`coverage.terrain.tobler_factor`) where the rise is known (a DEM).
    """
    distance = np.asarray(distance_m, dtype=float)
    kmh = np.full(distance.shape, graph.offroad_kmh)
    if graph.dem is not None:
        from coverage.terrain import tobler_factor

        rise = np.nan_to_num(np.broadcast_to(np.asarray(rise_m, dtype=float), distance.shape))
        slope = np.divide(rise, distance, out=np.zeros_like(distance), where=distance > 0)
        kmh = kmh * tobler_factor(slope)
    return distance / (kmh / 3.6)


#: Candidate facilities, nearest by distance, among which a straight walk is timed.
DIRECT_CANDIDATES = 8


@dataclass(eq=False)
class NearestSites:
    """The last few nearest-site queries of :func:`direct_seconds`, each reused while
    its points, sites and ``k`` are equal (compared by value).

    The query depends on coordinates only, not on the mode: one region's modes time
    the same points (residents, band cells) to the same facilities, so walk, e-bike
    and car share one KD-tree query (25 ms for the default pack's 185,000 cells).
    ``size`` queries are kept: a scenario times both sides mode by mode.
    """

    size: int = 2
    #: ((points x, points y, sites x, sites y, k), (distances, indices)) pairs, newest
    #: first, replaced as one tuple so that threads sharing them never see a half update.
    held: tuple = ()

    def query(self, px: np.ndarray, py: np.ndarray, sx: np.ndarray, sy: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices (into ``sx``/``sy``) of each point's ``k`` nearest sites,
        each ``points x k`` (read-only)."""
        key = (px, py, sx, sy, k)
        held = self.held
        for old, value in held:
            if old[4] == k and all(np.array_equal(a, b) for a, b in zip(old[:4], key[:4])):
                return value
        d, j = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([px, py]), k=k)
        value = (d.reshape(px.size, k), j.reshape(px.size, k))
        for array in value:
            array.flags.writeable = False
        self.held = ((key, value), *held[:self.size - 1])
        return value


def direct_seconds(graph: Graph, points: Snap, sites: Snap, *,
                   nearest_sites: NearestSites | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each point's fastest straight off-road walk to one of ``sites``, and which.

    A resident beside a clinic but far from any road walks straight there (as
    AccessMod's off-road travel lets them); coverage takes the faster of this and the
    road trip (:func:`coverage.access.travel_seconds`), so building next to an
    off-network village serves it. Without a DEM the nearest site is the fastest;
    with one, the fastest of the :data:`DIRECT_CANDIDATES` nearest. ``nearest_sites``
    keeps the KD-tree query for the next call on the same points and sites.

    Returns
    -------
    seconds, index
        Per point: seconds (``inf`` without coordinates or sites) and the site's
        index (``-1`` then).
    """
    n = points.node.size
    seconds = np.full(n, np.inf)
    index = np.full(n, -1, dtype=np.int64)
    if points.x is None or sites.x is None:
        return seconds, index
    ok_sites = np.flatnonzero(np.isfinite(sites.x) & np.isfinite(sites.y))
    ok = np.flatnonzero(np.isfinite(points.x) & np.isfinite(points.y))
    if ok.size == 0 or ok_sites.size == 0:
        return seconds, index
    k = 1 if graph.dem is None else min(DIRECT_CANDIDATES, ok_sites.size)
    query = (nearest_sites if nearest_sites is not None else NearestSites()).query
    d, j = query(points.x[ok], points.y[ok], sites.x[ok_sites], sites.y[ok_sites], k)
    site = ok_sites[j]
    t = offroad_seconds(graph, d, sites.z[site] - points.z[ok][:, None])
    best = np.argmin(t, axis=1)
    rows = np.arange(ok.size)
    seconds[ok] = t[rows, best]
    index[ok] = site[rows, best]
    return seconds, index


def direct_reach_m(graph: Graph, limit: float) -> float:
    """The farthest a straight off-road walk goes in ``limit`` seconds: the radius of
    the disk around a facility that :func:`direct_pairs` can reach (flat ground; on a
    DEM, at Tobler's fastest gentle descent)."""
    from coverage.terrain import tobler_factor

    fastest = graph.offroad_kmh / 3.6 * (float(tobler_factor(-0.05)) if graph.dem is not None
                                         else 1.0)
    return (limit + TOLERANCE_S) * fastest


def direct_pairs(graph: Graph, points: Snap, sites: Snap, limit: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (site, point, seconds) whose straight off-road walk takes at most ``limit``
    seconds (inclusive), as :func:`direct_seconds` times it."""
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if points.x is None or sites.x is None:
        return empty
    ok_sites = np.flatnonzero(np.isfinite(sites.x) & np.isfinite(sites.y))
    ok = np.flatnonzero(np.isfinite(points.x) & np.isfinite(points.y))
    if ok.size == 0 or ok_sites.size == 0:
        return empty
    radius = direct_reach_m(graph, limit)
    tree = cKDTree(np.column_stack([points.x[ok], points.y[ok]]))
    found = tree.query_ball_point(np.column_stack([sites.x[ok_sites], sites.y[ok_sites]]),
                                  radius)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if counts.sum() == 0:
        return empty
    site = np.repeat(ok_sites, counts)
    point = ok[np.concatenate([np.asarray(f, dtype=np.int64) for f in found])]
    d = np.hypot(points.x[point] - sites.x[site], points.y[point] - sites.y[site])
    t = offroad_seconds(graph, d, sites.z[site] - points.z[point])
    keep = t <= limit + TOLERANCE_S
    return site[keep], point[keep], t[keep]


# --- searches --------------------------------------------------------------------

def _sources(graph: Graph, source_nodes, source_offsets) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.atleast_1d(np.asarray(source_nodes, dtype=np.int64))
    if source_offsets is None:
        offsets = np.zeros(nodes.size)
    else:
        offsets = np.atleast_1d(np.asarray(source_offsets, dtype=float))
        if offsets.shape != nodes.shape:
            raise ValueError(f"{offsets.size} source offsets for {nodes.size} sources")
        if (offsets < 0).any():
            raise ValueError("source offsets must be >= 0 seconds")
    if (nodes >= graph.n_nodes).any():
        raise ValueError(f"source node index out of range (graph has {graph.n_nodes} nodes)")
    return nodes, offsets


def nearest_facility(graph: Graph, source_nodes, source_offsets=None, *,
                     limit: float = np.inf, to_sources: bool = False
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Time from the nearest source to every node, in one multi-source search.

    Parameters
    ----------
    graph
        The graph.
    source_nodes
        Graph node index of each source (facility); ``-1`` sources are ignored.
    source_offsets
        Seconds already spent before reaching each source's node (its access leg);
        ``inf`` sources are ignored. Default 0.
    limit
        Stop the search at this many seconds (inclusive); nodes beyond are ``inf``.
    to_sources
        Search the reversed graph: the time *from* each node *to* its nearest
        source, as a patient travels to a facility (differs from the default
        only where one-way streets are respected).

    Returns
    -------
    seconds
        Per graph node: seconds to (or from) the nearest source, ``inf`` when none
        is reachable.
    nearest
        Per graph node: index into ``source_nodes`` of that source, ``-1`` if none.
    """
    nodes, offsets = _sources(graph, source_nodes, source_offsets)
    n = graph.n_nodes
    seconds = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    which = np.flatnonzero((nodes >= 0) & (offsets <= limit + TOLERANCE_S))
    if which.size == 0:
        return seconds, nearest
    csr = graph.reverse_csr() if to_sources else graph.csr
    weight = np.where(offsets[which] > 0, offsets[which], ZERO_OFFSET_S)
    # Virtual node n + i starts at source which[i]; min_only reports which virtual
    # node each distance came from, i.e. the nearest source.
    k = which.size
    indptr = np.concatenate([csr.indptr, csr.indptr[-1] + np.arange(1, k + 1, dtype=csr.indptr.dtype)])
    augmented = _csr32(scipy.sparse.csr_array(
        (np.concatenate([csr.data, weight]),
         np.concatenate([csr.indices, nodes[which].astype(csr.indices.dtype)]), indptr),
        shape=(n + k, n + k)))
    dist, _, origin = dijkstra(augmented, indices=np.arange(n, n + k), min_only=True,
                               return_predecessors=True, limit=limit + ZERO_OFFSET_S + TOLERANCE_S)
    origin = origin[:n]
    reached = origin >= n
    label = origin[reached] - n
    seconds[reached] = dist[:n][reached] - (weight - offsets[which])[label]
    nearest[reached] = which[label]
    beyond = seconds > limit + TOLERANCE_S
    seconds[beyond] = np.inf
    nearest[beyond] = -1
    return seconds, nearest


#: Sources from which :func:`catchments` searches only the box their trips can reach,
#: when that box holds at most :data:`_LOCAL_SHARE` of the nodes: cutting the box out
#: costs about what a few searches of the whole graph cost beyond their reach.
_LOCAL_SOURCES = 16
_LOCAL_SHARE = 0.5


def _local_graph(graph: Graph, csr, sources: np.ndarray, seconds: float):
    """The part of ``csr`` within reach of ``sources`` in ``seconds`` (the box around them
    widened by ``seconds`` at :meth:`Graph.top_speed`, which holds every node such a trip
    can pass, so searches in it find the same times), and its nodes; ``None`` when the
    box holds more than :data:`_LOCAL_SHARE` of the graph."""
    reach = seconds * graph.top_speed()
    if not np.isfinite(reach):
        return None
    x, y = graph.x, graph.y
    sx, sy = x[sources], y[sources]
    kept = np.flatnonzero((x >= sx.min() - reach) & (x <= sx.max() + reach)
                          & (y >= sy.min() - reach) & (y <= sy.max() + reach))
    if kept.size > _LOCAL_SHARE * graph.n_nodes:
        return None
    return _csr32(csr[kept][:, kept]), kept


def catchments(graph: Graph, source_nodes, limit: float, source_offsets=None, *,
               to_sources: bool = False, block_bytes: int = BLOCK_BYTES) -> Catchments:
    """Every node each source reaches within ``limit`` seconds (inclusive).

    Sources are searched in batches whose dense ``batch x nodes`` block of
    :func:`scipy.sparse.csgraph.dijkstra` stays under ``block_bytes``, each search
    bounded by the source's remaining budget ``limit - offset``; only the reached
    entries are kept. Memory is therefore the size of the result plus one block,
    never ``sources x nodes``. Sixteen or more sources close together are searched
    on the part of the graph their trips can reach (:meth:`Graph.top_speed`), when
    that is at most half of it: the same times, without the searches' cost per node
    of the whole graph.

    Parameters
    ----------
    graph
        The graph.
    source_nodes
        Graph node index of each source; ``-1`` sources reach nothing.
    limit
        Time limit in seconds (finite, >= 0).
    source_offsets
        Seconds already spent at each source (access legs), included in the times.
    to_sources
        Search the reversed graph (times from each node to the source).
    block_bytes
        Memory bound of one batch's dense block.
    """
    if not np.isfinite(limit) or limit < 0:
        raise ValueError(f"limit must be a finite number of seconds >= 0, got {limit!r}")
    nodes, offsets = _sources(graph, source_nodes, source_offsets)
    budget = limit - offsets
    active = np.flatnonzero((nodes >= 0) & (budget >= -TOLERANCE_S))
    csr = graph.reverse_csr() if to_sources else graph.csr
    start_at, kept = nodes, None
    if active.size >= _LOCAL_SOURCES:
        local = _local_graph(graph, csr, nodes[active], float(budget[active].max()) + TOLERANCE_S)
        if local is not None:
            csr, kept = local
            start_at = np.searchsorted(kept, nodes)
    batch = max(1, block_bytes // (8 * max(csr.shape[0], 1)))
    sources, reached, seconds = [], [], []
    for start in range(0, active.size, batch):
        idx = active[start:start + batch]
        bound = budget[idx] + TOLERANCE_S
        block = dijkstra(csr, indices=start_at[idx], limit=float(bound.max()))
        rows, cols = np.nonzero(block <= bound[:, None])
        sources.append(idx[rows].astype(np.int32))
        reached.append(cols.astype(np.int64, copy=False) if kept is None else kept[cols])
        seconds.append(block[rows, cols] + offsets[idx][rows])
        del block
    if not sources:
        return Catchments(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0))
    # Join one array at a time, dropping its parts, so the peak stays near the result size.
    joined = []
    for parts in (sources, reached, seconds):
        joined.append(np.concatenate(parts))
        parts.clear()
    return Catchments(*joined)


# --- points to facilities ----------------------------------------------------------

def point_travel_times(graph: Graph, points_lon, points_lat, facility_lon, facility_lat, *,
                       point_ids=None, facility_ids=None, facility_names=None) -> pd.DataFrame:
    """Travel time from each point to its nearest facility.

    Both points and facilities are snapped (:func:`snap_points`); a point's time is
    its access leg, plus the network time from its node to the nearest facility's
    node (on the reversed graph, so one-way streets are driven the right way), plus
    that facility's access leg.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``id``, ``minutes`` (NaN when no facility is reachable),
        ``facility_id``, ``facility_name`` (None when unreachable) and
        ``snap_distance_m`` (the point's distance to the road network).
    """
    facilities = snap_points(graph, facility_lon, facility_lat)
    node_seconds, node_nearest = nearest_facility(graph, facilities.node,
                                                  facilities.access_seconds, to_sources=True)
    points = snap_points(graph, points_lon, points_lat)
    n_points = points.node.size
    total = np.full(n_points, np.inf)
    nearest = np.full(n_points, -1, dtype=np.int64)
    snapped = points.node >= 0
    total[snapped] = points.access_seconds[snapped] + node_seconds[points.node[snapped]]
    nearest[snapped] = node_nearest[points.node[snapped]]
    n_fac = facilities.node.size
    ids = np.asarray(facility_ids if facility_ids is not None else np.arange(n_fac), dtype=object)
    names = np.asarray(facility_names if facility_names is not None else np.full(n_fac, None),
                       dtype=object)
    found = nearest >= 0
    fac_id = np.full(n_points, None, dtype=object)
    fac_name = np.full(n_points, None, dtype=object)
    fac_id[found] = ids[nearest[found]]
    fac_name[found] = names[nearest[found]]
    return pd.DataFrame({
        "id": point_ids if point_ids is not None else np.arange(1, n_points + 1),
        "minutes": np.where(np.isfinite(total), total / 60.0, np.nan),
        "facility_id": fac_id,
        "facility_name": fac_name,
        "snap_distance_m": points.distance_m,
    })
