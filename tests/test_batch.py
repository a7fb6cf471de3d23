"""Batch runs: parts merged equal a single run; resumable; the three backends."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage import batch
from coverage.access import AccessContext, coverage_table
from coverage.facilities import active_facilities
from coverage.layers import csv_text
from coverage.network import read_network
from coverage.region import load_region
from coverage.targets import evaluate, load_targets

ROOT = Path(__file__).resolve().parents[1]
MINUTES = (5, 10, 15, 30)


@pytest.fixture(scope="module")
def beibei():
    return load_region(ROOT / "regions" / "beibei")


@pytest.fixture(scope="module")
def gaoxin():
    return load_region(ROOT)


def _code_groups(region, n: int):
    """Split the township codes into ``n`` groups by position: a column to split by."""
    codes = region.townships["code"].astype(str)
    return region.townships.assign(group=[f"g{i * n // len(codes)}" for i in range(len(codes))])


@pytest.mark.parametrize("pack, split_by, mode", [
    ("gaoxin", "kind", None),                 # 街道 vs 镇, each by its default mode
    ("beibei", "kind", None),
    ("beibei", "group", "walk"),              # 3 groups of codes; walking clips hardest
    ("gaoxin", "group", "ebike"),
])
def test_merged_parts_equal_a_single_run(request, tmp_path, pack, split_by, mode):
    region = request.getfixturevalue(pack)
    if split_by == "group":
        from dataclasses import replace

        region = replace(region, townships=_code_groups(region, 3))
    kw = {} if mode is None else {"mode": mode}
    context = AccessContext(region, cache_dir=False)
    whole = coverage_table(context, minutes=MINUTES, **kw)
    single = evaluate(region, context=context)
    table, gaps, ran = batch.batch_region(region, tmp_path, split_by, minutes=MINUTES,
                                          progress=None, **kw)
    assert len(ran) >= 2
    # Every part really is clipped: fewer nodes than the whole network for walking.
    if mode == "walk":
        total = len(region.load_network().nodes)
        assert all(r["nodes"]["walk"] < total for r in ran)
    # Bit-identical: same points, same sums in the same order; covered counts agree
    # because equal-time ties differ by ulps at most (within() allows 1 microsecond).
    pd.testing.assert_frame_equal(table, whole, check_exact=True)
    assert gaps["population"].sum() == pytest.approx(
        whole.loc[(whole["code"] == "") & (whole["minutes"] == 15), "population"].iloc[0]
        - whole.loc[(whole["code"] == "") & (whole["minutes"] == 15), "covered"].iloc[0])
    assert (tmp_path / "coverage.csv").read_text(encoding="utf-8-sig").startswith("code,name")
    assert (tmp_path / "layers" / "townships.csv").read_text(encoding="utf-8") == csv_text(
        whole.round({"share": 6}))

    # Targets: the parts' pieces merged and judged give the single run's outcomes.
    tasks = batch.make_tasks(region, split_by, minutes=MINUTES, **kw)
    merged = batch.merge_targets(tasks, tmp_path, region)
    assert [r.target.id for r in merged] == [r.target.id for r in single]
    for one, parts in zip(single, merged):
        a, b = one.outcome, parts.outcome
        assert (b.status, b.failing) == (a.status, a.failing), one.target.id
        assert (b.measured is None) == (a.measured is None)
        if a.measured is not None:
            assert b.measured == pytest.approx(a.measured, rel=0, abs=1e-9)
        # Counts of own facilities add up exactly; only an ambulance mean computed past
        # the batch's horizon is flagged as approximate.
        assert b.details == a.details or (one.target.rule == "ambulance_response"
                                          and b.details.startswith(a.details + "; 分区近似"))
    written = pd.read_csv(tmp_path / "layers" / "targets.csv", encoding="utf-8-sig")
    assert written["id"].tolist() == [r.target.id for r in single]


def test_register_rules_count_each_facility_in_one_part(gaoxin, tmp_path):
    """Each part owns the facilities declared in (or lying in) its townships only,
    although its register also holds the neighbours' within its buffer."""
    tasks = batch.make_tasks(gaoxin, "kind", minutes=(15,), mode="walk")
    batch.run_batch(tasks, tmp_path, progress=None)
    pieces = [json.loads((tmp_path / "parts" / f"{t.part}.targets.json").read_text("utf-8"))
              for t in tasks]
    ratio = next(t.id for t in load_targets(gaoxin) if t.rule == "ratio")
    counted = [p[ratio]["facilities"] for p in pieces]
    assert all(n > 0 for n in counted) and sum(counted) == len(active_facilities(
        gaoxin.facilities))
    held = [r["facilities"] for r in (json.loads((tmp_path / "parts" / f"{t.part}.done.json")
                                                 .read_text("utf-8")) for t in tasks)]
    assert sum(held) > sum(counted)   # neighbours' facilities pulled in for travel


def test_too_narrow_a_buffer_changes_the_result(beibei, tmp_path, monkeypatch):
    """The buffer matters: capped at 300 m, border residents lose facilities across the
    border (by car: walkers now reach a road node on their own side, however far)."""
    whole = coverage_table(AccessContext(beibei, cache_dir=False), minutes=MINUTES, mode="car")
    monkeypatch.setattr(batch, "MAX_BUFFER_M", 300.0)
    tasks = batch.make_tasks(beibei, "kind", minutes=MINUTES, mode="car", targets=False)
    assert not any(t.exact for t in tasks)
    batch.run_batch(tasks, tmp_path, progress=None)
    table, _ = batch.merge_parts(tasks, tmp_path, region_name=beibei.name_zh,
                                 codes=beibei.townships["code"].astype(str).tolist())
    assert (table["covered"].to_numpy() <= whole["covered"].to_numpy()).all()
    assert (table["covered"].to_numpy() < whole["covered"].to_numpy()).any()


def test_a_failed_part_is_the_only_one_recomputed(gaoxin, tmp_path, monkeypatch):
    tasks = batch.make_tasks(gaoxin, "county", minutes=(15,))
    assert [t.part for t in tasks] == ["500106", "500107"]
    real = batch.coverage_table

    def crash_in_500107(context, **kw):
        if "500107" in set(context.region.townships["county_code"]):
            raise RuntimeError("worker lost")
        return real(context, **kw)

    monkeypatch.setattr(batch, "coverage_table", crash_in_500107)
    lines = []
    with pytest.raises(batch.BatchError, match="500107"):
        batch.run_batch(tasks, tmp_path, progress=lines.append)
    assert batch.is_done(tasks[0], tmp_path) and not batch.is_done(tasks[1], tmp_path)
    assert not (tmp_path / "parts" / "500107.coverage.parquet").exists()
    finished = (tmp_path / "parts" / "500106.done.json").stat().st_mtime_ns

    monkeypatch.setattr(batch, "coverage_table", real)
    ran = batch.run_batch(tasks, tmp_path, progress=lines.append)
    assert [r["part"] for r in ran] == ["500107"]
    assert (tmp_path / "parts" / "500106.done.json").stat().st_mtime_ns == finished
    assert any("1 of 2 parts already finished" in line for line in lines)
    # Another year is another task: both parts run again.
    again = batch.make_tasks(gaoxin, "county", minutes=(15,), year=2021)
    assert not any(batch.is_done(t, tmp_path) for t in again)


def test_backends_agree(gaoxin, tmp_path):
    tasks = batch.make_tasks(gaoxin, "county", minutes=(10, 15), targets=False)
    tables = {}
    for backend, options in (("inline", None), ("processes", None),
                             ("dask", {"n_workers": 2, "processes": False})):
        out = tmp_path / backend
        ran = batch.run_batch(tasks, out, backend=backend, workers=2, cluster_options=options,
                              progress=None)
        assert sorted(r["part"] for r in ran) == ["500106", "500107"]
        tables[backend] = batch.merge_parts(tasks, out)[0]
    pd.testing.assert_frame_equal(tables["processes"], tables["inline"], check_exact=True)
    pd.testing.assert_frame_equal(tables["dask"], tables["inline"], check_exact=True)


def test_network_window_from_parquet(tmp_path, gaoxin):
    network = read_network(gaoxin.network_path)
    path = batch.write_network_parquet(network, tmp_path / "edges.parquet")
    lon, lat = network.nodes["x"], network.nodes["y"]
    bounds = (lon.quantile(0.3), lat.quantile(0.3), lon.quantile(0.6), lat.quantile(0.6))
    window = batch.read_network_window(path, bounds)
    expected = batch.read_network_window(gaoxin.network_path, bounds)
    assert 0 < len(window.edges) < len(network.edges)
    key = ["u", "v", "length", "highway"]
    pd.testing.assert_frame_equal(
        window.edges[key].sort_values(["u", "v"]).reset_index(drop=True),
        expected.edges[key].sort_values(["u", "v"]).reset_index(drop=True).astype(
            {"highway": str}), check_exact=True)
    assert window.nodes.index.equals(expected.nodes.index.sort_values())
    np.testing.assert_array_equal(window.nodes["x"], expected.nodes.loc[window.nodes.index, "x"])


def test_reach_and_split(gaoxin):
    # Walking 15 min at 4.5 km/h plus three access legs, 2% margin; at 30 min a
    # ferry (15 km/h after a 15-minute wait) could carry a walker farther.
    assert batch.reach_m("walk", 15) == pytest.approx((4.5 / 3.6 * 900 + 3000) * 1.02)
    assert batch.reach_m("walk", 30) == pytest.approx((15 / 3.6 * 900 + 3000) * 1.02)
    assert batch.reach_m("car", 600) == batch.MAX_BUFFER_M
    parts = batch.split_townships(gaoxin.townships, "county")
    assert sorted(c for codes in parts.values() for c in codes) == sorted(
        gaoxin.townships["code"].astype(str))
    with pytest.raises(Exception, match="no column"):
        batch.split_townships(gaoxin.townships, "prefecture")


def test_batch_without_out_writes_to_a_temporary_folder(tmp_path, monkeypatch, capsys):
    """`coverage batch` never writes ./batch into the working folder unasked, and its
    progress goes to standard error."""
    import shutil
    import tempfile

    from coverage.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    pack = Path(__file__).resolve().parents[1]
    assert main(["batch", str(pack), "--split-by", "kind", "--minutes", "15"]) == 0
    out, err = capsys.readouterr()
    assert not (tmp_path / "batch").exists()
    written = [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("coverage-batch-")]
    assert len(written) == 1 and str(written[0]) in out.splitlines()[-1]
    assert err.strip()  # progress lines
    shutil.rmtree(written[0])
