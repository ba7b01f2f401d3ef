"""``bprop predict``: a model's predictions for the rows of a data file.

A model from ``bprop train`` takes its columns by name (the file's other columns are
ignored); ``--keep COL`` copies columns of the file (an ID) into the output, before the
``prediction`` and ``proba_<label>`` columns (streamed data too, row group by row group).
DATA ``-`` reads CSV from stdin, ``--out -`` (the default) writes CSV to stdout."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bprop.cli.common import (
    CLIError,
    about,
    add_na_values,
    check_writable,
    common_options,
    emit,
    load_model,
)
from bprop.cli.memory import add_memory_option, read_frame, streams
from bprop.cli.stream import check_keep, predict_in_blocks, predict_parquet, prediction_columns
from bprop.sklearn.tabular import STDIO, pandas_module, write_table

__all__ = ["add_parser", "predict"]


def predict(args: argparse.Namespace) -> int:
    pd = pandas_module()
    to_file = args.out not in (None, STDIO)
    if to_file:
        check_writable(args.out)
    model = load_model(args.model)
    if args.proba and model.task != "classification":
        raise CLIError("--proba needs a classification model")
    if streams(args.data, model.network.dtype, args.memory_limit) is not None:
        with about(args.data):
            rows = predict_parquet(model, args.data, args.out, args.target, args.proba,
                                   args.keep, args.na_values)  # fmt: skip
        emit(args, f"{rows} predictions written to {args.out} (streamed from Parquet)")
        return 0
    keep = (args.target, *(model.table.categorical if model.table is not None else ()))
    df = read_frame(args.data, model.network.dtype, keep, args.na_values)
    kept = check_keep(args.data, list(df.columns), args.keep, prediction_columns(model, args.proba))
    with about(args.data):
        pred, proba = predict_in_blocks(model, df, args.target)
    out = pd.DataFrame({k: df[k].to_numpy() for k in kept})
    results = {"prediction": pred}
    if args.proba:
        assert proba is not None and model.classes is not None
        for label, column in zip(model.classes, proba.T, strict=True):
            results[f"proba_{label}"] = column
    out = out.assign(**results)
    if to_file:
        write_table(out, args.out)
        emit(args, f"{len(out)} predictions written to {args.out}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        parents=[common_options()],
        help="predict with a model on a data file",
        description="Apply a model to a raw data file: a model written by 'bprop train' "
        "(a pipeline: its columns by name, preprocessing included), a saved MLPClassifier "
        "or MLPRegressor, or a network (the file's numeric columns in order).",
    )
    p.add_argument("model", help="model file (bprop train, an estimator's save, a network)")
    p.add_argument(
        "data",
        help="data file (.csv, .csv.gz, .parquet, a Parquet directory; - for CSV on stdin)",
    )
    p.add_argument(
        "--out", help="write predictions here (.csv, .csv.gz, .parquet; - or unset: stdout)"
    )
    p.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COL",
        help="copy this column of DATA into the output, e.g. an ID (repeatable)",
    )
    p.add_argument("--proba", action="store_true", help="add class probabilities")
    p.add_argument(
        "--target",
        default=None,
        help="a column to leave out (for models that read the numeric columns in order)",
    )
    add_na_values(p)
    add_memory_option(p)
    p.set_defaults(func=predict)
