"""Saving and loading the scikit-learn estimators through the model file format.

An estimator file is a model file of kind "estimator": the trained ``network_`` as the
``layers.*`` tensors, ``history_`` as the ``history`` tensor, and in the metadata

- ``estimator.class``: "MLPClassifier", "MLPRegressor" or "MLPAutoencoder" (an allowlist;
  nothing else is ever instantiated);
- ``estimator.params``: ``get_params(deep=False)``;
- ``estimator.attributes``: the public fitted attributes (names ending in ``_``) other than
  ``network_``, ``history_``, ``coefs_`` and ``intercepts_`` (the last two are views of the
  network's weights, re-linked on load); numeric arrays go to tensors ``estimator.<name>``;
- ``estimator.label_binarizer``: for a classifier, the kind of target it was fitted on
  ("binary", "multiclass", "multilabel-indicator"); the binarizer is rebuilt from it and
  ``classes_``.

Values are encoded as tagged JSON, so that types survive: JSON scalars as themselves,
non-finite floats as {"float": "inf"}, tuples as {"tuple": [...]}, dicts as
{"dict": {...}}, arrays of strings as {"strings": [...]} (numpy str dtype) or
{"objects": [...]} (object dtype, as ``feature_names_in_``), numeric or boolean
``classes_`` as {"labels": {"dtype": "uint16", "values": [...]}} (every NumPy integer,
float and bool dtype, kept as scikit-learn keeps the labels' dtype), other arrays as
{"tensor": name}. A value of any other type (a RandomState, a callable) cannot be saved:
a ValueError names it. Decoding accepts only these forms.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from bprop.files import ModelFileError
from bprop.files.jsonsafe import NON_FINITE
from bprop.training.model_file import ModelFile, write_model_file

__all__ = [
    "ESTIMATORS",
    "estimator_from_record",
    "estimator_loss",
    "estimator_record",
    "load_estimator",
    "save_estimator",
    "write_estimator_file",
]

ESTIMATORS = ("MLPClassifier", "MLPRegressor", "MLPAutoencoder")
_SKIP = {"network_", "history_", "coefs_", "intercepts_"}
_ATTR = re.compile(r"^[A-Za-z]\w*_$")
#: The dtypes of numeric and boolean class labels, kept through a file as {"labels": ...}.
_LABEL_DTYPES = frozenset(
    ["bool", "float16", "float32", "float64"]
    + [f"{k}int{b}" for k in ("", "u") for b in (8, 16, 32, 64)]
)


def _encode(value: Any, name: str, tensors: dict[str, np.ndarray] | None) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": str(value)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, name, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, name, tensors) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, name, tensors) for k, v in value.items()}}
    if isinstance(value, np.ndarray):
        if name == "classes_" and value.ndim == 1 and value.dtype.name in _LABEL_DTYPES:
            return {"labels": {"dtype": value.dtype.name, "values": value.tolist()}}
        if value.dtype.kind in "US":
            return {"strings": value.astype(str).tolist()}
        if value.dtype.kind == "O" and all(isinstance(v, str) for v in value.ravel()):
            return {"objects": value.astype(str).tolist()}  # e.g. feature_names_in_
        if value.dtype.kind in "biuf" and tensors is not None:
            key = f"estimator.{name}"
            if key in tensors:
                raise ValueError(f"cannot save {name}: more than one array")
            tensors[key] = value
            return {"tensor": key}
    raise ValueError(
        f"cannot save {name} of type {type(value).__name__} in a model file "
        "(only numbers, strings, lists, tuples, dicts and arrays)"
    )


def _decode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "float" and inner in NON_FINITE:
            return float(inner)
        if tag == "tuple" and isinstance(inner, list):
            return tuple(_decode(v, tensors) for v in inner)
        if tag == "dict" and isinstance(inner, dict):
            return {k: _decode(v, tensors) for k, v in inner.items()}
        if tag in ("strings", "objects") and isinstance(inner, list):
            return _string_array(inner, tag)
        if tag == "tensor" and isinstance(inner, str) and inner in tensors:
            return tensors[inner]
        if tag == "labels" and isinstance(inner, dict):
            return _decode_labels(inner)
    raise ValueError(f"unrecognised value {value!r}")


def _decode_labels(inner: dict) -> np.ndarray:
    """{"dtype": name, "values": [...]}: numeric or boolean class labels, their dtype kept."""
    dtype, values = inner.get("dtype"), inner.get("values")
    if set(inner) != {"dtype", "values"} or dtype not in _LABEL_DTYPES:
        raise ValueError(f"bad class labels {inner!r}")
    scalar = bool if dtype == "bool" else int if np.dtype(dtype).kind in "iu" else int | float
    if not isinstance(values, list) or not all(
        isinstance(v, scalar) and (dtype == "bool" or not isinstance(v, bool)) for v in values
    ):
        raise ValueError(f"class labels of dtype {dtype} must be a list of {dtype} values")
    try:
        with np.errstate(over="raise"):
            labels = np.array(values, dtype=dtype)
    except (OverflowError, FloatingPointError):
        raise ValueError(f"class labels out of the range of {dtype}") from None
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("class labels must be finite")
    return labels


def _string_array(items: list, tag: str) -> np.ndarray:
    """A 1-D array of the strings ``items``: dtype object for "objects", numpy str for
    "strings", whose fixed width (the longest item) must not blow up the memory a list of
    short strings and one long one takes (at most 4 bytes a character, plus 1 MiB)."""
    if not all(isinstance(v, str) for v in items):
        raise ValueError("a string array holds a value that is not a string")
    if tag == "objects":
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array
    longest = max(map(len, items), default=1)
    if len(items) * longest > 4 * sum(map(len, items)) + 2**20:
        raise ValueError(f"string array of {len(items)} items up to {longest} long is too large")
    return np.array(items, dtype=f"<U{max(longest, 1)}")


def estimator_record(estimator: Any, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """The ``estimator`` metadata of a fitted bprop estimator; its arrays go to ``tensors``."""
    name = type(estimator).__name__
    if name not in ESTIMATORS or not type(estimator).__module__.startswith("bprop."):
        raise ValueError(f"cannot save a {name}: not a bprop estimator")
    network = getattr(estimator, "network_", None)
    if network is None:
        raise ValueError(f"this {name} is not fitted yet; call fit before save")
    estimator._sync_network()
    params = {k: _encode(v, k, None) for k, v in estimator.get_params(deep=False).items()}
    attributes = {
        k: _encode(v, k, tensors)
        for k, v in vars(estimator).items()
        if _ATTR.match(k) and k not in _SKIP
    }
    info: dict[str, Any] = {"class": name, "params": params, "attributes": attributes}
    binarizer = getattr(estimator, "_label_binarizer", None)
    if binarizer is not None:
        info["label_binarizer"] = str(binarizer.y_type_)
    return info


def estimator_loss(estimator: Any) -> str | None:
    """The name of the loss the estimator trains (stored with its network)."""
    loss = getattr(estimator, "_loss_name", None)
    return loss if isinstance(loss, str) else None


def save_estimator(estimator: Any, path: str | os.PathLike) -> None:
    """Write a fitted bprop estimator to a model file (atomically)."""
    write_estimator_file(path, estimator, "estimator", {}, {})


def write_estimator_file(
    path: str | os.PathLike,
    estimator: Any,
    kind: str,
    tensors: dict[str, np.ndarray],
    extra: dict[str, Any],
) -> None:
    """A model file of ``kind`` holding ``estimator`` (its network, loss, history and
    record, plus ``tensors`` and the metadata ``extra``), written atomically."""
    info = estimator_record(estimator, tensors)
    write_model_file(
        path,
        estimator.network_,
        kind=kind,
        loss=estimator_loss(estimator),
        history=getattr(estimator, "history_", None),
        extra={**extra, "estimator": info},
        extra_tensors=tensors,
    )


def load_estimator(mf: ModelFile, path: str, classes: dict[str, type]) -> Any:
    """Rebuild the estimator of a validated model file (``bprop.load`` calls this);
    ``classes`` maps the allowed class names to the classes."""
    return estimator_from_record(mf, mf.metadata.get("estimator"), path, classes)


def estimator_from_record(mf: ModelFile, info: Any, path: str, classes: dict[str, type]) -> Any:
    """The estimator an :func:`estimator_record` describes, with the file's network and
    history; every problem is a ModelFileError naming ``path``."""
    if not isinstance(info, dict) or not {"class", "params", "attributes"} <= set(info):
        raise ModelFileError(path, "malformed estimator metadata")
    name = info["class"]
    if name not in ESTIMATORS or name not in classes:
        raise ModelFileError(path, f"estimator class {name!r} not allowed")
    cls = classes[name]
    tensors = {k: v for k, v in mf.extra_tensors.items() if k.startswith("estimator.")}
    try:
        if not isinstance(info["params"], dict) or not isinstance(info["attributes"], dict):
            raise ValueError("params and attributes must be objects")
        params = {k: _decode(v, {}) for k, v in info["params"].items()}
        attributes = {k: _decode(v, tensors) for k, v in info["attributes"].items()}
        estimator = cls(**params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"bad estimator metadata ({exc})") from None
    for key, value in attributes.items():
        if not _ATTR.match(key) or key in _SKIP:
            raise ModelFileError(path, f"attribute {key!r} not allowed")
        setattr(estimator, key, value)
    estimator.network_ = mf.network
    if mf.history is not None:
        estimator.history_ = mf.history
    if "label_binarizer" in info:
        estimator._label_binarizer = _binarizer(
            path, info["label_binarizer"], attributes, mf.network.n_outputs
        )
    estimator._link_attributes()
    return estimator


def _binarizer(path: str, y_type: object, attributes: dict[str, Any], n_outputs: int) -> Any:
    """The classifier's fitted LabelBinarizer, rebuilt from ``classes_`` and the target
    kind. The class count must fit the network's outputs (so it is bounded by the file's
    size: every output has its weights in the file); a multilabel binarizer is set up
    directly, never by fitting it an identity matrix of the classes."""
    from sklearn.preprocessing import LabelBinarizer

    classes = attributes.get("classes_")
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        raise ModelFileError(path, "a classifier without a one-dimensional classes_ array")
    n = len(classes)
    expected = {"binary": 1, "multiclass": n, "multilabel-indicator": n}
    if not isinstance(y_type, str) or y_type not in expected:
        raise ModelFileError(path, f"unknown target kind {y_type!r}")
    if n_outputs != expected[y_type] or (y_type == "binary" and n > 2) or n < 1:
        raise ModelFileError(
            path, f"{n} classes of a {y_type} target do not fit a network of {n_outputs} outputs"
        )
    binarizer = LabelBinarizer()
    if y_type == "multilabel-indicator":
        if classes.dtype.kind not in "iu" or not np.array_equal(classes, np.arange(n)):
            raise ModelFileError(path, "classes_ of a multilabel target must be 0, 1, ..., n-1")
        binarizer.y_type_, binarizer.sparse_input_ = y_type, False
        binarizer.classes_ = np.arange(n)
        return binarizer
    try:
        binarizer.fit(classes)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"classes_ cannot be binarized ({exc})") from None
    if binarizer.y_type_ != y_type or not np.array_equal(binarizer.classes_, classes):
        raise ModelFileError(path, "classes_ do not match the target kind")
    return binarizer
