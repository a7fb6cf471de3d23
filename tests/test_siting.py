"""Siting: exact MILPs checked against PySAL spopt, fixed existing sites, greedy gaps,
candidates on the default pack and their ranking checked against a full recomputation."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import pytest
from spopt.locate import LSCP, MCLP, PMedian as SpoptPMedian

from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, within
from coverage.cli import main
from coverage.errors import InputError
from coverage.facilities import BASIC_CARE_TYPES
from coverage.region import load_region
from coverage.siting import (CandidateRanking, MaximalCovering, PMedian, SetCovering,
                             candidates_from_file, candidates_on_network, optimize,
                             site_point_seconds, township_area)

ROOT = Path(__file__).resolve().parents[1]
SOLVER = (pulp.HiGHS(msg=False) if "HiGHS" in pulp.listSolvers(onlyAvailable=True)
          else pulp.PULP_CBC_CMD(msg=False))


def instance(seed, n_demand=90, n_sites=18):
    """Travel seconds between random demand points and sites (10 km square, 5 m/s)."""
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 10_000, (n_demand, 2))
    sites = rng.uniform(0, 10_000, (n_sites, 2))
    cost = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) / 5.0
    return cost, rng.integers(1, 500, n_demand).astype(float)


@pytest.mark.parametrize("seed", [0, 1])
def test_mclp_matches_spopt(seed):
    cost, weights = instance(seed)
    ours = MaximalCovering.from_cost_matrix(cost, weights, 8, 4).solve()
    peer = MCLP.from_cost_matrix(cost, weights, 8 * 60, 4).solve(SOLVER)
    assert ours.status == "optimal" and ours.gap == 0
    assert ours.objective == pytest.approx(peer.problem.objective.value())
    assert len(ours.selected) == 4
    # The reported objective is what the chosen sites really cover.
    assert ours.objective == pytest.approx(weights[within(cost[:, ours.selected], 8).any(1)].sum())
    # Identical coverage rows were merged.
    assert ours.n_rows < len(weights)


@pytest.mark.parametrize("seed", [0, 1])
def test_lscp_matches_spopt(seed):
    cost, _ = instance(seed)
    coverable = within(cost, 8).any(1)
    ours = SetCovering.from_cost_matrix(cost, 8).solve()
    # spopt has no notion of uncoverable demand: it is given the coverable rows only.
    peer = LSCP.from_cost_matrix(cost[coverable], 8 * 60).solve(SOLVER)
    assert ours.objective == pytest.approx(peer.problem.objective.value())
    assert within(cost[coverable][:, ours.selected], 8).any(1).all()
    np.testing.assert_array_equal(ours.excluded, np.flatnonzero(~coverable))


@pytest.mark.parametrize("seed", [0, 1])
def test_pmedian_matches_spopt(seed):
    cost, weights = instance(seed, n_demand=60, n_sites=12)
    ours = PMedian.from_cost_matrix(cost, weights, 3).solve()
    peer = SpoptPMedian.from_cost_matrix(cost, weights, 3).solve(SOLVER)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(peer.problem.objective.value(), rel=1e-7)
    assert ours.objective == pytest.approx((weights * cost[:, ours.selected].min(1)).sum())


def test_fixed_sites_are_kept_open_and_never_counted_as_new():
    # Columns 0-2 are existing facilities: ours adds k new sites on top of them;
    # spopt places k + 3 with the three predefined, which is the same problem.
    cost, weights = instance(3)
    fixed, new = np.arange(3), np.arange(3, cost.shape[1])
    ids = [f"site-{j}" for j in new]
    k = 2
    ours = MaximalCovering(within(cost[:, new], 8), weights, k,
                           existing=within(cost[:, fixed], 8).any(1), candidate_ids=ids).solve()
    peer = MCLP.from_cost_matrix(cost, weights, 8 * 60, k + 3,
                                 predefined_facilities_arr=np.isin(np.arange(cost.shape[1]), fixed)
                                 ).solve(SOLVER)
    assert len(ours.selected) == k and set(ours.selected) <= set(ids)
    assert ours.objective == pytest.approx(peer.problem.objective.value())

    pm = PMedian(cost[:, new], weights, k, fallback=cost[:, fixed].min(1), candidate_ids=ids).solve()
    peer = SpoptPMedian.from_cost_matrix(
        cost, weights, k + 3, predefined_facilities_arr=np.isin(np.arange(cost.shape[1]), fixed)
    ).solve(SOLVER)
    assert len(pm.selected) == k and set(pm.selected) <= set(ids)
    assert pm.objective == pytest.approx(peer.problem.objective.value(), rel=1e-7)


def test_lscp_drops_demand_existing_sites_cover():
    cost, _ = instance(4)
    existing = within(cost[:, :4], 8).any(1)
    alone = SetCovering.from_cost_matrix(cost[:, 4:], 8).solve()
    with_existing = SetCovering.from_cost_matrix(cost[:, 4:], 8, existing=existing).solve()
    assert with_existing.objective <= alone.objective
    # Every point is covered by an existing site or a new one, except the excluded.
    covered = existing | within(cost[:, 4:][:, with_existing.selected], 8).any(1)
    assert set(np.flatnonzero(~covered)) == set(with_existing.excluded)
    assert not existing[with_existing.excluded].any()


def test_greedy_beyond_the_size_limit_reports_a_valid_gap():
    cost, weights = instance(5, n_demand=200, n_sites=30)
    exact = MaximalCovering.from_cost_matrix(cost, weights, 6, 3).solve()
    greedy = MaximalCovering.from_cost_matrix(cost, weights, 6, 3, max_size=0).solve()
    assert greedy.status == "greedy" and len(greedy.selected) == 3
    assert greedy.objective <= exact.objective <= greedy.bound + 1e-6
    assert greedy.gap == pytest.approx((greedy.bound - greedy.objective) / greedy.objective)
    pm_exact = PMedian.from_cost_matrix(cost, weights, 3).solve()
    pm_greedy = PMedian.from_cost_matrix(cost, weights, 3, max_size=0).solve()
    assert pm_greedy.bound - 1e-6 <= pm_exact.objective <= pm_greedy.objective
    lscp = SetCovering.from_cost_matrix(cost, 6, max_size=0).solve()
    assert lscp.status == "greedy" and lscp.bound <= SetCovering.from_cost_matrix(cost, 6).solve().objective



@pytest.mark.parametrize("seed", range(6))
def test_swaps_never_worsen_the_greedy_answer_and_reach_a_local_optimum(seed):
    cost, weights = instance(seed, n_demand=150, n_sites=25)
    fallback = np.where(np.arange(150) % 3 == 0, np.inf, cost.max(axis=1) * 0.9)
    pm = PMedian.from_cost_matrix(cost, weights, 4, fallback=fallback)
    greedy = pm._greedy()
    swapped = pm._improve(greedy, float("inf"))
    assert len(set(swapped)) == 4 and pm._value(swapped) <= pm._value(greedy)
    # Local optimum: no single swap of an open site for a closed one lowers the total.
    best = pm._value(swapped)
    for r in swapped:
        for j in set(range(25)) - set(swapped):
            assert pm._value([j if s == r else s for s in swapped]) >= best - 1e-6 * best
    mclp = MaximalCovering.from_cost_matrix(cost, weights, 900, 3)
    greedy = mclp._greedy()
    swapped = mclp._improve(greedy, float("inf"))
    assert len(set(swapped)) == 3 and mclp._value(swapped) >= mclp._value(greedy)
    lscp = SetCovering.from_cost_matrix(cost, 900)
    greedy = lscp._greedy()
    kept = lscp._improve(greedy, float("inf"))
    assert set(kept) <= set(greedy) and lscp._covered(kept).all()


def test_at_any_time_limit_the_answer_is_at_least_the_heuristics():
    cost, weights = instance(9, n_demand=400, n_sites=60)
    pm = PMedian.from_cost_matrix(cost, weights, 5, time_limit=0.0)
    heuristic = pm._value(pm._improve(pm._greedy(), float("inf")))
    result = pm.solve()
    assert result.objective <= heuristic + 1e-6
    assert result.status in ("optimal", "time limit")
    assert result.bound <= result.objective + 1e-6 and np.isfinite(result.bound)
    exact = PMedian.from_cost_matrix(cost, weights, 5).solve()
    assert result.bound - 1e-6 <= exact.objective <= result.objective + 1e-6


def test_a_bound_that_proves_the_heuristic_optimal_skips_the_milp(monkeypatch):
    import coverage.siting as siting

    cost, weights = instance(2, n_demand=60, n_sites=8)
    # One candidate serves everyone fastest: greedy is optimal and the bound says so.
    cost[:, 3] = 1.0
    monkeypatch.setattr(siting, "_highs", lambda *a, **k: pytest.fail("MILP solved"))
    result = PMedian.from_cost_matrix(cost, weights, 1).solve()
    assert result.status == "optimal" and result.selected == [3] and result.gap == 0


def test_k_out_of_range_is_rejected():
    cost, weights = instance(0)
    with pytest.raises(ValueError, match="k must be"):
        MaximalCovering.from_cost_matrix(cost, weights, 8, cost.shape[1] + 1)


# --- on the default pack ------------------------------------------------------------

@pytest.fixture(scope="module")
def region():
    return load_region(ROOT)


@pytest.fixture(scope="module")
def context(region, tmp_path_factory):
    return AccessContext(region, year=2021, cache_dir=tmp_path_factory.mktemp("graphs"))


@pytest.fixture(scope="module")
def sites(context, region):
    return candidates_on_network(context.graph("walk"), township_area(region, "500107108"),
                                 spacing_m=800)


def test_candidates_on_network_are_stable_and_spaced(context, region, sites):
    graph = context.graph("walk")
    again = candidates_on_network(graph, township_area(region, "500107108"), spacing_m=800)
    assert sites["id"].tolist() == again["id"].tolist() and sites["id"].is_unique
    assert sites.within(township_area(region, "500107108").buffer(1e-9)).all()
    # At most one per 800 m cell.
    index = pd.Index(graph.node_ids).get_indexer([int(i.split("-")[1]) for i in sites["id"]])
    cells = set(zip(np.floor(graph.x[index] / 800), np.floor(graph.y[index] / 800)))
    assert len(cells) == len(sites)
    coarser = candidates_on_network(graph, township_area(region, "500107108"), spacing_m=1600)
    assert 0 < len(coarser) < len(sites)
    with pytest.raises(InputError, match="no township"):
        township_area(region, "999")


def test_candidates_from_file_keeps_ids_and_rejects_duplicates(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("编号,经度,纬度\nA,106.35,29.55\nB,106.36,29.56\n", encoding="utf-8")
    assert candidates_from_file(path)["id"].tolist() == ["A", "B"]
    path.write_text("编号,经度,纬度\nA,106.35,29.55\nA,106.36,29.56\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate candidate id"):
        candidates_from_file(path)


def test_ranking_matches_a_full_recomputation(context, region, sites):
    ranking = CandidateRanking(context, minutes=15).evaluate(sites).set_index("id")
    facilities = context.facilities(BASIC_CARE_TYPES)
    weight = context.population["population"].to_numpy(float)
    before, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND, facilities)
    reached = np.isfinite(before)
    for i in (0, len(sites) // 2, len(sites) - 1):
        site = sites.iloc[[i]]
        new = facilities.iloc[[0]].copy()
        new["id"] = f"candidate-{i}"  # the context caches times by facility ids
        new = new.set_geometry(gpd.GeoSeries(site.geometry.to_numpy(), crs=4326, index=new.index))
        after, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND, pd.concat([facilities, new]))
        row = ranking.loc[site["id"].iloc[0]]
        gained = weight[within(after, 15) & ~within(before, 15)].sum()
        assert row["newly_covered"] == pytest.approx(gained)
        mean_cut = (weight[reached] * (before[reached] - after[reached])).sum() / weight[reached].sum() / 60
        assert row["mean_minutes_reduction"] == pytest.approx(mean_cut, rel=1e-9, abs=1e-9)
    assert ranking["newly_covered"].is_monotonic_decreasing


def test_mclp_of_one_site_agrees_with_the_ranking(context, sites):
    ranking = CandidateRanking(context, minutes=15).evaluate(sites)
    result = optimize(context, sites, "mclp", minutes=15, k=1)
    baseline, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND, context.facilities(BASIC_CARE_TYPES))
    weight = context.population["population"].to_numpy(float)
    best = ranking["newly_covered"].max()
    assert result.status == "optimal"
    assert result.objective == pytest.approx(weight[within(baseline, 15)].sum() + best)
    assert ranking.set_index("id").loc[result.selected[0], "newly_covered"] == pytest.approx(best)


def test_pmedian_on_the_pack_is_the_best_pair(context, sites):
    result = optimize(context, sites, "pmedian", k=2, cap_minutes=30)
    assert result.status == "optimal" and len(result.selected) == 2
    cost = site_point_seconds(context, sites, 30 * 60.0).toarray()
    cost[cost == 0] = np.inf
    baseline, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND, context.facilities(BASIC_CARE_TYPES))
    weight = context.population["population"].to_numpy(float)
    # Residents only a candidate reaches count the cap until served.
    baseline = np.where(np.isinf(baseline) & np.isfinite(cost).any(1), 30 * 60.0, baseline)
    keep = np.isfinite(baseline)
    # Brute force over every pair: total time with each resident at the nearest open site.
    best = np.inf
    for a in range(len(sites)):
        both = np.minimum(np.minimum(baseline, cost[:, a])[:, None], cost[:, a + 1:])[keep]
        best = min(best, (weight[keep][:, None] * both).sum(0).min(initial=np.inf))
    assert result.objective == pytest.approx(best, rel=1e-9)


def test_pmedian_builds_only_pairs_faster_than_the_existing_facility(context, sites):
    # Pairs no faster than a resident's existing facility are never used, so leaving
    # them out of the matrix changes nothing the model sees; residents no facility
    # reaches keep every pair (their fallback, the cap, depends on them).
    baseline, _ = context.seconds_by_kind(DEFAULT_MODE_BY_KIND, context.facilities(BASIC_CARE_TYPES))
    baseline = baseline.copy()
    baseline[::50] = np.inf  # some residents no facility reaches
    full = site_point_seconds(context, sites, 60 * 60.0)
    part = site_point_seconds(context, sites, 60 * 60.0, below=baseline)
    assert 0 < part.nnz < full.nnz
    coo = full.tocoo()
    useful = coo.data < baseline[coo.row]
    assert sorted(zip(*part.tocoo().coords, part.tocoo().data)) == sorted(
        zip(coo.row[useful], coo.col[useful], coo.data[useful]))
    weight = context.population["population"].to_numpy(float)
    models = []
    for cost in (full, part):
        fallback = np.where(np.isinf(baseline) & (np.diff(cost.indptr) > 0), 3600.0, baseline)
        models.append(PMedian(cost, weight, 2, fallback=fallback))
    for name in ("pair_row", "pair_col", "pair_cost", "rows", "excluded", "row_fallback"):
        assert np.array_equal(getattr(models[0], name), getattr(models[1], name))
    a, b = (m.solve() for m in models)
    assert (a.selected, a.objective, a.bound) == (b.selected, b.objective, b.bound)


def test_cli_candidates_and_optimize(tmp_path, capsys):
    out = tmp_path / "ranking.csv"
    assert main(["candidates", str(ROOT), "--township", "500107108", "--spacing", "1500",
                 "--minutes", "15", "--year", "2021", "--out", str(out)]) == 0
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert {"id", "lon", "lat", "newly_covered", "targets_changed"} <= set(table.columns)
    chosen = tmp_path / "chosen.geojson"
    assert main(["optimize", str(ROOT), "--model", "mclp", "--k", "2", "--minutes", "15",
                 "--spacing", "2000", "--year", "2021", "--out", str(chosen)]) == 0
    assert len(gpd.read_file(chosen)) == 2
    assert "optimal" in capsys.readouterr().out
    assert main(["optimize", str(ROOT), "--model", "pmedian", "--minutes", "15"]) == 2
