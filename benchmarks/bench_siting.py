"""Benchmark candidate ranking and the siting models, against PySAL spopt in the same run.

1. Ranking on the default region (the repository's pack): the baseline once, then
   one candidate and 1,000 candidates (targets: < 0.3 s and < 30 s).
2. MCLP, LSCP and p-median on a generated grid (``benchmarks/networks.py``, 40,000
   nodes, walking): 2,000 candidates and 100,000 demand points, coverage within 10
   minutes, k = 20. Ours (``coverage.siting``, highspy) against spopt's
   ``from_cost_matrix`` models solved by HiGHS through pulp (CBC when pulp has no
   HiGHS) on the same instance (covering models get a 0/1 cost matrix and radius
   0.5; LSCP both get only the coverable rows, as spopt has no uncoverable demand):

   * the full instance, spopt in a subprocess capped at ``SPOPT_CAP_S`` (its dense
     100,000 x 2,000 matrix and per-pair Python model building are what it costs);
   * a sub-instance (first rows and columns) where spopt finishes, for a measured
     ratio: 10,000 x 300 for the covering models, 2,000 x 100 for the dense p-median.

   p-median on the full instance keeps 50 existing facilities open, each resident
   falling back to the nearest, with a 15-minute cap on new sites; spopt is not run
   there (it has no such fallback and would need the dense matrix).

   Where spopt cannot finish (capped), the covering models are also solved by plain
   HiGHS (scipy's ``milp``) on the same sparse model without our reductions or start,
   so the objective is still checked on the full instance and the ratio is given
   against the solver alone (spopt's time is mostly PuLP building a dense model).
3. Early answers: p-median on 2,000 demand points x 200 candidates (dense, as
   spopt's), k = 20, with the solver limited to 10 s: the answer (greedy + Teitz-Bart
   swaps, then HiGHS from it) and its gap to a proven lower bound, the better of
   HiGHS' dual bound and a Lagrangian relaxation of the assignment rows. A gap of
   at most 1% proves the answer within 1% of the optimum.

Each side runs once per instance (the same repetitions for both); spopt on the
full instance runs in its own process.

    python benchmarks/bench_siting.py [--quick] [--demand 100000] [--sites 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from networks import grid_network  # noqa: E402

from coverage import routing  # noqa: E402

N_DEMAND, N_SITES, N_EXISTING = 100_000, 2_000, 50
#: Sub-instances where spopt finishes: covering models, and the (dense) p-median.
SMALL = {"mclp": (10_000, 300), "lscp": (10_000, 300), "pmedian": (2_000, 100)}
MINUTES, K, CAP_MINUTES = 10.0, 20, 15.0
#: Cost of a pair beyond the cap in the dense p-median matrices (spopt needs finite costs).
FAR_S = 1e5
SPOPT_CAP_S = 300


def ranking_on_region() -> None:
    from coverage.access import AccessContext
    from coverage.region import load_region
    from coverage.siting import CandidateRanking, candidates_on_network

    context = AccessContext(load_region(ROOT))
    context.population, context.graph("walk"), context.graph("ebike")  # load before timing
    sites = candidates_on_network(context.graph("walk"), context.region.boundary, spacing_m=300)
    sites = sites.iloc[:1000]
    t0 = time.perf_counter()
    ranking = CandidateRanking(context, minutes=15)
    baseline = time.perf_counter() - t0
    one = []
    for i in range(10):
        t0 = time.perf_counter()
        ranking.evaluate(sites.iloc[[i * 97]])
        one.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    table = ranking.evaluate(sites)
    many = time.perf_counter() - t0
    print(f"ranking, default region ({len(context.population):,} population points):")
    print(f"  baseline (once): {baseline:.2f} s")
    print(f"  one candidate:   {np.median(one):.3f} s median of 10 (target < 0.3 s)")
    print(f"  {len(sites):,} candidates: {many:.2f} s (target < 30 s); best newly covers "
          f"{table['newly_covered'].iloc[0]:,.0f} residents")


def instance(n_demand: int | None = None, n_sites: int | None = None):
    """Walking seconds demand -> site (sparse, up to the cap), weights, fallback to existing."""
    from coverage.siting import reach_triples

    n_demand, n_sites = n_demand or N_DEMAND, n_sites or N_SITES
    graph = routing.build_graph(grid_network(40_000, seed=1), "walk")
    rng = np.random.default_rng(7)
    lon = rng.uniform(graph.lon.min(), graph.lon.max(), n_demand)
    lat = rng.uniform(graph.lat.min(), graph.lat.max(), n_demand)
    weights = rng.integers(1, 60, n_demand).astype(float)
    nodes = rng.permutation(np.flatnonzero(graph.snappable()))
    points = routing.snap_points(graph, lon, lat)

    def seconds(node_index, limit):
        snap = routing.snap_points(graph, graph.lon[node_index], graph.lat[node_index])
        site, point, secs = reach_triples(graph, snap, points, limit)
        return scipy.sparse.csr_array((secs, (point, site)), shape=(n_demand, node_index.size))

    cost = seconds(nodes[:n_sites], CAP_MINUTES * 60.0)
    existing = seconds(nodes[n_sites:n_sites + N_EXISTING], 3 * 3600.0)
    fallback = np.full(n_demand, np.inf)
    np.minimum.at(fallback, np.repeat(np.arange(n_demand), np.diff(existing.indptr)), existing.data)
    return cost, weights, fallback


def cover(cost: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """0/1 coverage within T, only the coverable rows (spopt has no uncoverable demand)."""
    from coverage.access import within

    matrix = scipy.sparse.csr_array((within(cost.data, MINUTES), cost.indices, cost.indptr),
                                    shape=cost.shape)
    matrix.eliminate_zeros()
    return matrix


def dense(matrix: scipy.sparse.csr_array, missing: float) -> np.ndarray:
    out = np.full(matrix.shape, missing)
    coo = matrix.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def sub_instance(model: str, n_demand: int, n_sites: int, cost, weights, fallback):
    """The model's inputs, ours (sparse) and spopt's (dense), for the first rows and columns."""
    cost, weights, fallback = cost[:n_demand][:, :n_sites], weights[:n_demand], fallback[:n_demand]
    if model == "pmedian":
        matrix = dense(cost, FAR_S)
        return (matrix, weights), (matrix, weights)
    matrix = cover(cost)
    keep = np.diff(matrix.indptr) > 0 if model == "lscp" else np.ones(n_demand, bool)
    matrix, weights = matrix[keep], weights[keep]
    # spopt's cost matrix: 0 where covered, 1 beyond (radius 0.5).
    return (matrix, weights), (1.0 - dense(matrix, 0.0), weights)


def ours(model: str, matrix, weights, fallback=None):
    from coverage.siting import MaximalCovering, PMedian, SetCovering

    t0 = time.perf_counter()
    if model == "mclp":
        result = MaximalCovering(matrix, weights, K).solve()
    elif model == "lscp":
        result = SetCovering(matrix, weights).solve()
    else:
        result = PMedian(matrix, weights, K, fallback=fallback).solve()
    return result, time.perf_counter() - t0


def spopt_solve(model: str, matrix: np.ndarray, weights: np.ndarray) -> tuple[float, float, str]:
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    solver = (pulp.HiGHS(msg=False) if "HiGHS" in pulp.listSolvers(onlyAvailable=True)
              else pulp.PULP_CBC_CMD(msg=False))
    t0 = time.perf_counter()
    if model == "mclp":
        peer = MCLP.from_cost_matrix(matrix, weights, 0.5, K).solve(solver)
    elif model == "lscp":
        peer = LSCP.from_cost_matrix(matrix, 0.5).solve(solver)
    else:
        peer = PMedian.from_cost_matrix(matrix, weights, K).solve(solver)
    return peer.problem.objective.value(), time.perf_counter() - t0, type(solver).__name__


def spopt_child(model: str) -> None:
    """Entry point of the capped subprocess: spopt on the full instance."""
    _, (matrix, weights) = sub_instance(model, N_DEMAND, N_SITES, *instance())
    print(*spopt_solve(model, matrix, weights))


def plain_highs(model: str, matrix: scipy.sparse.csr_array, weights: np.ndarray,
                time_limit: float) -> tuple[float, float, str]:
    """The covering model on the same sparse matrix by HiGHS alone (scipy's milp): no
    row merging, no dropped rows, no start. Returns objective, seconds, status."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    m, n = matrix.shape
    matrix = scipy.sparse.csr_array(matrix, dtype=float)
    t0 = time.perf_counter()
    if model == "mclp":  # max w.y: y_i <= sum_j a_ij x_j, sum x = K
        a = scipy.sparse.hstack([-matrix, scipy.sparse.eye_array(m)]).tocsr()
        count = scipy.sparse.hstack([np.ones((1, n)), scipy.sparse.csr_array((1, m))]).tocsr()
        constraints = [LinearConstraint(a, -np.inf, 0), LinearConstraint(count, K, K)]
        cost = -np.concatenate([np.zeros(n), weights])
        integrality = np.concatenate([np.ones(n), np.zeros(m)])
        bounds = Bounds(0, 1)
    else:  # min sum x: A x >= 1
        constraints = [LinearConstraint(matrix, 1, np.inf)]
        cost, integrality, bounds = np.ones(n), np.ones(n), Bounds(0, 1)
    res = milp(cost, constraints=constraints, integrality=integrality, bounds=bounds,
               options={"time_limit": time_limit})
    value = -res.fun if model == "mclp" and res.fun is not None else res.fun
    return (float("nan") if value is None else float(value)), time.perf_counter() - t0, res.message


def early_answer(limit: float = 10.0, n_demand: int = 2_000, n_sites: int = 200) -> None:
    """p-median on a dense 2,000 x 200 instance with the solver limited to ``limit`` s."""
    from coverage.siting import PMedian

    cost, weights, _ = instance(n_demand, n_sites)
    dense_cost = dense(cost, FAR_S)
    model = PMedian(dense_cost, weights, K, time_limit=limit)
    t0 = time.perf_counter()
    heuristic = model._value(model._improve(model._greedy(), np.inf))
    heuristic_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = model.solve()
    total = time.perf_counter() - t0
    print(f"\np-median early answer, {n_demand:,} x {n_sites:,} dense (as spopt's), k = {K}, "
          f"solver limit {limit:g} s:")
    print(f"  greedy + swaps: objective {heuristic:,.0f} in {heuristic_s:.2f} s")
    print(f"  answer: {result.status}, objective {result.objective:,.0f}, lower bound "
          f"{result.bound:,.0f} (HiGHS dual bound or Lagrangian, the better), gap "
          f"{result.gap:.2%} ({'within' if result.gap <= 0.01 else 'NOT within'} 1% of the "
          f"optimum), {total:.1f} s in all")


def report(model: str, label: str, result, ours_s: float) -> None:
    print(f"  {model:8s} {label:>16s}: ours {ours_s:7.2f} s, {result.status}, gap "
          f"{result.gap:.2%}, objective {result.objective:,.1f}, {result.n_rows:,} rows after "
          f"reduction, {len(result.excluded):,} excluded")


def peer(label: str, value: float, seconds: float, solver: str, result, ours_s: float) -> None:
    print(f"  {'':8s} {label:>16s}: spopt ({solver}) {seconds:7.2f} s, objective {value:,.1f} "
          f"(same: {bool(np.isclose(value, result.objective, rtol=1e-6))}); ratio spopt/ours "
          f"{seconds / ours_s:.1f}x")


def main() -> None:
    global N_DEMAND, N_SITES, SPOPT_CAP_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 x 500 full instance, spopt capped at 60 s")
    parser.add_argument("--demand", type=int, default=N_DEMAND, help=f"default {N_DEMAND:,}")
    parser.add_argument("--sites", type=int, default=N_SITES, help=f"default {N_SITES:,}")
    parser.add_argument("--spopt-cap", type=float, default=SPOPT_CAP_S,
                        help=f"seconds spopt (and plain HiGHS) may take on the full instance "
                        f"(default {SPOPT_CAP_S})")
    parser.add_argument("--skip", default="", help="comma-separated: ranking, models, early")
    args = parser.parse_args()
    N_DEMAND, N_SITES, SPOPT_CAP_S = ((20_000, 500, 60) if args.quick
                                      else (args.demand, args.sites, args.spopt_cap))
    skip = set(args.skip.split(","))
    if "ranking" not in skip:
        ranking_on_region()
    if "early" not in skip:
        early_answer()
    if "models" in skip:
        return
    t0 = time.perf_counter()
    full = instance()
    print(f"\nsiting, grid of 40,000 nodes, walking, T = {MINUTES:g} min, k = {K} (instance "
          f"built in {time.perf_counter() - t0:.1f} s: {full[0].nnz:,} pairs within "
          f"{CAP_MINUTES:g} min)")
    for model in ("mclp", "lscp", "pmedian"):
        n_demand, n_sites = SMALL[model]
        label = f"{n_demand:,} x {n_sites:,}"
        (matrix, weights), spopt_args = sub_instance(model, n_demand, n_sites, *full)
        result, ours_s = ours(model, matrix, weights)
        report(model, label, result, ours_s)
        peer(label, *spopt_solve(model, *spopt_args), result, ours_s)

        label = f"{N_DEMAND:,} x {N_SITES:,}"
        if model == "pmedian":
            result, ours_s = ours(model, full[0], full[1], full[2])
            report(model, label + "+50", result, ours_s)
            print(f"  {'':8s} {'':>16s}  spopt: not run (no fallback to existing sites; a dense "
                  f"{N_DEMAND:,} x {N_SITES:,} p-median)")
            continue
        (matrix, weights), _ = sub_instance(model, N_DEMAND, N_SITES, *full)
        result, ours_s = ours(model, matrix, weights)
        report(model, label, result, ours_s)
        try:
            out = subprocess.run([sys.executable, __file__, "--spopt", model, str(N_DEMAND),
                                  str(N_SITES)], check=True, capture_output=True, text=True,
                                 timeout=SPOPT_CAP_S).stdout.split()
            peer(label, float(out[0]), float(out[1]), out[2], result, ours_s)
        except subprocess.TimeoutExpired:
            print(f"  {'':8s} {label:>16s}: spopt capped at {SPOPT_CAP_S} s without an answer "
                  f"(ratio > {SPOPT_CAP_S / ours_s:.0f}x)")
        value, seconds, status = plain_highs(model, matrix, weights, SPOPT_CAP_S)
        print(f"  {'':8s} {label:>16s}: plain HiGHS (same sparse model, no reductions) "
              f"{seconds:7.2f} s, {status.split('.')[0]}, objective {value:,.1f} (same: "
              f"{bool(np.isclose(value, result.objective, rtol=1e-6))}); ratio {seconds / ours_s:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--spopt":
        N_DEMAND, N_SITES = int(sys.argv[3]), int(sys.argv[4])
        spopt_child(sys.argv[2])
    else:
        main()
