"""``bprop train --workers N`` / ``--scheduler ADDRESS``: the same pipeline, fitted on a Dask
cluster.

The data (a CSV file, a Parquet file or a directory of Parquet files) are read by the
workers (``dask.dataframe``); the column kinds and the task are inferred from the first
rows (:data:`SAMPLE_ROWS`), the ColumnTransformer (and a regression target's scaler) are
fitted in one streaming pass over the partitions, and :mod:`bprop.dask`'s estimator
trains with the settings of a local run. Validation rows: a seeded random split of every
partition. The result is the ordinary pipeline file, with no trace of Dask.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bprop.cli.common import CLIError, emit
from bprop.cli.stream import SAMPLE_ROWS, ScaledTarget, assemble_pipeline, infer_spec
from bprop.dask import DaskData
from bprop.dask import MLPClassifier as DaskMLPClassifier
from bprop.dask import MLPRegressor as DaskMLPRegressor
from bprop.dask.data import plain_strings
from bprop.sklearn.streaming import fit_streaming
from bprop.sklearn.tabular import TableSpec, make_pipeline

__all__ = [
    "SAMPLE_ROWS",
    "add_cluster_options",
    "check_cluster_options",
    "cluster_client",
    "fit_on_cluster",
]


def add_cluster_options(parser: Any) -> None:
    g = parser.add_argument_group("cluster (Dask; needs the 'dask' extra)")
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="train on a Dask LocalCluster of N worker processes started on this machine",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="train on an existing Dask cluster (e.g. tcp://HOST:8786)",
    )


def check_cluster_options(args: Any) -> None:
    """A CLIError for --workers with --scheduler, a worker count below 1, or missing data."""
    if args.workers is not None and args.scheduler:
        raise CLIError("give --workers (a cluster on this machine) or --scheduler, not both")
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    if not os.path.exists(args.data):
        raise CLIError(f"{args.data}: no such file or directory")


@contextlib.contextmanager
def cluster_client(args: Any) -> Iterator[Any]:
    """A Dask client for ``--workers`` (a new LocalCluster) or ``--scheduler``."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        msg = "--workers and --scheduler need the 'dask' extra: pip install 'bprop[dask]'"
        raise CLIError(msg) from None
    check_cluster_options(args)
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise CLIError(f"cannot reach the Dask scheduler at {args.scheduler} ({exc})") from None
        with client:
            emit(args, f"joined the Dask cluster at {args.scheduler}")
            yield client
        return
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1") as cluster,
        Client(cluster) as client,
    ):
        emit(args, f"Dask cluster of {args.workers} workers; dashboard: {client.dashboard_link}")
        yield client


def _read(path: str, na_values: list[str]) -> Any:
    import dask.dataframe as dd

    if os.path.isdir(path) or path.lower().endswith((".parquet", ".pq")):
        return plain_strings(dd.read_parquet(path))
    if path.lower().endswith((".csv", ".tsv", ".txt")):
        sep = "\t" if path.lower().endswith(".tsv") else ","
        return plain_strings(dd.read_csv(path, sep=sep, na_values=na_values or None))
    raise CLIError(f"{path}: give a .csv or .parquet file or a directory of Parquet files")


def _frames(frame: Any):
    def frames():
        for q in range(frame.npartitions):
            yield frame.get_partition(q).compute()

    return frames


def fit_on_cluster(
    client: Any,
    path: str,
    s: dict[str, Any],
    make_estimator: Callable[[str], Any],
    dtype: Any,
    checkpoint: Any = None,
) -> tuple[Pipeline, TableSpec, Any]:
    """The fitted pipeline, its table spec and the validation rows (a pandas DataFrame, or
    None) of a run on the cluster; ``make_estimator(task)`` gives the local estimator whose
    parameters the cluster's estimator takes; ``checkpoint`` resumes a checkpointed run.
    The options, and that ``path`` exists, are checked first (:func:`check_cluster_options`)."""
    frame = _read(path, s.get("na_values", []))
    sample = frame.head(SAMPLE_ROWS, npartitions=-1)
    spec = infer_spec(sample, s)
    mlp = make_estimator(spec.task)
    pipeline = make_pipeline(spec, mlp, dtype)
    frame = frame[[*spec.features, spec.target]]
    val = None
    if s["val_fraction"] > 0:
        frame, val = frame.random_split([1 - s["val_fraction"], s["val_fraction"]], s["seed"])
    columns = fit_streaming(pipeline.steps[0][1], _frames(frame[list(spec.features)]))
    params = {k: v for k, v in mlp.get_params(deep=False).items()}
    target_scaler = None
    if spec.task == "regression":
        target_scaler = fit_streaming(StandardScaler(), _frames(frame[[spec.target]]))
        est = DaskMLPRegressor(client=client, **params)
    else:
        est = DaskMLPClassifier(client=client, **params)

    def data(part: Any) -> DaskData:
        return DaskData(
            part,
            spec.target,
            client=client,
            transform=columns,
            target_transform=None if target_scaler is None else ScaledTarget(target_scaler),
        )

    train = data(frame)
    train.validation = None if val is None else data(val)
    est.fit(train, checkpoint=checkpoint)
    fitted = assemble_pipeline(columns, est.to_local(), target_scaler, mlp)
    return fitted, spec, None if val is None else val.compute()
