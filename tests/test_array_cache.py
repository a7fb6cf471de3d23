"""Derived arrays kept on disk (coverage.array_cache) and the band cells kept there."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import shapely.affinity

from coverage.array_cache import cached_arrays, content_key
from coverage.bands import RegionCells
from coverage.region import load_region

ROOT = Path(__file__).resolve().parents[1]


class Counter:
    def __init__(self, arrays):
        self.arrays, self.calls = arrays, 0

    def __call__(self):
        self.calls += 1
        return {k: v.copy() for k, v in self.arrays.items()}


def _arrays():
    return {"index": np.arange(5, dtype=np.int64), "lon": np.linspace(106.0, 106.5, 5),
            "flag": np.array([True, False, True, True, False])}


def _same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])


def test_content_key_tells_parts_apart():
    a = np.arange(4, dtype=np.int64)
    assert content_key(a, "x") == content_key(a.copy(), "x")
    assert content_key(a) != content_key(a.astype(np.int32))
    assert content_key(a) != content_key(a.reshape(2, 2))
    assert content_key(b"ab", b"c") != content_key(b"a", b"bc")
    assert content_key("1") != content_key(1)
    with pytest.raises(TypeError):
        content_key(np.array(["a", None], dtype=object))


def test_hit_miss_and_no_folder(tmp_path):
    compute = Counter(_arrays())
    names = list(_arrays())
    first = cached_arrays(tmp_path, "demo", content_key("one"), names, compute)
    again = cached_arrays(tmp_path, "demo", content_key("one"), names, compute)
    assert compute.calls == 1  # the second call read the entry
    _same(first, _arrays())
    _same(again, _arrays())
    cached_arrays(tmp_path, "demo", content_key("two"), names, compute)
    assert compute.calls == 2  # other inputs, another entry
    assert len(list(tmp_path.glob("demo-*.npz"))) == 2
    cached_arrays(None, "demo", content_key("one"), names, compute)
    assert compute.calls == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other arrays"])
def test_a_damaged_entry_is_rebuilt(tmp_path, capsys, damage):
    compute = Counter(_arrays())
    names = list(_arrays())
    key = content_key("one")
    cached_arrays(tmp_path, "demo", key, names, compute)
    (entry,) = tmp_path.glob("demo-*.npz")
    if damage == "garbage":
        entry.write_bytes(b"not a zip archive")
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:200])
    else:
        with open(entry, "wb") as fh:
            np.savez(fh, _key=np.array(key), index=np.arange(3))
    rebuilt = cached_arrays(tmp_path, "demo", key, names, compute)
    assert compute.calls == 2 and "rebuilding" in capsys.readouterr().err
    _same(rebuilt, _arrays())
    cached_arrays(tmp_path, "demo", key, names, compute)
    assert compute.calls == 2  # the rebuilt entry is whole again


def test_a_folder_that_cannot_be_written_costs_only_the_cache(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    compute = Counter(_arrays())
    for _ in range(2):
        _same(cached_arrays(blocked / "cache", "demo", content_key("one"), list(_arrays()),
                            compute), _arrays())
    assert compute.calls == 2 and blocked.read_text() == "not a folder"


def test_region_cells_from_the_cache_equal_computed_ones(tmp_path):
    region = load_region(ROOT)
    plain = RegionCells.of(region)
    cached = [RegionCells.of(region, cache_dir=tmp_path) for _ in range(2)]
    assert len(list(tmp_path.glob("cells-*.npz"))) == 1
    for cells in cached:
        assert cells.cells.grid == plain.cells.grid
        for name in ("index", "lon", "lat"):
            assert np.array_equal(getattr(cells.cells, name), getattr(plain.cells, name))
        assert np.array_equal(cells.township, plain.township)
        assert np.array_equal(cells.town_kinds, plain.town_kinds)
    # A township outline moved: another entry, and the cells follow it.
    towns = region.townships.copy()
    towns.loc[towns.index[0], "geometry"] = shapely.affinity.translate(towns.geometry.iloc[0],
                                                                       xoff=0.01)
    moved = dataclasses.replace(region, townships=towns)
    other = RegionCells.of(moved, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("cells-*.npz"))) == 2
    assert not np.array_equal(other.township, plain.township)
    fresh = RegionCells.of(moved)
    assert np.array_equal(other.cells.index, fresh.cells.index)
    assert np.array_equal(other.township, fresh.township)


def test_cells_nearest_nodes_from_the_cache_equal_computed_ones(tmp_path):
    from coverage import routing
    from coverage.access import AccessContext

    region = load_region(ROOT)
    context = AccessContext(region, year=2025, cache_dir=False)
    walk, car = context.graph("walk"), context.graph("car")
    plain = RegionCells.of(region).cells
    first, second = (RegionCells.of(region, cache_dir=tmp_path).cells for _ in range(2))
    for graph in (walk, car):
        want = plain.snap(graph)
        for cells in (first, second):  # computed and kept, then read back
            got = cells.snap(graph)
            assert np.array_equal(got.node, want.node)
            assert np.array_equal(got.access_seconds, want.access_seconds)
            assert np.array_equal(got.x, want.x) and np.array_equal(got.y, want.y)
    keys = {routing.snap_key(walk), routing.snap_key(car)}
    assert len(list(tmp_path.glob("nearest-*.npz"))) == len(keys)
