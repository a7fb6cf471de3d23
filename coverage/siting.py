"""New sites: candidate sites (候选点), their ranking, and optimal siting (选址优化).

Candidates come from a file of points (:func:`candidates_from_file`) or are laid on
the road network inside a polygon or a township (:func:`candidates_on_network`).

Ranking (:class:`CandidateRanking`) reuses the baseline: each resident's time to
the nearest open facility is computed once; a candidate then costs one bounded
search towards it (:func:`coverage.routing.catchments` with ``to_sources=True``),
and a resident's new time is ``min(baseline, time to the candidate)``.

Optimal siting keeps the existing facilities open and adds ``k`` new sites:

* :class:`MaximalCovering` (MCLP): the ``k`` sites covering most residents within T;
* :class:`SetCovering` (LSCP): the fewest sites covering everyone a site can cover;
* :class:`PMedian`: the ``k`` sites minimising total population-weighted travel time,
  each resident served by the nearest of the existing and new sites.

Each is a small MILP solved exactly by HiGHS (``highspy``) after a reduction (demand
already served by existing sites dropped; for covering models, residents with the
same set of covering candidates merged into one row). The solver starts from a
heuristic answer: the greedy one improved by vertex swaps (Teitz–Bart for the
p-median and MCLP; redundant sites dropped for LSCP), so at any time limit the answer
is at least the heuristic's. Above ``max_size`` matrix entries, or when the solver
reaches ``time_limit``, the answer is the heuristic one (or the solver's better
incumbent) with its gap to a proven bound: the better of the
MILP's dual bound (or the LP relaxation's optimum) and a bound of the model's own
(p-median: Lagrangian relaxation of the assignment rows; MCLP: the k largest
single-site gains).

Thresholds are inclusive (:func:`coverage.access.within`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import shapely

from coverage import routing
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, point_modes, within
from coverage.choices import MODELS, TIME_LIMIT_S  # the parser reads them without pandas
from coverage.errors import InputError
from coverage.facilities import BASIC_CARE_TYPES
from coverage.population import assign_townships
from coverage.tables import read_features, read_points, record_label

#: Default size limit: matrix entries above which the MILP is not attempted.
MAX_SIZE = 5_000_000
#: Default cap on a candidate's search for travel-time reductions and p-median, minutes.
CAP_MINUTES = 60.0
#: Default spacing of candidates laid on the network (metres), for the app and the
#: command line alike, so the same question gets the same answer in both.
CANDIDATE_SPACING_M = 500.0


# --- candidates --------------------------------------------------------------------

def candidates_from_file(path: str | Path, *, crs: str | int | None = None) -> gpd.GeoDataFrame:
    """Candidate sites from a points file (CSV/Excel/GeoJSON/GeoPackage, any CRS).

    Ids are the file's id (or name, or row number) as text; they must be unique.
    """
    points = read_points(path, crs=crs)
    points["id"] = points["id"].astype(str)
    duplicated = points["id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise InputError(path, f"duplicate candidate id {points['id'].iloc[row]!r}: ids must be "
                         "unique", row=row + 1, field="id")
    return points


def candidates_on_network(graph: routing.Graph, area, *, spacing_m: float = CANDIDATE_SPACING_M
                          ) -> gpd.GeoDataFrame:
    """Candidate sites on the road network inside ``area``, one per ``spacing_m`` cell.

    The graph's usable nodes inside the polygon are binned on a square grid of
    ``spacing_m`` metres in the graph's metric CRS (anchored at the origin, so a cell
    does not move when the area does); each cell keeps the node nearest its centre
    (ties: the smaller node id). Deterministic; ids are ``node-<network node id>``.

    Parameters
    ----------
    graph
        Any mode's graph of the region (its usable nodes are the sites).
    area
        WGS-84 polygon (a township, the region's boundary, a drawn area).
    spacing_m
        Cell size in metres (> 0).
    """
    if not spacing_m > 0:
        raise ValueError(f"spacing must be > 0 metres, got {spacing_m!r}")
    inside = graph.snappable() & shapely.contains_xy(area, graph.lon, graph.lat)
    nodes = np.flatnonzero(inside)
    cx = np.floor(graph.x[nodes] / spacing_m)
    cy = np.floor(graph.y[nodes] / spacing_m)
    off = np.hypot(graph.x[nodes] - (cx + 0.5) * spacing_m, graph.y[nodes] - (cy + 0.5) * spacing_m)
    order = np.lexsort((graph.node_ids[nodes], off, cy, cx))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (cx[order][1:] != cx[order][:-1]) | (cy[order][1:] != cy[order][:-1])
    keep = np.sort(nodes[order[first]])
    return gpd.GeoDataFrame({"id": [f"node-{i}" for i in graph.node_ids[keep]]},
                            geometry=gpd.points_from_xy(graph.lon[keep], graph.lat[keep]),
                            crs="EPSG:4326")


def candidate_area(path: str | Path):
    """The WGS-84 union of a polygon file's features, for generating candidates in it.

    Raises
    ------
    InputError
        Naming the first feature that is not a polygon.
    """
    frame = read_features(path)
    for i, geom in enumerate(frame.geometry):
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            found = "no geometry" if geom is None or geom.is_empty else geom.geom_type
            raise InputError(path, f"expected a Polygon or MultiPolygon, found {found}",
                             row=i + 1, field="geometry", kind="feature")
    if frame.crs is not None:
        frame = frame.to_crs("EPSG:4326")
    return frame.geometry.make_valid().union_all()


def check_candidates(sites: gpd.GeoDataFrame, region, source) -> None:
    """Refuse an empty candidate set, or one with no site inside the region.

    ``source`` names where the candidates came from (a file, or an option).
    """
    if sites.empty:
        raise InputError(source, "no candidate site: the area holds no usable road node "
                         "(expected an area over the region's roads)")
    inside = shapely.contains_xy(shapely.buffer(region.boundary, 0.002),
                                 sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
    if not inside.any():
        p = sites.geometry.iloc[0]
        raise InputError(source, f"none of the {len(sites)} candidates lies inside the region; "
                         f"the first is at ({p.x:.6f}, {p.y:.6f}) (is the CRS right? Amap/高德 "
                         "coordinates are GCJ-02: pass --crs GCJ02)", row=1, field="geometry",
                         kind=record_label(source))


def township_area(region, code: str):
    """The WGS-84 polygon of the township with ``code`` (InputError if none)."""
    codes = region.townships["code"].astype(str)
    hit = region.townships.geometry[codes == str(code)]
    if hit.empty:
        raise InputError(region.files.get("townships", region.path), f"no township with code "
                         f"{code!r}: expected one of {', '.join(codes)}", field="code")
    return hit.iloc[0]


# --- reach: candidate -> population point travel times ------------------------------

def reach_triples(graph: routing.Graph, site_snap: routing.Snap, point_snap: routing.Snap,
                  limit: float, below: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (site, point) pair whose trip point -> site takes at most ``limit`` seconds.

    The trip is the point's access leg, the network time towards the site's node
    and the site's own access leg, or a straight off-road walk when faster, as in
    :func:`coverage.access.travel_seconds`.
    One bounded search per site (``to_sources=True``); memory is the size of the
    result, never sites x points. ``below`` (seconds per point, ``inf`` for no
    bound) keeps only the pairs whose stored time (at least
    :data:`coverage.routing.ZERO_OFFSET_S`) is below the point's bound.

    Returns
    -------
    site, point, seconds
        Parallel arrays, sorted by site then point.
    """
    reached = routing.catchments(graph, site_snap.node, limit, site_snap.access_seconds,
                                 to_sources=True)
    walk_site, walk_point, walk_seconds = routing.direct_pairs(graph, point_snap, site_snap, limit)
    pts = np.flatnonzero(point_snap.node >= 0)
    pts = pts[np.argsort(point_snap.node[pts], kind="stable")]
    start = np.searchsorted(point_snap.node[pts], np.arange(graph.n_nodes + 1))
    if below is not None:
        # A node's entries can only give a pair below the bound of one of its points
        # (time = node seconds + access leg): drop the others before expanding them
        # into pairs (with a microsecond of slack; the exact test follows per pair).
        room = np.full(graph.n_nodes, -np.inf)
        np.maximum.at(room, point_snap.node[pts], below[pts] - point_snap.access_seconds[pts])
        hopeful = reached.seconds <= room[reached.node] + routing.TOLERANCE_S
        reached = routing.Catchments(reached.source[hopeful], reached.node[hopeful],
                                     reached.seconds[hopeful])
        fast = np.maximum(walk_seconds, routing.ZERO_OFFSET_S) < below[walk_point]
        walk_site, walk_point, walk_seconds = (walk_site[fast], walk_point[fast],
                                               walk_seconds[fast])
    count = np.diff(start)[reached.node]
    rep = np.repeat(np.arange(reached.node.size), count)
    # Position of each expanded pair within its node's run of points.
    within_run = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count)
    point = pts[start[reached.node][rep] + within_run]
    seconds = reached.seconds[rep] + point_snap.access_seconds[point]
    keep = seconds <= limit + routing.TOLERANCE_S
    if below is not None:
        keep &= np.maximum(seconds, routing.ZERO_OFFSET_S) < below[point]
    # Road pairs are one per (site, point), and so are walked ones: sort the road pairs
    # by one int64 key, give a pair reached both ways its faster trip and merge in the
    # pairs only walked (a three-key lexsort of all pairs took 1.3 s of 2.1 s on the
    # default pack's e-bike p-median).
    n_points = np.int64(point_snap.node.size)
    site, point, seconds = reached.source[rep][keep].astype(np.int64), point[keep], seconds[keep]
    key = site * n_points + point
    order = np.argsort(key)
    key, site, point, seconds = key[order], site[order], point[order], seconds[order]
    walk_key = walk_site.astype(np.int64) * n_points + walk_point
    at = np.searchsorted(key, walk_key)
    both = at < key.size
    both[both] = key[at[both]] == walk_key[both]
    seconds[at[both]] = np.minimum(seconds[at[both]], walk_seconds[both])
    only = ~both
    key = np.concatenate([key, walk_key[only]])
    order = np.argsort(key, kind="stable")
    return (np.concatenate([site, walk_site[only]])[order],
            np.concatenate([point, walk_point[only]])[order],
            np.concatenate([seconds, walk_seconds[only]])[order])


def site_point_seconds(context: AccessContext, sites: gpd.GeoDataFrame, limit: float,
                       mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND, *,
                       below: np.ndarray | None = None) -> scipy.sparse.csr_array:
    """Sparse ``points x sites`` matrix of travel seconds (point to site) up to ``limit``.

    Each population point travels by its own mode (one mode, or its township kind's).
    Pairs beyond ``limit`` are absent; a stored value is > 0 (a zero trip is stored
    as :data:`coverage.routing.ZERO_OFFSET_S`). ``below`` (seconds per point,
    ``inf``: no bound) leaves out every pair whose stored value is not below it.
    """
    points = context.population
    modes = point_modes(points, mode)
    rows, cols, vals = [], [], []
    for m in sorted(set(modes)):
        graph = context.graph(m)
        mine = np.flatnonzero(modes == m)
        xy = points.geometry.iloc[mine]
        point_snap = routing.snap_points(graph, xy.x.to_numpy(), xy.y.to_numpy())
        site_snap = routing.snap_points(graph, sites.geometry.x.to_numpy(),
                                        sites.geometry.y.to_numpy())
        site, point, seconds = reach_triples(graph, site_snap, point_snap, limit,
                                             None if below is None else below[mine])
        rows.append(mine[point])
        cols.append(site)
        vals.append(np.maximum(seconds, routing.ZERO_OFFSET_S))
    return scipy.sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(points), len(sites)))


# --- ranking ---------------------------------------------------------------------------

class CandidateRanking:
    """Rank candidate sites against the baseline of the open facilities.

    The baseline (each resident's time to the nearest open facility of ``types``) and
    the target states are computed once at construction; :meth:`evaluate` then costs
    one bounded search per candidate.

    Parameters
    ----------
    context
        The region and year (:class:`coverage.access.AccessContext`).
    minutes
        Coverage threshold T (inclusive).
    mode
        One mode, or a mapping township kind -> mode (default
        :data:`coverage.access.DEFAULT_MODE_BY_KIND`).
    types
        Facility types of the baseline (default basic care).
    cap_minutes
        Bound of each candidate's search. A resident's time reduction counts only
        when the candidate is within the cap; with the cap at least the slowest
        baseline time (default: that time, at least T) the reduction is exact.
    required_share
        Share of a township's residents within T for the circle target (default:
        the pack's ``circle`` target, else 1).
    """

    def __init__(self, context: AccessContext, *, minutes: float = 15.0,
                 mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
                 types: Sequence[str] = BASIC_CARE_TYPES, cap_minutes: float | None = None,
                 required_share: float | None = None) -> None:
        from coverage import targets

        self.context, self.minutes, self.mode = context, float(minutes), mode
        points = context.population
        self.weight = points["population"].to_numpy(dtype=float)
        self.codes = points["township_code"].astype(str).to_numpy()
        self.baseline, _ = context.seconds_by_kind(mode, context.facilities(types))
        finite = np.isfinite(self.baseline)
        slowest = float(self.baseline[finite].max()) if finite.any() else 0.0
        self.limit = max(self.minutes * 60.0, slowest if cap_minutes is None else cap_minutes * 60.0)
        self.covered = within(self.baseline, self.minutes)
        self.reached_weight = float(self.weight[finite].sum())

        townships = context.region.townships
        self.township_codes = townships["code"].astype(str).to_numpy()
        self.township_pop = pd.Series(self.weight).groupby(self.codes).sum().reindex(
            self.township_codes, fill_value=0.0)
        self.township_covered = pd.Series(np.where(self.covered, self.weight, 0.0)).groupby(
            self.codes).sum().reindex(self.township_codes, fill_value=0.0)
        if required_share is None:
            circle = [t for t in targets.load_targets(context.region) if t.rule == "circle"]
            required_share = circle[0].parameters.get("required_share", 1.0) if circle else 1.0
        self.required_share = float(required_share)
        params = targets.DEFAULTS["one_per_township"]
        self.without_centre = set(targets.rule_one_per_township(
            context.region, context, dict(params)).failing)

    def _share_passes(self, covered: np.ndarray, population: np.ndarray) -> np.ndarray:
        share = np.divide(covered, population, out=np.ones_like(covered), where=population > 0)
        return share >= self.required_share - 1e-9

    def evaluate(self, candidates: gpd.GeoDataFrame) -> pd.DataFrame:
        """One row per candidate, best first.

        Columns: ``id``, ``township_code``, ``newly_covered`` (residents brought
        within T), ``newly_reached`` (residents who reached no facility before),
        ``mean_minutes_reduction`` (of the population-weighted mean time over the
        residents who reached a facility before), ``fills_township`` (the candidate
        lies in a township without a 卫生院/社区卫生服务中心, so 一镇一院 would
        pass there as a centre), ``circle_share_before``/``after`` and
        ``circle_changes`` (the share of its township within T crosses the
        required share), ``townships_passing`` (townships, any, whose circle share
        newly reaches it) and ``targets_changed`` (fills_township + circle_changes).
        Sorted by newly covered, mean reduction, then id.
        """
        n = len(candidates)
        matrix = site_point_seconds(self.context, candidates, self.limit, self.mode).tocsc()
        site = np.repeat(np.arange(n), np.diff(matrix.indptr))
        point, seconds = matrix.indices, matrix.data
        base = self.baseline[point]
        w = self.weight[point]
        newly = (~self.covered[point]) & within(seconds, self.minutes)
        gain = np.bincount(site, np.where(newly, w, 0.0), minlength=n)
        new_reach = np.bincount(site, np.where(np.isinf(base), w, 0.0), minlength=n)
        saved = np.where(np.isfinite(base), np.maximum(base - seconds, 0.0), 0.0)
        reduction = np.bincount(site, w * saved, minlength=n) / max(self.reached_weight, 1e-12) / 60.0

        # Circle state per township: gains of every candidate grouped by township.
        col = pd.Index(self.township_codes).get_indexer(self.codes[point[newly]])
        gains = scipy.sparse.csr_array((w[newly], (site[newly], col)),
                                       shape=(n, self.township_codes.size)).toarray()
        before = self.township_covered.to_numpy()
        pop = self.township_pop.to_numpy()
        passed = self._share_passes(before, pop)
        after_pass = self._share_passes(before[None, :] + gains, np.broadcast_to(pop, gains.shape))
        geometry = candidates.geometry
        own = assign_townships(self.context.region.townships, geometry.x.to_numpy(),
                               geometry.y.to_numpy(), self.context.region.metric_crs)
        j = pd.Index(self.township_codes).get_indexer(own)
        rows = np.arange(n)
        safe = np.where(pop[j] > 0, pop[j], 1.0)
        out = pd.DataFrame({
            "id": candidates["id"].astype(str).to_numpy(),
            "township_code": own,
            "newly_covered": gain,
            "newly_reached": new_reach,
            "mean_minutes_reduction": reduction,
            "fills_township": np.array([c in self.without_centre for c in own], dtype=bool),
            "circle_share_before": before[j] / safe,
            "circle_share_after": (before[j] + gains[rows, j]) / safe,
            "circle_changes": after_pass[rows, j] & ~passed[j],
            "townships_passing": (after_pass & ~passed[None, :]).sum(axis=1),
        })
        out["targets_changed"] = out["fills_township"].astype(int) + out["circle_changes"].astype(int)
        out = out.sort_values(["newly_covered", "mean_minutes_reduction", "id"],
                              ascending=[False, False, True], kind="stable")
        return out.reset_index(drop=True)


def rank_candidates(context: AccessContext, candidates: gpd.GeoDataFrame, *,
                    minutes: float = 15.0, mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
                    types: Sequence[str] = BASIC_CARE_TYPES,
                    cap_minutes: float | None = None) -> pd.DataFrame:
    """Rank ``candidates`` (see :class:`CandidateRanking` and its ``evaluate``)."""
    return CandidateRanking(context, minutes=minutes, mode=mode, types=types,
                            cap_minutes=cap_minutes).evaluate(candidates)


# --- MILP ---------------------------------------------------------------------------

@dataclass
class SitingResult:
    """The answer of a siting model.

    Attributes
    ----------
    model
        ``'mclp'``, ``'lscp'`` or ``'pmedian'``.
    selected
        Ids of the new sites chosen (existing facilities are never among them).
    objective
        MCLP: residents covered (existing sites included); LSCP: number of new
        sites; p-median: total population-weighted travel time (seconds, or the cost
        unit of the matrix).
    bound
        A proven bound on the optimum (upper for MCLP, lower otherwise).
    gap
        ``|objective - bound| / |objective|`` (0 when optimal; inf when unknown).
    status
        ``'optimal'``, ``'time limit'`` (the better of the solver's incumbent and the
        heuristic answer) or ``'greedy'`` (the greedy answer improved by swaps; the
        model was above ``max_size``).
    covered
        Demand weight covered within T (MCLP/LSCP) or served (p-median).
    total
        Demand weight of all demand points.
    excluded
        Indices of demand points no candidate and no existing site can serve
        (LSCP: within T; p-median: at all), left out of the model.
    seconds
        Wall time of the solve.
    n_rows
        Demand rows after reduction.
    """

    model: str
    selected: list
    objective: float
    bound: float
    gap: float
    status: str
    covered: float
    total: float
    excluded: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    seconds: float = 0.0
    n_rows: int = 0


def _gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("inf")
    diff = abs(objective - bound)
    return 0.0 if diff <= 1e-9 * max(1.0, abs(objective)) else diff / max(abs(objective), 1e-12)


def _highs(cost, matrix: scipy.sparse.csr_array, row_lo, row_hi, col_hi, integer: np.ndarray, *,
           maximise: bool, time_limit: float, start: np.ndarray | None = None, relax: bool = False
           ) -> tuple[str, np.ndarray | None, float]:
    """Solve ``min/max cost x`` s.t. ``row_lo <= A x <= row_hi``, ``0 <= x <= col_hi``.

    Returns the status (``'optimal'``, ``'time limit'`` or HiGHS' own), the best
    solution (``None`` if none) and the proven bound (dual bound, or the LP
    optimum when ``relax``).
    """
    import highspy  # only the models need it, not ranking or 2SFCA

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_ = np.zeros(len(cost))
    lp.col_upper_ = np.asarray(col_hi, float)
    lp.row_lower_ = np.asarray(row_lo, float)
    lp.row_upper_ = np.asarray(row_hi, float)
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = len(cost), matrix.shape[0]
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in integer]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-7)
    h.passModel(lp)
    if start is not None and not relax:
        solution = highspy.HighsSolution()
        solution.col_value = list(map(float, start))
        solution.value_valid = True
        h.setSolution(solution)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value, float) if info.primal_solution_status == 2 else None
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
        bound = info.objective_function_value if relax else info.mip_dual_bound
    elif model_status == highspy.HighsModelStatus.kTimeLimit:
        status = "time limit"
        bound = info.mip_dual_bound if not relax else (np.inf if maximise else -np.inf)
    else:
        status = h.modelStatusToString(model_status)
        bound = np.inf if maximise else -np.inf
    bound = float(bound) if np.isfinite(bound) and abs(bound) < 1e30 else (np.inf if maximise else -np.inf)
    return status, values, bound


class _Model:
    """Shared solve loop: a greedy start improved by swaps (:meth:`_improve`), then the
    exact MILP within the limits, started from it; or the heuristic with a bound."""

    name = ""
    maximise = False
    #: Constant part of the objective left out of the MILP (demand served by existing sites).
    offset = 0.0

    def __init__(self, *, candidate_ids: Sequence | None, n_candidates: int,
                 time_limit: float, max_size: int) -> None:
        self.ids = list(range(n_candidates)) if candidate_ids is None else list(candidate_ids)
        if len(self.ids) != n_candidates:
            raise ValueError(f"{len(self.ids)} candidate ids for {n_candidates} candidates")
        self.time_limit, self.max_size = float(time_limit), int(max_size)

    def solve(self) -> SitingResult:
        """Solve the model (exactly when within the time and size limits)."""
        t0 = time.perf_counter()
        # The heuristic runs to its local optimum whatever the limit.
        chosen = self._improve(self._greedy(), np.inf)
        objective = self._value(chosen)
        # The model's own bound often proves the heuristic answer optimal: no MILP then.
        own = self._combinatorial_bound(chosen, objective)
        if np.isfinite(objective) and _gap(objective, own) == 0.0:
            return self._result(np.sort(chosen), objective, objective, "optimal",
                                time.perf_counter() - t0)
        cost, matrix, lo, hi, col_hi, integer, start = self._milp(chosen)
        # The limit covers the whole solve; the heuristic always completes.
        remaining = self.time_limit - (time.perf_counter() - t0)
        if matrix.nnz <= self.max_size and remaining <= 0:
            status, bound = "time limit", np.inf if self.maximise else -np.inf
        elif matrix.nnz <= self.max_size:
            status, x, bound = _highs(cost, matrix, lo, hi, col_hi, integer, maximise=self.maximise,
                                      time_limit=remaining, start=start)
            bound += self.offset
            if x is not None:
                picked = np.flatnonzero(x[:self._n_sites()] > 0.5)
                value = self._value(picked)
                if (value > objective) if self.maximise else (value < objective):
                    chosen, objective = picked, value
                if status == "optimal":
                    chosen, objective = picked, value
        else:
            status, _, bound = _highs(cost, matrix, lo, hi, col_hi, integer, maximise=self.maximise,
                                      time_limit=max(remaining, 0.0), relax=True)
            bound += self.offset
            status = "greedy"
        if status not in ("optimal", "time limit", "greedy"):
            raise RuntimeError(f"HiGHS could not solve the {self.name} model: {status}")
        if status == "optimal":
            bound = objective
        else:
            # The solver may stop before its root LP: keep the better of its bound and ours.
            bound = min(bound, own) if self.maximise else max(bound, own)
        return self._result(np.sort(chosen), objective, bound, status, time.perf_counter() - t0)

    def _n_sites(self) -> int:
        return len(self.ids)

    def _improve(self, chosen: np.ndarray, deadline: float) -> np.ndarray:
        """A better answer than the greedy one, found before ``deadline`` (default: none)."""
        return chosen


def _signature_groups(cover: scipy.sparse.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Group rows of a 0/1 CSR matrix with identical column sets: (group per row, first row)."""
    cover = cover.copy()
    cover.sort_indices()
    keys = [cover.indices[a:b].tobytes() for a, b in zip(cover.indptr[:-1], cover.indptr[1:])]
    group, _ = pd.factorize(pd.Series(keys, dtype=object))
    first = np.full(group.max() + 1 if group.size else 0, -1, dtype=np.int64)
    first[group[::-1]] = np.arange(group.size)[::-1]
    return group, first


class _Covering(_Model):
    """Demand covered within T by candidates (a 0/1 matrix) and by existing sites."""

    def __init__(self, cover, weights, existing, candidate_ids, time_limit, max_size) -> None:
        cover = scipy.sparse.csr_array(cover, dtype=bool)
        cover.eliminate_zeros()
        super().__init__(candidate_ids=candidate_ids, n_candidates=cover.shape[1],
                         time_limit=time_limit, max_size=max_size)
        n = cover.shape[0]
        self.weights = np.ones(n) if weights is None else np.asarray(weights, float)
        self.existing = np.zeros(n, bool) if existing is None else np.asarray(existing, bool)
        if self.weights.shape != (n,) or self.existing.shape != (n,):
            raise ValueError(f"weights and existing must have one value per demand point ({n})")
        coverable = np.diff(cover.indptr) > 0
        self.excluded = np.flatnonzero(~coverable & ~self.existing)
        rows = np.flatnonzero(coverable & ~self.existing)
        group, first = _signature_groups(cover[rows])
        self.group_cover = scipy.sparse.csr_array(cover[rows[first]], dtype=float)
        self.group_weight = np.bincount(group, self.weights[rows], minlength=first.size)
        self.base = float(self.weights[self.existing].sum())
        self.offset = self.base if self.maximise else 0.0

    def _covered(self, chosen) -> np.ndarray:
        """Which groups the chosen candidates cover."""
        pick = np.zeros(self.group_cover.shape[1])
        pick[np.asarray(chosen, dtype=np.int64)] = 1.0
        return self.group_cover @ pick > 0

    def _lazy_greedy(self, weight: np.ndarray, stop) -> np.ndarray:
        """Lazy greedy: repeatedly add the candidate covering most uncovered weight."""
        csc = self.group_cover.tocsc()
        done = np.zeros(csc.shape[0], bool)
        gains = np.bincount(np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr)),
                            weight[csc.indices], minlength=csc.shape[1])
        heap = [(-g, j) for j, g in enumerate(gains) if g > 0]
        heapq.heapify(heap)
        chosen = []
        while heap and not stop(chosen):
            neg, j = heapq.heappop(heap)
            rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
            gain = weight[rows[~done[rows]]].sum()
            if gain <= 0:
                continue
            if heap and gain < -heap[0][0] - 1e-12:
                heapq.heappush(heap, (-gain, j))
                continue
            chosen.append(j)
            done[rows] = True
        return np.array(chosen, dtype=np.int64)


def _best_swap(chosen: np.ndarray, trade, is_open: np.ndarray, saving: float,
               deadline: float) -> tuple[int, int] | None:
    """The vertex swap (close ``r``, open ``j``) saving most, if it saves more than ``saving``.

    ``trade(r)`` gives the loss of closing open site ``r`` and every candidate's gain
    from opening it then; open sites are never opened again. Stops at ``deadline``
    (``time.perf_counter()``) with the best swap seen so far.
    """
    swap = None
    for r in chosen:
        loss, gain = trade(r)
        gain[is_open] = -np.inf
        j = int(np.argmax(gain))
        if gain[j] - loss > saving:
            swap, saving = (int(r), j), gain[j] - loss
        if time.perf_counter() >= deadline:
            break
    return swap


class MaximalCovering(_Covering):
    """MCLP: ``k`` new sites maximising the demand covered, existing sites kept open.

    Parameters
    ----------
    cover
        ``demand x candidates`` sparse or dense matrix, true where the candidate
        covers the demand point within T.
    weights
        Demand weight (residents) per demand point.
    k
        Number of new sites (exactly ``k``, as in spopt; at most the candidates).
    existing
        True where an existing facility already covers the demand point.
    candidate_ids
        Ids reported in :attr:`SitingResult.selected` (default the column index).
    time_limit, max_size
        Time limit of the whole solve (seconds; the greedy + swap answer is always
        completed, the MILP gets what is left) and the matrix size above which only
        that answer and a bound are computed.
    """

    name, maximise = "mclp", True

    def __init__(self, cover, weights, k: int, *, existing=None, candidate_ids=None,
                 time_limit: float = TIME_LIMIT_S, max_size: int = MAX_SIZE) -> None:
        super().__init__(cover, weights, existing, candidate_ids, time_limit, max_size)
        if not 0 <= k <= self.group_cover.shape[1]:
            raise ValueError(f"k must be between 0 and {self.group_cover.shape[1]} candidates, got {k}")
        self.k = int(k)

    @classmethod
    def from_cost_matrix(cls, cost, weights, minutes: float, k: int, **kw) -> MaximalCovering:
        """From a dense ``demand x candidates`` matrix of seconds (inf: unreachable)."""
        return cls(scipy.sparse.csr_array(within(cost, minutes)), weights, k, **kw)

    def _greedy(self) -> np.ndarray:
        chosen = self._lazy_greedy(self.group_weight, lambda c: len(c) >= self.k)
        # Exactly k sites: pad with unused candidates that add nothing.
        spare = np.setdiff1d(np.arange(self.group_cover.shape[1]), chosen)[:self.k - chosen.size]
        return np.concatenate([chosen, spare])

    def _value(self, chosen) -> float:
        return self.base + float(self.group_weight[self._covered(chosen)].sum())

    def _improve(self, chosen: np.ndarray, deadline: float) -> np.ndarray:
        """Vertex swaps (as Teitz–Bart for the p-median): close an open site and open the
        closed one covering most of what is then uncovered, while that covers more.
        Stops at a local optimum or at ``deadline``."""
        n = self.group_cover.shape[1]
        if self.k == 0 or self.k >= n:
            return chosen
        chosen = np.array(chosen, dtype=np.int64)
        csc = self.group_cover.tocsc()
        while time.perf_counter() < deadline:
            is_open = np.zeros(n)
            is_open[chosen] = 1.0
            count = self.group_cover @ is_open

            def trade(r):
                mine = csc.indices[csc.indptr[r]:csc.indptr[r + 1]]
                alone = mine[count[mine] == 1]
                uncovered = np.where(count == 0, self.group_weight, 0.0)
                uncovered[alone] = self.group_weight[alone]
                return float(self.group_weight[alone].sum()), uncovered @ self.group_cover

            swap = _best_swap(chosen, trade, is_open > 0,
                              1e-9 * max(float(self.group_weight.sum()), 1.0), deadline)
            if swap is None:
                break
            chosen[chosen == swap[0]] = swap[1]
        return chosen

    def _combinatorial_bound(self, chosen, objective) -> float:
        """The k largest single-site gains (upper bound)."""
        gains = np.sort(self.group_weight @ self.group_cover)[::-1]
        return self.base + min(float(gains[:self.k].sum()), float(self.group_weight.sum()))

    def _milp(self, chosen):
        m, n = self.group_cover.shape
        # Rows: y_g - sum_{j covers g} x_j <= 0, then sum x = k. Columns: x then y.
        link = scipy.sparse.hstack([-self.group_cover, scipy.sparse.eye_array(m)])
        count = scipy.sparse.hstack([np.ones((1, n)), scipy.sparse.csr_array((1, m))])
        matrix = scipy.sparse.csr_array(scipy.sparse.vstack([link, count]))
        cost = np.concatenate([np.zeros(n), self.group_weight])
        start = np.concatenate([np.isin(np.arange(n), chosen), self._covered(chosen)]).astype(float)
        return (cost, matrix, np.r_[np.full(m, -np.inf), self.k], np.r_[np.zeros(m), self.k],
                np.ones(n + m), np.r_[np.ones(n, bool), np.zeros(m, bool)], start)

    def _result(self, chosen, objective, bound, status, seconds) -> SitingResult:
        return SitingResult("mclp", [self.ids[j] for j in chosen], objective, bound,
                            _gap(objective, bound), status, objective, float(self.weights.sum()),
                            self.excluded, seconds, self.group_cover.shape[0])


class SetCovering(_Covering):
    """LSCP: the fewest new sites so every coverable demand point is covered within T.

    Demand points already covered by an existing facility are dropped; those no
    candidate covers are reported in :attr:`SitingResult.excluded` and left out.
    Parameters as :class:`MaximalCovering` (no ``k``; weights only count the
    population covered).
    """

    name, maximise = "lscp", False

    def __init__(self, cover, weights=None, *, existing=None, candidate_ids=None,
                 time_limit: float = TIME_LIMIT_S, max_size: int = MAX_SIZE) -> None:
        super().__init__(cover, weights, existing, candidate_ids, time_limit, max_size)

    @classmethod
    def from_cost_matrix(cls, cost, minutes: float, weights=None, **kw) -> SetCovering:
        """From a dense ``demand x candidates`` matrix of seconds (inf: unreachable)."""
        return cls(scipy.sparse.csr_array(within(cost, minutes)), weights, **kw)

    def _greedy(self) -> np.ndarray:
        return self._lazy_greedy(np.ones(self.group_cover.shape[0]), lambda c: False)

    def _improve(self, chosen: np.ndarray, deadline: float) -> np.ndarray:
        """Drop redundant sites (everything they cover is covered by another), last
        chosen first: the greedy cover made minimal."""
        csc = self.group_cover.tocsc()
        keep = list(chosen)
        count = self.group_cover @ np.isin(np.arange(csc.shape[1]), keep).astype(float)
        for j in reversed(chosen):
            mine = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
            if (count[mine] >= 2).all():
                keep.remove(j)
                count[mine] -= 1
        return np.array(keep, dtype=np.int64)

    def _value(self, chosen) -> float:
        return float(len(chosen))

    def _combinatorial_bound(self, chosen, objective) -> float:
        """One site if anything is left to cover (lower bound)."""
        return float(self.group_cover.shape[0] > 0)

    def _milp(self, chosen):
        m, n = self.group_cover.shape
        start = np.isin(np.arange(n), chosen).astype(float)
        return (np.ones(n), self.group_cover, np.ones(m), np.full(m, np.inf), np.ones(n),
                np.ones(n, bool), start)

    def _result(self, chosen, objective, bound, status, seconds) -> SitingResult:
        covered = float(self.weights.sum() - self.weights[self.excluded].sum())
        return SitingResult("lscp", [self.ids[j] for j in chosen], objective, bound,
                            _gap(objective, bound), status, covered, float(self.weights.sum()),
                            self.excluded, seconds, self.group_cover.shape[0])


class PMedian(_Model):
    """p-median: ``k`` new sites minimising total weighted travel time to the nearest site.

    Each demand point goes to the nearest open site: an existing facility (its
    ``fallback`` time) or a new one. Pairs where the candidate is no faster than the
    fallback are dropped (never used); points with no finite option are reported in
    :attr:`SitingResult.excluded` and left out.

    Parameters
    ----------
    cost
        ``demand x candidates`` sparse matrix of travel times (stored entries are the
        reachable pairs) or a dense matrix (inf: unreachable).
    weights
        Demand weight per demand point.
    k
        Number of new sites (exactly ``k``).
    fallback
        Time to the nearest existing facility per demand point (inf: none); default
        no existing facility. A point without a fallback must be served by a new
        site; when k new sites cannot serve them all, :meth:`solve` raises
        ``RuntimeError`` (infeasible).
    candidate_ids, time_limit, max_size
        As :class:`MaximalCovering`.
    """

    name, maximise = "pmedian", False

    def __init__(self, cost, weights, k: int, *, fallback=None, candidate_ids=None,
                 time_limit: float = TIME_LIMIT_S, max_size: int = MAX_SIZE) -> None:
        if scipy.sparse.issparse(cost):
            cost = scipy.sparse.coo_array(cost)
            i, j, c = cost.row, cost.col, cost.data.astype(float)
        else:
            cost = np.asarray(cost, float)
            i, j = np.nonzero(np.isfinite(cost))
            c = cost[i, j]
        n, n_cand = cost.shape
        super().__init__(candidate_ids=candidate_ids, n_candidates=n_cand,
                         time_limit=time_limit, max_size=max_size)
        if not 0 <= k <= n_cand:
            raise ValueError(f"k must be between 0 and {n_cand} candidates, got {k}")
        self.k = int(k)
        self.weights = np.asarray(weights, float)
        self.fallback = np.full(n, np.inf) if fallback is None else np.asarray(fallback, float)
        if self.weights.shape != (n,) or self.fallback.shape != (n,):
            raise ValueError(f"weights and fallback must have one value per demand point ({n})")
        useful = c < self.fallback[i]
        i, j, c = i[useful], j[useful], c[useful]
        has = np.bincount(i, minlength=n) > 0
        self.excluded = np.flatnonzero(~has & ~np.isfinite(self.fallback))
        fixed = ~has & np.isfinite(self.fallback)
        self.fixed_cost = self.offset = float((self.weights[fixed] * self.fallback[fixed]).sum())
        self.rows = np.flatnonzero(has)
        order = np.lexsort((j, i))
        local = np.searchsorted(self.rows, i[order])
        # Pairs of the reduced demand rows (row-major) and their weighted cost.
        self.pair_row, self.pair_col = local, j[order]
        self.pair_cost = c[order] * self.weights[i[order]]
        self.row_fallback = self.weights[self.rows] * self.fallback[self.rows]
        self.served = float(self.weights.sum() - self.weights[self.excluded].sum())

    @classmethod
    def from_cost_matrix(cls, cost, weights, k: int, **kw) -> PMedian:
        """From a dense ``demand x candidates`` cost matrix (as spopt's)."""
        return cls(np.asarray(cost, float), weights, k, **kw)

    def _row_costs(self, chosen) -> np.ndarray:
        """Weighted cost of each reduced row given the chosen candidates."""
        best = self.row_fallback.copy()
        use = np.isin(self.pair_col, np.asarray(chosen, dtype=np.int64))
        np.minimum.at(best, self.pair_row[use], self.pair_cost[use])
        return best

    def _value(self, chosen) -> float:
        costs = self._row_costs(chosen)
        return float(np.inf if np.isinf(costs).any() else self.fixed_cost + costs.sum())

    def _greedy(self) -> np.ndarray:
        # Rows with no fallback count as a large finite penalty until served.
        finite = np.concatenate([self.pair_cost, self.row_fallback[np.isfinite(self.row_fallback)]])
        penalty = 2.0 * (finite.max() if finite.size else 1.0) + 1.0
        current = np.where(np.isfinite(self.row_fallback), self.row_fallback, penalty)
        order = np.argsort(self.pair_col, kind="stable")
        col_start = np.searchsorted(self.pair_col[order], np.arange(len(self.ids) + 1))
        gains = np.bincount(self.pair_col, np.maximum(current[self.pair_row] - self.pair_cost, 0.0),
                            minlength=len(self.ids))
        heap = [(-g, j) for j, g in enumerate(gains)]
        heapq.heapify(heap)
        chosen = []
        while heap and len(chosen) < self.k:
            _, j = heapq.heappop(heap)
            pairs = order[col_start[j]:col_start[j + 1]]
            rows, costs = self.pair_row[pairs], self.pair_cost[pairs]
            gain = np.maximum(current[rows] - costs, 0.0).sum()
            if heap and gain < -heap[0][0] - 1e-12:
                heapq.heappush(heap, (-gain, j))
                continue
            chosen.append(j)
            current[rows] = np.minimum(current[rows], costs)
        return np.array(chosen, dtype=np.int64)

    def _penalised_fallback(self) -> np.ndarray:
        """Rows' fallback costs, a large finite penalty where a row has none (unserved)."""
        finite = np.isfinite(self.row_fallback)
        big = 2.0 * max(self.pair_cost.max(initial=0.0), self.row_fallback[finite].max(initial=0.0)) + 1
        return np.where(finite, self.row_fallback, big)

    def _improve(self, chosen: np.ndarray, deadline: float) -> np.ndarray:
        """Teitz–Bart vertex substitution: swap an open site for a closed one while it helps.

        Each pass finds, for every open site ``r``, the rows' costs without it (their
        second-best option where ``r`` is their best, fallback included), then the
        closed site whose opening saves most against those costs; the best swap of
        the pass is made if it lowers the total. Stops at a local optimum or at
        ``deadline`` (``time.perf_counter()``), so the answer is never worse than
        the greedy one.
        """
        m, n = self.rows.size, len(self.ids)
        if m == 0 or self.k == 0 or self.k >= n:
            return chosen
        chosen = np.array(chosen, dtype=np.int64)
        fallback = self._penalised_fallback()
        rows = np.arange(m)
        while time.perf_counter() < deadline:
            is_open = np.zeros(n, bool)
            is_open[chosen] = True
            sel = np.flatnonzero(is_open[self.pair_col])
            # Every row's options among the open sites plus its fallback (site -1).
            row = np.concatenate([self.pair_row[sel], rows])
            cost = np.concatenate([self.pair_cost[sel], fallback])
            site = np.concatenate([self.pair_col[sel], np.full(m, -1)])
            order = np.lexsort((site, cost, row))
            row, cost, site = row[order], cost[order], site[order]
            first = np.searchsorted(row, rows)
            best, best_site = cost[first], site[first]
            second_at = np.minimum(first + 1, row.size - 1)
            second = np.where(row[second_at] == rows, cost[second_at], np.inf)

            def trade(r):
                without = np.where(best_site == r, second, best)
                gain = np.bincount(self.pair_col, np.maximum(without[self.pair_row] - self.pair_cost, 0.0),
                                   minlength=n)
                return float((without - best).sum()), gain

            swap = _best_swap(chosen, trade, is_open, 1e-9 * max(float(best.sum()), 1.0), deadline)
            if swap is None:
                break
            chosen[chosen == swap[0]] = swap[1]
        return chosen

    def _combinatorial_bound(self, chosen, objective, iterations: int = 300) -> float:
        """Lagrangian lower bound: the assignment rows relaxed, multipliers by subgradient.

        For multipliers ``u`` (one per row), ``L(u) = sum u + sum min(0, fallback - u)
        + (sum of the k most negative rho_j)``, ``rho_j = sum_i min(0, cost_ij - u_i)``,
        bounds the optimum from below; the multipliers start at the rows' costs in the
        greedy answer and follow the subgradient (Held-Karp step towards ``objective``).
        """
        m, n = self.rows.size, len(self.ids)
        if m == 0:
            return self.fixed_cost
        # Rows with no fallback: a large finite cost keeps the arithmetic finite.
        fallback = self._penalised_fallback()
        u = np.minimum(self._row_costs(chosen), fallback.max(initial=0.0))
        best, step, stall = -np.inf, 2.0, 0
        target = objective - self.fixed_cost
        for _ in range(iterations):
            reduced = np.minimum(self.pair_cost - u[self.pair_row], 0.0)
            rho = np.bincount(self.pair_col, reduced, minlength=n)
            open_ = np.argsort(rho, kind="stable")[:self.k]
            value = u.sum() + np.minimum(fallback - u, 0.0).sum() + rho[open_].sum()
            if value > best + 1e-9 * abs(best if np.isfinite(best) else 1.0):
                best, stall = value, 0
            else:
                stall += 1
                if stall >= 20:
                    step, stall = step / 2.0, 0
            is_open = np.zeros(n, bool)
            is_open[open_] = True
            served = np.bincount(self.pair_row, (reduced < 0) & is_open[self.pair_col], minlength=m)
            grad = 1.0 - served - (fallback < u)
            norm = float(grad @ grad)
            if norm == 0 or step < 1e-4:
                break
            u = u + step * max(target - value, 1e-9 * abs(target)) / norm * grad
        return self.fixed_cost + float(best)

    def _milp(self, chosen):
        n, m, e = len(self.ids), self.rows.size, self.pair_row.size
        has_fb = np.isfinite(self.row_fallback)
        fb_rows = np.flatnonzero(has_fb)
        f = fb_rows.size
        # Columns: x (n sites), z (e pairs), f (fallback per row that has one).
        # Rows: assignment sum z + f = 1 (m), linking z - x <= 0 (e), sum x = k (1).
        assign = scipy.sparse.csr_array(
            (np.ones(e + f), (np.concatenate([self.pair_row, fb_rows]),
                              np.concatenate([n + np.arange(e), n + e + np.arange(f)]))),
            shape=(m, n + e + f))
        link = scipy.sparse.csr_array(
            (np.r_[np.ones(e), -np.ones(e)],
             (np.r_[np.arange(e), np.arange(e)], np.r_[n + np.arange(e), self.pair_col])),
            shape=(e, n + e + f))
        count = scipy.sparse.csr_array((np.ones(n), (np.zeros(n, int), np.arange(n))),
                                       shape=(1, n + e + f))
        matrix = scipy.sparse.csr_array(scipy.sparse.vstack([assign, link, count]))
        cost = np.concatenate([np.zeros(n), self.pair_cost, self.row_fallback[fb_rows]])
        # Warm start: each row to its cheapest option among the chosen sites.
        x = np.isin(np.arange(n), chosen)
        z = np.zeros(e)
        fb = np.zeros(f)
        best = self._row_costs(chosen)
        open_pair = x[self.pair_col] & (self.pair_cost <= best[self.pair_row])
        first_pair = np.flatnonzero(open_pair)
        _, take = np.unique(self.pair_row[first_pair], return_index=True)
        z[first_pair[take]] = 1.0
        served = np.zeros(m, bool)
        served[self.pair_row[first_pair[take]]] = True
        fb[~served[fb_rows]] = 1.0
        start = np.concatenate([x.astype(float), z, fb])
        return (cost, matrix, np.r_[np.ones(m), np.full(e, -np.inf), self.k],
                np.r_[np.ones(m), np.zeros(e), self.k], np.ones(n + e + f),
                np.r_[np.ones(n, bool), np.zeros(e + f, bool)], start)

    def _result(self, chosen, objective, bound, status, seconds) -> SitingResult:
        return SitingResult("pmedian", [self.ids[j] for j in chosen], objective, bound,
                            _gap(objective, bound), status, self.served,
                            float(self.weights.sum()), self.excluded, seconds, self.rows.size)


# --- siting on a region ------------------------------------------------------------------

def optimize(context: AccessContext, candidates: gpd.GeoDataFrame, model: str, *,
             minutes: float = 15.0, k: int | None = None,
             mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
             types: Sequence[str] = BASIC_CARE_TYPES, cap_minutes: float = CAP_MINUTES,
             time_limit: float = TIME_LIMIT_S, max_size: int = MAX_SIZE) -> SitingResult:
    """Choose new sites among ``candidates`` for a region, existing facilities kept open.

    Demand is the population points (residents), each travelling by its mode to
    the site; the open facilities of ``types`` are the existing sites.

    Parameters
    ----------
    context
        The region and year.
    candidates
        Candidate sites (WGS-84 points with an ``id``).
    model
        ``'mclp'``, ``'lscp'`` or ``'pmedian'``.
    minutes
        Coverage threshold T (MCLP, LSCP), inclusive.
    k
        Number of new sites (MCLP, p-median).
    cap_minutes
        p-median: a candidate farther than this from a resident never serves them,
        and a resident no open facility reaches counts this time until a new site
        serves them (residents neither reaches are excluded and reported).
    time_limit, max_size
        See :class:`MaximalCovering`.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: expected one of {', '.join(MODELS)}")
    if model != "lscp" and k is None:
        raise ValueError(f"the {model} model needs k, the number of new sites")
    weights = context.population["population"].to_numpy(dtype=float)
    baseline, _ = context.seconds_by_kind(mode, context.facilities(types))
    ids = candidates["id"].astype(str).tolist()
    kw = {"candidate_ids": ids, "time_limit": time_limit, "max_size": max_size}
    if model == "pmedian":
        # A pair no faster than the resident's existing facility is never used
        # (PMedian drops it), so it is not built: 2.7M pairs -> 139k for the default
        # pack's 537 candidates at 60 min. Residents no facility reaches keep every
        # pair (their fallback, the cap, depends on whether any candidate reaches them).
        cost = site_point_seconds(context, candidates, cap_minutes * 60.0, mode, below=baseline)
        # Residents no open facility reaches but a candidate does count the cap
        # until served, so that k sites never make the model infeasible.
        fallback = np.where(np.isinf(baseline) & (np.diff(cost.indptr) > 0), cap_minutes * 60.0,
                            baseline)
        return PMedian(cost, weights, k, fallback=fallback, **kw).solve()
    cost = site_point_seconds(context, candidates, minutes * 60.0, mode)
    existing = within(baseline, minutes)
    if model == "mclp":
        return MaximalCovering(cost, weights, k, existing=existing, **kw).solve()
    return SetCovering(cost, weights, existing=existing, **kw).solve()
