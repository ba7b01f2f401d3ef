"""Quickprop (S. E. Fahlman, "An empirical study of learning speed in back-propagation
networks", CMU-CS-88-162, 1988).

Each weight is moved to the minimum of a parabola fitted through its last two slopes.
With S(t) = dE/dw(t) (the slope, including any weight-decay term), S(t-1) the previous
slope, Delta w(t-1) the previous step, epsilon the learning rate and mu the maximum growth
factor, the step Delta w(t) is the sum of

- the **quadratic term** (only where Delta w(t-1) != 0):

      Delta w(t-1) S(t) / (S(t-1) - S(t))            if it is at most mu |Delta w(t-1)|,
      mu Delta w(t-1)                                  otherwise;

  "at most mu times the last step" is tested as Fahlman's code does, without dividing:
  for Delta w(t-1) < 0 the quadratic step is replaced by mu Delta w(t-1) when
  S(t) >= mu/(1+mu) S(t-1) (for Delta w(t-1) > 0: when S(t) <= mu/(1+mu) S(t-1));
- the **gradient-descent term** -epsilon S(t), added where Delta w(t-1) = 0 (the first
  epoch, or a weight that did not move), and where the slope still has the sign that
  made the last step (S(t) > 0 after a step down, S(t) < 0 after a step up), so that a
  weight keeps moving downhill while the parabola is still uninformative.

This is the update of Fahlman's C reference implementation (``QUICKPROP_UPDATE`` in
quickprop1.c; shrink factor mu / (1 + mu)).

Defaults: mu = 1.75 (Fahlman), learning_rate epsilon = 0.1 (Fahlman tunes epsilon per
problem, and his gradient is a sum over patterns; here it is the mean, so epsilon is
comparable with gradient descent's learning rate).

Weight decay: Fahlman adds a decay term to the slope, S = dE/dw + d w (d = 1e-4 in the
report). This rule sees only the gradient, so the decay comes from the trainer:
``Trainer(weight_decay=d)`` hands the rule S = dE/dw + d w exactly (on weights; biases are
not decayed, unlike Fahlman's code, which decays everything).

Division by zero: where the denominator S(t-1) - S(t) is 0 and the mu test does not
apply (the slope did not change; the parabola is a line and has no minimum), the
quadratic term is dropped and the weight takes the plain gradient-descent step
-epsilon S(t) instead, which also restarts the quadratic model for that weight.

Mini-batches: the parabola needs two slopes of the same error function; on mini-batches
consecutive slopes belong to different samples and the fit is meaningless. Quickprop
therefore refuses online and mini-batch modes (``full_batch_only``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bprop.core.validation import check_positive
from bprop.optim.base import LearningRateState, UpdateRule

__all__ = ["Quickprop", "QuickpropState"]


@dataclass
class QuickpropState(LearningRateState):
    prev_slope: np.ndarray  # S(t-1)
    delta_w: np.ndarray  # Delta w(t-1)


class Quickprop(UpdateRule):
    """Fahlman's Quickprop; see the module docstring for the update. Defaults eta 0.1, mu 1.75."""

    name = "quickprop"
    full_batch_only = True

    def __init__(self, learning_rate: float = 0.1, mu: float = 1.75) -> None:
        self.learning_rate = check_positive(self.name, "learning_rate", learning_rate)
        self.mu = check_positive(self.name, "mu", mu)

    def init(self, n_params: int, dtype: np.dtype) -> QuickpropState:
        z = np.zeros(n_params, dtype)
        return QuickpropState(self.learning_rate, prev_slope=z, delta_w=z.copy())

    def step(self, grad, state, loss=None):
        s, p, d = grad, state.prev_slope, state.delta_w
        shrink = self.mu / (1.0 + self.mu)
        down, up = d < 0, d > 0
        # the gradient-descent term: no previous step, or the slope kept its sign
        use_gd = (d == 0) | (down & (s > 0)) | (up & (s < 0))
        # the mu limit, tested without dividing
        capped = (down & (s >= shrink * p)) | (up & (s <= shrink * p))
        denom = p - s
        quad = (d != 0) & ~capped
        singular = quad & (denom == 0)
        quad &= ~singular
        use_gd |= singular
        new = np.where(use_gd, -state.learning_rate * s, 0.0)
        new[capped] += self.mu * d[capped]
        new[quad] += d[quad] * s[quad] / denom[quad]
        np.copyto(p, s)
        np.copyto(d, new)
        return d
