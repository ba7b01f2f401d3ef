"""``bprop explain``: every number of one backpropagation step, from the command line.

The computation is :func:`bprop.training.explain.explain_step`; this module builds the
network and the rule the options describe.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bprop.cli.common import HelpFormatter, common_options, emit, emit_json, key_value
from bprop.core.network import Network
from bprop.core.network_file import load_network
from bprop.training.build import build_rule, rule_name
from bprop.training.explain import Explanation, explain_step

__all__ = [
    "EXPLAIN_GD_LEARNING_RATE",
    "add_arguments",
    "add_parser",
    "explain_from_args",
    "run_explain",
]

#: explain's learning rate for gradient descent (the worked examples' eta = 0.5)
EXPLAIN_GD_LEARNING_RATE = 0.5


def _csv_floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.05,0.1, got {text!r}") from None


def _csv_ints(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 2,2,1, got {text!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"expected at least two positive sizes, got {text!r}")
    return sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``bprop explain``."""
    p.add_argument(
        "--input",
        "-x",
        type=_csv_floats,
        required=True,
        metavar="X1,X2,...",
        help="the input pattern",
    )
    p.add_argument(
        "--target",
        "-t",
        type=_csv_floats,
        required=True,
        metavar="T1,T2,...",
        help="the target outputs",
    )
    p.add_argument(
        "--sizes",
        type=_csv_ints,
        default=None,
        metavar="N,N,...",
        help="layer sizes, input first (default: inputs-2-targets, or from --weights)",
    )
    p.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help='weights from a JSON file {"weights": [W_0, ...], "biases": [b_0, ...]} '
        "(W_l[i][j] = w_ij, shape n_in x n_out) or a bprop model file",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for random weights (no --weights)")
    p.add_argument("--init", default="uniform", help="initialiser for random weights")
    p.add_argument("--activation", default="logistic", help="hidden activation")
    p.add_argument("--output-activation", default="logistic", help="output activation")
    p.add_argument(
        "--loss", default="squared_error", help="loss (E = 1/2 sum (t - o)^2 by default)"
    )
    p.add_argument("--rule", default="gd", help="update rule")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: 0.5 for gd, else the rule's default)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        type=key_value,
        metavar="KEY=VALUE",
        help="another rule hyperparameter (repeatable)",
    )
    p.add_argument(
        "--freeze-biases",
        action="store_true",
        help="leave the biases unchanged (as in Mazur's worked example)",
    )
    p.add_argument("--digits", type=int, default=9, help="significant digits shown")


def _network_from_json(path: str, hidden: str, output: str) -> Network:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON weights file ({exc})") from None
    if not isinstance(data, dict) or "weights" not in data or "biases" not in data:
        raise ValueError(f"{path}: expected an object with 'weights' and 'biases'")
    try:
        Ws = [np.asarray(W, dtype=float) for W in data["weights"]]
        bs = [np.asarray(b, dtype=float) for b in data["biases"]]
        return Network.from_weights(
            Ws, bs, data.get("activation", hidden), data.get("output_activation", output)
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def explain_from_args(args: argparse.Namespace) -> Explanation:
    """Build the network the options describe and explain one step."""
    n_in, n_out = len(args.input), len(args.target)
    if args.weights:
        if args.weights.lower().endswith(".json"):
            net = _network_from_json(args.weights, args.activation, args.output_activation)
        else:
            net = load_network(args.weights)
        if args.sizes is not None and list(net.sizes) != args.sizes:
            raise ValueError(f"--sizes {args.sizes} do not match the weights' {list(net.sizes)}")
    else:
        sizes = args.sizes or [n_in, 2, n_out]
        net = Network(
            sizes, args.activation, args.output_activation, init=args.init, seed=args.seed
        )
    if net.n_inputs != n_in:
        raise ValueError(f"--input has {n_in} values but the network has {net.n_inputs} inputs")
    if net.n_outputs != n_out:
        raise ValueError(f"--target has {n_out} values but the network has {net.n_outputs} outputs")
    default = EXPLAIN_GD_LEARNING_RATE if rule_name(args.rule) == "gd" else None
    rule = build_rule(
        args.rule, dict(args.param), learning_rate=args.lr, default_learning_rate=default
    )
    return explain_step(
        net,
        args.input,
        args.target,
        loss=args.loss,
        rule=rule,
        freeze_biases=args.freeze_biases,
        digits=args.digits,
    )


def run_explain(args: argparse.Namespace) -> int:
    """Run ``bprop explain``; returns the exit status."""
    result = explain_from_args(args)
    if args.json:
        emit_json(result.to_dict())
    else:
        emit(args, result.format())
    return 0


def add_parser(sub: Any) -> None:
    """Add the ``explain`` command to the subparsers."""
    p = sub.add_parser(
        "explain",
        parents=[common_options(True)],
        help="print every number of one backpropagation step",
        description="For a small network and one pattern, print the forward "
        "pass, the error, the deltas, the gradients, the weight changes under "
        "the chosen rule, the new weights and the new error.",
        formatter_class=HelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run_explain)
