"""Derived arrays kept on disk, so that what every command recomputes the same way is
computed once.

:func:`cached_arrays` stores a dict of plain numpy arrays as ``<name>-<key>.npz`` in a
cache folder (a pack's ``cache/``), where ``key`` is :func:`content_key` of
everything the arrays depend on: input data, parameters, the versions of the
libraries that compute them and :data:`CACHE_VERSION`. Changed inputs therefore never
meet a stale entry. Entries are read with ``allow_pickle=False`` (a cache file can
never run code); an unreadable or incomplete entry is reported on standard error and
rebuilt. Used for the region's band cells (:meth:`coverage.bands.RegionCells.of`).
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from coverage.errors import atomic_path

#: Bump when an entry's layout changes meaning.
CACHE_VERSION = "1"


def content_key(*parts) -> str:
    """SHA-256 (hex) of ``parts``: arrays by dtype, shape and bytes; bytes as they are;
    anything else by its ``repr``; each part tagged, so no two sequences collide."""
    digest = hashlib.sha256(f"coverage-array-cache {CACHE_VERSION}\0".encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            if array.dtype.hasobject:
                raise TypeError("object arrays have no stable bytes: encode them first")
            head, body = f"a{array.dtype.str}{array.shape}", array.tobytes()
        elif isinstance(part, (bytes, bytearray)):
            head, body = "b", bytes(part)
        else:
            head, body = "r", repr(part).encode()
        digest.update(f"{head}:{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def cached_arrays(cache_dir: str | Path | None, name: str, key: str, names: Sequence[str],
                  compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays ``compute()`` returns, kept as ``<cache_dir>/<name>-<key>.npz``.

    Parameters
    ----------
    cache_dir
        Folder of the entries (created when needed); ``None`` always computes. A
        folder that cannot be written only costs the cache.
    name
        What the arrays are (the start of the entry's name).
    key
        :func:`content_key` of everything the arrays depend on.
    names
        The names of the arrays ``compute`` returns (an entry holding others is rebuilt).
    compute
        Makes the arrays (numeric or boolean, no objects) when no entry holds them.

    Returns
    -------
    dict of numpy.ndarray
        Equal, dtype and values, to ``compute()``'s.
    """
    if cache_dir is None:
        return compute()
    entry = Path(cache_dir) / f"{name}-{key[:32]}.npz"
    if entry.is_file():
        try:
            with np.load(entry, allow_pickle=False) as data:
                stored = {k: data[k] for k in data.files}
            if str(stored.pop("_key", "")) != key or sorted(stored) != sorted(names):
                raise ValueError("the entry holds other arrays")
            return stored
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            print(f"warning: {entry}: unreadable cache entry ({exc}); rebuilding it",
                  file=sys.stderr)
    arrays = compute()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(entry) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, _key=np.array(key), **arrays)
    except OSError:
        pass  # a read-only pack: no cache, same answer
    return arrays
