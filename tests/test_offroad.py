"""Off-road legs: nobody is dropped, off-network residents are reported, and targets
that fail only because of them say so."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.access import AccessContext
from coverage.cli import main
from coverage.errors import InputError
from coverage.region import load_region
from coverage.targets import ONLY_OFF_NETWORK, judge_ambulance_response, judge_circle

ROOT = Path(__file__).resolve().parents[1]
BEIBEI = ROOT / "regions" / "beibei"
TOWNS = pd.DataFrame({"code": ["A", "B"], "name": ["甲镇", "乙镇"], "kind": ["town", "town"]})
CIRCLE = {"modes": "walk", "required_share": 0.95}


def _circle(off_population, off_covered):
    return {"population": {"A": 100.0, "B": 100.0}, "covered": {"A": 100.0, "B": 80.0},
            "off_population": {"A": 0.0, "B": off_population},
            "off_covered": {"A": 0.0, "B": off_covered}, "facilities": 1}


def test_a_share_target_failing_only_because_of_off_network_residents_says_so():
    outcome = judge_circle(_circle(20.0, 0.0), CIRCLE, TOWNS)
    assert outcome.status == "fail" and outcome.only_off_network
    assert outcome.off_network == {"B": 20.0}
    assert ONLY_OFF_NETWORK in outcome.details and "离网居民 off-network 20 人" in outcome.details
    # With fewer of the uncovered off the network, the others fail it too: not said.
    other = judge_circle(_circle(5.0, 0.0), CIRCLE, TOWNS)
    assert other.status == "fail" and not other.only_off_network
    assert ONLY_OFF_NETWORK not in other.details and other.off_network == {"B": 5.0}
    # Passing targets never say it.
    assert not judge_circle(_circle(20.0, 0.0), {**CIRCLE, "required_share": 0.9},
                            TOWNS).only_off_network


def test_an_ambulance_target_failing_only_because_of_off_network_residents_says_so():
    # B's 10 off-network residents take 60 minutes; everyone else 10 minutes.
    times = {"weight": {"A": 100.0, "B": 100.0}, "weighted": {"A": 60_000.0, "B": 90_000.0},
             "lost": {"A": 0.0, "B": 0.0}, "slowest": {"A": 600.0, "B": 3600.0},
             "reached": {"A": 1, "B": 2}, "stranded": {"A": 0, "B": 0},
             "off_weight": {"A": 0.0, "B": 10.0}, "off_weighted": {"A": 0.0, "B": 36_000.0},
             "off_lost": {"A": 0.0, "B": 0.0}, "dispatchers": 1}
    outcome = judge_ambulance_response({"stations": times}, {"max_minutes": 12.0}, TOWNS)
    assert outcome.status == "fail" and outcome.measured == pytest.approx(12.5)
    assert outcome.only_off_network and outcome.off_network == {"B": 10.0}
    assert ONLY_OFF_NETWORK in outcome.details


@pytest.fixture(scope="module")
def beibei_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("check") / "check.json"
    assert main(["check", str(BEIBEI), "--format", "json", "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_check_reports_off_network_residents_per_township(beibei_check):
    region = load_region(BEIBEI)
    context = AccessContext(region, cache_dir=False)
    circle = next(r for r in beibei_check if r["rule"] == "circle")
    expected = context.off_network_residents({"street": "walk", "town": "ebike",
                                              "township": "ebike"})
    assert circle["off_network"] == pytest.approx(expected.sum()) and expected.sum() > 10_000
    listed = dict(item.rsplit(": ", 1) for item in circle["off_network_townships"].split("; "))
    names = dict(zip(region.townships["code"], region.townships["name"]))
    assert listed == {f"{names[c]} {c}": f"{n:.0f}" for c, n in expected.items() if n > 0}
    # Nobody is dropped: the ambulances reach every resident, off-network ones too.
    ambulance = next(r for r in beibei_check if r["rule"] == "ambulance_response")
    assert "不可达 unreached 0 人" in ambulance["details"] and ambulance["off_network"] > 0


def test_check_table_and_csv_show_off_network_residents(capsys, tmp_path):
    assert main(["check", str(BEIBEI)]) == 0
    assert "离网居民（按街镇）off-network residents by township" in capsys.readouterr().out
    out = tmp_path / "check.csv"
    assert main(["check", str(BEIBEI), "--format", "csv", "--out", str(out)]) == 0
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert {"off_network", "off_network_townships", "only_off_network"} <= set(frame.columns)


def _pack_copy(tmp_path: Path, routing: str) -> Path:
    pack = tmp_path / "pack"
    for rel in ("boundary.geojson", "population/townships.geojson", "facilities.geojson",
                "population/villages.csv", "network/roads.osm"):
        (pack / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, pack / rel)
    text = (ROOT / "region.toml").read_text(encoding="utf-8")
    (pack / "region.toml").write_text(text + routing, encoding="utf-8")
    return pack


def test_pack_sets_its_off_road_speed(tmp_path):
    slow = load_region(_pack_copy(tmp_path, "\n[routing]\noffroad_kmh = 1.5\n"))
    assert slow.offroad_kmh == 1.5
    default = load_region(ROOT)
    a = AccessContext(default, cache_dir=False)._snap("walk")
    b = AccessContext(slow, cache_dir=False)._snap("walk")
    np.testing.assert_array_equal(a.node, b.node)
    np.testing.assert_allclose(b.access_seconds, 2 * a.access_seconds)


@pytest.mark.parametrize("value", ["0", "-3", "\"fast\"", "true", "500"])
def test_bad_off_road_speed_is_a_clear_error(tmp_path, value, capsys):
    pack = _pack_copy(tmp_path, f"\n[routing]\noffroad_kmh = {value}\n")
    with pytest.raises(InputError, match="routing.offroad_kmh"):
        load_region(pack)
    assert main(["check", str(pack)]) == 2
    err = capsys.readouterr().err
    assert "routing.offroad_kmh" in err and "Traceback" not in err


def test_a_clinic_beside_off_network_residents_covers_them():
    """No target is impossible because of off-network residents: a clinic built beside
    them is reached on foot across country, in coverage and in siting alike."""
    import geopandas as gpd

    from coverage.access import travel_seconds, within
    from coverage.siting import site_point_seconds

    context = AccessContext(load_region(BEIBEI))
    far = np.flatnonzero(context.off_network("walk"))
    assert far.size > 100
    points = context.population.iloc[far]
    # Each clinic 300 m east of an off-network resident.
    shifted = points.geometry.to_crs("EPSG:32648").translate(300.0, 0.0).to_crs("EPSG:4326")
    sites = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(far.size)]}, geometry=shifted.values,
                             crs="EPSG:4326")
    seconds, nearest = travel_seconds(context.graph("walk"), context._snap("walk"), sites)
    walk = 300.0 / (3.0 / 3.6)
    assert (seconds[far] <= walk + 1.0).all() and within(seconds[far], 6.0).all()
    assert (nearest[far] >= 0).all()
    matrix = site_point_seconds(context, sites, 6 * 60.0, "walk").tocsr()
    reached = matrix[far, np.arange(far.size)]
    assert reached == pytest.approx(np.full(far.size, walk), rel=1e-3)  # its own clinic
