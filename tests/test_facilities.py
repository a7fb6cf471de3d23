"""Facility registers from CSV, Excel and GeoJSON, in Chinese or English, and their errors."""

import json

import pandas as pd
import pytest
import shapely

from coverage import crs
from coverage.errors import InputError
from coverage.facilities import active_facilities, read_facilities
from coverage.tables import read_points

CSV_ZH = """编号,名称,类型,等级,状态,床位,执业医师,经度,纬度,开业年份,关闭年份,迁建自
A1,虎溪社区卫生服务中心,社区卫生服务中心,,现有,90,,106.3347,29.5991,2022,,
A2,白市驿镇卫生院（旧址）,卫生院,,关闭,,,106.3706,29.4795,,2022,
A3,白市驿镇卫生院,镇卫生院,甲级基层,现有,40,12,106.3750,29.4800,2022,,A2
A4,肿瘤医院科学城院区,三级医院,三甲,在建,,,106.3500,29.5500,2025,,
"""


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_chinese_csv_utf8_and_gbk_give_the_same_register(tmp_path):
    utf8 = read_facilities(_write(tmp_path, "f.csv", CSV_ZH), crs="GCJ02")
    gbk = read_facilities(_write(tmp_path, "g.csv", CSV_ZH, "gbk"), crs="GCJ02")
    pd.testing.assert_frame_equal(pd.DataFrame(utf8.drop(columns="geometry")),
                                  pd.DataFrame(gbk.drop(columns="geometry")))
    assert list(utf8["type"]) == ["community_health_centre", "township_health_centre",
                                  "township_health_centre", "tertiary_hospital"]
    assert list(utf8["status"]) == ["existing", "closed", "existing", "under_construction"]
    assert utf8.loc[2, "grade"] == "甲级基层" and utf8.loc[3, "grade"] == "三甲"
    assert utf8.loc[0, "beds"] == 90 and pd.isna(utf8.loc[1, "beds"])
    # converted from GCJ-02 once, at import
    lon, lat = crs.gcj02_to_wgs84(106.3347, 29.5991)
    assert utf8.geometry.iloc[0].distance(shapely.Point(lon, lat)) < 1e-9
    assert utf8.crs.to_epsg() == 4326


def test_excel_register(tmp_path):
    frame = pd.read_csv(_write(tmp_path, "f.csv", CSV_ZH), dtype=str)
    frame.to_excel(tmp_path / "f.xlsx", index=False)
    register = read_facilities(tmp_path / "f.xlsx")
    assert len(register) == 4 and register.loc[3, "status"] == "under_construction"


def test_geopackage_register_in_a_projected_crs(tmp_path):
    register = read_facilities(_write(tmp_path, "f.csv", CSV_ZH))
    register.to_crs("EPSG:32648").to_file(tmp_path / "f.gpkg", engine="pyogrio")
    again = read_facilities(tmp_path / "f.gpkg")
    assert list(again["id"]) == list(register["id"])
    assert again.geometry.distance(register.geometry).max() < 1e-7


def test_geojson_register_in_bd09(tmp_path):
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.34, 29.605]},
                 "properties": {"id": "X", "name": "某卫生院", "type": "乡镇卫生院"}}]
    path = _write(tmp_path, "f.geojson", json.dumps({"type": "FeatureCollection",
                                                      "features": features}, ensure_ascii=False))
    register = read_facilities(path, crs="BD09")
    lon, lat = crs.bd09_to_wgs84(106.34, 29.605)
    assert register.geometry.iloc[0].distance(shapely.Point(lon, lat)) < 1e-9


def test_active_facilities_by_year():
    register = read_facilities_from_text(CSV_ZH)
    assert set(active_facilities(register, 2021)["id"]) == {"A2"}
    assert set(active_facilities(register, 2022)["id"]) == {"A1", "A3"}
    assert set(active_facilities(register, 2025)["id"]) == {"A1", "A3", "A4"}
    assert set(active_facilities(register)["id"]) == {"A1", "A3"}
    assert set(active_facilities(register, 2025, types=["三级医院"])["id"]) == {"A4"}
    assert set(active_facilities(register, types=["卫生院"])["id"]) == {"A3"}


def read_facilities_from_text(text, name="f.csv", **kw):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        return read_facilities(_write(Path(tmp), name, text), **kw)


@pytest.mark.parametrize("text,expected", [
    ("", r"f\.csv: the file is empty"),
    ("名称,类型,经度,纬度\n", r"f\.csv: the table has a header but no rows"),
    (CSV_ZH.replace(",90,", ",abc,"), r"f\.csv row 1, beds: 'abc' is not a number"),
    (CSV_ZH.replace("A3,", "A1,"), r"f\.csv row 3, id: duplicate id 'A1' \(also row 1\)"),
    (CSV_ZH.replace("三级医院,三甲", "诊所,三甲"), r"f\.csv row 4, type: '诊所' is not a known facility type"),
    (CSV_ZH.replace(",在建,", ",拆除,"), r"f\.csv row 4, status: '拆除' is not a known facility status"),
    (CSV_ZH.replace("106.3750,29.4800", ",29.4800"), r"f\.csv row 3, lon: missing value: expected a number"),
    (CSV_ZH.replace(",A2\n", ",Z9\n"), r"f\.csv row 3, replaces: replaces 'Z9'"),
    (CSV_ZH.replace("29.5991,2022,,", "29.5991,2022,2020,"),
     r"row 1, closing_year: closing year 2020 is before the opening year 2022"),
    ("名称,类型,经度,纬度,坐标系\n甲,卫生院,106.3,29.5,火星\n", r"f\.csv row 1, crs: unknown CRS '火星'"),
    ("名称,类型\n甲,卫生院\n", r"f\.csv, lon: no coordinate column"),
])
def test_clear_errors(text, expected):
    with pytest.raises(InputError, match=expected):
        read_facilities_from_text(text)


def test_wrong_encoding_is_named(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("名称,类型\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"f\.csv: cannot decode the text: expected UTF-8 or GBK"):
        read_facilities(path)


def test_township_code_and_boundary_checks(tmp_path):
    text = CSV_ZH.replace("编号,", "乡镇代码,编号,").replace("\nA", "\n500106016,A")
    path = _write(tmp_path, "f.csv", text)
    with pytest.raises(InputError, match=r"row 1, township_code: township code '500106016' is not in"):
        read_facilities(path, township_codes=["500107105"])
    small = shapely.box(106.30, 29.55, 106.36, 29.62)  # around 虎溪 only
    with pytest.raises(InputError, match=r"f\.csv row 2, geometry: facility '白市驿镇卫生院（旧址）'.* outside"):
        read_facilities(path, boundary=small)


def test_read_points_any_crs(tmp_path):
    path = _write(tmp_path, "p.csv", "id,x,y\np1,500000,3263000\np2,501000,3264000\n")
    points = read_points(path, crs="EPSG:32648")
    assert list(points["id"]) == ["p1", "p2"]
    assert abs(points.geometry.x.iloc[0] - 105.0) < 0.01
