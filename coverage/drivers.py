"""Opening feature files and rasters with the one GDAL driver their format allows.

GDAL opens a file by its content, not its name: a "register.geojson" that is an
``<OGRVRTDataSource>`` reads any file on the server through ``CSV:``, a ".tif" that
is a ``<VRTDataset>`` reads any raster on it, or fetches ``/vsicurl/http://…``
(server-side requests to internal addresses). Every upload and every pack file is
therefore opened here only as a plain local file whose first bytes match the
format its suffix declares, with that format's driver alone (rasters: GTiff only);
VRT, ``/vsi…`` paths and URLs are refused. :func:`restrict_gdal` switches the VRT
drivers off for the whole process when the command line or the app starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from coverage.errors import InputError

#: Suffix -> (GDAL driver, accepted first bytes).
FEATURE_FORMATS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".geojson": ("GeoJSON", (b"{",)),
    ".json": ("GeoJSON", (b"{",)),
    ".gpkg": ("GPKG", (b"SQLite format 3\x00",)),
    ".shp": ("ESRI Shapefile", (b"\x00\x00\x27\x0a",)),
    ".fgb": ("FlatGeobuf", (b"fgb\x03",)),
}
#: GeoTIFF and BigTIFF, little- and big-endian.
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
RASTER_SUFFIXES = (".tif", ".tiff")

#: GDAL options set for the process: no VRT drivers, no Python in VRTs.
GDAL_LOCKDOWN = {"GDAL_SKIP": "VRT OGR_VRT", "GDAL_VRT_ENABLE_PYTHON": "NO"}

#: /vsi paths, URLs (``http://``) and GDAL connection strings (``CSV:``, ``GPKG:``).
_REMOTE = re.compile(r"^(/vsi|[A-Za-z][A-Za-z0-9_+.-]*:)")


def restrict_gdal() -> None:
    """Switch GDAL's VRT drivers off for this process (set before GDAL registers its
    drivers, that is before rasterio or pyogrio are imported, and kept if already set)."""
    for key, value in GDAL_LOCKDOWN.items():
        os.environ.setdefault(key, value)


def local_file(path: str | os.PathLike, suffixes) -> Path:
    """``path`` as a plain local file with one of ``suffixes``; refuse the rest.

    Raises
    ------
    InputError
        For ``/vsi…`` paths, URLs and GDAL connection strings (``CSV:…``), a
        missing or empty file, something that is not a regular file, or another suffix.
    """
    text = os.fspath(path)
    if _REMOTE.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        raise InputError(text, "only local files can be read: /vsi paths, URLs and driver "
                         "prefixes are refused (只能读取本地文件)")
    path = Path(text)
    if not path.exists():
        raise InputError(path, "file not found")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty")
    if path.suffix.lower() not in suffixes:
        raise InputError(path, f"unsupported format {path.suffix!r}: expected "
                         + ", ".join(suffixes))
    return path


def _first_bytes(path: Path, n: int = 16) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:n] if path.suffix.lower() in (
        ".geojson", ".json") else head[:n]


def feature_driver(path: str | os.PathLike) -> str:
    """The GDAL driver for a feature file, after checking its content matches its suffix."""
    path = local_file(path, tuple(FEATURE_FORMATS))
    driver, magic = FEATURE_FORMATS[path.suffix.lower()]
    if not _first_bytes(path).startswith(magic):
        raise InputError(path, f"the content is not {driver} as its suffix {path.suffix} "
                         "says (文件内容与格式不符)")
    return driver


def read_features(path: str | os.PathLike, **options):
    """Read a feature file with its own driver only (see :func:`feature_driver`).

    ``options`` go to :func:`pyogrio.read_dataframe` (``layer`` …). Raises
    :class:`InputError` for a refused or unreadable file and one with no features.
    """
    import pyogrio

    restrict_gdal()
    driver = feature_driver(path)
    path = Path(path)
    try:
        opened = pyogrio.read_info(path, layer=options.get("layer")).get("driver")
        if opened != driver:  # GDAL identified something else: never read it
            raise InputError(path, f"GDAL reads this file as {opened}, not {driver}")
        frame = pyogrio.read_dataframe(path, **options)
    except InputError:
        raise
    except Exception as exc:  # pyogrio.errors.DataSourceError and friends
        raise InputError(path, f"cannot read the features: {exc}") from exc
    if frame.empty:
        raise InputError(path, "the file has no features")
    return frame


def open_raster(path: str | os.PathLike):
    """Open a GeoTIFF with the GTiff driver alone (a :class:`rasterio.DatasetReader`)."""
    import rasterio

    restrict_gdal()
    path = local_file(path, RASTER_SUFFIXES)
    if not _first_bytes(path, 4) in TIFF_MAGIC:
        raise InputError(path, "the content is not a GeoTIFF as its suffix says "
                         "(文件内容不是 GeoTIFF)")
    try:
        return rasterio.open(path, driver="GTiff")
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(path, f"not a readable raster: {exc}") from None
