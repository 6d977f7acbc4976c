"""sklstm estimators inside scikit-learn's meta-estimators and model tools."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    HalvingGridSearchCV,
    cross_validate,
    learning_curve,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer

FAST = dict(hidden_size=12, embedding_dim=8, max_epochs=8, lr=1e-2, random_state=0)


@pytest.fixture
def series(rng):
    """Univariate series whose class is the sign of the mean of the last steps."""
    X = rng.normal(size=(120, 12))
    y = (X[:, -4:].mean(axis=1) > 0).astype(int)
    return X, y


def test_calibrated_classifier(series):
    X, y = series
    cal = CalibratedClassifierCV(LSTMClassifier(**FAST), cv=3).fit(X, y)
    proba = cal.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_voting_and_stacking(series):
    X, y = series
    estimators = [("lstm", LSTMClassifier(**FAST)), ("lr", LogisticRegression())]
    vote = VotingClassifier(estimators, voting="soft").fit(X, y)
    assert vote.predict_proba(X).shape == (len(X), 2)
    stack = StackingClassifier(estimators, cv=3).fit(X, y)
    assert stack.score(X, y) > 0.7


def test_one_vs_rest_on_three_classes(rng):
    X = rng.normal(size=(90, 8))
    y = np.digitize(X[:, -3:].sum(axis=1), [-1, 1])
    ovr = OneVsRestClassifier(LSTMClassifier(**FAST)).fit(X, y)
    assert ovr.predict_proba(X).shape == (90, 3)


def test_multioutput_and_transformed_target(rng):
    X = rng.normal(size=(80, 10))
    Y = np.column_stack([X[:, -1] * 100, X[:, -2]])
    mo = MultiOutputRegressor(LSTMRegressor(**FAST)).fit(X, Y)
    assert mo.predict(X).shape == (80, 2)
    ttr = TransformedTargetRegressor(
        LSTMRegressor(**FAST), func=np.log1p, inverse_func=np.expm1
    ).fit(X, np.abs(Y[:, 0]))
    assert ttr.predict(X).shape == (80,)


def test_cross_validate_returns_fitted_estimators(series):
    X, y = series
    res = cross_validate(LSTMClassifier(**FAST), X, y, cv=3, return_estimator=True)
    assert len(res["estimator"]) == 3
    assert all(hasattr(est, "net_") for est in res["estimator"])


def test_learning_curve_and_halving_search(series):
    X, y = series
    sizes, train_scores, test_scores = learning_curve(
        LSTMClassifier(**FAST), X, y, train_sizes=[0.5, 1.0], cv=3
    )
    assert test_scores.shape == (2, 3)
    search = HalvingGridSearchCV(
        LSTMClassifier(**FAST), {"hidden_size": [4, 12]}, cv=3, min_resources=40
    ).fit(X, y)
    assert search.best_params_["hidden_size"] in (4, 12)


def test_permutation_importance_finds_the_informative_steps(rng):
    X = rng.normal(size=(200, 8))
    y = X[:, -1] + X[:, -2]
    reg = LSTMRegressor(hidden_size=16, max_epochs=40, lr=1e-2, random_state=0).fit(
        X, y
    )
    imp = permutation_importance(reg, X, y, n_repeats=3, random_state=0)
    top = set(np.argsort(imp.importances_mean)[-2:])
    assert top == {6, 7}


def test_text_pipeline_in_a_meta_estimator():
    texts = ["good", "great", "fine", "bad", "awful", "poor"] * 10
    y = [1, 1, 1, 0, 0, 0] * 10
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(**FAST))
    cal = CalibratedClassifierCV(pipe, cv=2).fit(texts, y)
    assert cal.predict(["good", "awful"]).tolist() == [1, 0]


def test_html_repr_shows_the_changed_hyperparameters():
    html = make_pipeline(
        TextSequencer(max_len=64), LSTMClassifier(hidden_size=7)
    )._repr_html_()
    assert "LSTMClassifier" in html and "hidden_size" in html and "max_len" in html


def test_html_repr_links_each_estimator_to_its_api_page():
    html = make_pipeline(TextSequencer(), LSTMClassifier())._repr_html_()
    for name in ("TextSequencer", "LSTMClassifier"):
        assert f"generated/sklstm.{name}.html" in html
    assert LSTMRegressor()._get_doc_link().endswith("sklstm.LSTMRegressor.html")
