"""Routing: graphs per mode, snapping, nearest-facility times and catchments.

Times are checked against networkx's Dijkstra on a DiGraph built independently from
the network tables, on the Helsinki OSM extract and on a generated grid network.
"""

import importlib.util
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from coverage import modes, routing
from coverage.network import RoadNetwork

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"


def _grid_network(n_nodes, seed=0):
    spec = importlib.util.spec_from_file_location("networks", ROOT / "benchmarks" / "networks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.grid_network(n_nodes, seed)


def _network(coords, edges):
    """RoadNetwork from ``{id: (lon, lat)}`` and ``(u, v, length, highway, oneway)`` rows."""
    nodes = pd.DataFrame(
        {"x": [c[0] for c in coords.values()], "y": [c[1] for c in coords.values()]},
        index=pd.Index(list(coords), dtype="int64"),
    )
    table = pd.DataFrame(edges, columns=["u", "v", "length", "highway", "oneway"])
    table["name"] = ""
    return RoadNetwork(nodes=nodes, edges=table, source="test")


def _line(n, step_deg=0.001):
    """Node ids 10, 20, ... along a parallel at 29.5N, 106.5E onwards."""
    return {10 * (i + 1): (106.5 + i * step_deg, 29.5) for i in range(n)}


def _reference(network, mode):
    """networkx DiGraph of travel seconds, built from the tables without routing."""
    kmh = modes.edge_speeds(network.edges, mode)
    seconds = network.edges["length"].to_numpy() / np.where(kmh > 0, kmh, np.nan) * 3.6
    graph = nx.DiGraph()
    graph.add_nodes_from(network.nodes.index.tolist())

    def add(a, b, s):
        if a != b and (not graph.has_edge(a, b) or graph[a][b]["weight"] > s):
            graph.add_edge(a, b, weight=s)

    rows = zip(network.edges["u"].tolist(), network.edges["v"].tolist(), seconds.tolist(),
               kmh.tolist(), network.edges["oneway"].tolist())
    for u, v, s, speed, oneway in rows:
        if speed > 0:
            add(u, v, s)
            if not (oneway and modes.respects_oneway(mode)):
                add(v, u, s)
    return graph


def _reference_times(reference, graph, sources, offsets):
    """networkx multi-source times with offsets, via a virtual node per source."""
    reference = reference.copy()
    for i, (node, offset) in enumerate(zip(sources, offsets)):
        reference.add_edge(("source", i), int(graph.node_ids[node]), weight=float(offset))
        reference.add_edge("start", ("source", i), weight=0.0)
    lengths = nx.single_source_dijkstra_path_length(reference, "start")
    return np.array([lengths.get(int(i), np.inf) for i in graph.node_ids])


def _check_against_networkx(network, mode, n_sources, seed):
    graph = routing.build_graph(network, mode)
    rng = np.random.default_rng(seed)
    sources = rng.choice(np.flatnonzero(graph.snappable()), n_sources, replace=False)
    offsets = rng.uniform(0, 120, n_sources)
    offsets[0] = 0.0
    seconds, nearest = routing.nearest_facility(graph, sources, offsets)
    expected = _reference_times(_reference(network, mode), graph, sources, offsets)
    np.testing.assert_array_equal(np.isinf(seconds), np.isinf(expected))
    np.testing.assert_allclose(seconds[np.isfinite(expected)], expected[np.isfinite(expected)],
                               rtol=1e-9, atol=1e-9)
    assert ((nearest == -1) == np.isinf(seconds)).all()
    # The reported source really gives the reported time.
    reached = np.flatnonzero(nearest >= 0)[:: max(1, int(np.isfinite(seconds).sum()) // 50)]
    for node in reached:
        s = nearest[node]
        single, _ = routing.nearest_facility(graph, [sources[s]], [offsets[s]])
        assert single[node] == pytest.approx(seconds[node], abs=1e-9)
    return graph


@pytest.fixture(scope="module")
def helsinki():
    from coverage.network import read_network

    return read_network(HELSINKI)


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_helsinki_times_equal_networkx(helsinki, mode):
    _check_against_networkx(helsinki, mode, n_sources=5, seed=1)


@pytest.mark.parametrize("mode", ["walk", "ebike", "car"])
def test_generated_network_times_equal_networkx(mode):
    graph = _check_against_networkx(_grid_network(3000, seed=2), mode, n_sources=7, seed=3)
    assert graph.mode == mode and graph.metric_crs == "EPSG:32648"


def test_oneway_respected_by_car_not_walk():
    network = _network(_line(2), [(10, 20, 100.0, "residential", True)])
    car = routing.build_graph(network, "car")
    walk = routing.build_graph(network, "walk")
    assert car.edge_u.tolist() == [0] and car.edge_v.tolist() == [1]
    assert routing.nearest_facility(car, [1])[0].tolist() == [np.inf, 0.0]
    assert routing.nearest_facility(car, [0])[0].tolist() == [0.0, 18.0]
    assert routing.nearest_facility(walk, [1])[0].tolist() == [80.0, 0.0]
    # Patients travel to the facility: against the one-way street they cannot.
    seconds, nearest = routing.nearest_facility(car, [0], to_sources=True)
    assert seconds.tolist() == [0.0, np.inf] and nearest.tolist() == [0, -1]


def test_closed_edges_parallel_edges_and_self_loops():
    network = _network(_line(3), [
        (10, 20, 100.0, "residential", False),   # car 20 km/h: 18 s
        (20, 10, 100.0, "primary", False),       # car 40 km/h: 9 s, the faster parallel edge
        (20, 20, 50.0, "residential", False),    # self-loop
        (20, 30, 100.0, "footway", False),       # closed to cars
    ])
    car = routing.build_graph(network, "car")
    assert car.csr.nnz == 2 and car.csr[0, 1] == 9.0 and car.csr[1, 0] == 9.0
    assert car.edge_u.size == 4  # both parallel edges, both ways
    assert not car.snappable()[2]
    seconds, _ = routing.nearest_facility(car, [0])
    assert seconds.tolist() == [0.0, 9.0, np.inf]
    walk = routing.build_graph(network, "walk")
    assert routing.nearest_facility(walk, [0])[0][2] == pytest.approx(160.0)


def test_adding_a_facility_never_lengthens_a_time():
    graph = routing.build_graph(_grid_network(5000, seed=4), "car")
    rng = np.random.default_rng(5)
    sources = rng.choice(graph.n_nodes, 6, replace=False)
    offsets = rng.uniform(0, 200, 6)
    before, _ = routing.nearest_facility(graph, sources[:5], offsets[:5])
    after, nearest = routing.nearest_facility(graph, sources, offsets)
    assert (after <= before).all()
    assert (after < before).any() and (nearest == 5).any()


def test_unreachable_component_is_inf_and_minus_one():
    coords = _line(4)
    network = _network(coords, [(10, 20, 100.0, "residential", False),
                                (30, 40, 100.0, "residential", False)])
    graph = routing.build_graph(network, "walk")
    seconds, nearest = routing.nearest_facility(graph, [0, -1])
    assert seconds.tolist() == [0.0, 80.0, np.inf, np.inf]
    assert nearest.tolist() == [0, 0, -1, -1]
    empty = routing.nearest_facility(graph, [-1], [0.0])
    assert np.isinf(empty[0]).all() and (empty[1] == -1).all()


def test_catchments_equal_single_source_searches():
    graph = routing.build_graph(_grid_network(4000, seed=6), "ebike")
    rng = np.random.default_rng(7)
    sources = rng.choice(graph.n_nodes, 9, replace=False)
    offsets = rng.uniform(0, 100, 9)
    limit = 300.0
    # A tiny block forces one source per batch, a large one all in one batch.
    for block in (1, 1 << 30):
        result = routing.catchments(graph, sources, limit, offsets, block_bytes=block)
        assert (np.diff(result.source) >= 0).all()
        for i, (node, offset) in enumerate(zip(sources, offsets)):
            single, _ = routing.nearest_facility(graph, [node], [offset])
            expected = np.flatnonzero(single <= limit)
            mine = result.source == i
            np.testing.assert_array_equal(np.sort(result.node[mine]), expected)
            order = np.argsort(result.node[mine])
            np.testing.assert_allclose(result.seconds[mine][order], single[expected], atol=1e-9)


@pytest.mark.parametrize("to_sources", [False, True])
def test_catchments_of_neighbouring_sources_search_their_box_with_the_same_result(
        monkeypatch, to_sources):
    graph = routing.build_graph(_grid_network(20000, seed=3), "walk")
    # 20 sources in one corner, 10 minutes on foot: their reach is a small box.
    corner = np.flatnonzero((graph.x < np.quantile(graph.x, 0.2))
                            & (graph.y < np.quantile(graph.y, 0.2)))
    sources = np.random.default_rng(1).choice(corner, 20, replace=False)
    offsets = np.linspace(0.0, 60.0, 20)
    boxes = []
    local_graph = routing._local_graph
    monkeypatch.setattr(routing, "_local_graph",
                        lambda *a: boxes.append(local_graph(*a)) or boxes[-1])
    local = routing.catchments(graph, sources, 600.0, offsets, to_sources=to_sources)
    assert boxes[0] is not None and boxes[0][1].size < graph.n_nodes / 4
    monkeypatch.setattr(routing, "_LOCAL_SHARE", 0.0)  # the whole graph
    whole = routing.catchments(graph, sources, 600.0, offsets, to_sources=to_sources)
    for name in ("source", "node", "seconds"):
        np.testing.assert_array_equal(getattr(local, name), getattr(whole, name))


def test_top_speed_bounds_every_edge():
    graph = routing.build_graph(_grid_network(4000, seed=6), "car")
    u, v = graph.edge_u, graph.edge_v
    chord = np.hypot(graph.x[u] - graph.x[v], graph.y[u] - graph.y[v])
    assert graph.top_speed() == pytest.approx(np.max(chord / graph.edge_seconds))


def test_catchment_limit_is_inclusive():
    # Walking 4.5 km/h: 1125 m take exactly 900 s; 562.5 m + 562.5 m too, by a sum.
    coords = _line(5)
    network = _network(coords, [(10, 20, 1125.0, "residential", False),
                                (10, 30, 562.5, "residential", False),
                                (30, 40, 562.5, "residential", False),
                                (10, 50, 1126.0, "residential", False)])
    graph = routing.build_graph(network, "walk")
    assert graph.csr[0, 1] == 900.0
    result = routing.catchments(graph, [0], 900.0)
    assert sorted(result.node.tolist()) == [0, 1, 2, 3]
    seconds, _ = routing.nearest_facility(graph, [0], limit=900.0)
    assert np.isfinite(seconds[:4]).all() and np.isinf(seconds[4])
    # An access leg counts against the limit.
    assert sorted(routing.catchments(graph, [0], 900.0, [1.0]).node.tolist()) == [0, 2]
    assert routing.catchments(graph, [0], 900.0, [901.0]).node.size == 0


def test_cache_round_trip(tmp_path):
    coords = _line(3)
    network = _network(coords, [(10, 20, 100.0, "residential", True),
                                (20, 30, 150.0, "primary", False)])
    network.edges["geometry"] = [
        shapely.LineString([coords[10], (106.5005, 29.5003), coords[20]]), None]
    built = routing.build_graph(network, "car", cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as data:
        assert "csr_data" in data.files
    loaded = routing.build_graph(network, "car", cache_dir=tmp_path)
    read = routing.read_graph(files[0])  # the file alone, without its network
    assert (read.csr != built.csr).nnz == 0 and read.mode == "car"
    np.testing.assert_array_equal(read.x, built.x)
    for name in ("node_ids", "lon", "lat", "x", "y", "edge_u", "edge_v", "edge_seconds",
                 "edge_length"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(built, name))
    assert (loaded.csr != built.csr).nnz == 0 and loaded.metric_crs == built.metric_crs
    assert shapely.equals_exact(loaded.edge_geometry, built.edge_geometry, 1e-9).all()
    # The reverse direction of the two-way edge runs from v to u.
    back = np.flatnonzero((built.edge_u == 2) & (built.edge_v == 1))[0]
    start = shapely.get_point(built.edge_geometry[back], 0)
    assert shapely.get_x(start) == pytest.approx(built.x[2])
    # Any change of the network or mode is a new cache entry.
    routing.build_graph(network, "walk", cache_dir=tmp_path)
    network.edges.loc[1, "length"] = 151.0
    changed = routing.build_graph(network, "car", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3
    assert changed.edge_length.max() == 151.0


def test_snap_has_no_cap_and_uses_usable_nodes():
    coords = {1: (106.5, 29.5), 2: (106.501, 29.5), 3: (106.502, 29.5)}
    network = _network(coords, [(1, 2, 100.0, "residential", False),
                                (2, 3, 100.0, "footway", False)])
    car = routing.build_graph(network, "car")
    # 990 m and 1010 m due north of node 1 (UTM distorts distances by < 0.05%).
    _, lat_near, _ = pyproj.Geod(ellps="WGS84").fwd(106.5, 29.5, 0.0, 990.0)
    _, lat_far, _ = pyproj.Geod(ellps="WGS84").fwd(106.5, 29.5, 0.0, 1010.0)
    lat = [lat_near, lat_far, 29.5, np.nan]
    lon = [106.5, 106.5, 106.502, 106.5]
    snap = routing.snap_points(car, lon, lat)
    # Nobody beyond 1 km is dropped: they walk off-road at 3 km/h, and are flagged.
    assert snap.node.tolist() == [0, 0, 1, -1]
    assert snap.distance_m[0] < 1000.0 < snap.distance_m[1]
    np.testing.assert_allclose(snap.access_seconds[:3], snap.distance_m[:3] / (3.0 / 3.6))
    assert snap.off_network.tolist() == [False, True, False, False]
    assert np.isinf(snap.access_seconds[3]) and np.isnan(snap.distance_m[3])
    walk = routing.build_graph(network, "walk")
    assert routing.snap_points(walk, lon, lat).node[2] == 2
    slow = routing.build_graph(network, "car", offroad_kmh=1.5)
    assert routing.snap_points(slow, lon, lat).access_seconds[1] == pytest.approx(
        2 * snap.access_seconds[1])


def test_point_travel_times():
    coords = _line(4)
    network = _network(coords, [(10, 20, 100.0, "residential", True),
                                (20, 30, 100.0, "residential", False),
                                (30, 40, 100.0, "motorway", False)])
    graph = routing.build_graph(network, "car")
    # Facility at node 10; points at nodes 20, 30 (and off the map).
    fac_lon, fac_lat = [coords[10][0]], [coords[10][1]]
    walk_graph = routing.build_graph(network, "walk")
    frame = routing.point_travel_times(
        walk_graph, [coords[20][0], coords[30][0], 110.0], [29.5, 29.5, 29.5], fac_lon, fac_lat,
        point_ids=["a", "b", "c"], facility_ids=["F1"], facility_names=["卫生院"])
    assert frame.columns.tolist() == ["id", "minutes", "facility_id", "facility_name",
                                      "snap_distance_m"]
    assert frame["minutes"].iloc[:2].tolist() == pytest.approx([80.0 / 60, 160.0 / 60])
    assert frame["facility_name"].tolist()[:2] == ["卫生院", "卫生院"]
    # A point far off the roads is slow, never dropped: 3 km/h across country to node 30
    # (the motorway to node 40 is closed on foot).
    far = frame["snap_distance_m"].iloc[2]
    assert far > 300_000 and frame["minutes"].iloc[2] == pytest.approx(
        far / (3.0 / 3.6) / 60 + 160.0 / 60, rel=1e-9) and frame["facility_id"].iloc[2] == "F1"
    # By car the one-way street 10 -> 20 cannot be driven back to the facility.
    car = routing.point_travel_times(graph, [coords[20][0]], [29.5], fac_lon, fac_lat)
    assert math.isnan(car["minutes"].iloc[0])


def test_traveltime_cli_writes_excel_csv(tmp_path):
    from coverage.cli import main
    from coverage.region import load_region

    facility = load_region(ROOT).facilities.geometry.iloc[0]
    points = tmp_path / "points.csv"
    points.write_text(f"id,lon,lat\nnear,{facility.x + 0.002},{facility.y}\nfar,100.0,20.0\n",
                      encoding="utf-8")
    out = tmp_path / "times.csv"
    assert main(["traveltime", "--region", str(ROOT), "--mode", "walk", "--points", str(points),
                 "--out", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table.columns.tolist() == ["id", "minutes", "facility_id", "facility_name",
                                      "snap_distance_m"]
    assert 0 < table["minutes"].iloc[0] < 30 and isinstance(table["facility_name"].iloc[0], str)
    assert table["minutes"].iloc[1] > 10_000 and table["snap_distance_m"].iloc[1] > 500_000


def test_direct_off_road_walk_to_a_site():
    coords = _line(2)
    network = _network(coords, [(10, 20, 100.0, "residential", False)])
    graph = routing.build_graph(network, "walk")
    geod = pyproj.Geod(ellps="WGS84")
    # A resident 2 km north of node 10; sites 200 m east of them and at node 20.
    lon0, lat0, _ = geod.fwd(106.5, 29.5, 0.0, 2000.0)
    lon1, lat1, _ = geod.fwd(lon0, lat0, 90.0, 200.0)
    point = routing.snap_points(graph, [lon0, np.nan], [lat0, 29.5])
    sites = routing.snap_points(graph, [coords[20][0], lon1], [29.5, lat1])
    seconds, index = routing.direct_seconds(graph, point, sites)
    assert index.tolist() == [1, -1] and np.isinf(seconds[1])
    assert seconds[0] == pytest.approx(200.0 / (3.0 / 3.6), rel=1e-3)
    site, which, secs = routing.direct_pairs(graph, point, sites, 300.0)
    assert site.tolist() == [1] and which.tolist() == [0] and secs[0] == pytest.approx(seconds[0])
    assert routing.direct_pairs(graph, point, sites, 200.0)[0].size == 0


def test_nearest_sites_are_reused_only_for_equal_points_and_sites():
    graph = routing.build_graph(_grid_network(400, seed=3), "walk")
    rng = np.random.default_rng(5)
    lon0, lat0 = graph.lon.min(), graph.lat.min()
    span_lon, span_lat = np.ptp(graph.lon), np.ptp(graph.lat)

    def snap(n):
        return routing.snap_points(graph, lon0 + rng.random(n) * span_lon,
                                   lat0 + rng.random(n) * span_lat)

    points, sites = snap(3000), snap(12)
    fresh = routing.direct_seconds(graph, points, sites)
    memo = routing.NearestSites()
    first = routing.direct_seconds(graph, points, sites, nearest_sites=memo)
    assert len(memo.held) == 1
    # Equal values in other arrays (another mode's snap) hit the kept query.
    again = routing.Snap(points.node, points.distance_m, points.access_seconds,
                         points.x.copy(), points.y.copy(), points.z)
    second = routing.direct_seconds(graph, again, sites, nearest_sites=memo)
    assert len(memo.held) == 1  # a hit: nothing queried
    moved = routing.Snap(sites.node, sites.distance_m, sites.access_seconds,
                         sites.x + np.r_[50.0, np.zeros(11)], sites.y, sites.z)
    third = routing.direct_seconds(graph, points, moved, nearest_sites=memo)
    assert len(memo.held) == 2  # a miss: the moved site is queried anew
    for got, want in ((first, fresh), (second, fresh),
                      (third, routing.direct_seconds(graph, points, moved))):
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert not np.array_equal(third[0], fresh[0])
