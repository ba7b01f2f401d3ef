"""``bprop evaluate``: a model's metrics on a labelled data file."""

from __future__ import annotations

import argparse
from typing import Any

from bprop.cli.common import (
    CLIError,
    about,
    add_na_values,
    common_options,
    emit,
    emit_json,
    load_model,
    validation_metrics,
)
from bprop.sklearn.tabular import DataError, TableSpec, read_table, target_values

__all__ = ["add_parser", "evaluate"]


def evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    if args.target is None:
        if model.target is None:
            raise CLIError(
                f"{args.model}: the model does not name its target column; give --target COL"
            )
        args.target = model.target
    elif model.target is not None and args.target != model.target:
        raise CLIError(f"the model predicts {model.target!r}, not {args.target!r}")
    df = read_table(args.data, args.na_values)
    if args.target not in df.columns:
        raise DataError(
            f"{args.data}: target column {args.target!r} not found; the columns are: "
            f"{', '.join(df.columns)}"
        )
    task, classes = model.task, model.classes
    with about(args.data):
        spec = model.table or TableSpec(args.target, task, [], [])
        y = target_values(spec, df, classes if task == "classification" else None)
        pred, _ = model.predict(df, args.target)
    metrics = validation_metrics(task, y, pred, classes)
    result = {"model": args.model, "data": args.data, "rows": len(df), "task": task, **metrics}
    if args.json:
        emit_json(result)
        return 0
    lines = [f"{task} metrics on {len(df)} rows of {args.data}"]
    if task == "classification":
        lines.append(f"  accuracy  {metrics['accuracy']:.4f}")
        lines.append(f"  F1 macro  {metrics['f1_macro']:.4f}")
        lines.append("  confusion matrix (rows: true, columns: predicted)")
        labels = [str(c) for c in metrics["labels"]]
        width = max(6, *(len(label) for label in labels))
        lines.append("  " + " " * width + " " + " ".join(f"{c:>{width}}" for c in labels))
        for label, row in zip(labels, metrics["confusion_matrix"], strict=True):
            lines.append(f"  {label:>{width}} " + " ".join(f"{v:>{width}}" for v in row))
    else:
        r2 = "n/a" if metrics["r2"] is None else f"{metrics['r2']:.6g}"
        lines += [
            f"  R^2   {r2}",
            f"  MAE   {metrics['mae']:.6g}",
            f"  RMSE  {metrics['rmse']:.6g}",
        ]
    emit(args, "\n".join(lines))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common_options(True)],
        help="metrics of a model on a data file",
        description="Accuracy, macro F1 and confusion matrix (classification) or "
        "R^2, MAE and RMSE (regression) of a model on a labelled file. The model: one "
        "written by 'bprop train', a saved MLPClassifier or MLPRegressor, or a network "
        "(these read the numeric columns other than the target, in order).",
    )
    p.add_argument("model")
    p.add_argument("data", help="labelled data (.csv, .csv.gz, .parquet; - for CSV on stdin)")
    p.add_argument(
        "--target",
        default=None,
        help="the target column (default: the one the model was trained on; needed for "
        "estimator and network files)",
    )
    add_na_values(p)
    p.set_defaults(func=evaluate)
