"""Preprocessing fitted by streaming equals fitting on the concatenated data."""

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from bprop.sklearn.streaming import fit_streaming, iter_frames  # noqa: E402


@pytest.fixture
def table_dir(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    # mean / std = 5: the variance is well conditioned, so 1e-12 measures the algorithm
    size = 50.0 + 10.0 * rng.normal(size=n)
    size[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[rng.random(n) < 0.05] = None
    shape = rng.choice(["a", "b"], n).astype(object)
    shape[250:] = "z"  # a category only in the last file
    frame = pd.DataFrame({"size": size, "w": rng.normal(size=n), "color": color,
                          "shape": shape, "y": rng.normal(size=n)})  # fmt: skip
    d = tmp_path / "t"
    d.mkdir()
    pq.write_table(pa.Table.from_pandas(frame[:200]), d / "a.parquet", row_group_size=64)
    pq.write_table(pa.Table.from_pandas(frame[200:]), d / "b.parquet", row_group_size=40)
    return d


def _pipeline():
    numeric = Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())])
    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])  # fmt: skip
    return ColumnTransformer(
        [("numeric", numeric, ["size", "w"]), ("categorical", categorical, ["color", "shape"])],
        remainder="drop",
        sparse_threshold=0.0,
    )


def test_the_cli_column_transformer_fitted_by_streaming_equals_fitting_in_memory(table_dir):
    whole = pq.read_table(table_dir).to_pandas()
    features = ["size", "w", "color", "shape"]
    direct = _pipeline().fit(whole[features])
    streamed = fit_streaming(_pipeline(), lambda: iter_frames(table_dir, features))
    for name in ("numeric", "categorical"):
        a, b = direct.named_transformers_[name], streamed.named_transformers_[name]
        assert type(a) is type(b)
    na, nb = direct.named_transformers_["numeric"], streamed.named_transformers_["numeric"]
    np.testing.assert_allclose(nb["impute"].statistics_, na["impute"].statistics_, rtol=1e-12)
    np.testing.assert_allclose(nb["scale"].mean_, na["scale"].mean_, rtol=1e-12)
    np.testing.assert_allclose(nb["scale"].scale_, na["scale"].scale_, rtol=1e-12)
    ca, cb = direct.named_transformers_["categorical"], streamed.named_transformers_["categorical"]
    assert list(cb["impute"].statistics_) == list(ca["impute"].statistics_)
    for x, y in zip(ca["onehot"].categories_, cb["onehot"].categories_, strict=True):
        assert x.dtype == y.dtype and list(x) == list(y)
    assert "z" in list(cb["onehot"].categories_[1])  # seen only after the first block
    assert direct.output_indices_ == streamed.output_indices_
    assert list(direct.get_feature_names_out()) == list(streamed.get_feature_names_out())
    assert direct.get_params(deep=False).keys() == streamed.get_params(deep=False).keys()
    np.testing.assert_allclose(
        streamed.transform(whole[features]), direct.transform(whole[features]), atol=1e-12
    )


def test_a_target_scaler_by_streaming(table_dir):
    whole = pq.read_table(table_dir).to_pandas()
    direct = StandardScaler().fit(whole[["y"]])
    streamed = fit_streaming(StandardScaler(), lambda: iter_frames(table_dir, ["y"]))
    np.testing.assert_allclose(streamed.mean_, direct.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.var_, direct.var_, rtol=1e-12)
    assert streamed.n_samples_seen_ == direct.n_samples_seen_ == 300


@pytest.mark.parametrize(
    ("transformer", "message"),
    [
        (SimpleImputer(strategy="median"), "cannot be fitted exactly"),
        (OneHotEncoder(min_frequency=3), "cannot be streamed"),
        (Pipeline([("pca", __import__("sklearn.decomposition").decomposition.PCA())]),
         "PCA cannot be fitted by streaming"),
    ],
)  # fmt: skip
def test_what_cannot_be_streamed_is_refused(table_dir, transformer, message):
    with pytest.raises(ValueError, match=message):
        fit_streaming(transformer, lambda: iter_frames(table_dir, ["w"]))


def test_training_on_raw_columns_through_the_streamed_preprocessing(table_dir):
    from bprop import MLPRegressor, ParquetData

    features = ["size", "w", "color", "shape"]
    ct = fit_streaming(_pipeline(), lambda: iter_frames(table_dir, features))
    whole = pq.read_table(table_dir).to_pandas()
    X = ct.transform(whole[features])
    kw = {"hidden_layer_sizes": (4,), "solver": "irprop-", "max_iter": 5, "random_state": 0}
    with pytest.warns(Warning):
        a = MLPRegressor(**kw).fit(X, whole["y"].to_numpy())
    with pytest.warns(Warning):
        b = MLPRegressor(**kw).fit(
            ParquetData(table_dir, "y", features, batch_rows=300, transform=ct)
        )
    assert b.n_features_in_ == X.shape[1] == 2 + 3 + 3  # size, w; red green blue; a b z
    np.testing.assert_array_equal(a.network_.params, b.network_.params)


def test_predictions_written_block_by_block(table_dir, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from bprop.sklearn.streaming import predict_streaming

    whole = pq.read_table(table_dir).to_pandas()
    features = ["size", "w", "color", "shape"]
    labels = np.where(whole["y"] > 0, "up", "down")
    model = Pipeline([("columns", _pipeline()), ("clf", LogisticRegression())])
    model.fit(whole[features], labels)
    out = tmp_path / "preds.parquet"
    assert predict_streaming(model, table_dir, out, features) == 300
    got = pq.read_table(out)
    assert got.column_names == ["prediction"]
    # one per input row group: 200 rows by 64 (4 groups), 100 rows by 40 (3 groups)
    assert pq.ParquetFile(out).metadata.num_row_groups == 4 + 3
    assert got.column("prediction").to_pylist() == list(model.predict(whole[features]))
    predict_streaming(model, table_dir, out, features, method="predict_proba")
    proba = pq.read_table(out)
    assert proba.column_names == ["proba_down", "proba_up"]
    np.testing.assert_allclose(
        np.column_stack([proba.column(c).to_numpy() for c in proba.column_names]),
        model.predict_proba(whole[features]),
        atol=1e-15,
    )
    before = out.read_bytes()
    with pytest.raises(ValueError):  # a column the model needs is not read
        predict_streaming(model, table_dir, out, ["size", "w"])
    assert out.read_bytes() == before


def test_convert_csv_to_parquet_streamed(tmp_path):
    from bprop.sklearn.streaming import convert_csv

    frame = pd.DataFrame({"a": np.arange(1000) * 0.5, "s": ["x", "y"] * 500,
                          "y": np.arange(1000) % 3})  # fmt: skip
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert convert_csv(tmp_path / "d.csv", tmp_path / "d.parquet", row_group_rows=300) == 1000
    back = pq.read_table(tmp_path / "d.parquet").to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4,5\n")  # a row with 3 cells
    from bprop import ParquetDataError

    with pytest.raises(ParquetDataError, match="bad.csv"):
        convert_csv(tmp_path / "bad.csv", tmp_path / "d.parquet")
    assert len(pq.read_table(tmp_path / "d.parquet")) == 1000  # the old output is untouched
