"""Speed changes to the NumPy path: checks in blocks, the outer-product shortcut.

Network.check_input checks finiteness in blocks of rows (no mask the size of X); the
backward pass through a layer with one unit uses a broadcast product instead of matmul.
"""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network


@pytest.mark.parametrize("row", [0, 1023, 1024 * 1024 // 4 - 1, 1024 * 1024 // 4, -1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_bad_value_in_any_block_is_found(row, bad):
    net = Network([4, 2, 1])
    X = np.zeros((600_000, 4))  # 2.3 blocks of 262,144 rows
    X[row, 2] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        net.check_input(X)


def test_finite_input_passes_without_a_copy():
    net = Network([4, 2, 1])
    X = np.ones((600_000, 4))
    assert net.check_input(X) is X


@pytest.mark.parametrize("n_out", [1, 3])
def test_backward_through_a_single_unit_equals_the_matrix_product(n_out):
    rng = np.random.default_rng(0)
    net = Network([5, 7, 4, n_out], "tanh", "identity", seed=0)
    X, T = rng.standard_normal((50, 5)), rng.standard_normal((50, n_out))
    from bprop.core.losses import SquaredError

    net.gradient(X, T, SquaredError())
    # The generalised delta rule written out with matrix products.
    o1 = np.tanh(X @ net.weights[0] + net.biases[0])
    o2 = np.tanh(o1 @ net.weights[1] + net.biases[1])
    d3 = o2 @ net.weights[2] + net.biases[2] - T
    d2 = (d3 @ net.weights[2].T) * (1 - o2 * o2)
    d1 = (d2 @ net.weights[1].T) * (1 - o1 * o1)
    expected = [X.T @ d1, d1.sum(0), o1.T @ d2, d2.sum(0), o2.T @ d3, d3.sum(0)]
    got = [
        net.weight_grads[0],
        net.bias_grads[0],
        net.weight_grads[1],
        net.bias_grads[1],
        net.weight_grads[2],
        net.bias_grads[2],
    ]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("sizes", "dtype", "rows"),
    [
        ([50, 64, 1], np.float64, 2048),  # 2**20 / (8 * 64)
        ([50, 64, 1], np.float32, 4096),
        ([784, 512, 10], np.float64, 1024),  # clipped below
        ([10, 5, 1], np.float64, 8192),  # clipped above
    ],
)
def test_default_block_size_keeps_a_layer_near_one_megabyte(sizes, dtype, rows):
    from bprop import Trainer

    assert Trainer(Network(sizes, dtype=dtype)).block_size == rows
    assert Trainer(Network(sizes, dtype=dtype), block_size=100).block_size == 100
    with pytest.raises(ValueError, match="block_size must be a positive integer, got 0"):
        Trainer(Network(sizes, dtype=dtype), block_size=0)
