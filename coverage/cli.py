"""The ``coverage`` command line. Each subcommand parses its arguments and calls the
library; no analysis lives here.

Every error the library raises for bad input (:class:`coverage.errors.InputError`)
is printed as one line naming the file, row, field and what was expected, and the
command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

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
                _add_layers, _add_candidates, _add_optimize, _add_scenario, _add_batch, _add_capacity):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coverage`` console command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


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
    from coverage.modes import MODES

    p.add_argument("--region", default=".", help="region pack folder (default: .)")
    p.add_argument("--mode", required=True, choices=MODES, help="travel mode")
    p.add_argument("--types", help="facility types, comma-separated (default: all)")
    p.add_argument("--year", type=int, help="facilities open in this year (default: existing now)")
    p.add_argument("--network", help="road network file (default: the pack's network)")


def _routing_inputs(args):
    """The region, its facilities open for ``--year``/``--types`` and the mode's graph."""
    from coverage.facilities import active_facilities
    from coverage.network import read_network
    from coverage.region import load_region
    from coverage.routing import build_graph

    region = load_region(args.region)
    types = [t for t in args.types.split(",") if t.strip()] if args.types else None
    facilities = active_facilities(region.facilities, args.year, types)
    if facilities.empty:
        raise InputError(region.files["facilities"], "no facility is open"
                         + (f" in {args.year}" if args.year else "")
                         + (f" of types {args.types}" if types else ""), field="type")
    network = read_network(args.network) if args.network else region.load_network()
    return region, facilities, build_graph(network, args.mode, metric_crs=region.metric_crs)


# --- traveltime -------------------------------------------------------------

def _add_traveltime(sub) -> None:
    p = sub.add_parser("traveltime", help="travel time from each point to its nearest facility (CSV)")
    _add_routing_options(p)
    p.add_argument("--points", required=True, help="points file (CSV/Excel/GeoJSON/GeoPackage)")
    p.add_argument("--crs", help="CRS of the points file: WGS84 (default), GCJ02, BD09 or EPSG:n")
    p.add_argument("--out", required=True, help="output CSV (UTF-8 with BOM, opens in Excel)")
    p.set_defaults(func=_run_traveltime)


def _run_traveltime(args) -> int:
    from coverage.errors import atomic_path
    from coverage.routing import point_travel_times
    from coverage.tables import read_points

    points = read_points(args.points, crs=args.crs)
    _, facilities, graph = _routing_inputs(args)
    table = point_travel_times(
        graph, points.geometry.x.to_numpy(), points.geometry.y.to_numpy(),
        facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(),
        point_ids=points["id"].to_numpy(), facility_ids=facilities["id"].to_numpy(),
        facility_names=facilities["name"].to_numpy())
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.2f")
    reached = table["minutes"].notna().sum()
    print(f"{len(table)} points, {reached} reach one of {len(facilities)} facilities "
          f"by {args.mode}: {args.out}")
    return 0


# --- network ------------------------------------------------------------------

def _add_network(sub) -> None:
    p = sub.add_parser("network", help="road networks: summarise a file, download a region's roads")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="print nodes, edges, components and length by class")
    info.add_argument("file", help="road network: .osm, .osm.pbf, .graphml, .shp, .gpkg, .geojson")
    info.add_argument("--crs", help="CRS of a road file's coordinates, e.g. GCJ02, BD09, EPSG:32648")
    info.add_argument("--class-column", help="road-class column of a road file (default: detected)")
    info.set_defaults(func=_run_network_info)
    fetch = actions.add_parser("fetch", help="download a region's OpenStreetMap roads into its cache")
    fetch.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    fetch.add_argument("--type", default="all", help="OSMnx network type (default: all)")
    fetch.set_defaults(func=_run_network_fetch)


def _run_network_info(args) -> int:
    from coverage.network import format_network_info, network_info, read_network

    options = {k: v for k, v in (("crs", args.crs), ("class_column", args.class_column)) if v}
    print(format_network_info(network_info(read_network(args.file, **options))))
    return 0


def _run_network_fetch(args) -> int:
    from coverage.network import fetch_network
    from coverage.region import load_region

    region = load_region(args.region)
    path = fetch_network(region.boundary, region.path / "cache" / "network", network_type=args.type)
    print(path)
    return 0


# --- check ------------------------------------------------------------------

def _add_check(sub) -> None:
    p = sub.add_parser("check", help="check the region's planning targets (targets.toml)")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--year", type=int, default=None,
                   help="evaluate the facilities open in this year (default: as registered)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table",
                   help="output format (CSV starts with a UTF-8 byte-order mark for Excel)")
    p.add_argument("--out", default=None, help="write to this file instead of standard output")
    p.set_defaults(func=_run_check)


def _run_check(args) -> int:
    from coverage.errors import write_text_atomic
    from coverage.region import load_region
    from coverage.targets import evaluate, format_results, results_frame, load_targets

    region = load_region(args.region)
    targets = load_targets(region)
    if not targets:
        print(f"error: {region.path / 'targets.toml'}: the pack has no targets", file=sys.stderr)
        return 2
    results = evaluate(region, year=args.year, targets=targets)
    text = format_results(results_frame(results, region.townships), args.format)
    if args.out:
        write_text_atomic(args.out, text)
    else:
        if args.format == "table":
            year = args.year if args.year is not None else "现状 as registered"
            print(f"{region.name_zh} / {region.name_en} — {year}")
        sys.stdout.write(text)
    return 0


# --- isochrones -------------------------------------------------------------

def _minutes_list(text: str) -> list[float]:
    try:
        bands = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        bands = []
    if not bands or not all(0 < b < float("inf") for b in bands):
        raise argparse.ArgumentTypeError(
            f"expected positive minutes such as 5,10,15,30, got {text!r}")
    return bands


def _cell_metres(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1.0 <= value <= 1000.0:
        raise argparse.ArgumentTypeError(f"expected metres between 1 and 1000, got {text!r}")
    return value


def _add_isochrones(sub) -> None:
    p = sub.add_parser("isochrones", help="isochrones (等时圈) along the roads, as GeoJSON")
    _add_routing_options(p)
    p.add_argument("--minutes", type=_minutes_list, default=[5.0, 10.0, 15.0, 30.0],
                   help="bands in minutes, comma-separated (default: 5,10,15,30)")
    p.add_argument("--per-facility", action="store_true",
                   help="one polygon per facility and band (default: merged, nearest facility)")
    p.add_argument("--cell", type=_cell_metres, default=40.0,
                   help="side in metres of the cells the coverage rule is evaluated on "
                        "(default: 40)")
    p.add_argument("--out", required=True, help="output GeoJSON (WGS-84)")
    p.set_defaults(func=_run_isochrones)


def _run_isochrones(args) -> int:
    from coverage.errors import write_text_atomic
    from coverage.isochrones import facility_isochrones, isochrone_polygons
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
    write_text_atomic(args.out, bands.to_json(drop_id=True, ensure_ascii=False))
    unsnapped = int((snap.node < 0).sum())
    print(f"{len(bands)} isochrones of {len(facilities)} facilities by {args.mode}"
          + (f" ({unsnapped} too far from any road)" if unsnapped else "") + f": {args.out}")
    return 0


# --- layers -----------------------------------------------------------------

def _add_layers(sub) -> None:
    p = sub.add_parser("layers", help="regenerate the region's layers/ (GeoJSON, GPKG, CSV, report)")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--year", type=int, default=None,
                   help="facilities open in this year (default: as registered)")
    p.add_argument("--out", default=None, help="output folder (default: <region>/layers)")
    p.set_defaults(func=_run_layers)


def _run_layers(args) -> int:
    from coverage.layers import write_layers
    from coverage.region import load_region

    files = write_layers(load_region(args.region), args.out, year=args.year)
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
    from coverage.errors import write_text_atomic
    from coverage.population import compare_population, population_points
    from coverage.region import load_region

    region = load_region(args.region)
    raster = args.raster or region.files.get("population_raster")
    if raster is None:
        raise InputError(region.path / "region.toml", "no population raster to compare: give "
                         "--raster FILE or add files.population_raster to the pack",
                         field="files.population_raster")
    table = compare_population(population_points(region, raster=raster), region.townships)
    if args.out:
        write_text_atomic(args.out, "\ufeff" + table.to_csv(index=False, float_format="%.4f"))
    print(f"栅格 raster {raster} vs 乡镇常住人口 township table:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    total_raster, total_table = table["surface"].sum(), table["table"].sum()
    print(f"合计 total: raster {total_raster:,.0f} vs table {total_table:,.0f} "
          f"({(total_raster - total_table) / total_table:+.1%})")
    return 0


# --- candidates and optimize ---------------------------------------------------

def _add_siting_options(p) -> None:
    from coverage.modes import MODES

    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--minutes", type=float, required=True, help="coverage threshold T (inclusive)")
    p.add_argument("--mode", choices=(*MODES, "by-kind"), default="by-kind",
                   help="travel mode (default by-kind: walk in 街道, e-bike in 镇/乡)")
    p.add_argument("--year", type=int, help="facilities open in this year (default: existing now)")
    p.add_argument("--spacing", type=float, default=500.0,
                   help="metres between generated candidates on the network (default: 500)")


def _siting_context(args):
    from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext
    from coverage.region import load_region

    if not 0 < args.minutes < float("inf"):
        raise InputError("--minutes", f"expected positive minutes, got {args.minutes}")
    context = AccessContext(load_region(args.region), year=args.year)
    return context, DEFAULT_MODE_BY_KIND if args.mode == "by-kind" else args.mode


def _add_candidates(sub) -> None:
    p = sub.add_parser("candidates", help="rank candidate sites by residents newly covered (CSV)")
    _add_siting_options(p)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", help="candidate points (CSV/Excel/GeoJSON/GeoPackage)")
    where.add_argument("--township", help="generate candidates on the roads of this township code")
    where.add_argument("--polygon", help="generate candidates on the roads inside this polygon file")
    p.add_argument("--crs", help="CRS of the --file coordinates: WGS84 (default), GCJ02, BD09, EPSG:n")
    p.add_argument("--top", type=int, default=10, help="rows to print (default: 10)")
    p.add_argument("--out", help="write the whole ranking to this CSV (UTF-8 with BOM)")
    p.set_defaults(func=_run_candidates)


def _candidate_sites(args, context):
    from coverage.siting import candidates_from_file, candidates_on_network, township_area
    from coverage.tables import read_features

    if getattr(args, "file", None):
        return candidates_from_file(args.file, crs=args.crs)
    if getattr(args, "township", None):
        area = township_area(context.region, args.township)
    elif getattr(args, "polygon", None):
        area = read_features(args.polygon).to_crs("EPSG:4326").union_all()
    else:
        area = context.region.boundary
    return candidates_on_network(context.graph("walk"), area, spacing_m=args.spacing)


def _run_candidates(args) -> int:
    from coverage.errors import atomic_path
    from coverage.siting import rank_candidates

    context, mode = _siting_context(args)
    sites = _candidate_sites(args, context)
    ranking = rank_candidates(context, sites, minutes=args.minutes, mode=mode)
    geometry = sites.set_index(sites["id"].astype(str)).geometry
    ranking.insert(1, "lon", geometry.x.reindex(ranking["id"]).round(6).to_numpy())
    ranking.insert(2, "lat", geometry.y.reindex(ranking["id"]).round(6).to_numpy())
    if args.out:
        with atomic_path(args.out) as tmp:
            ranking.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.6g")
    print(f"{len(ranking)} candidates, T = {args.minutes:g} min, mode {args.mode}"
          + (f": {args.out}" if args.out else ""))
    print(ranking.head(args.top).to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return 0


def _add_optimize(sub) -> None:
    from coverage.siting import MODELS, TIME_LIMIT_S

    p = sub.add_parser("optimize", help="optimal new sites (MCLP, LSCP, p-median), existing kept open")
    _add_siting_options(p)
    p.add_argument("--model", choices=MODELS, required=True, help="siting model")
    p.add_argument("--k", type=int, help="number of new sites (mclp, pmedian)")
    p.add_argument("--candidates", dest="file",
                   help="candidate points file (default: generated on the region's roads)")
    p.add_argument("--crs", help="CRS of the candidates file: WGS84 (default), GCJ02, BD09, EPSG:n")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT_S,
                   help=f"solver time limit in seconds (default: {TIME_LIMIT_S:g})")
    p.add_argument("--out", help="write the chosen sites to this CSV or GeoJSON (WGS-84)")
    p.set_defaults(func=_run_optimize)


def _run_optimize(args) -> int:
    from coverage.errors import atomic_path, write_text_atomic
    from coverage.siting import optimize

    if args.model != "lscp" and (args.k is None or args.k < 0):
        print(f"error: --model {args.model} needs --k, a number of new sites >= 0", file=sys.stderr)
        return 2
    context, mode = _siting_context(args)
    sites = _candidate_sites(args, context)
    result = optimize(context, sites, args.model, minutes=args.minutes, k=args.k, mode=mode,
                      time_limit=args.time_limit)
    chosen = sites[sites["id"].astype(str).isin(result.selected)][["id", "geometry"]]
    if args.out:
        if args.out.lower().endswith((".geojson", ".json")):
            write_text_atomic(args.out, chosen.to_json(drop_id=True, ensure_ascii=False))
        else:
            table = chosen.assign(lon=chosen.geometry.x.round(6), lat=chosen.geometry.y.round(6))
            with atomic_path(args.out) as tmp:
                table.drop(columns="geometry").to_csv(tmp, index=False, encoding="utf-8-sig")
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
    p.add_argument("--year", type=int, default=None,
                   help="facilities open in this year (default: the scenario's year)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.add_argument("--out-dir", default=None,
                   help="also write gained.geojson, lost.geojson, townships.csv, targets.csv here")
    p.set_defaults(func=_run_scenario)


def _run_scenario(args) -> int:
    from coverage.region import load_region
    from coverage.scenarios import (compare, format_result, load_scenario, resolve_scenario,
                                    write_result_layers)

    region = load_region(args.region)
    scenario = load_scenario(resolve_scenario(region, args.scenario), region.facilities)
    result = compare(region, scenario, year=args.year)
    sys.stdout.write(format_result(result, args.format))
    if args.out_dir:
        files = write_result_layers(result, args.out_dir)
        print(f"{len(files)} files: {files[0].parent}", file=sys.stderr)
    return 0


# --- batch --------------------------------------------------------------------

def _add_batch(sub) -> None:
    from coverage.batch import BACKENDS

    p = sub.add_parser("batch", help="run coverage, targets and layers part by part (district, "
                       "kind or a township column), resumable, in-process, on local "
                       "processes or on Dask")
    p.add_argument("region", nargs="?", default=".", help="region pack folder (default: .)")
    p.add_argument("--split-by", default="county",
                   help="county (county_code), kind, or any township column (default: county)")
    p.add_argument("--backend", choices=BACKENDS, default="inline", help="default: inline")
    p.add_argument("--scheduler", help="Dask scheduler tcp://HOST:PORT (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=None, help="local workers (default: 2)")
    p.add_argument("--minutes", type=_minutes_list, default=[5.0, 10.0, 15.0, 30.0],
                   help="thresholds in minutes, comma-separated (default: 5,10,15,30)")
    p.add_argument("--year", type=int, default=None,
                   help="facilities open in this year (default: as registered)")
    p.add_argument("--out", default="batch", help="output folder (default: ./batch)")
    p.set_defaults(func=_run_batch)


def _run_batch(args) -> int:
    from collections import Counter

    from coverage.batch import batch_region, make_tasks, merge_targets
    from coverage.region import load_region
    from coverage.targets import STATUSES

    if args.scheduler and args.backend != "dask":
        raise InputError(None, "--scheduler needs --backend dask", field="--scheduler")
    region = load_region(args.region)
    table, gaps, ran = batch_region(region, args.out, args.split_by,
                                    minutes=args.minutes, year=args.year, backend=args.backend,
                                    workers=args.workers, scheduler=args.scheduler)
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
    from coverage.errors import write_text_atomic

    context, mode = _siting_context(args)
    table = two_step_fca(context, supply=args.supply, minutes=args.minutes, mode=mode,
                         decay=args.decay)
    if args.out:
        write_text_atomic(args.out, "\ufeff" + table.to_csv(index=False, float_format="%.4f"))
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
