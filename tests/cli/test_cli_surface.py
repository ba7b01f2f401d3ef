"""The command line as a new user meets it: output paths checked first, divergence said
plainly, a closed pipe, flag typos, --param keys, early stopping without validation,
global flags, --version, and what info and the train summary print."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bprop.cli.info as info_module
import bprop.training.trainer
from bprop import Network
from bprop._version import __version__
from bprop.cli import main, plots
from bprop.cli.common import load_model, number
from bprop.cli.parser import unknown_argument_message
from bprop.cli.train_summary import DIVERGENCE_GROWTH, divergence
from bprop.optim.stop import Stop, StopReason
from bprop.training.history import EpochRecord, History
from bprop.training.trainer import DivergenceWarning

FAST = ["--epochs", "2", "--hidden", "3", "--no-progress", "-q"]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _classes(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "y": np.tile(["yes", "no"], n // 2)}
    )


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "d.csv"
    _classes().to_csv(path, index=False)
    return path


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("training started before the check")

    monkeypatch.setattr(bprop.training.trainer.Trainer, "fit", refuse)


def _error(capsys, argv: list[str], status: int) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("bprop: error: ") and len(err.splitlines()) == 1, err
    return err


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


# ---------------------------------------------------------------------------- output paths
def test_plots_directory_that_cannot_be_made_exits_2_before_training(
    tmp_path, data, capsys, no_training
):
    out = tmp_path / "m.bprop"
    plots = data / "plots"  # below a file
    err = _error(
        capsys, ["train", str(data), "--target", "y", "--out", str(out), "--plots", str(plots)], 2
    )
    assert "is not a directory" in err
    assert not out.exists()


def test_unwritable_plots_directory_exits_2_before_training(
    tmp_path, data, capsys, monkeypatch, no_training
):
    plots = tmp_path / "locked"
    plots.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != plots and real(p, mode))
    out = tmp_path / "m.bprop"
    argv = ["train", str(data), "--target", "y", "--out", str(out), "--plots", str(plots)]
    assert f"cannot write to directory {plots}" in _error(capsys, argv, 2)
    assert not out.exists()


def test_checkpoint_in_a_missing_directory_exits_2_before_training(
    tmp_path, data, capsys, no_training
):
    argv = ["train", str(data), "--target", "y", "--out", str(tmp_path / "m.bprop")]
    ck = tmp_path / "nope" / "c.ckpt"
    err = _error(capsys, [*argv, "--checkpoint", str(ck), "--checkpoint-every", "1"], 2)
    assert "does not exist" in err


def test_plot_into_an_unwritable_directory_names_the_directory(tmp_path, data, capsys, monkeypatch):
    model = tmp_path / "m.bprop"
    assert main(["train", str(data), "--target", "y", "--out", str(model), *FAST]) == 0

    def denied(prefix="", suffix="", dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}abcd{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    out = tmp_path / "plots"
    err = _error(capsys, ["plot", str(model), "--out", str(out)], 1)
    assert f"cannot write to directory {out} (permission denied)" in err
    assert ".tmp" not in err


# ---------------------------------------------------------------------------- divergence
def _regression(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    path = tmp_path / "reg.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": X @ [1, 2, 3] * 50 + 100}).to_csv(
        path, index=False
    )
    return path


DIVERGING = ["--lr", "1e3", "--hidden", "3", "--no-progress"]


def test_divergence_exits_3_and_leaves_the_previous_model(tmp_path, capsys):
    data, out = _regression(tmp_path), tmp_path / "q.bprop"
    out.write_bytes(b"the previous model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = _error(
            capsys, ["train", str(data), "--target", "y", "--out", str(out), *DIVERGING], 3
        )
    assert "training diverged" in err and "smaller --lr (this run: 1000)" in err
    assert "--allow-divergence" in err
    assert out.read_bytes() == b"the previous model"
    assert not [w for w in caught if issubclass(w.category, DivergenceWarning)]


@pytest.mark.parametrize("quiet", [False, True])
def test_allowed_divergence_writes_the_model_with_one_warning_line(tmp_path, capsys, quiet):
    data, out = _regression(tmp_path), tmp_path / "q.bprop"
    argv = ["train", str(data), "--target", "y", "--out", str(out), *DIVERGING]
    argv += ["--patience", "0", "--allow-divergence"] + (["-q"] if quiet else [])
    with warnings.catch_warnings(record=True) as caught:  # (non-finite: the trainer warns)
        warnings.simplefilter("always")
        assert main(argv) == 0
    assert not [w for w in caught if issubclass(w.category, DivergenceWarning)]
    captured = capsys.readouterr()
    assert out.exists()
    if quiet:
        assert captured.err == "" and captured.out == ""
        return
    assert captured.err.startswith("bprop: warning: training diverged: non-finite loss")
    assert len(captured.err.splitlines()) == 1
    assert "training diverged" in captured.out
    assert not re.search(r"\d{8}", captured.out), captured.out  # no 85-digit numbers


def _history(losses, stop=StopReason.MAX_EPOCHS) -> History:
    h = History(records=[EpochRecord(epoch=i + 1, loss=v) for i, v in enumerate(losses)])
    h.set_stop(Stop(stop, str(stop.value)))
    return h


def test_divergence_rule():
    args = argparse.Namespace(allow_divergence=True, quiet=True)
    assert divergence(args, _history([1.0, 0.5, 0.6]), {}) is None
    assert divergence(args, _history([1.0, 0.5, 0.5 * DIVERGENCE_GROWTH]), {}) is None
    grew = divergence(args, _history([1.0, 0.5, 0.51 * DIVERGENCE_GROWTH]), {})
    assert grew == "the training loss grew from 0.5 (epoch 2) to 510 (epoch 3)"
    assert "non-finite" in divergence(args, _history([1.0, 0.9], StopReason.DIVERGED), {})
    with pytest.raises(ValueError, match="Try another --rule"):
        divergence(argparse.Namespace(allow_divergence=False), _history([1, 1e9]), {})


def test_numbers_have_a_fixed_number_of_significant_digits():
    assert number(-31882881054113.039) == "-3.18829e+13"
    assert number(0.123456789, 4) == "0.1235"
    assert number(None) == "n/a" and number(float("nan")) == "nan" and number(7) == "7"
    assert number(np.float64(43.71978021978022)) == "43.7198"


# ---------------------------------------------------------------------------- closed pipe
def test_predict_into_a_closed_pipe_exits_0_quietly(tmp_path, data):
    model = tmp_path / "m.bprop"
    assert main(["train", str(data), "--target", "y", "--out", str(model), *FAST]) == 0
    big = tmp_path / "big.csv"
    pd.concat([_classes()] * 700).to_csv(big, index=False)  # ~1 MB of predictions
    proc = subprocess.Popen(
        [sys.executable, "-m", "bprop", "predict", str(model), str(big), "--proba"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout.readline().startswith(b"prediction")
    proc.stdout.close()  # as 'head -1' does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert err == b""


def test_broken_pipe_in_a_command_is_status_0(monkeypatch, capsys):
    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(info_module, "info", closed)
    assert main(["info", "any.bprop"]) == 0
    assert main(["--debug", "info", "any.bprop"]) == 0


# ---------------------------------------------------------------------------- flags
@pytest.mark.parametrize(
    "flag, expected",
    [("--imput", "--impute"), ("--epoch", "--epochs"), ("--hiden", "--hidden")],
)
def test_flag_typos_are_refused_with_the_closest_flag(data, capsys, flag, expected):
    err = _usage_error(capsys, ["train", str(data), "--target", "y", "--out", "m", flag, "8"])
    assert err.startswith("usage: bprop train")
    assert f"bprop train: error: unknown option {flag}; did you mean {expected}?" in err


def test_unknown_argument_message():
    options = ["-h", "--help", "--hidden", "--out"]
    assert unknown_argument_message(["--hiden=3"], options).endswith("did you mean --hidden?")
    assert unknown_argument_message(["--zzz"], options) == (
        "unknown option --zzz; see --help for the options"
    )
    assert unknown_argument_message(["extra.csv"], options) == "unexpected argument 'extra.csv'"


def test_param_with_a_key_the_rule_lacks_lists_its_keys(tmp_path, capsys, no_training):
    argv = ["train", str(tmp_path / "not-read.csv"), "--target", "y", "--out", "m.bprop"]
    err = _error(capsys, [*argv, "--param", "bogus=1"], 1)
    assert "rule 'momentum': no hyperparameter 'bogus'" in err
    assert "its hyperparameters: learning_rate, momentum" in err
    assert "__init__" not in err


@pytest.mark.parametrize("flag", ["--patience", "--gl", "--pq", "--up"])
def test_early_stopping_without_validation_is_one_error(tmp_path, capsys, flag, no_training):
    argv = ["train", str(tmp_path / "not-read.csv"), "--target", "y", "--out", "m.bprop"]
    err = _error(capsys, [*argv, flag, "5", "--val-fraction", "0"], 1)
    assert f"--{flag[2:]} is early stopping" in err and "--val-fraction > 0" in err


def test_patience_defaults_to_20_with_validation_and_off_without(tmp_path, data):
    for fraction, patience in (("0.2", 20), ("0", 0)):
        out = tmp_path / f"m{fraction}.bprop"
        argv = ["train", str(data), "--target", "y", "--out", str(out), *FAST]
        assert main([*argv, "--val-fraction", fraction]) == 0
        assert load_model(str(out)).metadata["training"]["patience"] == patience


# ---------------------------------------------------------------------------- surface
def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bprop {__version__}"


def test_target_is_required_like_out(data, capsys):
    err = _usage_error(capsys, ["train", str(data), "--out", "m.bprop"])
    assert "the following arguments are required: --target" in err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = capsys.readouterr().out
    assert "--target TARGET" in usage and "[--target TARGET]" not in usage


def test_global_flags_before_or_after_the_command(tmp_path, data, capsys):
    model = tmp_path / "m.bprop"
    assert main(["train", str(data), "--target", "y", "--out", str(model), *FAST]) == 0
    capsys.readouterr()
    for argv in (["-q", "info", str(model)], ["info", str(model), "--quiet"]):
        assert main(argv) == 0
        assert capsys.readouterr().out == ""
    broken = tmp_path / "broken.bprop"
    broken.write_bytes(b"not a model")
    assert main(["info", str(broken)]) == 1
    for argv in (["--debug", "info", str(broken)], ["info", str(broken), "--debug"]):
        with pytest.raises(ValueError):  # --debug: the exception itself, with its traceback
            main(argv)


def test_info_formats_its_numbers_and_omits_empty_fields(tmp_path, capsys):
    df = _classes().assign(x=lambda d: d.x * 10 + 43.7)
    df.loc[3, "x"] = None
    data, model = tmp_path / "imp.csv", tmp_path / "imp.bprop"
    df.to_csv(data, index=False)
    argv = ["train", str(data), "--target", "y", "--out", str(model), *FAST, "--impute"]
    assert main([*argv, "--checkpoint-every", "1"]) == 0
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    fill = re.search(r"column      x: standardised \(mean (\S+), .*missing -> (\S+)", out)
    assert fill and fill.group(1).rstrip(",") == fill.group(2), out
    assert main(["info", f"{model}.ckpt"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"history     2 epochs\n", out) and "mode=None" not in out, out
    Network([2, 3, 1], "tanh", "identity", seed=0).save(tmp_path / "net.bprop")
    assert main(["info", str(tmp_path / "net.bprop")]) == 0
    assert "None" not in capsys.readouterr().out


def test_train_summary_names_the_plots_and_their_data(tmp_path, data, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    titles = []
    real = plots.confusion_matrix_plot

    def spy(matrix, labels, path, shown=None):
        titles.append(shown)
        return real(matrix, labels, path, shown)

    monkeypatch.setattr(plots, "confusion_matrix_plot", spy)
    argv = ["train", str(data), "--target", "y", *FAST[:-1]]
    assert main([*argv, "--out", str(tmp_path / "a.bprop"), "--plots", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert f"plots written to {tmp_path / 'p'}: learning_curves.png, confusion_matrix.png" in out
    argv += ["--val-fraction", "0", "--out", str(tmp_path / "b.bprop")]
    assert main([*argv, "--plots", str(tmp_path / "q"), "-q"]) == 0
    assert titles == ["validation split of d.csv (6 rows)", "training file d.csv (30 rows)"]
