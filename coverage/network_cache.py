"""Parsed road networks kept on disk, so that a network file is parsed once.

:func:`cached_network` reads a network file through :func:`coverage.network.read_network`
the first time and stores the :class:`~coverage.network.RoadNetwork` it returns in a
cache folder (a pack's ``cache/``); later calls load the stored tables instead of
parsing the file again. An entry is content-addressed: its name is a SHA-256 of the
file's bytes, the reader's options and :data:`CACHE_VERSION`, so an edited file or
other options never meet a stale entry. Entries are ``.npz`` archives of plain arrays
(strings as fixed-width unicode, geometries as WKB bytes) read with
``allow_pickle=False``: a cache file can never run code. A corrupted entry is
reported on standard error and rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.errors import atomic_path, file_sha256
from coverage.network import RoadNetwork, read_network

#: Bump when the reader's output or the entry layout changes meaning.
CACHE_VERSION = "2"


def cache_key(path: str | Path, options: dict | None = None) -> str:
    """SHA-256 (hex) of the file's bytes, the reader's options and the cache version."""
    prefix = (f"coverage-network-cache {CACHE_VERSION}\0".encode()
              + json.dumps(options or {}, sort_keys=True, default=str).encode() + b"\0")
    return file_sha256(path, prefix)


def cache_entry(path: str | Path, cache_dir: str | Path, options: dict | None = None) -> Path:
    """Where the parsed network of ``path`` is kept in ``cache_dir``."""
    return Path(cache_dir) / f"network-{cache_key(path, options)[:32]}.npz"


def cached_network(path: str | Path, cache_dir: str | Path | None, **options) -> RoadNetwork:
    """The network of ``path``, parsed once and then read from ``cache_dir``.

    Parameters
    ----------
    path
        Any file :func:`coverage.network.read_network` reads.
    cache_dir
        Folder of the entries (created when needed); ``None`` reads the file
        without a cache. A folder that cannot be written only costs the cache.
    **options
        The reader's options (part of the key).

    Returns
    -------
    RoadNetwork
        Equal to ``read_network(path, **options)``: the same tables, dtypes, column
        order and every other field (source, provenance; JSON-able values).
    """
    path = Path(path)
    if cache_dir is None or not path.is_file():
        return read_network(path, **options)  # the reader names a missing file
    entry = cache_entry(path, cache_dir, options)
    if entry.is_file():
        try:
            return _load(entry)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            print(f"warning: {entry}: unreadable network cache entry ({exc}); rebuilding it "
                  f"from {path}", file=sys.stderr)
    network = read_network(path, **options)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _save(network, entry)
    except (OSError, _Unstorable):
        pass  # a read-only pack, or a column the entry cannot hold: no cache, same answer
    return network


def cached_report(path: str | Path, cache_dir: str | Path | None, name: str, options: dict,
                  compute: Callable[[], dict]) -> dict:
    """A report on the network of ``path`` (a dict of JSON scalars), computed once.

    Kept as ``<name>-<key>.json`` next to the network entry, keyed like it by the
    file's bytes and ``options`` (the reader's and the report's own). JSON, never
    pickle; floats round-trip exactly. An unreadable entry is recomputed.

    Parameters
    ----------
    path
        The network file the report is about.
    cache_dir
        Folder of the entries; ``None`` (or a missing file) always computes.
    name
        What the report is (part of the entry's name).
    options
        Everything the report depends on besides the file's bytes.
    compute
        Makes the report when no entry holds it.
    """
    path = Path(path)
    if cache_dir is None or not path.is_file():
        return compute()
    entry = Path(cache_dir) / f"{name}-{cache_key(path, options)[:32]}.json"
    if entry.is_file():
        try:
            return json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # recomputed and rewritten below
    report = compute()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(entry) as tmp:
            Path(tmp).write_text(json.dumps(report), encoding="utf-8")
    except (OSError, TypeError):
        pass  # a read-only pack: no cache, same answer
    return report


# --- entry layout ---------------------------------------------------------------------

class _Unstorable(Exception):
    """A column holds values that the entry cannot store exactly."""


def _encode(prefix: str, frame: pd.DataFrame, arrays: dict) -> list[list[str]]:
    """Store each column of ``frame`` in ``arrays``; returns [name, kind] per column."""
    import shapely

    layout = []
    for i, name in enumerate(frame.columns):
        values = frame[name].to_numpy()
        key = f"{prefix}{i}"
        if values.dtype.kind in "biuf":
            arrays[key] = values
            layout.append([str(name), "array"])
            continue
        values = values.astype(object)
        is_text = np.fromiter((isinstance(v, str) for v in values), bool, len(values))
        is_null = pd.isna(values) if not is_text.all() else np.zeros(len(values), bool)
        # numpy's fixed-width strings drop trailing NULs: such text is not stored.
        if (is_text | is_null).all() and not any(v.endswith("\0") for v in values[is_text]):
            arrays[key] = np.where(is_text, values, "").astype(str)
            arrays[key + "_null"] = is_null
            layout.append([str(name), "text"])
            continue
        is_geom = np.fromiter((isinstance(v, shapely.Geometry) for v in values), bool, len(values))
        if (is_geom | is_null).all():
            wkb = [shapely.to_wkb(v) if g else b"" for v, g in zip(values, is_geom)]
            arrays[key] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
            arrays[key + "_len"] = np.array([len(b) for b in wkb], dtype=np.int64)
            layout.append([str(name), "wkb"])
            continue
        raise _Unstorable(name)
    return layout


def _decode(prefix: str, layout: list, data, n: int) -> dict:
    import shapely

    columns = {}
    for i, (name, kind) in enumerate(layout):
        key = f"{prefix}{i}"
        if kind == "array":
            columns[name] = data[key]
        elif kind == "text":
            values = data[key].astype(object)
            values[data[key + "_null"]] = None
            columns[name] = values
        else:
            lengths = data[key + "_len"]
            ends = np.cumsum(lengths)
            raw = data[key].tobytes()
            values = np.full(n, None, dtype=object)
            for row in np.flatnonzero(lengths):
                values[row] = shapely.from_wkb(raw[ends[row] - lengths[row]:ends[row]])
            columns[name] = values
    return columns


def _save(network: RoadNetwork, entry: Path) -> None:
    arrays: dict = {}
    nodes, edges = network.nodes, network.edges
    # Every other field of the dataclass (source, provenance, reports...) as JSON.
    extra = {f.name: getattr(network, f.name) for f in dataclasses.fields(network)
             if f.name not in ("nodes", "edges")}
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as exc:
        raise _Unstorable("fields") from exc
    meta = {
        "fields": extra,
        "node_index": nodes.index.name, "node_index_dtype": str(nodes.index.dtype),
        "nodes": _encode("n", nodes, arrays), "edges": _encode("e", edges, arrays),
        "edge_index": edges.index.equals(pd.RangeIndex(len(edges))),
    }
    if not meta["edge_index"]:
        raise _Unstorable("edge index")
    arrays["node_index"] = nodes.index.to_numpy()
    arrays["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
    with atomic_path(entry) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _load(entry: Path) -> RoadNetwork:
    with np.load(entry, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        index = pd.Index(data["node_index"], name=meta["node_index"],
                         dtype=meta["node_index_dtype"])
        nodes = pd.DataFrame(_decode("n", meta["nodes"], data, len(index)), index=index)
        n_edges = len(data["e0"]) if meta["edges"] and meta["edges"][0][1] != "wkb" else None
        if n_edges is None:
            n_edges = len(data["e0_len"])
        edges = pd.DataFrame(_decode("e", meta["edges"], data, n_edges))
    known = {f.name for f in dataclasses.fields(RoadNetwork)}
    return RoadNetwork(nodes, edges, **{k: v for k, v in meta["fields"].items() if k in known})
