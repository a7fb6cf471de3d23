"""Benchmark: one what-if on the default region once the baseline is warm.

For each shipped scenario of the default pack, times :func:`coverage.scenarios.compare`
with a warm :class:`coverage.scenarios.Baseline` (graphs, population, travel times,
targets and isochrone bands of the registered side computed once) against its peer,
the same comparison from a cold start (a fresh region and baseline each time; graphs
read from the on-disk cache). Median of ``--repeat`` runs. The app's what-if also
draws the band before and after (:func:`coverage.views.what_if_bands`, the after band
re-evaluated only on the cells of nodes whose time changed): timed apart, warm.

Run: ``python benchmarks/bench_scenarios.py [--repeat N] [--region PACK]``
"""

import argparse
import statistics
import time
from pathlib import Path

from coverage import views
from coverage.region import load_region
from coverage.scenarios import Baseline, compare, find_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 5


def median_seconds(func) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    global REPEAT
    p = argparse.ArgumentParser(description="One warm what-if against a cold start.")
    p.add_argument("--repeat", type=int, default=REPEAT, help="runs per figure, median shown")
    p.add_argument("--region", default=str(ROOT), help="region pack (default: the default pack)")
    p.add_argument("--quick", action="store_true", help="one run per figure")
    args = p.parse_args()
    if args.quick:
        args.repeat = 1
    REPEAT = args.repeat
    region = load_region(args.region)
    paths = find_scenarios(region)
    scenarios = [load_scenario(p, region.facilities) for p in paths]
    start = time.perf_counter()
    baseline = Baseline(region, 2025)
    compare(region, scenarios[0], baseline=baseline)
    print(f"{region.slug}: baseline warm-up {time.perf_counter() - start:.2f} s "
          f"({len(baseline.context.population):,} population points)")
    print(f"{'scenario':<32} {'warm s':>8} {'bands s':>8} {'cold s':>8} {'ratio':>7}")
    for path, scenario in zip(paths, scenarios):
        warm = median_seconds(lambda: compare(region, scenario, baseline=baseline))
        result = compare(region, scenario, baseline=baseline)
        bands = median_seconds(lambda: views.what_if_bands(baseline, result))
        cold = median_seconds(lambda: compare(load_region(args.region), scenario))
        print(f"{path.name:<32} {warm:>8.3f} {bands:>8.3f} {cold:>8.3f} {cold / warm:>6.1f}x")


if __name__ == "__main__":
    main()
