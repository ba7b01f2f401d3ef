"""The RPROP family: Rprop+, Rprop-, iRprop+ and iRprop- (resilient backpropagation).

Sources: M. Riedmiller and H. Braun, "A direct adaptive method for faster backpropagation
learning: the RPROP algorithm", ICNN 1993 (Rprop+, with weight backtracking);
C. Igel and M. Huesken, "Improving the Rprop learning algorithm", NC 2000, and "Empirical
evaluation of the improved Rprop learning algorithms", Neurocomputing 50, 2003 (the names
Rprop+, Rprop-, iRprop+, iRprop-, and the two "improved" variants).

Every weight w_i has its own step size Delta_i; only the sign of the partial derivative
g_i = dE/dw_i of the full-batch error is used. With g_i(t-1) the derivative remembered
from the previous epoch (possibly set to 0, see below):

    g_i(t-1) g_i(t) > 0:  Delta_i(t) = min(eta+ Delta_i(t-1), Delta_max)
    g_i(t-1) g_i(t) < 0:  Delta_i(t) = max(eta- Delta_i(t-1), Delta_min)
    g_i(t-1) g_i(t) = 0:  Delta_i(t) = Delta_i(t-1)

and, where no sign change happened, Delta w_i(t) = -sign(g_i(t)) Delta_i(t). The variants
differ only on a sign change, g_i(t-1) g_i(t) < 0:

- Rprop+ (Riedmiller & Braun 1993): take back the previous step, Delta w_i(t) =
  -Delta w_i(t-1), and remember g_i(t) := 0 (so the next epoch does not adapt Delta_i).
- Rprop- (Igel & Huesken 2000, Riedmiller's variant without backtracking): step anyway,
  Delta w_i(t) = -sign(g_i(t)) Delta_i(t), and remember g_i(t).
- iRprop+ (Igel & Huesken 2000): take the previous step back only if the error grew,
  Delta w_i(t) = -Delta w_i(t-1) if E(t) > E(t-1) else 0; remember g_i(t) := 0.
- iRprop- (Igel & Huesken 2000): no step, Delta w_i(t) = 0; remember g_i(t) := 0.

E(t) is the mean training error at the weights the gradient g(t) was taken at, which the
trainer passes to ``step`` as ``loss`` (with L2 weight decay it includes the decay term,
so that E and g belong to the same objective).

Defaults: eta+ = 1.2, eta- = 0.5 (all sources); Delta_0 = 0.1 and Delta_max = 50
(Riedmiller & Braun 1993); Delta_min = 1e-6 (Igel & Huesken 2003). How they compare:

=========================  ===========  ==========  ============
library                    Delta_0      Delta_max   Delta_min
=========================  ===========  ==========  ============
bprop (this module)        0.1          50          1e-6
FANN (rprop_delta_*)       0.1          50          0          (implements iRprop-)
PyTorch (torch.optim)      0.01 (lr)    50          1e-6       (implements iRprop-)
Encog                      0.1          50          1e-6       (all four, RPROPType)
=========================  ===========  ==========  ============

**PyTorch's ``torch.optim.Rprop``** cites Riedmiller & Braun 1993 (Rprop+) but implements
**iRprop-**: on a sign change it sets the gradient to 0 and makes no step, and never
backtracks (read from ``torch/optim/rprop.py``, ``_single_tensor_rprop``, torch 2.13).
Two small differences from Igel & Huesken's iRprop-: the initial step size is the
learning rate ``lr`` (default 0.01), and the clamp to [Delta_min, Delta_max] is applied to
every step size at every step (so an initial ``lr`` outside the bounds is clipped at the
first step; here Delta_0 must lie inside them). :class:`IRpropMinus` with
``delta0=lr`` reproduces its trajectory (see ``tests/reference/``).

Mini-batches: the RPROP rules are defined for the full-batch gradient, whose sign is
stable from one epoch to the next; on mini-batches the sign flips with the sampling noise
and the step sizes collapse (the observation that led to RMSprop). They therefore refuse
mini-batch and online modes (``full_batch_only``): the trainer raises a ValueError.
Use ``mode='batch'``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bprop.core.validation import check_positive
from bprop.optim.base import UpdateRule

__all__ = ["IRpropMinus", "IRpropPlus", "RpropMinus", "RpropPlus", "RpropState"]


@dataclass
class RpropState:
    """Per-weight step sizes Delta, the remembered derivative g(t-1), the last step."""

    step_size: np.ndarray  # Delta_i(t-1)
    prev_grad: np.ndarray  # g_i(t-1), or 0 after a sign change
    delta_w: np.ndarray  # Delta w_i(t-1), the step last applied
    prev_loss: float = np.inf  # E(t-1) (iRprop+)


class _Rprop(UpdateRule):
    """The part the four variants share: step-size adaptation and the plain step."""

    full_batch_only = True

    def __init__(
        self,
        eta_plus: float = 1.2,
        eta_minus: float = 0.5,
        delta0: float = 0.1,
        delta_min: float = 1e-6,
        delta_max: float = 50.0,
    ) -> None:
        name = self.name
        self.eta_plus = check_positive(name, "eta_plus", eta_plus)
        if self.eta_plus <= 1.0:
            raise ValueError(f"{name}: eta_plus must be > 1, got {eta_plus!r}")
        self.eta_minus = check_positive(name, "eta_minus", eta_minus)
        if self.eta_minus >= 1.0:
            raise ValueError(f"{name}: eta_minus must be in (0, 1), got {eta_minus!r}")
        self.delta_min = check_positive(name, "delta_min", delta_min, allow_zero=True)
        self.delta_max = check_positive(name, "delta_max", delta_max)
        if self.delta_min >= self.delta_max:
            raise ValueError(
                f"{name}: delta_min must be < delta_max, got {delta_min!r} and {delta_max!r}"
            )
        self.delta0 = check_positive(name, "delta0", delta0)
        if not self.delta_min <= self.delta0 <= self.delta_max:
            raise ValueError(
                f"{name}: delta0 must lie in [delta_min, delta_max] = "
                f"[{self.delta_min:g}, {self.delta_max:g}], got {delta0!r}"
            )

    def init(self, n_params: int, dtype: np.dtype) -> RpropState:
        return RpropState(
            step_size=np.full(n_params, self.delta0, dtype),
            prev_grad=np.zeros(n_params, dtype),
            delta_w=np.zeros(n_params, dtype),
        )

    def _adapt(self, grad: np.ndarray, state: RpropState) -> tuple[np.ndarray, np.ndarray]:
        """Update Delta from the sign of g(t-1) g(t); return the masks (same, changed)."""
        product = state.prev_grad * grad
        same = product > 0
        changed = product < 0
        step = state.step_size
        step[same] = np.minimum(step[same] * self.eta_plus, self.delta_max)
        step[changed] = np.maximum(step[changed] * self.eta_minus, self.delta_min)
        return same, changed

    def _plain_step(self, grad: np.ndarray, state: RpropState) -> np.ndarray:
        """Delta w = -sign(g) Delta, written into state.delta_w."""
        np.sign(grad, out=state.delta_w)
        state.delta_w *= state.step_size
        np.negative(state.delta_w, out=state.delta_w)
        return state.delta_w


class RpropPlus(_Rprop):
    """Rprop+ (Riedmiller & Braun 1993): on a sign change, take the last step back.

    Delta w(t) = -Delta w(t-1) where g(t-1) g(t) < 0, and g(t) := 0 there; elsewhere
    Delta w(t) = -sign(g(t)) Delta(t). See the module docstring for the adaptation of Delta.
    """

    name = "rprop+"

    def step(self, grad, state, loss=None):
        _, changed = self._adapt(grad, state)
        backtrack = -state.delta_w[changed]
        self._plain_step(grad, state)
        state.delta_w[changed] = backtrack
        np.copyto(state.prev_grad, grad)
        state.prev_grad[changed] = 0.0
        return state.delta_w


class RpropMinus(_Rprop):
    """Rprop- (Igel & Huesken 2000): Delta w(t) = -sign(g(t)) Delta(t) always; no backtracking."""

    name = "rprop-"

    def step(self, grad, state, loss=None):
        self._adapt(grad, state)
        self._plain_step(grad, state)
        np.copyto(state.prev_grad, grad)
        return state.delta_w


class IRpropPlus(_Rprop):
    """iRprop+ (Igel & Huesken 2000): backtrack on a sign change only if the error grew.

    Where g(t-1) g(t) < 0: Delta w(t) = -Delta w(t-1) if E(t) > E(t-1), else 0; g(t) := 0.
    Needs ``loss`` = E(t) at every step (the trainer passes it); the first step has
    E(0) = +inf, so it never backtracks.
    """

    name = "irprop+"

    def step(self, grad, state, loss=None):
        if loss is None:
            raise ValueError("irprop+: step needs the loss E(t) of the current weights")
        _, changed = self._adapt(grad, state)
        worse = float(loss) > state.prev_loss
        backtrack = -state.delta_w[changed] if worse else 0.0
        self._plain_step(grad, state)
        state.delta_w[changed] = backtrack
        np.copyto(state.prev_grad, grad)
        state.prev_grad[changed] = 0.0
        state.prev_loss = float(loss)
        return state.delta_w


class IRpropMinus(_Rprop):
    """iRprop- (Igel & Huesken 2000): no step where the sign changed, and g(t) := 0 there.

    This is what ``torch.optim.Rprop`` implements (with Delta_0 = lr = 0.01).
    """

    name = "irprop-"

    def step(self, grad, state, loss=None):
        _, changed = self._adapt(grad, state)
        self._plain_step(grad, state)
        state.delta_w[changed] = 0.0
        np.copyto(state.prev_grad, grad)
        state.prev_grad[changed] = 0.0
        return state.delta_w
