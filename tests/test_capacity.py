"""2SFCA on the default pack: supply is conserved, missing supply is reported, decay shape."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from coverage.access import AccessContext
from coverage.capacity import decay_weights, two_step_fca
from coverage.facilities import BASIC_CARE_TYPES
from coverage.region import load_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def context(region, tmp_path_factory):
    return AccessContext(region, cache_dir=tmp_path_factory.mktemp("graphs"))


def with_beds(region, tmp_path, beds):
    """The pack with every basic-care facility given ``beds`` (a function of the row)."""
    facilities = region.facilities.copy()
    facilities["beds"] = [beds(i) for i in range(len(facilities))]
    return AccessContext(dataclasses.replace(region, facilities=facilities), cache_dir=tmp_path)


@pytest.mark.parametrize("decay", [None, "gaussian"])
def test_every_bed_is_shared_out_once(region, tmp_path, decay):
    # sum_i P_i A_i = sum_j R_j D_j = 1000 sum_j S_j over facilities someone reaches.
    context = with_beds(region, tmp_path, lambda i: 10 * (i + 1))
    table = two_step_fca(context, minutes=20, mode="ebike", decay=decay)
    assert table.attrs["excluded"] == []
    used = [r for r in table.attrs["ratios"].values() if r > 0]
    facilities = context.facilities(BASIC_CARE_TYPES).set_index("id")
    supplied = sum(facilities.loc[i, "beds"] for i, r in table.attrs["ratios"].items() if r > 0)
    region_row = table[table["code"] == ""].iloc[0]
    assert used
    assert region_row["score"] * region_row["population"] == pytest.approx(1000 * supplied)
    towns = table[table["code"] != ""]
    assert (towns["score"] * towns["population"]).sum() == pytest.approx(1000 * supplied)


def test_missing_supply_is_reported_and_excluded(context):
    facilities = context.facilities(BASIC_CARE_TYPES)
    table = two_step_fca(context, supply="beds", minutes=30)
    missing = sorted(facilities.loc[facilities["beds"].isna(), "id"])
    assert sorted(table.attrs["excluded"]) == missing
    assert not set(table.attrs["ratios"]) & set(missing)


def test_overloaded_townships_reach_a_facility_but_score_low(region, tmp_path):
    # One facility with few beds among many with plenty: those relying on it are overloaded.
    context = with_beds(region, tmp_path, lambda i: 1 if i == 0 else 200)
    table = two_step_fca(context, minutes=15, mode="ebike", overload_ratio=0.6)
    towns = table[table["code"] != ""]
    expected = towns.loc[(towns["reachable"] > 0) & (towns["relative"] < 0.6), "code"]
    assert towns.loc[towns["overloaded"], "code"].tolist() == expected.tolist() != []
    assert not table["overloaded"].iloc[-1]
    # Doubling every bed doubles every score.
    doubled = two_step_fca(with_beds(region, tmp_path, lambda i: 2 if i == 0 else 400),
                           minutes=15, mode="ebike")
    np.testing.assert_allclose(doubled["score"], 2 * table["score"])


def test_gaussian_decay_falls_from_one_to_zero_at_the_threshold():
    g = decay_weights(np.array([0.0, 300.0, 600.0, 900.0]), 15, "gaussian")
    assert g[0] == pytest.approx(1.0) and g[-1] == pytest.approx(0.0, abs=1e-12)
    assert (np.diff(g) < 0).all()
    np.testing.assert_array_equal(decay_weights(np.array([0.0, 900.0]), 15), [1.0, 1.0])
    with pytest.raises(ValueError, match="unknown decay"):
        decay_weights(np.array([1.0]), 15, "linear")


def test_bad_supply_is_rejected(context):
    with pytest.raises(ValueError, match="supply must be"):
        two_step_fca(context, supply="nurses")


def test_capacity_command(tmp_path, capsys):
    from coverage.cli import main

    out = tmp_path / "cap.csv"
    assert main(["capacity", str(ROOT), "--minutes", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2SFCA beds per 1,000 residents" in printed and "left out for want of beds" in printed
    text = out.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and "overloaded" in text.decode("utf-8-sig")
