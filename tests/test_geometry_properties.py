"""Property tests: random networks, facility moves and thresholds never break the geometry.

Isochrones, gaps and scenario deltas are traced from cells (coverage.bands): whatever
the network, every polygon is valid, holds exactly the cells counted, and no GEOS
topology error can arise.
"""

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from coverage import routing
from coverage.access import AccessContext, within
from coverage.bands import RegionCells
from coverage.gaps import _cell_parts
from coverage.isochrones import facility_isochrones, graph_cells, isochrone_polygons
from coverage.network import RoadNetwork
from coverage.region import load_region
from coverage.scenarios import Baseline, coverage_changes

ROOT = Path(__file__).resolve().parents[1]
METRIC = "EPSG:32648"
X0, Y0 = 645_000.0, 3_264_000.0
SIDE = 1_200.0
_TO_WGS = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
CLASSES = ("residential", "primary", "footway", "motorway", "track")
PROPERTY = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

coordinate = st.floats(0, SIDE, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def networks(draw):
    n = draw(st.integers(2, 18))
    points = draw(st.lists(st.tuples(coordinate, coordinate), min_size=n, max_size=n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from(CLASSES), st.booleans()),
                          min_size=1, max_size=3 * n))
    lon, lat = _TO_WGS.transform([X0 + p[0] for p in points], [Y0 + p[1] for p in points])
    nodes = pd.DataFrame({"x": lon, "y": lat}, index=pd.Index(range(n), dtype=np.int64))
    u, v, highway, oneway = (list(c) for c in zip(*pairs))
    length = [max(float(np.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1])), 1.0)
              for a, b in zip(u, v)]
    edges = pd.DataFrame({"u": u, "v": v, "length": length, "highway": highway,
                          "oneway": oneway, "name": ""})
    return RoadNetwork(nodes=nodes, edges=edges, source="hypothesis")


def wgs(points):
    return _TO_WGS.transform([X0 + p[0] for p in points], [Y0 + p[1] for p in points])


def counted(graph, lon, lat, sites):
    seconds, _ = routing.nearest_facility(graph, sites.node, sites.access_seconds,
                                          to_sources=True)
    snap = routing.snap_points(graph, lon, lat)
    out = np.full(len(lon), np.inf)
    ok = snap.node >= 0
    out[ok] = snap.access_seconds[ok] + seconds[snap.node[ok]]
    return out


@PROPERTY
@given(network=networks(), mode=st.sampled_from(["walk", "ebike", "car"]),
       sites=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=3),
       minutes=st.lists(st.floats(0.2, 20, allow_nan=False), min_size=1, max_size=3))
def test_isochrones_are_valid_and_hold_exactly_the_places_counted(network, mode, sites, minutes):
    graph = routing.build_graph(network, mode, metric_crs=METRIC)
    snap = routing.snap_points(graph, *wgs(sites))
    seconds, _ = routing.nearest_facility(graph, snap.node, snap.access_seconds, to_sources=True)
    cells = graph_cells(graph, max(minutes) * 60.0, 40.0)
    merged = isochrone_polygons(graph, seconds, minutes, cells=cells)
    each = facility_isochrones(graph, snap.node, minutes, source_offsets=snap.access_seconds,
                               cells=cells)
    assert merged.geometry.is_valid.all() and each.geometry.is_valid.all()
    time = counted(graph, cells.lon, cells.lat, snap)
    for m, band in zip(merged["minutes"], merged.geometry):
        inside = shapely.contains_xy(band, cells.lon, cells.lat)
        assert (inside == within(time, m)).all()
        union = np.zeros_like(inside)
        for shape in each.loc[each["minutes"] == m, "geometry"]:
            union |= shapely.contains_xy(shape, cells.lon, cells.lat)
        assert (union == inside).all()


@PROPERTY
@given(cells=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1,
                      max_size=120, unique=True))
def test_gaps_are_valid_disjoint_and_hold_their_cells(cells):
    x = np.array([X0 + 100 + 200 * c for c, _ in cells])
    y = np.array([Y0 + 100 + 200 * r for _, r in cells])
    part, parts = _cell_parts(x, y, 200.0, METRIC)
    assert all(p.is_valid for p in parts)
    assert sum(p.area for p in parts) == len(cells) * 200.0 ** 2
    assert all(parts[k].contains(shapely.Point(a, b)) for k, a, b in zip(part, x, y))
    # Cells sharing an edge are one part; a part is one polygon.
    assert all(p.geom_type == "Polygon" for p in parts)


def region_on(network, facility_points):
    """The default pack with a random network, one square township, residents on every
    40 m cell and the given facilities (taken from the register, moved)."""
    region = load_region(ROOT)
    box = shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)
    outline = shapely.transform(box, lambda c: np.column_stack(_TO_WGS.transform(c[:, 0],
                                                                               c[:, 1])))
    town = region.townships.iloc[[0]].copy().set_geometry([outline], crs="EPSG:4326")
    town["kind"] = "town"
    facilities = region.facilities[region.facilities["status"] == "existing"].iloc[
        :len(facility_points)].copy()
    lon, lat = wgs(facility_points)
    facilities = facilities.set_geometry(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    facilities["opening_year"] = None
    facilities["closing_year"] = None
    return dataclasses.replace(region, townships=town, facilities=facilities, boundary=outline,
                               _network=network)


@PROPERTY
@given(network=networks(), sites=st.lists(st.tuples(coordinate, coordinate), min_size=1,
                                          max_size=3),
       moved=st.tuples(coordinate, coordinate), minutes=st.floats(0.5, 15, allow_nan=False))
def test_scenario_deltas_are_valid_and_hold_the_residents_gaining_and_losing(
        network, sites, moved, minutes):
    before = region_on(network, sites)
    cells = RegionCells.of(before)
    x, y = cells.cells.grid.centres(cells.cells.index)
    code = str(before.townships["code"].iloc[0])
    people = gpd.GeoDataFrame({"township_code": code, "population": 1.0, "x": x, "y": y},
                              geometry=gpd.points_from_xy(cells.cells.lon, cells.cells.lat),
                              crs="EPSG:4326")
    context = AccessContext(before, year=2025, cache_dir=False, population=people)
    base = Baseline(before, 2025, modes="ebike", types=list(before.facilities["type"]),
                    context=context, area_minutes=minutes)
    geometry = before.facilities.geometry.to_numpy().copy()
    geometry[0] = shapely.Point(*(c[0] for c in wgs([moved])))
    after_facilities = before.facilities.set_geometry(gpd.GeoSeries(
        geometry, index=before.facilities.index, crs="EPSG:4326"))
    after = context.sharing(dataclasses.replace(before, facilities=after_facilities))
    was = within(base.seconds(), minutes)
    now = within(after.seconds_by_kind("ebike", after.facilities(base.types))[0], minutes)
    changes, band_after = coverage_changes(base, after, gained=now & ~was, lost=was & ~now)
    assert (band_after == now).all() and (base.kind_band() == was).all()
    event(f"{len(changes)} changed areas")
    target(float((now != was).sum()), label="residents changing")
    lon, lat = people.geometry.x.to_numpy(), people.geometry.y.to_numpy()
    for change, flagged in (("gained", now & ~was), ("lost", was & ~now)):
        rows = changes[changes["change"] == change]
        inside = np.zeros(len(people), dtype=bool)
        for shape in rows.geometry:
            assert shape.is_valid
            inside |= shapely.contains_xy(shape, lon, lat)
        assert (inside == flagged).all()
        assert rows["residents"].sum() == flagged.sum()
