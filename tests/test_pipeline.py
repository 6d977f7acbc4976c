"""Raw text in, predictions out, inside scikit-learn's tools."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer

SMALL = dict(hidden_size=16, embedding_dim=16, max_epochs=15, lr=1e-2, random_state=0)

POS_EN = ["great phone", "i love it", "works great", "excellent value", "very good"]
NEG_EN = ["terrible phone", "i hate it", "broke fast", "awful value", "very bad"]
POS_ZH = ["这家酒店很好", "味道很好吃", "服务非常好", "苹果 iPhone 15 很好用"]
NEG_ZH = ["这家酒店很差", "味道很难吃", "服务非常差", "苹果 iPhone 15 很难用"]


def _corpus(n_repeats=8, seed=0):
    rng = np.random.default_rng(seed)
    pos, neg = POS_EN + POS_ZH, NEG_EN + NEG_ZH
    texts, labels = [], []
    for _ in range(n_repeats):
        for t in pos:
            texts.append(t + " " + rng.choice(["", "!", " today", " 真的"]))
            labels.append("pos")
        for t in neg:
            texts.append(t + " " + rng.choice(["", "!", " today", " 真的"]))
            labels.append("neg")
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def fitted_pipe():
    texts, labels = _corpus()
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**SMALL))
    return pipe.fit(texts, labels), texts, labels


def test_raw_text_pipeline_learns_english_and_chinese(fitted_pipe):
    pipe, texts, labels = fitted_pipe
    assert pipe.score(texts, labels) > 0.95
    pred = pipe.predict(["great phone", "这家酒店很差"])
    assert list(pred) == ["pos", "neg"]
    proba = pipe.predict_proba(["great phone", "这家酒店很差"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_text_inputs_list_array_series_agree(fitted_pipe):
    pd = pytest.importorskip("pandas", reason="pandas is a test extra")
    pipe, texts, _ = fitted_pipe
    expected = pipe.predict_proba(texts)
    np.testing.assert_array_equal(
        pipe.predict_proba(np.array(texts, dtype=object)), expected
    )
    np.testing.assert_array_equal(pipe.predict_proba(pd.Series(texts)), expected)


def test_padding_width_of_sequencer_does_not_change_predictions():
    texts, labels = _corpus()
    short = make_pipeline(
        TextSequencer(max_len=20, min_frequency=1), LSTMClassifier(**SMALL)
    )
    long = make_pipeline(
        TextSequencer(max_len=200, min_frequency=1), LSTMClassifier(**SMALL)
    )
    np.testing.assert_allclose(
        short.fit(texts, labels).predict_proba(texts),
        long.fit(texts, labels).predict_proba(texts),
        rtol=1e-6,
        atol=1e-7,
    )


def test_grid_search_in_parallel_over_text_and_network_params():
    texts, labels = _corpus(n_repeats=4)
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**SMALL))
    grid = GridSearchCV(
        pipe,
        {"textsequencer__max_len": [4, 16], "lstmclassifier__hidden_size": [8, 16]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        n_jobs=2,
    )
    grid.fit(texts, labels)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_score_ > 0.6
    assert grid.predict(["great phone"]).shape == (1,)


def test_randomized_search_and_cross_val_score():
    texts, labels = _corpus(n_repeats=4)
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**SMALL))
    search = RandomizedSearchCV(
        pipe,
        {"lstmclassifier__lr": [3e-3, 1e-2], "lstmclassifier__dropout": [0.0, 0.3]},
        n_iter=2,
        cv=2,
        random_state=0,
    ).fit(texts, labels)
    assert search.best_estimator_.predict(texts[:3]).shape == (3,)
    scores = cross_val_score(pipe, texts, labels, cv=2)
    assert scores.shape == (2,)


def test_column_transformer_with_a_text_column():
    pd = pytest.importorskip("pandas", reason="pandas is a test extra")
    texts, labels = _corpus()
    df = pd.DataFrame({"review": texts, "stars": np.arange(len(texts)) % 5})
    pre = ColumnTransformer([("text", TextSequencer(min_frequency=1), "review")])
    pipe = make_pipeline(pre, LSTMClassifier(**SMALL)).fit(df, labels)
    assert pipe.score(df, labels) > 0.9


def test_regressor_on_text():
    texts, labels = _corpus()
    y = (labels == "pos").astype(float) * 10.0 + 3.0
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMRegressor(**SMALL)).fit(
        texts, y
    )
    pred = pipe.predict(["great phone", "这家酒店很差"])
    assert pred[0] > pred[1]


def test_pipeline_joblib_round_trip_in_fresh_process(fitted_pipe, tmp_path):
    pipe, texts, _ = fitted_pipe
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    expected = pipe.predict_proba(texts)
    np.testing.assert_array_equal(joblib.load(path).predict_proba(texts), expected)
    np.save(tmp_path / "expected.npy", expected)
    joblib.dump(texts, tmp_path / "texts.joblib")
    code = textwrap.dedent(
        f"""
        import joblib, numpy as np
        pipe = joblib.load({str(path)!r})
        texts = joblib.load({str(tmp_path / "texts.joblib")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_array_equal(pipe.predict_proba(texts), expected)
        print("identical")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "identical" in out.stdout
