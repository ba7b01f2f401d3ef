"""Write the torch.optim reference trajectories that tests/test_rules_torch_reference.py reads.

Run from the repository root (needs torch; the tests do not):

    .venv/bin/pip install torch==2.13.0
    .venv/bin/python tests/reference/make_torch_reference.py

A 3-4-2 network (tanh hidden, identity output) with fixed weights drawn here, ten fixed
patterns, loss = mean over patterns of 1/2 sum_k (t_k - o_k)^2 (bprop's 'squared_error'
averaged by the trainer), full batch, float64. For each optimiser the parameters after
each of STEPS steps are stored in bprop's flat layout (W_0 as (n_in, n_out) row-major,
b_0, W_1, b_1). L-BFGS is compared on a strictly convex problem (linear least squares,
a 3-1 identity network): torch.optim.LBFGS with the strong-Wolfe line search is run to
convergence and its end point stored, since its iterates differ from scipy's L-BFGS-B.

Variant correspondence (see the bprop.optim docstrings):
  SGD(lr)                       -> GradientDescent(lr)
  SGD(lr, momentum)             -> Momentum(lr, momentum)         (same while lr constant)
  SGD(lr, momentum, nesterov)   -> Nesterov(lr, momentum)         (same while lr constant)
  Adam(lr, betas, eps)          -> Adam(lr, beta_1, beta_2, epsilon)
  Rprop(lr, etas, step_sizes)   -> IRpropMinus(delta0=lr, eta_minus, eta_plus, delta_min, delta_max)
  RMSprop(lr, alpha, eps)       -> RMSprop(lr, rho=alpha, epsilon)
  Adagrad(lr, eps)              -> AdaGrad(lr, epsilon)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

STEPS = 15
OUT = Path(__file__).with_name("torch_trajectories.json")

OPTIMISERS = {
    "gd": (torch.optim.SGD, {"lr": 0.1}, {"learning_rate": 0.1}),
    "momentum": (
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9},
        {"learning_rate": 0.1, "momentum": 0.9},
    ),
    "nesterov": (
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"learning_rate": 0.1, "momentum": 0.9},
    ),
    "adam": (
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8},
        {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    ),
    "irprop-": (
        torch.optim.Rprop,
        {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)},
        {"delta0": 0.01, "eta_minus": 0.5, "eta_plus": 1.2, "delta_min": 1e-6, "delta_max": 50.0},
    ),
    "rmsprop": (
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
        {"learning_rate": 0.01, "rho": 0.99, "epsilon": 1e-8},
    ),
    "adagrad": (
        torch.optim.Adagrad,
        {"lr": 0.1, "eps": 1e-10},
        {"learning_rate": 0.1, "epsilon": 1e-10},
    ),
}


def flat(layers: list[torch.nn.Linear]) -> list[float]:
    parts = []
    for layer in layers:
        parts.append(layer.weight.detach().numpy().T.reshape(-1))
        parts.append(layer.bias.detach().numpy().reshape(-1))
    return np.concatenate(parts).tolist()


def make_net(W0, b0, W1, b1):
    l0, l1 = torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)
    with torch.no_grad():
        l0.weight.copy_(torch.tensor(W0.T))
        l0.bias.copy_(torch.tensor(b0))
        l1.weight.copy_(torch.tensor(W1.T))
        l1.bias.copy_(torch.tensor(b1))
    return [l0, l1]


def trajectories(X, T, W0, b0, W1, b1) -> dict:
    Xt, Tt = torch.tensor(X), torch.tensor(T)
    out = {}
    for name, (cls, torch_hp, bprop_hp) in OPTIMISERS.items():
        l0, l1 = make_net(W0, b0, W1, b1)
        opt = cls([*l0.parameters(), *l1.parameters()], **torch_hp)
        params, losses = [], []
        for _ in range(STEPS):
            opt.zero_grad()
            o = l1(torch.tanh(l0(Xt)))
            loss = 0.5 * ((o - Tt) ** 2).sum(dim=1).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            params.append(flat([l0, l1]))
        out[name] = {"bprop_hyperparameters": bprop_hp, "losses": losses, "params": params}
    return out


def lbfgs_endpoint(rng) -> dict:
    X = rng.normal(size=(20, 3))
    T = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(20, 1))
    w0 = rng.normal(size=3) * 0.1
    layer = torch.nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w0[None, :]))
        layer.bias.zero_()
    opt = torch.optim.LBFGS(
        layer.parameters(),
        lr=1.0,
        max_iter=200,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )
    Xt, Tt = torch.tensor(X), torch.tensor(T)

    def closure():
        opt.zero_grad()
        loss = 0.5 * ((layer(Xt) - Tt) ** 2).sum(dim=1).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return {
        "X": X.tolist(),
        "T": T.tolist(),
        "initial": [*w0.tolist(), 0.0],
        "final": flat([layer]),
        "final_loss": closure().item(),
    }


def main() -> None:
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    rng = np.random.default_rng(20260101)
    X = rng.normal(size=(10, 3))
    T = rng.normal(size=(10, 2))
    W0, b0 = rng.uniform(-0.8, 0.8, size=(3, 4)), rng.uniform(-0.2, 0.2, size=4)
    W1, b1 = rng.uniform(-0.8, 0.8, size=(4, 2)), rng.uniform(-0.2, 0.2, size=2)
    data = {
        "torch_version": torch.__version__,
        "network": {"sizes": [3, 4, 2], "hidden": "tanh", "output": "identity"},
        "X": X.tolist(),
        "T": T.tolist(),
        "weights": [W0.tolist(), W1.tolist()],
        "biases": [b0.tolist(), b1.tolist()],
        "steps": STEPS,
        "rules": trajectories(X, T, W0, b0, W1, b1),
        "lbfgs": lbfgs_endpoint(rng),
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
