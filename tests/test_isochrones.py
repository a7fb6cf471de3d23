"""Isochrones: reached roads cut at the right point, holes kept, bands nested."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely import affinity

from coverage import routing
from coverage.isochrones import facility_isochrones, isochrone_polygons
from coverage.network import RoadNetwork

METRIC = "EPSG:32648"
X0, Y0 = 645_000.0, 3_264_000.0  # near 106.5°E 29.5°N in UTM 48N
WALK_MS = 4.5 / 3.6  # walking speed of every class used here, m/s
ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"
_TO_WGS = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)


def network(points: dict[int, tuple[float, float]], roads: list[tuple], *,
            geometry: dict[int, list[tuple[float, float]]] | None = None) -> RoadNetwork:
    """A walkable network from metric offsets (metres from X0, Y0).

    ``roads`` are ``(u, v)`` pairs, straight; ``geometry`` maps a road's position in
    ``roads`` to its metric vertices (the length is then the polyline's).
    """
    ids = list(points)
    lon, lat = _TO_WGS.transform([X0 + points[i][0] for i in ids], [Y0 + points[i][1] for i in ids])
    nodes = pd.DataFrame({"x": lon, "y": lat}, index=pd.Index(ids, dtype=np.int64))
    lines, lengths = [], []
    for k, (u, v) in enumerate(roads):
        vertices = (geometry or {}).get(k, [points[u], points[v]])
        line = shapely.LineString([(X0 + x, Y0 + y) for x, y in vertices])
        lengths.append(line.length)
        lines.append(shapely.transform(line, lambda c: np.column_stack(
            _TO_WGS.transform(c[:, 0], c[:, 1]))))
    edges = pd.DataFrame({"u": [r[0] for r in roads], "v": [r[1] for r in roads],
                          "length": lengths, "highway": "residential", "oneway": False,
                          "name": ""})
    if geometry:
        edges["geometry"] = lines
    return RoadNetwork(nodes=nodes, edges=edges, source="test")


def metric(frame):
    """The isochrones' geometries in the test's metric CRS, as offsets from X0, Y0."""
    return affinity.translate(frame.to_crs(METRIC).geometry.union_all(), -X0, -Y0)


def grid(k: int, spacing: float) -> RoadNetwork:
    """A ``k x k`` grid of straight streets."""
    points = {i * k + j: (j * spacing, i * spacing) for i in range(k) for j in range(k)}
    roads = [(i * k + j, i * k + j + 1) for i in range(k) for j in range(k - 1)]
    roads += [(i * k + j, (i + 1) * k + j) for i in range(k - 1) for j in range(k)]
    return network(points, roads)


@pytest.fixture(scope="module")
def line_graph() -> routing.Graph:
    # A straight street east: node 1 is exactly 15 minutes' walk from node 0.
    reach = 900.0 * WALK_MS
    return routing.build_graph(network({0: (0, 0), 1: (reach, 0), 2: (2 * reach, 0)},
                                       [(0, 1), (1, 2)]), "walk", metric_crs=METRIC)


@pytest.fixture(scope="module")
def grid_graph() -> routing.Graph:
    return routing.build_graph(grid(9, 200.0), "walk", metric_crs=METRIC)


def test_road_reached_at_exactly_the_band_is_inside(line_graph):
    iso = isochrone_polygons(line_graph, np.array([0.0, 900.0, 1800.0]), [15], buffer_m=1.0)
    shape = metric(iso)
    reach = 900.0 * WALK_MS
    assert shape.covers(shapely.Point(reach, 0))
    assert not shape.intersects(shapely.Point(reach + 3.0, 0))


def test_facility_reached_at_exactly_the_band_is_inside(line_graph):
    # An access leg of exactly 15 minutes: the facility's node is inside, and only it.
    iso = facility_isochrones(line_graph, [1, 1], [15], source_offsets=[900.0, 900.001],
                              buffer_m=10.0)
    reached, beyond = iso.to_crs(METRIC).geometry
    assert reached.area == pytest.approx(np.pi * 100, rel=0.05)
    assert beyond.is_empty


def test_facility_at_a_dead_end_keeps_its_own_spot():
    # Cars may only drive into node 1: a facility there reaches nothing but itself.
    net = network({0: (0, 0), 1: (500, 0)}, [(0, 1)])
    net.edges["oneway"] = True
    graph = routing.build_graph(net, "car", metric_crs=METRIC)
    shape = metric(facility_isochrones(graph, [1], [5], buffer_m=10.0))
    assert shape.area == pytest.approx(np.pi * 100, rel=0.05)
    assert shape.centroid.distance(shapely.Point(500, 0)) < 0.01


def test_road_reached_from_both_ends_keeps_its_unreached_middle():
    graph = routing.build_graph(network({0: (0, 0), 1: (2000, 0)}, [(0, 1)]), "walk",
                                metric_crs=METRIC)
    seconds, _ = routing.nearest_facility(graph, [0, 1])
    shape = metric(isochrone_polygons(graph, seconds, [10], buffer_m=5.0))
    reach = 600.0 * WALK_MS
    assert len(shape.geoms) == 2
    assert shape.area == pytest.approx(2 * (reach * 10 + np.pi * 25), rel=0.01)
    assert not shape.intersects(shapely.Point(1000, 0))


def test_partial_edge_cut_at_the_reachable_fraction(line_graph):
    # From node 0 at 10 minutes: 600/900 of the first street.
    seconds, _ = routing.nearest_facility(line_graph, [0])
    shape = metric(isochrone_polygons(line_graph, seconds, [10], buffer_m=5.0))
    minx, miny, maxx, maxy = shape.bounds
    assert minx == pytest.approx(-5.0, abs=0.01)
    assert maxx == pytest.approx(600.0 * WALK_MS + 5.0, abs=0.01)
    assert maxy - miny == pytest.approx(10.0, abs=0.01)


def test_partial_edge_cut_along_its_geometry():
    # An L-shaped street 1000 m east then 1000 m north; 75% of it is reached.
    net = network({0: (0, 0), 1: (1000, 1000)}, [(0, 1)],
                  geometry={0: [(0, 0), (1000, 0), (1000, 1000)]})
    graph = routing.build_graph(net, "walk", metric_crs=METRIC)
    minutes = 0.75 * 2000.0 / WALK_MS / 60.0
    shape = metric(facility_isochrones(graph, [0], [minutes], buffer_m=2.0))
    assert shape.bounds == pytest.approx((-2.0, -2.0, 1002.0, 502.0), abs=0.01)
    assert shape.area == pytest.approx(1500 * 4 + np.pi * 4, rel=0.01)


def test_ring_road_keeps_the_unreached_valley_as_a_hole():
    # A 2 km square ring road around an empty valley, walked from one corner.
    corners = {0: (0, 0), 1: (2000, 0), 2: (2000, 2000), 3: (0, 2000)}
    graph = routing.build_graph(network(corners, [(0, 1), (1, 2), (2, 3), (3, 0)]), "walk",
                                metric_crs=METRIC)
    iso = facility_isochrones(graph, [0], [60])
    shape = metric(iso)
    assert shape.geom_type == "Polygon"
    assert len(shape.interiors) == 1
    assert not shape.intersects(shapely.Point(1000, 1000))
    assert shape.covers(shapely.Point(2000, 2000))


def test_bands_are_nested_and_valid_wgs84(grid_graph):
    seconds, _ = routing.nearest_facility(grid_graph, [0, 80], [0.0, 120.0])
    iso = isochrone_polygons(grid_graph, seconds, [8, 2, 4, 6])
    assert iso.crs.to_epsg() == 4326
    assert list(iso["minutes"]) == [2, 4, 6, 8]
    assert iso.geometry.is_valid.all() and not iso.geometry.is_empty.any()
    assert iso.total_bounds[0] == pytest.approx(106.5, abs=0.1)
    shapes = iso.to_crs(METRIC).geometry.to_numpy()
    for small, large in zip(shapes[:-1], shapes[1:]):
        assert small.difference(large).area < 1e-6 * small.area
        assert large.area > small.area


def test_bands_match_a_direct_construction(grid_graph):
    # The definition, edge by edge: every reached edge cut at its reachable fraction,
    # every reached node, each buffered (as coarsely as the library), all unioned.
    seconds, _ = routing.nearest_facility(grid_graph, [10, 60], [0.0, 90.0])
    limit = 7 * 60.0
    parts = [shapely.Point(x, y).buffer(75, quad_segs=4) for x, y, t in
             zip(grid_graph.x, grid_graph.y, seconds) if t <= limit]
    for u, v, edge_seconds in zip(grid_graph.edge_u, grid_graph.edge_v, grid_graph.edge_seconds):
        if seconds[u] <= limit:
            f = min(1.0, (limit - seconds[u]) / edge_seconds)
            start = np.array([grid_graph.x[u], grid_graph.y[u]])
            end = start + f * (np.array([grid_graph.x[v], grid_graph.y[v]]) - start)
            parts.append(shapely.LineString([start, end]).buffer(75, quad_segs=4))
    expected = shapely.union_all(parts)
    shape = isochrone_polygons(grid_graph, seconds, [7]).to_crs(METRIC).geometry.iloc[0]
    assert shape.symmetric_difference(expected).area < 1e-6 * expected.area
    assert shapely.get_num_interior_rings(shape.geoms).sum() == (
        shapely.get_num_interior_rings(expected.geoms).sum())


def test_large_groups_dissolved_in_chunks_give_the_same_polygon(grid_graph, monkeypatch):
    import coverage.isochrones

    seconds, _ = routing.nearest_facility(grid_graph, [10, 60])
    whole = isochrone_polygons(grid_graph, seconds, [4, 8]).to_crs(METRIC).geometry
    monkeypatch.setattr(coverage.isochrones, "_CHUNK_PIECES", 3)
    chunked = isochrone_polygons(grid_graph, seconds, [4, 8]).to_crs(METRIC).geometry
    assert chunked.is_valid.all()
    for a, b in zip(whole, chunked):
        assert a.symmetric_difference(b).area < 1e-6 * a.area


def test_merged_bands_are_the_union_of_facility_isochrones(grid_graph):
    sources, offsets = [0, 40, 70], [0.0, 60.0, 200.0]
    seconds, _ = routing.nearest_facility(grid_graph, sources, offsets)
    merged = isochrone_polygons(grid_graph, seconds, [5, 10])
    each = facility_isochrones(grid_graph, sources, [5, 10], source_ids=["a", "b", "c"],
                               source_offsets=offsets)
    assert list(each.columns) == ["facility_id", "minutes", "geometry"]
    assert list(each["facility_id"]) == ["a", "a", "b", "b", "c", "c"]
    assert each.geometry.is_valid.all()
    for minutes, band in merged.to_crs(METRIC).groupby("minutes"):
        union = each[each["minutes"] == minutes].to_crs(METRIC).geometry.union_all()
        assert union.area == pytest.approx(band.geometry.iloc[0].area, rel=0.005)
        assert union.symmetric_difference(band.geometry.iloc[0]).area < 0.005 * union.area


def test_access_leg_shrinks_the_isochrone(grid_graph):
    # 10 minutes spent reaching the road leaves 5 of a 15-minute band.
    late = facility_isochrones(grid_graph, [40], [15], source_offsets=[600.0])
    early = facility_isochrones(grid_graph, [40], [5])
    assert late.geometry.iloc[0].equals(early.geometry.iloc[0])


def test_unsnapped_facility_gets_an_empty_polygon(grid_graph):
    iso = facility_isochrones(grid_graph, [-1, 40], [5])
    assert iso.geometry.is_empty.tolist() == [True, False]


def test_output_is_deterministic(grid_graph):
    seconds, _ = routing.nearest_facility(grid_graph, [0, 44])
    first = isochrone_polygons(grid_graph, seconds, [3, 6])
    second = isochrone_polygons(grid_graph, seconds.copy(), [3, 6])
    assert first.geometry.to_wkb().tolist() == second.geometry.to_wkb().tolist()


def test_bad_bands_are_rejected(grid_graph):
    with pytest.raises(ValueError, match="minutes"):
        isochrone_polygons(grid_graph, np.zeros(grid_graph.n_nodes), [0, 5])
    with pytest.raises(ValueError, match="one time per graph node"):
        isochrone_polygons(grid_graph, np.zeros(3), [5])


def test_helsinki_facility_isochrones():
    from coverage.network import read_network

    graph = routing.build_graph(read_network(HELSINKI), "walk")
    rng = np.random.default_rng(0)
    lon = rng.uniform(*np.percentile(graph.lon, [25, 75]), size=4)
    lat = rng.uniform(*np.percentile(graph.lat, [25, 75]), size=4)
    snap = routing.snap_points(graph, lon, lat)
    iso = facility_isochrones(graph, snap.node, [5, 10], source_offsets=snap.access_seconds)
    assert len(iso) == 8
    assert iso.geometry.is_valid.all()
    reached = iso[~iso.geometry.is_empty]
    assert len(reached) >= 6
    hull = shapely.MultiPoint(np.column_stack([graph.lon, graph.lat])).convex_hull
    assert reached.geometry.within(hull.buffer(0.01)).all()
    areas = reached.to_crs(graph.metric_crs).area.to_numpy().reshape(-1, 2)
    assert (areas[:, 1] >= areas[:, 0]).all()


def test_cli_writes_wgs84_geojson(tmp_path):
    import geopandas as gpd

    from coverage.cli import main

    out = tmp_path / "iso.geojson"
    assert main(["isochrones", "--region", str(ROOT), "--mode", "walk", "--minutes", "5,10",
                 "--per-facility", "--out", str(out)]) == 0
    iso = gpd.read_file(out)
    assert list(iso.columns) == ["minutes", "mode", "facility_id", "facility_name", "geometry"]
    assert iso.crs.to_epsg() == 4326 and (iso["mode"] == "walk").all()
    assert iso.geometry.is_valid.all() and not iso.geometry.is_empty.all()
    assert sorted(set(iso["minutes"])) == [5, 10]
    merged = tmp_path / "merged.geojson"
    assert main(["isochrones", "--region", str(ROOT), "--mode", "walk", "--minutes", "5,10",
                 "--out", str(merged)]) == 0
    bands = gpd.read_file(merged)
    assert list(bands["minutes"]) == [5, 10]
    union = iso[iso["minutes"] == 10].to_crs(32648).union_all()
    assert union.area == pytest.approx(bands.to_crs(32648).geometry.iloc[1].area, rel=0.005)
