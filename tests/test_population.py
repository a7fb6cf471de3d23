"""Population surfaces: township-table spreading and raster reading, on the real packs."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from coverage.errors import InputError
from coverage.population import (compare_population, population_points, raster_points,
                                 township_surface)
from coverage.region import load_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=[".", "regions/beibei"])
def region(request):
    return load_region(ROOT / request.param)


def test_surface_sums_exactly_to_each_township(region):
    points = population_points(region)
    report = compare_population(points, region.townships)
    assert (report["difference"] == 0).all()
    assert (points["population"] > 0).all()
    assert np.issubdtype(points["population"].dtype, np.integer)
    # Every point lies in the township it is assigned to.
    polygons = dict(zip(region.townships["code"], region.townships.geometry))
    for code, group in points.groupby("township_code"):
        assert shapely.contains_xy(polygons[code], group.geometry.x, group.geometry.y).all(), code


def test_surface_is_deterministic_and_weighted_towards_seats(region):
    a = population_points(region)
    b = population_points(region)
    assert a.equals(b)
    township = region.townships.iloc[0]
    mine = a[a["township_code"] == township["code"]]
    seat = shapely.Point(township["seat_lon"], township["seat_lat"])
    d = shapely.distance(mine.geometry.to_numpy(), seat)
    near, far = mine["population"][d <= np.median(d)], mine["population"][d > np.median(d)]
    assert near.mean() > far.mean()


def test_tiny_township_keeps_its_people():
    region = load_region(ROOT)
    points = township_surface(region.townships, region.metric_crs, cell_m=50_000)
    assert compare_population(points, region.townships)["difference"].eq(0).all()


def _write_raster(path, crs, transform, data, nodata):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype="float32", crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data.astype("float32"), 1)


def test_raster_in_another_crs_is_read_in_windows_and_clipped(tmp_path):
    region = load_region(ROOT)
    # A 100 m UTM raster over the whole region and beyond: 10 people a cell,
    # a nodata band and a band of zeros that must both be skipped.
    minx, miny, maxx, maxy = region.townships.to_crs("EPSG:32648").total_bounds
    width, height = int((maxx - minx) // 100) + 20, int((maxy - miny) // 100) + 20
    data = np.full((height, width), 10.0)
    data[:5] = -1.0
    data[5:10] = 0.0
    path = tmp_path / "pop.tif"
    _write_raster(path, "EPSG:32648", from_origin(minx - 1000, maxy + 1000, 100, 100), data, -1.0)
    points = raster_points(path, region.townships, region.metric_crs, window_rows=37)
    assert (points["population"] == 10.0).all()
    assert shapely.contains_xy(region.boundary, points.geometry.x, points.geometry.y).all()
    # About one point per hectare of the region.
    area_ha = region.townships.to_crs("EPSG:32648").area.sum() / 1e4
    assert abs(len(points) - area_ha) / area_ha < 0.02
    assert points.equals(raster_points(path, region.townships, region.metric_crs, window_rows=500))
    report = compare_population(points, region.townships)
    assert np.allclose(report["difference"], report["surface"] - report["table"])
    assert np.allclose(report["relative"], report["difference"] / report["table"])


def test_raster_in_wgs84_matches_its_cells(tmp_path):
    region = load_region(ROOT)
    lon, lat = region.townships.iloc[0][["seat_lon", "seat_lat"]]
    data = np.arange(1, 17, dtype=float).reshape(4, 4)
    path = tmp_path / "pop.tif"
    _write_raster(path, "EPSG:4326", from_origin(lon - 0.002, lat + 0.002, 0.001, 0.001), data, None)
    points = raster_points(path, region.townships, region.metric_crs)
    assert len(points) == 16 and points["population"].sum() == data.sum()
    assert np.isclose(points.geometry.x.min(), lon - 0.0015)


def test_raster_without_crs_or_outside_is_an_input_error(tmp_path):
    region = load_region(ROOT)
    path = tmp_path / "nocrs.tif"
    _write_raster(path, None, from_origin(0, 0, 1, 1), np.ones((2, 2)), None)
    with pytest.raises(InputError, match="no CRS"):
        raster_points(path, region.townships, region.metric_crs)
    far = tmp_path / "far.tif"
    _write_raster(far, "EPSG:4326", from_origin(10, 50, 0.01, 0.01), np.ones((2, 2)), None)
    with pytest.raises(InputError, match="does not overlap"):
        raster_points(far, region.townships, region.metric_crs)


def test_population_command_reports_raster_against_table(tmp_path, capsys):
    from coverage.cli import main

    region = load_region(ROOT)
    minx, miny, maxx, maxy = region.townships.to_crs("EPSG:32648").total_bounds
    width, height = int((maxx - minx) // 200) + 2, int((maxy - miny) // 200) + 2
    path = tmp_path / "pop.tif"
    _write_raster(path, "EPSG:32648", from_origin(minx - 200, maxy + 200, 200, 200),
                  np.full((height, width), 3.0), None)
    out = tmp_path / "cmp.csv"
    assert main(["population", str(ROOT), "--raster", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "虎溪街道" in printed and "合计 total" in printed
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert main(["population", str(ROOT)]) == 2
    assert "no population raster to compare" in capsys.readouterr().err
