"""``bprop export``: a model as an ONNX graph."""

from __future__ import annotations

import argparse
from typing import Any

from bprop.cli.common import check_writable, common_options, emit, load_model
from bprop.sklearn import onnx as onnx_export

__all__ = ["add_parser", "export"]


def export(args: argparse.Namespace) -> int:
    check_writable(args.onnx)
    model = load_model(args.model)
    onnx_export.export(model.file.obj, args.onnx)
    emit(args, f"ONNX model written to {args.onnx}")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        parents=[common_options()],
        help="export a model to ONNX",
        description="Write an ONNX graph whose outputs match bprop's predictions: of a "
        "model written by 'bprop train' (preprocessing included), a saved estimator, or a "
        "network.",
    )
    p.add_argument("model")
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.set_defaults(func=export)
