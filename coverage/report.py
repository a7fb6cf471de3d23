"""The coverage report (覆盖评估报告): one self-contained HTML page in Chinese.

The page holds the region's summary, the caveats of its data (synthetic roads,
estimated populations), the planning-target table with each source quote, a bar
chart of coverage by township and a map of townships shaded by coverage with the
facilities and the 15-minute band. Charts and maps are inline SVG drawn here: no
external resource, no script, and the same bytes for the same inputs, so the page
can be pasted into a plan and regenerated identically.
"""

from __future__ import annotations

import html

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage import schema
from coverage.modes import OFF_NETWORK_M
from coverage.palette import SHARE_OPACITY, share_colour
from coverage.targets import STATUSES

#: Map and chart width in SVG user units (pixels at 100 %).
WIDTH = 720
STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;max-width:60em;
margin:1em auto;padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.5em}
.en{color:#666;font-size:.85em}table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .4em;vertical-align:top;text-align:left}
th{background:#eee}td.num{text-align:right;white-space:nowrap}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.nodata{color:#777}.caveat{background:#fff6d6;border-left:4px solid #e0a800;padding:.4em .8em}
q{font-style:italic}
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _en(text: str) -> str:
    return f' <span class="en">{_e(text)}</span>'


def _pct(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _value(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    value = float(value)
    if unit == "share":
        return f"{value:.1%}"
    if unit in ("townships", "levels"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def render_report(region, *, year: int | None, params: dict, townships: gpd.GeoDataFrame,
                  targets: pd.DataFrame, facilities: gpd.GeoDataFrame,
                  isochrones: gpd.GeoDataFrame, gaps: gpd.GeoDataFrame) -> str:
    """The report page as HTML text.

    Parameters
    ----------
    region
        The :class:`coverage.region.Region`.
    year
        The year evaluated (``None``: the register as it stands).
    params
        The circle target's parameters (``minutes``, ``modes``, ``required_share``).
    townships
        Township polygons with ``population``, ``covered`` and ``share``
        (:func:`coverage.layers.township_coverage`).
    targets
        :func:`coverage.targets.results_frame` of the evaluated targets.
    facilities
        Facilities open in the year (WGS-84 points).
    isochrones
        Bands with ``mode``, ``minutes`` and geometry (WGS-84).
    gaps
        :func:`coverage.gaps.coverage_gaps`.
    """
    when = f"{year}年" if year is not None else "现状（按登记）"
    population = float(townships["population"].sum())
    covered = float(townships["covered"].sum())
    minutes = params["minutes"]
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
        f"<title>{_e(region.name_zh)} 医疗卫生服务覆盖评估 {_e(when)}</title>",
        f"<style>{STYLE}</style>", "</head>", "<body>",
        (f"<h1>{_e(region.name_zh)} 医疗卫生服务覆盖评估（{_e(when)}）"
         f"{_en(region.name_en + ' — health service coverage')}</h1>"),
        "<h2>概况" + _en("Summary") + "</h2>",
        "<ul>",
        f"<li>乡镇街道 {len(townships)} 个；常住人口 {population:,.0f} 人{_en('townships; residents')}</li>",
        f"<li>开放医疗卫生机构 {len(facilities)} 个{_en('open facilities')}</li>",
        (f"<li>{minutes:g}分钟内可达基本医疗的居民 {covered:,.0f} 人，占 {_pct(covered / population if population else None)}"
         f"{_en(f'residents within {minutes:g} min of basic care')}</li>"),
        f"<li>出行方式 {_e(_modes_text(params['modes']))}{_en('travel mode by township kind')}</li>",
        *_off_network_item(townships, region.offroad_kmh),
        (f"<li>服务盲区 {len(gaps)} 处，共 {float(gaps['population'].sum()) if len(gaps) else 0:,.0f} 人"
         f"{_en('gaps (clusters of uncovered residents)')}</li>"),
        "</ul>",
        "<h2>数据说明与局限" + _en("Caveats") + "</h2>",
        '<div class="caveat"><ul>',
        *[f"<li>{_e(text)}</li>" for _, text in sorted(region.caveats.items())],
        ("<li>结果为模型估算，仅供规划参考，不代替实地核查 / Modelled estimates for planning, "
         "not a substitute for survey.</li>"),
        "</ul></div>",
        "<h2>规划目标核查" + _en("Planning targets") + "</h2>",
        _targets_table(targets),
        f"<h2>各街镇{minutes:g}分钟覆盖率" + _en(f"Share within {minutes:g} minutes by township") + "</h2>",
        _bar_chart(townships, params.get("required_share")),
        "<h2>覆盖地图" + _en("Coverage map") + "</h2>",
        _map(region, townships, facilities, isochrones, gaps, params),
        "<h2>各街镇明细" + _en("By township") + "</h2>",
        _township_table(townships),
        "<h2>服务盲区" + _en("Gaps") + "</h2>",
        _gaps_table(gaps),
        "</body>", "</html>", ""]
    return "\n".join(parts)


def _modes_text(modes) -> str:
    if isinstance(modes, str):
        return modes
    return "，".join(f"{schema.label(schema.TOWNSHIP_KINDS, k)} {_mode_zh(m)}"
                    for k, m in sorted(modes.items()))


def _mode_zh(mode: str) -> str:
    return {"walk": "步行", "ebike": "电动车", "car": "汽车"}.get(mode, mode) + f" {mode}"


def _targets_table(frame: pd.DataFrame) -> str:
    header = ("<tr><th>目标 Target</th><th>测算或统计值 Value</th><th>要求 Required</th>"
              "<th>结论 Result</th><th>未达标街镇 Failing townships</th><th>依据 Source</th></tr>")
    rows = ["<table>", header]
    for r in frame.to_dict(orient="records"):
        css = {"pass": "pass", "fail": "fail"}.get(r["status"], "nodata")
        due = f"（{r['target_year']}年）" if not pd.isna(r["target_year"]) else ""
        rows.append(
            f"<tr><td>{_e(r['name_zh'])}{_e(due)}<br>{_en(r['name_en'])}</td>"
            f'<td class="num">{_value(r["measured"], r["unit"])}</td>'
            f'<td class="num">{_value(r["required"], r["unit"])}</td>'
            f'<td class="{css}">{_e(STATUSES[r["status"]])}{_en(r["status"])}</td>'
            f"<td>{_e(r['failing_zh'])}</td>"
            f"<td><q>{_e(r['quote'])}</q><br>{_en(r['source'])}<br>{_en(r['details'])}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _off_network_item(towns: gpd.GeoDataFrame, offroad_kmh: float) -> list[str]:
    """The summary line on off-network residents (none when the layer lacks them)."""
    if "off_network" not in towns:
        return []
    total = float(towns["off_network"].sum())
    km = OFF_NETWORK_M / 1000
    english = (f"off-network residents (off-road leg over {km:g} km), counted at the "
               f"off-road pace of {offroad_kmh:g} km/h, not dropped")
    return [f"<li>离网居民（步行离路超过 {km:g} 公里）{total:,.0f} 人，"
            f"以离路步行 {offroad_kmh:g} km/h 计入，未被剔除{_en(english)}</li>"]


def _township_table(towns: gpd.GeoDataFrame) -> str:
    off = "off_network" in towns
    header = ("<tr><th>代码 Code</th><th>街镇 Township</th><th>方式 Mode</th>"
              "<th>常住人口 Residents</th><th>覆盖 Covered</th><th>覆盖率 Share</th>"
              + ("<th>离网居民 Off-network</th>" if off else "") + "</tr>")
    rows = ["<table>", header]
    for r in towns.drop(columns="geometry").to_dict(orient="records"):
        rows.append(f"<tr><td>{_e(r['code'])}</td><td>{_e(r['name'])}</td>"
                    f"<td>{_e(_mode_zh(r['mode']))}</td>"
                    f'<td class="num">{r["population"]:,.0f}</td>'
                    f'<td class="num">{r["covered"]:,.0f}</td>'
                    f'<td class="num">{_pct(r["share"])}</td>'
                    + (f'<td class="num">{r["off_network"]:,.0f}</td>' if off else "") + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _gaps_table(gaps: gpd.GeoDataFrame) -> str:
    if len(gaps) == 0:
        return "<p>无 none</p>"
    header = ("<tr><th>编号 Id</th><th>人口 Residents</th><th>面积 km²</th>"
              "<th>街镇 Township</th><th>最近机构 Nearest facility</th><th>时间 Minutes</th></tr>")
    rows = ["<table>", header]
    for r in gaps.drop(columns="geometry").to_dict(orient="records"):
        time = "不可达 unreachable" if pd.isna(r["nearest_minutes"]) else f"{r['nearest_minutes']:.1f}"
        rows.append(f"<tr><td>{_e(r['id'])}</td><td class=\"num\">{r['population']:,.0f}</td>"
                    f'<td class="num">{r["area_km2"]:.2f}</td><td>{_e(r["township_name"])}</td>'
                    f"<td>{_e(r['nearest_name'])}</td><td class=\"num\">{time}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _bar_chart(towns: gpd.GeoDataFrame, required) -> str:
    """Horizontal bars of share covered per township, with the required share marked."""
    bar_h, label_w, right, top = 22, 170, 60, 18
    plot_w = WIDTH - label_w - right
    height = top + bar_h * len(towns) + 30
    out = [(f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
            f'font-size="12" role="img" aria-label="coverage by township">')]
    for i, r in enumerate(towns.drop(columns="geometry").to_dict(orient="records")):
        y = top + i * bar_h
        share = 0.0 if pd.isna(r["share"]) else float(r["share"])
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(r["name"])}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{share * plot_w:.1f}" height="{bar_h - 6}" '
                   f'fill="{share_colour(r["share"])}"/>')
        out.append(f'<text x="{label_w + share * plot_w + 4:.1f}" y="{y + 15}">{_pct(r["share"])}</text>')
    base = top + len(towns) * bar_h
    out.append(f'<line x1="{label_w}" y1="{top}" x2="{label_w}" y2="{base}" stroke="#333"/>')
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        out.append(f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle">{tick:.0%}</text>')
    if required is not None:
        x = label_w + float(required) * plot_w
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base}" stroke="#000" '
                   f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{top - 6}" text-anchor="middle">'
                   f'要求 required {float(required):.0%}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _map(region, towns, facilities, isochrones, gaps, params) -> str:
    """Townships shaded by share, the threshold band of each kind's mode, gaps, facilities."""
    metric = region.metric_crs
    towns_m = towns.to_crs(metric)
    minx, miny, maxx, maxy = towns_m.total_bounds
    scale = (WIDTH - 20) / max(maxx - minx, maxy - miny)
    width = round((maxx - minx) * scale + 20)
    height = round((maxy - miny) * scale + 20)

    def path(geom) -> str:
        d = []
        for poly in shapely.get_parts(geom):
            for ring in [poly.exterior, *poly.interiors]:
                xy = shapely.get_coordinates(ring)
                px = np.round((xy[:, 0] - minx) * scale + 10, 1)
                py = np.round((maxy - xy[:, 1]) * scale + 10, 1)
                d.append("M" + "L".join(f"{a:g},{b:g}" for a, b in zip(px, py)) + "Z")
        return "".join(d)

    def simple(geom):
        # Half a pixel of detail is all the map can show.
        return shapely.simplify(geom, 0.5 / scale, preserve_topology=True)

    out = [(f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-size="11" role="img" aria-label="coverage map">')]
    for geom, share in zip(towns_m.geometry, towns_m["share"]):
        out.append(f'<path d="{path(simple(geom))}" fill="{share_colour(share)}" fill-opacity="{SHARE_OPACITY}" '
                   f'stroke="#555" stroke-width="0.8"/>')
    band = _threshold_band(isochrones.to_crs(metric), params)
    if band is not None and not band.is_empty:
        out.append(f'<path d="{path(simple(band))}" fill="#2166ac" fill-opacity="0.25" '
                   f'fill-rule="evenodd" stroke="#2166ac" stroke-width="0.6"/>')
    for geom in gaps.to_crs(metric).geometry:
        out.append(f'<path d="{path(simple(geom))}" fill="none" stroke="#7b3294" stroke-width="1"/>')
    for geom, r in zip(towns_m.geometry, towns_m.drop(columns="geometry").to_dict(orient="records")):
        p = geom.representative_point()
        out.append(f'<text x="{(p.x - minx) * scale + 10:.1f}" y="{(maxy - p.y) * scale + 10:.1f}" '
                   f'text-anchor="middle">{_e(r["name"])} {_pct(r["share"])}</text>')
    for p in facilities.to_crs(metric).geometry:
        out.append(f'<circle cx="{(p.x - minx) * scale + 10:.1f}" cy="{(maxy - p.y) * scale + 10:.1f}" '
                   f'r="3" fill="#000" stroke="#fff" stroke-width="0.8"/>')
    out.append("</svg>")
    legend = ('<p class="en">街镇按覆盖率着色：红 &lt;50%，橙 50–70%，浅橙 70–90%，绿 ≥90%；蓝色为各街镇出行方式下'
              f'{params["minutes"]:g}分钟可达范围；紫框为服务盲区；黑点为开放机构。 / Townships shaded '
              f'by share; blue: {params["minutes"]:g}-minute band by each township\'s mode; purple: '
              'gaps; dots: open facilities.</p>')
    return "\n".join(out) + "\n" + legend


def _threshold_band(bands_m: gpd.GeoDataFrame, params):
    """The threshold band, each place by its township kind's mode.

    With one mode for everyone it is that mode's band; with a mode per kind it is the
    ``by_kind`` row the callers add (:func:`coverage.bands.region_bands`, drawn from
    cells, so no polygon set operation runs here).
    """
    modes = params["modes"]
    mode = modes if isinstance(modes, str) else "by_kind"
    band = bands_m[(bands_m["mode"] == mode) & (bands_m["minutes"] == params["minutes"])]
    return band.geometry.iloc[0] if len(band) else None