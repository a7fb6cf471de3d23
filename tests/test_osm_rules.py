"""OSM tags routing reads, on small generated files read as XML and as PBF alike:
steps walked only, maxspeed caps cars, access=private/no with per-mode overrides,
route=ferry crossings with a boarding wait."""

from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pytest

from coverage import modes, routing
from coverage.network import read_network

ROOT = Path(__file__).resolve().parents[1]

WAYS = {
    # id: (nodes, tags)
    11: ([1, 2], {"highway": "primary", "maxspeed": "30"}),
    12: ([2, 3], {"highway": "steps"}),
    13: ([3, 4], {"highway": "service", "access": "private"}),
    14: ([4, 5], {"highway": "residential", "access": "no", "foot": "yes"}),
    15: ([5, 6], {"highway": "residential", "motor_vehicle": "no"}),
    16: ([6, 7, 8], {"route": "ferry", "name": "渡口"}),
    17: ([8, 9], {"highway": "primary", "maxspeed": "20 mph"}),
    18: ([9, 10], {"highway": "primary", "maxspeed": "CN:urban"}),
    19: ([10, 11], {"highway": "tertiary", "access": "destination"}),
    20: ([11, 12], {"highway": "residential", "bicycle": "no"}),
}


def _xml() -> str:
    nodes = "\n".join(f'  <node id="{i}" version="1" lat="29.6" lon="{106.3 + 0.002 * i:.3f}"/>'
                      for i in range(1, 13))
    ways = []
    for wid, (refs, tags) in WAYS.items():
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'  <way id="{wid}" version="1">{body}</way>')
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"test\">\n"
            + nodes + "\n" + "\n".join(ways) + "\n</osm>\n")


@pytest.fixture(scope="module", params=["xml", "pbf"])
def network(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("osm")
    xml = folder / "rules.osm"
    xml.write_text(_xml(), encoding="utf-8")
    if request.param == "xml":
        return read_network(xml)
    pbf = folder / "rules.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml), osmium.osm.NODE | osmium.osm.WAY):
            writer.add(obj)
    return read_network(pbf)


def _edge(network, u, v):
    e = network.edges
    return e[(e["u"] == u) & (e["v"] == v)].index[0]


def _speeds(network, mode):
    return pd.Series(modes.edge_speeds(network.edges, mode),
                     index=list(zip(network.edges["u"], network.edges["v"])))


def test_steps_are_walked_only(network):
    for mode, open_ in (("walk", True), ("ebike", False), ("car", False)):
        assert (_speeds(network, mode)[(2, 3)] > 0) == open_


def test_maxspeed_caps_car_speeds_only(network):
    car = _speeds(network, "car")
    assert car[(1, 2)] == 30.0  # primary is 40, capped at 30
    assert car[(8, 9)] == pytest.approx(20 * 1.609344)  # mph
    assert car[(9, 10)] == 40.0  # a zone name is no number: the class speed
    assert _speeds(network, "ebike")[(1, 2)] == 25.0


def test_access_tags_close_ways_per_mode(network):
    speeds = {mode: _speeds(network, mode) for mode in modes.MODES}
    assert all(speeds[m][(3, 4)] == 0 for m in modes.MODES)  # access=private
    assert speeds["walk"][(4, 5)] > 0 and speeds["ebike"][(4, 5)] == 0 == speeds["car"][(4, 5)]
    assert speeds["walk"][(5, 6)] > 0 and speeds["ebike"][(5, 6)] > 0 == speeds["car"][(5, 6)]
    assert all(speeds[m][(10, 11)] > 0 for m in modes.MODES)  # destination stays open
    assert speeds["ebike"][(11, 12)] == 0 and speeds["car"][(11, 12)] > 0


def test_ferry_crossing_has_one_boarding_wait_each_way(network):
    e = network.edges
    ferry = e[e["highway"] == "ferry"]
    assert len(ferry) == 2 and ferry["name"].eq("渡口").all()
    assert ferry["wait_s"].tolist() == [modes.FERRY_WAIT_S, 0.0]
    length = ferry["length"].sum()
    graph = routing.build_graph(network, "walk")
    index = {int(n): i for i, n in enumerate(graph.node_ids)}
    from scipy.sparse.csgraph import dijkstra

    there = dijkstra(graph.csr, indices=index[6])[index[8]]
    back = dijkstra(graph.csr, indices=index[8])[index[6]]
    crossing = modes.FERRY_WAIT_S + length / (15 / 3.6)
    assert there == pytest.approx(crossing) and back == pytest.approx(crossing)
    # Cars board too (no access tag says otherwise).
    car = routing.build_graph(network, "car")
    assert np.isfinite(dijkstra(car.csr, indices=index[6])[index[8]])


@pytest.mark.parametrize("pack", ["network/roads.osm", "regions/beibei/network/roads.osm"])
def test_pack_xml_read_by_pyosmium_equals_the_osmnx_route(pack):
    """The packs' XML was read through OSMnx before; pyosmium gives the same network."""
    import osmnx as ox

    from coverage.network import _from_osmnx

    path = ROOT / pack
    new = read_network(path)
    old = _from_osmnx(ox.graph_from_xml(path, simplify=False, retain_all=True), path, {})
    assert set(new.nodes.index) == set(old.nodes.index) and len(new.edges) == len(old.edges)
    # libosmium stores 1e-7 degrees, OSMnx parses the decimal text: equal to 1e-12 degrees.
    np.testing.assert_allclose(new.nodes.sort_index()[["x", "y"]].to_numpy(),
                               old.nodes.sort_index()[["x", "y"]].to_numpy(), rtol=0, atol=1e-12)
    columns = ["u", "v", "highway", "oneway", "name"]
    both = new.edges.merge(old.edges, on=columns, suffixes=("", "_osmnx"), validate="1:1")
    assert len(both) == len(new.edges)
    np.testing.assert_allclose(both["length"], both["length_osmnx"], rtol=0, atol=1e-6)
    assert new.provenance["quality"] == "synthetic"


def test_parquet_edge_tables_keep_the_routing_tags(network, tmp_path):
    from coverage.batch import write_network_parquet

    path = write_network_parquet(network, tmp_path / "edges.parquet")
    again = read_network(path)
    for mode in modes.MODES:
        key = ["u", "v"]
        a = network.edges.assign(kmh=modes.edge_speeds(network.edges, mode))[key + ["kmh"]]
        b = again.edges.assign(kmh=modes.edge_speeds(again.edges, mode))[key + ["kmh"]]
        pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                      b.sort_values(key).reset_index(drop=True))
    assert again.edges["wait_s"].sum() == modes.FERRY_WAIT_S
