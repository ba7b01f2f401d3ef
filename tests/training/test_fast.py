"""The compiled (numba) epoch kernel against the NumPy path, and its fall-backs.

The NumPy path is the reference: every test trains the same network twice from the same
seeds, once with the compiled path allowed and once inside ``bprop.training.fast.disabled()``,
and compares the weights. Learning rates are small enough that training is not chaotic
(with lr 0.05 and momentum 0.9 online, rounding differences of 1e-16 grow to O(1)).
"""

from __future__ import annotations

import numpy as np
import pytest

import bprop.training.fast as fast
from bprop import DivergenceWarning, Network, StopReason, Trainer
from bprop.optim import GradientDescent, Momentum, Nesterov
from bprop.optim.adaptive import Adam
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
    **kw,
):
    net = Network(sizes, hidden, output, seed=1, dtype=dtype)
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
        data = trainer._prepare(X, y, kw.get("sample_weight"), "X", "y")
        trainer.state = None
        assert fast.why_not(trainer, data) is None
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
    SklearnAdam(learning_rate=0.005, beta_1=0.8, epsilon=1e-7),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: type(r).__name__)
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
    for name in ("delta_w", "velocity", "m", "v"):
        if hasattr(ta.state.rule_state, name):
            np.testing.assert_allclose(
                getattr(ta.state.rule_state, name), getattr(tb.state.rule_state, name), atol=1e-12
            )
    assert getattr(ta.state.rule_state, "t", None) == getattr(tb.state.rule_state, "t", None)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    assert [r.metric for r in ha.records] == [r.metric for r in hb.records]
    assert not np.array_equal(na.params, Network([6, 9, 5, 3], "tanh", "softmax", seed=1).params)


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "targets"),
    [
        ("logistic", "logistic", "binary_cross_entropy", "multilabel"),
        ("relu", "identity", "squared_error", "real"),
        ("identity", "identity", "mse", "real"),
        ("tanh", "tanh", "squared_error", "sign"),
        ("relu", "logistic", "squared_error", "multilabel"),
        ("logistic", "relu", "mse", "real"),
    ],
)
@pytest.mark.parametrize(("mode", "batch_size"), [("online", 1), ("minibatch", 8)])
def test_every_supported_activation_and_loss(hidden, output, loss, targets, mode, batch_size):
    X, _ = _data(n=97)
    rng = np.random.default_rng(3)
    T = {
        "multilabel": (rng.random((97, 2)) > 0.5).astype(float),
        "real": rng.standard_normal((97, 2)),
        "sign": np.sign(rng.standard_normal((97, 2))) * 0.8,
    }[targets]
    if output == "relu":
        T = np.abs(T)
    rule = Momentum(learning_rate=0.01, momentum=0.5)
    (na, _, ha), (nb, _, hb) = _both(
        [6, 7, 2], hidden, output, rule, mode, batch_size, X, T, loss=loss
    )
    assert np.max(np.abs(na.params - nb.params)) <= 1e-12
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    assert [r.metric for r in ha.records] == [r.metric for r in hb.records]


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
    assert fast.why_not(t, t._prepare(X, y, None, "X", "y")) is None
    with pytest.warns(DivergenceWarning):
        history = t.fit(X, y)
    assert history.stop_reason.startswith("diverged")
    assert history.stop is StopReason.DIVERGED
    assert history.epochs == 1
    np.testing.assert_array_equal(net.params, start)  # the weights before the bad epoch


# The kernels' own tanh and logistic (vectorisable, see bprop.training.fast._kernels). Bound: the
# polynomial/rational approximations are good to about 1 ulp and each adds at most four
# roundings of 0.5 ulp, so 3 ulp of the exact value (measured: 1.3 for tanh, 2.2 for the
# logistic). The exact value comes from x86's 80-bit long double where there is one; else
# from NumPy / SciPy in double, which adds their own 1 ulp.
_EXTENDED = np.finfo(np.longdouble).nmant >= 63


def _ulps_from_exact(got, x, exact_long, reference_double):
    if _EXTENDED:
        ref = exact_long(x.astype(np.longdouble))
        bound = 3
    else:
        ref = reference_double(x)
        bound = 4
    ref64 = ref.astype(np.float64)
    normal = np.abs(ref64) > 1e-300
    err = np.abs(got[normal].astype(np.longdouble) - ref[normal])
    return float((err / np.spacing(np.abs(ref64[normal]))).max()), bound


def test_compiled_tanh_is_within_a_few_ulp():
    from bprop.training.fast import _kernels

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-30, 30, 100_000),
            rng.standard_normal(10_000) * 1e-6,
            [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 20.0, -20.0, 40.0, 1e300],
            [-1e300, 5e-324, -5e-324, np.inf, -np.inf],
        ]
    )
    out = np.empty_like(x)
    _kernels.tanh_array(x, out)
    worst, bound = _ulps_from_exact(out, x, np.tanh, np.tanh)
    assert worst <= bound
    assert out[x == np.inf][0] == 1.0 and out[x == -np.inf][0] == -1.0
    assert np.signbit(out[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()
    nan = np.array([np.nan])
    _kernels.tanh_array(nan, nan)
    assert np.isnan(nan[0])  # so that a diverging epoch is still detected


def test_compiled_logistic_is_within_a_few_ulp():
    from scipy.special import expit

    from bprop.training.fast import _kernels

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-40, 40, 100_000),
            rng.uniform(-745, 745, 100_000),
            [0.0, -0.0, 708.0, -708.0, 709.0, -709.0, 800.0, -800.0, np.inf, -np.inf],
        ]
    )
    out = np.empty_like(x)
    _kernels.logistic_array(x, out)
    worst, bound = _ulps_from_exact(out, x, lambda v: 1 / (1 + np.exp(-v)), expit)
    assert worst <= bound
    below = expit(x) <= 1e-300  # x below -708: both all but 0
    assert np.abs(out - expit(x))[below].max() < 1e-307
    assert out[x == np.inf][0] == 1.0
    nan = np.array([np.nan])
    _kernels.logistic_array(nan, nan)
    assert np.isnan(nan[0])


# ---------------------------------------------------------------- fall-backs


class _MyMomentum(Momentum):
    """A subclass may change step(): it must go through NumPy."""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mode": "batch"}, "mode 'batch'"),
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
    assert reason in fast.why_not(t, t._prepare(X, y, sw, "X", "y"))
    t.fit(X, y, sample_weight=sw)
    ref, r = make()
    with fast.disabled():
        r.fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(net.params, ref.params)  # the very same NumPy path


def test_falls_back_when_numba_is_missing(monkeypatch):
    X, y = _data(n=60)
    monkeypatch.setitem(fast._state, "kernels", None)
    monkeypatch.setitem(fast._state, "import_error", ImportError("No module named 'numba'"))
    assert not fast.available()
    net = Network([6, 5, 3], "tanh", "softmax", seed=1)
    t = Trainer(net, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    assert "kernel is not available" in fast.why_not(t, t._prepare(X, y, None, "X", "y"))
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
        fast._state, "kernels", SimpleNamespace(run_epoch=broken, NumbaError=NumbaError)
    )
    monkeypatch.setitem(fast._state, "import_error", None)
    X, y = _data(n=60)
    net = Network([6, 5, 3], "tanh", "softmax", seed=1)
    t = Trainer(net, rule="momentum", mode="online", max_epochs=2, seed=2, progress=False)
    with pytest.warns(RuntimeWarning, match="could not be compiled.*NumPy path"):
        t.fit(X, y)
    assert "TypingError" in fast.why_not(t, t._prepare(X, y, None, "X", "y"))
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
        assert "disabled" in fast.why_not(t, t._prepare(X, y, None, "X", "y"))
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
