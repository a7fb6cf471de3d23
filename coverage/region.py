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
from coverage.facilities import read_facilities
from coverage.network import RoadNetwork
from coverage.tables import read_features
from coverage.townships import read_townships

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
    _network: RoadNetwork | None = field(default=None, repr=False)

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
            from coverage.network_cache import cached_network

            # Parsed once: later loads read the pack's cache/ (keyed by the file's SHA-256).
            self._network = cached_network(self.network_path, self.path / "cache")
            self._network.provenance = {**self.provenance.get("network", {}),
                                        **self._network.provenance}
        return self._network

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
    for key in ("slug", "name_zh", "name_en", "metric_crs", "files"):
        if key not in meta:
            raise InputError(manifest, "missing key", field=key)
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
    villages = None
    if "villages" in files:
        from coverage.tables import read_table

        villages = read_table(files["villages"])
    return Region(
        path=root, slug=meta["slug"], name_zh=meta["name_zh"], name_en=meta["name_en"],
        metric_crs=meta["metric_crs"], adcodes=[str(a) for a in meta.get("adcodes", [])],
        boundary=boundary, townships=townships, facilities=facilities, files=files,
        provenance=provenance, caveats=meta.get("caveats", {}), villages=villages,
        census_year=meta.get("census_year"),
    )


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
