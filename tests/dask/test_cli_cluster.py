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
