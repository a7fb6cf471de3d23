"""Folium maps of a region: base maps, townships by coverage, isochrones, gaps, facilities.

The map shows only what the library computed; the app (``app.py``) places it on
the page. Every estimated or synthetic layer says so in its layer name and tooltip.

Offline use: folium loads Leaflet, jQuery, Bootstrap and awesome-markers from CDNs,
and ``streamlit-folium`` does not bundle Leaflet. These maps need Leaflet only:
markers are ``DivIcon`` HTML (no icon fonts), the choropleth is styled here (no
branca colour map, which would pull d3), and Leaflet 1.9.4 itself is vendored in
``coverage/static/leaflet`` (BSD-2-Clause) and inlined as ``data:`` URLs
(:func:`use_vendored_leaflet`). So the map draws with no network at all; only the
base-map tiles need one, and the app says so.

Base maps (:data:`BASE_MAPS`): OpenStreetMap and 天地图 (Tianditu, CGCS2000, which
matches WGS-84 at map scale, with the user's key) take the WGS-84 overlays as they
are. 高德 (Amap) tiles are drawn in GCJ-02, so with Amap every overlay is shifted
to GCJ-02 (:func:`display_frame`), and a clicked point is shifted back to WGS-84
(:func:`clicked_wgs84`) before any analysis.
"""

from __future__ import annotations

import base64
import functools
import html
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.template import Template

from coverage import crs, schema
from coverage.layers import clean_geometry
from coverage.palette import SHARE_OPACITY, share_classes, share_colour
from coverage.ui_text import TEXT

STATIC = Path(__file__).resolve().parent / "static"

#: Base maps offered: key -> coordinate system of its tiles.
BASE_MAPS = {"osm": "WGS84", "tianditu": "WGS84", "amap": "GCJ02", "none": "WGS84"}

#: Tianditu WMTS (Web Mercator ``_w`` tile matrix): vector map and its annotation layer.
TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")
AMAP_URL = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
            "&style=8&x={x}&y={y}&z={z}")

#: Polygons are simplified by this much for display (about 15 m: finer than a screen
#: pixel at the zoom that shows a township; the downloads keep the layers' detail).
DISPLAY_SIMPLIFY_DEG = 1.5e-4

#: Marker colour per facility type.
TYPE_COLOURS = {
    "tertiary_hospital": "#8b0000",
    "secondary_hospital": "#e31a1c",
    "township_health_centre": "#1f78b4",
    "community_health_centre": "#17becf",
    "village_clinic": "#33a02c",
    "cdc": "#6a3d9a",
    "maternal_child_health": "#e377c2",
    "emergency_station": "#ff7f00",
    "other": "#7f7f7f",
}

#: Isochrone band colours, nearest band darkest.
BAND_COLOURS = ("#08519c", "#3182bd", "#6baed6", "#bdd7e7", "#eff3ff")
#: Bands are light, so the township shading under them keeps its legend colour.
BAND_OPACITY = 0.18
GAP_COLOUR = "#7b3294"
CHANGE_COLOURS = {"gained": "#1a9850", "lost": "#d73027"}
CANDIDATE_COLOUR = "#000000"
ROAD_COLOUR = "#444444"
#: The map's frame in pixels (the app draws it about this size) for the initial zoom.
FRAME_PX = (900, 540)


@functools.cache
def _data_url(name: str, mime: str) -> str:
    data = (STATIC / "leaflet" / name).read_bytes()
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def use_vendored_leaflet(fmap: folium.Map) -> None:
    """Make ``fmap`` load only the vendored Leaflet, inlined, instead of folium's CDN set."""
    fmap.default_js = [("leaflet", _data_url("leaflet.js", "text/javascript"))]
    fmap.default_css = [("leaflet_css", _data_url("leaflet.css", "text/css"))]


class TextTooltip(folium.Tooltip):
    """A marker tooltip whose text is set as text (``textContent``), never as HTML or
    inside a JS template literal (folium's own puts it in backticks, so ``${...}`` in a
    facility name would run)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindTooltip(function () {
                var div = document.createElement("div");
                div.textContent = {{ this.text|tojson }};
                return div;
            }, {{ this.options|tojavascript }});
        {% endmacro %}
    """)


class TextGeoJsonTooltip(folium.GeoJsonTooltip):
    """A feature tooltip (a table of ``fields``) whose values are set as text: folium's
    own joins them into ``innerHTML``, so an ``<img onerror=...>`` name would run on hover."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            var div = L.DomUtil.create("div");
            var table = L.DomUtil.create("table", "", div);
            var fields = {{ this.fields|tojson }};
            var aliases = {{ this.aliases|tojson }};
            fields.forEach(function (field, i) {
                var row = L.DomUtil.create("tr", "", table);
                {% if this.labels %}
                L.DomUtil.create("th", "", row).textContent = aliases[i];
                {% endif %}
                var value = layer.feature.properties[field];
                L.DomUtil.create("td", "", row).textContent =
                    value === null || value === undefined ? "" : String(value);
            });
            return div;
        }, {{ this.tooltip_options|tojavascript }});
        {% endmacro %}
    """)


def quality_note(region, layer: str, lang: str) -> str:
    """`` (estimated)``/``（估算）``... for a layer whose provenance is not official or surveyed."""
    quality = region.provenance.get(layer, {}).get("quality", "official")
    return TEXT[lang]["quality_note"].get(quality, "")


def display_frame(frame: gpd.GeoDataFrame, base: str) -> gpd.GeoDataFrame:
    """``frame`` (WGS-84) in the coordinates of the base map's tiles (GCJ-02 for Amap)."""
    if BASE_MAPS[base] == "WGS84" or len(frame) == 0:
        return frame

    def shift(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(crs.wgs84_to_gcj02(xy[:, 0], xy[:, 1]))

    return frame.set_geometry(shapely.transform(frame.geometry.to_numpy(), shift), crs="EPSG:4326")


def clicked_wgs84(lon: float, lat: float, base: str) -> tuple[float, float]:
    """A point clicked on the map, back in WGS-84."""
    if BASE_MAPS[base] == "WGS84":
        return float(lon), float(lat)
    x, y = crs.gcj02_to_wgs84(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def base_map(region, *, base: str = "osm", tianditu_key: str = "", lang: str = "zh") -> folium.Map:
    """An empty map fitted to the region on a base map of :data:`BASE_MAPS`.

    ``'none'`` (or ``'tianditu'`` without a key) gives a plain background.
    """
    if base not in BASE_MAPS:
        raise ValueError(f"unknown base map {base!r}: expected one of {', '.join(BASE_MAPS)}")
    t = TEXT[lang]
    minx, miny, maxx, maxy = display_frame(
        gpd.GeoDataFrame(geometry=[region.boundary], crs="EPSG:4326"), base).total_bounds
    # A zoom that fits the region in the map's frame (fit_bounds would run before the
    # Streamlit frame has its size and zoom out too far); quarter steps fill the frame.
    width = max(maxx - minx, 1e-6)
    height = max(np.degrees(np.log(np.tan(np.radians(45 + maxy / 2)))
                            - np.log(np.tan(np.radians(45 + miny / 2)))), 1e-6)
    fit = np.log2(min(FRAME_PX[0] * 360 / (256 * width), FRAME_PX[1] * 360 / (256 * height)))
    zoom = float(np.clip(np.floor(fit * 4) / 4, 3, 17))
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None,
                      zoom_start=zoom, zoom_snap=0.25, zoom_delta=0.5, control_scale=True,
                      prefer_canvas=True)
    use_vendored_leaflet(fmap)
    if base == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(fmap)
    elif base == "tianditu" and tianditu_key.strip():
        key = "".join(ch for ch in tianditu_key if ch.isalnum())
        for layer, name in (("vec", t["base_tianditu"]), ("cva", t["base_tianditu_labels"])):
            folium.TileLayer(TIANDITU_URL.format(layer=layer, key=key), name=name,
                             attr="&copy; 天地图 Tianditu", subdomains="01234567",
                             overlay=layer == "cva", control=False).add_to(fmap)
    elif base == "amap":
        folium.TileLayer(AMAP_URL, name=t["base_amap"], attr="&copy; 高德地图 AutoNavi",
                         subdomains="1234", control=False).add_to(fmap)
    return fmap


def _geojson(frame: gpd.GeoDataFrame, base: str) -> dict:
    frame = display_frame(frame, base)
    geoms = shapely.simplify(frame.geometry.to_numpy(), DISPLAY_SIMPLIFY_DEG, preserve_topology=True)
    return frame.set_geometry([clean_geometry(g) for g in geoms], crs="EPSG:4326").__geo_interface__


def add_boundary(fmap: folium.Map, region, *, base: str = "osm", lang: str = "zh") -> None:
    """The region outline."""
    frame = gpd.GeoDataFrame(geometry=[region.boundary], crs="EPSG:4326")
    folium.GeoJson(
        _geojson(frame, base), name=TEXT[lang]["boundary"] + quality_note(region, "boundary", lang),
        style_function=lambda _: {"color": "#222222", "weight": 2.5, "fill": False},
    ).add_to(fmap)


def add_townships(fmap: folium.Map, region, towns: gpd.GeoDataFrame, *, base: str = "osm",
                  lang: str = "zh") -> None:
    """Townships shaded by share within the threshold, with a tooltip of the figures.

    ``towns`` is :func:`coverage.views.township_view` (``population``, ``covered``,
    ``share``, ``minutes``).
    """
    t = TEXT[lang]
    note = quality_note(region, "townships", lang)
    pop_note = quality_note(region, "population", lang)
    frame = towns[["name", "kind", "population", "covered", "share", "geometry"]].copy()
    frame["kind"] = [schema.label(schema.TOWNSHIP_KINDS, k, lang) for k in frame["kind"]]
    frame["fill"] = [share_colour(s) for s in frame["share"]]
    frame["population"] = [f"{p:,.0f}" for p in frame["population"]]
    frame["covered"] = [f"{c:,.0f}" for c in frame["covered"]]
    frame["share"] = ["—" if pd.isna(s) else f"{s:.1%}" for s in frame["share"]]
    folium.GeoJson(
        _geojson(frame, base), name=t["layer_townships"] + note,
        style_function=lambda f: {"color": "#555555", "weight": 1, "fillOpacity": SHARE_OPACITY,
                                  "fillColor": f["properties"]["fill"]},
        tooltip=TextGeoJsonTooltip(
            fields=["name", "kind", "population", "covered", "share"],
            aliases=[t["township"], t["kind"], t["population"] + pop_note, t["covered"],
                     t["share"]]),
    ).add_to(fmap)


def add_township_labels(fmap: folium.Map, towns: gpd.GeoDataFrame, *, base: str = "osm",
                        lang: str = "zh") -> None:
    """Township names at a point inside each township (names are escaped: shown as text)."""
    layer = folium.FeatureGroup(name=TEXT[lang]["layer_labels"])
    points = display_frame(gpd.GeoDataFrame(
        {"name": towns["name"]}, geometry=towns.geometry.representative_point(),
        crs="EPSG:4326"), base)
    for name, point in zip(points["name"], points.geometry):
        text = html.escape(str(name))
        folium.Marker(location=[point.y, point.x], icon=folium.DivIcon(
            html=(f"<span style='font-size:12px;color:#222;white-space:nowrap;"
                  f"text-shadow:0 0 2px #fff,0 0 2px #fff;transform:translate(-50%,-50%);"
                  f"display:inline-block'>{text}</span>"),
            icon_size=(0, 0), class_name="township-label")).add_to(layer)
    layer.add_to(fmap)


def add_roads(fmap: folium.Map, roads: gpd.GeoDataFrame, *, base: str = "osm",
              lang: str = "zh", name: str | None = None) -> None:
    """The analysed road network (:func:`coverage.relocation.road_lines`) as thin lines,
    so the planner sees the roads being analysed rather than the base map's."""
    if len(roads) == 0:
        return
    lines = shapely.union_all(display_frame(roads, base).geometry.to_numpy(), grid_size=1e-6)
    frame = gpd.GeoDataFrame(geometry=[lines], crs="EPSG:4326")
    folium.GeoJson(frame.__geo_interface__, name=name or TEXT[lang]["layer_roads"],
                   style_function=lambda _: {"color": ROAD_COLOUR, "weight": 1, "opacity": 0.7},
                   ).add_to(fmap)


def add_isochrones(fmap: folium.Map, bands: gpd.GeoDataFrame, *, base: str = "osm",
                   lang: str = "zh", name: str | None = None, outline: bool = False,
                   show: bool = True) -> None:
    """Isochrone bands (``minutes``, geometry), widest drawn first; ``outline``: dashed lines only."""
    t = TEXT[lang]
    layer = folium.FeatureGroup(name=name or t["layer_isochrones"], show=show)
    order = bands.sort_values("minutes", ascending=False)
    for i, (minutes, geom) in enumerate(zip(order["minutes"], order.geometry)):
        if geom is None or geom.is_empty:
            continue
        colour = BAND_COLOURS[min(len(order) - 1 - i, len(BAND_COLOURS) - 1)]
        style = ({"color": "#555555", "weight": 0.8, "dashArray": "3 3", "fill": False}
                 if outline else {"color": colour, "weight": 0.8, "fillColor": colour,
                                  "fillOpacity": BAND_OPACITY})
        frame = gpd.GeoDataFrame({"label": [t["within_minutes"].format(m=minutes)]},
                                 geometry=[geom], crs="EPSG:4326")
        folium.GeoJson(_geojson(frame, base), style_function=lambda _, s=style: s,
                       tooltip=TextGeoJsonTooltip(fields=["label"], labels=False),
                       ).add_to(layer)
    layer.add_to(fmap)


def add_gaps(fmap: folium.Map, gaps: gpd.GeoDataFrame, *, base: str = "osm",
             lang: str = "zh") -> None:
    """Gaps (clusters of uncovered residents) with their residents and nearest facility."""
    t = TEXT[lang]
    if len(gaps) == 0:
        return
    frame = gaps[["id", "population", "township_name", "nearest_name", "nearest_minutes",
                  "geometry"]].copy()
    frame["population"] = [f"{p:,.0f}" for p in frame["population"]]
    frame["nearest_minutes"] = ["—" if pd.isna(m) else f"{m:.1f}" for m in frame["nearest_minutes"]]
    folium.GeoJson(
        _geojson(frame, base), name=t["layer_gaps"],
        style_function=lambda _: {"color": GAP_COLOUR, "weight": 1, "fillColor": GAP_COLOUR,
                                  "fillOpacity": 0.15},
        tooltip=TextGeoJsonTooltip(
            fields=["id", "population", "township_name", "nearest_name", "nearest_minutes"],
            aliases=[t["gap"], t["uncovered"], t["township"], t["nearest"], t["minutes_to"]]),
    ).add_to(fmap)


def add_changes(fmap: folium.Map, changes: gpd.GeoDataFrame, *, base: str = "osm",
                lang: str = "zh") -> None:
    """Areas gaining (green) or losing (red) coverage in a scenario
    (:attr:`coverage.scenarios.ScenarioResult.changes`)."""
    t = TEXT[lang]
    if len(changes) == 0:
        return
    frame = changes[["change", "area_km2", "residents", "geometry"]].copy()
    frame["label"] = [t["change_names"].get(c, c) for c in frame["change"]]
    frame["area_km2"] = [f"{a:.2f}" for a in frame["area_km2"]]
    frame["residents"] = [f"{r:,.0f}" for r in frame["residents"]]
    folium.GeoJson(
        _geojson(frame, base), name=t["layer_changes"],
        style_function=lambda f: {"color": CHANGE_COLOURS.get(f["properties"]["change"], "#555"),
                                  "weight": 1, "fillOpacity": 0.5,
                                  "fillColor": CHANGE_COLOURS.get(f["properties"]["change"], "#555")},
        tooltip=TextGeoJsonTooltip(fields=["label", "area_km2", "residents"],
                                      aliases=[t["layer_changes"], "km²", t["population"]]),
    ).add_to(fmap)


def status_symbol(status: str, colour: str, size: int = 14) -> str:
    """HTML of a facility symbol: the type's colour, the shape by status.

    Existing: filled circle; relocating: filled diamond; under construction: ring
    with a dot; planned: dashed ring; closed: grey cross.
    """
    box = f"width:{size}px;height:{size}px;box-sizing:border-box;display:inline-block;"
    if status == "relocating":
        return (f"<span style='{box}background:{colour};border:2px solid #fff;"
                f"transform:rotate(45deg);box-shadow:0 0 2px #000'></span>")
    if status == "under_construction":
        return (f"<span style='{box}border:3px solid {colour};border-radius:50%;background:"
                f"radial-gradient({colour} 30%, #fff 32%)'></span>")
    if status == "planned":
        return (f"<span style='{box}border:2px dashed {colour};border-radius:50%;"
                "background:rgba(255,255,255,.8)'></span>")
    if status == "closed":
        return (f"<span style='{box}color:#666;font:bold {size}px/{size}px sans-serif;"
                "text-align:center'>×</span>")
    return (f"<span style='{box}background:{colour};border:2px solid #fff;border-radius:50%;"
            "box-shadow:0 0 2px #000'></span>")


class HtmlPopup(folium.Popup):
    """A popup whose HTML is set as a string: folium's own parses it with jQuery,
    which the offline map does not load."""

    _template = Template("""
        var {{ this.get_name() }} = L.popup({{ this.options|tojavascript }});
        {% for name, element in this.html._children.items() %}
            {{ this.get_name() }}.setContent({{ element.render(**kwargs)|tojson }});
        {% endfor %}
        {{ this._parent.get_name() }}.bindPopup({{ this.get_name() }});
    """)


def _cell(value) -> str:
    return "" if value is None or pd.isna(value) else html.escape(str(value))


def facility_popup(row, lang: str = "zh") -> str:
    """HTML for a facility's popup: name, grade, beds, staff, status, year, source."""
    t = TEXT[lang]
    year = row["closing_year"] if row["status"] == "closed" else row["opening_year"]
    values = [
        (t["name"], _cell(row["name"])),
        (t["type"], schema.label(schema.FACILITY_TYPES, row["type"], lang)),
        (t["grade"], _cell(row["grade"])),
        (t["status"], schema.label(schema.FACILITY_STATUSES, row["status"], lang)),
        (t["year"], _cell(year)),
        (t["beds"], _cell(row["beds"])),
        (t["staff"], _cell(row["staff"])),
        (t["location"], schema.label(schema.LOCATION_QUALITIES, row["location_quality"], lang)),
        (t["source"], _cell(row["source"])),
    ]
    rows = "".join(f"<tr><th style='text-align:left;padding-right:6px;white-space:nowrap'>{k}"
                   f"</th><td>{v}</td></tr>" for k, v in values if v)
    return f"<table style='font-size:12px'>{rows}</table>"


def add_facilities(fmap: folium.Map, facilities: gpd.GeoDataFrame, *, base: str = "osm",
                   lang: str = "zh", name: str | None = None) -> None:
    """Facility markers: colour by type, shape by status, popup with the record."""
    layer = folium.FeatureGroup(name=name or TEXT[lang]["layer_facilities"])
    shown = display_frame(facilities, base)
    for (_, row), point in zip(facilities.iterrows(), shown.geometry):
        symbol = status_symbol(row["status"], TYPE_COLOURS.get(row["type"], "#7f7f7f"))
        folium.Marker(
            location=[point.y, point.x],
            icon=folium.DivIcon(html=symbol, icon_size=(14, 14), icon_anchor=(7, 7),
                                class_name="facility"),
            tooltip=TextTooltip(str(row["name"])),
            popup=HtmlPopup(facility_popup(row, lang), max_width=340),
        ).add_to(layer)
    layer.add_to(fmap)


def add_sites(fmap: folium.Map, sites: gpd.GeoDataFrame, *, base: str = "osm",
              lang: str = "zh", name: str | None = None, label: str = "name") -> None:
    """Candidate or proposed sites (points with a ``label`` column) as black stars."""
    layer = folium.FeatureGroup(name=name or TEXT[lang]["layer_sites"])
    shown = display_frame(sites, base)
    for text, point in zip(sites[label], shown.geometry):
        folium.Marker(
            location=[point.y, point.x], tooltip=TextTooltip(str(text)),
            icon=folium.DivIcon(html=(f"<span style='color:{CANDIDATE_COLOUR};font-size:22px;"
                                      "line-height:22px;text-shadow:0 0 3px #fff'>★</span>"),
                                icon_size=(22, 22), icon_anchor=(11, 11), class_name="site"),
        ).add_to(layer)
    layer.add_to(fmap)


def legend_html(lang: str = "zh", *, required_share: float | None = None,
                changes: bool = False) -> str:
    """A legend: facility types (colours), statuses (shapes), township shading, bands, gaps."""
    t = TEXT[lang]
    swatch = ("<span style='display:inline-block;width:14px;height:10px;background:{};"
              "opacity:{};border:1px solid #555;margin-right:4px'></span>")
    types = "".join(f"{status_symbol('existing', c, 12)} "
                    f"{schema.label(schema.FACILITY_TYPES, k, lang)}<br>"
                    for k, c in TYPE_COLOURS.items())
    statuses = "".join(f"{status_symbol(s.key, '#555555', 12)} {s.zh if lang == 'zh' else s.en}<br>"
                       for s in schema.FACILITY_STATUSES)
    shares = "".join(swatch.format(colour, SHARE_OPACITY)
                     + (f"≥ {lower:.0%}" if np.isinf(upper) else f"{lower:.0%}–{upper:.0%}") + "<br>"
                     for lower, upper, colour in share_classes())
    extra = (swatch.format(BAND_COLOURS[1], BAND_OPACITY) + t["layer_isochrones"] + "<br>"
             + swatch.format(GAP_COLOUR, 0.5) + t["layer_gaps"] + "<br>"
             + "<span style='font-size:16px'>★</span> " + t["layer_sites"] + "<br>")
    if changes:
        extra += "".join(swatch.format(CHANGE_COLOURS[k], 0.5) + t["change_names"][k] + "<br>"
                         for k in ("gained", "lost"))
        extra += ("<span style='display:inline-block;width:14px;border-top:2px dashed #555;"
                  "margin:0 4px 3px 0'></span>" + t["layer_before"] + "<br>")
    return (f"<div style='font-size:13px;line-height:1.5'><b>{t['legend_types']}</b><br>{types}"
            f"<b>{t['legend_status']}</b><br>{statuses}<b>{t['legend_share']}</b><br>{shares}"
            f"{extra}</div>")


def coverage_map(region, *, towns: gpd.GeoDataFrame, bands: gpd.GeoDataFrame,
                 gaps: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame, lang: str = "zh",
                 base: str = "osm", tianditu_key: str = "",
                 before_bands: gpd.GeoDataFrame | None = None,
                 sites: gpd.GeoDataFrame | None = None,
                 changes: gpd.GeoDataFrame | None = None,
                 roads: gpd.GeoDataFrame | None = None) -> folium.Map:
    """The coverage map of a view: townships, bands, gaps, boundary, facilities, layer control.

    ``gaps`` may be ``None`` (not shown). ``before_bands`` (a what-if's bands before
    the change) are drawn as dashed
    outlines over the new ones, ``changes`` (its gained and lost areas) shaded;
    ``sites`` are candidate or proposed sites; ``roads`` the analysed roads.
    """
    t = TEXT[lang]
    fmap = base_map(region, base=base, tianditu_key=tianditu_key, lang=lang)
    add_townships(fmap, region, towns, base=base, lang=lang)
    note = quality_note(region, "network", lang)
    add_isochrones(fmap, bands, base=base, lang=lang, name=t["layer_isochrones"] + note)
    if before_bands is not None:
        add_isochrones(fmap, before_bands, base=base, lang=lang, outline=True,
                       name=t["layer_before"] + note)
    if changes is not None:
        add_changes(fmap, changes, base=base, lang=lang)
    if gaps is not None:
        add_gaps(fmap, gaps, base=base, lang=lang)
    add_boundary(fmap, region, base=base, lang=lang)
    if roads is not None:
        add_roads(fmap, roads, base=base, lang=lang, name=t["layer_roads"] + note)
    add_township_labels(fmap, towns, base=base, lang=lang)
    add_facilities(fmap, facilities, base=base, lang=lang,
                   name=t["layer_facilities"] + quality_note(region, "facilities", lang))
    if sites is not None and len(sites):
        add_sites(fmap, sites, base=base, lang=lang)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
