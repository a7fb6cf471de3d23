"""District statistics behind ratio targets, and the count rule on grades and
designations by year (万州 and 永川 packs, and generated registers)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coverage.counts import designations_in_year, grade_in_year, parse_dated
from coverage.errors import InputError
from coverage.region import load_region
from coverage.statistics import figures_for, read_statistics
from coverage.targets import Target, evaluate, load_targets

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wanzhou():
    return load_region(ROOT / "regions" / "wanzhou")


@pytest.fixture(scope="module")
def yongchuan():
    return load_region(ROOT / "regions" / "yongchuan")


def _result(region, target_id, year=2025):
    target = next(t for t in load_targets(region) if t.id == target_id)
    return evaluate(region, year=year, targets=[target])[0].outcome


def test_ratio_is_judged_on_the_statistics_when_the_register_lacks_the_numbers(wanzhou):
    out = _result(wanzhou, "physicians")
    assert out.status == "fail" and out.measured == pytest.approx(2.94)
    assert "基线 baseline 2.94 (2020)" in out.details and "区级统计 district statistics 2020" in out.details
    assert "约束性 binding" in out.details and "名录不全 register incomplete" in out.details


def test_per_100_beds_from_statistics_and_from_a_complete_register(wanzhou):
    out = _result(wanzhou, "clinical-pharmacists")
    assert out.unit == "clinical_pharmacists per 100 beds" and out.measured == pytest.approx(0.32)
    # a register carrying beds and physicians for every open hospital: judged on it
    register = wanzhou.facilities.copy()
    register["beds"] = 200
    register["physicians"] = 30
    region = dataclasses.replace(wanzhou, facilities=register)
    target = Target("x", "x", "x", "x", "x", "ratio", {
        "field": "physicians", "per": 100, "denominator": "beds", "required": 14,
        "types": ["secondary_hospital"]}, 2025)
    out = evaluate(region, year=2025, targets=[target])[0].outcome
    assert out.measured == pytest.approx(15.0) and out.status == "pass"
    assert "名录 register, complete" in out.details


def test_conflicting_plan_figures_are_both_reported(yongchuan):
    out = _result(yongchuan, "physicians")
    assert out.required == 3.6 and out.measured == pytest.approx(2.46)
    assert "the plan also states 4" in out.details and "not met either" in out.details


def test_every_ratio_with_a_stated_baseline_is_judged(wanzhou, yongchuan):
    for region in (wanzhou, yongchuan, load_region(ROOT / "regions" / "beibei")):
        for target in load_targets(region):
            if target.rule == "ratio" and target.parameters.get("baseline") is not None:
                out = evaluate(region, year=2025, targets=[target])[0].outcome
                assert out.status in ("pass", "fail"), (region.slug, target.id, out.details)


def test_statistics_file_declares_fields_and_is_validated(tmp_path):
    path = tmp_path / "statistics.toml"
    path.write_text('[fields.anaesthetists]\nname_zh = "麻醉医师"\nname_en = "anaesthetists"\n'
                    '[[figure]]\nid = "a"\nfield = "anaesthetists"\nvalue = 0.94\nper = 10000\n'
                    'year = 2021\nsource = "s"\nquote = "q"\n', encoding="utf-8")
    stats = read_statistics(path)
    assert figures_for(stats, "anaesthetists", 1000)[0]["value"] == pytest.approx(0.094)
    for bad, match in (('field = "anaesthetists"', 'field = "pilots"'),
                       ("per = 10000", "per = 0"), ("value = 0.94", 'value = "x"'),
                       ("year = 2021", "year = 21")):
        path.write_text(path.read_text(encoding="utf-8").replace(bad, match), encoding="utf-8")
        with pytest.raises(InputError, match="figure a"):
            read_statistics(path)
        path.write_text(path.read_text(encoding="utf-8").replace(match, bad), encoding="utf-8")


def test_dated_entries():
    assert parse_dated("甲级基层@2023|二级@2025") == [("甲级基层", 2023), ("二级", 2025)]
    assert grade_in_year("未定级", "甲级@2023", 2022) == "未定级"
    assert grade_in_year("未定级", "甲级@2023", 2023) == "甲级基层"
    assert grade_in_year("二级", "三级@2025", None) == "二级"
    assert designations_in_year("社区医院|区域医疗次中心@2025", 2024) == ["社区医院"]
    for bad in ("@2023", "甲级@23", "甲级@year"):
        with pytest.raises(ValueError):
            parse_dated(bad)
    with pytest.raises(ValueError):
        parse_dated("四级@2023", __import__("coverage.schema").schema.grade)


def test_count_rule_follows_grades_and_designations_by_year(yongchuan, wanzhou):
    before, after = _result(yongchuan, "grade-a-primary", 2024), _result(yongchuan,
                                                                         "grade-a-primary")
    assert before.measured == 0 and after.measured == 4 and after.status == "fail"
    assert "基线 baseline 2" in after.details and "来苏镇卫生院" in after.details
    assert _result(yongchuan, "secondary-level-primary").status == "pass"
    assert _result(yongchuan, "national-regional-centre").measured == 1
    subs = _result(wanzhou, "sub-centres")
    assert (subs.measured, subs.required, subs.status) == (2, 5, "fail")
    assert _result(wanzhou, "sub-centres", 2024).measured == 0
