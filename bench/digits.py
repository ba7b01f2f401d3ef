"""The demo's digits model against scikit-learn's default MLPClassifier on the same split.

bprop: ``bprop.training.demo.digits_demo()`` with its defaults (what ``bprop demo`` runs). It trains
on 85% of the training split and uses the other 15% for early stopping. scikit-learn:
``MLPClassifier()`` with every default (100 relu units, Adam, up to 200 epochs) trained on
the whole training split, with the same standardisation. Both are tested on the same 25%
test split. Prints one JSON line.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np


def main() -> None:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from bprop.training.demo import digits_demo

    digits_demo(max_epochs=1)  # warm-up: imports and the compiled kernel's cache
    ours = digits_demo()
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    scaler = StandardScaler().fit(X_train)
    clf = MLPClassifier(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(scaler.transform(X_train), y_train)
        seconds = time.perf_counter() - start
    accuracy = float(np.mean(clf.predict(scaler.transform(X_test)) == y_test))
    print(
        json.dumps(
            {
                "bprop_accuracy": ours["test_accuracy"],
                "bprop_seconds": ours["seconds"],
                "bprop_epochs": ours["history"].epochs,
                "sklearn_accuracy": accuracy,
                "sklearn_seconds": seconds,
                "sklearn_epochs": int(clf.n_iter_),
            }
        )
    )


if __name__ == "__main__":
    main()
