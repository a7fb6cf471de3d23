"""The choices the command line offers, importable without numpy, pandas or the library.

Building the ``coverage`` argument parser (and so ``coverage --help``) needs only these
names; the modules that use them (:mod:`coverage.modes`, :mod:`coverage.siting`,
:mod:`coverage.batch`) take them from here.
"""

#: Travel modes (see :mod:`coverage.modes`).
MODES = ("walk", "ebike", "car")
#: Siting models (see :mod:`coverage.siting`).
MODELS = ("mclp", "lscp", "pmedian")
#: Default time limit of one MILP solve, seconds.
TIME_LIMIT_S = 60.0
#: Where batch parts run (see :mod:`coverage.batch`).
BACKENDS = ("inline", "processes", "dask")
#: Road classes never noded where they cross another road nor joined from an at-grade
#: road's end (快速路, 高速公路 and 匝道 cross other roads on bridges or in tunnels).
GRADE_SEPARATED = ("快速路", "高速公路", "匝道")
#: Default repair tolerance (m): dead ends this close to another road are joined, and
#: :mod:`coverage.network_repair` reports them as near misses.
REPAIR_TOLERANCE_M = 20.0
