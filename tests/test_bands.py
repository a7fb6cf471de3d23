"""Bands show what is counted, on the real packs; scenarios that crashed in GEOS now run."""

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from coverage.access import AccessContext, within
from coverage.bands import RegionCells, region_bands
from coverage.cli import main
from coverage.network import RoadNetwork
from coverage.region import load_region
from coverage.scenarios import Baseline, Edit, Scenario, apply, area_band, compare
from coverage.targets import circle_parameters

ROOT = Path(__file__).resolve().parents[1]
BEIBEI = ROOT / "regions" / "beibei"


@pytest.fixture(scope="module", params=[ROOT, BEIBEI], ids=["gaoxin", "beibei"])
def pack(request, tmp_path_factory):
    region = load_region(request.param)
    return AccessContext(region, cache_dir=tmp_path_factory.mktemp("graphs"))


def residents_inside(shape, points) -> np.ndarray:
    return shapely.contains_xy(shape, points.geometry.x.to_numpy(), points.geometry.y.to_numpy())


@pytest.mark.parametrize("mode", ["walk", "ebike", "car", "by_kind"])
def test_residents_inside_the_band_are_those_counted(pack, mode):
    params = circle_parameters(pack.region)
    mode = params["modes"] if mode == "by_kind" else mode
    facilities = pack.facilities(params["types"])
    bands = region_bands(pack, facilities, mode, [5, 15, 30])
    assert bands.geometry.is_valid.all()
    seconds = (pack.seconds(mode, facilities) if isinstance(mode, str)
               else pack.seconds_by_kind(mode, facilities))[0]
    people = pack.population["population"].to_numpy(float)
    for minutes, shape in zip(bands["minutes"], bands.geometry):
        inside = residents_inside(shape, pack.population)
        counted = within(seconds, minutes)
        assert (inside == counted).all(), (minutes, people[inside].sum(), people[counted].sum())


def test_the_default_pack_band_holds_exactly_the_counted_residents():
    # Issue 13: the 75 m road buffer held 111,567 of the 223,699 residents then counted.
    context = AccessContext(load_region(ROOT), cache_dir=False)
    params = circle_parameters(context.region)
    facilities = context.facilities(params["types"])
    seconds, _ = context.seconds_by_kind(params["modes"], facilities)
    band = region_bands(context, facilities, params["modes"], [15]).geometry.iloc[0]
    people = context.population["population"].to_numpy(float)
    counted = people[within(seconds, 15)].sum()
    assert counted > 0.3 * people.sum()
    assert people[residents_inside(band, context.population)].sum() == counted


def tiny_region(tmp_path):
    """A one-township region on a three-node one-way street A -> B -> C (150 m each),
    its one facility at B, residents where the issue put them."""
    region = load_region(ROOT)
    metric = region.metric_crs
    to_wgs = pyproj.Transformer.from_crs(metric, "EPSG:4326", always_xy=True)
    x0, y0 = 645_020.0, 3_264_020.0  # a 40 m cell centre
    lon, lat = to_wgs.transform([x0, x0 + 150, x0 + 300], [y0, y0, y0])
    nodes = pd.DataFrame({"x": lon, "y": lat}, index=pd.Index([1, 2, 3], dtype=np.int64))
    edges = pd.DataFrame({"u": [1, 2], "v": [2, 3], "length": [150.0, 150.0],
                          "highway": "residential", "oneway": True, "name": ""})
    box = shapely.box(x0 - 400, y0 - 400, x0 + 700, y0 + 400)
    outline = shapely.transform(box, lambda c: np.column_stack(to_wgs.transform(c[:, 0], c[:, 1])))
    town = region.townships.iloc[[0]].copy()
    town["kind"] = "town"
    town = town.set_geometry([outline], crs="EPSG:4326")
    facility = region.facilities.iloc[[0]].copy()
    facility = facility.set_geometry(gpd.points_from_xy([lon[1]], [lat[1]]), crs="EPSG:4326")
    tiny = dataclasses.replace(region, townships=town, facilities=facility, boundary=outline,
                               _network=RoadNetwork(nodes=nodes, edges=edges, source="tiny"))
    return tiny, (x0, y0), to_wgs


def test_area_band_times_one_way_streets_towards_the_facility(tmp_path):
    region, (x0, y0), to_wgs = tiny_region(tmp_path)
    context = AccessContext(region, cache_dir=False)
    cells = RegionCells.of(region)
    types = list(context.facilities()["type"].unique())
    seconds, band = area_band(context, "car", types, 0.6, cells=cells)
    at = {cell: k for k, cell in enumerate(cells.cells.index)}
    grid = cells.cells.grid
    # 80% along A -> B: 30 m short of B, 36 s' walk at 3 km/h (24 s at 4.5): in.
    assert band[at[int(grid.cell_of(x0 + 120, y0))]]
    # On B -> C near C: C cannot drive back to B, so not counted, and not drawn.
    near_c = at[int(grid.cell_of(x0 + 280, y0))]
    assert not band[near_c] and seconds[near_c] > 36
    # The same rule as the residents' count.
    lon, lat = to_wgs.transform([x0 + 120, x0 + 280], [y0, y0])
    points = gpd.GeoDataFrame({"township_code": str(region.townships["code"].iloc[0]),
                               "population": [1.0, 1.0], "x": [x0 + 120, x0 + 280],
                               "y": [y0, y0]}, geometry=gpd.points_from_xy(lon, lat),
                              crs="EPSG:4326")
    counted = AccessContext(region, cache_dir=False, population=points)
    times, _ = counted.seconds("car", counted.facilities(types))
    assert within(times, 0.6).tolist() == [True, False]


CRASHED = [(ROOT, "plan-2025"), (ROOT, "xianglushan-resiting"), (BEIBEI, "plan-2025"),
           (BEIBEI, "redcross-relocation")]


@pytest.mark.parametrize("pack_path, name", CRASHED, ids=[f"{p.name}-{n}" for p, n in CRASHED])
def test_scenarios_that_crashed_in_geos_write_their_layers(pack_path, name, tmp_path):
    # Issue 14: TopologyException "unable to assign free hole to a shell".
    out = tmp_path / "out"
    assert main(["scenario", str(pack_path), name, "--out-dir", str(out)]) == 0
    for change in ("gained", "lost"):
        layer = json.loads((out / f"{change}.geojson").read_text(encoding="utf-8"))
        shapes = [shapely.geometry.shape(f["geometry"]) for f in layer["features"]]
        assert all(s.is_valid for s in shapes)


def test_moving_jingguan_hospital_draws_its_bands():
    # Issue 14: moving 北碚区静观医院 in the workbench showed the GEOS exception.
    from coverage import views

    region = load_region(BEIBEI)
    params = circle_parameters(region)
    context = AccessContext(region, year=2025, cache_dir=False)
    base = views.baseline(context, minutes=params["minutes"], types=params["types"],
                          mode=params["modes"])
    move = Scenario(name_zh="移址", name_en="move", year=2025, edits=[
        Edit("move", "bb-jingguan", {"lon": 106.5777, "lat": 29.9050})])
    result, _ = views.what_if(base, move, minutes=params["minutes"])
    before, after = views.what_if_bands(base, result)
    assert before.geometry.is_valid.all() and after.geometry.is_valid.all()
    # The gained and lost areas hold exactly the residents gaining and losing access.
    points = base.context.population
    people = points["population"].to_numpy(float)
    for change, shape in zip(result.changes["change"], result.changes.geometry):
        assert shape.is_valid
        total = result.totals.iloc[0][change]
        assert people[residents_inside(shape, points)].sum() == pytest.approx(total)
    # The after band holds exactly the residents counted after.
    inside = residents_inside(after.geometry.iloc[0], points)
    assert people[inside].sum() == pytest.approx(result.totals.iloc[0]["covered_after"])


def test_an_unchanged_side_is_not_drawn_again(tmp_path):
    region = load_region(ROOT)
    base = Baseline(region, 2025, cache_dir=tmp_path)
    same = base.context.sharing(dataclasses.replace(region, facilities=region.facilities))
    assert area_band(same, "walk", base.types, base.area_minutes, cells=base.cells,
                     unchanged=base.band("walk")) is base.band("walk")
    move = Scenario(name_zh="移址", name_en="move", year=2025, edits=[
        Edit("move", "gx-shiban-thc", {"lon": 106.36, "lat": 29.44})])
    result = compare(region, move, baseline=base)
    assert result.band_after is not None and (result.band_after != base.kind_band()).any()


def test_mode_cells_are_each_cells_own_mode(pack):
    cells = RegionCells.cached(pack.region, cache_dir=pack.cache_dir)
    kinds = cells.town_kinds[cells.township]
    for mode in ("walk", {"street": "walk", "town": "ebike", "township": "ebike"},
                 {"street": "car"}):  # towns and 乡 without a mode travel by none
        own = (np.full(kinds.size, mode, dtype=object) if isinstance(mode, str)
               else np.array([mode.get(k, "") for k in kinds], dtype=object))
        masks = cells.mode_cells(mode)
        assert list(masks) == sorted(set(own) - {""})
        for m, sel in masks.items():
            assert np.array_equal(sel, own == m)
