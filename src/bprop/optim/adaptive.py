"""Per-weight adaptive learning rates from gradient statistics: Adam, AdaGrad, RMSprop.

g_t is the gradient of the mean error of the patterns of update t (t = 1, 2, ...), eta the
learning rate; all operations are per weight.

- :class:`Adam` (D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization",
  ICLR 2015, Algorithm 1)::

      m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
      v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
      Delta w_t = -eta (m_t / (1 - beta_1^t)) / (sqrt(v_t / (1 - beta_2^t)) + epsilon)

  Defaults (the paper's): eta = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8.
  Same as ``torch.optim.Adam`` (which also adds epsilon after the square root of the
  bias-corrected v) and scikit-learn's ``solver='adam'``. The paper's Section 2 also
  gives the cheaper "efficient" form, with epsilon added to sqrt(v_t) before the bias
  correction (TensorFlow's ``epsilon_hat``, scikit-learn's ``AdamOptimizer``); it differs
  only in where epsilon acts: ``Adam(epsilon_placement='efficient')``::

      Delta w_t = -eta sqrt(1 - beta_2^t) / (1 - beta_1^t) m_t / (sqrt(v_t) + epsilon)
- :class:`AdaGrad` (J. Duchi, E. Hazan and Y. Singer, JMLR 12, 2011)::

      G_t = G_{t-1} + g_t^2;    Delta w_t = -eta g_t / (sqrt(G_t) + epsilon)

  Defaults eta = 0.01, epsilon = 1e-10, as ``torch.optim.Adagrad`` (with its
  ``lr_decay = 0`` and ``initial_accumulator_value = 0``).
- :class:`RMSprop` (G. Hinton, Coursera "Neural networks for machine learning",
  lecture 6e, 2012)::

      v_t = rho v_{t-1} + (1 - rho) g_t^2;    Delta w_t = -eta g_t / (sqrt(v_t) + epsilon)

  Defaults eta = 0.01, rho = 0.99, epsilon = 1e-8, as ``torch.optim.RMSprop`` (whose
  ``alpha`` is rho here; no momentum, not centred). Hinton's lecture suggests rho = 0.9,
  which Keras uses (with eta = 0.001, and epsilon added inside the square root).

These rules work in every mode (they were designed for mini-batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bprop.core.validation import check_in_range, check_positive
from bprop.optim.base import LearningRateState, StepForm, UpdateRule

__all__ = ["AdaGrad", "Adam", "AdamState", "RMSprop"]


@dataclass
class AdamState(LearningRateState):
    m: np.ndarray
    v: np.ndarray
    delta_w: np.ndarray
    t: int = 0


@dataclass
class AccumulatorState(LearningRateState):
    """The running sum (AdaGrad) or average (RMSprop) of g^2."""

    sq: np.ndarray
    delta_w: np.ndarray


EPSILON_PLACEMENTS = ("corrected", "efficient")


def _adam_scalars(rule, state) -> tuple[float, ...]:
    b1, b2 = rule.beta_1, rule.beta_2
    efficient = 1.0 if rule.epsilon_placement == "efficient" else 0.0
    return (state.learning_rate, b1, b2, 1.0 - b1, 1.0 - b2, rule.epsilon, efficient)


def _adam_begin(h, t, c):
    """c = (v divisor, -eta_t, b1, b2, 1 - b1, 1 - b2, eps) for step t + 1."""
    t += 1
    bc1 = 1.0 - h[1] ** t
    bc2 = 1.0 - h[2] ** t
    if h[6] == 0.0:  # corrected: sqrt(v_t / (1 - b2^t)) + eps, step -eta / (1 - b1^t)
        c[0] = bc2
        c[1] = -h[0] / bc1
    else:  # efficient: sqrt(v_t / 1) + eps, step -eta sqrt(1 - b2^t) / (1 - b1^t)
        c[0] = 1.0
        c[1] = -h[0] * math.sqrt(bc2) / bc1
    for k in range(2, 7):
        c[k] = h[k - 1]
    return t


def _adam_element(g, q, S, c):
    m = S[0][q] * c[2] + c[4] * g
    S[0][q] = m
    v = S[1][q] * c[3] + c[5] * (g * g)
    S[1][q] = v
    d = math.sqrt(v / c[0]) + c[6]
    d = m / d
    d *= c[1]
    return d


class Adam(UpdateRule):
    """Adam with bias correction (Kingma & Ba 2015); see the module docstring.

    ``epsilon_placement``: 'corrected' (default; Algorithm 1, as PyTorch) adds epsilon to
    sqrt(v_t / (1 - beta_2^t)); 'efficient' (the paper's Section 2 form, as scikit-learn)
    adds it to sqrt(v_t) and puts the bias corrections into the step size.
    """

    name = "adam"
    compiled = StepForm(("m", "v"), _adam_scalars, _adam_begin, _adam_element, 7, True)

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        epsilon_placement: str = "corrected",
    ) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.beta_1 = check_in_range(self.name, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = check_in_range(self.name, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = check_positive(self.name, "epsilon", epsilon)
        if epsilon_placement not in EPSILON_PLACEMENTS:
            raise ValueError(
                f"{self.name}: epsilon_placement must be 'corrected' or 'efficient', "
                f"got {epsilon_placement!r}"
            )
        self.epsilon_placement = epsilon_placement

    def init(self, n_params: int, dtype: np.dtype) -> AdamState:
        m, v, dw = (np.zeros(n_params, dtype) for _ in range(3))
        return AdamState(self.learning_rate, m=m, v=v, delta_w=dw)

    def update_moments(self, grad: np.ndarray, state: AdamState) -> None:
        """t += 1, m_t = b1 m_{t-1} + (1 - b1) g, v_t = b2 v_{t-1} + (1 - b2) g^2 (b = beta)."""
        state.t += 1
        state.m *= self.beta_1
        state.m += (1.0 - self.beta_1) * grad
        state.v *= self.beta_2
        state.v += (1.0 - self.beta_2) * (grad * grad)

    def step(self, grad, state, loss=None):
        self.update_moments(grad, state)
        b1, b2 = self.beta_1, self.beta_2
        m, v, dw = state.m, state.v, state.delta_w
        if self.epsilon_placement == "corrected":
            np.divide(v, 1.0 - b2**state.t, out=dw)
            np.sqrt(dw, out=dw)
            eta_t = -state.learning_rate / (1.0 - b1**state.t)
        else:
            np.sqrt(v, out=dw)
            eta_t = -state.learning_rate * np.sqrt(1.0 - b2**state.t) / (1.0 - b1**state.t)
        dw += self.epsilon
        np.divide(m, dw, out=dw)
        dw *= eta_t
        return dw


def _accumulator_scalars(rule, state) -> tuple[float, ...]:
    return (state.learning_rate, rule.epsilon, getattr(rule, "rho", 0.0))


def _accumulator_begin(h, t, c):
    c[0] = -h[0]
    c[1] = h[1]
    c[2] = h[2]
    c[3] = 1.0 - h[2]
    return t


def _scaled_element(g, sq, c):
    """Delta w = -eta g / (sqrt(sq) + eps)."""
    d = math.sqrt(sq) + c[1]
    d = g / d
    d *= c[0]
    return d


def _adagrad_element(g, q, S, c):
    sq = S[0][q] + g * g
    S[0][q] = sq
    return _scaled_element(g, sq, c)


def _rmsprop_element(g, q, S, c):
    sq = S[0][q] * c[2] + c[3] * (g * g)
    S[0][q] = sq
    return _scaled_element(g, sq, c)


class AdaGrad(UpdateRule):
    """AdaGrad (Duchi et al. 2011): Delta w = -eta g / (sqrt(sum of g^2) + epsilon)."""

    name = "adagrad"
    compiled = StepForm(("sq",), _accumulator_scalars, _accumulator_begin, _adagrad_element, 4)

    def __init__(self, learning_rate: float = 0.01, epsilon: float = 1e-10) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.epsilon = check_positive(self.name, "epsilon", epsilon)

    def init(self, n_params: int, dtype: np.dtype) -> AccumulatorState:
        z = np.zeros(n_params, dtype)
        return AccumulatorState(self.learning_rate, sq=z, delta_w=z.copy())

    def step(self, grad, state, loss=None):
        state.sq += grad * grad
        return _scaled_step(grad, state, state.learning_rate, self.epsilon)


class RMSprop(UpdateRule):
    """RMSprop (Hinton 2012): Delta w = -eta g / (sqrt(running mean of g^2) + epsilon)."""

    name = "rmsprop"
    compiled = StepForm(("sq",), _accumulator_scalars, _accumulator_begin, _rmsprop_element, 4)

    def __init__(
        self, learning_rate: float = 0.01, rho: float = 0.99, epsilon: float = 1e-8
    ) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.rho = check_in_range(self.name, "rho", rho, 0.0, 1.0)
        self.epsilon = check_positive(self.name, "epsilon", epsilon)

    def init(self, n_params: int, dtype: np.dtype) -> AccumulatorState:
        z = np.zeros(n_params, dtype)
        return AccumulatorState(self.learning_rate, sq=z, delta_w=z.copy())

    def step(self, grad, state, loss=None):
        state.sq *= self.rho
        state.sq += (1.0 - self.rho) * (grad * grad)
        return _scaled_step(grad, state, state.learning_rate, self.epsilon)


def _scaled_step(grad, state: AccumulatorState, eta: float, eps: float) -> np.ndarray:
    """Delta w = -eta g / (sqrt(sq) + eps), into state.delta_w."""
    dw = state.delta_w
    np.sqrt(state.sq, out=dw)
    dw += eps
    np.divide(grad, dw, out=dw)
    dw *= -eta
    return dw
