"""A parsed network is read once: the content-addressed cache returns equal networks,
is keyed by content and options and rebuilds a corrupted entry; the parser builds
without pandas and ``check`` imports none of the heavy optional libraries."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from coverage.network import read_network
from coverage.network_cache import cache_entry, cached_network
from coverage.region import load_region

ROOT = Path(__file__).resolve().parents[1]
PACK_NETWORKS = [ROOT / "network" / "roads.osm", ROOT / "regions" / "beibei" / "network" / "roads.osm"]
ROADS_CN = Path(__file__).parent / "data" / "roads_cn.geojson"


def assert_same_network(a, b):
    pd.testing.assert_frame_equal(a.nodes, b.nodes, check_exact=True)
    pd.testing.assert_frame_equal(a.edges, b.edges, check_exact=True)
    assert (a.source, a.provenance) == (b.source, b.provenance)


@pytest.mark.parametrize("path", [PACK_NETWORKS[0], ROADS_CN], ids=["osm", "road-file"])
def test_cached_network_equals_a_fresh_read(path, tmp_path):
    fresh = read_network(path)
    first = cached_network(path, tmp_path)
    assert len(list(tmp_path.glob("network-*.npz"))) == 1
    second = cached_network(path, tmp_path)
    assert_same_network(fresh, first)
    assert_same_network(fresh, second)


def test_cache_is_keyed_by_content_and_options(tmp_path):
    copy = tmp_path / "roads.osm"
    copy.write_bytes(PACK_NETWORKS[0].read_bytes())
    entry = cache_entry(copy, tmp_path / "cache")
    assert entry == cache_entry(PACK_NETWORKS[0], tmp_path / "cache")  # content, not path
    assert cache_entry(ROADS_CN, tmp_path, {"crs": "GCJ02"}) != cache_entry(ROADS_CN, tmp_path)
    copy.write_bytes(copy.read_bytes().replace(b"</osm>", b"<!-- edited --></osm>"))
    assert cache_entry(copy, tmp_path / "cache") != entry


def test_corrupted_entry_is_rebuilt_with_a_message(tmp_path, capsys):
    path = PACK_NETWORKS[0]
    entry = cache_entry(path, tmp_path)
    cached_network(path, tmp_path)
    entry.write_bytes(entry.read_bytes()[:1000])
    network = cached_network(path, tmp_path)
    assert "unreadable network cache entry" in capsys.readouterr().err
    assert_same_network(read_network(path), network)
    assert_same_network(network, cached_network(path, tmp_path))  # rewritten, readable
    assert capsys.readouterr().err == ""


def test_region_reads_its_network_through_the_cache(tmp_path):
    region = load_region(ROOT)
    region.load_network()
    assert list((ROOT / "cache").glob("network-*.npz"))


def test_parser_builds_without_pandas():
    code = ("import sys; from coverage.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'numpy', 'geopandas', 'osmnx', 'highspy', "
            "'folium', 'streamlit', 'dask', 'rasterio', 'coverage.siting') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_imports_only_what_it_uses():
    code = ("import sys, io, contextlib; from coverage.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['check', sys.argv[1]])\n"
            "print(sorted(m for m in ('osmnx', 'folium', 'streamlit', 'highspy', 'dask', "
            "'rasterio', 'networkx', 'coverage.siting') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_topology_report_is_computed_once_and_a_bad_entry_recomputed(tmp_path):
    from coverage.network_repair import check_network, topology_report
    from coverage.roadfile import open_network

    fresh = topology_report(read_network(PACK_NETWORKS[0]))
    first = open_network(PACK_NETWORKS[0], cache_dir=tmp_path)
    (entry,) = tmp_path.glob("topology-*.json")
    second = open_network(PACK_NETWORKS[0], cache_dir=tmp_path)
    assert first.topology == second.topology == fresh
    entry.write_text("{not json", encoding="utf-8")
    assert check_network(second, path=PACK_NETWORKS[0], cache_dir=tmp_path) == fresh
    assert entry.read_text(encoding="utf-8").startswith("{\"pieces\"")
