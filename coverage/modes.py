"""Travel modes and their speeds on each class of road.

Three modes cover how people reach care in Chongqing:

* ``walk`` — on foot, everywhere except motorways;
* ``ebike`` — 电动自行车/摩托车, the everyday vehicle of rural Chongqing;
* ``car`` — private car, taxi or ambulance at ordinary (not blue-light) speeds.

Speeds are per normalised OSM ``highway`` class (see ``coverage/data/road_classes.csv``
for how Chinese classes map to them) and live in ``coverage/data/speeds.csv``. The
defaults, in km/h (0 = closed to the mode):

=============== ==== ===== ==== ========================================================
class           walk ebike car  reasoning
=============== ==== ===== ==== ========================================================
motorway        0    0     80   高速公路/快速路: closed to pedestrians and non-motor
                                vehicles by law; 80 is an average over ramps, tunnels
                                and Chongqing's grades, below the 100-120 limit
motorway_link   0    0     40   匝道: advisory speeds on ramps are 30-50
trunk           4.5  25    60   国道: open to all; 25 is the legal top speed of an
                                e-bike (GB 17761-2018)
trunk_link      4.5  20    40
primary         4.5  25    40   主干路/省道: signalised, hilly urban arterials
primary_link    4.5  20    30
secondary       4.5  25    35   次干路/县道
secondary_link  4.5  20    30
tertiary        4.5  20    30   支路/乡道: narrow, winding, mixed traffic
tertiary_link   4.5  20    25
unclassified    4.5  20    25   村道: single-lane concrete village roads
residential     4.5  15    20
living_street   4.5  10    10
service         4.5  15    15   estate and hospital-campus roads
track           4.5  10    10   机耕道: farm tracks, slow for every vehicle
cycleway        4.5  15    0    e-bikes ride in non-motor lanes
pedestrian      4.5  0     0    步行街: pedestrian streets
footway         4.5  0     0
path            4.5  0     0
steps           3    0     0    梯道: Chongqing's stairways; 3 km/h of horizontal
                                progress allows for the climb
=============== ==== ===== ==== ========================================================

Ferries (渡船, OSM ``route=ferry``) are not roads and are not in the table: every mode
crosses at :data:`FERRY_KMH`, after a boarding wait of :data:`FERRY_WAIT_S` per crossing
(access tags may close a ferry to a mode).

Walking is 4.5 km/h, a common planning value for adults that also allows for slopes.
A class not in the table travels at the ``unclassified`` speed.

Off-road leg (离网步行)
----------------------
A home, village or facility off the road network reaches its nearest road node on
foot, straight across country, as in AccessMod's off-road travel: there is no cap,
so nobody is dropped, only slowed. The default pace, :data:`OFFROAD_KMH` = 3 km/h,
is a slow walk over fields, terraces and village paths (about two thirds of the
4.5 km/h road walk; AccessMod's guidance uses 2-4 km/h for walking off roads); a pack
sets its own in ``region.toml`` (``[routing] offroad_kmh``). With a DEM
(:mod:`coverage.terrain`) the leg is slowed further by its slope. A resident whose
off-road leg is longer than :data:`OFF_NETWORK_M` is reported as off-network
(离网居民) by township, and targets say when they fail only because of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coverage.choices import MODES  # the parser reads it without pandas
from coverage.errors import InputError


#: Default speed of the off-road leg from a point to its nearest road node (km/h).
OFFROAD_KMH = 3.0

#: Residents whose off-road leg is longer than this (m) are reported as off-network.
OFF_NETWORK_M = 1000.0

#: Crossing speed of a river ferry (km/h), for every mode on board.
FERRY_KMH = 15.0
#: Boarding wait of a ferry crossing (s): half of a 30-minute headway.
FERRY_WAIT_S = 15 * 60.0

#: The default speed table shipped with the package.
DEFAULT_SPEEDS = Path(__file__).parent / "data" / "speeds.csv"

_VEHICLES = frozenset({"ebike", "car"})

#: OSM access keys that decide whether a way is open to each mode, general to
#: specific (the OSM access hierarchy): the most specific key a way carries wins,
#: so ``access=private`` + ``foot=yes`` is open on foot only, and ``motor_vehicle=no``
#: closes a road to cars but not to walkers or e-bikes (电动自行车 are non-motor
#: vehicles in Chinese law, so they follow ``bicycle``).
ACCESS_KEYS = {"walk": ("access", "foot"),
               "ebike": ("access", "vehicle", "bicycle"),
               "car": ("access", "vehicle", "motor_vehicle", "motorcar")}
#: Access values that close a way to a mode (``destination``, ``permissive`` etc. stay open:
#: residents' trips to care are allowed there).
CLOSED_ACCESS = frozenset({"no", "private"})


def access_closed(tags, mode: str) -> bool:
    """Whether OSM ``tags`` (a mapping with ``get``) close a way to ``mode``."""
    for key in reversed(ACCESS_KEYS[mode]):
        value = tags.get(key)
        if value is not None:
            return value.strip().lower() in CLOSED_ACCESS
    return False


def speed_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read a speed table: km/h per normalised highway class and mode.

    Parameters
    ----------
    path
        CSV with a ``highway`` column and one column per mode (``walk``, ``ebike``,
        ``car``); default ``coverage/data/speeds.csv``.

    Returns
    -------
    pandas.DataFrame
        Indexed by highway class, columns :data:`MODES`, floats; 0 means closed.

    Raises
    ------
    InputError
        If a column is missing, a class is repeated, a speed is not a number >= 0,
        or there is no ``unclassified`` row (the fallback for unknown classes).
    """
    path = Path(path) if path is not None else DEFAULT_SPEEDS
    if not path.is_file():
        raise InputError(path, "speed table not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ("highway", *MODES) if c not in table.columns]
    if missing:
        raise InputError(
            path, f"missing column(s) {', '.join(missing)}; expected highway, {', '.join(MODES)}"
        )
    table["highway"] = table["highway"].str.strip()
    repeated = table["highway"][table["highway"].duplicated()]
    if len(repeated):
        row = int(repeated.index[0]) + 1
        raise InputError(path, f"class {repeated.iloc[0]!r} appears twice", row=row, field="highway")
    for mode in MODES:
        speeds = pd.to_numeric(table[mode], errors="coerce")
        bad = speeds.isna() | (speeds < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                path, f"{table[mode].iloc[row]!r} is not a speed in km/h (a number >= 0)",
                row=row + 1, field=mode,
            )
        table[mode] = speeds.astype(float)
    table = table.set_index("highway")[list(MODES)]
    if "unclassified" not in table.index:
        raise InputError(path, "no 'unclassified' row: it is the speed of unknown classes")
    return table


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(None, f"unknown travel mode {mode!r}; expected one of {', '.join(MODES)}")


def edge_speeds(edges: pd.DataFrame, mode: str, table: pd.DataFrame | None = None) -> np.ndarray:
    """Speed in km/h of ``mode`` on every edge (row) of an edge table.

    Parameters
    ----------
    edges
        Table with a ``highway`` column (a :class:`coverage.network.RoadNetwork`'s
        ``edges``).
    mode
        One of :data:`MODES`.
    table
        Speed table from :func:`speed_table`; the default table if None.

    Returns
    -------
    numpy.ndarray
        Float km/h per row; 0 where the road is closed to the mode (class speed 0, or
        a ``closed_<mode>`` column that is True: OSM ``access`` tags). Classes missing
        from the table get the ``unclassified`` speed; ferries :data:`FERRY_KMH`. Car speeds are capped by a
        numeric ``maxspeed`` (:func:`maxspeed_kmh`).
    """
    _check_mode(mode)
    table = speed_table() if table is None else table
    column = table[mode]
    speeds = edges["highway"].astype(object).map(column)
    speeds = speeds.fillna(column["unclassified"]).to_numpy(dtype=float)
    speeds = np.where(edges["highway"].to_numpy(dtype=object) == "ferry", FERRY_KMH, speeds)
    if mode == "car" and "maxspeed" in edges:
        speeds = np.fmin(speeds, maxspeed_kmh(edges["maxspeed"]))
    closed = f"closed_{mode}"
    if closed in edges:
        speeds = np.where(edges[closed].to_numpy(dtype=bool), 0.0, speeds)
    return speeds


def maxspeed_kmh(values: pd.Series) -> np.ndarray:
    """OSM ``maxspeed`` values in km/h: ``'60'``, ``'60 km/h'``, ``'30 mph'``, the
    first of ``'60;80'``; NaN where no number is given (``'CN:urban'``, ``'none'``,
    empty), so that the class speed applies there."""
    text = values.astype(str).str.strip().str.lower()
    number = pd.to_numeric(text.str.extract(r"^(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    number = number.where(~text.str.contains("mph", regex=False), number * 1.609344)
    return number.where(number > 0).to_numpy(dtype=float)


def respects_oneway(mode: str) -> bool:
    """Whether ``mode`` may travel one-way roads only in their direction.

    Vehicles (``ebike``, ``car``) do; pedestrians walk both ways.
    """
    _check_mode(mode)
    return mode in _VEHICLES
