"""Where one training step of the compiled epoch kernel goes, part by part (one thread).

    python bench/step_parts.py                 # the minibatch workload (64-128-10, batch 32)
    python bench/step_parts.py --repeats 9

Each part of a step runs alone in a compiled loop over the epoch's steps, with the
kernel's own loops (bprop.training.fast._kernels) at the workload's shapes: the five
matrix products (numba's np.dot into preallocated outputs, i.e. BLAS), the gather of the
block's rows, the bias + tanh pass, the tanh derivative with its bias sum, the softmax,
loss, accuracy and output bias sum, and the momentum update over all parameters. Beside
them: the whole step (the kernel through the Trainer) and the bench's GEMM limit (the
five products from Python, ``workloads.gemm_seconds``). Times are microseconds per step,
the best of ``--repeats``; parts measured alone do not add up to the step exactly (the
cache holds other data inside the kernel).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402
from workloads import WORKLOADS, gemm_seconds, make_data, train_bprop_trainer  # noqa: E402

import bprop.training.fast as fast  # noqa: E402
from bprop.core.activations import Softmax, Tanh  # noqa: E402
from bprop.core.losses import CategoricalCrossEntropy  # noqa: E402
from bprop.optim import Momentum  # noqa: E402
from bprop.training.fast import _kernels as kern  # noqa: E402
from bprop.training.metrics import AccuracyCounter  # noqa: E402


def _parts(steps: int):
    """The compiled loops, each running one part of a step ``steps`` times."""
    tanh = kern._jitable(Tanh.compiled.forward)
    bwd = kern._elementwise_backward(kern._jitable(Tanh.compiled.derivative))
    softmax = kern._jitable(Softmax.compiled.forward)
    delta = kern._fused_delta(kern._jitable(CategoricalCrossEntropy.compiled.fused_row(Softmax())))
    count = kern._count(kern._jitable(AccuracyCounter(Softmax(), np.eye(10)).compiled_form()))
    momentum = Momentum.compiled
    update = kern._update(
        kern._jitable(momentum.begin), kern._jitable(momentum.element), momentum.n_coefficients
    )
    times, grad_w, below, bias_sum = (
        kern._times,
        kern._weight_gradient,
        kern._times_transposed,
        kern._bias_gradient,
    )

    @nb.njit
    def products(a, m):
        xb, W1, net1, o1, W2, net2, d2, d1, gW1, gW2 = a
        for _ in range(steps):
            times(xb, W1, net1, m)
            times(o1, W2, net2, m)
            grad_w(o1, d2, gW2, m)
            below(d2, W2, d1, m)
            grad_w(xb, d1, gW1, m)

    @nb.njit
    def gather(X, order, xb, m):
        for s in range(steps):
            for r in range(m):
                p = order[(s * m + r) % order.shape[0]]
                for c in range(xb.shape[1]):
                    xb[r, c] = X[p, c]

    @nb.njit(error_model="numpy")
    def hidden_forward(net, saved, o, b, m, work):
        for _ in range(steps):
            net[:] = saved  # the product's output, as the pass finds it
            if work:  # the pass of _elementwise_forward
                for r in range(m):
                    for j in range(net.shape[1]):
                        x = net[r, j] + b[j]
                        net[r, j] = x
                        o[r, j] = tanh(x)

    @nb.njit(error_model="numpy")
    def hidden_backward(d, saved, net, o, gb, m, work):
        for _ in range(steps):
            d[:] = saved
            if work:
                bwd(d, net, o, gb, m)

    @nb.njit(error_model="numpy")
    def output(net, saved, o, b, T, d, aux, gb, m, work):
        E = 0.0
        for _ in range(steps):
            net[:] = saved
            if work:  # the pass of _row_forward, then the loss, accuracy and bias sum
                for r in range(m):
                    for j in range(net.shape[1]):
                        net[r, j] += b[j]
                    aux[r] = softmax(net, o, r)
                E += delta(o, net, T, d, m, aux)
                E += count(o, T, m, 0.5)
                bias_sum(d, gb, m)
        return E

    @nb.njit(error_model="numpy")
    def rule(P, G, V, h, c, m):
        for _ in range(steps):
            update(P, G, 1.0 / m, m, np.empty(0), False, h, (V,), V, 0, c, False)

    return products, gather, hidden_forward, hidden_backward, output, rule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    w = WORKLOADS["minibatch"]
    B, (n0, n1, n2) = w.batch, w.sizes
    steps = -(-w.n // B)
    rng = np.random.default_rng(0)
    X, y = make_data(w)
    order = rng.permutation(w.n)
    a = tuple(
        rng.standard_normal(s)
        for s in ((B, n0), (n0, n1), (B, n1), (B, n1), (n1, n2), (B, n2), (B, n2), (B, n1))
    ) + (np.zeros((n0, n1)), np.zeros((n1, n2)))
    xb, W1, net1, o1, W2, net2, d2, d1, _, _ = a
    net_saved, d_saved = net1.copy(), d1.copy()
    b1, b2, aux = np.zeros(n1), np.zeros(n2), np.zeros(B)
    T = np.eye(n2)[rng.integers(0, n2, B)]
    P = rng.standard_normal(n0 * n1 + n1 + n1 * n2 + n2) * 0.1
    G, V = rng.standard_normal(P.size), np.zeros(P.size)
    h, c = np.array([w.learning_rate, w.momentum]), np.zeros(2)
    products, gather, hidden_forward, hidden_backward, output, rule = _parts(steps)
    o2, net2_saved = np.zeros((B, n2)), net2.copy()

    def pair(fn, *args_):  # (the part, the same loop with only the input restored)
        return lambda: fn(*args_, True), lambda: fn(*args_, False)

    calls = {
        "5 products (BLAS via np.dot)": (lambda: products(a, B), None),
        "gather of the block's rows": (lambda: gather(X, order, xb, B), None),
        "bias + tanh, 32 x 128": pair(hidden_forward, net1, net_saved, o1, b1, B),
        "tanh derivative + bias sum": pair(hidden_backward, d1, d_saved, net1, o1, b1, B),
        "softmax, loss, accuracy, bias sum": pair(
            output, net2, net2_saved, o2, b2, T, d2, aux, b2, B
        ),
        "momentum update, all parameters": (
            lambda: rule(P, G, V, h, c, 1),  # |B| = 1: g stays g (no underflow)
            None,
        ),
    }
    for fn, base in calls.values():
        fn()
        if base is not None:
            base()
    spent = fast.run_epoch
    kernel = [0.0]

    def timed(*args_, **kw):
        start = time.perf_counter()
        try:
            return spent(*args_, **kw)
        finally:
            kernel[0] += time.perf_counter() - start

    fast.run_epoch = timed
    train_bprop_trainer(replace(w, n=2000, epochs=1), X[:2000], y[:2000])
    best = dict.fromkeys([*calls, "kernel", "fit", "gemm"], np.inf)
    for _ in range(args.repeats):
        best["gemm"] = min(best["gemm"], gemm_seconds(w, 1) / steps)
        kernel[0] = 0.0
        fit = train_bprop_trainer(w, X, y)
        best["fit"] = min(best["fit"], fit / steps / w.epochs)
        best["kernel"] = min(best["kernel"], kernel[0] / steps / w.epochs)
        for name, (fn, base) in calls.items():
            for key, f in ((name, fn), (f"{name} (input only)", base)):
                if f is not None:
                    start = time.perf_counter()
                    f()
                    best[key] = min(best.get(key, np.inf), (time.perf_counter() - start) / steps)
    for name, (_, base) in calls.items():  # less the copy that restores the input
        if base is not None:
            best[name] -= best.pop(f"{name} (input only)")
    us = {k: v * 1e6 for k, v in best.items()}
    print(f"minibatch {'-'.join(map(str, w.sizes))}, batch {B}, float64, one thread; us/step:")
    for name in calls:
        print(f"  {name:36s} {us[name]:7.2f}")
    print(f"  {'whole step (kernel)':36s} {us['kernel']:7.2f}")
    print(f"  {'whole step (Trainer.fit)':36s} {us['fit']:7.2f}")
    print(f"  {'GEMM limit (bench definition)':36s} {us['gemm']:7.2f}")
    print(f"fraction of the GEMM limit: fit {us['gemm'] / us['fit']:.3f}")


if __name__ == "__main__":
    main()
