"""Road network loaders: OSM PBF and XML agree, GraphML round trip, planner road files."""

import json
from pathlib import Path

import numpy as np
import osmium
import osmnx as ox
import pytest
import shapely

from coverage.cli import main
from coverage.crs import wgs84_to_gcj02
from coverage.errors import InputError
from coverage.network import (
    fetch_network,
    haversine_m,
    network_cache_path,
    network_info,
    read_network,
)
from coverage.roadfile import read_road_file

DATA = Path(__file__).parent / "data"
HELSINKI = DATA / "Helsinki.osm.pbf"
ROADS_CN = DATA / "roads_cn.geojson"


def _write_osm(source, target, keep=lambda obj: True) -> None:
    with osmium.SimpleWriter(str(target), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY):
            if keep(obj):
                writer.add(obj)


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory):
    """The Helsinki extract as PBF and XML, without the ways it clips (OSMnx cannot read those)."""
    folder = tmp_path_factory.mktemp("helsinki")
    present = {n.id for n in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE)}

    def complete_highway(obj):
        return not obj.is_way() or ("highway" in obj.tags and all(n.ref in present for n in obj.nodes))

    paths = {"pbf": folder / "helsinki.osm.pbf", "xml": folder / "helsinki.osm"}
    for path in paths.values():
        _write_osm(HELSINKI, path, complete_highway)
    return paths


@pytest.fixture(scope="module")
def helsinki_xml_network(helsinki):
    return read_network(helsinki["xml"])


def _assert_same(a, b, rel=1e-3):
    assert len(a.nodes) == len(b.nodes)
    assert len(a.edges) == len(b.edges)
    assert a.edges["length"].sum() == pytest.approx(b.edges["length"].sum(), rel=rel)
    assert a.edges["oneway"].sum() == b.edges["oneway"].sum()


def test_pbf_and_xml_give_the_same_network(helsinki, helsinki_xml_network):
    pbf = read_network(helsinki["pbf"])
    xml = helsinki_xml_network
    _assert_same(pbf, xml)
    assert set(zip(pbf.edges["u"], pbf.edges["v"])) == set(zip(xml.edges["u"], xml.edges["v"]))
    assert (pbf.edges["highway"].value_counts() == xml.edges["highway"].value_counts()).all()
    assert pbf.provenance["quality"] == "surveyed"


def test_pbf_reads_a_clipped_extract(helsinki):
    net = read_network(HELSINKI)
    clean = read_network(helsinki["pbf"])
    # the clipped ways keep their segments inside the extract
    assert len(net.edges) > len(clean.edges)
    assert net.edges["u"].isin(net.nodes.index).all() and net.edges["v"].isin(net.nodes.index).all()
    assert (net.edges["length"] > 0).all()
    assert net.nodes["x"].between(24.9, 25.0).all() and net.nodes["y"].between(60.1, 60.2).all()
    # two-way roads are stored once: no edge has a reverse twin of the same class and length
    e = net.edges[~net.edges["oneway"]]
    forward = set(zip(e["u"], e["v"]))
    assert not any((v, u) in forward for u, v in forward)
    # lengths are great-circle distances between the edge's nodes
    xy = net.nodes.loc[net.edges["u"]].to_numpy(), net.nodes.loc[net.edges["v"]].to_numpy()
    np.testing.assert_allclose(haversine_m(xy[0][:, 0], xy[0][:, 1], xy[1][:, 0], xy[1][:, 1]),
                               net.edges["length"])


def test_xml_of_a_clipped_extract_reads_as_the_pbf_does(tmp_path):
    path = tmp_path / "clipped.osm"
    _write_osm(HELSINKI, path, lambda obj: not obj.is_way() or "highway" in obj.tags)
    xml, pbf = read_network(path), read_network(HELSINKI)
    _assert_same(xml, pbf, rel=1e-9)
    assert set(zip(xml.edges["u"], xml.edges["v"])) == set(zip(pbf.edges["u"], pbf.edges["v"]))


ONEWAY_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand-made test">
  <node id="1" version="1" lat="29.600" lon="106.300"/>
  <node id="2" version="1" lat="29.600" lon="106.301"/>
  <node id="3" version="1" lat="29.601" lon="106.301"/>
  <node id="4" version="1" lat="29.602" lon="106.301"/>
  <node id="5" version="1" lat="29.602" lon="106.302"/>
  <node id="6" version="1" lat="29.603" lon="106.302"/>
  <way id="11" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="name" v="两路"/></way>
  <way id="12" version="1"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="13" version="1"><nd ref="3"/><nd ref="4"/><tag k="highway" v="motorway"/></way>
  <way id="14" version="1"><nd ref="4"/><nd ref="5"/><nd ref="6"/><nd ref="4"/><tag k="highway" v="tertiary"/><tag k="junction" v="roundabout"/></way>
  <way id="15" version="1"><nd ref="1"/><nd ref="6"/><tag k="highway" v="service"/><tag k="oneway" v="no"/><tag k="lanes" v="2"/></way>
  <way id="16" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/></way>
  <way id="17" version="1"><nd ref="1"/><nd ref="3"/><nd ref="5"/><nd ref="1"/><tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
  <way id="18" version="1"><nd ref="2"/><nd ref="5"/><tag k="highway" v="proposed"/></way>
  <way id="19" version="1"><nd ref="5"/><nd ref="6"/><tag k="highway" v="primary"/><tag k="oneway" v="yes"/></way>
</osm>
"""


@pytest.fixture
def oneway_files(tmp_path):
    xml = tmp_path / "oneway.osm"
    xml.write_text(ONEWAY_XML, encoding="utf-8")
    pbf = tmp_path / "oneway.osm.pbf"
    _write_osm(xml, pbf)
    return xml, pbf


@pytest.mark.parametrize("kind", ["xml", "pbf"])
def test_oneway_and_highway_rules(oneway_files, kind):
    net = read_network(oneway_files[0 if kind == "xml" else 1])
    got = sorted(net.edges[["u", "v", "highway", "oneway"]].itertuples(index=False, name=None))
    assert got == sorted([
        (1, 2, "residential", False),
        (3, 2, "residential", True),  # oneway=-1 runs against the drawing direction
        (3, 4, "motorway", True),  # motorways are one-way without a tag
        (4, 5, "tertiary", True), (5, 6, "tertiary", True), (6, 4, "tertiary", True),  # roundabout
        (1, 6, "service", False),
        (5, 6, "primary", True),
    ])
    assert len(net.edges) == 8  # buildings, areas and proposed roads are not roads
    assert set(net.nodes.index) == {1, 2, 3, 4, 5, 6}
    assert net.edges.loc[net.edges["u"].eq(1) & net.edges["v"].eq(2), "name"].item() == "两路"
    assert net.edges.loc[net.edges["highway"].eq("service"), "lanes"].item() == 2
    assert net.provenance["source"] == "OpenStreetMap"


def test_graphml_round_trip(tmp_path, helsinki, helsinki_xml_network):
    graph = ox.graph_from_xml(helsinki["xml"], simplify=False, retain_all=True)
    path = tmp_path / "helsinki.graphml"
    ox.save_graphml(graph, path)
    net = read_network(path)
    _assert_same(net, helsinki_xml_network, rel=1e-9)
    assert "geometry" not in net.edges

    simplified = tmp_path / "simplified.graphml"
    ox.save_graphml(ox.simplify_graph(graph), simplified)
    simple = read_network(simplified)
    assert len(simple.edges) < len(net.edges)
    # each two-way road still counted once; merged edges also carry the bits of
    # platforms and trails simplification absorbed, hence 1 %
    assert simple.edges["length"].sum() == pytest.approx(net.edges["length"].sum(), rel=1e-2)
    assert not simple.edges["highway"].isin(["platform", "trail"]).any()
    assert simple.edges["geometry"].map(lambda g: g.geom_type == "LineString").all()


def test_fetch_network_reuses_the_cache(tmp_path, oneway_files):
    boundary = shapely.box(106.29, 29.59, 106.31, 29.61)
    cached = network_cache_path(boundary, tmp_path)
    ox.save_graphml(ox.graph_from_xml(oneway_files[0], simplify=False, retain_all=True), cached)
    # no network is reachable in tests: a download attempt would fail
    assert fetch_network(boundary, tmp_path) == cached
    assert network_cache_path(shapely.box(106.29, 29.59, 106.31, 29.62), tmp_path) != cached
    assert len(read_network(cached).edges) == 8


# --- planner road files -------------------------------------------------------

def test_road_file_with_chinese_classes():
    net = read_network(ROADS_CN)
    edges = net.edges
    assert len(net.nodes) == 15  # every vertex is a node; the 0.2 m gap is closed
    assert len(edges) == 10
    info = network_info(net)
    assert info["components"] == 5  # main web, village road, expressway bridge, 2 county-road parts
    assert dict(zip(edges["name"], edges["highway"]))["科学大道"] == "primary"
    assert set(edges["highway"]) == {"primary", "secondary", "tertiary", "motorway_link",
                                     "unclassified", "motorway"}
    by_name = edges.set_index("name")
    # 支路 joins 科学大道 at its interior vertex; 次干路 starts at its end
    mid = net.nodes.index[np.isclose(net.nodes["x"], 106.305) & np.isclose(net.nodes["y"], 29.600)].item()
    end = net.nodes.index[np.isclose(net.nodes["x"], 106.310) & np.isclose(net.nodes["y"], 29.600)].item()
    assert by_name.loc["曾家支路", "u"] == mid
    assert by_name.loc["西永大道", "u"] == end
    # 单行 是 keeps the drawing direction, -1 reverses it, 否/empty are two-way
    assert by_name.loc["学府单行路", "oneway"] and by_name.loc["逆向匝道", "oneway"]
    ramp_u = net.nodes.loc[by_name.loc["逆向匝道", "u"]]
    assert ramp_u["y"] == pytest.approx(29.610)
    assert edges["oneway"].sum() == 2
    assert by_name.loc["西永大道", "lanes"] == 4
    assert edges["length"].sum() == pytest.approx(info["length_km"] * 1000)


def _gcj_copy(tmp_path) -> Path:
    data = json.loads(ROADS_CN.read_text(encoding="utf-8"))
    for feature in data["features"]:
        geometry = shapely.geometry.shape(feature["geometry"])
        moved = shapely.transform(geometry, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])))
        feature["geometry"] = shapely.geometry.mapping(moved)
    path = tmp_path / "roads_gcj02.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_road_file_in_gcj02(tmp_path):
    wgs = read_network(ROADS_CN)
    path = _gcj_copy(tmp_path)
    raw = read_network(path)
    offset = haversine_m(raw.nodes["x"], raw.nodes["y"], wgs.nodes["x"], wgs.nodes["y"])
    assert ((offset > 300) & (offset < 700)).all()  # GCJ-02 read as WGS-84 lands ~500 m off
    fixed = read_network(path, crs="GCJ02")
    back = haversine_m(fixed.nodes["x"], fixed.nodes["y"], wgs.nodes["x"], wgs.nodes["y"])
    assert back.max() < 0.01
    assert len(fixed.edges) == len(wgs.edges)


def test_road_file_projected_geopackage(tmp_path):
    import geopandas as gpd

    path = tmp_path / "roads.gpkg"
    gpd.read_file(ROADS_CN).to_crs("EPSG:32648").to_file(path, layer="roads")
    net = read_network(path)
    wgs = read_network(ROADS_CN)
    assert len(net.nodes) == len(wgs.nodes)
    assert haversine_m(net.nodes["x"], net.nodes["y"], wgs.nodes["x"], wgs.nodes["y"]).max() < 0.01


def test_road_file_class_mapping_override(tmp_path):
    net = read_road_file(ROADS_CN, class_mapping={"主干路": "trunk"})
    assert set(net.edges.loc[net.edges["name"] == "科学大道", "highway"]) == {"trunk"}
    mapping = tmp_path / "classes.csv"
    mapping.write_text("name,highway\n主干路,primay\n", encoding="utf-8")
    with pytest.raises(InputError, match="classes.csv row 1, highway: '主干路' maps to 'primay'"):
        read_road_file(ROADS_CN, class_mapping=mapping)


def test_road_file_explicit_columns(tmp_path):
    data = json.loads(ROADS_CN.read_text(encoding="utf-8"))
    for feature in data["features"]:
        props = feature["properties"]
        feature["properties"] = {"kind": props["等级"], "dir": props["单行"], "label": props["道路名称"]}
    path = tmp_path / "renamed.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    net = read_network(path, class_column="kind", oneway_column="dir", name_column="label")
    assert net.edges["oneway"].sum() == 2
    assert "科学大道" in set(net.edges["name"])


# --- errors ------------------------------------------------------------------

def _feature(props, geometry):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _geojson(tmp_path, features, name="bad.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


LINE = {"type": "LineString", "coordinates": [[106.3, 29.6], [106.31, 29.6]]}


def test_error_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="nowhere.osm.pbf: file not found"):
        read_network(tmp_path / "nowhere.osm.pbf")
    for name in ("empty.osm", "empty.osm.pbf", "empty.geojson", "empty.graphml"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(InputError, match=f"{name}: file is empty"):
            read_network(tmp_path / name)
    with pytest.raises(InputError, match="none.geojson: the file has no features"):
        read_network(_geojson(tmp_path, [], "none.geojson"))
    with pytest.raises(InputError, match="roads.csv: unknown road network format"):
        read_network(tmp_path / "roads.csv")


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_error_no_highway_ways(tmp_path, suffix):
    xml = tmp_path / "buildings.osm"
    xml.write_text(ONEWAY_XML.replace('k="highway"', 'k="building"'), encoding="utf-8")
    path = xml
    if suffix == ".osm.pbf":
        path = tmp_path / "buildings.osm.pbf"
        _write_osm(xml, path)
    with pytest.raises(InputError, match=f"buildings{suffix}: no highway ways"):
        read_network(path)


def test_error_malformed_osm(tmp_path):
    xml = tmp_path / "broken.osm"
    xml.write_text(ONEWAY_XML[:700], encoding="utf-8")
    with pytest.raises(InputError, match="broken.osm: malformed OpenStreetMap XML"):
        read_network(xml)
    pbf = tmp_path / "broken.osm.pbf"
    pbf.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 10)
    with pytest.raises(InputError, match="broken.osm.pbf: malformed OpenStreetMap PBF"):
        read_network(pbf)
    graphml = tmp_path / "broken.graphml"
    graphml.write_text("<graphml><graph>", encoding="utf-8")
    with pytest.raises(InputError, match="broken.graphml: not a GraphML file saved by OSMnx"):
        read_network(graphml)


def test_error_unknown_class_names_feature_value_and_accepted(tmp_path):
    path = _geojson(tmp_path, [
        _feature({"等级": "主干路"}, LINE),
        _feature({"等级": "大马路"}, LINE),
        _feature({"等级": "小路"}, LINE),
    ])
    with pytest.raises(InputError, match=r"bad.geojson feature 2, 等级: unknown road class '大马路' "
                                         r"\(1 more features.*accepted classes: .*主干路.*快速路"):
        read_network(path)


def test_error_non_line_geometry(tmp_path):
    path = _geojson(tmp_path, [
        _feature({"等级": "支路"}, LINE),
        _feature({"等级": "支路"}, {"type": "Point", "coordinates": [106.3, 29.6]}),
    ])
    with pytest.raises(InputError, match="bad.geojson feature 2, geometry: Point is not a line"):
        read_network(path)


def test_error_bad_oneway_value(tmp_path):
    path = _geojson(tmp_path, [_feature({"等级": "支路", "单行": "maybe"}, LINE)])
    with pytest.raises(InputError, match="feature 1, 单行: 'maybe' is not a one-way value"):
        read_network(path)


def test_error_options_for_osm_files(helsinki):
    with pytest.raises(InputError, match="apply only to road files"):
        read_network(helsinki["pbf"], crs="GCJ02")


def test_cli_network_info(capsys):
    assert main(["network", "info", str(ROADS_CN)]) == 0
    out = capsys.readouterr().out
    assert "节点 nodes: 15" in out and "连通分量 weakly connected components: 5" in out
    assert main(["network", "info", "missing.osm"]) == 2
    assert "missing.osm: file not found" in capsys.readouterr().err


def test_parquet_edge_table_is_read_whole_by_read_network(tmp_path, helsinki):
    import pandas as pd

    from coverage.batch import write_network_parquet

    network = read_network(helsinki["pbf"])
    path = write_network_parquet(network, tmp_path / "edges.parquet")
    table = read_network(path)
    key = ["u", "v", "length", "highway", "oneway"]
    pd.testing.assert_frame_equal(
        table.edges[key].sort_values(["u", "v"]).reset_index(drop=True),
        network.edges[key].sort_values(["u", "v"]).reset_index(drop=True).astype(
            {"highway": str, "oneway": bool}), check_exact=True, check_dtype=False)
    used = np.union1d(network.edges["u"], network.edges["v"])
    np.testing.assert_array_equal(table.nodes.index, used)
    np.testing.assert_array_equal(table.nodes["y"], network.nodes.loc[used, "y"])
    pd.DataFrame({"u": [1]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=r"bad\.parquet.*missing column\(s\) v, ux"):
        read_network(tmp_path / "bad.parquet")
