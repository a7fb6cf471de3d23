"""targets.toml is checked parameter by parameter when a pack loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from coverage import target_file, targets
from coverage.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_declares_exactly_its_parameters():
    assert set(target_file.PARAMETERS) == set(targets.RULES) == set(targets.DEFAULTS)
    for rule, defaults in targets.DEFAULTS.items():
        spec = target_file.PARAMETERS[rule]
        assert set(spec) == set(defaults), rule
        required = {name for name, value in defaults.items() if value is targets.REQUIRED}
        assert {name for name, p in spec.items() if p.required} == required, rule


def test_every_default_passes_its_own_check():
    for rule, defaults in targets.DEFAULTS.items():
        for name, value in defaults.items():
            if value is not targets.REQUIRED and value is not None:  # None: absent
                target_file.PARAMETERS[rule][name].check(value)


@pytest.mark.parametrize("pack", [ROOT, *(ROOT / "regions" / p for p in ("beibei", "wanzhou", "yongchuan"))],
                         ids=["gaoxin", "beibei", "wanzhou", "yongchuan"])
def test_shipped_target_files_pass(pack):
    items = target_file.read_target_file(pack / "targets.toml")
    assert items and all(item["rule"] in targets.RULES for item in items)
    assert [t.id for t in targets.read_targets(pack / "targets.toml")] == [i["id"] for i in items]


def test_a_pack_with_a_bad_target_file_does_not_load(tmp_path):
    from coverage.region import load_region
    import shutil

    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("region.toml", "boundary.geojson", "facilities.geojson", "population"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, pack / name)
    (pack / "network").mkdir()
    (pack / "network" / "roads.osm").write_text("<osm/>", encoding="utf-8")
    text = (ROOT / "targets.toml").read_text(encoding="utf-8")
    (pack / "targets.toml").write_text(text.replace("required_share = 0.9",
                                                    'required_share = "90%"'), encoding="utf-8")
    with pytest.raises(InputError, match=r"targets\.toml, target circle-15min\.parameters\."
                                         r"required_share: '90%' is text"):
        load_region(pack)


@pytest.mark.parametrize("value", [15, 0.5, 1440])
def test_minutes_accept_the_range(value):
    target_file.minutes(value)


@pytest.mark.parametrize("value", [0, -1, 1441, float("nan"), "15", True, None])
def test_minutes_refuse_the_rest(value):
    with pytest.raises(ValueError):
        target_file.minutes(value)


def test_modes_take_one_mode_or_a_mode_for_every_kind():
    target_file.modes("car")
    target_file.modes({"street": "walk", "town": "ebike", "township": "car"})
    for partial in ({"village": "walk"}, {"street": "walk"}, {"street": "walk", "镇": "ebike",
                                                              "township": "car"}):
        with pytest.raises(ValueError, match="a mode for each township kind"):
            target_file.modes(partial)
    with pytest.raises(ValueError, match="not a travel mode"):
        target_file.modes({"street": "walk", "town": "fly", "township": "car"})
