"""Road files as they come: class column by values, route numbers, NavInfo KIND, codes, no class."""

import argparse
import socket
import time

import geopandas as gpd
import pytest
import shapely

from coverage import arguments
from coverage.cli import main
from coverage.errors import InputError
from coverage.network import check_overpass, read_network
from coverage.roadfile import (
    RoadFileWarning,
    navinfo_class,
    options_from_args,
    route_class,
)


def _lines(n):
    return [shapely.LineString([(106.30 + 0.01 * i, 29.60), (106.305 + 0.01 * i, 29.60)]) for i in range(n)]


def _write(tmp_path, columns, name="roads.geojson"):
    n = len(next(iter(columns.values())))
    path = tmp_path / name
    gpd.GeoDataFrame(columns, geometry=_lines(n), crs="EPSG:4326").to_file(path, engine="pyogrio")
    return path


def test_class_column_found_by_values(tmp_path):
    # 20 features, one value not a class: 95% known is enough
    levels = ["主干路", "次干路", "支路", "快速路", "匝道"] * 4
    path = _write(tmp_path, {"ROADLEVEL": levels[:19] + ["主干路"], "NOTE": ["现状"] * 20,
                             "CODE": [f"R{i}" for i in range(20)]})
    net = read_network(path)
    assert set(net.edges["highway"]) == {"primary", "secondary", "tertiary", "motorway", "motorway_link"}
    path = _write(tmp_path, {"LVL": levels[:19] + ["大马路"]}, "mostly.geojson")
    with pytest.raises(InputError, match=r"mostly.geojson feature 20, LVL: unknown road class '大马路'"):
        read_network(path)


def test_two_class_columns_are_named_in_the_error(tmp_path):
    path = _write(tmp_path, {"A": ["主干路", "支路"], "B": ["国道", "县道"]})
    with pytest.raises(InputError, match="several columns hold road classes: A, B; name one"):
        read_network(path)
    assert set(read_network(path, class_column="B").edges["highway"]) == {"trunk", "secondary"}


@pytest.mark.parametrize("value, expected", [
    ("G65", "motorway"), ("G5001", "motorway"), ("G212", "trunk"), ("S105", "primary"), ("S26", "motorway"),
    ("X105", "secondary"), ("y012", "tertiary"), ("C001", "unclassified"), ("Z003", "service"),
    ("G212线", "trunk"), ("X1", None), ("Q105", None), ("212", None),
])
def test_route_numbers(value, expected):
    assert route_class(value) == expected


def test_route_numbers_and_technical_classes_in_a_file(tmp_path):
    path = _write(tmp_path, {"路线编号": ["G212", "S105", "X105", "Y012", "C001"],
                             "技术等级": ["一级公路", "二级公路", "三级公路", "四级公路", "等外公路"]})
    assert list(read_network(path).edges["highway"]) == ["primary", "secondary", "tertiary", "unclassified", "track"]
    assert list(read_network(path, class_column="路线编号").edges["highway"]) == \
        ["trunk", "primary", "secondary", "tertiary", "unclassified"]


def test_navinfo_kind_codes(tmp_path):
    assert navinfo_class("0302") == "primary"
    assert navinfo_class("0004|000b") == "motorway"
    assert navinfo_class("0a00") is None and navinfo_class("主干路") is None
    path = _write(tmp_path, {"KIND": ["0001", "0204", "0302|030b", "0401", "0601", "0801"]})
    assert list(read_network(path).edges["highway"]) == \
        ["motorway", "trunk", "primary", "secondary", "unclassified", "unclassified"]


def test_numeric_class_codes_through_a_mapping_file(tmp_path):
    path = _write(tmp_path, {"RANK": [1, 2, 3], "LANES": [2, 2, 1]}, "codes.geojson")
    mapping = tmp_path / "codes.csv"
    mapping.write_text("name,highway\n1,motorway\n2,primary\n3,tertiary\n", encoding="utf-8")
    with pytest.raises(InputError, match="several columns hold road classes: RANK, LANES"):
        read_network(path, class_mapping=mapping)
    net = read_network(path, class_mapping=mapping, class_column="RANK")
    assert list(net.edges["highway"]) == ["motorway", "primary", "tertiary"]


def test_no_class_column_loads_a_stated_default_with_a_warning(tmp_path):
    path = _write(tmp_path, {"ID": [1, 2]})
    with pytest.warns(RoadFileWarning, match="no road-class column.*'unclassified'"):
        net = read_network(path)
    assert set(net.edges["highway"]) == {"unclassified"}
    with pytest.warns(RoadFileWarning, match="'支路' \\(tertiary\\)"):
        assert set(read_network(path, default_class="支路").edges["highway"]) == {"tertiary"}
    speeds = _write(tmp_path, {"SPEED": [80, 36]}, "speeds.geojson")
    with pytest.warns(RoadFileWarning, match="speeds of 'SPEED'"):
        assert list(read_network(speeds).edges["highway"]) == ["motorway", "secondary"]


def test_numeric_oneway_codes(tmp_path):
    path = _write(tmp_path, {"等级": ["支路"] * 3, "DIRECTION": [1, 2, 3]})
    with pytest.raises(InputError, match="feature 2, DIRECTION: '?2'? is not a one-way value.*--oneway-codes"):
        read_network(path)
    for codes in ("navinfo", {"1": "both", "2": "forward", "3": "backward"}):
        net = read_network(path, oneway_codes=codes)
        assert list(net.edges["oneway"]) == [False, True, True]
        start = net.nodes.loc[net.edges["u"], "x"].to_numpy()
        assert start[1] == pytest.approx(106.31) and start[2] == pytest.approx(106.325)  # 3 runs against the line
    with pytest.raises(InputError, match="'?3'? is not a one-way code"):
        read_network(path, oneway_codes={"1": "both", "2": "forward"})


def test_every_command_with_network_takes_the_same_flags():
    from coverage.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices
    flags = {"--class-column", "--class-mapping", "--default-class", "--speed-column", "--oneway-column",
             "--oneway-codes", "--bridge-column", "--grade-separated", "--tolerance", "--network-crs"}
    for name in ("traveltime", "isochrones"):
        assert flags <= set(sub[name]._option_string_actions), name
    network = sub["network"]._subparsers._group_actions[0].choices
    for name in ("info", "repair"):
        assert flags | {"--crs"} <= set(network[name]._option_string_actions), name
    parser = argparse.ArgumentParser()
    arguments.add_network_arguments(parser)
    options = options_from_args(parser.parse_args(["--oneway-codes", "1=both,2=forward",
                                                   "--grade-separated", "快速路,高速公路"]))
    assert options.oneway_codes == {"1": "both", "2": "forward"}
    assert options.grade_separated_highways() == {"motorway"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fetch_fails_fast_in_one_line_when_offline(capsys):
    url = f"http://127.0.0.1:{_closed_port()}/api"
    with pytest.raises(InputError, match="cannot reach the Overpass server.*osm.pbf.*road file"):
        check_overpass(url, timeout=1)
    started = time.perf_counter()
    assert main(["network", "fetch", "--overpass-url", url, "--timeout", "1"]) == 2
    assert time.perf_counter() - started < 20
    captured = capsys.readouterr()
    assert captured.err.count("error: ") == 1 and "Traceback" not in captured.err
    assert "downloading" in captured.err  # the progress line came first
