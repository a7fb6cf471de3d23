"""Gaps: clusters of uncovered residents, their populations and what closes them."""

import dataclasses
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from coverage.access import AccessContext, coverage_table
from coverage.gaps import COLUMNS, coverage_gaps
from coverage.region import load_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gaoxin():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    return tmp_path_factory.mktemp("graphs")


@pytest.fixture(scope="module")
def context(gaoxin, graphs):
    return AccessContext(gaoxin, year=2025, cache_dir=graphs)


@pytest.fixture(scope="module")
def gaps(context):
    return coverage_gaps(context)


def test_gap_populations_sum_to_the_uncovered(context, gaps):
    table = coverage_table(context, minutes=(15,))
    region = table[table["code"] == ""].iloc[0]
    uncovered = region["population"] - region["covered"]
    assert uncovered > 0
    assert gaps["population"].sum() == pytest.approx(uncovered)
    assert gaps["points"].sum() == int((~_covered(context)).sum())


def _covered(context):
    from coverage.access import DEFAULT_MODE_BY_KIND, within
    from coverage.facilities import BASIC_CARE_TYPES

    seconds, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND,
                                         context.facilities(BASIC_CARE_TYPES))
    return within(seconds, 15)


def test_gaps_are_disjoint_sorted_wgs84_polygons(gaoxin, gaps):
    assert list(gaps.columns) == list(COLUMNS)
    assert gaps.crs.to_epsg() == 4326
    assert gaps.geometry.is_valid.all()
    assert set(gaps.geom_type) <= {"Polygon"}
    assert list(gaps["id"]) == [f"G{i + 1:03d}" for i in range(len(gaps))]
    assert gaps["population"].is_monotonic_decreasing
    assert set(gaps["township_code"]) <= set(gaoxin.townships["code"].astype(str))
    metric = gaps.to_crs(gaoxin.metric_crs).geometry
    overlap = shapely.union_all(metric.to_numpy()).area
    assert overlap == pytest.approx(metric.area.sum())
    # Every gap lies within its township or across its edge, never elsewhere.
    towns = gaoxin.townships.set_index(gaoxin.townships["code"].astype(str)).geometry
    for code, geom in zip(gaps["township_code"], gaps.geometry):
        assert geom.intersects(towns[code])


def test_nearest_facility_is_beyond_the_threshold(gaps, context):
    reached = gaps["nearest_minutes"].notna()
    assert reached.any()
    assert (gaps.loc[reached, "nearest_minutes"] > 15).all()
    ids = set(context.facilities()["id"])
    assert set(gaps.loc[reached, "nearest_id"]) <= ids
    assert (gaps.loc[~reached, "nearest_id"] == "").all()


def test_min_population_drops_small_gaps(context, gaps):
    small = gaps["population"].min()
    big = coverage_gaps(context, min_population=small + 1)
    assert len(big) == int((gaps["population"] >= small + 1).sum()) < len(gaps)


def test_a_facility_inside_a_gap_shrinks_it(gaoxin, graphs, context, gaps):
    largest = gaps.iloc[0]
    points = context.population
    inside = points[points.within(largest.geometry)]
    site = inside.loc[inside["population"].idxmax()].geometry
    new = gpd.GeoDataFrame([{**gaoxin.facilities.iloc[0].drop("geometry").to_dict(),
                             "id": "test-new-chc", "name": "新建社区卫生服务中心",
                             "type": "community_health_centre", "status": "existing",
                             "opening_year": 2024, "closing_year": pd.NA, "replaces": ""}],
                           geometry=[site], crs="EPSG:4326")
    facilities = pd.concat([gaoxin.facilities, new], ignore_index=True)
    planned = dataclasses.replace(gaoxin, facilities=facilities)
    after = coverage_gaps(AccessContext(planned, year=2025, cache_dir=graphs,
                                        population=context.population))
    assert after["population"].sum() < gaps["population"].sum()
    # Gaps of neighbouring townships touch it; those sharing area with it are its remains.
    metric = gaoxin.metric_crs
    shared = after.to_crs(metric).intersection(
        gpd.GeoSeries([largest.geometry], crs="EPSG:4326").to_crs(metric).iloc[0]).area
    there = after[shared.to_numpy() > 1.0]
    assert there["population"].sum() < largest["population"]
    assert not there.contains(site).any()


def test_gaps_split_by_township_with_population_weighted_times(context, gaps):
    points = context.population
    uncovered = points[~_covered(context)]
    by_town = uncovered.groupby(uncovered["township_code"].astype(str))["population"].sum()
    mapped = gaps.groupby("township_code")["population"].sum().reindex(by_town.index)
    # Each township's uncovered residents are exactly its own gaps' residents.
    assert mapped.to_numpy() == pytest.approx(by_town.to_numpy())
    # Times are those of the gap's residents (all beyond the threshold), not its edge.
    reached = gaps["nearest_minutes"].dropna()
    assert len(reached) and (reached > 15).all()
    assert reached.std() > 1.0
