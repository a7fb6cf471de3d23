"""Maps, views and UI strings of the app: offline-safe maps, datum shifts, view frames."""

from pathlib import Path

import numpy as np
import pytest
import shapely

from coverage import maps, uploads, views
from coverage.access import AccessContext
from coverage.errors import InputError
from coverage.region import load_region
from coverage.ui_text import EN, ZH

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def context(region):
    return AccessContext(region)


@pytest.fixture(scope="module")
def view(region, context):
    params = views.circle_parameters(region)
    mode = views.travel_mode(region, "by_kind")
    return {
        "towns": views.township_view(context, minutes=15, types=params["types"], mode=mode),
        "bands": views.isochrone_view(context, context.facilities(params["types"]), mode,
                                      (10, 15)),
        "gaps": views.gaps_view(context, minutes=15, types=params["types"], mode=mode),
    }


def test_both_languages_have_the_same_keys():
    assert ZH.keys() == EN.keys()
    for key, value in ZH.items():
        if isinstance(value, dict):
            assert value.keys() == EN[key].keys(), key


def _html(fmap) -> str:
    return fmap.get_root().render()


def test_map_loads_nothing_from_the_network(region, view):
    fmap = maps.coverage_map(region, facilities=region.facilities, base="none", **view)
    page = _html(fmap)
    # Leaflet is inlined; no CDN script or stylesheet, no jQuery call, no tile layer.
    assert "data:text/javascript;base64," in page
    assert not [u for u in ("cdn.jsdelivr", "cdnjs", "code.jquery", "netdna", "bootstrapcdn")
                if u in page]
    assert "$(`" not in page
    assert "tile.openstreetmap" not in page
    # Every facility is drawn, with its record in the popup.
    assert page.count("\"className\": \"facility\"") == len(region.facilities)
    assert "\\u864e\\u6eaa" in page or "虎溪" in page  # 虎溪 in the popups (JSON-escaped)


def test_popup_has_the_record(region):
    row = region.facilities.iloc[0]
    text = maps.facility_popup(row, "en")
    for part in ("Name", row["name"], "Status", "Source", "Beds"):
        assert str(part) in text


def test_amap_shifts_overlays_and_clicks_back(region, view):
    towns = view["towns"]
    shifted = maps.display_frame(towns, "amap")
    dx, dy = (shapely.get_coordinates(shapely.centroid(shifted.geometry.to_numpy()))
              - shapely.get_coordinates(shapely.centroid(towns.geometry.to_numpy()))).T
    # GCJ-02 lies a few hundred metres off WGS-84 in Chongqing.
    assert ((np.hypot(dx, dy) > 0.001) & (np.hypot(dx, dy) < 0.01)).all()
    assert maps.display_frame(towns, "tianditu") is towns
    x, y = shapely.get_coordinates(shifted.geometry.iloc[0].exterior)[0]
    lon, lat = maps.clicked_wgs84(x, y, "amap")
    x0, y0 = shapely.get_coordinates(towns.geometry.iloc[0].exterior)[0]
    assert abs(lon - x0) < 1e-5 and abs(lat - y0) < 1e-5


def test_tianditu_takes_the_key_and_nothing_else(region):
    page = _html(maps.base_map(region, base="tianditu", tianditu_key="abc123\"><script>"))
    assert "tk=abc123script" in page and "vec_w" in page and "cva_w" in page
    assert "tianditu" not in _html(maps.base_map(region, base="tianditu", tianditu_key=""))
    with pytest.raises(ValueError):
        maps.base_map(region, base="baidu")


def test_township_view_adds_up(view, region):
    towns = view["towns"]
    assert len(towns) == len(region.townships)
    assert (towns["covered"] <= towns["population"]).all()
    assert towns["share"].between(0, 1).all()
    assert towns["population"].sum() == pytest.approx(region.townships["population"].sum())


def test_isochrones_by_kind_are_nested_and_clipped(view, region):
    bands = view["bands"].to_crs(region.metric_crs).set_index("minutes").geometry
    # Nested and inside the townships (cells whose centre is inside: up to half a
    # 40 m cell's diagonal beyond), up to the noise of reprojecting polygons.
    assert bands[10].difference(bands[15]).area < 1e-5 * bands[10].area
    inside = shapely.union_all(region.townships.to_crs(region.metric_crs).geometry.to_numpy())
    assert bands[15].difference(inside.buffer(20 * 2 ** 0.5 + 0.1)).area < 1e-5 * bands[15].area
    assert 0 < bands[10].area < bands[15].area


def test_what_if_moves_a_facility(region, context):
    params = views.circle_parameters(region)
    base = views.baseline(context, minutes=15, types=params["types"],
                          mode=views.travel_mode(region, "by_kind"))
    assert base.year is None or base.year == context.year
    scenario = views.scenario_from_edits(
        [{"action": "move", "facility": "gx-zouma-thc", "lon": 106.35, "lat": 29.50}],
        year=2025, name_zh="测试", name_en="test")
    ctx25 = AccessContext(region, year=2025)
    base = views.baseline(ctx25, minutes=15, types=params["types"],
                          mode=views.travel_mode(region, "by_kind"))
    result, after = views.what_if(base, scenario, minutes=15)
    moved = after.region.facilities.set_index("id").geometry["gx-zouma-thc"]
    assert (moved.x, moved.y) == pytest.approx((106.35, 29.50))
    totals = result.totals.iloc[0]
    assert totals["covered_after"] - totals["covered_before"] == pytest.approx(
        totals["gained"] - totals["lost"])
    assert totals["lost"] > 0


def test_choices_and_values(region):
    assert views.travel_mode(region, "car") == "car"
    assert views.travel_mode(region, "by_kind") == views.circle_parameters(region)["modes"]
    with pytest.raises(ValueError):
        views.travel_mode(region, "boat")
    years = views.year_choices(region)
    assert years == list(range(years[0], years[-1] + 1)) and 2022 in years
    assert views.format_value(0.5, "share") == "50.0%"
    assert views.format_value(None, "share") == "—"


def test_upload_guard(tmp_path):
    with pytest.raises(InputError, match="unsupported file type"):
        uploads.store_upload(b"x", "roads.exe", "network", tmp_path)
    with pytest.raises(InputError, match="at most 50 MB"):
        uploads.store_upload(b"0" * (uploads.MAX_UPLOAD_BYTES + 1), "f.csv", "facilities", tmp_path)
    with pytest.raises(InputError, match="empty"):
        uploads.store_upload(b"", "f.csv", "facilities", tmp_path)
    path = uploads.store_upload(b"a", "../../etc/passwd.csv", "facilities", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".csv"
    assert uploads.store_upload(b"a", "x.osm.pbf", "network", tmp_path).name == "x.osm.pbf"


def test_report_of_the_view_is_self_contained(region, context):
    page = views.report_html(context, minutes=10, types=["township_health_centre"], mode="walk")
    assert page.startswith("<!DOCTYPE html>") and region.name_zh in page
    assert "10分钟" in page and "<script src" not in page and "http" not in page.split("<body>")[1]
