"""Dataframes of any library that narwhals supports: polars beside pandas."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from tiny import EXACT

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer

pl = pytest.importorskip("polars", reason="polars is not installed")

TEXTS = ["good phone", "bad phone", "great battery", "awful screen"] * 6
LABELS = [1, 0, 1, 0] * 6


@pytest.fixture(scope="module")
def text_pipe():
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**EXACT))
    return pipe.fit(TEXTS, LABELS)


@pytest.mark.parametrize(
    "make",
    [
        pl.Series,
        lambda t: pl.DataFrame({"text": t}),
        lambda t: pd.DataFrame({0: t}),  # an integer column name
        lambda t: pd.Series(t, dtype="string"),
    ],
    ids=["pl.Series", "pl.DataFrame", "pd.DataFrame-int-name", "pd.string"],
)
def test_text_columns_read_like_lists(make):
    seq = TextSequencer(min_frequency=1).fit(TEXTS)
    np.testing.assert_array_equal(seq.transform(make(TEXTS)), seq.transform(TEXTS))
    refit = TextSequencer(min_frequency=1).fit(make(TEXTS))
    assert refit.vocabulary_ == seq.vocabulary_


def test_two_text_columns_are_refused_with_the_fix():
    frame = pl.DataFrame({"a": TEXTS, "b": TEXTS})
    with pytest.raises(ValueError, match="one column of text.*df\\['text'\\]"):
        TextSequencer().fit(frame)


def test_missing_text_in_polars_names_the_document():
    with pytest.raises(ValueError, match="Document 1 is missing"):
        TextSequencer().fit(pl.Series(["a", None, "c"]))


def test_pipeline_takes_polars_texts_and_targets(text_pipe):
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**EXACT))
    pipe.fit(pl.Series(TEXTS), pl.Series(LABELS))
    np.testing.assert_allclose(
        pipe.predict_proba(pl.Series(TEXTS)), text_pipe.predict_proba(TEXTS)
    )


def test_column_transformer_on_a_polars_frame(text_pipe):
    frame = pl.DataFrame({"text": TEXTS, "other": range(len(TEXTS))})
    pipe = make_pipeline(
        ColumnTransformer([("t", TextSequencer(min_frequency=1), "text")]),
        LSTMClassifier(**EXACT),
    ).fit(frame, LABELS)
    np.testing.assert_allclose(
        pipe.predict_proba(frame), text_pipe.predict_proba(TEXTS)
    )


def test_set_output_polars(text_pipe):
    seq = TextSequencer(min_frequency=1).set_output(transform="polars")
    out = seq.fit_transform(TEXTS)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == list(seq.get_feature_names_out())
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**EXACT))
    pipe.set_output(transform="polars").fit(TEXTS, LABELS)
    np.testing.assert_allclose(
        pipe.predict_proba(TEXTS), text_pipe.predict_proba(TEXTS)
    )


def test_numeric_polars_frame_and_target(rng):
    X = rng.normal(size=(30, 6))
    y = X[:, -1]
    ref = LSTMRegressor(**EXACT).fit(X, y)
    reg = LSTMRegressor(**EXACT).fit(pl.DataFrame(X), pl.Series(y))
    np.testing.assert_allclose(reg.predict(pl.DataFrame(X)), ref.predict(X))
    assert list(reg.feature_names_in_) == pl.DataFrame(X).columns


def test_polars_target_with_nan_is_refused(rng):
    X = rng.normal(size=(10, 4))
    with pytest.raises(ValueError, match="y contains NaN"):
        LSTMRegressor(**EXACT).fit(X, pl.Series([np.nan] + [0.0] * 9))


def test_string_labels_and_weights_as_polars_series(rng):
    X = rng.normal(size=(20, 5))
    labels = ["pos", "neg"] * 10
    clf = LSTMClassifier(**EXACT).fit(
        pl.DataFrame(X), pl.Series(labels), sample_weight=pl.Series(np.ones(20))
    )
    ref = LSTMClassifier(**EXACT).fit(X, labels)
    assert clf.classes_.tolist() == ["neg", "pos"]
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X))
