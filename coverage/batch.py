"""Batch runs: a large region split into parts (区县 districts/counties, or groups of
townships), each part computed on its own, on one machine or on a Dask cluster.

A part is a set of townships (:func:`split_townships`). For each part a worker reads
only what it needs, where it lies (:func:`run_part`):

* **population**: the raster by window over the part's bounds (a national WorldPop
  file is never read whole), or the pack's township-table surface;
* **road network**: the edges within a buffer of the part (:func:`reach_m`), read by
  window from a GeoParquet-like edge table (:func:`write_network_parquet`,
  :func:`read_network_window`) or clipped from the pack's network file;
* **facilities**: every facility within the buffer, the neighbours' included, so that
  a 卫生院 across the border still counts.

It runs :func:`coverage.access.coverage_table`, :func:`coverage.gaps.coverage_gaps`
and measures the pack's planning targets (:func:`coverage.targets.measure_targets`)
on the part, and writes the results to ``<out>/parts/`` atomically, the done marker
last. :func:`merge_parts` concatenates the township rows and recomputes the region's
rows from the sums; :func:`merge_targets` adds the parts' target pieces up and
judges them; :func:`write_merged_layers` writes the merged layers as
:mod:`coverage.layers` does.

Targets per part
----------------
A part holds its own townships, and a register of the facilities within its
buffer (for travel) plus those it owns; each carries the township it lies in among
the whole region's (:data:`coverage.targets.LOCATED`). Register rules (一镇/街一
医疗机构, 一村一室, ratios) count only the part's own townships and own facilities
(:func:`coverage.targets.own_facilities`: the township a facility declares, else the
one it lies in), so each facility is counted by one part; travel rules keep
per-township residents and covered residents (15分钟服务圈, 一小时三甲) or summed
response times (急救反应时间), which add up exactly. The buffer of each mode covers
the largest threshold of the batch and of the targets using that mode; the
ambulance mean has no threshold, so its buffer covers :data:`AMBULANCE_HORIZON`
times its limit, and a merged ambulance outcome says so in its details when some
part had a resident beyond it, or on the roads but unreached: there its time may
be longer than a single run's.

Why the merge equals a single run
---------------------------------
Let ``T`` be the largest threshold, ``v`` the fastest speed of a mode (the speed
table's maximum) and ``M`` a margin for access legs (:data:`coverage.modes.OFF_NETWORK_M`;
off-road legs have no cap, but they are walked slower than ``v``, so a leg and the
network path after it together stay within ``v T``). A
resident of the part reached within ``T`` is reached along a path whose every node
lies within ``v T + M`` of the part;
the facility's nearest node lies there too. A facility whose snap could differ in the
clipped network (its true nearest node lies outside) would need that node within
``v T + 3 M`` to give a time within ``T``. So the buffer ``B = (v T + 3 M) (1 +
BUFFER_MARGIN)`` -- the margin absorbs the UTM scale error against haversine edge
lengths -- keeps every path, snap and facility that decides coverage within ``T``;
the clipped network keeps every edge with an end inside, so every node inside keeps
all its edges and its snappability. Times within ``T`` are then the same sums of the
same edge times; only the order of equal-time ties may change the last ulp, which
:func:`coverage.access.within`'s one-microsecond slack absorbs. Population points of
a township are the same points in the same order (raster cells are assigned by
position only), so per-township sums are bit-identical and the region's rows, summed
in the same order, too. The buffer is capped at :data:`MAX_BUFFER_M`; a capped part
is marked ``exact: false`` in its done marker. Times beyond ``T`` (the
``nearest_minutes`` of a gap past the largest threshold) may differ; gaps crossing a
part border are cut at it. Facilities a part owns but that lie beyond its buffer
(declared there, located far away) are kept too; by the argument above they cannot
give a time within ``T``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import resource
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from coverage import modes, routing
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, coverage_table
from coverage.choices import BACKENDS  # the parser reads it without pandas
from coverage.errors import InputError, atomic_path, file_sha256, write_text_atomic
from coverage.facilities import BASIC_CARE_TYPES
from coverage.gaps import coverage_gaps
from coverage.layers import (
    MIN_GAP_POPULATION,
    geojson_text,
    township_coverage,
)
from coverage.network import (
    ROUTING_TAG_COLUMNS,
    RoadNetwork,
    read_edge_table,
)
from coverage.output import csv_text
from coverage.outputs import claim_folder, write_folder
from coverage.population import (
    CELL_M,
    assign_townships,
    population_points,
    raster_points,
)
from coverage.targets import (
    DEFAULTS,
    LOCATED,
    Result,
    format_results,
    judge_targets,
    load_targets,
    measure_targets,
    merge_pieces,
    results_frame,
)

#: Bump when a part's outputs change meaning: finished parts are then recomputed.
VERSION = "batch-2"
#: Relative margin on the buffer (UTM scale error, rounding; see module notes).
BUFFER_MARGIN = 0.02
#: Largest buffer around a part (m): past it a part is as large as a province.
MAX_BUFFER_M = 100_000.0
#: Margin (m) around a part's bounds when reading the raster and choosing the
#: townships that may claim a cell lying between polygons.
RASTER_MARGIN_M = 2_000.0
#: Tile (degrees) the edges of a network table are sorted by, and rows per group:
#: a window read then touches only the row groups of the tiles it overlaps.
TILE_DEG = 0.05
ROW_GROUP = 16_384
#: Buffer of an ambulance-response target, in multiples of its limit (see module notes).
AMBULANCE_HORIZON = 2.0
#: The ``--split-by`` shorthands.
SPLIT_COLUMNS = {"county": "county_code", "kind": "kind"}


class BatchError(RuntimeError):
    """Some parts failed; the others are finished and will not be recomputed."""


# --- planning ----------------------------------------------------------------------

def reach_m(mode: str, minutes: float, speeds: pd.DataFrame | None = None) -> float:
    """Buffer (m) around a part that keeps every trip of ``mode`` within ``minutes``.

    ``(D + 3 M) (1 + BUFFER_MARGIN)`` with ``M`` the access margin (see module notes)
    and ``D`` the farthest a trip of ``T`` minutes goes: ``v T`` with ``v`` the fastest
    speed of the mode in the speed table, or by ferry ``v_f (T - w)`` (a ferry's speed
    after its boarding wait: a path mixing roads and ferries goes no farther than the
    larger of the two), capped at :data:`MAX_BUFFER_M`.
    """
    return min(_reach(mode, minutes, speeds), MAX_BUFFER_M)


def _reach(mode: str, minutes: float, speeds: pd.DataFrame | None = None) -> float:
    table = modes.speed_table() if speeds is None else speeds
    seconds = minutes * 60.0
    farthest = max(float(table[mode].max()) / 3.6 * seconds,
                   modes.FERRY_KMH / 3.6 * max(seconds - modes.FERRY_WAIT_S, 0.0))
    return (farthest + 3.0 * modes.OFF_NETWORK_M) * (1.0 + BUFFER_MARGIN)


def _uncapped(mode: str, minutes: float) -> bool:
    return _reach(mode, minutes) <= MAX_BUFFER_M


def travel_needs(targets) -> list[tuple[str, float]]:
    """``(mode, minutes)`` within which each target's travel times must be exact.

    Rules without travel (register rules) need none; an ambulance target needs
    :data:`AMBULANCE_HORIZON` times its ``max_minutes``.
    """
    needs = []
    for target in targets:
        p = {**DEFAULTS[target.rule], **target.parameters}
        if target.rule == "circle":
            modes_used = [p["modes"]] if isinstance(p["modes"], str) else p["modes"].values()
            needs += [(m, float(p["minutes"])) for m in modes_used]
        elif target.rule == "hospital_reach":
            needs.append((p["mode"], float(p["minutes"])))
        elif target.rule == "tiered":
            needs += [(p["village_mode"], float(p["village_minutes"])),
                      (p["district_mode"], float(p["district_minutes"]))]
        elif target.rule == "ambulance_response":
            needs.append((p["mode"], float(p["max_minutes"]) * AMBULANCE_HORIZON))
    return needs


def split_townships(townships: pd.DataFrame, split_by: str) -> dict[str, list[str]]:
    """Township codes of each part, by a column's value (``county``: ``county_code``).

    Parts are keyed by the value made safe for a file name (characters other than
    letters, digits, ``.``, ``-`` and ``_`` become ``_``) and sorted; codes keep the
    table's order.
    """
    column = SPLIT_COLUMNS.get(split_by, split_by)
    if column not in townships:
        raise InputError(None, f"cannot split by {split_by!r}: the townships have no column "
                         f"{column!r} (columns: {', '.join(map(str, townships.columns))})",
                         field="--split-by")
    values = townships[column].astype(object).where(townships[column].notna(), "").astype(str)
    parts: dict[str, list[str]] = {}
    for value, code in zip(values, townships["code"].astype(str)):
        parts.setdefault(re.sub(r"[^\w.-]", "_", value) or "_", []).append(code)
    return dict(sorted(parts.items()))


@dataclass(frozen=True)
class PartTask:
    """Everything a worker needs for one part: small, picklable, read-only.

    Paths point at data where it lies; no frame is ever shipped. ``mode`` is one mode
    or ``(kind, mode)`` pairs; ``horizons`` holds ``(mode, minutes)`` pairs, the
    largest time each mode must be exact within, and ``buffers`` the matching
    ``(mode, metres)`` (:func:`reach_m`); ``targets`` says whether the pack's
    targets are measured; ``inputs`` fingerprints the input files (sizes and
    modification times); ``network_options`` is the JSON of the pack's road-file
    reading options (``region.toml`` ``[network]``), so changing them redoes the parts.
    """

    part: str
    region: str
    codes: tuple[str, ...]
    minutes: tuple[float, ...]
    mode: str | tuple[tuple[str, str], ...]
    types: tuple[str, ...]
    year: int | None
    gap_minutes: float
    targets: bool
    horizons: tuple[tuple[str, float], ...]
    buffers: tuple[tuple[str, float], ...]
    exact: bool
    network: str
    raster: str | None
    cell_m: float
    inputs: str
    network_options: str = "{}"

    @property
    def mode_arg(self) -> str | dict[str, str]:
        """``mode`` as :func:`coverage.access.coverage_table` takes it."""
        return self.mode if isinstance(self.mode, str) else dict(self.mode)

    def digest(self) -> str:
        """SHA-256 of the task and :data:`VERSION`: a finished part is valid for it only."""
        text = json.dumps([VERSION, asdict(self)], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fingerprint(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in paths):
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _raster_cell_m(raster: Path, metric_crs: str) -> float:
    """Side in metres of a raster cell (for gap polygons), at the raster's centre."""
    from coverage.drivers import open_raster

    with open_raster(raster) as src:
        res, crs, bounds = abs(src.res[0]), src.crs, src.bounds
    if crs is not None and crs.is_projected:
        return float(res)
    # A geographic raster (WorldPop: 3 arc-seconds): the cell's width at its centre.
    to_metric = pyproj.Transformer.from_crs(crs or "EPSG:4326", metric_crs, always_xy=True)
    cx, cy = (bounds.left + bounds.right) / 2, (bounds.bottom + bounds.top) / 2
    (x0, x1), _ = to_metric.transform([cx, cx + res], [cy, cy])
    return float(abs(x1 - x0))


def make_tasks(region, split_by: str = "county", *, minutes: Sequence[float] = (15,),
               types: Iterable[str] = BASIC_CARE_TYPES,
               mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND, year: int | None = None,
               gap_minutes: float = 15.0, targets: bool = True) -> list[PartTask]:
    """One :class:`PartTask` per part of ``region`` (a :class:`coverage.region.Region`).

    Each mode used gets the buffer :func:`reach_m` of the largest of ``minutes`` and
    ``gap_minutes`` and, with ``targets``, of the pack's targets using that mode
    (:func:`travel_needs`).
    """
    if region.network_path is None:
        raise InputError(region.path / "region.toml", "the pack names no road network",
                         field="files.network")
    limit = max([*minutes, gap_minutes])
    needs = [(m, limit) for m in ({mode} if isinstance(mode, str) else set(mode.values()))]
    if targets:
        needs += travel_needs(load_targets(region))
    horizons = {}
    for m, t in needs:
        horizons[m] = max(horizons.get(m, 0.0), float(t))
    horizons = tuple(sorted(horizons.items()))
    buffers = tuple((m, reach_m(m, t)) for m, t in horizons)
    exact = all(_uncapped(m, t) for m, t in horizons)
    raster = region.files.get("population_raster")
    target_file = Path(region.path) / "targets.toml"
    inputs = _fingerprint([*(p for p in region.files.values() if p.is_file()),
                           *([target_file] if targets and target_file.is_file() else [])])
    cell_m = _raster_cell_m(raster, region.metric_crs) if raster is not None else CELL_M
    mode_key = mode if isinstance(mode, str) else tuple(sorted(mode.items()))
    return [PartTask(part=part, region=str(region.path), codes=tuple(codes),
                     minutes=tuple(minutes), mode=mode_key,
                     types=tuple(types), year=year, gap_minutes=float(gap_minutes),
                     targets=targets, horizons=horizons, buffers=buffers, exact=exact, network=str(region.network_path),
                     raster=None if raster is None else str(raster), cell_m=cell_m,
                     network_options=json.dumps(region.network_options.reader_kwargs()
                                                if region.network_options else {},
                                                sort_keys=True, ensure_ascii=False),
                     inputs=inputs)
            for part, codes in split_townships(region.townships, split_by).items()]


# --- network by window -----------------------------------------------------------------

def write_network_parquet(network: RoadNetwork, path: str | Path) -> Path:
    """Write a network as one edge table that can be read by window
    (:func:`coverage.network.read_edge_table`, columns
    :data:`coverage.network.EDGE_TABLE_COLUMNS`).

    Each edge carries its end coordinates (``ux, uy, vx, vy``, WGS-84) so that a
    window read needs no node table; rows are sorted by the :data:`TILE_DEG` tile of
    their ``u`` end and grouped by :data:`ROW_GROUP`, so Parquet's row-group
    statistics let a reader skip what lies outside its window. For a national run
    each province's OSM extract is converted once to such a file on object storage.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    nodes, edges = network.nodes, network.edges
    ux = nodes["x"].reindex(edges["u"]).to_numpy(float)
    uy = nodes["y"].reindex(edges["u"]).to_numpy(float)
    vx = nodes["x"].reindex(edges["v"]).to_numpy(float)
    vy = nodes["y"].reindex(edges["v"]).to_numpy(float)
    oneway = edges["oneway"] if "oneway" in edges else pd.Series(False, index=edges.index)
    table = pd.DataFrame({"u": edges["u"].to_numpy(np.int64), "v": edges["v"].to_numpy(np.int64),
                          "ux": ux, "uy": uy, "vx": vx, "vy": vy,
                          "length": edges["length"].to_numpy(float),
                          "highway": edges["highway"].astype(str).to_numpy(),
                          "oneway": oneway.to_numpy(bool)})
    for column in ROUTING_TAG_COLUMNS:
        if column in edges:
            values = edges[column]
            table[column] = (values.astype(str).to_numpy() if column == "maxspeed"
                             else values.to_numpy())
    order = np.lexsort((np.floor(ux / TILE_DEG), np.floor(uy / TILE_DEG)))
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pandas(table.iloc[order], preserve_index=False), tmp,
                       row_group_size=ROW_GROUP)
    return path


def read_network_window(path: str | Path, bounds: tuple[float, float, float, float],
                        options: dict | None = None,
                        cache_dir: str | Path | None = None) -> RoadNetwork:
    """The edges with at least one end inside WGS-84 ``bounds``, and their nodes.

    A ``.parquet`` edge table (:func:`write_network_parquet`) is read by window, row
    groups outside it skipped; any other network file is read whole, with road-file
    ``options`` (through the parsed-network cache in ``cache_dir``,
    :func:`coverage.network_cache.cached_network`, so every part after the first skips
    the parsing) and cut.
    """
    from coverage.network_cache import cached_network

    path = Path(path)
    if path.suffix == ".parquet":
        return read_edge_table(path, bounds)
    west, south, east, north = bounds
    network = cached_network(path, cache_dir, **(options or {}))
    lon, lat = network.nodes["x"].to_numpy(float), network.nodes["y"].to_numpy(float)
    keep = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return _edges_touching(network, pd.Index(network.nodes.index[keep]))


def _edges_touching(network: RoadNetwork, ids: pd.Index) -> RoadNetwork:
    """The edges with at least one end in ``ids``, with every end they touch."""
    edges = network.edges
    keep = edges["u"].isin(ids).to_numpy() | edges["v"].isin(ids).to_numpy()
    edges = edges[keep].reset_index(drop=True)
    used = pd.Index(np.union1d(edges["u"].to_numpy(np.int64), edges["v"].to_numpy(np.int64)))
    return RoadNetwork(nodes=network.nodes.loc[used], edges=edges, source=network.source,
                       provenance=network.provenance)


def clip_network(network: RoadNetwork, area, metric_crs: str) -> RoadNetwork:
    """The edges with at least one end inside ``area`` (a polygon in ``metric_crs``).

    Keeping an edge when either end is inside (not both) leaves every node inside with
    all its edges, so its snappability and its neighbours are those of the whole
    network.
    """
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    x, y = to_metric.transform(network.nodes["x"].to_numpy(float),
                               network.nodes["y"].to_numpy(float))
    shapely.prepare(area)
    inside = shapely.contains_xy(area, x, y)
    return _edges_touching(network, pd.Index(network.nodes.index[inside]))


def _buffer(geometry, distance: float):
    """``geometry`` buffered so that the polygon contains the exact ``distance`` buffer.

    Shapely's arcs are chords of ``quad_segs`` segments per quarter circle, inside
    the true arc by up to ``1 - cos(pi / (4 quad_segs))`` of the radius; the radius
    is enlarged by that factor.
    """
    quad_segs = 8
    return shapely.buffer(geometry, distance / math.cos(math.pi / (4 * quad_segs)),
                          quad_segs=quad_segs)


# --- one part ------------------------------------------------------------------------

class PartContext(AccessContext):
    """An :class:`~coverage.access.AccessContext` whose graph for each mode is built
    from that mode's clipped network (no disk cache: every part's network differs)."""

    def __init__(self, region, networks: Mapping[str, RoadNetwork], *, year: int | None,
                 population: gpd.GeoDataFrame) -> None:
        super().__init__(region, year=year, population=population, cache_dir=False)
        self.networks = dict(networks)

    def graph(self, mode: str) -> routing.Graph:
        """The mode's travel-time graph over its clipped network (built once)."""
        if mode not in self._graphs:
            self._graphs[mode] = routing.build_graph(self.networks[mode], mode,
                                                     metric_crs=self.region.metric_crs,
                                                     **self.region.graph_options())
        return self._graphs[mode]


def part_population(region, task: PartTask, townships: gpd.GeoDataFrame,
                    bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """The part's population points, exactly those a whole-region run gives its townships.

    A raster is read over the part's WGS-84 ``bounds`` (padded by
    :data:`RASTER_MARGIN_M`), cells assigned among the townships that touch the
    window. Without a raster the township-table surface spreads each township around
    every seat and village of the region (:func:`coverage.population.township_surface`),
    so it is computed for the whole pack and the part's townships kept: cheap, as it
    reads only the township table.
    """
    codes = set(task.codes)
    if task.raster is None:
        points = population_points(region)
    else:
        window = shapely.box(*bounds)
        near = region.townships[region.townships.intersects(window)]
        points = raster_points(task.raster, near, region.metric_crs,
                               boundary=shapely.intersection(region.boundary, window))
    points = points[points["township_code"].isin(codes)]
    return points.reset_index(drop=True)


def part_facilities(region, task: PartTask, widest) -> gpd.GeoDataFrame:
    """The part's register: the facilities within its ``widest`` buffer (metric), for
    travel, and those it owns (declaring one of its townships), with the records
    those replace (an upgraded centre's old record) for the register rules.

    Each carries the township it lies in among the whole region's
    (:data:`coverage.targets.LOCATED`): the part holds only its own townships.
    """
    facilities = region.facilities
    fx, fy = pyproj.Transformer.from_crs("EPSG:4326", region.metric_crs, always_xy=True).transform(
        facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    shapely.prepare(widest)
    keep = shapely.contains_xy(widest, fx, fy) | facilities["township_code"].isin(
        task.codes).to_numpy()
    keep |= facilities["id"].isin(set(facilities.loc[keep, "replaces"]) - {""}).to_numpy()
    facilities = facilities[keep]
    return facilities.assign(**{LOCATED: assign_townships(
        region.townships, facilities.geometry.x, facilities.geometry.y, region.metric_crs)})


def run_part(task: PartTask, out_dir: str | Path) -> dict:
    """Compute one part and write its results under ``<out_dir>/parts/``.

    Writes ``<part>.coverage.parquet`` (:func:`coverage.access.coverage_table` of the
    part's townships), ``<part>.gaps.parquet`` (:func:`coverage.gaps.coverage_gaps`,
    ids prefixed by the part), with ``task.targets`` ``<part>.targets.json`` (the
    pieces of each target of the pack, :func:`coverage.targets.measure_targets`) and,
    last, ``<part>.done.json`` with the task's digest and the part's figures: a part
    is finished when its done marker is there.

    Returns
    -------
    dict
        The done marker's content: ``part``, ``digest``, ``exact``, ``seconds``,
        ``peak_rss_mb`` (of the worker process so far), ``points``, ``facilities``,
        ``nodes`` (per mode).
    """
    from coverage.region import load_region

    start = time.perf_counter()
    region = load_region(task.region)
    townships = region.townships[region.townships["code"].astype(str).isin(task.codes)]
    metric = townships.geometry.to_crs(region.metric_crs)
    area = shapely.union_all(metric.to_numpy())
    to_wgs = pyproj.Transformer.from_crs(region.metric_crs, "EPSG:4326", always_xy=True)
    buffers = dict(task.buffers)

    def wgs_bounds(geometry) -> tuple[float, float, float, float]:
        return shapely.transform(geometry, lambda c: np.column_stack(
            to_wgs.transform(c[:, 0], c[:, 1]))).bounds

    widest = _buffer(area, max(buffers.values()))
    window = read_network_window(task.network, wgs_bounds(shapely.envelope(widest)),
                                 json.loads(task.network_options), Path(task.region) / "cache")
    networks = {m: clip_network(window, _buffer(area, b), region.metric_crs)
                for m, b in buffers.items()}
    facilities = part_facilities(region, task, widest)

    raster_window = wgs_bounds(shapely.envelope(shapely.buffer(area, RASTER_MARGIN_M)))
    points = part_population(region, task, townships, raster_window)
    part_region = replace(region, townships=townships, facilities=facilities,
                          boundary=shapely.union_all(townships.geometry.to_numpy()))
    context = PartContext(part_region, networks, year=task.year, population=points)
    table = coverage_table(context, minutes=task.minutes, types=task.types, mode=task.mode_arg)
    gaps = coverage_gaps(context, minutes=task.gap_minutes, types=task.types,
                         mode=task.mode_arg, cell_m=task.cell_m)
    gaps["id"] = [f"{task.part}-{i}" for i in gaps["id"]]
    pieces = measure_targets(part_region, context, load_targets(region)) if task.targets else {}

    parts = Path(out_dir) / "parts"
    with atomic_path(parts / f"{task.part}.coverage.parquet") as tmp:
        table[table["code"] != ""].to_parquet(tmp, index=False)
    with atomic_path(parts / f"{task.part}.gaps.parquet") as tmp:
        gaps.to_parquet(tmp, index=False)
    if task.targets:
        write_text_atomic(parts / f"{task.part}.targets.json",
                          json.dumps(pieces, ensure_ascii=False) + "\n")
    written = [f"{task.part}.coverage.parquet", f"{task.part}.gaps.parquet"]
    written += [f"{task.part}.targets.json"] if task.targets else []
    summary = {"part": task.part, "digest": task.digest(), "exact": task.exact,
               "files": {name: file_sha256(parts / name) for name in written},
               "seconds": round(time.perf_counter() - start, 3),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               "points": len(points), "facilities": len(facilities), "targets": len(pieces),
               "nodes": {m: len(n.nodes) for m, n in networks.items()}}
    write_text_atomic(_done_path(out_dir, task), json.dumps(summary, ensure_ascii=False) + "\n")
    return summary


def _done_path(out_dir: str | Path, task: PartTask) -> Path:
    return Path(out_dir) / "parts" / f"{task.part}.done.json"


def is_done(task: PartTask, out_dir: str | Path) -> bool:
    """Whether the part is finished for exactly this task (same digest), its files intact.

    A part whose files are missing or differ from the checksums in its done marker
    (a disk error, a copy cut short) is not done: it is computed again, with a warning.
    """
    path = _done_path(out_dir, task)
    if not path.exists():
        return False
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        marker = None
    if not isinstance(marker, dict) or marker.get("digest") != task.digest():
        return False
    files = marker.get("files")
    damaged = [name for name, sha in (files or {}).items()
               if not (path.parent / name).is_file() or file_sha256(path.parent / name) != sha]
    if damaged or not isinstance(files, dict):
        warnings.warn(f"{path.parent}: part {task.part} is damaged ("
                      + (", ".join(damaged) or "no checksums") + "): computing it again",
                      stacklevel=2)
        return False
    return True


# --- running many parts ----------------------------------------------------------------

def run_batch(tasks: Sequence[PartTask], out_dir: str | Path, *, backend: str = "inline",
              workers: int | None = None, scheduler: str | None = None,
              cluster_options: Mapping | None = None,
              progress: Callable[[str], None] | None = print) -> list[dict]:
    """Run every unfinished part; finished parts (same digest) are skipped.

    Parameters
    ----------
    tasks
        From :func:`make_tasks`.
    out_dir
        Output folder; on a cluster it must be storage every worker sees.
    backend
        ``'inline'`` (this process), ``'processes'`` (a local
        :class:`~concurrent.futures.ProcessPoolExecutor`) or ``'dask'``
        (:mod:`distributed`).
    workers
        Worker processes (``processes``, or the ``dask`` LocalCluster); default 2.
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:PORT``); ``None`` starts a
        LocalCluster for the run and closes it after.
    cluster_options
        Extra keyword arguments of :class:`distributed.LocalCluster`.
    progress
        Called with one line per part; ``None`` for silence.

    Returns
    -------
    list of dict
        The done markers of the parts computed in this run (see :func:`run_part`).

    Raises
    ------
    BatchError
        After every other part has run, naming the parts that failed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    say = progress or (lambda line: None)
    pending = [t for t in tasks if not is_done(t, out_dir)]
    if len(pending) < len(tasks):
        say(f"{len(tasks) - len(pending)} of {len(tasks)} parts already finished: skipped")
    done, failed = [], []

    def report(task: PartTask, summary: dict | None, error: BaseException | None) -> None:
        if error is None:
            done.append(summary)
            say(f"[{len(done) + len(failed)}/{len(pending)}] part {task.part}: "
                f"{summary['points']:,} points, {max(summary['nodes'].values()):,} nodes, "
                f"{summary['seconds']:.1f} s, peak {summary['peak_rss_mb']:,.0f} MB")
        else:
            failed.append((task.part, error))
            say(f"[{len(done) + len(failed)}/{len(pending)}] part {task.part} FAILED: "
                f"{type(error).__name__}: {error}")

    out = str(out_dir)
    if backend == "inline":
        for task in pending:
            try:
                report(task, run_part(task, out), None)
            except Exception as exc:  # noqa: BLE001 (a failed part must not stop the others)
                report(task, None, exc)
    elif backend == "processes":
        with ProcessPoolExecutor(max_workers=workers or 2) as pool:
            futures = {pool.submit(run_part, task, out): task for task in pending}
            for future in as_completed(futures):
                error = future.exception()
                report(futures[future], None if error else future.result(), error)
    elif pending:
        _run_dask(pending, out, workers, scheduler, cluster_options or {}, report)
    if failed:
        raise BatchError(f"{len(failed)} of {len(tasks)} part(s) failed: "
                         + "; ".join(f"{p}: {type(e).__name__}: {e}" for p, e in failed)
                         + ". Finished parts are kept: rerun to compute only the others.")
    return done


#: Seconds to wait for a Dask scheduler before giving up (distributed waits 30 s).
SCHEDULER_TIMEOUT_S = 10


def _run_dask(pending: Sequence[PartTask], out: str, workers: int | None, scheduler: str | None,
              options: Mapping, report: Callable) -> None:
    """Submit one small task description per part to a Dask cluster."""
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(**{"n_workers": workers or 2, "threads_per_worker": 1,
                                  "dashboard_address": None, **options})
    try:
        client = Client(scheduler if scheduler is not None else cluster,
                        timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(None, f"cannot reach the Dask scheduler {scheduler!r} within "
                         f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__}: {exc}): expected "
                         "tcp://HOST:PORT of a running scheduler", field="--scheduler") from None
    try:
        futures = {client.submit(run_part, task, out, pure=False,
                                 key=f"coverage-part-{task.part}-{task.digest()[:12]}"): task
                   for task in pending}
        for future in dask_completed(futures):
            error = future.exception()
            report(futures[future], None if error else future.result(), error)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- merging -------------------------------------------------------------------------

def merge_parts(tasks: Sequence[PartTask], out_dir: str | Path, *,
                codes: Sequence[str] | None = None,
                region_name: str = "") -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Merge finished parts into the whole region's coverage table and gaps.

    Township rows are concatenated in ``codes`` order (default the tasks' order) per
    threshold; the region's rows are summed from them in that order, the share
    recomputed, so the table equals :func:`coverage.access.coverage_table` of the
    whole region (see module notes). Gaps are concatenated, largest first.

    Raises
    ------
    InputError
        If a part is not finished (for this very task).
    """
    missing = [t.part for t in tasks if not is_done(t, out_dir)]
    if missing:
        raise InputError(Path(out_dir) / "parts", f"part(s) not finished: {', '.join(missing)}")
    parts = Path(out_dir) / "parts"
    towns = pd.concat([pd.read_parquet(parts / f"{t.part}.coverage.parquet") for t in tasks],
                      ignore_index=True)
    order = list(codes) if codes is not None else [c for t in tasks for c in t.codes]
    rank = pd.Series(np.arange(len(order)), index=pd.Index(order, dtype=object))
    towns = towns.assign(_rank=towns["code"].map(rank).to_numpy())
    mode = tasks[0].mode_arg if tasks else ""
    rows = []
    for m in (tasks[0].minutes if tasks else ()):
        block = towns[towns["minutes"] == m].sort_values("_rank", kind="stable")
        total = {"code": "", "name": region_name, "kind": "",
                 "mode": mode if isinstance(mode, str) else "by kind", "minutes": m,
                 "population": block["population"].sum(), "covered": block["covered"].sum()}
        rows += [block.drop(columns="_rank"), pd.DataFrame([total])]
    table = pd.concat(rows, ignore_index=True) if rows else towns.drop(columns="_rank")
    table["share"] = table["covered"] / table["population"].where(table["population"] > 0)
    gaps = [gpd.read_parquet(parts / f"{t.part}.gaps.parquet") for t in tasks]
    gaps = gpd.GeoDataFrame(pd.concat(gaps, ignore_index=True), geometry="geometry",
                            crs="EPSG:4326")
    gaps = gaps.sort_values(["population", "id"], ascending=[False, True],
                            kind="stable").reset_index(drop=True)
    return table, gaps


def merge_targets(tasks: Sequence[PartTask], out_dir: str | Path, region) -> list[Result]:
    """The pack's targets for the whole region, from the finished parts' pieces.

    Each target's pieces are added up over the parts (:func:`coverage.targets.merge_pieces`)
    and judged against the whole region's townships, which gives a single run's
    outcome (see module notes); an ambulance target whose times some part could not
    vouch for says so in its details.

    Raises
    ------
    InputError
        If a part is not finished, or was run without targets.
    """
    missing = [t.part for t in tasks if not (is_done(t, out_dir) and t.targets)]
    if missing:
        raise InputError(Path(out_dir) / "parts",
                         f"part(s) not finished with targets: {', '.join(missing)}")
    targets = load_targets(region)
    parts = [json.loads((Path(out_dir) / "parts" / f"{t.part}.targets.json").read_text(
        encoding="utf-8")) for t in tasks]
    merged = {t.id: merge_pieces(p[t.id] for p in parts) for t in targets}
    results = judge_targets(targets, merged, region.townships, tasks[0].year if tasks else None)
    for result in results:
        if result.target.rule == "ambulance_response":
            horizon = dict(tasks[0].horizons)[result.target.parameters.get(
                "mode", DEFAULTS["ambulance_response"]["mode"])]
            if not _vouched(merged[result.target.id], [p[result.target.id] for p in parts],
                            horizon):
                result.outcome.details += (f"; 分区近似 approximate: some residents lie beyond "
                                           f"the batch's {horizon:g}-minute horizon")
    return results


def _vouched(merged: dict, parts: Sequence[dict], horizon: float) -> bool:
    """Whether every part timed all its residents exactly: each reached within
    ``horizon`` minutes, or off the roads (not snapped: the same on any network)."""
    key = "stations" if merged["stations"]["dispatchers"] > 0 else "fallback"
    return all(sum(p[key]["stranded"].values()) == 0
               and max(p[key]["slowest"].values(), default=0.0) <= horizon * 60.0
               for p in parts)


def write_merged_layers(region, table: pd.DataFrame, gaps: gpd.GeoDataFrame,
                        results: list[Result] | None, out_dir: str | Path, *,
                        minutes: float,
                        min_gap_population: float = MIN_GAP_POPULATION) -> list[Path]:
    """Write the merged layers into ``out_dir`` (replaced as a whole) as
    :func:`coverage.layers.write_layers` writes them: ``townships.csv`` (the table),
    ``townships.geojson`` (residents within ``minutes``), ``gaps.geojson`` (gaps of
    at least ``min_gap_population`` residents) and, given ``results``,
    ``targets.csv``."""
    gaps = gaps[gaps["population"] >= min_gap_population]
    # Cell unions reprojected to WGS-84 can leave degenerate rings that GEOS cannot
    # snap to the layers' precision: repaired first (the area is unchanged).
    gaps = gaps.set_geometry(shapely.make_valid(gaps.geometry.to_numpy(), method="structure",
                                                keep_collapsed=False), crs=gaps.crs)
    files = {"townships.csv": csv_text(table.round({"share": 6})),
             "townships.geojson": geojson_text(township_coverage(region, table, minutes)),
             "gaps.geojson": geojson_text(gaps)}
    if results is not None:
        files["targets.csv"] = format_results(results_frame(results, region.townships), "csv")
    return write_folder(out_dir, files, region=region)


#: What :func:`batch_region` writes in its folder (one holding only these is an older batch).
BATCH_FILES = ("coverage.csv", "gaps.geojson", "layers", "parts", "batch.json")


def batch_region(region, out_dir: str | Path, split_by: str = "county", *,
                 minutes: Sequence[float] = (15,), types: Iterable[str] = BASIC_CARE_TYPES,
                 mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND, year: int | None = None,
                 gap_minutes: float = 15.0, targets: bool = True, backend: str = "inline",
                 workers: int | None = None,
                 scheduler: str | None = None, cluster_options: Mapping | None = None,
                 progress: Callable[[str], None] | None = print
                 ) -> tuple[pd.DataFrame, gpd.GeoDataFrame, list[dict]]:
    """Split, run every unfinished part, merge, and write the merged outputs.

    Writes ``<out>/coverage.csv`` (UTF-8 with BOM, full precision),
    ``<out>/gaps.geojson`` (every gap), ``<out>/layers/`` (:func:`write_merged_layers`:
    township coverage at ``gap_minutes`` when it is one of ``minutes``, else the
    largest; with ``targets``, the merged targets) and ``<out>/batch.json`` (the
    parts' done markers, horizons and buffers), each atomically. Returns the merged
    table, the gaps and the done markers of the parts computed in this run.
    """
    # A folder of the user's, the pack or its data folders are refused before any work.
    claim_folder(out_dir, region=region, own_names=BATCH_FILES)
    tasks = make_tasks(region, split_by, minutes=minutes, types=types, mode=mode, year=year,
                       gap_minutes=gap_minutes, targets=targets)
    ran = run_batch(tasks, out_dir, backend=backend, workers=workers, scheduler=scheduler,
                    cluster_options=cluster_options, progress=progress)
    table, gaps = merge_parts(tasks, out_dir, codes=region.townships["code"].astype(str).tolist(),
                              region_name=region.name_zh)
    out = Path(out_dir)
    write_text_atomic(out / "coverage.csv", csv_text(table))
    # Written here, not by GDAL, which embeds the (temporary) file name: same bytes each run.
    write_text_atomic(out / "gaps.geojson", gaps.to_json(drop_id=True, ensure_ascii=False) + "\n")
    results = merge_targets(tasks, out, region) if targets else None
    write_merged_layers(region, table, gaps, results, out / "layers",
                        minutes=gap_minutes if gap_minutes in minutes else max(minutes))
    markers = [json.loads(_done_path(out, t).read_text(encoding="utf-8")) for t in tasks]
    write_text_atomic(out / "batch.json", json.dumps(
        {"region": str(region.path), "split_by": split_by,
         "horizons_min": dict(tasks[0].horizons), "buffers_m": dict(tasks[0].buffers),
         "exact": all(t.exact for t in tasks), "parts": markers},
        ensure_ascii=False, indent=1) + "\n")
    return table, gaps, ran
