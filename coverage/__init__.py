"""Health service-coverage planning for Chongqing (重庆医疗卫生服务覆盖规划).

The data flows one way through the package:

1. load and validate: :mod:`coverage.crs`, :mod:`coverage.tables`,
   :mod:`coverage.facilities`, :mod:`coverage.townships`, :mod:`coverage.region`;
2. network and travel times: :mod:`coverage.network`, :mod:`coverage.modes`,
   :mod:`coverage.routing`, :mod:`coverage.isochrones`;
3. coverage and targets; 4. scenarios and optimisation; 5. layers, report, app.
"""

__version__ = "0.1.0"

# GDAL opens files by content: switch its VRT drivers off for this process before any
# module imports GDAL (the command line and the app both import this package first).
from coverage.drivers import restrict_gdal as _restrict_gdal  # noqa: E402

_restrict_gdal()
