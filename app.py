"""重庆医疗卫生服务覆盖规划 — the Streamlit app. Run: ``scripts/run app``.

The page only lays out what the library computes: region packs (:mod:`coverage.region`),
views of a region for the controls (:mod:`coverage.views`), maps (:mod:`coverage.maps`),
scenarios (:mod:`coverage.scenarios`) and siting (:mod:`coverage.siting`). Every
user-facing string is in :mod:`coverage.ui_text`.

Caching: a region and its :class:`~coverage.access.AccessContext` per (pack, year,
uploads) are shared resources (graphs, snaps and travel times are computed once per
process); the frames computed for a set of controls are cached data. Served by
``streamlit run app.py``, the default page is run once before the server answers
(:mod:`coverage.warmstart`).
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
from pathlib import Path

import altair as alt
import geopandas as gpd
import pandas as pd
import streamlit as st

from coverage import explain, maps, relocation, schema, ui_text, views, warmstart
from coverage.access import AccessContext
from coverage.errors import InputError
from coverage.layers import csv_text, geojson_text
from coverage.region import find_regions, load_region
from coverage.targets import REGISTER_RULES, circle_parameters, format_results
from coverage.ui_text import TEXT

#: Where the region packs are found: this repository, or COVERAGE_APP_ROOT (a folder of
#: packs laid out the same way, e.g. for the browser test's generated pack).
ROOT = Path(os.environ.get("COVERAGE_APP_ROOT") or Path(__file__).resolve().parent)
LOG = logging.getLogger("coverage.app")
#: Badge colour per target status (text badges: no emoji font is needed).
STATUS_BADGE = {"pass": "green", "fail": "red", "no data": "gray", "insufficient data": "orange"}


def st_folium(fmap, **kw):
    """streamlit-folium's map. Imported in a script run: its component registers with
    the runtime only there, not when `streamlit run` imports this module to serve it.
    The map is rendered once (``render=False``: streamlit-folium renders the map it
    sends anyway; the extra whole-page render only doubled each label's ``setIcon``)."""
    from streamlit_folium import st_folium as draw

    return draw(fmap, render=False, **kw)


def _download(where, label, data, **kw):
    """A download button that does not rerun the page: a file is handed over as it is."""
    return where.download_button(label, data, on_click="ignore", **kw)


# --- shared resources and cached views ------------------------------------------------

@st.cache_resource(show_spinner=False)
def _region(path: str):
    return load_region(path)


@st.cache_resource(show_spinner=False)
def _uploads() -> dict:
    """Uploaded data by content hash: {'region': Region, 'population': points or None}."""
    return {}


def _base_region(path: str, token: str):
    return _uploads()[token]["region"] if token else _region(path)


@st.cache_resource(show_spinner=False, max_entries=24)
def _context(path: str, year: int | None, token: str) -> AccessContext:
    """The view's context; other years share the register-as-is context's points and graphs."""
    if year is not None:
        return views.for_year(_context(path, None, token), year)
    if not token:
        return AccessContext(_region(path))
    bundle = _uploads()[token]
    return AccessContext(bundle["region"], population=bundle["population"],
                         cache_dir=None if bundle["pack_network"] else False)


@st.cache_data(show_spinner=False, max_entries=64)
def _townships(path, year, token, minutes, types, mode_choice):
    ctx = _context(path, year, token)
    return views.township_view(ctx, minutes=minutes, types=types,
                               mode=views.travel_mode(ctx.region, mode_choice))


@st.cache_data(show_spinner=False, max_entries=64)
def _bands(path, year, token, types, mode_choice, minutes):
    """The bands shown for the threshold (:func:`coverage.views.display_bands`)."""
    ctx = _context(path, year, token)
    bands = views.display_bands(minutes)
    return views.isochrone_view(ctx, ctx.facilities(list(types)),
                                views.travel_mode(ctx.region, mode_choice), bands)


@st.cache_data(show_spinner=False, max_entries=64)
def _gaps(path, year, token, minutes, types, mode_choice):
    ctx = _context(path, year, token)
    return views.gaps_view(ctx, minutes=minutes, types=types,
                           mode=views.travel_mode(ctx.region, mode_choice))


@st.cache_data(show_spinner=False, max_entries=32)
def _targets(path, year, token):
    return views.targets_view(_context(path, year, token))


@st.cache_data(show_spinner=False, max_entries=8)
def _report(path, year, token, minutes, types, mode_choice):
    ctx = _context(path, year, token)
    return views.report_html(ctx, minutes=minutes, types=types,
                             mode=views.travel_mode(ctx.region, mode_choice))


@st.cache_resource(show_spinner=False, max_entries=16)
def _baseline(path, year, token, minutes, types, mode_choice):
    ctx = _context(path, year, token)
    return views.baseline(ctx, minutes=minutes, types=types,
                          mode=views.travel_mode(ctx.region, mode_choice))


def _main_map(path, year, token, minutes, types, mode_choice, lang, base, key):
    """The coverage map of a view (the register as it stands shows every status).

    Built afresh for every draw from cached frames: streamlit-folium changes a folium
    map while drawing it, so a cached map would draw blank for the next viewer."""
    ctx = _context(path, year, token)
    return maps.coverage_map(
        ctx.region, towns=_townships(path, year, token, minutes, types, mode_choice),
        bands=_bands(path, year, token, types, mode_choice, minutes),
        gaps=_gaps(path, year, token, minutes, types, mode_choice),
        facilities=ctx.region.facilities if year is None else ctx.facilities(),
        lang=lang, base=base, tianditu_key=key)


@st.cache_resource(show_spinner=False, max_entries=16)
def _what_if(path, year, token, minutes, types, mode_choice, text, _scenario):
    """A scenario (identified by its TOML ``text``) against the view's baseline, and the
    edited register's townships, the threshold band before and after, and its open
    facilities (gaps are left to the coverage map: gained and lost areas show here)."""
    base = _baseline(path, year, token, minutes, types, mode_choice)
    result, after = views.what_if(base, _scenario, minutes=minutes)
    before_band, after_band = views.what_if_bands(base, result)
    return result, {
        "towns": views.township_view(after, minutes=minutes, types=types,
                                     mode=views.travel_mode(after.region, mode_choice)),
        "before": before_band, "bands": after_band, "facilities": after.facilities()}


# --- small helpers ---------------------------------------------------------------------

def _label(terms, key, lang):
    return schema.label(terms, key, lang)


def _caveat(region, layers, t):
    """The pack's caveats and provenance quality of ``layers``, said beside what they affect."""
    notes = [region.caveats[k] for k in layers if k in region.caveats]
    weak = [f"{t['layer_names'].get(k, k)}: {_label(schema.PROVENANCE_QUALITIES, region.provenance[k]['quality'], t['lang'])}"
            for k in layers if region.provenance.get(k, {}).get("quality") in
            ("estimated", "illustrative", "synthetic")]
    if notes or weak:
        # One line (the layers' quality), the pack's caveats behind it.
        line = t["quality_line"] + ("；" if t["lang"] == "zh" else "; ").join(weak)
        with st.expander("⚠ " + (line if weak else t["caveats"])):
            for n in notes:
                st.caption(ui_text.local(n, t["lang"]))


def _md(text) -> str:
    """``text`` (names from user data) escaped for Markdown: shown as written, never as
    markup, links, HTML or LaTeX."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&])", r"\\\1", str(text))


def _show_error(exc: Exception, t) -> None:
    sep = "：" if t["lang"] == "zh" else ": "
    st.error(f"{t['input_error']}{sep}{ui_text.input_error(exc, t['lang'])}")


def _towns_table(towns: pd.DataFrame, t) -> pd.DataFrame:
    lang = t["lang"]
    return pd.DataFrame({
        t["code"]: towns["code"], t["township"]: towns["name"],
        t["kind"]: [_label(schema.TOWNSHIP_KINDS, k, lang) for k in towns["kind"]],
        t["mode"]: [t["modes"].get(m, m) for m in towns["mode"]],
        t["population"]: towns["population"].round(0),
        t["covered"]: towns["covered"].round(0),
        t["share"]: (towns["share"] * 100).round(1)})


# --- sidebar -------------------------------------------------------------------------

def _choice(widget, label, options, name, lang, default=None, *, multi=False, **kw):
    """A choice widget whose labels follow the language while its value stays.

    Labels change with the language, so each language has its own widget (key
    ``name:lang``); the value is kept under ``keep:name`` and seeds the other one.
    """
    kept = st.session_state.get(f"keep:{name}", default)
    if multi:
        value = widget(label, options, default=[o for o in (kept or []) if o in options],
                       key=f"{name}:{lang}", **kw)
    else:
        index = options.index(kept) if kept in options else 0
        value = widget(label, options, index=index, key=f"{name}:{lang}", **kw)
    st.session_state[f"keep:{name}"] = value
    return value


def sidebar():
    lang = "en" if st.sidebar.radio(TEXT["zh"]["lang_label"], ["中文", "English"],
                                    horizontal=True, key="lang") == "English" else "zh"
    t = TEXT[lang]
    side = st.sidebar
    packs = [str(p) for p in find_regions(ROOT)]
    path = _choice(side.selectbox, t["region"], packs, "region", lang,
                   format_func=lambda p: _region(p).name(lang))
    region = _region(path)
    token = st.session_state.get(f"upload:{path}", "")
    year = _choice(side.selectbox, t["year"], ["now", *views.year_choices(region)],
                   f"year:{path}", lang, format_func=lambda y: t["year_now"] if y == "now" else f"{y}")
    year = None if year == "now" else int(year)
    circle = circle_parameters(region)
    mode_choice = _choice(side.radio, t["mode"], list(views.MODE_CHOICES), "mode", lang,
                          format_func=lambda m: t["mode_choices"][m])
    if mode_choice == "by_kind":
        side.caption(t["by_kind_help"].format(
            "；".join(f"{_label(schema.TOWNSHIP_KINDS, k, lang)} {t['modes'][m]}"
                      for k, m in sorted(circle["modes"].items()))))
    minutes = side.select_slider(t["threshold"], list(views.THRESHOLDS),
                                 value=int(circle["minutes"]), key="minutes")
    types = _choice(side.multiselect, t["types"], [term.key for term in schema.FACILITY_TYPES],
                    f"types:{path}", lang, default=list(circle["types"]), multi=True,
                    format_func=lambda k: _label(schema.FACILITY_TYPES, k, lang))
    side.divider()
    base = _choice(side.radio, t["base"], list(maps.BASE_MAPS), "base", lang,
                   format_func=lambda b: t["base_choices"][b])
    key = ""
    if base == "tianditu":
        key = side.text_input(t["tianditu_key"], type="password", key="tk")
    side.caption(t["base_help"][base])
    return {"lang": lang, "t": t, "path": path, "region": _base_region(path, token),
            "token": token, "year": year, "mode_choice": mode_choice, "minutes": minutes,
            "types": tuple(types), "base": base, "key": key, "circle": circle}


# --- pages ----------------------------------------------------------------------------

def page_map(v):
    t, region = v["t"], v["region"]
    args = (v["path"], v["year"], v["token"])
    with st.spinner(t["computing"]):
        towns = _townships(*args, v["minutes"], v["types"], v["mode_choice"])
        gaps = _gaps(*args, v["minutes"], v["types"], v["mode_choice"])
    ctx = _context(*args)
    open_now = ctx.facilities()
    population = float(towns["population"].sum())
    covered = float(towns["covered"].sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t["population"], f"{population:,.0f}")
    c2.metric(t["covered_within"].format(m=v["minutes"]),
              f"{covered / population:.1%}" if population else "—")
    c3.metric(t["open_facilities"], len(open_now))
    c4.metric(t["gaps_count"], f"{len(gaps)} / {gaps['population'].sum():,.0f}")
    # The uncovered residents split between mapped gaps and patches too small to map,
    # so the map's and the dashboard's totals visibly agree.
    uncovered = population - covered
    st.caption(t["gaps_split"].format(uncovered=uncovered, mapped=float(gaps["population"].sum()),
                                      n=len(gaps), rest=uncovered - float(gaps["population"].sum()),
                                      min=views.MIN_GAP_POPULATION))
    _caveat(region, ["network", "townships", "population", "facilities"], t)
    left, right = st.columns([4, 1])
    with left:
        fmap = _main_map(*args, v["minutes"], v["types"], v["mode_choice"], v["lang"],
                         v["base"], v["key"])
        st_folium(fmap, height=600, use_container_width=True, returned_objects=[],
                  key="main_map")
        st.caption(t["offline_note"])
    with right:
        st.markdown(maps.legend_html(v["lang"]), unsafe_allow_html=True)
    with st.expander(t["gaps_table"]):
        cols = [c for c in t["gap_columns"] if c in gaps.columns]
        st.dataframe(pd.DataFrame(gaps[cols]).rename(columns=t["gap_columns"]).round(1),
                     hide_index=True, width="stretch")


def page_targets(v):
    t, lang = v["t"], v["lang"]
    frame = _targets(v["path"], v["year"], v["token"])
    st.caption(t["targets_help"])
    _caveat(v["region"], ["network", "townships", "population", "facilities"], t)
    for row in frame.to_dict(orient="records"):
        with st.container(border=True):
            name = row["name_zh"] if lang == "zh" else row["name_en"]
            status = t["target_status"][row["status"]]
            st.markdown(f"**{html.escape(name)}** :{STATUS_BADGE[row['status']]}-badge[{status}]")
            c1, c2, c3 = st.columns(3)
            # Values from travel times are modelled (测算); counts come from the register.
            c1.metric(t["measured_kinds"]["register" if row["rule"] in REGISTER_RULES
                                          else "modelled"],
                      views.format_value(row["measured"], row["unit"]))
            c2.metric(t["required"], views.format_value(row["required"], row["unit"]))
            c3.metric(t["due"], "—" if pd.isna(row["target_year"]) else int(row["target_year"]))
            st.caption(f"「{row['quote']}」 — {ui_text.cite(row['source'], lang)}")
            if row["status"] == "fail":
                _why_failing(v, row)
            if row["details"] and lang == "en":
                st.caption(row["details"])
    _download(st, t["download_targets"], lambda: format_results(frame, "csv"),
                       file_name=f"targets-{v['region'].slug}.csv", mime="text/csv")


def _why_failing(v, row) -> None:
    """The failing townships of a target, each with its value, requirement and cause."""
    t, lang = v["t"], v["lang"]
    if row["rule"] == "circle":
        failures = explain.circle_failures(_context(v["path"], v["year"], v["token"]))
        lines = explain.township_sentences(failures, lang)
        st.markdown(f"**{t['failing']}（{len(lines)}）**" if lang == "zh" else
                    f"**{t['failing']} ({len(lines)})**")
        shown, rest = lines[:5], lines[5:]
        st.markdown("\n".join(f"- {_md(line)}" for line in shown))
        if rest:
            with st.expander(t["and_more"].format(n=len(rest))):
                st.markdown("\n".join(f"- {_md(line)}" for line in rest))
        return
    st.write(explain.rule_cause(row["rule"], lang))
    if row["failing_zh"]:
        st.markdown(f"{t['failing']}：{_md(row['failing_zh'])}" if lang == "zh"
                    else f"{t['failing']}: {_md(row['failing_zh'])}")


def page_townships(v):
    t = v["t"]
    towns = _townships(v["path"], v["year"], v["token"], v["minutes"], v["types"],
                       v["mode_choice"])
    _caveat(v["region"], ["townships", "population", "network"], t)
    table = _towns_table(towns, t)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={t["share"]: st.column_config.ProgressColumn(
                     t["share"], format="%.1f%%", min_value=0, max_value=100)})
    _download(st, t["download_townships"],
                       lambda: csv_text(pd.DataFrame(towns.drop(columns="geometry"))),
                       file_name=f"townships-{v['region'].slug}.csv", mime="text/csv")
    required = v["circle"].get("required_share")
    chart = alt.Chart(table).mark_bar().encode(
        x=alt.X(f"{t['share']}:Q", title=t["share"], scale=alt.Scale(domain=[0, 100])),
        y=alt.Y(f"{t['township']}:N", sort="-x", title=None),
        color=alt.Color(f"{t['kind']}:N"),
        tooltip=list(table.columns))
    if required is not None:
        rule = alt.Chart(pd.DataFrame({"x": [required * 100]})).mark_rule(
            color="black", strokeDash=[4, 3]).encode(x="x:Q")
        chart = chart + rule
        st.caption(t["required_line"].format(share=required))
    st.altair_chart(chart, width="stretch")


def _scenario_source(v, region):
    """The scenario chosen in the workbench: a pack file, an uploaded file, or edits built here."""
    from coverage.scenarios import find_scenarios, load_scenario

    t = v["t"]
    files = find_scenarios(region)
    source = st.radio(t["scenario_source"], ["build", "pack", "upload"], horizontal=True,
                      key="scenario_source", format_func=lambda s: t["scenario_sources"][s])
    if source == "pack":
        if not files:
            st.info(t["no_pack_scenarios"])
            return None
        path = st.selectbox(t["scenario_file"], files, format_func=lambda p: p.name,
                            key="scenario_file")
        return load_scenario(path, region.facilities)
    if source == "upload":
        up = st.file_uploader(t["scenario_upload"], type=["toml"], key="scenario_upload")
        if up is None:
            return None
        with views.stored_upload(up.getvalue(), up.name, "scenario") as file:
            return load_scenario(file, region.facilities)
    return _built_scenario(v, region)


def _built_scenario(v, region):
    t, lang = v["t"], v["lang"]
    edits = st.session_state.setdefault("edits", [])
    facilities = region.facilities
    names = dict(zip(facilities["id"], facilities["name"]))
    action = st.radio(t["edit_action"], ["move", "add", "close"], horizontal=True,
                      key="edit_action", format_func=lambda a: t["actions"][a])
    c1, c2, c3 = st.columns([2, 1, 1])
    if action == "add":
        ftype = c1.selectbox(t["type"], [x.key for x in schema.FACILITY_TYPES],
                             format_func=lambda k: _label(schema.FACILITY_TYPES, k, lang),
                             key="add_type")
        fid = f"new-{len(edits) + 1}"
    else:
        fid = c1.selectbox(t["facility"], list(facilities["id"]), key="edit_facility",
                           format_func=lambda i: names[i])
    lon = c2.number_input(t["lon"], format="%.5f", step=0.001, key="site_lon")
    lat = c3.number_input(t["lat"], format="%.5f", step=0.001, key="site_lat")
    st.caption(t["click_help"])
    b1, b2 = st.columns(2)
    if b1.button(t["add_edit"], key="add_edit", type="primary"):
        if action == "close":
            edits.append({"action": "close", "facility": fid})
        else:
            # The site goes on the analysed roads: what is drawn is what is counted.
            site = relocation.snap_site(_context(v["path"], v["work_year"], v["token"]).graph("walk"),
                                        lon, lat)
            st.session_state["last_snap"] = site
            if action == "move":
                edits.append({"action": "move", "facility": fid, "lon": site.lon, "lat": site.lat})
            else:
                edits.append({"action": "add", "facility": fid,
                              "name": f"{t['new_site']} {len(edits) + 1}", "type": ftype,
                              "lon": site.lon, "lat": site.lat})
    if b2.button(t["clear_edits"], key="clear_edits"):
        edits.clear()
    site = st.session_state.get("last_snap")
    if site is not None and edits:
        st.caption(t["snapped"].format(lon=site.lon, lat=site.lat, m=site.distance_m))
        if site.far:
            st.warning(t["far_from_road"].format(m=site.distance_m,
                                                 limit=relocation.FAR_FROM_ROAD_M))
    if not edits:
        return None
    st.dataframe(_edits_table(edits, names, t), hide_index=True, width="stretch")
    return views.scenario_from_edits(edits, year=v["work_year"], name_zh=t["my_scenario_zh"],
                                     name_en=t["my_scenario_en"])


def _edits_table(edits, names, t) -> pd.DataFrame:
    """The workbench edits in the page's language: action, facility name, place."""
    c = t["edit_columns"]
    return pd.DataFrame({
        c["action"]: [t["actions"][e["action"]] for e in edits],
        c["facility"]: [e.get("name") or names.get(e["facility"], e["facility"]) for e in edits],
        c["lon"]: [f"{e['lon']:.5f}" if "lon" in e else "—" for e in edits],
        c["lat"]: [f"{e['lat']:.5f}" if "lat" in e else "—" for e in edits]})


def page_workbench(v):
    from coverage.scenarios import scenario_text

    t, region = v["t"], v["region"]
    years = views.year_choices(region)
    v["work_year"] = v["year"] if v["year"] is not None else (
        int(v["circle"].get("year") or years[-1]))
    st.caption(t["workbench_help"].format(year=v["work_year"]))
    _caveat(region, ["network", "townships", "population", "facilities"], t)
    if "pending_source" in st.session_state:
        st.session_state["scenario_source"] = st.session_state.pop("pending_source")
    pending = st.session_state.pop("pending_site", None)
    if pending is not None:
        st.session_state["site_lon"], st.session_state["site_lat"] = pending
    st.session_state.setdefault("site_lon", float(region.boundary.centroid.x))
    st.session_state.setdefault("site_lat", float(region.boundary.centroid.y))
    try:
        scenario = _scenario_source(v, region)
    except InputError as exc:
        _show_error(exc, t)
        scenario = None
    args = (v["path"], v["work_year"], v["token"])
    types, mode_choice, minutes = v["types"], v["mode_choice"], v["minutes"]
    result = after = None
    if scenario is not None and scenario.edits:
        try:
            with st.spinner(t["computing"]):
                result, after = _what_if(*args, minutes, types, mode_choice,
                                         scenario_text(scenario), scenario)
        except InputError as exc:
            _show_error(exc, t)
            _undo_button(t)
    sites = st.session_state.get("sites")
    shown = None if sites is None else sites[["id", "name", "geometry"]]
    if st.session_state.get("scenario_source", "build") == "build":
        # The point in the number inputs (where a click put it), only while editing here.
        picked = gpd.GeoDataFrame(
            {"id": ["picked"], "name": [t["picked_site"]]}, crs="EPSG:4326",
            geometry=gpd.points_from_xy([st.session_state["site_lon"]],
                                        [st.session_state["site_lat"]]))
        shown = picked if shown is None else pd.concat([picked, shown], ignore_index=True)
    if result is not None:
        towns, bands, facilities = after["towns"], after["bands"], after["facilities"]
        before_bands, gaps = after["before"], None
    else:
        towns = _townships(*args, minutes, types, mode_choice)
        bands = _bands(*args, types, mode_choice, minutes)
        before_bands, facilities = None, _context(*args).facilities()
        gaps = _gaps(*args, minutes, types, mode_choice)
    roads = None
    if st.checkbox(t["show_roads"], key="show_roads"):
        roads = relocation.road_lines(_context(*args).graph("walk"), region.boundary)
    left, right = st.columns([4, 1])
    with left:
        fmap = maps.coverage_map(region, towns=towns, bands=bands, gaps=gaps,
                                 facilities=facilities, lang=v["lang"], base=v["base"],
                                 tianditu_key=v["key"], before_bands=before_bands, sites=shown,
                                 changes=None if result is None else result.changes, roads=roads)
        out = st_folium(fmap, height=520, use_container_width=True,
                        returned_objects=["last_clicked"], key="work_map")
    with right:
        st.markdown(maps.legend_html(v["lang"], changes=result is not None),
                    unsafe_allow_html=True)
    click = (out or {}).get("last_clicked")
    if click and click != st.session_state.get("last_click"):
        st.session_state["last_click"] = click
        st.session_state["pending_site"] = maps.clicked_wgs84(click["lng"], click["lat"], v["base"])
        st.rerun()
    st.caption(t["workbench_map_help"])
    if sites is not None and st.button(t["sites_to_scenario"], key="sites_to_scenario"):
        edits = st.session_state.setdefault("edits", [])
        for name, point in zip(sites["name"], sites.geometry):
            edits.append({"action": "add", "facility": f"new-{len(edits) + 1}",
                          "name": f"{t['new_site']} {name}",
                          "type": st.session_state.get("add_type", "township_health_centre"),
                          "lon": float(point.x), "lat": float(point.y)})
        st.session_state["pending_source"] = "build"
        st.rerun()
    if result is not None:
        _show_result(result, t)
        _download(st, t["download_scenario"], lambda: scenario_text(scenario),
                           file_name="scenario.toml", mime="application/toml")
    st.divider()
    _siting(v, args)


def _show_result(result, t):
    totals = result.totals.iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t["covered_before"], f"{totals['covered_before']:,.0f}")
    c2.metric(t["covered_after"], f"{totals['covered_after']:,.0f}",
              delta=f"{totals['net']:+,.0f}")
    c3.metric(t["gained"], f"{totals['gained']:,.0f}")
    c4.metric(t["lost"], f"{totals['lost']:,.0f}")
    towns = result.townships[result.townships["code"] != ""]
    st.markdown(f"**{t['by_township']}**")
    st.dataframe(towns[["name", "population", "covered_before", "covered_after", "gained",
                        "lost", "net"]].rename(columns=t["result_columns"]),
                 hide_index=True, width="stretch")
    st.markdown(f"**{t['target_changes']}**")
    st.dataframe(_target_changes(result.targets, t), hide_index=True, width="stretch")


def _target_changes(frame: pd.DataFrame, t) -> pd.DataFrame:
    """The scenario's targets, those that change first, in the page's language."""
    c = t["tc_columns"]
    out = pd.DataFrame({
        c["name"]: frame["name_zh" if t["lang"] == "zh" else "name_en"],
        c["change"]: [t["change_kinds"][k] for k in frame["change"]],
        c["before"]: [f"{t['target_status'][s]} {views.format_value(m, u)}" for s, m, u in
                      zip(frame["status_before"], frame["measured_before"], frame["unit"])],
        c["after"]: [f"{t['target_status'][s]} {views.format_value(m, u)}" for s, m, u in
                     zip(frame["status_after"], frame["measured_after"], frame["unit"])],
        c["required"]: [views.format_value(r, u) for r, u in zip(frame["required"], frame["unit"])],
        c["failing"]: frame["failing_zh_after"]})
    return out.iloc[frame["change"].eq("").argsort(kind="stable")]


def _siting(v, args):
    from coverage import siting

    t, region, lang = v["t"], v["region"], v["lang"]
    st.subheader(t["siting"])
    towns = region.townships
    town_names = dict(zip(towns["code"].astype(str), towns["name"]))
    c1, c2, c3 = st.columns(3)
    area = c1.selectbox(t["candidate_area"], ["", *towns["code"].astype(str)], key="cand_area",
                        format_func=lambda c: t["whole_region"] if c == "" else town_names[c])
    spacing = c2.number_input(t["spacing"], 200, 5000, int(siting.CANDIDATE_SPACING_M), step=100,
                              key="spacing")
    k = c3.number_input(t["k_sites"], 1, 20, 2, key="k_sites")
    ctx = _context(*args)
    mode = views.travel_mode(region, v["mode_choice"])
    polygon = region.boundary if area == "" else siting.township_area(region, area)
    candidates = siting.candidates_on_network(ctx.graph("walk"), polygon, spacing_m=float(spacing))
    st.caption(t["candidates_count"].format(n=len(candidates)))
    b1, b2, b3 = st.columns(3)
    model = b3.selectbox(t["model"], list(siting.MODELS), key="model",
                         format_func=lambda m: t["models"][m])
    if b1.button(t["rank"], key="rank"):
        with st.spinner(t["computing"]):
            ranked = siting.rank_candidates(ctx, candidates, minutes=v["minutes"], mode=mode,
                                            types=list(v["types"]))
        _keep_sites(region, candidates, ranked.head(10)["id"], "ranking", ranked.head(10))
    if b3.button(t["optimise"], key="optimise"):
        with st.spinner(t["computing"]):
            answer = siting.optimize(ctx, candidates, model, minutes=v["minutes"], k=int(k),
                                     mode=mode, types=list(v["types"]), time_limit=20.0)
            summary = explain.siting_summary(ctx, answer, minutes=v["minutes"], mode=mode,
                                             types=v["types"], lang=lang)
        st.session_state["answer"] = (answer.model, summary)
        _keep_sites(region, candidates, answer.selected, "answer_sites")
    open_now = ctx.facilities(list(v["types"]))
    centre = b2.selectbox(t["move_centre"], list(open_now["id"]), key="move_centre",
                          format_func=dict(zip(open_now["id"], open_now["name"])).get)
    if b2.button(t["best_moves"], key="best_moves"):
        with st.spinner(t["computing"]):
            moves = relocation.best_moves(ctx, centre, candidates, minutes=v["minutes"],
                                          mode=mode, types=list(v["types"]))
        _keep_sites(region, candidates, moves.head(10)["id"], "moves", moves.head(10))
        st.session_state["moves_for"] = centre
    if "ranking" in st.session_state:
        st.markdown(f"**{t['ranking']}**")
        st.dataframe(_ranking_table(st.session_state["ranking"], t), hide_index=True,
                     width="stretch")
    if "moves" in st.session_state:
        st.markdown(f"**{t['moves_title']}**")
        moves = st.session_state["moves"]
        st.dataframe(_moves_table(moves, t), hide_index=True, width="stretch")
        if len(moves) and st.button(t["use_best_move"], key="use_best_move"):
            best = moves.iloc[0]
            st.session_state.setdefault("edits", []).append(
                {"action": "move", "facility": st.session_state["moves_for"],
                 "lon": float(best["lon"]), "lat": float(best["lat"])})
            st.session_state["pending_source"] = "build"
            st.rerun()
    if "answer" in st.session_state:
        model_name, summary = st.session_state["answer"]
        labels = list(st.session_state.get("answer_sites", pd.DataFrame({"label": []}))["label"])
        shown = "；".join(labels[:5]) + (t["and_more"].format(n=len(labels) - 5)
                                        if len(labels) > 5 else "")
        st.success(t["answer"].format(model=t["models"][model_name], sites=shown,
                                      summary=summary))
        if len(labels) > 5:
            with st.expander(t["all_sites"].format(n=len(labels))):
                st.dataframe(pd.DataFrame({t["site"]: labels}), hide_index=True, width="stretch")


def _keep_sites(region, candidates, ids, name, table=None) -> None:
    """Show the chosen candidates on the map, named by township and coordinates."""
    chosen = candidates[candidates["id"].astype(str).isin(set(map(str, ids)))]
    described = explain.describe_sites(region, chosen)
    st.session_state["sites"] = chosen.assign(name=described["label"].to_numpy())
    st.session_state[name] = (described if table is None else
                              table.merge(described[["id", "township", "label"]], on="id"))
    st.rerun()


def _ranking_table(ranked: pd.DataFrame, t) -> pd.DataFrame:
    """Candidate ranking in the page's language: where each site is and what it adds."""
    c = t["ranking_columns"]
    return pd.DataFrame({
        c["site"]: ranked["label"],
        c["newly_covered"]: ranked["newly_covered"].round(0),
        c["newly_reached"]: ranked["newly_reached"].round(0),
        c["minutes_saved"]: ranked["mean_minutes_reduction"].round(2),
        c["own_share"]: [f"{b:.1%} → {a:.1%}" for b, a in
                         zip(ranked["circle_share_before"], ranked["circle_share_after"])],
        c["townships_passing"]: ranked["townships_passing"]})


def _moves_table(moves: pd.DataFrame, t) -> pd.DataFrame:
    c = t["moves_columns"]
    return pd.DataFrame({c["site"]: moves["label"], c["gained"]: moves["gained"].round(0),
                         c["lost"]: moves["lost"].round(0), c["net"]: moves["net"].round(0)})


def page_data(v):
    t, region = v["t"], v["region"]
    st.subheader(t["uploads"])
    st.caption(t["upload_help"])
    fac = st.file_uploader(t["upload_facilities"], type=["csv", "xlsx", "xls", "geojson", "json"],
                           key="up_fac")
    fac_crs = st.selectbox(t["upload_crs"], ["WGS84", "GCJ02", "BD09"], key="up_crs",
                           format_func=lambda c: t["crs_names"][c])
    raster = st.file_uploader(t["upload_raster"], type=["tif", "tiff"], key="up_raster")
    roads = st.file_uploader(t["upload_roads"], type=["osm", "pbf", "graphml", "geojson", "gpkg"],
                             key="up_roads")
    c1, c2 = st.columns(2)
    if c1.button(t["use_uploads"], key="use_uploads", type="primary"):
        _use_uploads(v, fac, fac_crs, raster, roads)
    if v["token"] and c2.button(t["drop_uploads"], key="drop_uploads"):
        del st.session_state[f"upload:{v['path']}"]
        st.rerun()
    if v["token"]:
        st.info(t["using_uploads"])

    st.subheader(t["downloads"])
    args = (v["path"], v["year"], v["token"], v["minutes"], v["types"], v["mode_choice"])
    towns = _townships(*args)
    gaps = _gaps(*args)
    bands = _bands(v["path"], v["year"], v["token"], v["types"], v["mode_choice"],
                   v["minutes"])
    slug = region.slug
    ctx = _context(v["path"], v["year"], v["token"])

    def facilities_csv() -> str:
        return csv_text(views.open_facilities_table(ctx))

    # Each file is made when its button is pressed.
    c1, c2, c3 = st.columns(3)
    _download(c1, t["dl_townships_geo"], lambda: geojson_text(towns),
                       file_name=f"townships-{slug}.geojson", mime="application/geo+json")
    _download(c2, t["dl_isochrones"], lambda: geojson_text(bands),
                       file_name=f"isochrones-{slug}.geojson", mime="application/geo+json")
    _download(c3, t["dl_gaps"], lambda: geojson_text(gaps),
                       file_name=f"gaps-{slug}.geojson", mime="application/geo+json")
    _download(c1, t["download_townships"],
                       lambda: csv_text(pd.DataFrame(towns.drop(columns="geometry"))),
                       file_name=f"townships-{slug}.csv", mime="text/csv", key="dl_towns_csv")
    _download(c2, t["dl_facilities"], facilities_csv, file_name=f"facilities-{slug}.csv",
                       mime="text/csv")
    _download(c3, t["dl_report"], lambda: _report(*args), file_name=f"report-{slug}.html",
                       mime="text/html")


def _data(upload) -> tuple[bytes, str] | None:
    return None if upload is None else (upload.getvalue(), upload.name)


def _use_uploads(v, fac, fac_crs, raster, roads):
    """Validate the uploads with the library's readers and switch the view to them."""
    t, base = v["t"], _region(v["path"])
    if fac is None and raster is None and roads is None:
        st.warning(t["nothing_uploaded"])
        return
    digest = hashlib.sha256(v["path"].encode())
    for up in (fac, raster, roads):
        digest.update(b"|" if up is None else up.getvalue())
    digest.update(fac_crs.encode())
    token = digest.hexdigest()[:16]
    if token not in _uploads():
        try:
            with st.spinner(t["computing"]):
                region, population = views.with_uploads(
                    base, facilities=_data(fac), facilities_crs=fac_crs, roads=_data(roads),
                    raster=_data(raster))
        except (InputError, ValueError) as exc:
            _show_error(exc, t)
            return
        _uploads()[token] = {"region": region, "population": population,
                             "pack_network": roads is None}
    st.session_state[f"upload:{v['path']}"] = token
    st.rerun()


def page_sources(v):
    t, region, lang = v["t"], v["region"], v["lang"]
    # The packs' provenance is written in English: the Chinese page gives each layer's
    # quality and caveat, and points to the English page for the full citation.
    rows = [{t["layer"]: t["layer_names"].get(layer, layer),
             t["quality"]: _label(schema.PROVENANCE_QUALITIES, info["quality"], lang),
             **({t["source"]: info["source"], t["licence"]: info.get("licence", ""),
                 t["notes"]: info.get("notes", "")} if lang == "en" else
                {t["notes"]: ui_text.local(region.caveats.get(layer, ""), lang)})}
            for layer, info in sorted(region.provenance.items())]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if t["provenance_zh_note"]:
        st.caption(t["provenance_zh_note"])
    for text in region.caveats.values():
        st.caption("⚠ " + ui_text.local(text, lang))
    st.subheader(t["register"])
    table = pd.DataFrame(region.facilities.drop(columns="geometry"))
    table["type"] = [_label(schema.FACILITY_TYPES, k, lang) for k in table["type"]]
    table["status"] = [_label(schema.FACILITY_STATUSES, k, lang) for k in table["status"]]
    table["location_quality"] = [_label(schema.LOCATION_QUALITIES, k, lang)
                                 for k in table["location_quality"]]
    table["source"] = [ui_text.cite(s, lang) for s in table["source"]]
    st.dataframe(table.rename(columns=t["register_columns"]), width="stretch", hide_index=True)


def main() -> None:
    st.set_page_config(page_title="重庆医疗卫生服务覆盖规划", layout="wide")
    st.session_state["_undo_drawn"] = False
    v = sidebar()
    t = v["t"]
    st.title(t["title"])
    st.caption(v["region"].name(v["lang"]) + (f" · {t['year']} {v['year']}" if v["year"] else
                                             f" · {t['year_now']}"))
    if not v["types"]:
        st.warning(t["no_types"])
        return
    keys = ["tab_map", "tab_targets", "tab_townships", "tab_workbench", "tab_data", "tab_sources"]
    names = [t[k] for k in keys]
    # The open tab is kept by its key and seeds the other language's tabs, so the
    # language switch stays on it.
    kept, widget = st.session_state.get("keep:page"), f"page:{v['lang']}"
    if widget not in st.session_state and kept in keys:
        st.session_state[widget] = t[kept]
    # Only the open tab is computed and drawn: a control change costs one page.
    tabs = st.tabs(names, key=widget, on_change="rerun")
    pages = (page_map, page_targets, page_townships, page_workbench, page_data, page_sources)
    for key, tab, page in zip(keys, tabs, pages):
        if tab.open:
            st.session_state["keep:page"] = key
            with tab:
                _guarded(page, v)


def _guarded(page, v) -> None:
    """Run a page; an error shows one line in the page's language (the sidebar, the
    other pages and the workbench edits stay), the details go to the server log."""
    t = v["t"]
    try:
        page(v)
    except InputError as exc:
        _show_error(exc, t)
        _undo_button(t)
    except Exception:  # noqa: BLE001 - the page boundary: no traceback reaches the viewer
        LOG.exception("page %s failed", page.__name__)
        st.error(t["page_error"])
        _undo_button(t)


def _undo_button(t) -> None:
    """After an error, the last workbench edit can be taken back (the others stay); one
    button per run, however many errors it had."""
    if st.session_state.get("_undo_drawn") or not st.session_state.get("edits"):
        return
    st.session_state["_undo_drawn"] = True
    if st.button(t["undo_edit"], key="undo_edit"):
        st.session_state["edits"].pop()
        st.rerun()

if __name__ == "__main__":  # a viewer's session runs the page
    main()
else:  # `streamlit run app.py` imports this module to serve it, warm (coverage.warmstart)
    app = st.App(Path(__file__).resolve(), lifespan=warmstart.first_page)
