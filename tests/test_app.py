"""The app's main flows, driven without a browser (streamlit.testing AppTest).

One AppTest per flow on the default region; graphs come from the pack's disk cache,
so each flow costs a few seconds. Timings are measured in benchmarks/bench_app.py.
"""

from pathlib import Path

import pytest

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _run(at):
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _open(at, page: str, lang: str = "zh"):
    at.session_state[f"page:{lang}"] = page
    return _run(at)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def app():
    return _run(AppTest.from_file(APP, default_timeout=120))


def test_first_page_shows_coverage_and_caveats(app):
    assert app.title[0].value == "重庆医疗卫生服务覆盖规划"
    metrics = _metrics(app)
    assert metrics["常住人口"] == "451,768"
    assert metrics["15分钟内覆盖率"].endswith("%")
    # The synthetic network and estimated townships are said beside the map.
    assert any("合成" in e.label and "估算" in e.label for e in app.expander)


def test_language_region_and_controls(app):
    share = _metrics(app)["15分钟内覆盖率"]
    app.radio(key="mode:zh").set_value("car")
    _run(app)
    by_car = _metrics(app)["15分钟内覆盖率"]
    assert by_car != share
    app.select_slider(key="minutes").set_value(30)
    _run(app)
    assert float(_metrics(app)["30分钟内覆盖率"].rstrip("%")) >= float(by_car.rstrip("%"))
    app.radio(key="lang").set_value("English")
    _run(app)
    assert app.title[0].value == "Chongqing health service-coverage planning"
    # The controls keep their values across the language switch.
    assert app.radio(key="mode:en").value == "car"
    assert _metrics(app)["Covered within 30 min"] == _metrics(app)["Covered within 30 min"]
    app.selectbox(key="region:en").select_index(1)
    _run(app)
    assert "Beibei" in app.caption[0].value or "北碚" in app.caption[0].value
    app.selectbox(key=f"year:{app.selectbox(key='region:en').value}:en").set_value(2020)
    _run(app)
    assert "2020" in app.caption[0].value


def test_target_dashboard_and_township_table(app):
    _open(app, "规划目标")
    assert any("15分钟基本医疗卫生服务圈" in m.value for m in app.markdown)
    assert any("初步形成15分钟基本医疗卫生服务圈" in c.value for c in app.caption)  # the quote
    _open(app, "街镇覆盖")
    table = app.dataframe[0].value
    assert len(table) == 10
    assert table["覆盖率（%）"].between(0, 100).all()
    assert (table["覆盖人口"] <= table["常住人口"]).all()


def test_what_if_from_number_inputs(app):
    _open(app, "迁建与选址")
    app.number_input(key="site_lon").set_value(106.35)
    app.number_input(key="site_lat").set_value(29.50)
    app.selectbox(key="edit_facility").set_value("gx-zouma-thc")
    app.button(key="add_edit").click()
    _run(app)
    metrics = _metrics(app)
    before = float(metrics["调整前覆盖"].replace(",", ""))
    after = float(metrics["调整后覆盖"].replace(",", ""))
    gained = float(metrics["新增覆盖人口"].replace(",", ""))
    lost = float(metrics["失去覆盖人口"].replace(",", ""))
    assert after - before == pytest.approx(gained - lost)
    assert lost > 0  # 走马's only centre moved far away: its residents lose the circle
    changes = app.dataframe[1].value
    assert changes.loc[changes["街镇"] == "走马镇", "失去"].iloc[0] > 0


def test_pack_scenario_opens(app):
    _open(app, "迁建与选址")
    app.radio(key="scenario_source").set_value("pack")
    _run(app)
    assert "调整后覆盖" in _metrics(app)


def test_bad_upload_shows_the_readers_error(app):
    _open(app, "数据导入导出")
    app.button(key="use_uploads").click()
    _run(app)
    assert any("尚未选择文件" in w.value for w in app.warning)
    bad = "名称,类型,经度,纬度\n某卫生院,卫生院,abc,29.5\n".encode()
    app.file_uploader(key="up_fac").upload("bad.csv", bad, "text/csv")
    app.button(key="use_uploads").click()
    _run(app)
    errors = [e.value for e in app.error]
    assert errors and "文件 bad.csv，第 1 行" in errors[0] and "not a number" in errors[0]
    assert not any(i.value for i in app.info)  # the view stays on the pack's data


def test_good_upload_switches_the_view(app):
    _open(app, "数据导入导出")
    good = ("名称,类型,状态,经度,纬度\n"
            "甲卫生院,卫生院,现有,106.36,29.56\n").encode()
    app.file_uploader(key="up_fac").upload("one.csv", good, "text/csv")
    app.button(key="use_uploads").click()
    _run(app)
    assert not app.error
    assert any("上传" in i.value for i in app.info)
    _open(app, "覆盖地图")
    assert _metrics(app)["开放机构数"] == "1"


def test_ranked_sites_join_the_scenario(app):
    _open(app, "迁建与选址")
    app.selectbox(key="cand_area").set_value("500107106")  # 走马镇
    app.button(key="rank").click()
    _run(app)
    ranking = app.dataframe[0].value
    column = "新增覆盖人口（全区）"
    assert len(ranking) > 0 and ranking[column].is_monotonic_decreasing
    # Sites are named by township and coordinates, never by a network node id.
    assert ranking["位置（街镇，经纬度）"].str.startswith("走马镇").all()
    app.button(key="sites_to_scenario").click()
    _run(app)
    assert app.radio(key="scenario_source").value == "build"
    metrics = _metrics(app)
    # New sites only add access: nobody loses it.
    assert metrics["失去覆盖人口"] == "0"
    assert float(metrics["新增覆盖人口"].replace(",", "")) > 0


def test_road_file_upload_gives_the_same_coverage(app):
    share = _metrics(app)["15分钟内覆盖率"]
    _open(app, "数据导入导出")
    roads = (Path(APP).parent / "network" / "roads.osm").read_bytes()
    app.file_uploader(key="up_roads").upload("roads.osm", roads, "application/xml")
    app.button(key="use_uploads").click()
    _run(app)
    assert not app.error
    _open(app, "覆盖地图")
    assert _metrics(app)["15分钟内覆盖率"] == share  # the pack's own roads, uploaded


def test_region_picker_lists_the_four_packs(app):
    """Packs are discovered (coverage.region.find_regions): 万州 and 永川 appear by name."""
    options = app.selectbox(key="region:zh").options
    assert len(options) == 4
    assert {"万州区", "永川区", "北碚区"} <= set(options)


#: Words allowed in the Chinese UI: names of products, formats, models and the language switch.
LATIN_ALLOWED = {"English", "Language", "OpenStreetMap", "Leaflet", "GCJ", "WGS", "BD", "GPS",
                 "TOML", "CSV", "GeoJSON", "HTML", "MCLP", "LSCP", "median", "Excel", "GeoTIFF",
                 "OSM", "PBF", "GraphML", "GPKG", "MIT", "CC", "BY", "WTFPL", "tk", "km",
                 "CGCS", "JSON", "MB", "cnmaps", "adcode", "Vonng", "leiii", "census", "china",
                 "division", "data", "Amap", "ODbL"}


def _page_words(at) -> set[str]:
    """Latin words a reader sees: element text and labels, table headers and cells
    (widget option values are keys behind format functions, so they are skipped)."""
    import re

    texts = []
    for kind in ("markdown", "caption", "title", "subheader", "warning", "error", "info",
                 "success", "expander", "button", "metric", "radio", "selectbox",
                 "number_input", "checkbox", "multiselect", "select_slider"):
        for el in getattr(at, kind, []):
            for attr in ("value", "label", "body"):
                v = getattr(el, attr, None)
                if isinstance(v, str) and not (kind in ("radio", "selectbox") and attr == "value"):
                    texts.append(v)
    for frame in at.dataframe:
        table = frame.value
        texts += [str(c) for c in table.columns]
        for column in table.columns:
            if table[column].dtype == object and column != "编号":
                texts += [str(x) for x in table[column]]
    words = set()
    for text in texts:
        text = re.sub(r"<[^>]*>", " ", text)  # legend markup
        text = re.sub(r":\w+-badge\[", " ", text)
        text = re.sub(r"\S+\.(toml|csv|geojson|html)\b", " ", text)
        text = re.sub(r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b", " ", text)  # identifiers
        words |= set(re.findall(r"[A-Za-z]{2,}", text))
    return words - LATIN_ALLOWED


@pytest.mark.parametrize("page", ["覆盖地图", "规划目标", "街镇覆盖", "迁建与选址", "数据导入导出",
                                  "数据来源"])
def test_chinese_pages_hold_no_english(app, page):
    _open(app, page)
    assert not _page_words(app), sorted(_page_words(app))


def test_language_switch_keeps_the_tab_and_the_workbench(app):
    _open(app, "迁建与选址")
    app.selectbox(key="edit_facility").set_value("gx-zouma-thc")
    app.button(key="add_edit").click()
    _run(app)
    assert "调整后覆盖" in _metrics(app)
    app.radio(key="lang").set_value("English")
    _run(app)
    assert "Covered after" in _metrics(app)  # still the workbench, edit kept
    app.radio(key="lang").set_value("中文")
    _run(app)
    assert "调整后覆盖" in _metrics(app)


@pytest.mark.parametrize("region", [0, 1])
def test_every_shipped_scenario_opens_in_the_workbench(app, region):
    if region:
        app.selectbox(key="region:zh").select_index(1)
        _run(app)
    _open(app, "迁建与选址")
    app.radio(key="scenario_source").set_value("pack")
    _run(app)
    for name in app.selectbox(key="scenario_file").options:
        app.selectbox(key="scenario_file").set_value(name)
        _run(app)
        assert not app.error, (name, [e.value for e in app.error])
        assert "调整后覆盖" in _metrics(app), name


def test_no_error_details_reach_a_viewer():
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_an_error_inside_a_page_is_one_line_and_keeps_the_edits(app, monkeypatch):
    _open(app, "迁建与选址")
    app.selectbox(key="edit_facility").set_value("gx-zouma-thc")
    app.button(key="add_edit").click()
    _run(app)
    # A bad value reaching the library mid-page: a move to a point with no coordinates.
    app.session_state["edits"] = [*app.session_state["edits"],
                                  {"action": "move", "facility": "gx-zouma-thc",
                                   "lon": float("nan"), "lat": float("nan")}]
    _run(app)  # no traceback
    assert len(app.error) == 1
    assert len(app.session_state["edits"]) == 2  # the edits survive
    app.button(key="undo_edit").click()
    _run(app)
    assert len(app.session_state["edits"]) == 1 and not app.error
