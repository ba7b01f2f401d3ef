"""``bprop train --resume`` on streamed runs: a streamed run resumed from a checkpoint ends
with the weights of the uninterrupted streamed run, and a checkpoint resumes only on the
path (streamed or in memory) it was written on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bprop.cli import main
from bprop.cli.common import load_model
from bprop.training.checkpoint import load_checkpoint

BASE = ["--hidden", "4", "--no-progress", "-q"]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["u", "v", "w"], n)})
    df["y"] = np.where(df["a"] + (df["b"] == "u") + rng.normal(0, 0.5, n) > 0.3, "hi", "lo")
    path = tmp_path / "d.parquet"
    df.to_parquet(path, row_group_size=100)  # four row groups: block shuffling, hashed split
    return path


def _train(data, out, *extra) -> int:
    return main(["train", str(data), "--target", "y", "--out", str(out), *BASE, *extra])


@pytest.mark.parametrize("rule", ["irprop+", "adam"])
def test_resumed_streamed_run_equals_the_uninterrupted_one(tmp_path, data, rule):
    """Full batch (iRprop+) and mini-batch (Adam, block-shuffled epochs), with the hashed
    validation split and early stopping's bookkeeping: bit for bit."""
    run = ["--rule", rule, "--epochs", "5", "--memory-limit", "0", "--batch-size", "32"]
    full = tmp_path / "full.bprop"
    assert _train(data, full, *run) == 0
    ckpt = tmp_path / "c.ckpt"
    assert _train(data, tmp_path / "x.bprop", *run, "--checkpoint", str(ckpt),
                  "--checkpoint-every", "3") == 0  # fmt: skip
    assert load_checkpoint(ckpt).epoch == 3
    assert load_checkpoint(ckpt).metadata["training"]["streamed"] is True
    resumed = tmp_path / "resumed.bprop"
    argv = ["train", str(data), "--out", str(resumed), "--resume", str(ckpt), "--json"]
    assert main([*argv, "--no-progress"]) == 0  # (no --memory-limit: the checkpoint's path)
    a, b = load_model(str(full)), load_model(str(resumed))
    assert b.metadata["training"]["streamed"] is True
    assert b.history.epochs == 5
    assert np.array_equal(a.network.params, b.network.params)
    assert np.array_equal(a.history.loss, b.history.loss)
    assert np.array_equal(a.history.val_loss, b.history.val_loss)


def test_checkpoint_resumes_only_on_its_own_path(tmp_path, data, capsys):
    run = ["--rule", "irprop+", "--epochs", "4", "--checkpoint-every", "3"]
    streamed, in_memory = tmp_path / "s.ckpt", tmp_path / "m.ckpt"
    assert _train(data, tmp_path / "s.bprop", *run, "--memory-limit", "0",
                  "--checkpoint", str(streamed)) == 0  # fmt: skip
    assert _train(data, tmp_path / "m.bprop", *run, "--checkpoint", str(in_memory)) == 0
    out = tmp_path / "r.bprop"
    resume = ["train", str(data), "--out", str(out), "-q", "--resume"]
    capsys.readouterr()
    assert main([*resume, str(streamed), "--memory-limit", "1GB"]) == 1
    err = capsys.readouterr().err
    assert "checkpoint is of a streamed run" in err and "--memory-limit 0" in err
    assert main([*resume, str(in_memory), "--memory-limit", "0"]) == 1
    err = capsys.readouterr().err
    assert "checkpoint is of an in-memory run" in err and "leave --memory-limit out" in err
    assert not out.exists()
    # without --memory-limit each resumes on its own path
    for ckpt, streamed_run in ((streamed, True), (in_memory, False)):
        assert main([*resume[:-1], "--json", "--resume", str(ckpt)]) == 0
        assert json.loads(capsys.readouterr().out)["streamed"] is streamed_run
        same = load_model(str(tmp_path / ("s.bprop" if streamed_run else "m.bprop")))
        assert np.array_equal(load_model(str(out)).network.params, same.network.params)
