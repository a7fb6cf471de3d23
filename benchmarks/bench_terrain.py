"""Benchmark: what a DEM costs when building a routing graph, and the off-road snap.

Builds the walking graph of a generated grid (``benchmarks/networks.py``) without and
with a generated DEM (a 30 m GeoTIFF of hills, the resolution of SRTM/ASTER; written in
a temporary folder), and snaps 100,000 points with and without sloped off-road legs.
The peer of the DEM build is the flat build it extends (the same graph, the same run):
the ratio is the price of terrain. Prints seconds and the ratios.

    python benchmarks/bench_terrain.py [--nodes 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from affine import Affine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from networks import grid_network  # noqa: E402

from coverage import routing  # noqa: E402
from coverage.terrain import read_dem  # noqa: E402

UTM = "EPSG:32648"


def hills_dem(network, path: Path, cell: float = 30.0) -> Path:
    """A DEM of rolling hills (±150 m over 2 km) covering the network, in UTM."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    x, y = to_utm.transform(network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy())
    west, south, east, north = x.min() - 2000, y.min() - 2000, x.max() + 2000, y.max() + 2000
    cols, rows = int((east - west) / cell) + 1, int((north - south) / cell) + 1
    gx, gy = np.meshgrid(west + (np.arange(cols) + 0.5) * cell, north - (np.arange(rows) + 0.5) * cell)
    z = (300 + 150 * np.sin(gx / 2000.0) * np.cos(gy / 1700.0)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs=UTM, transform=Affine(cell, 0, west, 0, -cell, north)) as dst:
        dst.write(z, 1)
    return path


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000, help="grid nodes (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 nodes")
    args = parser.parse_args()
    if args.quick:
        args.nodes = 10_000
    network = grid_network(args.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        path = hills_dem(network, Path(tmp) / "hills.tif")
        t_read, dem = timed(lambda: read_dem(path))
        t_flat, flat = timed(lambda: routing.build_graph(network, "walk", metric_crs=UTM))
        t_dem, hilly = timed(lambda: routing.build_graph(network, "walk", metric_crs=UTM, dem=dem))
        rng = np.random.default_rng(0)
        pick = rng.integers(0, flat.n_nodes, 100_000)
        lon, lat = flat.lon[pick] + rng.normal(0, 0.01, pick.size), flat.lat[pick]
        t_snap, _ = timed(lambda: routing.snap_points(flat, lon, lat))
        t_snap_dem, _ = timed(lambda: routing.snap_points(hilly, lon, lat))
    print(f"grid: {flat.n_nodes:,} nodes, {flat.edge_u.size:,} directed edges; "
          f"DEM {dem.shape[1]:,} x {dem.shape[0]:,} cells (opened {t_read:.2f} s)")
    print(f"  build walk graph, flat      {t_flat:8.3f} s")
    print(f"  build walk graph, with DEM  {t_dem:8.3f} s   ratio {t_dem / t_flat:.2f}x")
    print(f"  snap 100,000 points, flat   {t_snap:8.3f} s")
    print(f"  snap 100,000 points, DEM    {t_snap_dem:8.3f} s   ratio {t_snap_dem / t_snap:.2f}x")


if __name__ == "__main__":
    main()
