"""Activation functions phi, each with its derivative right beside it.

A unit j computes its output from its net input as ``o_j = phi(net_j)``. The backward
pass needs the other direction: given dE/do_j for every unit of a layer, the delta
``delta_j = dE/dnet_j``. For an elementwise phi that is ``dE/do_j * phi'(net_j)``; for
softmax, whose outputs all depend on every net input, it is the vector-Jacobian product
``o_j * (dE/do_j - sum_k o_k dE/do_k)``. Every activation therefore implements

- ``forward(net, out)``: writes ``phi(net)`` into ``out`` and returns it;
- ``backward(dE_do, net, o, out)``: writes ``dE/dnet`` into ``out`` and returns it
  (``out`` may be ``dE_do`` itself: every implementation is safe in place);

Derivatives are written from the output ``o`` where that is cheaper (logistic:
``o (1 - o)``, tanh: ``1 - o^2``), as scikit-learn does.

Compiled forms: an activation may also carry the same phi as scalar functions, in the
class attribute ``compiled``: an :class:`ElementwiseForm` (phi(x) and phi'(net, o) per
unit) or a :class:`RowForm` (softmax: one pattern's row at a time). They are plain Python
(``math`` only, no numba here); the compiled training kernel (:mod:`bprop.training.fast`)
compiles them into its loops. Only the class that declares ``compiled`` has one: a
subclass, which may change ``forward``/``backward``, inherits none and trains with NumPy,
as does any activation without a compiled form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import expit

from bprop.core import scalar

__all__ = [
    "Activation",
    "Exp",
    "ElementwiseForm",
    "RowForm",
    "Gaussian",
    "Identity",
    "LeakyReLU",
    "Logistic",
    "ReLU",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
    "ACTIVATIONS",
]


@dataclass(frozen=True)
class ElementwiseForm:
    """phi per unit, for compiled loops: ``forward(x) = phi(x)`` and
    ``derivative(net, o) = phi'(net)`` given ``o = phi(net)`` (use whichever is cheaper)."""

    forward: Callable[[float], float]
    derivative: Callable[[float, float], float]


@dataclass(frozen=True)
class RowForm:
    """phi over the units of one pattern (not elementwise), for compiled loops:
    ``forward(net, o, r)`` writes ``o[r, :] = phi(net[r, :])`` and returns a value of the
    row that a loss's fused form may use (softmax: logsumexp(net[r, :]))."""

    forward: Callable[[np.ndarray, np.ndarray, int], float]


class Activation:
    """Base class: an activation phi applied to a layer's net inputs (rows are patterns)."""

    name: ClassVar[str] = ""
    #: The range of the outputs, used to choose a classification threshold.
    output_range: ClassVar[tuple[float, float]] = (-np.inf, np.inf)
    #: phi as scalar functions for the compiled kernel (see the module docstring).
    compiled: ClassVar[ElementwiseForm | RowForm | None] = None

    def compiled_form(self) -> ElementwiseForm | RowForm | None:
        """The compiled form declared by this very class (never inherited), or None."""
        return vars(type(self)).get("compiled")

    def forward(self, net: np.ndarray, out: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(
        self, dE_do: np.ndarray, net: np.ndarray, o: np.ndarray, out: np.ndarray
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, net: np.ndarray) -> np.ndarray:
        """phi(net) in a new array."""
        net = np.asarray(net)
        return self.forward(net, np.empty_like(net))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))

    def config(self) -> dict:
        """The name and parameters that rebuild this activation with :func:`get_activation`."""
        return {"name": self.name, **vars(self)}


def _logistic_derivative(net: float, o: float) -> float:
    return o * (1.0 - o)


class Logistic(Activation):
    """phi(x) = 1 / (1 + e^-x);  phi'(x) = o (1 - o)."""

    name = "logistic"
    output_range = (0.0, 1.0)
    compiled = ElementwiseForm(scalar.logistic, _logistic_derivative)

    def forward(self, net, out):
        return expit(net, out=out)

    def backward(self, dE_do, net, o, out):
        # dE/dnet = dE/do * o * (1 - o), without a temporary the size of the layer.
        np.multiply(dE_do, o, out=out)
        out -= out * o
        return out


def _tanh_derivative(net: float, o: float) -> float:
    return 1.0 - o * o


class Tanh(Activation):
    """phi(x) = tanh(x);  phi'(x) = 1 - o^2."""

    name = "tanh"
    output_range = (-1.0, 1.0)
    compiled = ElementwiseForm(scalar.tanh, _tanh_derivative)

    def forward(self, net, out):
        return np.tanh(net, out=out)

    def backward(self, dE_do, net, o, out):
        # dE/do - dE/do o^2: one temporary, written into out.
        tmp = dE_do * o
        tmp *= o
        np.subtract(dE_do, tmp, out=out)
        return out


def _identity(x: float) -> float:
    return x


def _one(net: float, o: float) -> float:
    return 1.0


class Identity(Activation):
    """phi(x) = x (the linear unit);  phi'(x) = 1."""

    name = "identity"
    compiled = ElementwiseForm(_identity, _one)

    def forward(self, net, out):
        if out is not net:
            np.copyto(out, net)
        return out

    def backward(self, dE_do, net, o, out):
        if out is not dE_do:
            np.copyto(out, dE_do)
        return out


def _relu(x: float) -> float:
    return max(x, 0.0)


def _relu_derivative(net: float, o: float) -> float:
    return 1.0 if net > 0 else 0.0


class ReLU(Activation):
    """phi(x) = max(0, x);  phi'(x) = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)."""

    name = "relu"
    output_range = (0.0, np.inf)
    compiled = ElementwiseForm(_relu, _relu_derivative)

    def forward(self, net, out):
        return np.maximum(net, 0, out=out)

    def backward(self, dE_do, net, o, out):
        np.multiply(dE_do, net > 0, out=out)
        return out


class LeakyReLU(Activation):
    """phi(x) = x if x > 0 else alpha x;  phi'(x) = 1 if x > 0 else alpha."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        alpha = float(alpha)
        if not (0.0 <= alpha < 1.0):
            raise ValueError(f"leaky_relu: alpha must be in [0, 1), got {alpha!r}")
        self.alpha = alpha

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"

    def forward(self, net, out):
        np.multiply(net, np.where(net > 0, 1.0, self.alpha).astype(net.dtype, copy=False), out=out)
        return out

    def backward(self, dE_do, net, o, out):
        slope = np.where(net > 0, 1.0, self.alpha).astype(dE_do.dtype, copy=False)
        np.multiply(dE_do, slope, out=out)
        return out


def _softmax_row(net: np.ndarray, o: np.ndarray, r: int) -> float:
    """o[r] = softmax(net[r]) with the row maximum taken out; returns logsumexp(net[r])."""
    n = net.shape[1]
    mx = net[r, 0]
    for j in range(1, n):
        mx = max(mx, net[r, j])
    s = 0.0
    for j in range(n):
        e = math.exp(net[r, j] - mx)
        o[r, j] = e
        s += e
    for j in range(n):
        o[r, j] /= s
    return mx + math.log(s)


class Softmax(Activation):
    """o_j = e^{net_j} / sum_k e^{net_k} (over the units of the layer, per pattern).

    Not elementwise: dE/dnet_j = o_j (dE/do_j - sum_k o_k dE/do_k). Computed with the
    maximum subtracted first, so large net inputs never overflow.
    """

    name = "softmax"
    output_range = (0.0, 1.0)
    compiled = RowForm(_softmax_row)

    def forward(self, net, out):
        np.subtract(net, net.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def backward(self, dE_do, net, o, out):
        s = np.einsum("ij,ij->i", dE_do, o)[:, None]
        np.subtract(dE_do, s, out=out)
        out *= o
        return out


def _gaussian(x: float) -> float:
    return math.exp(-(x * x))


def _gaussian_derivative(net: float, o: float) -> float:
    return (net * o) * -2.0


class Gaussian(Activation):
    """phi(x) = e^{-x^2};  phi'(x) = -2 x e^{-x^2} = -2 x o."""

    name = "gaussian"
    output_range = (0.0, 1.0)
    compiled = ElementwiseForm(_gaussian, _gaussian_derivative)

    def forward(self, net, out):
        np.square(net, out=out)
        np.negative(out, out=out)
        return np.exp(out, out=out)

    def backward(self, dE_do, net, o, out):
        tmp = net * o
        tmp *= -2.0
        np.multiply(dE_do, tmp, out=out)
        return out


def _softplus(x: float) -> float:
    """logaddexp(0, x) as NumPy computes it: x + ln(1 + e^-x) above 0, ln(1 + e^x) below."""
    if x == 0.0:
        return 0.6931471805599453  # ln 2
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


def _softplus_derivative(net: float, o: float) -> float:
    return scalar.logistic(net)


class Softplus(Activation):
    """phi(x) = ln(1 + e^x) (computed as logaddexp(0, x));  phi'(x) = 1 / (1 + e^-x)."""

    name = "softplus"
    output_range = (0.0, np.inf)
    compiled = ElementwiseForm(_softplus, _softplus_derivative)

    def forward(self, net, out):
        return np.logaddexp(0, net, out=out)

    def backward(self, dE_do, net, o, out):
        np.multiply(dE_do, expit(net), out=out)
        return out


def _exp(x: float) -> float:
    return math.exp(x)


def _exp_derivative(net: float, o: float) -> float:
    return o


class Exp(Activation):
    """phi(x) = e^x;  phi'(x) = e^x = o.

    The output unit of Poisson regression (the log link: ln o = net), as scikit-learn's
    ``MLPRegressor(loss='poisson')``; with the Poisson loss the output delta is the fused
    o - t (``bprop.core.losses.PoissonDeviance``). Overflows to inf for net > ~709
    (float64), which the trainer reports as divergence.
    """

    name = "exp"
    output_range = (0.0, np.inf)
    compiled = ElementwiseForm(_exp, _exp_derivative)

    def forward(self, net, out):
        return np.exp(net, out=out)

    def backward(self, dE_do, net, o, out):
        np.multiply(dE_do, o, out=out)
        return out


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Logistic, Tanh, Identity, ReLU, LeakyReLU, Softmax, Gaussian, Softplus, Exp)
}
_ALIASES = {"sigmoid": "logistic", "linear": "identity"}


def get_activation(spec: str | Activation | dict) -> Activation:
    """An activation from its name ('logistic', 'tanh', 'relu', ...), a config dict, or itself.

    Aliases: 'sigmoid' is 'logistic', 'linear' is 'identity'.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        params = dict(spec)
        name = params.pop("name", None)
        cls = _lookup(name)
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(
                f"bad parameters for activation {name!r}: {params!r} ({exc})"
            ) from None
    return _lookup(spec)()


def _lookup(name: object) -> type[Activation]:
    if isinstance(name, str):
        key = _ALIASES.get(name.lower(), name.lower())
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
    expected = ", ".join(sorted(ACTIVATIONS) + sorted(_ALIASES))
    raise ValueError(f"unknown activation {name!r}; expected one of: {expected}")
