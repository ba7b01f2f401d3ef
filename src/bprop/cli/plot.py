"""``bprop plot``: learning curves (and with data, the confusion matrix and decision
boundary) of a model or of a checkpoint of a running job."""

from __future__ import annotations

import argparse
import os
from typing import Any

from bprop.cli.common import CLIError, check_directory, common_options, emit, load_model
from bprop.cli.plots import training_plots
from bprop.sklearn.tabular import read_table

__all__ = ["add_parser", "plot"]


def plot(args: argparse.Namespace) -> int:
    check_directory(args.out)
    model = load_model(args.model, ("pipeline", "estimator", "network", "checkpoint"))
    if model.history is None or not model.history.records:
        raise CLIError(f"{args.model}: holds no training history to plot")
    df = read_table(args.data) if args.data else None
    shown = None if df is None else f"{os.path.basename(args.data)} ({len(df)} rows)"
    for path in training_plots(model, df, args.out, shown):
        emit(args, f"wrote {path}")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        parents=[common_options()],
        help="plot a model's learning curves",
        description="Learning curves from the history of a model or a checkpoint (a "
        "running job's); with --data also the confusion matrix and (two numeric input "
        "columns) the decision boundary of a model written by 'bprop train'.",
    )
    p.add_argument("model")
    p.add_argument("--data", help="labelled data for the confusion matrix and decision boundary")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the PNG files")
    p.set_defaults(func=plot)
