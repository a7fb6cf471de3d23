"""Large synthetic road networks for benchmarks.

:func:`grid_network` builds a perturbed grid around 106.5°E 29.5°N (central
Chongqing) with a road-class hierarchy, one-way streets, footpaths closed to cars and
missing blocks, so that routing and isochrone code meets the irregularities of a real
network at any size. It is deterministic for a given ``(n_nodes, seed)``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coverage.network import RoadNetwork  # noqa: E402

CENTRE_LON = 106.5
CENTRE_LAT = 29.5
#: Block size in metres: a dense urban grid.
SPACING_M = 120.0
_M_PER_DEG_LAT = 111_320.0

# Road classes along every k-th grid line, coarsest first (k, class).
_HIERARCHY = ((48, "motorway"), (16, "primary"), (8, "secondary"), (4, "tertiary"))


def _line_class(k: np.ndarray) -> np.ndarray:
    """OSM highway class of grid line ``k`` (row for east-west edges, column for north-south)."""
    out = np.full(k.shape, "residential", dtype=object)
    for every, name in reversed(_HIERARCHY):
        out[k % every == 0] = name
    return out


def grid_network(n_nodes: int, seed: int = 0) -> RoadNetwork:
    """A perturbed grid road network of about ``n_nodes`` nodes.

    Nodes sit on a ``SPACING_M`` grid, jittered by up to 30% of a block. East-west
    and north-south grid lines carry a class hierarchy (every 48th line a
    motorway, every 16th primary, 8th secondary, 4th tertiary, the rest
    residential). Among residential streets, 8% of blocks are missing, 3% are
    footways (closed to cars), 2% service roads and 10% one-way in a random
    direction. Lengths are the straight distance times a curvature factor of 1-1.1.
    Node ids are sparse int64 (as OSM ids are), so code must not assume ``0..n-1``.

    Parameters
    ----------
    n_nodes
        Approximate number of nodes (the grid is ``ceil(sqrt(n))`` columns wide).
    seed
        Seed of the random perturbations.

    Returns
    -------
    RoadNetwork
        Nodes in WGS-84, edges stored once each with ``u, v, length, highway,
        oneway, name``.
    """
    if n_nodes < 4:
        raise ValueError(f"n_nodes must be at least 4, got {n_nodes}")
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_nodes))
    rows = math.ceil(n_nodes / cols)
    n = rows * cols

    row, col = np.divmod(np.arange(n, dtype=np.int64), cols)
    jitter = rng.uniform(-0.3, 0.3, size=(2, n)) * SPACING_M
    x_m = (col - (cols - 1) / 2.0) * SPACING_M + jitter[0]
    y_m = (row - (rows - 1) / 2.0) * SPACING_M + jitter[1]
    lat = CENTRE_LAT + y_m / _M_PER_DEG_LAT
    lon = CENTRE_LON + x_m / (_M_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT)))
    node_ids = 1_000_000_000 + 7 * np.arange(n, dtype=np.int64)
    nodes = pd.DataFrame({"x": lon, "y": lat}, index=pd.Index(node_ids, name="osmid"))

    idx = np.arange(n, dtype=np.int64).reshape(rows, cols)
    east_u, east_v = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    north_u, north_v = idx[:-1, :].ravel(), idx[1:, :].ravel()
    u = np.concatenate([east_u, north_u])
    v = np.concatenate([east_v, north_v])
    highway = np.concatenate([_line_class(row[east_u]), _line_class(col[north_u])])

    residential = highway == "residential"
    draw = rng.random(u.size)
    keep = ~(residential & (draw < 0.08))
    highway[residential & (draw >= 0.08) & (draw < 0.11)] = "footway"
    highway[residential & (draw >= 0.11) & (draw < 0.13)] = "service"
    oneway = residential & (rng.random(u.size) < 0.10)
    flip = oneway & (rng.random(u.size) < 0.5)
    u, v = np.where(flip, v, u), np.where(flip, u, v)

    straight = np.hypot(x_m[u] - x_m[v], y_m[u] - y_m[v])
    length = np.maximum(straight * rng.uniform(1.0, 1.1, size=u.size), 1.0)

    edges = pd.DataFrame(
        {
            "u": node_ids[u[keep]],
            "v": node_ids[v[keep]],
            "length": length[keep],
            "highway": highway[keep],
            "oneway": oneway[keep],
            "name": np.full(int(keep.sum()), "", dtype=object),
        }
    )
    return RoadNetwork(
        nodes=nodes,
        edges=edges,
        source=f"grid_network(n_nodes={n_nodes}, seed={seed})",
        provenance={"source": "benchmarks/networks.py", "quality": "synthetic"},
    )
