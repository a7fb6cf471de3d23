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
