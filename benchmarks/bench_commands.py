"""Every ``coverage`` command on the default pack, cold and warm, against the floor.

Each run is a separate process (``python -m coverage.cli ...``), timed from spawn to
exit, with its peak resident memory (``ru_maxrss`` of that child, from ``wait4``).
The floor is what no command can beat: starting Python and importing geopandas.

* cold: a fresh copy of the pack in a temporary folder, so no parsed network, no
  routing graph is cached yet (Python's own bytecode caches are warm for both);
* warm: the same copy again, ``--repeat`` times, median (the caches the cold run
  wrote are read).

Commands write their outputs into the temporary folder; the repository is not
touched. The machine's load average is printed before and after: on a shared
machine every figure moves with it, the difference to the floor moves less.

    python benchmarks/bench_commands.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What a pack folder holds (the rest of the repository is code, docs and outputs).
PACK_PARTS = ("region.toml", "boundary.geojson", "facilities.geojson", "targets.toml",
              "population", "network", "scenarios")
FLOOR = ["-c", "import geopandas"]


def commands(pack: Path, out: Path) -> dict[str, list[str]]:
    """Label -> arguments of ``coverage`` for every command, on ``pack``."""
    points = out / "points.csv"
    points.write_text("id,lon,lat\n1,106.30,29.55\n2,106.35,29.50\n3,106.40,29.60\n",
                      encoding="utf-8")
    scenario = sorted((pack / "scenarios").glob("*.toml"))[0].name
    return {
        "--help": ["--help"],
        "validate": ["validate", str(pack)],
        "network info": ["network", "info", str(pack / "network" / "roads.osm")],
        "check": ["check", str(pack)],
        "traveltime": ["traveltime", "--region", str(pack), "--mode", "walk",
                       "--points", str(points), "--out", str(out / "times.csv")],
        "isochrones": ["isochrones", "--region", str(pack), "--mode", "walk",
                       "--out", str(out / "iso.geojson")],
        "scenario": ["scenario", str(pack), scenario],
        "candidates": ["candidates", str(pack), "--minutes", "15", "--township",
                       _first_township(pack), "--top", "3"],
        "optimize mclp": ["optimize", str(pack), "--minutes", "15", "--model", "mclp", "--k", "2"],
        "optimize pmedian": ["optimize", str(pack), "--minutes", "15", "--model", "pmedian",
                             "--k", "2"],
        "capacity": ["capacity", str(pack), "--minutes", "30"],
        "layers": ["layers", str(pack), "--out", str(out / "layers")],
        "batch": ["batch", str(pack), "--out", str(out / "batch")],
    }


QUICK = ("--help", "validate", "check", "scenario", "optimize pmedian")


def _first_township(pack: Path) -> str:
    import json

    towns = json.loads((pack / "population" / "townships.geojson").read_text(encoding="utf-8"))
    return str(towns["features"][0]["properties"]["code"])


def fresh_pack(folder: Path) -> Path:
    """A copy of the default pack's files (no cache) in ``folder``."""
    folder.mkdir()
    for part in PACK_PARTS:
        source = ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / part)
    return folder


def run(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    err = child.stderr.read().decode("utf-8", "replace")
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({child.returncode}): {err[-500:]}")
    return wall, usage.ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per command (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK)}, one warm run")
    parser.add_argument("--only", help="comma-separated command labels to run")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = tmp / "out"
        out.mkdir()
        labels = list(commands(fresh_pack(tmp / "probe"), out))
        wanted = (QUICK if args.quick else
                  [c.strip() for c in args.only.split(",")] if args.only else labels)
        floor = [run(FLOOR, tmp) for _ in range(repeat)]
        floor_s = statistics.median(w for w, _ in floor)
        print(f"floor (python -c 'import geopandas'): {floor_s:.2f} s median of {repeat}, "
              f"{max(m for _, m in floor):.0f} MB")
        print(f"{'command':18} {'cold s':>7} {'warm s':>7} {'warm-floor':>10} {'peak MB':>8}")
        for i, label in enumerate(wanted):
            # Each command meets its own fresh copy: cold means nothing cached yet.
            argv = ["-m", "coverage.cli", *commands(fresh_pack(tmp / f"pack{i}"), out)[label]]
            cold, cold_mb = run(argv, tmp)  # writes the copy's caches
            warm = [run(argv, tmp) for _ in range(repeat)]
            warm_s = statistics.median(w for w, _ in warm)
            peak = max([cold_mb, *(m for _, m in warm)])
            print(f"{label:18} {cold:7.2f} {warm_s:7.2f} {warm_s - floor_s:+10.2f} {peak:8.0f}",
                  flush=True)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
