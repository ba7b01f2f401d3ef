"""The ``bprop`` command. Thin: it parses, calls the library, and prints.

Commands: ``demo``, ``train`` (in :mod:`bprop.cli.train`), ``predict``, ``evaluate``,
``info``, ``export``, ``explain`` and ``plot``; ``bprop COMMAND --help`` describes each.
Errors in the user's input (files, columns, cells, model files, options) print one line,
``bprop: error: <what is wrong and what to do>``, and exit with status 1 (2 for a
command line that does not parse), without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


class CLIError(ValueError):
    """A problem with what the user asked for (printed as one line)."""


# ---------------------------------------------------------------------------- helpers
def _emit(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def _emit_json(data: Any) -> None:
    from bprop.files.jsonsafe import to_json

    print(json.dumps(to_json(data), indent=2, allow_nan=False))


def _load_tabular(path: str):
    from bprop.files import ModelFileError
    from bprop.sklearn.tabular import TabularModel
    from bprop.training.model_file import read_model_file

    mf = read_model_file(path, ("network", "tabular", "estimator", "checkpoint"))
    if mf.kind != "tabular":
        raise ModelFileError(
            path,
            f"holds {'an' if mf.kind[0] in 'aeiou' else 'a'} {mf.kind}, not a model trained by "
            "'bprop train'; this command needs "
            "the preprocessing such a model stores",
        )
    return TabularModel.from_model_file(mf, path)


@contextlib.contextmanager
def _about(path: str) -> Iterator[None]:
    """Prefix data errors with the file they are about."""
    from bprop.sklearn.tabular import DataError

    try:
        yield
    except DataError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise DataError(f"{path}: {exc}") from None


def _check_writable(path: str) -> None:
    """An output path whose directory exists and that is not itself a directory."""
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"{path}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"{path}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{path}: cannot write to directory {parent}")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _int_list(text: str) -> list[int]:
    if text.strip() in ("", "0", "none"):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be comma-separated integers like 32,16, got {text!r}"
        ) from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key.replace("-", "_"), parsed


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return v


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


# ---------------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from bprop.training import demo

    demo.run(quick=args.quick, progress=False if args.no_progress else None)
    return 0


def _validation_metrics(pre, y_true, outputs) -> dict[str, Any]:
    """Accuracy and macro F1, or R^2, MAE and RMSE, on the original scale of the target."""
    import numpy as np
    from sklearn import metrics as skm

    pred, proba = pre.decode(outputs)
    if pre.task == "classification":
        assert proba is not None and pre.classes is not None
        codes_true, codes_pred = np.asarray(y_true), proba.argmax(axis=1)
        labels = list(range(len(pre.classes)))
        return {
            "accuracy": float(skm.accuracy_score(codes_true, codes_pred)),
            "f1_macro": float(
                skm.f1_score(
                    codes_true, codes_pred, labels=labels, average="macro", zero_division=0
                )
            ),
            "confusion_matrix": skm.confusion_matrix(
                codes_true, codes_pred, labels=labels
            ).tolist(),
            "labels": list(pre.classes),
        }
    truth = np.asarray(y_true) * pre.target_scale + pre.target_mean
    return {
        "r2": float(skm.r2_score(truth, pred)) if len(truth) > 1 else None,
        "mae": float(skm.mean_absolute_error(truth, pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(truth, pred))),
    }


# ---------------------------------------------------------------------------- predict
def _predict(args: argparse.Namespace) -> int:
    from bprop.sklearn.tabular import _pandas, read_table, write_table

    pd = _pandas()
    if args.out:
        _check_writable(args.out)
    model = _load_tabular(args.model)
    df = read_table(args.data)
    with _about(args.data):
        outputs = model.outputs(df)
    pred, proba = model.preprocessing.decode(outputs)
    out = pd.DataFrame({"prediction": pred})
    if args.proba:
        if proba is None:
            raise CLIError("--proba needs a classification model")
        for label, column in zip(model.preprocessing.classes, proba.T, strict=True):
            out[f"proba_{label}"] = column
    if args.out:
        write_table(out, args.out)
        _emit(args, f"{len(out)} predictions written to {args.out}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


# ---------------------------------------------------------------------------- evaluate
def _evaluate(args: argparse.Namespace) -> int:
    model = _load_tabular(args.model)
    from bprop.sklearn.tabular import DataError, read_table

    df = read_table(args.data)
    pre = model.preprocessing
    if args.target != pre.target:
        raise CLIError(f"the model predicts {pre.target!r}, not {args.target!r}")
    if pre.target not in df.columns:
        raise DataError(f"{args.data}: target column {pre.target!r} not found")
    with _about(args.data):
        y = pre.encode_target(df)
        outputs = model.outputs(df)
    metrics = _validation_metrics(pre, y, outputs)
    result = {"model": args.model, "data": args.data, "rows": len(df), "task": pre.task, **metrics}
    if args.json:
        _emit_json(result)
        return 0
    lines = [f"{pre.task} metrics on {len(df)} rows of {args.data}"]
    if pre.task == "classification":
        lines.append(f"  accuracy  {metrics['accuracy']:.4f}")
        lines.append(f"  F1 macro  {metrics['f1_macro']:.4f}")
        lines.append("  confusion matrix (rows: true, columns: predicted)")
        labels = [str(c) for c in pre.classes]
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
    _emit(args, "\n".join(lines))
    return 0


# ---------------------------------------------------------------------------- info
def _info(args: argparse.Namespace) -> int:
    from bprop.training.model_file import read_model_file

    mf = read_model_file(args.model)
    _validate(mf, args.model)
    meta = mf.metadata
    net = mf.network
    info: dict[str, Any] = {
        "file": args.model,
        "kind": meta["kind"],
        "format_version": meta["format_version"],
        "bprop_version": meta.get("bprop_version"),
        "network": {
            "sizes": list(net.sizes),
            "activations": [a.config() for a in net.activations],
            "dtype": net.dtype.name,
            "n_params": net.n_params,
        },
        "loss": meta.get("loss"),
    }
    for key in ("preprocessing", "training", "metrics", "history", "estimator", "checkpoint"):
        if key in meta:
            info[key] = meta[key]
    if args.json:
        _emit_json(info)
        return 0
    lines = [
        f"{args.model}: bprop {meta['kind']} (format {meta['format_version']}, "
        f"written by bprop {meta.get('bprop_version')})",
        f"  network     {'-'.join(map(str, net.sizes))}, activations "
        f"{', '.join(a.name for a in net.activations)}, {net.dtype.name}, "
        f"{net.n_params} parameters",
        f"  loss        {meta.get('loss')}",
    ]
    pre = meta.get("preprocessing")
    if isinstance(pre, dict):
        lines.append(f"  task        {pre['task']} of column {pre['target']!r}")
        if pre.get("classes"):
            lines.append(f"  classes     {', '.join(map(str, pre['classes']))}")
        for c in pre["columns"]:
            if c["kind"] == "numeric":
                how = f"standardised (mean {c['mean']:.6g}, scale {c['scale']:.6g})"
            else:
                how = f"one-hot, {len(c['categories'])} categories"
            fill = "" if c["fill"] is None else f", missing -> {c['fill']}"
            lines.append(f"  column      {c['name']}: {how}{fill}")
    training = meta.get("training")
    if isinstance(training, dict):
        hp = training.get("rule_hyperparameters")
        rule = str(training.get("rule"))
        if isinstance(hp, dict) and hp:
            rule += "(" + ", ".join(f"{k}={v}" for k, v in hp.items()) + ")"
        keys = ("mode", "batch_size", "epochs", "weight_decay", "val_fraction", "seed", "dtype")
        lines.append(f"  training    rule {rule}")
        lines.append(
            "              " + ", ".join(f"{k}={training[k]}" for k in keys if k in training)
        )
        if training.get("data"):
            lines.append(
                f"  data        {training['data']} ({training.get('rows')} rows, "
                f"{training.get('n_train')} for training, {training.get('n_validation')} for "
                "validation)"
            )
    hist = meta.get("history")
    if isinstance(hist, dict):
        lines.append(f"  history     {hist.get('epochs')} epochs; {hist.get('stop_reason')}")
        if _is_number(hist.get("final_loss")):
            val = hist.get("final_val_loss")
            lines.append(
                f"              final loss {hist['final_loss']:.6g}"
                + (f", validation loss {val:.6g}" if _is_number(val) else "")
            )
    metrics = meta.get("metrics")
    if isinstance(metrics, dict) and metrics:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if _is_number(v))
        lines.append(f"  validation  {shown}")
    est = meta.get("estimator")
    if isinstance(est, dict):
        lines.append(f"  estimator   {est.get('class')}, {len(est.get('params', {}))} parameters")
    if "checkpoint" in meta:
        ck = meta["checkpoint"]
        lines.append(f"  checkpoint  epoch {ck['epoch']}, rule {ck['rule']['name']}")
    _emit(args, "\n".join(lines))
    return 0


def _validate(mf: Any, path: str) -> None:
    """Check the kind-specific metadata too (the loaders of each kind validate it)."""
    if mf.kind == "tabular":
        from bprop.sklearn.tabular import TabularModel

        TabularModel.from_model_file(mf, path)
    elif mf.kind == "estimator":
        from bprop.sklearn.persistence import ESTIMATOR_CLASSES, load_estimator

        load_estimator(mf, path, ESTIMATOR_CLASSES)
    elif mf.kind == "checkpoint":
        from bprop.files import ModelFileError
        from bprop.sklearn.tabular import Preprocessing
        from bprop.training.checkpoint import load_checkpoint

        load_checkpoint(path)
        if "preprocessing" in mf.metadata:
            try:
                Preprocessing.from_dict(mf.metadata["preprocessing"])
            except ValueError as exc:
                raise ModelFileError(path, f"bad preprocessing ({exc})") from None


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


# ---------------------------------------------------------------------------- export
def _export(args: argparse.Namespace) -> int:
    from bprop.sklearn import onnx as onnx_export
    from bprop.training.model_file import read_model_file

    _check_writable(args.onnx)
    mf = read_model_file(args.model, ("network", "tabular", "estimator", "checkpoint"))
    model = mf.network if mf.kind == "network" else _load_tabular(args.model)
    onnx_export.export(model, args.onnx)
    _emit(args, f"ONNX model written to {args.onnx}")
    return 0


# ---------------------------------------------------------------------------- explain
def _explain(args: argparse.Namespace) -> int:
    from bprop.cli import explain

    result = explain.explain_from_args(args)
    if args.json:
        _emit_json(result.to_dict())
    else:
        _emit(args, result.format())
    return 0


# ---------------------------------------------------------------------------- plot
def _plot(args: argparse.Namespace) -> int:
    from bprop.cli import plots

    model = _load_tabular(args.model)
    df = None
    if args.data:
        from bprop.sklearn.tabular import read_table

        df = read_table(args.data)
    written = plots.training_plots(model, df, args.out)
    for path in written:
        _emit(args, f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------- parser
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless it is empty (None, False, []) or already said."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        empty = action.default is None or action.default is False or action.default == []
        if empty or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _common(json_flag: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bprop",
        description="Train feedforward neural networks by backpropagation.",
        epilog="Run 'bprop COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="train on scikit-learn's digits and on XOR, print results")
    p.add_argument("--quick", action="store_true", help="fewer epochs (for a smoke test)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_demo)

    from bprop.cli.train import add_parser as add_train_parser

    add_train_parser(sub)

    p = sub.add_parser(
        "predict",
        parents=[_common()],
        help="predict with a model on a data file",
        description="Apply a model (and its stored preprocessing) to a raw data file.",
    )
    p.add_argument("model", help="model file written by 'bprop train'")
    p.add_argument("data", help="data file (.csv or .parquet) with the training columns")
    p.add_argument("--out", help="write predictions here (.csv or .parquet); default: stdout")
    p.add_argument("--proba", action="store_true", help="add class probabilities")
    p.set_defaults(func=_predict)

    p = sub.add_parser(
        "evaluate",
        parents=[_common(True)],
        help="metrics of a model on a data file",
        description="Accuracy, macro F1 and confusion matrix (classification) or "
        "R^2, MAE and RMSE (regression) of a model on a labelled file.",
    )
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--target", required=True, help="the target column")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "info",
        parents=[_common(True)],
        help="describe a model or checkpoint file",
        description="Architecture, preprocessing, training settings, history "
        "summary and bprop version of a model or checkpoint file.",
    )
    p.add_argument("model")
    p.set_defaults(func=_info)

    p = sub.add_parser(
        "export",
        parents=[_common()],
        help="export a model to ONNX",
        description="Write an ONNX graph (preprocessing included) whose outputs "
        "match bprop's predictions.",
    )
    p.add_argument("model")
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.set_defaults(func=_export)

    from bprop.cli.explain import add_arguments

    p = sub.add_parser(
        "explain",
        parents=[_common(True)],
        help="print every number of one backpropagation step",
        description="For a small network and one pattern, print the forward "
        "pass, the error, the deltas, the gradients, the weight changes under "
        "the chosen rule, the new weights and the new error.",
        formatter_class=HelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=_explain)

    p = sub.add_parser(
        "plot",
        parents=[_common()],
        help="plot a model's learning curves",
        description="Learning curves from the model's history; with --data also "
        "the confusion matrix and (two input columns) the decision boundary.",
    )
    p.add_argument("model")
    p.add_argument("--data", help="labelled data for the confusion matrix and decision boundary")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the PNG files")
    p.set_defaults(func=_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "debug", False):
        return int(args.func(args))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("bprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'bprop predict ... | head': the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, OSError, ImportError) as exc:  # DataError, ModelFileError, CLIError
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"bprop: error: {message}", file=sys.stderr)
        return 1
