"""A region's layers (图层): isochrones, coverage, gaps, facilities, targets, report.

:func:`write_layers` regenerates a pack's ``layers/`` folder in one go:

=========================  ==========================================================
``isochrones.geojson``     bands (5, 10, 15, 30 min) around the open basic-care
                           facilities, for each mode (walk, ebike, car)
``townships.geojson``      townships with residents within the circle's threshold
                           and their off-network residents (``off_network``)
``townships.csv``          residents within each band, per township and region, and
                           the off-network residents (off-road leg over 1 km)
``gaps.geojson``           clusters of uncovered residents (:mod:`coverage.gaps`)
``facilities.geojson``     facilities open in the year
``targets.csv``            every planning target checked (:func:`coverage.targets.evaluate`)
``layers.gpkg``            the four geometry layers above in one GeoPackage
``provenance.json``        which inputs each layer rests on and how good they are
``report.html``            the self-contained report (:mod:`coverage.report`)
``.written-by-coverage``   the marker that lets the next run replace the folder
=========================  ==========================================================

The mode per township kind, the threshold and the facility types are those of the
pack's ``circle`` target (15分钟基本医疗卫生服务圈), or the defaults without one.

Outputs are byte-identical across runs on the same inputs: GeoJSON is written here
(not through GDAL) with properties in a fixed order, coordinates rounded to
:data:`PRECISION` decimals (1 m) after simplifying by :data:`SIMPLIFY_DEG`
(about 5 m); CSVs start with a UTF-8 byte-order mark so Excel reads the Chinese.
``layers.gpkg`` holds the same geometry layers in one GeoPackage, written
through GDAL with ``OGR_CURRENT_DATE`` fixed (:data:`GPKG_DATE`) so that its
embedded timestamps, and so its bytes, do not change between runs; it has no
spatial index (GIS software builds one on demand), which keeps it small. Every
file is written into a temporary folder beside ``out_dir``, which replaces
``out_dir`` only once all are written (:func:`coverage.outputs.write_folder`): a
failure leaves the old layers as they were, and a folder holding anything this
program did not write, the pack itself or its data folders are refused up front.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.access import AccessContext, population_within
from coverage.bands import RegionCells, region_bands
from coverage.gaps import coverage_gaps
from coverage.modes import MODES
from coverage.output import csv_text, json_scalar
from coverage.outputs import check_folder, write_folder
from coverage.targets import circle_parameters, evaluate, format_results, results_frame

#: Isochrone bands, in minutes.
BANDS = (5, 10, 15, 30)
#: Decimals of WGS-84 coordinates (1e-5 degree is about 1 m, finer than the simplification).
PRECISION = 5
#: Simplification tolerance of polygons, in degrees (about 5 m in Chongqing).
SIMPLIFY_DEG = 5e-5
#: Timestamp written into the GeoPackage's metadata, fixed so its bytes are stable.
GPKG_DATE = "2000-01-01T00:00:00Z"
#: Gaps with fewer residents are left out of the layer.
MIN_GAP_POPULATION = 50

#: The files :func:`write_layers` writes (a folder of only these is an older layers folder).
LAYER_FILES = ("isochrones.geojson", "townships.geojson", "townships.csv", "gaps.geojson",
               "facilities.geojson", "targets.csv", "layers.gpkg", "provenance.json",
               "report.html")

FACILITY_COLUMNS = ("id", "name", "type", "grade", "township_code", "status", "opening_year",
                    "closing_year", "beds", "location_quality")


def write_layers(region, out_dir: str | os.PathLike | None = None, *, year: int | None = None,
                 bands=BANDS, min_gap_population: float = MIN_GAP_POPULATION,
                 progress: bool | None = None, cache_dir=None) -> list[Path]:
    """Regenerate a region's layers into ``out_dir`` (default ``<pack>/layers``).

    Parameters
    ----------
    region
        A :class:`coverage.region.Region` with a road network.
    out_dir
        The folder; replaced as a whole once every file is written.
    year
        Facilities open in that year (``None``: the register as it stands).
    bands
        Isochrone bands and coverage thresholds, in minutes.
    min_gap_population
        Gaps with fewer residents are left out.
    progress
        Show a progress bar; default when standard error is a terminal.
    cache_dir
        Folder of built graphs (as :class:`coverage.access.AccessContext`).

    Returns
    -------
    list of pathlib.Path
        The files written, sorted.
    """
    from tqdm import tqdm

    from coverage.report import render_report

    out_dir = Path(out_dir) if out_dir is not None else region.path / "layers"
    check_folder(out_dir, region=region, own_names=LAYER_FILES)  # before the work, not after
    params = circle_parameters(region)
    context = AccessContext(region, year=year, cache_dir=cache_dir)
    basic = context.facilities(params["types"])
    files: dict[str, str | bytes] = {}
    steps = [*MODES, "coverage", "gaps", "targets", "report"]
    bar = tqdm(steps, desc=f"layers {region.slug}", unit="step",
               disable=not (sys.stderr.isatty() if progress is None else progress))
    isochrones = []
    cells = RegionCells.of(region, cache_dir=context.cache_dir)
    per_mode: dict[str, np.ndarray] = {}  # cell seconds per mode, reused by the by-kind band
    for step in bar:
        bar.set_postfix_str(step)
        if step in MODES:
            isochrones.append(mode_isochrones(context, step, basic, bands, cells,
                                              per_mode=per_mode))
        elif step == "coverage":
            seconds, _ = context.seconds_by_kind(params["modes"], basic)
            table = population_within(context.population, seconds, bands, region.townships,
                                      mode=params["modes"], region_name=region.name_zh)
            off = context.off_network_residents(params["modes"])
            table["off_network"] = table["code"].map(off).fillna(off.sum()).to_numpy()
            files["townships.csv"] = csv_text(table.round({"share": 6}))
            towns = township_coverage(region, table, params["minutes"])
            towns_clean = cleaned(towns)
            files["townships.geojson"] = geojson_text(towns_clean, clean=False)
        elif step == "gaps":
            gaps = coverage_gaps(context, minutes=params["minutes"], types=params["types"],
                                 mode=params["modes"], min_population=min_gap_population)
            gaps_clean = cleaned(gaps)
            files["gaps.geojson"] = geojson_text(gaps_clean, clean=False)
        elif step == "targets":
            results = results_frame(evaluate(region, year=year, context=context),
                                    region.townships)
            files["targets.csv"] = format_results(results, "csv")
        else:
            bands_frame = pd.concat(isochrones, ignore_index=True)
            bands_clean = cleaned(bands_frame)
            files["isochrones.geojson"] = geojson_text(bands_clean, clean=False)
            open_now = context.facilities()[list(FACILITY_COLUMNS) + ["geometry"]]
            open_clean = cleaned(open_now)
            files["facilities.geojson"] = geojson_text(open_clean, clean=False)
            files["layers.gpkg"] = gpkg_bytes({
                "isochrones": bands_clean, "townships": towns_clean, "gaps": gaps_clean,
                "facilities": open_clean}, clean=False)
            files["provenance.json"] = json.dumps(
                provenance(region, year, params), ensure_ascii=False, indent=2,
                sort_keys=True) + "\n"
            by_kind = region_bands(context, basic, params["modes"], [params["minutes"]],
                                   cells=cells, per_mode=per_mode).assign(mode="by_kind")
            files["report.html"] = render_report(
                region, year=year, params=params, townships=towns, targets=results,
                facilities=open_now, isochrones=pd.concat([bands_frame, by_kind]), gaps=gaps)
    return write_folder(out_dir, files, region=region)


def mode_isochrones(context: AccessContext, mode: str, facilities: gpd.GeoDataFrame,
                    bands, cells=None, *, per_mode=None) -> gpd.GeoDataFrame:
    """Merged bands around ``facilities`` for one mode (:func:`coverage.bands.region_bands`,
    whose ``per_mode`` this passes on)."""
    frame = region_bands(context, facilities, mode, bands, cells=cells, per_mode=per_mode)
    frame.insert(0, "mode", mode)
    return frame


def township_coverage(region, table: pd.DataFrame, minutes: float) -> gpd.GeoDataFrame:
    """Township polygons with population, residents within ``minutes``, share and
    (when the table has them) off-network residents."""
    rows = table[(table["code"] != "") & (table["minutes"] == minutes)].set_index("code")
    towns = region.townships[["code", "name", "kind", "geometry"]].copy()
    codes = towns["code"].astype(str)
    towns["mode"] = codes.map(rows["mode"]).to_numpy()
    towns["minutes"] = minutes
    towns["population"] = codes.map(rows["population"]).to_numpy()
    towns["covered"] = codes.map(rows["covered"]).to_numpy()
    towns["share"] = codes.map(rows["share"]).to_numpy()
    if "off_network" in rows:
        towns["off_network"] = codes.map(rows["off_network"]).to_numpy()
    return towns


def provenance(region, year: int | None, params: dict) -> dict:
    """What each layer rests on, with the pack's provenance and caveats."""
    inputs = {layer: {k: info.get(k, "") for k in ("source", "quality", "licence")}
              for layer, info in sorted(region.provenance.items())}
    uses = {"isochrones.geojson": ["network", "facilities"],
            "townships.geojson": ["townships", "population", "network", "facilities"],
            "townships.csv": ["townships", "population", "network", "facilities"],
            "gaps.geojson": ["townships", "population", "network", "facilities"],
            "facilities.geojson": ["facilities"],
            "targets.csv": ["townships", "population", "network", "facilities", "villages"],
            "report.html": sorted(inputs)}
    layers = {}
    for name, needs in uses.items():
        needs = [n for n in needs if n in inputs]
        layers[name] = {"inputs": needs,
                        "qualities": sorted({inputs[n]["quality"] for n in needs})}
    return {"region": region.slug, "year": year, "circle": {
        "minutes": params["minutes"], "types": list(params["types"]),
        "modes": params["modes"]}, "inputs": inputs, "layers": layers,
        "caveats": dict(sorted(region.caveats.items()))}


# --- deterministic writers -------------------------------------------------------

def _rounded(geom) -> list:
    """The geometry's coordinates rounded to :data:`PRECISION`, as nested lists.

    Vectorised: numpy's rounding where it leaves a value unchanged (then Python's
    ``round`` would too, the value being the double nearest to a 7-decimal number),
    Python's ``round`` elsewhere, so the text is the one per-coordinate rounding gives.
    """
    return _round_array(shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))).tolist()


def _round_array(coords: np.ndarray) -> np.ndarray:
    out = np.round(coords, PRECISION)
    differ = out != coords
    if differ.any():
        out[differ] = [round(float(c), PRECISION) for c in coords[differ]]
    return out


def _coordinates(geom):
    """GeoJSON ``coordinates`` of a 2-D Point, LineString, Polygon or Multi-geometry."""
    kind = geom.geom_type
    if kind == "Point":
        return _rounded(geom)[0]
    if kind in ("LineString", "LinearRing"):
        return _rounded(geom)
    if kind == "Polygon":
        # All rings at once: a band's polygon can have thousands of holes.
        rings = np.array([geom.exterior, *geom.interiors], dtype=object)
        coords, ring = shapely.get_coordinates(rings, include_z=bool(shapely.has_z(geom)),
                                               return_index=True)
        cuts = np.flatnonzero(np.diff(ring)) + 1
        return [part.tolist() for part in np.split(_round_array(coords), cuts)]
    return [_coordinates(part) for part in geom.geoms]


def clean_geometry(geom):
    """Simplified by :data:`SIMPLIFY_DEG` (polygons), snapped to :data:`PRECISION`, normalised.

    Normalising (rings and parts in a canonical order) makes the text independent
    of the order in which a union happened to assemble the polygon.
    """
    if geom is None or geom.is_empty:
        return geom
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = shapely.simplify(geom, SIMPLIFY_DEG, preserve_topology=True)
    return shapely.normalize(shapely.set_precision(geom, 10.0 ** -PRECISION))


def _mapping(geom) -> dict:
    """GeoJSON geometry with rounded coordinates; collections member by member."""
    if geom.geom_type == "GeometryCollection":
        return {"type": "GeometryCollection",
                "geometries": [_mapping(g) for g in shapely.get_parts(geom)]}
    return {"type": geom.geom_type, "coordinates": _coordinates(geom)}


def cleaned(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame in WGS-84 with each geometry through :func:`clean_geometry`."""
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    return frame.set_geometry([clean_geometry(g) for g in frame.geometry], crs="EPSG:4326")


def geojson_text(frame: gpd.GeoDataFrame, *, clean: bool = True) -> str:
    """A WGS-84 GeoDataFrame as deterministic GeoJSON text (one feature per line).

    ``clean=False``: the frame is already :func:`cleaned` (cleaning is not idempotent,
    so a frame written twice is cleaned once).
    """
    if clean:
        frame = cleaned(frame)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    lines = []
    for geom, record in zip(frame.geometry, frame[columns].to_dict(orient="records")):
        mapped = _mapping(geom) if geom is not None and not geom.is_empty else None
        feature = {"type": "Feature", "properties": {k: json_scalar(v) for k, v in record.items()},
                   "geometry": mapped}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    return ('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n")


def gpkg_bytes(layers: dict[str, gpd.GeoDataFrame], *, clean: bool = True) -> bytes:
    """Layers (name -> frame) as one GeoPackage, geometries as in :func:`geojson_text`
    (``clean=False``: the frames are already :func:`cleaned`)."""
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layers.gpkg"
        previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
        try:
            for name, frame in layers.items():
                frame = cleaned(frame) if clean else frame
                pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG",
                                        append=path.exists(), SPATIAL_INDEX="NO")
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        return path.read_bytes()
