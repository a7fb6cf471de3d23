"""The ``coverage`` command line. Each subcommand parses its arguments and calls the
library; no analysis lives here.

Every error the library raises for bad input (:class:`coverage.errors.InputError`)
is printed as one line naming the file, row, field and what was expected, and the
command exits with status 2; so is an output path that must not or cannot be
written (:mod:`coverage.outputs`). Ctrl-C ends with one line and status 130; any
other error with one line and status 1 (``COVERAGE_DEBUG=1`` prints the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from coverage import arguments
from coverage.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="coverage",
        description="重庆医疗卫生服务覆盖规划 / Chongqing health service-coverage planning",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each _add_* function registers one command and sets ``func``.
    for add in (_add_validate, _add_traveltime, _add_network, _add_check, _add_isochrones, _add_population,
                _add_layers, _add_candidates, _add_optimize, _add_scenario, _add_batch, _add_capacity,
                _add_init):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coverage`` console command."""
    from coverage.drivers import restrict_gdal

    restrict_gdal()  # before any GDAL import: no VRT driver for this process
    shown = warnings.showwarning

    def one_line(message, category, *rest, **kw):
        # road-file warnings (a fragmented network, a missing class column) are for the user
        if category.__name__ == "RoadFileWarning":
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, *rest, **kw)

    formatted = warnings.formatwarning
    try:
        args = build_parser().parse_args(argv)
        warnings.showwarning = one_line
        warnings.formatwarning = _warning_line
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (已中断): finished outputs are kept, none is half-written",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("COVERAGE_DEBUG"):
            import traceback

            traceback.print_exc()
        detail = (str(exc).strip().splitlines() or [""])[0]
        print(f"internal error (内部错误): {type(exc).__name__}: {detail} "
              "(COVERAGE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown
        warnings.formatwarning = formatted


def _check_out(args, region, *inputs) -> None:
    """Refuse ``--out`` before any work if it would overwrite an input, the pack or
    its data folders, or is not writable as a file (:func:`coverage.outputs.check_file`)."""
    from coverage.outputs import check_file

    if getattr(args, "out", None):
        check_file(args.out, region=region, inputs=inputs)


def _warning_line(message, category, *args, **kwargs) -> str:
    """Warnings (a rebuilt cache, a recomputed part) as one line, like errors."""
    return f"warning: {message}\n"


# --- validate ---------------------------------------------------------------

def _add_validate(sub) -> None:
    p = sub.add_parser("validate", help="load a region pack, validate it and print a summary")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    from coverage.region import load_region, summary

    region = load_region(args.region)
    print(summary(region))
    return 0


# --- shared by traveltime and isochrones --------------------------------------------

def _add_routing_options(p) -> None:
    from coverage.choices import MODES

    p.add_argument("--region", default=".", help="region pack folder (default: .)")
    p.add_argument("--mode", required=True, choices=MODES, help="travel mode")
    p.add_argument("--types", help="facility types, comma-separated (default: all)")
    p.add_argument("--year", type=arguments.year, help="facilities open in this year (default: existing now)")
    p.add_argument("--network", help="road network file (default: the pack's network)")
    arguments.add_network_arguments(p)
    _add_dem_option(p)


def _add_dem_option(p) -> None:
    p.add_argument("--dem", help="DEM GeoTIFF (any CRS): slopes slow walking and e-bikes "
                   "(default: the pack's files.dem, if any)")


def _load_region(args):
    """The pack of ``args.region``, with ``--dem`` in place of its own DEM."""
    from pathlib import Path

    from coverage.region import load_region

    region = load_region(args.region)
    if getattr(args, "dem", None):
        if not Path(args.dem).is_file():
            raise InputError(args.dem, "DEM not found: expected a GeoTIFF of heights in metres")
        region.files["dem"] = Path(args.dem)
    return region


def _routing_inputs(args):
    """The region, its facilities open for ``--year``/``--types`` and the mode's graph."""
    from coverage.facilities import active_facilities
    from coverage.roadfile import command_network
    from coverage.routing import build_graph

    region = _load_region(args)
    _check_out(args, region, args.network, getattr(args, "points", None))
    types = [t for t in args.types.split(",") if t.strip()] if args.types else None
    _check_types(types)
    _require_open(region, args.year)
    facilities = active_facilities(region.facilities, args.year, types)
    if facilities.empty:
        raise InputError(region.files["facilities"], "no facility is open"
                         + (f" in {args.year}" if args.year else "")
                         + (f" of types {args.types}" if types else ""), field="--types")
    network = command_network(args, region)
    return region, facilities, build_graph(network, args.mode, metric_crs=region.metric_crs,
                                           **region.graph_options())


def _check_types(types) -> None:
    from coverage.schema import facility_type

    for name in types or ():
        try:
            facility_type(name)
        except ValueError as exc:
            raise InputError(None, str(exc), field="--types") from None


def _require_open(region, year) -> None:
    """Refuse a ``--year`` in which nothing of the register is open."""
    from coverage.facilities import require_open

    if year not in (None, "target"):
        require_open(region.facilities, year, region.files["facilities"])


# --- traveltime -------------------------------------------------------------

def _add_traveltime(sub) -> None:
    p = sub.add_parser("traveltime", help="travel time from each point to its nearest facility (CSV)")
    _add_routing_options(p)
    p.add_argument("--points", required=True, help="points file (CSV/Excel/GeoJSON/GeoPackage)")
    p.add_argument("--crs", help="CRS of the points file: WGS84 (default), GCJ02, BD09 or EPSG:n")
    p.add_argument("--out", required=True, help="output CSV (UTF-8 with BOM, opens in Excel)")
    p.set_defaults(func=_run_traveltime)


def _run_traveltime(args) -> int:
    from coverage.output import csv_text
    from coverage.outputs import write_file
    from coverage.routing import point_travel_times
    from coverage.tables import read_points

    points = read_points(args.points, crs=args.crs)
    _, facilities, graph = _routing_inputs(args)
    table = point_travel_times(
        graph, points.geometry.x.to_numpy(), points.geometry.y.to_numpy(),
        facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(),
        point_ids=points["id"].to_numpy(), facility_ids=facilities["id"].to_numpy(),
        facility_names=facilities["name"].to_numpy())
    write_file(args.out, csv_text(table, float_format="%.2f"), inputs=(args.points,))
    reached = table["minutes"].notna().sum()
    print(f"{len(table)} points, {reached} reach one of {len(facilities)} facilities "
          f"by {args.mode}: {args.out}")
    return 0


# --- network ------------------------------------------------------------------

def _add_network(sub) -> None:
    p = sub.add_parser("network", help="road networks: summarise, repair, download a region's roads")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="print nodes, edges, connectivity and length by class")
    info.add_argument("file", help="road network: .osm, .osm.pbf, .graphml, .shp, .gpkg, .geojson")
    arguments.add_network_arguments(info, crs_alias=True)
    info.set_defaults(func=_run_network_info)
    repair = actions.add_parser("repair", help="repair a road file: node at-grade crossings, join "
                                "T-junctions and dead ends within the tolerance, drop duplicates")
    repair.add_argument("file", help="road file: .shp, .gpkg, .geojson")
    repair.add_argument("--out", required=True, help="new GeoPackage: layers roads, repairs, disconnected")
    arguments.add_network_arguments(repair, crs_alias=True)
    repair.set_defaults(func=_run_network_repair)
    fetch = actions.add_parser("fetch", help="download a region's OpenStreetMap roads into its cache")
    fetch.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    fetch.add_argument("--type", default="all", help="OSMnx network type (default: all)")
    fetch.add_argument("--overpass-url", help="Overpass API of a mirror or an intranet server "
                       "(default: https://overpass-api.de/api)")
    fetch.add_argument("--timeout", type=float, default=5.0,
                       help="seconds to wait for the server to answer (default: 5)")
    fetch.set_defaults(func=_run_network_fetch)


def _run_network_info(args) -> int:
    from coverage.network import format_network_info, network_info, read_network
    from coverage.network_repair import check_network, format_topology
    from coverage.roadfile import options_from_args

    options = options_from_args(args)
    network = read_network(args.file, **options.reader_kwargs())
    print(format_network_info(network_info(network)))
    print(format_topology(check_network(network, options, warn=False)))
    return 0


def _run_network_repair(args) -> int:
    from coverage.network_repair import format_summary, repair_road_file
    from coverage.roadfile import options_from_args

    result = repair_road_file(args.file, args.out, options_from_args(args))
    print(format_summary(result.summary))
    print(f"已写入 written: {args.out} (roads, repairs, disconnected)")
    return 0


def _run_network_fetch(args) -> int:
    from coverage.network import OVERPASS_URL, fetch_network
    from coverage.region import load_region

    region = load_region(args.region)
    url = args.overpass_url or OVERPASS_URL
    print(f"下载 downloading OpenStreetMap roads of {region.name_zh} from {url} "
          f"(检查服务器 checking the server, {args.timeout:g} s)…", file=sys.stderr, flush=True)
    path = fetch_network(region.boundary, region.path / "cache" / "network", network_type=args.type,
                         overpass_url=url, timeout=args.timeout)
    print(path)
    return 0


# --- check ------------------------------------------------------------------

def _add_check(sub) -> None:
    p = sub.add_parser("check", help="check the region's planning targets (targets.toml)")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--year", type=arguments.year_or_target, default=None,
                   help="evaluate the facilities open in this year, or 'target': each target "
                        "in its own year (default: as registered)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table",
                   help="output format (CSV starts with a UTF-8 byte-order mark for Excel)")
    p.add_argument("--out", default=None, help="write to this file instead of standard output")
    _add_dem_option(p)
    p.set_defaults(func=_run_check)


def _run_check(args) -> int:
    from coverage.outputs import write_file
    from coverage.targets import evaluate, format_results, results_frame, load_targets

    region = _load_region(args)
    _check_out(args, region)
    _require_open(region, args.year)
    targets = load_targets(region)
    if not targets:
        print(f"error: {region.path / 'targets.toml'}: the pack has no targets", file=sys.stderr)
        return 2
    from coverage.check_notes import annotate, evaluate_at_target_years

    if args.year == "target":
        results = evaluate_at_target_years(region, targets)
    else:
        results = evaluate(region, year=args.year, targets=targets)
    frame = annotate(results_frame(results, region.townships), results, region)
    text = format_results(frame, args.format)
    if args.format == "table":
        year = {None: "现状 as registered", "target": "各目标年份 each target's year"}.get(
            args.year, args.year)
        caveats = "".join(f"⚠ {c}\n" for _, c in sorted(region.caveats.items()))
        text = f"{region.name_zh} / {region.name_en} — {year}\n{caveats}{text}"
    if args.out:
        write_file(args.out, text, region=region)
    else:
        sys.stdout.write(text)
    return 0


# --- init -----------------------------------------------------------------------

def _add_init(sub) -> None:
    p = sub.add_parser("init", help="start a region pack for any district of Chongqing")
    p.add_argument("district", help="district adcode or name, e.g. 500103 or 渝中区")
    p.add_argument("--out", required=True, help="new pack folder (must not exist or be empty)")
    p.add_argument("--facilities", help="the district's facility register (CSV/Excel/GeoJSON...)")
    p.add_argument("--roads", help="the district's road file (.osm, .pbf, .shp, .gpkg, ...)")
    p.add_argument("--townships", help="township polygons (.shp, .gpkg, .geojson)")
    p.add_argument("--population", help="township population table (CSV/Excel)")
    p.add_argument("--crs", help="CRS of the files' coordinates when they do not say, e.g. GCJ02")
    p.add_argument("--no-network", action="store_true", help="write no synthetic road network")
    p.set_defaults(func=_run_init)


def _run_init(args) -> int:
    from coverage.pack_init import init_into_new_folder

    result = init_into_new_folder(args.district, args.out, facilities=args.facilities,
                                  roads=args.roads, townships=args.townships,
                                  population=args.population, crs=args.crs,
                                  with_network=not args.no_network)
    print(f"{args.out}: {len(result['townships'])} 街镇 townships, "
          f"{len(result['facilities'])} 机构 facilities")
    for what, report in sorted(result["matching"].items()):
        print(f"  {what}: {report['matched']} 匹配 matched; 未匹配 unmatched: "
              + ("、".join(report["unmatched"]) or "无 none")
              + "; 仍为估算 still estimated: " + ("、".join(report["not_covered"]) or "无 none"))
    return 0


# --- isochrones -------------------------------------------------------------

def _add_isochrones(sub) -> None:
    p = sub.add_parser("isochrones", help="isochrones (等时圈) along the roads, as GeoJSON")
    _add_routing_options(p)
    p.add_argument("--minutes", type=arguments.minutes_list, default=[5.0, 10.0, 15.0, 30.0],
                   help="bands in minutes, comma-separated (default: 5,10,15,30)")
    p.add_argument("--per-facility", action="store_true",
                   help="one polygon per facility and band (default: merged, nearest facility)")
    p.add_argument("--cell", type=arguments.cell_m, default=40.0,
                   help="side in metres of the cells the coverage rule is evaluated on "
                        "(default: 40)")
    p.add_argument("--out", required=True, help="output GeoJSON (WGS-84)")
    p.set_defaults(func=_run_isochrones)


def _run_isochrones(args) -> int:
    from coverage.isochrones import facility_isochrones, isochrone_polygons
    from coverage.outputs import write_file
    from coverage.routing import nearest_facility, snap_points

    _, facilities, graph = _routing_inputs(args)
    snap = snap_points(graph, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    if args.per_facility:
        bands = facility_isochrones(graph, snap.node, args.minutes,
                                    source_ids=facilities["id"].to_numpy(),
                                    source_offsets=snap.access_seconds, cell_m=args.cell)
        names = dict(zip(facilities["id"], facilities["name"]))
        bands["facility_name"] = bands["facility_id"].map(names)
        columns = ["minutes", "mode", "facility_id", "facility_name", "geometry"]
    else:
        seconds, _ = nearest_facility(graph, snap.node, snap.access_seconds,
                                      limit=max(args.minutes) * 60.0, to_sources=True)
        bands = isochrone_polygons(graph, seconds, args.minutes, cell_m=args.cell)
        columns = ["minutes", "mode", "geometry"]
    bands["mode"] = args.mode
    bands = bands[columns]
    write_file(args.out, bands.to_json(drop_id=True, ensure_ascii=False), inputs=(args.network,))
    unsnapped = int((snap.node < 0).sum())
    print(f"{len(bands)} isochrones of {len(facilities)} facilities by {args.mode}"
          + (f" ({unsnapped} too far from any road)" if unsnapped else "") + f": {args.out}")
    return 0


# --- layers -----------------------------------------------------------------

def _add_layers(sub) -> None:
    p = sub.add_parser("layers", help="regenerate the region's layers/ (GeoJSON, GPKG, CSV, report)")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--year", type=arguments.year, default=None,
                   help="facilities open in this year (default: as registered)")
    p.add_argument("--out", default=None, help="output folder (default: <region>/layers)")
    _add_dem_option(p)
    p.set_defaults(func=_run_layers)


def _run_layers(args) -> int:
    from coverage.layers import write_layers

    region = _load_region(args)
    _require_open(region, args.year)
    # Progress on standard error whatever it is connected to (a log, CI, a pipe).
    files = write_layers(region, args.out, year=args.year, progress=True)
    print(f"{len(files)} files: {files[0].parent}")
    return 0


# --- population ---------------------------------------------------------------

def _add_population(sub) -> None:
    p = sub.add_parser("population", help="compare a population raster with the township table")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--raster", help="population GeoTIFF (default: the pack's population_raster)")
    p.add_argument("--out", help="write the comparison as CSV (UTF-8 with BOM)")
    p.set_defaults(func=_run_population)


def _run_population(args) -> int:
    from coverage.output import csv_text
    from coverage.outputs import write_file
    from coverage.population import compare_population, population_points
    from coverage.region import load_region

    region = load_region(args.region)
    _check_out(args, region, args.raster)
    raster = args.raster or region.files.get("population_raster")
    if raster is None:
        raise InputError(region.path / "region.toml", "no population raster to compare: give "
                         "--raster FILE or add files.population_raster to the pack",
                         field="files.population_raster")
    table = compare_population(population_points(region, raster=raster), region.townships)
    if args.out:
        write_file(args.out, csv_text(table, float_format="%.4f"), region=region,
                   inputs=(raster,))
    print(f"栅格 raster {raster} vs 乡镇常住人口 township table:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    total_raster, total_table = table["surface"].sum(), table["table"].sum()
    print(f"合计 total: raster {total_raster:,.0f} vs table {total_table:,.0f} "
          f"({(total_raster - total_table) / total_table:+.1%})")
    return 0


# --- candidates and optimize ---------------------------------------------------

def _add_siting_options(p) -> None:
    from coverage.choices import MODES

    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--minutes", type=arguments.minutes, required=True, help="coverage threshold T (inclusive)")
    p.add_argument("--mode", choices=(*MODES, "by-kind"), default="by-kind",
                   help="travel mode (default by-kind: walk in 街道, e-bike in 镇/乡)")
    p.add_argument("--year", type=arguments.year, help="facilities open in this year (default: existing now)")
    p.add_argument("--spacing", type=arguments.spacing_m, default=None,
                   help="metres between generated candidates on the network (default: "
                        "coverage.siting.CANDIDATE_SPACING_M, 500, as in the app)")


def _siting_context(args):
    from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext
    from coverage.region import load_region

    region = load_region(args.region)
    _check_out(args, region, getattr(args, "file", None), getattr(args, "polygon", None))
    _require_open(region, args.year)
    context = AccessContext(region, year=args.year)
    return context, DEFAULT_MODE_BY_KIND if args.mode == "by-kind" else args.mode


def _add_candidates(sub) -> None:
    p = sub.add_parser("candidates", help="rank candidate sites by residents newly covered (CSV)")
    _add_siting_options(p)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", help="candidate points (CSV/Excel/GeoJSON/GeoPackage)")
    where.add_argument("--township", help="generate candidates on the roads of this township code")
    where.add_argument("--polygon", help="generate candidates on the roads inside this polygon file")
    p.add_argument("--crs", help="CRS of the --file coordinates: WGS84 (default), GCJ02, BD09, EPSG:n")
    p.add_argument("--top", type=arguments.top, default=10, help="rows to print (default: 10)")
    p.add_argument("--out", help="write the whole ranking to this CSV (UTF-8 with BOM)")
    p.set_defaults(func=_run_candidates)


def _candidate_sites(args, context):
    from coverage.siting import (candidate_area, candidates_from_file, candidates_on_network,
                                 check_candidates, township_area)

    source = getattr(args, "file", None) or getattr(args, "polygon", None)
    if getattr(args, "file", None):
        sites = candidates_from_file(args.file, crs=args.crs)
    else:
        if getattr(args, "township", None):
            area = township_area(context.region, args.township)
            source = context.region.files["townships"]
        elif getattr(args, "polygon", None):
            area = candidate_area(args.polygon)
        else:
            area = context.region.boundary
            source = context.region.files["boundary"]
        sites = candidates_on_network(context.graph("walk"), area, **(
            {} if args.spacing is None else {"spacing_m": args.spacing}))
    check_candidates(sites, context.region, source)
    return sites


def _run_candidates(args) -> int:
    from coverage.output import csv_text
    from coverage.outputs import write_file
    from coverage.siting import rank_candidates

    context, mode = _siting_context(args)
    sites = _candidate_sites(args, context)
    ranking = rank_candidates(context, sites, minutes=args.minutes, mode=mode)
    geometry = sites.set_index(sites["id"].astype(str)).geometry
    ranking.insert(1, "lon", geometry.x.reindex(ranking["id"]).round(6).to_numpy())
    ranking.insert(2, "lat", geometry.y.reindex(ranking["id"]).round(6).to_numpy())
    if args.out:
        write_file(args.out, csv_text(ranking, float_format="%.6g"), region=context.region,
                   inputs=(args.file, args.polygon))
    print(f"{len(ranking)} candidates, T = {args.minutes:g} min, mode {args.mode}"
          + (f": {args.out}" if args.out else ""))
    print(ranking.head(args.top).to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return 0


def _add_optimize(sub) -> None:
    from coverage.choices import MODELS, TIME_LIMIT_S

    p = sub.add_parser("optimize", help="optimal new sites (MCLP, LSCP, p-median), existing kept open")
    _add_siting_options(p)
    p.add_argument("--model", choices=MODELS, required=True, help="siting model")
    p.add_argument("--k", type=arguments.sites, help="number of new sites (mclp, pmedian)")
    p.add_argument("--candidates", dest="file",
                   help="candidate points file (default: generated on the region's roads)")
    p.add_argument("--crs", help="CRS of the candidates file: WGS84 (default), GCJ02, BD09, EPSG:n")
    p.add_argument("--time-limit", type=arguments.time_limit, default=TIME_LIMIT_S,
                   help=f"time limit of the solve in seconds; the greedy + swap answer is "
                   f"always completed first (default: {TIME_LIMIT_S:g})")
    p.add_argument("--out", help="write the chosen sites to this CSV or GeoJSON (WGS-84)")
    p.set_defaults(func=_run_optimize)


def _run_optimize(args) -> int:
    from coverage.output import csv_text
    from coverage.outputs import write_file
    from coverage.siting import optimize

    if args.model != "lscp" and (args.k is None or args.k < 0):
        print(f"error: --model {args.model} needs --k, a number of new sites >= 0", file=sys.stderr)
        return 2
    context, mode = _siting_context(args)
    sites = _candidate_sites(args, context)
    if args.k is not None and args.k > len(sites):
        raise InputError(None, f"{args.k} new sites asked for, but there are only {len(sites)} "
                         "candidates: expected --k at most that", field="--k")
    result = optimize(context, sites, args.model, minutes=args.minutes, k=args.k, mode=mode,
                      time_limit=args.time_limit)
    chosen = sites[sites["id"].astype(str).isin(result.selected)][["id", "geometry"]]
    if args.out:
        if args.out.lower().endswith((".geojson", ".json")):
            text = chosen.to_json(drop_id=True, ensure_ascii=False)
        else:
            table = chosen.assign(lon=chosen.geometry.x.round(6), lat=chosen.geometry.y.round(6))
            text = csv_text(table.drop(columns="geometry"))
        write_file(args.out, text, region=context.region, inputs=(args.file,))
    unit = {"mclp": "residents covered", "lscp": "new sites",
            "pmedian": "person-seconds (total travel time)"}[args.model]
    print(f"{args.model}: {len(result.selected)} new sites of {len(sites)} candidates, "
          f"objective {result.objective:,.0f} {unit}, {result.status}, gap {result.gap:.2%}, "
          f"{result.seconds:.1f} s")
    if args.model == "pmedian":
        print(f"mean travel time {result.objective / max(result.covered, 1e-12) / 60:.2f} min "
              f"over {result.covered:,.0f} residents served")
    else:
        print(f"covered {result.covered:,.0f} of {result.total:,.0f} residents within "
              f"{args.minutes:g} min")
    if len(result.excluded):
        reach = "at all" if args.model == "pmedian" else f"within {args.minutes:g} min"
        print(f"{len(result.excluded)} population points no site can serve {reach} were left out")
    print("sites: " + ", ".join(result.selected))
    return 0


# --- scenario ---------------------------------------------------------------

def _add_scenario(sub) -> None:
    p = sub.add_parser("scenario", help="what-if: residents and targets before and after a scenario")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("scenario", help="scenario TOML file, or its name in <region>/scenarios/")
    p.add_argument("--year", type=arguments.year, default=None,
                   help="facilities open in this year (default: the scenario's year)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.add_argument("--out-dir", default=None,
                   help="also write gained.geojson, lost.geojson, townships.csv, targets.csv here")
    p.set_defaults(func=_run_scenario)


def _run_scenario(args) -> int:
    from coverage.outputs import check_folder
    from coverage.region import load_region
    from coverage.scenarios import (RESULT_FILES, compare, format_result, load_scenario,
                                    resolve_scenario, write_result_layers)

    region = load_region(args.region)
    path = resolve_scenario(region, args.scenario)
    if args.out_dir:  # refused before the work, not after
        check_folder(args.out_dir, region=region, own_names=RESULT_FILES, inputs=(path,))
    scenario = load_scenario(path, region.facilities)
    _require_open(region, args.year)
    result = compare(region, scenario, year=args.year)
    sys.stdout.write(format_result(result, args.format))
    if args.out_dir:
        files = write_result_layers(result, args.out_dir, region=region, inputs=(path,))
        print(f"{len(files)} files: {files[0].parent}", file=sys.stderr)
    return 0


# --- batch --------------------------------------------------------------------

def _add_batch(sub) -> None:
    from coverage.choices import BACKENDS

    p = sub.add_parser("batch", help="run coverage, targets and layers part by part (district, "
                       "kind or a township column), resumable, in-process, on local "
                       "processes or on Dask")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--split-by", default="county",
                   help="county (county_code), kind, or any township column (default: county)")
    p.add_argument("--backend", choices=BACKENDS, default="inline", help="default: inline")
    p.add_argument("--scheduler", help="Dask scheduler tcp://HOST:PORT (default: a LocalCluster)")
    p.add_argument("--workers", type=arguments.workers, default=None, help="local workers (default: 2)")
    p.add_argument("--minutes", type=arguments.minutes_list, default=[5.0, 10.0, 15.0, 30.0],
                   help="thresholds in minutes, comma-separated (default: 5,10,15,30)")
    p.add_argument("--year", type=arguments.year, default=None,
                   help="facilities open in this year (default: as registered)")
    p.add_argument("--out", default=None,
                   help="output folder (default: a new temporary folder, printed at the end; "
                        "name one to resume or keep the parts)")
    p.set_defaults(func=_run_batch)


def _run_batch(args) -> int:
    from collections import Counter

    from coverage.batch import batch_region, make_tasks, merge_targets
    from coverage.region import load_region
    from coverage.targets import STATUSES

    if args.scheduler and args.backend != "dask":
        raise InputError(None, "--scheduler needs --backend dask", field="--scheduler")
    region = load_region(args.region)
    _require_open(region, args.year)
    if args.out is None:
        # Never write into the working folder (often the repository) unasked.
        import tempfile

        args.out = tempfile.mkdtemp(prefix=f"coverage-batch-{region.slug}-")
    table, gaps, ran = batch_region(region, args.out, args.split_by,
                                    minutes=args.minutes, year=args.year, backend=args.backend,
                                    workers=args.workers, scheduler=args.scheduler,
                                    progress=lambda line: print(line, file=sys.stderr, flush=True))
    region_rows = table[table["code"] == ""]
    for _, row in region_rows.iterrows():
        print(f"{row['minutes']:g} 分钟 min: {row['covered']:,.0f} / {row['population']:,.0f} "
              f"({row['share']:.1%})")
    results = merge_targets(make_tasks(region, args.split_by, minutes=args.minutes,
                                       year=args.year), args.out, region)
    for r in results:
        failing = f", {len(r.outcome.failing)} 街镇未达标 failing" if r.outcome.failing else ""
        print(f"[{STATUSES[r.outcome.status]} {r.outcome.status}] {r.target.name_zh} / "
              f"{r.target.name_en}{failing}")
    counts = Counter(r.outcome.status for r in results)
    print(f"{len(ran)} part(s) computed, {len(gaps)} gaps, {len(results)} targets ("
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"): {args.out}")
    return 0


# --- capacity (2SFCA) -----------------------------------------------------------

def _add_capacity(sub) -> None:
    p = sub.add_parser("capacity", help="2SFCA access score per township: supply per 1,000 "
                       "residents reachable, flagging reachable but overloaded townships")
    _add_siting_options(p)
    p.add_argument("--supply", choices=("beds", "physicians"), default="beds",
                   help="register column that measures supply (default: beds 床位)")
    p.add_argument("--decay", choices=("gaussian",), help="distance decay (default: none)")
    p.add_argument("--out", help="write the table to this CSV (UTF-8 with BOM)")
    p.set_defaults(func=_run_capacity)


def _run_capacity(args) -> int:
    from coverage.capacity import two_step_fca
    from coverage.output import csv_text
    from coverage.outputs import write_file

    context, mode = _siting_context(args)
    table = two_step_fca(context, supply=args.supply, minutes=args.minutes, mode=mode,
                         decay=args.decay)
    if args.out:
        write_file(args.out, csv_text(table, float_format="%.4f"), region=context.region)
    print(f"2SFCA {args.supply} per 1,000 residents within {args.minutes:g} min "
          f"({context.region.name_zh}):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    excluded = table.attrs.get("excluded", [])
    if excluded:
        print(f"未计入 left out for want of {args.supply}: {len(excluded)} facilities "
              f"({', '.join(map(str, excluded))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
