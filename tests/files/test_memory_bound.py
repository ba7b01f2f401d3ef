"""Loading a model file costs at most 10x its size + 50 MB of peak memory (docs/cli.md).

Measured in a child process: the peak resident set size (``ru_maxrss``) before and after
one load, in a process forked for that load from one that has imported bprop and loaded
a small file of every kind already (so that imports and caches do not count). A control
case that allocates 200 MB shows the measurement sees an allocation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np

import bprop
from bprop import Network

MB = 2**20

_MEASURE = textwrap.dedent(
    """
    import os, resource, sys, json
    import numpy as np
    import bprop
    from bprop.training.checkpoint import load_checkpoint

    def load(path):
        try:
            return bprop.load(path) if not path.endswith(".ckpt") else load_checkpoint(path)
        except bprop.ModelFileError as exc:
            return exc

    warm, cases = sys.argv[1], sys.argv[2:]
    for p in warm.split(","):
        load(p)
    results = {}
    for path in cases:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if path == "control":
                x = np.ones(200 * 2**20 // 8)
                outcome = "ok"
            else:
                outcome = type(load(path)).__name__
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            os.write(w, json.dumps([outcome, (after - before) * 1024]).encode())
            os._exit(0)
        os.close(w)
        data = b""
        while chunk := os.read(r, 4096):
            data += chunk
        os.waitpid(pid, 0)
        results[path] = json.loads(data)
    print(json.dumps(results))
    """
)


def _split(raw: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict | str, data: bytes) -> bytes:
    h = (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(h).to_bytes(8, "little") + h + data


def _classifier(y_kind: str):
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, :2] > 0).astype(int) if y_kind == "multilabel" else (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bprop.MLPClassifier(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(X, y)


def _cases(d: Path) -> tuple[list[Path], dict[str, Path]]:
    warm = [d / "warm_net.bprop", d / "warm_est.bprop"]
    Network([2, 2], seed=0).save(warm[0])
    _classifier("multilabel").save(warm[1])
    cases: dict[str, Path] = {}

    # a legitimate large network: 1.2 million weights (10 MB)
    cases["large network"] = d / "large.bprop"
    Network([600, 2000, 10], "tanh", "softmax", seed=1).save(cases["large network"])

    # a multilabel classifier with 6,000 outputs: no 6000 x 6000 identity matrix (288 MB)
    est = _classifier("multilabel")
    est.network_ = Network([3, 2, 6000], "tanh", "logistic", seed=2)
    est.classes_ = np.arange(6000)
    est.n_outputs_ = 6000
    est._link_attributes()
    cases["multilabel 6000 classes"] = d / "multilabel.bprop"
    est.save(cases["multilabel 6000 classes"])

    # a header just under the 16 MiB cap made of [[],[],...] (metadata and header)
    net_raw = warm[0].read_bytes()
    header, data = _split(net_raw)
    header["__metadata__"]["bprop"] = "[" + ",".join(["[]"] * (5 * MB)) + "]"
    cases["nested lists in the metadata"] = d / "nested_meta.bprop"
    cases["nested lists in the metadata"].write_bytes(_join(header, data))
    header, data = _split(net_raw)
    h = json.dumps(header)[:-1] + ', "history": [' + ",".join(["[]"] * (5 * MB)) + "]}"
    cases["nested lists in the header"] = d / "nested_header.bprop"
    cases["nested lists in the header"].write_bytes(_join(h, data))

    # the most values the metadata may hold: 490,000 short distinct strings (accepted)
    header, data = _split(net_raw)
    meta = json.loads(header["__metadata__"]["bprop"])
    meta["notes"] = [f"{i:x}" for i in range(490_000)]
    header["__metadata__"]["bprop"] = json.dumps(meta)
    cases["many short strings"] = d / "strings.bprop"
    cases["many short strings"].write_bytes(_join(header, data))
    return warm, cases


def test_peak_memory_of_a_load_is_at_most_10x_the_file_plus_50_mb(tmp_path):
    warm, cases = _cases(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, ",".join(map(str, warm)), "control"]
        + [str(p) for p in cases.values()],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = json.loads(out.stdout)
    assert results["control"][1] >= 150 * MB, results  # the measurement sees allocations
    expected = {
        "large network": "Network",
        "multilabel 6000 classes": "MLPClassifier",
        "nested lists in the metadata": "ModelFileError",
        "nested lists in the header": "ModelFileError",
        "many short strings": "Network",
    }
    for name, path in cases.items():
        outcome, growth = results[str(path)]
        size = path.stat().st_size
        assert outcome == expected[name], (name, outcome)
        assert growth <= 10 * size + 50 * MB, (name, size / MB, growth / MB)
