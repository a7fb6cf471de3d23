"""Terrain: a DEM gives each edge its climb; Tobler for walkers, a power limit for
e-bikes, cars unchanged; off-road legs slowed by their slope. DEMs generated here."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from affine import Affine

from coverage import routing, terrain
from coverage.cli import main
from coverage.errors import InputError
from coverage.network import RoadNetwork

ROOT = Path(__file__).resolve().parents[1]
UTM = "EPSG:32648"
GRADE = 0.10  # the generated terrain rises 10 % eastwards


def _write_dem(path: Path, crs: str, bounds, cell: float, height) -> Path:
    """A GeoTIFF over ``bounds`` (in ``crs``) with ``height(x, y)`` at cell centres."""
    west, south, east, north = bounds
    cols, rows = int(np.ceil((east - west) / cell)), int(np.ceil((north - south) / cell))
    xs = west + (np.arange(cols) + 0.5) * cell
    ys = north - (np.arange(rows) + 0.5) * cell
    grid = height(*np.meshgrid(xs, ys)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs=crs, transform=Affine(cell, 0, west, 0, -cell, north),
                       nodata=-9999.0) as dst:
        dst.write(grid, 1)
    return path


def _road(length_m=400.0):
    """One two-way residential road running due east from 106.5E 29.5N."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    to_wgs = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    x0, y0 = to_utm.transform(106.5, 29.5)
    lon1, lat1 = to_wgs.transform(x0 + length_m, y0)
    nodes = pd.DataFrame({"x": [106.5, lon1], "y": [29.5, lat1]}, index=pd.Index([1, 2]))
    edges = pd.DataFrame({"u": [1], "v": [2], "length": [length_m], "highway": ["residential"],
                          "oneway": [False], "name": [""]})
    return RoadNetwork(nodes, edges, source="test"), (x0, y0)


@pytest.fixture(scope="module")
def slope(tmp_path_factory):
    """A UTM DEM and the same terrain as a WGS-84 DEM, both rising 10 % eastwards."""
    folder = tmp_path_factory.mktemp("dem")
    network, (x0, y0) = _road()
    utm = _write_dem(folder / "utm.tif", UTM, (x0 - 3000, y0 - 3000, x0 + 3000, y0 + 3000),
                     10.0, lambda x, y: 200.0 + GRADE * (x - x0))
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)

    def height(lon, lat):
        x, _ = to_utm.transform(lon, lat)
        return 200.0 + GRADE * (np.asarray(x) - x0)

    wgs = _write_dem(folder / "wgs.tif", "EPSG:4326", (106.47, 29.47, 106.53, 29.53), 0.0001,
                     height)
    return network, {"utm": utm, "wgs": wgs}


def test_tobler_and_ebike_models():
    assert terrain.tobler_factor(0.0) == pytest.approx(1.0)
    # Fastest on a gentle descent; a climb is slower than the same descent.
    grid = np.linspace(-0.3, 0.3, 601)
    assert grid[np.argmax(terrain.tobler_factor(grid))] == pytest.approx(-0.05)
    assert terrain.tobler_factor(0.1) < terrain.tobler_factor(-0.1) == pytest.approx(1.0)
    assert 1 / terrain.tobler_factor(0.2) == pytest.approx(np.exp(3.5 * 0.2), rel=1e-9)
    assert terrain.ebike_kmh(20.0, 0.0) == 20.0 and terrain.ebike_kmh(20.0, -0.1) == 20.0
    assert 9.0 < terrain.ebike_kmh(20.0, 0.10) < 11.0  # 400 W, 130 kg up 10 %
    assert terrain.ebike_kmh(20.0, 0.02) == 20.0  # the power suffices on gentle grades


@pytest.mark.parametrize("which", ["utm", "wgs"])
def test_edges_are_timed_over_their_climb_in_each_direction(slope, which):
    network, _ = slope
    flat = routing.build_graph(network, "walk", metric_crs=UTM)
    hilly = routing.build_graph(network, "walk", metric_crs=UTM, dem=slope[1][which])
    base = 400.0 / (4.5 / 3.6)
    up = hilly.csr[0, 1]
    down = hilly.csr[1, 0]
    assert flat.csr[0, 1] == pytest.approx(base) == flat.csr[1, 0]
    assert up == pytest.approx(base / terrain.tobler_factor(GRADE), rel=1e-3)
    assert down == pytest.approx(base / terrain.tobler_factor(-GRADE), rel=1e-3)
    assert hilly.node_z[1] - hilly.node_z[0] == pytest.approx(40.0, abs=0.5)
    ebike = routing.build_graph(network, "ebike", metric_crs=UTM, dem=slope[1][which])
    kmh = 400.0 / np.array([ebike.csr[0, 1], ebike.csr[1, 0]]) * 3.6
    assert kmh[1] == pytest.approx(15.0)  # residential e-bike speed, downhill unchanged
    assert kmh[0] == pytest.approx(terrain.ebike_kmh(15.0, GRADE), rel=1e-3)
    car = routing.build_graph(network, "car", metric_crs=UTM, dem=slope[1][which])
    assert car.csr[0, 1] == pytest.approx(car.csr[1, 0]) == pytest.approx(400 / (20 / 3.6))


def test_off_road_legs_are_slowed_by_their_slope(slope):
    network, dems = slope
    _, (x0, y0) = _road()
    graph = routing.build_graph(network, "walk", metric_crs=UTM, dem=dems["utm"])
    to_wgs = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    # 600 m west of node 1 (below it) and 600 m east of node 2 (above it).
    lon, lat = to_wgs.transform([x0 - 600, x0 + 1000], [y0, y0])
    snap = routing.snap_points(graph, lon, lat)
    flat = 600.0 / (3.0 / 3.6)
    assert snap.node.tolist() == [0, 1]
    assert snap.access_seconds[0] == pytest.approx(flat / terrain.tobler_factor(GRADE), rel=1e-3)
    assert snap.access_seconds[1] == pytest.approx(flat / terrain.tobler_factor(-GRADE), rel=1e-3)


def test_graph_cache_tells_dems_apart(slope, tmp_path):
    network, _ = slope
    first = routing.build_graph(network, "walk", metric_crs=UTM, dem=slope[1]["utm"],
                                cache_dir=tmp_path)
    again = routing.build_graph(network, "walk", metric_crs=UTM, dem=slope[1]["utm"],
                                cache_dir=tmp_path)
    plain = routing.build_graph(network, "walk", metric_crs=UTM, cache_dir=tmp_path)
    assert again.csr[0, 1] == first.csr[0, 1] != plain.csr[0, 1]
    np.testing.assert_array_equal(again.node_z, first.node_z)
    assert len(list(tmp_path.glob("graph-walk-*.npz"))) == 2


def test_nodata_counts_as_flat(tmp_path):
    network, (x0, y0) = _road()
    dem = _write_dem(tmp_path / "holes.tif", UTM, (x0 - 500, y0 - 500, x0 + 900, y0 + 500),
                     10.0, lambda x, y: np.where(x > x0 + 200, -9999.0, 300.0))
    graph = routing.build_graph(network, "walk", metric_crs=UTM, dem=dem)
    assert graph.csr[0, 1] == pytest.approx(400.0 / (4.5 / 3.6))


def test_bad_dems_are_clear_errors(tmp_path, capsys):
    fake = tmp_path / "dem.tif"
    fake.write_text("not a tiff", encoding="utf-8")
    with pytest.raises(InputError, match="dem.tif: not a GeoTIFF"):
        terrain.read_dem(fake)
    empty = _write_dem(tmp_path / "empty.tif", UTM, (0, 0, 100, 100), 10.0,
                       lambda x, y: np.full_like(x, -9999.0))
    with pytest.raises(InputError, match="empty.tif: the DEM holds no height"):
        terrain.read_dem(empty)
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\na,106.4,29.6\n", encoding="utf-8")
    code = main(["traveltime", "--region", str(ROOT), "--mode", "walk", "--points", str(points),
                 "--out", str(tmp_path / "t.csv"), "--dem", str(fake)])
    err = capsys.readouterr().err
    assert code == 2 and "not a GeoTIFF" in err and "Traceback" not in err
    assert not (tmp_path / "t.csv").exists()


def test_traveltime_cli_takes_a_dem(tmp_path):
    """The pack's area on a tilted plane: walking times change, car edges do not."""
    from coverage.region import load_region

    region = load_region(ROOT)
    west, south, east, north = region.boundary.bounds
    dem = _write_dem(tmp_path / "tilt.tif", "EPSG:4326", (west - 0.05, south - 0.05,
                                                           east + 0.05, north + 0.05),
                     0.002, lambda lon, lat: 300.0 + 4000.0 * (lon - west))
    site = region.facilities.geometry.iloc[0]
    points = tmp_path / "points.csv"
    points.write_text(f"id,lon,lat\nw,{site.x - 0.01},{site.y}\ne,{site.x + 0.01},{site.y}\n",
                      encoding="utf-8")
    times = {}
    for mode in ("walk", "car"):
        for dem_args in ([], ["--dem", str(dem)]):
            out = tmp_path / f"{mode}{len(dem_args)}.csv"
            assert main(["traveltime", "--region", str(ROOT), "--mode", mode, "--points",
                         str(points), "--out", str(out), *dem_args]) == 0
            times[mode, bool(dem_args)] = pd.read_csv(out, encoding="utf-8-sig")["minutes"]
    assert not np.allclose(times["walk", True], times["walk", False])
    # Car times change by the off-road walking legs only: the car graph is the same.
    assert not np.allclose(times["car", True], times["car", False])
    network = region.load_network()
    flat = routing.build_graph(network, "car", metric_crs=region.metric_crs)
    hilly = routing.build_graph(network, "car", metric_crs=region.metric_crs, dem=dem)
    np.testing.assert_allclose(hilly.csr.data, flat.csr.data, rtol=1e-12)


def test_check_takes_a_dem(tmp_path):
    """Steep terrain under the pack slows walkers and e-bikes: the circle shrinks."""
    import json

    from coverage.region import load_region

    region = load_region(ROOT)
    west, south, east, north = region.boundary.bounds
    dem = _write_dem(tmp_path / "ridges.tif", "EPSG:4326", (west - 0.05, south - 0.05,
                                                             east + 0.05, north + 0.05),
                     0.001, lambda lon, lat: 300.0 + 150.0 * np.sin(lon * 300.0))
    measured = {}
    for extra in ([], ["--dem", str(dem)]):
        out = tmp_path / f"check{len(extra)}.json"
        assert main(["check", str(ROOT), "--format", "json", "--out", str(out), *extra]) == 0
        rows = json.loads(out.read_text(encoding="utf-8"))
        measured[bool(extra)] = next(r["measured"] for r in rows if r["rule"] == "circle")
    assert measured[True] < measured[False]


def test_dem_sampling_is_bilinear_by_window_and_nan_outside(tmp_path):
    dem = terrain.read_dem(_write_dem(tmp_path / "plane.tif", UTM, (0, 0, 1000, 500), 10.0,
                                      lambda x, y: 100.0 + 0.2 * x - 0.1 * y))
    assert dem.shape == (50, 100)
    x = np.array([5.0, 123.4, 994.9, 500.0, -20.0, 1500.0])
    y = np.array([495.0, 250.6, 5.1, 250.0, 250.0, 250.0])
    z = dem.sample(x, y, UTM)
    np.testing.assert_allclose(z[:4], 100.0 + 0.2 * x[:4] - 0.1 * y[:4], atol=1e-3)
    assert np.isnan(z[4:]).all()
    # One point reads a 2 x 2 window only, with the same answer.
    assert dem.sample([123.4], [250.6], UTM)[0] == pytest.approx(z[1])


def test_edge_geometry_drawn_from_v_to_u_is_profiled_from_u(slope):
    """A road file may draw a line against its edge's direction: the climb still runs u to v."""
    import shapely

    network, dems = slope
    lon, lat = network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy()
    mid = ((lon[0] + lon[1]) / 2, (lat[0] + lat[1]) / 2)
    drawn = network.edges.assign(geometry=[shapely.LineString([(lon[0], lat[0]), mid, (lon[1], lat[1])])])
    against = network.edges.assign(geometry=[shapely.LineString([(lon[1], lat[1]), mid, (lon[0], lat[0])])])
    a = routing.build_graph(RoadNetwork(network.nodes, drawn), "walk", metric_crs=UTM, dem=dems["utm"])
    b = routing.build_graph(RoadNetwork(network.nodes, against), "walk", metric_crs=UTM,
                            dem=dems["utm"])
    assert a.csr[0, 1] == pytest.approx(b.csr[0, 1]) and a.csr[0, 1] > a.csr[1, 0]
