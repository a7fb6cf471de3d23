"""Throughput of the GCJ-02 / BD-09 conversions against the scalar libraries they replace.

Run: ``python benchmarks/bench_crs.py [N] [--scalar 50000] [--quick]``. Prints points
per second for ``coverage.crs`` on N points (default 5 million) inside China, and for
eviltransform, prcoords and coord-convert on a sample (they convert one point per
Python call), with the ratio, all measured in this run, each side the fastest of
:data:`REPEAT` runs. Ours runs on the threads
printed (numpy releases the GIL), the scalar peers on one: rates are wall-clock.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coverage import crs


#: Timed runs of every side (fastest kept): the same for ours and the peers.
REPEAT = 3


def _rate(func, n_points: int) -> float:
    best = np.inf
    for _ in range(REPEAT):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return n_points / best


def _scalar_peers():
    peers = {}
    try:
        import eviltransform

        peers["eviltransform"] = (lambda lo, la: eviltransform.gcj2wgs_exact(la, lo),
                                  lambda lo, la: eviltransform.wgs2gcj(la, lo))
    except ImportError:
        pass
    try:
        import prcoords

        peers["prcoords"] = (lambda lo, la: prcoords.gcj_wgs_bored((la, lo)),
                             lambda lo, la: prcoords.wgs_gcj((la, lo)))
    except ImportError:
        pass
    try:
        from coord_convert import transform

        peers["coord-convert"] = (transform.gcj2wgs, transform.wgs2gcj)
    except ImportError:
        pass
    return peers


def main(n: int = 5_000_000, n_scalar: int = 50_000) -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(105.3, 110.2, n)  # Chongqing's extent
    lat = rng.uniform(28.2, 32.2, n)
    ours = {
        "gcj02_to_wgs84": _rate(lambda: crs.gcj02_to_wgs84(lon, lat), n),
        "wgs84_to_gcj02": _rate(lambda: crs.wgs84_to_gcj02(lon, lat), n),
        "bd09_to_wgs84": _rate(lambda: crs.bd09_to_wgs84(lon, lat), n),
    }
    print(f"coverage.crs on {n:,} points (threads: {crs._THREADS}):")
    for name, rate in ours.items():
        print(f"  {name:16s} {rate / 1e6:8.2f} M points/s")
    back = crs.wgs84_to_gcj02(*crs.gcj02_to_wgs84(lon, lat))
    err = np.hypot(back[0] - lon, back[1] - lat).max() * 111_320
    print(f"  round-trip error GCJ-02 -> WGS-84 -> GCJ-02: max {err * 1000:.3f} mm")
    slon, slat = lon[:n_scalar].tolist(), lat[:n_scalar].tolist()
    print(f"scalar libraries on {n_scalar:,} points, one Python call per point:")
    for name, (inverse, forward) in _scalar_peers().items():
        inv = _rate(lambda: [inverse(a, b) for a, b in zip(slon, slat)], n_scalar)
        fwd = _rate(lambda: [forward(a, b) for a, b in zip(slon, slat)], n_scalar)
        print(f"  {name:14s} gcj->wgs {inv / 1e3:8.0f} k/s (ours {ours['gcj02_to_wgs84'] / inv:6.0f}x)"
              f"   wgs->gcj {fwd / 1e3:8.0f} k/s (ours {ours['wgs84_to_gcj02'] / fwd:6.0f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5_000_000,
                        help="points for coverage.crs (default 5,000,000)")
    parser.add_argument("--scalar", type=int, default=50_000,
                        help="points for the scalar libraries (default 50,000)")
    parser.add_argument("--quick", action="store_true", help="500,000 and 5,000 points")
    args = parser.parse_args()
    main(*((500_000, 5_000) if args.quick else (args.n, args.scalar)))
