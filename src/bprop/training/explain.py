"""Every number of one backpropagation step, in the classic notation.

For a network and one pattern (x, t), :func:`explain_step` records

1. the forward pass: net_j = sum_i w_ij o_i + b_j and o_j = phi(net_j) for every unit;
2. the error E = E_p(o, t) of the chosen loss;
3. the backward pass: delta_j = dE/dnet_j, output layer first (delta_k from the loss and
   the output activation), then delta_j = phi'(net_j) sum_l w_jl delta_l layer by layer;
4. every weight's gradient dE/dw_ij = delta_j o_i (dE/db_j = delta_j) and its change
   Delta w_ij under the update rule (for gradient descent, -eta dE/dw_ij);
5. the new weights w_ij + Delta w_ij and the error E' of the pattern with them.

The numbers are those of :meth:`bprop.core.network.Network.gradient` and of the rule's
``step``, the same code that trains, so what is printed is what bprop does. With
``freeze_biases`` the biases are not changed; the worked example of M. Mazur ("A Step by
Step Backpropagation Example", 2015) updates w1..w8 only, so this reproduces it.

Unit names: inputs i1, i2, ...; hidden units h1, h2, ... (h<layer>.<j> with several
hidden layers); outputs o1, o2, ...; a weight is w(i1->h1), a bias b(h1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bprop.core.losses import Loss, resolve_loss
from bprop.core.network import Network
from bprop.optim import UpdateRule, get_rule

__all__ = ["Explanation", "explain_step", "unit_names"]

#: explain is for small networks that fit on a screen
MAX_UNITS = 64


def unit_names(sizes: tuple[int, ...]) -> list[list[str]]:
    """Names of the units of each layer, input layer first."""
    names = [[f"i{j + 1}" for j in range(sizes[0])]]
    hidden = sizes[1:-1]
    for layer, n in enumerate(hidden):
        prefix = "h" if len(hidden) == 1 else f"h{layer + 1}."
        names.append([f"{prefix}{j + 1}" for j in range(n)])
    names.append([f"o{k + 1}" for k in range(sizes[-1])])
    return names


@dataclass
class Explanation:
    """The numbers of one step (see the module docstring); ``format()`` or ``to_dict()``."""

    network: dict[str, Any]
    loss: str
    rule: dict[str, Any]
    x: list[float]
    t: list[float]
    forward: list[dict[str, Any]] = field(default_factory=list)
    error: float = 0.0
    backward: list[dict[str, Any]] = field(default_factory=list)
    weights: list[dict[str, Any]] = field(default_factory=list)
    new_outputs: list[float] = field(default_factory=list)
    new_error: float = 0.0
    freeze_biases: bool = False
    digits: int = 9

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "loss": self.loss,
            "rule": self.rule,
            "pattern": {"x": self.x, "t": self.t},
            "forward": self.forward,
            "error": self.error,
            "backward": self.backward,
            "weights": self.weights,
            "freeze_biases": self.freeze_biases,
            "new_outputs": self.new_outputs,
            "new_error": self.new_error,
        }

    def format(self) -> str:
        """Tables for a terminal."""
        d = self.digits

        def f(v: float) -> str:
            return f"{v:.{d}g}"

        width = d + 8
        acts = self.network["activations"]
        lines = [
            f"network {'-'.join(map(str, self.network['sizes']))}, activations "
            f"{', '.join(acts)}; loss {self.loss}",
            f"rule {self.rule['name']} "
            + ", ".join(f"{k}={v}" for k, v in self.rule["hyperparameters"].items())
            + ("; biases frozen" if self.freeze_biases else ""),
            f"pattern x = ({', '.join(f(v) for v in self.x)}), "
            f"target t = ({', '.join(f(v) for v in self.t)})",
            "",
            "forward pass: net_j = sum_i w_ij o_i + b_j,  o_j = phi(net_j)",
            f"  {'unit':<8}{'net_j':>{width}}{'o_j':>{width}}",
        ]
        for u in self.forward:
            lines.append(f"  {u['unit']:<8}{f(u['net']):>{width}}{f(u['out']):>{width}}")
        lines += [
            "",
            f"error E = {f(self.error)}",
            "",
            "backward pass: delta_j = dE/dnet_j  (output: from the loss; hidden: "
            "phi'(net_j) sum_l w_jl delta_l)",
            f"  {'unit':<8}{'delta_j':>{width}}",
        ]
        for u in self.backward:
            lines.append(f"  {u['unit']:<8}{f(u['delta']):>{width}}")
        name_w = max(12, *(len(w["name"]) + 2 for w in self.weights))
        lines += [
            "",
            "weights: dE/dw_ij = delta_j o_i (dE/db_j = delta_j); change Delta w_ij from the rule",
            f"  {'weight':<{name_w}}{'w_ij':>{width}}{'dE/dw_ij':>{width}}"
            f"{'Delta w_ij':>{width}}{'new w_ij':>{width}}",
        ]
        for w in self.weights:
            lines.append(
                f"  {w['name']:<{name_w}}{f(w['w']):>{width}}{f(w['gradient']):>{width}}"
                f"{f(w['change']):>{width}}{f(w['new']):>{width}}"
            )
        lines += [
            "",
            f"new outputs o = ({', '.join(f(v) for v in self.new_outputs)})",
            f"new error E' = {f(self.new_error)}  (change {f(self.new_error - self.error)})",
        ]
        return "\n".join(lines)


def explain_step(
    network: Network,
    x: object,
    t: object,
    *,
    loss: str | Loss | None = None,
    rule: object = "gd",
    freeze_biases: bool = False,
    digits: int = 9,
) -> Explanation:
    """One step of backpropagation on one pattern, every number recorded.

    ``network`` is not changed; the new weights are in the result.
    """
    net = network.copy()
    sizes = net.sizes
    if sum(sizes) > MAX_UNITS:
        raise ValueError(f"explain is for small networks (at most {MAX_UNITS} units), got {sizes}")
    X = net.check_input(np.asarray(x, dtype=float).reshape(1, -1), "input x")
    T = np.asarray(t, dtype=float).reshape(1, -1)
    if T.shape[1] != net.n_outputs:
        raise ValueError(
            f"target t has {T.shape[1]} values but the network has {net.n_outputs} outputs"
        )
    if not np.all(np.isfinite(T)):
        raise ValueError("target t must be finite")
    T = T.astype(net.dtype)
    loss_obj = resolve_loss(loss, net.output_activation)
    rule_obj = get_rule(rule)  # type: ignore[arg-type]
    if not isinstance(rule_obj, UpdateRule):
        raise ValueError(
            f"explain needs a step rule (gd, momentum, rprop, ...); {rule_obj.name!r} is a "
            "full-batch solver that searches along the gradient itself"
        )
    names = unit_names(sizes)
    old = net.params.copy()

    E = net.gradient(X, T, loss_obj)
    forward = [
        {"layer": layer + 1, "unit": name, "net": float(nv), "out": float(ov)}
        for layer in range(net.n_layers)
        for name, nv, ov in zip(
            names[layer + 1], net.nets[layer][0], net.outputs[layer][0], strict=True
        )
    ]
    backward = [
        {"layer": layer + 1, "unit": name, "delta": float(dv)}
        for layer in range(net.n_layers - 1, -1, -1)
        for name, dv in zip(names[layer + 1], net.deltas[layer][0], strict=True)
    ]
    grad = net.grad.copy()
    state = rule_obj.init(net.n_params, net.dtype)
    change = np.array(rule_obj.step(grad.copy(), state, E), dtype=net.dtype)
    if freeze_biases:
        change[~net.weight_mask()] = 0
    new = old + change

    weights = []
    grad_W, grad_b = net.layout.views(grad)
    change_W, change_b = net.layout.views(change)
    new_W, new_b = net.layout.views(new)
    for layer in range(net.n_layers):
        W = net.weights[layer]
        for j, to in enumerate(names[layer + 1]):
            for i, frm in enumerate(names[layer]):
                weights.append(
                    {
                        "name": f"w({frm}->{to})",
                        "from": frm,
                        "to": to,
                        "w": float(W[i, j]),
                        "gradient": float(grad_W[layer][i, j]),
                        "change": float(change_W[layer][i, j]),
                        "new": float(new_W[layer][i, j]),
                    }
                )
            weights.append(
                {
                    "name": f"b({to})",
                    "from": None,
                    "to": to,
                    "w": float(net.biases[layer][j]),
                    "gradient": float(grad_b[layer][j]),
                    "change": float(change_b[layer][j]),
                    "new": float(new_b[layer][j]),
                }
            )
    net.params[...] = new
    o_new = net.forward(X)
    E_new = loss_obj.total(o_new, T, net.nets[-1], net.output_activation)
    return Explanation(
        network={"sizes": list(sizes), "activations": [a.name for a in net.activations]},
        loss=loss_obj.name,
        rule={"name": rule_obj.name, "hyperparameters": rule_obj.hyperparameters()},
        x=[float(v) for v in X[0]],
        t=[float(v) for v in T[0]],
        forward=forward,
        error=float(E),
        backward=backward,
        weights=weights,
        new_outputs=[float(v) for v in o_new[0]],
        new_error=float(E_new),
        freeze_biases=freeze_biases,
        digits=digits,
    )
