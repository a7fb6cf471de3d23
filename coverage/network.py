"""Road networks: one in-memory form for every source of road data.

Every loader returns a :class:`RoadNetwork`: a node table and an edge table in
WGS-84, with each edge classified by its OpenStreetMap ``highway`` class. Routing
(:mod:`coverage.routing`) turns it into per-mode compact graphs.

Sources, all read by :func:`read_network` according to the file suffix:

* OpenStreetMap XML (``.osm``, ``.osm.bz2``, ``.xml``) and PBF (``.osm.pbf``,
  ``.pbf``), both through pyosmium, vectorised (:func:`read_osm`);
* GraphML saved by OSMnx (``.graphml``), e.g. by :func:`fetch_network`;
* a planner's own road file (``.shp``, ``.gpkg``, ``.geojson``) through
  :mod:`coverage.roadfile` (class column found by name or values, Chinese classes).

Both OSM formats go through one reader, so one extract yields the same network both
ways, the same as OSMnx's unsimplified graph of it: ways whose ``highway`` value is a
road class of ``coverage/data/road_classes.csv`` and that are not areas (``area=yes``);
one-way where ``oneway`` is yes/true/1/-1/reverse (-1 and reverse run against the
drawing direction, as in OSMnx), on roundabouts, and on motorways; every pair of
consecutive way nodes is one edge, stored once. Beyond OSMnx, the reader keeps what
routing needs of the tags: ``maxspeed`` (caps car speeds), ``access`` and its
per-mode overrides (``closed_walk``/``closed_ebike``/``closed_car`` columns,
:data:`coverage.modes.ACCESS_KEYS`), and ``route=ferry`` ways as ``ferry`` edges whose
first segment carries the boarding wait (``wait_s``, :data:`coverage.modes.FERRY_WAIT_S`).
``highway=steps`` is walked only (the speed table closes it to vehicles).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
import pandas as pd

from coverage.errors import InputError, atomic_path
from coverage.network_checks import (check_edge_table, check_node_coordinates, graphml_problem,
                                     osm_xml_problem)


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
    topology
        Connectivity report (:func:`coverage.network_repair.topology_report`) once checked.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    source: str = ""
    provenance: dict = field(default_factory=dict)
    topology: dict | None = None


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

#: Line vertices of a road file closer than this (m) become one node.
SNAP_TOLERANCE_M = 0.5

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


# --- OpenStreetMap XML and PBF ----------------------------------------------

def read_osm(path: str | Path) -> RoadNetwork:
    """Read the road network of an OpenStreetMap XML or PBF file with pyosmium.

    Node locations are cached by libosmium while the file streams; Python touches
    only highway and ferry ways, and lengths and edges are computed with numpy.
    Segments that reference nodes missing from a clipped extract are dropped.

    Raises
    ------
    InputError
        If the file is missing, empty, malformed or has no highway ways.
    """
    import osmium

    from coverage.modes import FERRY_WAIT_S, MODES, access_closed

    path = _existing_file(path)
    kind = "PBF" if _has_suffix(path, _PBF_SUFFIXES) else "XML"
    classes = road_classes()
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    counts, highway, oneway, reverse, names, lanes, maxspeed = [], [], [], [], [], [], []
    closed: dict[str, list[bool]] = {mode: [] for mode in MODES}
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway", "route"))
        )
        generator = processor.header.get("generator")
        for way in processor:
            tags = way.tags
            cls = "ferry" if tags.get("route") == "ferry" else classes.get(_fold(tags.get("highway")))
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
            for mode in MODES:
                closed[mode].append(access_closed(tags, mode))
    except (RuntimeError, osmium.InvalidLocationError) as exc:
        # name the node when the XML says which one (pyosmium only says what)
        raise (kind == "XML" and osm_xml_problem(path)
               or InputError(path, f"malformed OpenStreetMap {kind}: {exc}")) from exc
    if not counts:
        raise InputError(path, "no highway ways: expected OpenStreetMap ways tagged highway=*")

    refs_a = np.asarray(refs, dtype=np.int64)
    x = np.asarray(xs, dtype=np.int64)
    y = np.asarray(ys, dtype=np.int64)
    valid = x != _UNDEFINED_COORDINATE
    if kind == "XML" and not valid.all():
        # pyosmium drops a node without lat/lon as if it were clipped off: name it instead
        problem = osm_xml_problem(path)
        if problem is not None:
            raise problem
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
        **{f"closed_{mode}": np.asarray(flags, dtype=bool)[w] for mode, flags in closed.items()},
    }
    # A ferry's boarding wait, once per crossing: on the first segment of its way.
    ferry = attrs["highway"] == "ferry"
    first = np.r_[True, w[1:] != w[:-1]]
    attrs["wait_s"] = np.where(ferry & first, FERRY_WAIT_S, 0.0)
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


def read_graphml(path: str | Path) -> RoadNetwork:
    """Read a road network saved by OSMnx as GraphML (simplified or not).

    Raises
    ------
    InputError
        If the file is missing, empty, not GraphML from OSMnx, or has no highway edges.
    """
    import networkx as nx
    import osmnx as ox
    import shapely

    path = _existing_file(path)
    try:
        graph = ox.load_graphml(path)
    except ParseError as exc:
        raise InputError(path, f"not a GraphML file saved by OSMnx: {exc!r}") from exc
    except (nx.NetworkXError, KeyError, ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise (graphml_problem(path)
               or InputError(path, f"not a GraphML file saved by OSMnx: {exc!r}")) from None
    crs = graph.graph.get("crs", "epsg:4326")
    if str(crs).lower() not in ("epsg:4326", "wgs84"):
        raise InputError(path, f"graph is in {crs}; expected an unprojected (EPSG:4326) graph")
    return _from_osmnx(graph, path, _osm_provenance(graph.graph.get("created_with")))


# --- a planner's road file ---------------------------------------------------

def _snap_nodes(x: np.ndarray, y: np.ndarray, tolerance: float) -> np.ndarray:
    """Node label per vertex: vertices within ``tolerance`` metres share one node."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(tolerance, output_type="ndarray")
    n = len(x)
    links = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(links, directed=False)[1]


# --- dispatch, download, summary ---------------------------------------------

def read_network(path: str | Path, **kw) -> RoadNetwork:
    """Read a road network, choosing the loader by the file suffix.

    ``.osm``/``.osm.bz2``/``.xml``/``.osm.pbf``/``.pbf`` -> :func:`read_osm`;
    ``.graphml`` -> :func:`read_graphml`; ``.shp``/``.gpkg``/
    ``.geojson``/``.json`` -> :func:`coverage.roadfile.read_road_file` (``kw`` are its
    options);
    ``.parquet`` -> :func:`read_edge_table`.
    """
    path = Path(path)
    if _has_suffix(path, (".parquet",)):
        loader = read_edge_table
    elif _has_suffix(path, _PBF_SUFFIXES + _XML_SUFFIXES):
        loader = read_osm
    elif _has_suffix(path, (".graphml",)):
        loader = read_graphml
    elif _has_suffix(path, _ROAD_FILE_SUFFIXES):
        from coverage.roadfile import read_road_file

        return read_road_file(path, **kw)
    else:
        raise InputError(path, "unknown road network format; expected .osm, .osm.bz2, .xml, "
                         ".osm.pbf, .pbf, .graphml, .shp, .gpkg, .geojson or .parquet")
    if kw:
        raise InputError(path, f"options {', '.join(kw)} apply only to road files (.shp, .gpkg, .geojson)")
    network = loader(path)
    check_node_coordinates(network.nodes, path)  # readers take a latitude of 95° as it is
    return network


#: Columns of an edge table (:func:`coverage.batch.write_network_parquet`): each edge
#: with its end coordinates (WGS-84), so that it can be read by window without a
#: node table.
EDGE_TABLE_COLUMNS = ("u", "v", "ux", "uy", "vx", "vy", "length", "highway", "oneway")
#: Optional columns of an edge table: the OSM tags routing reads (see :func:`read_osm`).
ROUTING_TAG_COLUMNS = ("maxspeed", "wait_s", "closed_walk", "closed_ebike", "closed_car")


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
    tags = [c for c in ROUTING_TAG_COLUMNS if c in names]
    table = pq.read_table(path, columns=[*EDGE_TABLE_COLUMNS, *tags],
                          filters=filters).to_pandas()
    check_edge_table(table, path)
    ends = pd.DataFrame({"id": np.concatenate([table["u"], table["v"]]),
                         "x": np.concatenate([table["ux"], table["vx"]]),
                         "y": np.concatenate([table["uy"], table["vy"]])})
    nodes = ends.drop_duplicates("id").set_index("id").sort_index()
    nodes.index.name = "osmid"
    edges = table[["u", "v", "length", "highway", "oneway", *tags]].assign(name="")
    return RoadNetwork(nodes=nodes, edges=edges.reset_index(drop=True), source=str(path))


def network_cache_path(boundary, cache_dir: str | Path, network_type: str = "all") -> Path:
    """Where :func:`fetch_network` keeps the network of a boundary polygon (WGS-84)."""
    import shapely

    digest = hashlib.sha256(shapely.normalize(boundary).wkb + network_type.encode()).hexdigest()
    return Path(cache_dir) / f"osm_{network_type}_{digest[:16]}.graphml"


#: OSMnx's default Overpass endpoint.
OVERPASS_URL = "https://overpass-api.de/api"


def check_overpass(url: str = OVERPASS_URL, timeout: float = 5.0) -> None:
    """Raise :class:`InputError` in one line unless the Overpass server answers within ``timeout``.

    Any HTTP answer counts (the server is there); a refused or silent connection is the
    usual case on a health commission's intranet.
    """
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url.rstrip("/") + "/status", timeout=timeout).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(None, f"无法连接 cannot reach the Overpass server {url} ({reason}); "
                         "离线时 offline: use a provincial OpenStreetMap extract (.osm.pbf, e.g. cut from "
                         "Geofabrik's asia/china with osmium extract) or the planner's road file, named as "
                         "files.network in region.toml (or --network); --overpass-url points to a "
                         "mirror or an intranet Overpass") from None


def fetch_network(boundary, cache_dir: str | Path, *, network_type: str = "all",
                  overpass_url: str = OVERPASS_URL, timeout: float = 5.0) -> Path:
    """Download the OpenStreetMap roads inside a boundary, or reuse the cached copy.

    The server is checked (:func:`check_overpass`) before OSMnx is imported, so an
    offline machine gets one clear error within ``timeout`` seconds.

    Parameters
    ----------
    boundary
        (Multi)Polygon in WGS-84.
    cache_dir
        Folder of the cache; the file name is a hash of the polygon and network type.
    network_type
        OSMnx network type (``'all'``, ``'drive'``, ``'walk'`` ...).
    overpass_url
        Overpass API endpoint: a mirror or an intranet server.
    timeout
        Seconds to wait for the server to answer the check (downloads get 30 times as long).

    Returns
    -------
    pathlib.Path
        The GraphML file (unsimplified, all components), for :func:`read_network`.
    """
    path = network_cache_path(boundary, cache_dir, network_type)
    if path.is_file():
        return path
    check_overpass(overpass_url, timeout)
    import osmnx as ox

    ox.settings.overpass_url = overpass_url.rstrip("/")
    ox.settings.requests_timeout = int(max(timeout * 30, 60))
    try:
        graph = ox.graph_from_polygon(boundary, network_type=network_type, simplify=False,
                                      retain_all=True, truncate_by_edge=True)
    except Exception as exc:  # noqa: BLE001 - any failure of the download is one line for the user
        raise InputError(None, f"download from {overpass_url} failed ({type(exc).__name__}: {exc}); "
                         "use a provincial .osm.pbf extract or the planner's road file instead") from None
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
