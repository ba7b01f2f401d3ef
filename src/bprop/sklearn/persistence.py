"""``bprop.load`` and ``bprop.save``: every kind of bprop file, one entry point.

A file's ``kind`` names what it holds: a bare network, an estimator
(:mod:`bprop.sklearn.estimator_file`), a scikit-learn pipeline such as ``bprop train``
writes (:mod:`bprop.sklearn.pipeline_file`), or a checkpoint
(:mod:`bprop.training.checkpoint`). Nothing is ever unpickled or imported by name from a
file. :func:`open_file` gives a file's object together with its metadata (what the
``bprop`` command shows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sklearn.pipeline import Pipeline

from bprop.core.network import Network
from bprop.files import ModelFileError
from bprop.sklearn.autoencoder import MLPAutoencoder
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.estimator_file import load_estimator, save_estimator
from bprop.sklearn.pipeline_file import load_pipeline, save_pipeline
from bprop.sklearn.regressor import MLPRegressor
from bprop.training.checkpoint import load_checkpoint
from bprop.training.history import History
from bprop.training.model_file import read_model_file

__all__ = ["ESTIMATOR_CLASSES", "BpropFile", "load", "open_file", "save"]

#: The estimator classes a file may name (an allowlist).
ESTIMATOR_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (MLPClassifier, MLPRegressor, MLPAutoencoder)
}
#: What :func:`load` returns for each kind
LOADABLE = ("network", "pipeline", "estimator")
ALL_KINDS = (*LOADABLE, "checkpoint", "tabular")


@dataclass
class BpropFile:
    """A validated bprop file: its kind, metadata, network, history and object (a
    Network, an estimator, a Pipeline, or a Checkpoint)."""

    path: str
    kind: str
    metadata: dict[str, Any]
    network: Network
    history: History | None
    obj: Any


def open_file(path: str | os.PathLike, kinds: tuple[str, ...] = ALL_KINDS) -> BpropFile:
    """Read and validate a bprop file of one of ``kinds`` (a ModelFileError otherwise)."""
    mf = read_model_file(path, kinds)
    if mf.kind == "tabular":
        raise ModelFileError(
            path,
            "was written by an older bprop (kind 'tabular'); retrain it with 'bprop train' "
            "to get a scikit-learn pipeline file",
        )
    obj: Any
    try:
        if mf.kind == "network":
            obj = mf.network
        elif mf.kind == "pipeline":
            obj = load_pipeline(mf, str(path))
        elif mf.kind == "estimator":
            obj = load_estimator(mf, str(path), ESTIMATOR_CLASSES)
        else:
            obj = load_checkpoint(path)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(path, f"invalid {mf.kind} metadata ({exc})") from None
    return BpropFile(str(path), mf.kind, mf.metadata, mf.network, mf.history, obj)


def load(path: str | os.PathLike) -> Any:
    """The object saved in a bprop model file: a Network, an estimator, or a fitted
    scikit-learn Pipeline (what ``bprop train`` writes).

    Every problem with the file is a :class:`~bprop.files.ModelFileError` naming the file.
    """
    return open_file(path, (*LOADABLE, "tabular")).obj


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a Network, a fitted bprop estimator, or a fitted Pipeline ending in one."""
    if isinstance(obj, Network):
        obj.save(path)
    elif isinstance(obj, tuple(ESTIMATOR_CLASSES.values())):
        save_estimator(obj, path)
    elif isinstance(obj, Pipeline):
        save_pipeline(obj, path)
    elif callable(getattr(obj, "save", None)):
        obj.save(path)
    else:
        raise ValueError(f"cannot save an object of type {type(obj).__name__}")
