"""Benchmark: the pyosmium loader (PBF and XML) against OSMnx's XML reader, on the same extract.

Extracts: the Helsinki test extract (ways clipped at its edge dropped, since OSMnx cannot
read them), and a larger one made of copies of it side by side (new ids, shifted east),
written both as .osm.pbf and .osm so every loader reads identical data. Prints seconds
(best of a few runs), network nodes per second and the ratios to OSMnx's
``graph_from_xml`` (the route XML took before; timed without its conversion to a
network, which favours OSMnx).

    python benchmarks/bench_network_load.py [--copies 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import osmium

from coverage.network import read_osm

HELSINKI = Path(__file__).resolve().parents[1] / "tests" / "data" / "Helsinki.osm.pbf"
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


def best_of(func, path: Path, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func(path)
        best = min(best, time.perf_counter() - start)
    return best, result


def osmnx_xml(path: Path):
    import osmnx as ox

    return ox.graph_from_xml(path, simplify=False, retain_all=True)


def compare(label: str, paths: dict[str, Path], repeats: int) -> None:
    t_pbf, pbf = best_of(read_osm, paths["pbf"], repeats)
    t_xml, xml = best_of(read_osm, paths["xml"], repeats)
    t_ox, _ = best_of(osmnx_xml, paths["xml"], repeats)
    assert len(pbf.nodes) == len(xml.nodes) and len(pbf.edges) == len(xml.edges)
    n = len(pbf.nodes)
    print(f"{label}: {n:,} nodes, {len(pbf.edges):,} edges "
          f"({paths['pbf'].stat().st_size / 1e6:.1f} MB pbf, {paths['xml'].stat().st_size / 1e6:.1f} MB xml)")
    print(f"  pyosmium PBF   {t_pbf:8.3f} s  {n / t_pbf:12,.0f} nodes/s")
    print(f"  pyosmium XML   {t_xml:8.3f} s  {n / t_xml:12,.0f} nodes/s")
    print(f"  OSMnx XML      {t_ox:8.3f} s  {n / t_ox:12,.0f} nodes/s")
    print(f"  ratio OSMnx XML / pyosmium PBF: {t_ox / t_pbf:.1f}x, / pyosmium XML: {t_ox / t_xml:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=16, help="copies in the large extract")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        compare("Helsinki", write_copies(HELSINKI, 1, folder), repeats=3)
        compare(f"Helsinki x{args.copies}", write_copies(HELSINKI, args.copies, folder), repeats=1)


if __name__ == "__main__":
    main()
