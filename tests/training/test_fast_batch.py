"""The compiled full-batch block kernel against ``Network.gradient``, and its fall-backs.

``Network.gradient`` (NumPy) is the reference: the kernel's E, gradient sum and correct
count must agree with it to 1e-12 relative in float64 for every compiled activation form
in every role (hidden and output) and every loss form, with and without sample weights,
over several sub-blocks.
"""

from __future__ import annotations

import numpy as np
import pytest

import bprop.training.fast as fast
from bprop import Network, Trainer
from bprop.core.activations import Activation
from bprop.core.losses import get_loss
from bprop.training.metrics import AccuracyCounter
from bprop.training.sources import ArrayData, block_gradient, sum_gradients

pytest.importorskip("numba", reason="the compiled path needs numba (bprop[fast])")

#: Every activation with an elementwise compiled form, as hidden layers of one network.
HIDDEN = ("exp", "identity", "logistic", "tanh", "relu", "gaussian", "softplus")

#: Every output activation once, each with a loss of its compiled forms (the element
#: losses the other way round from test_fast.py's pairs: together they cover both).
OUTPUTS = [
    *zip(
        ("identity", "logistic", "tanh", "relu", "gaussian", "softplus", "exp"),
        ("mse", "squared_error") * 4,
        strict=False,
    ),
    ("logistic", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
]


def _problem(output, loss, n, k=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(dtype)
    if loss == "categorical_cross_entropy":
        T = np.eye(k)[rng.integers(0, k, n)]
    elif loss == "binary_cross_entropy":
        T = (rng.random((n, k)) > 0.5).astype(float)
    else:
        T = rng.uniform(0.1, 0.9, (n, k))
    return X, T.astype(dtype), rng.uniform(0.2, 2.0, n).astype(dtype)


def _reference(net, loss, X, T, s, counter):
    with fast.disabled():
        E, correct = block_gradient(net, loss, X, T, s, counter)
    return E, net.grad.copy(), correct


def _compiled(net, loss, X, T, s, counter):
    result = fast.block_gradient(net, loss, X, T, s, counter)
    assert result is not None, fast.batch_reason(net, loss)
    return result[0], net.grad.copy(), result[1]


def _assert_close(fused, ref, rtol):
    (E, g, c), (E0, g0, c0) = fused, ref
    assert abs(E - E0) <= rtol * abs(E0)
    assert np.max(np.abs(g - g0)) <= rtol * np.max(np.abs(g0))
    assert np.max(np.abs(g0)) > 0
    assert abs(c - c0) <= rtol * max(1.0, abs(c0))  # weighted counts: sums of weights


@pytest.mark.parametrize(("output", "loss_name"), OUTPUTS)
def test_every_form_in_every_role_equals_network_gradient(output, loss_name, monkeypatch):
    # The first network has every elementwise form as a hidden layer; the others one tanh
    # layer (each output form is a composition of its own: keep them small).
    hidden = list(HIDDEN) if output == "identity" else ["tanh"]
    sizes = [5, *[6] * len(hidden), 3]
    net = Network(sizes, hidden, output, seed=1)
    net.biases[-1][:] = 0.5  # relu output units alive
    loss = get_loss(loss_name)
    X, T, s = _problem(output, loss_name, 301)
    counter = AccuracyCounter(net.output_activation, T)
    # 301 rows in sub-blocks of 64: four full ones and a partial one
    monkeypatch.setattr(fast, "SUB_BLOCK_BYTES", 1)
    assert fast.sub_block_rows(net) == 64
    for weights in (None, s):
        ref = _reference(net, loss, X, T, weights, counter)
        _assert_close(_compiled(net, loss, X, T, weights, counter), ref, 1e-12)


def test_without_a_counter_and_in_one_sub_block():
    net = Network([5, 4, 3], "tanh", "softmax", seed=2)
    loss = get_loss("categorical_cross_entropy")
    for n in (1, 3, 200):  # below and above the loops-instead-of-BLAS size
        X, T, _ = _problem("softmax", loss.name, n, seed=n)
        ref = _reference(net, loss, X, T, None, None)
        E, g, c = _compiled(net, loss, X, T, None, None)
        assert c == 0.0
        _assert_close((E, g, ref[2]), ref, 1e-12)


def test_float32_agrees_to_float32_rounding():
    net = Network([5, 8, 3], "logistic", "softmax", seed=3, dtype=np.float32)
    loss = get_loss("categorical_cross_entropy")
    X, T, s = _problem("softmax", loss.name, 500, dtype=np.float32)
    counter = AccuracyCounter(net.output_activation, T)
    ref = _reference(net, loss, X, T, s, counter)
    fused = _compiled(net, loss, X, T, s, counter)
    assert fused[1].dtype == np.float32
    _assert_close(fused, ref, 1e-5)


def test_the_same_block_gives_the_same_bits_and_sources_use_the_kernel(monkeypatch):
    net = Network([5, 6, 3], "tanh", "softmax", seed=4)
    loss = get_loss("categorical_cross_entropy")
    X, T, _ = _problem("softmax", loss.name, 700)
    monkeypatch.setattr(fast, "SUB_BLOCK_BYTES", 1)
    first = _compiled(net, loss, X, T, None, None)
    again = _compiled(net, loss, X[:].copy(), T.copy(), None, None)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    calls = []
    real = fast.block_gradient
    monkeypatch.setattr(fast, "block_gradient", lambda *a, **k: calls.append(a) or real(*a, **k))
    data = ArrayData(X, T, None, 700.0, block_rows=256)
    sums = data.full_batch(net, loss)
    assert len(calls) == 3  # 256 + 256 + 188 rows
    summed = sum_gradients(net, loss, data._blocks())
    assert summed[0] == sums.error
    g = summed[1]
    np.testing.assert_array_equal(g, sums.gradient)
    with fast.disabled():
        ref = data.full_batch(net, loss)
    assert abs(sums.error - ref.error) <= 1e-12 * ref.error
    assert np.max(np.abs(sums.gradient - ref.gradient)) <= 1e-12 * np.max(np.abs(ref.gradient))


class _Cube(Activation):
    name = "cube"

    def forward(self, net, out):
        return np.power(net, 3, out=out)

    def backward(self, dE_do, net, o, out):
        return np.multiply(dE_do, 3 * net * net, out=out)


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "reason"),
    [
        (_Cube(), "identity", "squared_error", "hidden activation 'cube'"),
        ("tanh", "softmax", "squared_error", "loss 'squared_error' with output 'softmax'"),
        ("tanh", "logistic", "categorical_cross_entropy", "with output 'logistic'"),
    ],
)
def test_falls_back_to_network_gradient_where_it_does_not_apply(hidden, output, loss, reason):
    net = Network([5, 4, 3], hidden, output, seed=5)
    loss = get_loss(loss)
    X, T, _ = _problem(output, loss.name, 50)
    assert reason in fast.batch_reason(net, loss)
    assert fast.block_gradient(net, loss, X, T) is None
    seam = block_gradient(net, loss, X, T)
    assert seam == (net.gradient(X, T, loss), 0.0)


def test_disabled_and_missing_numba_use_network_gradient(monkeypatch):
    net = Network([5, 4, 3], "tanh", "softmax", seed=6)
    loss = get_loss("categorical_cross_entropy")
    X, T, _ = _problem("softmax", loss.name, 50)
    with fast.disabled():
        assert "disabled" in fast.batch_reason(net, loss)
        assert fast.block_gradient(net, loss, X, T) is None
    monkeypatch.setitem(fast._state, "kernels", None)
    monkeypatch.setitem(fast._state, "import_error", ImportError("no numba"))
    assert "needs numba" in fast.batch_reason(net, loss)
    assert fast.block_gradient(net, loss, X, T) is None


def test_batch_mode_training_sums_with_the_kernel(monkeypatch):
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((300, 5)), rng.integers(0, 3, 300)
    calls = []
    real = fast.block_gradient
    monkeypatch.setattr(fast, "block_gradient", lambda *a: calls.append(real(*a)) or calls[-1])

    def fit():
        net = Network([5, 6, 3], "tanh", "softmax", seed=8)
        trainer = Trainer(net, rule="irprop-", mode="batch", max_epochs=4, progress=False)
        return net, trainer, trainer.fit(X, y)

    net, trainer, history = fit()
    assert "mode 'batch' has no epoch kernel" in trainer.fast_path_reason()
    assert len(calls) == 4 and all(c is not None for c in calls)
    with fast.disabled():
        ref, _, ref_history = fit()
    assert np.max(np.abs(net.params - ref.params)) <= 1e-12
    np.testing.assert_allclose(history.loss, ref_history.loss, rtol=1e-12)
    assert [r.metric for r in history.records] == [r.metric for r in ref_history.records]
