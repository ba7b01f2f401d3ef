"""The data-source seam: every rule reaches the rows through it, whoever holds them."""

import numpy as np
import pytest

from bprop import Network, Trainer
from bprop.core.jacobian import gauss_newton_rows, gauss_newton_sum
from bprop.training.metrics import AccuracyCounter
from bprop.training.sources import (
    ArrayData,
    Chunk,
    DataSource,
    FullBatchSums,
    sum_evaluations,
    sum_gradients,
)

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
