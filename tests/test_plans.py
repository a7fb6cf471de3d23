"""Every pack's plan: quotes found in the seeds, every dated build in plan-2025, every
target checked with a status, and the app's region picker offering the four packs."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from coverage.region import find_regions, load_region
from coverage.scenarios import apply, load_scenario
from coverage.targets import STATUSES, evaluate, load_targets

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(os.environ.get("COVERAGE_SHARED", ROOT.parent / "shared")) / "seeds"
PACKS = find_regions(ROOT)


def test_the_four_packs_are_found():
    assert sorted(load_region(p).slug for p in PACKS) == ["beibei", "gaoxin", "wanzhou",
                                                          "yongchuan"]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the repository")
@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_target_and_statistics_quotes_are_in_their_seed(pack):
    texts = {f.name[:3]: re.sub(r"\s+", "", f.read_text(encoding="utf-8"))
             for f in SEEDS.glob("*.txt")}
    items = [(t.source, t.quote) for t in load_targets(load_region(pack))]
    stats = pack / "statistics.toml"
    if stats.exists():
        items += [(f["source"], f["quote"])
                  for f in tomllib.loads(stats.read_text(encoding="utf-8")).get("figure", [])]
    for source, quote in items:
        seeds = re.findall(r"seed (\d{3})", source) or sorted(texts)  # 北碚 names no seed id
        assert any(re.sub(r"\s+", "", quote) in texts[s] for s in seeds), quote


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_plan_2025_holds_every_dated_build(pack):
    region = load_region(pack)
    plan = load_scenario(pack / "scenarios" / "plan-2025.toml", region.facilities)
    edited = {e.facility for e in plan.edits}
    register = region.facilities
    dated = register[register["status"].isin(["planned", "under_construction"])
                     & register["opening_year"].notna()]
    assert set(dated["id"]) <= edited
    after = apply(plan, register)
    assert len(after) >= len(register)
    if region.slug == "gaoxin":
        assert "重庆（中美）海吉亚医院二期" in set(after["name"])


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_every_target_gets_a_status(pack):
    region = load_region(pack)
    targets = [t for t in load_targets(region) if t.rule in ("ratio", "count",
                                                              "one_per_township",
                                                              "one_per_village")]
    for result in evaluate(region, year=2025, targets=targets):
        assert result.outcome.status in STATUSES


def test_check_carries_caveats_estimated_inputs_and_undated_in_every_format(tmp_path):
    import csv
    import io
    import json

    from coverage.cli import main

    pack = ROOT / "regions" / "wanzhou"
    out = {}
    for fmt in ("json", "csv", "table"):
        path = tmp_path / f"check.{fmt}"
        assert main(["check", str(pack), "--year", "target", "--format", fmt,
                     "--out", str(path)]) == 0
        out[fmt] = path.read_text(encoding="utf-8-sig")
    records = json.loads(out["json"])
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    for table in (records, rows):
        assert all("路网为合成示意数据" in r["caveats"] for r in table)
        township = next(r for r in table if r["id"] == "one-per-township")
        assert "townships: 估算 estimated" in township["estimated_inputs"]
        assert str(township["year"]) == "2025"   # the target's own year
    undated = next(r for r in records if r["id"] == "sub-centres")["undated"]
    assert "三峡国际健康城三峡医学中心" in undated
    assert "⚠ 长江走向与桥位为示意" in out["table"] and "估算输入 estimated inputs" in out["table"]
    assert "未定年份的规划机构 undated planned facilities" in out["table"]
    assert len(records) == len(load_targets(load_region(pack)))
