"""Benchmark the routing engine against its peers, measured in the same run.

* nearest-facility time for every node (``routing.nearest_facility``, one
  multi-source pass with access legs and the nearest facility's index) against a bare
  ``scipy.sparse.csgraph.dijkstra(min_only=True)`` call on the same arrays, against
  networkx ``multi_source_dijkstra_path_length`` and against pandana's
  contraction-hierarchy ``nearest_pois`` (set-up and query timed apart);
* catchments of 1,000 facilities at 15 minutes on the largest grid: time, and peak
  RSS of a separate process that builds the grid and runs them, next to the peak RSS
  of one that only builds the grid (absolute figures, not deltas; tracemalloc cannot
  see scipy's allocations).

Every side runs ``--repeat`` times (fastest printed), graphs built outside the timing
for all. Threads: ours, scipy and networkx run on one thread; pandana on OpenMP's
(printed). Networks: the Helsinki extract, the synthetic Chongqing network
(``network/roads.osm``) when present, and generated grids of 100k and 1M nodes
(``benchmarks/networks.py``). Mode: car.

    python benchmarks/bench_routing.py [--max-nodes 1000000] [--repeat 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from networks import grid_network  # noqa: E402

from coverage import routing  # noqa: E402
from coverage.network import read_network  # noqa: E402

N_FACILITIES = 100
CATCHMENT_SOURCES = 1000
CATCHMENT_LIMIT_S = 15 * 60.0
REPEAT = 2


def best_of(func) -> tuple[float, object]:
    """Fastest wall time of ``REPEAT`` runs (the machine is shared) and the last result."""
    best, result = np.inf, None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def pandana_nearest(graph: routing.Graph, sources: np.ndarray, horizon: float):
    """pandana: contraction-hierarchy set-up time, query time, seconds per node."""
    import pandana

    coo = graph.csr.tocoo()
    start = time.perf_counter()
    net = pandana.Network(pd.Series(graph.x), pd.Series(graph.y), pd.Series(coo.row),
                          pd.Series(coo.col), pd.DataFrame({"seconds": coo.data}), twoway=False)
    net.set_pois("facility", horizon, 1, pd.Series(graph.x[sources]), pd.Series(graph.y[sources]))
    setup = time.perf_counter() - start
    query, result = best_of(lambda: net.nearest_pois(horizon, "facility", num_pois=1))
    # pandana reports "horizon" itself for nodes with nothing within it.
    return setup, query, result[1].to_numpy()


def bench_nearest(name: str, graph: routing.Graph, *, with_networkx: bool, with_pandana: bool):
    rng = np.random.default_rng(0)
    sources = rng.choice(np.flatnonzero(graph.snappable()), N_FACILITIES, replace=False)
    offsets = rng.uniform(0, 300, N_FACILITIES)
    ours, (seconds, nearest) = best_of(lambda: routing.nearest_facility(graph, sources, offsets))
    ours_zero, (zero_seconds, _) = best_of(lambda: routing.nearest_facility(graph, sources))
    bare, bare_seconds = best_of(lambda: dijkstra(graph.csr, indices=sources, min_only=True))
    agree = np.array_equal(np.isinf(zero_seconds), np.isinf(bare_seconds)) and np.allclose(
        zero_seconds[np.isfinite(bare_seconds)], bare_seconds[np.isfinite(bare_seconds)], atol=1e-6)
    row = {"network": name, "nodes": graph.n_nodes, "edges": graph.csr.nnz,
           "ours_s": ours, "ours_no_offsets_s": ours_zero, "scipy_s": bare,
           "vs_scipy": ours / bare, "agree": agree, "networkx_s": None, "pandana_setup_s": None,
           "pandana_query_s": None}
    if with_networkx:
        coo = graph.csr.tocoo()
        digraph = nx.DiGraph()
        digraph.add_nodes_from(range(graph.n_nodes))
        digraph.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
        row["networkx_s"], _ = best_of(
            lambda: nx.multi_source_dijkstra_path_length(digraph, set(sources.tolist())))
    if with_pandana:
        horizon = 3600.0
        setup, query, pd_seconds = pandana_nearest(graph, sources, horizon)
        # pandana measures from each node to the POIs: compare with to_sources.
        towards, (to_seconds, _) = best_of(
            lambda: routing.nearest_facility(graph, sources, limit=horizon, to_sources=True))
        row["pandana_setup_s"], row["pandana_query_s"] = setup, query
        row["pandana_vs_ours"] = query / towards
        inside = to_seconds < horizon - 1
        # pandana stores weights as float32: differences of a few hundredths of a second.
        row["pandana_max_diff_s"] = float(np.max(np.abs(pd_seconds[inside] - to_seconds[inside])))
    return row


def catchments_child(n_nodes: int, run: bool) -> None:
    """In its own process: build the grid graph, run the catchments if ``run``; print JSON."""
    graph = routing.build_graph(grid_network(n_nodes), "car")
    out = {}
    if run:
        rng = np.random.default_rng(1)
        sources = rng.choice(np.flatnonzero(graph.snappable()), CATCHMENT_SOURCES, replace=False)
        offsets = rng.uniform(0, 120, CATCHMENT_SOURCES)
        start = time.perf_counter()
        result = routing.catchments(graph, sources, CATCHMENT_LIMIT_S, offsets)
        out = {"seconds": time.perf_counter() - start, "pairs": int(result.node.size),
               "result_mb": (result.source.nbytes + result.node.nbytes + result.seconds.nbytes) / 2**20}
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def bench_catchments(n_nodes: int) -> dict:
    def child(run: bool) -> dict:
        out = subprocess.run([sys.executable, __file__, "--catchments", str(n_nodes), str(int(run))],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    result = child(True)
    result["build_only_rss_mb"] = child(False)["rss_mb"]
    return result


def main() -> None:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-nodes", type=int, default=1_000_000,
                        help="nodes of the largest grid (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=REPEAT, help=f"runs per side (default {REPEAT})")
    parser.add_argument("--quick", action="store_true", help="largest grid 100k nodes, one run")
    args = parser.parse_args()
    REPEAT = 1 if args.quick else args.repeat
    max_nodes = 100_000 if args.quick else args.max_nodes
    graphs = []
    start = time.perf_counter()
    graphs.append(("Helsinki", routing.build_graph(read_network(ROOT / "tests/data/Helsinki.osm.pbf"), "car"),
                   True, True))
    chongqing = ROOT / "network" / "roads.osm"
    if chongqing.exists():
        graphs.append(("Chongqing (synthetic)", routing.build_graph(read_network(chongqing), "car"),
                       True, True))
    else:
        print(f"{chongqing.relative_to(ROOT)} absent: Chongqing network skipped")
    if max_nodes > 100_000:
        graphs.append(("grid 100k", routing.build_graph(grid_network(100_000), "car"), True, True))
    print(f"networks read and graphs built in {time.perf_counter() - start:.1f} s")
    network = grid_network(max_nodes)
    start = time.perf_counter()
    big = routing.build_graph(network, "car")
    print(f"grid {max_nodes:,}: build_graph {time.perf_counter() - start:.1f} s")
    del network
    # networkx on a million nodes needs several GB and minutes: skipped there.
    small = max_nodes <= 100_000
    graphs.append((f"grid {max_nodes:,}", big, small, small))

    # pandana prints progress from C++: measure everything before printing the table.
    rows = [bench_nearest(name, graph, with_networkx=with_nx, with_pandana=with_pd)
            for name, graph, with_nx, with_pd in graphs]
    print(f"\n\nNearest facility ({N_FACILITIES} facilities with access legs, car), wall seconds")
    header = (f"{'network':<22}{'nodes':>9}{'edges':>10}{'ours':>8}{'ours0':>8}{'scipy':>8}"
              f"{'x scipy':>9}{'networkx':>10}{'x nx':>8}{'pandana':>16}{'x pd':>7}  agree")
    print(header)
    for r in rows:
        nx_s = f"{r['networkx_s']:.4f}" if r["networkx_s"] is not None else "skipped"
        nx_x = f"{r['networkx_s'] / r['ours_s']:.0f}x" if r["networkx_s"] is not None else ""
        if r["pandana_setup_s"] is not None:
            pd_s = f"{r['pandana_setup_s']:.2f}+{r['pandana_query_s']:.3f}"
            pd_x = f"{r['pandana_vs_ours']:.1f}x"
        else:
            pd_s, pd_x = "skipped", ""
        print(f"{r['network']:<22}{r['nodes']:>9}{r['edges']:>10}{r['ours_s']:>8.4f}"
              f"{r['ours_no_offsets_s']:>8.4f}{r['scipy_s']:>8.4f}{r['vs_scipy']:>8.2f}x"
              f"{nx_s:>10}{nx_x:>8}{pd_s:>16}{pd_x:>7}  {r['agree']}"
              + (f" (pandana max diff {r['pandana_max_diff_s']:.2f} s)" if "pandana_max_diff_s" in r else ""))
    print("ours0 = without access legs; x scipy = ours / bare scipy dijkstra(min_only);"
          " x nx = networkx / ours; pandana = CH set-up + query, x pd = pandana query / ours (to_sources, 1 h horizon)")
    print(f"fastest of {REPEAT} runs each; threads: ours, scipy, networkx 1; pandana "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', f'unset (all {os.cpu_count()} cores)')}")

    del big, graphs, rows
    c = bench_catchments(max_nodes)
    print(f"\nCatchments on grid {max_nodes:,} (car): {CATCHMENT_SOURCES} facilities at "
          f"{CATCHMENT_LIMIT_S / 60:.0f} min: {c['seconds']:.1f} s, {c['pairs']:,} pairs "
          f"({c['result_mb']:.0f} MB); peak RSS of the process {c['rss_mb']:.0f} MB against "
          f"{c['build_only_rss_mb']:.0f} MB for one that only builds the graph")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--catchments":
        catchments_child(int(sys.argv[2]), sys.argv[3] == "1")
    else:
        main()
