"""Townships (乡镇/街道): the units plans are judged by, with their resident population.

Each township is a polygon with its 2023 statistical code, name, kind (街道 street,
镇 town, 乡 township) and resident population (常住人口), and says where both the
polygon and the population come from and whether they are official or estimated.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from coverage import schema
from coverage.errors import InputError
from coverage.tables import canonical_columns, parse_numbers, read_features

#: Columns of a validated township layer, in order (geometry last).
COLUMNS = ("code", "name", "kind", "county_code", "county_name", "population",
           "population_year", "population_source", "population_quality",
           "geometry_source", "geometry_quality", "seat_lon", "seat_lat", "seat_quality")


def read_townships(path: str | Path) -> gpd.GeoDataFrame:
    """Read and validate a township polygon layer (GeoJSON, GeoPackage, Shapefile).

    Raises
    ------
    InputError
        Naming the feature and field: missing or duplicate code, unknown kind,
        population that is not a non-negative whole number, a missing or invalid
        polygon, an unknown provenance class.
    """
    path = Path(path)
    frame = canonical_columns(read_features(path), schema.TOWNSHIP_COLUMNS, path)
    for field in ("code", "name", "population"):
        if field not in frame:
            raise InputError(path, "missing property: expected one of "
                             + ", ".join((field, *schema.TOWNSHIP_COLUMNS.get(field, ()))),
                             field=field)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    frame["code"] = frame["code"].astype(str).str.strip()
    for i, code in enumerate(frame["code"]):
        if not code or code in ("nan", "None"):
            raise InputError(path, "missing township code", row=i + 1, field="code",
                             kind="feature")
    dup = frame["code"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(path, f"duplicate township code {frame['code'].iloc[i]!r}", row=i + 1,
                         field="code", kind="feature")
    frame["population"] = parse_numbers(frame, "population", path, integer=True, minimum=0,
                                        required=True)
    if "kind" in frame:
        frame["kind"] = [_checked(schema.township_kind, v, path, i, "kind")
                         for i, v in enumerate(frame["kind"])]
    for field in ("population_quality", "geometry_quality"):
        if field in frame:
            frame[field] = [_checked(schema.provenance_quality, v, path, i, field)
                            for i, v in enumerate(frame[field])]
    for i, geom in enumerate(frame.geometry):
        if geom is None or geom.is_empty:
            raise InputError(path, "missing polygon", row=i + 1, field="geometry", kind="feature")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(path, f"expected a Polygon, found {geom.geom_type}", row=i + 1,
                             field="geometry", kind="feature")
        if not geom.is_valid:
            raise InputError(path, f"invalid polygon: {shapely.is_valid_reason(geom)}", row=i + 1,
                             field="geometry", kind="feature")
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    return gpd.GeoDataFrame(frame[list(COLUMNS)], geometry=frame.geometry, crs="EPSG:4326")


def _checked(normalise, value, path, i, field):
    try:
        return normalise(value)
    except ValueError as exc:
        raise InputError(path, str(exc), row=i + 1, field=field, kind="feature") from None


def check_villages(frame, path: str | Path, township_codes) -> None:
    """Check a village table (村/社区): each row names a township of the pack, and a
    village with a point has a longitude and latitude in range.

    Raises
    ------
    InputError
        Naming the row and field.
    """
    from coverage.tables import header_note, parse_numbers

    if "township_code" not in frame:
        raise InputError(path, "no township_code column: expected the code of each village's "
                         "township" + header_note(frame), field="township_code")
    known = set(map(str, township_codes))
    for i, code in enumerate(frame["township_code"].astype(str).str.strip()):
        if code not in known:
            raise InputError(path, f"township code {code!r} is not in the region pack",
                             row=i + 1, field="township_code")
    for field, limit in (("lon", 180), ("lat", 90)):
        if field in frame:
            values = parse_numbers(frame, field, path).to_numpy(dtype=float)
            bad = np.flatnonzero(np.abs(values) > limit)
            if len(bad):
                raise InputError(path, f"{values[bad[0]]:g} is out of range: expected "
                                 f"-{limit}..{limit} (WGS-84 degrees)", row=int(bad[0]) + 1,
                                 field=field)
