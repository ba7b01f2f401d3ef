"""The benchmark workloads, and one training function per library.

Every library trains the same network on the same data (same dtype) with the same number
of updates; each ``train_*`` function returns the seconds its training call took (model
construction and data generation excluded, input validation included for bprop and
scikit-learn because a user pays it).

Equivalences (so that the work per update is the same):

- softmax + categorical cross-entropy (bprop) = ``nn.CrossEntropyLoss`` (PyTorch, log-softmax
  + NLL, mean over the batch) = ``MLPClassifier`` (scikit-learn, mean over the batch);
- momentum: bprop ``Momentum`` (Delta w = alpha Delta w - eta g) = scikit-learn's
  ``momentum`` with ``nesterovs_momentum=False`` = PyTorch ``SGD(momentum)`` at constant eta;
- fullbatch: bprop ``irprop-`` with Delta_0 = 0.01 = ``torch.optim.Rprop(lr=0.01)`` (which
  implements iRprop-, see ``bprop.optim.rprop``), loss 'mse' = ``nn.MSELoss``;
  scikit-learn has no RPROP: its L-BFGS is timed per iteration (``n_iter_``) instead.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, ...]
    hidden: str
    task: str  # 'classify' (softmax + cross-entropy) or 'regress' (identity + mse)
    batch: int  # 0 = full batch
    n: int
    dtype: type
    rule: str  # 'momentum' or 'rprop'
    epochs: int
    learning_rate: float = 0.01
    momentum: float = 0.9

    def scaled(self, factor: float) -> Workload:
        """The same workload on fewer samples (``--quick``)."""
        from dataclasses import replace

        return replace(self, n=max(int(self.n * factor), 4 * max(self.batch, 1)))


WORKLOADS = {
    w.name: w
    for w in (
        Workload("online", (64, 32, 10), "tanh", "classify", 1, 2_000, np.float64, "momentum", 3),
        Workload(
            "minibatch", (64, 128, 10), "tanh", "classify", 32, 20_000, np.float64, "momentum", 3
        ),
        Workload(
            "wide", (784, 512, 256, 10), "relu", "classify", 256, 20_000, np.float32, "momentum", 2
        ),
        Workload("fullbatch", (50, 64, 1), "tanh", "regress", 0, 100_000, np.float64, "rprop", 20),
    )
}


def make_data(w: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ~ N(0, 1); targets from a random teacher network, so that there is a signal."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((w.n, w.sizes[0]), dtype=np.float64).astype(w.dtype)
    R = rng.standard_normal((w.sizes[0], 16)) / np.sqrt(w.sizes[0])
    H = np.tanh(X @ R)
    if w.task == "classify":
        y = (H @ rng.standard_normal((16, w.sizes[-1]))).argmax(axis=1).astype(np.int64)
    else:
        y = (H @ rng.standard_normal(16) + 0.1 * rng.standard_normal(w.n)).astype(w.dtype)
    return X, y


# ---------------------------------------------------------------------------- bprop


def sklearn_kwargs(w: Workload) -> dict:
    """Constructor arguments of scikit-learn's MLP for the workload (bprop's take the same)."""
    kw: dict = dict(
        hidden_layer_sizes=w.sizes[1:-1],
        activation=w.hidden,
        alpha=0.0,
        max_iter=w.epochs,
        tol=0.0,
        n_iter_no_change=w.epochs + 1,
        random_state=0,
    )
    if w.rule == "momentum":
        kw.update(
            solver="sgd",
            batch_size=w.batch,
            learning_rate_init=w.learning_rate,
            momentum=w.momentum,
            nesterovs_momentum=False,
            shuffle=True,
        )
    else:
        kw.update(solver="lbfgs", max_fun=10 * w.epochs)
    return kw


def train_bprop(w: Workload, X: np.ndarray, y: np.ndarray, n_threads: int | None = None) -> float:
    """bprop through its scikit-learn estimator, with scikit-learn's arguments.

    fullbatch: ``solver='irprop-'`` with Delta_0 = 0.01 (PyTorch's Rprop) instead of L-BFGS.
    ``n_threads``: the estimator's BLAS threads (None: its automatic choice).
    """
    from bprop import MLPClassifier, MLPRegressor

    kw = sklearn_kwargs(w)
    kw["n_threads"] = n_threads
    if w.rule == "rprop":
        del kw["max_fun"]
        kw.update(solver="irprop-", solver_params={"delta0": 0.01})
    model = (MLPClassifier if w.task == "classify" else MLPRegressor)(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start


def train_bprop_trainer(w: Workload, X: np.ndarray, y: np.ndarray) -> float:
    """bprop through its Trainer (what the estimators call), without the estimator layer."""
    from bprop import Network, Trainer
    from bprop.optim import Momentum
    from bprop.optim.rprop import IRpropMinus

    output = "softmax" if w.task == "classify" else "identity"
    net = Network(w.sizes, w.hidden, output, seed=0, dtype=w.dtype)
    if w.rule == "momentum":
        rule = Momentum(learning_rate=w.learning_rate, momentum=w.momentum)
        mode = "online" if w.batch == 1 else "minibatch"
    else:
        rule = IRpropMinus(delta0=0.01)
        mode = "batch"
    trainer = Trainer(
        net,
        loss=None if w.task == "classify" else "mse",
        rule=rule,
        mode=mode,
        batch_size=max(w.batch, 1),
        max_epochs=w.epochs,
        seed=0,
        progress=False,
    )
    start = time.perf_counter()
    trainer.fit(X, y)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- PyTorch


def train_torch(w: Workload, X: np.ndarray, y: np.ndarray) -> float:
    """The usual PyTorch loop: randperm, index, zero_grad, forward, loss, backward, step."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "logistic": nn.Sigmoid}[w.hidden]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(w.sizes[:-1], w.sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(w.sizes) - 2:
            layers.append(act())
    tdtype = torch.float64 if w.dtype == np.float64 else torch.float32
    model = nn.Sequential(*layers).to(tdtype)
    Xt = torch.from_numpy(X)
    if w.task == "classify":
        yt = torch.from_numpy(y)
        loss_fn: nn.Module = nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(y).reshape(-1, 1)
        loss_fn = nn.MSELoss()
    if w.rule == "momentum":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=w.learning_rate, momentum=w.momentum
        )
    else:
        opt = torch.optim.Rprop(model.parameters(), lr=0.01)
    n = X.shape[0]
    start = time.perf_counter()
    if w.batch == 0:
        for _ in range(w.epochs):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt), yt).backward()
            opt.step()
    else:
        for _ in range(w.epochs):
            perm = torch.randperm(n)
            for s in range(0, n, w.batch):
                idx = perm[s : s + w.batch]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(Xt[idx]), yt[idx]).backward()
                opt.step()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- scikit-learn


def train_sklearn(w: Workload, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """scikit-learn's MLP; returns (seconds, epochs run). L-BFGS for the fullbatch workload."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    common = sklearn_kwargs(w)
    model = (MLPClassifier if w.task == "classify" else MLPRegressor)(**common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, int(model.n_iter_)


# ---------------------------------------------------------------------------- GEMM limit


def gemm_seconds(w: Workload, repeats: int = 3) -> float:
    """Seconds for one epoch of only the matrix products of training, at their real shapes.

    Per update on a block of B rows and per layer (n_in -> n_out): forward O W (B x n_in
    times n_in x n_out), backward O^T D (n_in x B times B x n_out), and D W^T (B x n_out
    times n_out x n_in) for every layer but the first (backpropagation never needs the
    delta of the inputs). NumPy ``matmul`` with preallocated ``out=`` arrays, the BLAS
    bprop uses, except for D W^T with a single unit above (inner dimension 1: an outer
    product, which NumPy's matmul does not send to BLAS and computes 3x slower than a
    broadcast multiply; bprop multiplies too). Best of ``repeats`` after an untimed pass.
    Full batch: B = n, one update per epoch.
    """
    rng = np.random.default_rng(1)
    B = w.n if w.batch == 0 else w.batch
    steps = 1 if w.batch == 0 else -(-w.n // w.batch)
    mats = []
    for layer, (a, b) in enumerate(zip(w.sizes[:-1], w.sizes[1:], strict=True)):
        Oin = rng.standard_normal((B, a)).astype(w.dtype)
        W = rng.standard_normal((a, b)).astype(w.dtype)
        D = rng.standard_normal((B, b)).astype(w.dtype)
        mats.append(
            (
                Oin,
                W,
                D,
                np.empty((B, b), w.dtype),
                np.empty((a, b), w.dtype),
                np.empty((B, a), w.dtype) if layer > 0 else None,
            )
        )

    def epoch() -> None:
        for _ in range(steps):
            for Oin, W, D, net, gW, below in mats:
                np.matmul(Oin, W, out=net)
                np.matmul(Oin.T, D, out=gW)
                if below is None:
                    continue
                if W.shape[1] == 1:
                    np.multiply(D, W.T, out=below)
                else:
                    np.matmul(D, W.T, out=below)

    epoch()  # untimed: the first touch of the output arrays costs page faults
    return best_seconds(epoch, repeats)


#: 1,000,000 rows x 20-16-3, logistic hidden, softmax output, float64: the full-batch
#: gradient and the L-BFGS comparison with Spark (bench/fullgrad.py, bench/dask_cluster.py)
FULLGRAD = Workload(
    "fullgrad", (20, 16, 3), "logistic", "classify", 0, 1_000_000, np.float64, "lbfgs", 1
)


def lbfgs_params(iterations: int) -> dict:
    """The MLPClassifier parameters of the 1M x 20-16-3 L-BFGS comparison with Spark:
    logistic hidden units, no penalty, exactly ``iterations`` iterations."""
    return dict(
        hidden_layer_sizes=(16,),
        activation="logistic",
        solver="lbfgs",
        alpha=0.0,
        max_iter=iterations,
        max_fun=100 * iterations,
        tol=0.0,
        random_state=0,
    )


def best_seconds(fn, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``fn()``."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
