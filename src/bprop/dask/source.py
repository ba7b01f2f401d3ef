"""Training rows on a Dask cluster, seen by the trainer as any other data source.

:class:`bprop.dask.DaskData` describes the rows; its ``bind`` computes the partitions
once and keeps them in the workers' memory (with their lineage, so Dask recomputes a
partition lost with a worker from its source) and returns the source defined here:

- **full batch** (every rule that sees the whole training set: batch gd / momentum /
  Nesterov, the RPROP family, Quickprop, L-BFGS): each evaluation sends the weights to
  the workers (broadcast once per evaluation when larger than :data:`SCATTER_BYTES`),
  each partition q returns (E_q, g_q, correct_q) (:mod:`bprop.dask.partitions`), and the
  driver adds them **in partition order**:

      E = sum_q E_q,   g = sum_q g_q,   S = sum_q S_q

  one scheduler round trip per evaluation; the weights are those of a single-process run
  with the same partitions (:class:`LocalPartitions`) bit for bit, with the same BLAS
  thread count (one per worker is Dask's default).
- **Levenberg-Marquardt**: J^T J and J^T e summed over partitions the same way; refused
  above ``max_gauss_newton_bytes`` (P^2 float64 per partition in flight).
- **online and mini-batch epochs** (``minibatch="parallel"``, the default): synchronous
  data-parallel steps (:class:`DaskStepPartitions`): the batches of the in-memory run from
  the same seed, each batch's gradient summed over the partitions that hold its rows,
  one round trip per update; the driver keeps the rule's state. ``minibatch="stream"``
  instead visits the partitions one at a time in a seeded order (block shuffling), each
  fetched to the driver where the updates run: no round trip per update, but sequential.

Bad partitions are refused before training with the partition's number (NaN or infinity,
wrong widths, negative weights); empty partitions are skipped. A lost scheduler or client
connection raises :class:`ClusterError`; the trainer keeps the weights of the last
completed epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from bprop.core.activations import Activation
from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.dask.partitions import (
    NetworkSpec,
    Partition,
    PartitionSummary,
    counter_for,
    partition_evaluation,
    partition_gauss_newton,
    partition_gradient,
    partition_rows_gradient,
    partition_summary,
)
from bprop.training.metrics import AccuracyCounter
from bprop.training.sources import Chunk, FullBatchSums

__all__ = [
    "MAX_GAUSS_NEWTON_BYTES",
    "SCATTER_BYTES",
    "ClusterError",
    "DaskPartitions",
    "DaskStepPartitions",
    "LocalPartitions",
    "connection_errors",
    "default_client",
    "refuse_bad_partitions",
]

#: Weights larger than this are broadcast to the workers once per evaluation instead of
#: travelling with every partition's task.
SCATTER_BYTES = 1 << 20

#: J^T J of one partition in flight at a time: P^2 float64 (Levenberg-Marquardt).
MAX_GAUSS_NEWTON_BYTES = 512 * 2**20


class ClusterError(RuntimeError):
    """The Dask cluster could not be reached or lost the work (scheduler gone, client
    closed). The network keeps the weights of the last completed epoch."""


def _distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise ImportError(
            "training on a Dask cluster needs the 'dask' extra: pip install 'bprop[dask]'"
        ) from exc
    return distributed


def default_client(client: Any = None) -> Any:
    """``client``, or the current Dask client, or a ValueError saying how to start one."""
    if client is not None:
        return client
    distributed = _distributed()
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "no Dask client: start one first, e.g. "
            "'from dask.distributed import Client, LocalCluster; "
            "client = Client(LocalCluster(n_workers=2))' (on this machine) or "
            "'Client(\"tcp://scheduler:8786\")' (an existing cluster), or pass client=; "
            "on the command line: --workers N or --scheduler ADDRESS"
        ) from None


def connection_errors() -> tuple[type[BaseException], ...]:
    distributed = _distributed()
    from concurrent.futures import CancelledError

    return (
        OSError,
        TimeoutError,
        CancelledError,
        distributed.comm.CommClosedError,
        distributed.client.ClosedClientError,
        distributed.KilledWorker,
    )


class DaskPartitions:
    """The bound source: partitions held as futures on the workers (see the module doc)."""

    def __init__(
        self,
        client: Any,
        parts: Sequence[Any],
        summaries: Sequence[PartitionSummary],
        network: Network,
        block_rows: int,
        max_gauss_newton_bytes: int = MAX_GAUSS_NEWTON_BYTES,
    ) -> None:
        keep = [i for i, s in enumerate(summaries) if s.n_rows > 0]
        self.client = client
        self.parts = [parts[i] for i in keep]
        self.summaries = [summaries[i] for i in keep]
        self.spec = NetworkSpec.of(network)
        self.block_rows = int(block_rows)
        self.max_gauss_newton_bytes = int(max_gauss_newton_bytes)
        self.n_rows = sum(s.n_rows for s in self.summaries)
        self.weight_total = float(sum(s.weight_total for s in self.summaries))
        self._one_hot = all(s.one_hot for s in self.summaries)
        self.bytes_sent = 0  # weights sent to the workers, for the benchmark

    # -------------------------------------------------------------- the round trip
    def _map(
        self, fn: Callable, network: Network, *args: Any, one_at_a_time: bool = False
    ) -> Iterator[Any]:
        """fn(partition, spec, params, *args) on every partition; results in partition order."""
        return self._run(fn, network, [(part, args) for part in self.parts], one_at_a_time)

    def _run(
        self,
        fn: Callable,
        network: Network,
        calls: Sequence[tuple[Any, tuple]],
        one_at_a_time: bool = False,
    ) -> Iterator[Any]:
        """fn(partition, spec, params, *args) for each (partition, args); results in order."""
        client, params = self.client, network.params.copy()
        try:
            if params.nbytes > SCATTER_BYTES:
                weights = client.scatter(params, broadcast=True, hash=False)
                self.bytes_sent += params.nbytes * len(client.scheduler_info()["workers"])
            else:
                weights = params
                self.bytes_sent += params.nbytes * len(calls)
            futures = [
                client.submit(fn, part, self.spec, weights, *args, pure=False)
                for part, args in calls
            ]
            if one_at_a_time:  # large results (J^T J): one in the driver at a time
                for future in futures:
                    yield future.result()
            else:  # one round trip for all; added in partition order by the caller
                yield from client.gather(futures)
        except connection_errors() as exc:
            raise ClusterError(
                f"the Dask cluster failed during an evaluation ({type(exc).__name__}: {exc}); "
                "the network keeps the weights of the last completed epoch, and a "
                "checkpoint resumes training"
            ) from exc

    def full_batch(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> FullBatchSums:
        E = correct = 0.0
        grad = np.zeros_like(network.grad)
        for sums in self._map(partition_gradient, network, loss, self.block_rows, counter):
            E += sums.error
            grad += sums.gradient
            correct += sums.correct
        return FullBatchSums(E, grad, self.weight_total, correct)

    def evaluate(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> tuple[float, float]:
        E = correct = 0.0
        for e, c in self._map(partition_evaluation, network, loss, self.block_rows, counter):
            E += e
            correct += c
        return E, correct

    def gauss_newton(self, network: Network, loss: Loss) -> tuple[float, np.ndarray, np.ndarray]:
        P = network.n_params
        if self.max_gauss_newton_bytes < P * P * 8:
            raise ValueError(
                f"Levenberg-Marquardt needs J^T J of {P} x {P} float64 "
                f"({P * P * 8 / 2**20:.0f} MiB) per partition, above the limit of "
                f"{self.max_gauss_newton_bytes / 2**20:.0f} MiB; use a smaller network or "
                "L-BFGS"
            )
        half_sq, Jte, JtJ = 0.0, np.zeros(P), np.zeros((P, P))
        for h, b, A in self._map(partition_gauss_newton, network, loss, one_at_a_time=True):
            half_sq += h
            Jte += b
            JtJ += A
        return half_sq, Jte, JtJ

    def chunks(self, rng: np.random.Generator, shuffle: bool) -> Iterator[Chunk]:
        order = rng.permutation(len(self.parts)) if shuffle else range(len(self.parts))
        for q in order:
            try:
                X, T, s = self.parts[q].result()
            except connection_errors() as exc:
                raise ClusterError(
                    f"the Dask cluster failed while sending partition {q} ({exc})"
                ) from exc
            yield Chunk(X, T, s, rng.permutation(X.shape[0]) if shuffle else None)

    def accuracy_counter(self, output_activation: Activation) -> AccuracyCounter:
        return counter_for(output_activation, self.spec.sizes[-1], self._one_hot)


class DaskStepPartitions(DaskPartitions):
    """Synchronous data-parallel online and mini-batch training (a
    :class:`~bprop.training.sources.StepSource`).

    Each epoch draws one permutation of all rows, ``rng.permutation(n)`` (row p counted
    across the partitions in order), exactly as in-memory training does, and cuts it into
    batches of ``size`` rows. For each batch B every partition q holding some of its rows
    computes (E, g, S, correct) over them; the driver adds them in partition order:
    g_B = sum_q g_{B,q}. The batches are those of the in-memory run from the same seed;
    only the order of the sum within a batch differs (to rounding). One scheduler round
    trip per update: use large batches.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sizes = [s.n_rows for s in self.summaries]
        self.starts = np.concatenate([[0], np.cumsum(sizes)])

    def steps(self, rng: np.random.Generator, shuffle: bool, size: int) -> Iterator[object]:
        n = self.n_rows
        order = rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, size):
            rows = order[start : start + size]
            owner = np.searchsorted(self.starts, rows, side="right") - 1
            yield [(int(q), rows[owner == q] - self.starts[q]) for q in np.unique(owner)]

    def step_gradient(
        self, network: Network, loss: Loss, handle: object, counter: AccuracyCounter | None
    ) -> tuple[float, float, float]:
        calls = [(self.parts[q], (rows, loss, counter)) for q, rows in handle]
        E = weight = correct = 0.0
        grad = network.grad
        grad[...] = 0.0
        for e, g, w, c in self._run(partition_rows_gradient, network, calls):
            E += e
            grad += g
            weight += w
            correct += c
        return E, weight, correct


class LocalPartitions(DaskPartitions):
    """The same computation in this process, partition by partition: the reference a Dask
    run equals bit for bit, and what ``to_local`` training on the same blocks gives."""

    def __init__(self, parts: Sequence[Partition], network: Network, block_rows: int) -> None:
        n_in, n_out = network.n_inputs, network.n_outputs
        summaries = [partition_summary(p, n_in, n_out) for p in parts]
        refuse_bad_partitions(summaries)
        super().__init__(None, [_Done(p) for p in parts], summaries, network, block_rows)

    def _map(
        self, fn: Callable, network: Network, *args: Any, one_at_a_time: bool = False
    ) -> Iterator[Any]:
        params = network.params.copy()
        for part in self.parts:
            yield fn(part.result(), self.spec, params, *args)


class _Done:
    """A partition already in memory, with the one method of a future the source uses."""

    def __init__(self, part: Partition) -> None:
        self._part = part

    def result(self) -> Partition:
        return self._part


def refuse_bad_partitions(summaries: Sequence[PartitionSummary]) -> None:
    for q, s in enumerate(summaries):
        if s.problem is not None:
            raise ValueError(f"partition {q} of the training data {s.problem}")
    if not any(s.n_rows for s in summaries):
        raise ValueError("the training data have no rows (every partition is empty)")
