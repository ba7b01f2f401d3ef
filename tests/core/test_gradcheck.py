"""Backprop gradients against five-point central differences, for every sensible pair.

Every hidden activation is combined with every (output activation, loss) pair the losses
allow, on a 3-5-4-2 network (two hidden layers, so deltas pass through a hidden layer).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bprop import ACTIVATIONS, Network, get_loss, gradcheck, numeric_gradient, one_hot
from bprop.core.gradcheck import gradcheck as gradcheck_fn

HIDDEN = sorted(ACTIVATIONS)
OUTPUT_LOSS = [
    *[(out, "squared_error") for out in sorted(ACTIVATIONS)],
    *[(out, "mse") for out in sorted(ACTIVATIONS)],
    ("logistic", "binary_cross_entropy"),
    ("softmax", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("logistic", "categorical_cross_entropy"),
    ("exp", "poisson"),
    ("softplus", "poisson"),
]
KINKED = {"relu", "leaky_relu"}


def problem(hidden: str, output: str, loss: str, dtype=np.float64, seed: int = 0):
    rng = np.random.default_rng(seed)
    net = Network([3, 5, 4, 2], hidden, output, init="xavier_normal", seed=seed, dtype=dtype)
    net.biases[0][:] = rng.normal(0, 0.3, 5)  # nonzero biases, so their gradients are tested
    net.biases[1][:] = rng.normal(0, 0.3, 4)
    net.biases[2][:] = rng.normal(0, 0.3, 2)
    X = rng.normal(size=(6, 3))
    if loss == "categorical_cross_entropy":
        T = one_hot(rng.integers(0, 2, 6), 2)
    elif loss == "poisson":
        T = rng.poisson(1.5, size=(6, 2)).astype(float)  # counts, zeros included
    elif loss == "binary_cross_entropy" or output in ("logistic", "softmax", "gaussian"):
        T = rng.uniform(0.05, 0.95, size=(6, 2))
    else:
        T = rng.normal(size=(6, 2))
    return net, X, T


def near_kink(net: Network, X: np.ndarray) -> bool:
    """ReLU-type units are not differentiable at net = 0: a difference that straddles the
    kink measures something else than the derivative. Steps of 2h = 2e-4 in one weight
    move any net input by far less than 2e-3."""
    net.forward(X.astype(net.dtype))
    return any(
        act.name in KINKED and np.min(np.abs(net_in)) < 2e-3
        for act, net_in in zip(net.activations, net.nets, strict=True)
    )


def kink_free_problem(hidden, output, loss, dtype=np.float64):
    """The first seed whose data keeps every ReLU-type net input away from the kink."""
    for seed in range(20):
        net, X, T = problem(hidden, output, loss, dtype, seed)
        if not near_kink(net, X):
            return net, X, T
    raise AssertionError("no kink-free seed in 20")


@pytest.mark.parametrize(
    ("hidden", "output", "loss"),
    [(h, o, lo) for h, (o, lo) in itertools.product(HIDDEN, OUTPUT_LOSS)],
)
def test_float64_gradient_matches_central_differences(hidden, output, loss):
    net, X, T = kink_free_problem(hidden, output, loss)
    assert gradcheck(net, X, T, loss) < 1e-6


@pytest.mark.parametrize(
    ("hidden", "output", "loss"),
    [
        ("tanh", "softmax", "categorical_cross_entropy"),
        ("logistic", "logistic", "binary_cross_entropy"),
        ("relu", "identity", "mse"),
        ("softplus", "logistic", "squared_error"),
    ],
)
def test_float32_gradient_matches_within_float32_rounding(hidden, output, loss):
    # The numeric reference is float64 at the same weights; the float32 backward pass has
    # relative rounding of about 1e-7 per operation, amplified by cancellation in the
    # sums over patterns: 1e-3 (with an absolute floor of 1e-4) bounds that with room,
    # while any real error in a derivative gives relative errors of order 1.
    net, X, T = kink_free_problem(hidden, output, loss, dtype=np.float32)
    assert net.params.dtype == np.float32
    assert gradcheck(net, X, T, loss, floor=1e-4) < 1e-3


def test_sample_weights_enter_the_gradient():
    net, X, T = problem("tanh", "identity", "squared_error")
    loss = get_loss("squared_error")
    counts = np.array([0, 1, 2, 0, 3, 1])
    assert gradcheck(net, X, T, loss, sample_weight=counts + 0.5) < 1e-6
    # an integer weight k is the same as k copies of the pattern
    E_weighted = net.gradient(X, T, loss, counts.astype(float))
    weighted = net.grad.copy()
    reps = np.repeat(np.arange(6), counts)
    E_repeated = net.gradient(X[reps], T[reps], loss)
    np.testing.assert_allclose(weighted, net.grad, rtol=1e-12, atol=1e-15)
    assert E_weighted == pytest.approx(E_repeated, rel=1e-12)


def test_gradcheck_detects_a_wrong_derivative():
    """A check that cannot fail is no check: break tanh's derivative and see it caught."""
    from bprop.core.activations import Tanh

    class WrongTanh(Tanh):
        def backward(self, dE_do, net, o, out):
            np.multiply(dE_do, 1 - o, out=out)  # wrong: should be 1 - o^2
            return out

    net, X, T = problem("tanh", "identity", "squared_error")
    broken = Network([3, 5, 4, 2], WrongTanh(), "identity")
    broken.params[:] = net.params
    assert gradcheck_fn(broken, X, T, "squared_error") > 1e-2


def test_numeric_gradient_leaves_the_network_unchanged():
    net, X, T = problem("logistic", "logistic", "squared_error")
    before = net.params.copy()
    numeric_gradient(net, X, T, "squared_error")
    np.testing.assert_array_equal(net.params, before)
