"""The array tracer draws exactly GDAL's polygons (coverage.bands.trace) from the same cells."""

import numpy as np
import pytest
import shapely

from coverage.bands import grid_over, trace
from coverage.tracing import trace_cells


def _parts(geom) -> set[bytes]:
    return set(map(shapely.to_wkb, shapely.get_parts(shapely.normalize(geom))))


@pytest.mark.parametrize("density", [0.2, 0.45, 0.55, 0.8])
def test_same_polygons_as_gdal(density):
    grid = grid_over((1000.0, 2000.0, 5000.0, 6000.0), "EPSG:32648")
    rng = np.random.default_rng(int(density * 100))
    for _ in range(25):
        rows, cols = rng.integers(1, 60, size=2)
        r, c = np.divmod(np.arange(grid.size), grid.cols)
        mask = (rng.random(grid.size) < density) & (r < rows) & (c < cols) & (r > rows // 4)
        cells = np.flatnonzero(mask)
        ours, gdal = trace_cells(grid, cells), trace(grid, cells)
        assert ours.is_valid
        assert shapely.get_num_geometries(ours) == shapely.get_num_geometries(gdal)
        assert shapely.get_num_coordinates(ours) == shapely.get_num_coordinates(gdal)
        assert _parts(ours) == _parts(gdal)


def test_corner_touches_and_holes():
    grid = grid_over((0.0, 0.0, 400.0, 400.0), "EPSG:32648")
    ring = [r * grid.cols + c for r in range(1, 6) for c in range(1, 6)
            if r in (1, 5) or c in (1, 5)]
    cells = np.array(sorted(ring + [3 * grid.cols + 3, 6 * grid.cols + 6]))
    ours = trace_cells(grid, cells)
    assert _parts(ours) == _parts(trace(grid, cells))
    # The island in the hole and the cell touching the ring's corner stand apart.
    assert shapely.get_num_geometries(ours) == 3
    assert trace_cells(grid, np.array([], dtype=np.int64)).is_empty
