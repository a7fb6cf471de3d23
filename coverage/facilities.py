"""The facility register (医疗卫生机构名录): reading, validating and filtering by year.

A facility is one site: a 乡镇卫生院, 社区卫生服务中心, hospital, CDC, ... with its
type, grade, status, opening and closing years and capacity. A relocation (迁建) is
two records, the old site with a closing year and the new site with an opening year
and ``replaces`` naming the old one, so that the region can be evaluated as of any
year.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage import schema
from coverage.errors import InputError
from coverage.tables import (is_blank, canonical_columns, header_note, parse_numbers,
                             point_coordinates, read_records, record_label)

#: Columns of a validated register, in order.
COLUMNS = ("id", "name", "aliases", "type", "grade", "township_code", "status",
           "opening_year", "closing_year", "replaces", *schema.INTEGER_FIELDS,
           "source", "source_quote", "location_quality", "designations", "grades")

#: Statuses under which a facility with no opening year is taken to be open now.
OPEN_STATUSES = ("existing", "relocating")

#: Facility types that give basic medical care (基本医疗卫生服务), the default set for
#: the 15-minute circle.
BASIC_CARE_TYPES = ("township_health_centre", "community_health_centre",
                    "secondary_hospital", "tertiary_hospital")


def read_facilities(path: str | Path, *, crs: str | int | None = None,
                    township_codes: Iterable[str] | None = None,
                    boundary=None, boundary_tolerance_m: float = 200.0) -> gpd.GeoDataFrame:
    """Read and validate a facility register from GeoJSON, GeoPackage, CSV or Excel.

    Parameters
    ----------
    path
        The file. Headers may be Chinese or English (名称, 类型, 床位, 经度, 纬度, ...;
        see :data:`coverage.schema.FACILITY_COLUMNS`); text may be UTF-8 or GBK.
    crs
        Source CRS of the coordinates (``'GCJ02'``, ``'BD09'``, ``'EPSG:4547'``, ...)
        when the file does not say; converted to WGS-84 here, once.
    township_codes
        The pack's township codes; a facility naming another code is an error.
    boundary
        The region's boundary (WGS-84); a facility farther outside than
        ``boundary_tolerance_m`` is an error.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`COLUMNS` and point geometry in EPSG:4326.
    """
    path = Path(path)
    frame = read_records(path, schema.FACILITY_COLUMNS)
    return validate_facilities(frame, path, crs=crs, township_codes=township_codes,
                               boundary=boundary, boundary_tolerance_m=boundary_tolerance_m)


def validate_facilities(frame: pd.DataFrame, path: str | Path, *, crs=None,
                        township_codes: Iterable[str] | None = None, boundary=None,
                        boundary_tolerance_m: float = 200.0) -> gpd.GeoDataFrame:
    """Validate records already read (see :func:`read_facilities`)."""
    frame = canonical_columns(frame, schema.FACILITY_COLUMNS, path)
    kind = record_label(path)
    for required in ("name", "type"):
        if required not in frame:
            raise InputError(path, f"no {required} column: expected one of "
                             + ", ".join(schema.FACILITY_COLUMNS[required]) + header_note(frame),
                             field=required)
    out = pd.DataFrame(index=frame.index)
    out["name"] = _text(frame, "name", path, kind, required=True)
    out["id"] = (_text(frame, "id", path, kind, required=True) if "id" in frame
                 else pd.Series([f"F{i + 1:04d}" for i in range(len(frame))], index=frame.index))
    duplicated = out["id"].duplicated(keep="first")
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        first = int(np.flatnonzero((out["id"] == out["id"].iloc[i]).to_numpy())[0])
        raise InputError(path, f"duplicate id {out['id'].iloc[i]!r} (also {kind} {first + 1})",
                         row=i + 1, field="id", kind=kind)
    out["aliases"] = _text(frame, "aliases", path, kind)
    out["type"] = _vocab(frame, "type", schema.facility_type, path, kind, default=None)
    out["grade"] = _vocab(frame, "grade", schema.grade, path, kind, default="未定级")
    out["status"] = _vocab(frame, "status", schema.facility_status, path, kind, default="existing")
    out["location_quality"] = _vocab(frame, "location_quality", schema.location_quality, path,
                                     kind, default="approximate")
    out["township_code"] = _text(frame, "township_code", path, kind)
    out["replaces"] = _text(frame, "replaces", path, kind)
    out["source"] = _text(frame, "source", path, kind)
    out["source_quote"] = _text(frame, "source_quote", path, kind)
    for field in ("designations", "grades"):
        out[field] = _text(frame, field, path, kind)
    _check_dated(out, path, kind)
    for field in schema.YEAR_FIELDS:
        out[field] = (parse_numbers(frame, field, path, integer=True, minimum=1900)
                      if field in frame else pd.Series(pd.NA, index=frame.index, dtype="Int64"))
    for field in schema.INTEGER_FIELDS:
        out[field] = (parse_numbers(frame, field, path, integer=True, minimum=0)
                      if field in frame else pd.Series(pd.NA, index=frame.index, dtype="Int64"))
    _check_years(out, path, kind)
    _check_replaces(out, path, kind)
    if township_codes is not None:
        known = set(map(str, township_codes))
        for i, code in enumerate(out["township_code"].tolist()):
            if code and code not in known:
                raise InputError(path, f"township code {code!r} is not in the region pack "
                                 f"(known: {', '.join(sorted(known))})", row=i + 1,
                                 field="township_code", kind=kind)
    lon, lat = point_coordinates(frame, path, crs=crs)
    result = gpd.GeoDataFrame(out[list(COLUMNS)].reset_index(drop=True),
                              geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    if boundary is not None:
        _check_inside(result, boundary, boundary_tolerance_m, path, kind)
    return result


def _text(frame, field, path, kind, *, required=False) -> pd.Series:
    if field not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    values = frame[field].where(frame[field].notna(), "").astype(str).str.strip()
    if required:
        empty = values == ""
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(path, "missing value: expected text", row=i + 1, field=field,
                             kind=kind)
    return values


def _vocab(frame, field, normalise, path, kind, *, default) -> pd.Series:
    if field not in frame:
        if default is None:
            raise InputError(path, "missing column", field=field)
        return pd.Series(default, index=frame.index, dtype=object)
    values = []
    for i, value in enumerate(frame[field].tolist()):
        if is_blank(value):
            if default is None:
                raise InputError(path, "missing value", row=i + 1, field=field, kind=kind)
            values.append(default)
            continue
        try:
            values.append(normalise(value))
        except ValueError as exc:
            raise InputError(path, str(exc), row=i + 1, field=field, kind=kind) from None
    return pd.Series(values, index=frame.index, dtype=object)


def _check_years(out: pd.DataFrame, path, kind) -> None:
    both = out["opening_year"].notna() & out["closing_year"].notna()
    bad = both & (out["closing_year"] < out["opening_year"])
    if bad.to_numpy(dtype=bool).any():
        i = int(np.flatnonzero(bad.to_numpy(dtype=bool))[0])
        raise InputError(path, f"closing year {out['closing_year'].iloc[i]} is before the opening "
                         f"year {out['opening_year'].iloc[i]}", row=i + 1, field="closing_year",
                         kind=kind)


def _check_dated(out: pd.DataFrame, path, kind) -> None:
    """``designations`` and ``grades`` are ``|``-separated ``value`` or ``value@year``."""
    from coverage.counts import parse_dated

    for field, normalise in (("designations", None), ("grades", schema.grade)):
        for i, text in enumerate(out[field].tolist()):
            try:
                parse_dated(text, normalise)
            except ValueError as exc:
                raise InputError(path, str(exc), row=i + 1, field=field, kind=kind) from None


def _check_replaces(out: pd.DataFrame, path, kind) -> None:
    ids = set(out["id"])
    for i, (fid, old) in enumerate(zip(out["id"], out["replaces"])):
        if old and old not in ids:
            raise InputError(path, f"replaces {old!r}, which is not a facility id in this file",
                             row=i + 1, field="replaces", kind=kind)
        if old and old == fid:
            raise InputError(path, "a facility cannot replace itself", row=i + 1,
                             field="replaces", kind=kind)


def _check_inside(facilities: gpd.GeoDataFrame, boundary, tolerance_m: float, path, kind) -> None:
    from coverage.crs import utm_crs

    centre = boundary.centroid
    metric = utm_crs(centre.x, centre.y)
    area = gpd.GeoSeries([boundary], crs="EPSG:4326").to_crs(metric).buffer(tolerance_m).iloc[0]
    points = facilities.geometry.to_crs(metric)
    outside = ~points.within(area).to_numpy()
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        p = facilities.geometry.iloc[i]
        raise InputError(path, f"facility {facilities['name'].iloc[i]!r} at ({p.x:.6f}, {p.y:.6f}) "
                         "is outside the region boundary: expected a point inside the region "
                         "(is the CRS right? Amap/高德 coordinates are GCJ-02)",
                         row=i + 1, field="geometry", kind=kind)


def active_facilities(facilities: gpd.GeoDataFrame, year: int | None = None,
                      types: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """The facilities open in ``year`` (now, when ``None``), of the given types.

    A facility is open in year Y when it has opened (``opening_year <= Y``, or no
    opening year and status existing or relocating) and has not closed
    (``closing_year > Y`` or none, and status not closed). A planned facility without
    an opening year is never counted open: its date is unknown.
    """
    opening = facilities["opening_year"]
    closing = facilities["closing_year"]
    status = facilities["status"]
    if year is None:
        is_open = status.isin(OPEN_STATUSES).to_numpy()
    else:
        opened = (opening.notna() & (opening <= year)).to_numpy(dtype=bool) | (
            opening.isna() & status.isin(OPEN_STATUSES + ("closed",))).to_numpy(dtype=bool)
        not_closed = (closing.isna() & (status != "closed")).to_numpy(dtype=bool) | (
            closing.notna() & (closing > year)).to_numpy(dtype=bool)
        is_open = opened & not_closed
    if types is not None:
        wanted = [schema.facility_type(t) for t in types]
        is_open = is_open & facilities["type"].isin(wanted).to_numpy()
    return facilities[is_open]


def require_open(facilities: gpd.GeoDataFrame, year: int | None, path) -> None:
    """Raise :class:`InputError` when no facility of the register is open in ``year``.

    An analysis of a year before anything opened would write empty results that look
    like a region without care; this says so instead, naming the earliest opening.
    """
    if not active_facilities(facilities, year).empty:
        return
    opening = facilities["opening_year"].dropna()
    hint = (f"; the earliest opening year in the register is {int(opening.min())}"
            if len(opening) else "")
    when = f"in {year}" if year is not None else "now (no existing or relocating facility)"
    raise InputError(path, f"no facility is open {when}{hint}: nothing to analyse",
                     field="--year" if year is not None else "status")
