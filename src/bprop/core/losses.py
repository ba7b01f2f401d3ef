"""Loss functions E, and the output deltas dE/dnet that start the backward pass.

Reductions, stated once for all losses: every loss defines a per-pattern error E_p,
summed over the output units k as written below. ``Loss.total`` returns the (optionally
weighted) **sum** over patterns, sum_p s_p E_p, so that blocks of data add up in any
order; the trainer divides by the weight total to report and train on the **mean** over
patterns.

==========================  =========================================================
``squared_error``           E_p = 1/2 sum_k (t_k - o_k)^2    (the classic texts' E)
``mse``                     E_p = 1/K sum_k (t_k - o_k)^2    (K outputs; mean over
                            patterns gives the usual mean squared error)
``binary_cross_entropy``    E_p = -sum_k [t_k ln o_k + (1 - t_k) ln(1 - o_k)]
``categorical_cross_entropy``  E_p = -sum_k t_k ln o_k
``poisson``                 E_p = sum_k [t_k ln(t_k / o_k) - t_k + o_k]   (t >= 0; half
                            the Poisson deviance, scikit-learn's ``loss='poisson'``)
==========================  =========================================================

Numerical care: with a logistic output, binary cross-entropy is evaluated from the net
input as sum_k [ln(1 + e^{net_k}) - t_k net_k] (``logaddexp``); with a softmax output,
categorical cross-entropy as -sum_k t_k (net_k - logsumexp(net)); with an exp output,
the Poisson loss with ln o = net. The output delta is then the fused ``o - t``
(``o sum_k t_k - t`` for softmax, exact even for targets that do not sum to one), never
the product of two ill-conditioned factors. Other pairs go through
the activation's backward: delta = phi'(net) * dE/do.

Compiled forms (class attribute ``compiled``, a :class:`LossForm`; plain Python, no numba
here): per output unit, ``element(o_k, t_k, K) = (E_pk, dE_p/do_k)``, combined by the
compiled kernel with an elementwise output activation's phi'; and, for the pairs with a
closed-form delta, ``fused`` rows keyed by the output activation's class. Only the class
that declares ``compiled`` has one; other losses and pairs train with NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import xlogy

from bprop.core.activations import Activation, Exp, Identity, Logistic, Softmax, get_activation

__all__ = [
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "Loss",
    "LossForm",
    "MeanSquaredError",
    "PoissonDeviance",
    "SquaredError",
    "LOSSES",
    "TASK_OUTPUTS",
    "default_loss",
    "get_loss",
    "output_activation_for",
    "resolve_loss",
]


@dataclass(frozen=True)
class LossForm:
    """A loss as scalar functions, for compiled loops.

    ``element(o, t, K) -> (E_pk, dE_p/do_k)`` for one output unit of K (E_p = sum_k E_pk);
    with an elementwise output activation the delta is dE_p/do_k phi'(net_k). ``fused``
    pairs an output activation class with ``row(o, t, net, delta, r, aux) -> E_p``, which
    writes ``delta[r, :] = dE_p/dnet`` in closed form; ``aux`` is the value the
    activation's row form returned for that row (softmax: logsumexp(net)), else 0.
    """

    element: Callable[[float, float, int], tuple[float, float]] | None = None
    fused: tuple[tuple[type[Activation], Callable[..., float]], ...] = ()

    def fused_row(self, activation: Activation) -> Callable[..., float] | None:
        """The fused row for this output activation's exact class, or None."""
        for cls, row in self.fused:
            if type(activation) is cls:
                return row
        return None


class Loss:
    """Base class. Subclasses define the per-pattern error and its derivative."""

    name: ClassVar[str] = ""
    #: Output activations whose range keeps the loss finite; None means any.
    allowed_outputs: ClassVar[tuple[str, ...] | None] = None
    #: The loss as scalar functions for the compiled kernel (see the module docstring).
    compiled: ClassVar[LossForm | None] = None

    def compiled_form(self) -> LossForm | None:
        """The compiled form declared by this very class (never inherited), or None."""
        return vars(type(self)).get("compiled")

    def check_output(self, activation: Activation) -> None:
        """Refuse an output activation the loss is not defined for."""
        if self.allowed_outputs is not None and activation.name not in self.allowed_outputs:
            raise ValueError(
                f"loss {self.name!r} needs outputs in (0, 1); output activation "
                f"{activation.name!r} is not allowed with it (use one of "
                f"{', '.join(self.allowed_outputs)})"
            )

    def check_targets(self, t: np.ndarray) -> None:
        """Refuse targets the loss is not defined for (a ValueError); default: any."""

    def per_pattern(
        self, o: np.ndarray, t: np.ndarray, net: np.ndarray, activation: Activation
    ) -> np.ndarray:  # pragma: no cover
        """E_p for every pattern (row), shape (n,)."""
        raise NotImplementedError

    def total(
        self,
        o: np.ndarray,
        t: np.ndarray,
        net: np.ndarray,
        activation: Activation,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """sum_p s_p E_p (s_p = 1 without sample weights)."""
        e = self.per_pattern(o, t, net, activation)
        return float(e.sum() if sample_weight is None else e @ sample_weight)

    def dE_do(self, o: np.ndarray, t: np.ndarray) -> np.ndarray:  # pragma: no cover
        """dE_p/do_k for every pattern and output."""
        raise NotImplementedError

    def fused_delta(
        self, o: np.ndarray, t: np.ndarray, activation: Activation, out: np.ndarray
    ) -> np.ndarray | None:
        """The output delta in closed form when (loss, activation) allow it, else None."""
        return None

    def output_delta(
        self,
        o: np.ndarray,
        t: np.ndarray,
        net: np.ndarray,
        activation: Activation,
        out: np.ndarray,
    ) -> np.ndarray:
        """delta_k = dE_p/dnet_k of the output units, written into ``out``."""
        fused = self.fused_delta(o, t, activation, out)
        if fused is not None:
            return fused
        return activation.backward(self.dE_do(o, t), net, o, out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def _squared_error_element(o: float, t: float, K: int) -> tuple[float, float]:
    d = o - t
    return 0.5 * d * d, d


class SquaredError(Loss):
    """E_p = 1/2 sum_k (t_k - o_k)^2;  dE_p/do_k = o_k - t_k."""

    name = "squared_error"
    compiled = LossForm(element=_squared_error_element)

    def per_pattern(self, o, t, net, activation):
        d = o - t
        return 0.5 * np.einsum("ij,ij->i", d, d)

    def dE_do(self, o, t):
        return o - t

    def fused_delta(self, o, t, activation, out):
        if isinstance(activation, Identity):
            return np.subtract(o, t, out=out)
        return None


def _mse_element(o: float, t: float, K: int) -> tuple[float, float]:
    d = o - t
    return d * d / K, d * (2.0 / K)


class MeanSquaredError(Loss):
    """E_p = 1/K sum_k (t_k - o_k)^2 (K outputs);  dE_p/do_k = 2 (o_k - t_k) / K."""

    name = "mse"
    compiled = LossForm(element=_mse_element)

    def per_pattern(self, o, t, net, activation):
        d = o - t
        return np.einsum("ij,ij->i", d, d) / o.shape[1]

    def dE_do(self, o, t):
        return (o - t) * (2.0 / o.shape[1])

    def fused_delta(self, o, t, activation, out):
        if isinstance(activation, Identity):
            np.subtract(o, t, out=out)
            out *= 2.0 / o.shape[1]
            return out
        return None


def log_softmax(net: np.ndarray) -> np.ndarray:
    """ln softmax(net) per row = net - logsumexp(net), with the row maximum taken out first.

    Plain NumPy: scipy.special.logsumexp costs ~30 us a call in array-API dispatch, more
    than the arithmetic for the small blocks of online and mini-batch training.
    """
    shifted = net - net.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def _clipped_log(x: np.ndarray) -> np.ndarray:
    tiny = np.finfo(x.dtype).tiny if x.dtype.kind == "f" else 1e-300
    return np.log(np.clip(x, tiny, None))


def _bce_logistic_row(o, t, net, delta, r: int, aux: float) -> float:
    """E_p = sum_k ln(1 + e^{net_k}) - t_k net_k;  delta_k = o_k - t_k."""
    E = 0.0
    for k in range(o.shape[1]):
        x = net[r, k]
        E += max(x, 0.0) + math.log1p(math.exp(-abs(x))) - t[r, k] * x
        delta[r, k] = o[r, k] - t[r, k]
    return E


class BinaryCrossEntropy(Loss):
    """E_p = -sum_k [t_k ln o_k + (1 - t_k) ln(1 - o_k)].

    With a logistic output: E_p = sum_k [ln(1 + e^{net_k}) - t_k net_k] and delta = o - t.
    """

    name = "binary_cross_entropy"
    allowed_outputs = ("logistic", "softmax")
    compiled = LossForm(fused=((Logistic, _bce_logistic_row),))

    def per_pattern(self, o, t, net, activation):
        if isinstance(activation, Logistic):
            e = np.logaddexp(0, net) - t * net
        else:
            e = -(t * _clipped_log(o) + (1 - t) * _clipped_log(1 - o))
        return e.sum(axis=1)

    def dE_do(self, o, t):
        tiny = np.finfo(o.dtype).tiny
        return (o - t) / np.clip(o * (1 - o), tiny, None)

    def fused_delta(self, o, t, activation, out):
        if isinstance(activation, Logistic):
            return np.subtract(o, t, out=out)
        return None


def _cce_softmax_row(o, t, net, delta, r: int, aux: float) -> float:
    """E_p = -sum_k t_k (net_k - logsumexp(net)), aux = logsumexp(net);
    delta_k = o_k sum_j t_j - t_k."""
    K = o.shape[1]
    t_sum = 0.0
    for k in range(K):
        t_sum += t[r, k]
    E = 0.0
    for k in range(K):
        E -= t[r, k] * (net[r, k] - aux)
        delta[r, k] = o[r, k] * t_sum - t[r, k]
    return E


class CategoricalCrossEntropy(Loss):
    """E_p = -sum_k t_k ln o_k.

    With a softmax output: E_p = -sum_k t_k (net_k - logsumexp(net)) and
    delta_k = o_k sum_j t_j - t_k (= o_k - t_k for one-hot targets).
    """

    name = "categorical_cross_entropy"
    allowed_outputs = ("softmax", "logistic")
    compiled = LossForm(fused=((Softmax, _cce_softmax_row),))

    def per_pattern(self, o, t, net, activation):
        log_o = log_softmax(net) if isinstance(activation, Softmax) else _clipped_log(o)
        return -np.einsum("ij,ij->i", t, log_o)

    def dE_do(self, o, t):
        return -t / np.clip(o, np.finfo(o.dtype).tiny, None)

    def fused_delta(self, o, t, activation, out):
        if isinstance(activation, Softmax):
            np.multiply(o, t.sum(axis=1, keepdims=True), out=out)
            out -= t
            return out
        return None


class PoissonDeviance(Loss):
    """E_p = sum_k [t_k ln(t_k / o_k) - t_k + o_k]  (half the Poisson deviance; t ln t = 0
    at t = 0);  dE_p/do_k = 1 - t_k / o_k.

    Targets are counts or rates, t >= 0; outputs must be positive. This is scikit-learn's
    ``poisson_loss`` (``MLPRegressor(loss='poisson')``). It differs from the Poisson
    negative log-likelihood -sum_k [t_k ln o_k - o_k - ln t_k!] by terms free of o, so
    both have the same gradient. With an exp output (the natural parametrisation,
    ln o = net): E_p = sum_k [t_k ln t_k - t_k net_k + e^{net_k} - t_k] and the fused
    delta is o - t.
    """

    name = "poisson"
    allowed_outputs = ("exp", "softplus", "logistic", "softmax", "gaussian")

    def check_output(self, activation: Activation) -> None:
        if activation.name not in self.allowed_outputs:
            raise ValueError(
                f"loss 'poisson' needs positive outputs; output activation "
                f"{activation.name!r} is not allowed with it (use 'exp', the log link, or "
                f"one of {', '.join(self.allowed_outputs[1:])})"
            )

    def check_targets(self, t: np.ndarray) -> None:
        """Refuse negative targets (a ValueError naming the smallest)."""
        if t.size and not np.all(t >= 0):
            raise ValueError(
                f"loss 'poisson' needs targets >= 0 (counts or rates); the smallest target "
                f"is {np.nanmin(t)!r}"
            )

    def per_pattern(self, o, t, net, activation):
        t_log_t = xlogy(t, t)
        if isinstance(activation, Exp):
            e = t_log_t - t * net + o - t
        else:
            e = t_log_t - t * _clipped_log(o) + o - t
        return e.sum(axis=1)

    def dE_do(self, o, t):
        return 1.0 - t / np.clip(o, np.finfo(o.dtype).tiny, None)

    def fused_delta(self, o, t, activation, out):
        if isinstance(activation, Exp):
            return np.subtract(o, t, out=out)
        return None


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        SquaredError,
        MeanSquaredError,
        BinaryCrossEntropy,
        CategoricalCrossEntropy,
        PoissonDeviance,
    )
}
_ALIASES = {
    "sse": "squared_error",
    "mean_squared_error": "mse",
    "bce": "binary_cross_entropy",
    "log_loss": "binary_cross_entropy",
    "cce": "categorical_cross_entropy",
    "cross_entropy": "categorical_cross_entropy",
    "poisson_deviance": "poisson",
}


def get_loss(spec: str | Loss) -> Loss:
    """A loss from its name (see the module docstring for the names and aliases) or itself."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in LOSSES:
            return LOSSES[key]()
    expected = ", ".join(sorted(LOSSES) + sorted(_ALIASES))
    raise ValueError(f"unknown loss {spec!r}; expected one of: {expected}")


def default_loss(output_activation: Activation) -> Loss:
    """The natural loss for an output activation: the pairs with the fused delta o - t.

    softmax -> categorical cross-entropy, logistic -> binary cross-entropy, exp -> Poisson
    deviance, otherwise squared error.
    """
    if isinstance(output_activation, Exp):
        return PoissonDeviance()
    if isinstance(output_activation, Softmax):
        return CategoricalCrossEntropy()
    if isinstance(output_activation, Logistic):
        return BinaryCrossEntropy()
    return SquaredError()


#: task -> output activation (one output, several outputs); default_loss gives the loss.
TASK_OUTPUTS: dict[str, tuple[str, str]] = {
    "regression": ("identity", "identity"),
    "classification": ("logistic", "softmax"),  # two classes: one logistic unit
    "multilabel": ("logistic", "logistic"),  # one logistic unit per label
}


def output_activation_for(task: str, n_outputs: int) -> Activation:
    """The output activation of a task: the table :data:`TASK_OUTPUTS`.

    Its natural loss is ``default_loss(output_activation_for(task, n_outputs))``.
    """
    if task not in TASK_OUTPUTS:
        raise ValueError(f"unknown task {task!r}; expected one of: {', '.join(TASK_OUTPUTS)}")
    one, several = TASK_OUTPUTS[task]
    return get_activation(one if n_outputs == 1 else several)


def resolve_loss(spec: str | Loss | None, output_activation: Activation) -> Loss:
    """The loss ``spec`` names (None: the natural pair of the output activation, see
    :func:`default_loss`), checked against the output activation's range."""
    loss = default_loss(output_activation) if spec is None else get_loss(spec)
    loss.check_output(output_activation)
    return loss
