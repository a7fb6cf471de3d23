"""Road-network topology: how connected a network is, and repair of a planner's file.

Road files drawn for maps rather than routing stop short of junctions, end on another
road without a shared vertex, and cross streets without a node; routed as they are,
they fall into pieces and most residents reach nothing. :func:`topology_report`
measures that on any loaded network (pieces, the largest piece's share of length,
dead ends within a few metres of another road, crossings without a shared node);
:func:`fragmentation_warning` turns it into one sentence in Chinese and English.

:func:`repair_road_file` writes a repaired copy of a road file:

* duplicate lines (same geometry, class and direction) and zero-length lines removed;
* at-grade crossings noded: a shared vertex where two roads cross, unless either is of
  a grade-separated class (快速路, 高速公路, 匝道 by default) or flagged by a
  bridge/tunnel column;
* T-junctions joined: a road ending on (within :data:`coverage.network.SNAP_TOLERANCE_M`
  of) another gets a vertex there;
* dead ends within the tolerance of another road joined to its nearest point by a
  connector marked ``added``; an at-grade road's end is never joined to a
  grade-separated road (a street under an expressway bridge stays a street), and a
  dead end is only joined ahead or beside it, not back along its own road;
* two dead ends facing each other joined by one connector.

All geometry work is vectorised with shapely 2 (STRtree queries, array predicates);
the result is deterministic and a second repair changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.errors import InputError
from coverage.network import SNAP_TOLERANCE_M, RoadNetwork

#: A network is fragmented when its largest piece holds less than this share of length.
FRAGMENTED_SHARE = 0.95

#: Cosine above which a candidate lies back along a dead end's own road (within 60°).
_BACKWARDS_COS = 0.5
_ZERO_LENGTH_M = 1e-3
_MAX_ROUNDS = 5


# --- topology report -------------------------------------------------------------

def _metric_xy(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    from coverage.crs import from_wgs84, utm_crs

    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    x, y = from_wgs84(lon, lat, utm_crs(float(np.mean(lon)), float(np.mean(lat))))
    return np.asarray(x, float), np.asarray(y, float)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    links = coo_array((np.ones(len(u)), (u, v)), shape=(n, n))
    return connected_components(links, directed=False)[1]


def topology_report(network: RoadNetwork, *, tolerance: float = 20.0,
                    grade_separated: frozenset[str] = frozenset({"motorway", "motorway_link"})) -> dict:
    """How connected a network is.

    Parameters
    ----------
    network
        Any loaded network.
    tolerance
        Dead ends closer than this (m) to another road count as near misses.
    grade_separated
        Normalised classes whose crossings are not missing junctions (bridges).

    Returns
    -------
    dict
        ``pieces`` (weakly connected), ``largest_share`` (of total length),
        ``near_misses`` (dead ends within ``tolerance`` of another road, ahead or
        beside them), ``unnoded_crossings`` (at-grade segments crossing without a
        shared node; edges flagged ``bridge`` and ``grade_separated`` classes are not
        counted), ``tolerance``, ``fragmented`` (largest share below
        :data:`FRAGMENTED_SHARE`).
    """
    import shapely

    nodes, edges = network.nodes, network.edges
    index = pd.Index(nodes.index)
    u, v = index.get_indexer(edges["u"]), index.get_indexer(edges["v"])
    labels = _components(len(index), u, v)
    length = edges["length"].to_numpy(float)
    per_piece = np.bincount(labels[u], weights=length, minlength=labels.max() + 1 if len(labels) else 0)
    total = length.sum()
    pieces = int(len(np.unique(labels[np.concatenate([u, v])]))) if len(u) else 0
    share = float(per_piece.max() / total) if total > 0 else 1.0

    x, y = _metric_xy(nodes["x"], nodes["y"])
    segments = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1))
    tree = shapely.STRtree(segments)

    degree = np.bincount(np.concatenate([u, v]), minlength=len(index))
    dead = np.flatnonzero(degree == 1)
    near = 0
    if len(dead):
        # the dead end's one edge and its other node, to tell "ahead" from "back along"
        end_edge = np.full(len(index), -1)
        end_edge[u] = np.arange(len(u))
        end_edge[v] = np.arange(len(v))
        edge = end_edge[dead]
        other = np.where(u[edge] == dead, v[edge], u[edge])
        points = shapely.points(x[dead], y[dead])
        p_i, s_i = tree.query(points, predicate="dwithin", distance=tolerance)
        keep = (u[s_i] != dead[p_i]) & (v[s_i] != dead[p_i])
        p_i, s_i = p_i[keep], s_i[keep]
        ahead = _ahead(points[p_i], segments[s_i], x[other[p_i]], y[other[p_i]], SNAP_TOLERANCE_M)
        near = int(len(np.unique(p_i[ahead])))

    highway = edges["highway"].to_numpy(object)
    at_grade = ~np.isin(highway, list(grade_separated))
    if "bridge" in edges:
        at_grade &= ~edges["bridge"].fillna(False).to_numpy(bool)
    a_i, b_i = tree.query(segments)  # bounding boxes; the crossing test is exact numpy
    keep = (a_i < b_i) & at_grade[a_i] & at_grade[b_i]
    a_i, b_i = a_i[keep], b_i[keep]
    crossing = _segments_cross(x[u[a_i]], y[u[a_i]], x[v[a_i]], y[v[a_i]],
                               x[u[b_i]], y[u[b_i]], x[v[b_i]], y[v[b_i]])
    return {
        "pieces": pieces, "largest_share": share, "near_misses": near,
        "unnoded_crossings": int(crossing.sum()), "tolerance": float(tolerance),
        "fragmented": share < FRAGMENTED_SHARE,
    }


def _segments_cross(ax, ay, bx, by, cx, cy, dx, dy) -> np.ndarray:
    """Whether segments AB and CD cross farther than the snap from all four ends.

    A road ending on another (a T-junction) is a near miss, not a crossing, however
    the coordinates round.
    """
    rx, ry, sx, sy = bx - ax, by - ay, dx - cx, dy - cy
    denom = rx * sy - ry * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        t = ((cx - ax) * sy - (cy - ay) * sx) / denom
        s = ((cx - ax) * ry - (cy - ay) * rx) / denom
    la, lc = np.hypot(rx, ry), np.hypot(sx, sy)
    return ((denom != 0) & (t * la > SNAP_TOLERANCE_M) & ((1 - t) * la > SNAP_TOLERANCE_M)
            & (s * lc > SNAP_TOLERANCE_M) & ((1 - s) * lc > SNAP_TOLERANCE_M))


def _ahead(points, targets, back_x, back_y, snap: float) -> np.ndarray:
    """Whether each target lies ahead of or beside a dead end, not back along its road.

    ``back_x``, ``back_y`` is the dead end's neighbour on its own road; a target whose
    nearest point lies within 60° of that direction is the road itself curving back.
    """
    import shapely

    nearest = shapely.get_coordinates(shapely.shortest_line(points, targets))[1::2]
    px, py = shapely.get_x(points), shapely.get_y(points)
    dx, dy = nearest[:, 0] - px, nearest[:, 1] - py
    bx, by = back_x - px, back_y - py
    dist = np.hypot(dx, dy)
    cos = (dx * bx + dy * by) / np.maximum(dist * np.hypot(bx, by), 1e-12)
    return (dist <= snap) | (cos <= _BACKWARDS_COS)


def format_topology(report: dict) -> str:
    """:func:`topology_report` as lines with Chinese and English labels."""
    lines = [
        f"连通性 connectivity: {report['pieces']:,} 个连通片 pieces, 最大片占总长 "
        f"largest piece {report['largest_share']:.0%} of length",
        f"  断头路距他路 {report['tolerance']:g} m 内 dead ends within {report['tolerance']:g} m "
        f"of another road: {report['near_misses']:,}",
        f"  平交未打断 at-grade crossings without a shared node: {report['unnoded_crossings']:,}",
    ]
    warning = fragmentation_warning(report)
    return "\n".join(lines + ([warning] if warning else []))


def fragmentation_warning(report: dict, source: str = "") -> str | None:
    """One warning sentence, Chinese then English, when the network is fragmented."""
    if not report["fragmented"]:
        return None
    where = f"{source}: " if source else ""
    return (f"⚠ {where}路网不连通：{report['pieces']:,} 个连通片，最大片仅占总长 "
            f"{report['largest_share']:.0%}，可达性会被低估；请先运行 coverage network repair。 / "
            f"The road network is fragmented: {report['pieces']:,} pieces, the largest holds "
            f"{report['largest_share']:.0%} of the length; travel times are understated until it "
            f"is repaired (coverage network repair).")


def check_network(network: RoadNetwork, options=None) -> dict:
    """:func:`topology_report` with a pack's or command's road-file options, warning if fragmented.

    The warning (:class:`coverage.roadfile.RoadFileWarning`) is what commands print and
    the app shows; the report is also kept as ``network.topology``.
    """
    import warnings

    from coverage.roadfile import RoadFileOptions, RoadFileWarning

    options = options or RoadFileOptions()
    report = topology_report(network, tolerance=options.tolerance,
                             grade_separated=options.grade_separated_highways())
    network.topology = report
    text = fragmentation_warning(report, Path(network.source).name if network.source else "")
    if text:
        warnings.warn(text, RoadFileWarning, stacklevel=2)
    return report


# --- repair ------------------------------------------------------------------------

@dataclass
class RepairResult:
    """What :func:`repair_lines` made.

    Attributes
    ----------
    roads
        GeoDataFrame (WGS-84) of the repaired roads: the file's columns, one row per
        line part, and ``added`` (True for connectors).
    repairs
        GeoDataFrame (WGS-84) of every repair: ``kind`` (``duplicate``, ``zero_length``,
        ``crossing``, ``t_junction``, ``connector``), ``length_m`` (connectors) and the
        geometry (the removed line, the new node, or the connector).
    disconnected
        The roads outside the largest piece, with ``piece`` and ``piece_length_m``.
    summary
        ``pieces_before``, ``pieces_after``, ``connectors``, ``connector_length_m``,
        ``crossings_noded``, ``t_junctions``, ``duplicates``, ``zero_length``,
        ``largest_share_before``, ``largest_share_after``, ``tolerance_m``.
    """

    roads: object
    repairs: object
    disconnected: object
    summary: dict


def _pieces(geoms) -> tuple[np.ndarray, np.ndarray]:
    """Piece label per line and length per piece, joining lines by vertices within the snap."""
    import shapely
    from scipy.spatial import cKDTree

    coords, line = shapely.get_coordinates(geoms, return_index=True)
    n = len(coords)
    pairs = cKDTree(coords).query_pairs(SNAP_TOLERANCE_M, output_type="ndarray")
    step = np.flatnonzero(line[:-1] == line[1:])
    u = np.concatenate([pairs[:, 0], step])
    v = np.concatenate([pairs[:, 1], step + 1])
    labels = _components(n, u, v)
    first = np.searchsorted(line, np.arange(len(geoms)))
    per_line = labels[first]
    _, per_line = np.unique(per_line, return_inverse=True)
    lengths = np.bincount(per_line, weights=shapely.length(geoms))
    return per_line, lengths


def _insert_vertices(geoms, line_ids: np.ndarray, points) -> np.ndarray:
    """``geoms`` with each point added as a vertex of its line, in order along it."""
    import shapely

    if len(line_ids) == 0:
        return geoms
    coords, line = shapely.get_coordinates(geoms, return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[line[1:] != line[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    starts = np.searchsorted(line, np.arange(len(geoms)))
    along = cum - cum[starts][line]
    new_xy = shapely.get_coordinates(points)
    new_along = shapely.line_locate_point(geoms[line_ids], points)
    all_line = np.concatenate([line, line_ids])
    all_along = np.concatenate([along, new_along])
    all_xy = np.concatenate([coords, new_xy])
    is_new = np.concatenate([np.zeros(len(line), bool), np.ones(len(line_ids), bool)])
    order = np.lexsort((is_new, all_along, all_line))
    all_line, all_xy = all_line[order], all_xy[order]
    same = np.r_[False, (all_line[1:] == all_line[:-1]) & np.all(all_xy[1:] == all_xy[:-1], axis=1)]
    keep = ~same
    return shapely.linestrings(all_xy[keep], indices=all_line[keep])


def _needs_vertex(geoms, line_ids: np.ndarray, points) -> np.ndarray:
    """Whether each point is farther than the snap from every vertex of its line."""
    import shapely

    coords, line = shapely.get_coordinates(geoms, return_index=True)
    vertices = shapely.multipoints(coords, indices=line)
    return shapely.distance(vertices[line_ids], points) > SNAP_TOLERANCE_M


def _end_points(geoms):
    """Both ends of every line: points, their line, and each end's neighbour vertex."""
    import shapely

    n = len(geoms)
    count = shapely.get_num_points(geoms)
    first = shapely.get_point(geoms, 0)
    last = shapely.get_point(geoms, -1)
    second = shapely.get_coordinates(shapely.get_point(geoms, 1))
    before = shapely.get_coordinates(shapely.get_point(geoms, count - 2))
    points = np.concatenate([first, last])
    line = np.concatenate([np.arange(n), np.arange(n)])
    back = np.concatenate([second, before])
    return points, line, back


def _allowed(end_graded: np.ndarray, target_graded: np.ndarray) -> np.ndarray:
    """An end may join a target that is at grade, or any target if it is graded itself."""
    return ~target_graded | end_graded


def _join_ends(geoms, graded: np.ndarray, tolerance: float):
    """T-junction vertices and connectors of dead ends, one round.

    Returns
    -------
    tuple
        (line ids and points to insert as vertices, T-junction mask of those,
        connector start points, connector end points, connector source line)
    """
    import shapely

    tree = shapely.STRtree(geoms)
    points, line, back = _end_points(geoms)
    p_i, g_i = tree.query(points, predicate="dwithin", distance=max(tolerance, SNAP_TOLERANCE_M))
    other = g_i != line[p_i]
    p_i, g_i = p_i[other], g_i[other]
    dist = shapely.distance(points[p_i], geoms[g_i])
    touching_end = np.zeros(len(points), bool)
    touching_end[p_i[dist <= SNAP_TOLERANCE_M]] = True

    # T-junctions: an end on another road gets a vertex of that road beneath it
    t = (dist <= SNAP_TOLERANCE_M) & _allowed(graded[line[p_i]], graded[g_i])
    t_points = shapely.line_interpolate_point(geoms[g_i[t]], shapely.line_locate_point(geoms[g_i[t]], points[p_i[t]]))
    t_lines = g_i[t]

    # dead ends: nearest allowed road ahead or beside, within the tolerance
    c = (~touching_end[p_i]) & (dist <= tolerance) & _allowed(graded[line[p_i]], graded[g_i])
    c &= _ahead(points[p_i], geoms[g_i], back[p_i, 0], back[p_i, 1], SNAP_TOLERANCE_M)
    cand = pd.DataFrame({"end": p_i[c], "target": g_i[c], "dist": dist[c]})
    cand = cand.sort_values(["end", "dist", "target"], kind="stable").drop_duplicates("end")
    ends = cand["end"].to_numpy()
    targets = cand["target"].to_numpy()
    # two dead ends facing each other: one connector between the ends
    n = len(geoms)
    target_of = np.full(2 * n, -1)
    target_of[ends] = targets
    mate = np.full(len(ends), -1)
    for f in (targets + n, targets):  # the target's two ends; the first end wins a tie
        facing = (target_of[f] == line[ends]) & (shapely.distance(points[ends], points[f]) <= tolerance)
        mate = np.where(facing, f, mate)
    paired = mate >= 0
    skip = paired & (mate < ends)  # the pair is made once, from its lower end
    start = points[ends[~skip]]
    end_geom = shapely.line_interpolate_point(geoms[targets], shapely.line_locate_point(geoms[targets], points[ends]))
    end_geom = np.where(paired, points[np.maximum(mate, 0)], end_geom)[~skip]
    source = line[ends[~skip]]
    target_line = targets[~skip]
    return t_lines, t_points, start, end_geom, source, target_line, paired[~skip]


def _crossings(geoms, graded: np.ndarray):
    """Points where two at-grade roads cross between their ends, per line."""
    import shapely

    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = (a < b) & ~graded[a] & ~graded[b]
    a, b = a[keep], b[keep]
    inter = shapely.intersection(geoms[a], geoms[b])
    parts, which = shapely.get_parts(inter, return_index=True)
    pts = shapely.get_type_id(parts) == 0
    parts, which = parts[pts], which[pts]
    la, lb = a[which], b[which]
    ends_a = shapely.boundary(geoms[la])
    ends_b = shapely.boundary(geoms[lb])
    interior = ((shapely.distance(parts, ends_a) > SNAP_TOLERANCE_M)
                & (shapely.distance(parts, ends_b) > SNAP_TOLERANCE_M))
    parts, la, lb = parts[interior], la[interior], lb[interior]
    return np.concatenate([la, lb]), np.concatenate([parts, parts])


def repair_lines(lines, options) -> RepairResult:
    """Repair a road file's lines (:class:`coverage.roadfile.RoadLines`); see the module docstring.

    Parameters
    ----------
    lines
        From :func:`coverage.roadfile.read_road_lines`.
    options
        :class:`coverage.roadfile.RoadFileOptions` (``tolerance``, ``grade_separated``).
    """
    import geopandas as gpd
    import shapely

    from coverage.crs import from_wgs84, to_wgs84, utm_crs

    frame = lines.frame
    utm = utm_crs(float(np.mean(lines.lon)), float(np.mean(lines.lat)))
    x, y = from_wgs84(lines.lon, lines.lat, utm)
    geoms = shapely.linestrings(np.column_stack([x, y]), indices=lines.part)
    part_feature = lines.feature[np.searchsorted(lines.part, np.arange(len(geoms)))]
    highway = lines.highway[part_feature]
    graded_classes = options.grade_separated_highways()
    graded = np.isin(highway, list(graded_classes)) | lines.bridge[part_feature]
    oneway = lines.oneway[part_feature]
    tolerance = float(options.tolerance)

    before, before_len = _pieces(geoms)
    repairs = []

    # duplicates and zero-length lines
    length = shapely.length(geoms)
    zero = length <= _ZERO_LENGTH_M
    keys = np.where(oneway == 0, shapely.to_wkb(shapely.normalize(geoms)), shapely.to_wkb(geoms))
    key = pd.DataFrame({"g": keys, "h": highway, "o": oneway})
    dup = key.duplicated().to_numpy() & ~zero
    for kind, mask in (("zero_length", zero), ("duplicate", dup)):
        repairs.append(pd.DataFrame({"kind": kind, "length_m": 0.0, "geometry": geoms[mask]}))
    keep = ~(zero | dup)
    geoms, part_feature, graded = geoms[keep], part_feature[keep], graded[keep]
    added = np.zeros(len(geoms), bool)

    t_count = 0
    for _ in range(_MAX_ROUNDS):
        t_lines, t_points, start, end, source, target, _paired = _join_ends(geoms, graded, tolerance)
        need = _needs_vertex(geoms, t_lines, t_points) if len(t_lines) else np.zeros(0, bool)
        t_lines, t_points = t_lines[need], t_points[need]
        t_count += len(t_lines)
        repairs.append(pd.DataFrame({"kind": "t_junction", "length_m": 0.0, "geometry": t_points}))
        # a connector's far end becomes a vertex of the road it joins
        far_need = _needs_vertex(geoms, target, end) if len(target) else np.zeros(0, bool)
        geoms = _insert_vertices(geoms, np.concatenate([t_lines, target[far_need]]),
                                 np.concatenate([t_points, end[far_need]]))
        if len(start) == 0:
            break
        connectors = shapely.linestrings(np.stack([shapely.get_coordinates(start),
                                                   shapely.get_coordinates(end)], axis=1))
        repairs.append(pd.DataFrame({"kind": "connector", "length_m": shapely.length(connectors),
                                     "geometry": connectors}))
        geoms = np.concatenate([geoms, connectors])
        part_feature = np.concatenate([part_feature, part_feature[source]])
        graded = np.concatenate([graded, graded[source]])
        added = np.concatenate([added, np.ones(len(connectors), bool)])

    cross_lines, cross_points = _crossings(geoms, graded)
    need = _needs_vertex(geoms, cross_lines, cross_points) if len(cross_lines) else np.zeros(0, bool)
    geoms = _insert_vertices(geoms, cross_lines[need], cross_points[need])
    crossing_nodes = shapely.points(np.unique(shapely.get_coordinates(cross_points[need]), axis=0))
    repairs.append(pd.DataFrame({"kind": "crossing", "length_m": 0.0, "geometry": crossing_nodes}))

    after, after_len = _pieces(geoms)
    repairs = pd.concat([r for r in repairs if len(r)], ignore_index=True) if any(len(r) for r in repairs) \
        else pd.DataFrame({"kind": pd.Series(dtype=str), "length_m": pd.Series(dtype=float), "geometry": []})

    def to_wgs(g):
        coords, idx = shapely.get_coordinates(g, return_index=True)
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], utm)
        return shapely.set_coordinates(g.copy(), np.column_stack([lon, lat]))

    columns = [c for c in frame.columns if c != frame.geometry.name]
    attrs = frame[columns].iloc[part_feature].reset_index(drop=True)
    if lines.oneway_column is not None and added.any():
        two_way = np.flatnonzero(lines.oneway == 0)
        if len(two_way):  # connectors run both ways
            attrs.loc[added, lines.oneway_column] = frame[lines.oneway_column].iloc[two_way[0]]
    roads = gpd.GeoDataFrame(attrs.assign(added=added), geometry=to_wgs(geoms), crs="EPSG:4326")
    largest = np.argmax(after_len)
    outside = after != largest
    disconnected = roads[outside].assign(piece=after[outside], piece_length_m=after_len[after[outside]])
    repairs_gdf = gpd.GeoDataFrame(repairs[["kind", "length_m"]],
                                   geometry=to_wgs(np.asarray(repairs["geometry"], dtype=object)),
                                   crs="EPSG:4326")
    connectors = repairs_gdf[repairs_gdf["kind"] == "connector"]
    summary = {
        "pieces_before": int(len(before_len)), "pieces_after": int(len(after_len)),
        "largest_share_before": float(before_len.max() / before_len.sum()),
        "largest_share_after": float(after_len.max() / after_len.sum()),
        "connectors": int(len(connectors)), "connector_length_m": float(connectors["length_m"].sum()),
        "crossings_noded": int(len(crossing_nodes)), "t_junctions": int(t_count),
        "duplicates": int(dup.sum()), "zero_length": int(zero.sum()), "tolerance_m": tolerance,
        "length_km": float(after_len.sum() / 1000.0),
    }
    return RepairResult(roads, repairs_gdf, disconnected, summary)


def repair_road_file(path: str | Path, out: str | Path, options=None) -> RepairResult:
    """Repair a road file and write ``out`` (GeoPackage: layers roads, repairs, disconnected).

    Raises
    ------
    InputError
        For a bad road file (see :func:`coverage.roadfile.read_road_file`), or an ``out``
        that is not a new ``.gpkg`` (an existing file is never overwritten unless this
        tool wrote it: it must be a GeoPackage with exactly these three layers).
    """
    import pyogrio

    from coverage.errors import atomic_path
    from coverage.roadfile import RoadFileOptions, read_road_lines

    options = options or RoadFileOptions()
    out = Path(out)
    if out.suffix.lower() != ".gpkg":
        raise InputError(out, "expected a .gpkg output file")
    if out.exists():
        try:
            layers = {name for name, _ in pyogrio.list_layers(out)} if out.is_file() else set()
        except pyogrio.errors.DataSourceError:
            layers = set()
        if layers != {"roads", "repairs", "disconnected"}:
            raise InputError(out, "exists and was not written by coverage network repair; choose a new file")
    if Path(path).resolve() == out.resolve():
        raise InputError(out, "is the input file; choose a new file")
    lines = read_road_lines(path, **options.reader_kwargs())
    result = repair_lines(lines, options)
    with atomic_path(out) as tmp:
        tmp.unlink()
        result.roads.to_file(tmp, layer="roads", driver="GPKG", engine="pyogrio")
        result.repairs.to_file(tmp, layer="repairs", driver="GPKG", engine="pyogrio")
        result.disconnected.to_file(tmp, layer="disconnected", driver="GPKG", engine="pyogrio")
    return result


def format_summary(summary: dict) -> str:
    """The repair summary with Chinese and English labels."""
    s = summary
    return "\n".join([
        f"连通片 pieces: {s['pieces_before']:,} → {s['pieces_after']:,} (最大片占总长 largest piece "
        f"{s['largest_share_before']:.0%} → {s['largest_share_after']:.0%} of {s['length_km']:,.1f} km)",
        f"新增连接线 connectors added: {s['connectors']:,}, 共 total {s['connector_length_m']:,.1f} m "
        f"(容差 tolerance {s['tolerance_m']:g} m)",
        f"平交打断 crossings noded: {s['crossings_noded']:,}; 丁字路口 T-junctions joined: {s['t_junctions']:,}",
        f"删除 removed: {s['duplicates']:,} 重复 duplicates, {s['zero_length']:,} 零长度 zero-length",
    ])
