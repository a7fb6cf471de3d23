"""Sites snapped to the analysed roads, the best sites to move a centre (checked against
full scenario comparisons), the failing townships' causes and the siting sentence."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage import explain, relocation, views
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext
from coverage.facilities import BASIC_CARE_TYPES, read_facilities
from coverage.layers import csv_text
from coverage.region import load_region
from coverage.scenarios import compare
from coverage.siting import candidates_on_network, optimize, township_area

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def context():
    return AccessContext(load_region(ROOT), year=2025)


def test_a_site_is_put_on_the_analysed_roads(context):
    graph = context.graph("walk")
    node = 123
    on_road = relocation.snap_site(graph, float(graph.lon[node]), float(graph.lat[node]))
    assert on_road.distance_m == pytest.approx(0.0, abs=1e-6) and not on_road.far
    # 0.01° east of the region is about 1 km from every road: flagged.
    minx, miny, maxx, maxy = context.region.boundary.bounds
    far = relocation.snap_site(graph, maxx + 0.01, (miny + maxy) / 2)
    assert far.far and far.distance_m > relocation.FAR_FROM_ROAD_M
    assert minx <= far.lon <= maxx  # the snapped point is a road node of the region


def test_roads_are_drawn_once_each(context):
    graph = context.graph("walk")
    roads = relocation.road_lines(graph)
    assert 0 < len(roads) <= graph.edge_u.size
    assert roads.crs.to_epsg() == 4326


def test_best_moves_match_full_scenario_comparisons(context):
    region = context.region
    candidates = candidates_on_network(context.graph("walk"),
                                       township_area(region, "500107106"), spacing_m=1000)
    moves = relocation.best_moves(context, "gx-zouma-thc", candidates, minutes=15)
    assert moves["net"].is_monotonic_decreasing
    assert np.allclose(moves["net"], moves["gained"] - moves["lost"])
    base = views.baseline(context, minutes=15, types=BASIC_CARE_TYPES, mode=DEFAULT_MODE_BY_KIND)
    for row in (moves.iloc[0], moves.iloc[-1]):
        scenario = views.scenario_from_edits(
            [{"action": "move", "facility": "gx-zouma-thc", "lon": row["lon"], "lat": row["lat"]}],
            year=2025, name_zh="测试", name_en="test")
        totals = compare(region, scenario, year=2025, minutes=(15,), baseline=base).totals.iloc[0]
        assert totals["net"] == pytest.approx(row["net"], abs=1.0)
        assert totals["lost"] == pytest.approx(row["lost"], abs=1.0)


def test_failing_townships_name_their_share_and_cause(context):
    failures = explain.circle_failures(context)
    assert len(failures) > 0
    assert (failures["share"] < failures["required"]).all()
    uncovered = failures["population"] - failures["covered"]
    assert np.allclose(uncovered, failures["off_network"] + failures["unreached"])
    lines = explain.township_sentences(failures, "zh")
    assert lines[0].startswith(failures["name"].iloc[0] + "：覆盖率")
    assert all("要求 90%" in line for line in lines)
    assert explain.township_sentences(failures, "en")[0].count("required") == 1


def test_siting_answer_reads_as_a_sentence(context):
    region = context.region
    candidates = candidates_on_network(context.graph("walk"),
                                       township_area(region, "500107106"), spacing_m=1000)
    answer = optimize(context, candidates, "mclp", minutes=15, k=1, time_limit=20)
    text = explain.siting_summary(context, answer, minutes=15, mode=DEFAULT_MODE_BY_KIND,
                                  types=BASIC_CARE_TYPES, lang="zh")
    assert "比现状多" in text and ("已证明为最优解" in text or "差距" in text)
    sites = explain.describe_sites(region, candidates[candidates["id"].isin(answer.selected)])
    assert sites["label"].str.startswith("走马镇 (").all()


def test_open_facilities_download_reads_back_unchanged(context, tmp_path):
    table = views.open_facilities_table(context)
    path = tmp_path / "facilities.csv"
    path.write_text(csv_text(table), encoding="utf-8")
    back = read_facilities(path, township_codes=context.region.townships["code"],
                           boundary=context.region.boundary)
    assert list(back["id"]) == list(table["id"])
    assert np.allclose(back.geometry.x, table["lon"]) and np.allclose(back.geometry.y, table["lat"])


def test_report_and_map_share_one_colour_scale():
    from coverage import maps, report
    from coverage.palette import SHARE_COLOURS, share_colour

    assert len(SHARE_COLOURS) == 4
    assert report.share_colour is share_colour and maps.share_colour is share_colour
    legend = maps.legend_html("zh")
    assert all(colour in legend for _, colour in SHARE_COLOURS)


def test_citations_and_caveats_in_the_page_language():
    from coverage.ui_text import cite, local

    assert cite("seed 001 (≈2022)《规划》", "zh") == "资料001（约2022年）《规划》"
    assert cite("seed 001 (≈2022)", "en") == "seed 001 (≈2022)"
    assert local("街镇为估算 / Townships are estimated", "zh") == "街镇为估算"
    assert local("街镇为估算 / Townships are estimated", "en") == "Townships are estimated"
