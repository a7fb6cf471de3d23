"""Malformed inputs through the command line, table-driven.

Each case copies the default pack (its network as a Parquet edge table, graphs
cached, so that a case takes a fraction of a second), breaks one thing in the copy
or writes one bad input file beside it, and runs ``coverage.cli.main``. Every case
must end with exit status 2, no traceback, a message naming the file and, where
there is one, the row or feature and the field; and no file of the pack or of the
outputs that were there before may change. Inputs are generated here, into
``tmp_path``: nothing large is committed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.cli import _warning_line, main
from coverage.outputs import MARKER

ROOT = Path(__file__).resolve().parents[1]
PACK_FILES = ("region.toml", "targets.toml", "boundary.geojson", "facilities.geojson",
              "population", "scenarios")


# --- the base pack ------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_pack(tmp_path_factory) -> Path:
    """The default pack with its network as Parquet and every mode's graph cached."""
    from coverage.access import AccessContext
    from coverage.batch import write_network_parquet
    from coverage.modes import MODES
    from coverage.network import read_network
    from coverage.region import load_region

    pack = tmp_path_factory.mktemp("base") / "pack"
    pack.mkdir()
    for name in PACK_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, pack / name)
    write_network_parquet(read_network(ROOT / "network" / "roads.osm"),
                          pack / "network" / "roads.parquet")
    manifest = pack / "region.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'network = "network/roads.osm"', 'network = "network/roads.parquet"'), encoding="utf-8")
    context = AccessContext(load_region(pack))
    for mode in MODES:
        context.graph(mode)
    context.population  # noqa: B018 (built once so that no case is slower)
    return pack


# --- writing inputs -----------------------------------------------------------------

def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"


def _target_toml(rule: str, params: dict, **fields) -> str:
    head = {"id": "t1", "name_zh": "目标", "name_en": "Target", "source": "test",
            "quote": "原文", "rule": rule, **fields}
    lines = ["[[target]]"] + [f"{k} = {_toml(v)}" for k, v in head.items() if v is not None]
    lines += ["[target.parameters]"] + [f"{k} = {_toml(v)}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _features(path: Path, edit: Callable[[list], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data["features"])
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _register_rows(pack: Path) -> list[dict]:
    data = json.loads((pack / "facilities.geojson").read_text(encoding="utf-8"))
    rows = []
    for f in data["features"]:
        p = f["properties"]
        rows.append({"编号": p["id"], "名称": p["name"], "类型": p["type"],
                     "状态": p["status"], "开业年份": p["opening_year"] or "",
                     "关闭年份": p["closing_year"] or "", "迁建自": p["replaces"] or "",
                     "乡镇代码": p["township_code"], "床位": p["beds"] or "",
                     "经度": f["geometry"]["coordinates"][0], "纬度": f["geometry"]["coordinates"][1]})
    return rows


def _use_register(pack: Path, name: str) -> Path:
    _replace(pack / "region.toml", 'facilities = "facilities.geojson"', f'facilities = "{name}"')
    return pack / name


def _csv_register(pack: Path, edit: Callable[[list[list[str]]], None] | None = None,
                  encoding: str = "utf-8") -> Path:
    rows = _register_rows(pack)
    table = [list(rows[0])] + [[str(v) for v in r.values()] for r in rows]
    if edit:
        edit(table)
    path = _use_register(pack, "register.csv")
    path.write_bytes("\n".join(",".join(r) for r in table).encode(encoding) + b"\n")
    return path


def _xlsx_register(pack: Path, *, above: list[list] = (), edit=None, merge: list[str] = ()) -> Path:
    from openpyxl import Workbook

    rows = _register_rows(pack)
    table = [list(rows[0])] + [list(r.values()) for r in rows]
    if edit:
        edit(table)
    book = Workbook()
    sheet = book.active
    for row in [*above, *table]:
        sheet.append(row)
    for cells in merge:
        sheet.merge_cells(cells)
    path = _use_register(pack, "register.xlsx")
    book.save(path)
    return path


def _set_cell(row: int, column: str, value):
    def edit(table):
        table[row][table[0].index(column)] = value
    return edit


def _prop(i: int, key: str, value):
    def edit(features):
        features[i]["properties"][key] = value
    return edit


def _points_csv(work: Path, text: str, name: str = "points.csv") -> Path:
    path = work / name
    path.write_text(text, encoding="utf-8")
    return path


OSM_NODES = ('<node id="1" lat="29.60" lon="106.33"/>', '<node id="2" lat="29.61" lon="106.34"/>')


def _osm_xml(nodes=OSM_NODES, highway="residential") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
            + "\n".join(nodes)
            + f'\n<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="{highway}"/></way>\n'
            "</osm>\n")


def _graphml(work: Path, *, length="1200.5", geometry="LINESTRING (106.33 29.6, 106.34 29.61)",
             lat="29.61") -> Path:
    import networkx as nx
    import osmnx as ox

    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_node(1, x=106.33, y=29.60)
    graph.add_node(2, x=106.34, y=29.61)
    graph.add_edge(1, 2, osmid=10, highway="residential", oneway=False, reversed=False,
                   length=1200.5)
    path = work / "roads.graphml"
    ox.save_graphml(graph, path)
    text = path.read_text(encoding="utf-8")
    text = text.replace(">1200.5<", f">{length}<").replace(">29.61<", f">{lat}<")
    if geometry is not None:
        text = text.replace("</edge>", f'<data key="geom">{geometry}</data></edge>')
        text = text.replace("<graph ", '<key id="geom" for="edge" attr.name="geometry" '
                            'attr.type="string"/>\n<graph ', 1)
    path.write_text(text, encoding="utf-8")
    return path


def _edges_parquet(work: Path, **changes) -> Path:
    table = pd.DataFrame({"u": [1, 2, 2], "v": [2, 3, 1], "ux": [106.33, 106.34, 106.34],
                          "uy": [29.60, 29.61, 29.61], "vx": [106.34, 106.35, 106.33],
                          "vy": [29.61, 29.62, 29.60], "length": [1500.0, 1500.0, 1500.0],
                          "highway": ["residential"] * 3, "oneway": [False] * 3})
    for column, (row, value) in changes.items():
        if isinstance(value, str):
            table[column] = table[column].astype(str)
        table.loc[row, column] = value
    path = work / "edges.parquet"
    table.to_parquet(path, index=False)
    return path


def _raster(pack: Path, work: Path, fill, *, crs="EPSG:4326", name="pop.tif") -> Path:
    import rasterio
    from rasterio.transform import from_origin

    from coverage.region import load_region

    west, south, east, north = load_region(pack).boundary.bounds
    cell = 0.01
    width, height = int((east - west) / cell) + 2, int((north - south) / cell) + 2
    data = np.full((height, width), 10.0, dtype="float32")
    nodata = fill(data)
    path = work / name
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs=crs, nodata=nodata,
                       transform=from_origin(west - cell, north + cell, cell, cell)) as dst:
        dst.write(data, 1)
    return path


def _fill(value, nodata=None):
    def fill(data):
        data[:] = value
        return nodata
    return fill


def _one_cell(value):
    def fill(data):
        data[3, 4] = value
    return fill


# --- the cases ----------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """A malformed input: ``make(pack, work)`` writes it and returns the command line.

    ``names`` must all appear in the error (file, row or feature, field).
    """

    id: str
    make: Callable[[Path, Path], list[str]]
    names: tuple[str, ...]


CASES: list[Case] = []


def case(id: str, *names: str):
    def register(make):
        CASES.append(Case(id, make, names))
        return make
    return register


def _validate(pack, work):
    return ["validate", str(pack)]


def _check(pack, work):
    return ["check", str(pack), "--format", "csv", "--out", str(work / "old.csv")]


def _batch(pack, work):
    return ["batch", str(pack), "--out", str(work / "batch-old")]


# region.toml: types, CRS, missing and unreadable values
MANIFEST_CASES = [
    ("crs-geographic", 'metric_crs = "EPSG:32648"', 'metric_crs = "EPSG:4326"', "metric_crs"),
    ("crs-cgcs2000-geographic", 'metric_crs = "EPSG:32648"', 'metric_crs = "EPSG:4490"', "metric_crs"),
    ("crs-unknown", 'metric_crs = "EPSG:32648"', 'metric_crs = "EPSG:999999"', "metric_crs"),
    ("crs-words", 'metric_crs = "EPSG:32648"', 'metric_crs = "UTM 48"', "metric_crs"),
    ("crs-number", 'metric_crs = "EPSG:32648"', "metric_crs = 32648", "metric_crs"),
    ("crs-feet", 'metric_crs = "EPSG:32648"', 'metric_crs = "EPSG:2227"', "metric_crs"),
    ("crs-missing", 'metric_crs = "EPSG:32648"\n', "\n", "metric_crs"),
    ("census-year-text", "census_year = 2020", 'census_year = "2020"', "census_year"),
    ("census-year-float", "census_year = 2020", "census_year = 2020.5", "census_year"),
    ("census-year-huge", "census_year = 2020", "census_year = 999999999", "census_year"),
    ("adcodes-text", 'adcodes = ["500106", "500107"]', 'adcodes = "500106"', "adcodes"),
    ("adcodes-table", 'adcodes = ["500106", "500107"]', 'adcodes = { a = "500106" }', "adcodes"),
    ("adcodes-bool", 'adcodes = ["500106", "500107"]', "adcodes = [true]", "adcodes"),
    ("adcodes-short", 'adcodes = ["500106", "500107"]', 'adcodes = ["5001"]', "adcodes"),
    ("adcodes-float", 'adcodes = ["500106", "500107"]', "adcodes = [500106.0]", "adcodes"),
    ("files-text", "[files]\n", 'files = "boundary.geojson"\n[files_old]\n', "files"),
    ("files-number", 'facilities = "facilities.geojson"', "facilities = 5", "files.facilities"),
    ("files-list", 'facilities = "facilities.geojson"', 'facilities = ["facilities.geojson"]',
     "files.facilities"),
    ("files-missing-file", 'facilities = "facilities.geojson"', 'facilities = "nowhere.geojson"',
     "files.facilities"),
    ("slug-number", 'slug = "gaoxin"', "slug = 5", "slug"),
    ("name-list", 'name_en = "', 'name_en = ["x"]\nold_name_en = "', "name_en"),
    ("provenance-text", "[provenance.", "[old_provenance.", "provenance"),
    ("provenance-quality", 'quality = "estimated"', 'quality = "guessed"', "provenance.boundary.quality"),
    ("caveats-number", 'townships = "街镇边界', 'townships = 5\nold = "街镇边界', "caveats.townships"),
    ("toml-broken", "[files]", "[files", "not valid TOML"),
]
for _id, _old, _new, _field in MANIFEST_CASES:
    def _make(pack, work, old=_old, new=_new, id=_id):
        _replace(pack / "region.toml", old, new, -1)
        if id == "provenance-text":
            _replace(pack / "region.toml", 'slug = "gaoxin"', 'provenance = "x"\nslug = "gaoxin"')
        return _validate(pack, work)
    CASES.append(Case(f"region-{_id}", _make, ("region.toml", f"{_field}:")))


# targets.toml: every parameter of the wrong type or range, per rule
BAD_PARAMETERS = {
    "circle": {"minutes": [0, -15, math.nan, math.inf, "15", 100000, True],
               "required_share": [90, "90%", 0, -0.5, 1.5, "0.9", math.nan],
               "types": ["township_health_centre", ["诊所"], [], [5]],
               "modes": ["fly", {"street": "fly", "town": "walk", "township": "walk"},
                         {"village": "walk"}, {"street": "walk"}, 5, {}]},
    "hospital_reach": {"grades": [["五甲"], "三甲"], "mode": ["boat", 1],
                       "minutes": [0, "60"], "required_share": ["100%"]},
    "ambulance_response": {"max_minutes": [0, "18", -1], "dispatch_types": [["救护车队"]]},
    "ratio": {"per": [0, 1000.5, "1000", -1000], "field": ["doctors", 5],
              "required": [-1, "3.5", math.nan], "comparison": ["more"],
              "min_data_share": [2], "types": [["医院X"]]},
    "one_per_township": {"judge": ["either"], "upgraded": ["yes", 1]},
    "one_per_village": {"types": [[]]},
    "tiered": {"village_minutes": [0], "district_mode": ["plane"],
               "village_types": [["卫生所"]]},
}
RATIO_BASE = {"field": "beds", "required": 3.0}
for _rule, _params in BAD_PARAMETERS.items():
    for _name, _values in _params.items():
        for _j, _value in enumerate(_values):
            def _make(pack, work, rule=_rule, name=_name, value=_value):
                base = dict(RATIO_BASE) if rule == "ratio" else {}
                (pack / "targets.toml").write_text(_target_toml(rule, {**base, name: value}),
                                                   encoding="utf-8")
                return _validate(pack, work)
            CASES.append(Case(f"target-{_rule}-{_name}-{_j}", _make,
                              ("targets.toml", "target t1", f"parameters.{_name}")))

TARGET_FILE_CASES = [
    ("table-not-array", lambda: _target_toml("circle", {}).replace("[[target]]", "[target]"),
     "target"),
    ("unknown-rule", lambda: _target_toml("fifteen_minutes", {}), "target t1.rule"),
    ("unknown-parameter", lambda: _target_toml("circle", {"minute": 15}), "target t1.parameters.minute"),
    ("missing-required", lambda: _target_toml("ratio", {"per": 1000}), "target t1.parameters"),
    ("year-text", lambda: _target_toml("circle", {}, year="2025"), "target t1.year"),
    ("year-huge", lambda: _target_toml("circle", {}, year=99999), "target t1.year"),
    ("missing-id", lambda: _target_toml("circle", {}, id=None), "target 1.id"),
    ("name-number", lambda: _target_toml("circle", {}, name_zh=5), "target t1.name_zh"),
    ("notes-list", lambda: _target_toml("circle", {}, notes=["a"]), "target t1.notes"),
    ("unknown-key", lambda: _target_toml("circle", {}, rules="x"), "target t1.rules"),
    ("duplicate-id", lambda: _target_toml("circle", {}) * 2, "target t1.id"),
    ("parameters-text", lambda: _target_toml("circle", {}).replace(
        "[target.parameters]", 'parameters = "minutes=15"'), "target t1.parameters"),
    ("top-level-key", lambda: "title = 'x'\n" + _target_toml("circle", {}), "title"),
    ("broken-toml", lambda: _target_toml("circle", {"minutes": 15}).replace("= 15", "= "),
     "not valid TOML"),
]
for _id, _text, _field in TARGET_FILE_CASES:
    for _command in (_validate, _check, _batch) if _id in ("table-not-array", "unknown-rule") \
            else (_validate,):
        def _make(pack, work, text=_text, command=_command):
            (pack / "targets.toml").write_text(text(), encoding="utf-8")
            return command(pack, work)
        CASES.append(Case(f"targets-{_id}-{_command.__name__.strip('_')}", _make,
                          ("targets.toml", _field)))


# the facility register (GeoJSON)
FACILITY_CASES = [
    ("beds-huge", _prop(2, "beds", 1e30), "feature 3, beds"),
    ("beds-huge-int", _prop(2, "beds", 10**30), "feature 3, beds"),
    ("physicians-huge", _prop(0, "physicians", 1e20), "feature 1, physicians"),
    ("staff-huge", _prop(4, "staff", 10**7), "feature 5, staff"),
    ("beds-negative", _prop(2, "beds", -1), "feature 3, beds"),
    ("beds-fraction", _prop(2, "beds", 1.5), "feature 3, beds"),
    ("beds-text", _prop(2, "beds", "一百"), "feature 3, beds"),
    ("beds-list", _prop(2, "beds", [90, 120]), "feature 3, beds"),
    ("nurses-inf", _prop(1, "nurses", "inf"), "feature 2, nurses"),
    ("opening-year-huge", _prop(1, "opening_year", 10**30), "feature 2, opening_year"),
    ("opening-year-far", _prop(1, "opening_year", 9999), "feature 2, opening_year"),
    ("opening-year-old", _prop(1, "opening_year", 1066), "feature 2, opening_year"),
    ("closing-before-opening", lambda f: (f[0]["properties"].update(opening_year=2020,
                                                                    closing_year=2010)),
     "feature 1, closing_year"),
    ("type-unknown", _prop(3, "type", "诊所"), "feature 4, type"),
    ("type-missing", _prop(3, "type", None), "feature 4, type"),
    ("grade-unknown", _prop(3, "grade", "五甲"), "feature 4, grade"),
    ("status-unknown", _prop(3, "status", "拆除"), "feature 4, status"),
    ("quality-unknown", _prop(3, "location_quality", "exact"), "feature 4, location_quality"),
    ("township-unknown", _prop(3, "township_code", "500999001"), "feature 4, township_code"),
    ("id-duplicate", lambda f: f[5]["properties"].update(id=f[0]["properties"]["id"]),
     "feature 6, id"),
    ("name-blank", _prop(6, "name", "  "), "feature 7, name"),
    ("replaces-unknown", _prop(6, "replaces", "gx-nowhere"), "feature 7, replaces"),
    ("replaces-itself", lambda f: f[6]["properties"].update(replaces=f[6]["properties"]["id"]),
     "feature 7, replaces"),
    ("geometry-missing", lambda f: f[7].update(geometry=None), "feature 8, geometry"),
    ("geometry-polygon", lambda f: f[7].update(geometry={"type": "Polygon", "coordinates": [
        [[106.3, 29.6], [106.4, 29.6], [106.4, 29.7], [106.3, 29.6]]]}), "feature 8, geometry"),
    ("outside-region", lambda f: f[8]["geometry"].update(coordinates=[104.0, 31.0]),
     "feature 9, geometry"),
    ("lat-out-of-range", lambda f: f[8]["geometry"].update(coordinates=[106.3, 95.0]),
     "feature 9, lat"),
    ("crs-unknown", _prop(9, "crs", "火星坐标"), "feature 10, crs"),
]
for _id, _edit, _where in FACILITY_CASES:
    def _make(pack, work, edit=_edit):
        _features(pack / "facilities.geojson", edit)
        return _check(pack, work)
    CASES.append(Case(f"facilities-{_id}", _make, ("facilities.geojson", _where)))


# the register as CSV and Excel, with the defects exported spreadsheets have
def _extra_cell(table):
    table[3].append("多余")


def _comma_in_name(table):
    table[5][1] = table[5][1] + ",旧址"


REGISTER_TABLE_CASES = [
    ("csv-extra-cell", lambda p: _csv_register(p, _extra_cell), ("register.csv", "row 3")),
    ("csv-comma-in-name", lambda p: _csv_register(p, _comma_in_name), ("register.csv", "row 5")),
    ("csv-gbk-bad-beds", lambda p: _csv_register(p, _set_cell(4, "床位", "很多"), "gb18030"),
     ("register.csv", "row 4", "beds")),
    ("csv-beds-huge", lambda p: _csv_register(p, _set_cell(2, "床位", "1e30")),
     ("register.csv", "row 2", "beds")),
    ("csv-lat-text", lambda p: _csv_register(p, _set_cell(6, "纬度", "北纬29度")),
     ("register.csv", "row 6", "lat")),
    ("csv-lat-range", lambda p: _csv_register(p, _set_cell(6, "纬度", "129.6")),
     ("register.csv", "row 6", "lat")),
    ("csv-no-name-column", lambda p: _csv_register(p, _set_cell(0, "名称", "机构")),
     ("register.csv", "name", "row 1 of the file")),
    ("csv-duplicate-column", lambda p: _csv_register(p, _set_cell(0, "床位", "名称")),
     ("register.csv", "名称")),
    ("csv-header-only", lambda p: _csv_register(p, lambda t: t.__delitem__(slice(1, None))),
     ("register.csv", "no rows")),
    ("csv-binary", lambda p: _use_register(p, "register.csv").write_bytes(b"\x00\xff\xfe" * 50),
     ("register.csv",)),
    ("csv-empty", lambda p: _use_register(p, "register.csv").write_bytes(b""),
     ("register.csv", "empty")),
    ("xlsx-title-row-bad-type", lambda p: _xlsx_register(
        p, above=[["2023年医疗卫生机构名录"]], edit=_set_cell(3, "类型", "药店")),
     ("register.xlsx", "row 3", "type")),
    ("xlsx-two-level-bad-beds", lambda p: _xlsx_register(
        p, above=[["基本信息", None, None, None, None, None, None, None, "规模", "位置", None]],
        merge=["A1:H1", "J1:K1"], edit=_set_cell(2, "床位", "-5")),
     ("register.xlsx", "row 2", "beds")),
    ("xlsx-title-no-name", lambda p: _xlsx_register(
        p, above=[["名录"], ["单位：张"]], edit=_set_cell(0, "名称", "单位名")),
     ("register.xlsx", "name", "row 3 of the file")),
    ("xlsx-extra-cell", lambda p: _xlsx_register(p, edit=lambda t: t[4].append("备注?")),
     ("register.xlsx", "row 4")),
    ("xlsx-not-zip", lambda p: _use_register(p, "register.xlsx").write_bytes(b"PK-not-a-zip"),
     ("register.xlsx",)),
]
for _id, _write, _names in REGISTER_TABLE_CASES:
    def _make(pack, work, write=_write):
        write(pack)
        return _validate(pack, work)
    CASES.append(Case(f"register-{_id}", _make, _names))


# townships and villages
TOWNSHIP_CASES = [
    ("population-huge", _prop(2, "population", 1e20), "feature 3, population"),
    ("population-huge-int", _prop(2, "population", 10**20), "feature 3, population"),
    ("population-negative", _prop(2, "population", -100), "feature 3, population"),
    ("population-text", _prop(2, "population", "约五万"), "feature 3, population"),
    ("population-fraction", _prop(2, "population", 1234.5), "feature 3, population"),
    ("population-missing", _prop(2, "population", None), "feature 3, population"),
    ("population-empty-list", _prop(2, "population", []), "feature 3, population"),
    ("code-duplicate", lambda f: f[4]["properties"].update(code=f[3]["properties"]["code"]),
     "feature 5, code"),
    ("kind-unknown", _prop(1, "kind", "村"), "feature 2, kind"),
    ("quality-unknown", _prop(1, "population_quality", "guess"), "feature 2, population_quality"),
    ("geometry-point", lambda f: f[6].update(geometry={"type": "Point", "coordinates": [106.3, 29.6]}),
     "feature 7, geometry"),
]
for _id, _edit, _where in TOWNSHIP_CASES:
    def _make(pack, work, edit=_edit):
        _features(pack / "population" / "townships.geojson", edit)
        return _validate(pack, work)
    CASES.append(Case(f"townships-{_id}", _make, ("townships.geojson", _where)))


@case("villages-extra-cell", "villages.csv", "row 4")
def _villages_extra(pack, work):
    path = pack / "population" / "villages.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] += ",多余,的"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _validate(pack, work)


VILLAGE_CASES = [
    ("township-unknown", 3, "township_code", "500999999", "row 3, township_code"),
    ("lat-range", 2, "lat", "129.6", "row 2, lat"),
    ("lon-text", 5, "lon", "东经", "row 5, lon"),
]
for _id, _row, _column, _value, _where in VILLAGE_CASES:
    def _make(pack, work, row=_row, column=_column, value=_value):
        path = pack / "population" / "villages.csv"
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table.loc[row - 1, column] = value
        table.to_csv(path, index=False)
        return _validate(pack, work)
    CASES.append(Case(f"villages-{_id}", _make, ("villages.csv", _where)))


@case("villages-no-township-column", "villages.csv", "township_code")
def _villages_no_code(pack, work):
    _replace(pack / "population" / "villages.csv", "township_code", "乡镇")
    return _validate(pack, work)


# command-line values out of range
def _iso(pack, work, *extra):
    return ["isochrones", "--region", str(pack), "--mode", "walk", "--out",
            str(work / "old.geojson"), *extra]


def _candidates(pack, work, *extra):
    return ["candidates", str(pack), "--minutes", "15", "--township", "500106016",
            "--out", str(work / "old.csv"), *extra]


def _optimize(pack, work, *extra):
    return ["optimize", str(pack), "--minutes", "15", "--model", "mclp", "--k", "1",
            "--out", str(work / "old.csv"), *extra]


ARGUMENT_CASES = [
    ("iso-buffer-zero", _iso, ("--buffer", "0"), "--buffer"),
    ("iso-buffer-negative", _iso, ("--buffer", "-75"), "--buffer"),
    ("iso-buffer-nan", _iso, ("--buffer", "nan"), "--buffer"),
    ("iso-buffer-huge", _iso, ("--buffer", "1e9"), "--buffer"),
    ("iso-buffer-text", _iso, ("--buffer", "wide"), "--buffer"),
    ("iso-minutes-zero", _iso, ("--minutes", "0"), "--minutes"),
    ("iso-minutes-negative", _iso, ("--minutes", "5,-10"), "--minutes"),
    ("iso-minutes-nan", _iso, ("--minutes", "nan"), "--minutes"),
    ("iso-minutes-inf", _iso, ("--minutes", "15,inf"), "--minutes"),
    ("iso-minutes-empty", _iso, ("--minutes", ","), "--minutes"),
    ("iso-minutes-huge", _iso, ("--minutes", "1e12"), "--minutes"),
    ("iso-minutes-text", _iso, ("--minutes", "5,ten"), "--minutes"),
    ("iso-year-huge", _iso, ("--year", str(10**30)), "--year"),
    ("iso-year-old", _iso, ("--year", "1066"), "--year"),
    ("iso-types-unknown", _iso, ("--types", "township_health_centre,诊所"), "--types"),
    ("iso-types-english", _iso, ("--types", "hospital"), "--types"),
    ("cand-minutes-zero", _candidates, ("--minutes", "0"), "--minutes"),
    ("cand-minutes-nan", _candidates, ("--minutes", "nan"), "--minutes"),
    ("cand-minutes-text", _candidates, ("--minutes", "一刻钟"), "--minutes"),
    ("cand-spacing-zero", _candidates, ("--spacing", "0"), "--spacing"),
    ("cand-spacing-negative", _candidates, ("--spacing", "-500"), "--spacing"),
    ("cand-spacing-tiny", _candidates, ("--spacing", "1e-9"), "--spacing"),
    ("cand-spacing-nan", _candidates, ("--spacing", "nan"), "--spacing"),
    ("cand-top-zero", _candidates, ("--top", "0"), "--top"),
    ("cand-top-negative", _candidates, ("--top", "-3"), "--top"),
    ("cand-top-text", _candidates, ("--top", "ten"), "--top"),
    ("cand-year-old", _candidates, ("--year", "1800"), "--year"),
    ("opt-time-limit-zero", _optimize, ("--time-limit", "0"), "--time-limit"),
    ("opt-time-limit-negative", _optimize, ("--time-limit", "-10"), "--time-limit"),
    ("opt-time-limit-nan", _optimize, ("--time-limit", "nan"), "--time-limit"),
    ("opt-time-limit-inf", _optimize, ("--time-limit", "inf"), "--time-limit"),
    ("opt-k-negative", _optimize, ("--k", "-1"), "--k"),
    ("opt-k-fraction", _optimize, ("--k", "1.5"), "--k"),
    ("batch-workers-zero", lambda p, w, *e: _batch(p, w) + list(e), ("--workers", "0"), "--workers"),
    ("batch-workers-negative", lambda p, w, *e: _batch(p, w) + list(e), ("--workers", "-2"),
     "--workers"),
    ("batch-workers-text", lambda p, w, *e: _batch(p, w) + list(e), ("--workers", "many"),
     "--workers"),
    ("batch-minutes-zero", lambda p, w, *e: _batch(p, w) + list(e), ("--minutes", "0,15"),
     "--minutes"),
    ("check-year-huge", lambda p, w, *e: _check(p, w) + list(e), ("--year", str(10**30)), "--year"),
    ("layers-year-text", lambda p, w, *e: ["layers", str(p), "--out", str(w / "layers-old"), *e],
     ("--year", "二〇二五"), "--year"),
    ("scenario-year-huge", lambda p, w, *e: ["scenario", str(p), "plan-2025", *e],
     ("--year", str(10**30)), "--year"),
    ("capacity-minutes-negative", lambda p, w, *e: ["capacity", str(p), *e],
     ("--minutes", "-15"), "--minutes"),
]
for _id, _command, _extra, _option in ARGUMENT_CASES:
    def _make(pack, work, command=_command, extra=_extra):
        return command(pack, work, *extra)
    CASES.append(Case(f"args-{_id}", _make, (_option,)))


# road networks given with --network: element checks
def _traveltime(pack, work, network):
    points = _points_csv(work, "id,lon,lat\np1,106.33,29.60\n")
    return ["traveltime", "--region", str(pack), "--mode", "car", "--points", str(points),
            "--network", str(network), "--out", str(work / "old.csv")]


NETWORK_CASES = [
    ("osm-node-without-lat", lambda w: _text(w, "roads.osm", _osm_xml(
        ('<node id="1" lon="106.33"/>', OSM_NODES[1]))), ("roads.osm", "node 1", "lat")),
    ("osm-lat-out-of-range", lambda w: _text(w, "roads.osm", _osm_xml(
        (OSM_NODES[0], '<node id="2" lat="95.2" lon="106.34"/>'))), ("roads.osm", "node 2", "lat")),
    ("osm-lon-text", lambda w: _text(w, "roads.osm", _osm_xml(
        (OSM_NODES[0], '<node id="2" lat="29.6" lon="east"/>'))), ("roads.osm", "node 2", "lon")),
    ("osm-malformed", lambda w: _text(w, "roads.osm", _osm_xml()[:-20]), ("roads.osm",)),
    ("osm-no-highway", lambda w: _text(w, "roads.osm", _osm_xml(highway="river")), ("roads.osm",)),
    ("osm-empty", lambda w: _text(w, "roads.osm", ""), ("roads.osm",)),
    ("graphml-bad-wkt", lambda w: _graphml(w, geometry="LINESTRING (106.33 29.6, oops)"),
     ("roads.graphml", "edge 1", "geometry")),
    ("graphml-length-text", lambda w: _graphml(w, length="long"),
     ("roads.graphml", "edge 1", "length")),
    ("graphml-lat-out-of-range", lambda w: _graphml(w, lat="99.5"),
     ("roads.graphml", "node 2", "lat")),
    ("graphml-not-xml", lambda w: _text(w, "roads.graphml", "not graphml"), ("roads.graphml",)),
    ("parquet-nan-coordinate", lambda w: _edges_parquet(w, uy=(1, math.nan)),
     ("edges.parquet", "row 2", "uy")),
    ("parquet-lon-out-of-range", lambda w: _edges_parquet(w, vx=(0, 406.3)),
     ("edges.parquet", "row 1", "vx")),
    ("parquet-negative-length", lambda w: _edges_parquet(w, length=(2, -15.0)),
     ("edges.parquet", "row 3", "length")),
    ("parquet-nan-length", lambda w: _edges_parquet(w, length=(0, math.nan)),
     ("edges.parquet", "row 1", "length")),
    ("parquet-text-length", lambda w: _edges_parquet(w, length=(1, "long")),
     ("edges.parquet", "row 2", "length")),
    ("parquet-missing-column", lambda w: _write_parquet(w, pd.DataFrame({"u": [1], "v": [2]})),
     ("edges.parquet", "missing column")),
    ("parquet-garbage", lambda w: _text(w, "edges.parquet", "PAR1 not really"), ("edges.parquet",)),
    ("unknown-suffix", lambda w: _text(w, "roads.kml", "<kml/>"), ("roads.kml",)),
]


def _text(work: Path, name: str, text: str) -> Path:
    path = work / name
    path.write_text(text, encoding="utf-8")
    return path


def _write_parquet(work: Path, frame: pd.DataFrame) -> Path:
    path = work / "edges.parquet"
    frame.to_parquet(path, index=False)
    return path


for _id, _write, _names in NETWORK_CASES:
    def _make(pack, work, write=_write):
        return _traveltime(pack, work, write(work))
    CASES.append(Case(f"network-{_id}", _make, _names))


# points to time (traveltime --points)
POINT_CASES = [
    ("extra-cell", "id,lon,lat\np1,106.33,29.60\np2,106.34,29.61,x\n", "points.csv", ("row 2",)),
    ("lat-range", "id,lon,lat\np1,106.33,29.60\np2,106.34,129.61\n", "points.csv", ("row 2, lat",)),
    ("lat-text", "id,lon,lat\np1,106.33,北纬\n", "points.csv", ("row 1", "lat")),
    ("lon-missing", "id,lon,lat\np1,,29.6\n", "points.csv", ("row 1", "lon")),
    ("no-coordinates", "id,地址\np1,重庆\n", "points.csv", ("lon",)),
    ("crs-unknown", "id,lon,lat,crs\np1,106.33,29.60,火星\n", "points.csv", ("row 1", "crs")),
    ("geojson-polygon", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a"}, "geometry": {"type": "Polygon", "coordinates": [
            [[106.3, 29.6], [106.4, 29.6], [106.4, 29.7], [106.3, 29.6]]]}}]}), "points.geojson",
     ("feature 1", "geometry")),
    ("geojson-broken", '{"type": "FeatureCollection", "features": [', "points.geojson", ()),
    ("unknown-suffix", "id,lon,lat\n", "points.dat", ()),
]
for _id, _body, _name, _names in POINT_CASES:
    def _make(pack, work, body=_body, name=_name):
        points = _points_csv(work, body, name)
        return ["traveltime", "--region", str(pack), "--mode", "walk", "--points", str(points),
                "--out", str(work / "old.csv")]
    CASES.append(Case(f"points-{_id}", _make, (_name, *_names)))


# siting: candidates that cannot be used, k larger than the candidates
@case("siting-polygon-file-of-points", "area.geojson", "feature 1", "geometry")
def _polygon_points(pack, work):
    _text(work, "area.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                          "coordinates": [106.33, 29.6]}}]}))
    return ["candidates", str(pack), "--minutes", "15", "--polygon", str(work / "area.geojson"),
            "--out", str(work / "old.csv")]


@case("siting-polygon-far-away", "area.geojson", "no candidate")
def _polygon_far(pack, work):
    _text(work, "area.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[100.0, 25.0], [100.1, 25.0], [100.1, 25.1], [100.0, 25.0]]]}}]}))
    return ["candidates", str(pack), "--minutes", "15", "--polygon", str(work / "area.geojson"),
            "--out", str(work / "old.csv")]


@case("siting-candidates-outside", "sites.csv", "row 1", "geometry")
def _outside(pack, work):
    _points_csv(work, "id,lon,lat\ns1,104.06,30.67\ns2,104.07,30.66\n", "sites.csv")
    return ["candidates", str(pack), "--minutes", "15", "--file", str(work / "sites.csv"),
            "--out", str(work / "old.csv")]


@case("siting-candidates-gcj-as-wgs-far", "sites.csv", "row 1")
def _outside_far(pack, work):
    _points_csv(work, "id,lon,lat\ns1,16.33,29.60\n", "sites.csv")
    return ["optimize", str(pack), "--minutes", "15", "--model", "lscp",
            "--candidates", str(work / "sites.csv"), "--out", str(work / "old.csv")]


@case("siting-k-above-candidates", "--k", "2 candidates")
def _k_too_big(pack, work):
    _points_csv(work, "id,lon,lat\ns1,106.33,29.60\ns2,106.34,29.61\n", "sites.csv")
    return ["optimize", str(pack), "--minutes", "15", "--model", "mclp", "--k", "5",
            "--candidates", str(work / "sites.csv"), "--out", str(work / "old.csv")]


@case("siting-duplicate-ids", "sites.csv", "row 2", "id")
def _duplicate_sites(pack, work):
    _points_csv(work, "id,lon,lat\ns1,106.33,29.60\ns1,106.34,29.61\n", "sites.csv")
    return ["candidates", str(pack), "--minutes", "15", "--file", str(work / "sites.csv")]


@case("siting-township-unknown", "townships.geojson", "code")
def _unknown_township(pack, work):
    return ["candidates", str(pack), "--minutes", "15", "--township", "999999999"]


# scenarios
SCENARIO_HEAD = ('name_zh = "测试"\nname_en = "Test"\nyear = 2025\n')
SCENARIO_CASES = [
    ("year-huge", SCENARIO_HEAD.replace("2025", str(10**30)), "year"),
    ("year-text", SCENARIO_HEAD.replace("2025", '"2025年"'), "year"),
    ("edit-beds-huge", SCENARIO_HEAD + '[[edit]]\naction = "set"\nfacility = "gx-huxi-chc"\n'
     "beds = 1000000000\n", "edit 1, beds"),
    ("edit-beds-float", SCENARIO_HEAD + '[[edit]]\naction = "set"\nfacility = "gx-huxi-chc"\n'
     "beds = 1e30\n", "edit 1, beds"),
    ("edit-opening-far", SCENARIO_HEAD + '[[edit]]\naction = "set"\nfacility = "gx-huxi-chc"\n'
     "opening_year = 99999\n", "edit 1, opening_year"),
    ("edit-lat-range", SCENARIO_HEAD + '[[edit]]\naction = "move"\nfacility = "gx-huxi-chc"\n'
     "lon = 106.3\nlat = 129.6\n", "edit 1, lat"),
    ("edit-lon-nan", SCENARIO_HEAD + '[[edit]]\naction = "move"\nfacility = "gx-huxi-chc"\n'
     "lon = nan\nlat = 29.6\n", "edit 1, lon"),
    ("edit-action-unknown", SCENARIO_HEAD + '[[edit]]\naction = "demolish"\nfacility = "gx-huxi-chc"\n',
     "edit 1"),
    ("edit-type-unknown", SCENARIO_HEAD + '[[edit]]\naction = "set"\nfacility = "gx-huxi-chc"\n'
     'type = "药店"\n', "edit 1, type"),
    ("edit-facility-unknown", SCENARIO_HEAD + '[[edit]]\naction = "close"\nfacility = "nobody"\n'
     "year = 2025\n", "nobody"),
    ("edit-table-not-array", SCENARIO_HEAD + '[edit]\naction = "close"\nfacility = "gx-huxi-chc"\n',
     "edit"),
]
for _id, _body, _where in SCENARIO_CASES:
    def _make(pack, work, body=_body):
        _text(work, "what-if.toml", body)
        return ["scenario", str(pack), str(work / "what-if.toml"), "--out-dir",
                str(work / "scenario-old")]
    CASES.append(Case(f"scenario-{_id}", _make, ("what-if.toml", _where)))


# population rasters
RASTER_CASES = [
    ("all-nodata", _fill(-9999.0, nodata=-9999.0), "band 1"),
    ("all-nan", _fill(math.nan), "band 1"),
    ("all-zero", _fill(0.0), "band 1"),
    ("negative", _one_cell(-20.0), "row 4, column 5"),
    ("absurd", _one_cell(1e30), "row 4, column 5"),
    ("absurd-density", _one_cell(5e7), "absurd"),
]
for _id, _fill_with, _where in RASTER_CASES:
    def _make(pack, work, fill=_fill_with):
        raster = _raster(pack, work, fill)
        return ["population", str(pack), "--raster", str(raster), "--out", str(work / "old.csv")]
    CASES.append(Case(f"raster-{_id}", _make, ("pop.tif", _where)))


@case("raster-not-a-raster", "pop.tif")
def _not_raster(pack, work):
    _text(work, "pop.tif", "II*\0 not a tiff")
    return ["population", str(pack), "--raster", str(work / "pop.tif")]


@case("raster-no-crs", "pop.tif", "CRS")
def _raster_no_crs(pack, work):
    return ["population", str(pack), "--raster", str(_raster(pack, work, _fill(5.0), crs=None))]


# a year before anything opens (every facility dated)
def _dated(features):
    for f in features:
        if not f["properties"].get("opening_year"):
            f["properties"]["opening_year"] = 1990


for _command in ("check", "layers", "candidates", "capacity"):
    def _make(pack, work, command=_command):
        _features(pack / "facilities.geojson", _dated)
        argv = {"check": _check(pack, work),
                "layers": ["layers", str(pack), "--out", str(work / "layers-old")],
                "candidates": _candidates(pack, work),
                "capacity": ["capacity", str(pack), "--minutes", "15"]}[command]
        return argv + ["--year", "1950"]
    CASES.append(Case(f"year-before-opening-{_command}", _make,
                      ("facilities.geojson", "--year", "1950")))


@case("year-before-opening-traveltime", "facilities.geojson", "1950")
def _traveltime_1950(pack, work):
    _features(pack / "facilities.geojson", _dated)
    points = _points_csv(work, "id,lon,lat\np1,106.33,29.60\n")
    return ["traveltime", "--region", str(pack), "--mode", "walk", "--points", str(points),
            "--year", "1950", "--out", str(work / "old.csv")]


@case("dask-scheduler-unreachable", "--scheduler", "tcp://127.0.0.1:9")
def _dask(pack, work):
    return ["batch", str(pack), "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
            "--out", str(work / "batch-old")]


# odds and ends found along the way
@case("batch-split-by-unknown", "--split-by", "population_zone")
def _split_unknown(pack, work):
    return ["batch", str(pack), "--split-by", "population_zone", "--out", str(work / "batch-old")]


@case("scenario-not-found", "no-such-plan")
def _scenario_missing(pack, work):
    return ["scenario", str(pack), "no-such-plan", "--out-dir", str(work / "scenario-old")]


@case("points-header-only", "points.csv", "no rows")
def _points_header_only(pack, work):
    return ["traveltime", "--region", str(pack), "--mode", "walk", "--points",
            str(_points_csv(work, "id,lon,lat\n")), "--out", str(work / "old.csv")]


@case("pack-network-damaged", "roads.parquet")
def _pack_network_damaged(pack, work):
    (pack / "network" / "roads.parquet").write_bytes(b"PAR1" + b"\0" * 64)
    return ["isochrones", "--region", str(pack), "--mode", "walk", "--out", str(work / "old.geojson")]


@case("pack-network-negative-length", "roads.parquet", "length")
def _pack_network_negative(pack, work):
    table = pd.read_parquet(pack / "network" / "roads.parquet")
    table.loc[10, "length"] = -3.0
    table.to_parquet(pack / "network" / "roads.parquet", index=False)
    return _check(pack, work)


@case("not-a-pack", "region.toml", "not a region pack")
def _not_a_pack(pack, work):
    return ["validate", str(work)]


@case("raster-elsewhere", "pop.tif", "does not overlap")
def _raster_elsewhere(pack, work):
    import rasterio
    from rasterio.transform import from_origin

    path = work / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(10.0, 50.0, 0.01, 0.01)) as dst:
        dst.write(np.full((4, 4), 5.0, dtype="float32"), 1)
    return ["population", str(pack), "--raster", str(path)]


@case("register-xlsx-empty-sheet", "register.xlsx")
def _xlsx_empty(pack, work):
    from openpyxl import Workbook

    Workbook().save(_use_register(pack, "register.xlsx"))
    return _validate(pack, work)


@case("candidates-xlsx-title-row-bad-lat", "sites.xlsx", "row 2, lat")
def _sites_xlsx(pack, work):
    from openpyxl import Workbook

    book = Workbook()
    for row in (["备选点位"], ["编号", "经度", "纬度"], ["s1", 106.33, 29.6], ["s2", 106.34, "二十九"]):
        book.active.append(row)
    book.save(work / "sites.xlsx")
    return ["candidates", str(pack), "--minutes", "15", "--file", str(work / "sites.xlsx")]


# --- running them -------------------------------------------------------------------

def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                        if p.is_file() else "dir")
            for p in sorted(root.rglob("*"))}


def _existing_outputs(work: Path) -> None:
    """Outputs a user already has: a case must leave them as they are."""
    for name in ("old.csv", "old.geojson"):
        (work / name).write_text("the user's own file\n", encoding="utf-8")
    for folder in ("layers-old", "batch-old", "scenario-old"):
        (work / folder).mkdir()  # earlier outputs of this program, marked as its own
        (work / folder / MARKER).write_text("written by coverage\n", encoding="utf-8")
        (work / folder / "notes.txt").write_text("mine\n", encoding="utf-8")


def test_there_are_enough_cases():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_named_and_changes_nothing(case, base_pack, tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(base_pack, pack)
    work = tmp_path / "work"
    work.mkdir()
    _existing_outputs(work)
    argv = case.make(pack, work)
    before = _snapshot(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse: a value out of range
            status = exc.code
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, (status, err, captured.out[-500:])
    assert "Traceback" not in err and "Traceback" not in captured.out
    message = err.strip().splitlines()[-1]
    assert re.match(r"^(error: |coverage( \w+)*: error: )", message), err
    for name in case.names:
        assert name in message, (name, message)
    assert _snapshot(tmp_path) == before


# --- awkward but valid: read right, or repaired and said so ---------------------------

@pytest.mark.parametrize("above,merge", [
    ([["重庆高新区医疗卫生机构名录（2023年）"], ["单位：张"]], []),
    ([["基本信息", None, None, None, None, None, None, None, "规模", "位置", None]],
     ["A1:H1", "J1:K1"]),
], ids=["title-rows", "two-level-header"])
def test_excel_header_below_titles_is_found(base_pack, tmp_path, above, merge):
    from coverage.region import load_region

    pack = tmp_path / "pack"
    shutil.copytree(base_pack, pack)
    expected = load_region(pack).facilities
    _xlsx_register(pack, above=above, merge=merge)
    facilities = load_region(pack).facilities
    assert facilities["id"].tolist() == expected["id"].tolist()
    assert facilities["beds"].equals(expected["beds"])
    assert np.allclose(facilities.geometry.y, expected.geometry.y)


def test_two_level_header_takes_names_merged_down(tmp_path):
    from coverage.tables import read_table
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["名称", "人员", None, "经度", "纬度"])
    sheet.append([None, "执业医师", "护士", None, None])
    sheet.append(["甲院", 3, 5, 106.3, 29.6])
    for cells in ("A1:A2", "B1:C1", "D1:D2", "E1:E2"):
        sheet.merge_cells(cells)
    book.save(tmp_path / "t.xlsx")
    frame = read_table(tmp_path / "t.xlsx")
    assert frame.columns.tolist() == ["名称", "执业医师", "护士", "经度", "纬度"]
    assert frame.attrs["header_row"] == 2
    assert frame.iloc[0].tolist() == ["甲院", "3", "5", "106.3", "29.6"]


def test_damaged_graph_cache_is_rebuilt_and_said(base_pack, tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(base_pack, pack)
    caches = sorted((pack / "cache").glob("graph-*.npz"))
    assert caches
    for path in caches:
        path.write_bytes(path.read_bytes()[:100])
    out = tmp_path / "t.csv"
    with pytest.warns(UserWarning, match="the graph cache is damaged .*rebuilt it"):
        assert main(["check", str(pack), "--format", "csv", "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert out.exists()
    # the command line shows a warning as one line
    assert _warning_line("rebuilt", UserWarning, "routing.py", 1) == "warning: rebuilt\n"
    from coverage.routing import read_graph
    for path in caches:  # written again, whole
        if path.exists():
            read_graph(path)


def test_damaged_batch_part_is_computed_again(base_pack, tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(base_pack, pack)
    out = tmp_path / "batch"
    argv = ["batch", str(pack), "--minutes", "15", "--out", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    parts = sorted((out / "parts").glob("*.coverage.parquet"))
    assert len(parts) >= 2
    damaged = parts[0]
    damaged.write_bytes(damaged.read_bytes()[: len(damaged.read_bytes()) // 2])
    part = damaged.name.split(".")[0]
    with pytest.warns(UserWarning, match=f"part {part} is damaged .*computing it again"):
        assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 part(s) computed" in captured.out
    assert captured.out.splitlines()[-1].split(":")[0] == first.splitlines()[-1].split(":")[0] \
        .replace(f"{len(parts)} part(s)", "1 part(s)")
