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

Lines are handled as numpy arrays of vertices: an STRtree of segment boxes (shapely 2)
finds candidates, and distances, projections and crossings are numpy arithmetic on
segments, so there is no per-feature Python loop. The result is deterministic and a
second repair changes nothing.
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
    boxes = shapely.box(np.minimum(x[u], x[v]), np.minimum(y[u], y[v]),
                        np.maximum(x[u], x[v]), np.maximum(y[u], y[v]))
    tree = shapely.STRtree(boxes)

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
        px, py = x[dead], y[dead]
        p_i, s_i = tree.query(shapely.box(px - tolerance, py - tolerance, px + tolerance, py + tolerance))
        keep = (u[s_i] != dead[p_i]) & (v[s_i] != dead[p_i])
        p_i, s_i = p_i[keep], s_i[keep]
        nx_, ny_, _, dist = _nearest_on_segments(px[p_i], py[p_i], x[u[s_i]], y[u[s_i]], x[v[s_i]], y[v[s_i]])
        ahead = _ahead(px[p_i], py[p_i], nx_, ny_, x[other[p_i]], y[other[p_i]])
        near = int(len(np.unique(p_i[ahead & (dist <= tolerance)])))

    highway = edges["highway"].to_numpy(object)
    at_grade = ~np.isin(highway, list(grade_separated))
    if "bridge" in edges:
        at_grade &= ~edges["bridge"].fillna(False).to_numpy(bool)
    a_i, b_i = tree.query(boxes)  # bounding boxes; the crossing test is exact numpy
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


def _nearest_on_segments(px, py, ax, ay, bx, by):
    """Nearest point of each segment AB to each point P: x, y, position t (0-1), distance."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(length2 > 0, ((px - ax) * dx + (py - ay) * dy) / length2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    nx_, ny_ = ax + t * dx, ay + t * dy
    return nx_, ny_, t, np.hypot(px - nx_, py - ny_)


def _ahead(px, py, nx_, ny_, back_x, back_y) -> np.ndarray:
    """Whether a target point lies ahead of or beside a dead end, not back along its road.

    ``back_x``, ``back_y`` is the dead end's neighbour on its own road; a target within
    60° of that direction is the road itself curving back. Targets within the snap
    count as touching, whatever their direction.
    """
    dx, dy = nx_ - px, ny_ - py
    bx, by = back_x - px, back_y - py
    dist = np.hypot(dx, dy)
    cos = (dx * bx + dy * by) / np.maximum(dist * np.hypot(bx, by), 1e-12)
    return (dist <= SNAP_TOLERANCE_M) | (cos <= _BACKWARDS_COS)


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
    return "\n".join(lines + ([f"⚠ {warning}"] if warning else []))


def fragmentation_warning(report: dict, source: str = "") -> str | None:
    """One warning sentence, Chinese then English, when the network is fragmented."""
    if not report["fragmented"]:
        return None
    where = f"{source}: " if source else ""
    return (f"{where}路网不连通：{report['pieces']:,} 个连通片，最大片仅占总长 "
            f"{report['largest_share']:.0%}，孤立片上的居民到不了机构；请核对路网或运行 coverage network repair。 / "
            f"The road network is fragmented: {report['pieces']:,} pieces, the largest holds "
            f"{report['largest_share']:.0%} of the length; residents on the other pieces reach no "
            f"facility across them. Check the file or repair it (coverage network repair).")


def check_network(network: RoadNetwork, options=None, *, warn: bool = True,
                  path: str | Path | None = None, cache_dir: str | Path | None = None) -> dict:
    """:func:`topology_report` with a pack's or command's road-file options, warning if fragmented.

    The warning (:class:`coverage.roadfile.RoadFileWarning`) is what commands print and
    the app shows (``warn=False`` for callers that print the report in full); the report
    is also kept as ``network.topology``. With the network's file ``path`` and
    ``cache_dir`` the report is computed once per file content and options (:func:`coverage.network_cache.cached_report`): it
    costs more than loading the cached network.
    """
    import warnings

    from coverage.network_cache import cached_report
    from coverage.roadfile import RoadFileOptions, RoadFileWarning

    options = options or RoadFileOptions()
    grade_separated = options.grade_separated_highways()
    report = cached_report(
        path or "", cache_dir if path else None, "topology",
        # "topology N": bump N when topology_report's answer changes.
        {"report": "topology 1", "reader": options.reader_kwargs(),
         "tolerance": options.tolerance, "grade_separated": sorted(grade_separated)},
        lambda: topology_report(network, tolerance=options.tolerance,
                                grade_separated=grade_separated))
    network.topology = report
    text = fragmentation_warning(report, Path(network.source).name if network.source else "")
    if text and warn:
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


def _pieces(xy: np.ndarray, line: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Piece label per line and length per piece, joining lines by vertices within the snap."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(SNAP_TOLERANCE_M, output_type="ndarray")
    step = np.flatnonzero(line[:-1] == line[1:])
    labels = _components(len(xy), np.concatenate([pairs[:, 0], step]), np.concatenate([pairs[:, 1], step + 1]))
    per_line = labels[np.searchsorted(line, np.arange(count))]
    _, per_line = np.unique(per_line, return_inverse=True)
    seg = np.hypot(*(xy[step + 1] - xy[step]).T)
    lengths = np.bincount(per_line[line[step]], weights=seg, minlength=per_line.max() + 1)
    return per_line, lengths


@dataclass
class _Segments:
    """The straight segments of lines given as ordered vertices, with an STRtree of their boxes."""

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    line: np.ndarray
    start_along: np.ndarray  # distance along the line at A
    length: np.ndarray
    boxes: np.ndarray
    tree: object

    @classmethod
    def of(cls, xy: np.ndarray, line: np.ndarray) -> "_Segments":
        import shapely

        j = np.flatnonzero(line[:-1] == line[1:])
        a, b = xy[j], xy[j + 1]
        length = np.hypot(*(b - a).T)
        cum = np.concatenate([[0.0], np.cumsum(length)])
        first = np.searchsorted(j, np.searchsorted(line, line[j]))  # first segment of each one's line
        start_along = cum[:-1] - cum[first]
        boxes = shapely.box(np.minimum(a[:, 0], b[:, 0]), np.minimum(a[:, 1], b[:, 1]),
                            np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1]))
        return cls(a[:, 0], a[:, 1], b[:, 0], b[:, 1], line[j], start_along, length, boxes,
                   shapely.STRtree(boxes))

    def near(self, px, py, radius: float):
        """Pairs (point, segment) whose boxes are within ``radius``."""
        import shapely

        return self.tree.query(shapely.box(px - radius, py - radius, px + radius, py + radius))


def _insert(xy: np.ndarray, line: np.ndarray, new_line, new_along, new_xy):
    """Vertices with new ones added in order along their lines (exact repeats dropped)."""
    if len(new_line) == 0:
        return xy, line
    step = np.hypot(*np.diff(xy, axis=0).T)
    step[line[1:] != line[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(step)])
    along = cum - cum[np.searchsorted(line, line)]
    all_line = np.concatenate([line, new_line])
    all_along = np.concatenate([along, new_along])
    all_xy = np.concatenate([xy, new_xy])
    is_new = np.concatenate([np.zeros(len(line), bool), np.ones(len(new_line), bool)])
    order = np.lexsort((is_new, all_along, all_line))
    all_line, all_xy = all_line[order], all_xy[order]
    repeat = np.r_[False, (all_line[1:] == all_line[:-1]) & np.all(all_xy[1:] == all_xy[:-1], axis=1)]
    return all_xy[~repeat], all_line[~repeat]


def _allowed(end_graded: np.ndarray, target_graded: np.ndarray) -> np.ndarray:
    """An end may join a target that is at grade, or any target if it is graded itself."""
    return ~target_graded | end_graded


def _join_ends(xy, line, count: int, graded: np.ndarray, tolerance: float):
    """One round of T-junction vertices and dead-end connectors.

    Returns
    -------
    tuple
        ``(vertex_line, vertex_along, vertex_xy)`` to insert (T-junctions first, then
        the far ends of connectors), the number of T-junctions, and the connectors as
        ``(start_xy, end_xy, source_line)``.
    """
    segments = _Segments.of(xy, line)
    first = np.searchsorted(line, np.arange(count))
    last = np.r_[first[1:], len(line)] - 1
    end_vertex = np.concatenate([first, last])  # end k: line k's first, count + k its last
    back_vertex = np.concatenate([first + 1, last - 1])
    end_line = np.concatenate([np.arange(count), np.arange(count)])
    px, py = xy[end_vertex, 0], xy[end_vertex, 1]
    e, g = segments.near(px, py, max(tolerance, SNAP_TOLERANCE_M))
    target = segments.line[g]
    keep = target != end_line[e]
    e, g, target = e[keep], g[keep], target[keep]
    nx_, ny_, t, dist = _nearest_on_segments(px[e], py[e], segments.ax[g], segments.ay[g],
                                             segments.bx[g], segments.by[g])
    cand = pd.DataFrame({"end": e, "target": target, "seg": g, "dist": dist, "t": t, "x": nx_, "y": ny_})
    cand = cand.sort_values(["end", "target", "dist", "seg"], kind="stable").drop_duplicates(["end", "target"])
    e, target, g = (cand[c].to_numpy() for c in ("end", "target", "seg"))
    dist, t, nx_, ny_ = (cand[c].to_numpy() for c in ("dist", "t", "x", "y"))
    along = segments.start_along[g] + t * segments.length[g]
    # a vertex is needed where the nearest point is farther than the snap from the segment's ends
    needs = np.minimum(t, 1 - t) * segments.length[g] > SNAP_TOLERANCE_M
    allowed = _allowed(graded[end_line[e]], graded[target])

    touching = np.zeros(2 * count, bool)
    touching[e[dist <= SNAP_TOLERANCE_M]] = True
    tee = (dist <= SNAP_TOLERANCE_M) & allowed & needs

    bx, by = xy[back_vertex[e], 0], xy[back_vertex[e], 1]
    c = ~touching[e] & (dist <= tolerance) & allowed & _ahead(px[e], py[e], nx_, ny_, bx, by)
    pick = pd.DataFrame({"end": e[c], "dist": dist[c], "target": target[c], "row": np.flatnonzero(c)})
    pick = pick.sort_values(["end", "dist", "target"], kind="stable").drop_duplicates("end")
    ends, rows = pick["end"].to_numpy(), pick["row"].to_numpy()
    targets = target[rows]
    # two dead ends facing each other: one connector between the ends, from the lower one
    target_of = np.full(2 * count, -1)
    target_of[ends] = targets
    mate = np.full(len(ends), -1)
    for f in (targets + count, targets):  # the target's two ends; its first end wins a tie
        gap = np.hypot(px[f] - px[ends], py[f] - py[ends])
        mate = np.where((target_of[f] == end_line[ends]) & (gap <= tolerance), f, mate)
    paired = mate >= 0
    made = ~(paired & (mate < ends))
    end_xy = np.where(paired[:, None], np.column_stack([px[np.maximum(mate, 0)], py[np.maximum(mate, 0)]]),
                      np.column_stack([nx_[rows], ny_[rows]]))[made]
    far = made & ~paired & needs[rows]
    vertex_line = np.concatenate([target[tee], targets[far]])
    vertex_along = np.concatenate([along[tee], along[rows][far]])
    vertex_xy = np.concatenate([np.column_stack([nx_[tee], ny_[tee]]),
                                np.column_stack([nx_[rows][far], ny_[rows][far]])])
    start_xy = np.column_stack([px[ends[made]], py[ends[made]]])
    return (vertex_line, vertex_along, vertex_xy), int(tee.sum()), (start_xy, end_xy, end_line[ends[made]])


def _crossings(xy, line, count: int, graded: np.ndarray):
    """Vertices to add where two at-grade roads cross away from both roads' ends."""
    segments = _Segments.of(xy, line)
    first = np.searchsorted(line, np.arange(count))
    last = np.r_[first[1:], len(line)] - 1
    a, b = segments.tree.query(segments.boxes)
    la, lb = segments.line[a], segments.line[b]
    keep = (a < b) & (la != lb) & ~graded[la] & ~graded[lb]
    a, b, la, lb = a[keep], b[keep], la[keep], lb[keep]
    s_ = segments
    rx, ry = s_.bx[a] - s_.ax[a], s_.by[a] - s_.ay[a]
    qx, qy = s_.bx[b] - s_.ax[b], s_.by[b] - s_.ay[b]
    denom = rx * qy - ry * qx
    wx, wy = s_.ax[b] - s_.ax[a], s_.ay[b] - s_.ay[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (wx * qy - wy * qx) / denom
        u = (wx * ry - wy * rx) / denom
    hit = (denom != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    a, b, la, lb, t, u = a[hit], b[hit], la[hit], lb[hit], t[hit], u[hit]
    pax, pay = s_.ax[a] + t * (s_.bx[a] - s_.ax[a]), s_.ay[a] + t * (s_.by[a] - s_.ay[a])
    pbx, pby = s_.ax[b] + u * (s_.bx[b] - s_.ax[b]), s_.ay[b] + u * (s_.by[b] - s_.ay[b])

    def off_ends(lines_, x_, y_):
        d_first = np.hypot(xy[first[lines_], 0] - x_, xy[first[lines_], 1] - y_)
        d_last = np.hypot(xy[last[lines_], 0] - x_, xy[last[lines_], 1] - y_)
        return (d_first > SNAP_TOLERANCE_M) & (d_last > SNAP_TOLERANCE_M)

    inside = off_ends(la, pax, pay) & off_ends(lb, pbx, pby)
    need_a = inside & (np.minimum(t, 1 - t) * s_.length[a] > SNAP_TOLERANCE_M)
    need_b = inside & (np.minimum(u, 1 - u) * s_.length[b] > SNAP_TOLERANCE_M)
    # a vertex of one road lying on the other (crossing at the vertex) appears twice
    new = pd.DataFrame({
        "line": np.concatenate([la[need_a], lb[need_b]]),
        "along": np.concatenate([s_.start_along[a] + t * s_.length[a], s_.start_along[b] + u * s_.length[b]])
        [np.concatenate([need_a, need_b])],
        "x": np.concatenate([pax[need_a], pbx[need_b]]), "y": np.concatenate([pay[need_a], pby[need_b]]),
    })
    new = new.assign(kx=new["x"].round(6), ky=new["y"].round(6)).drop_duplicates(["line", "kx", "ky"])
    nodes = np.unique(np.round(np.column_stack([pax[need_a | need_b], pay[need_a | need_b]]), 3), axis=0)
    return new["line"].to_numpy(), new["along"].to_numpy(), new[["x", "y"]].to_numpy(), nodes


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
    xy, line = np.column_stack([x, y]).astype(float), lines.part.astype(np.int64)
    count = int(line.max()) + 1 if len(line) else 0
    part_feature = lines.feature[np.searchsorted(line, np.arange(count))]
    highway = lines.highway[part_feature]
    graded = np.isin(highway, list(options.grade_separated_highways())) | lines.bridge[part_feature]
    oneway = lines.oneway[part_feature]
    tolerance = float(options.tolerance)
    before_len = _pieces(xy, line, count)[1]
    repairs = []

    # duplicates (same geometry, class and direction) and zero-length lines
    geoms = shapely.linestrings(xy, indices=line)
    zero = shapely.length(geoms) <= _ZERO_LENGTH_M
    keys = np.where(oneway == 0, shapely.to_wkb(shapely.normalize(geoms)), shapely.to_wkb(geoms))
    dup = pd.DataFrame({"g": keys, "h": highway, "o": oneway}).duplicated().to_numpy() & ~zero
    for kind, mask in (("zero_length", zero), ("duplicate", dup)):
        repairs.append(pd.DataFrame({"kind": kind, "length_m": 0.0, "geometry": geoms[mask]}))
    keep = ~(zero | dup)
    renumber = np.cumsum(keep) - 1
    kept = keep[line]
    xy, line = xy[kept], renumber[line[kept]]
    count = int(keep.sum())
    part_feature, graded = part_feature[keep], graded[keep]
    added = np.zeros(count, bool)

    t_count = 0
    for _ in range(_MAX_ROUNDS):
        (v_line, v_along, v_xy), tees, (start, end, source) = _join_ends(xy, line, count, graded, tolerance)
        t_count += tees
        repairs.append(pd.DataFrame({"kind": "t_junction", "length_m": 0.0,
                                     "geometry": shapely.points(v_xy[:tees])}))
        xy, line = _insert(xy, line, v_line, v_along, v_xy)
        if len(start) == 0:
            break
        connectors = shapely.linestrings(np.stack([start, end], axis=1))
        repairs.append(pd.DataFrame({"kind": "connector", "length_m": shapely.length(connectors),
                                     "geometry": connectors}))
        xy = np.concatenate([xy, np.stack([start, end], axis=1).reshape(-1, 2)])
        line = np.concatenate([line, np.repeat(np.arange(count, count + len(start)), 2)])
        count += len(start)
        part_feature = np.concatenate([part_feature, part_feature[source]])
        graded = np.concatenate([graded, graded[source]])
        added = np.concatenate([added, np.ones(len(start), bool)])

    c_line, c_along, c_xy, crossing_nodes = _crossings(xy, line, count, graded)
    xy, line = _insert(xy, line, c_line, c_along, c_xy)
    repairs.append(pd.DataFrame({"kind": "crossing", "length_m": 0.0,
                                 "geometry": shapely.points(crossing_nodes)}))

    after, after_len = _pieces(xy, line, count)
    repairs = pd.concat([r for r in repairs if len(r)] or [repairs[0]], ignore_index=True)

    def to_wgs(g):
        coords = shapely.get_coordinates(g)
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], utm)
        return shapely.set_coordinates(np.array(g, dtype=object), np.column_stack([lon, lat]))

    columns = [c for c in frame.columns if c != frame.geometry.name]
    attrs = frame[columns].iloc[part_feature].reset_index(drop=True)
    if lines.oneway_column is not None and added.any():
        two_way = np.flatnonzero(lines.oneway == 0)
        if len(two_way):  # connectors run both ways
            attrs.loc[added, lines.oneway_column] = frame[lines.oneway_column].iloc[two_way[0]]
    geoms = shapely.linestrings(xy, indices=line)
    roads = gpd.GeoDataFrame(attrs.assign(added=added), geometry=to_wgs(geoms), crs="EPSG:4326")
    outside = after != np.argmax(after_len)
    disconnected = roads[outside].assign(piece=after[outside], piece_length_m=after_len[after[outside]])
    repairs_gdf = gpd.GeoDataFrame(repairs[["kind", "length_m"]],
                                   geometry=to_wgs(repairs["geometry"].to_numpy()), crs="EPSG:4326")
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
