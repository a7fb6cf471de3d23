"""Sites on the analysed roads, and the best sites to move a centre to (迁建选址).

A site picked on the map is snapped to the road network the analysis uses
(:func:`snap_site`), so what the planner sees is what is counted; a pick far from
every analysed road is flagged (:data:`FAR_FROM_ROAD_M`).

:func:`best_moves` ranks candidate sites for moving one facility: the old site
closes and the new one opens, and each candidate is ranked by the net change of
residents within the threshold (gained minus lost), exactly as a full scenario
comparison would count it, with one bounded search per candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage import routing
from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext, within
from coverage.facilities import BASIC_CARE_TYPES
from coverage.population import assign_townships
from coverage.siting import site_point_seconds

#: A picked site farther than this from every analysed road is flagged (metres).
FAR_FROM_ROAD_M = 200.0


@dataclass(frozen=True)
class SnappedSite:
    """A picked point moved onto the analysed road network.

    Attributes
    ----------
    lon, lat
        The snapped point (the nearest road node usable by the mode), WGS-84.
    distance_m
        Straight distance from the picked point to it.
    far
        ``distance_m`` is above :data:`FAR_FROM_ROAD_M`: residents reach the site
        only through a long off-road leg, so the pick is likely not what was meant.
    """

    lon: float
    lat: float
    distance_m: float
    far: bool


def snap_site(graph: routing.Graph, lon: float, lat: float) -> SnappedSite:
    """The nearest node of ``graph`` open to its mode to a picked point (WGS-84)."""
    snap = routing.snap_points(graph, [lon], [lat])
    node = int(snap.node[0])
    if node < 0:
        raise ValueError(f"the point {lon:.5f}, {lat:.5f} cannot be placed on the network")
    distance = float(snap.distance_m[0])
    return SnappedSite(lon=float(graph.lon[node]), lat=float(graph.lat[node]),
                       distance_m=distance, far=distance > FAR_FROM_ROAD_M)


def road_lines(graph: routing.Graph, area=None) -> gpd.GeoDataFrame:
    """The analysed roads of a graph as WGS-84 lines (one row per road, both directions
    once), clipped to ``area`` (a WGS-84 polygon) when given, for drawing."""
    u, v = graph.edge_u, graph.edge_v
    first = np.minimum(u, v) * graph.n_nodes + np.maximum(u, v)
    _, keep = np.unique(first, return_index=True)
    u, v = u[keep], v[keep]
    lines = shapely.linestrings(
        np.stack([np.column_stack([graph.lon[u], graph.lat[u]]),
                  np.column_stack([graph.lon[v], graph.lat[v]])], axis=1))
    frame = gpd.GeoDataFrame(geometry=lines, crs="EPSG:4326")
    if area is not None:
        frame = frame[frame.intersects(area)]
    return frame.reset_index(drop=True)


def best_moves(context: AccessContext, facility_id: str, candidates: gpd.GeoDataFrame, *,
               minutes: float = 15.0, mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
               types: Sequence[str] = BASIC_CARE_TYPES) -> pd.DataFrame:
    """Candidate sites for moving ``facility_id``, best net change first.

    The facility's old site closes and the candidate opens; every other open
    facility of ``types`` stays. A resident counts as covered when some facility is
    within ``minutes`` (inclusive), by their township kind's mode.

    Returns
    -------
    pandas.DataFrame
        One row per candidate: ``id``, ``township_code``, ``lon``, ``lat``,
        ``gained`` (residents newly within the threshold), ``lost`` (residents the
        old site covered that nothing covers after the move), ``net`` (gained - lost)
        and ``covered_after``; sorted by ``net`` (largest first), then ``id``.

    Raises
    ------
    KeyError
        When ``facility_id`` is not an open facility of ``types``.
    """
    open_now = context.facilities(list(types))
    if facility_id not in set(open_now["id"].astype(str)):
        raise KeyError(facility_id)
    weight = context.population["population"].to_numpy(dtype=float)
    before, _ = context.seconds_by_kind(mode, open_now)
    others = open_now[open_now["id"].astype(str) != facility_id]
    without, _ = context.seconds_by_kind(mode, others)
    covered_before = within(before, minutes)
    covered_without = within(without, minutes)
    n = len(candidates)
    matrix = site_point_seconds(context, candidates, minutes * 60.0, mode).tocsc()
    site = np.repeat(np.arange(n), np.diff(matrix.indptr))
    point = matrix.indices
    reach = within(matrix.data, minutes)
    # Residents covered after the move: covered without the old site, or by the new one.
    newly = reach & ~covered_without[point]
    added = np.bincount(site, np.where(newly, weight[point], 0.0), minlength=n)
    base_without = float(weight[covered_without].sum())
    base_before = float(weight[covered_before].sum())
    after = base_without + added
    # Of those the old site alone covered, the ones the new site covers again.
    alone = covered_before & ~covered_without
    regained = np.bincount(site, np.where(reach & alone[point], weight[point], 0.0), minlength=n)
    lost = float(weight[alone].sum()) - regained
    geometry = candidates.geometry
    region = context.region
    out = pd.DataFrame({
        "id": candidates["id"].astype(str).to_numpy(),
        "township_code": assign_townships(region.townships, geometry.x.to_numpy(),
                                          geometry.y.to_numpy(), region.metric_crs),
        "lon": geometry.x.to_numpy(), "lat": geometry.y.to_numpy(),
        "gained": after - base_before + lost, "lost": lost,
        "net": after - base_before, "covered_after": after,
    })
    out = out.sort_values(["net", "id"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)
