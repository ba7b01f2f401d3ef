"""The estimators' constructor parameters: their checks, and the forms fit reads them in.

scikit-learn's rule: ``__init__`` stores each argument unchanged under its own name and
checks nothing; :func:`check_params` runs at the start of ``fit`` / ``partial_fit`` and
raises a ValueError naming the first bad parameter (numbers as scikit-learn checks them,
x in [low, high] with open or closed ends, by :mod:`bprop.core.validation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bprop.core.activations import Activation, get_activation
from bprop.core.validation import check_interval, is_int, positive_int
from bprop.training.stopping import StoppingCriterion
from bprop.training.threads import check_n_threads

__all__ = ["check_params", "hidden_activations", "hidden_sizes", "stopping_of"]

SCHEDULES = ("constant", "invscaling", "adaptive")


def check_params(est: Any) -> None:
    """A ValueError naming the first bad constructor parameter of a bprop MLP estimator."""
    hidden_sizes(est)
    for act in hidden_activations(est):
        if not isinstance(act, str | Activation):
            raise ValueError(f"activation must be a name or a bprop Activation, got {act!r}")
        get_activation(act)
    check_interval("alpha", est.alpha, low=0.0)
    bs = est.batch_size
    if not (bs == "auto" if isinstance(bs, str) else is_int(bs) and bs >= 1):
        raise ValueError(f"batch_size must be 'auto' or a positive integer, got {bs!r}")
    if est.learning_rate not in SCHEDULES:
        raise ValueError(
            f"learning_rate must be one of {', '.join(SCHEDULES)}, got {est.learning_rate!r}"
        )
    check_interval("learning_rate_init", est.learning_rate_init, low=0.0, open_low=True)
    check_interval("power_t", est.power_t, low=0.0)
    positive_int(None, "max_iter", est.max_iter)
    check_interval("tol", est.tol, low=0.0)
    check_interval("momentum", est.momentum, low=0.0, high=1.0)
    check_interval(
        "validation_fraction", est.validation_fraction, low=0.0, high=1.0, open_high=True
    )
    check_interval("beta_1", est.beta_1, low=0.0, high=1.0, open_high=True)
    check_interval("beta_2", est.beta_2, low=0.0, high=1.0, open_high=True)
    check_interval("epsilon", est.epsilon, low=0.0, open_low=True)
    if not (est.n_iter_no_change == np.inf or is_int(est.n_iter_no_change)) or (
        est.n_iter_no_change < 1
    ):
        raise ValueError(
            f"n_iter_no_change must be a positive integer or np.inf, got {est.n_iter_no_change!r}"
        )
    positive_int(None, "max_fun", est.max_fun)
    if est.solver_params is not None and not isinstance(est.solver_params, dict):
        raise ValueError(f"solver_params must be a dict or None, got {est.solver_params!r}")
    for criterion in stopping_of(est):
        if not isinstance(criterion, StoppingCriterion):
            raise ValueError(
                f"stopping must hold bprop StoppingCriterion objects, got {criterion!r}"
            )
    for callback in est.callbacks or ():
        if not callable(callback):
            raise ValueError(f"callbacks must be callables, got {callback!r}")
    check_n_threads(getattr(est, "n_threads", None))


def hidden_sizes(est: Any) -> list[int]:
    """``hidden_layer_sizes`` as a list of positive ints (one int is one hidden layer)."""
    h = est.hidden_layer_sizes
    sizes = [h] if not hasattr(h, "__iter__") else list(h)
    for s in sizes:
        if not is_int(s) or s < 1:
            raise ValueError(f"hidden_layer_sizes must be > 0, got {est.hidden_layer_sizes}.")
    return [int(s) for s in sizes]


def hidden_activations(est: Any) -> list[Any]:
    """``activation`` as a list: one entry, or one per hidden layer (a tuple or list)."""
    act = est.activation
    acts = list(act) if isinstance(act, tuple | list) else [act]
    if isinstance(act, tuple | list) and len(acts) != len(hidden_sizes(est)):
        raise ValueError(
            f"activation has {len(acts)} entries for {len(hidden_sizes(est))} hidden "
            "layers; give one name, or one per hidden layer"
        )
    return acts


def stopping_of(est: Any) -> tuple[StoppingCriterion, ...]:
    """``stopping`` as a tuple: None is (), one criterion is a 1-tuple."""
    s = est.stopping
    if s is None:
        return ()
    return (s,) if isinstance(s, StoppingCriterion) else tuple(s)
