"""The decisions every front end makes before training, each made once here.

The estimators (:mod:`bprop.sklearn`), the demo, ``bprop explain`` and the trainer itself
build through these functions:

- task -> output activation -> loss: :func:`bprop.core.losses.output_activation_for`,
  :func:`bprop.core.losses.default_loss` and :func:`bprop.core.losses.resolve_loss`
  (in core, as gradcheck needs them), re-exported here;
- a rule from a name, hyperparameters and a learning rate: :func:`build_rule`;
- the validation split: :func:`validation_split`;
- the stopping criteria and the "needs a validation set" check: :func:`stopping_criteria`,
  :func:`needs_validation`, :func:`check_validation`;
- putting back the weights of the best validation epoch: :func:`restore_best_weights`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from bprop.core.losses import default_loss, output_activation_for, resolve_loss
from bprop.core.network import Network
from bprop.optim import ClosureRule, UpdateRule, get_rule
from bprop.training.history import History
from bprop.training.stopping import StoppingCriterion

__all__ = [
    "build_rule",
    "check_validation",
    "default_loss",
    "needs_validation",
    "output_activation_for",
    "resolve_loss",
    "restore_best_weights",
    "rule_name",
    "stopping_criteria",
    "takes_learning_rate",
    "validation_split",
]

Rule = UpdateRule | ClosureRule


def rule_name(spec: str | Rule) -> str:
    """The registry name of a rule spec ('sgd' -> 'gd'); a ValueError lists the names."""
    return type(get_rule(spec)).name if isinstance(spec, str) else spec.name


def takes_learning_rate(cls: type) -> bool:
    """True if the rule class has a ``learning_rate`` and learns in mini-batches (the rules
    a default learning rate such as the estimators' ``learning_rate_init`` applies to;
    Quickprop, full batch only, keeps its own)."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return False
    accepts = "learning_rate" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    return accepts and not cls.full_batch_only


def build_rule(
    spec: str | Rule,
    params: dict[str, Any] | None = None,
    *,
    learning_rate: float | None = None,
    default_learning_rate: float | None = None,
) -> Rule:
    """A rule from a name (or an instance, used as given) and hyperparameters.

    ``learning_rate`` (an explicit choice, e.g. ``--lr``) overrides ``params``;
    ``default_learning_rate`` is used only when ``params`` sets none and the rule
    :func:`takes_learning_rate` (the estimators' ``learning_rate_init``, explain's 0.5
    for gradient descent).
    """
    hp = dict(params or {})
    if not isinstance(spec, str):
        return get_rule(spec, **hp)
    cls = type(get_rule(spec))  # a ValueError listing the names for an unknown rule
    if learning_rate is not None:
        hp["learning_rate"] = learning_rate
    elif (
        default_learning_rate is not None and "learning_rate" not in hp and takes_learning_rate(cls)
    ):
        hp["learning_rate"] = default_learning_rate
    return get_rule(spec, **hp)


def validation_split(
    arrays: Sequence[np.ndarray | None],
    fraction: float,
    random_state: Any,
    *,
    stratify: np.ndarray | None = None,
    min_rows: int = 2,
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """(training parts, validation parts) of the arrays (None entries stay None).

    scikit-learn's ``train_test_split`` with ``test_size=fraction`` (ceil(fraction n)
    validation rows), ``random_state`` and ``stratify`` (class labels for classification,
    so both parts keep the class proportions), as scikit-learn's MLP estimators split
    for early stopping. Fewer than ``min_rows`` validation rows is a ValueError.
    """
    from sklearn.model_selection import train_test_split

    present = [a for a in arrays if a is not None]
    parts = iter(
        train_test_split(*present, random_state=random_state, test_size=fraction, stratify=stratify)
    )
    train: list[np.ndarray | None] = []
    val: list[np.ndarray | None] = []
    for a in arrays:
        if a is None:
            train.append(None)
            val.append(None)
        else:
            train.append(next(parts))
            val.append(next(parts))
    if val[0] is not None and val[0].shape[0] < min_rows:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )
    return train, val


def stopping_criteria(
    stopping: StoppingCriterion | Sequence[StoppingCriterion] | None,
) -> tuple[StoppingCriterion, ...]:
    """One criterion, a sequence or None as a tuple of criteria (a ValueError otherwise)."""
    if stopping is None:
        return ()
    criteria = (stopping,) if isinstance(stopping, StoppingCriterion) else tuple(stopping)
    for criterion in criteria:
        if not isinstance(criterion, StoppingCriterion):
            raise ValueError(f"stopping criteria must be StoppingCriterion, got {criterion!r}")
    return criteria


def needs_validation(criteria: Sequence[StoppingCriterion]) -> bool:
    """True if a criterion reads the validation error."""
    return any(c.needs_validation for c in criteria)


def check_validation(criteria: Sequence[StoppingCriterion], has_validation: bool) -> None:
    """A ValueError naming the first criterion that needs validation data when there is none."""
    if has_validation:
        return
    for criterion in criteria:
        if criterion.needs_validation:
            raise ValueError(f"{type(criterion).__name__} needs validation_data")


def restore_best_weights(
    network: Network, best_params: np.ndarray | None, history: History | None = None
) -> bool:
    """Put the weights of the best validation epoch back into the network (if any);
    ``history.restored_best`` records it. Returns whether weights were restored."""
    if best_params is None:
        return False
    np.copyto(network.params, best_params)
    if history is not None:
        history.restored_best = True
    return True
