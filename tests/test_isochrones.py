"""Isochrones: the coverage rule drawn on cells; residents inside are those counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely import affinity

from coverage import routing
from coverage.access import within
from coverage.isochrones import facility_isochrones, graph_cells, isochrone_polygons
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
def grid_graph() -> routing.Graph:
    return routing.build_graph(grid(9, 200.0), "walk", metric_crs=METRIC)


def centres(graph, minutes: float):
    """Every cell centre of the graph's band grid, WGS-84, and the cells."""
    cells = graph_cells(graph, minutes * 60.0)
    return cells, cells.lon, cells.lat


def counted(graph, lon, lat, source_nodes, offsets=None):
    """Seconds from each point to the nearest source, by the coverage rule itself."""
    snap = routing.snap_points(graph, lon, lat)
    seconds, _ = routing.nearest_facility(graph, source_nodes, offsets, to_sources=True)
    out = np.full(len(lon), np.inf)
    ok = snap.node >= 0
    out[ok] = snap.access_seconds[ok] + seconds[snap.node[ok]]
    return out


def test_a_place_reached_at_exactly_the_band_is_inside():
    # A node on a cell centre reached in exactly 15 minutes: its cell is in, not at 900.01 s.
    net = network({0: (20, 20), 1: (20 + 1125, 20)}, [(0, 1)])
    graph = routing.build_graph(net, "walk", metric_crs=METRIC)
    exact = metric(isochrone_polygons(graph, np.array([900.0, np.inf]), [15]))
    assert exact.covers(shapely.Point(20, 20))
    late = metric(isochrone_polygons(graph, np.array([900.01, np.inf]), [15]))
    assert late.is_empty


def test_band_holds_exactly_the_places_counted(grid_graph):
    sources, offsets = [10, 60], [0.0, 90.0]
    seconds, _ = routing.nearest_facility(grid_graph, sources, offsets, to_sources=True)
    iso = isochrone_polygons(grid_graph, seconds, [3, 7])
    cells, lon, lat = centres(grid_graph, 7)
    time = counted(grid_graph, lon, lat, sources, offsets)
    for minutes, shape in zip(iso["minutes"], iso.geometry):
        inside = shapely.contains_xy(shape, lon, lat)
        assert (inside == within(time, minutes)).all()
        assert inside.any() and not inside.all()


def test_one_way_streets_count_the_trip_towards_the_facility():
    # A -> B -> C one-way by car, the facility at B. A place 80% along A -> B (30 m
    # short of B) walks to B and is in; a place near C, whose node cannot reach B, is out.
    net = network({0: (20, 20), 1: (170, 20), 2: (320, 20)}, [(0, 1), (1, 2)])
    net.edges["oneway"] = True
    graph = routing.build_graph(net, "car", metric_crs=METRIC)
    snap = routing.snap_points(graph, *_TO_WGS.transform(X0 + 170.0, Y0 + 20.0))
    seconds, _ = routing.nearest_facility(graph, snap.node, snap.access_seconds, to_sources=True)
    shape = metric(isochrone_polygons(graph, seconds, [1]))
    assert shape.covers(shapely.Point(140, 20))
    assert not shape.intersects(shapely.Point(300, 20))
    assert np.isinf(seconds[2]) and seconds[0] < 60


def test_ring_road_keeps_the_unreached_valley_as_a_hole():
    # A 4 km square ring road, every node reached at once: the valley is too far to walk.
    side = [(x, 0) for x in range(0, 4000, 100)] + [(4000, y) for y in range(0, 4000, 100)]
    side += [(4000 - x, 4000) for x in range(0, 4000, 100)]
    side += [(0, 4000 - y) for y in range(0, 4000, 100)]
    points = dict(enumerate(side))
    roads = [(i, (i + 1) % len(side)) for i in range(len(side))]
    graph = routing.build_graph(network(points, roads), "walk", metric_crs=METRIC)
    shape = metric(isochrone_polygons(graph, np.zeros(graph.n_nodes), [5]))
    assert shape.geom_type == "Polygon" and len(shape.interiors) == 1
    assert not shape.intersects(shapely.Point(2000, 2000))
    assert shape.covers(shapely.Point(4000, 4000))


def test_bands_are_nested_and_valid_wgs84(grid_graph):
    seconds, _ = routing.nearest_facility(grid_graph, [0, 80], [0.0, 120.0], to_sources=True)
    iso = isochrone_polygons(grid_graph, seconds, [8, 2, 4, 6])
    assert iso.crs.to_epsg() == 4326
    assert list(iso["minutes"]) == [2, 4, 6, 8]
    assert iso.geometry.is_valid.all() and not iso.geometry.is_empty.any()
    assert iso.total_bounds[0] == pytest.approx(106.5, abs=0.1)
    shapes = iso.to_crs(METRIC).geometry.to_numpy()
    for small, large in zip(shapes[:-1], shapes[1:]):
        assert small.difference(large).area < 1e-6 * small.area
        assert large.area > small.area


def test_merged_bands_are_the_union_of_facility_isochrones(grid_graph):
    sources, offsets = [0, 40, 70], [0.0, 60.0, 200.0]
    seconds, _ = routing.nearest_facility(grid_graph, sources, offsets, to_sources=True)
    merged = isochrone_polygons(grid_graph, seconds, [5, 10])
    each = facility_isochrones(grid_graph, sources, [5, 10], source_ids=["a", "b", "c"],
                               source_offsets=offsets)
    assert list(each.columns) == ["facility_id", "minutes", "geometry"]
    assert list(each["facility_id"]) == ["a", "a", "b", "b", "c", "c"]
    assert each.geometry.is_valid.all()
    _, lon, lat = centres(grid_graph, 10)
    for minutes, band in zip(merged["minutes"], merged.geometry):
        inside = np.zeros(lon.size, dtype=bool)
        for shape in each.loc[each["minutes"] == minutes, "geometry"]:
            inside |= shapely.contains_xy(shape, lon, lat)
        assert (inside == shapely.contains_xy(band, lon, lat)).all()


def test_access_leg_shrinks_the_isochrone(grid_graph):
    # 10 minutes spent reaching the road leaves 5 of a 15-minute band.
    cells = graph_cells(grid_graph, 15 * 60.0)
    late = facility_isochrones(grid_graph, [40], [15], source_offsets=[600.0], cells=cells)
    early = facility_isochrones(grid_graph, [40], [5], cells=cells)
    assert late.geometry.iloc[0].equals(early.geometry.iloc[0])


def test_unsnapped_facility_gets_an_empty_polygon(grid_graph):
    iso = facility_isochrones(grid_graph, [-1, 40], [5])
    assert iso.geometry.is_empty.tolist() == [True, False]


def test_output_is_deterministic(grid_graph):
    seconds, _ = routing.nearest_facility(grid_graph, [0, 44], to_sources=True)
    first = isochrone_polygons(grid_graph, seconds, [3, 6])
    second = isochrone_polygons(grid_graph, seconds.copy(), [3, 6])
    assert first.geometry.to_wkb().tolist() == second.geometry.to_wkb().tolist()


def test_bad_bands_are_rejected(grid_graph):
    with pytest.raises(ValueError, match="minutes"):
        isochrone_polygons(grid_graph, np.zeros(grid_graph.n_nodes), [0, 5])
    with pytest.raises(ValueError, match="one time per graph node"):
        isochrone_polygons(grid_graph, np.zeros(3), [5])


@pytest.fixture(scope="module")
def helsinki_car():
    from coverage.network import read_network

    return routing.build_graph(read_network(HELSINKI), "car")


def test_helsinki_by_car_residents_inside_equal_residents_counted(helsinki_car):
    # One-way streets matter by car: the band times the trip towards the facility.
    graph = helsinki_car
    assert graph.edge_u.size < 2 * graph.csr.nnz  # some streets are one-way
    rng = np.random.default_rng(0)
    lon = rng.uniform(*np.percentile(graph.lon, [25, 75]), size=5)
    lat = rng.uniform(*np.percentile(graph.lat, [25, 75]), size=5)
    sites = routing.snap_points(graph, lon, lat)
    seconds, _ = routing.nearest_facility(graph, sites.node, sites.access_seconds,
                                          to_sources=True)
    cells = graph_cells(graph, 5 * 60.0)
    iso = isochrone_polygons(graph, seconds, [2, 5], cells=cells)
    # Residents at cell centres: exactly equal.
    time = counted(graph, cells.lon, cells.lat, sites.node, sites.access_seconds)
    for minutes, shape in zip(iso["minutes"], iso.geometry):
        inside = shapely.contains_xy(shape, cells.lon, cells.lat)
        assert (inside == within(time, minutes)).all() and inside.sum() > 100
    # Residents anywhere are judged by their cell's centre: a few of them, near the
    # band's edge, are counted differently from where they stand (the cell tolerance).
    plon = rng.uniform(*np.percentile(graph.lon, [10, 90]), size=3000)
    plat = rng.uniform(*np.percentile(graph.lat, [10, 90]), size=3000)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", graph.metric_crs,
                                       always_xy=True).transform(plon, plat)
    cx, cy = cells.grid.centres(cells.grid.cell_of(x, y))
    clon, clat = pyproj.Transformer.from_crs(graph.metric_crs, "EPSG:4326",
                                             always_xy=True).transform(cx, cy)
    inside = shapely.contains_xy(iso.geometry.iloc[1], plon, plat)
    centre = within(counted(graph, clon, clat, sites.node, sites.access_seconds), 5)
    own = within(counted(graph, plon, plat, sites.node, sites.access_seconds), 5)
    assert (inside == centre).all() and inside.sum() > 100
    assert (inside != own).mean() < 0.05


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


def test_facilities_searched_in_chunks_give_the_same_isochrones(grid_graph, monkeypatch):
    import coverage.isochrones

    sources, offsets = [0, 40, -1, 70, 12], [0.0, 60.0, 0.0, 200.0, 30.0]
    whole = facility_isochrones(grid_graph, sources, [5, 10], source_offsets=offsets)
    monkeypatch.setattr(coverage.isochrones, "_CHUNK_FACILITIES", 2)
    chunked = facility_isochrones(grid_graph, sources, [5, 10], source_offsets=offsets)
    assert whole.geometry.to_wkb().tolist() == chunked.geometry.to_wkb().tolist()
    # Traced on one thread or several (chunks pipelined with the searches): the same.
    for workers in (1, 3):
        threaded = facility_isochrones(grid_graph, sources, [5, 10], source_offsets=offsets,
                                       workers=workers)
        assert whole.geometry.to_wkb().tolist() == threaded.geometry.to_wkb().tolist()


def test_graph_cells_snap_from_metric_centres_as_residents_would(grid_graph):
    # On a 200 m street grid many 40 m cell centres lie exactly between two nodes: there
    # the WGS-84 centre decides, as for a resident, and elsewhere the node is the same.
    cells = graph_cells(grid_graph, 10 * 60.0)
    assert not cells.from_wgs84
    metric = cells.snap(grid_graph)
    resident = routing.snap_points(grid_graph, cells.lon, cells.lat)
    x, y = cells.grid.centres(cells.index)
    _, _, tie = routing.nearest_nodes_xy(grid_graph, x, y, tie_m=1e-6)
    assert tie.sum() > 100  # the grid has real ties
    np.testing.assert_array_equal(metric.node, resident.node)
    np.testing.assert_allclose(metric.access_seconds, resident.access_seconds, atol=1e-6)
    assert metric.distance_m is None  # not kept on millions of cells
