"""Coverage computation time per pack and mode, against a networkx peer.

For each shipped pack (default at the repository root, then Beibei) and each mode:
the time of :func:`coverage.access.coverage_table` (15/30 min, basic-care facilities,
graph already built; snapping, one multi-source scipy search and the aggregation),
and of the same travel times from networkx's ``single_source_dijkstra_path_length``
from a super-source on the same graph (the peer it replaces), measured in the same run.

Build steps are outside the timing on both sides: ours gets its routing graph
prebuilt, networkx its ``DiGraph`` (built once per mode, as its users would keep
it); the timed part is snapping, the search and the aggregation for both. Both run
``--repeat`` times (median printed); both are single-threaded.

    python benchmarks/bench_access.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import networkx as nx
import numpy as np

from coverage.access import AccessContext, coverage_table, population_within
from coverage.facilities import BASIC_CARE_TYPES
from coverage.modes import MODES
from coverage.region import load_region
from coverage.routing import snap_points

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 3


def median_of(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def networkx_graph(context: AccessContext, mode: str) -> nx.DiGraph:
    """The mode's edges reversed (times from each node towards a facility) and a
    super-source joined to each facility by its access leg: built once, untimed."""
    graph = context.graph(mode)
    facilities = context.facilities(BASIC_CARE_TYPES)
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(graph.edge_v.tolist(), graph.edge_u.tolist(),
                                  graph.edge_seconds.tolist()))
    sites = snap_points(graph, facilities.geometry.x, facilities.geometry.y)
    for i, (node, access) in enumerate(zip(sites.node, sites.access_seconds)):
        if node >= 0:
            g.add_edge(("site", i), int(node), weight=float(access))
            g.add_edge("source", ("site", i), weight=0.0)
    return g


def networkx_coverage(context: AccessContext, mode: str, g: nx.DiGraph) -> None:
    dist = nx.single_source_dijkstra_path_length(g, "source")
    points = context.population
    snap = snap_points(context.graph(mode), points.geometry.x, points.geometry.y)
    seconds = np.array([snap.access_seconds[k] + dist.get(int(n), np.inf) if n >= 0 else np.inf
                        for k, n in enumerate(snap.node)])
    population_within(points, seconds, (15, 30), context.region.townships)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help=f"runs per side (default {REPEAT})")
    parser.add_argument("--quick", action="store_true", help="the default pack only, one run")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    packs = (ROOT,) if args.quick else (ROOT, ROOT / "regions" / "beibei")
    print(f"{'pack':10} {'mode':6} {'points':>7} {'nodes':>7} {'coverage s':>11} "
          f"{'networkx s':>11} {'speed-up':>9}")
    for pack in packs:
        region = load_region(pack)
        context = AccessContext(region, year=2025)
        for mode in MODES:
            graph = context.graph(mode)  # built (or read from the cache) outside the timing

            def ours():
                fresh = AccessContext(region, year=2025, population=context.population)
                fresh._graphs[mode] = graph
                coverage_table(fresh, minutes=(15, 30), mode=mode)

            base = networkx_graph(context, mode)  # built outside the timing, as ours is
            ours_s = median_of(ours, repeat)
            peer_s = median_of(lambda: networkx_coverage(context, mode, base), repeat)
            print(f"{region.slug:10} {mode:6} {len(context.population):7d} {graph.n_nodes:7d} "
                  f"{ours_s:11.4f} {peer_s:11.4f} {peer_s / ours_s:8.1f}x")


if __name__ == "__main__":
    main()
