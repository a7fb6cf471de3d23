"""A generated "planner's road file" with the defects real ones have, and its hand repair.

The roads of a small urban district in UTM 48N (EPSG:32648), as a Shapefile whose class
column is named ``ROADLEVEL`` (快速路/主干路/次干路/支路/匝道):

* a grid of streets, junctions at x = 0, 300, 600, 900 m and y = 0, 300, 600 m;
* 主干路 and 支路 drawn end to end with no vertex where they cross (at-grade crossings
  without a node), verticals ending on a horizontal's interior (T-junctions);
* 次干路 y = 300 drawn in pieces stopping 7 to 12 m short of the junctions, a 支路
  starting 15 m short of 主干路 y = 0 (gaps at junctions);
* a 快速路 at y = 450 crossing every vertical street without a node (it is on a
  bridge), joined only by a 匝道 that stops 8 m short of it and 10 m short of the
  支路 y = 600; a 支路 stub ends 10 m below the 快速路 and must not be joined to it;
* duplicate lines.

:func:`hand_repaired_graph` is what a careful engineer makes of it: every road split at
its junctions, the gaps closed along the road, the 快速路 joined only by the ramp.
"""

from __future__ import annotations

from pathlib import Path

ORIGIN = (640_000.0, 3_290_000.0)  # UTM 48N, near 重庆 (106.45°E, 29.72°N)

#: The drawn lines: (ROADLEVEL, name, vertices in metres from ORIGIN).
DRAWN = [
    ("主干路", "H0", [(0, 0), (900, 0)]),
    ("次干路", "H300a", [(0, 300), (288, 300)]),
    ("次干路", "H300b", [(307, 300), (588, 300)]),
    ("次干路", "H300c", [(600, 300), (890, 300)]),
    ("支路", "H600", [(0, 600), (900, 600)]),
    ("主干路", "V0", [(0, 0), (0, 600)]),
    ("支路", "V300", [(300, 15), (300, 700)]),
    ("次干路", "V600", [(600, 0), (600, 700)]),
    ("支路", "V900", [(900, 0), (900, 600)]),
    ("支路", "S750", [(750, 0), (750, 440)]),
    ("快速路", "X", [(-200, 450), (1100, 450)]),
    ("匝道", "R", [(450, 458), (450, 590)]),
    # duplicates, one drawn the other way round
    ("次干路", "V600", [(600, 700), (600, 0)]),
    ("次干路", "H300b", [(307, 300), (588, 300)]),
]

#: The hand repair: each road as the junctions along it, in order.
REPAIRED = [
    ("主干路", [(0, 0), (300, 0), (600, 0), (750, 0), (900, 0)]),
    ("次干路", [(0, 300), (300, 300), (600, 300), (750, 300), (900, 300)]),
    ("支路", [(0, 600), (300, 600), (450, 600), (600, 600), (900, 600)]),
    ("主干路", [(0, 0), (0, 300), (0, 600)]),
    ("支路", [(300, 0), (300, 300), (300, 600), (300, 700)]),
    ("次干路", [(600, 0), (600, 300), (600, 600), (600, 700)]),
    ("支路", [(900, 0), (900, 300), (900, 600)]),
    ("支路", [(750, 0), (750, 300), (750, 440)]),
    ("快速路", [(-200, 450), (450, 450), (1100, 450)]),
    ("匝道", [(450, 450), (450, 600)]),
]

#: OSM class of each ROADLEVEL (coverage/data/road_classes.csv).
HIGHWAY = {"快速路": "motorway", "主干路": "primary", "次干路": "secondary", "支路": "tertiary",
           "匝道": "motorway_link"}


def write_planner_roads(folder: Path, *, ramp: bool = True, name: str = "roads.shp") -> Path:
    """Write the drawn lines as a Shapefile (EPSG:32648); without ``ramp`` the 匝道 is left out."""
    import geopandas as gpd
    import shapely

    x0, y0 = ORIGIN
    rows = [(level, label, shapely.LineString([(x0 + x, y0 + y) for x, y in coords]))
            for level, label, coords in DRAWN if ramp or label != "R"]
    frame = gpd.GeoDataFrame({"ROADLEVEL": [r[0] for r in rows], "NAME": [r[1] for r in rows],
                              "REMARK": ["现状" if i % 3 else "规划调整" for i in range(len(rows))]},
                             geometry=[r[2] for r in rows], crs="EPSG:32648")
    path = Path(folder) / name
    frame.to_file(path, encoding="utf-8", engine="pyogrio")
    return path


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS-84 of a point given in metres from :data:`ORIGIN`."""
    from pyproj import Transformer

    to_wgs = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lon), float(lat)


def hand_repaired_graph(*, ramp: bool = True):
    """The hand-repaired network as an undirected networkx graph.

    Nodes are ``(x, y)`` in metres from :data:`ORIGIN`; edges carry ``length``
    (great-circle metres, as the loaders measure) and ``highway``.
    """
    import networkx as nx

    from coverage.network import haversine_m

    graph = nx.Graph()
    for level, junctions in REPAIRED:
        if not ramp and level == "匝道":
            continue
        for a, b in zip(junctions[:-1], junctions[1:]):
            length = float(haversine_m(*lonlat(*a), *lonlat(*b)))
            graph.add_edge(a, b, length=length, highway=HIGHWAY[level])
    return graph
