"""Where the training rows live: the one interface between the trainer and its data.

Every rule reaches the data through a :class:`DataSource`, never through arrays:

- **full batch** (batch gd/momentum/nesterov, the RPROP family, Quickprop, L-BFGS):
  ``full_batch(network, loss, counter)`` returns the sums over the whole set

      E = sum_p s_p E_p(w),   g = sum_p s_p dE_p/dw,   S = sum_p s_p,   correct

  formed block by block, the blocks added **in a fixed order** (the order of the rows),
  so the result never depends on timing or on where the rows were read from;
- **forward only**: ``evaluate(network, loss, counter)`` gives (E, correct), for
  validation and the solvers' line searches;
- **Gauss-Newton**: ``gauss_newton(network, loss)`` gives (1/2 ||e||^2, J^T e, J^T J), each
  a sum over blocks of rows (Levenberg-Marquardt; :mod:`bprop.core.jacobian`);
- **an epoch of online patterns or mini-batches**: ``chunks(rng, shuffle)`` yields the
  epoch's rows as :class:`Chunk` s that fit in memory, each with the order in which its
  rows are visited (a seeded permutation, or None for the stored order). The trainer
  cuts each chunk into mini-batches (a mini-batch never spans two chunks).

Implementations: :class:`ArrayData` (NumPy arrays in memory: one chunk, the epoch's
permutation drawn from the trainer's generator exactly as before) and the streamed
Parquet data of :mod:`bprop.training.parquet`. A new source (e.g. one whose blocks live
on other machines) implements the same five members and the trainer and every rule work
unchanged; it gets bit-identical full-batch results if it adds the same blocks in the
same order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Protocol, runtime_checkable

import numpy as np

from bprop.core.activations import Activation
from bprop.core.jacobian import gauss_newton
from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.training import fast
from bprop.training.metrics import AccuracyCounter
from bprop.training.threads import blas_limit, blas_threads

__all__ = [
    "ArrayData",
    "BindableData",
    "Chunk",
    "DataSource",
    "FullBatchSums",
    "StepSource",
    "block_gradient",
    "block_threads",
    "sum_evaluations",
    "sum_gradients",
]

#: One block of rows: inputs X (n, n_in), targets T (n, n_out), sample weights s (n,) or None.
Block = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


@dataclass
class Chunk:
    """Rows of one epoch that are in memory together, and the order to visit them in.

    ``order`` holds the indices of the rows of X to visit, in turn: a permutation of
    ``range(len(X))``, or of a subset of the rows (None: every row, in the stored order).
    The trainer runs mini-batches of consecutive entries of ``order``.
    """

    X: np.ndarray
    T: np.ndarray
    sample_weight: np.ndarray | None
    order: np.ndarray | None


@dataclass
class FullBatchSums:
    """Sums over the whole training set at the current weights (see the module docstring).

    ``gradient`` may be the network's own ``grad`` buffer (valid until its next pass).
    """

    error: float
    gradient: np.ndarray
    weight_total: float
    correct: float


@runtime_checkable
class DataSource(Protocol):
    """The training (or validation) rows, as the trainer and the rules see them."""

    #: number of rows, and S = sum_p s_p (the number of rows without sample weights)
    n_rows: int
    weight_total: float

    def full_batch(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> FullBatchSums:
        """E, g, S and the correct count over all rows at ``network.params``."""
        ...

    def evaluate(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> tuple[float, float]:
        """(sum_p s_p E_p, correct count) by forward passes only."""
        ...

    def gauss_newton(self, network: Network, loss: Loss) -> tuple[float, np.ndarray, np.ndarray]:
        """(1/2 ||e||^2, J^T e, J^T J) over all rows (float64 sums)."""
        ...

    def chunks(self, rng: np.random.Generator, shuffle: bool) -> Iterator[Chunk]:
        """The rows of one online or mini-batch epoch, chunk by chunk, in a seeded order."""
        ...

    def accuracy_counter(self, output_activation: Activation) -> AccuracyCounter:
        """The accuracy counter for these targets (one-hot or not)."""
        ...


@runtime_checkable
class StepSource(Protocol):
    """A source that forms each online or mini-batch step's gradient itself, where its rows
    live (e.g. on the workers of a cluster), instead of handing the trainer chunks.

    ``steps(rng, shuffle, size)`` yields one handle per update, in a seeded order of
    batches of ``size`` rows; ``step_gradient(network, loss, handle, counter)`` leaves
    g_B = sum_{p in B} s_p dE_p/dw in ``network.grad`` and returns
    (sum_{p in B} s_p E_p, S_B, correct_B). The trainer then applies the rule as for any
    block.
    """

    def steps(self, rng: np.random.Generator, shuffle: bool, size: int) -> Iterator[object]: ...

    def step_gradient(
        self, network: Network, loss: Loss, handle: object, counter: AccuracyCounter | None
    ) -> tuple[float, float, float]: ...


@runtime_checkable
class BindableData(Protocol):
    """Data described before the model is known (e.g. a Parquet dataset on disk).

    ``Trainer.fit`` takes one in place of ``X, y``; it calls ``bind`` to get the
    :class:`DataSource` that reads rows in the network's dtype, ``block_rows`` rows per
    block, and ``bind_validation`` for held-out rows (None if there are none).
    """

    def bind(self, network: Network, block_rows: int) -> DataSource: ...

    def bind_validation(self, network: Network, block_rows: int) -> DataSource | None: ...


def block_gradient(
    network: Network,
    loss: Loss,
    X: np.ndarray,
    T: np.ndarray,
    sample_weight: np.ndarray | None = None,
    counter: AccuracyCounter | None = None,
) -> tuple[float, float]:
    """(sum_p s_p E_p, correct) of one block, with g = sum_p s_p dE_p/dw left in
    ``network.grad``: the one per-block function of every full-batch sum.

    The compiled block kernel (:func:`bprop.training.fast.block_gradient`: forward and
    backward elementwise work fused per cache-sized sub-block) where it applies, else
    ``Network.gradient``; the two agree to rounding error. The same block gives the same
    bits on every call in the same environment.
    """
    result = fast.block_gradient(network, loss, X, T, sample_weight, counter)
    if result is not None:
        return result
    E = network.gradient(X, T, loss, sample_weight)
    correct = 0.0 if counter is None else counter.count(network.outputs[-1], T, sample_weight)
    return E, correct


def sum_gradients(
    network: Network,
    loss: Loss,
    blocks: Iterable[Block],
    counter: AccuracyCounter | None = None,
) -> tuple[float, np.ndarray, float]:
    """(sum_p s_p E_p, sum_p s_p dE_p/dw, correct) over ``blocks``, added in their order.

    g = 0; for each block B in turn: g += sum_{p in B} s_p dE_p/dw (:func:`block_gradient`).
    A source that yields the same blocks gets the same bits.

    With the compiled block kernel and a BLAS limit of k > 1 threads, k blocks are
    computed at once, one per thread, each with one BLAS thread (the kernel releases the
    GIL; its products are small per sub-block, where BLAS threads do not pay), and still
    added in their order: the same bits as one block after another with one BLAS thread.
    """
    threads = block_threads(network, loss)
    if threads > 1:
        return _sum_gradients_threaded(network, loss, blocks, counter, threads)
    acc = np.zeros_like(network.grad)
    E = correct = 0.0
    for x, t, s in blocks:
        E_block, correct_block = block_gradient(network, loss, x, t, s, counter)
        E += E_block
        correct += correct_block
        acc += network.grad
    return E, acc, correct


def block_threads(network: Network, loss: Loss) -> int:
    """Threads for the blocks of a full-batch sum: the BLAS thread limit where the
    compiled block kernel runs, else 1 (``Network.gradient`` shares the network's
    buffers)."""
    if fast.batch_reason(network, loss) is not None:
        return 1
    return blas_threads()


def _sum_gradients_threaded(network, loss, blocks, counter, threads: int):
    """:func:`sum_gradients` with ``threads`` blocks in flight (see there)."""

    def one(x, t, s):
        g = np.empty_like(network.grad)
        result = fast.block_gradient(network, loss, x, t, s, counter, grad=g)
        assert result is not None  # (block_threads checked that the kernel applies)
        return (*result, g)

    acc = np.zeros_like(network.grad)
    E = correct = 0.0
    pending: deque = deque()
    with blas_limit(1), ThreadPoolExecutor(threads, thread_name_prefix="bprop-block") as pool:
        for block in chain(blocks, [None]):  # None: the end, every pending block added
            if block is not None:
                pending.append(pool.submit(one, *block))
            while pending and (block is None or len(pending) > threads or pending[0].done()):
                E_block, correct_block, g = pending.popleft().result()
                E, correct = E + E_block, correct + correct_block
                acc += g
    return E, acc, correct


def sum_evaluations(
    network: Network,
    loss: Loss,
    blocks: Iterable[Block],
    counter: AccuracyCounter | None = None,
) -> tuple[float, float]:
    """(sum_p s_p E_p, correct) over ``blocks`` by forward passes, added in their order."""
    E = correct = 0.0
    for x, t, s in blocks:
        o = network.forward(x)
        E += loss.total(o, t, network.nets[-1], network.output_activation, s)
        if counter is not None:
            correct += counter.count(o, t, s)
    return E, correct


@dataclass
class ArrayData:
    """Rows held in NumPy arrays (already checked and in the network's dtype).

    ``rows`` (None: all) are the indices of the rows of X, T and s that are the data, in
    this order: a training split of X without a copy of X. The source then behaves
    exactly as ``ArrayData(X[rows], T[rows], s[rows], ...)``: the same blocks, the same
    epoch order, the same bits. Full-batch sums run over blocks of ``block_rows`` rows; an
    online or mini-batch epoch is one :class:`Chunk` holding all rows, in the order
    ``rng.permutation(n)``.
    """

    X: np.ndarray
    T: np.ndarray
    sample_weight: np.ndarray | None
    weight_total: float
    block_rows: int = 8192
    rows: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.X.shape[0] if self.rows is None else self.rows.shape[0]

    def _block(self, sl: slice | np.ndarray) -> Block:
        sw = self.sample_weight
        return self.X[sl], self.T[sl], None if sw is None else sw[sl]

    def _blocks(self) -> Iterator[Block]:
        bs, rows = self.block_rows, self.rows
        for start in range(0, self.n_rows, bs):
            sl = slice(start, start + bs)
            yield self._block(sl if rows is None else rows[sl])

    def arrays(self) -> Block:
        """(X, T, s) of the data's rows (copies when ``rows`` selects them)."""
        return self._block(slice(None) if self.rows is None else self.rows)

    def full_batch(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> FullBatchSums:
        if self.n_rows <= self.block_rows:  # one block: the gradient stays in place
            E, correct = block_gradient(network, loss, *self.arrays(), counter)
            return FullBatchSums(E, network.grad, self.weight_total, correct)
        E, grad, correct = sum_gradients(network, loss, self._blocks(), counter)
        return FullBatchSums(E, grad, self.weight_total, correct)

    def evaluate(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> tuple[float, float]:
        return sum_evaluations(network, loss, self._blocks(), counter)

    def gauss_newton(self, network: Network, loss: Loss) -> tuple[float, np.ndarray, np.ndarray]:
        X, T, sw = self.arrays()
        return gauss_newton(network, X, T, loss, sw)

    def chunks(self, rng: np.random.Generator, shuffle: bool) -> Iterator[Chunk]:
        order = rng.permutation(self.n_rows) if shuffle else None
        if self.rows is not None:
            order = self.rows if order is None else self.rows[order]
        yield Chunk(self.X, self.T, self.sample_weight, order)

    def accuracy_counter(self, output_activation: Activation) -> AccuracyCounter:
        T = self.T if self.rows is None else self.T[self.rows]  # (not a copy of X's rows)
        return AccuracyCounter(output_activation, T)
