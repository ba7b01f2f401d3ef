"""The data-source seam: every rule reaches the rows through it, whoever holds them."""

import contextlib

import numpy as np
import pytest

from bprop import Network, Trainer
from bprop.core.jacobian import gauss_newton_rows, gauss_newton_sum
from bprop.training import fast, sources
from bprop.training.metrics import AccuracyCounter
from bprop.training.sources import (
    ArrayData,
    Chunk,
    DataSource,
    FullBatchSums,
    sum_evaluations,
    sum_gradients,
)
from bprop.training.threads import blas_limit

FULL_BATCH_RULES = ["gd", "momentum", "nesterov", "rprop+", "rprop-", "irprop+", "irprop-",
                    "quickprop", "lbfgs", "lm"]  # fmt: skip


class ListData:
    """A source over a list of blocks (as a partitioned store would hold them)."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.n_rows = sum(b[0].shape[0] for b in blocks)
        self.weight_total = float(self.n_rows)
        self.calls = 0

    def full_batch(self, network, loss, counter=None):
        self.calls += 1
        E, g, c = sum_gradients(network, loss, self.blocks, counter)
        return FullBatchSums(E, g, self.weight_total, c)

    def evaluate(self, network, loss, counter=None):
        self.calls += 1
        return sum_evaluations(network, loss, self.blocks, counter)

    def gauss_newton(self, network, loss):
        self.calls += 1
        # blocks of gauss_newton_rows rows, as the in-memory source forms them
        rows = gauss_newton_rows(network)
        X = np.vstack([b[0] for b in self.blocks])
        T = np.vstack([b[1] for b in self.blocks])
        blocks = [(X[i : i + rows], T[i : i + rows], None) for i in range(0, len(X), rows)]
        return gauss_newton_sum(network, blocks, loss)

    def chunks(self, rng, shuffle):
        for x, t, s in self.blocks:
            yield Chunk(x, t, s, rng.permutation(len(x)) if shuffle else None)

    def accuracy_counter(self, output_activation):
        T = np.vstack([b[1] for b in self.blocks])
        return AccuracyCounter(output_activation, T)


def _problem(n=50):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, 3))
    T = np.tanh(X @ rng.normal(size=(3, 2)))
    return X, T


def _net():
    return Network([3, 4, 2], "tanh", "identity", seed=1)


def test_array_data_is_a_data_source():
    X, T = _problem()
    assert isinstance(ArrayData(X, T, None, 50.0), DataSource)


@pytest.mark.parametrize("rule", FULL_BATCH_RULES)
def test_every_full_batch_rule_goes_through_the_source(rule):
    X, T = _problem()
    bs = 16
    blocks = [(X[i : i + bs], T[i : i + bs], None) for i in range(0, len(X), bs)]
    source = ListData(blocks)
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": rule, "mode": "batch", "max_epochs": 5}
    Trainer(a, block_size=bs, **kw).fit(X, T)
    Trainer(b, **kw).fit(source)
    assert source.calls >= 5
    np.testing.assert_array_equal(a.params, b.params)


def test_minibatch_epoch_with_one_chunk_equals_arrays():
    X, T = _problem()
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": "momentum", "batch_size": 7, "max_epochs": 3, "seed": 5}
    Trainer(a, **kw).fit(X, T)
    Trainer(b, **kw).fit(ListData([(X, T, None)]))
    np.testing.assert_array_equal(a.params, b.params)


def test_a_source_takes_no_separate_targets():
    X, T = _problem()
    with pytest.raises(ValueError, match="holds its own targets"):
        Trainer(_net()).fit(ListData([(X, T, None)]), T)


def _rows_problem(n=300):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, 3))
    T = np.tanh(X @ rng.normal(size=(3, 2)))
    rows = rng.permutation(n)[: n - n // 5]  # a training split: a shuffled subset
    sw = rng.uniform(0.5, 2.0, n)
    return X, T, rows, sw


@pytest.mark.parametrize(
    "mode,rule", [("batch", "irprop+"), ("batch", "lbfgs"), ("batch", "lm"),
                  ("minibatch", "adam"), ("online", "momentum")],
)  # fmt: skip
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("compiled", [True, False])
def test_rows_train_exactly_as_the_copied_rows(mode, rule, weighted, compiled):
    X, T, rows, sw = _rows_problem()
    kw = {"loss": "squared_error", "rule": rule, "mode": mode, "max_epochs": 3, "seed": 2,
          "block_size": 64, "batch_size": 16}  # fmt: skip
    a, b = _net(), _net()
    with contextlib.nullcontext() if compiled else fast.disabled():
        Trainer(a, **kw).fit(X[rows], T[rows], sample_weight=sw[rows] if weighted else None)
        Trainer(b, **kw).fit(X, T, sample_weight=sw if weighted else None, rows=rows)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, _net().params)


def test_array_data_over_rows_gives_the_blocks_of_the_copy():
    X, T, rows, sw = _rows_problem(50)
    copied = ArrayData(X[rows], T[rows], sw[rows], float(sw[rows].sum()), block_rows=16)
    viewed = ArrayData(X, T, sw, float(sw[rows].sum()), block_rows=16, rows=rows)
    assert viewed.n_rows == copied.n_rows == len(rows)
    for got, want in zip(viewed.arrays(), copied.arrays(), strict=True):
        np.testing.assert_array_equal(got, want)
    (chunk,) = viewed.chunks(np.random.default_rng(0), shuffle=True)
    (ref,) = copied.chunks(np.random.default_rng(0), shuffle=True)
    np.testing.assert_array_equal(chunk.X[chunk.order], ref.X[ref.order])


@pytest.mark.parametrize(
    "rows,match",
    [(np.array([0, 50]), r"indices in \[0, 50\)"), (np.array([-1]), "indices"),
     (np.array([], dtype=int), "non-empty"), (np.array([[1, 2]]), "1-D"),
     (np.array([0.5]), "row indices")],
)  # fmt: skip
def test_bad_rows_are_clear_errors(rows, match):
    X, T = _problem()
    with pytest.raises(ValueError, match=match):
        Trainer(_net()).fit(X, T, rows=rows)


def test_rows_of_a_data_source_are_refused():
    X, T = _problem()
    with pytest.raises(ValueError, match="rows selects rows of arrays"):
        Trainer(_net()).fit(ListData([(X, T, None)]), rows=np.arange(3))


def test_rows_whose_weights_sum_to_zero_are_refused():
    X, T = _problem()
    sw = np.ones(len(X))
    sw[:10] = 0.0
    with pytest.raises(ValueError, match="positive sum over the rows trained on"):
        Trainer(_net()).fit(X, T, sample_weight=sw, rows=np.arange(10))


@pytest.mark.parametrize("rule", ["irprop+", "lbfgs"])
def test_blocks_summed_on_threads_give_the_bits_of_one_after_another(monkeypatch, rule):
    """With a BLAS limit of two threads, a full-batch sum runs two blocks at once (the
    compiled kernel releases the GIL) and adds them in their order: the same weights as
    the blocks one after another (both with one BLAS thread per block)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 3))
    T = np.tanh(X @ rng.normal(size=(3, 2)))
    kw = {"loss": "squared_error", "rule": rule, "mode": "batch", "max_epochs": 4,
          "block_size": 64}  # fmt: skip
    a, b = _net(), _net()
    with blas_limit(1):
        Trainer(a, **kw).fit(X, T)
    threaded = []
    run = sources._sum_gradients_threaded
    monkeypatch.setattr(sources, "blas_threads", lambda: 2)
    monkeypatch.setattr(
        sources, "_sum_gradients_threaded", lambda *args: threaded.append(args[-1]) or run(*args)
    )
    Trainer(b, **kw).fit(X, T)
    assert threaded and set(threaded) == {2}
    np.testing.assert_array_equal(a.params, b.params)
    loss = Trainer(_net(), loss="squared_error").loss
    assert sources.block_threads(_net(), loss) == 2
    with fast.disabled():  # the NumPy path shares the network's buffers: one thread
        assert sources.block_threads(_net(), loss) == 1
