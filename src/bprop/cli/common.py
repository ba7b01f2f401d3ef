"""What the subcommands share: errors, output, argument types, and reading any bprop file.

:func:`load_model` opens a pipeline (what ``bprop train`` writes), a saved estimator
(``MLPClassifier``/``MLPRegressor.save``), a bare network, or a checkpoint, and gives a
:class:`Model` that predicts on a table: a pipeline takes the columns it was trained on
(by name); an estimator or a network, which know no column names, take the table's
numeric columns in order (the target column excluded), and the count must match.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.pipeline import Pipeline

from bprop.files.jsonsafe import to_json as jsonable
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.persistence import BpropFile, open_file
from bprop.sklearn.regressor import MLPRegressor
from bprop.sklearn.tabular import (
    DataError,
    TableSpec,
    check_frame,
    final_estimator,
    rows_text,
    table_of,
)

__all__ = [
    "CLIError",
    "HelpFormatter",
    "OutputPathError",
    "Model",
    "about",
    "add_na_values",
    "check_directory",
    "check_writable",
    "common_options",
    "emit",
    "emit_json",
    "fraction",
    "int_list",
    "is_number",
    "key_value",
    "load_model",
    "number",
    "positive",
    "sha256",
    "validation_metrics",
]

#: the kinds that hold a model to predict with
PREDICTORS = ("pipeline", "estimator", "network")


class CLIError(ValueError):
    """A problem with what the user asked for (printed as one line, exit status 1)."""

    exit_status = 1


class OutputPathError(CLIError):
    """An output path that cannot be written, found before any work is done: a command
    line that cannot run as given (exit status 2, as for one that does not parse)."""

    exit_status = 2


# ---------------------------------------------------------------------------- output
def emit(args: argparse.Namespace, text: str) -> None:
    """Print ``text`` unless --quiet."""
    if not getattr(args, "quiet", False):
        print(text)


def emit_json(data: Any) -> None:
    """Print JSON (NumPy values and non-finite floats made JSON-safe)."""
    print(json.dumps(jsonable(data), indent=2, allow_nan=False))


def is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def number(x: object, digits: int = 6) -> str:
    """A metric or loss for people: ``digits`` significant digits (``%g``: 0.812345,
    -3.18829e+13, nan, inf), ``n/a`` for None; anything else as ``str``."""
    if x is None:
        return "n/a"
    if is_number(x) or isinstance(x, np.floating | np.integer):
        return f"{float(x):.{digits}g}" if not isinstance(x, int | np.integer) else str(x)
    return str(x)


@contextlib.contextmanager
def about(path: str) -> Iterator[None]:
    """Prefix data errors with the file they are about."""
    try:
        yield
    except DataError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise DataError(f"{path}: {exc}") from None


def check_writable(path: str) -> None:
    """An output file whose directory exists and is writable, and that is not itself a
    directory; else an :class:`OutputPathError` (exit status 2)."""
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{path}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{path}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write to directory {parent}")


def check_directory(path: str) -> None:
    """An output directory that is writable, or can be created (its nearest existing
    ancestor is a writable directory); else an :class:`OutputPathError`."""
    p = Path(path)
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write to directory {existing}")


def sha256(path: str) -> str:
    """The SHA-256 of a file's bytes; of a directory (a Parquet dataset), the SHA-256 of
    its files' relative paths and digests, in sorted order."""
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                h.update(f"{os.path.relpath(full, path)}\0{sha256(full)}\n".encode())
        return h.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------- argument types
def int_list(text: str) -> list[int]:
    """'32,16' -> [32, 16]; '0', 'none' or '' -> []."""
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


def key_value(text: str) -> tuple[str, Any]:
    """'momentum=0.8' -> ('momentum', 0.8): the value as JSON if it parses, else a string."""
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


def fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return v


def positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless it is empty (None, False, []) or already said."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        empty = action.default is None or action.default is False or action.default == []
        if empty or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _text_list(text: str) -> list[str]:
    """'?,-' -> ['?', '-'] (empty items dropped)."""
    return [t for t in text.split(",") if t]


def add_na_values(p: argparse.ArgumentParser) -> None:
    """Add ``--na-values`` (repeatable, or a comma list) to a command reading data."""
    p.add_argument(
        "--na-values",
        action="extend",
        type=_text_list,
        default=[],
        metavar="TEXT[,TEXT...]",
        help="cell texts that mean an empty cell, besides pandas' defaults (NA, NaN, null, "
        "empty), e.g. --na-values '?' (repeatable)",
    )


def common_options(json_flag: bool = False) -> argparse.ArgumentParser:
    """The options every command has (a parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


# ---------------------------------------------------------------------------- models
class Model:
    """A bprop file opened for a command: its object, and predictions on a table."""

    def __init__(self, file: BpropFile) -> None:
        self.file = file
        self.path, self.kind, self.metadata = file.path, file.kind, file.metadata
        self.network, self.history = file.network, file.history
        self.estimator = (
            final_estimator(file.obj) if self.kind in ("pipeline", "estimator") else None
        )
        self.table: TableSpec | None = None
        if self.kind == "pipeline":
            self.table = table_of(file.obj, self.metadata.get("table"))

    @property
    def pipeline(self) -> Pipeline | None:
        return self.file.obj if self.kind == "pipeline" else None

    @property
    def task(self) -> str:
        if self.estimator is not None:
            return "classification" if isinstance(self.estimator, MLPClassifier) else "regression"
        out = self.network.activations[-1].name
        return "classification" if out in ("softmax", "logistic") else "regression"

    @property
    def classes(self) -> list[Any] | None:
        if self.task != "classification":
            return None
        if self.estimator is not None:
            return [c.item() if isinstance(c, np.generic) else c for c in self.estimator.classes_]
        k = self.network.n_outputs
        return list(range(2 if k == 1 else k))

    @property
    def target(self) -> str | None:
        return self.table.target if self.table is not None else None

    def inputs(self, df, target: str | None = None):
        """The table as this model takes it (checked; a DataError says what is wrong)."""
        if self.table is not None:
            return check_frame(self.table, df, self.pipeline, self.network.dtype)
        return numeric_columns(df, self.network.n_inputs, target, self.network.dtype)

    def predict(self, df, target: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(predictions, class probabilities or None) for the rows of ``df``."""
        return self.predict_inputs(self.inputs(df, target))

    def predict_inputs(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict` of rows already checked by :meth:`inputs`."""
        if self.kind == "pipeline":
            model = self.pipeline
        elif self.kind == "estimator":
            model = self.estimator
            if not isinstance(model, MLPClassifier | MLPRegressor):
                raise CLIError(f"{self.path}: an {type(model).__name__} predicts no target")
        else:
            return self._network_predict(X)
        pred = np.asarray(model.predict(X))
        proba = model.predict_proba(X) if self.task == "classification" else None
        if pred.ndim != 1:
            raise CLIError(f"{self.path}: the model predicts several outputs; use it from Python")
        return pred, proba

    def _network_predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out = self.network.predict(X)
        if self.task == "classification":
            proba = np.hstack([1 - out, out]) if out.shape[1] == 1 else out
            return proba.argmax(axis=1), proba
        if out.shape[1] != 1:
            raise CLIError(
                f"{self.path}: the network has {out.shape[1]} outputs; use it from Python"
            )
        return out[:, 0], None


def numeric_columns(df, n_inputs: int, target: str | None, dtype: Any) -> np.ndarray:
    """The numeric columns of ``df`` in order (``target`` excluded), as a float matrix."""
    names = [c for c in df.columns if c != target and df[c].dtype.kind in "biuf"]
    if len(names) != n_inputs:
        raise DataError(
            f"the model takes {n_inputs} inputs but the table has {len(names)} numeric "
            f"columns{' (' + ', '.join(names) + ')' if names else ''}; a model without column "
            "names reads the numeric columns in order, the target excluded"
        )
    X = df[names].to_numpy(dtype=dtype, na_value=np.nan)
    for j, name in enumerate(names):
        bad = ~np.isfinite(X[:, j])
        if bad.any():
            raise DataError(f"column {name!r} has empty or infinite cells ({rows_text(bad)})")
    return X


def load_model(path: str, kinds: tuple[str, ...] = PREDICTORS) -> Model:
    """Open a bprop file of one of ``kinds`` for a command."""
    file = open_file(path, (*kinds, "tabular") if "pipeline" in kinds else kinds)
    return Model(file)


def validation_metrics(task: str, y_true, y_pred, classes: list | None) -> dict[str, Any]:
    """Accuracy, macro F1 and the confusion matrix, or R^2, MAE and RMSE."""
    if task == "classification":
        labels = list(classes or np.unique(np.concatenate([y_true, y_pred])))
        return {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "f1_macro": float(
                skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
            ),
            "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
            "labels": labels,
        }
    y_true = np.asarray(y_true, dtype=float)
    return {
        "r2": float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
    }
