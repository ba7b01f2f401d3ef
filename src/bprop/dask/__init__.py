"""Training on a Dask cluster (the optional extra ``bprop[dask]``).

:class:`DaskData` holds training rows as dask arrays for :class:`bprop.Trainer`;
the estimators of :mod:`bprop.dask.estimators` take dask arrays and DataFrames. See
docs/distributed.md: what is exact, the cost of a round trip, the limits.
"""

from bprop.dask.data import DaskData
from bprop.dask.estimators import MLPAutoencoder, MLPClassifier, MLPRegressor
from bprop.dask.source import ClusterError, LocalPartitions, default_client

__all__ = [
    "ClusterError",
    "DaskData",
    "LocalPartitions",
    "MLPAutoencoder",
    "MLPClassifier",
    "MLPRegressor",
    "default_client",
]
