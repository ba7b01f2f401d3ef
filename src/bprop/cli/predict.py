"""``bprop predict``: a model's predictions for the rows of a data file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bprop.cli.common import CLIError, about, check_writable, common_options, emit, load_model
from bprop.sklearn.tabular import pandas_module, read_table, write_table

__all__ = ["add_parser", "predict"]


def predict(args: argparse.Namespace) -> int:
    pd = pandas_module()
    if args.out:
        check_writable(args.out)
    model = load_model(args.model)
    df = read_table(args.data)
    if args.proba and model.task != "classification":
        raise CLIError("--proba needs a classification model")
    with about(args.data):
        pred, proba = model.predict(df, args.target)
    out = pd.DataFrame({"prediction": pred})
    if args.proba:
        assert proba is not None and model.classes is not None
        for label, column in zip(model.classes, proba.T, strict=True):
            out[f"proba_{label}"] = column
    if args.out:
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
    p.add_argument("data", help="data file (.csv or .parquet)")
    p.add_argument("--out", help="write predictions here (.csv or .parquet); default: stdout")
    p.add_argument("--proba", action="store_true", help="add class probabilities")
    p.add_argument(
        "--target",
        default=None,
        help="a column to leave out (for models that read the numeric columns in order)",
    )
    p.set_defaults(func=predict)
