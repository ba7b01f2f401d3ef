"""Model files: round trips, the safetensors format, atomic writes, hostile files."""

from __future__ import annotations

import contextlib
import json
import os
import struct

import numpy as np
import pytest

import bprop
from bprop import ModelFileError, Network
from bprop.files import atomic_write
from bprop.files.tensors import MAX_HEADER_BYTES, write_safetensors
from bprop.training.model_file import read_model_file


def _net(dtype=np.float64) -> Network:
    return Network(
        [3, 4, 5, 2], ["tanh", {"name": "leaky_relu", "alpha": 0.2}], "softmax", seed=7, dtype=dtype
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_network_round_trip_is_exact(tmp_path, dtype):
    net = _net(dtype)
    path = tmp_path / "net.bprop"
    net.save(path)
    loaded = bprop.load(path)
    assert isinstance(loaded, Network)
    assert loaded.sizes == net.sizes and loaded.dtype == net.dtype
    assert loaded.activations == net.activations
    assert np.array_equal(loaded.params, net.params)
    X = np.random.default_rng(0).normal(size=(6, 3))
    assert np.array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize("activation", sorted(bprop.ACTIVATIONS))
def test_every_activation_round_trips(tmp_path, activation):
    net = Network([2, 3, 2], activation, "identity", seed=1)
    bprop.save(net, tmp_path / "a.bprop")
    assert bprop.load(tmp_path / "a.bprop").activations == net.activations


def test_file_is_safetensors_readable_by_the_reference_library(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    net = _net()
    net.save(tmp_path / "n.bprop")
    tensors = safetensors_numpy.load_file(str(tmp_path / "n.bprop"))
    assert sorted(tensors) == [f"layers.{i}.{k}" for i in range(3) for k in ("bias", "weight")]
    for layer in range(3):
        assert np.array_equal(tensors[f"layers.{layer}.weight"], net.weights[layer])
        assert np.array_equal(tensors[f"layers.{layer}.bias"], net.biases[layer])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "n.bprop"), "np") as fh:
        meta = json.loads(fh.metadata()["bprop"])
    assert meta["format"] == "bprop-model" and meta["network"]["sizes"] == [3, 4, 5, 2]


def test_a_file_written_by_the_reference_library_loads(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    net = _net()
    meta = {
        "format": "bprop-model",
        "format_version": 1,
        "bprop_version": "x",
        "kind": "network",
        "network": net.config(),
        "loss": None,
    }
    tensors = {}
    for layer, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        tensors[f"layers.{layer}.weight"] = np.ascontiguousarray(W)
        tensors[f"layers.{layer}.bias"] = np.ascontiguousarray(b)
    safetensors_numpy.save_file(
        tensors, str(tmp_path / "ref.bprop"), metadata={"bprop": json.dumps(meta)}
    )
    assert np.array_equal(bprop.load(tmp_path / "ref.bprop").params, net.params)


# ---------------------------------------------------------------------------- atomic writes
def _leftovers(directory) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.bprop"
    old = _net()
    old.save(path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise KeyboardInterrupt  # the process is interrupted while the data is being flushed

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        Network([3, 2], seed=3).save(path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_failed_replace_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.bprop"
    _net().save(path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        Network([3, 2], seed=3).save(path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_atomic_write_of_a_new_file_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "new.csv"
    with pytest.raises(RuntimeError), atomic_write(path, "w") as fh:
        fh.write("partial")
        raise RuntimeError("stop")
    assert not path.exists() and _leftovers(tmp_path) == []


def test_saving_non_finite_weights_is_refused(tmp_path):
    net = _net()
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.save(tmp_path / "bad.bprop")
    assert not (tmp_path / "bad.bprop").exists()


# ---------------------------------------------------------------------------- hostile files
def _good_parts():
    net = Network([2, 3, 1], "tanh", "logistic", seed=0)
    meta = {
        "format": "bprop-model",
        "format_version": 1,
        "bprop_version": "0",
        "kind": "network",
        "network": net.config(),
        "loss": None,
    }
    tensors = {
        "layers.0.weight": net.weights[0],
        "layers.0.bias": net.biases[0],
        "layers.1.weight": net.weights[1],
        "layers.1.bias": net.biases[1],
    }
    return meta, tensors


def _raw(header: dict | bytes, data: bytes) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def _entries(tensors: dict[str, np.ndarray], meta: dict) -> tuple[dict, bytes]:
    entries: dict = {"__metadata__": {"bprop": json.dumps(meta)}}
    data, pos = b"", 0
    for name, a in tensors.items():
        blob = np.ascontiguousarray(a, "<f8").tobytes()
        entries[name] = {
            "dtype": "F64",
            "shape": list(a.shape),
            "data_offsets": [pos, pos + len(blob)],
        }
        data += blob
        pos += len(blob)
    return entries, data


def _mutations():
    def meta_change(**changes):
        def f(meta, tensors, entries, data):
            meta.update(changes)
            return None

        return f

    def entry_change(name, key, value):
        def f(meta, tensors, entries, data):
            entries[name][key] = value
            return None

        return f

    cases = {
        "empty file": lambda *a: b"",
        "shorter than the length prefix": lambda *a: b"\x01\x02\x03",
        "header length over the cap": lambda m, t, e, d: (
            struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}"
        ),
        "header longer than the file": lambda m, t, e, d: struct.pack("<Q", 1000) + b"{}",
        "header not JSON": lambda m, t, e, d: _raw(b"{not json", d),
        "header not an object": lambda m, t, e, d: _raw(b"[1, 2]", d),
        "duplicate key": lambda m, t, e, d: _raw(
            b'{"__metadata__": {"bprop": "{}"}, "__metadata__": {"bprop": "{}"}}', d
        ),
        "NaN literal in metadata": lambda m, t, e, d: _raw(
            {**e, "__metadata__": {"bprop": json.dumps(m).replace('"loss": null', '"loss": NaN')}},
            d,
        ),
        "no metadata": lambda m, t, e, d: _raw(
            {k: v for k, v in e.items() if k != "__metadata__"}, d
        ),
        "wrong format": meta_change(format="pickle"),
        "future version": meta_change(format_version=2),
        "unknown kind": meta_change(kind="code"),
        "unknown loss": meta_change(loss="os.system"),
        "unknown activation": meta_change(
            network={
                "sizes": [2, 3, 1],
                "dtype": "float64",
                "activations": [{"name": "eval"}, {"name": "logistic"}],
            }
        ),
        "activation parameter not a number": meta_change(
            network={
                "sizes": [2, 3, 1],
                "dtype": "float64",
                "activations": [{"name": "leaky_relu", "alpha": "x"}, {"name": "logistic"}],
            }
        ),
        "sizes do not match the tensors": meta_change(
            network={
                "sizes": [2, 4, 1],
                "dtype": "float64",
                "activations": [{"name": "tanh"}, {"name": "logistic"}],
            }
        ),
        "negative size": meta_change(
            network={
                "sizes": [2, -3, 1],
                "dtype": "float64",
                "activations": [{"name": "tanh"}, {"name": "logistic"}],
            }
        ),
        "dtype not allowed": meta_change(
            network={
                "sizes": [2, 3, 1],
                "dtype": "object",
                "activations": [{"name": "tanh"}, {"name": "logistic"}],
            }
        ),
        "tensor dtype not allowed": entry_change("layers.0.bias", "dtype", "O"),
        "tensor dtype differs from the network": entry_change("layers.0.bias", "dtype", "I64"),
        "offsets past the end": entry_change("layers.1.bias", "data_offsets", [72, 10_000]),
        "negative offsets": entry_change("layers.0.weight", "data_offsets", [-8, 40]),
        "shape does not match the bytes": entry_change("layers.0.weight", "shape", [3, 3]),
        "shape not a list of ints": entry_change("layers.0.weight", "shape", ["2", 3]),
        "overlapping tensors": entry_change("layers.0.bias", "data_offsets", [0, 24]),
        "unknown tensor name": lambda m, t, e, d: _raw(
            {**e, "../../etc/passwd": e.pop("layers.1.bias")}, d
        ),
        "missing layer": lambda m, t, e, d: _raw(
            {k: v for k, v in e.items() if k != "layers.1.bias"}, d[:-8]
        ),
        "stray bytes": lambda m, t, e, d: _raw(e, d + b"\0" * 8),
        "non-finite weight": lambda m, t, e, d: _raw(e, np.array([np.inf]).tobytes() + d[8:]),
        "truncated data": lambda m, t, e, d: _raw(e, d)[:-5],
    }
    return cases


EXPECTED = {
    "NaN literal in metadata": "NaN is not allowed",
    "activation parameter not a number": "not allowed",
    "dtype not allowed": "dtype 'object' not allowed",
    "duplicate key": "duplicate key",
    "empty file": "empty",
    "future version": "format version 2",
    "header length over the cap": "exceeds the limit",
    "header longer than the file": "header incomplete",
    "header not JSON": "not valid JSON",
    "header not an object": "not a bprop model file",
    "missing layer": "layer 1: weight or bias tensor missing",
    "negative offsets": "outside the data",
    "negative size": "bad layer sizes",
    "no metadata": "no bprop metadata",
    "non-finite weight": "NaN or infinity",
    "offsets past the end": "outside the data",
    "overlapping tensors": "overlaps",
    "shape does not match the bytes": "does not match its bytes",
    "shape not a list of ints": "bad shape",
    "shorter than the length prefix": "truncated",
    "sizes do not match the tensors": "do not match the sizes",
    "stray bytes": "stray bytes",
    "tensor dtype differs from the network": "not float64",
    "tensor dtype not allowed": "dtype 'O' not allowed",
    "truncated data": "outside the data",
    "unknown activation": "'eval'",
    "unknown kind": "'code'",
    "unknown loss": "unknown loss",
    "unknown tensor name": "unexpected tensor name",
    "wrong format": "not a bprop model file",
}


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_hostile_or_broken_files_give_one_typed_error(tmp_path, case):
    meta, tensors = _good_parts()
    mutate = _mutations()[case]
    meta_copy = json.loads(json.dumps(meta))
    entries, data = _entries(tensors, meta_copy)
    raw = mutate(meta_copy, tensors, entries, data)
    if raw is None:  # a change to meta or entries: rebuild
        entries["__metadata__"] = {"bprop": json.dumps(meta_copy)}
        raw = _raw(entries, data)
    path = tmp_path / "hostile.bprop"
    path.write_bytes(raw)
    with pytest.raises(ModelFileError) as info:
        bprop.load(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    assert EXPECTED[case] in info.value.problem
    assert "\n" not in str(info.value)


def test_the_unmodified_crafted_file_loads(tmp_path):
    """The hostile cases above are mutations of this file, which itself is fine."""
    meta, tensors = _good_parts()
    entries, data = _entries(tensors, meta)
    (tmp_path / "ok.bprop").write_bytes(_raw(entries, data))
    assert bprop.load(tmp_path / "ok.bprop").sizes == (2, 3, 1)


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_missing_file_or_directory(tmp_path, make):
    path = tmp_path / "m.bprop"
    if make == "directory":
        path.mkdir()
    with pytest.raises(ModelFileError, match="m.bprop"):
        bprop.load(path)


def test_reading_a_checkpoint_as_a_model_is_refused(tmp_path):
    net = Network([2, 1], seed=0)
    write_safetensors(
        tmp_path / "c.bprop",
        {"layers.0.weight": net.weights[0], "layers.0.bias": net.biases[0]},
        {
            "format": "bprop-model",
            "format_version": 1,
            "kind": "checkpoint",
            "network": net.config(),
            "loss": None,
        },
    )
    with pytest.raises(ModelFileError, match="checkpoint"):
        bprop.load(tmp_path / "c.bprop")
    assert read_model_file(tmp_path / "c.bprop", ("checkpoint",)).kind == "checkpoint"


# ---------------------------------------------------------------------------- fuzzing
def _paths(node, prefix=()):
    """Every key path into a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _with_metadata(raw: bytes, meta: dict) -> bytes:
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"]["bprop"] = json.dumps(meta)
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + raw[8 + n :]


HOSTILE_VALUES = [None, [], "x", -1, 10**30, {"name": []}]


def _tabular_file(tmp_path):
    pd = pytest.importorskip("pandas")
    from bprop.cli import main

    df = pd.DataFrame(
        {"a": [0.1, 0.5, 0.2, 0.9] * 3, "c": ["u", "v", "w"] * 4, "y": ["p", "q"] * 6}
    )
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.bprop"
    argv = [
        "train",
        str(tmp_path / "d.csv"),
        "--target",
        "y",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--hidden",
        "2",
        "--checkpoint-every",
        "1",
        "-q",
        "--no-progress",
    ]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("which", ["model", "checkpoint"])
def test_fuzzed_metadata_never_escapes_as_another_exception(tmp_path, which, capsys):
    """Every metadata value replaced by hostile JSON: load either works or raises a
    ModelFileError; `bprop info` prints one error line."""
    from bprop.cli import main
    from bprop.training.checkpoint import load_checkpoint

    path = _tabular_file(tmp_path)
    if which == "checkpoint":
        path = path.with_name(path.name + ".ckpt")
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(json.loads(raw[8 : 8 + n])["__metadata__"]["bprop"])
    target = tmp_path / "fuzz.bprop"
    tried = 0
    for key_path in _paths(meta):
        for value in HOSTILE_VALUES:
            m = json.loads(json.dumps(meta))
            node = m
            for k in key_path[:-1]:
                node = node[k]
            node[key_path[-1]] = value
            target.write_bytes(_with_metadata(raw, m))
            with contextlib.suppress(ModelFileError):  # the only exception allowed
                load_checkpoint(target) if which == "checkpoint" else bprop.load(target)
            tried += 1
            if value not in ("x", {"name": []}):
                continue  # (the command for some of the values keeps the test quick)
            code = main(["info", str(target)])
            err = capsys.readouterr().err
            assert code in (0, 1)
            assert code == 0 or (err.startswith("bprop: error:") and len(err.splitlines()) == 1)
    assert tried > 200
