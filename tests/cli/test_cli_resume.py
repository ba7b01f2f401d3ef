"""`bprop train --checkpoint-every` and `--resume`: a killed run, resumed, ends with the
weights of an uninterrupted run, bit for bit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bprop import StopReason
from bprop.cli import main
from bprop.cli.common import load_model
from bprop.training.checkpoint import load_checkpoint

#: enough epochs that the subprocess is still training when the first checkpoint appears
EPOCHS = 1000
ARGS = ["--hidden", "4", "--batch-size", "8", "--patience", "100000", "--no-progress", "-q"]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.choice(["u", "v", "w"], 40)})
    df["y"] = np.where(df["a"] + (df["b"] == "u") > 0.3, "hi", "lo")
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    return path


def _train(data, out, epochs, *extra) -> None:
    argv = ["train", str(data), "--target", "y", "--out", str(out), "--epochs", str(epochs)]
    assert main([*argv, *ARGS, *extra]) == 0


def test_killed_training_process_resumes_to_identical_weights(tmp_path, data):
    full = tmp_path / "full.bprop"
    _train(data, full, EPOCHS)

    out, ckpt = tmp_path / "killed.bprop", tmp_path / "killed.bprop.ckpt"
    cmd = [
        sys.executable,
        "-m",
        "bprop.cli",
        "train",
        str(data),
        "--target",
        "y",
        "--out",
        str(out),
        "--epochs",
        str(EPOCHS),
        "--checkpoint-every",
        "1",
        *ARGS,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a guard against a hung process, not a threshold
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert ckpt.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()  # the model is written only at the end
    # SIGKILL can strike inside a checkpoint write (leaving its temporary file behind);
    # the checkpoint itself is always the last complete one:
    stopped_at = load_checkpoint(ckpt).epoch  # a complete checkpoint, whatever the moment
    assert 1 <= stopped_at < EPOCHS

    resumed = tmp_path / "resumed.bprop"
    assert (
        main(
            [
                "train",
                str(data),
                "--out",
                str(resumed),
                "--resume",
                str(ckpt),
                "-q",
                "--no-progress",
                "--checkpoint-every",
                "100000",  # (resumed runs go on checkpointing; not needed here)
            ]
        )
        == 0
    )
    a, b = load_model(str(full)), load_model(str(resumed))
    assert np.array_equal(a.network.params, b.network.params)
    assert np.array_equal(a.history.loss, b.history.loss)
    assert np.array_equal(a.history.val_loss, b.history.val_loss)
    assert a.history.stop_reason == b.history.stop_reason
    assert a.history.stop is b.history.stop is not None
    assert b.metadata["training"]["resumed_from"] == ckpt.name


def test_resume_from_a_checkpoint_in_the_middle(tmp_path, data):
    full = tmp_path / "full.bprop"
    _train(data, full, 5)
    ckpt = tmp_path / "c.ckpt"
    _train(data, tmp_path / "x.bprop", 5, "--checkpoint-every", "3", "--checkpoint", str(ckpt))
    assert load_checkpoint(ckpt).epoch == 3
    resumed = tmp_path / "resumed.bprop"
    assert main(["train", str(data), "--out", str(resumed), "--resume", str(ckpt), "-q"]) == 0
    assert np.array_equal(
        load_model(str(full)).network.params, load_model(str(resumed)).network.params
    )
    assert load_model(str(resumed)).history.epochs == 5


def test_resume_from_the_final_epoch_changes_nothing(tmp_path):
    """Early stopping fired in the checkpointed epoch: resuming finishes the run as it ended
    (best weights restored), without training another epoch."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.choice(["u", "v", "w"], 40)})
    df["y"] = rng.choice(["hi", "lo"], 40)  # labels of pure noise: the validation loss rises
    data = tmp_path / "noise.csv"
    df.to_csv(data, index=False)
    out, ckpt = tmp_path / "m.bprop", tmp_path / "m.bprop.ckpt"
    argv = [
        "train",
        str(data),
        "--target",
        "y",
        "--out",
        str(out),
        "--epochs",
        "300",
        "--hidden",
        "4",
        "--lr",
        "0.5",
        "--patience",
        "3",
        "--checkpoint-every",
        "1",
        "-q",
    ]
    assert main(argv) == 0
    ended = load_model(str(out))
    assert ended.history.stop_reason.startswith("early_stopping")
    assert ended.history.stop is StopReason.EARLY_STOPPING
    assert ended.history.restored_best
    assert load_checkpoint(ckpt).epoch == ended.history.epochs
    resumed = tmp_path / "resumed.bprop"
    assert main(["train", str(data), "--out", str(resumed), "--resume", str(ckpt), "-q"]) == 0
    again = load_model(str(resumed))
    assert np.array_equal(ended.network.params, again.network.params)
    assert again.history.epochs == ended.history.epochs
    assert again.history.stop_reason == ended.history.stop_reason
    assert again.history.stop is StopReason.EARLY_STOPPING


def test_resume_with_other_data_is_refused(tmp_path, data, capsys):
    _train(data, tmp_path / "m.bprop", 3, "--checkpoint-every", "1")
    other = tmp_path / "other.csv"
    pd.read_csv(data).iloc[::-1].to_csv(other, index=False)
    assert (
        main(
            [
                "train",
                str(other),
                "--out",
                str(tmp_path / "r.bprop"),
                "--resume",
                str(tmp_path / "m.bprop.ckpt"),
            ]
        )
        == 1
    )
    assert "different data" in capsys.readouterr().err
    assert not (tmp_path / "r.bprop").exists()


def test_info_reads_a_checkpoint(tmp_path, data, capsys):
    _train(data, tmp_path / "m.bprop", 3, "--checkpoint-every", "2")
    capsys.readouterr()
    assert main(["info", str(tmp_path / "m.bprop.ckpt")]) == 0
    assert "checkpoint  epoch 2, rule momentum" in capsys.readouterr().out


def test_resume_refuses_conflicting_settings(tmp_path, data, capsys):
    _train(data, tmp_path / "m.bprop", 3, "--checkpoint-every", "1")
    ckpt = str(tmp_path / "m.bprop.ckpt")
    argv = ["train", str(data), "--out", str(tmp_path / "r.bprop"), "--resume", ckpt, "-q"]
    assert main([*argv, "--rule", "adam"]) == 1
    assert "--rule 'adam' differs from the checkpoint's 'momentum'" in capsys.readouterr().err
    # the same value as in the checkpoint is fine
    assert main([*argv, "--epochs", "3", "--hidden", "4", "--batch-size", "8"]) == 0
