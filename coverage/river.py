"""A river that roads cross only on its bridges (长江 at 万州).

A synthetic network (:mod:`coverage.synthetic`) knows no rivers: its least-cost
roads would ford the Yangtze anywhere. :func:`cross_only_on_bridges` cuts every
road segment that crosses the river line and joins the banks again only at the
named bridges (and ferries, where a source names them), so that north-bank and
south-bank access means what it does on the ground. :func:`banks` tells the side
of points, for checking that the banks are cut apart without the bridges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from coverage.network import RoadNetwork


@dataclass(frozen=True)
class Crossing:
    """A named bridge (or ferry) over the river: where it is, and its road class."""

    name: str
    lon: float
    lat: float
    highway: str = "primary"


def _transformers(metric_crs: str):
    return (pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True),
            pyproj.Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True))


def banks(river, lon: np.ndarray, lat: np.ndarray, metric_crs: str) -> np.ndarray:
    """The side of each point: +1 left of the river's direction of flow, -1 right.

    Measured against the nearest segment of the river line (WGS-84), in metres.
    """
    fwd, _ = _transformers(metric_crs)
    line = np.column_stack(fwd.transform(*np.asarray(river.coords).T))
    x, y = fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
    pts = np.column_stack([x, y])
    a, b = line[:-1], line[1:]
    ab = b - a
    t = np.clip(((pts[:, None, :] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    near = a + t[..., None] * ab
    seg = np.argmin(np.hypot(*(pts[:, None, :] - near).transpose(2, 0, 1)), axis=1)
    d = pts - a[seg]
    cross = ab[seg, 0] * d[:, 1] - ab[seg, 1] * d[:, 0]
    return np.where(cross >= 0, 1, -1)


def crossing_edges(network: RoadNetwork, river) -> np.ndarray:
    """Boolean mask of the edges whose straight segment crosses the river line."""
    nodes = network.nodes
    u, v = network.edges["u"].to_numpy(), network.edges["v"].to_numpy()
    segments = shapely.linestrings(np.stack([
        np.column_stack([nodes.loc[u, "x"], nodes.loc[u, "y"]]),
        np.column_stack([nodes.loc[v, "x"], nodes.loc[v, "y"]])], axis=1))
    return shapely.intersects(segments, river)


def cross_only_on_bridges(network: RoadNetwork, river, crossings: list[Crossing], *,
                          metric_crs: str) -> RoadNetwork:
    """The network with every river crossing removed but the named ``crossings``.

    Each crossing becomes a road from the nearest node on one bank to the nearest
    node on the other, through a node on the river line, named after the
    crossing. The largest connected piece is kept (pieces only the cut roads
    joined are dropped); node ids are renumbered 1..n in (lat, lon) order, as
    :func:`coverage.synthetic.synthetic_road_network` numbers them.
    """
    fwd, inv = _transformers(metric_crs)
    nodes = network.nodes.copy()
    edges = network.edges[~crossing_edges(network, river)].reset_index(drop=True)
    side = banks(river, nodes["x"].to_numpy(), nodes["y"].to_numpy(), metric_crs)
    xy = np.column_stack(fwd.transform(nodes["x"].to_numpy(), nodes["y"].to_numpy()))
    used = np.isin(nodes.index.to_numpy(), np.r_[edges["u"], edges["v"]])
    next_id, next_way = int(nodes.index.max()) + 1, int(edges["way_id"].max()) + 1
    rows, extra = [], []
    river_m = shapely.transform(river, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))
    for crossing in crossings:
        at = shapely.Point(fwd.transform(crossing.lon, crossing.lat))
        on = river_m.interpolate(river_m.project(at))
        ends = []
        for bank in (1, -1):
            pool = np.flatnonzero((side == bank) & used)
            k = pool[cKDTree(xy[pool]).query([on.x, on.y])[1]]
            ends.append(int(nodes.index[k]))
        lon, lat = inv.transform(on.x, on.y)
        extra.append({"id": next_id, "x": round(lon, 7), "y": round(lat, 7)})
        for end in ends:
            k = nodes.index.get_loc(end)
            rows.append({"u": end, "v": next_id,
                         "length": round(float(np.hypot(*(xy[k] - [on.x, on.y]))), 3),
                         "highway": crossing.highway, "oneway": False, "name": crossing.name,
                         "way_id": next_way})
        next_id += 1
        next_way += 1
    nodes = pd.concat([nodes, pd.DataFrame(extra).set_index("id")])
    edges = pd.concat([edges, pd.DataFrame(rows)], ignore_index=True)
    # largest connected piece, renumbered
    ids = nodes.index.to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    a, b = pos.loc[edges["u"]].to_numpy(), pos.loc[edges["v"]].to_numpy()
    _, comp = connected_components(csr_array((np.ones(len(a)), (a, b)),
                                             shape=(len(ids), len(ids))), directed=False)
    degree = np.bincount(np.r_[a, b], minlength=len(ids)) > 0
    main = np.argmax(np.bincount(comp[degree]))
    keep = (comp == main) & degree
    edges = edges[keep[a]].reset_index(drop=True)
    nodes = nodes[keep]
    order = np.lexsort((nodes["x"].to_numpy(), nodes["y"].to_numpy()))
    new = pd.Series(np.arange(1, len(nodes) + 1), index=nodes.index[order])
    nodes = nodes.iloc[order].set_axis(pd.Index(new.to_numpy(), name="id"))
    edges["u"] = new.loc[edges["u"]].to_numpy()
    edges["v"] = new.loc[edges["v"]].to_numpy()
    provenance = {**network.provenance,
                  "river": f"crosses the river only on {len(crossings)} named crossings: "
                           + "、".join(c.name for c in crossings)}
    return RoadNetwork(nodes=nodes, edges=edges, source=network.source, provenance=provenance)
