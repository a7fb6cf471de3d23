"""Benchmark per-facility isochrones against the networkx/osmnx recipe, in the same run.

Workload: 1,000 facilities at 15 minutes on foot on generated grids of 100k and 1M
nodes (``benchmarks/networks.py``). Ours is :func:`coverage.isochrones.facility_isochrones`
(bounded catchments, then every reached edge cut at its reachable fraction, buffered
and dissolved per facility), timed end to end, with its peak resident memory above
the baseline (sampled every 5 ms from ``/proc/self/status``: GEOS allocations are
invisible to tracemalloc).

The peer is the osmnx isochrone example: ``nx.ego_graph(G, node, radius=900,
distance='time')`` per facility, then the reached nodes and edges buffered and
unioned with geopandas (no partial edges). It is timed on a subsample of facilities
and extrapolated to all of them; the script says so when it prints the figure.
The merged bands (5, 10, 15, 30 min from the nearest facility) are timed too.

Run ``python benchmarks/bench_isochrones.py [n_nodes ...]``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from networks import grid_network  # noqa: E402

from coverage import routing  # noqa: E402
from coverage.isochrones import facility_isochrones, isochrone_polygons  # noqa: E402

N_FACILITIES = 1000
MINUTES = 15
BUFFER_M = 75.0
NX_SAMPLE = 20
SIZES = (100_000, 1_000_000)


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def timed_peak(func):
    """Run ``func``; return (seconds, peak RSS above the baseline in bytes, result)."""
    baseline = rss_bytes()
    peak = baseline
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    try:
        result = func()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return elapsed, max(peak, rss_bytes()) - baseline, result


def networkx_recipe(G: nx.DiGraph, node: int, radius: float, buffer_m: float):
    """The osmnx isochrone example for one facility: ego graph, buffered, unioned."""
    sub = nx.ego_graph(G, node, radius=radius, distance="time")
    xy = {n: (d["x"], d["y"]) for n, d in sub.nodes(data=True)}
    points = gpd.GeoSeries([shapely.Point(p) for p in xy.values()])
    lines = gpd.GeoSeries([shapely.LineString([xy[a], xy[b]]) for a, b in sub.edges()])
    return gpd.GeoSeries(list(points.buffer(buffer_m)) + list(lines.buffer(buffer_m))).union_all()


def to_networkx(graph: routing.Graph) -> nx.DiGraph:
    """The routing graph as a networkx DiGraph with ``time`` on edges, ``x``/``y`` on nodes."""
    G = nx.DiGraph()
    G.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(zip(graph.x, graph.y)))
    coo = graph.csr.tocoo()
    G.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()),
                              weight="time")
    return G


def run(n_nodes: int) -> None:
    print(f"\n== grid network, {n_nodes:,} nodes, walk, {N_FACILITIES} facilities, "
          f"{MINUTES} min, buffer {BUFFER_M:.0f} m ==")
    start = time.perf_counter()
    graph = routing.build_graph(grid_network(n_nodes, seed=0), "walk")
    print(f"network + graph build: {time.perf_counter() - start:.1f} s "
          f"({graph.n_nodes:,} nodes, {graph.edge_u.size:,} directed edges)")
    rng = np.random.default_rng(42)
    sources = np.sort(rng.choice(np.flatnonzero(graph.snappable()), N_FACILITIES, replace=False))

    t_ours, mem_ours, polys = timed_peak(
        lambda: facility_isochrones(graph, sources, [MINUTES], buffer_m=BUFFER_M))
    assert polys.geometry.is_valid.all()
    print(f"ours, facility_isochrones (with catchments): {t_ours:.2f} s total, "
          f"{t_ours / N_FACILITIES * 1e3:.1f} ms per facility, "
          f"peak memory +{mem_ours / 2**20:.0f} MiB")
    t_catch, _, found = timed_peak(lambda: routing.catchments(graph, sources, MINUTES * 60.0))
    print(f"  of which catchments: {t_catch:.2f} s "
          f"({found.node.size / N_FACILITIES:.0f} nodes per facility)")

    seconds, _ = routing.nearest_facility(graph, sources)
    t_merged, mem_merged, _ = timed_peak(
        lambda: isochrone_polygons(graph, seconds, [5, 10, 15, 30], buffer_m=BUFFER_M))
    print(f"ours, merged bands 5/10/15/30 min (isochrone_polygons): {t_merged:.2f} s, "
          f"peak memory +{mem_merged / 2**20:.0f} MiB")

    start = time.perf_counter()
    G = to_networkx(graph)
    print(f"networkx graph build (not counted): {time.perf_counter() - start:.1f} s")
    sample = sources[np.linspace(0, N_FACILITIES - 1, NX_SAMPLE).astype(int)]
    start = time.perf_counter()
    for node in sample:
        networkx_recipe(G, int(node), MINUTES * 60.0, BUFFER_M)
    per = (time.perf_counter() - start) / NX_SAMPLE
    t_nx = per * N_FACILITIES
    del G
    print(f"networkx/osmnx recipe: {per * 1e3:.1f} ms per facility, timed on {NX_SAMPLE} "
          f"facilities and EXTRAPOLATED to {N_FACILITIES}: {t_nx:.1f} s")
    print(f"ratio (networkx / ours): {t_nx / t_ours:.1f}x faster")


def main(argv: list[str]) -> None:
    for n in [int(a) for a in argv] or SIZES:
        run(n)


if __name__ == "__main__":
    main(sys.argv[1:])
