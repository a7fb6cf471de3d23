"""The four shipped region packs load and validate; broken copies fail clearly, exit non-zero."""

import json
import shutil
from pathlib import Path

import pytest

from coverage.cli import main
from coverage.region import find_regions, load_region

ROOT = Path(__file__).resolve().parents[1]
PACKS = {"gaoxin": ROOT, "beibei": ROOT / "regions" / "beibei",
         "wanzhou": ROOT / "regions" / "wanzhou", "yongchuan": ROOT / "regions" / "yongchuan"}
PACK_FILES = ("region.toml", "boundary.geojson", "facilities.geojson", "population")


@pytest.fixture(scope="module")
def regions():
    return {slug: load_region(path) for slug, path in PACKS.items()}


def test_packs_are_found():
    assert find_regions(ROOT) == [ROOT, ROOT / "regions" / "beibei",
                                  ROOT / "regions" / "wanzhou", ROOT / "regions" / "yongchuan"]


@pytest.mark.parametrize("slug,count", [("gaoxin", 10), ("beibei", 17), ("wanzhou", 52),
                                        ("yongchuan", 23)])
def test_pack_contents(regions, slug, count):
    region = regions[slug]
    assert region.slug == slug and len(region.townships) == count
    assert region.townships["population"].sum() > 100_000
    assert region.facilities["id"].is_unique
    assert region.network_path is not None and region.network_path.exists()
    assert region.provenance["network"]["quality"] == "synthetic"
    assert region.provenance["townships"]["quality"] == "estimated"
    assert region.metric_crs == "EPSG:32648"


def test_default_pack_names_the_ten_towns_and_streets(regions):
    names = set(regions["gaoxin"].townships["name"])
    for stem in ("虎溪", "西永", "香炉山", "曾家", "含谷", "金凤", "白市驿", "走马", "石板", "巴福"):
        assert any(n.startswith(stem) for n in names), stem


@pytest.mark.parametrize("slug", ["gaoxin", "beibei", "wanzhou", "yongchuan"])
def test_validate_command_passes(slug, capsys):
    assert main(["validate", str(PACKS[slug])]) == 0
    out = capsys.readouterr().out
    assert "乡镇街道 townships" in out and "road network" in out and "synthetic" in out


def _copy_pack(tmp_path: Path) -> Path:
    dest = tmp_path / "pack"
    dest.mkdir(parents=True)
    for name in PACK_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    shutil.copytree(ROOT / "network", dest / "network")
    return dest


def _edit_facilities(pack: Path, edit) -> None:
    path = pack / "facilities.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data["features"])
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _set(i, key, value):
    def edit(features):
        features[i]["properties"][key] = value
    return edit


def _move_first_far_away(features):
    features[0]["geometry"]["coordinates"] = [104.0, 31.0]


def _drop_first_coordinates(features):
    features[0]["geometry"] = None


@pytest.mark.parametrize("edit,expected", [
    (_set(1, "id", None), r"facilities\.geojson feature 2, id: missing value"),
    (lambda f: f[1]["properties"].__setitem__("id", f[0]["properties"]["id"]),
     r"facilities\.geojson feature 2, id: duplicate id"),
    (_set(0, "type", "诊所"), r"facilities\.geojson feature 1, type: '诊所' is not a known facility type"),
    (_set(0, "status", "拆除"), r"feature 1, status: '拆除' is not a known facility status"),
    (_set(0, "beds", "abc"), r"facilities\.geojson feature 1, beds: 'abc' is not a number"),
    (_set(0, "township_code", "500999001"),
     r"feature 1, township_code: township code '500999001' is not in the region pack"),
    (_move_first_far_away, r"facilities\.geojson feature 1, geometry: facility .* is outside the region"),
    (_drop_first_coordinates, r"facilities\.geojson feature 1, geometry: missing coordinates"),
])
def test_broken_facilities_fail_clearly(tmp_path, capsys, edit, expected):
    pack = _copy_pack(tmp_path)
    _edit_facilities(pack, edit)
    assert main(["validate", str(pack)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    import re
    assert re.search(expected, err), err


def test_broken_files_fail_clearly(tmp_path, capsys):
    pack = _copy_pack(tmp_path)
    (pack / "facilities.geojson").write_bytes(b"")
    assert main(["validate", str(pack)]) == 2
    assert "facilities.geojson: the file is empty" in capsys.readouterr().err

    pack = _copy_pack(tmp_path / "b")
    manifest = (pack / "region.toml").read_text(encoding="utf-8")
    (pack / "region.toml").write_text(manifest.replace('[provenance.facilities]', '[provenance.x]'),
                                      encoding="utf-8")
    assert main(["validate", str(pack)]) == 2
    assert "region.toml, provenance.facilities: every layer needs its provenance" in \
        capsys.readouterr().err

    pack = _copy_pack(tmp_path / "c")
    (pack / "population" / "townships.geojson").unlink()
    assert main(["validate", str(pack)]) == 2
    assert "files.townships: file 'population/townships.geojson' does not exist" in \
        capsys.readouterr().err

    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "not a region pack" in capsys.readouterr().err
