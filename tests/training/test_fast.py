"""The compiled (numba) epoch kernel against the NumPy path, and its fall-backs.

The NumPy path is the reference: every test trains the same network twice from the same
seeds, once with the compiled path allowed and once inside ``bprop.training.fast.disabled()``,
and compares the weights. Learning rates are small enough that training is not chaotic
(with lr 0.05 and momentum 0.9 online, rounding differences of 1e-16 grow to O(1)).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import bprop.training.fast as fast
from bprop import DivergenceWarning, Network, StopReason, Trainer
from bprop.core.activations import Activation, Tanh
from bprop.optim import GradientDescent, Momentum, Nesterov
from bprop.optim.adaptive import AdaGrad, Adam, RMSprop
from bprop.sklearn._solvers import SklearnAdam

pytest.importorskip("numba", reason="the compiled path needs numba (bprop[fast])")


def _data(n: int = 203, n_in: int = 6, n_out: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    labels = rng.integers(0, n_out, n)
    return X, labels


def _train(
    sizes,
    hidden,
    output,
    rule,
    mode,
    batch_size,
    X,
    y,
    *,
    compiled: bool,
    dtype=np.float64,
    epochs: int = 3,
    output_bias: float | None = None,
    **kw,
):
    net = Network(sizes, hidden, output, seed=1, dtype=dtype)
    if output_bias is not None:  # keeps a relu output unit alive at the start
        net.biases[-1][:] = output_bias
    trainer = Trainer(
        net,
        rule=rule,
        mode=mode,
        batch_size=batch_size,
        max_epochs=epochs,
        seed=2,
        progress=False,
        **kw,
    )
    if compiled:
        assert trainer.fast_path_reason() is None
        history = trainer.fit(X, y)
    else:
        with fast.disabled():
            history = trainer.fit(X, y)
    return net, trainer, history


def _both(*args, **kw):
    a = _train(*args, compiled=True, **kw)
    b = _train(*args, compiled=False, **kw)
    return a, b


RULES = [
    GradientDescent(learning_rate=0.05),
    Momentum(learning_rate=0.01, momentum=0.9),
    Nesterov(learning_rate=0.01, momentum=0.8),
    Adam(learning_rate=0.005),
    Adam(learning_rate=0.005, beta_2=0.99, epsilon=1e-6, epsilon_placement="efficient"),
    SklearnAdam(learning_rate=0.005, beta_1=0.8, epsilon=1e-7),
    AdaGrad(learning_rate=0.02),
    RMSprop(learning_rate=0.002, rho=0.9),
]


def _rule_id(rule):
    return f"{type(rule).__name__}-{getattr(rule, 'epsilon_placement', '')}".rstrip("-")


@pytest.mark.parametrize("decay", [0.0, 1e-3])
def test_grad_holds_the_last_blocks_g_as_on_the_numpy_path(decay):
    """After a compiled epoch, ``network.grad`` holds g of the epoch's last block (the
    blocks before it do not write it back), as the NumPy path leaves it."""
    X, y = _data()
    (na, _, _), (nb, _, _) = _both(
        [6, 9, 5, 3], "tanh", "softmax", Momentum(learning_rate=0.01, momentum=0.9),
        "minibatch", 16, X, y, epochs=1, weight_decay=decay,
    )  # fmt: skip
    assert np.any(nb.grad != 0)
    np.testing.assert_allclose(na.grad, nb.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
@pytest.mark.parametrize(
    ("mode", "batch_size"), [("online", 1), ("minibatch", 3), ("minibatch", 16)]
)
def test_same_weights_as_numpy_float64(rule, mode, batch_size):
    # 203 patterns: the last mini-batch is partial (203 = 67 * 3 + 2 = 12 * 16 + 11).
    X, y = _data()
    (na, ta, ha), (nb, tb, hb) = _both(
        [6, 9, 5, 3], "tanh", "softmax", rule, mode, batch_size, X, y
    )
    np.testing.assert_allclose(na.params, nb.params, rtol=0, atol=1e-12)
    assert np.max(np.abs(na.params - nb.params)) <= 1e-12
    # The rule state carries on identically (resume, checkpoints).
    for name in ("delta_w", "velocity", "m", "v", "sq"):
        if hasattr(ta.state.rule_state, name):
            np.testing.assert_allclose(
                getattr(ta.state.rule_state, name), getattr(tb.state.rule_state, name), atol=1e-12
            )
    assert getattr(ta.state.rule_state, "t", None) == getattr(tb.state.rule_state, "t", None)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    assert [r.metric for r in ha.records] == [r.metric for r in hb.records]
    assert not np.array_equal(na.params, Network([6, 9, 5, 3], "tanh", "softmax", seed=1).params)


#: Every output activation with a compiled form once, with each loss form (squared_error
#: and mse in turn for the elementwise outputs), and the targets it fits: each pair is a
#: kernel of its own to compile, so not the full product of outputs and element losses.
PAIRS = [
    ("identity", "squared_error"),
    ("logistic", "mse"),
    ("tanh", "squared_error"),
    ("relu", "mse"),
    ("gaussian", "squared_error"),
    ("softplus", "mse"),
    ("exp", "squared_error"),
    ("logistic", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
]
#: Every activation with an elementwise compiled form, one per hidden layer.
HIDDEN = ("identity", "logistic", "tanh", "relu", "gaussian", "softplus")


def _targets(output: str, loss: str, rng, n: int, k: int) -> np.ndarray:
    if loss in ("binary_cross_entropy", "categorical_cross_entropy"):
        T = (rng.random((n, k)) > 0.5).astype(float)
        if loss == "categorical_cross_entropy":
            T = np.eye(k)[rng.integers(0, k, n)]
        return T
    lo, hi = {"logistic": (0, 1), "gaussian": (0, 1), "tanh": (-0.8, 0.8)}.get(output, (0, 2))
    return rng.uniform(lo, hi, (n, k))


@pytest.mark.parametrize(("output", "loss"), PAIRS)
@pytest.mark.parametrize(("mode", "batch_size"), [("online", 1), ("minibatch", 8)])
def test_every_compiled_activation_and_loss(output, loss, mode, batch_size):
    # One hidden layer per elementwise activation: each one's forward and derivative
    # run in every kernel, under every (output, loss) pair.
    X, _ = _data(n=97)
    T = _targets(output, loss, np.random.default_rng(3), 97, 3)
    rule = Momentum(learning_rate=0.01, momentum=0.5)
    sizes = [6, 7, 6, 7, 6, 7, 5, 3]
    # The deep stack gives nearly the same last hidden outputs for every pattern: an output
    # bias of 1 keeps relu output units from starting dead (no gradient anywhere).
    (na, _, ha), (nb, _, hb) = _both(sizes, list(HIDDEN), output, rule, mode, batch_size, X, T,
                                     loss=loss, output_bias=1.0)  # fmt: skip
    assert np.max(np.abs(na.params - nb.params)) <= 1e-12
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    assert [r.metric for r in ha.records] == [r.metric for r in hb.records]
    start = Network(sizes, list(HIDDEN), output, seed=1)
    start.biases[-1][:] = 1.0
    assert np.abs(na.params - start.params)[: start.layout.layers[0].end].max() > 0  # reached


@pytest.mark.parametrize(
    ("rule", "output", "loss"),
    # the rules in turn with an element loss and a fused one (each rule meets the fused
    # softmax pair in test_same_weights_as_numpy_float64 too)
    [(rule, *(PAIRS[1] if i % 2 else PAIRS[-2])) for i, rule in enumerate(RULES)],
    ids=[_rule_id(rule) for rule in RULES],
)
def test_every_rule_with_an_element_loss_and_a_fused_one(rule, output, loss):
    X, _ = _data(n=61)
    T = _targets(output, loss, np.random.default_rng(4), 61, 2)
    (na, ta, ha), (nb, tb, hb) = _both(
        [6, 5, 4, 2], ["softplus", "relu"], output, rule, "minibatch", 5, X, T, loss=loss
    )
    assert np.max(np.abs(na.params - nb.params)) <= 1e-12
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)


@pytest.mark.parametrize("scaling", ["mean", "sum"])
def test_weight_decay_schedule_and_no_shuffle(scaling):
    X, y = _data()

    def schedule(epoch, history):
        return 0.02 / epoch

    (na, ta, ha), (nb, tb, hb) = _both(
        [6, 8, 3],
        "tanh",
        "softmax",
        Nesterov(learning_rate=0.02, momentum=0.9),
        "minibatch",
        10,
        X,
        y,
        weight_decay=1e-2,
        weight_decay_scaling=scaling,
        schedule=schedule,
        shuffle=False,
        epochs=4,
    )
    assert np.max(np.abs(na.params - nb.params)) <= 1e-12
    assert [r.learning_rate for r in ha.records] == [0.02, 0.01, 0.02 / 3, 0.005]
    assert ta.epoch_penalty > 0
    assert ta.epoch_penalty == pytest.approx(tb.epoch_penalty, rel=1e-12)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)


def test_float32_agrees_to_float32_rounding():
    X, y = _data()
    (na, _, _), (nb, _, _) = _both(
        [6, 9, 3],
        "tanh",
        "softmax",
        Momentum(0.01, 0.9),
        "minibatch",
        5,
        X,
        y,
        dtype=np.float32,
    )
    assert na.params.dtype == np.float32
    # measured: 1 ulp (1.2e-7); allow a few ulp of float32 at |w| ~ 1
    np.testing.assert_allclose(na.params, nb.params, rtol=0, atol=1e-6)


def test_resume_continues_with_the_compiled_state():
    X, y = _data()
    net = Network([6, 8, 3], "tanh", "softmax", seed=1)
    t = Trainer(net, rule=Momentum(0.01, 0.9), mode="online", max_epochs=2, seed=2, progress=False)
    t.fit(X, y)
    t.fit(X, y, resume=True)
    ref = Network([6, 8, 3], "tanh", "softmax", seed=1)
    r = Trainer(ref, rule=Momentum(0.01, 0.9), mode="online", max_epochs=4, seed=2, progress=False)
    with fast.disabled():
        r.fit(X, y)
    assert np.max(np.abs(net.params - ref.params)) <= 1e-12


def test_divergence_is_caught_and_weights_restored():
    X, y = _data()
    X = X * 1e3
    net = Network([6, 8, 3], "relu", "softmax", seed=1)
    start = net.params.copy()
    t = Trainer(net, rule=GradientDescent(1e6), mode="online", max_epochs=5, seed=0, progress=False)
    assert t.fast_path_reason() is None
    with pytest.warns(DivergenceWarning):
        history = t.fit(X, y)
    assert history.stop_reason.startswith("diverged")
    assert history.stop is StopReason.DIVERGED
    assert history.epochs == 1
    np.testing.assert_array_equal(net.params, start)  # the weights before the bad epoch


# ---------------------------------------------------------------- fall-backs


class _MyMomentum(Momentum):
    """A subclass may change step(): it must go through NumPy."""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"hidden": "leaky_relu"}, "hidden activation 'leaky_relu'"),
        ({"hidden": "softmax"}, "hidden activation 'softmax'"),
        ({"rule": _MyMomentum(0.01, 0.9)}, "rule _MyMomentum"),
        ({"output": "softmax", "loss": "squared_error"}, "loss 'squared_error' with output"),
        ({"output": "logistic", "loss": "categorical_cross_entropy"}, "loss 'categorical"),
        ({"sample_weight": True}, "sample weights"),
    ],
)
def test_falls_back_to_numpy_where_it_does_not_apply(change, reason):
    X, y = _data(n=60)
    hidden = change.get("hidden", "tanh")
    output = change.get("output", "softmax")
    kw = {"loss": change["loss"]} if "loss" in change else {}
    sw = np.random.default_rng(0).random(60) + 0.5 if "sample_weight" in change else None

    def make():
        net = Network([6, 5, 3], hidden, output, seed=1)
        return net, Trainer(
            net,
            rule=change.get("rule", Momentum(0.01, 0.9)),
            mode=change.get("mode", "minibatch"),
            batch_size=7,
            max_epochs=2,
            seed=2,
            progress=False,
            **kw,
        )

    net, t = make()
    assert reason in t.fast_path_reason(weighted=sw is not None)
    t.fit(X, y, sample_weight=sw)
    ref, r = make()
    with fast.disabled():
        r.fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(net.params, ref.params)  # the very same NumPy path


class _Cube(Activation):
    """An activation defined here, without a compiled form: phi(x) = x^3 / 3."""

    name = "cube"

    def forward(self, net, out):
        np.power(net, 3, out=out)
        out /= 3.0
        return out

    def backward(self, dE_do, net, o, out):
        np.multiply(dE_do, net * net, out=out)
        return out


class _MyTanh(Tanh):
    """A subclass inherits no compiled form (it may change forward or backward)."""


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "reason"),
    [
        (_Cube(), "softmax", None, "hidden activation 'cube'"),
        ("tanh", _Cube(), "squared_error", "loss 'squared_error' with output 'cube'"),
        (_MyTanh(), "softmax", None, "hidden activation 'tanh'"),
    ],
)
def test_an_activation_without_a_compiled_form_trains_with_numpy(hidden, output, loss, reason):
    X, y = _data(n=60)
    if loss == "squared_error":
        y = np.random.default_rng(5).standard_normal((60, 3))

    def make():
        net = Network([6, 5, 3], hidden, output, seed=1)
        return net, Trainer(net, loss=loss, rule=Momentum(0.01, 0.9), mode="online",
                            max_epochs=2, seed=2, progress=False)  # fmt: skip

    net, t = make()
    assert reason in t.fast_path_reason()
    t.fit(X, y)
    ref, r = make()
    with fast.disabled():
        r.fit(X, y)
    np.testing.assert_array_equal(net.params, ref.params)  # the very same NumPy path
    assert not np.array_equal(net.params, Network([6, 5, 3], hidden, output, seed=1).params)


def test_importing_bprop_and_the_definitions_does_not_import_numba():
    code = (
        "import sys, bprop, bprop.core.activations, bprop.core.losses, bprop.optim, "
        "bprop.training.metrics, bprop.training.fast\n"
        "print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cache_key_of_a_kernel_is_the_same_in_every_process():
    # numba's on-disk cache keys a kernel on its pickled closure: anything pickled with a
    # per-process id (numba's intrinsics, dispatchers) would make every process compile.
    code = (
        "import hashlib\n"
        "from numba.core.serialize import dumps\n"
        "from bprop.core.activations import Softmax, Tanh\n"
        "from bprop.core.losses import CategoricalCrossEntropy\n"
        "from bprop.optim import Adam\n"
        "from bprop.training.fast import _kernels\n"
        "fn = _kernels.build((Tanh.compiled,), Softmax.compiled, None,\n"
        "    CategoricalCrossEntropy.compiled.fused[0][1], None, Adam.compiled)\n"
        "assert fn._cache.__class__.__name__ != 'NullCache'  # cached on disk\n"
        "cells = tuple(c.cell_contents for c in fn.py_func.__closure__)\n"
        "print(hashlib.sha256(dumps(cells)).hexdigest())"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(keys) == 1


def test_the_cache_token_follows_the_definitions():
    from bprop.training.fast import _kernels

    def phi(x):
        return x

    def other(x):
        return x + 1.0

    assert _kernels._token("epoch", [phi]) == _kernels._token("epoch", [phi])
    assert _kernels._token("epoch", [phi]) != _kernels._token("epoch", [other])
    assert _kernels._token("epoch", [phi]) != _kernels._token("block", [phi])
    # the same definitions in other roles are another composition
    assert _kernels._token("epoch", [phi, other]) != _kernels._token("epoch", [other, phi])


def test_kernels_release_the_gil():
    """The kernels run without the GIL, so that a prefetch thread (or a Dask worker's other
    tasks) can run Python meanwhile."""
    from bprop.training.fast import _kernels

    def add_one(x):
        x[0] += 1.0

    kernel = _kernels.cached_kernel(add_one, "0" * 64)
    assert kernel.targetoptions["nogil"] is True
    x = np.zeros(1)
    kernel(x)
    assert x[0] == 1.0


#: Trains one composition (argv: hidden, output) and prints its weights; the kernel comes
#: from numba's on-disk cache in NUMBA_CACHE_DIR when it is there.
_ONE_COMPOSITION = """
import json, sys
import numpy as np
from bprop import Network, Trainer
hidden, output = sys.argv[1:3]
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3)); y = 1 / (1 + np.exp(-X[:, :1]))
net = Network([3, 4, 1], hidden, output, seed=0)
t = Trainer(net, loss="squared_error", rule="momentum", mode="online", max_epochs=2,
            seed=0, progress=False)
assert t.fast_path_reason() is None, t.fast_path_reason()
t.fit(X, y)
print(json.dumps(net.params.tolist()))
"""


def test_compositions_compiled_at_once_in_two_processes_load_as_their_own(tmp_path):
    """Two processes compile two compositions that differ only in roles (tanh and logistic
    swapped) into one empty cache directory at the same time; fresh processes then load
    each from the cache, and each gives its own weights (the NumPy path's, to rounding)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    pairs = [("tanh", "logistic"), ("logistic", "tanh")]

    def start(pair):
        cmd = [sys.executable, "-c", _ONE_COMPOSITION, *pair]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)

    compiling = [start(pair) for pair in pairs]
    first = [p.communicate(timeout=600)[0] for p in compiling]
    assert all(p.returncode == 0 for p in compiling)
    loading = [start(pair) for pair in pairs]
    again = [p.communicate(timeout=600)[0] for p in loading]
    assert all(p.returncode == 0 for p in loading)
    for pair, out, out_again in zip(pairs, first, again, strict=True):
        assert "data loaded" in out_again  # from the cache, not compiled anew
        cached = np.array(json.loads(out_again.strip().splitlines()[-1]))
        np.testing.assert_array_equal(cached, json.loads(out.strip().splitlines()[-1]))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((40, 3))
        y = 1 / (1 + np.exp(-X[:, :1]))
        net = Network([3, 4, 1], *pair, seed=0)
        t = Trainer(net, loss="squared_error", rule="momentum", mode="online", max_epochs=2,
                    seed=0, progress=False)  # fmt: skip
        with fast.disabled():
            t.fit(X, y)
        np.testing.assert_allclose(cached, net.params, rtol=1e-12, atol=1e-15)


def test_falls_back_when_numba_is_missing(monkeypatch):
    X, y = _data(n=60)
    monkeypatch.setitem(fast._state, "kernels", None)
    monkeypatch.setitem(fast._state, "import_error", ImportError("No module named 'numba'"))
    assert not fast.available()
    net = Network([6, 5, 3], "tanh", "softmax", seed=1)
    t = Trainer(net, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    assert "kernel is not available" in t.fast_path_reason()
    t.fit(X, y)
    ref = Network([6, 5, 3], "tanh", "softmax", seed=1)
    r = Trainer(ref, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    with fast.disabled():
        r.fit(X, y)
    np.testing.assert_array_equal(net.params, ref.params)


def test_falls_back_with_a_warning_when_compilation_fails(monkeypatch):
    from types import SimpleNamespace

    from numba.core.errors import NumbaError, TypingError

    def broken(*args):
        raise TypingError("no implementation for this numba version")

    monkeypatch.setitem(
        fast._state, "kernels", SimpleNamespace(build=lambda *forms: broken, NumbaError=NumbaError)
    )
    monkeypatch.setitem(fast._state, "built", {})
    monkeypatch.setitem(fast._state, "import_error", None)
    X, y = _data(n=60)
    net = Network([6, 5, 3], "tanh", "softmax", seed=1)
    t = Trainer(net, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    with pytest.warns(RuntimeWarning, match="could not be compiled.*NumPy path"):
        t.fit(X, y)
    assert "TypingError" in t.fast_path_reason()
    ref = Network([6, 5, 3], "tanh", "softmax", seed=1)
    r = Trainer(ref, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    with fast.disabled():
        r.fit(X, y)
    np.testing.assert_array_equal(net.params, ref.params)


def test_switches():
    assert fast.enabled()
    with fast.disabled():
        assert not fast.enabled()
    assert fast.enabled()
    fast.set_enabled(False)
    try:
        X, y = _data(n=10)
        t = Trainer(Network([6, 3], "identity", "softmax"), mode="online", progress=False)
        assert "disabled" in t.fast_path_reason()
    finally:
        fast.set_enabled(True)
    assert fast.available()


@pytest.mark.parametrize(
    ("value", "expected"), [("0", False), ("off", False), ("1", True), ("", True)]
)
def test_environment_switch(value, expected):
    assert fast._env_enabled(value) is expected


def test_run_epoch_is_reached_through_the_trainer(monkeypatch):
    calls = []
    original = fast.run_epoch

    def spy(*args, **kw):
        result = original(*args, **kw)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(fast, "run_epoch", spy)
    X, y = _data(n=40)
    Trainer(
        Network([6, 4, 3], "tanh", "softmax", seed=0), mode="online", max_epochs=3, progress=False
    ).fit(X, y)
    assert calls == [True, True, True]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_the_estimators_reach_the_kernel(monkeypatch, solver):
    from bprop import MLPClassifier

    results = []
    original = fast.run_epoch

    def spy(*args, **kw):
        result = original(*args, **kw)
        results.append(result is not None)
        return result

    monkeypatch.setattr(fast, "run_epoch", spy)
    X, y = _data(n=150)

    def fit():
        clf = MLPClassifier(
            hidden_layer_sizes=(8,),
            solver=solver,
            alpha=1e-3,
            batch_size=16,
            max_iter=4,
            random_state=0,
        )
        with pytest.warns(Warning):  # ConvergenceWarning: 4 epochs
            return clf.fit(X, y)

    a = fit()
    assert results and all(results)
    with fast.disabled():
        b = fit()
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
