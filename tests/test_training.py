"""Training controls: weights, optimizer options, warm start, partial_fit,
multilabel targets and progress output."""

import matplotlib
import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from tiny import EXACT, TINY

from sklstm import (
    LSTMClassifier,
    LSTMRegressor,
)

matplotlib.use("Agg")


# --- sample_weight and class_weight ------------------------------------------
@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
def test_weight_two_equals_duplicating(Est, make_tokens):
    X, y, _ = make_tokens(n=120)
    if Est is LSTMRegressor:
        y = y.astype(float) + X[:, 0] / 50.0
    k = 30
    X_dup = np.concatenate([X, X[:k]])
    y_dup = np.concatenate([y, y[:k]])
    w = np.ones(len(X))
    w[:k] = 2.0
    a = Est(**EXACT).fit(X, y, sample_weight=w)
    b = Est(**EXACT).fit(X_dup, y_dup)
    out_a = a.predict_proba(X) if Est is LSTMClassifier else a.predict(X)
    out_b = b.predict_proba(X) if Est is LSTMClassifier else b.predict(X)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)
    # and weights do matter: unweighted differs
    c = Est(**EXACT).fit(X, y)
    assert not np.allclose(c.loss_curve_, a.loss_curve_)


def test_numeric_scaling_is_weighted(rng):
    X = rng.normal(size=(60, 5, 2))
    X[:20] += 10.0
    y = rng.normal(size=60)
    w = np.ones(60)
    w[:20] = 3.0
    a = LSTMRegressor(**EXACT).fit(X, y, sample_weight=w)
    b = LSTMRegressor(**EXACT).fit(
        np.concatenate([X, X[:20], X[:20]]), np.concatenate([y, y[:20], y[:20]])
    )
    np.testing.assert_allclose(a._input_mean, b._input_mean, rtol=1e-5)
    np.testing.assert_allclose(a._input_scale, b._input_scale, rtol=1e-5)
    np.testing.assert_allclose(a._y_mean, b._y_mean)


def test_class_weight_balanced_equals_explicit_weights(make_tokens):
    X, y, _ = make_tokens(n=150)
    keep = np.r_[np.nonzero(y == 0)[0][:20], np.nonzero(y == 1)[0]]
    X, y = X[keep], y[keep]
    counts = np.bincount(y)
    balanced = LSTMClassifier(class_weight="balanced", **EXACT).fit(X, y)
    as_dict = LSTMClassifier(
        class_weight={0: len(y) / (2 * counts[0]), 1: len(y) / (2 * counts[1])},
        **EXACT,
    ).fit(X, y)
    as_sw = LSTMClassifier(**EXACT).fit(X, y, sample_weight=(len(y) / (2 * counts))[y])
    np.testing.assert_allclose(balanced.loss_curve_, as_dict.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(balanced.loss_curve_, as_sw.loss_curve_, rtol=1e-6)
    # the minority class gains probability compared with no weighting
    plain = LSTMClassifier(**EXACT).fit(X, y)
    assert balanced.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean()


def test_class_weight_and_sample_weight_errors(token_data):
    X, y, _ = token_data
    with pytest.raises(ValueError, match="not classes of y"):
        LSTMClassifier(class_weight={5: 2.0}, **EXACT).fit(X, y)
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        LSTMClassifier(**EXACT).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        LSTMClassifier(**EXACT).fit(X, y, sample_weight=-np.ones(len(y)))


def test_sample_weight_metadata_routing(make_tokens):
    X, y, _ = make_tokens(n=80)
    w = np.linspace(0.5, 2.0, len(y))
    with config_context(enable_metadata_routing=True):
        est = LSTMClassifier(**EXACT).set_fit_request(sample_weight=True)
        search = GridSearchCV(
            make_pipeline(est),
            {"lstmclassifier__hidden_size": [8]},
            cv=2,
            scoring=make_scorer(accuracy_score).set_score_request(sample_weight=True),
        )
        search.fit(X, y, sample_weight=w)
        routed = search.best_estimator_[-1]
    direct = LSTMClassifier(**EXACT).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(routed.loss_curve_, direct.loss_curve_, rtol=1e-6)


# --- optimizer options ---------------------------------


def test_weight_decay_and_optimizer_reach_torch(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(
        optimizer="adamw", weight_decay=0.05, **dict(EXACT, max_epochs=1)
    ).fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.AdamW)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.05


# --- warm_start and partial_fit ---------------------------------------------
def test_warm_start_continues(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, max_epochs=2)).fit(X, y)
    first_curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.n_iter_ == 4
    assert clf.loss_curve_[:2] == first_curve
    # continuing equals training 4 epochs in one go only approximately (the
    # batch order differs), but the loss keeps going down
    assert clf.loss_curve_[-1] < first_curve[-1]
    cold = LSTMClassifier(**dict(EXACT, max_epochs=2)).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 2


def test_warm_start_rejects_new_classes_and_keeps_model(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, max_epochs=2)).fit(X, y)
    before = clf.predict_proba(X)
    net = clf.net_
    y_bad = y.copy()
    y_bad[0] = 7
    with pytest.raises(ValueError, match="not seen in the first fit"):
        clf.fit(X, y_bad)
    assert clf.net_ is net
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_partial_fit(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**EXACT)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    # three partial_fit calls on the same data equal one fit of 3 epochs
    # only when the batches are the same: here one batch holds everything
    full = LSTMClassifier(**dict(EXACT, max_epochs=3, n_iter_no_change=10)).fit(X, y)
    np.testing.assert_allclose(clf.loss_curve_, full.loss_curve_, rtol=1e-4)
    reg = LSTMRegressor(**EXACT)
    reg.partial_fit(X, y.astype(float))
    reg.partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 2
    with pytest.raises(ValueError, match="targets per sample"):
        reg.partial_fit(X, np.c_[y, y].astype(float))


# --- multilabel ---------------------------------------------------------------
def test_multilabel(rng):
    X = rng.integers(2, 30, size=(300, 8))
    Y = np.c_[(X == 5).any(axis=1), (X == 6).any(axis=1), (X == 7).any(axis=1)]
    Y = Y.astype(int)
    clf = LSTMClassifier(
        **dict(TINY, hidden_size=16, lr=1e-2, max_epochs=25, early_stopping=False)
    ).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred = clf.predict(X)
    assert pred.shape == (300, 3) and set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert (pred == Y).mean() > 0.8
    with pytest.raises(ValueError, match="multilabel"):
        LSTMClassifier(class_weight="balanced", **EXACT).fit(X, Y)


def test_multiclass_multioutput_rejected(rng):
    X = rng.integers(2, 30, size=(40, 8))
    with pytest.raises(ValueError, match="binary indicator"):
        LSTMClassifier(**EXACT).fit(X, rng.integers(0, 3, size=(40, 2)))


# --- progress and plots -----------------------------------------------------------------
def test_verbose_prints_epoch_table_and_progress_bar(token_data, capsys):
    X, y, _ = token_data
    LSTMClassifier(verbose=1, **dict(EXACT, max_epochs=2)).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "dur" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2
    LSTMClassifier(verbose=2, **dict(EXACT, max_epochs=1)).fit(X, y)
    captured = capsys.readouterr()
    assert "it/s" in captured.err or "it/s" in captured.out
    LSTMClassifier(verbose=0, **dict(EXACT, max_epochs=1)).fit(X, y)
    assert capsys.readouterr().out == ""


def test_classifier_and_regressor_share_defaults():
    # LSTMClassifier spells out its signature (scikit-learn needs explicit
    # parameters); its shared defaults must not drift from the base class
    import inspect

    from sklstm._base import _BaseLSTM

    base = inspect.signature(_BaseLSTM.__init__).parameters
    for Est in (LSTMClassifier, LSTMRegressor):
        params = inspect.signature(Est.__init__).parameters
        assert {k: params[k].default for k in base} == {
            k: v.default for k, v in base.items()
        }


# --- label smoothing -----------------------------------------------------------
@pytest.mark.parametrize("multilabel", [False, True])
def test_label_smoothing_trains_towards_the_smoothed_targets(make_tokens, multilabel):
    X, y, _ = make_tokens(n=120)
    if multilabel:
        y = np.column_stack([y, X[:, 0] > 15])
    settings = dict(EXACT, max_epochs=200, calibration=None)
    hard = LSTMClassifier(**settings, label_smoothing=0.0).fit(X, y)
    soft = LSTMClassifier(**settings, label_smoothing=0.2).fit(X, y)
    # trained long on data it can separate: hard labels push the
    # probabilities to 0 and 1, smoothed ones to 0.1 and 0.9 (two classes,
    # or each label: 1 - 0.2 + 0.2 / 2)
    assert np.abs(hard.predict_proba(X) - 0.5).mean() > 0.48
    assert 0.37 < np.abs(soft.predict_proba(X) - 0.5).mean() < 0.43
    assert soft.score(X, y) > 0.95


def test_label_smoothing_must_be_below_one(make_tokens):
    X, y, _ = make_tokens(n=40)
    with pytest.raises(ValueError, match="label_smoothing"):
        LSTMClassifier(**TINY, label_smoothing=1.0).fit(X, y)


def test_old_multilabel_pickle_trains_on_without_label_smoothing(make_tokens):
    # a model pickled before label_smoothing existed: its criterion has no
    # such attribute and its estimator no such parameter; it trains on
    X, y, _ = make_tokens(n=60)
    Y = np.column_stack([y, X[:, 0] > 15])
    est = LSTMClassifier(**dict(TINY, max_epochs=2)).fit(X, Y)
    del est.net_.criterion_.label_smoothing
    state = {k: v for k, v in est.__getstate__().items() if k != "label_smoothing"}
    old = LSTMClassifier.__new__(LSTMClassifier)
    old.__setstate__(state)
    assert old.label_smoothing == 0.0
    old.partial_fit(X, Y)
    assert old.predict_proba(X).shape == (60, 2)
