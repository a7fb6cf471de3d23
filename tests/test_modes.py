"""Travel modes: the speed table and its use on edges."""

import numpy as np
import pandas as pd
import pytest

from coverage.errors import InputError
from coverage.modes import MODES, edge_speeds, respects_oneway, speed_table
from coverage.network import DEFAULT_ROAD_CLASSES

CLOSED_TO_VEHICLES = ["footway", "path", "steps", "pedestrian"]


def test_default_table_shape_and_units():
    table = speed_table()
    assert list(table.columns) == list(MODES)
    assert table.index.is_unique
    assert (table >= 0).all().all()
    # e-bikes are capped at their legal 25 km/h; cars never slower than e-bikes where both may go
    assert table["ebike"].max() <= 25
    both = (table["car"] > 0) & (table["ebike"] > 0)
    assert (table.loc[both, "car"] >= table.loc[both, "ebike"]).all()


def test_motorways_closed_to_walking_and_ebikes_open_to_cars():
    table = speed_table()
    for cls in ("motorway", "motorway_link"):
        assert table.loc[cls, "walk"] == 0
        assert table.loc[cls, "ebike"] == 0
        assert table.loc[cls, "car"] > 0
    assert table.loc["trunk", "walk"] == 4.5
    assert table.loc["trunk", "ebike"] > 0


def test_footways_closed_to_vehicles_open_to_walkers():
    table = speed_table()
    assert (table.loc[CLOSED_TO_VEHICLES, ["ebike", "car"]] == 0).all().all()
    assert (table.loc[CLOSED_TO_VEHICLES, "walk"] > 0).all()


def test_car_speeds_fall_with_road_class():
    car = speed_table()["car"]
    ladder = ["motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
              "residential", "service", "track"]
    assert list(car[ladder]) == sorted(car[ladder], reverse=True)


def test_every_mapped_road_class_has_speeds():
    targets = set(pd.read_csv(DEFAULT_ROAD_CLASSES)["highway"])
    assert targets <= set(speed_table().index)


def test_edge_speeds_closed_and_unknown_classes():
    edges = pd.DataFrame({"highway": ["primary", "motorway", "bus_guideway", "footway"]})
    table = speed_table()
    walk = edge_speeds(edges, "walk", table)
    car = edge_speeds(edges, "car")
    assert walk.dtype == float
    np.testing.assert_array_equal(walk, [4.5, 0.0, table.loc["unclassified", "walk"], 4.5])
    np.testing.assert_array_equal(car, [40.0, 80.0, table.loc["unclassified", "car"], 0.0])


def test_respects_oneway_for_vehicles_only():
    assert respects_oneway("car") and respects_oneway("ebike")
    assert not respects_oneway("walk")
    with pytest.raises(InputError, match="bicycle"):
        respects_oneway("bicycle")


@pytest.mark.parametrize("text, match", [
    ("highway,walk,ebike\nunclassified,4.5,20\n", "missing column"),
    ("highway,walk,ebike,car\nunclassified,4.5,20,fast\n", r"row 1, car: 'fast'"),
    ("highway,walk,ebike,car\nunclassified,4.5,20,25\nprimary,4.5,-1,40\n", r"row 2, ebike"),
    ("highway,walk,ebike,car\nprimary,4.5,20,40\n", "unclassified"),
    ("highway,walk,ebike,car\nunclassified,4.5,20,25\nunclassified,4.5,20,25\n", "appears twice"),
])
def test_bad_speed_tables(tmp_path, text, match):
    path = tmp_path / "speeds.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        speed_table(path)


def test_custom_speed_table(tmp_path):
    path = tmp_path / "speeds.csv"
    path.write_text("highway,walk,ebike,car\nunclassified,4,18,22\nprimary,4,20,50\n", encoding="utf-8")
    table = speed_table(path)
    edges = pd.DataFrame({"highway": ["primary", "residential"]})
    np.testing.assert_array_equal(edge_speeds(edges, "car", table), [50.0, 22.0])
