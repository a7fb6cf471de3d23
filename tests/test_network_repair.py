"""Topology report and repair on a generated planner's file (tests/planner_roads.py)."""

import sys
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from planner_roads import hand_repaired_graph, lonlat, write_planner_roads  # noqa: E402

from coverage.cli import main  # noqa: E402
from coverage.errors import InputError  # noqa: E402
from coverage.modes import speed_table  # noqa: E402
from coverage.network import read_network  # noqa: E402
from coverage.network_repair import repair_road_file, topology_report  # noqa: E402
from coverage.roadfile import RoadFileWarning, open_network  # noqa: E402


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planner")
    raw = write_planner_roads(folder)
    fixed = folder / "fixed.gpkg"
    result = repair_road_file(raw, fixed)
    return raw, fixed, result


def _pieces_of(network):
    graph = nx.Graph()
    graph.add_edges_from(zip(network.edges["u"], network.edges["v"]))
    return list(nx.connected_components(graph))


def test_planner_file_loads_without_options_and_is_reported_fragmented(planner):
    raw, _, _ = planner
    with pytest.warns(RoadFileWarning, match="路网不连通.*fragmented"):
        network = open_network(raw)
    assert set(network.edges["highway"]) == {"motorway", "primary", "secondary", "tertiary", "motorway_link"}
    report = network.topology
    assert report["fragmented"] and report["pieces"] > 5 and report["largest_share"] < 0.5
    assert report["near_misses"] >= 6  # five gaps at junctions, the ramp's two ends, T-junctions
    assert report["unnoded_crossings"] == 4  # 支路/次干路 × 支路 y=600, 支路 × 次干路 y=300, a duplicate
    # the expressway's crossings are bridges, not missing junctions
    assert topology_report(network, grade_separated=frozenset())["unnoded_crossings"] == 9  # 5 under it


def test_repair_makes_one_piece_and_marks_what_it_added(planner):
    _, fixed, result = planner
    s = result.summary
    assert s["pieces_before"] > 5 and s["pieces_after"] == 1
    assert s["largest_share_after"] == pytest.approx(1.0)
    assert (s["duplicates"], s["crossings_noded"], s["t_junctions"]) == (2, 3, 4)
    # gaps of 7, 8, 10, 10, 12, 12, 15 m closed by connectors
    assert sorted(np.round(result.repairs.query("kind == 'connector'")["length_m"], 3)) == \
        [7, 8, 10, 10, 12, 12, 15]
    assert s["connectors"] == 7 and s["connector_length_m"] == pytest.approx(74.0, abs=1e-3)
    roads = gpd.read_file(fixed, layer="roads")
    assert roads["added"].sum() == 7 and set(roads["ROADLEVEL"]) == {"快速路", "主干路", "次干路", "支路", "匝道"}
    assert gpd.read_file(fixed, layer="disconnected").empty
    with warnings.catch_warnings():
        warnings.simplefilter("error", RoadFileWarning)
        network = open_network(fixed)  # the repaired file loads without options, unwarned
    assert network.topology["pieces"] == 1 and network.topology["unnoded_crossings"] == 0


def test_expressway_is_joined_only_by_its_ramp(planner, tmp_path):
    _, fixed, _ = planner
    network = read_network(fixed)
    edges = network.edges
    graded = edges["highway"] == "motorway"
    at_grade = ~edges["highway"].isin(["motorway", "motorway_link"])
    express_nodes = set(edges.loc[graded, "u"]) | set(edges.loc[graded, "v"])
    street_nodes = set(edges.loc[at_grade, "u"]) | set(edges.loc[at_grade, "v"])
    assert not express_nodes & street_nodes  # no node where it crosses a street, none at the stub below it
    # without the ramp the expressway stays a piece of its own
    result = repair_road_file(write_planner_roads(tmp_path, ramp=False), tmp_path / "noramp.gpkg")
    assert result.summary["pieces_after"] == 2
    disconnected = gpd.read_file(tmp_path / "noramp.gpkg", layer="disconnected")
    assert list(disconnected["ROADLEVEL"]) == ["快速路"]


def test_repair_is_idempotent_and_deterministic(planner, tmp_path):
    raw, fixed, result = planner
    again = repair_road_file(fixed, tmp_path / "again.gpkg")
    s = again.summary
    assert (s["connectors"], s["crossings_noded"], s["t_junctions"], s["duplicates"]) == (0, 0, 0, 0)
    first = gpd.read_file(fixed, layer="roads")
    second = gpd.read_file(tmp_path / "again.gpkg", layer="roads")
    assert len(first) == len(second)
    assert shapely.equals_exact(first.geometry.to_numpy(), second.geometry.to_numpy(), tolerance=1e-9).all()
    twice = repair_road_file(raw, tmp_path / "twice.gpkg")
    assert twice.summary == result.summary
    assert twice.roads.geometry.to_wkb().tolist() == result.roads.geometry.to_wkb().tolist()


def test_travel_times_equal_networkx_on_the_hand_repaired_graph(planner):
    from coverage import routing

    _, fixed, _ = planner
    hand = hand_repaired_graph()
    kmh = speed_table()["car"]
    for _, _, data in hand.edges(data=True):
        data["seconds"] = data["length"] / (kmh[data["highway"]] / 3.6)
    facility = (900, 600)
    expected = nx.single_source_dijkstra_path_length(hand, facility, weight="seconds")
    points = sorted(expected)
    lon, lat = np.array([lonlat(*p) for p in points]).T
    f_lon, f_lat = lonlat(*facility)
    graph = routing.build_graph(read_network(fixed), "car")
    table = routing.point_travel_times(graph, lon, lat, np.array([f_lon]), np.array([f_lat]))
    assert table["snap_distance_m"].max() < 0.01
    np.testing.assert_allclose(table["minutes"].to_numpy() * 60,
                               [expected[p] for p in points], rtol=1e-6, atol=1e-3)


def test_cli_info_repair_and_refusals(planner, tmp_path, capsys):
    raw, _, _ = planner
    assert main(["network", "info", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "连通性 connectivity" in out and "fragmented" in out
    out_file = tmp_path / "fixed.gpkg"
    assert main(["network", "repair", str(raw), "--tolerance", "20", "--out", str(out_file)]) == 0
    assert "pieces:" in capsys.readouterr().out and out_file.is_file()
    # a file the tool did not write is never overwritten
    mine = tmp_path / "mine.gpkg"
    mine.write_text("planner's notes", encoding="utf-8")
    assert main(["network", "repair", str(raw), "--out", str(mine)]) == 2
    assert "not written by coverage network repair" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "planner's notes"
    # tolerance too small for the gaps: pieces remain, all reported
    assert main(["network", "repair", str(raw), "--tolerance", "5", "--out", str(out_file)]) == 0
    assert "→ 1 " not in capsys.readouterr().out.splitlines()[0]


def test_fragmented_warning_is_one_line_on_traveltime(planner, tmp_path, capsys):
    raw, _, _ = planner
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\n1,%.7f,%.7f\n" % lonlat(0, 0), encoding="utf-8")
    code = main(["traveltime", "--mode", "car", "--points", str(points), "--network", str(raw),
                 "--out", str(tmp_path / "t.csv")])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("warning: ") == 1 and "路网不连通" in err and "Traceback" not in err


def test_pack_network_options_reach_every_command(tmp_path, capsys):
    """A pack whose road file is the planner's, read with region.toml [network] options."""
    import shutil

    from coverage.region import load_region

    root = Path(__file__).resolve().parents[1]
    pack = tmp_path / "pack"
    shutil.copytree(root / "regions" / "beibei", pack, ignore=shutil.ignore_patterns("layers", "cache"))
    raw = write_planner_roads(pack / "network", name="planner.shp")
    manifest = pack / "region.toml"
    text = manifest.read_text(encoding="utf-8").replace('network = "network/roads.osm"',
                                                        'network = "network/planner.shp"')
    manifest.write_text(text + '\n[network]\nclass_column = "NAME"\n', encoding="utf-8")
    assert main(["validate", str(pack)]) == 2  # NAME holds no classes: the option is used
    assert "unknown road class 'H0'" in capsys.readouterr().err
    manifest.write_text(text + '\n[network]\nclass_column = "ROADLEVEL"\ntolerance = 20\n', encoding="utf-8")
    assert main(["validate", str(pack)]) == 0
    captured = capsys.readouterr()
    assert "连通片 pieces" in captured.out and "路网不连通" in captured.err
    assert "  ⚠ 路网不连通" in captured.out  # a caveat of the pack once its network is loaded
    # another road file given to a command is not read with the pack's file's options
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\n1,106.30,29.60\n", encoding="utf-8")
    roads_cn = Path(__file__).parent / "data" / "roads_cn.geojson"
    assert main(["traveltime", "--region", str(pack), "--mode", "walk", "--points", str(points),
                 "--network", str(roads_cn), "--out", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    # so is a road file uploaded in the app; a fragmented upload becomes a caveat
    from coverage.views import with_uploads

    region = load_region(pack)
    with pytest.warns(RoadFileWarning, match="fragmented"):
        uploaded, _ = with_uploads(region, roads=(roads_cn.read_bytes(), "roads.geojson"))
    assert "路网不连通" in uploaded.caveats["network_topology"]
    assert region.network_options.class_column == "ROADLEVEL"
    # batch parts read the file with the same options, and changing them redoes the parts
    from coverage.batch import make_tasks, read_network_window

    task = make_tasks(load_region(pack), targets=False)[0]
    assert '"class_column": "ROADLEVEL"' in task.network_options
    window = read_network_window(task.network, (100, 20, 110, 35), {"class_column": "ROADLEVEL"})
    assert len(window.edges) == len(read_network(raw).edges)
    with pytest.raises(InputError, match="unknown road class 'H0'"):
        read_network_window(task.network, (100, 20, 110, 35), {"class_column": "NAME"})
    manifest.write_text(text + '\n[network]\ntolerance = "far"\n', encoding="utf-8")
    assert main(["validate", str(pack)]) == 2
    assert "region.toml, network.tolerance: expected metres" in capsys.readouterr().err
    assert raw.exists()


def test_bridge_column_and_grade_separated_classes_are_never_noded(planner, tmp_path):
    from coverage.roadfile import RoadFileOptions

    lines = [shapely.LineString([(640_000, 3_290_000), (640_400, 3_290_000)]),
             shapely.LineString([(640_200, 3_289_800), (640_200, 3_290_200)])]
    for flag, noded in (("否", 1), ("是", 0)):
        path = tmp_path / f"bridge_{noded}.geojson"
        gpd.GeoDataFrame({"等级": ["支路", "主干路"], "桥梁": ["否", flag]}, geometry=lines,
                         crs="EPSG:32648").to_file(path, engine="pyogrio")
        result = repair_road_file(path, tmp_path / f"bridge_{noded}.gpkg")
        assert result.summary["crossings_noded"] == noded
        assert result.summary["pieces_after"] == 2 - noded
    # with no grade-separated class, the expressway is noded where it crosses the four streets
    raw, _, result = planner
    open_all = repair_road_file(raw, tmp_path / "all.gpkg", RoadFileOptions(grade_separated=()))
    assert open_all.summary["crossings_noded"] == result.summary["crossings_noded"] + 4
