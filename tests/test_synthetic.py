"""Tests of the synthetic road network generator (coverage.synthetic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import osmnx as ox
import pandas as pd
import pyproj
import pytest
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra

from coverage.crs import gcj02_to_wgs84, transform_geometry
from coverage.errors import InputError
from coverage.network import RoadNetwork
from coverage.synthetic import synthetic_road_network, write_osm_xml

ROOT = Path(__file__).resolve().parents[1]
BEIBEI = ROOT.parent / "shared" / "data" / "boundaries" / "500109.geojson"
TOWNSHIPS = ROOT.parent / "shared" / "data" / "townships_2023.csv"
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)

BOX = shapely.box(106.30, 29.45, 106.40, 29.54)  # about 9.7 x 10 km
SETTLEMENTS = pd.DataFrame({
    "name": ["虎溪街道", "西永街道", "曾家镇", "含谷镇", "白鹤村委会", "石板村", "高新医院"],
    "lon": [106.32, 106.37, 106.385, 106.33, 106.36, 106.31, 106.355],
    "lat": [29.47, 29.475, 29.52, 29.52, 29.50, 29.50, 29.46],
    "population": [90000.0, 60000.0, 20000.0, 15000.0, 2000.0, 1500.0, 0.0],
    "kind": ["street", "street", "town", "town", "village", "village", "facility"],
})


def metric(lon, lat) -> np.ndarray:
    return np.column_stack(TO_UTM.transform(np.asarray(lon, float), np.asarray(lat, float)))


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return synthetic_road_network(BOX, SETTLEMENTS, seed=3)


def components(net: RoadNetwork) -> int:
    index = pd.Series(np.arange(len(net.nodes)), index=net.nodes.index)
    u, v = index.loc[net.edges["u"]].to_numpy(), index.loc[net.edges["v"]].to_numpy()
    graph = csr_array((np.ones(len(u)), (u, v)), shape=(len(index),) * 2)
    return connected_components(graph, directed=False)[0]


def assert_sound(net: RoadNetwork, boundary, settlements: pd.DataFrame) -> None:
    """Connected, inside the outline, every settlement near a node, short edges."""
    assert components(net) == 1
    xy = metric(net.nodes["x"], net.nodes["y"])
    outline = shapely.transform(boundary, lambda c: metric(c[:, 0], c[:, 1]))
    assert shapely.distance(outline, shapely.points(xy)).max() <= 5.0
    gaps = np.hypot(*(metric(settlements["lon"], settlements["lat"])[:, None, :]
                      - xy[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert gaps.max() <= 300.0
    assert (net.edges["length"] > 0).all()
    assert net.edges["length"].max() <= 500.0
    assert set(net.edges["u"]) | set(net.edges["v"]) == set(net.nodes.index)


def test_network_is_sound(network):
    assert_sound(network, BOX, SETTLEMENTS)
    assert list(network.nodes.index) == list(range(1, len(network.nodes) + 1))
    assert network.provenance["quality"] == "synthetic"
    assert network.provenance["source"].startswith("coverage.synthetic (seed 3)")
    assert network.provenance["unreached"] == []


def test_edge_lengths_match_node_coordinates(network):
    xy = metric(network.nodes["x"], network.nodes["y"])
    index = pd.Series(np.arange(len(xy)), index=network.nodes.index)
    u, v = index.loc[network.edges["u"]], index.loc[network.edges["v"]]
    straight = np.hypot(*(xy[u] - xy[v]).T)
    np.testing.assert_allclose(network.edges["length"], straight, atol=0.05)


def test_hierarchy_and_names(network):
    edges = network.edges
    assert {"primary", "tertiary", "residential", "unclassified"} <= set(edges["highway"])
    names = set(edges["name"])
    assert "虎溪—西永公路" in names or "西永—虎溪公路" in names
    assert {"白鹤村道", "石板村道", "虎溪大道", "虎溪正街", "虎溪一路"} <= names
    assert edges.loc[edges["name"] == "白鹤村道", "highway"].eq("unclassified").all()
    # arterials carry more than local streets: most edges are local
    assert (edges["highway"] == "residential").sum() > (edges["highway"] == "primary").sum()


def test_roads_wind(network):
    """Roads between distant settlements are at least 10 % longer than the crow flies
    (typically 25-30 %: they follow valleys and cross ridges at saddles)."""
    index = pd.Series(np.arange(len(network.nodes)), index=network.nodes.index)
    u, v = index.loc[network.edges["u"]], index.loc[network.edges["v"]]
    n = len(index)
    graph = csr_array((network.edges["length"], (u, v)), shape=(n, n))
    xy = metric(network.nodes["x"], network.nodes["y"])
    pts = metric(SETTLEMENTS["lon"], SETTLEMENTS["lat"])
    near = [int(np.argmin(np.hypot(*(xy - p).T))) for p in pts]
    road = dijkstra(graph, directed=False, indices=near)[:, near]
    crow = np.hypot(*(xy[near][:, None, :] - xy[near][None, :, :]).transpose(2, 0, 1))
    distant = crow > 3000.0
    assert distant.sum() >= 10
    assert np.median(road[distant] / crow[distant]) >= 1.1
    assert (road[distant] >= crow[distant]).all()


def test_xml_is_deterministic_and_loads_in_osmnx(network, tmp_path):
    first, second = tmp_path / "a.osm", tmp_path / "b.osm"
    write_osm_xml(network, first, note="test pack")
    write_osm_xml(synthetic_road_network(BOX, SETTLEMENTS, seed=3), second, note="test pack")
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text(encoding="utf-8")
    assert 'generator="coverage synthetic road network"' in text
    assert "<!-- SYNTHETIC road network" in text and "test pack" in text
    assert text.count('<tag k="source" v="synthetic"/>') == text.count("<way ")

    graph = ox.graph_from_xml(first, simplify=False, retain_all=True)
    assert graph.number_of_nodes() == len(network.nodes)
    # two-way roads load as a pair of directed edges
    assert graph.number_of_edges() == 2 * len(network.edges)
    loaded = {(int(a), int(b)) for a, b, _ in graph.edges(keys=True)}
    assert {(int(a), int(b)) for a, b in zip(network.edges["u"], network.edges["v"])} <= loaded


def test_seed_changes_the_network(network):
    other = synthetic_road_network(BOX, SETTLEMENTS, seed=4)
    assert not network.nodes.equals(other.nodes)


def test_write_osm_xml_oneway_escaping_and_way_splitting(tmp_path):
    nodes = pd.DataFrame({"x": [106.0, 106.001, 106.002, 106.003],
                          "y": [29.0, 29.0, 29.001, 29.001]}, index=[10, 20, 30, 40])
    edges = pd.DataFrame({
        "u": [10, 20, 40], "v": [20, 30, 30], "length": [97.0, 140.0, 97.0],
        "highway": ["primary", "primary", "residential"], "oneway": [True, True, False],
        "name": ["A&B<路>", "A&B<路>", ""], "way_id": [1, 1, 1],
    })
    path = tmp_path / "tiny.osm"
    write_osm_xml(RoadNetwork(nodes=nodes, edges=edges), path)
    text = path.read_text(encoding="utf-8")
    assert text.count("<way ") == 2  # the third edge does not continue the way
    assert 'v="A&amp;B&lt;路&gt;"' in text
    graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    assert graph.number_of_nodes() == 4
    assert graph.number_of_edges() == 2 + 2  # two oneway segments, one two-way
    assert graph.has_edge(1, 2) and not graph.has_edge(2, 1)


def test_bad_settlements_are_named():
    with pytest.raises(InputError, match="kind"):
        synthetic_road_network(BOX, SETTLEMENTS.drop(columns="kind"))
    bad = SETTLEMENTS.copy()
    bad.loc[2, "kind"] = "city"
    with pytest.raises(InputError, match=r"row 3, kind"):
        synthetic_road_network(BOX, bad)
    with pytest.raises(InputError, match="no settlements"):
        synthetic_road_network(BOX, SETTLEMENTS.iloc[:0])
    with pytest.raises(InputError, match="boundary"):
        synthetic_road_network(shapely.Point(106.3, 29.5), SETTLEMENTS)


def test_single_seat_gets_streets_and_village_roads():
    few = SETTLEMENTS[SETTLEMENTS["kind"].isin(["village"]) | (SETTLEMENTS["name"] == "虎溪街道")]
    net = synthetic_road_network(BOX, few, seed=0)
    assert_sound(net, BOX, few)
    assert {"residential", "unclassified"} <= set(net.edges["highway"])
    assert "primary" not in set(net.edges["highway"])


@pytest.mark.skipif(not (BEIBEI.exists() and TOWNSHIPS.exists()),
                    reason="shared reference data (../shared/data) not present")
def test_beibei_outline():
    data = json.loads(BEIBEI.read_text(encoding="utf-8"))
    geometry = data["features"][0]["geometry"] if "features" in data else data
    boundary = transform_geometry(shapely.geometry.shape(geometry), "GCJ02")
    seats = pd.read_csv(TOWNSHIPS, dtype={"county_code": str})
    seats = seats[(seats["county_code"] == "500109") & seats["lon"].notna()]
    lon, lat = gcj02_to_wgs84(seats["lon"].to_numpy(), seats["lat"].to_numpy())
    settlements = pd.DataFrame({"name": seats["name"].to_numpy(), "lon": lon, "lat": lat,
                                "population": 40000.0, "kind": seats["kind"].to_numpy()})
    net = synthetic_road_network(boundary, settlements, seed=0)
    assert_sound(net, boundary, settlements)
    assert 5000 <= len(net.nodes) <= 40000
    assert {"trunk", "primary", "secondary"} <= set(net.edges["highway"])
