"""The network inside a model file: its metadata and tensors, validated, to a Network.

Metadata key ``network``: ``{"sizes": [...], "activations": [{"name": ..., ...}], "dtype":
"float32" | "float64"}``; tensors ``layers.{l}.weight`` (n_in, n_out) and
``layers.{l}.bias`` (n_out,). Shapes must chain layer to layer and match the sizes,
weights must be finite, activations come from the registry.
"""

from __future__ import annotations

import os
import re

import numpy as np

from bprop.core.activations import ACTIVATIONS, get_activation
from bprop.core.losses import LOSSES
from bprop.core.network import Network
from bprop.files import ModelFileError, read_container
from bprop.files.tensors import is_int

__all__ = ["MAX_LAYERS", "MAX_UNITS", "check_loss_name", "load_network", "network_from_file"]

#: Limits on the architecture a file may declare (far above any bprop network).
MAX_LAYERS = 256
MAX_UNITS = 10_000_000


def network_from_file(path: object, metadata: dict, tensors: dict[str, np.ndarray]) -> Network:
    spec = metadata.get("network")
    if not isinstance(spec, dict) or set(spec) != {"sizes", "activations", "dtype"}:
        raise ModelFileError(path, "metadata 'network' must have sizes, activations and dtype")
    sizes, acts, dtype = spec["sizes"], spec["activations"], spec["dtype"]
    if (
        not isinstance(sizes, list)
        or not 2 <= len(sizes) <= MAX_LAYERS + 1
        or not all(is_int(s) and 1 <= s <= MAX_UNITS for s in sizes)
    ):
        raise ModelFileError(path, f"bad layer sizes {sizes!r}")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(path, f"network dtype {dtype!r} not allowed (float32 or float64)")
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ModelFileError(path, f"need {len(sizes) - 1} activations, got {acts!r}")
    activations = []
    for a in acts:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("name"), str)
            or a["name"] not in ACTIVATIONS
            or not all(
                isinstance(v, float | int) and not isinstance(v, bool)
                for k, v in a.items()
                if k != "name"
            )
        ):
            raise ModelFileError(path, f"activation {a!r} not allowed")
        try:
            activations.append(get_activation(a))
        except ValueError as exc:
            raise ModelFileError(path, f"activation {a!r}: {exc}") from None
    weights, biases = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W = tensors.get(f"layers.{layer}.weight")
        b = tensors.get(f"layers.{layer}.bias")
        if W is None or b is None:
            raise ModelFileError(path, f"layer {layer}: weight or bias tensor missing")
        if W.shape != (n_in, n_out) or b.shape != (n_out,):
            raise ModelFileError(
                path,
                f"layer {layer}: weight shape {W.shape} and bias shape {b.shape} do not match "
                f"the sizes {sizes} (expected ({n_in}, {n_out}) and ({n_out},))",
            )
        if W.dtype != np.dtype(dtype) or b.dtype != np.dtype(dtype):
            raise ModelFileError(path, f"layer {layer}: tensors are not {dtype}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ModelFileError(path, f"layer {layer}: weights contain NaN or infinity")
        weights.append(W)
        biases.append(b)
    for name in tensors:
        m = re.match(r"layers\.(\d+)\.", name)
        if m and int(m.group(1)) >= len(sizes) - 1:
            raise ModelFileError(path, f"tensor {name!r} does not belong to a {sizes} network")
    return Network.from_weights(weights, biases, activations[:-1], activations[-1], dtype=dtype)


def check_loss_name(path: object, metadata: dict) -> str | None:
    """The metadata's ``loss``: None or a registered loss name, else a ModelFileError."""
    loss = metadata.get("loss")
    if loss is not None and (not isinstance(loss, str) or loss not in LOSSES):
        raise ModelFileError(path, f"unknown loss {loss!r}")
    return loss


def load_network(path: str | os.PathLike) -> Network:
    """The network of any bprop model file that holds one (for an estimator: its network)."""
    metadata, tensors = read_container(path, ("network", "pipeline", "tabular", "estimator"))
    check_loss_name(path, metadata)
    return network_from_file(path, metadata, tensors)
