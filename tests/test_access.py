"""Population coverage on the real default pack: inclusive thresholds, modes by kind, monotonicity."""

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from coverage.access import (AccessContext, coverage_table, point_modes, population_within,
                             travel_seconds, within)
from coverage.facilities import BASIC_CARE_TYPES
from coverage.region import load_region
from coverage.routing import TOLERANCE_S, snap_points

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def context(region, tmp_path_factory):
    return AccessContext(region, year=2021, cache_dir=tmp_path_factory.mktemp("graphs"))


def test_within_is_inclusive_with_float_slack():
    seconds = np.array([899.0, 900.0, 900.0 + TOLERANCE_S / 2, 900.001, np.inf])
    assert within(seconds, 15).tolist() == [True, True, True, False, False]


def test_exactly_the_threshold_counts(context, region):
    facilities = context.facilities(BASIC_CARE_TYPES)
    seconds, _ = context.seconds("walk", facilities)
    finite = np.flatnonzero(np.isfinite(seconds))
    # A threshold equal to one resident's own time: that resident is inside.
    t = seconds[finite[len(finite) // 2]]
    table = population_within(context.population, seconds, [t / 60.0], region.townships)
    weight = context.population["population"].to_numpy()
    assert table.iloc[-1]["covered"] == weight[seconds <= t].sum()
    assert table.iloc[-1]["covered"] > table_without(context, seconds, t - 1e-3, region)


def table_without(context, seconds, t, region):
    return population_within(context.population, seconds, [t / 60.0], region.townships).iloc[-1][
        "covered"]


def test_coverage_table_adds_up(context, region):
    table = coverage_table(context, minutes=(5, 15, 30), mode="car")
    assert set(table["minutes"]) == {5, 15, 30}
    total = region.townships["population"].sum()
    for m, rows in table.groupby("minutes"):
        towns, whole = rows[rows["code"] != ""], rows[rows["code"] == ""].iloc[0]
        assert whole["population"] == total
        assert whole["covered"] == towns["covered"].sum()
        assert ((rows["share"] >= 0) & (rows["share"] <= 1)).all()
    shares = table[table["code"] == ""].set_index("minutes")["share"]
    assert shares[5] <= shares[15] <= shares[30]


def test_modes_by_kind_pick_each_points_own_mode(context):
    facilities = context.facilities(BASIC_CARE_TYPES)
    by_kind = {"street": "walk", "town": "car", "township": "car"}
    seconds, _ = context.seconds_by_kind(by_kind, facilities)
    kinds = context.population["kind"].to_numpy()
    walk, _ = context.seconds("walk", facilities)
    car, _ = context.seconds("car", facilities)
    street = kinds == "street"
    assert street.any() and (~street).any()
    np.testing.assert_array_equal(seconds[street], walk[street])
    np.testing.assert_array_equal(seconds[~street], car[~street])
    with pytest.raises(ValueError, match="no travel mode for township kind"):
        point_modes(context.population, {"street": "walk"})


def test_adding_a_facility_never_lowers_coverage(context, region, tmp_path):
    before = coverage_table(context, minutes=(10, 15))
    # A new centre where the worst-served township's residents live.
    worst = before[(before["code"] != "") & (before["minutes"] == 15)].sort_values("share").iloc[0]
    people = context.population[context.population["township_code"] == worst["code"]]
    site = people.loc[people["population"].idxmax()].geometry
    new = region.facilities.iloc[[0]].copy()
    new["id"], new["name"], new["opening_year"] = "new-centre", "新建社区卫生服务中心", 2020
    new = new.set_geometry(gpd.GeoSeries([site], crs="EPSG:4326", index=new.index))
    more = dataclasses.replace(region, facilities=pd.concat([region.facilities, new],
                                                            ignore_index=True))
    after = coverage_table(AccessContext(more, year=2021, population=context.population,
                                         cache_dir=tmp_path), minutes=(10, 15))
    assert (after["covered"].to_numpy() >= before["covered"].to_numpy()).all()
    row = (after["code"] == worst["code"]) & (after["minutes"] == 15)
    assert after.loc[row, "covered"].iloc[0] > worst["covered"]


def test_far_residents_walk_off_road_and_nobody_is_dropped(context):
    graph = context.graph("walk")
    facilities = context.facilities(BASIC_CARE_TYPES)
    # One resident at a facility, one 50 km away from any road: slow, not dropped.
    site = facilities.geometry.iloc[0]
    snap = snap_points(graph, [site.x, site.x + 0.5], [site.y, site.y])
    seconds, nearest = travel_seconds(graph, snap, facilities)
    assert np.isfinite(seconds[0]) and nearest[0] >= 0
    assert snap.off_network.tolist() == [False, True]
    assert seconds[1] >= snap.distance_m[1] / (3.0 / 3.6) and nearest[1] >= 0
    assert within(seconds, 1e9)[1] and not within(seconds, 15)[1]
    none, _ = travel_seconds(graph, snap, facilities.iloc[:0])
    assert np.isinf(none).all()
