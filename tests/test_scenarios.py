"""What-if scenarios on the real packs: files, edits, and before/after comparisons."""

import json
from pathlib import Path

import numpy as np
import pytest

from coverage.cli import main
from coverage.errors import InputError
from coverage.region import find_regions, load_region
from coverage.scenarios import (Baseline, Edit, Scenario, apply, combine, compare, find_scenarios,
                                load_scenario, save_scenario, scenario_text)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [(pack, path) for pack in find_regions(ROOT) for path in find_scenarios(load_region(pack))]


@pytest.fixture(scope="module")
def region():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def baseline(region, tmp_path_factory):
    return Baseline(region, 2025, cache_dir=tmp_path_factory.mktemp("graphs"))


def scenario(*edits, year=2025):
    return Scenario(name_zh="测试", name_en="test", year=year, edits=list(edits))


def write(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text('name_zh = "测试"\nname_en = "test"\nyear = 2025\n' + text, encoding="utf-8")
    return path


def test_every_pack_ships_scenarios():
    assert {pack.name for pack, _ in SHIPPED} == {ROOT.name, "beibei", "wanzhou", "yongchuan"}


@pytest.mark.parametrize("pack, path", SHIPPED, ids=lambda p: Path(p).name)
def test_shipped_scenario_round_trips_and_applies(pack, path, tmp_path):
    region = load_region(pack)
    loaded = load_scenario(path, region.facilities)
    assert scenario_text(loaded) == path.read_text(encoding="utf-8")
    save_scenario(loaded, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    after = apply(loaded, region.facilities, township_codes=region.townships["code"],
                  boundary=region.boundary)
    assert loaded.region == region.slug
    for edit in loaded.edits:
        if edit.action in ("move", "add"):
            assert after.set_index("id").at[edit.facility, "location_quality"] == "illustrative"


@pytest.mark.parametrize("pack", sorted({p for p, _ in SHIPPED}), ids=lambda p: Path(p).name)
def test_plan_2025_is_the_combination_of_its_parts(pack):
    region = load_region(pack)
    folder = Path(pack) / "scenarios"
    plan = load_scenario(folder / "plan-2025.toml")
    names = [n.strip() for n in plan.notes.split("The combination of ")[1].split(", in that")[0]
             .replace(" and ", ", ").split(",")]
    parts = combine(*(load_scenario(folder / f"{n}.toml", region.facilities) for n in names))
    assert [(e.action, e.facility, e.values) for e in plan.edits] == \
        [(e.action, e.facility, e.values) for e in parts.edits]


def test_round_trip_of_every_action_is_byte_identical(tmp_path, region):
    s = Scenario(name_zh="全部", name_en="all \"actions\"", year=2026, description="第一行\n第二行",
                 region="gaoxin", edits=[
                     Edit("move", "gx-zouma-thc", {"lon": 106.3, "lat": 29.47, "crs": "GCJ02"}),
                     Edit("add", "new-1", {"lon": 106.31, "lat": 29.5, "name": "新卫生院",
                                           "type": "township_health_centre", "beds": 30,
                                           "notes": "示意"}),
                     Edit("close", "gx-jinfeng-thc", {"year": 2026}),
                     Edit("set", "gx-zengjia", {"grade": "三级", "physicians": 12})])
    first = save_scenario(s, tmp_path / "a.toml")
    loaded = load_scenario(first, region.facilities)
    second = save_scenario(loaded, tmp_path / "b.toml")
    assert first.read_bytes() == second.read_bytes()
    assert loaded.edits[0].values == {"lon": 106.3, "lat": 29.47, "crs": "GCJ02"}
    assert loaded.description == "第一行\n第二行"


@pytest.mark.parametrize("text, field, problem", [
    ('[[edit]]\naction = "move"\nfacility = "no-such"\nlon = 106.3\nlat = 29.5\n', "facility",
     "unknown facility 'no-such'"),
    ('[[edit]]\naction = "close"\nfacility = "gx-zouma-thc"\n[[edit]]\naction = "demolish"\n'
     'facility = "gx-zouma-thc"\n', "action", "unknown action 'demolish'"),
    ('[[edit]]\naction = "move"\nfacility = "gx-zouma-thc"\nlon = 1063.0\nlat = 29.5\n', "lon",
     "not a valid 经度"),
    ('[[edit]]\naction = "move"\nfacility = "gx-zouma-thc"\nlon = "east"\nlat = 29.5\n', "lon",
     "not a finite number"),
    ('[[edit]]\naction = "move"\nfacility = "gx-zouma-thc"\nlon = 106.3\nlat = 29.5\n'
     'crs = "EPSG:999999"\n', "crs", "unknown CRS"),
    ('[[edit]]\naction = "set"\nfacility = "gx-zouma-thc"\nbeds = -3\n', "beds", "below the minimum"),
    ('[[edit]]\naction = "set"\nfacility = "gx-zouma-thc"\ncolour = "red"\n', "colour",
     "not a field of a set edit"),
    ('[[edit]]\naction = "set"\nfacility = "gx-zouma-thc"\ntype = "spa"\n', "type",
     "not a known facility type"),
])
def test_errors_name_file_edit_and_field(tmp_path, region, text, field, problem):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_scenario(path, region.facilities)
    number = text.count("[[edit]]")
    assert info.value.field == field and info.value.row == number
    assert str(info.value).startswith(f"s.toml edit {number}, {field}: ")
    assert problem in str(info.value)


def test_invalid_record_after_edits_names_the_edit(tmp_path, region):
    # Closing 金凤 (opened 2016) in 2010 puts its closing before its opening.
    s = load_scenario(write(tmp_path, '[[edit]]\naction = "set"\nfacility = "gx-zouma-thc"\n'
                            'beds = 3\n[[edit]]\naction = "close"\nfacility = "gx-jinfeng-thc"\n'
                            'year = 2010\n'))
    with pytest.raises(InputError, match=r"s.toml edit 2, closing_year: facility 'gx-jinfeng-thc'"):
        apply(s, region.facilities)
    far = scenario(Edit("move", "gx-zouma-thc", {"lon": 110.0, "lat": 29.5}))
    with pytest.raises(InputError, match="edit 1, geometry: .* outside the region"):
        apply(far, region.facilities, boundary=region.boundary)


def test_gcj02_move_is_converted_once(region):
    from coverage.crs import gcj02_to_wgs84

    after = apply(scenario(Edit("move", "gx-zouma-thc", {"lon": 106.29, "lat": 29.46,
                                                        "crs": "GCJ02"})), region.facilities)
    lon, lat = gcj02_to_wgs84([106.29], [29.46])
    point = after.set_index("id").geometry["gx-zouma-thc"]
    assert (point.x, point.y) == (lon[0], lat[0])


def test_moving_far_loses_residents_and_moving_back_restores_the_baseline(region, baseline):
    home = region.facilities.set_index("id").geometry["gx-shiban-thc"]
    seat = region.townships.set_index("name").loc["虎溪街道"]
    away = Edit("move", "gx-shiban-thc", {"lon": float(seat["seat_lon"]),
                                          "lat": float(seat["seat_lat"]) + 0.004})
    moved = compare(region, scenario(away), baseline=baseline)
    shiban = moved.townships[(moved.townships["name"] == "石板镇") & (moved.townships["minutes"] == 15)]
    assert shiban["lost"].iloc[0] > 0
    assert (moved.changes["change"] == "lost").any()
    back = compare(region, scenario(away, Edit("move", "gx-shiban-thc",
                                               {"lon": home.x, "lat": home.y,
                                                "location_quality": "approximate"})),
                   baseline=baseline)
    assert (back.townships["gained"] == 0).all() and (back.townships["lost"] == 0).all()
    assert (back.townships["covered_after"] == back.townships["covered_before"]).all()
    assert (back.targets["change"] == "").all()
    assert len(back.changes) == 0
    assert back.facilities["moved_m"].iloc[0] == 0.0


def test_closing_the_only_centre_flips_one_per_township(region, baseline):
    result = compare(region, scenario(Edit("close", "gx-zouma-thc", {})), baseline=baseline)
    row = result.targets.set_index("id").loc["one-per-township"]
    assert (row["change"], row["status_before"], row["status_after"]) == ("state", "pass", "fail")
    assert row["failing_zh_after"] == "走马镇"
    assert not result.facilities["open_after"].iloc[0]


def _add_at_farthest(region, baseline):
    # At the 巴福镇 resident farthest from care (but on the roads: within 1 km of one).
    points = baseline.context.population
    on_roads = ~baseline.context.off_network(baseline.modes)
    seconds = np.where(np.isfinite(baseline.seconds()) & on_roads
                       & (points["township_code"] == "500107108").to_numpy(), baseline.seconds(), -1)
    far = points.geometry.iloc[int(seconds.argmax())]
    add = Edit("add", "gx-new-1", {"name": "巴福镇卫生院分院", "type": "乡镇卫生院",
                                   "lon": far.x, "lat": far.y, "township_code": "500107108"})
    return compare(region, scenario(add), baseline=baseline)


def test_adding_a_facility_has_no_losers_and_sums_add_up(region, baseline):
    result = _add_at_farthest(region, baseline)
    table = result.townships
    assert (table["lost"] == 0).all()
    assert table["gained"].sum() > 0
    assert set(result.changes["change"]) <= {"gained"}
    for _, rows in table.groupby("minutes"):
        towns, total = rows[rows["code"] != ""], rows[rows["code"] == ""].iloc[0]
        for column in ("gained", "lost", "covered_before", "covered_after"):
            assert total[column] == pytest.approx(towns[column].sum())
        assert total["net"] == pytest.approx(total["covered_after"] - total["covered_before"])


def test_drawn_gain_equals_counted_gain_when_adding_a_facility(region, baseline):
    result = _add_at_farthest(region, baseline)
    gained15 = result.totals.set_index("minutes").loc[15, "gained"]
    assert result.changes["residents"].sum() == pytest.approx(gained15)


def test_combine_concatenates_and_reports_conflicts():
    a = scenario(Edit("move", "x", {"lon": 1.0, "lat": 2.0}), Edit("close", "y", {}))
    a.path = Path("a.toml")
    b = scenario(Edit("move", "x", {"lon": 3.0, "lat": 4.0}), year=2027)
    b.path = Path("b.toml")
    both = combine(a, b)
    assert [e.values.get("lon") for e in both.edits] == [1.0, None, 3.0]
    assert both.year == 2027 and both.conflicts == {"x": ["a.toml", "b.toml"]}


def test_scenario_for_another_region_is_refused(region):
    s = scenario()
    s.region = "beibei"
    with pytest.raises(InputError, match="for region 'beibei'"):
        compare(region, s)


def test_cli_json_is_deterministic_and_writes_layers(tmp_path, capsys):
    args = [str(ROOT), "shiban-relocation", "--format", "json"]
    assert main(["scenario", *args, "--out-dir", str(tmp_path / "out")]) == 0
    first = capsys.readouterr().out
    assert main(["scenario", *args]) == 0
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert data["scenario"]["file"] == "shiban-relocation.toml" and data["year"] == 2025
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".written-by-coverage", "gained.geojson", "lost.geojson", "targets.csv", "townships.csv"]
    assert (tmp_path / "out" / "townships.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    lost = json.loads((tmp_path / "out" / "lost.geojson").read_text(encoding="utf-8"))
    assert lost["features"] and np.isclose(
        sum(f["properties"]["residents"] for f in lost["features"]),
        [t["lost"] for t in data["totals"] if t["minutes"] == 15][0])


def test_cli_names_a_missing_scenario(capsys):
    assert main(["scenario", str(ROOT), "no-such-plan"]) == 2
    assert "shiban-relocation" in capsys.readouterr().err
