"""The pyosmium XML reader (:mod:`coverage.osm_xml`) equals the OSMnx route on both
packs and on ways with OSMnx's odd rules."""

from pathlib import Path

import pandas as pd
import pytest

from coverage.network import read_osm_xml, read_osm_xml_osmnx

ROOT = Path(__file__).resolve().parents[1]
PACK_NETWORKS = [ROOT / "network" / "roads.osm", ROOT / "regions" / "beibei" / "network" / "roads.osm"]


def assert_same_network(a, b):
    pd.testing.assert_frame_equal(a.nodes, b.nodes, check_exact=True)
    pd.testing.assert_frame_equal(a.edges, b.edges, check_exact=True)
    assert (a.source, a.provenance) == (b.source, b.provenance)


@pytest.mark.parametrize("path", PACK_NETWORKS, ids=["gaoxin", "beibei"])
def test_pyosmium_xml_reader_equals_the_osmnx_route(path):
    assert_same_network(read_osm_xml(path), read_osm_xml_osmnx(path))


def test_xml_reader_keeps_osmnx_rules_on_odd_ways(tmp_path):
    """Reversed one-ways, roundabouts, a duplicated segment, a non-road way, an area."""
    nodes = "".join(f'<node id="{i}" version="1" lat="29.{5000 + i * 7:07d}" '
                    f'lon="106.{4000 + i * 13:07d}"/>' for i in range(1, 10))
    ways = [
        ('1', [1, 2, 3], {"highway": "primary", "oneway": "-1", "name": "A"}),
        ('2', [3, 4, 5, 3], {"highway": "residential", "junction": "roundabout"}),
        ('3', [2, 3], {"highway": "service", "lanes": "2", "maxspeed": "30"}),
        ('4', [5, 6], {"building": "yes"}),
        ('5', [6, 7, 8, 6], {"highway": "pedestrian", "area": "yes"}),
        ('6', [8, 9, 1], {"highway": "motorway", "oneway": "reverse"}),
        ('7', [9, 4], {"highway": "footway"}),
    ]
    text = "".join(f'<way id="{i}" version="1">' + "".join(f'<nd ref="{n}"/>' for n in refs)
                   + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>"
                   for i, refs, tags in ways)
    path = tmp_path / "odd.osm"
    path.write_text(f'<?xml version="1.0"?><osm version="0.6" generator="test">{nodes}{text}</osm>',
                    encoding="utf-8")
    assert_same_network(read_osm_xml(path), read_osm_xml_osmnx(path))
