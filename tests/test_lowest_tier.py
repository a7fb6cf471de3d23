"""The lowest tier: 村卫生室 and 卫生服务站 as types, 一村一室 per village or per
township count, and the tiered rule in each plan's own words."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from coverage import schema
from coverage.region import load_region
from coverage.targets import Target, evaluate

ROOT = Path(__file__).resolve().parents[1]


def test_village_clinics_and_stations_are_their_own_types():
    assert schema.facility_type("村卫生室") == "village_clinic"
    assert schema.facility_type("涉农社区卫生室") == "village_clinic"
    assert schema.facility_type("社区卫生服务站") == "health_station"
    assert schema.facility_type("卫生服务站") == "health_station"
    assert schema.facility_type("社区卫生服务中心") == "community_health_centre"


def _clinic(template: pd.Series, fid: str, code: str, lon: float, lat: float) -> dict:
    row = template.to_dict()
    row.update(id=fid, name=fid, type="village_clinic", status="existing", township_code=code,
               opening_year=pd.NA, closing_year=pd.NA, replaces="", geometry=Point(lon, lat))
    return row


def test_one_clinic_per_village_judged_per_village_where_villages_have_points():
    region = load_region(ROOT / "regions" / "yongchuan")
    villages = region.villages.copy()
    rural = villages[villages["kind"] == "village"]
    a, b = rural["township_code"].value_counts().index[:2]
    seat = region.townships.set_index("code").loc[a]
    # every village of township a gets a point, 0.01° apart eastwards from its seat
    own = villages.index[(villages["township_code"] == a) & (villages["kind"] == "village")]
    villages.loc[:, "lon"] = pd.NA
    villages.loc[:, "lat"] = pd.NA
    for k, i in enumerate(own):
        villages.loc[i, "lon"] = str(float(seat["seat_lon"]) + 0.001 * k)
        villages.loc[i, "lat"] = str(float(seat["seat_lat"]))
    lon0, lat0 = float(seat["seat_lon"]), float(seat["seat_lat"])
    template = region.facilities.iloc[0]
    rows = [_clinic(template, f"c{k}", a, lon0 + 0.001 * k, lat0) for k in range(len(own))]
    # two clinics by one village of a; as many clinics as villages in b, wherever they are
    rows[-1]["geometry"] = Point(lon0, lat0)
    seat_b = region.townships.set_index("code").loc[b]
    n_b = int(((villages["township_code"] == b) & (villages["kind"] == "village")).sum())
    rows += [_clinic(template, f"b{k}", b, float(seat_b["seat_lon"]), float(seat_b["seat_lat"]))
             for k in range(n_b)]
    added = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs="EPSG:4326")
    facilities = pd.concat([region.facilities, added], ignore_index=True)
    region = dataclasses.replace(region, villages=villages, facilities=facilities)
    target = Target("v", "一村一室", "one per village", "s", "q", "one_per_village", {}, 2025)
    out = evaluate(region, year=2025, targets=[target])[0].outcome
    assert a in out.failing and b not in out.failing
    assert "按村判定 judged per village in 1 街镇" in out.details


def test_tiered_rule_speaks_each_plans_own_words():
    def tiered(pack):
        data = tomllib.loads((pack / "targets.toml").read_text(encoding="utf-8"))
        return next(t for t in data["target"] if t["rule"] == "tiered")

    yongchuan = tiered(ROOT / "regions" / "yongchuan")
    assert yongchuan["quote"] == "大病重病不出区、常见病多发病不出乡镇、头疼脑热不出村"
    assert yongchuan["parameters"]["labels"]["village"] == "头疼脑热不出村"
    default = tiered(ROOT)
    words = ("不出村", "不出乡镇", "不出区")
    text = (ROOT / "targets.toml").read_text(encoding="utf-8")
    assert not any(w in text for w in words)
    assert default["parameters"]["labels"]["township"].startswith("街镇级")
