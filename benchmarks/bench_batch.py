"""Benchmark: a municipality split into 40 counties, against one whole-region run.

``python benchmarks/bench_batch.py [--nodes 1500000] [--counties-x 8 --counties-y 5 --towns 5]``

Generates a municipality (:mod:`generate_municipality`: 1,000 townships in 40
counties, a 1.5-million-node road network as a windowed Parquet edge table, a 100 m
population raster of the whole area) in a temp folder, then measures, each in fresh
worker processes (``--backend processes``):

* the peer: the whole region as one part (one graph of the whole network, every
  raster cell at once), as a single run does it;
* the batch by county with 1 worker, then with 2 workers.

It prints wall time, the peak resident memory of the largest worker, checks that the
merged tables equal the whole run's, and the speed-up from 1 to 2 workers. The
machine has 2 cores and is shared: the speed-up is noisy and bounded by 2.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_municipality import generate

from coverage import batch
from coverage.region import load_region

MINUTES = (5, 10, 15, 30)


def _run(region, out: Path, split_by: str, workers: int) -> tuple[pd.DataFrame, float, float, int]:
    start = time.perf_counter()
    table, _, ran = batch.batch_region(region, out, split_by, minutes=MINUTES,
                                       backend="processes", workers=workers, progress=None)
    seconds = time.perf_counter() - start
    return table, seconds, max(r["peak_rss_mb"] for r in ran), max(
        max(r["nodes"].values()) for r in ran)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_500_000)
    parser.add_argument("--counties-x", type=int, default=8)
    parser.add_argument("--counties-y", type=int, default=5)
    parser.add_argument("--towns", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 nodes, 2 x 2 counties")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.counties_x, args.counties_y = 100_000, 2, 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        generate(tmp / "pack", nodes=args.nodes, counties_x=args.counties_x,
                 counties_y=args.counties_y, towns=args.towns)
        region = load_region(tmp / "pack")
        parts = args.counties_x * args.counties_y
        print(f"generated in {time.perf_counter() - start:.1f} s: {len(region.townships):,} "
              f"townships in {parts} counties, {args.nodes:,}-node network, "
              f"{int(region.townships['population'].sum()):,} residents on a 100 m raster")
        print("buffers: " + ", ".join(f"{m} {b / 1000:.1f} km" for m, b in
                                       batch.make_tasks(region, minutes=MINUTES)[0].buffers))

        whole_region = replace(region, townships=region.townships.assign(whole="all"))
        whole, t_whole, mem_whole, n_whole = _run(whole_region, tmp / "whole", "whole", 1)
        print(f"peer, whole region in one process: {t_whole:7.1f} s, peak {mem_whole:7,.0f} MB, "
              f"largest graph {n_whole:,} nodes")
        results = {}
        for workers in (1, 2):
            table, seconds, mem, nodes = _run(region, tmp / f"batch{workers}", "county", workers)
            pd.testing.assert_frame_equal(table, whole, check_exact=True)
            results[workers] = seconds
            print(f"batch by county, {workers} worker(s):  {seconds:7.1f} s, peak {mem:7,.0f} MB "
                  f"per worker, largest graph {nodes:,} nodes  (merged table == whole run)")
        print(f"time ratio batch(1 worker) / whole run: {results[1] / t_whole:.2f}; "
              f"memory ratio: {mem / mem_whole:.2f}")
        print(f"speed-up 1 -> 2 workers: {results[1] / results[2]:.2f}x "
              f"(2 shared, noisy cores)")
        print(f"per part, 1 worker: {results[1] / parts:.2f} s")


if __name__ == "__main__":
    main()
