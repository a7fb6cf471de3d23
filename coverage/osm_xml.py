"""OpenStreetMap XML read with pyosmium into the network OSMnx's route gives.

:func:`read_osm_xml` streams the file with pyosmium (libosmium's XML parser) and lays
out the ways' edges exactly as ``osmnx.graph_from_xml(simplify=False,
retain_all=True)`` followed by ``networkx.to_pandas_edgelist`` would: every way in
file order, its edges along the way (reversed for ``oneway=-1``), then their reverse
twins for a two-way road; rows grouped by source node in file order, then by the first
time each (u, v) pair was added. That edge list then goes through the same rules
(:func:`coverage.network.network_from_edge_list`) as an OSMnx graph, and lengths use
OSMnx's great-circle formula, so the :class:`~coverage.network.RoadNetwork` is equal to
the OSMnx route's (tested on both packs) without importing OSMnx or building a graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coverage.errors import InputError
from coverage.network import (EARTH_RADIUS_M, REVERSED_VALUES, RoadNetwork, _existing_file,
                              _osm_provenance, _xml_generator, network_from_edge_list)

#: OSMnx's ``oneway`` values meaning one-way (``_add_paths``).
_OSMNX_ONEWAY = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
#: Way tags carried to the edge list (those of them the network rules read).
_TAGS = ("highway", "area", "name", "lanes", "maxspeed")


def great_circle_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """OSMnx's ``distance.great_circle`` in metres, operation for operation (same bits)."""
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    x1, x2 = np.deg2rad(lon1), np.deg2rad(lon2)
    h = np.sin((y2 - y1) / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin((x2 - x1) / 2) ** 2
    h = np.minimum(1, h)
    return 2 * np.arcsin(np.sqrt(h)) * EARTH_RADIUS_M


def read_osm_xml(path: str | Path) -> RoadNetwork:
    """Read the road network of an OpenStreetMap XML file (``.osm``, ``.osm.bz2``, ``.xml``).

    Raises
    ------
    InputError
        If the file is missing, empty, malformed, clipped (ways whose nodes are not
        in the file) or has no highway ways.
    """
    import osmium

    path = _existing_file(path)
    node_ids: list[int] = []
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    counts: list[int] = []
    oneway: list[bool] = []
    tags: dict[str, list] = {t: [] for t in _TAGS}
    seen_ways: set[int] = set()
    try:
        processor = osmium.FileProcessor(str(path)).with_locations()
        for obj in processor:
            if obj.is_node():
                node_ids.append(obj.id)
                continue
            if not obj.is_way() or obj.id in seen_ways:
                continue  # OSMnx keeps one path per way id
            seen_ways.add(obj.id)
            way_tags = obj.tags
            tag = way_tags.get("oneway")
            one = tag in _OSMNX_ONEWAY or way_tags.get("junction") == "roundabout"
            start = len(refs)
            for node in obj.nodes:
                refs.append(node.ref)
                xs.append(node.x)
                ys.append(node.y)
            if one and tag in REVERSED_VALUES:
                refs[start:] = refs[start:][::-1]
                xs[start:] = xs[start:][::-1]
                ys[start:] = ys[start:][::-1]
            counts.append(len(refs) - start)
            oneway.append(one)
            for name in _TAGS:
                tags[name].append(way_tags.get(name))
    except RuntimeError as exc:
        raise InputError(path, f"malformed OpenStreetMap XML: {exc}") from exc
    if not counts:
        raise InputError(path, "no OpenStreetMap data: the file has no ways")

    refs_a = np.asarray(refs, dtype=np.int64)
    x = np.asarray(xs, dtype=np.int64)
    if (x == 2**31 - 1).any():  # libosmium's x of a node missing from the file
        raise InputError(path, "ways reference nodes that are not in the file (a clipped "
                         "extract); extract with complete ways or read the .osm.pbf")
    # Division, not multiplication by 1e-7: the nearest double to the 7-decimal text,
    # as OSMnx's float() of the attribute gives.
    lon, lat = x / 1e7, np.asarray(ys, dtype=np.int64) / 1e7
    counts_a = np.asarray(counts)
    way_of = np.repeat(np.arange(counts_a.size), counts_a)
    j = np.flatnonzero(way_of[:-1] == way_of[1:])
    w = way_of[j]
    two = ~np.asarray(oneway, dtype=bool)[w]
    # Directed edges in OSMnx's order of insertion: per way, its edges, then their twins.
    u = np.concatenate([refs_a[j], refs_a[j + 1][two]])
    v = np.concatenate([refs_a[j + 1], refs_a[j][two]])
    a = np.concatenate([j, (j + 1)[two]])
    b = np.concatenate([j + 1, j[two]])
    way = np.concatenate([w, w[two]])
    twin = np.concatenate([np.zeros(j.size, bool), np.ones(int(two.sum()), bool)])
    inserted = np.empty(u.size, dtype=np.int64)
    inserted[np.lexsort((a, twin, way))] = np.arange(u.size)
    # networkx lists a node's successors in the order each pair was first added.
    pair, pair_first = _pair_first(u, v, inserted)
    file_order = pd.Index(pd.unique(np.asarray(node_ids, dtype=np.int64)))
    order = np.lexsort((inserted, pair_first[pair], file_order.get_indexer(u)))
    u, v, a, b, way, twin = u[order], v[order], a[order], b[order], way[order], twin[order]

    edges = pd.DataFrame({
        "u": u, "v": v,
        **{name: np.asarray(values, dtype=object)[way] for name, values in tags.items()},
        "oneway": np.asarray(oneway, dtype=bool)[way],
        "reversed": twin,
        "length": great_circle_m(lat[a], lon[a], lat[b], lon[b]),
    })
    ends = np.concatenate([a, b])
    xy = pd.DataFrame({"x": lon[ends], "y": lat[ends]}, index=np.concatenate([u, v]))
    xy = xy[~xy.index.duplicated()]
    return network_from_edge_list(edges, xy, path, _osm_provenance(_xml_generator(path)))


def _pair_first(u: np.ndarray, v: np.ndarray, inserted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per edge, its (u, v) pair's label, and per pair, the first insertion among its edges."""
    _, pair = np.unique(np.column_stack([u, v]), axis=0, return_inverse=True)
    pair = pair.ravel()
    first = np.full(pair.max(initial=-1) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, pair, inserted)
    return pair, first
