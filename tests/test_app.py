"""The app's first page renders on the default region, in Chinese and in English."""

from pathlib import Path

import pytest

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_first_page_shows_region_and_caveats():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "重庆医疗卫生服务覆盖规划"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["乡镇街道"] == "10"
    assert any("合成" in w.value for w in at.warning)  # the synthetic network is said on screen


def test_english_and_second_region():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.radio[0].set_value("English").run()
    assert at.title[0].value == "Chongqing health service-coverage planning"
    at.sidebar.selectbox[0].select_index(1).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Townships"] == "17"


def test_offline_static_map():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.radio[1].set_value("无底图（离线）").run()
    assert not at.exception
