"""Fuzz the model-file loaders: mutated files of every kind load or raise ModelFileError.

    PYTHONPATH=src python bench/fuzz_model_files.py --files 100000 [--seed 0] [--out DIR]
        [--kinds network,estimator,cli,checkpoint,pipeline]

Builds one or more valid files of every kind (network, estimator, CLI model, checkpoint,
pipeline: saved scikit-learn Pipelines of every step type the pipeline file stores),
then mutates them (byte flips, truncations, insertions, header JSON mutations: hostile
values at every key path, deleted and added keys, tensor entries with odd dtypes, shapes,
offsets and non-canonical names, raw JSON tokens such as 1e400, 10**400 or deep nesting)
and loads each with the loader of its kind. Any exception other than ModelFileError is a
failure: its file is kept in --out and the run exits 1. Prints counts per kind and outcome.

The same mutator (``mutate``) drives the suite's hypothesis test (tests/files/test_fuzz.py)
with a hypothesis-controlled ``random.Random``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import random
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("network", "estimator", "cli", "checkpoint", "pipeline")

# ----------------------------------------------------------------------------- valid files


def build_files(directory: Path) -> dict[str, list[Path]]:
    """A few valid files of every kind (written into ``directory``)."""
    import bprop
    from bprop import MLPAutoencoder, MLPClassifier, MLPRegressor, Network, Trainer
    from bprop.training.checkpoint import CheckpointCallback

    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {k: [] for k in KINDS}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))

    nets = [
        Network([3, 4, 2], "tanh", "softmax", seed=1),
        Network(
            [3, 3, 2, 1],
            ["relu", {"name": "leaky_relu", "alpha": 0.1}],
            "logistic",
            seed=2,
            dtype=np.float32,
        ),
    ]
    for i, net in enumerate(nets):
        p = directory / f"network{i}.bprop"
        net.save(p)
        out["network"].append(p)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimators = [
            MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(
                X, np.where(X[:, 0] > 0, "yes", "no")
            ),
            MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(
                X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
            ),
            MLPClassifier(hidden_layer_sizes=(2,), max_iter=3, random_state=0).fit(
                X, (X[:, :2] > 0).astype(int)
            ),
            MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, X[:, 0]),
            MLPAutoencoder(hidden_layer_sizes=(2,), max_iter=3, random_state=0).fit(X),
        ]
    for i, est in enumerate(estimators):
        p = directory / f"estimator{i}.bprop"
        bprop.save(est, p)
        out["estimator"].append(p)

    trainer = Trainer(
        Network([3, 4, 2], "tanh", "softmax", seed=3),
        rule="adam",
        max_epochs=2,
        batch_size=8,
        seed=4,
        progress=False,
        callbacks=[CheckpointCallback(directory / "trainer.ckpt", 1)],
    )
    trainer.fit(X, (X[:, 0] > 0).astype(int))
    out["checkpoint"].append(directory / "trainer.ckpt")

    cli = _cli_files(directory)
    out["cli"].extend(cli[:1])
    out["checkpoint"].extend(cli[1:])
    out["pipeline"].extend(_pipeline_files(directory))
    return out


def _pipeline_files(directory: Path) -> list[Path]:
    """Pipelines saved with bprop.sklearn.pipeline_file (pandas needed): a regression
    (TransformedTargetRegressor), a multi-class one with imputers and float32 one-hot
    columns, a numeric-only classification."""
    try:
        import pandas as pd
    except ImportError:
        return []
    from bprop import MLPClassifier, MLPRegressor
    from bprop.sklearn.pipeline_file import save_pipeline
    from bprop.sklearn.tabular import check_frame, infer_table, make_pipeline, target_values

    rng = np.random.default_rng(5)
    n = 24
    base = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 10 + 3,
            "c": rng.choice(["u", "v", "w"], n),
            "d": rng.choice(["p", "q"], n),
        }
    )
    tables = [
        (base.assign(y=base.a * 2 + 1), {}, np.float64),
        (base.assign(y=np.tile(["k1", "k2", "k3"], n // 3)), {"impute": True}, np.float32),
        (base[["a", "b"]].assign(y=(base.a > 0).astype(int)), {}, np.float64),
    ]
    tables[1][0].loc[[1, 5], "a"] = np.nan
    tables[1][0].loc[2, "c"] = None
    out = []
    for i, (df, options, dtype) in enumerate(tables):
        spec = infer_table(df, "y", **options)
        cls = MLPClassifier if spec.task == "classification" else MLPRegressor
        mlp = cls(hidden_layer_sizes=(3,), max_iter=3, random_state=i)
        pipeline = make_pipeline(spec, mlp, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.fit(check_frame(spec, df, dtype=dtype), target_values(spec, df))
        path = directory / f"pipeline{i}.bprop"
        save_pipeline(pipeline, path, {"table": spec.to_dict()})
        out.append(path)
    return out


def _cli_files(directory: Path) -> list[Path]:
    """The model and checkpoint ``bprop train`` writes (CSV in, pandas needed)."""
    try:
        import pandas as pd
    except ImportError:
        return []
    from bprop.cli import main

    df = pd.DataFrame(
        {
            "a": [0.1, 0.5, None, 0.9] * 3,
            "c": ["u", "v", "w"] * 4,
            "y": ["p", "q"] * 6,
        }
    )
    df.to_csv(directory / "d.csv", index=False)
    model = directory / "cli.bprop"
    argv = [
        "train", str(directory / "d.csv"), "--target", "y", "--out", str(model),
        "--epochs", "2", "--hidden", "2", "--checkpoint-every", "1", "--impute", "-q",
        "--no-progress",
    ]  # fmt: skip
    with contextlib.redirect_stdout(sys.stderr):
        if main(argv) != 0:
            raise RuntimeError("bprop train failed")
    ckpt = model.with_name(model.name + ".ckpt")
    return [model, ckpt] if ckpt.exists() else [model]


def loader(kind: str) -> Callable[[Path], Any]:
    """The loader a file of ``kind`` is read with (every kind also through bprop.load,
    which must refuse a checkpoint with a ModelFileError)."""
    import bprop
    from bprop.training.checkpoint import load_checkpoint

    if kind == "checkpoint":

        def load_ck(p: Path) -> Any:
            with contextlib.suppress(bprop.ModelFileError):
                bprop.load(p)
            return load_checkpoint(p)

        return load_ck
    return bprop.load


# ----------------------------------------------------------------------------- mutations
RAW = "\x00RAW\x00"  # a placeholder string replaced by raw JSON text after dumping

HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2, 3, 0.5, -1e308, 2**63, 2**64, 2**64 + 1, "", "x",
    "inf", "nan", "-inf", "multilabel-indicator", "binary", "multiclass", "F64", "I64",
    "BOOL", "layers.0.weight", [], [0], [1, 2], ["x"], [[]], {}, {"name": []},
    {"tuple": [1]}, {"float": "inf"}, {"dict": {"a": 1}}, {"strings": ["a", "b"]},
    {"objects": ["a"]}, {"tensor": "estimator.classes_"}, {"tensor": "layers.0.weight"},
    {"F64": 1}, {"name": "leaky_relu", "alpha": 1e308},
]  # fmt: skip
RAW_TOKENS = [
    "1e400", "-1e400", "1" + "0" * 400, "-" + "1" * 30, "NaN", "Infinity", "1.0e-400",
    "[" * 600 + "]" * 600, "[" * 40 + "]" * 40, '{"a":1,"a":2}', '"\\ud800"', '"\\u0000"',
    "[" + ",".join(["[]"] * 5000) + "]", "[" + ",".join(['"' + "x" * 50 + '"'] * 2000) + "]",
]  # fmt: skip
NAMES = [
    "layers.01.weight", "layers.1.weight ", "layers.-1.bias", "layers.\u0661.weight",
    "layers.1.weight\n", "layers.99.weight", "layers.0.bias", "history", "best_params",
    "rule_state.m.01", "rule_state.m.0", "estimator.classes_", "estimator.x", "__metadata__",
    "", "../x",
]  # fmt: skip


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node[:4]):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _hostile(rnd: random.Random) -> Any:
    if rnd.random() < 0.25:
        return RAW + rnd.choice(RAW_TOKENS)
    if rnd.random() < 0.1:
        depth = rnd.choice([2, 10, 40, 600])
        v: Any = 1
        for _ in range(depth):
            v = [v] if rnd.random() < 0.5 else {"tuple": [v]}
        return v
    return rnd.choice(HOSTILE_VALUES)


def _dump(obj: Any) -> str:
    text = json.dumps(obj)
    while RAW in text:  # the placeholder is dumped as a JSON string "\u0000RAW\u0000..."
        start = text.index('"\\u0000RAW\\u0000')
        end = text.index('"', start + 1)
        while text[end - 1] == "\\":  # an escaped quote inside the raw token
            end = text.index('"', end + 1)
        token = json.loads(text[start : end + 1])[len(RAW) :]
        text = text[:start] + token + text[end + 1 :]
    return text


def _set(root: Any, path: tuple, value: Any) -> None:
    node = root
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def _split(raw: bytes) -> tuple[dict, dict, bytes] | None:
    n = int.from_bytes(raw[:8], "little")
    try:
        header = json.loads(raw[8 : 8 + n])
        meta = json.loads(header["__metadata__"]["bprop"])
    except (ValueError, KeyError, TypeError):
        return None
    return header, meta, raw[8 + n :]


def _join(header_text: str, data: bytes) -> bytes:
    h = header_text.encode("utf-8", "surrogatepass")
    return len(h).to_bytes(8, "little") + h + data


def mutate(raw: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """One mutation of a valid file: (its family, the mutated bytes)."""
    family = rnd.choice(["bytes", "bytes", "truncate", "splice", "meta", "meta", "meta",
                         "entry", "entry", "header", "data"])  # fmt: skip
    if family == "bytes":
        b = bytearray(raw)
        n = int.from_bytes(raw[:8], "little")
        for _ in range(rnd.choice([1, 1, 2, 4, 16])):
            span = 8 + n if rnd.random() < 0.7 else len(b)
            i = rnd.randrange(span)
            b[i] ^= 1 << rnd.randrange(8) if rnd.random() < 0.7 else rnd.randrange(1, 256)
        return family, bytes(b)
    if family == "truncate":
        return family, raw[: rnd.randrange(len(raw))]
    if family == "splice":
        i = rnd.randrange(len(raw))
        if rnd.random() < 0.5:
            return family, raw[:i] + raw[i + rnd.randrange(1, 64) :]
        return family, raw[:i] + rnd.choice([b"[", b"{", b'"', b"0", b"\\", b"\xff"]) + raw[i:]
    parts = _split(raw)
    assert parts is not None, "the base file must be valid"
    header, meta, data = parts
    if family == "meta":
        paths = _paths(meta)
        path = rnd.choice(paths)
        op = rnd.random()
        if op < 0.15:  # delete a key or an item
            node = meta
            for k in path[:-1]:
                node = node[k]
            del node[path[-1]]
        elif op < 0.25 and isinstance(meta, dict):
            parent = path[:-1]
            node = meta
            for k in parent:
                node = node[k]
            if isinstance(node, dict):
                node[rnd.choice(["x", "extra_", "n_outputs_", "classes_", "alpha"])] = _hostile(rnd)
            else:
                node.append(_hostile(rnd))
        else:
            _set(meta, path, _hostile(rnd))
        est = meta.get("estimator")
        if rnd.random() < 0.2 and isinstance(est, dict) and isinstance(est.get("attributes"), dict):
            est["label_binarizer"] = "multilabel-indicator"  # many classes: built lazily?
            if rnd.random() < 0.7:
                est["attributes"]["classes_"] = {
                    "strings": [str(i) for i in range(rnd.choice([3, 6000, 50_000]))]
                }
        header["__metadata__"]["bprop"] = _dump(meta)
        return family, _join(_dump(header), data)
    if family == "entry":
        names = [k for k in header if k != "__metadata__"]
        name = rnd.choice(names)
        op = rnd.choice(["dtype", "shape", "offsets", "rename", "swap", "drop", "extra"])
        e = header[name]
        if op == "dtype":
            e["dtype"] = rnd.choice(["F32", "F64", "I64", "BOOL", "U8", "F16", "O", {"F64": 1},
                                     [], None, 1])  # fmt: skip
        elif op == "shape":
            e["shape"] = rnd.choice([[2**40, 2**40, 0], [0], [], [-1], e["shape"][::-1],
                                     [*e["shape"], 1], [2**64], [1.0], "3", None])  # fmt: skip
        elif op == "offsets":
            b0, b1 = e["data_offsets"]
            e["data_offsets"] = rnd.choice([[b0, b1 + 8], [b0 - 8, b1], [b1, b0], [0, 0],
                                            [b0], None, [b0, 2**70]])  # fmt: skip
        elif op == "rename":
            header[rnd.choice(NAMES)] = header.pop(name)
        elif op == "swap" and len(names) > 1:
            other = rnd.choice(names)
            header[name], header[other] = header[other], header[name]
        elif op == "drop":
            del header[name]
        else:
            e["extra"] = 1
        return family, _join(_dump(header), data)
    if family == "header":
        op = rnd.choice(["dup", "meta-not-str", "meta-extra", "no-meta", "pad", "lead"])
        text = _dump(header)
        if op == "dup":
            text = text[:-1] + ',"__metadata__":' + json.dumps(header["__metadata__"]) + "}"
        elif op == "meta-not-str":
            header["__metadata__"]["bprop"] = meta
            text = _dump(header)
        elif op == "meta-extra":
            header["__metadata__"]["other"] = "1"
            text = _dump(header)
        elif op == "no-meta":
            del header["__metadata__"]
            text = _dump(header)
        elif op == "pad":
            text += " " * rnd.randrange(1, 16)
        else:
            text = " " + text
        return family, _join(text, data)
    # data: a weight to NaN / infinity / a huge value, or a boolean byte to 2
    b = bytearray(raw)
    if len(data) >= 8:
        i = 8 + int.from_bytes(raw[:8], "little") + rnd.randrange(len(data) // 8) * 8
        value = rnd.choice([np.nan, np.inf, -np.inf, 1e308, 5e-324])
        b[i : i + 8] = np.array([value], "<f8").tobytes()
    return family, bytes(b)


def check_one(kind: str, raw: bytes, path: Path) -> str:
    """'ok' or 'ModelFileError' (the only allowed outcomes); re-raises anything else."""
    import bprop

    path.write_bytes(raw)
    try:
        loader(kind)(path)
    except bprop.ModelFileError as exc:
        if str(path) not in str(exc) or "\n" in str(exc):
            raise AssertionError(f"message does not name the file or spans lines: {exc}") from None
        return "ModelFileError"
    return "ok"


# ----------------------------------------------------------------------------- long run
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="where failing files are kept")
    p.add_argument("--memory-limit-mb", type=int, default=3000, help="address-space cap")
    p.add_argument(
        "--kinds", default=",".join(KINDS), help=f"comma-separated, of: {', '.join(KINDS)}"
    )
    args = p.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or any(k not in KINDS for k in kinds):
        p.error(f"--kinds: expected a comma-separated list of {', '.join(KINDS)}")
    limit = args.memory_limit_mb * 2**20  # a loader that over-allocates fails, not the VM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    work = Path(tempfile.mkdtemp(prefix="bprop-fuzz-"))
    failures_dir = args.out or work / "failures"
    failures_dir.mkdir(parents=True, exist_ok=True)
    bases = build_files(work / "valid")
    base_bytes = [(kind, p.name, p.read_bytes()) for kind in kinds for p in bases[kind]]
    print("valid files:", {k: [p.name for p in v] for k, v in bases.items()}, flush=True)
    rnd = random.Random(args.seed)
    counts: dict[tuple[str, str], int] = collections.Counter()
    families: dict[tuple[str, str], int] = collections.Counter()
    failures = 0
    start = time.perf_counter()
    target = work / "fuzz.bprop"
    for i in range(args.files):
        kind, name, raw = base_bytes[i % len(base_bytes)]
        family, mutated = mutate(raw, rnd)
        try:
            outcome = check_one(kind, mutated, target)
        except Exception as exc:  # noqa: BLE001 - the failures this run looks for
            outcome = f"FAIL {type(exc).__name__}"
            failures += 1
            keep = failures_dir / f"{i:07d}-{kind}-{name}"
            keep.write_bytes(mutated)
            if failures <= 20:
                print(f"{keep}: {family}: {type(exc).__name__}: {exc}"[:300], flush=True)
                traceback.print_exc(limit=-3)
        counts[(kind, outcome)] += 1
        families[(family, outcome)] += 1
        if (i + 1) % 10_000 == 0:
            print(f"{i + 1} files, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"\n{args.files} files in {time.perf_counter() - start:.0f} s, seed {args.seed}")
    for kind in kinds:
        row = {o: n for (k, o), n in sorted(counts.items()) if k == kind}
        print(f"  {kind:10s} {sum(row.values()):7d}  {row}")
    print("by mutation:")
    for fam in sorted({f for f, _ in families}):
        row = {o: n for (f, o), n in sorted(families.items()) if f == fam}
        print(f"  {fam:10s} {row}")
    print(f"failures: {failures}" + (f" (files in {failures_dir})" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
