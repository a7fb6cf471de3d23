"""The planner's own files in place of a starter pack's estimates (``coverage init``).

A district health commission holds what the reference data lacks: its facility
register (医疗卫生机构名录), township boundaries (乡镇界), a township population table
and road files. Each replaces the corresponding estimate of
:func:`coverage.pack_init.init_pack`, and the layer's provenance turns to
``official``.

Townships are matched (:func:`match_townships`) by 2023 or 2016 code, else by
name tolerant of the 街道/镇/乡 suffixes (白市驿 = 白市驿镇; 歇马镇 → 歇马街道, renamed
when a town became a street), else, for a polygon, by the seat it contains (a
township renamed or merged out of recognition). What did not match is reported,
never guessed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from coverage import schema
from coverage.errors import InputError
from coverage.tables import canonical_columns, parse_numbers, read_features, read_table

#: Suffixes a township name is matched without (longest first).
SUFFIXES = ("土家族苗族乡", "土家族乡", "苗族乡", "街道办事处", "办事处", "街道", "镇", "乡")


def name_stem(name) -> str:
    """``'歇马街道'`` → ``'歇马'``: the name without its 街道/镇/乡 suffix and spaces."""
    text = re.sub(r"\s+", "", str(name or ""))
    for suffix in SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def match_townships(townships: pd.DataFrame, codes, names, geometries=None) -> list[str | None]:
    """The pack's township code each of the planner's records stands for (None: no match).

    By code (the 2023 code, or one of its ``code_2016``), else by name stem, else
    (``geometries`` given) by the one township seat the polygon contains.
    """
    by_code = {}
    for row in townships.itertuples():
        by_code[str(row.code)] = row.code
        for old in str(getattr(row, "code_2016", "") or "").replace("|", " ").split():
            by_code.setdefault(old, row.code)
    by_stem = {name_stem(n): c for n, c in zip(townships["name"], townships["code"])}
    seats = shapely.points(townships["seat_lon"].to_numpy(float),
                           townships["seat_lat"].to_numpy(float))
    out = []
    for i, (code, name) in enumerate(zip(codes, names)):
        code = re.sub(r"\.0$", "", str(code or "").strip())
        hit = by_code.get(code) or by_code.get(code[:9]) or by_stem.get(name_stem(name))
        if hit is None and geometries is not None and geometries[i] is not None:
            inside = np.flatnonzero(shapely.contains(geometries[i], seats))
            hit = townships["code"].iloc[inside[0]] if len(inside) == 1 else None
        out.append(hit)
    return out


def _report(townships: pd.DataFrame, matched: list, labels: list[str], what: str) -> dict:
    unmatched = [label for label, code in zip(labels, matched) if code is None]
    missing = sorted(set(townships["code"]) - {c for c in matched if c})
    names = dict(zip(townships["code"], townships["name"]))
    return {"what": what, "matched": sum(c is not None for c in matched),
            "unmatched": unmatched, "not_covered": [f"{names[c]} {c}" for c in missing]}


def _ids(frame: pd.DataFrame) -> tuple[list, list]:
    codes = frame["code"].tolist() if "code" in frame else [None] * len(frame)
    names = frame["name"].tolist() if "name" in frame else [None] * len(frame)
    return codes, names


def _replace(townships: pd.DataFrame, matched: list, codes: list, names: list, column: str,
             values: list, source: str, what: str) -> tuple[pd.DataFrame, dict]:
    """``column`` of the matched townships set to the planner's values, their
    ``<column>_source``/``_quality`` to the file and ``official``; and the match report."""
    out = townships.copy()
    for col in (f"{column}_source", f"{column}_quality"):
        if col not in out:
            out[col] = None
    for code, value in zip(matched, values):
        if code is not None:
            i = out.index[int(np.flatnonzero((out["code"] == code).to_numpy())[0])]
            out.at[i, column] = value
            out.at[i, f"{column}_source"] = source
            out.at[i, f"{column}_quality"] = "official"
    labels = [f"{n or ''} {c or ''}".strip() or f"record {i + 1}"
              for i, (c, n) in enumerate(zip(codes, names))]
    return out, _report(townships, matched, labels, what)


def replace_polygons(townships: pd.DataFrame, path, outline, *, crs: str | None = None):
    """The townships with the planner's polygons (matched ones), a report, provenance.

    Polygons are converted to WGS-84 (the file's CRS, else ``crs``) and clipped to
    the district outline. Townships the file does not cover keep their estimate.
    """
    path = Path(path)
    frame = canonical_columns(read_features(path), schema.TOWNSHIP_COLUMNS, path)
    if frame.crs is None:
        if crs is None:
            raise InputError(path, "the file has no CRS: pass --crs", field="geometry")
        frame = frame.set_crs(crs if crs.upper().startswith("EPSG") else "EPSG:4326")
    frame = frame.to_crs("EPSG:4326")
    kinds = set(frame.geometry.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(path, f"expected township polygons, found {', '.join(sorted(kinds))}",
                         field="geometry")
    if crs and crs.replace("-", "").upper() in ("GCJ02", "BD09"):
        from coverage import crs as crs_mod

        frame["geometry"] = [crs_mod.transform_geometry(g, crs) for g in frame.geometry]
    codes, names = _ids(frame)
    geoms = list(frame.geometry)
    matched = match_townships(townships, codes, names, geoms)
    source = f"规划部门提供 the planner's file {path.name}"
    clipped = [shapely.intersection(shapely.make_valid(g), outline) for g in geoms]
    out, report = _replace(townships, matched, codes, names, "geometry", clipped, source,
                           "townships")
    provenance = {"source": source, "quality": "official", "licence": "the planner's own data",
                  "notes": f"{report['matched']} polygons matched; estimates kept for: "
                           + ("、".join(report["not_covered"]) or "none")}
    return out, report, provenance


def replace_population(townships: pd.DataFrame, path):
    """The townships with the planner's populations (matched ones), a report, provenance."""
    path = Path(path)
    frame = canonical_columns(read_table(path), schema.TOWNSHIP_COLUMNS, path)
    if "population" not in frame:
        raise InputError(path, "no population column: expected one of "
                         + ", ".join(schema.TOWNSHIP_COLUMNS["population"]), field="population")
    values = parse_numbers(frame, "population", path, integer=True, minimum=0, required=True)
    codes, names = _ids(frame)
    matched = match_townships(townships, codes, names)
    source = f"规划部门提供 the planner's table {path.name}"
    out, report = _replace(townships, matched, codes, names, "population",
                           [int(v) for v in values], source, "population")
    provenance = {"source": source, "quality": "official", "licence": "the planner's own data",
                  "notes": f"{report['matched']} townships matched; census-based estimates kept "
                           "for: " + ("、".join(report["not_covered"]) or "none")}
    return out, report, provenance


def register(path, *, crs: str | None = None):
    """``place(townships)`` for the planner's register, a report, and its provenance.

    The register is validated as a pack's (:func:`coverage.facilities.read_facilities`);
    a facility's township is its declared code when it matches one, else the
    township its point lies in.
    """
    from coverage.facilities import read_facilities

    path = Path(path)
    facilities = read_facilities(path, crs=crs)
    report: dict = {"what": "facilities", "matched": len(facilities), "unmatched": [],
                    "not_covered": []}

    def place(townships: pd.DataFrame) -> list[dict]:
        declared = match_townships(townships, facilities["township_code"], [None] * len(facilities))
        polygons = list(townships["geometry"])
        features = []
        for row, code in zip(facilities.itertuples(), declared):
            point = row.geometry
            where = next((c for c, poly in zip(townships["code"], polygons)
                          if poly.contains(point)), None)
            if code is None and row.township_code:
                report["unmatched"].append(f"{row.name}: {row.township_code}")
            props = {k: _plain(getattr(row, k)) for k in
                     ("id", "name", "aliases", "type", "grade", "status", "opening_year",
                      "closing_year", "replaces", *schema.INTEGER_FIELDS, "source",
                      "source_quote", "location_quality", "designations", "grades")}
            props["township_code"] = code or where
            props["source"] = props["source"] or f"规划部门名录 the planner's register {path.name}"
            features.append({"type": "Feature", "properties": props,
                             "geometry": {"type": "Point",
                                          "coordinates": [round(point.x, 7), round(point.y, 7)]}})
        return features

    provenance = {"source": f"规划部门提供 the planner's register {path.name}", "quality": "official",
                  "licence": "the planner's own data", "notes": f"{len(facilities)} facilities"}
    return place, report, provenance


def _plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    return value if not isinstance(value, str) or value else None


def copy_roads(path, folder: Path) -> tuple[str, dict]:
    """Copy the planner's road file into ``folder/network``; its manifest entry and provenance.

    A Shapefile travels with its sidecar files (.dbf, .shx, .prj, .cpg).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such road file", field="roads")
    target = folder / "network"
    target.mkdir(parents=True, exist_ok=True)
    sidecars = [path] + ([p for p in sorted(path.parent.glob(path.stem + ".*")) if p != path]
                         if path.suffix.lower() == ".shp" else [])
    for file in sidecars:
        shutil.copyfile(file, target / file.name)
    return f"network/{path.name}", {"source": f"规划部门提供 the planner's road file {path.name}",
                                     "quality": "official", "licence": "the planner's own data",
                                     "notes": "copied unchanged; read with the pack's "
                                              "[network] options"}
