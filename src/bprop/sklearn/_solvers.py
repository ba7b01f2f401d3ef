"""The ``solver`` parameter: scikit-learn's names mapped onto bprop update rules.

============  ===============================================================================
solver        bprop rule
============  ===============================================================================
'sgd'         momentum > 0 and nesterovs_momentum: ``Nesterov(learning_rate_init, momentum)``;
              momentum > 0: ``Momentum(...)``; momentum == 0: ``GradientDescent(...)``.
              These are scikit-learn's ``SGDOptimizer`` updates term for term
              (v <- mu v - eta g; Delta w = v, or mu v - eta g with Nesterov).
'adam'        :class:`SklearnAdam` (learning_rate_init, beta_1, beta_2, epsilon): bprop's Adam
              with epsilon where scikit-learn puts it (see the class).
'lbfgs'       ``get_rule('lbfgs', max_iter=max_iter, max_fun=max_fun, gtol=tol)``: scipy's
              L-BFGS-B with the options scikit-learn passes it, full batch, one Trainer
              epoch per L-BFGS iteration. As in scikit-learn, ``n_iter_no_change`` does
              not apply (scipy's own tests stop it).
other names   any bprop rule ('gd', 'momentum', 'nesterov', 'rprop', 'irprop+', 'irprop-',
              'rprop-', 'quickprop', 'adagrad', 'rmsprop', 'lm', ...): ``get_rule(name,
              **solver_params)``, with ``learning_rate=learning_rate_init`` when the rule
              takes a learning rate, is not defined for full-batch learning only, and
              ``solver_params`` does not set one (so 'adagrad' and 'rmsprop' follow
              ``learning_rate_init`` like 'adam'; 'quickprop' keeps its own default).
an instance   a bprop ``UpdateRule`` or ``ClosureRule``, used as given (a copy of it).
============  ===============================================================================

Rules defined for full-batch learning only (``full_batch_only``: RPROP, Quickprop, L-BFGS,
Levenberg-Marquardt) run one update per epoch on the whole training set; ``batch_size``
does not apply to them, as scikit-learn ignores it for 'lbfgs'.

The ``learning_rate`` schedule ('constant', 'invscaling', 'adaptive') applies, as in
scikit-learn, only to the gradient-descent family ('sgd', 'gd', 'momentum', 'nesterov').
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from bprop.optim import ClosureRule, UpdateRule, get_rule
from bprop.optim.adaptive import Adam
from bprop.training.build import build_rule

__all__ = [
    "NON_FINITE_MESSAGE",
    "SGD_FAMILY",
    "SKLEARN_SOLVERS",
    "SklearnAdam",
    "check_incremental_solver",
    "make_rule",
]

#: scikit-learn's own solver names: with them a fit that produces non-finite weights raises
#: a ValueError with scikit-learn's message (bprop's rules warn and restore the weights).
SKLEARN_SOLVERS = frozenset({"sgd", "adam", "lbfgs"})
NON_FINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)

#: Solvers whose learning rate follows the ``learning_rate`` schedule.
SGD_FAMILY = frozenset({"sgd", "gd", "momentum", "nesterov", "gradient_descent"})


class SklearnAdam(Adam):
    """Adam in the form scikit-learn's ``AdamOptimizer`` computes it.

    scikit-learn (``sklearn/neural_network/_stochastic_optimizers.py``) uses the
    "efficient" form of Kingma & Ba (2015, end of Section 2)::

        eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)
        Delta w_t = -eta_t m_t / (sqrt(v_t) + epsilon)

    with m_t, v_t as in :class:`bprop.optim.Adam`: this is
    ``Adam(epsilon_placement='efficient')``. bprop's default Adam (Algorithm 1, as
    PyTorch) adds epsilon to sqrt(v_t / (1 - beta_2^t)) instead; the two differ by
    epsilon acting as epsilon / sqrt(1 - beta_2^t) here (3.2e-7 instead of 1e-8 at t = 1),
    visible when gradients are ~1e-6 or smaller. ``solver='adam'`` uses this form so that
    the loss curves match scikit-learn's; ``solver=bprop.optim.Adam()`` gives the other.
    """

    #: The step is Adam's own (only the default placement differs): its compiled form too.
    compiled = Adam.compiled

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        epsilon_placement: str = "efficient",
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, epsilon_placement)


def make_rule(est: Any) -> UpdateRule | ClosureRule:
    """A fresh update rule for the estimator's ``solver`` and hyperparameters."""
    solver = est.solver
    extra: dict[str, Any] = dict(est.solver_params or {})
    if isinstance(solver, UpdateRule | ClosureRule):
        if extra:
            raise ValueError("solver_params cannot be combined with a rule instance as solver")
        return copy.deepcopy(solver)
    if not isinstance(solver, str):
        raise ValueError(
            f"solver must be a rule name or a bprop UpdateRule/ClosureRule, got {solver!r}"
        )
    name = solver.lower()
    lr = est.learning_rate_init
    if name == "sgd":
        if est.momentum > 0:
            kind = "nesterov" if est.nesterovs_momentum else "momentum"
            return get_rule(kind, learning_rate=lr, momentum=est.momentum, **extra)
        return get_rule("gd", learning_rate=lr, **extra)
    if name == "adam":
        hp = {"learning_rate": lr, "beta_1": est.beta_1, "beta_2": est.beta_2}
        hp["epsilon"] = est.epsilon
        try:
            return SklearnAdam(**{**hp, **extra})
        except TypeError as exc:
            raise ValueError(f"bad solver_params for solver 'adam': {exc}") from None
    if name == "lbfgs":
        gtol = est.tol if est.tol > 0 else float(np.finfo(float).tiny)  # scipy takes 0
        hp = {"max_iter": est.max_iter, "max_fun": est.max_fun, "gtol": gtol}
        return get_rule("lbfgs", **{**hp, **extra})
    return build_rule(name, extra, default_learning_rate=lr)


def solver_name(est: Any) -> str:
    """The solver's name in lower case ('' for a rule instance)."""
    return est.solver.lower() if isinstance(est.solver, str) else ""


def check_incremental_solver(est: Any) -> bool:
    """True when ``partial_fit`` applies to the solver; else an AttributeError says why.

    scikit-learn has ``partial_fit`` for its stochastic solvers ('sgd', 'adam') and not for
    'lbfgs' (``available_if``). bprop follows the same logic for its own rules: the
    mini-batch rules ('gd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', ...) have it, the
    full-batch ones (RPROP family, Quickprop, L-BFGS, Levenberg-Marquardt) do not. An
    unknown solver name counts as stochastic, so that the call reports the name.
    """
    solver = est.solver
    if isinstance(solver, UpdateRule | ClosureRule):
        rule = solver
    else:
        try:
            rule = get_rule(solver)
        except ValueError:
            return True
    if rule.full_batch_only or isinstance(rule, ClosureRule):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {rule.name} is not "
            "stochastic (it updates on the whole training set); use fit, or a mini-batch "
            "solver such as 'sgd' or 'adam'."
        )
    return True
