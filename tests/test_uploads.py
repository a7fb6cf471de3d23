"""Hostile uploads: GDAL opened by content, zip bombs, leftover folders, CSV formulas."""

import http.server
import io
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage import drivers, uploads
from coverage.errors import InputError
from coverage.output import csv_text, neutralise_formulas
from coverage.region import load_region
from coverage.tables import read_features, read_table

ROOT = Path(__file__).resolve().parents[1]
BEIBEI = ROOT / "regions" / "beibei"


@pytest.fixture
def secret(tmp_path):
    """A server file no upload may read."""
    path = tmp_path / "server" / "passwd.csv"
    path.parent.mkdir()
    path.write_text("name,lon,lat,type\nroot:x:0:0,106.4,29.8,乡镇卫生院\n", encoding="utf-8")
    return path


@pytest.fixture
def private_raster(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "server" / "private.tif"
    path.parent.mkdir(exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(106.3, 29.9, 0.05, 0.05)) as dst:
        dst.write(np.full((1, 4, 4), 1000.0, dtype="float32"))
    return path


@pytest.fixture
def listener():
    """A local HTTP server that counts the requests it gets (none may arrive)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()


def _ogr_vrt(secret: Path) -> str:
    return (f'<OGRVRTDataSource><OGRVRTLayer name="passwd"><SrcDataSource>CSV:{secret}'
            '</SrcDataSource><GeometryType>wkbPoint</GeometryType>'
            '<GeometryField encoding="PointFromColumns" x="lon" y="lat"/></OGRVRTLayer>'
            '</OGRVRTDataSource>')


def _raster_vrt(source: str) -> str:
    return ('<VRTDataset rasterXSize="4" rasterYSize="4"><SRS>EPSG:4326</SRS>'
            '<GeoTransform>106.3, 0.05, 0, 29.9, 0, -0.05</GeoTransform>'
            '<VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
            f'<SourceFilename relativeToVRT="0">{source}</SourceFilename><SourceBand>1</SourceBand>'
            '</SimpleSource></VRTRasterBand></VRTDataset>')


def test_a_geojson_that_is_an_ogr_vrt_over_a_server_file_is_refused(tmp_path, secret):
    upload = tmp_path / "register.geojson"
    upload.write_text(_ogr_vrt(secret), encoding="utf-8")
    with pytest.raises(InputError, match="register.geojson: the content is not GeoJSON"):
        read_features(upload)
    from coverage.views import with_uploads

    region = load_region(BEIBEI)
    with pytest.raises(InputError, match="content is not GeoJSON"):
        with_uploads(region, facilities=(upload.read_bytes(), "register.geojson"))


def test_a_tif_that_is_a_vrt_over_a_private_raster_is_refused(tmp_path, private_raster):
    from coverage.population import raster_points

    upload = tmp_path / "people.tif"
    upload.write_text(_raster_vrt(str(private_raster)), encoding="utf-8")
    region = load_region(BEIBEI)
    with pytest.raises(InputError, match="people.tif: the content is not a GeoTIFF"):
        raster_points(upload, region.townships, region.metric_crs)
    from coverage.views import with_uploads

    with pytest.raises(InputError, match="not a GeoTIFF"):
        with_uploads(region, raster=(upload.read_bytes(), "people.tif"))
    with drivers.open_raster(private_raster) as src:  # a real GeoTIFF still opens
        assert src.driver == "GTiff" and src.read(1).sum() == 16000


def test_a_tif_that_is_a_vrt_over_vsicurl_sends_no_request(tmp_path, listener):
    port, hits = listener
    upload = tmp_path / "people.tif"
    upload.write_text(_raster_vrt(f"/vsicurl/http://127.0.0.1:{port}/internal.tif"),
                      encoding="utf-8")
    with pytest.raises(InputError, match="not a GeoTIFF"):
        drivers.open_raster(upload)
    for path in (f"/vsicurl/http://127.0.0.1:{port}/x.tif", f"http://127.0.0.1:{port}/x.tif"):
        with pytest.raises(InputError, match="only local files"):
            drivers.open_raster(path)
    assert hits == []


@pytest.mark.parametrize("path", ["/vsicurl/http://127.0.0.1:9/a.geojson", "CSV:/etc/passwd",
                                  "https://example.org/a.geojson", "/vsizip//tmp/a.zip/a.shp",
                                  "GPKG:/tmp/a.gpkg:layer"])
def test_vsi_paths_urls_and_driver_prefixes_are_refused(path):
    with pytest.raises(InputError, match="only local files"):
        drivers.read_features(path)


def test_a_suffix_must_match_the_content(tmp_path, secret):
    disguised = tmp_path / "roads.gpkg"
    disguised.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputError, match="roads.gpkg: the content is not GPKG"):
        read_features(disguised)
    csv_as_json = tmp_path / "f.json"
    csv_as_json.write_bytes(secret.read_bytes())
    with pytest.raises(InputError, match="the content is not GeoJSON"):
        read_features(csv_as_json)


def test_real_feature_files_still_open(tmp_path):
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(106.4, 29.8)],
                             crs="EPSG:4326")
    for name, driver in (("a.geojson", "GeoJSON"), ("a.gpkg", "GPKG"), ("a.shp", "ESRI Shapefile"),
                         ("a.fgb", "FlatGeobuf")):
        frame.to_file(tmp_path / name, driver=driver, engine="pyogrio")
        assert read_features(tmp_path / name)["name"].tolist() == ["a"], name


def test_importing_the_package_switches_the_vrt_drivers_off():
    # The command line and the app import the package before anything opens GDAL.
    code = ("import coverage, pyogrio, rasterio\n"
            "with rasterio.Env() as env:\n    raster = env.drivers()\n"
            "vector = pyogrio.list_drivers()\n"
            "print('VRT' in raster, 'OGR_VRT' in vector, 'GTiff' in raster, 'GeoJSON' in vector)")
    env = {k: v for k, v in os.environ.items() if k != "GDAL_SKIP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.split() == ["False", "False", "True", "True"]


# --- upload folders and workbooks ---------------------------------------------------------

def test_upload_folders_are_removed_once_read(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads.tempfile, "tempdir", str(tmp_path))
    with uploads.stored_upload(b"id,name\n1,a\n", "../../x.csv", "facilities") as path:
        assert path.parent.parent == tmp_path and path.read_bytes() == b"id,name\n1,a\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError):
        with uploads.stored_upload(b"", "x.csv", "facilities"):
            pass
    assert list(tmp_path.iterdir()) == []
    from coverage.views import with_uploads

    region = load_region(BEIBEI)
    register = csv_text(pd.DataFrame(region.facilities.drop(columns="geometry")).assign(
        lon=region.facilities.geometry.x, lat=region.facilities.geometry.y))
    new, _ = with_uploads(region, facilities=(register.encode("utf-8"), "register.csv"))
    assert len(new.facilities) == len(region.facilities)
    with pytest.raises(InputError):
        with_uploads(region, facilities=(b"nonsense", "register.csv"))
    assert list(tmp_path.iterdir()) == []


def _bomb(path: Path, unpacked: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"<row><c><v>0</v></c></row>" * 4096
            for _ in range(unpacked // len(block) + 1):
                member.write(block)
    return path


def test_an_xlsx_that_unpacks_too_far_is_refused_before_parsing(tmp_path):
    bomb = _bomb(tmp_path / "register.xlsx", 80 * 2**20)
    assert bomb.stat().st_size < 2**20
    with pytest.raises(InputError, match="register.xlsx: the workbook unpacks to 80 MB"):
        read_table(bomb)
    not_zip = tmp_path / "fake.xlsx"
    not_zip.write_bytes(b"id,name\n")
    with pytest.raises(InputError, match="fake.xlsx: not an Excel workbook"):
        read_table(not_zip)


# --- CSV formulas ---------------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://x\",\"点我\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
           "\tx", "正常名称", "'=kept quote", ""]


def test_csv_formulas_are_neutralised_and_read_back_unchanged(tmp_path):
    frame = pd.DataFrame({"name": HOSTILE, "beds": np.arange(len(HOSTILE)) - 3.5})
    text = csv_text(frame)
    cells = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype=str, keep_default_na=False)
    for cell in cells["name"]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert cells["beds"].iloc[0] == "-3.5"  # numbers stay numbers
    path = tmp_path / "download.csv"
    path.write_text(text, encoding="utf-8", newline="")
    back = read_table(path)
    assert back["name"].fillna("").tolist() == HOSTILE


def test_every_csv_writer_neutralises(tmp_path):
    from coverage.targets import format_results

    frame = pd.DataFrame({"name_zh": ["=1+1", "\rx"], "status": ["met", "met"]})
    assert "'=1+1" in format_results(frame, "csv")
    assert neutralise_formulas(frame)["name_zh"].tolist() == ["'=1+1", "'\rx"]
