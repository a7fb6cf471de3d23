"""`coverage init`: a starter pack for districts without a shipped pack, and the
planner's own files replacing its estimates."""

from __future__ import annotations

import json
import tomllib

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from coverage.cli import main
from coverage.errors import InputError
from coverage.pack_init import init_into_new_folder, resolve_district
from coverage.planner_files import match_townships, name_stem
from coverage.region import load_region

DADUKOU = "500104"


def _manifest(folder):
    return tomllib.loads((folder / "region.toml").read_text(encoding="utf-8"))


def test_districts_resolve_by_code_or_name():
    assert resolve_district("500104") == ("500104", "大渡口区")
    assert resolve_district("大渡口") == ("500104", "大渡口区")
    assert resolve_district("城口县") == ("500229", "城口县")
    with pytest.raises(InputError, match="not one district"):
        resolve_district("北京")


def test_init_dadukou_with_its_synthetic_network(tmp_path, capsys):
    out = tmp_path / "dadukou"
    assert main(["init", "大渡口区", "--out", str(out)]) == 0
    assert "8 街镇" in capsys.readouterr().out
    region = load_region(out)
    assert len(region.townships) == 8 and region.adcodes == [DADUKOU]
    census = pd.read_csv("coverage/data/chongqing/census_2020_chongqing_districts.csv",
                         dtype={"adcode": str}).set_index("adcode")
    assert region.townships["population"].sum() == census.loc[DADUKOU, "population_2020"]
    meta = _manifest(out)
    assert meta["provenance"]["network"]["quality"] == "synthetic"
    assert meta["provenance"]["townships"]["quality"] == "estimated"
    assert meta["provenance"]["facilities"]["quality"] == "illustrative"
    assert {"network", "population", "townships", "presumed"} <= set(region.caveats)
    assert region.facilities["name"].str.endswith("（推定）").all()
    assert len(region.load_network().nodes) > 100
    # never over a folder holding anything
    assert main(["init", "大渡口区", "--out", str(out)]) == 2


def test_init_chengkou_rural_county_without_network(tmp_path):
    out = tmp_path / "chengkou"
    init_into_new_folder("城口县", out, with_network=False)
    region = load_region(out)
    assert len(region.townships) == 25
    assert (region.townships["population"] > 0).all()
    assert "network" not in _manifest(out)["files"]
    assert not any(p.name.startswith(".chengkou") for p in tmp_path.iterdir())


def test_name_stems_and_matching():
    assert name_stem("歇马街道") == name_stem("歇马镇") == "歇马"
    assert name_stem("地宝土家族乡") == "地宝"
    townships = pd.DataFrame({"code": ["1", "2"], "name": ["甲镇", "乙街道"],
                              "code_2016": ["", "9|8"], "seat_lon": [0.0, 10.0],
                              "seat_lat": [0.0, 10.0]})
    polygons = [None, None, shapely.box(9, 9, 11, 11), shapely.box(50, 50, 51, 51)]
    assert match_townships(townships, ["1", "8", "", ""], ["x", "y", "改名街道", "无"],
                           polygons) == ["1", "2", "2", None]


@pytest.fixture
def planner_files(tmp_path):
    """A register, township polygons and a population table as a planner has them:
    Chinese headers, names with and without suffixes, one renamed township found by
    its seat, one row matching nothing, GCJ-02-free WGS-84 coordinates."""
    work = tmp_path / "starter"
    init_into_new_folder(DADUKOU, work, with_network=False)
    towns = gpd.read_file(work / "population" / "townships.geojson")
    polygons = towns[["code", "name", "geometry"]].copy()
    polygons["名称"] = [n if i % 2 else name_stem(n) for i, n in enumerate(polygons["name"])]
    polygons.loc[0, "名称"] = "新名街道"            # renamed: matched by the seat it holds
    polygons["代码"] = ""
    polygons.loc[1, "代码"] = polygons.loc[1, "code"]
    polygons = polygons[["名称", "代码", "geometry"]].iloc[:6]   # two townships not covered
    polygons["geometry"] = polygons.geometry.buffer(0)
    polygons.to_file(tmp_path / "乡镇界.geojson", driver="GeoJSON")
    population = pd.DataFrame({"乡镇名称": [name_stem(n) for n in towns["name"]] + ["不存在镇"],
                               "常住人口": [10000 + i for i in range(len(towns))] + [5]})
    population.to_excel(tmp_path / "人口.xlsx", index=False)
    seat = towns.iloc[2]
    register = pd.DataFrame({"编号": ["R1", "R2"], "机构名称": ["跳磴镇卫生院", "某社区卫生服务站"],
                             "类型": ["乡镇卫生院", "社区卫生服务站"], "乡镇代码": ["", "bogus"],
                             "经度": [seat["seat_lon"], seat["seat_lon"] + 0.001],
                             "纬度": [seat["seat_lat"], seat["seat_lat"]],
                             "床位": [20, None]})
    register.to_csv(tmp_path / "名录.csv", index=False)
    return tmp_path, towns


def test_planner_files_replace_the_estimates_and_say_so(planner_files, capsys):
    folder, towns = planner_files
    out = folder / "pack"
    assert main(["init", DADUKOU, "--out", str(out), "--no-network",
                 "--facilities", str(folder / "名录.csv"),
                 "--townships", str(folder / "乡镇界.geojson"),
                 "--population", str(folder / "人口.xlsx")]) == 0
    printed = capsys.readouterr().out
    assert "不存在镇" in printed and "bogus" in printed
    region = load_region(out)
    meta = _manifest(out)
    for layer in ("townships", "population", "facilities"):
        assert meta["provenance"][layer]["quality"] == "official"
    assert "population" not in region.caveats and "townships" not in region.caveats
    features = json.loads((out / "population" / "townships.geojson").read_text("utf-8"))
    props = {f["properties"]["code"]: f["properties"] for f in features["features"]}
    assert all(p["population_quality"] == "official" for p in props.values())
    assert sorted(p["population"] for p in props.values()) == list(range(10000, 10000 + 8))
    official = [c for c, p in props.items() if p["geometry_quality"] == "official"]
    assert len(official) == 6 and towns["code"].iloc[0] in official
    assert "estimates kept for" in meta["provenance"]["townships"]["notes"]
    assert set(region.facilities["type"]) == {"township_health_centre", "health_station"}
    assert region.facilities.set_index("id").loc["R1", "beds"] == 20


def test_every_district_of_chongqing_can_be_named():
    from coverage.pack_init import districts

    table = districts()
    assert len(table) == 38 and table["adcode"].is_unique


def test_planner_roads_replace_the_synthetic_network(tmp_path):
    import numpy as np

    from coverage.network import RoadNetwork
    from coverage.synthetic import write_osm_xml

    xs, ys = 106.44 + np.arange(4) * 0.01, 29.43 + np.arange(4) * 0.01
    nodes = pd.DataFrame([(x, y) for y in ys for x in xs], columns=["x", "y"],
                         index=pd.Index(np.arange(1, 17), name="id"))
    pairs = [(i + 1, i + 2) for i in range(16) if i % 4 < 3] + [(i + 1, i + 5) for i in range(12)]
    edges = pd.DataFrame(pairs, columns=["u", "v"]).assign(
        length=1000.0, highway="primary", oneway=False, name="规划路")
    roads = tmp_path / "规划路网.osm"
    write_osm_xml(RoadNetwork(nodes=nodes, edges=edges), roads)
    out = tmp_path / "pack"
    assert main(["init", DADUKOU, "--out", str(out), "--roads", str(roads)]) == 0
    region = load_region(out)
    assert _manifest(out)["provenance"]["network"]["quality"] == "official"
    assert "network" not in region.caveats
    assert len(region.load_network().nodes) == 16
