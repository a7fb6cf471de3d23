"""Benchmark: repairing a planner's road file against shapely's node/union_all, same file.

Generates a grid district with a planner's defects (10% of segments stopping 5-20 m
short of the junction at each end, every tenth road drawn as one line without vertices
at its junctions, an expressway between junction rows every 50 rows, 1% duplicate
lines), written as a
GeoPackage of about ``--segments`` line features. Each method runs in its own process
(read the file, repair; writing excluded) and reports seconds, peak RSS and the pieces
left; shapely's peers node every crossing, bridges included, and close no gap.

    python benchmarks/bench_network_repair.py [--segments 1000000] [--tolerance 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SPACING_M = 200.0
ORIGIN = (600_000.0, 3_250_000.0)  # UTM 48N


def generate(path: Path, segments: int, seed: int = 0) -> int:
    """Write the defective grid district; returns the number of line features."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    n = max(int(np.sqrt(segments / 2)) + 1, 12)
    lines, levels = [], []

    def level(k):
        return np.where(k % 10 == 0, "主干路", np.where(k % 5 == 0, "次干路", "支路"))

    for axis in (0, 1):
        k, m = np.meshgrid(np.arange(n), np.arange(n - 1), indexing="ij")  # road k, block m
        k, m = k.ravel(), m.ravel()
        whole = k % 10 == 5  # drawn as one line per road, no vertex at its junctions
        a, b = m * SPACING_M, (m + 1) * SPACING_M
        # gaps at junctions: 10% of segments stop short at each end (1% at both: islands)
        a = np.where((rng.random(len(k)) < 0.1) & ~whole, a + rng.uniform(5, 20, len(k)), a)
        b = np.where((rng.random(len(k)) < 0.1) & ~whole, b - rng.uniform(5, 20, len(k)), b)
        c = k * SPACING_M
        split = ~whole
        xy = np.stack([np.column_stack([a, c]), np.column_stack([b, c])], axis=1)[split]
        roads = k[whole & (m == 0)]
        long = np.stack([np.column_stack([np.zeros(len(roads)), roads * SPACING_M]),
                         np.column_stack([np.full(len(roads), (n - 1) * SPACING_M), roads * SPACING_M])], axis=1)
        both = np.concatenate([xy, long])
        if axis == 1:
            both = both[:, :, ::-1]
        lines.append(both)
        levels.append(np.concatenate([level(k[split]), level(roads)]))
    rows = np.arange(25, n - 1, 50)
    express = np.stack([np.column_stack([np.full(len(rows), -100.0), rows * SPACING_M + 100]),
                        np.column_stack([np.full(len(rows), n * SPACING_M), rows * SPACING_M + 100])], axis=1)
    lines.append(express)
    levels.append(np.full(len(rows), "快速路"))
    coords = np.concatenate(lines) + np.asarray(ORIGIN)
    level_of = np.concatenate(levels)
    dup = rng.random(len(coords)) < 0.01
    coords = np.concatenate([coords, coords[dup]])
    level_of = np.concatenate([level_of, level_of[dup]])
    geoms = shapely.linestrings(coords)
    gpd.GeoDataFrame({"ROADLEVEL": level_of}, geometry=geoms, crs="EPSG:32648").to_file(
        path, layer="roads", engine="pyogrio")
    return len(geoms)


def run(method: str, path: Path, tolerance: float) -> dict:
    """One method in this process: seconds (read + repair) and the pieces left."""
    import shapely

    from coverage.network_repair import _pieces, repair_lines
    from coverage.roadfile import RoadFileOptions, read_road_lines

    start = time.perf_counter()
    if method == "repair":
        result = repair_lines(read_road_lines(path), RoadFileOptions(tolerance=tolerance))
        seconds = time.perf_counter() - start
        pieces = result.summary["pieces_after"]
    else:
        import geopandas as gpd

        geoms = gpd.read_file(path, engine="pyogrio").geometry.to_numpy()
        merged = shapely.union_all(geoms) if method == "union_all" else shapely.node(shapely.multilinestrings(geoms))
        parts = shapely.get_parts(merged)
        seconds = time.perf_counter() - start
        xy, line = shapely.get_coordinates(parts, return_index=True)
        pieces = len(_pieces(xy, line, len(parts))[1])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "pieces": int(pieces)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1_000_000, help="line features to generate")
    parser.add_argument("--tolerance", type=float, default=20.0, help="repair tolerance (m)")
    parser.add_argument("--quick", action="store_true", help="20,000 line features")
    parser.add_argument("--run", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.segments = 20_000
    if args.run:
        print(json.dumps(run(args.run[0], Path(args.run[1]), args.tolerance)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "district.gpkg"
        count = generate(path, args.segments)
        print(f"{count:,} line features ({path.stat().st_size / 1e6:.0f} MB GeoPackage), "
              f"tolerance {args.tolerance:g} m; read + repair, each in its own process:")
        results = {}
        for method in ("repair", "union_all", "node"):
            out = subprocess.run([sys.executable, __file__, "--tolerance", str(args.tolerance),
                                  "--run", method, str(path)], capture_output=True, text=True, check=True)
            results[method] = r = json.loads(out.stdout.strip().splitlines()[-1])
            label = {"repair": "coverage network repair", "union_all": "shapely.union_all",
                     "node": "shapely.node"}[method]
            print(f"  {label:<24}{r['seconds']:9.2f} s {r['peak_mb']:9.0f} MB peak  "
                  f"{r['pieces']:>9,} pieces left")
        base = results["repair"]["seconds"]
        print("  ratio time repair / union_all: "
              f"{base / results['union_all']['seconds']:.2f}x, repair / node: {base / results['node']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
