"""Synthetic road networks for regions without an open road dataset.

No open-licence road network of Chongqing can be shipped, so the demonstration
region packs carry a **synthetic** network: generated deterministically inside the
real district outline, connecting the real settlements, and written as OpenStreetMap
XML so that it goes through exactly the loader real OpenStreetMap data uses
(:func:`osmnx.graph_from_xml`). It is plausible, not true: no road in it is surveyed.

The rules, in the metric CRS of the region (UTM), every random draw from one
``numpy.random.default_rng(seed)``, every collection sorted:

1. **Terrain** (地形). Height is smooth value noise on a raster of :data:`CELL_M`
   cells, stretched along the NNE-SSW axis (:data:`RIDGE_AZIMUTH_DEG`) of the
   parallel anticline ridges of western Chongqing (缙云山, 中梁山): lattice spacing
   14 km along the axis and 3 km across, a finer ridge octave, and isotropic hills
   of 2 km and 0.7 km, scaled to :data:`RELIEF_M` of relief. A step between
   neighbouring cells (16-neighbourhood: king and knight moves) costs its length
   times the mean cell cost ``1 + 1.5 h + texture`` (``h`` normalised height,
   ``texture`` 500 m noise in [0, 1]) plus :data:`CLIMB_COST` per metre climbed, so
   roads keep to valleys, follow contours and cross ridges at saddles.
2. **Trunk** (快速路). One road from end to end of the outline along the ridge axis
   (when it is longer than 8 km), on flattened costs (tunnels, bridges). It is
   grade-separated: it meets other roads only where they share its raster cells.
3. **Arterials** (干线). Town seats (kind ``street``/``town``/``township``) are
   linked along the Gabriel graph of the seats, which contains their minimum
   spanning tree and adds loops. Spanning-tree links are ``primary``, the others
   ``secondary``; each follows the least-cost path on the raster
   (:func:`scipy.sparse.csgraph.dijkstra`), cells of roads built before at
   :data:`ROAD_DISCOUNT` of their cost so that links share corridors. Named after
   their ends: ``虎溪—西永公路``.
4. **Facility and village roads**. From every facility (``<名>连接路``,
   ``tertiary``) and village (``<村>村道``, ``unclassified``) the least-cost path to
   the nearest road so far, from one multi-source search per kind, so village roads
   merge into trees as real ones do.
5. **Rural web**. Points of a jittered :data:`RURAL_SPACING_M` lattice farther than
   :data:`RURAL_GAP_M` from every road are linked the same way (unnamed
   ``unclassified``), so inhabited land is within a few km of a road.
6. **Shape**. Raster paths become chains between junctions, smoothed (two Chaikin
   passes), wound sideways by two smooth waves (25 m on trunk/primary, 45 m on
   others, fading out at the junctions) and simplified (tolerance 0.1 cell).
7. **Town streets** (街区). Around each seat a grid rotated to the ridge axis
   ±15°, spacing 220/260/300 m for 街道/镇/乡, lines offset and waving by a few
   percent of the spacing, clipped to an ellipse (semi-axes 1.25 r and 0.8 r,
   ``r`` growing with the square root of the population) and to the seat's Voronoi
   cell, so that neighbouring towns do not overlap. The two centre lines pass through
   the seat point, ``<镇>大道`` and ``<镇>正街`` (``tertiary``); the others are
   ``residential``, ``<镇>一路, 二路...`` and ``<镇>一街, 二街...``.
8. **Graph**. Every settlement gets a stub from its raster cell to its exact point.
   Lines are cut to at most :data:`MAX_SEGMENT_M` with their vertices pulled inside
   the outline, noded where they cross (:func:`shapely.node`; the trunk apart),
   vertices within :data:`SNAP_M` merged, duplicate segments dropped (higher class
   wins), and only the largest connected component kept. Every vertex is a node, so
   no edge is longer than :data:`MAX_SEGMENT_M`. All roads are two-way; each noded
   piece of line is one OSM way.

Node ids are 1..n in (lat, lon) order; coordinates are rounded to 7 decimals.
"""

from __future__ import annotations

import os
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.affinity
from scipy import ndimage
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree

from coverage.crs import utm_crs
from coverage.errors import InputError, atomic_path
from coverage.network import RoadNetwork

#: Raster cell of the terrain and of least-cost paths, metres (grown for big regions).
CELL_M = 120.0
#: Most raster cells; the cell grows beyond :data:`CELL_M` to stay under it.
MAX_CELLS = 250_000
#: Azimuth of the ridge axis, degrees clockwise from north (NNE-SSW).
RIDGE_AZIMUTH_DEG = 20.0
#: Longest road segment (edge) the generator writes, metres.
MAX_SEGMENT_M = 150.0
#: Vertices closer than this become one node, metres.
SNAP_M = 2.0
#: Height range of the synthetic terrain, metres (western Chongqing: ~200-900 m).
RELIEF_M = 600.0
#: Cost of one metre of climb, in metres of flat road: roads follow the contours.
CLIMB_COST = 20.0
#: Cost factor of cells already carrying a road, for later arterials.
ROAD_DISCOUNT = 0.7
#: Rural web: lattice spacing and the distance from roads that calls for one, metres.
RURAL_SPACING_M = 2000.0
RURAL_GAP_M = 1200.0

#: Road classes by rank: where two roads share a raster step, the higher class wins.
RANK = {"residential": 1, "unclassified": 2, "tertiary": 3, "secondary": 4,
        "primary": 5, "trunk": 6}
_CLASS = {rank: name for name, rank in RANK.items()}

SEAT_KINDS = ("street", "town", "township")
_SUFFIXES = ("社区居委会", "村民委员会", "居民委员会", "村委会", "居委会", "街道", "社区", "镇", "乡", "村")
_DIGITS = "零一二三四五六七八九"


def _stem(name: str) -> str:
    """A place name without its administrative suffix: ``虎溪街道`` -> ``虎溪``."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _numeral(n: int) -> str:
    """Chinese numeral for 1 <= n <= 99: 1 -> 一, 10 -> 十, 12 -> 十二, 30 -> 三十."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


# --------------------------------------------------------------------------- terrain


class _Raster:
    """The terrain raster over the outline and its 16-neighbour graph.

    Cell ``k`` (a cell whose centre lies inside the outline, in row-major order) has
    centre ``xy[k]``, cost ``cost[k]`` and height ``z[k]`` (m); ``row``/``indices``
    are the directed neighbour pairs of the CSR structure ``indptr``/``indices``, and
    ``step`` their centre distances.
    """

    def __init__(self, outline, rng: np.random.Generator) -> None:
        minx, miny, maxx, maxy = outline.bounds
        cell = max(CELL_M, float(np.sqrt((maxx - minx) * (maxy - miny) / MAX_CELLS)))
        nx = int(np.ceil((maxx - minx) / cell)) + 1
        ny = int(np.ceil((maxy - miny) / cell)) + 1
        gx = minx + cell * np.arange(nx)
        gy = miny + cell * np.arange(ny)
        X, Y = np.meshgrid(gx, gy)
        mask = shapely.contains_xy(outline, X, Y)
        height = _ridge_noise(X, Y, rng)
        h = (height - height[mask].min()) / max(np.ptp(height[mask]), 1e-9)
        texture = _value_noise(X, Y, 500.0, 500.0, rng)
        cost = 1.0 + 1.5 * h + texture

        index = np.full(mask.shape, -1, dtype=np.int64)
        index[mask] = np.arange(int(mask.sum()))
        rows, cols, steps = [], [], []
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1)):
            a = index[: ny - dy, max(0, -dx): nx - max(0, dx)]
            b = index[dy:, max(0, dx): nx + min(0, dx)]
            ok = (a >= 0) & (b >= 0)
            rows += [a[ok], b[ok]]
            cols += [b[ok], a[ok]]
            steps.append(np.full(2 * int(ok.sum()), cell * np.hypot(dx, dy)))
        structure = csr_array(
            (np.concatenate(steps), (np.concatenate(rows), np.concatenate(cols))),
            shape=(int(mask.sum()),) * 2,
        )
        self.cell = cell
        self.xy = np.column_stack([X[mask], Y[mask]])
        self.cost = cost[mask]
        self.z = RELIEF_M * h[mask]
        self.indptr = structure.indptr
        self.indices = structure.indices
        self.step = structure.data
        self.row = np.repeat(np.arange(len(self.xy)), np.diff(self.indptr))
        self.tree = cKDTree(self.xy)

    def graph(self, factor: np.ndarray | None = None, *, cost: np.ndarray | None = None,
              climb: float = CLIMB_COST) -> csr_array:
        """The raster graph: each step costs its length times the mean cell cost, plus
        ``climb`` per metre of height change, times the mean cell ``factor``."""
        cost = self.cost if cost is None else cost
        a, b = self.row, self.indices
        weight = self.step * 0.5 * (cost[a] + cost[b]) + climb * np.abs(self.z[a] - self.z[b])
        if factor is not None:
            weight *= 0.5 * (factor[a] + factor[b])
        return csr_array((weight, self.indices, self.indptr), shape=(len(self.xy),) * 2)

    def nearest(self, xy: np.ndarray) -> np.ndarray:
        """Index of the raster cell nearest to each point."""
        return self.tree.query(xy)[1].astype(np.int64)


def _value_noise(u: np.ndarray, v: np.ndarray, du: float, dv: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise: a random lattice of spacing (du, dv), cubic-interpolated."""
    iu = (u - u.min()) / du + 1.0
    iv = (v - v.min()) / dv + 1.0
    lattice = rng.random((int(iu.max()) + 4, int(iv.max()) + 4))
    return ndimage.map_coordinates(lattice, [iu.ravel(), iv.ravel()], order=3,
                                   mode="nearest").reshape(u.shape)


def _axes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along and across the ridge axis."""
    az = np.radians(RIDGE_AZIMUTH_DEG)
    return x * np.sin(az) + y * np.cos(az), x * np.cos(az) - y * np.sin(az)


def _ridge_noise(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Terrain height: ridges elongated along the NNE-SSW axis, plus fine texture."""
    along, across = _axes(x, y)
    return (_value_noise(along, across, 14000.0, 3000.0, rng)
            + 0.5 * _value_noise(along, across, 6000.0, 1500.0, rng)
            + 0.5 * _value_noise(x, y, 2000.0, 2000.0, rng)
            + 0.4 * _value_noise(x, y, 700.0, 700.0, rng))


# --------------------------------------------------------------------------- raster roads


class _RasterRoads:
    """Roads as steps between raster cells, each with a class rank and a name.

    Steps are recorded in order; where steps repeat, the highest rank wins, then the
    earliest record (so a shared tail keeps the name of the first road built on it).
    """

    def __init__(self) -> None:
        self.a: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.rank: list[np.ndarray] = []
        self.name: list[str] = []
        self.name_id: list[np.ndarray] = []

    def add(self, cells: np.ndarray, highway: str, name: str) -> None:
        if len(cells) < 2:
            return
        self.name.append(name)
        n = len(cells) - 1
        self.a.append(np.minimum(cells[:-1], cells[1:]))
        self.b.append(np.maximum(cells[:-1], cells[1:]))
        self.rank.append(np.full(n, RANK[highway]))
        self.name_id.append(np.full(n, len(self.name) - 1))

    def cells(self) -> np.ndarray:
        if not self.a:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(self.a + self.b))

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unique steps (a < b) with their winning rank and name id."""
        a, b = np.concatenate(self.a), np.concatenate(self.b)
        rank, name = np.concatenate(self.rank), np.concatenate(self.name_id)
        order = np.lexsort((name, -rank, b, a))
        a, b, rank, name = a[order], b[order], rank[order], name[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        return a[first], b[first], rank[first], name[first]


def _trace(pred: np.ndarray, start: int) -> np.ndarray:
    """Cells from ``start`` back to the search source along a predecessor array."""
    path = [start]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return np.asarray(path, dtype=np.int64)


def _gabriel_pairs(xy: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i < j) of the Gabriel graph of points: no third point lies in the circle
    with diameter ij. It contains the minimum spanning tree and adds loops."""
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    pairs = []
    for i in range(len(xy)):
        for j in range(i + 1, len(xy)):
            inside = d2[i] + d2[j] < d2[i, j]
            inside[[i, j]] = False
            if not inside.any():
                pairs.append((i, j))
    return pairs


def _arterials(raster: _Raster, roads: _RasterRoads, seats: pd.DataFrame) -> None:
    """Least-cost arterials between seats (MST links primary, other Gabriel links
    secondary)."""
    cells = seats["cell"].to_numpy()
    xy = raster.xy[cells]
    if len(seats) < 2:
        return
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    mst = minimum_spanning_tree(csr_array(np.triu(dist))).tocoo()
    tree = {(min(i, j), max(i, j)) for i, j in zip(mst.row.tolist(), mst.col.tolist())}
    links = sorted(set(_gabriel_pairs(xy)) | tree,
                   key=lambda p: (p not in tree, dist[p], p))
    factor = np.ones(len(raster.xy))
    factor[roads.cells()] = ROAD_DISCOUNT
    stems = seats["name"].map(_stem).tolist()
    for i, j in links:
        _, pred = dijkstra(raster.graph(factor), indices=int(cells[i]),
                           return_predecessors=True)
        if pred[cells[j]] < 0:
            continue  # the seats lie in separate parts of the outline
        path = _trace(pred, int(cells[j]))
        roads.add(path, "primary" if (i, j) in tree else "secondary",
                  f"{stems[i]}—{stems[j]}公路")
        factor[path] = ROAD_DISCOUNT


def _trunk(raster: _Raster, roads: _RasterRoads, seats: pd.DataFrame) -> None:
    """One expressway from end to end of the outline along the ridge axis."""
    _, part = connected_components(raster.graph(), directed=False)
    cells = np.flatnonzero(part == np.argmax(np.bincount(part)))  # the main landmass
    along, _ = _axes(raster.xy[cells, 0], raster.xy[cells, 1])
    start, end = int(cells[np.argmin(along)]), int(cells[np.argmax(along)])
    if along.max() - along.min() < 8000.0 or len(seats) < 2:
        return
    flat = 1.0 + 0.5 * (raster.cost - 1.0)
    _, pred = dijkstra(raster.graph(cost=flat, climb=0.3 * CLIMB_COST), indices=start,
                       return_predecessors=True)
    seat_xy = raster.xy[seats["cell"].to_numpy()]
    ends = [int(np.argmin(np.hypot(*(seat_xy - raster.xy[c]).T))) for c in (start, end)]
    stems = seats["name"].map(_stem).tolist()
    roads.add(_trace(pred, end), "trunk", f"{stems[ends[0]]}—{stems[ends[1]]}快速路")


def _feeders(raster: _Raster, roads: _RasterRoads, cells: np.ndarray,
             highway: str, names: list[str], fallback: np.ndarray) -> None:
    """Least-cost roads from each cell to the nearest road (one multi-source search)."""
    sources = roads.cells()
    if len(sources) == 0:
        sources = fallback
    if len(cells) == 0 or len(sources) == 0:
        return
    _, pred, _ = dijkstra(raster.graph(), indices=sources,
                          return_predecessors=True, min_only=True)
    for cell, name in zip(cells.tolist(), names):
        if pred[cell] >= 0:
            roads.add(_trace(pred, cell), highway, name)


def _rural_points(raster: _Raster, roads: _RasterRoads,
                  rng: np.random.Generator) -> np.ndarray:
    """Cells of a jittered lattice that lie farther than RURAL_GAP_M from every road."""
    lo, hi = raster.xy.min(axis=0), raster.xy.max(axis=0)
    gx = np.arange(lo[0], hi[0] + RURAL_SPACING_M, RURAL_SPACING_M)
    gy = np.arange(lo[1], hi[1] + RURAL_SPACING_M, RURAL_SPACING_M)
    pts = np.column_stack([a.ravel() for a in np.meshgrid(gx, gy)])
    pts = pts + rng.uniform(-0.35, 0.35, pts.shape) * RURAL_SPACING_M
    dist, cells = raster.tree.query(pts)
    cells = np.unique(cells[dist < raster.cell])
    road = roads.cells()
    if len(road) == 0 or len(cells) == 0:
        return cells
    gap = cKDTree(raster.xy[road]).query(raster.xy[cells])[0]
    return cells[gap > RURAL_GAP_M]


def _chains(raster: _Raster, roads: _RasterRoads) -> list[tuple[np.ndarray, int, str]]:
    """The road steps as maximal chains of cells with one class and name each.

    A chain ends at cells where the step graph branches, ends, or the class or name
    changes; chains are returned in order of their first step.
    """
    a, b, rank, name = roads.steps()
    ends = np.concatenate([a, b])
    deg = np.bincount(ends, minlength=len(raster.xy))
    # adjacency: for every cell, its incident steps sorted by step index
    step_of = np.concatenate([np.arange(len(a)), np.arange(len(a))])
    order = np.lexsort((step_of, ends))
    ends, step_of = ends[order], step_of[order]
    start = np.searchsorted(ends, np.arange(len(raster.xy)))
    used = np.zeros(len(a), dtype=bool)
    label = rank * (len(roads.name) + 1) + name

    def incident(cell: int) -> np.ndarray:
        return step_of[start[cell]: start[cell] + deg[cell]]

    def through(cell: int, step: int) -> bool:
        """Whether a chain arriving at ``cell`` by ``step`` continues past it."""
        if deg[cell] != 2:
            return False
        s = incident(cell)
        return label[s[0]] == label[s[1]] and not used[s[s != step][0]]

    chains = []
    for s0 in range(len(a)):
        if used[s0]:
            continue
        used[s0] = True
        halves = []
        for cell in (int(b[s0]), int(a[s0])):  # walk out of both ends of the step
            walk, step = [cell], s0
            while through(cell, step):
                s = incident(cell)
                step = int(s[s != step][0])
                used[step] = True
                cell = int(b[step]) if a[step] == cell else int(a[step])
                walk.append(cell)
            halves.append(walk)
        path = np.asarray(halves[1][::-1] + halves[0])
        chains.append((path, int(rank[s0]), roads.name[int(name[s0])]))
    return chains


def _chaikin(xy: np.ndarray, passes: int = 2) -> np.ndarray:
    """Chaikin corner cutting, keeping both end points."""
    for _ in range(passes):
        if len(xy) < 3:
            return xy
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        xy = np.vstack([xy[:1], np.column_stack([q, r]).reshape(-1, 2)[1:-1], xy[-1:]])
    return xy


def _meander(xy: np.ndarray, rank: int, rng: np.random.Generator) -> np.ndarray:
    """Wind a path sideways by two smooth waves, tapering to nothing at its ends.

    The raster path holds the route; the waves (amplitude 25 m on trunk and primary
    roads, 45 m on smaller ones) add the bends a road takes around every hillock.
    """
    line = shapely.segmentize(shapely.LineString(xy), 40.0)
    xy = shapely.get_coordinates(line)
    s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    tangent = np.gradient(xy, axis=0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.maximum(np.hypot(*normal.T), 1e-9)[:, None]
    amp, (lo, hi) = (25.0, (800.0, 1600.0)) if rank >= RANK["primary"] else (45.0, (400.0, 900.0))
    waves = rng.uniform(lo, hi, 2)
    phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    offset = amp * (np.sin(2 * np.pi * s / waves[0] + phase[0])
                    + 0.5 * np.sin(2 * np.pi * s / waves[1] + phase[1]))
    taper = np.clip(np.minimum(s, s[-1] - s) / 300.0, 0.0, 1.0)
    return xy + (offset * taper)[:, None] * normal


def _inside(lines: np.ndarray, outline) -> np.ndarray:
    """Move the vertices of lines that fall outside the outline onto its edge."""
    def clamp(coords: np.ndarray) -> np.ndarray:
        out = ~shapely.contains_xy(outline, coords[:, 0], coords[:, 1])
        if out.any():
            near = shapely.shortest_line(shapely.points(coords[out]), outline)
            coords = coords.copy()
            coords[out] = shapely.get_coordinates(shapely.get_point(near, 1))
        return coords
    return shapely.transform(lines, clamp)


# --------------------------------------------------------------------------- town grids


def _town_grid(seat: pd.Series, clip, rng: np.random.Generator) -> list[tuple]:
    """Perturbed street grid around one seat: (line, highway, name) triples."""
    kind = seat["kind"]
    pop = max(float(seat["population"]), 0.0)
    if kind == "street":
        radius, spacing = np.clip(300.0 + 6.0 * np.sqrt(pop), 500.0, 2800.0), 220.0
    else:
        radius = np.clip(200.0 + 3.5 * np.sqrt(pop), 350.0, 1500.0)
        spacing = 260.0 if kind == "town" else 300.0
    angle = np.radians(90.0 - RIDGE_AZIMUTH_DEG + rng.uniform(-15.0, 15.0))
    axis = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-axis[1], axis[0]])
    centre = np.array([seat["x"], seat["y"]])
    ellipse = shapely.affinity.rotate(
        shapely.affinity.scale(shapely.Point(centre).buffer(radius, 32), 1.25, 0.8),
        np.degrees(angle), origin=tuple(centre))
    area = shapely.intersection(ellipse, clip)
    stem = _stem(seat["name"])
    step = 100.0
    s = step * np.arange(-int(1.3 * radius / step), int(1.3 * radius / step) + 1)
    out = []
    for direction, side, centre_name, suffix in ((axis, normal, "大道", "路"),
                                                 (normal, axis, "正街", "街")):
        count = int(1.3 * radius / spacing)
        number = 0
        for k in range(-count, count + 1):
            offset = k * spacing + (rng.normal(0.0, 0.12 * spacing) if k else 0.0)
            wave = 0.06 * spacing * np.sin(2 * np.pi * s / rng.uniform(600.0, 1200.0)
                                           + (rng.uniform(0, 2 * np.pi) if k else 0.0))
            xy = centre + np.outer(s, direction) + np.outer(offset + wave, side)
            piece = shapely.intersection(shapely.LineString(xy), area)
            if k == 0:
                out.append((piece, "tertiary", stem + centre_name))
            elif not piece.is_empty:  # number the streets that exist, in order
                number += 1
                out.append((piece, "residential", f"{stem}{_numeral(number)}{suffix}"))
    return out


def _voronoi_cells(points: np.ndarray, extent) -> list:
    """The Voronoi cell of each point (in input order), clipped to ``extent``."""
    if len(points) == 1:
        return [extent]
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=extent))
    pts = shapely.points(points)
    return [shapely.intersection(cells[np.flatnonzero(shapely.contains(cells, p))[0]], extent)
            for p in pts]


# --------------------------------------------------------------------------- assembly


def _check_settlements(settlements: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("name", "lon", "lat", "population", "kind")
               if c not in settlements.columns]
    if missing:
        raise InputError("settlements", f"missing columns {missing}: expected name, lon, "
                         "lat, population, kind", field=missing[0])
    table = settlements.reset_index(drop=True)
    if table.empty:
        raise InputError("settlements", "no settlements: expected at least one place to "
                         "connect")
    kinds = (*SEAT_KINDS, "village", "facility")
    for i, row in enumerate(table.itertuples(index=False), start=1):
        if row.kind not in kinds:
            raise InputError("settlements", f"{row.kind!r} is not one of {kinds}",
                             row=i, field="kind")
        for field in ("lon", "lat", "population"):
            value = getattr(row, field)
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
                raise InputError("settlements", f"{value!r} is not a finite number",
                                 row=i, field=field)
    return table


def synthetic_road_network(boundary, settlements: pd.DataFrame, *, seed: int = 0,
                           metric_crs: str | None = None) -> RoadNetwork:
    """Generate a plausible, deterministic road network inside ``boundary``.

    Parameters
    ----------
    boundary
        Shapely (Multi)Polygon, WGS-84.
    settlements
        Columns ``name`` (Chinese), ``lon``, ``lat`` (WGS-84), ``population`` (weight,
        may be 0) and ``kind``: ``street``/``town``/``township`` for town seats,
        ``village`` for villages, ``facility`` for points that must be on the network.
    seed
        Seed of the one random generator; the same inputs and seed give the same
        network.
    metric_crs
        Working CRS; the UTM zone of the outline's centroid when None.

    Returns
    -------
    RoadNetwork
        Nodes ``x``, ``y`` (WGS-84, 7 decimals) indexed 1..n; edges ``u``, ``v``,
        ``length`` (m), ``highway``, ``oneway`` (all False), ``name``, ``way_id``.
        Settlements outside the outline, or in a part of it without roads, are listed
        in ``provenance['unreached']``.

    Raises
    ------
    InputError
        If a settlement column is missing or a value is not valid.
    """
    if boundary is None or boundary.is_empty or boundary.geom_type not in (
            "Polygon", "MultiPolygon"):
        raise InputError("boundary", "expected a non-empty (Multi)Polygon in WGS-84")
    table = _check_settlements(settlements)
    rng = np.random.default_rng(seed)
    if metric_crs is None:
        c = boundary.centroid
        metric_crs = utm_crs(c.x, c.y)
    fwd = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    inv = pyproj.Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    outline = shapely.make_valid(shapely.transform(boundary, lambda c: np.column_stack(
        fwd.transform(c[:, 0], c[:, 1]))))
    shapely.prepare(outline)
    x, y = fwd.transform(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    table = table.assign(x=x, y=y)

    raster = _Raster(outline, rng)
    table["cell"] = raster.nearest(table[["x", "y"]].to_numpy())
    seats = table[table["kind"].isin(SEAT_KINDS)].drop_duplicates("cell")
    seats = seats.sort_values(["population", "name"], ascending=[False, True])
    roads = _RasterRoads()
    _trunk(raster, roads, seats)
    _arterials(raster, roads, seats)
    heads = seats["cell"].to_numpy() if len(seats) else table["cell"].to_numpy()[:1]
    for kind, highway, suffix in (("facility", "tertiary", "连接路"),
                                  ("village", "unclassified", "村道")):
        feed = table[table["kind"] == kind].sort_values(["name", "x", "y"])
        _feeders(raster, roads, feed["cell"].to_numpy(), highway,
                 [_stem(n) + suffix for n in feed["name"]], heads)
    rural = _rural_points(raster, roads, rng)
    _feeders(raster, roads, rural, "unclassified", [""] * len(rural), heads)

    lines, highways, names = [], [], []
    if roads.a:
        for cells, rank, name in _chains(raster, roads):
            xy = _meander(_chaikin(raster.xy[cells]), rank, rng)
            lines.append(shapely.simplify(shapely.LineString(xy), 0.1 * raster.cell))
            highways.append(_CLASS[rank])
            names.append(name)
    if len(seats):
        clips = _voronoi_cells(seats[["x", "y"]].to_numpy(), outline)
        for (_, seat), clip in zip(seats.iterrows(), clips):
            for line, highway, name in _town_grid(seat, clip, rng):
                lines.append(line)
                highways.append(highway)
                names.append(name)
    # stubs from each settlement's raster cell to its exact point, named as its road
    stub = {"facility": ("tertiary", "{}连接路"), "village": ("unclassified", "{}村道")}
    seat_stub = ("tertiary", "{}正街")
    for row in table.itertuples(index=False):
        line = shapely.LineString([raster.xy[row.cell], (row.x, row.y)])
        if line.length > 1.0:
            highway, pattern = stub.get(row.kind, seat_stub)
            lines.append(shapely.intersection(line, outline))
            highways.append(highway)
            names.append(pattern.format(_stem(row.name)))

    nodes, edges = _assemble(lines, highways, names, outline)
    lon, lat = inv.transform(nodes[:, 0], nodes[:, 1])
    node_table = pd.DataFrame({"x": np.round(lon, 7), "y": np.round(lat, 7)})
    order = np.lexsort((node_table["x"], node_table["y"]))
    new_id = np.empty(len(order), dtype=np.int64)
    new_id[order] = np.arange(1, len(order) + 1)
    node_table = node_table.iloc[order].set_index(pd.Index(np.arange(1, len(order) + 1),
                                                           name="id"))
    edges["u"] = new_id[edges["u"].to_numpy()]
    edges["v"] = new_id[edges["v"].to_numpy()]

    near = cKDTree(nodes).query(table[["x", "y"]].to_numpy())[0] if len(nodes) else None
    unreached = sorted(table["name"][near > 300.0].tolist()) if near is not None else []
    counts = edges["highway"].value_counts().sort_index()
    provenance = {
        "source": (f"coverage.synthetic (seed {seed}): least-cost roads on a synthetic "
                   f"NNE-SSW ridge terrain linking {len(seats)} town seats and "
                   f"{int((table['kind'] == 'village').sum())} villages; not real roads"),
        "quality": "synthetic",
        "licence": "CC0-1.0 (generated)",
        "notes": "classes: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "metric_crs": metric_crs,
        "unreached": unreached,
    }
    return RoadNetwork(nodes=node_table, edges=edges, source="synthetic",
                       provenance=provenance)


def _assemble(lines: list, highways: list[str], names: list[str], outline):
    """Node the lines into a graph of short two-way segments (metric coordinates).

    Lines are cut to :data:`MAX_SEGMENT_M` and their vertices pulled inside the
    outline, twice (a pulled vertex can lengthen its segments).

    Returns the node coordinates and the edge table (u, v as row numbers of the
    coordinates) of the largest connected component.
    """
    geoms = np.asarray(lines, dtype=object)
    rank = np.array([RANK[h] for h in highways])
    keep = ~shapely.is_empty(geoms)
    for _ in range(2):
        geoms = _inside(shapely.segmentize(geoms, MAX_SEGMENT_M - 1.0), outline)
    parts, owner = shapely.get_parts(geoms[keep], return_index=True)
    owner = np.flatnonzero(keep)[owner]
    lengthy = shapely.length(parts) > 0
    parts, owner = parts[lengthy], owner[lengthy]
    # the trunk crosses other roads on bridges: it is noded apart from them and meets
    # them only where they share a raster cell (interchanges, at-grade entries)
    grade = np.array([h == "trunk" for h in highways])[owner]
    pieces = np.concatenate([
        shapely.get_parts(shapely.node(shapely.multilinestrings(parts[grade == g])))
        for g in (True, False)])
    # attribute every piece to the best source line it lies on
    probe = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    hit, src = shapely.STRtree(parts).query(probe, predicate="dwithin", distance=1e-6)
    src = owner[src]
    best = np.lexsort((src, -rank[src], hit))
    hit, src = hit[best], src[best]
    first = np.r_[True, hit[1:] != hit[:-1]]
    piece_src = np.full(len(pieces), -1)
    piece_src[hit[first]] = src[first]
    # segments: consecutive vertices of every piece
    coords, pid = shapely.get_coordinates(pieces, return_index=True)
    same = pid[1:] == pid[:-1]
    seg_a = np.flatnonzero(same)
    seg_piece = pid[seg_a]
    # snap vertices within SNAP_M into one node (representative: first vertex)
    pairs = cKDTree(coords).query_pairs(SNAP_M, output_type="ndarray")
    graph = csr_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                      shape=(len(coords),) * 2)
    _, cluster = connected_components(graph, directed=False)
    rep = np.full(cluster.max() + 1, len(coords))
    np.minimum.at(rep, cluster, np.arange(len(coords)))
    u, v = rep[cluster[seg_a]], rep[cluster[seg_a + 1]]
    src = piece_src[seg_piece]
    ok = (u != v) & (src >= 0)
    u, v, seg_piece, src = u[ok], v[ok], seg_piece[ok], src[ok]
    # one segment per node pair: the higher class, then the earlier line
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((np.arange(len(u)), src, -rank[src], hi, lo))
    dup = np.zeros(len(u), dtype=bool)
    dup[order[1:]] = (lo[order[1:]] == lo[order[:-1]]) & (hi[order[1:]] == hi[order[:-1]])
    u, v, seg_piece, src = u[~dup], v[~dup], seg_piece[~dup], src[~dup]
    # largest connected component
    used, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    uu, vv = inverse[: len(u)], inverse[len(u):]
    n = len(used)
    _, comp = connected_components(
        csr_array((np.ones(len(uu)), (uu, vv)), shape=(n, n)), directed=False)
    main = np.argmax(np.bincount(comp))
    keep = comp[uu] == main
    alive = comp == main
    remap = np.cumsum(alive) - 1
    uu, vv, seg_piece, src = remap[uu[keep]], remap[vv[keep]], seg_piece[keep], src[keep]
    xy = coords[used[alive]]
    # ways: runs of consecutive segments of one piece
    brk = np.r_[True, (seg_piece[1:] != seg_piece[:-1]) | (uu[1:] != vv[:-1])]
    edges = pd.DataFrame({
        "u": uu.astype(np.int64),
        "v": vv.astype(np.int64),
        "length": np.round(np.hypot(*(xy[uu] - xy[vv]).T), 3),
        "highway": np.asarray(highways, dtype=object)[src],
        "oneway": np.zeros(len(uu), dtype=bool),
        "name": np.asarray(names, dtype=object)[src],
        "way_id": np.cumsum(brk).astype(np.int64),
    })
    return xy, edges


# --------------------------------------------------------------------------- OSM XML

_NODE_ATTRS = 'version="1" changeset="1" timestamp="2020-01-01T00:00:00Z" uid="1" ' \
              'user="coverage" visible="true"'


def write_osm_xml(network: RoadNetwork, path: str | os.PathLike, *, note: str = "") -> None:
    """Write a network as deterministic OpenStreetMap XML 0.6, atomically.

    Nodes get ids 1..n in the order of the node table; ways follow ``way_id`` (or one
    way per edge without it), split wherever consecutive edges do not share a node.
    Every way carries ``highway``, ``name`` (if any), ``oneway=yes`` (if oneway) and
    ``source=synthetic``; a leading comment says the network is synthetic.

    Parameters
    ----------
    network
        The network (nodes ``x``/``y`` WGS-84; edges ``u``, ``v``, ``highway``,
        ``oneway``, ``name``, optional ``way_id``).
    path
        Output ``.osm`` file.
    note
        Extra text for the leading comment.
    """
    nodes = network.nodes
    ids = pd.Series(np.arange(1, len(nodes) + 1), index=nodes.index)
    edges = network.edges
    u = ids.loc[edges["u"]].to_numpy()
    v = ids.loc[edges["v"]].to_numpy()
    way = edges["way_id"].to_numpy() if "way_id" in edges else np.arange(len(edges))
    oneway = edges["oneway"].fillna(False).astype(bool).to_numpy()
    highway = edges["highway"].astype(str).to_numpy()
    name = edges["name"].fillna("").astype(str).to_numpy() if "name" in edges \
        else np.full(len(edges), "")
    order = np.argsort(way, kind="stable")
    u, v, way, oneway, highway, name = (a[order] for a in (u, v, way, oneway, highway, name))
    start = np.r_[True, (way[1:] != way[:-1]) | (u[1:] != v[:-1]) | (oneway[1:] != oneway[:-1])
                  | (highway[1:] != highway[:-1]) | (name[1:] != name[:-1])]
    comment = ("SYNTHETIC road network generated by coverage.synthetic: not real roads. "
               + note).strip().replace("--", "- -")
    lon, lat = nodes["x"].to_numpy(float), nodes["y"].to_numpy(float)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f"<!-- {escape(comment)} -->",
           '<osm version="0.6" generator="coverage synthetic road network">',
           f'  <bounds minlat="{lat.min():.7f}" minlon="{lon.min():.7f}" '
           f'maxlat="{lat.max():.7f}" maxlon="{lon.max():.7f}"/>']
    out += [f'  <node id="{i}" {_NODE_ATTRS} lat="{y:.7f}" lon="{x:.7f}"/>'
            for i, x, y in zip(range(1, len(nodes) + 1), lon.tolist(), lat.tolist())]
    bounds = np.r_[np.flatnonzero(start), len(u)]
    for w, (s, e) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist()), start=1):
        out.append(f'  <way id="{w}" {_NODE_ATTRS}>')
        out += [f'    <nd ref="{n}"/>' for n in [int(u[s]), *v[s:e].tolist()]]
        out.append(f'    <tag k="highway" v={quoteattr(highway[s])}/>')
        if name[s]:
            out.append(f'    <tag k="name" v={quoteattr(name[s])}/>')
        if oneway[s]:
            out.append('    <tag k="oneway" v="yes"/>')
        out.append('    <tag k="source" v="synthetic"/>')
        out.append("  </way>")
    out.append("</osm>\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(out))
