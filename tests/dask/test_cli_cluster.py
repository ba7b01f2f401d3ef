"""bprop train on a Dask cluster: the ordinary pipeline file, from a CSV file or a directory
of Parquet files, with --scheduler (the tests' cluster) or --workers (a new one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bprop
from bprop.cli import main

pytest.importorskip("distributed")


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.standard_normal(n),
            "b": rng.standard_normal(n),
            "colour": rng.choice(["red", "green"], n),
        }
    )
    df["label"] = np.where(df.a + (df.colour == "red") > 0.5, "yes", "no")
    df["value"] = 2 * df.a - df.b + (df.colour == "red")
    return df


def test_train_on_an_existing_cluster_from_csv(cluster, tmp_path, capsys):
    df = _table()
    df.drop(columns=["value"]).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.bprop"
    code = main(
        [
            "train",
            str(tmp_path / "d.csv"),
            "--target",
            "label",
            "--out",
            str(out),
            "--rule",
            "irprop-",
            "--epochs",
            "30",
            "--scheduler",
            cluster.scheduler_address,
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "trained on the Dask cluster" in printed and "validation accuracy" in printed
    model = bprop.load(out)
    assert type(model).__name__ == "Pipeline"
    accuracy = (model.predict(df.drop(columns=["label", "value"])) == df.label).mean()
    assert accuracy > 0.8


def test_train_on_a_new_local_cluster_from_a_parquet_directory(tmp_path, capsys):
    df = _table(seed=1).drop(columns=["label"])
    (tmp_path / "data").mkdir()
    for i in range(3):
        df.iloc[i * 100 : (i + 1) * 100].to_parquet(tmp_path / "data" / f"part{i}.parquet")
    out = tmp_path / "r.bprop"
    code = main(
        [
            "train",
            str(tmp_path / "data"),
            "--target",
            "value",
            "--out",
            str(out),
            "--rule",
            "lbfgs",
            "--epochs",
            "50",
            "--workers",
            "1",
            "--val-fraction",
            "0",
        ]
    )
    assert code == 0
    assert "dashboard" in capsys.readouterr().out
    model = bprop.load(out)
    pred = model.predict(df.drop(columns=["value"]))
    assert np.corrcoef(pred, df.value)[0, 1] > 0.9


def test_cluster_options_are_checked(tmp_path, capsys):
    code = main(
        [
            "train",
            str(tmp_path / "missing.csv"),
            "--target",
            "y",
            "--out",
            str(tmp_path / "m.bprop"),
            "--workers",
            "2",
            "--scheduler",
            "tcp://x:1",
        ]
    )
    assert code != 0
    assert "not both" in capsys.readouterr().err


def test_a_cluster_run_resumes_from_its_checkpoint_on_the_cluster(cluster, tmp_path):
    from bprop.cli.common import load_model
    from bprop.training.checkpoint import load_checkpoint

    (tmp_path / "data").mkdir()
    df = _table(seed=2).drop(columns=["value"])
    for i in range(2):
        df.iloc[i * 150 : (i + 1) * 150].to_parquet(tmp_path / "data" / f"part{i}.parquet")
    data, where = str(tmp_path / "data"), ["--scheduler", cluster.scheduler_address, "-q"]
    run = ["train", data, "--target", "label", "--rule", "irprop-", "--epochs", "5", *where]
    assert main([*run, "--out", str(tmp_path / "full.bprop")]) == 0
    ckpt = tmp_path / "c.ckpt"
    extra = ["--checkpoint-every", "3", "--checkpoint", str(ckpt)]
    assert main([*run, "--out", str(tmp_path / "x.bprop"), *extra]) == 0
    assert load_checkpoint(ckpt).epoch == 3
    resumed = tmp_path / "resumed.bprop"
    assert main(["train", data, "--out", str(resumed), "--resume", str(ckpt), *where]) == 0
    full, again = load_model(str(tmp_path / "full.bprop")), load_model(str(resumed))
    assert np.array_equal(full.network.params, again.network.params)
    assert again.history.epochs == 5
    (tmp_path / "data" / "part1.parquet").unlink()  # other data: refused
    code = main(["train", data, "--out", str(resumed), "--resume", str(ckpt), *where])
    assert code != 0
