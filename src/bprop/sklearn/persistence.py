"""``bprop.load`` and ``bprop.save``: every kind of bprop file, one entry point.

A file's ``kind`` names what it holds: a bare network, an estimator
(:mod:`bprop.sklearn.estimator_file`), a model trained by ``bprop train``
(:mod:`bprop.sklearn.tabular`), or a checkpoint (:mod:`bprop.training.checkpoint`, read
with ``load_checkpoint``). Nothing is ever unpickled or imported by name from a file.
"""

from __future__ import annotations

import os
from typing import Any

from bprop.core.network import Network
from bprop.files import ModelFileError
from bprop.sklearn.autoencoder import MLPAutoencoder
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.estimator_file import load_estimator, save_estimator
from bprop.sklearn.regressor import MLPRegressor
from bprop.sklearn.tabular import TabularModel
from bprop.training.model_file import read_model_file

__all__ = ["ESTIMATOR_CLASSES", "load", "save"]

#: The estimator classes a file may name (an allowlist).
ESTIMATOR_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (MLPClassifier, MLPRegressor, MLPAutoencoder)
}


def load(path: str | os.PathLike) -> Any:
    """The object saved in a bprop model file: a Network, an estimator, or a tabular model.

    Every problem with the file is a :class:`~bprop.files.ModelFileError` naming the file.
    """
    mf = read_model_file(path, ("network", "tabular", "estimator"))
    if mf.kind == "network":
        return mf.network
    try:
        if mf.kind == "tabular":
            return TabularModel.from_model_file(mf, str(path))
        return load_estimator(mf, str(path), ESTIMATOR_CLASSES)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(path, f"invalid {mf.kind} metadata ({exc})") from None


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a Network, an estimator or a tabular model (anything with a ``save`` method)."""
    if isinstance(obj, Network):
        obj.save(path)
    elif isinstance(obj, tuple(ESTIMATOR_CLASSES.values())):
        save_estimator(obj, path)
    elif callable(getattr(obj, "save", None)):
        obj.save(path)
    else:
        raise ValueError(f"cannot save an object of type {type(obj).__name__}")
