"""GCJ-02 / BD-09 conversions against a scalar reference library, and round trips."""

import numpy as np
import pytest

from coverage import crs

eviltransform = pytest.importorskip("eviltransform")

METRES_PER_DEGREE = 111_320.0


def _china_points(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(73.0, 135.0, n), rng.uniform(18.0, 53.0, n)


def test_forward_matches_eviltransform_within_centimetres():
    lon, lat = _china_points()
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    ref = np.array([eviltransform.wgs2gcj(b, a) for a, b in zip(lon, lat)])
    # eviltransform scales the offset with the WGS-84 semi-major axis, the reference
    # algorithm with Krasovsky's: the two differ by ~1.7e-5 of a ~500 m offset.
    assert np.abs(g_lat - ref[:, 0]).max() * METRES_PER_DEGREE < 0.05
    assert np.abs(g_lon - ref[:, 1]).max() * METRES_PER_DEGREE < 0.05


def test_inverse_is_undone_by_eviltransform_forward():
    lon, lat = _china_points(2000)
    w_lon, w_lat = crs.gcj02_to_wgs84(lon, lat)
    ref = np.array([eviltransform.wgs2gcj(b, a) for a, b in zip(w_lon, w_lat)])
    assert np.abs(ref[:, 0] - lat).max() * METRES_PER_DEGREE < 0.05
    assert np.abs(ref[:, 1] - lon).max() * METRES_PER_DEGREE < 0.05


@pytest.mark.parametrize("forward,inverse", [
    (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
    (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
])
def test_round_trip_under_half_a_metre(forward, inverse):
    lon, lat = _china_points(20000, seed=7)
    back_lon, back_lat = inverse(*forward(lon, lat))
    err_m = np.hypot((back_lon - lon) * np.cos(np.radians(lat)), back_lat - lat) * METRES_PER_DEGREE
    assert err_m.max() < 0.5


def test_offset_size_in_chongqing():
    # Beibei: Amap (GCJ-02) sits about +0.0040 lon, -0.0025 lat off WGS-84
    # (shared/data/README.md), i.e. some 450 m.
    w_lon, w_lat = crs.gcj02_to_wgs84(106.4380, 29.8251)
    assert 0.0035 < 106.4380 - w_lon < 0.0050
    assert 0.0015 < w_lat - 29.8251 < 0.0035


def test_identity_outside_china():
    lon = np.array([24.94, -0.12, 151.2])
    lat = np.array([60.17, 51.5, -33.87])
    for convert in (crs.gcj02_to_wgs84, crs.wgs84_to_gcj02, crs.bd09_to_wgs84, crs.wgs84_to_bd09):
        out_lon, out_lat = convert(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_shapes_are_kept():
    lon = np.full((3, 4), 106.5)
    lat = np.full((3, 4), 29.5)
    out_lon, out_lat = crs.gcj02_to_wgs84(lon, lat)
    assert out_lon.shape == (3, 4) and out_lat.shape == (3, 4)
    x, y = crs.gcj02_to_wgs84(106.5, 29.5)
    assert np.ndim(x) == 0


def test_to_wgs84_dispatch_and_unknown_crs():
    x, y = crs.to_wgs84([500000.0], [3263000.0], "EPSG:32648")
    assert abs(x[0] - 105.0) < 0.01 and 29.4 < y[0] < 29.6
    np.testing.assert_allclose(crs.to_wgs84([106.5], [29.5], "高德".replace("高德", "amap")),
                               crs.gcj02_to_wgs84([106.5], [29.5]))
    with pytest.raises(ValueError, match="unknown CRS"):
        crs.normalise_crs_name("EPSG:999999")
    assert crs.utm_crs(106.5, 29.5) == "EPSG:32648"


@pytest.mark.parametrize("forward,inverse", [
    (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
    (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
])
def test_round_trip_keeps_the_promise_on_100000_chongqing_points(forward, inverse):
    # The docstrings promise 1e-9 degrees (0.1 mm) both ways; Chongqing's extent.
    rng = np.random.default_rng(14)
    lon, lat = rng.uniform(105.2, 110.2, 100_000), rng.uniform(28.1, 32.3, 100_000)
    back_lon, back_lat = forward(*inverse(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9
    again_lon, again_lat = inverse(*forward(lon, lat))
    assert np.abs(again_lon - lon).max() < 1e-9 and np.abs(again_lat - lat).max() < 1e-9
