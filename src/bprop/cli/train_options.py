"""The options of ``bprop train`` (each maps onto a parameter of the estimator or of the
pipeline; see :mod:`bprop.cli.train`)."""

from __future__ import annotations

import argparse

from bprop.cli.common import fraction, int_list, key_value, positive

__all__ = ["add_train_options"]


def add_train_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``bprop train`` to ``p``."""
    p.add_argument("data", help="training data (.csv or .parquet)")
    p.add_argument(
        "--target", required=True, help="the column to predict (with --resume: the checkpoint's)"
    )
    p.add_argument("--out", required=True, help="model file to write (e.g. model.bprop)")
    g = p.add_argument_group("data")
    g.add_argument("--task", choices=("classification", "regression"), help="default: inferred")
    g.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COL",
        help="treat a numeric column as categorical (repeatable)",
    )
    g.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COL",
        help="ignore a column, e.g. an ID (repeatable)",
    )
    g.add_argument(
        "--impute",
        action="store_true",
        help="fill empty cells with the training mean / most frequent category "
        "(default: empty cells are an error)",
    )
    g.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.2,
        help="fraction of rows held out for validation (0: none)",
    )
    g = p.add_argument_group("network")
    g.add_argument(
        "--hidden",
        type=int_list,
        default=[16],
        metavar="N[,N...]",
        help="hidden layer sizes (0: no hidden layer; default: 16)",
    )
    g.add_argument(
        "--activation", default="tanh", help="hidden activation, or one per hidden layer: tanh,relu"
    )
    g.add_argument("--init", default="xavier_uniform", help="weight initialiser")
    g.add_argument(
        "--dtype", default="float64", choices=("float32", "float64"), help="floating-point type"
    )
    g = p.add_argument_group("training")
    g.add_argument(
        "--rule", default="momentum", help="update rule (gd, momentum, nesterov, adam, ...)"
    )
    g.add_argument(
        "--lr", type=float, default=None, help="learning rate (the rule's default if unset)"
    )
    g.add_argument(
        "--param",
        action="append",
        default=[],
        type=key_value,
        metavar="KEY=VALUE",
        help="another rule hyperparameter, e.g. momentum=0.8 (repeatable)",
    )
    g.add_argument(
        "--mode",
        default=None,
        choices=("online", "batch", "minibatch"),
        help="default: batch for full-batch rules (rprop, quickprop, lbfgs, lm), else minibatch",
    )
    g.add_argument("--batch-size", type=positive, default=32, help="patterns per mini-batch")
    g.add_argument("--epochs", type=positive, default=200, help="maximum number of epochs")
    g.add_argument(
        "--weight-decay", type=float, default=0.0, help="L2 coefficient (scikit-learn's alpha)"
    )
    g.add_argument("--seed", type=int, default=0, help="seed for weights, split and shuffling")
    g = p.add_argument_group("stopping")
    g.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping patience in epochs (default: 20 with a validation split, "
        "else off; 0: off)",
    )
    g.add_argument("--target-error", type=float, default=None, help="stop at this training loss")
    g.add_argument("--gl", type=float, default=None, help="Prechelt's GL_alpha (percent)")
    g.add_argument("--pq", type=float, default=None, help="Prechelt's PQ_alpha")
    g.add_argument("--up", type=int, default=None, help="Prechelt's UP_s (strips of 5 epochs)")
    g = p.add_argument_group("output")
    g.add_argument(
        "--checkpoint-every",
        type=positive,
        default=None,
        metavar="N",
        help="write a checkpoint every N epochs",
    )
    g.add_argument("--checkpoint", default=None, help="checkpoint file (default: OUT.ckpt)")
    g.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint, with its training settings",
    )
    g.add_argument("--plots", default=None, metavar="DIR", help="write PNG plots to DIR")
    g.add_argument(
        "--allow-divergence",
        action="store_true",
        help="save the model even if training diverged (default: exit status 3, no model)",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p
