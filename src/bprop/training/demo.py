"""The demo: digits (shipped with scikit-learn, no download) and XOR, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bprop.core.network import Network
from bprop.training.build import build_rule, validation_split
from bprop.training.stopping import AllCorrect, EarlyStopping
from bprop.training.trainer import Trainer

__all__ = ["digits_demo", "xor_demo"]


def digits_demo(
    *, seed: int = 0, max_epochs: int = 60, hidden: int = 64, progress: bool | None = None
) -> dict:
    """Train 64-hidden-10 (tanh, softmax, cross-entropy) on scikit-learn's 8x8 digits.

    A stratified 25% test split is held out; 15% of the rest is the validation set for
    early stopping (best weights restored). Inputs are standardised with the training
    split's statistics. Returns the test accuracy, the history and the time taken.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    (X_fit, y_fit), (X_val, y_val) = validation_split(
        (X_train, y_train), 0.15, seed, stratify=y_train
    )
    scaler = StandardScaler().fit(X_fit)
    net = Network([64, hidden, 10], "tanh", "softmax", init="xavier_uniform", seed=seed)
    trainer = Trainer(
        net,
        rule=build_rule("momentum", {"momentum": 0.9}, learning_rate=0.05),
        mode="minibatch",
        batch_size=32,
        max_epochs=max_epochs,
        stopping=[EarlyStopping(patience=10)],
        seed=seed,
        progress=progress,
    )
    start = time.perf_counter()
    history = trainer.fit(
        scaler.transform(X_fit), y_fit, validation_data=(scaler.transform(X_val), y_val)
    )
    seconds = time.perf_counter() - start
    predicted = net.predict(scaler.transform(X_test)).argmax(axis=1)
    return {
        "network": net,
        "history": history,
        "test_accuracy": float(np.mean(predicted == y_test)),
        "n_train": len(y_fit),
        "n_test": len(y_test),
        "seconds": seconds,
    }


def xor_demo(*, seed: int = 1, max_epochs: int = 5000) -> dict:
    """XOR with the classic 2-2-1 logistic network, squared error, batch momentum.

    Trains until every pattern is on the right side of 0.5 and the error is small.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    net = Network([2, 2, 1], "logistic", "logistic", init="uniform", seed=seed)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=build_rule("momentum", {"momentum": 0.9}, learning_rate=0.5),
        mode="batch",
        max_epochs=max_epochs,
        stopping=[_AllCorrectAndSmall(0.002)],
        progress=False,
    )
    history = trainer.fit(X, y)
    return {"network": net, "history": history, "X": X, "y": y, "outputs": net.predict(X)[:, 0]}


class _AllCorrectAndSmall(AllCorrect):
    """Every pattern correct and the mean error below a bound (so outputs are clear)."""

    def __init__(self, bound: float) -> None:
        self.bound = bound

    def check(self, history):
        if history.records[-1].loss < self.bound and super().check(history):
            return f"all_correct: every pattern correct, error < {self.bound:g}"
        return None


def run(print_fn: Callable[[str], None] = print, *, quick: bool = False, progress=None) -> dict:
    """Run both demos and print what a person wants to see."""
    epochs = 15 if quick else 60
    print_fn("bprop demo 1/2: handwritten digits (scikit-learn's 8x8 digits, 1,797 images)")
    d = digits_demo(max_epochs=epochs, progress=progress)
    h = d["history"]
    print_fn(
        f"  network 64-64-10 (tanh, softmax), cross-entropy, momentum; "
        f"{d['n_train']} training, {d['n_test']} test images"
    )
    print_fn(f"  stopped after {h.epochs} epochs: {h.stop_reason}")
    if h.best_epoch is not None:
        print_fn(f"  weights of epoch {h.best_epoch} (lowest validation loss) restored")
    print_fn(f"  training time {d['seconds']:.2f} s")
    print_fn(f"  test accuracy: {d['test_accuracy']:.4f}")
    print_fn("")
    print_fn("bprop demo 2/2: XOR with a 2-2-1 logistic network")
    x = xor_demo()
    print_fn(f"  stopped after {x['history'].epochs} epochs: {x['history'].stop_reason}")
    for inputs, target, out in zip(x["X"], x["y"], x["outputs"], strict=True):
        print_fn(f"  {int(inputs[0])} xor {int(inputs[1])} = {int(target)}   network: {out:.4f}")
    return {"digits": d, "xor": x}
