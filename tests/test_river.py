"""万州's synthetic roads cross the Yangtze only on its named bridges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from coverage.network import RoadNetwork
from coverage.region import load_region
from coverage.river import Crossing, banks, cross_only_on_bridges, crossing_edges

ROOT = Path(__file__).resolve().parents[1]


def _components(network: RoadNetwork, edges: pd.DataFrame) -> pd.Series:
    ids = network.nodes.index.to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    a, b = pos.loc[edges["u"]].to_numpy(), pos.loc[edges["v"]].to_numpy()
    _, comp = connected_components(csr_array((np.ones(len(a)), (a, b)),
                                             shape=(len(ids), len(ids))), directed=False)
    return pd.Series(comp, index=ids)


def _banks_joined(network: RoadNetwork, river, edges: pd.DataFrame) -> bool:
    comp = _components(network, edges)
    side = banks(river, network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy(),
                 "EPSG:32648")
    used = network.nodes.index.isin(np.r_[edges["u"], edges["v"]])
    north, south = set(comp[used & (side > 0)]), set(comp[used & (side < 0)])
    return bool(north & south)


def test_wanzhou_roads_cross_the_yangtze_only_on_bridges():
    region = load_region(ROOT / "regions" / "wanzhou")
    features = json.loads(region.files["river"].read_text(encoding="utf-8"))["features"]
    river = shapely.geometry.shape(features[0]["geometry"])
    bridges = {f["properties"]["name"] for f in features[1:]}
    assert len(bridges) == 5 and all(name.endswith("桥") for name in bridges)
    network = region.load_network()
    crossing = crossing_edges(network, river)
    assert set(network.edges.loc[crossing, "name"]) == bridges
    assert _banks_joined(network, river, network.edges)
    without = network.edges[~network.edges["name"].isin(bridges)]
    assert not _banks_joined(network, river, without)
    # both banks hold townships and people
    side = banks(river, region.townships["seat_lon"].to_numpy(float),
                 region.townships["seat_lat"].to_numpy(float), "EPSG:32648")
    assert (side > 0).sum() > 10 and (side < 0).sum() > 10


def test_cut_and_bridge_a_grid():
    """A 5×5 grid of 1 km cells with a river through the middle row of cells."""
    xs = 106.0 + np.arange(5) * 0.01
    ys = 29.0 + np.arange(5) * 0.01
    nodes = pd.DataFrame([(x, y) for y in ys for x in xs], columns=["x", "y"],
                         index=pd.Index(np.arange(1, 26), name="id"))
    rows = []
    for i in range(25):
        if i % 5 < 4:
            rows.append((i + 1, i + 2))
        if i < 20:
            rows.append((i + 1, i + 6))
    edges = pd.DataFrame(rows, columns=["u", "v"]).assign(
        length=1000.0, highway="residential", oneway=False, name="", way_id=np.arange(len(rows)))
    network = RoadNetwork(nodes=nodes, edges=edges)
    river = shapely.LineString([(105.9, 29.025), (106.1, 29.025)])
    assert crossing_edges(network, river).sum() == 5
    out = cross_only_on_bridges(network, river, [Crossing("一号桥", 106.02, 29.025)],
                                metric_crs="EPSG:32648")
    crossing = crossing_edges(out, river)
    assert set(out.edges.loc[crossing, "name"]) == {"一号桥"}
    assert _banks_joined(out, river, out.edges)
    assert not _banks_joined(out, river, out.edges[out.edges["name"] != "一号桥"])
    assert out.nodes.index.tolist() == list(range(1, len(out.nodes) + 1))
