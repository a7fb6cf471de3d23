"""Population coverage: how many residents reach a facility within a time.

For a travel mode (or a mode per township kind), a set of facility types and a
year, every population point (:mod:`coverage.population`) is snapped to the road
graph with its off-road walking leg (no cap: :func:`coverage.routing.snap_points`), and its time to the nearest open facility is
the access leg + the network time + the facility's own access leg
(:func:`travel_seconds`), or a straight walk across country to the facility when that
is faster. Residents are then counted within each threshold, per
township and for the region (:func:`coverage_table`).

Thresholds are inclusive: a resident exactly 15 minutes away is within 15 minutes.
Times are float sums of edge times, so the comparison allows
:data:`coverage.routing.TOLERANCE_S` (one microsecond) of slack (:func:`within`).
Residents who reach no facility are not covered. Residents whose off-road leg is
longer than :data:`coverage.modes.OFF_NETWORK_M` are off-network (离网居民,
:meth:`AccessContext.off_network`): counted like everyone, and reported.

:class:`AccessContext` keeps what a region's analyses share, computed once: the
population points, one graph per mode (also cached on disk under
``<pack>/cache/``), the points' snaps, and travel times per (mode, facility set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage import routing
from coverage.facilities import BASIC_CARE_TYPES, active_facilities
from coverage.population import population_points

#: Default mode per township kind: walking in 街道, e-bike in 镇 and 乡.
DEFAULT_MODE_BY_KIND = {"street": "walk", "town": "ebike", "township": "ebike"}


def within(seconds: np.ndarray, minutes: float) -> np.ndarray:
    """``seconds <= minutes`` (inclusive, with :data:`routing.TOLERANCE_S` slack); inf is out."""
    return np.asarray(seconds, float) <= minutes * 60.0 + routing.TOLERANCE_S


class AccessContext:
    """A region's population, graphs and travel times for one year, each computed once.

    Parameters
    ----------
    region
        A :class:`coverage.region.Region` with a road network.
    year
        Evaluate the facility register as of this year (``None``: as it stands).
    population
        Population points (:func:`coverage.population.population_points`); default
        the pack's own.
    cache_dir
        Folder for built graphs; default ``<pack>/cache``. ``False``: no disk cache.
    """

    def __init__(self, region, *, year: int | None = None,
                 population: gpd.GeoDataFrame | None = None, cache_dir=None) -> None:
        self.region = region
        self.year = year
        self._population = population
        self.cache_dir = None if cache_dir is False else (cache_dir or region.path / "cache")
        self._graphs: dict[str, routing.Graph] = {}
        self._snaps: dict[str, routing.Snap] = {}
        self._times: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._nearest_sites = routing.NearestSites()  # one straight-walk query for all modes

    def sharing(self, region) -> "AccessContext":
        """A context for ``region`` (this pack with another facility register, e.g. a
        scenario's) sharing this one's population, graphs and snapped points: they
        depend on roads and residents only, so the new side costs one
        nearest-facility pass per mode."""
        other = AccessContext(region, year=self.year, population=self.population,
                              cache_dir=self.cache_dir if self.cache_dir is not None else False)
        other._graphs = self._graphs
        other._snaps = self._snaps
        return other

    @property
    def population(self) -> gpd.GeoDataFrame:
        """Population points with their township's ``kind``."""
        if self._population is None:
            self._population = population_points(self.region)
        if "kind" not in self._population:
            kinds = dict(zip(self.region.townships["code"].astype(str),
                             self.region.townships["kind"]))
            self._population = self._population.assign(
                kind=self._population["township_code"].map(kinds))
        return self._population

    def graph(self, mode: str) -> routing.Graph:
        """The region's travel-time graph for ``mode`` (built once, cached on disk)."""
        if mode not in self._graphs:
            self._graphs[mode] = routing.build_graph(
                self.region.load_network(), mode, metric_crs=self.region.metric_crs,
                cache_dir=self.cache_dir, **self.region.graph_options())
        return self._graphs[mode]

    def facilities(self, types: Iterable[str] | None = None) -> gpd.GeoDataFrame:
        """The facilities open in the context's year, of ``types`` (all when ``None``)."""
        return active_facilities(self.region.facilities, self.year, types)

    def _snap(self, mode: str) -> routing.Snap:
        if mode not in self._snaps:
            points = self.population.geometry
            self._snaps[mode] = routing.snap_points(self.graph(mode), points.x.to_numpy(),
                                                    points.y.to_numpy())
        return self._snaps[mode]

    def off_network(self, mode_by_kind: Mapping[str, str] | str) -> np.ndarray:
        """Per population point: whether its off-road leg, by its own mode (one, or
        its township kind's), is longer than :data:`coverage.modes.OFF_NETWORK_M`."""
        modes = point_modes(self.population, mode_by_kind)
        far = np.zeros(len(modes), dtype=bool)
        for mode in sorted(set(modes)):
            sel = modes == mode
            far[sel] = self._snap(mode).off_network[sel]
        return far

    def off_network_residents(self, mode_by_kind: Mapping[str, str] | str) -> pd.Series:
        """Off-network residents (:meth:`off_network`) per township code, every
        township of the region listed (0 where none)."""
        points = self.population
        weight = np.where(self.off_network(mode_by_kind),
                          points["population"].to_numpy(dtype=float), 0.0)
        codes = self.region.townships["code"].astype(str).to_numpy()
        return pd.Series(weight).groupby(points["township_code"].astype(str).to_numpy()).sum(
            ).reindex(codes, fill_value=0.0)

    def seconds(self, mode: str, facilities: gpd.GeoDataFrame, *,
                from_facility: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per population point: seconds to the nearest of ``facilities`` and its row.

        ``from_facility`` times the trip from the facility to the resident (an
        ambulance's), otherwise from the resident to the facility. Returns
        ``(seconds, index)``: ``inf`` and ``-1`` for points that reach none.
        """
        key = (mode, tuple(facilities["id"]), from_facility)
        if key not in self._times:
            self._times[key] = travel_seconds(self.graph(mode), self._snap(mode), facilities,
                                              from_facility=from_facility,
                                              nearest_sites=self._nearest_sites)
        return self._times[key]

    def seconds_by_kind(self, mode_by_kind: Mapping[str, str] | str,
                        facilities: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`seconds`, each point travelling by its township kind's mode.

        Each mode's times are computed once for all points; each point then takes
        the one of its own kind.
        """
        modes = point_modes(self.population, mode_by_kind)
        seconds = np.full(len(modes), np.inf)
        nearest = np.full(len(modes), -1, dtype=np.int64)
        for mode in sorted(set(modes)):
            sel = modes == mode
            s, n = self.seconds(mode, facilities)
            seconds[sel], nearest[sel] = s[sel], n[sel]
        return seconds, nearest


def point_modes(points: pd.DataFrame, mode_by_kind: Mapping[str, str] | str) -> np.ndarray:
    """The travel mode of each point: one mode, or its township kind's."""
    if isinstance(mode_by_kind, str):
        return np.full(len(points), mode_by_kind, dtype=object)
    kinds = points["kind"].to_numpy(dtype=object)
    missing = sorted({str(k) for k in kinds if k not in mode_by_kind})
    if missing:
        raise ValueError(f"no travel mode for township kind(s) {', '.join(missing)}: "
                         f"the mapping covers {', '.join(sorted(mode_by_kind))}")
    return np.array([mode_by_kind[k] for k in kinds], dtype=object)


def travel_seconds(graph: routing.Graph, snap: routing.Snap, facilities: gpd.GeoDataFrame, *,
                   from_facility: bool = False,
                   nearest_sites: routing.NearestSites | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Seconds between snapped points and the nearest facility, with both access legs,
    or straight across country when that is faster (:func:`coverage.routing.direct_seconds`).

    Parameters
    ----------
    graph
        The mode's graph.
    snap
        The points snapped to ``graph`` (:func:`coverage.routing.snap_points`).
    facilities
        Point facilities (WGS-84); each is snapped with its own access leg.
    from_facility
        Time the facility-to-point trip instead of point-to-facility (they differ
        only where one-way streets are respected).
    nearest_sites
        Keeps the straight walks' nearest-site query for the next call on the same
        points and facilities (another mode's), as :func:`coverage.routing.direct_seconds`.

    Returns
    -------
    seconds, index
        Per point: total seconds (``inf`` if unreachable) and the row in
        ``facilities`` of the nearest facility (``-1`` if none).
    """
    n = snap.node.size
    seconds = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    if len(facilities) == 0:
        return seconds, nearest
    sites = routing.snap_points(graph, facilities.geometry.x.to_numpy(),
                                facilities.geometry.y.to_numpy())
    node_seconds, node_source = routing.nearest_facility(
        graph, sites.node, sites.access_seconds, to_sources=not from_facility)
    snapped = snap.node >= 0
    seconds[snapped] = snap.access_seconds[snapped] + node_seconds[snap.node[snapped]]
    nearest[snapped] = node_source[snap.node[snapped]]
    walk, site = routing.direct_seconds(graph, snap, sites,
                                        nearest_sites=nearest_sites)
    faster = walk < seconds
    seconds[faster], nearest[faster] = walk[faster], site[faster]
    return seconds, nearest


def coverage_table(context: AccessContext, *, minutes: Sequence[float] = (15,),
                   types: Iterable[str] = BASIC_CARE_TYPES,
                   mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND) -> pd.DataFrame:
    """Residents within each threshold of the nearest open facility of ``types``.

    Parameters
    ----------
    context
        The region and year (:class:`AccessContext`).
    minutes
        Thresholds in minutes (inclusive).
    types
        Facility types (default :data:`coverage.facilities.BASIC_CARE_TYPES`).
    mode
        One mode for everyone, or a mapping township kind -> mode (default
        :data:`DEFAULT_MODE_BY_KIND`).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per township and threshold, then the region's rows
        (``code`` empty): ``code``, ``name``, ``kind``, ``mode``, ``minutes``,
        ``population``, ``covered`` (residents within) and ``share``.
    """
    facilities = context.facilities(types)
    seconds, _ = context.seconds_by_kind(mode, facilities)
    return population_within(context.population, seconds, minutes,
                             context.region.townships, mode=mode,
                             region_name=context.region.name_zh)


def population_within(points: pd.DataFrame, seconds: np.ndarray, minutes: Sequence[float],
                      townships: pd.DataFrame, *, mode: Mapping[str, str] | str = "",
                      region_name: str = "") -> pd.DataFrame:
    """Aggregate point populations within each threshold per township and overall."""
    codes = townships["code"].astype(str).to_numpy()
    names = dict(zip(codes, townships["name"]))
    kinds = dict(zip(codes, townships["kind"]))
    weight = points["population"].to_numpy(dtype=float)
    point_codes = points["township_code"].astype(str).to_numpy()
    total = pd.Series(weight).groupby(point_codes).sum().reindex(codes, fill_value=0.0)
    rows = []
    for m in minutes:
        inside = within(seconds, m)
        covered = pd.Series(np.where(inside, weight, 0.0)).groupby(point_codes).sum().reindex(
            codes, fill_value=0.0)
        for code in codes:
            kind = kinds[code]
            rows.append({"code": code, "name": names[code], "kind": kind,
                         "mode": mode if isinstance(mode, str) else mode.get(kind, ""),
                         "minutes": m, "population": total[code], "covered": covered[code]})
        rows.append({"code": "", "name": region_name, "kind": "",
                     "mode": mode if isinstance(mode, str) else "by kind",
                     "minutes": m, "population": total.sum(), "covered": covered.sum()})
    out = pd.DataFrame(rows)
    out["share"] = out["covered"] / out["population"].where(out["population"] > 0)
    return out
