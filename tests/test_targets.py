"""Planning targets: target files, each rule's verdicts, years, the check command."""

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from coverage.access import AccessContext
from coverage.cli import main
from coverage.errors import InputError
from coverage.region import load_region
from coverage.targets import (DEFAULTS, RULES, evaluate, format_results, load_targets,
                              read_targets, results_frame)

ROOT = Path(__file__).resolve().parents[1]
HUXI = "500106016"


@pytest.fixture(scope="module")
def gaoxin():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def beibei():
    return load_region(ROOT / "regions" / "beibei")


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    return tmp_path_factory.mktemp("graphs")


def run(region, rule, year, graphs, **params):
    context = AccessContext(region, year=year, cache_dir=graphs)
    return RULES[rule](region, context, {**DEFAULTS[rule], **params})


@pytest.mark.parametrize("pack", [".", "regions/beibei"])
def test_shipped_target_files_are_complete(pack):
    targets = load_targets(load_region(ROOT / pack))
    assert len(targets) >= 5
    for t in targets:
        assert t.quote and t.source and t.name_zh and t.name_en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t.quote)


def test_one_per_township_fails_in_huxi_before_its_centre_opened(gaoxin, graphs):
    before = run(gaoxin, "one_per_township", 2021, graphs)
    assert before.status == "fail" and before.failing == [HUXI]
    assert (before.measured, before.required) == (9.0, 10.0)
    after = run(gaoxin, "one_per_township", 2025, graphs)
    assert after.status == "pass" and after.failing == []


def test_one_per_township_reports_location_against_code(gaoxin, graphs, tmp_path):
    # A copy of the pack whose 虎溪 centre is placed in 西永 but still declares 虎溪.
    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("region.toml", "boundary.geojson", "facilities.geojson", "population", "network"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, pack / name)
    register = json.loads((pack / "facilities.geojson").read_text(encoding="utf-8"))
    xiyong = gaoxin.townships.set_index("code").loc["500106017"]
    for feature in register["features"]:
        if feature["properties"]["id"] == "gx-huxi-chc":
            feature["geometry"]["coordinates"] = [xiyong["seat_lon"], xiyong["seat_lat"]]
    (pack / "facilities.geojson").write_text(json.dumps(register, ensure_ascii=False),
                                             encoding="utf-8")
    region = load_region(pack)
    both = run(region, "one_per_township", 2025, graphs)
    assert both.status == "fail" and both.failing == [HUXI]
    assert "虎溪社区卫生服务中心 位于 lies in 西永街道" in both.details
    assert "location and code disagree for 虎溪街道" in both.details
    assert run(region, "one_per_township", 2025, graphs, judge="code").status == "pass"
    assert run(region, "one_per_township", 2025, graphs, judge="location").failing == [HUXI]


def test_upgraded_secondary_hospital_counts_for_its_township(gaoxin, graphs):
    zengjia = "500106108"
    assert zengjia not in run(gaoxin, "one_per_township", 2025, graphs).failing
    assert zengjia in run(gaoxin, "one_per_township", 2025, graphs, upgraded=False).failing


def test_ratio_reports_insufficient_data_never_a_made_up_value(gaoxin, graphs):
    out = run(gaoxin, "ratio", 2025, graphs, field="gps", per=10000, required=2)
    assert out.status == "insufficient data" and out.measured is None
    assert "0/" in out.details and "基线 baseline" in out.details
    # Numbers for some facilities: a lower bound, shown once half report it.
    register = gaoxin.facilities.copy()
    open_ids = AccessContext(gaoxin, year=2025).facilities()["id"]
    some = register["id"].isin(open_ids.iloc[: len(open_ids) // 2 + 1])
    register.loc[some, "gps"] = 1
    partial = run(dataclasses.replace(gaoxin, facilities=register), "ratio", 2025, graphs,
                  field="gps", per=10000, required=2)
    assert partial.status == "insufficient data" and partial.measured is not None
    # Complete numbers: a real verdict, the value computed from the register.
    register.loc[register["id"].isin(open_ids), "gps"] = 100
    full = run(dataclasses.replace(gaoxin, facilities=register), "ratio", 2025, graphs,
               field="gps", per=10000, required=2)
    expected = 100 * len(open_ids) / gaoxin.townships["population"].sum() * 10000
    assert full.status == "pass" and full.measured == pytest.approx(expected)
    strict = run(dataclasses.replace(gaoxin, facilities=register), "ratio", 2025, graphs,
                 field="gps", per=10000, required=expected + 1)
    assert strict.status == "fail"


def test_one_per_village_is_no_data_without_village_clinics(beibei, graphs):
    out = run(beibei, "one_per_village", 2025, graphs)
    assert out.status == "no data" and out.measured is None
    # With one clinic in one village's township, every other township fails.
    code = beibei.villages.loc[beibei.villages["kind"] == "village", "township_code"].iloc[0]
    clinic = beibei.facilities.iloc[[0]].copy()
    clinic["id"], clinic["type"], clinic["township_code"] = "clinic-1", "village_clinic", str(code)
    more = dataclasses.replace(beibei, facilities=pd.concat([beibei.facilities, clinic],
                                                            ignore_index=True))
    out = run(more, "one_per_village", 2025, graphs)
    assert out.status == "fail" and 0 < out.measured < 1


def test_ambulances_fall_back_to_hospitals_and_more_reach_faster(beibei, graphs):
    out2021 = run(beibei, "ambulance_response", 2021, graphs)
    out2025 = run(beibei, "ambulance_response", 2025, graphs)
    assert "no emergency station" in out2021.details
    assert out2025.measured <= out2021.measured


def test_hospital_reach_and_circle_shares(beibei, graphs):
    reach = run(beibei, "hospital_reach", 2025, graphs)
    assert 0 < reach.measured <= 1 and reach.required == 1.0
    none = run(beibei, "hospital_reach", 2025, graphs, grades=["一级"])
    assert none.measured == 0 and "no hospital of that grade" in none.details
    loose = run(beibei, "circle", 2025, graphs, minutes=60, modes="car", required_share=0.5)
    tight = run(beibei, "circle", 2025, graphs, minutes=5, modes="car", required_share=0.5)
    assert loose.measured >= tight.measured


def test_tiered_counts_levels(gaoxin, graphs):
    # Residents farther than the access cap from any road are never covered: ask 90%.
    loose = dict(village_minutes=600, village_mode="car", district_minutes=600, required_share=0.9)
    out = run(gaoxin, "tiered", 2025, graphs, **loose)
    assert out.status == "pass" and out.measured == 3
    assert HUXI in run(gaoxin, "tiered", 2021, graphs, **loose).failing
    strict = run(gaoxin, "tiered", 2025, graphs, village_minutes=1)
    assert strict.status == "fail" and strict.measured < 3


def test_bad_target_files_name_the_target_and_field(tmp_path):
    path = tmp_path / "targets.toml"
    base = ('[[target]]\nid = "x"\nname_zh = "甲"\nname_en = "A"\nsource = "s"\n'
            'quote = "引文"\n')
    path.write_text(base + 'rule = "nonsense"\n', encoding="utf-8")
    with pytest.raises(InputError, match="target x.rule: unknown rule"):
        read_targets(path)
    path.write_text(base + 'rule = "ratio"\n[target.parameters]\nfield = "gps"\nbogus = 1\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match="unknown parameter"):
        read_targets(path)
    path.write_text(base + 'rule = "ratio"\n[target.parameters]\nfield = "gps"\n', encoding="utf-8")
    with pytest.raises(InputError, match="missing parameter.*required"):
        read_targets(path)


def test_check_cli_formats_are_deterministic(tmp_path, capsys):
    out = {}
    for fmt, n in (("json", 1), ("json", 2), ("csv", 1), ("table", 1)):
        target = tmp_path / f"check{n}.{fmt}"
        assert main(["check", str(ROOT), "--year", "2021", "--format", fmt,
                     "--out", str(target)]) == 0
        out[fmt] = target.read_bytes()
    assert out["json"] == (tmp_path / "check1.json").read_bytes()
    records = json.loads(out["json"])
    rows = list(csv.DictReader(io.StringIO(out["csv"].decode("utf-8-sig"))))
    assert out["csv"].startswith("\ufeff".encode("utf-8"))
    assert [r["id"] for r in records] == [r["id"] for r in rows]
    township = next(r for r in records if r["id"] == "one-per-township")
    assert township["status"] == "fail" and township["failing_codes"] == HUXI
    assert township["failing_zh"] == "虎溪街道" and township["year"] == 2021
    text = out["table"].decode("utf-8")
    assert "[未达标 fail] 一镇/街一医疗机构" in text and "虎溪街道 (500106016)" in text
    assert main(["check", str(ROOT), "--format", "table"]) == 0
    assert "15分钟基本医疗卫生服务圈" in capsys.readouterr().out


def test_results_frame_keeps_missing_values_missing(gaoxin):
    results = evaluate(gaoxin, year=2025, targets=[t for t in load_targets(gaoxin)
                                                   if t.rule == "ratio"])
    frame = results_frame(results, gaoxin.townships)
    assert json.loads(format_results(frame, "json"))[0]["measured"] is None


def test_pieces_of_two_halves_merge_to_the_whole(beibei, graphs):
    """Each target measured on two halves of the townships (own facilities only, every
    facility located among the whole pack's townships) and merged is judged as the
    whole pack is, with the same register counts in the details."""
    from coverage.population import assign_townships
    from coverage.targets import LOCATED, judge_targets, measure_targets, merge_pieces

    targets = load_targets(beibei)
    whole = evaluate(beibei, targets=targets, context=AccessContext(beibei, cache_dir=graphs))
    facilities = beibei.facilities.assign(**{LOCATED: assign_townships(
        beibei.townships, beibei.facilities.geometry.x, beibei.facilities.geometry.y,
        beibei.metric_crs)})
    codes = beibei.townships["code"].astype(str).tolist()
    points = AccessContext(beibei).population
    halves = []
    for own in (codes[::2], codes[1::2]):
        part = dataclasses.replace(
            beibei, townships=beibei.townships[beibei.townships["code"].isin(own)],
            facilities=facilities)
        mine = points[points["township_code"].isin(own)].reset_index(drop=True)
        context = AccessContext(part, population=mine, cache_dir=graphs)
        halves.append(measure_targets(part, context, targets))
    merged = judge_targets(targets, {t.id: merge_pieces(h[t.id] for h in halves)
                                     for t in targets}, beibei.townships)
    for a, b in zip(whole, merged):
        assert (b.outcome.status, b.outcome.failing, b.outcome.details) == (
            a.outcome.status, a.outcome.failing, a.outcome.details), a.target.id
        assert (b.outcome.measured is None) == (a.outcome.measured is None)
        if a.outcome.measured is not None:
            assert b.outcome.measured == pytest.approx(a.outcome.measured, rel=0, abs=1e-9)


def test_merge_pieces_adds_counts_and_unites_townships():
    from coverage.targets import merge_pieces

    merged = merge_pieces([{"n": 2, "flag": False, "by": {"a": 1.5}, "ids": ["x"]},
                           {"n": 3, "flag": True, "by": {"b": 2.0}, "ids": ["y"]}])
    assert merged == {"n": 5, "flag": True, "by": {"a": 1.5, "b": 2.0}, "ids": ["x", "y"]}
    with pytest.raises(ValueError, match="cannot merge"):
        merge_pieces([{"n": 1}, {"n": "1"}])
