"""Long-format tables (one row per series and time step), both directions."""

import numpy as np
import pandas as pd
import pytest
from tiny import EXACT

from sklstm import LSTMClassifier, from_long_format, to_long_format


def _polars():
    return pytest.importorskip("polars", reason="polars is not installed")


BACKENDS = ["pandas", "polars"]


def _table(backend, data):
    frame = pd.DataFrame(data)
    return _polars().from_pandas(frame) if backend == "polars" else frame


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_are_sorted_and_series_of_unequal_length_stay_a_list(backend):
    table = _table(
        backend,
        {
            "unique_id": ["b", "a", "a", "b", "a"],
            "ds": [2, 3, 1, 1, 2],
            "y": [6.0, 3.0, 1.0, 5.0, 2.0],
            "x": [0.6, 0.3, 0.1, 0.5, 0.2],
        },
    )
    data = from_long_format(table, exog_cols="x")
    assert data.ids.tolist() == ["a", "b"]
    assert isinstance(data.X, list)
    np.testing.assert_array_equal(data.X[0], [[1, 0.1], [2, 0.2], [3, 0.3]])
    np.testing.assert_array_equal(data.X[1], [[5, 0.5], [6, 0.6]])
    assert [t.tolist() for t in data.times] == [[1, 2, 3], [1, 2]]
    assert data.feature_names == ["y", "x"]
    assert data.y is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_of_a_3d_array_with_labels(backend, rng):
    X = rng.normal(size=(4, 5, 2))
    y = np.array([0, 1, 1, 0])
    table = to_long_format(X, ids=list("wxyz"), y=y, backend=backend)
    assert type(table).__module__.split(".")[0] == backend
    assert list(table.columns) == ["unique_id", "ds", "y0", "y1", "label"]
    data = from_long_format(table, value_cols=["y0", "y1"], label_col="label")
    np.testing.assert_array_equal(data.X, X)  # equal lengths: one 3-D array
    np.testing.assert_array_equal(data.y, y)
    assert data.ids.tolist() == list("wxyz")


def test_duplicates_are_refused_with_the_fix():
    table = pd.DataFrame({"unique_id": [1, 1, 2], "ds": [0, 0, 0], "y": [1.0, 2, 3]})
    with pytest.raises(ValueError, match=r"Series 1 .* at ds=0.*Aggregate"):
        from_long_format(table)


def test_a_gap_raises_by_default_and_is_filled_forward_on_request():
    table = pd.DataFrame(
        {"unique_id": ["a"] * 4, "ds": [0, 1, 4, 5], "y": [1.0, 2.0, 5.0, 6.0]}
    )
    with pytest.raises(ValueError, match=r"Series 'a' has a gap after ds=1 .*gaps="):
        from_long_format(table)
    filled = from_long_format(table, gaps="ffill")
    np.testing.assert_array_equal(filled.X, [[1, 2, 2, 2, 5, 6]])
    assert filled.times[0].tolist() == [0, 1, 2, 3, 4, 5]
    ignored = from_long_format(table, gaps="ignore")
    np.testing.assert_array_equal(ignored.X, [[1, 2, 5, 6]])
    # a coarser step makes the same rows regular
    stepped = from_long_format(table.assign(ds=table.ds * 2), step=2, gaps="ffill")
    assert stepped.X.shape == (1, 6)


def test_monthly_datetimes_are_one_step_apart():
    months = pd.date_range("2023-01-01", periods=6, freq="MS")
    table = pd.DataFrame({"unique_id": 0, "ds": months, "y": np.arange(6.0)})
    data = from_long_format(table)
    np.testing.assert_array_equal(data.X, [np.arange(6.0)])
    with pytest.raises(ValueError, match="gap after ds=2023-02-01"):
        from_long_format(table.drop(index=2))
    filled = from_long_format(table.drop(index=2), gaps="ffill")
    np.testing.assert_array_equal(filled.X, [[0, 1, 1, 3, 4, 5]])


@pytest.mark.parametrize(
    "data, kwargs, match",
    [
        ({"id": [1], "ds": [0], "y": [1.0]}, {}, "no column 'unique_id'.*id_col="),
        (
            {"unique_id": [1, 1], "ds": [0, 1], "y": [1.0, np.nan]},
            {},
            "'y' is missing for series 1 at ds=1",
        ),
        (
            {"unique_id": [1, 1], "ds": [0, 1], "y": [1.0, 2.0], "c": [0, 1]},
            {"label_col": "c"},
            "label column 'c' changes within series 1",
        ),
        (
            {"unique_id": [1, None], "ds": [0, 1], "y": [1.0, 2.0]},
            {},
            "'unique_id' column has 1 missing",
        ),
    ],
    ids=["no-column", "missing-value", "label-changes", "missing-id"],
)
def test_clear_errors(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        from_long_format(pd.DataFrame(data), **kwargs)


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="must be a dataframe"):
        from_long_format([[1, 2, 3]])


def test_an_estimator_trains_on_the_converted_series(rng):
    lengths = rng.integers(5, 12, size=40)
    labels = rng.integers(0, 2, size=40)
    rows = [
        (i, t, float(labels[i]) + rng.normal(scale=0.1), labels[i])
        for i, n in enumerate(lengths)
        for t in range(n)
    ]
    table = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "label"])
    data = from_long_format(table.sample(frac=1, random_state=0), label_col="label")
    assert [len(x) for x in data.X] == lengths.tolist()
    # each series kept its own label: the values sit around it
    assert [round(float(x.mean())) for x in data.X] == data.y.tolist()
    clf = LSTMClassifier(**dict(EXACT, max_epochs=40)).fit(data.X, data.y)
    assert clf.score(data.X, data.y) >= 0.9
