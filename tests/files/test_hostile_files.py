"""Hostile model files found by fuzzing: each is a ModelFileError naming the file, on one
line, and `bprop info` on it prints that line (no traceback)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import bprop
from bprop import ModelFileError, Network
from bprop.files.tensors import read_header, read_safetensors
from bprop.training.checkpoint import load_checkpoint


# ----------------------------------------------------------------------------- crafting
def _split(raw: bytes) -> tuple[dict, str, bytes]:
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    return header, header["__metadata__"]["bprop"], raw[8 + n :]


def _join(header: dict | str, data: bytes) -> bytes:
    h = (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(h).to_bytes(8, "little") + h + data


def _with_meta_text(raw: bytes, text: str) -> bytes:
    """The file with its metadata replaced by ``text`` (any JSON text, even invalid)."""
    header, _, data = _split(raw)
    header["__metadata__"]["bprop"] = text
    return _join(header, data)


def _network_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.bprop"
    Network([2, 3, 1], {"name": "leaky_relu", "alpha": 0.2}, "identity", seed=0).save(path)
    return path


def _estimator_file(tmp_path: Path, y_kind: str = "multiclass") -> Path:
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = {
        "multiclass": np.digitize(X[:, 0], [-0.5, 0.5]),
        "multilabel": (X[:, :2] > 0).astype(int),
    }[y_kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = bprop.MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / f"{y_kind}.bprop"
    est.save(path)
    return path


def _tabular_file(tmp_path: Path) -> Path:
    pd = pytest.importorskip("pandas")
    from bprop.cli import main

    pd.DataFrame({"a": [0.1, 0.5, 0.2, 0.9] * 3, "y": ["p", "q"] * 6}).to_csv(
        tmp_path / "d.csv", index=False
    )
    out = tmp_path / "cli.bprop"
    argv = ["train", str(tmp_path / "d.csv"), "--target", "y", "--out", str(out)]
    assert main([*argv, "--epochs", "2", "--hidden", "2", "-q", "--no-progress"]) == 0
    return out


def _expect(path: Path, raw: bytes, problem: str, load=bprop.load) -> ModelFileError:
    path.write_bytes(raw)
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert problem in info.value.problem, info.value.problem
    return info.value


# ----------------------------------------------------------------------------- tensors
@pytest.mark.parametrize("dtype", [{"F64": 1}, [], None, 1])
def test_a_tensor_dtype_that_is_not_a_string(tmp_path, dtype):
    header, _, data = _split(_network_file(tmp_path).read_bytes())
    header["layers.0.weight"]["dtype"] = dtype
    _expect(tmp_path / "bad.bprop", _join(header, data), "not allowed")


def test_a_zero_size_tensor_with_huge_dimensions(tmp_path):
    header, _, data = _split(_network_file(tmp_path).read_bytes())
    end = header["layers.1.bias"]["data_offsets"][1]
    header["history"] = {"dtype": "F64", "shape": [2**40, 2**40, 0], "data_offsets": [end, end]}
    _expect(tmp_path / "bad.bprop", _join(header, data), "is too large")


@pytest.mark.parametrize(
    "name", ["layers.01.weight", "layers.+1.weight", "layers.\u0661.weight", "layers.1.weight\n"]
)
def test_tensor_names_must_be_canonical(tmp_path, name):
    header, _, data = _split(_network_file(tmp_path).read_bytes())
    header[name] = header.pop("layers.1.weight")
    _expect(tmp_path / "bad.bprop", _join(header, data), "unexpected tensor name")


def test_a_duplicate_tensor_name_is_refused_where_the_library_would_keep_the_last(tmp_path):
    """safetensors itself keeps the last of two equal keys; bprop refuses the file, so
    that the two readers never disagree about an accepted file."""
    raw = _network_file(tmp_path).read_bytes()
    header, _, data = _split(raw)
    text = json.dumps(header)
    dup = '"layers.0.bias": ' + json.dumps(header["layers.0.bias"])
    _expect(tmp_path / "bad.bprop", _join(text[:-1] + ", " + dup + "}", data), "duplicate key")


def test_boolean_tensors_hold_0_or_1(tmp_path):
    header, _, data = _split(_network_file(tmp_path).read_bytes())
    end = len(data)
    header["rule_state.flag"] = {"dtype": "BOOL", "shape": [1], "data_offsets": [end, end + 1]}
    path = tmp_path / "bad.bprop"
    path.write_bytes(_join(header, data + b"\x02"))
    with pytest.raises(ModelFileError, match="booleans must be 0 or 1"):
        read_safetensors(path)


def test_reading_the_header_reads_no_tensor(tmp_path):
    path = _network_file(tmp_path)
    header = read_header(path)
    assert sorted(header.entries) == [
        f"layers.{i}.{k}" for i in range(2) for k in ("bias", "weight")
    ]
    assert header.entries["layers.0.weight"].shape == (2, 3)
    assert header.metadata["kind"] == "network"
    assert header.file_size == path.stat().st_size


# ----------------------------------------------------------------------------- not a model
def test_a_csv_file_is_not_a_bprop_model_file(tmp_path):
    path = tmp_path / "data.csv"
    raw = b"bill_length_mm,bill_depth_mm,species\n39.1,18.7,Adelie\n"
    error = _expect(path, raw, "not a bprop model file")
    assert "header length" not in str(error)


def test_a_safetensors_file_without_bprop_metadata(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "other.safetensors"
    safetensors_numpy.save_file({"w": np.zeros(3)}, str(path))
    _expect(path, path.read_bytes(), "not a bprop model file (no bprop metadata")


# ----------------------------------------------------------------------------- metadata
@pytest.mark.parametrize("number", ["1" + "0" * 400, "-1" + "0" * 400, "1e400", "-2e308"])
def test_huge_numbers_in_an_activation_parameter(tmp_path, number):
    raw = _network_file(tmp_path).read_bytes()
    text = _split(raw)[1].replace('"alpha": 0.2', f'"alpha": {number}')
    assert number in text
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, text), "out of range")


def test_huge_numbers_in_an_estimator(tmp_path):
    raw = _estimator_file(tmp_path).read_bytes()
    text = _split(raw)[1].replace('"alpha": 0.0001', '"alpha": 1' + "0" * 400)
    assert "0" * 400 in text
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, text), "out of range")


@pytest.mark.parametrize("where", ["column transformer", "estimator attribute"])
def test_huge_numbers_in_a_cli_model(tmp_path, where):
    raw = _tabular_file(tmp_path).read_bytes()
    meta = json.loads(_split(raw)[1])
    if where == "column transformer":
        meta["pipeline"]["steps"][0][1]["sparse_threshold"] = "HUGE"
    else:
        meta["estimator"]["attributes"]["n_iter_"] = "HUGE"
    text = json.dumps(meta).replace('"HUGE"', "1" + "0" * 400)
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, text), "out of range")


def test_values_nested_600_deep_in_estimator_parameters(tmp_path):
    raw = _estimator_file(tmp_path).read_bytes()
    meta = json.loads(_split(raw)[1])
    meta["estimator"]["params"]["hidden_layer_sizes"] = "DEEP"
    text = json.dumps(meta).replace('"DEEP"', '{"tuple": [' * 600 + "3" + "]}" * 600)
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, text), "nested 1203 deep (at most 32)")


def test_nesting_in_a_checkpoint(tmp_path):
    raw = _tabular_file(tmp_path).read_bytes()  # a model is not a checkpoint ...
    text = "[" * 600 + "]" * 600  # ... and the nesting is refused before the kind is read
    _expect(tmp_path / "bad.ckpt", _with_meta_text(raw, text), "deep", load=load_checkpoint)


@pytest.mark.parametrize("n_classes", [6000, 50_000])
def test_many_multilabel_classes_on_a_small_network_are_refused(tmp_path, n_classes):
    raw = _estimator_file(tmp_path, "multilabel").read_bytes()
    meta = json.loads(_split(raw)[1])
    assert meta["estimator"]["label_binarizer"] == "multilabel-indicator"
    meta["estimator"]["attributes"]["classes_"] = {"strings": [str(i) for i in range(n_classes)]}
    raw = _with_meta_text(raw, json.dumps(meta))
    _expect(tmp_path / "bad.bprop", raw, f"{n_classes} classes of a multilabel-indicator")


def test_the_multilabel_binarizer_is_built_without_fitting_it(tmp_path):
    """Loaded binarizer behaves as the fitted one (the classes come from the file)."""
    est_path = _estimator_file(tmp_path, "multilabel")
    est = bprop.load(est_path)
    X = np.random.default_rng(1).normal(size=(8, 3))
    Y = est.predict(X)
    assert Y.shape == (8, 2) and set(np.unique(Y)) <= {0, 1}
    assert est._label_binarizer.y_type_ == "multilabel-indicator"
    np.testing.assert_array_equal(est._label_binarizer.inverse_transform(Y), Y)
    np.testing.assert_array_equal(est.classes_, [0, 1])


def test_a_header_of_nested_empty_lists_under_the_cap_is_refused(tmp_path):
    raw = _network_file(tmp_path).read_bytes()
    text = "[" + ",".join(["[]"] * (5 * 2**20)) + "]"  # 15 MiB
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, text), "JSON arrays/objects")


def test_a_long_string_array_of_short_strings_is_refused(tmp_path):
    """numpy's fixed-width strings: 100,000 one-character names and one of 10,000
    characters would take 4 GB."""
    raw = _estimator_file(tmp_path).read_bytes()
    meta = json.loads(_split(raw)[1])
    names = ["x"] * 100_000 + ["y" * 10_000]
    meta["estimator"]["attributes"]["feature_names_in_"] = {"strings": names}
    _expect(tmp_path / "bad.bprop", _with_meta_text(raw, json.dumps(meta)), "too large")


# ----------------------------------------------------------------------------- the command
def test_bprop_info_prints_one_line_for_every_bad_file(tmp_path, capsys):
    from bprop.cli import main

    good = _network_file(tmp_path).read_bytes()
    header, text, data = _split(good)
    renamed = dict(header)
    renamed["layers.01.weight"] = renamed.pop("layers.1.weight")
    bad = {
        "data.csv": b"a,b,c\n1,2,3\n",
        "empty.bprop": b"",
        "truncated.bprop": good[:-3],
        "nested.bprop": _with_meta_text(good, "[" * 600 + "]" * 600),
        "huge.bprop": _with_meta_text(good, text.replace('"alpha": 0.2', '"alpha": 1e400')),
        "renamed.bprop": _join(renamed, data),
    }
    errors = {}
    for name, raw in bad.items():
        path = tmp_path / name
        path.write_bytes(raw)
        assert main(["info", str(path)]) == 1
        out, errors[name] = capsys.readouterr()
        assert errors[name].startswith(f"bprop: error: {path}: "), errors[name]
        assert len(errors[name].splitlines()) == 1 and out == ""
    assert "not a bprop model file" in errors["data.csv"]
    assert "out of range" in errors["huge.bprop"]
    assert "unexpected tensor name 'layers.01.weight'" in errors["renamed.bprop"]
