"""Early stopping: when it is on, the validation split, the best epoch."""

import numpy as np
import pytest
from tiny import SMALL

from sklstm import LSTMClassifier, LSTMRegressor


def test_early_stopping_attributes_and_best_weights(make_tokens):
    X, y, _ = make_tokens(n=300)
    clf = LSTMClassifier(
        hidden_size=12,
        embedding_dim=8,
        max_epochs=15,
        early_stopping=True,
        n_iter_no_change=2,
        random_state=0,
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # the kept weights are the best epoch's: re-scoring the validation rows
    # reproduces the best score (validation rows are drawn with the same seed)
    hist = clf.net_.history
    best_epoch = int(np.argmax(hist[:, "valid_score"]))
    assert hist[best_epoch, "valid_score"] == clf.best_validation_score_


def test_no_early_stopping_attributes(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(early_stopping=False, **SMALL).fit(X, y)
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_auto_early_stopping_depends_on_size(token_data):
    X, y, _ = token_data  # 200 samples: below the 'auto' threshold
    assert LSTMClassifier(**SMALL).fit(X, y).validation_scores_ is None
    big = np.tile(X, (5, 1))
    clf = LSTMClassifier(**{**SMALL, "max_epochs": 1}).fit(big, np.tile(y, 5))
    assert clf.validation_scores_ is not None


def test_a_larger_max_epochs_does_not_let_the_loss_stop_cut_training_short(rng):
    # one batch per epoch, and tol so large that every epoch is a miss: only
    # the 400-step guard keeps the training-loss stop from acting after
    # n_iter_no_change epochs, for an explicit budget as for "auto"
    X = rng.normal(size=(30, 4, 1)).astype(np.float32)
    y = X[:, -1, 0]
    params = dict(
        SMALL, hidden_size=4, early_stopping=False, tol=1e9, n_iter_no_change=2
    )
    auto = LSTMRegressor(**dict(params, max_epochs="auto")).fit(X, y)
    more = LSTMRegressor(**dict(params, max_epochs=450)).fit(X, y)
    assert auto.n_iter_ >= 400
    assert 400 < more.n_iter_ < 450  # the guard, then the stop
    # a budget below the guard runs in full
    assert LSTMRegressor(**dict(params, max_epochs=7)).fit(X, y).n_iter_ == 7


# the history keys the docs list (docs/interop.rst, "Training history"):
# loggers, plots and Optuna's SkorchPruningCallback rely on these names
TRAIN_KEYS = {"epoch", "dur", "train_loss", "train_loss_best", "train_batch_count"}
VALID_KEYS = {"valid_loss", "valid_loss_best", "valid_score", "valid_batch_count"}


@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_history_keys_are_the_documented_ones(Est, early_stopping, rng):
    X = rng.normal(size=(40, 5))
    y = (X[:, -1] > 0).astype(int)
    est = Est(**SMALL, early_stopping=early_stopping).fit(X, y)
    for row in est.net_.history:
        assert TRAIN_KEYS <= set(row)
        # a validation score exactly when there is a validation split
        assert (VALID_KEYS <= set(row)) is early_stopping
        assert ("valid_score" in row) is early_stopping
    if early_stopping:
        assert est.validation_scores_ == est.net_.history[:, "valid_score"]
