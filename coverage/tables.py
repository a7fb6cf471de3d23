"""Reading planners' tables and feature files: CSV, Excel, GeoJSON, GeoPackage, Shapefile.

Chongqing data arrives as GBK-encoded Excel exports and CSVs with Chinese headers
(名称, 类型, 床位, 经度, 纬度, ...) in WGS-84, GCJ-02 (Amap) or BD-09 (Baidu). The
readers here turn any of them into a DataFrame with canonical column names and, for
points, a GeoDataFrame in WGS-84. Every problem raises
:class:`~coverage.errors.InputError` naming the file, row, field and what was expected.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage import crs as crs_mod
from coverage import drivers
from coverage.errors import InputError
from coverage.output import restore_formulas
from coverage.uploads import check_workbook

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")
FEATURE_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")

#: Encodings tried, in order, for text tables: UTF-8 (with or without BOM), then
#: GB18030, the superset of GBK/GB2312 that Chinese Excel exports use.
ENCODINGS = ("utf-8-sig", "gb18030")


def record_label(path: str | Path) -> str:
    """How rows of a file are named in errors: ``'feature'`` for feature files."""
    return "feature" if Path(path).suffix.lower() in FEATURE_SUFFIXES else "row"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(path, "the file is empty")


def decode_text(path: Path) -> str:
    """The text of ``path`` decoded as UTF-8 or GBK/GB18030, whichever is valid."""
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "cannot decode the text: expected UTF-8 or GBK (GB18030) encoding")


def read_table(path: str | Path, *, sheet: str | int | None = 0) -> pd.DataFrame:
    """Read a CSV or Excel table with every cell as a string (blank cells as NA).

    Values are kept as text so that validation, not pandas' guessing, decides what a
    number is; row numbers in errors count data rows from 1, as a planner sees them
    below the header.
    """
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            check_workbook(path)  # a zip bomb is refused before it is unpacked
            cells = pd.read_excel(path, sheet_name=sheet, dtype=str, header=None)
            rows = cells.astype(object).where(cells.notna(), None).to_numpy().tolist()
        elif suffix in (".csv", ".txt"):
            rows = list(csv.reader(io.StringIO(decode_text(path)), skipinitialspace=True))
        else:
            raise InputError(path, f"unsupported table format {suffix!r}: expected "
                             + ", ".join(TABLE_SUFFIXES))
    except InputError:
        raise
    except Exception as exc:  # parser errors from csv, pandas, openpyxl, xlrd
        raise InputError(path, f"cannot read the table: {exc}") from exc
    # Our CSV downloads neutralise formulas; read back, they are as they were.
    return frame_from_rows(rows, path).map(restore_formulas)


#: Rows searched for the header: planners' sheets put a title, a date or a unit line
#: (and two-level merged headers) above the column names.
HEADER_SEARCH_ROWS = 10


def _known_headers() -> set[str]:
    from coverage.schema import FACILITY_COLUMNS, TOWNSHIP_COLUMNS

    return {_fold(name) for columns in (FACILITY_COLUMNS, TOWNSHIP_COLUMNS)
            for canonical, aliases in columns.items() for name in (canonical, *aliases)}


def frame_from_rows(rows: list[list], path: str | Path) -> pd.DataFrame:
    """A table of text cells (blank cells NaN) from rows as read, header found.

    The header is the row among the first :data:`HEADER_SEARCH_ROWS` that names the
    most known columns (名称, 类型, 经度, ...; the first row if none does), or the row
    below it if that one holds only column names (the lower row of a two-level
    header); rows above it are titles. A blank header cell takes the name above it
    (a name merged down over a two-level header). The file's row of the header is kept in
    ``frame.attrs['header_row']``; errors still count data rows from 1 below it.

    Raises
    ------
    InputError
        For a row with more cells than the header has columns (naming the row and
        the stray cell), or a column name given twice.
    """
    cleaned = [[None if is_blank(c) else str(c).strip() for c in row] for row in rows]
    line = [i + 1 for i, row in enumerate(cleaned) if any(c is not None for c in row)]
    rows = [cleaned[i - 1] for i in line]  # blank rows dropped; ``line``: their row in the file
    if not rows:
        raise InputError(path, "the file has no header and no rows")
    known = _known_headers()
    scores = [sum(c is not None and _fold(c) in known for c in row)
              for row in rows[:HEADER_SEARCH_ROWS]]
    at = scores.index(max(scores)) if max(scores) > 0 else 0
    below = rows[at + 1] if at + 1 < len(rows) else []
    if any(c is not None for c in below) and all(c is None or _fold(c) in known for c in below):
        at += 1  # the lower row of a two-level header: only column names, no values
    header = list(rows[at])
    if at > 0:
        above = rows[at - 1]
        header = [c if c is not None or j >= len(above) else above[j] for j, c in enumerate(header)]
    named = [j for j, c in enumerate(header) if c is not None]
    width = named[-1] + 1 if named else 0
    header = [c if c is not None else f"Unnamed: {j}" for j, c in enumerate(header[:width])]
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise InputError(path, f"the column name {name!r} is given twice (columns "
                             f"{seen[name] + 1} and {j + 1} of the header, row {line[at]} of the "
                             "file); keep one", field=name)
        seen[name] = j
    data = rows[at + 1:]
    for i, row in enumerate(data):
        extra = [j for j in range(width, len(row)) if row[j] is not None]
        if extra:
            raise InputError(path, f"{extra[-1] + 1} cells, but the header (row {line[at]} of the "
                             f"file) names {width} columns: cell {extra[0] + 1} holds "
                             f"{row[extra[0]]!r} beyond the last column {header[-1]!r} "
                             "(a comma inside a value must be quoted)", row=i + 1)
    if not data:
        raise InputError(path, "the table has a header but no rows")
    frame = pd.DataFrame([row[:width] + [None] * (width - len(row)) for row in data],
                         columns=header, dtype=object).fillna(np.nan)
    frame.attrs["header_row"] = line[at]
    return frame


def header_note(frame: pd.DataFrame) -> str:
    """Where a table's column names were read, for errors about a missing column."""
    row = frame.attrs.get("header_row")
    return f" (column names read from row {row} of the file)" if row else ""


def read_features(path: str | Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON, GeoPackage, Shapefile or FlatGeobuf file with pyogrio."""
    path = Path(path)
    _check_file(path)
    frame = drivers.read_features(path)
    if frame.empty:
        raise InputError(path, "the file has no features")
    return frame


def canonical_columns(frame: pd.DataFrame, columns: dict[str, tuple[str, ...]],
                      path: str | Path) -> pd.DataFrame:
    """Rename accepted headers (Chinese or English, any case) to canonical names.

    Unknown columns are kept as they are. Two headers naming the same field is an
    error, since silently preferring one would hide a data problem.
    """
    lookup = {}
    for canonical, aliases in columns.items():
        for alias in (canonical, *aliases):
            lookup[_fold(alias)] = canonical
    renames: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column in frame.columns:
        canonical = lookup.get(_fold(column))
        if canonical is None:
            continue
        if canonical in seen:
            raise InputError(path, f"columns {seen[canonical]!r} and {column!r} both give "
                             f"the field {canonical!r}; keep one", field=column)
        seen[canonical] = column
        renames[column] = canonical
    return frame.rename(columns=renames)


def _fold(text: str) -> str:
    return "".join(str(text).split()).lower().replace("（", "(").replace("）", ")")


def point_coordinates(frame: pd.DataFrame, path: str | Path, *,
                      crs: str | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of each record, from its geometry or its lon/lat columns.

    The source CRS is ``crs`` if given, else a ``crs`` column (per row), else the
    file's own CRS for feature files, else WGS-84.

    Raises
    ------
    InputError
        For a missing or non-numeric coordinate, a non-point geometry or an unknown CRS.
    """
    kind = record_label(path)
    n = len(frame)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        geoms = frame.geometry
        for i, geom in enumerate(geoms):
            if geom is None or geom.is_empty:
                raise InputError(path, "missing coordinates (no geometry)", row=i + 1,
                                 field="geometry", kind=kind)
            if geom.geom_type != "Point":
                raise InputError(path, f"expected a Point, found {geom.geom_type}", row=i + 1,
                                 field="geometry", kind=kind)
        x = geoms.x.to_numpy(dtype=float)
        y = geoms.y.to_numpy(dtype=float)
        file_crs = frame.crs.to_string() if frame.crs is not None else "WGS84"
    else:
        for field in ("lon", "lat"):
            if field not in frame:
                raise InputError(path, "no coordinate column: expected 经度/lon and 纬度/lat "
                                 f"(found {', '.join(map(str, frame.columns))}){header_note(frame)}",
                                 field=field)
        x = _numbers(frame["lon"], path, "lon", kind, required=True)
        y = _numbers(frame["lat"], path, "lat", kind, required=True)
        file_crs = "WGS84"
    if crs is not None:
        row_crs = np.full(n, _crs_name(crs, path, None, kind), dtype=object)
    elif "crs" in frame and frame["crs"].notna().any():
        row_crs = np.array([_crs_name(v if pd.notna(v) else file_crs, path, i + 1, kind)
                            for i, v in enumerate(frame["crs"])], dtype=object)
    else:
        row_crs = np.full(n, _crs_name(file_crs, path, None, kind), dtype=object)
    lon = np.empty(n)
    lat = np.empty(n)
    for name in sorted(set(row_crs)):
        sel = row_crs == name
        lon[sel], lat[sel] = crs_mod.to_wgs84(x[sel], y[sel], name)
    bad = ~((np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"coordinates ({x[i]}, {y[i]}) are not a valid longitude/"
                         "latitude: expected 经度 in -180..180 and 纬度 in -90..90 (is the CRS right?)",
                         row=i + 1, field="lon" if not abs(lon[i]) <= 180 else "lat", kind=kind)
    return lon, lat


def _crs_name(value, path, row, kind) -> str:
    try:
        return crs_mod.normalise_crs_name(value)
    except ValueError as exc:
        raise InputError(path, str(exc), row=row, field="crs", kind=kind) from None


def _numbers(series: pd.Series, path, field: str, kind: str, *, required: bool,
             integer: bool = False, minimum: float | None = None,
             maximum: float | None = None) -> np.ndarray:
    """Parse a column of text as numbers, naming the first bad cell."""
    out = np.full(len(series), np.nan)
    for i, value in enumerate(series.tolist()):
        if not pd.api.types.is_scalar(value):
            # one JSON array in a GeoJSON field makes GDAL read the whole column as lists
            items = [v.item() if hasattr(v, "item") else v for v in value]
            if len(items) > 1:
                raise InputError(path, f"{items} is a list of {len(items)} values: expected "
                                 "one number", row=i + 1, field=field, kind=kind)
            value = items[0] if items else None
        if is_blank(value):
            if required:
                raise InputError(path, "missing value: expected a number", row=i + 1,
                                 field=field, kind=kind)
            continue
        text = str(value).strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise InputError(path, f"{value!r} is not a number", row=i + 1, field=field,
                             kind=kind) from None
        if not np.isfinite(number):
            raise InputError(path, f"{value!r} is not a finite number", row=i + 1,
                             field=field, kind=kind)
        if integer and number != int(number):
            raise InputError(path, f"{value!r} is not a whole number", row=i + 1,
                             field=field, kind=kind)
        if minimum is not None and number < minimum:
            raise InputError(path, f"{value!r} is below the minimum {minimum:g}", row=i + 1,
                             field=field, kind=kind)
        if maximum is not None and number > maximum:
            raise InputError(path, f"{value!r} is above the maximum {int(maximum)}: expected a "
                             "plausible value for one record (is the unit right?)", row=i + 1,
                             field=field, kind=kind)
        out[i] = number
    return out


def is_blank(value) -> bool:
    """Whether a cell is empty: None, NaN, NA or only white space."""
    if isinstance(value, str):
        return not value.strip()
    # a list (a JSON array in a GeoJSON property) is a value, not a blank
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def parse_numbers(frame: pd.DataFrame, field: str, path, *, integer: bool = False,
                  minimum: float | None = None, required: bool = False) -> pd.Series:
    """A column parsed as numbers (nullable ``Int64`` when ``integer``), errors named.

    A field of :data:`coverage.schema.MAXIMA` is also checked against its maximum.
    """
    from coverage.schema import MAXIMA

    values = _numbers(frame[field], path, field, record_label(path), required=required,
                      integer=integer, minimum=minimum, maximum=MAXIMA.get(field))
    series = pd.Series(values, index=frame.index)
    return series.round().astype("Int64") if integer else series


def read_records(path: str | Path, columns: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """A table or feature file with canonical column names (geometry kept if any)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in FEATURE_SUFFIXES:
        frame = read_features(path)
    elif suffix in TABLE_SUFFIXES:
        frame = read_table(path)
    else:
        raise InputError(path, f"unsupported file format {suffix!r}: expected one of "
                         + ", ".join(TABLE_SUFFIXES + FEATURE_SUFFIXES))
    return canonical_columns(frame, columns, path)


def read_points(path: str | Path, *, crs: str | int | None = None) -> gpd.GeoDataFrame:
    """Points from any supported file as a WGS-84 GeoDataFrame with an ``id`` column.

    ``id`` is taken from an id/编号/名称 column when present, else the row number.
    """
    from coverage.schema import FACILITY_COLUMNS

    path = Path(path)
    frame = read_records(path, {k: FACILITY_COLUMNS[k] for k in ("id", "name", "lon", "lat", "crs")})
    lon, lat = point_coordinates(frame, path, crs=crs)
    if "id" in frame:
        ids = frame["id"].astype(str)
    elif "name" in frame:
        ids = frame["name"].astype(str)
    else:
        ids = pd.Series([str(i + 1) for i in range(len(frame))])
    data = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame]))
    data["id"] = ids.to_numpy()
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
