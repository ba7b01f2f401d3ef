"""L2 weight decay, computed in one place: the penalty, its gradient and its Hessian.

With lambda the coefficient and D the mask that is 1 on weights and 0 on biases, a block B
of patterns (data error E_B = sum_{p in B} s_p E_p, its gradient G_B, weight total
S_B = sum_{p in B} s_p) is trained on the objective

    J_B(w) = (E_B + P_B) / S_B,      P_B = kappa_B lambda / 2 ||D w||^2

where kappa_B = S_B for ``scaling='mean'`` (the penalty is added to the *mean* error:
J_B = E_B / S_B + lambda / 2 ||D w||^2, as ``torch.optim.SGD(weight_decay)``) and
kappa_B = 1 for ``scaling='sum'`` (added to the *summed* error, as scikit-learn's
``alpha``). So

    grad J_B = (G_B + kappa_B lambda D w) / S_B,      Hessian of the penalty: kappa_B lambda D

P_B is in the units of sum_p s_p E_p, which is what the trainer's ``epoch_penalty`` adds
up. The trainer (per update), the full-batch objective (L-BFGS) and its Gauss-Newton form
(Levenberg-Marquardt) all use :class:`L2Penalty`; the compiled kernels of
:mod:`bprop.training.fast` implement the same two formulas.
"""

from __future__ import annotations

import numpy as np

from bprop.core.network import Network
from bprop.core.validation import check_positive

__all__ = ["SCALINGS", "L2Penalty"]

#: Where the penalty enters a block's objective (see the module docstring).
SCALINGS = ("mean", "sum")


class L2Penalty:
    """lambda / 2 ||D w||^2, entering J_B as the module docstring says.

    ``decay`` is the vector lambda D (lambda on weights, 0 on biases), or None for no
    penalty; ``scaling`` is 'mean' or 'sum'.
    """

    def __init__(self, decay: np.ndarray | None, scaling: str = "mean") -> None:
        if scaling not in SCALINGS:
            raise ValueError(f"weight_decay_scaling must be 'mean' or 'sum', got {scaling!r}")
        self.decay = decay
        self.scaling = scaling

    @classmethod
    def for_network(cls, network: Network, weight_decay: float, scaling: str) -> L2Penalty:
        """The penalty lambda = ``weight_decay`` on the network's weights (not its biases)."""
        lam = check_positive("trainer", "weight_decay", weight_decay, allow_zero=True)
        decay = network.weight_mask().astype(network.dtype) * lam if lam > 0 else None
        return cls(decay, scaling)

    @property
    def active(self) -> bool:
        return self.decay is not None

    def factor(self, weight_total: float) -> float:
        """kappa_B: S_B ('mean') or 1 ('sum')."""
        return float(weight_total) if self.scaling == "mean" else 1.0

    def penalty(self, params: np.ndarray, weight_total: float) -> float:
        """P_B = kappa_B lambda / 2 ||D w||^2 (0 without decay)."""
        if self.decay is None:
            return 0.0
        return 0.5 * float((self.decay * params) @ params) * self.factor(weight_total)

    def mean_gradient(self, grad: np.ndarray, params: np.ndarray, weight_total: float) -> float:
        """In place, G_B -> grad J_B = (G_B + kappa_B lambda D w) / S_B; returns P_B.

        The order of the operations is that of the reference each scaling reproduces:
        'mean' divides first and adds lambda D w (PyTorch), 'sum' adds lambda D w to the
        sum and divides (scikit-learn's ``_backprop``).
        """
        scale = 1.0 / weight_total
        if self.decay is None:
            grad *= scale
            return 0.0
        wd = self.decay * params
        half = 0.5 * float(wd @ params)
        if self.scaling == "sum":
            grad += wd
            grad *= scale
            return half
        grad *= scale
        grad += wd
        return half * weight_total

    def gradient_sum(self, params: np.ndarray, weight_total: float) -> np.ndarray | None:
        """kappa_B lambda D w, the penalty's gradient in the units of G_B (None without)."""
        if self.decay is None:
            return None
        return self.factor(weight_total) * self.decay * params

    def hessian_diagonal(self, weight_total: float) -> np.ndarray | None:
        """kappa_B lambda D, the penalty's Hessian (diagonal) in the units of E_B."""
        if self.decay is None:
            return None
        return self.factor(weight_total) * self.decay
