"""The shipped region packs are reproducible from ../shared and internally consistent."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
#: The reference data beside the repository (COVERAGE_SHARED points elsewhere, e.g. from a
#: git worktree).
SHARED = Path(os.environ.get("COVERAGE_SHARED", ROOT.parent / "shared"))

pytestmark = pytest.mark.skipif(not (SHARED / "data").is_dir(),
                                reason="../shared (reference data) is not beside the repository")

sys.path.insert(0, str(ROOT / "scripts"))
import build_region_packs as build  # noqa: E402
from coverage import pack_init  # noqa: E402

PACK_DIRS = {spec.slug: spec.folder for spec in build.PACKS}


def _committed_files(folder: str) -> list[str]:
    """The files a committed pack's manifest lists, plus the manifest itself."""
    manifest = tomllib.loads((ROOT / folder / "region.toml").read_text(encoding="utf-8"))
    return ["region.toml", *sorted(manifest["files"].values())]


#: Packs are committed with a network once coverage.synthetic is; rebuild likewise.
WITH_NETWORK = any("network/roads.osm" in _committed_files(f) for f in PACK_DIRS.values())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("packs")
    build.build_all(SHARED, out, with_network=WITH_NETWORK, verbose=False)
    return out


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


@pytest.mark.parametrize("slug", sorted(PACK_DIRS))
def test_build_is_byte_identical_to_committed(built, slug):
    folder = PACK_DIRS[slug]
    generated = sorted(p.relative_to(built / folder).as_posix()
                       for p in (built / folder).rglob("*")
                       if p.is_file() and p.relative_to(built / folder).parts[0] != "regions")
    assert generated == sorted(_committed_files(folder))
    for rel in _committed_files(folder):
        fresh = (built / folder / rel).read_bytes()
        committed = (ROOT / folder / rel).read_bytes()
        assert fresh == committed, f"{folder}/{rel} differs: rerun scripts/build_region_packs.py"


def test_district_populations_sum_to_census():
    census = build.read_census(SHARED)
    for adcode in ("500106", "500107", "500109"):
        district = build.build_district(SHARED, adcode, census)
        assert district.townships["population"].sum() == census.loc[adcode, "population_2020"]
        assert (district.townships["population"] > 0).all()


def test_pack_populations_are_the_district_estimates(built):
    census = build.read_census(SHARED)
    shipped = pack_init.read_census()
    estimates = pd.concat(
        [build.build_district(SHARED, a, census).townships for a in ("500106", "500107", "500109")]
        + [pack_init.build_district(pack_init.DATA, a, shipped, seats=build.ILLUSTRATIVE_SEATS,
                                    fill_seats=True).townships for a in ("500101", "500118")]
    ).set_index("code")
    for slug, folder in PACK_DIRS.items():
        for f in _features(built / folder / "population/townships.geojson"):
            p = f["properties"]
            assert p["population"] == estimates.loc[p["code"], "population"]
            assert p["population_quality"] == "estimated" and p["population_year"] == 2020
    beibei = _features(built / PACK_DIRS["beibei"] / "population/townships.geojson")
    assert len(beibei) == 17
    assert sum(f["properties"]["population"] for f in beibei) == census.loc["500109",
                                                                            "population_2020"]
    for slug, adcode, count in (("wanzhou", "500101", 52), ("yongchuan", "500118", 23)):
        towns = _features(built / PACK_DIRS[slug] / "population/townships.geojson")
        assert len(towns) == count
        assert sum(f["properties"]["population"] for f in towns) == census.loc[
            adcode, "population_2020"]


@pytest.mark.parametrize("slug", sorted(PACK_DIRS))
def test_townships_tile_the_boundary(built, slug):
    folder = built / PACK_DIRS[slug]
    boundary = pack_init.to_metric(shape(_features(folder / "boundary.geojson")[0]["geometry"]))
    polygons = [pack_init.to_metric(shape(f["geometry"]))
                for f in _features(folder / "population/townships.geojson")]
    assert all(p.is_valid and not p.is_empty for p in polygons)
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    pairs = left < right
    overlap = [polygons[i].intersection(polygons[j]).area
               for i, j in zip(left[pairs], right[pairs])]
    assert max(overlap, default=0.0) < 1.0  # m²: only rounding slivers along shared edges
    union = shapely.union_all(polygons)
    assert union.symmetric_difference(boundary).area < 1e-6 * boundary.area


@pytest.mark.parametrize("slug", sorted(PACK_DIRS))
def test_facilities_inside_boundary_and_their_township(built, slug):
    folder = built / PACK_DIRS[slug]
    boundary = shape(_features(folder / "boundary.geojson")[0]["geometry"])
    townships = {f["properties"]["code"]: shape(f["geometry"])
                 for f in _features(folder / "population/townships.geojson")}
    facilities = _features(folder / "facilities.geojson")
    for f in facilities:
        point = shape(f["geometry"])
        assert boundary.contains(point), f["properties"]["id"]
        assert townships[f["properties"]["township_code"]].contains(point), f["properties"]["id"]
        assert f["properties"]["source"] and f["properties"]["source_quote"]
    coords = {tuple(f["geometry"]["coordinates"]) for f in facilities}
    assert len(coords) == len(facilities)  # no two facilities coincide


@pytest.mark.parametrize("slug", sorted(PACK_DIRS))
def test_ids_unique_and_replaces_resolve(built, slug):
    folder = built / PACK_DIRS[slug]
    props = [f["properties"] for f in _features(folder / "facilities.geojson")]
    ids = [p["id"] for p in props]
    assert len(set(ids)) == len(ids)
    assert all(p["replaces"] in ids for p in props if p["replaces"])
    codes = [f["properties"]["code"] for f in _features(folder / "population/townships.geojson")]
    assert len(set(codes)) == len(codes)
    villages = pd.read_csv(folder / "population/villages.csv", dtype=str)
    assert villages["code"].is_unique
    assert set(villages["township_code"]) <= set(codes)


def test_every_beibei_township_has_a_health_centre(built):
    props = [f["properties"] for f in _features(built / "regions/beibei/facilities.geojson")]
    primary = {p["township_code"] for p in props
               if p["type"] in ("township_health_centre", "community_health_centre")
               and p["status"] in ("existing", "relocating")}
    codes = {f["properties"]["code"]
             for f in _features(built / "regions/beibei/population/townships.geojson")}
    assert primary == codes


def test_largest_remainder_sums_exactly():
    assert pack_init.largest_remainder(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]
    values = pack_init.largest_remainder(np.array([0.3, 2.2, 7.5, 1e-3]), 1_000_003)
    assert values.sum() == 1_000_003


def test_quotes_are_checked_against_the_seeds(tmp_path):
    rows = build.read_facility_sources(build.SOURCES / "gaoxin_facilities.csv")
    build.check_quotes(rows, Path("gaoxin_facilities.csv"), SHARED / "seeds")
    rows[0]["source_quote"] = "虎溪社区卫生服务中心拟设床位900张"
    with pytest.raises(build.InputError, match="quote not found"):
        build.check_quotes(rows, Path("gaoxin_facilities.csv"), SHARED / "seeds")
