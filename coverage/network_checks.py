"""Element checks of road network files: the node, edge or row that is wrong, named.

The readers of :mod:`coverage.network` hand a file to OSMnx or pyarrow, which fail
on a bad element with a bare ``KeyError`` or accept it silently (a latitude of 95°,
a negative length). These checks find the element and say what was expected: cheap
vectorised checks on every read, and a scan of the file only when a reader failed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.errors import InputError

_LIMITS = {"x": ("lon", 180.0), "y": ("lat", 90.0)}


def _shown(value) -> str:
    """A value as the file holds it: numbers plainly, text quoted."""
    return f"{float(value):g}" if isinstance(value, (float, np.floating)) else repr(value)


def _coordinate_problem(text, limit: float) -> str | None:
    if text is None or (isinstance(text, (float, np.floating)) and math.isnan(text)):
        return "missing (or NaN): expected a number"
    try:
        value = float(text)
    except (TypeError, ValueError):
        return f"{text!r} is not a number"
    if not math.isfinite(value) or abs(value) > limit:
        return f"{_shown(text)} is out of range: expected -{limit:g}..{limit:g} (WGS-84 degrees)"
    return None


def check_node_coordinates(nodes: pd.DataFrame, path: str | Path) -> None:
    """Every node's ``x`` (lon) and ``y`` (lat) finite and in range; else name the node."""
    for column, (name, limit) in _LIMITS.items():
        values = nodes[column].to_numpy(dtype=float)
        bad = ~(np.abs(values) <= limit)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(path, _coordinate_problem(values[i], limit), row=nodes.index[i],
                             field=name, kind="node")


def osm_xml_problem(path: str | Path) -> InputError | None:
    """The first ``<node>`` of an OSM XML file without a valid ``lat``/``lon``, if any
    (or the XML error, where the file is not well-formed)."""
    import bz2
    from xml.etree.ElementTree import ParseError, iterparse

    path = Path(path)
    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    try:
        with opener(path, "rb") as fh:
            for _, element in iterparse(fh):
                if element.tag == "node":
                    for name, limit in _LIMITS.values():
                        problem = _coordinate_problem(element.get(name), limit)
                        if problem:
                            return InputError(path, problem, row=element.get("id", "?"),
                                              field=name, kind="node")
                element.clear()
    except (ParseError, EOFError, OSError) as exc:
        return InputError(path, f"malformed OpenStreetMap XML: {exc}")
    return None


def graphml_problem(path: str | Path) -> InputError | None:
    """The first edge of a GraphML file with a non-numeric length or unreadable geometry."""
    import networkx as nx
    import shapely

    path = Path(path)
    graph = nx.read_graphml(path, force_multigraph=True)
    for i, (u, v, data) in enumerate(graph.edges(data=True)):
        where = f"edge {i + 1} ({u} → {v})"
        if "length" in data:
            try:
                length = float(data["length"])
            except (TypeError, ValueError):
                length = math.nan
            if not (math.isfinite(length) and length >= 0):
                return InputError(path, f"{where}: length {data['length']!r} is not a "
                                  "non-negative number of metres", field="length")
        if data.get("geometry"):
            try:
                shapely.from_wkt(data["geometry"])
            except (shapely.errors.GEOSException, TypeError, ValueError):
                return InputError(path, f"{where}: geometry {str(data['geometry'])[:60]!r} is "
                                  "not WKT: expected such as 'LINESTRING (106.3 29.6, 106.4 29.6)'",
                                  field="geometry")
    for node, data in graph.nodes(data=True):
        for column, (name, limit) in _LIMITS.items():
            problem = _coordinate_problem(data.get(column), limit)
            if problem:
                return InputError(path, problem, row=node, field=column, kind="node")
    return None


def check_edge_table(table: pd.DataFrame, path: str | Path) -> None:
    """Edge table rows: node ids whole numbers, end coordinates in range, lengths >= 0."""
    for column in ("u", "v"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(path, f"{table[column].iloc[i]!r} is not a node id: expected a "
                             "whole number", row=i + 1, field=column)
    for column, limit in (("ux", 180.0), ("vx", 180.0), ("uy", 90.0), ("vy", 90.0)):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.abs(values) <= limit)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(path, _coordinate_problem(table[column].iloc[i], limit), row=i + 1,
                             field=column)
    length = pd.to_numeric(table["length"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(length) & (length >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"{_shown(table['length'].iloc[i])} is not a non-negative number of "
                         "metres", row=i + 1, field="length")
