"""Folium maps of a region: boundary, townships, facilities, with a legend.

The map shows only what the library computed; the app (``app.py``) places it on the
page. Every estimated or synthetic layer says so in its layer name and tooltip.
"""

from __future__ import annotations

import folium
import geopandas as gpd

from coverage import schema
from coverage.region import Region

#: Marker colour per facility type (folium's named colours).
TYPE_COLOURS = {
    "tertiary_hospital": "darkred",
    "secondary_hospital": "red",
    "township_health_centre": "blue",
    "community_health_centre": "cadetblue",
    "village_clinic": "green",
    "cdc": "purple",
    "maternal_child_health": "pink",
    "emergency_station": "orange",
    "other": "gray",
}

#: Marker icon per status: a plain plus for open sites, others stand out.
STATUS_ICONS = {
    "existing": "plus-sign",
    "planned": "flag",
    "under_construction": "wrench",
    "relocating": "transfer",
    "closed": "remove",
}

QUALITY_NOTE = {
    "zh": {"estimated": "（估算）", "synthetic": "（合成示意）", "illustrative": "（示意）",
           "official": "", "surveyed": ""},
    "en": {"estimated": " (estimated)", "synthetic": " (synthetic)",
           "illustrative": " (illustrative)", "official": "", "surveyed": ""},
}

TEXT = {
    "zh": {"boundary": "区域边界", "townships": "乡镇街道人口", "facilities": "医疗卫生机构",
           "population": "常住人口", "name": "名称", "type": "类型", "grade": "等级",
           "status": "状态", "beds": "床位", "staff": "人员", "year": "年份",
           "source": "来源", "location": "位置"},
    "en": {"boundary": "Region boundary", "townships": "Township population",
           "facilities": "Health facilities", "population": "Residents", "name": "Name",
           "type": "Type", "grade": "Grade", "status": "Status", "beds": "Beds",
           "staff": "Staff", "year": "Year", "source": "Source", "location": "Location"},
}


def _quality(region: Region, layer: str, lang: str) -> str:
    quality = region.provenance.get(layer, {}).get("quality", "official")
    return QUALITY_NOTE[lang].get(quality, "")


def base_map(region: Region, *, tiles: str | None = "OpenStreetMap") -> folium.Map:
    """An empty map fitted to the region. ``tiles=None`` gives a plain background
    (for machines without network access to a tile server)."""
    minx, miny, maxx, maxy = region.boundary.bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=tiles,
                      control_scale=True, prefer_canvas=True)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def add_boundary(fmap: folium.Map, region: Region, lang: str = "zh") -> None:
    """The region outline."""
    t = TEXT[lang]
    folium.GeoJson(
        gpd.GeoSeries([region.boundary], crs="EPSG:4326").__geo_interface__,
        name=t["boundary"] + _quality(region, "boundary", lang),
        style_function=lambda _: {"color": "#333333", "weight": 2.5, "fill": False},
    ).add_to(fmap)


def add_townships(fmap: folium.Map, region: Region, lang: str = "zh") -> None:
    """Township polygons shaded by resident population density."""
    t = TEXT[lang]
    towns = region.townships.copy()
    area_km2 = towns.to_crs(region.metric_crs).area / 1e6
    towns["density"] = (towns["population"].astype(float) / area_km2).round(0)
    towns["kind_label"] = [schema.label(schema.TOWNSHIP_KINDS, k, lang) for k in towns["kind"]]
    note = _quality(region, "townships", lang)
    folium.Choropleth(
        geo_data=towns[["code", "geometry"]].__geo_interface__,
        data=towns, columns=["code", "density"], key_on="feature.properties.code",
        fill_color="YlOrRd", fill_opacity=0.45, line_opacity=0.6, nan_fill_color="white",
        legend_name=("人口密度（人/平方公里）" if lang == "zh" else "Residents per km²") + note,
        name=t["townships"] + note,
    ).add_to(fmap)
    folium.GeoJson(
        towns[["name", "kind_label", "population", "density", "geometry"]].__geo_interface__,
        name=t["townships"] + note, show=True,
        style_function=lambda _: {"color": "#555555", "weight": 1, "fillOpacity": 0},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "kind_label", "population", "density"],
            aliases=[t["name"], t["type"], t["population"] + note,
                     "人/km²" if lang == "zh" else "per km²"]),
    ).add_to(fmap)


def facility_popup(row, lang: str = "zh") -> str:
    """HTML for a facility's popup: name, grade, beds, staff, status, year, source."""
    t = TEXT[lang]
    year = row["opening_year"] if row["status"] != "closed" else row["closing_year"]
    values = [
        (t["name"], row["name"]),
        (t["type"], schema.label(schema.FACILITY_TYPES, row["type"], lang)),
        (t["grade"], row["grade"]),
        (t["status"], schema.label(schema.FACILITY_STATUSES, row["status"], lang)),
        (t["year"], "" if year is None or str(year) == "<NA>" else year),
        (t["beds"], "" if str(row["beds"]) == "<NA>" else row["beds"]),
        (t["staff"], "" if str(row["staff"]) == "<NA>" else row["staff"]),
        (t["location"], schema.label(schema.LOCATION_QUALITIES, row["location_quality"], lang)),
        (t["source"], row["source"]),
    ]
    rows = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{k}</th><td>{v}</td></tr>"
                   for k, v in values if v not in ("", None))
    return f"<table style='font-size:12px'>{rows}</table>"


def add_facilities(fmap: folium.Map, facilities: gpd.GeoDataFrame, lang: str = "zh",
                   name: str | None = None) -> None:
    """Facility markers: colour by type, icon by status, popup with the record."""
    layer = folium.FeatureGroup(name=name or TEXT[lang]["facilities"])
    for _, row in facilities.iterrows():
        folium.Marker(
            location=[row.geometry.y, row.geometry.x],
            icon=folium.Icon(color=TYPE_COLOURS.get(row["type"], "gray"),
                             icon=STATUS_ICONS.get(row["status"], "info-sign")),
            tooltip=row["name"],
            popup=folium.Popup(facility_popup(row, lang), max_width=320),
        ).add_to(layer)
    layer.add_to(fmap)


def legend_html(lang: str = "zh") -> str:
    """A legend of facility types (colours) and statuses (icons) as HTML."""
    types = "".join(
        f"<span style='color:{colour}'>●</span> {schema.label(schema.FACILITY_TYPES, key, lang)}<br>"
        for key, colour in TYPE_COLOURS.items())
    statuses = "".join(
        f"<i class='glyphicon glyphicon-{icon}'></i> "
        f"{schema.label(schema.FACILITY_STATUSES, key, lang)}<br>"
        for key, icon in STATUS_ICONS.items())
    return f"<div style='font-size:13px'>{types}<hr style='margin:4px 0'>{statuses}</div>"


def region_map(region: Region, lang: str = "zh", *, tiles: str | None = "OpenStreetMap",
               facilities: gpd.GeoDataFrame | None = None) -> folium.Map:
    """The first map of a region: boundary, townships, facilities, layer control."""
    fmap = base_map(region, tiles=tiles)
    add_townships(fmap, region, lang)
    add_boundary(fmap, region, lang)
    add_facilities(fmap, region.facilities if facilities is None else facilities, lang,
                   name=TEXT[lang]["facilities"] + _quality(region, "facilities", lang))
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def static_region_figure(region: Region, facilities: gpd.GeoDataFrame | None = None):
    """The region map as a matplotlib figure, for machines with no access to tile
    servers or the Leaflet CDN: township density, boundary and facilities by type.

    Text-free (colours as in :data:`TYPE_COLOURS`, :func:`legend_html` explains
    them), so it renders without CJK fonts.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    facilities = region.facilities if facilities is None else facilities
    towns = region.townships.to_crs(region.metric_crs)
    density = towns["population"].astype(float) / (towns.area / 1e6)
    fig, ax = plt.subplots(figsize=(9, 9))
    towns.assign(density=density).plot(ax=ax, column="density", cmap="YlOrRd", alpha=0.55,
                                       edgecolor="#555555", linewidth=0.6)
    gpd.GeoSeries([region.boundary], crs="EPSG:4326").to_crs(region.metric_crs).boundary.plot(
        ax=ax, color="#333333", linewidth=1.8)
    points = facilities.to_crs(region.metric_crs)
    for key, colour in TYPE_COLOURS.items():
        sel = points[points["type"] == key]
        if len(sel):
            hollow = ~sel["status"].isin(("existing", "relocating"))
            sel[~hollow].plot(ax=ax, color=colour, markersize=60, edgecolor="white", zorder=3)
            sel[hollow].plot(ax=ax, facecolor="none", edgecolor=colour, markersize=60,
                             linewidth=1.5, zorder=3)
    ax.set_axis_off()
    fig.tight_layout()
    return fig
