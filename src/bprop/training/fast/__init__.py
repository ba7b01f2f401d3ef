"""Compiled fast paths: online and mini-batch epochs, full-batch block sums, when they apply.

**Epochs.** :class:`~bprop.training.trainer.Trainer` hands each online or mini-batch epoch to
:func:`run_epoch` with an :class:`EpochSpec` (the network, loss, rule and its state,
weight decay, accuracy counter); it returns None when the compiled kernel does not apply,
and the trainer runs its NumPy path instead. The kernel runs the forward pass, backward
pass and weight update of every pattern of an epoch in one call, with the same equations
and the same pattern order as the NumPy path: the weights agree to rounding error (tested
to 1e-12 in float64), not bit for bit.

The kernel is composed from the **compiled forms** declared next to the NumPy definitions
(plain functions, no numba there): an activation's ``compiled`` (an
:class:`~bprop.core.activations.ElementwiseForm` or
:class:`~bprop.core.activations.RowForm`), a loss's :class:`~bprop.core.losses.LossForm`,
a rule's :class:`~bprop.optim.base.StepForm`, the accuracy counter's row test.
:mod:`bprop.training.fast._kernels` compiles them with numba into one kernel per
combination. Adding an activation, a loss or a step rule with a compiled form is a change
to its own module only. The kernel applies when all of these hold (otherwise NumPy,
silently; :func:`why_not` says why; if numba is installed but fails to compile the kernel,
a RuntimeWarning says so once and the process goes on with NumPy):

- numba is installed (the ``fast`` extra) and the path is enabled (see below);
- mode 'online' or 'minibatch', without sample weights;
- the rule's own class declares a compiled form (gradient descent, momentum, Nesterov,
  Adam in both epsilon placements, AdaGrad, RMSprop; a subclass inherits none, since it
  may change ``step``), and its state holds the arrays the form names;
- every hidden activation has an elementwise compiled form (identity, logistic, tanh,
  relu, gaussian, softplus, exp);
- the loss has a compiled form for the output activation: an element form
  (squared_error, mse) with an elementwise output, or a fused row for the pair (logistic
  with binary_cross_entropy, softmax with categorical_cross_entropy).

Weight decay (both ``weight_decay_scaling`` forms, with ``epoch_penalty``), schedules,
shuffling or not, stopping, callbacks, accuracy and float32 all work on the compiled path.
Disable it with the environment variable ``BPROP_FAST=0``,
:func:`set_enabled`, or ``with bprop.training.fast.disabled(): ...``.

**Full-batch sums.** :func:`block_gradient` gives, for one block of rows (X, T, s),
E = sum_p s_p E_p, the correct count and g = sum_p s_p dE_p/dw (in ``network.grad``) with
the block kernel of :mod:`bprop.training.fast._batch`: forward and backward elementwise
work fused per sub-block of :func:`sub_block_rows` rows (``SUB_BLOCK_BYTES`` of the
layers' rows, to stay in the L2 cache), the matrix products by BLAS. It is the one
per-block function of every full-batch sum (:func:`bprop.training.sources.block_gradient`:
in-memory arrays, streamed Parquet, Dask partitions), so that the same blocks give the
same bits on every source. It applies where the model's forms do (the hidden, output and
loss conditions above, sample weights included, any rule: the rule never enters it) and
the path is enabled; otherwise (or if it returns None) ``Network.gradient`` runs;
:func:`batch_reason` says why. It agrees with ``Network.gradient`` to rounding error
(tested to 1e-12 relative in float64).

First use: numba compiles a kernel once per combination and dtype (a few seconds, more
for deep stacks). Each kernel is compiled once
per composition and dtype (seconds) and kept in numba's on-disk cache (``__pycache__``
beside the package, or ``NUMBA_CACHE_DIR``) under a name that is a digest of its
composition, so later processes load it.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bprop.core.activations import ElementwiseForm, RowForm
from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.optim.base import StepForm
from bprop.training.metrics import AccuracyCounter

__all__ = [
    "EpochSpec",
    "available",
    "batch_reason",
    "block_gradient",
    "disabled",
    "enabled",
    "run_epoch",
    "set_enabled",
    "why_not",
]


@dataclass(frozen=True)
class EpochSpec:
    """What an online or mini-batch epoch is made of, as the compiled kernel needs it.

    ``rule_state`` is the state the rule steps (updated in place; None before training:
    the state ``rule.init`` gives). ``decay`` is lambda at weights and 0 at biases (None:
    no weight decay), ``decay_sum`` True for ``weight_decay_scaling='sum'``. ``weighted``
    is True when the patterns have sample weights.
    """

    network: Network
    loss: Loss
    rule: Any
    rule_state: Any
    mode: str
    block_size: int
    weighted: bool = False
    decay: np.ndarray | None = None
    decay_sum: bool = False
    accuracy: AccuracyCounter | None = None


@dataclass(frozen=True)
class EpochResult:
    """sum_p E_p, the number of correct patterns, and the epoch's L2 penalty (as
    ``Trainer.epoch_penalty`` counts it)."""

    loss_sum: float
    correct: float
    penalty: float


_DISABLED = "the compiled path is disabled (BPROP_FAST=0 or bprop.training.fast.set_enabled(False))"


def _env_enabled(value: str) -> bool:
    """The meaning of the environment variable BPROP_FAST: off for 0/false/no/off."""
    return value.strip().lower() not in ("0", "false", "no", "off")


_state: dict[str, Any] = {
    "enabled": _env_enabled(os.environ.get("BPROP_FAST", "1")),
    "kernels": None,  # the imported module, once loaded
    "import_error": None,
    "built": {},  # compiled kernels by the identity of their forms
    "batch": None,  # the full-batch block kernels' module, loaded with "kernels"
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
            from bprop.training.fast import _batch as batch
            from bprop.training.fast import _kernels as kernels
        except ImportError as exc:  # numba missing or broken: the NumPy path is used
            _state["import_error"] = exc
        else:
            _state["kernels"], _state["batch"] = kernels, batch
    return _state["kernels"]


@dataclass(frozen=True)
class _Plan:
    """The forms the kernel is built from, and the arrays that describe the model."""

    hidden: tuple[ElementwiseForm, ...]  # distinct, in order of first use
    hidden_index: np.ndarray  # per hidden layer, its form's place in ``hidden``
    output: ElementwiseForm | RowForm
    loss_element: Callable | None
    loss_fused: Callable | None
    metric: Callable | None
    threshold: float
    step: StepForm

    @property
    def key(self) -> tuple:
        return (
            self.hidden,
            self.output,
            self.loss_element,
            self.loss_fused,
            self.metric,
            self.step.begin,
            self.step.element,
            self.step.n_coefficients,
        )


def _loss_forms(loss: Loss, output: Any, out_form: Any) -> tuple[Callable | None, ...] | None:
    form = loss.compiled_form()
    if form is None:
        return None
    fused = form.fused_row(output)
    if fused is not None:
        return None, fused
    if form.element is not None and isinstance(out_form, ElementwiseForm):
        return form.element, None
    return None


def _model_forms(net: Network, loss: Loss) -> tuple | str:
    """(distinct hidden forms, each hidden layer's index among them, output form, loss
    element form, loss fused row) of a network and loss, or the reason there are none."""
    hidden: list[ElementwiseForm] = []
    index = []
    for act in net.activations[:-1]:
        form = act.compiled_form()
        if not isinstance(form, ElementwiseForm):
            return f"hidden activation {act.name!r} has no compiled kernel"
        if form not in hidden:
            hidden.append(form)
        index.append(hidden.index(form))
    output = net.output_activation
    out_form = output.compiled_form()
    loss_forms = None if out_form is None else _loss_forms(loss, output, out_form)
    if loss_forms is None:
        return f"loss {loss.name!r} with output {output.name!r} has no compiled kernel"
    return tuple(hidden), np.array(index, np.int64), out_form, *loss_forms


def _plan(spec: EpochSpec) -> _Plan | str:
    """The forms of the kernel that runs ``spec``'s epochs, or the reason there is none."""
    if not enabled():
        return _DISABLED
    if spec.mode not in ("online", "minibatch"):
        return f"mode {spec.mode!r} has no epoch kernel (its sums use block_gradient)"
    if spec.weighted:
        return "sample weights are not supported by the compiled kernel"
    rule, net = spec.rule, spec.network
    step = rule.compiled_form() if hasattr(rule, "compiled_form") else None
    if not isinstance(step, StepForm):
        return f"rule {type(rule).__name__} has no compiled kernel"
    forms = _model_forms(net, spec.loss)
    if isinstance(forms, str):
        return forms
    hidden, index, out_form, loss_element, loss_fused = forms
    state = spec.rule_state
    if state is None:  # asked before fit: the state the rule will start from
        state = rule.init(net.n_params, net.dtype)
    if step.counts_steps and not isinstance(getattr(state, "t", None), int | np.integer):
        return "the rule state has no step count t"
    for name in (*step.state, "delta_w"):
        arr = getattr(state, name, None)
        if not (
            isinstance(arr, np.ndarray)
            and arr.dtype == net.dtype
            and arr.shape == (net.n_params,)
            and arr.flags.c_contiguous
        ):
            return f"the rule state has no {name} array of the network's shape and dtype"
    counter = spec.accuracy
    return _Plan(
        hidden=hidden,
        hidden_index=index,
        output=out_form,
        loss_element=loss_element,
        loss_fused=loss_fused,
        metric=None if counter is None else counter.compiled_form(),
        threshold=0.0 if counter is None else float(counter.threshold),
        step=step,
    )


def why_not(spec: EpochSpec) -> str | None:
    """None if the compiled kernel runs ``spec``'s epochs, else the reason it does not."""
    plan = _plan(spec)
    if isinstance(plan, str):
        return plan
    if _load_kernels() is None:
        return (
            f"the compiled kernel is not available ({_state['import_error']!r}); "
            "it needs numba (pip install bprop[fast])"
        )
    return None


def _kernel(kernels: Any, plan: _Plan) -> Callable:
    built = _state["built"]
    fn = built.get(plan.key)
    if fn is None:
        fn = built[plan.key] = kernels.build(
            plan.hidden, plan.output, plan.loss_element, plan.loss_fused, plan.metric, plan.step
        )
    return fn


def _compile_failed(exc: Exception) -> None:
    """Forget the kernels (NumPy from now on) and say so once."""
    _state["kernels"], _state["import_error"] = None, exc
    warnings.warn(
        f"bprop's compiled kernel could not be compiled ({type(exc).__name__}: {exc}); "
        "training continues on the NumPy path",
        RuntimeWarning,
        stacklevel=5,
    )


def run_epoch(
    spec: EpochSpec, X: np.ndarray, T: np.ndarray, order: np.ndarray | None
) -> EpochResult | None:
    """Run one epoch with the compiled kernel, or return None if it does not apply.

    ``order`` is the pattern order (None: 0..n-1); blocks have ``spec.block_size`` rows
    (1 online). The network's weights and the rule state are updated in place.
    """
    plan = _plan(spec)
    if isinstance(plan, str):
        return None
    kernels = _load_kernels()
    if kernels is None:
        return None
    net, state, step = spec.network, spec.rule_state, plan.step
    if order is None:
        order = np.arange(X.shape[0], dtype=np.int64)
    decay = spec.decay if spec.decay is not None else np.empty(0, net.dtype)
    w_off, b_off, sizes = net.layout.offset_arrays()
    try:
        E, correct, penalty, t = _kernel(kernels, plan)(
            X,
            T,
            order.astype(np.int64, copy=False),
            int(spec.block_size),
            net.params,
            net.grad,
            w_off,
            b_off,
            sizes,
            plan.hidden_index,
            np.array(step.scalars(spec.rule, state), np.float64),
            decay,
            bool(spec.decay_sum),
            tuple(getattr(state, name) for name in step.state),
            state.delta_w,
            int(getattr(state, "t", 0)),
            plan.threshold,
        )
    except kernels.NumbaError as exc:  # it could not be compiled here: it never ran
        _compile_failed(exc)
        return None
    if step.counts_steps:
        state.t = int(t)
    return EpochResult(float(E), float(correct), float(penalty))


#: Bytes of a sub-block's rows (inputs, and net inputs, outputs and deltas of every layer)
#: in the block kernel: small enough to stay in the L2 cache from forward to backward.
SUB_BLOCK_BYTES = 1 << 19


def sub_block_rows(network: Network) -> int:
    """Rows per sub-block of the block kernel for this network (at least 64)."""
    s = network.sizes
    per_row = network.dtype.itemsize * (s[0] + 3 * sum(s[1:]))
    return max(64, SUB_BLOCK_BYTES // per_row)


def batch_reason(network: Network, loss: Loss) -> str | None:
    """None if :func:`block_gradient` runs on the compiled kernel for this network and
    loss, else the reason it uses NumPy (``Network.gradient``)."""
    if not enabled():
        return _DISABLED
    forms = _model_forms(network, loss)
    if isinstance(forms, str):
        return forms
    if _load_kernels() is None:
        return (
            f"the compiled kernel is not available ({_state['import_error']!r}); "
            "it needs numba (pip install bprop[fast])"
        )
    return None


def block_gradient(
    network: Network,
    loss: Loss,
    X: np.ndarray,
    T: np.ndarray,
    sample_weight: np.ndarray | None = None,
    counter: AccuracyCounter | None = None,
    grad: np.ndarray | None = None,
) -> tuple[float, float] | None:
    """(sum_p s_p E_p, correct) of one block by the compiled kernel, with
    g = sum_p s_p dE_p/dw left in ``grad`` (default ``network.grad``); None where it does
    not apply (then nothing is changed: use ``Network.gradient``). The network's buffers
    (``outputs`` etc.) are not written, so calls with grads of their own may run in
    threads at once (the kernel releases the GIL)."""
    if batch_reason(network, loss) is not None:
        return None
    hidden, index, out_form, loss_element, loss_fused = _model_forms(network, loss)
    metric = None if counter is None else counter.compiled_form()
    dt = network.dtype
    s = np.empty(0, dt) if sample_weight is None else sample_weight
    w_off, b_off, sizes = network.layout.offset_arrays()
    try:
        build = _state["batch"].build_block
        E, correct = build(hidden, out_form, loss_element, loss_fused, metric)(
            np.ascontiguousarray(X, dt),
            np.ascontiguousarray(T, dt),
            np.ascontiguousarray(s, dt),
            network.params,
            network.grad if grad is None else grad,
            w_off,
            b_off,
            sizes,
            index,
            0.0 if counter is None else float(counter.threshold),
            sub_block_rows(network),
        )
    except _state["kernels"].NumbaError as exc:  # it could not be compiled here
        _compile_failed(exc)
        return None
    return float(E), float(correct)
