"""Gradient descent, with classic momentum and with Nesterov momentum.

g_t is the gradient of the mean error over the patterns of one update, eta the learning
rate, alpha the momentum.

- :class:`GradientDescent`:  Delta w_t = -eta g_t.
- :class:`Momentum` (Rumelhart, Hinton & Williams 1986):
  Delta w_t = alpha Delta w_{t-1} - eta g_t.
  scikit-learn's ``momentum`` is this; PyTorch's SGD(momentum) keeps v = alpha v + g and
  steps -eta v, the same while eta is constant.
- :class:`Nesterov` (Sutskever et al. 2013, the form scikit-learn uses):
  v_t = alpha v_{t-1} - eta g_t;  Delta w_t = alpha v_t - eta g_t.
  The gradient is taken at the current weights, which is Nesterov's look-ahead rewritten
  for the shifted variable; PyTorch's SGD(nesterov=True) is the same while eta is
  constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bprop.core.validation import check_in_range, check_positive
from bprop.optim.base import LearningRateState, StepForm, UpdateRule

__all__ = ["GradientDescent", "Momentum", "Nesterov", "MomentumState"]


@dataclass
class GradientDescentState(LearningRateState):
    delta_w: np.ndarray


@dataclass
class MomentumState(LearningRateState):
    velocity: np.ndarray  # Delta w_{t-1} (Momentum) or v_{t-1} (Nesterov)
    delta_w: np.ndarray


def _learning_rate(rule, state) -> tuple[float, ...]:
    return (state.learning_rate,)


def _gd_begin(h, t, c):
    c[0] = -h[0]
    return t


def _gd_element(g, q, S, c):
    return g * c[0]  # -eta g


class GradientDescent(UpdateRule):
    """Delta w = -eta g. Default eta = 0.1."""

    name = "gd"
    compiled = StepForm((), _learning_rate, _gd_begin, _gd_element, 1)

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)

    def init(self, n_params, dtype):
        return GradientDescentState(self.learning_rate, np.zeros(n_params, dtype))

    def step(self, grad, state, loss=None):
        return np.multiply(grad, -state.learning_rate, out=state.delta_w)


def _momentum_scalars(rule, state) -> tuple[float, ...]:
    return (state.learning_rate, rule.momentum)


def _momentum_begin(h, t, c):
    c[0] = h[0]
    c[1] = h[1]
    return t


def _momentum_element(g, q, S, c):
    v = S[0][q] * c[1] - c[0] * g  # alpha Delta w_{t-1} - eta g
    S[0][q] = v
    return v


def _nesterov_begin(h, t, c):
    c[0] = -h[0]
    c[1] = h[1]
    return t


def _nesterov_element(g, q, S, c):
    dw = g * c[0]  # -eta g
    v = S[0][q] * c[1] + dw  # v_t
    S[0][q] = v
    dw += c[1] * v  # alpha v_t - eta g
    return dw


class _WithMomentum(UpdateRule):
    """Shared by Momentum and Nesterov: eta, alpha, and a velocity buffer."""

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.9) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.momentum = check_in_range(self.name, "momentum", momentum, 0.0, 1.0)

    def init(self, n_params, dtype):
        z = np.zeros(n_params, dtype)
        return MomentumState(self.learning_rate, velocity=z, delta_w=z.copy())


class Momentum(_WithMomentum):
    """Delta w_t = alpha Delta w_{t-1} - eta g_t. Defaults eta = 0.1, alpha = 0.9."""

    name = "momentum"
    compiled = StepForm(("velocity",), _momentum_scalars, _momentum_begin, _momentum_element, 2)

    def step(self, grad, state, loss=None):
        v = state.velocity
        v *= self.momentum
        v -= state.learning_rate * grad
        np.copyto(state.delta_w, v)
        return state.delta_w


class Nesterov(_WithMomentum):
    """v_t = alpha v_{t-1} - eta g_t;  Delta w_t = alpha v_t - eta g_t. Defaults 0.1, 0.9."""

    name = "nesterov"
    compiled = StepForm(("velocity",), _momentum_scalars, _nesterov_begin, _nesterov_element, 2)

    def step(self, grad, state, loss=None):
        v, dw = state.velocity, state.delta_w
        np.multiply(grad, -state.learning_rate, out=dw)  # -eta g
        v *= self.momentum
        v += dw  # v_t
        dw += self.momentum * v  # alpha v_t - eta g
        return dw
