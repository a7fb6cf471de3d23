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

Walking is 4.5 km/h, a common planning value for adults that also allows for slopes;
it equals :data:`ACCESS_SPEED_KMH`, the speed of the off-road leg from a home to the
nearest road. A class not in the table travels at the ``unclassified`` speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coverage.choices import MODES  # the parser reads it without pandas
from coverage.errors import InputError


#: Walking speed of the access leg from an off-network point to the road (km/h).
ACCESS_SPEED_KMH = 4.5

#: Default cap on the access leg (m); points farther from any road are unreachable.
MAX_ACCESS_M = 1000.0

#: The default speed table shipped with the package.
DEFAULT_SPEEDS = Path(__file__).parent / "data" / "speeds.csv"

_VEHICLES = frozenset({"ebike", "car"})


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
        Float km/h per row; 0 where the road is closed to the mode. Classes missing
        from the table get the ``unclassified`` speed.
    """
    _check_mode(mode)
    table = speed_table() if table is None else table
    column = table[mode]
    speeds = edges["highway"].astype(object).map(column)
    return speeds.fillna(column["unclassified"]).to_numpy(dtype=float)


def respects_oneway(mode: str) -> bool:
    """Whether ``mode`` may travel one-way roads only in their direction.

    Vehicles (``ebike``, ``car``) do; pedestrians walk both ways.
    """
    _check_mode(mode)
    return mode in _VEHICLES
