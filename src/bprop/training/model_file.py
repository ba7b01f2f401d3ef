"""Model files of a trained network: the network, its loss, its history, and the keys and
tensors a kind adds (checkpoints, estimators, pipelines).

The history is a float64 tensor ``history`` (one row per epoch: epoch, loss, metric,
val_loss, val_metric, learning_rate, time; NaN where a value is absent) with a summary in
the metadata key ``history``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bprop.core.network import Network
from bprop.core.network_file import check_loss_name, network_from_file
from bprop.files import KINDS, ModelFileError, read_container, write_container
from bprop.files.tensors import valid_tensor_name
from bprop.training.history import (
    HISTORY_COLUMNS,
    History,
    history_from_tensor,
    history_summary,
    history_to_tensor,
)

__all__ = ["ModelFile", "read_model_file", "write_model_file"]


@dataclass
class ModelFile:
    """The validated content of a model file: the network and the metadata around it."""

    network: Network
    metadata: dict[str, Any]
    history: History | None = None
    extra_tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.metadata["kind"]


def write_model_file(
    path: str | os.PathLike,
    network: Network,
    *,
    kind: str = "network",
    loss: str | None = None,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a network and metadata (``extra`` adds kind-specific keys) atomically."""
    if not np.all(np.isfinite(network.params)):
        raise ValueError("cannot save a network with NaN or infinite weights")
    metadata: dict[str, Any] = {"network": network.config(), "loss": loss}
    tensors = network.named_tensors()
    if history is not None:
        metadata["history"] = history_summary(history)
        tensors["history"] = history_to_tensor(history)
    for key, value in (extra or {}).items():
        if key in metadata:
            raise ValueError(f"metadata key {key!r} is reserved")
        metadata[key] = value
    for name, value in (extra_tensors or {}).items():
        if name in tensors or not valid_tensor_name(name):
            raise ValueError(f"bad extra tensor name {name!r}")
        tensors[name] = value
    write_container(path, kind, metadata, tensors)


def read_model_file(path: str | os.PathLike, kinds: tuple[str, ...] = KINDS) -> ModelFile:
    """Read and validate a bprop file of one of ``kinds``; a ModelFileError otherwise."""
    metadata, tensors = read_container(path, kinds)
    check_loss_name(path, metadata)
    network = network_from_file(path, metadata, tensors)
    history = None
    if "history" in tensors:
        h = tensors.pop("history")
        summary = metadata.get("history")
        if h.ndim != 2 or h.shape[1] != len(HISTORY_COLUMNS) or h.dtype != np.float64:
            raise ModelFileError(path, f"history tensor has shape {h.shape}")
        if not isinstance(summary, dict) or not all(
            v is None or isinstance(v, str | bool | int | float) for v in summary.values()
        ):
            raise ModelFileError(path, "history tensor without a valid history summary")
        try:
            history = history_from_tensor(h, summary)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(path, f"bad history ({exc})") from None
    extra = {k: v for k, v in tensors.items() if not k.startswith("layers.")}
    return ModelFile(network, metadata, history, extra)
