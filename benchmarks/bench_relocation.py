"""Best sites to move a centre (:func:`coverage.relocation.best_moves`) against the peer it
replaces: a full scenario comparison (:func:`coverage.scenarios.compare`) per candidate,
which is what a planner would otherwise run, one move at a time.

Both sides share one warm context (graphs, snaps and the baseline built outside the
timing) on the default pack, 2025, 15 minutes by township kind; the peer is timed on a
few candidates and scaled to all of them. Prints seconds and the ratio.

    python benchmarks/bench_relocation.py [--spacing 500] [--peer 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from coverage import relocation, views
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext
from coverage.facilities import BASIC_CARE_TYPES
from coverage.region import load_region
from coverage.scenarios import compare
from coverage.siting import candidates_on_network, township_area

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", type=float, default=500.0)
    parser.add_argument("--peer", type=int, default=3, help="candidates the peer is timed on")
    parser.add_argument("--quick", action="store_true", help="the peer timed on one candidate")
    args = parser.parse_args()
    if args.quick:
        args.peer = 1
    region = load_region(ROOT)
    context = AccessContext(region, year=2025)
    candidates = candidates_on_network(context.graph("walk"), township_area(region, "500107106"),
                                       spacing_m=args.spacing)
    base = views.baseline(context, minutes=15, types=BASIC_CARE_TYPES, mode=DEFAULT_MODE_BY_KIND)
    relocation.best_moves(context, "gx-zouma-thc", candidates.head(2), minutes=15)  # warm
    start = time.perf_counter()
    moves = relocation.best_moves(context, "gx-zouma-thc", candidates, minutes=15)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for row in moves.head(args.peer).itertuples():
        scenario = views.scenario_from_edits(
            [{"action": "move", "facility": "gx-zouma-thc", "lon": row.lon, "lat": row.lat}],
            year=2025, name_zh="基准", name_en="bench")
        compare(region, scenario, year=2025, minutes=(15,), baseline=base)
    peer = (time.perf_counter() - start) / args.peer * len(candidates)
    print(f"{len(candidates)} candidates: best_moves {ours:.2f} s; "
          f"a comparison per candidate ≈{peer:.1f} s (from {args.peer}); ratio {peer / ours:.0f}×")


if __name__ == "__main__":
    main()
