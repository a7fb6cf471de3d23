"""Benchmark: loading a road network, each reader against its peer on the same format.

* OSM XML: ours (pyosmium, :func:`coverage.network.read_osm`) against OSMnx's
  ``graph_from_xml`` route (:func:`osmnx_xml` below, as the package read XML before);
  both give the same network (asserted);
* OSM PBF: ours (pyosmium) alone: OSMnx cannot read PBF, so it gets no ratio;
* the parsed-network cache (:mod:`coverage.network_cache`): a warm load against
  parsing the same XML again.

Extracts: the default pack's ``network/roads.osm``; the Helsinki test extract (ways
clipped at its edge dropped, since OSMnx cannot read them) and a larger one made of
copies of it side by side (new ids, shifted east), written as .osm.pbf and .osm.

Every reader runs in its own process, imports done before the timing (so OSMnx's
import, 1.5-1.8 s, is not counted against it), the same number of times for every
side (median printed); peak RSS is that process's (imports included).

    python benchmarks/bench_network_load.py [--copies 16] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import osmium

HELSINKI = Path(__file__).resolve().parents[1] / "tests" / "data" / "Helsinki.osm.pbf"
PACK_XML = Path(__file__).resolve().parents[1] / "network" / "roads.osm"
ID_STEP = 10**10  # id offset between copies, above any OSM id in the extract
SHIFT_DEG = 0.03  # east shift between copies, wider than the extract


def write_copies(source: Path, copies: int, folder: Path) -> dict[str, Path]:
    """Write ``copies`` side-by-side copies of the complete ways of ``source`` as PBF and XML."""
    # pyosmium's objects live only during iteration: keep plain copies
    nodes = [(n.id, n.location.lon, n.location.lat, dict(n.tags))
             for n in osmium.FileProcessor(str(source), osmium.osm.NODE)]
    present = {n[0] for n in nodes}
    ways = [(w.id, [r.ref for r in w.nodes], dict(w.tags))
            for w in osmium.FileProcessor(str(source), osmium.osm.WAY)]
    ways = [w for w in ways if all(ref in present for ref in w[1])]
    paths = {"pbf": folder / f"x{copies}.osm.pbf", "xml": folder / f"x{copies}.osm"}
    for path in paths.values():
        with osmium.SimpleWriter(str(path), overwrite=True) as writer:
            for k in range(copies):  # libosmium wants every node before the ways
                for nid, lon, lat, tags in nodes:
                    writer.add_node(osmium.osm.mutable.Node(
                        id=nid + k * ID_STEP, location=(lon + k * SHIFT_DEG, lat), tags=tags))
            for k in range(copies):
                for wid, refs, tags in ways:
                    writer.add_way(osmium.osm.mutable.Way(
                        id=wid + k * ID_STEP, nodes=[r + k * ID_STEP for r in refs], tags=tags))
    return paths


#: Reader name -> (module, function).
READERS = {
    "ours XML": ("coverage.network", "read_osm"),
    "OSMnx XML": (__name__, "osmnx_xml"),
    "ours PBF": ("coverage.network", "read_osm"),
    "cache warm": ("coverage.network_cache", "cached_network"),
}


def osmnx_xml(path):
    """The OSMnx route: ``graph_from_xml`` unsimplified, converted to a RoadNetwork."""
    from pathlib import Path

    import osmnx as ox

    from coverage.network import _from_osmnx

    return _from_osmnx(ox.graph_from_xml(path, simplify=False, retain_all=True), Path(path), {})


def child(reader: str, path: str, repeat: int, cache: str) -> None:
    """In its own process: import, then time ``repeat`` loads; print JSON."""
    import importlib
    import resource

    module, name = READERS[reader]
    func = globals()[name] if module == __name__ else getattr(importlib.import_module(module), name)
    args = (path, cache) if reader == "cache warm" else (path,)
    if module == __name__:
        import osmnx  # noqa: F401  (its import is not counted against it)
    if reader == "cache warm":
        func(*args)  # writes the entry: the timed loads read it
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        network = func(*args)
        times.append(time.perf_counter() - start)
    digest = (len(network.nodes), len(network.edges), float(network.edges["length"].sum()))
    print(json.dumps({"times": times, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                      / 1024, "digest": digest}))


def measure(reader: str, path: Path, repeat: int, cache: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", reader, str(path), str(repeat),
                          str(cache)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(label: str, paths: dict[str, Path], repeat: int, cache: Path) -> None:
    sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f} MB {kind}" for kind, p in paths.items())
    print(f"{label} ({sizes}):")
    results = {}
    for reader in READERS:
        kind = "pbf" if "PBF" in reader else "xml"
        if kind not in paths:
            continue
        results[reader] = r = measure(reader, paths[kind], repeat, cache)
        print(f"  {reader:10} {statistics.median(r['times']):8.3f} s median of {repeat}, "
              f"peak RSS {r['rss_mb']:6.0f} MB; {r['digest'][0]:,} nodes, {r['digest'][1]:,} edges")
    digests = {tuple(r["digest"]) for name, r in results.items() if "XML" in name or "cache" in name}
    assert len(digests) == 1, f"the XML readers and the cache disagree: {digests}"
    med = {name: statistics.median(r["times"]) for name, r in results.items()}
    print(f"  same format: OSMnx XML / ours XML {med['OSMnx XML'] / med['ours XML']:.1f}x; "
          f"parse / cache warm {med['ours XML'] / med['cache warm']:.1f}x (ours PBF has no peer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=16, help="copies in the large extract")
    parser.add_argument("--repeat", type=int, default=3, help="timed loads per reader (default 3)")
    parser.add_argument("--quick", action="store_true", help="the pack and Helsinki only, 1 load")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        compare("default pack", {"xml": PACK_XML}, repeat, folder / "cache")
        compare("Helsinki", write_copies(HELSINKI, 1, folder), repeat, folder / "cache")
        if not args.quick:
            compare(f"Helsinki x{args.copies}", write_copies(HELSINKI, args.copies, folder),
                    repeat, folder / "cache")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main()
