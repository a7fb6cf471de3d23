"""重庆医疗卫生服务覆盖规划 — the Streamlit app. Run: ``scripts/run app``.

The page only places what the library computes: region packs from
:mod:`coverage.region`, maps from :mod:`coverage.maps`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from coverage import maps, schema
from coverage.region import find_regions, load_region

ROOT = Path(__file__).resolve().parent

TEXT = {
    "zh": {"title": "重庆医疗卫生服务覆盖规划", "region": "规划区域", "lang": "语言 Language",
           "townships": "乡镇街道", "population": "常住人口", "facilities": "医疗卫生机构",
           "provenance": "数据来源与质量", "base": "底图", "plain": "无底图（离线）",
           "offline": "离线时请选择“无底图”：边界、乡镇与机构以静态图显示（交互地图需联网加载）。",
           "hollow": "静态图中空心圆为规划、在建或已关闭的机构。",
           "table": "机构名录", "layer": "图层", "quality": "质量", "source": "来源"},
    "en": {"title": "Chongqing health service-coverage planning", "region": "Region",
           "lang": "语言 Language", "townships": "Townships", "population": "Residents",
           "facilities": "Health facilities", "provenance": "Data sources and quality",
           "base": "Base map", "plain": "None (offline)",
           "offline": "Offline? Choose 'None': boundaries, townships and facilities show as a "
                      "static map (the interactive map loads its scripts from the web).",
           "hollow": "On the static map, hollow circles are planned, under construction or closed.",
           "table": "Facility register", "layer": "Layer", "quality": "Quality",
           "source": "Source"},
}


@st.cache_resource(show_spinner=False)
def _region(path: str):
    return load_region(path)


def main() -> None:
    st.set_page_config(page_title="重庆医疗卫生服务覆盖规划", layout="wide")
    lang = "en" if st.sidebar.radio(TEXT["zh"]["lang"], ["中文", "English"],
                                    horizontal=True) == "English" else "zh"
    t = TEXT[lang]
    st.title(t["title"])
    packs = find_regions(ROOT)
    regions = {str(p): _region(str(p)) for p in packs}
    choice = st.sidebar.selectbox(t["region"], list(regions),
                                  format_func=lambda p: regions[p].name(lang))
    region = regions[choice]
    base = st.sidebar.radio(t["base"], ["OpenStreetMap", t["plain"]])
    st.sidebar.caption(t["offline"])

    st.subheader(region.name(lang))
    for text in region.caveats.values():
        st.warning(text)
    c1, c2, c3 = st.columns(3)
    c1.metric(t["townships"], len(region.townships))
    c2.metric(t["population"], f"{int(region.townships['population'].sum()):,}")
    c3.metric(t["facilities"], len(region.facilities))

    left, right = st.columns([4, 1])
    with left:
        if base == "OpenStreetMap":
            st_folium(maps.region_map(region, lang), height=620, use_container_width=True,
                      returned_objects=[])
        else:
            st.pyplot(maps.static_region_figure(region), clear_figure=True)
    with right:
        st.markdown(maps.legend_html(lang), unsafe_allow_html=True)
        st.caption(t["hollow"])

    with st.expander(t["table"]):
        table = pd.DataFrame(region.facilities.drop(columns="geometry"))
        table["type"] = [schema.label(schema.FACILITY_TYPES, k, lang) for k in table["type"]]
        table["status"] = [schema.label(schema.FACILITY_STATUSES, k, lang) for k in table["status"]]
        st.dataframe(table, use_container_width=True, hide_index=True)
    with st.expander(t["provenance"]):
        rows = [{t["layer"]: layer,
                 t["quality"]: schema.label(schema.PROVENANCE_QUALITIES, info["quality"], lang),
                 t["source"]: info["source"]} for layer, info in sorted(region.provenance.items())]
        st.dataframe(pd.DataFrame(rows), use_container_width=True, hide_index=True)


main()
