"""A planner's road file as it comes: columns found, classes read, options shared.

Road files from planning institutes, 交通 bureaus and navigation-data vendors carry
the road class under many names and codings. :func:`read_road_file` reads them into a
:class:`coverage.network.RoadNetwork`:

* the class column is the one named (``class_column``), else the first column with a
  usual name (:data:`CLASS_COLUMNS`), else **the text column whose values are at least
  95% known classes** (:data:`DETECTION_SHARE`); two such columns is an error naming
  both;
* class values may be CJJ 37 urban classes (快速路 主干路 次干路 支路 匝道), 公路
  technical classes (高速公路 一级公路 … 四级公路 等外公路), administrative classes
  (国道 省道 县道 乡道 村道 专用公路), route numbers (G/S/X/Y/C/Z prefixes of
  GB/T 917-2017: ``G65`` is a national expressway, ``G212`` a 普通国道, ``X105`` a
  县道), OSM classes, codes of a mapping file (``name,highway`` CSV, e.g. ``1,primary``),
  or NavInfo (四维图新) ``KIND`` codes in a column named ``KIND`` (see
  :func:`navinfo_class`);
* without a class column the file loads as ``default_class`` (``unclassified``
  unless given) with a warning, or, when it has a speed column, as the class whose car
  speed is nearest each road's speed;
* one-way columns coded as numbers are read through ``oneway_codes`` (a mapping
  ``{code: 'both'|'forward'|'backward'}``; ``'navinfo'`` is the NavInfo ``DIRECTION``
  coding 0/1 two-way, 2 along the line, 3 against it).

The options live in :class:`RoadFileOptions`: a pack's ``region.toml`` ``[network]``
table (:func:`options_from_table`) gives them to every command, the app and batch, and
:func:`coverage.arguments.add_network_arguments` gives every command that reads a road network the same
flags (:func:`options_from_args` lays them over the pack's).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.choices import GRADE_SEPARATED, REPAIR_TOLERANCE_M  # shared with the parser
from coverage.errors import InputError
from coverage.network import (
    DEFAULT_ROAD_CLASSES,
    RoadNetwork,
    SNAP_TOLERANCE_M,
    _assemble,
    _existing_file,
    _fold,
    _snap_nodes,
    road_classes,
)


class RoadFileWarning(UserWarning):
    """A road file was read, but not as fully as it could be (e.g. no class column)."""


#: Column names searched, in order, for the road class; then columns are tried by value.
CLASS_COLUMNS = ("等级", "道路等级", "技术等级", "行政等级", "类型", "类别", "class", "fclass",
                 "highway", "type", "road_class", "kind")
ONEWAY_COLUMNS = ("单行", "单向", "oneway", "direction")
LANES_COLUMNS = ("车道数", "lanes")
NAME_COLUMNS = ("名称", "道路名称", "路名", "name")
SPEED_COLUMNS = ("设计速度", "限速", "速度", "speed", "maxspeed", "speed_kph", "spd")
BRIDGE_COLUMNS = ("桥梁", "桥隧", "bridge", "tunnel", "brunnel")

#: Share of a column's non-empty values that must be known classes for the column to
#: be taken as the class column when no column name matches.
DETECTION_SHARE = 0.95


#: One-way codings by name; values ``both`` (two-way), ``forward`` (one-way along the
#: line), ``backward`` (one-way against it).
ONEWAY_PRESETS = {"navinfo": {"0": "both", "1": "both", "2": "forward", "3": "backward"}}
_ONEWAY_MEANINGS = {"both": 0, "forward": 1, "backward": -1}
_ONEWAY_YES = frozenset({"yes", "y", "1", "true", "t", "是", "单行", "单向"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"", "no", "n", "0", "false", "f", "否", "双向", "双行", "nan", "none"})
_BRIDGE_NO = frozenset({"", "0", "no", "n", "false", "f", "否", "无", "nan", "none"})

#: GB/T 917-2017 route numbers: letter, digits (an optional 线 after).
_ROUTE = re.compile(r"^([gsxyczGSXYCZ])(\d{1,4})线?$")
_ROUTE_CLASSES = {"X": "secondary", "Y": "tertiary", "C": "unclassified", "Z": "service"}

#: NavInfo KIND: four hex digits per kind (several joined by ``|``); the first two are
#: the road class. Code table "附录 1 道路等级与属性代码表" of NavInfo's data
#: specification as published at ziliaoku.com/res/info_a0525e2aa4234276832111b0271570cc:
#: 0x00 高速路, 0x01 都市高速路, 0x02 国道, 0x03 省道, 0x04 县道, 0x06 乡镇村道,
#: 0x08 其它道路 (0x0a 渡口联络线 and 0xff 作业中 are not roads to route on).
NAVINFO_CLASSES = {"00": "motorway", "01": "motorway", "02": "trunk", "03": "primary",
                   "04": "secondary", "06": "unclassified", "08": "unclassified"}
#: Classes a speed may stand for: the main ladder, no ramps (closed to walking) or paths.
_SPEED_LADDER = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
                 "residential", "service", "track")
_KIND = re.compile(r"^[0-9a-fA-F]{4}(\|[0-9a-fA-F]{4})*$")


@dataclass(frozen=True)
class RoadFileOptions:
    """How to read a road file and check or repair its topology.

    Attributes
    ----------
    class_column, oneway_column, name_column, lanes_column, speed_column, bridge_column
        Column names; detected when None (see the module docstring).
    crs
        The coordinates' CRS when the file does not say or says wrongly: ``'GCJ02'``,
        ``'BD09'`` or an EPSG code.
    class_mapping
        Extra class names or codes: a ``name,highway`` CSV or a dict.
    oneway_codes
        ``{code: 'both'|'forward'|'backward'}`` or a preset name (``'navinfo'``).
    default_class
        The class of every road of a file without a class column.
    tolerance
        Repair tolerance in metres (:data:`REPAIR_TOLERANCE_M`).
    grade_separated
        Class names (of the file or OSM) that cross other roads without a junction.
    layer
        Layer of a multi-layer file.
    """

    class_column: str | None = None
    crs: str | None = None
    class_mapping: str | dict | None = None
    oneway_column: str | None = None
    oneway_codes: str | dict | None = None
    name_column: str | None = None
    lanes_column: str | None = None
    speed_column: str | None = None
    default_class: str | None = None
    bridge_column: str | None = None
    tolerance: float = REPAIR_TOLERANCE_M
    grade_separated: tuple[str, ...] = GRADE_SEPARATED
    layer: str | None = None

    #: Options that concern reading (all but the topology ones).
    READING = ("class_column", "crs", "class_mapping", "oneway_column", "oneway_codes",
               "name_column", "lanes_column", "speed_column", "default_class", "bridge_column",
               "layer")

    def reader_kwargs(self) -> dict:
        """The reading options that are set, as keyword arguments of :func:`read_road_file`."""
        return {k: getattr(self, k) for k in self.READING if getattr(self, k) is not None}

    def for_other_file(self) -> "RoadFileOptions":
        """These options for another road file: the topology ones only (the reading ones
        describe the pack's own file)."""
        return RoadFileOptions(tolerance=self.tolerance, grade_separated=self.grade_separated)

    def grade_separated_highways(self) -> frozenset[str]:
        """The normalised OSM classes of :attr:`grade_separated`."""
        classes = road_classes(self.class_mapping)
        return frozenset(classes.get(_fold(c), _fold(c)) for c in self.grade_separated)


_OPTION_NAMES = tuple(f.name for f in fields(RoadFileOptions))


def options_from_table(table: dict, root: Path, manifest: Path) -> RoadFileOptions:
    """Options from a pack's ``region.toml`` ``[network]`` table.

    File paths (``class_mapping``) are relative to the pack folder.

    Raises
    ------
    InputError
        For an unknown key or a value of the wrong kind, naming ``network.<key>``.
    """
    values = {}
    for key, value in table.items():
        if key not in _OPTION_NAMES:
            raise InputError(manifest, f"unknown road-file option; expected one of "
                             f"{', '.join(_OPTION_NAMES)}", field=f"network.{key}")
        if key == "tolerance":
            if not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise InputError(manifest, f"expected metres >= 0, got {value!r}", field="network.tolerance")
            value = float(value)
        elif key == "grade_separated":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(manifest, "expected a list of class names", field="network.grade_separated")
            value = tuple(value)
        elif key == "oneway_codes":
            if not isinstance(value, (str, dict)):
                raise InputError(manifest, "expected a preset name or a table {code = "
                                 "'both'|'forward'|'backward'}", field="network.oneway_codes")
        elif key == "crs" and isinstance(value, int):
            value = f"EPSG:{value}"
        elif not isinstance(value, str):
            raise InputError(manifest, f"expected text, got {value!r}", field=f"network.{key}")
        if key == "class_mapping":
            value = str(root / value)
        values[key] = value
    return RoadFileOptions(**values)


def options_from_args(args, base: RoadFileOptions | None = None) -> RoadFileOptions:
    """The flags of :func:`coverage.arguments.add_network_arguments` laid over ``base`` (a pack's options)."""
    base = base or RoadFileOptions()
    given = {
        "crs": args.network_crs, "class_column": args.class_column,
        "class_mapping": args.class_mapping, "default_class": args.default_class,
        "speed_column": args.speed_column, "oneway_column": args.oneway_column,
        "oneway_codes": _parse_codes(args.oneway_codes) if args.oneway_codes else None,
        "bridge_column": args.bridge_column, "tolerance": args.tolerance,
        "grade_separated": (tuple(c for c in args.grade_separated.split(",") if c.strip())
                            if args.grade_separated is not None else None),
    }
    if given["tolerance"] is not None and not 0 <= given["tolerance"] < float("inf"):
        raise InputError(None, f"expected metres >= 0, got {args.tolerance}", field="--tolerance")
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def _parse_codes(text: str) -> str | dict:
    if "=" not in text:
        return text
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if not all(len(p) == 2 for p in pairs):
        raise InputError(None, f"expected CODE=both|forward|backward,..., got {text!r}",
                         field="--oneway-codes")
    return {k.strip(): v.strip() for k, v in pairs}


# --- classes ---------------------------------------------------------------------

def _shown(value) -> str:
    """A value of the file as the user wrote it (numpy scalars as plain numbers)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _fold_code(value) -> str:
    text = _fold(value)
    return text[:-2] if text.endswith(".0") and text[:-2].lstrip("-").isdigit() else text


def route_class(value: str) -> str | None:
    """The class of a GB/T 917-2017 route number, or None.

    G or S with 1, 2 or 4 digits is an expressway (国家/省级高速), with 3 digits an
    ordinary 国道/省道; X 县道, Y 乡道, C 村道, Z 专用公路.
    """
    match = _ROUTE.match(str(value).strip())
    if not match:
        return None
    letter, digits = match.group(1).upper(), match.group(2)
    if letter in "GS":
        if len(digits) != 3:
            return "motorway"
        return "trunk" if letter == "G" else "primary"
    return _ROUTE_CLASSES[letter] if len(digits) == 3 else None


def navinfo_class(value: str) -> str | None:
    """The class of a NavInfo ``KIND`` value (``'0302'``, ``'0302|030b'``), or None.

    The first kind's class byte decides (:data:`NAVINFO_CLASSES`).
    """
    text = str(value).strip()
    if not _KIND.match(text):
        return None
    return NAVINFO_CLASSES.get(text[:2].lower())


def classify(values: pd.Series, classes: dict[str, str], *, kind: bool = False) -> pd.Series:
    """Normalised OSM class of each value (None where unknown).

    Names and codes of ``classes`` first, then route numbers, then (``kind``) NavInfo
    KIND codes.
    """
    def one(value):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        found = classes.get(_fold_code(value))
        if found is None and kind:
            found = navinfo_class(value)
        return found if found is not None else route_class(value)

    uniques = pd.unique(values.astype(object))
    lookup = {u: one(u) for u in uniques}
    return values.astype(object).map(lookup)


def find_class_column(gdf, classes: dict[str, str], path: Path, given: str | None = None, *,
                      numeric: bool = False) -> str | None:
    """The class column: named, usual name, or detected by its values.

    Text columns are tried by value; numeric ones too when ``numeric`` (a mapping of
    class codes was given).

    Raises
    ------
    InputError
        If ``given`` is not a column, or several columns qualify by their values.
    """
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    named = find_column(columns, given, CLASS_COLUMNS, path, "road-class")
    if named is not None:
        return named
    qualified = []
    for column in columns:
        values = gdf[column]
        textual = values.dtype == object or pd.api.types.is_string_dtype(values)
        if not (textual or (numeric and pd.api.types.is_numeric_dtype(values))):
            continue
        present = values[values.notna() & (values.astype(str).str.strip() != "")]
        if present.empty:
            continue
        share = classify(present, classes, kind=_fold(column) == "kind").notna().mean()
        if share >= DETECTION_SHARE:
            qualified.append(column)
    if len(qualified) > 1:
        raise InputError(path, f"several columns hold road classes: {', '.join(map(str, qualified))}; "
                         "name one (--class-column or region.toml [network] class_column)")
    return qualified[0] if qualified else None


def find_column(columns, given: str | None, candidates: tuple[str, ...], path: Path, what: str):
    """The column named ``given`` or the first of ``candidates`` present (case-insensitive)."""
    folded = {_fold(c): c for c in columns}
    if given is not None:
        if _fold(given) not in folded:
            raise InputError(path, f"no {what} column {given!r}; columns found: {', '.join(map(str, columns))}")
        return folded[_fold(given)]
    for name in candidates:
        if _fold(name) in folded:
            return folded[_fold(name)]
    return None


def _class_by_speed(speeds: pd.Series, path: Path, column: str) -> np.ndarray:
    """The road class of :data:`_SPEED_LADDER` whose car speed is nearest each speed (km/h)."""
    from coverage.modes import speed_table

    kmh = pd.to_numeric(speeds, errors="coerce")
    bad = np.flatnonzero(~(kmh > 0))
    if len(bad):
        raise InputError(path, f"{_shown(speeds.iloc[bad[0]])} is not a speed; expected km/h > 0",
                         row=int(bad[0]) + 1, field=column, kind="feature")
    car = speed_table()["car"]
    car = car[car.index.isin(_SPEED_LADDER)]
    nearest = np.abs(kmh.to_numpy(float)[:, None] - car.to_numpy(float)[None, :]).argmin(axis=1)
    return car.index.to_numpy(object)[nearest]


# --- one-way and bridges -----------------------------------------------------------

def oneway_codes(values: pd.Series, path: Path, field: str, codes: str | dict | None = None) -> np.ndarray:
    """0 two-way, 1 one-way along the line, -1 one-way against it, per value.

    Without ``codes``: 是/yes/1/T one-way along, -1/reverse against, 否/no/0/F/empty
    two-way. With ``codes``: a preset name of :data:`ONEWAY_PRESETS` or a mapping
    ``{code: 'both'|'forward'|'backward'}``.
    """
    folded = values.map(_fold_code)
    if codes is not None:
        table = ONEWAY_PRESETS.get(str(codes).lower()) if isinstance(codes, str) else codes
        if table is None:
            raise InputError(path, f"unknown one-way coding {codes!r}; expected "
                             f"{', '.join(ONEWAY_PRESETS)} or CODE=both|forward|backward,...",
                             field="oneway_codes")
        meaning = {}
        for code, text in table.items():
            if str(text).lower() not in _ONEWAY_MEANINGS:
                raise InputError(path, f"one-way code {code!r} means {text!r}; expected both, "
                                 "forward or backward", field="oneway_codes")
            meaning[_fold_code(code)] = _ONEWAY_MEANINGS[str(text).lower()]
        result = folded.map(meaning)
        expected = ", ".join(f"{k} ({v})" for k, v in table.items())
        bad = np.flatnonzero(result.isna())
        if len(bad):
            raise InputError(path, f"{_shown(values.iloc[bad[0]])} is not a one-way code; expected {expected}",
                             row=int(bad[0]) + 1, field=field, kind="feature")
        return result.to_numpy(int)
    result = np.select([folded.isin(_ONEWAY_YES), folded.isin(_ONEWAY_REVERSE), folded.isin(_ONEWAY_NO)],
                       [1, -1, 0], default=2)
    bad = np.flatnonzero(result == 2)
    if len(bad):
        raise InputError(path, f"{_shown(values.iloc[bad[0]])} is not a one-way value; expected "
                         "是/yes/1/T (one-way along the line), -1 (against it) or 否/no/0/F/empty; "
                         "numeric codings need --oneway-codes", row=int(bad[0]) + 1, field=field,
                         kind="feature")
    return result


def bridge_flags(values: pd.Series) -> np.ndarray:
    """True where a bridge/tunnel value says the road is one (anything but 0/no/否/empty)."""
    return ~values.map(_fold_code).isin(_BRIDGE_NO).to_numpy()


# --- reading -------------------------------------------------------------------------

@dataclass
class RoadLines:
    """A road file's lines with what each one is, before they become a network.

    Attributes
    ----------
    frame
        The file as read (GeoDataFrame, its own columns and CRS).
    lon, lat, feature, part
        Every vertex in WGS-84, with its feature (row of ``frame``) and line part.
    highway
        Normalised OSM class per feature.
    oneway
        0 two-way, 1 along the line, -1 against it, per feature.
    bridge
        Per feature: True where a bridge/tunnel column flags it.
    class_column, oneway_column
        The columns the classes and one-way values came from (None if there was none).
    """

    frame: object
    lon: np.ndarray
    lat: np.ndarray
    feature: np.ndarray
    part: np.ndarray
    highway: np.ndarray
    oneway: np.ndarray
    bridge: np.ndarray
    names: np.ndarray
    lanes: np.ndarray
    class_column: str | None
    oneway_column: str | None = None


def read_road_lines(path: str | Path, **options) -> RoadLines:
    """Read and check a road file's lines and attributes (see :func:`read_road_file`)."""
    import pyogrio
    import shapely

    from coverage.crs import normalise_crs_name, to_wgs84
    from coverage.drivers import feature_driver, read_features

    opts = RoadFileOptions(**options)
    path = _existing_file(path)
    layer = opts.layer
    if layer is None and path.suffix.lower() == ".gpkg":
        # the roads layer of a repaired file (coverage network repair) is read by default
        feature_driver(path)  # a GeoPackage in content too, before GDAL lists its layers
        try:
            names = [name for name, _ in pyogrio.list_layers(path)]
        except pyogrio.errors.DataSourceError as exc:
            raise InputError(path, f"cannot read road file: {exc}") from exc
        layer = "roads" if len(names) > 1 and "roads" in names else None
    gdf = read_features(path, layer=layer)  # its format's driver only, never VRT
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    classes = road_classes(opts.class_mapping)
    highway, class_column = _highways(gdf, columns, classes, opts, path)

    geoms = gdf.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(kinds, (1, 2, 5)))  # LineString, LinearRing, MultiLineString
    if len(bad):
        what = geoms[bad[0]].geom_type if geoms[bad[0]] is not None else "empty geometry"
        raise InputError(path, f"{what} is not a line; expected LineString or MultiLineString",
                         row=int(bad[0]) + 1, field="geometry", kind="feature")

    def optional(given, candidates, what):
        name = find_column(columns, given, candidates, path, what)
        return (name, gdf[name]) if name is not None else (None, None)

    oneway_name, oneway_values = optional(opts.oneway_column, ONEWAY_COLUMNS, "one-way")
    oneway = (oneway_codes(oneway_values, path, oneway_name, opts.oneway_codes) if oneway_name
              else np.zeros(len(gdf), dtype=int))
    _, lanes = optional(opts.lanes_column, LANES_COLUMNS, "lanes")
    _, names = optional(opts.name_column, NAME_COLUMNS, "name")
    _, bridges = optional(opts.bridge_column, BRIDGE_COLUMNS, "bridge")

    parts, feature = shapely.get_parts(geoms, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    try:
        datum = normalise_crs_name(opts.crs) if opts.crs is not None else None
    except ValueError as exc:
        raise InputError(path, str(exc), field="crs") from exc
    if datum in ("GCJ02", "BD09"):
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], datum)
    else:
        source_crs = datum or (gdf.crs.to_string() if gdf.crs is not None else "WGS84")
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], source_crs)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    if not (np.all(np.abs(lon) <= 180) and np.all(np.abs(lat) <= 90)):
        raise InputError(path, "coordinates are not longitude/latitude; pass the file's CRS "
                         "(--network-crs, or region.toml [network] crs)")
    return RoadLines(
        frame=gdf, lon=lon, lat=lat, feature=feature[part], part=part,
        highway=np.asarray(highway, dtype=object), oneway=oneway,
        bridge=bridge_flags(bridges) if bridges is not None else np.zeros(len(gdf), bool),
        names=(names.fillna("").astype(str).to_numpy(object) if names is not None
               else np.full(len(gdf), "", dtype=object)),
        lanes=(pd.to_numeric(lanes, errors="coerce").to_numpy(float) if lanes is not None
               else np.full(len(gdf), np.nan)),
        class_column=class_column, oneway_column=oneway_name,
    )


def _highways(gdf, columns, classes, opts: RoadFileOptions, path: Path) -> tuple[np.ndarray, str | None]:
    """The normalised class of every feature and its column; an error names the first unknown."""
    column = find_class_column(gdf, classes, path, opts.class_column,
                               numeric=opts.class_mapping is not None)
    if column is None:
        speed = find_column(columns, opts.speed_column, SPEED_COLUMNS, path, "speed")
        if speed is not None:
            warnings.warn(f"{path.name}: no road-class column; classes taken from the speeds of "
                          f"{speed!r} / 无道路等级字段，按速度字段推定等级", RoadFileWarning, stacklevel=3)
            return _class_by_speed(gdf[speed], path, speed), None
        default = opts.default_class or "unclassified"
        cls = classes.get(_fold(default))
        if cls is None:
            raise InputError(path, f"default class {default!r} is not a known class", field="default_class")
        warnings.warn(f"{path.name}: no road-class column (columns: {', '.join(map(str, columns)) or 'none'}); "
                      f"every road loaded as {default!r} ({cls}) / 无道路等级字段，全部按{default}计算",
                      RoadFileWarning, stacklevel=3)
        return np.full(len(gdf), cls, dtype=object), None
    highway = classify(gdf[column], classes, kind=_fold(column) == "kind")
    unknown = np.flatnonzero(highway.isna())
    if len(unknown):
        first = int(unknown[0])
        accepted = ", ".join(sorted(set(pd.read_csv(DEFAULT_ROAD_CLASSES)["name"]) | set(classes)))
        others = f" ({len(unknown) - 1} more features have unknown classes)" if len(unknown) > 1 else ""
        raise InputError(path, f"unknown road class {_shown(gdf[column].iloc[first])}{others}; "
                         f"accepted classes: {accepted}; route numbers G/S/X/Y/C/Z; "
                         "codes through --class-mapping", row=first + 1, field=str(column), kind="feature")
    return highway.to_numpy(object), column


def read_road_file(path: str | Path, **options) -> RoadNetwork:
    """Read a planner's road lines (Shapefile, GeoPackage, GeoJSON) into a RoadNetwork.

    Each line vertex becomes a node, so travel follows the drawn line; vertices of
    different lines within :data:`coverage.network.SNAP_TOLERANCE_M` (in the UTM zone
    of the data) become one node, joining lines that touch. Lines that cross without a
    shared vertex (bridges, tunnels, or a badly drawn junction) stay apart:
    :mod:`coverage.network_repair` reports and repairs those.

    Parameters
    ----------
    path
        The file.
    **options
        Reading options of :class:`RoadFileOptions` (``class_column``, ``crs``,
        ``class_mapping``, ``oneway_column``, ``oneway_codes``, ``default_class``,
        ``speed_column``, ``name_column``, ``lanes_column``, ``bridge_column``,
        ``layer``).

    Raises
    ------
    InputError
        For a missing, empty or unreadable file, an unknown class or one-way value
        (naming the feature), several columns of classes, or geometries that are not
        lines.
    """
    from coverage.crs import from_wgs84, utm_crs

    path = Path(path)
    unknown = set(options) - set(RoadFileOptions.READING)
    if unknown:
        raise TypeError(f"unknown road-file options: {', '.join(sorted(unknown))}")
    lines = read_road_lines(path, **options)
    lon, lat = lines.lon, lines.lat
    x, y = from_wgs84(lon, lat, utm_crs(float(np.mean(lon)), float(np.mean(lat))))
    node = _snap_nodes(np.asarray(x), np.asarray(y), SNAP_TOLERANCE_M)
    _, first = np.unique(node, return_index=True)  # labels run 0..k-1
    node_lon, node_lat = lon[first][node], lat[first][node]

    part = lines.part
    j = np.flatnonzero(part[:-1] == part[1:])
    f = lines.feature[j]
    rev = lines.oneway[f] == -1
    a, b = np.where(rev, j + 1, j), np.where(rev, j, j + 1)
    attrs = {
        "highway": lines.highway[f],
        "oneway": lines.oneway[f] != 0,
        "name": lines.names[f],
        "lanes": lines.lanes[f],
        "bridge": lines.bridge[f],
    }
    return _assemble(node[a].astype(np.int64), node[b].astype(np.int64), node_lon[a], node_lat[a],
                     node_lon[b], node_lat[b], attrs, path,
                     {"source": path.name, "quality": "official", "notes": "planner's road file"})


# --- opening a network as commands do ------------------------------------------------

def open_network(path: str | Path, options: RoadFileOptions | None = None, *,
                 cache_dir: str | Path | None = None) -> RoadNetwork:
    """Read any network file with road-file options and check its topology.

    The file is parsed once and then read from ``cache_dir``
    (:func:`coverage.network_cache.cached_network`). A fragmented network warns
    (:class:`RoadFileWarning`, Chinese and English;
    :func:`coverage.network_repair.check_network`).
    """
    from coverage.network_cache import cached_network
    from coverage.network_repair import check_network

    options = options or RoadFileOptions()
    network = cached_network(path, cache_dir, **options.reader_kwargs())
    check_network(network, options, path=path, cache_dir=cache_dir)
    return network


def command_network(args, region=None) -> RoadNetwork:
    """The network a command works on: ``--network`` or the pack's, read with the pack's
    ``[network]`` options (its reading options only for its own file) under the
    command's flags (:func:`coverage.arguments.add_network_arguments`)."""
    base = getattr(region, "network_options", None) or RoadFileOptions()
    path = getattr(args, "network", None)
    if path is not None and (region is None or region.network_path is None
                             or Path(path).resolve() != Path(region.network_path).resolve()):
        base = base.for_other_file()
    options = options_from_args(args, base)
    if path is None:
        if region is None:
            raise InputError(None, "no road network: give --network FILE", field="--network")
        if options == base:
            return region.load_network()
        path = region.network_path
    return open_network(path, options,
                        cache_dir=None if region is None else Path(region.path) / "cache")
