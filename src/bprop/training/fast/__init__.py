"""Compiled fast paths for online and mini-batch training, and when they apply.

:class:`~bprop.training.trainer.Trainer` asks :func:`run_epoch` to run each online or mini-batch
epoch; it returns None when the compiled kernel does not apply, and the trainer runs its
NumPy path instead. The kernel (:mod:`bprop.training.fast._kernels`, numba) runs the forward
pass, backward pass and weight update of every pattern of an epoch in one call, with the
same equations and the same pattern order as the NumPy path: the weights agree to
rounding error (tested to 1e-12 in float64), not bit for bit.

The kernel applies when all of these hold (otherwise NumPy, silently; :func:`why_not`
says why; if numba is installed but fails to compile the kernel, a RuntimeWarning says
so once and the process goes on with NumPy):

- numba is installed (the ``fast`` extra) and the path is enabled (see below);
- mode 'online' or 'minibatch', without sample weights;
- the rule is exactly :class:`~bprop.optim.GradientDescent`, :class:`~bprop.optim.Momentum`,
  :class:`~bprop.optim.Nesterov`, :class:`~bprop.optim.adaptive.Adam`, or the estimators'
  ``SklearnAdam`` (``solver='adam'``, scikit-learn's default); subclasses may change
  ``step``, so they use NumPy;
- hidden activations identity, logistic, tanh or relu;
- output and loss: identity/logistic/tanh/relu with squared_error or mse, logistic with
  binary_cross_entropy, softmax with categorical_cross_entropy.

Weight decay (both ``weight_decay_scaling`` forms, with ``epoch_penalty``), schedules,
shuffling or not, stopping, callbacks, accuracy and float32 all work on the compiled path.
Disable it with the environment variable ``BPROP_FAST=0``,
:func:`set_enabled`, or ``with bprop.training.fast.disabled(): ...``.

First use: numba compiles the kernel once per dtype (a few seconds) and caches the
machine code on disk (``cache=True``); later processes load it in well under a second.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bprop.core.activations import Identity, Logistic, ReLU, Softmax, Tanh
from bprop.core.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    MeanSquaredError,
    SquaredError,
)
from bprop.optim.adaptive import Adam
from bprop.optim.gradient_descent import GradientDescent, Momentum, Nesterov

if TYPE_CHECKING:  # pragma: no cover
    from bprop.training.trainer import Trainer, _Data

__all__ = ["available", "disabled", "enabled", "run_epoch", "set_enabled", "why_not"]

# The codes of the kernels module (repeated here so that numba is imported only when used).
_ACT_CODES = {Identity: 0, Logistic: 1, Tanh: 2, ReLU: 3, Softmax: 4}
_ELEMENTWISE = (Identity, Logistic, Tanh, ReLU)
_SQUARED_ERROR, _MSE, _BCE_LOGISTIC, _CCE_SOFTMAX = 0, 1, 2, 3
_RULE_CODES = {GradientDescent: 0, Momentum: 1, Nesterov: 2, Adam: 3}
_ADAM_SKLEARN = 4
#: The state arrays the kernel updates in place, per rule code.
_STATE_ARRAYS = {
    0: ("delta_w",),
    1: ("velocity", "delta_w"),
    2: ("velocity", "delta_w"),
    3: ("m", "v", "delta_w"),
    4: ("m", "v", "delta_w"),
}


def _rule_code(rule: object) -> int | None:
    code = _RULE_CODES.get(type(rule))
    if code is None:
        # The estimators' scikit-learn form of Adam; its module is loaded if it is in use.
        solvers = sys.modules.get("bprop.sklearn._solvers")
        if solvers is not None and type(rule) is getattr(solvers, "SklearnAdam", None):
            code = _ADAM_SKLEARN
    return code


_NO_METRIC, _ARGMAX, _THRESHOLD = 0, 1, 2


def _env_enabled(value: str) -> bool:
    """The meaning of the environment variable BPROP_FAST: off for 0/false/no/off."""
    return value.strip().lower() not in ("0", "false", "no", "off")


_state: dict[str, Any] = {
    "enabled": _env_enabled(os.environ.get("BPROP_FAST", "1")),
    "kernels": None,  # the imported module, once loaded
    "import_error": None,
}


def available() -> bool:
    """True if numba can be imported (the compiled kernels can run)."""
    return _load_kernels() is not None


def enabled() -> bool:
    """True if the trainer may use the compiled path (it is also used only where it applies)."""
    return bool(_state["enabled"])


def set_enabled(flag: bool) -> None:
    """Allow (True) or forbid (False) the compiled path for every trainer in this process."""
    _state["enabled"] = bool(flag)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """``with disabled(): ...`` trains with the NumPy path only (for comparisons)."""
    before = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = before


def _load_kernels():
    if _state["kernels"] is None and _state["import_error"] is None:
        try:
            from bprop.training.fast import _kernels as kernels
        except ImportError as exc:  # numba missing or broken: the NumPy path is used
            _state["import_error"] = exc
        else:
            _state["kernels"] = kernels
    return _state["kernels"]


@dataclass(frozen=True)
class _Plan:
    acts: np.ndarray
    loss: int
    rule: int
    metric: int
    threshold: float
    w_off: np.ndarray
    b_off: np.ndarray
    sizes: np.ndarray


def _loss_code(loss: object, output: object) -> int | None:
    out_type = type(output)
    if type(loss) is SquaredError and out_type in _ELEMENTWISE:
        return _SQUARED_ERROR
    if type(loss) is MeanSquaredError and out_type in _ELEMENTWISE:
        return _MSE
    if type(loss) is BinaryCrossEntropy and out_type is Logistic:
        return _BCE_LOGISTIC
    if type(loss) is CategoricalCrossEntropy and out_type is Softmax:
        return _CCE_SOFTMAX
    return None


def _plan(trainer: Trainer, data: _Data) -> _Plan | str:
    """The kernel's arguments that describe the model, or the reason it does not apply."""
    if not enabled():
        return (
            "the compiled path is disabled (BPROP_FAST=0 or bprop.training.fast.set_enabled(False))"
        )
    if trainer.mode not in ("online", "minibatch"):
        return f"mode {trainer.mode!r} uses the NumPy path (BLAS on blocks)"
    if data.sample_weight is not None:
        return "sample weights are not supported by the compiled kernel"
    rule_code = _rule_code(trainer.rule)
    if rule_code is None:
        return f"rule {type(trainer.rule).__name__} has no compiled kernel"
    net = trainer.network
    for act in net.activations[:-1]:
        if type(act) not in _ELEMENTWISE:
            return f"hidden activation {act.name!r} has no compiled kernel"
    loss_code = _loss_code(trainer.loss, net.output_activation)
    if loss_code is None:
        return (
            f"loss {trainer.loss.name!r} with output {net.output_activation.name!r} "
            "has no compiled kernel"
        )
    if trainer.state is not None:
        state = trainer.state.rule_state
    else:  # asked before fit: the state the rule will start from
        state = trainer.rule.init(net.n_params, net.dtype)
    if rule_code >= 3 and not isinstance(getattr(state, "t", None), int | np.integer):
        return "the rule state has no step count t"
    for name in _STATE_ARRAYS[rule_code]:
        arr = getattr(state, name, None)
        if not (
            isinstance(arr, np.ndarray)
            and arr.dtype == net.dtype
            and arr.shape == (net.n_params,)
            and arr.flags.c_contiguous
        ):
            return f"the rule state has no {name} array of the network's shape and dtype"
    scaling = getattr(trainer, "weight_decay_scaling", "mean")
    if trainer._decay is not None and scaling not in ("mean", "sum"):
        return f"weight_decay_scaling {scaling!r} has no compiled kernel"
    counter = trainer._accuracy
    if counter is None:
        metric, threshold = _NO_METRIC, 0.0
    else:
        metric = _ARGMAX if counter.kind == "argmax" else _THRESHOLD
        threshold = float(counter.threshold)
    sizes = np.asarray(net.sizes, np.int64)
    w_off, b_off, pos = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:], strict=True):
        w_off.append(pos)
        b_off.append(pos + n_in * n_out)
        pos += n_in * n_out + n_out
    return _Plan(
        acts=np.array([_ACT_CODES[type(a)] for a in net.activations], np.int64),
        loss=loss_code,
        rule=rule_code,
        metric=metric,
        threshold=threshold,
        w_off=np.asarray(w_off, np.int64),
        b_off=np.asarray(b_off, np.int64),
        sizes=sizes,
    )


def why_not(trainer: Trainer, data: _Data) -> str | None:
    """None if the compiled kernel runs this trainer's epochs on ``data``, else the reason."""
    plan = _plan(trainer, data)
    if isinstance(plan, str):
        return plan
    if _load_kernels() is None:
        return (
            f"the compiled kernel is not available ({_state['import_error']!r}); "
            "it needs numba (pip install bprop[fast])"
        )
    return None


def run_epoch(
    trainer: Trainer, data: _Data, order: np.ndarray | None, size: int
) -> tuple[float, float] | None:
    """Run one epoch with the compiled kernel, or return None if it does not apply.

    ``order`` is the pattern order (None: 0..n-1), ``size`` the block size (1 online).
    Returns (sum_p E_p, number of correct patterns), as ``Trainer._run_blocks``.
    """
    plan = _plan(trainer, data)
    if isinstance(plan, str):
        return None
    kernels = _load_kernels()
    if kernels is None:
        return None
    net, rule = trainer.network, trainer.rule
    state = trainer.state.rule_state
    n = data.X.shape[0]
    if order is None:
        order = np.arange(n, dtype=np.int64)
    decay = trainer._decay if trainer._decay is not None else np.empty(0, net.dtype)
    arrays = [getattr(state, name) for name in _STATE_ARRAYS[plan.rule]]
    s1, s2 = arrays[0], arrays[min(1, len(arrays) - 1)]  # unused ones are placeholders
    lr = float(state.learning_rate)  # the current rate (a schedule sets it in the state)
    b1, b2 = float(getattr(rule, "beta_1", 0.0)), float(getattr(rule, "beta_2", 0.0))
    hp = np.array(
        [lr, getattr(rule, "momentum", 0.0), b1, b2, 1.0 - b1, 1.0 - b2,
         getattr(rule, "epsilon", 0.0)],
        net.dtype,
    )  # fmt: skip
    hp64 = np.array([lr, b1, b2], np.float64)
    try:
        E, correct, penalty, t = kernels.run_epoch(
            data.X,
            data.T,
            order.astype(np.int64, copy=False),
            int(size),
            net.params,
            net.grad,
            plan.w_off,
            plan.b_off,
            plan.sizes,
            plan.acts,
            plan.loss,
            plan.rule,
            hp,
            hp64,
            decay,
            getattr(trainer, "weight_decay_scaling", "mean") == "sum",
            s1,
            s2,
            state.delta_w,
            int(getattr(state, "t", 0)),
            plan.metric,
            plan.threshold,
        )
    except kernels.NumbaError as exc:  # it could not be compiled here: it never ran
        _state["kernels"], _state["import_error"] = None, exc
        warnings.warn(
            f"bprop's compiled kernel could not be compiled ({type(exc).__name__}: {exc}); "
            "training continues on the NumPy path",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    if plan.rule >= 3:
        state.t = int(t)
    if trainer._decay is not None:
        trainer.epoch_penalty += float(penalty)
    return float(E), float(correct)
