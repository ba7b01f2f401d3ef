"""Each activation against its closed form, its derivative against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import ACTIVATIONS, get_activation
from bprop.core.activations import LeakyReLU

X = np.linspace(-4, 4, 17).reshape(1, -1) + 0.013  # avoids the ReLU kink at 0 exactly

CLOSED_FORMS = {
    "logistic": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "identity": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True),
    "gaussian": lambda x: np.exp(-(x**2)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "exp": np.exp,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_value_matches_closed_form(name):
    np.testing.assert_allclose(get_activation(name)(X), CLOSED_FORMS[name](X), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_is_the_vector_jacobian_product(name, rng):
    act = get_activation(name)
    net = X.copy()
    o = act(net)
    g = rng.normal(size=net.shape)  # dE/do
    got = act.backward(g, net, o, np.empty_like(net))
    h = 1e-6
    expected = np.empty_like(net)
    for j in range(net.shape[1]):  # dE/dnet_j = sum_k g_k do_k/dnet_j
        plus, minus = net.copy(), net.copy()
        plus[0, j] += h
        minus[0, j] -= h
        expected[0, j] = g[0] @ (act(plus)[0] - act(minus)[0]) / (2 * h)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_works_in_place(name, rng):
    act = get_activation(name)
    o = act(X)
    g = rng.normal(size=X.shape)
    expected = act.backward(g, X, o, np.empty_like(X))
    in_place = g.copy()
    act.backward(in_place, X, o, in_place)
    np.testing.assert_allclose(in_place, expected, rtol=1e-15)


def test_softmax_and_logistic_do_not_overflow():
    big = np.array([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(get_activation("softmax")(big), [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(get_activation("logistic")(big), [[1.0, 0.5, 0.0]])
    np.testing.assert_allclose(get_activation("softplus")(big), [[1000.0, np.log(2), 0.0]])


def test_names_aliases_and_parameters():
    assert get_activation("sigmoid").name == "logistic"
    assert get_activation("linear").name == "identity"
    leaky = get_activation({"name": "leaky_relu", "alpha": 0.2})
    assert isinstance(leaky, LeakyReLU) and leaky.alpha == 0.2
    assert get_activation(leaky.config()) == leaky
    with pytest.raises(ValueError, match="alpha must be in"):
        LeakyReLU(alpha=1.5)
    with pytest.raises(ValueError, match="unknown activation 'soft'"):
        get_activation("soft")
