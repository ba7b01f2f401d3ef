"""The estimators' network state: the initial weights, coefs_/intercepts_ as views of the
network's weights, and pickles without work buffers.

``coefs_[l]`` is the weight matrix w_ij of layer l + 1 (rows i: the units feeding it,
columns j: its units) and ``intercepts_[l]`` its biases, the same arrays the network
computes net_j = sum_i w_ij o_i + b_j with; a user may replace them (scikit-learn allows
``est.coefs_[0] = ...``), and :meth:`NetworkState._sync_network` copies such replacements
into the network before it is used.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from bprop.core.activations import get_activation
from bprop.core.network import Network
from bprop.sklearn._params import hidden_activations

__all__ = ["NetworkState"]


class NetworkState:
    """Mixin of BaseMLP: its fitted ``network_`` and the views ``coefs_``/``intercepts_``."""

    network_: Network

    def _init_network(self, layer_units: list[int], dtype: np.dtype, rs) -> Network:
        """The initial network; ``init=None`` draws the weights as scikit-learn does.

        scikit-learn (``_init_coef``): for each layer in turn, W then b from
        U(-r, r) with r = sqrt(f / (fan_in + fan_out)), f = 2 for logistic hidden units and
        6 otherwise (Glorot & Bengio 2010), from the estimator's ``RandomState``. The same
        ``random_state`` therefore gives the same initial weights as scikit-learn.
        """
        acts = [get_activation(a) for a in hidden_activations(self)]
        hidden: Any = acts if isinstance(self.activation, tuple | list) else acts[0]
        out = self._out_activation
        if self.init is None:
            factor = 2.0 if acts[0].name == "logistic" else 6.0
            Ws, bs = [], []
            for fan_in, fan_out in pairwise(layer_units):
                bound = np.sqrt(factor / (fan_in + fan_out))
                Ws.append(rs.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
                bs.append(rs.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
            return Network.from_weights(Ws, bs, hidden, out, dtype=dtype)
        seed = int(rs.randint(np.iinfo(np.int32).max))
        return Network(layer_units, hidden, out, init=self.init, seed=seed, dtype=dtype)

    def _link_attributes(self) -> None:
        """coefs_ and intercepts_ as views of the network's weights."""
        net = self.network_
        self.coefs_ = list(net.weights)
        self.intercepts_ = list(net.biases)

    def _sync_network(self) -> None:
        """Copy coefs_/intercepts_ the user replaced into the network (and re-link views)."""
        net = self.network_
        for ours, theirs, name in (
            (net.weights, self.coefs_, "coefs_"),
            (net.biases, self.intercepts_, "intercepts_"),
        ):
            if len(theirs) != len(ours):
                raise ValueError(f"{name} has {len(theirs)} layers, the network {len(ours)}")
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                if a is b:
                    continue
                b = np.asarray(b)
                if b.shape != a.shape:
                    raise ValueError(f"{name}[{i}] has shape {b.shape}, expected {a.shape}")
                a[...] = b
                theirs[i] = a

    def __getstate__(self) -> dict:
        """A copy of the state with a slim network (no work buffers) and no callbacks."""
        state = dict(super().__getstate__())  # object.__getstate__ gives __dict__ itself
        net = state.get("network_")
        if net is not None:
            self._sync_network()
            slim = net.copy()
            state["network_"] = slim
            state.pop("coefs_", None)
            state.pop("intercepts_", None)
            trainer = state.get("_trainer")
            if trainer is not None:
                trainer = _shallow_copy(trainer)
                trainer.network = slim
                trainer.callbacks = ()
                state["_trainer"] = trainer
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "network_" in state:
            self._link_attributes()


def _shallow_copy(obj: Any) -> Any:
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new
