"""Initialisers: the documented scales, explicit generators, Nguyen-Widrow's norms."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import INITIALIZERS, get_initializer


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("xavier_uniform", np.sqrt(6 / (300 + 200))),
        ("he_uniform", np.sqrt(6 / 300)),
        ("lecun_uniform", np.sqrt(3 / 300)),
        ("uniform", 0.5),
    ],
)
def test_uniform_initialisers_fill_their_interval(name, bound):
    W, b = get_initializer(name)(np.random.default_rng(0), 300, 200, np.float64)
    assert W.shape == (300, 200) and b.shape == (200,)
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.99 * bound  # 60,000 draws reach the edge
    assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("xavier_normal", np.sqrt(2 / 500)),
        ("he_normal", np.sqrt(2 / 300)),
        ("lecun_normal", np.sqrt(1 / 300)),
    ],
)
def test_normal_initialisers_have_their_variance(name, std):
    W, b = get_initializer(name)(np.random.default_rng(0), 300, 200, np.float64)
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)  # five standard errors
    assert not np.any(b)


def test_nguyen_widrow_scales_each_unit_to_its_norm():
    W, b = get_initializer("nguyen_widrow")(np.random.default_rng(0), 4, 10, np.float64)
    g = 0.7 * 10 ** (1 / 4)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), g)
    assert np.abs(b).max() <= g


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_explicit_generator_gives_reproducible_draws(name):
    init = get_initializer(name)
    a = init(np.random.default_rng(5), 6, 4, np.float32)
    b = init(np.random.default_rng(5), 6, 4, np.float32)
    assert a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_aliases_and_unknown_name():
    assert get_initializer("glorot") is get_initializer("xavier_uniform")
    assert get_initializer("he") is get_initializer("he_normal")
    with pytest.raises(ValueError, match="unknown initializer 'zeros'"):
        get_initializer("zeros")
