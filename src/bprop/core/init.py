"""Weight initialisers. Each draws one layer's (W, b) from an explicit numpy Generator.

W has shape (n_in, n_out): W[i, j] is w_ij, the weight from unit i of the layer below to
unit j of this layer. fan_in = n_in, fan_out = n_out.

==================  ==========================================================  ========
name                weights                                                     biases
==================  ==========================================================  ========
``uniform``         U(-r, r), r = 0.5 (the classic "small random weights")      U(-r, r)
``xavier_uniform``  U(-a, a), a = sqrt(6 / (fan_in + fan_out))  (Glorot 2010)   0
``xavier_normal``   N(0, s^2), s = sqrt(2 / (fan_in + fan_out))                 0
``he_uniform``      U(-a, a), a = sqrt(6 / fan_in)  (He et al. 2015)            0
``he_normal``       N(0, s^2), s = sqrt(2 / fan_in)                             0
``lecun_uniform``   U(-a, a), a = sqrt(3 / fan_in)  (LeCun et al. 1998)         0
``lecun_normal``    N(0, s^2), s = sqrt(1 / fan_in)                             0
``nguyen_widrow``   U(-1, 1) rows rescaled so each unit's weight vector has     U(-g, g)
                    norm g = 0.7 fan_out^(1/fan_in)  (Nguyen & Widrow 1990)
==================  ==========================================================  ========

Aliases: ``xavier`` and ``glorot``/``glorot_uniform`` are ``xavier_uniform``,
``glorot_normal`` is ``xavier_normal``, ``he`` is ``he_normal``, ``lecun`` is
``lecun_normal``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["INITIALIZERS", "Initializer", "get_initializer"]

#: rng, n_in, n_out, dtype -> (W of shape (n_in, n_out), b of shape (n_out,))
Initializer = Callable[[np.random.Generator, int, int, np.dtype], tuple[np.ndarray, np.ndarray]]


def _uniform_layer(rng, n_in, n_out, dtype, a, bias_a=0.0):
    W = rng.uniform(-a, a, size=(n_in, n_out))
    b = rng.uniform(-bias_a, bias_a, size=n_out) if bias_a else np.zeros(n_out)
    return W.astype(dtype), b.astype(dtype)


def _normal_layer(rng, n_in, n_out, dtype, s):
    return rng.normal(0.0, s, size=(n_in, n_out)).astype(dtype), np.zeros(n_out, dtype)


def uniform(rng, n_in, n_out, dtype, r: float = 0.5):
    """W and b from U(-r, r)."""
    return _uniform_layer(rng, n_in, n_out, dtype, r, r)


def xavier_uniform(rng, n_in, n_out, dtype):
    """W from U(-a, a), a = sqrt(6 / (fan_in + fan_out)); b = 0."""
    return _uniform_layer(rng, n_in, n_out, dtype, np.sqrt(6.0 / (n_in + n_out)))


def xavier_normal(rng, n_in, n_out, dtype):
    """W from N(0, 2 / (fan_in + fan_out)); b = 0."""
    return _normal_layer(rng, n_in, n_out, dtype, np.sqrt(2.0 / (n_in + n_out)))


def he_uniform(rng, n_in, n_out, dtype):
    """W from U(-a, a), a = sqrt(6 / fan_in); b = 0."""
    return _uniform_layer(rng, n_in, n_out, dtype, np.sqrt(6.0 / n_in))


def he_normal(rng, n_in, n_out, dtype):
    """W from N(0, 2 / fan_in); b = 0."""
    return _normal_layer(rng, n_in, n_out, dtype, np.sqrt(2.0 / n_in))


def lecun_uniform(rng, n_in, n_out, dtype):
    """W from U(-a, a), a = sqrt(3 / fan_in) (variance 1 / fan_in); b = 0."""
    return _uniform_layer(rng, n_in, n_out, dtype, np.sqrt(3.0 / n_in))


def lecun_normal(rng, n_in, n_out, dtype):
    """W from N(0, 1 / fan_in); b = 0."""
    return _normal_layer(rng, n_in, n_out, dtype, np.sqrt(1.0 / n_in))


def nguyen_widrow(rng, n_in, n_out, dtype):
    """Nguyen-Widrow: each unit's incoming weight vector rescaled to norm g = 0.7 H^(1/n).

    H = n_out units, n = n_in inputs; biases from U(-g, g). Assumes inputs scaled to
    about [-1, 1], as the method does.
    """
    g = 0.7 * n_out ** (1.0 / n_in)
    W = rng.uniform(-1.0, 1.0, size=(n_in, n_out))
    norms = np.linalg.norm(W, axis=0)
    W *= g / np.where(norms > 0, norms, 1.0)
    b = rng.uniform(-g, g, size=n_out)
    return W.astype(dtype), b.astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f
    for f in (
        uniform,
        xavier_uniform,
        xavier_normal,
        he_uniform,
        he_normal,
        lecun_uniform,
        lecun_normal,
        nguyen_widrow,
    )
}
_ALIASES = {
    "xavier": "xavier_uniform",
    "glorot": "xavier_uniform",
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "he": "he_normal",
    "kaiming": "he_normal",
    "lecun": "lecun_normal",
}


def get_initializer(spec: str | Initializer) -> Initializer:
    """An initialiser from its name (see the module docstring) or a callable of that shape."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in INITIALIZERS:
            return INITIALIZERS[key]
    expected = ", ".join(sorted(INITIALIZERS) + sorted(_ALIASES))
    raise ValueError(f"unknown initializer {spec!r}; expected one of: {expected}")
