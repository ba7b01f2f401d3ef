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
  correction (TensorFlow's ``epsilon_hat``); it differs only in where epsilon acts.
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

from dataclasses import dataclass

import numpy as np

from bprop.core.validation import check_in_range, check_positive
from bprop.optim.base import LearningRateState, UpdateRule

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


class Adam(UpdateRule):
    """Adam with bias correction (Kingma & Ba 2015); see the module docstring."""

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.beta_1 = check_in_range(self.name, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = check_in_range(self.name, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = check_positive(self.name, "epsilon", epsilon)

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
        np.divide(v, 1.0 - b2**state.t, out=dw)
        np.sqrt(dw, out=dw)
        dw += self.epsilon
        np.divide(m, dw, out=dw)
        dw *= -state.learning_rate / (1.0 - b1**state.t)
        return dw


class AdaGrad(UpdateRule):
    """AdaGrad (Duchi et al. 2011): Delta w = -eta g / (sqrt(sum of g^2) + epsilon)."""

    name = "adagrad"

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
