"""Benchmark isochrones by walk, e-bike and car against the networkx/osmnx recipe.

Workload: ``--facilities`` facilities (default 1,000) at ``--minutes`` (15) on generated
grids (``benchmarks/networks.py``) of ``--sizes`` nodes. Each measurement runs in its
own process, so its peak resident memory (``ru_maxrss``) is its own, not a delta.

Ours
    :func:`coverage.isochrones.facility_isochrones`: bounded searches *towards* each
    facility, then the cells snapped to each reached node evaluated by the coverage
    rule and traced (cost grows with the cells drawn). Reported apart: snapping the
    grid's cells to the graph (once per graph and mode, shared by every isochrone
    and band). Also the merged bands (5, 10, 15, 30 min from the nearest facility,
    :func:`coverage.isochrones.isochrone_polygons`).
Peer
    The osmnx isochrone example, configured as fairly as we can: ``nx.ego_graph`` on
    the reversed graph (the same trip towards the facility), reached nodes and edges
    buffered by ``--peer-buffer`` m with the same coarse round caps as a
    ``--cell``-sized raster implies (``quad_segs=4``), unioned with shapely. Its graph
    is built outside the timing, as ours is. It is timed on ``--peer-sample``
    facilities and extrapolated to all of them (said when printed).

Ours traces a chunk's facilities on ``--threads`` threads (default: every core) and
spreads large KD-tree queries over every core; its searches (scipy's Dijkstra) stay
on one. The peer is single-threaded. So ours prints its CPU seconds beside its wall
seconds, and the ratio is given on both. Both sides run ``--repeat`` times; the best is
shown. The graph is built once, outside every measurement, and each child reads it
from the graph cache as commands do, so its peak RSS is the graph plus the work.
Timings vary with the machine's load: the script prints its load average.

Run ``python benchmarks/bench_isochrones.py --help``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODES = ("walk", "ebike", "car")
print = functools.partial(print, flush=True)  # noqa: A001 (progress shows through pipes)


def prepare(n_nodes: int, mode: str, folder: Path) -> Path:
    """Build the graph of a generated ``n_nodes`` network once and keep it in ``folder``
    (the graph cache commands use); returns the file."""
    from networks import grid_network

    from coverage import routing

    routing.build_graph(grid_network(n_nodes, seed=0), mode, cache_dir=folder)
    return next(folder.glob(f"graph-{mode}-*.npz"))


def _setup(graph_path: str, n_facilities: int):
    """The graph read from its cache, as commands read it, and the facilities' nodes."""
    import numpy as np

    from coverage import routing

    graph = routing.read_graph(graph_path)
    rng = np.random.default_rng(42)
    usable = np.flatnonzero(graph.snappable())
    sources = np.sort(rng.choice(usable, min(n_facilities, usable.size), replace=False))
    return graph, sources


def child(task: str, graph_path: str, n_facilities: int, minutes: float,
          cell_m: float, sample: int, buffer_m: float, repeat: int, threads: int | None) -> dict:
    """One measurement in this process; returns seconds (best of ``repeat``) and facts."""
    import numpy as np

    from coverage import routing
    from coverage.isochrones import facility_isochrones, graph_cells, isochrone_polygons

    graph, sources = _setup(graph_path, n_facilities)
    out: dict = {"nodes": int(graph.n_nodes)}
    best = np.inf
    if task == "ours":
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            cells = graph_cells(graph, minutes * 60.0, cell_m)
            cells.snap(graph)
            snapped = time.perf_counter()
            polys = facility_isochrones(graph, sources, [minutes], cells=cells, workers=threads)
            end = time.perf_counter()
            if end - start < best:
                best = end - start
                out.update(cells_s=snapped - start, isochrones_s=end - snapped,
                           cpu_s=time.process_time() - cpu, cells=int(cells.index.size))
        # Peak memory of the work timed, taken before the checks below: the count used to
        # hold every facility's catchment at once (25M reached nodes by car on 1M nodes).
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["valid"] = bool(polys.geometry.is_valid.all())
        del polys
        reached = sum(routing.catchments(graph, sources[k:k + 64], minutes * 60.0,
                                         to_sources=True).node.size
                      for k in range(0, len(sources), 64))
        out["nodes_per_facility"] = reached / len(sources)
    elif task == "merged":
        seconds, _ = routing.nearest_facility(graph, sources, to_sources=True)
        for _ in range(repeat):
            start = time.perf_counter()
            bands = isochrone_polygons(graph, seconds, [5, 10, 15, 30], cell_m=cell_m)
            best = min(best, time.perf_counter() - start)
        out["valid"] = bool(bands.geometry.is_valid.all())
    elif task == "peer":
        G = to_networkx(graph).reverse(copy=True)
        chosen = sources[np.linspace(0, len(sources) - 1, min(sample, len(sources))).astype(int)]
        for _ in range(repeat):
            start = time.perf_counter()
            for node in chosen:
                networkx_recipe(G, int(node), minutes * 60.0, buffer_m)
            best = min(best, (time.perf_counter() - start) / len(chosen) * len(sources))
        out["sample"] = int(len(chosen))
    out["seconds"] = best
    out.setdefault("peak_rss_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def networkx_recipe(G, node: int, radius: float, buffer_m: float):
    """The osmnx isochrone example for one facility: ego graph, buffered, unioned."""
    import shapely

    import networkx as nx

    sub = nx.ego_graph(G, node, radius=radius, distance="time")
    xy = {n: (d["x"], d["y"]) for n, d in sub.nodes(data=True)}
    points = shapely.points(list(xy.values()))
    lines = shapely.linestrings([[xy[a], xy[b]] for a, b in sub.edges()] or [[(0, 0), (0, 0)]])
    parts = shapely.buffer(list(points) + list(lines[:len(sub.edges())]), buffer_m, quad_segs=4)
    return shapely.union_all(parts)


def to_networkx(graph):
    """The routing graph as a networkx DiGraph with ``time`` on edges, ``x``/``y`` on nodes."""
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(zip(graph.x, graph.y)))
    coo = graph.csr.tocoo()
    G.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()),
                              weight="time")
    return G


def measure(task: str, args, graph_path: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", task, "--graph", str(graph_path),
           "--facilities", str(args.facilities), "--minutes", str(args.minutes),
           "--cell", str(args.cell), "--peer-sample", str(args.peer_sample),
           "--peer-buffer", str(args.peer_buffer), "--repeat", str(args.repeat)]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                   help="network sizes in nodes (default: 10000 100000; the issue's is 1000000)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--facilities", type=int, default=1000, help="isochrones drawn (default 1000)")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--cell", type=float, default=40.0, help="cell side in metres (default 40)")
    p.add_argument("--peer-sample", type=int, default=20,
                   help="facilities the peer is timed on, extrapolated (default 20)")
    p.add_argument("--peer-buffer", type=float, default=40.0,
                   help="peer's buffer around reached roads, m (default 40: one cell)")
    p.add_argument("--repeat", type=int, default=1, help="runs per side, best shown (default 1)")
    p.add_argument("--skip-peer", action="store_true", help="time ours only")
    p.add_argument("--quick", action="store_true",
                   help="10,000 nodes, 100 facilities, the peer on 3 (a minute)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads tracing our isochrones (default: every core)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--graph", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.facilities, args.peer_sample = [10_000], 100, 3
    if args.child:
        print(json.dumps(child(args.child, args.graph, args.facilities,
                               args.minutes, args.cell, args.peer_sample, args.peer_buffer,
                               args.repeat, args.threads)))
        return
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; OMP/OpenBLAS 1 "
          f"thread; ours traces on {args.threads or 'every core'} (Dijkstra on one), the peer "
          f"on one; each side in its own process, best of {args.repeat}")
    folder = Path(tempfile.mkdtemp(prefix="bench-isochrones-"))
    try:
        for n in args.sizes:
            for mode in args.modes:
                run(args, n, mode, prepare(n, mode, folder))
    finally:
        shutil.rmtree(folder)


def run(args, n: int, mode: str, graph_path: Path) -> None:
    """Ours, the merged bands and the peer on one graph."""
    ours = measure("ours", args, graph_path)
    merged = measure("merged", args, graph_path)
    print(f"\n== {ours['nodes']:,} nodes, {mode}, {args.facilities} facilities at "
          f"{args.minutes:g} min, {args.cell:g} m cells "
          f"({ours['nodes_per_facility']:.0f} nodes reached per facility) ==")
    print(f"ours: {ours['seconds']:.2f} s wall, {ours['cpu_s']:.2f} s CPU (cells snapped "
          f"{ours['cells_s']:.2f} s for {ours['cells']:,} cells, isochrones "
          f"{ours['isochrones_s']:.2f} s), peak RSS {ours['peak_rss_mib']:.0f} MiB, "
          f"valid {ours['valid']}")
    print(f"ours, merged bands 5/10/15/30: {merged['seconds']:.2f} s, peak RSS "
          f"{merged['peak_rss_mib']:.0f} MiB")
    if args.skip_peer:
        return
    peer = measure("peer", args, graph_path)
    print(f"networkx/osmnx recipe (buffer {args.peer_buffer:g} m, quad_segs 4): "
          f"{peer['seconds']:.2f} s EXTRAPOLATED from {peer['sample']} facilities, "
          f"peak RSS {peer['peak_rss_mib']:.0f} MiB; ratio "
          f"{peer['seconds'] / ours['seconds']:.1f}x on wall time, "
          f"{peer['seconds'] / ours['cpu_s']:.1f}x on ours' CPU time")


if __name__ == "__main__":
    main()
