"""A generated municipality of realistic size, as a region pack, for batch benchmarks.

``python benchmarks/generate_municipality.py OUT [--nodes N] [--counties-x 8 --counties-y 5]
[--towns 5]`` writes a pack to ``OUT``:

* ``network/edges.parquet``: :func:`benchmarks.networks.grid_network` of ``N`` nodes
  (1.5 million by default, a 147 km square around 106.5°E 29.5°N), written by
  :func:`coverage.batch.write_network_parquet` so that each part reads its window;
* ``population/townships.geojson``: the square cut into ``counties_x x counties_y``
  counties (区县) of ``towns x towns`` townships each (8 x 5 x 25 = 1,000), 街道
  within 25 km of the centre, 镇 elsewhere;
* ``population/population.tif``: a 100 m population raster (EPSG:32648, float32) of
  the whole area: a dense core decaying with distance, a bump around every township
  seat, lognormal noise, 0 on 10% of cells (fields, water);
* ``facilities.geojson``: a 社区卫生服务中心/乡镇卫生院 near every seat and a
  secondary hospital in every county;
* ``boundary.geojson`` and ``region.toml``, every layer marked ``synthetic``.

Township populations are the raster's sums, so the table and the raster agree.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyproj
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from networks import grid_network

from coverage.batch import write_network_parquet

METRIC_CRS = "EPSG:32648"
CELL_M = 100.0
#: Radius (m) of the urban core whose townships are 街道.
CORE_M = 25_000.0


def _features(geoms, properties) -> str:
    features = [{"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
                for g, p in zip(geoms, properties)]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def generate(out: str | Path, *, nodes: int = 1_500_000, counties_x: int = 8,
             counties_y: int = 5, towns: int = 5, seed: int = 0) -> Path:
    """Write the pack to ``out`` and return its folder (see module notes)."""
    import rasterio
    from rasterio.transform import from_origin

    out = Path(out)
    (out / "network").mkdir(parents=True, exist_ok=True)
    (out / "population").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    network = grid_network(nodes, seed=seed)
    write_network_parquet(network, out / "network" / "edges.parquet")

    to_metric = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_wgs = pyproj.Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    x, y = to_metric.transform(network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy())
    # The area: the network's extent, snapped inward to whole raster cells.
    west, south = np.ceil(x.min() / CELL_M) * CELL_M, np.ceil(y.min() / CELL_M) * CELL_M
    east, north = np.floor(x.max() / CELL_M) * CELL_M, np.floor(y.max() / CELL_M) * CELL_M
    nx, ny = counties_x * towns, counties_y * towns
    xs, ys = np.linspace(west, east, nx + 1), np.linspace(south, north, ny + 1)
    cx, cy = (west + east) / 2, (south + north) / 2

    # Raster: core decay + seat bumps + lognormal noise, zeros on 10% of cells.
    cols, rows = round((east - west) / CELL_M), round((north - south) / CELL_M)
    gx = west + (np.arange(cols) + 0.5) * CELL_M
    gy = north - (np.arange(rows) + 0.5) * CELL_M
    seats_x = (xs[:-1] + xs[1:]) / 2 + rng.uniform(-0.25, 0.25, nx) * np.diff(xs)
    seats_y = (ys[:-1] + ys[1:]) / 2 + rng.uniform(-0.25, 0.25, ny) * np.diff(ys)
    core = np.exp(-np.hypot(gx[None, :] - cx, gy[:, None] - cy) / 12_000.0) * 60.0
    bump_x = np.exp(-np.abs(gx[None, :] - seats_x[:, None]) / 800.0).max(axis=0)
    bump_y = np.exp(-np.abs(gy[None, :] - seats_y[:, None]) / 800.0).max(axis=0)
    density = core + 25.0 * bump_y[:, None] * bump_x[None, :] + 1.5
    density *= rng.lognormal(0.0, 0.5, size=density.shape)
    density[rng.random(density.shape) < 0.10] = 0.0
    density = np.round(density).astype(np.float32)
    with rasterio.open(out / "population" / "population.tif", "w", driver="GTiff",
                       width=cols, height=rows, count=1, dtype="float32", crs=METRIC_CRS,
                       transform=from_origin(west, north, CELL_M, CELL_M), nodata=-1.0,
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate") as dst:
        dst.write(density, 1)

    # Townships: a grid of rectangles; population = the raster's sum inside.
    col_of = np.clip(np.searchsorted(xs, gx, side="right") - 1, 0, nx - 1)
    row_of = np.clip(np.searchsorted(ys, gy, side="right") - 1, 0, ny - 1)
    sums = np.zeros((ny, nx))
    np.add.at(sums, (row_of[:, None].repeat(cols, 1), col_of[None, :].repeat(rows, 0)), density)
    geoms, props, facilities, fac_props = [], [], [], []
    for j in range(ny):
        for i in range(nx):
            county = f"5001{(j // towns) * counties_x + i // towns + 1:02d}"
            code = f"{county}{j % towns * towns + i % towns + 1:03d}"
            box = shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
            street = np.hypot(seats_x[i] - cx, seats_y[j] - cy) < CORE_M
            lon, lat = to_wgs.transform(seats_x[i], seats_y[j])
            geoms.append(shapely.transform(shapely.segmentize(box, 1000.0), lambda c: np.column_stack(
                to_wgs.transform(c[:, 0], c[:, 1]))))
            props.append({"code": code, "name": f"第{code[-3:]}{'街道' if street else '镇'}",
                          "kind": "street" if street else "town", "county_code": county,
                          "county_name": f"第{county[-2:]}区", "population": int(sums[j, i]),
                          "population_year": 2020, "population_quality": "estimated",
                          "population_source": "sum of the synthetic raster",
                          "geometry_quality": "estimated", "seat_lon": lon, "seat_lat": lat})
            fx, fy = seats_x[i] + rng.normal(0, 300), seats_y[j] + rng.normal(0, 300)
            facilities.append(shapely.Point(to_wgs.transform(fx, fy)))
            kind = "community_health_centre" if street else "township_health_centre"
            fac_props.append({"id": f"F{code}", "name": props[-1]["name"] + "卫生院",
                              "type": kind, "township_code": code, "status": "existing"})
    for k in range(counties_x * counties_y):
        i = (k % counties_x) * towns + towns // 2
        j = (k // counties_x) * towns + towns // 2
        code = props[j * nx + i]["code"]
        facilities.append(shapely.Point(to_wgs.transform(seats_x[i] + 500, seats_y[j] + 500)))
        fac_props.append({"id": f"H{code[:6]}", "name": f"第{code[4:6]}区人民医院",
                          "type": "secondary_hospital", "township_code": code,
                          "status": "existing"})
    (out / "population" / "townships.geojson").write_text(_features(geoms, props),
                                                          encoding="utf-8")
    (out / "facilities.geojson").write_text(_features(facilities, fac_props), encoding="utf-8")
    (out / "boundary.geojson").write_text(
        _features([shapely.union_all(geoms)], [{"name": "generated municipality"}]),
        encoding="utf-8")
    provenance = "\n".join(
        f'[provenance.{layer}]\nsource = "benchmarks/generate_municipality.py (seed {seed})"\n'
        f'quality = "synthetic"\n'
        for layer in ("boundary", "townships", "facilities", "network", "population_raster"))
    (out / "region.toml").write_text(
        f'slug = "municipality"\nname_zh = "生成的直辖市"\nname_en = "Generated municipality"\n'
        f'metric_crs = "{METRIC_CRS}"\n\n[files]\nboundary = "boundary.geojson"\n'
        f'townships = "population/townships.geojson"\nfacilities = "facilities.geojson"\n'
        f'network = "network/edges.parquet"\npopulation_raster = "population/population.tif"\n\n'
        + provenance, encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--nodes", type=int, default=1_500_000)
    parser.add_argument("--counties-x", type=int, default=8)
    parser.add_argument("--counties-y", type=int, default=5)
    parser.add_argument("--towns", type=int, default=5)
    args = parser.parse_args()
    print(generate(args.out, nodes=args.nodes, counties_x=args.counties_x,
                   counties_y=args.counties_y, towns=args.towns))


if __name__ == "__main__":
    main()
