"""What one partition computes: the sums a worker returns for the rows it holds.

These functions run on Dask workers (and, for the single-process reference, in the driver).
Each takes one partition ``(X, T, s)`` — inputs, targets, sample weights or None — and the
weights as a flat vector, and returns sums over the partition's rows:

    E_q = sum_{p in q} s_p E_p(w),   g_q = sum_{p in q} s_p dE_p/dw,   correct_q

formed over blocks of ``block_rows`` rows added in order (:func:`bprop.training.sources.
sum_gradients`), or (1/2 ||e_q||^2, J_q^T e_q, J_q^T J_q) for Levenberg-Marquardt. The
driver adds the partitions' sums in partition order, so the result is the same bit for bit
whichever worker computed which partition, and equals :class:`LocalPartitions` run in one
process with the same partitions and BLAS thread count.

A worker rebuilds the network from its :class:`NetworkSpec` once per thread and reuses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bprop.core.activations import Activation
from bprop.core.jacobian import gauss_newton
from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.training.metrics import AccuracyCounter
from bprop.training.sources import sum_evaluations, sum_gradients

__all__ = [
    "NetworkSpec",
    "Partition",
    "PartitionSummary",
    "PartitionSums",
    "counter_for",
    "partition_evaluation",
    "partition_gauss_newton",
    "partition_gradient",
    "partition_rows_gradient",
    "partition_summary",
]

#: One partition: inputs X (n, n_in), targets T (n, n_out), sample weights (n,) or None.
Partition = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


@dataclass(frozen=True)
class NetworkSpec:
    """The architecture a worker needs to rebuild the network (weights come separately)."""

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    dtype: str

    @classmethod
    def of(cls, network: Network) -> NetworkSpec:
        return cls(tuple(network.sizes), tuple(network.activations), network.dtype.name)

    @property
    def key(self) -> str:
        acts = ",".join(repr(sorted(a.config().items())) for a in self.activations)
        return f"{self.sizes}|{acts}|{self.dtype}"

    def build(self) -> Network:
        hidden, output = list(self.activations[:-1]), self.activations[-1]
        return Network(self.sizes, hidden, output, init="uniform", seed=0, dtype=self.dtype)


@dataclass
class PartitionSums:
    """Sums over one partition's rows (see the module docstring)."""

    error: float
    gradient: np.ndarray
    correct: float


_local = threading.local()


def _network(spec: NetworkSpec, params: np.ndarray) -> Network:
    """This thread's network of ``spec`` with the weights ``params``."""
    cache: dict[str, Network] = getattr(_local, "networks", None) or {}
    _local.networks = cache
    net = cache.get(spec.key)
    if net is None:
        if len(cache) >= 4:
            cache.pop(next(iter(cache)))
        net = cache[spec.key] = spec.build()
    net.params[...] = params
    return net


def _blocks(part: Partition, block_rows: int) -> Iterator[Partition]:
    X, T, s = part
    for start in range(0, X.shape[0], block_rows):
        sl = slice(start, start + block_rows)
        yield X[sl], T[sl], None if s is None else s[sl]


def partition_gradient(
    part: Partition,
    spec: NetworkSpec,
    params: np.ndarray,
    loss: Loss,
    block_rows: int,
    counter: AccuracyCounter | None,
) -> PartitionSums:
    """(E_q, g_q, correct_q) over the partition, its blocks added in order."""
    net = _network(spec, params)
    E, grad, correct = sum_gradients(net, loss, _blocks(part, block_rows), counter)
    return PartitionSums(E, grad, correct)


def partition_rows_gradient(
    part: Partition,
    spec: NetworkSpec,
    params: np.ndarray,
    rows: np.ndarray,
    loss: Loss,
    counter: AccuracyCounter | None,
) -> tuple[float, np.ndarray, float, float]:
    """(E, g, S, correct) over the rows ``rows`` of the partition (one mini-batch slice)."""
    X, T, s = part
    x, t = X[rows], T[rows]
    w = None if s is None else s[rows]
    net = _network(spec, params)
    E = net.gradient(x, t, loss, w)
    correct = 0.0 if counter is None else counter.count(net.outputs[-1], t, w)
    return E, net.grad.copy(), float(len(rows) if w is None else w.sum()), correct


def partition_evaluation(
    part: Partition,
    spec: NetworkSpec,
    params: np.ndarray,
    loss: Loss,
    block_rows: int,
    counter: AccuracyCounter | None,
) -> tuple[float, float]:
    """(E_q, correct_q) by forward passes only."""
    net = _network(spec, params)
    return sum_evaluations(net, loss, _blocks(part, block_rows), counter)


def partition_gauss_newton(
    part: Partition, spec: NetworkSpec, params: np.ndarray, loss: Loss
) -> tuple[float, np.ndarray, np.ndarray]:
    """(1/2 ||e_q||^2, J_q^T e_q, J_q^T J_q) over the partition (float64)."""
    net = _network(spec, params)
    X, T, s = part
    return gauss_newton(net, X, T, loss, s)


@dataclass
class PartitionSummary:
    """What the driver learns of a partition once, before training."""

    n_rows: int
    weight_total: float
    one_hot: bool
    problem: str | None  # why the partition cannot be used, or None


def partition_summary(part: Partition, n_inputs: int, n_outputs: int) -> PartitionSummary:
    """Rows, weight total, whether the targets are one-hot, and any problem with the rows."""
    X, T, s = part
    n = X.shape[0]
    problem = None
    if X.ndim != 2 or X.shape[1] != n_inputs:
        problem = f"has {X.shape[1:]} input columns, the network {n_inputs}"
    elif T.shape != (n, n_outputs):
        problem = f"targets of shape {T.shape}, expected ({n}, {n_outputs})"
    elif not np.all(np.isfinite(X)):
        rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
        problem = f"NaN or infinity in the inputs (rows {_rows(rows)} of the partition)"
    elif not np.all(np.isfinite(T)):
        rows = np.flatnonzero(~np.isfinite(T).all(axis=1))
        problem = f"NaN or infinity in the targets (rows {_rows(rows)} of the partition)"
    elif s is not None and (s.shape != (n,) or not np.all(np.isfinite(s)) or np.any(s < 0)):
        problem = "sample weights that are not finite and >= 0, one per row"
    one_hot = bool(np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1)) if n else True
    total = float(n if s is None else s.sum()) if problem is None else 0.0
    return PartitionSummary(n, total, one_hot, problem)


def _rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def counter_for(output_activation: Activation, n_outputs: int, one_hot: bool) -> AccuracyCounter:
    """The accuracy counter the whole target set gives (one-hot or not), without the rows."""
    T = np.eye(n_outputs)[:1] if one_hot else np.zeros((1, n_outputs))
    return AccuracyCounter(output_activation, T)
