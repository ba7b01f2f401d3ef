"""The bprop model file: a safetensors file whose metadata says what it holds.

The metadata (key ``bprop`` of ``__metadata__``, since safetensors allows only string
values there) is a JSON object with ``format`` ("bprop-model"), ``format_version``,
``bprop_version``, ``kind`` (one of :data:`KINDS`) and the keys of that kind, written by
the layer that owns the object (the network in :mod:`bprop.core.network_file`, training
files in :mod:`bprop.training.model_file`, estimators and pipelines in
:mod:`bprop.sklearn.persistence`).

Tensors of a model: ``layers.{l}.weight`` (shape (n_in, n_out), W[i, j] = w_ij),
``layers.{l}.bias`` (shape (n_out,)), and optionally ``history`` (one row per epoch);
checkpoints add ``rule_state.*`` and ``best_params``, estimator files
``estimator.<attribute>_``, pipeline files ``pipeline.<i>`` (fitted arrays of
the preprocessing steps). Other tools read the weights directly
(``safetensors.numpy.load_file``); note that PyTorch's ``nn.Linear.weight`` is the
transpose, (n_out, n_in).

Loading never executes code and trusts nothing (:mod:`bprop.files.tensors`); every
failure is a :class:`~bprop.files.errors.ModelFileError` naming the file. Writes are atomic.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bprop._version import __version__
from bprop.files.errors import ModelFileError
from bprop.files.tensors import is_int, read_safetensors, write_safetensors

__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "read_container", "write_container"]

FORMAT = "bprop-model"
FORMAT_VERSION = 1
KINDS = ("network", "pipeline", "tabular", "estimator", "checkpoint")


def write_container(
    path: str | os.PathLike, kind: str, metadata: dict[str, Any], tensors: dict[str, np.ndarray]
) -> None:
    """Write ``tensors`` and ``metadata`` (plus format, version and kind) atomically."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    head = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bprop_version": __version__,
        "kind": kind,
    }
    for key in metadata:
        if key in head:
            raise ValueError(f"metadata key {key!r} is reserved")
    write_safetensors(path, tensors, {**head, **metadata})


def read_container(
    path: str | os.PathLike, kinds: tuple[str, ...] = KINDS
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, tensors) of a bprop file of one of ``kinds``; a ModelFileError otherwise."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ModelFileError(path, "not a bprop model file (format is not 'bprop-model')")
    version = metadata.get("format_version")
    if not is_int(version) or version != FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"format version {version!r} is not supported by this bprop "
            f"(reads version {FORMAT_VERSION}); upgrade bprop",
        )
    kind = metadata.get("kind")
    if kind not in kinds:
        raise ModelFileError(
            path, f"file holds a {kind!r}, expected {' or '.join(repr(k) for k in kinds)}"
        )
    return metadata, tensors
