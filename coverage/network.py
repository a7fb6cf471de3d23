"""Road networks: one in-memory form for every source of road data.

Every loader returns a :class:`RoadNetwork`: a node table and an edge table in
WGS-84, with each edge classified by its OpenStreetMap ``highway`` class. Routing
(:mod:`coverage.routing`) turns it into per-mode compact graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class RoadNetwork:
    """A road network as two tables.

    Attributes
    ----------
    nodes
        Indexed by integer node id; columns ``x`` (longitude) and ``y`` (latitude),
        WGS-84.
    edges
        One row per directed-or-undirected road segment: ``u``, ``v`` (node ids),
        ``length`` (metres, > 0), ``highway`` (normalised OSM class such as
        ``'primary'``, see :mod:`coverage.modes`), ``oneway`` (bool: traversable only
        from ``u`` to ``v`` by vehicles), ``name`` (str, may be empty) and optional
        ``geometry`` (shapely LineString, WGS-84) and ``lanes``/``maxspeed``.
        Edges are stored once; two-way roads are not duplicated.
    source
        Path or description of where the network came from.
    provenance
        ``{'source': ..., 'quality': 'surveyed'|'official'|'estimated'|'synthetic'|...}``.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    source: str = ""
    provenance: dict = field(default_factory=dict)
