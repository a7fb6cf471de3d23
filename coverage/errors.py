"""Errors for bad input, and atomic writes so that a failure leaves nothing half done."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


class InputError(ValueError):
    """Bad input, named precisely enough for a planner to fix it.

    The message reads like ``facilities.csv row 12, 床位: 'abc' is not a number``:
    the file, the row (1-based data row, as a spreadsheet shows it after the header)
    or feature, the field, and what was expected.

    Parameters
    ----------
    path
        The file (or a short label such as ``'region.toml'``).
    problem
        What is wrong and what was expected.
    row
        1-based row number for tables; ``feature`` for GeoJSON features.
    field
        Column or property name, as written in the input.
    kind
        ``'row'`` or ``'feature'``: how to name the record.
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        problem: str,
        *,
        row: int | None = None,
        field: str | None = None,
        kind: str = "row",
    ) -> None:
        self.path = str(path) if path is not None else None
        self.row = row
        self.field = field
        self.problem = problem
        where = Path(self.path).name if self.path else ""
        if row is not None:
            where = f"{where} {kind} {row}".strip()
        if field:
            where = f"{where}, {field}" if where else field
        super().__init__(f"{where}: {problem}" if where else problem)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success.

    On an exception the temporary file is removed and ``path`` is untouched, so a
    failed run never leaves a half-written output.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path: str | os.PathLike, prefix: bytes = b"") -> str:
    """SHA-256 (hex) of ``prefix`` and the file's bytes, read in 1 MiB blocks: the key of
    every content-addressed cache and checksum of the package."""
    digest = hashlib.sha256(prefix)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (newline ``\\n`` on every platform)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=encoding, newline="\n") as fh:
            fh.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
