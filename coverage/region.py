"""Region packs: one folder describing a planning region, loaded and validated at once.

A pack holds a manifest (``region.toml``), the boundary, the townships with their
population, the facility register and the road network, each layer with its
provenance (see ``docs/region-pack.md``). The repository root is the default region
(重庆高新区 / 西部（重庆）科学城 core); others live in ``regions/<slug>/``.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from coverage import schema
from coverage.errors import InputError
from coverage.modes import OFFROAD_KMH
from coverage.facilities import read_facilities
from coverage.network import RoadNetwork
from coverage.target_file import TARGETS_FILE, check_fields, read_target_file
from coverage.tables import read_features
from coverage.townships import check_villages, read_townships

MANIFEST = "region.toml"
REQUIRED_FILES = ("boundary", "townships", "facilities")


@dataclass
class Region:
    """A loaded, validated region pack. Geometries are WGS-84 (EPSG:4326)."""

    path: Path
    slug: str
    name_zh: str
    name_en: str
    metric_crs: str
    adcodes: list[str]
    boundary: shapely.Geometry
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    files: dict[str, Path]
    provenance: dict[str, dict]
    caveats: dict[str, str] = field(default_factory=dict)
    villages: pd.DataFrame | None = None
    census_year: int | None = None
    #: Speed of the off-road leg, km/h (``[routing] offroad_kmh``).
    offroad_kmh: float = OFFROAD_KMH
    #: How the pack's road file is read and checked (``region.toml`` ``[network]``).
    network_options: object = None
    _network: RoadNetwork | None = field(default=None, repr=False)
    _dem: object | None = field(default=None, repr=False)

    @property
    def network_path(self) -> Path | None:
        """The road network file, if the pack has one."""
        return self.files.get("network")

    def load_network(self) -> RoadNetwork:
        """The pack's road network (read once, then kept)."""
        if self._network is None:
            if self.network_path is None:
                raise InputError(self.path / MANIFEST, "the pack names no road network",
                                 field="files.network")
            from coverage.network_repair import fragmentation_warning
            from coverage.roadfile import open_network

            # Parsed once: later loads read the pack's cache/ (keyed by the file's SHA-256).
            self._network = open_network(self.network_path, self.network_options,
                                         cache_dir=self.path / "cache")
            # a fragmented network is said beside the results, in the app and the report too
            caveats = {k: v for k, v in self.caveats.items() if k != "network_topology"}
            text = fragmentation_warning(self._network.topology)
            self.caveats = {**caveats, "network_topology": text} if text else caveats
            self._network.provenance = {**self.provenance.get("network", {}),
                                        **self._network.provenance}
        return self._network

    @property
    def dem_path(self) -> Path | None:
        """The DEM GeoTIFF (``files.dem``, or a command's ``--dem``), if any."""
        return self.files.get("dem")

    def graph_options(self) -> dict:
        """Keyword options of :func:`coverage.routing.build_graph` the pack sets:
        its off-road speed and its DEM (read once)."""
        if self.dem_path is not None and (self._dem is None or self._dem.path != self.dem_path):
            from coverage.terrain import read_dem

            self._dem = read_dem(self.dem_path)
        return {"offroad_kmh": self.offroad_kmh,
                "dem": self._dem if self.dem_path is not None else None}

    def name(self, lang: str = "zh") -> str:
        """The region's name in Chinese (``'zh'``) or English."""
        return self.name_zh if lang == "zh" else self.name_en


def find_manifest(path: str | Path = ".") -> Path:
    """The ``region.toml`` of a pack folder (or the file itself)."""
    path = Path(path)
    manifest = path if path.is_file() else path / MANIFEST
    if not manifest.exists():
        raise InputError(manifest, f"not a region pack: no {MANIFEST} here")
    return manifest


def check_manifest(meta: dict, manifest: Path) -> None:
    """Every key of ``region.toml`` present and of the right type.

    ``metric_crs`` must be a projected CRS in metres (the analysis measures
    distances in it); ``census_year`` a whole number; ``files`` a table of paths;
    ``adcodes`` a list of codes; ``provenance`` and ``caveats`` tables.
    """
    for key in ("slug", "name_zh", "name_en", "metric_crs", "files"):
        if key not in meta:
            raise InputError(manifest, "missing key", field=key)
    for key in ("slug", "name_zh", "name_en", "metric_crs"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise InputError(manifest, f"{meta[key]!r} is not text: expected a quoted value",
                             field=key)
    _check_metric_crs(meta["metric_crs"], manifest)
    for key in ("files", "provenance", "caveats"):
        value = meta.get(key, {})
        if not isinstance(value, dict):
            raise InputError(manifest, f"{value!r} is not a table: expected [{key}] with "
                             "one entry per layer", field=key)
    for layer, rel in meta["files"].items():
        if not isinstance(rel, str) or not rel.strip():
            raise InputError(manifest, f"{rel!r} is not a file path: expected text such as "
                             '"facilities.geojson"', field=f"files.{layer}")
    for layer, info in meta.get("provenance", {}).items():
        if not isinstance(info, dict):
            raise InputError(manifest, f"{info!r} is not a table: expected source and quality",
                             field=f"provenance.{layer}")
    for key, text in meta.get("caveats", {}).items():
        if not isinstance(text, str):
            raise InputError(manifest, f"{text!r} is not text", field=f"caveats.{key}")
    adcodes = meta.get("adcodes", [])
    if not isinstance(adcodes, list) or not all(
            isinstance(a, (str, int)) and not isinstance(a, bool)
            and str(a).isdigit() and len(str(a)) == 6 for a in adcodes):
        raise InputError(manifest, f"{adcodes!r} is not a list of 6-digit district codes: "
                         'expected such as ["500106", "500107"]', field="adcodes")
    year = meta.get("census_year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)
                             or not 1900 <= year <= 2100):
        raise InputError(manifest, f"{year!r} is not a year: expected a whole number without "
                         "quotes, such as 2020", field="census_year")


def _check_metric_crs(value: str, manifest: Path) -> None:
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise InputError(manifest, f"{value!r} is not a known CRS: expected a projected CRS in "
                         "metres such as EPSG:32648 (UTM 48N)", field="metric_crs") from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units - {"metre"}:
        raise InputError(manifest, f"{value!r} is not a projected CRS in metres (units: "
                         f"{', '.join(sorted(units)) or 'none'}): expected such as EPSG:32648 "
                         "(UTM 48N)", field="metric_crs")


def load_region(path: str | Path = ".") -> Region:
    """Load a region pack and validate every layer.

    Raises
    ------
    InputError
        For a broken manifest, a missing file, a layer without provenance, and any
        error in the townships or facilities (see :func:`read_townships`,
        :func:`read_facilities`).
    """
    manifest = find_manifest(path)
    root = manifest.parent
    try:
        meta = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(manifest, f"not valid TOML: {exc}") from None
    check_manifest(meta, manifest)
    files: dict[str, Path] = {}
    for layer, rel in sorted(meta["files"].items()):
        file = root / rel
        if not file.exists():
            raise InputError(manifest, f"file {rel!r} does not exist", field=f"files.{layer}")
        files[layer] = file
    for layer in REQUIRED_FILES:
        if layer not in files:
            raise InputError(manifest, "missing layer", field=f"files.{layer}")
    provenance = meta.get("provenance", {})
    for layer in files:
        info = provenance.get(layer)
        if not info or "source" not in info or "quality" not in info:
            raise InputError(manifest, "every layer needs its provenance: expected source and "
                             "quality (surveyed/official/estimated/illustrative/synthetic)",
                             field=f"provenance.{layer}")
        try:
            info["quality"] = schema.provenance_quality(info["quality"])
        except ValueError as exc:
            raise InputError(manifest, str(exc), field=f"provenance.{layer}.quality") from None

    boundary_frame = read_features(files["boundary"])
    if boundary_frame.crs is not None and boundary_frame.crs.to_epsg() != 4326:
        boundary_frame = boundary_frame.to_crs("EPSG:4326")
    boundary = shapely.union_all(boundary_frame.geometry.to_numpy())
    if boundary.is_empty or boundary.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(files["boundary"], "expected a polygon boundary")

    townships = read_townships(files["townships"])
    facilities = read_facilities(files["facilities"], township_codes=townships["code"],
                                 boundary=boundary)
    routing = meta.get("routing", {})
    if not isinstance(routing, dict):
        raise InputError(manifest, "expected a table [routing]", field="routing")
    offroad = routing.get("offroad_kmh", OFFROAD_KMH)
    if isinstance(offroad, bool) or not isinstance(offroad, (int, float)) \
            or not 0 < offroad <= 30:
        raise InputError(manifest, f"{offroad!r} is not an off-road walking speed: expected "
                         "km/h above 0 and at most 30", field="routing.offroad_kmh")
    if (root / TARGETS_FILE).exists():
        # checked now, so no command fails on it later
        from coverage.statistics import (STATISTICS_FILE, Statistics, field_names,
                                         read_statistics)

        statistics = root / STATISTICS_FILE
        fields = field_names(read_statistics(statistics) if statistics.exists() else Statistics())
        check_fields(read_target_file(root / TARGETS_FILE), fields, root / TARGETS_FILE)
    villages = None
    if "villages" in files:
        from coverage.tables import read_table

        villages = read_table(files["villages"])
        check_villages(villages, files["villages"], townships["code"])
    return Region(
        path=root, slug=meta["slug"], name_zh=meta["name_zh"], name_en=meta["name_en"],
        metric_crs=meta["metric_crs"], adcodes=[str(a) for a in meta.get("adcodes", [])],
        boundary=boundary, townships=townships, facilities=facilities, files=files,
        provenance=provenance, caveats=meta.get("caveats", {}), villages=villages,
        census_year=meta.get("census_year"), offroad_kmh=float(offroad),
        network_options=_network_options(meta.get("network", {}), root, manifest),
    )


def _network_options(table, root: Path, manifest: Path):
    from coverage.roadfile import options_from_table

    if not isinstance(table, dict):
        raise InputError(manifest, "expected a table of road-file options", field="network")
    return options_from_table(table, root, manifest)


def summary(region: Region, *, with_network: bool = True) -> str:
    """A plain-text summary of a pack, as ``coverage validate`` prints it."""
    lines = [f"{region.name_zh} / {region.name_en} [{region.slug}]  ({region.path})"]
    area_km2 = gpd.GeoSeries([region.boundary], crs="EPSG:4326").to_crs(
        region.metric_crs).area.iloc[0] / 1e6
    lines.append(f"  面积 area: {area_km2:,.1f} km²   坐标 CRS: WGS-84 (EPSG:4326), "
                 f"内部 metric {region.metric_crs}")
    kinds = Counter(region.townships["kind"].dropna())
    kind_text = ", ".join(f"{schema.label(schema.TOWNSHIP_KINDS, k)} {n}"
                          for k, n in sorted(kinds.items()))
    lines.append(f"  乡镇街道 townships: {len(region.townships)} ({kind_text})")
    lines.append(f"  常住人口 population: {int(region.townships['population'].sum()):,}")
    lines.append(f"  医疗卫生机构 facilities: {len(region.facilities)}")
    by_type = Counter(region.facilities["type"])
    for key, n in sorted(by_type.items()):
        statuses = Counter(region.facilities.loc[region.facilities["type"] == key, "status"])
        status_text = ", ".join(f"{schema.label(schema.FACILITY_STATUSES, s)} {m}"
                                for s, m in sorted(statuses.items()))
        lines.append(f"    {schema.label(schema.FACILITY_TYPES, key)} "
                     f"({schema.label(schema.FACILITY_TYPES, key, 'en')}): {n}  [{status_text}]")
    if region.villages is not None:
        lines.append(f"  村/社区 villages and communities: {len(region.villages)}")
    if with_network and region.network_path is not None:
        network = region.load_network()
        lines.append(f"  路网 road network: {len(network.nodes):,} nodes, "
                     f"{len(network.edges):,} edges ({region.network_path.name})")
        if network.topology is not None:
            lines.append(f"    连通片 pieces: {network.topology['pieces']:,}, 最大片占总长 largest "
                         f"{network.topology['largest_share']:.0%} of length")
    lines.append(f"  离路步行 off-road pace: {region.offroad_kmh:g} km/h   地形 DEM: "
                 + (region.dem_path.name if region.dem_path is not None else "无 none"))
    lines.append("  数据来源 provenance:")
    for layer, info in sorted(region.provenance.items()):
        quality = schema.label(schema.PROVENANCE_QUALITIES, info["quality"])
        lines.append(f"    {layer}: {quality} {info['quality']} — {info['source']}")
    for key, text in sorted(region.caveats.items()):
        lines.append(f"  ⚠ {text}")
    return "\n".join(lines)


def find_regions(root: str | Path = ".") -> list[Path]:
    """Pack folders under a repository root: the root itself, then ``regions/*``."""
    root = Path(root)
    packs = [root] if (root / MANIFEST).exists() else []
    regions = root / "regions"
    if regions.is_dir():
        packs += sorted(p for p in regions.iterdir() if (p / MANIFEST).exists())
    return packs
