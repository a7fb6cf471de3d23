"""Uploaded files: stored for the readers in a folder removed once read, bounded in size.

An upload is hostile until its reader has accepted it. It is written under a
sanitised name (only its suffix is kept) into a fresh temporary folder, read by
the library's own readers (which open it with its format's driver alone, see
:mod:`coverage.drivers`), and the folder is removed as soon as it has been read
(:func:`stored_upload`). Excel workbooks are zip archives: one of 0.18 MB can
unpack to hundreds, so :func:`check_workbook` refuses one whose members add up to
more than :data:`MAX_UNPACKED_BYTES` before any parser unpacks it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

from coverage.errors import InputError

#: Largest upload accepted, in bytes (the app's ``server.maxUploadSize`` is the same 50 MB).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Largest total unpacked size of an Excel workbook's members.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
#: File suffixes accepted per kind of upload (the readers dispatch on them).
UPLOAD_SUFFIXES = {
    "facilities": (".csv", ".xlsx", ".xls", ".geojson", ".json"),
    "raster": (".tif", ".tiff"),
    "network": (".osm", ".pbf", ".graphml", ".geojson", ".gpkg"),
    "scenario": (".toml",),
}


def store_upload(data: bytes, name: str, kind: str, folder: str | Path | None = None) -> Path:
    """Write an uploaded file into ``folder`` (a new temporary folder by default) for a reader.

    Only the suffix of ``name`` is kept (the rest is replaced, so a name cannot
    reach outside the folder); the file is only ever read by the library's readers.
    The caller removes a default folder; :func:`stored_upload` does it for you.

    Raises
    ------
    InputError
        For a file larger than :data:`MAX_UPLOAD_BYTES`, an empty one, or a suffix
        not in :data:`UPLOAD_SUFFIXES` for ``kind``.
    """
    suffixes = UPLOAD_SUFFIXES[kind]
    lower = name.lower()
    suffix = next((s for s in sorted(suffixes, key=len, reverse=True) if lower.endswith(s)), None)
    if suffix is None:
        raise InputError(name, f"unsupported file type: expected one of {', '.join(suffixes)}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(name, f"the file is {len(data) / 2**20:.0f} MB: at most "
                         f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted")
    if not data:
        raise InputError(name, "the file is empty")
    stem = re.sub(r"[^\w.-]", "_", Path(name).name[: -len(suffix)]) or "upload"
    if lower.endswith(".osm.pbf"):
        stem, suffix = stem.removesuffix(".osm"), ".osm.pbf"
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="coverage-upload-"))
    path = folder / f"{stem}{suffix}"
    path.write_bytes(data)
    return path


@contextlib.contextmanager
def stored_upload(data: bytes, name: str, kind: str) -> Iterator[Path]:
    """The upload as a file in a temporary folder, removed when the block ends.

    Read everything the program needs inside the block; raises as
    :func:`store_upload` does.
    """
    folder = Path(tempfile.mkdtemp(prefix="coverage-upload-"))
    try:
        yield store_upload(data, name, kind, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_workbook(path: str | Path, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse an .xlsx/.xlsm whose members unpack to more than ``limit`` bytes.

    The sizes come from the zip directory, read without unpacking anything. An old
    binary .xls is not a zip and is left to its reader.
    """
    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"not an Excel workbook (.xlsx is a zip archive): {exc}") from None
    if total > limit:
        raise InputError(path, f"the workbook unpacks to {total / 2**20:.0f} MB: at most "
                         f"{limit // 2**20} MB are read (解压后过大)")
