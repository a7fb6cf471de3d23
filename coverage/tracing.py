"""Cells traced into polygons with array operations only (矢量化描边).

:func:`coverage.bands.trace` hands a cell mask to GDAL's polygoniser, which returns
every part as a GeoJSON-like dict of Python tuples: an isochrone by car on a large
network has some 2,000 parts (the reached roads' fringe breaks into single cells),
and that per-part Python work is most of its cost. :func:`trace_cells` draws the
same polygons from the cells' boundary edges with numpy: each boundary edge of a
cell is oriented with the inside on its left, linked to the next edge at its end
vertex (at a vertex where two cells touch only at a corner it turns left, so those
cells stay separate parts: 4-connectivity, as ``connectivity=4``), the rings are the
cycles of that permutation, vertices on straight runs are dropped (GDAL drops them
too), and holes go to the part whose cells surround them. The result equals GDAL's
polygons as point sets, vertex for vertex up to where each ring starts and the order
of the parts; :func:`coverage.bands.trace` stays the reference the tests compare with.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage
from scipy.sparse import csgraph, csr_matrix

# Directions of an edge, counter-clockwise: a left turn is +1.
_EAST, _NORTH, _WEST, _SOUTH = 0, 1, 2, 3


def trace_cells(grid, cells: np.ndarray, transform=None) -> shapely.Geometry:
    """The polygon (or multipolygon) covering ``cells`` (flat indices of ``grid``), metric CRS.

    Same point set as :func:`coverage.bands.trace`: cells sharing an edge join, cells
    touching only at a corner are separate parts, holes are kept, vertices only
    where the boundary turns. An empty polygon when there are no cells.
    ``transform(x, y) -> (x, y)`` maps the vertices to another CRS before the
    geometry is built (a pyproj ``Transformer.transform``), so it is built once.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size == 0:
        return shapely.Polygon()
    row, col = np.divmod(cells, grid.cols)
    r0, c0 = row.min(), col.min()
    height, width = int(row.max() - r0 + 1), int(col.max() - c0 + 1)
    # Padded mask: cell (r, c) of the window is mask[r + 1, c + 1].
    mask = np.zeros((height + 2, width + 2), dtype=bool)
    mask[row - r0 + 1, col - c0 + 1] = True
    stride = width + 3  # lattice vertex (i, j) of the padded mask is i * stride + j
    # Horizontal edges between mask rows a (above) and a + 1 (below), on lattice row a + 1.
    a, b = np.nonzero(mask[1:] != mask[:-1])
    below = mask[a + 1, b]
    h_from = (a + 1) * stride + b + below          # inside below: walk west, from b + 1
    h_to = h_from + np.where(below, -1, 1)
    h_dir = np.where(below, _WEST, _EAST)
    # Vertical edges between mask columns b (left) and b + 1 (right), on lattice column b + 1.
    a2, b2 = np.nonzero(mask[:, 1:] != mask[:, :-1])
    right = mask[a2, b2 + 1]
    v_from = (a2 + ~right) * stride + b2 + 1       # inside right: walk south, from row a
    v_to = v_from + np.where(right, stride, -stride)
    v_dir = np.where(right, _SOUTH, _NORTH)
    start = np.concatenate([h_from, v_from])
    end = np.concatenate([h_to, v_to])
    direction = np.concatenate([h_dir, v_dir])
    # Next edge: the one leaving the end vertex; at a corner touch (two leave), the left turn.
    key = start * 4 + direction
    order = np.argsort(key, kind="stable")
    key = key[order]
    want = end * 4 + (direction + 1) % 4
    at = np.searchsorted(key, want)
    left = key[np.minimum(at, key.size - 1)] == want
    nxt = np.where(left, at, np.searchsorted(key, end * 4))
    # In sorted positions: edge k of the sorted list continues with nxt_sorted[k].
    nxt = nxt[order]
    start, direction = start[order], direction[order]
    end = end[order]
    ring, n_rings = _cycles(nxt)
    # Where two cells of one part touch at a corner, turning left makes one ring pass
    # that vertex twice (GEOS calls such a ring invalid): there the two passes are split
    # into two rings touching at the vertex, a hole touching its shell or another hole.
    saddle = start[1:][start[1:] == start[:-1]]
    if saddle.size:
        at_saddle = np.zeros((height + 3) * stride, dtype=bool)
        at_saddle[saddle] = True
        into = np.flatnonzero(at_saddle[end])
        into = into[np.argsort(end[into], kind="stable")].reshape(-1, 2)
        same = into[ring[into[:, 0]] == ring[into[:, 1]]]
        if same.size:
            nxt[same[:, 0]], nxt[same[:, 1]] = nxt[same[:, 1]], nxt[same[:, 0]]
            ring, n_rings = _cycles(nxt)
    return _assemble(grid, mask, r0, c0, stride, start, direction, nxt, ring, n_rings,
                     transform)


def _cycles(nxt: np.ndarray) -> tuple[np.ndarray, int]:
    """The cycle of each edge of the permutation ``nxt``, and how many cycles."""
    n = nxt.size
    count, ring = csgraph.connected_components(
        csr_matrix((np.ones(n, dtype=np.int8), (np.arange(n), nxt)), shape=(n, n)),
        directed=True, connection="weak")
    return ring, count


def _positions(nxt: np.ndarray, ring: np.ndarray, first: np.ndarray,
               size: np.ndarray) -> np.ndarray:
    """Each edge's place in its ring counted from the ring's first edge, by pointer
    jumping (list ranking): rounds of array operations, as many as the log2 of the
    longest ring, instead of a step per edge of it."""
    n = nxt.size
    last = nxt == first[ring]                # each ring ends on the edge before its first
    succ = np.where(last, np.arange(n), nxt)
    to_last = (~last).astype(np.int64)      # edges from here to the ring's last edge
    active = np.flatnonzero(~last)
    while active.size:
        ahead = succ[active]
        to_last[active] += to_last[ahead]
        succ[active] = succ[ahead]
        active = active[~last[succ[active]]]
    return size[ring] - 1 - to_last


def _assemble(grid, mask, r0, c0, stride, start, direction, nxt, ring, n_rings, transform):
    """Rings walked in order, straight-run vertices dropped, holes given to their parts."""
    n_edges = start.size
    size = np.bincount(ring, minlength=n_rings)
    first = np.full(n_rings, n_edges)
    np.minimum.at(first, ring, np.arange(n_edges))
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    walk = np.empty(n_edges, dtype=np.int64)
    walk[offset[ring] + _positions(nxt, ring, first, size)] = np.arange(n_edges)
    d = direction[walk]
    ring_of = np.repeat(np.arange(n_rings), size)
    prev = np.roll(np.arange(n_edges), 1)
    prev[offset] = offset + size - 1
    corner = d != d[prev]                           # the edge starts where the boundary turns
    vertex = start[walk[corner]]
    vring = ring_of[corner]
    i, j = np.divmod(vertex, stride)
    x = grid.left + (c0 + j - 1) * grid.cell_m
    y = grid.top - (r0 + i - 1) * grid.cell_m
    # A shell turns counter-clockwise (positive area), a hole clockwise (exact on the lattice).
    vcount = np.bincount(vring, minlength=n_rings)
    vstart = np.concatenate([[0], np.cumsum(vcount)[:-1]])
    following = np.arange(1, vertex.size + 1)
    following[vstart + vcount - 1] = vstart
    area = np.bincount(vring, j * -i[following] - j[following] * -i, minlength=n_rings)
    hole = area < 0
    if not hole.any():
        part = np.arange(n_rings)
    else:
        # Each ring's part: the component of the cell on the left of its first edge
        # (east: above it; west: below, to the left; north: above, to the left; south: below).
        labels, _ = ndimage.label(mask, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
        fi, fj = np.divmod(start[first], stride)
        fd = direction[first]
        part = labels[fi - ((fd == _EAST) | (fd == _NORTH)),
                      fj - ((fd == _WEST) | (fd == _NORTH))]
    # Rings ordered by part, shell first; vertices closed by repeating the first.
    ring_order = np.lexsort((hole, part))
    rank = np.empty(n_rings, dtype=np.int64)
    rank[ring_order] = np.arange(n_rings)
    vsort = np.argsort(rank[vring], kind="stable")
    if transform is not None:
        x, y = transform(x, y)
    # GeoArrow's ragged layout, built in one call: each ring's first vertex repeated
    # at its end, ring offsets, then each part's first ring.
    count = vcount[ring_order]
    ring_start = np.concatenate([[0], np.cumsum(count + 1)])
    coords = np.empty((vertex.size + n_rings, 2))
    into = np.arange(vertex.size) + np.repeat(np.arange(n_rings), count)
    coords[into, 0], coords[into, 1] = x[vsort], y[vsort]
    coords[ring_start[1:] - 1] = coords[ring_start[:-1]]
    _, rings_per_part = np.unique(part[ring_order], return_counts=True)
    part_start = np.concatenate([[0], np.cumsum(rings_per_part)])
    if rings_per_part.size == 1:
        return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords,
                                         (ring_start, part_start))[0]
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords,
                                     (ring_start, part_start, np.array([0, rings_per_part.size])))[0]
