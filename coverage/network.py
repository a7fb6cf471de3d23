"""Road networks: one in-memory form for every source of road data.

Every loader returns a :class:`RoadNetwork`: a node table and an edge table in
WGS-84, with each edge classified by its OpenStreetMap ``highway`` class. Routing
(:mod:`coverage.routing`) turns it into per-mode compact graphs.

Sources, all read by :func:`read_network` according to the file suffix:

* OpenStreetMap XML (``.osm``, ``.osm.bz2``, ``.xml``) through pyosmium, laid out as OSMnx
  would (:mod:`coverage.osm_xml`; the OSMnx route stays as :func:`read_osm_xml_osmnx`);
* OpenStreetMap PBF (``.osm.pbf``, ``.pbf``) through pyosmium, vectorised, several
  times faster than the XML route (see ``benchmarks/bench_network_load.py``);
* GraphML saved by OSMnx (``.graphml``), e.g. by :func:`fetch_network`;
* a planner's own road file (``.shp``, ``.gpkg``, ``.geojson``) with a road-class
  column in Chinese (城市道路等级 of CJJ 37, 公路行政等级 and 技术等级) or OSM terms.

Both OSM routes apply the same rules, so one extract yields the same network both
ways: ways whose ``highway`` value is a road class of ``coverage/data/road_classes.csv``
and that are not areas (``area=yes``); one-way where ``oneway`` is yes/true/1/-1/reverse
(-1 and reverse run against the drawing direction, as in OSMnx), on roundabouts, and on
motorways; every pair of consecutive way nodes is one edge, stored once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.sax import SAXParseException

import numpy as np
import pandas as pd

from coverage.errors import InputError, atomic_path


@dataclass
class RoadNetwork:
    """A road network as two tables.

    Attributes
    ----------
    nodes
        Indexed by integer node id; columns ``x`` (longitude) and ``y`` (latitude),
        WGS-84.
    edges
        One row per directed-or-undirected road segment: ``u``, ``v`` (node ids),
        ``length`` (metres, > 0), ``highway`` (normalised OSM class such as
        ``'primary'``, see :mod:`coverage.modes`), ``oneway`` (bool: traversable only
        from ``u`` to ``v`` by vehicles), ``name`` (str, may be empty) and optional
        ``geometry`` (shapely LineString, WGS-84) and ``lanes``/``maxspeed``.
        Edges are stored once; two-way roads are not duplicated.
    source
        Path or description of where the network came from.
    provenance
        ``{'source': ..., 'quality': 'surveyed'|'official'|'estimated'|'synthetic'|...}``.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    source: str = ""
    provenance: dict = field(default_factory=dict)


#: Earth radius (m) of OSMnx's great-circle lengths, so every loader measures alike.
EARTH_RADIUS_M = 6_371_009.0

#: Accepted road-class names and the normalised OSM class each maps to.
DEFAULT_ROAD_CLASSES = Path(__file__).parent / "data" / "road_classes.csv"

#: ``oneway`` tag values meaning one-way, and those meaning against the drawing
#: direction: OSMnx's sets (they include the Geofabrik shapefile's T/F).
ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
REVERSED_VALUES = frozenset({"-1", "reverse", "T"})
#: Classes that are one-way without a tag (OSM wiki, Key:oneway).
IMPLIED_ONEWAY = frozenset({"motorway"})

#: Column names searched, in order, in a planner's road file.
CLASS_COLUMNS = ("等级", "道路等级", "技术等级", "类型", "类别", "class", "fclass",
                 "highway", "type", "road_class")
ONEWAY_COLUMNS = ("单行", "单向", "oneway")
LANES_COLUMNS = ("车道数", "lanes")
NAME_COLUMNS = ("名称", "道路名称", "路名", "name")

#: Line vertices of a road file closer than this (m) become one node.
SNAP_TOLERANCE_M = 0.5

_ONEWAY_YES = frozenset({"yes", "y", "1", "true", "t", "是", "单行", "单向"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"", "no", "n", "0", "false", "f", "否", "双向", "双行", "nan", "none"})
_UNDEFINED_COORDINATE = 2**31 - 1  # libosmium's x/y of a node missing from the file
_XML_SUFFIXES = (".osm", ".osm.bz2", ".xml")
_PBF_SUFFIXES = (".osm.pbf", ".pbf")
_ROAD_FILE_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json")


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres between WGS-84 points (vectorised)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def _fold(text) -> str:
    return "".join(str(text).split()).lower()


def road_classes(mapping: dict | str | Path | None = None) -> dict[str, str]:
    """The road-class vocabulary: folded name -> normalised OSM ``highway`` class.

    Parameters
    ----------
    mapping
        Extra or overriding entries: a dict ``{name: class}`` or a CSV with columns
        ``name`` and ``highway`` (like ``coverage/data/road_classes.csv``). Names are
        matched ignoring case and white space.

    Raises
    ------
    InputError
        If a mapping targets a class that has no speeds in the speed table.
    """
    from coverage.modes import speed_table

    table = pd.read_csv(DEFAULT_ROAD_CLASSES, dtype=str, encoding="utf-8")
    classes = {_fold(n): c for n, c in zip(table["name"], table["highway"])}
    if mapping is None:
        return classes
    source = "road-class mapping"
    if not isinstance(mapping, dict):
        source = Path(mapping)
        if not source.is_file():
            raise InputError(source, "road-class mapping file not found")
        extra = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if not {"name", "highway"} <= set(extra.columns):
            raise InputError(source, f"expected columns name, highway; found {', '.join(extra.columns)}")
        mapping = dict(zip(extra["name"], extra["highway"]))
    known = set(speed_table().index)
    for row, (name, cls) in enumerate(mapping.items(), start=1):
        if str(cls).strip() not in known:
            raise InputError(
                source, f"{name!r} maps to {cls!r}, which is not a class of the speed table; "
                f"expected one of {', '.join(sorted(known))}", row=row, field="highway",
            )
        classes[_fold(name)] = str(cls).strip()
    return classes


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    return path


def _has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def _osm_provenance(generator: str | None) -> dict:
    if generator and "synthetic" in generator:
        return {"source": generator, "quality": "synthetic"}
    return {"source": "OpenStreetMap", "quality": "surveyed",
            "licence": "ODbL, © OpenStreetMap contributors"}


def _assemble(u, v, lon_u, lat_u, lon_v, lat_v, attrs: dict, source, provenance) -> RoadNetwork:
    """Build a RoadNetwork from straight segments given by node ids and coordinates.

    Zero-length segments (a node repeated, or two vertices snapped together) are
    dropped; the node table holds exactly the nodes the edges use.
    """
    keep = u != v
    u, v = u[keep], v[keep]
    ids, first = np.unique(np.concatenate([u, v]), return_index=True)
    lon = np.concatenate([lon_u[keep], lon_v[keep]])[first]
    lat = np.concatenate([lat_u[keep], lat_v[keep]])[first]
    nodes = pd.DataFrame({"x": lon, "y": lat}, index=pd.Index(ids, name="node"))
    edges = pd.DataFrame({
        "u": u, "v": v,
        "length": haversine_m(lon_u[keep], lat_u[keep], lon_v[keep], lat_v[keep]),
        **{name: np.asarray(values)[keep] for name, values in attrs.items()},
    })
    return RoadNetwork(nodes, edges, source=str(source), provenance=provenance)


# --- OpenStreetMap PBF --------------------------------------------------------

def read_osm_pbf(path: str | Path) -> RoadNetwork:
    """Read the road network of an OpenStreetMap PBF extract with pyosmium.

    Node locations are cached by libosmium while the file streams; Python touches
    only highway ways, and lengths and edges are computed with numpy. Segments that
    reference nodes missing from a clipped extract are dropped.

    Raises
    ------
    InputError
        If the file is missing, empty, malformed or has no highway ways.
    """
    import osmium

    path = _existing_file(path)
    classes = road_classes()
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    counts, highway, oneway, reverse, names, lanes, maxspeed = [], [], [], [], [], [], []
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        generator = processor.header.get("generator")
        for way in processor:
            tags = way.tags
            cls = classes.get(_fold(tags.get("highway")))
            if cls is None or tags.get("area") == "yes":
                continue
            count = 0
            for node in way.nodes:
                refs.append(node.ref)
                xs.append(node.x)
                ys.append(node.y)
                count += 1
            counts.append(count)
            tag = tags.get("oneway")
            one = tag in ONEWAY_VALUES or tags.get("junction") == "roundabout" or cls in IMPLIED_ONEWAY
            highway.append(cls)
            oneway.append(one)
            reverse.append(one and tag in REVERSED_VALUES)
            names.append(tags.get("name", ""))
            lanes.append(tags.get("lanes"))
            maxspeed.append(tags.get("maxspeed", ""))
    except RuntimeError as exc:
        raise InputError(path, f"malformed OpenStreetMap PBF file: {exc}") from exc
    if not counts:
        raise InputError(path, "no highway ways: expected OpenStreetMap ways tagged highway=*")

    refs_a = np.asarray(refs, dtype=np.int64)
    x = np.asarray(xs, dtype=np.int64)
    y = np.asarray(ys, dtype=np.int64)
    valid = x != _UNDEFINED_COORDINATE
    lon, lat = x * 1e-7, y * 1e-7
    way_of = np.repeat(np.arange(len(counts)), counts)
    j = np.flatnonzero((way_of[:-1] == way_of[1:]) & valid[:-1] & valid[1:])
    w = way_of[j]
    rev = np.asarray(reverse)[w]
    a, b = np.where(rev, j + 1, j), np.where(rev, j, j + 1)
    attrs = {
        "highway": np.asarray(highway, dtype=object)[w],
        "oneway": np.asarray(oneway, dtype=bool)[w],
        "name": np.asarray(names, dtype=object)[w],
        "lanes": pd.to_numeric(pd.Series(lanes, dtype=object), errors="coerce").to_numpy()[w],
        "maxspeed": np.asarray(maxspeed, dtype=object)[w],
    }
    network = _assemble(refs_a[a], refs_a[b], lon[a], lat[a], lon[b], lat[b], attrs, path,
                        _osm_provenance(generator))
    if network.edges.empty:
        raise InputError(path, "no highway way has two nodes inside the extract")
    return network


# --- OSMnx graphs: OSM XML and GraphML ---------------------------------------

def _first(value):
    """OSMnx stores merged attributes as lists; keep the first value."""
    return value[0] if isinstance(value, list) else value


def _merged_class_picker():
    """Map an OSMnx ``highway`` value (a list on simplified, merged edges) to one class.

    A merged edge takes the minor-most of its classes in the speed table's order
    (e.g. steps over footway, footway over service), so no vehicle is routed across
    a footway that simplification absorbed; values that are not roads are ignored.
    """
    from coverage.modes import speed_table

    classes = road_classes()
    rank = {cls: i for i, cls in enumerate(speed_table().index)}

    def pick(value):
        values = value if isinstance(value, list) else [value]
        found = [classes[_fold(v)] for v in values if isinstance(v, str) and _fold(v) in classes]
        return max(found, key=lambda c: rank.get(c, -1)) if found else None

    return pick


def _collapse_two_way(edges: pd.DataFrame) -> pd.DataFrame:
    """Keep one edge of each pair of opposite twins OSMnx makes of a two-way road.

    Twins join the same two nodes with the same length; of a pair, the edge in the
    drawing direction (``reversed`` False) is kept, else the one with u < v.
    """
    two = edges.index[~edges["oneway"].to_numpy(dtype=bool)]
    t = edges.loc[two]
    # 0 drawn direction, 1 reverse twin, 0.5 unknown (missing, or mixed on merged edges)
    rev = t["reversed"].map(lambda r: 0.5 if isinstance(r, list) or pd.isna(r) else float(bool(r)))
    order = pd.DataFrame({
        "a": np.minimum(t["u"], t["v"]), "b": np.maximum(t["u"], t["v"]),
        "len": np.round(t["length"].to_numpy(dtype=float), 1),
        "score": rev.to_numpy() * 2 + (t["u"] > t["v"]).to_numpy(),
    }, index=two).sort_values("score", kind="stable")
    groups = order.groupby(["a", "b", "len"], sort=False)
    rank = groups.cumcount()
    size = groups["score"].transform("size")
    drop = rank.index[rank >= (size + 1) // 2]
    return edges.drop(index=drop)


def _from_osmnx(graph, path: Path, provenance: dict) -> RoadNetwork:
    """Convert an OSMnx MultiDiGraph (WGS-84) into a RoadNetwork."""
    import networkx as nx

    df = nx.to_pandas_edgelist(graph, source="u", target="v")
    xy = pd.DataFrame.from_dict(dict(graph.nodes(data=True)), orient="index")[["x", "y"]]
    return network_from_edge_list(df, xy, path, provenance)


def network_from_edge_list(df: pd.DataFrame, xy: pd.DataFrame, path: Path,
                           provenance: dict) -> RoadNetwork:
    """A RoadNetwork from an OSMnx-style edge list (one row per directed edge, as
    ``networkx.to_pandas_edgelist`` gives) and node coordinates ``xy`` (WGS-84)."""
    import shapely

    if df.empty or "highway" not in df:
        raise InputError(path, "no highway ways: expected OpenStreetMap ways tagged highway=*")
    df["highway"] = df["highway"].map(_merged_class_picker())
    area = df["area"].map(_first) if "area" in df else pd.Series("", index=df.index)
    df = df[df["highway"].notna() & (area != "yes")].reset_index(drop=True)
    if df.empty:
        raise InputError(path, "no highway ways: expected OpenStreetMap ways tagged highway=*")
    for column in ("reversed", "name", "lanes", "maxspeed", "geometry"):
        if column not in df:
            df[column] = None
    df["oneway"] = df["oneway"].map(lambda o: bool(_first(o)))
    df = _collapse_two_way(df)
    df["oneway"] |= df["highway"].isin(IMPLIED_ONEWAY)

    ids = np.unique(np.concatenate([df["u"].to_numpy(), df["v"].to_numpy()]))
    nodes = xy.loc[ids].astype(float)
    nodes.index = pd.Index(ids.astype(np.int64), name="node")
    edges = pd.DataFrame({
        "u": df["u"].to_numpy(np.int64), "v": df["v"].to_numpy(np.int64),
        "length": df["length"].to_numpy(float),
        "highway": df["highway"].to_numpy(object),
        "oneway": df["oneway"].to_numpy(bool),
        "name": df["name"].map(lambda n: "" if not isinstance(_first(n), str) else _first(n)).to_numpy(object),
        "lanes": pd.to_numeric(df["lanes"].map(_first), errors="coerce").to_numpy(),
        "maxspeed": df["maxspeed"].map(lambda m: "" if _first(m) is None or pd.isna(_first(m)) else str(_first(m))).to_numpy(object),
    })
    if df["geometry"].notna().any():
        # simplified graphs carry curved geometries; straight edges get a segment
        straight = shapely.linestrings(np.stack([
            nodes.loc[edges["u"], ["x", "y"]].to_numpy(), nodes.loc[edges["v"], ["x", "y"]].to_numpy(),
        ], axis=1))
        geometry = df["geometry"].to_numpy(object)
        edges["geometry"] = np.where(pd.isna(geometry), straight, geometry)
    return RoadNetwork(nodes, edges, source=str(path), provenance=provenance)


def _xml_generator(path: Path) -> str | None:
    import bz2
    import re

    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    with opener(path, "rb") as fh:
        head = fh.read(2048).decode("utf-8", "replace")
    match = re.search(r'generator="([^"]*)"', head)
    return match.group(1) if match else None


def read_osm_xml(path: str | Path) -> RoadNetwork:
    """Read the road network of an OpenStreetMap XML file with pyosmium.

    Equal to :func:`read_osm_xml_osmnx` (same tables, same row order) at a fraction
    of its time; see :mod:`coverage.osm_xml`.
    """
    from coverage.osm_xml import read_osm_xml as read

    return read(path)


def read_osm_xml_osmnx(path: str | Path) -> RoadNetwork:
    """Read the road network of an OpenStreetMap XML file through OSMnx.

    Uses ``osmnx.graph_from_xml(simplify=False, retain_all=True)``, keeps the road
    classes and collapses OSMnx's reverse twins of two-way roads. The reference that
    :func:`read_osm_xml` is tested against.

    Raises
    ------
    InputError
        If the file is missing, empty, malformed, clipped (ways whose nodes are not
        in the file, which OSMnx cannot read) or has no highway ways.
    """
    import osmnx as ox

    path = _existing_file(path)
    try:
        graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except (ParseError, SAXParseException, EOFError, OSError) as exc:
        raise InputError(path, f"malformed OpenStreetMap XML: {exc}") from exc
    except ValueError as exc:
        if "missing nodes" in str(exc):
            raise InputError(path, "ways reference nodes that are not in the file (a clipped "
                             "extract); extract with complete ways or read the .osm.pbf") from exc
        raise InputError(path, f"no OpenStreetMap data: {exc}") from exc
    return _from_osmnx(graph, path, _osm_provenance(_xml_generator(path)))


def read_graphml(path: str | Path) -> RoadNetwork:
    """Read a road network saved by OSMnx as GraphML (simplified or not).

    Raises
    ------
    InputError
        If the file is missing, empty, not GraphML from OSMnx, or has no highway edges.
    """
    import networkx as nx
    import osmnx as ox

    path = _existing_file(path)
    try:
        graph = ox.load_graphml(path)
    except (ParseError, nx.NetworkXError, KeyError, ValueError, TypeError) as exc:
        raise InputError(path, f"not a GraphML file saved by OSMnx: {exc!r}") from exc
    crs = graph.graph.get("crs", "epsg:4326")
    if str(crs).lower() not in ("epsg:4326", "wgs84"):
        raise InputError(path, f"graph is in {crs}; expected an unprojected (EPSG:4326) graph")
    return _from_osmnx(graph, path, _osm_provenance(graph.graph.get("created_with")))


# --- a planner's road file ---------------------------------------------------

def _find_column(columns, given: str | None, candidates: tuple[str, ...], path: Path, what: str):
    """The column named ``given`` or the first of ``candidates`` present (case-insensitive)."""
    folded = {_fold(c): c for c in columns}
    if given is not None:
        if _fold(given) not in folded:
            raise InputError(path, f"no {what} column {given!r}; columns found: {', '.join(map(str, columns))}")
        return folded[_fold(given)]
    for name in candidates:
        if _fold(name) in folded:
            return folded[_fold(name)]
    return None


def _oneway_codes(values: pd.Series, path: Path, field: str) -> np.ndarray:
    """0 two-way, 1 one-way along the line, -1 one-way against it."""
    def fold(v):
        text = _fold(v)
        return text[:-2] if text.endswith(".0") else text

    folded = values.map(fold)
    codes = np.select([folded.isin(_ONEWAY_YES), folded.isin(_ONEWAY_REVERSE), folded.isin(_ONEWAY_NO)],
                      [1, -1, 0], default=2)
    bad = np.flatnonzero(codes == 2)
    if len(bad):
        raise InputError(path, f"{values.iloc[bad[0]]!r} is not a one-way value; expected "
                         "是/yes/1/T (one-way along the line), -1 (against it) or 否/no/0/F/empty",
                         row=int(bad[0]) + 1, field=field, kind="feature")
    return codes


def _snap_nodes(x: np.ndarray, y: np.ndarray, tolerance: float) -> np.ndarray:
    """Node label per vertex: vertices within ``tolerance`` metres share one node."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(tolerance, output_type="ndarray")
    n = len(x)
    links = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(links, directed=False)[1]


def read_road_file(
    path: str | Path,
    *,
    crs: str | int | None = None,
    class_column: str | None = None,
    oneway_column: str | None = None,
    lanes_column: str | None = None,
    name_column: str | None = None,
    mapping: dict | str | Path | None = None,
    layer: str | int | None = None,
) -> RoadNetwork:
    """Read a planner's road lines (Shapefile, GeoPackage, GeoJSON) into a RoadNetwork.

    Each line vertex becomes a node, so travel follows the drawn line; vertices of
    different lines within :data:`SNAP_TOLERANCE_M` (in the UTM zone of the data)
    become one node, joining lines that touch. Lines that cross without a shared
    vertex (bridges, tunnels) stay apart.

    Parameters
    ----------
    path
        The file.
    crs
        The coordinates' CRS when the file does not say or says wrongly: ``'GCJ02'``
        (高德/腾讯) or ``'BD09'`` (百度) for lon/lat read off Chinese web maps, or an
        EPSG code. By default the file's own CRS; WGS-84 if it has none.
    class_column
        The road-class column; by default the first of :data:`CLASS_COLUMNS`.
        Values are 城市道路 classes (快速路, 主干路, 次干路, 支路, 匝道), 公路 classes
        (高速公路, 国道, 省道, 县道, 乡道, 村道; 一级公路 ...) or OSM classes, mapped
        by ``coverage/data/road_classes.csv``.
    oneway_column, lanes_column, name_column
        Optional columns; by default the first present of :data:`ONEWAY_COLUMNS`
        (是/yes/1/T one-way along the line, -1 against it), :data:`LANES_COLUMNS`
        and :data:`NAME_COLUMNS`.
    mapping
        Extra or overriding class names, see :func:`road_classes`.
    layer
        Layer of a multi-layer file (GeoPackage).

    Raises
    ------
    InputError
        For a missing, empty or unreadable file, no usable class column, unknown
        class or one-way values (naming the feature), or geometries that are not
        lines.
    """
    import geopandas as gpd
    import pyogrio
    import shapely

    from coverage.crs import from_wgs84, normalise_crs_name, to_wgs84, utm_crs

    path = _existing_file(path)
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(path, f"cannot read road file: {exc}") from exc
    if gdf.empty:
        raise InputError(path, "no road features")
    columns = [c for c in gdf.columns if c != gdf.geometry.name]

    column = _find_column(columns, class_column, CLASS_COLUMNS, path, "road-class")
    classes = road_classes(mapping)
    if column is None:
        raise InputError(path, f"no road-class column; columns found: {', '.join(map(str, columns)) or 'none'}; "
                         f"expected one of {', '.join(CLASS_COLUMNS)}")
    highway = gdf[column].map(lambda c: classes.get(_fold(c)) if pd.notna(c) else None)
    unknown = np.flatnonzero(highway.isna())
    if len(unknown):
        first = int(unknown[0])
        accepted = ", ".join(sorted(set(pd.read_csv(DEFAULT_ROAD_CLASSES)["name"]) | set(classes)))
        others = f" ({len(unknown) - 1} more features have unknown classes)" if len(unknown) > 1 else ""
        raise InputError(path, f"unknown road class {gdf[column].iloc[first]!r}{others}; "
                         f"accepted classes: {accepted}", row=first + 1, field=column, kind="feature")

    geoms = gdf.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(kinds, (1, 2, 5)))  # LineString, LinearRing, MultiLineString
    if len(bad):
        what = geoms[bad[0]].geom_type if geoms[bad[0]] is not None else "empty geometry"
        raise InputError(path, f"{what} is not a line; expected LineString or MultiLineString",
                         row=int(bad[0]) + 1, field="geometry", kind="feature")

    def optional(given, candidates, what):
        name = _find_column(columns, given, candidates, path, what)
        return (name, gdf[name]) if name is not None else (None, None)

    oneway_name, oneway_values = optional(oneway_column, ONEWAY_COLUMNS, "one-way")
    oneway = (_oneway_codes(oneway_values, path, oneway_name) if oneway_name
              else np.zeros(len(gdf), dtype=int))
    _, lanes = optional(lanes_column, LANES_COLUMNS, "lanes")
    _, names = optional(name_column, NAME_COLUMNS, "name")

    parts, feature = shapely.get_parts(geoms, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    try:
        datum = normalise_crs_name(crs) if crs is not None else None
    except ValueError as exc:
        raise InputError(path, str(exc), field="crs") from exc
    if datum in ("GCJ02", "BD09"):
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], datum)
    else:
        source_crs = datum or (gdf.crs.to_string() if gdf.crs is not None else "WGS84")
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], source_crs)
    if not (np.all(np.abs(lon) <= 180) and np.all(np.abs(lat) <= 90)):
        raise InputError(path, "coordinates are not longitude/latitude; pass the file's CRS (crs=...)")
    x, y = from_wgs84(lon, lat, utm_crs(float(np.mean(lon)), float(np.mean(lat))))
    node = _snap_nodes(np.asarray(x), np.asarray(y), SNAP_TOLERANCE_M)
    _, first = np.unique(node, return_index=True)  # labels run 0..k-1
    node_lon, node_lat = lon[first][node], lat[first][node]

    j = np.flatnonzero(part[:-1] == part[1:])
    f = feature[part[j]]
    rev = oneway[f] == -1
    a, b = np.where(rev, j + 1, j), np.where(rev, j, j + 1)
    attrs = {
        "highway": highway.to_numpy(object)[f],
        "oneway": oneway[f] != 0,
        "name": (names.fillna("").astype(str).to_numpy(object)[f] if names is not None
                 else np.full(len(f), "", dtype=object)),
        "lanes": (pd.to_numeric(lanes, errors="coerce").to_numpy(float)[f] if lanes is not None
                  else np.full(len(f), np.nan)),
    }
    return _assemble(node[a].astype(np.int64), node[b].astype(np.int64), node_lon[a], node_lat[a],
                     node_lon[b], node_lat[b], attrs, path,
                     {"source": path.name, "quality": "official", "notes": "planner's road file"})


# --- dispatch, download, summary ---------------------------------------------

def read_network(path: str | Path, **kw) -> RoadNetwork:
    """Read a road network, choosing the loader by the file suffix.

    ``.osm``/``.osm.bz2``/``.xml`` -> :func:`read_osm_xml`; ``.osm.pbf``/``.pbf`` ->
    :func:`read_osm_pbf`; ``.graphml`` -> :func:`read_graphml`; ``.shp``/``.gpkg``/
    ``.geojson``/``.json`` -> :func:`read_road_file` (``kw`` are its options);
    ``.parquet`` -> :func:`read_edge_table`.
    """
    path = Path(path)
    if _has_suffix(path, (".parquet",)):
        loader = read_edge_table
    elif _has_suffix(path, _PBF_SUFFIXES):
        loader = read_osm_pbf
    elif _has_suffix(path, _XML_SUFFIXES):
        loader = read_osm_xml
    elif _has_suffix(path, (".graphml",)):
        loader = read_graphml
    elif _has_suffix(path, _ROAD_FILE_SUFFIXES):
        return read_road_file(path, **kw)
    else:
        raise InputError(path, "unknown road network format; expected .osm, .osm.bz2, .xml, "
                         ".osm.pbf, .pbf, .graphml, .shp, .gpkg, .geojson or .parquet")
    if kw:
        raise InputError(path, f"options {', '.join(kw)} apply only to road files (.shp, .gpkg, .geojson)")
    return loader(path)


#: Columns of an edge table (:func:`coverage.batch.write_network_parquet`): each edge
#: with its end coordinates (WGS-84), so that it can be read by window without a
#: node table.
EDGE_TABLE_COLUMNS = ("u", "v", "ux", "uy", "vx", "vy", "length", "highway", "oneway")


def read_edge_table(path: str | Path,
                    bounds: tuple[float, float, float, float] | None = None) -> RoadNetwork:
    """Read a Parquet edge table (:data:`EDGE_TABLE_COLUMNS`), whole or by window.

    With WGS-84 ``bounds`` (west, south, east, north) only the edges with an end
    inside are read; Parquet's row-group statistics let the reader skip the rest.
    Nodes are the edges' ends, sorted by id.

    Raises
    ------
    InputError
        If the file is not Parquet or lacks a column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        raise InputError(path, f"not a Parquet edge table: {exc}") from None
    missing = [c for c in EDGE_TABLE_COLUMNS if c not in names]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}: expected "
                         + ", ".join(EDGE_TABLE_COLUMNS))
    filters = None
    if bounds is not None:
        west, south, east, north = bounds

        def inside(x: str, y: str) -> list[tuple]:
            return [(x, ">=", west), (x, "<=", east), (y, ">=", south), (y, "<=", north)]

        filters = [inside("ux", "uy"), inside("vx", "vy")]
    table = pq.read_table(path, columns=list(EDGE_TABLE_COLUMNS), filters=filters).to_pandas()
    ends = pd.DataFrame({"id": np.concatenate([table["u"], table["v"]]),
                         "x": np.concatenate([table["ux"], table["vx"]]),
                         "y": np.concatenate([table["uy"], table["vy"]])})
    nodes = ends.drop_duplicates("id").set_index("id").sort_index()
    nodes.index.name = "osmid"
    edges = table[["u", "v", "length", "highway", "oneway"]].assign(name="")
    return RoadNetwork(nodes=nodes, edges=edges.reset_index(drop=True), source=str(path))


def network_cache_path(boundary, cache_dir: str | Path, network_type: str = "all") -> Path:
    """Where :func:`fetch_network` keeps the network of a boundary polygon (WGS-84)."""
    import shapely

    digest = hashlib.sha256(shapely.normalize(boundary).wkb + network_type.encode()).hexdigest()
    return Path(cache_dir) / f"osm_{network_type}_{digest[:16]}.graphml"


def fetch_network(boundary, cache_dir: str | Path, *, network_type: str = "all") -> Path:
    """Download the OpenStreetMap roads inside a boundary, or reuse the cached copy.

    Parameters
    ----------
    boundary
        (Multi)Polygon in WGS-84.
    cache_dir
        Folder of the cache; the file name is a hash of the polygon and network type.
    network_type
        OSMnx network type (``'all'``, ``'drive'``, ``'walk'`` ...).

    Returns
    -------
    pathlib.Path
        The GraphML file (unsimplified, all components), for :func:`read_network`.
    """
    path = network_cache_path(boundary, cache_dir, network_type)
    if path.is_file():
        return path
    import osmnx as ox

    graph = ox.graph_from_polygon(boundary, network_type=network_type, simplify=False,
                                  retain_all=True, truncate_by_edge=True)
    with atomic_path(path) as tmp:
        ox.save_graphml(graph, tmp)
    return path


def network_info(network: RoadNetwork) -> dict:
    """Summary of a network: sizes, weakly connected components, length by class, bbox.

    Returns
    -------
    dict
        ``nodes``, ``edges``, ``oneway_edges``, ``components`` (weakly connected),
        ``largest_component_nodes``, ``length_km`` and ``length_km_by_class``
        (longest first), ``bbox`` (min lon, min lat, max lon, max lat), ``source``.
    """
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    nodes, edges = network.nodes, network.edges
    index = pd.Index(nodes.index)
    u, v = index.get_indexer(edges["u"]), index.get_indexer(edges["v"])
    links = coo_array((np.ones(len(u)), (u, v)), shape=(len(index), len(index)))
    count, labels = connected_components(links, directed=False)
    by_class = (edges.groupby("highway")["length"].sum() / 1000.0).sort_values(ascending=False)
    return {
        "nodes": len(nodes),
        "edges": len(edges),
        "oneway_edges": int(edges["oneway"].sum()),
        "components": int(count),
        "largest_component_nodes": int(np.bincount(labels).max()) if len(labels) else 0,
        "length_km": float(edges["length"].sum() / 1000.0),
        "length_km_by_class": {str(k): float(km) for k, km in by_class.items()},
        "bbox": tuple(float(b) for b in (nodes["x"].min(), nodes["y"].min(),
                                          nodes["x"].max(), nodes["y"].max())),
        "source": network.source,
    }


def format_network_info(info: dict) -> str:
    """:func:`network_info` as text with Chinese and English labels."""
    lines = [
        f"来源 source: {info['source']}",
        f"节点 nodes: {info['nodes']:,}",
        f"路段 edges: {info['edges']:,} (单行 one-way: {info['oneway_edges']:,})",
        f"连通分量 weakly connected components: {info['components']:,} "
        f"(最大 largest: {info['largest_component_nodes']:,} nodes)",
        f"总长 total length: {info['length_km']:,.1f} km",
        "分等级长度 length by class (km):",
        *(f"  {cls:<16}{km:>10,.2f}" for cls, km in info["length_km_by_class"].items()),
        "范围 bbox (WGS-84): {:.5f}, {:.5f}, {:.5f}, {:.5f}".format(*info["bbox"]),
    ]
    return "\n".join(lines)
