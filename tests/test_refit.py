"""refit: after early stopping, a fresh network trained on all the data."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor

SETTINGS = dict(
    refit=True,
    n_members=1,
    hidden_size=12,
    embedding_dim=8,
    max_epochs=8,
    early_stopping=True,
    n_iter_no_change=3,
    random_state=0,
)


def _same_weights(a, b):
    sa, sb = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_refit_trains_on_all_rows_for_the_epochs_of_lowest_validation_loss(
    make_tokens,
):
    X, y, _ = make_tokens(n=300)
    chosen = LSTMClassifier(**{**SETTINGS, "refit": False}).fit(X, y)
    losses = chosen.net_.history[:, "valid_loss"]
    best = int(np.argmin(losses)) + 1

    clf = LSTMClassifier(**SETTINGS).fit(X, y)
    assert clf.refit_epochs_ == best
    assert len(clf.net_.history) == best
    assert "valid_loss" not in clf.net_.history[-1]
    # the selection run is what the history attributes describe
    assert clf.validation_scores_ == chosen.validation_scores_
    assert clf.n_iter_ == chosen.n_iter_
    # the same network as a fit without early stopping for that many epochs
    # on every row, with the same seed
    plain = LSTMClassifier(
        **{**SETTINGS, "early_stopping": False, "max_epochs": best, "refit": False}
    ).fit(X, y)
    assert _same_weights(clf, plain)
    # calibration comes from the held-out split of the selection run
    assert clf.temperature_ == chosen.temperature_
    assert not _same_weights(clf, chosen)


def test_refit_is_reproducible(make_tokens):
    X, y, _ = make_tokens(n=300)
    a = LSTMClassifier(**SETTINGS).fit(X, y)
    b = LSTMClassifier(**SETTINGS).fit(X, y)
    assert _same_weights(a, b)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_refit_is_off_by_default(make_tokens):
    X, y, _ = make_tokens(n=300)
    clf = LSTMClassifier(**{**SETTINGS, "refit": False})
    assert LSTMClassifier().refit is False and LSTMRegressor().refit is False
    clf.fit(X, y)
    assert clf.refit_epochs_ is None
    assert "valid_loss" in clf.net_.history[-1]


def test_refit_on_series(rng):
    X = rng.normal(size=(120, 10))
    y = (X[:, 0] > 0).astype(int)
    clf = LSTMClassifier(**SETTINGS).fit(X, y)
    assert clf.refit_epochs_ == len(clf.net_.history) >= 1
    assert clf.predict(X).shape == (120,)


def test_refit_true_on_a_regressor_keeps_its_intervals(rng):
    X = rng.normal(size=(120, 10))
    y = X[:, 0] + 0.1 * rng.normal(size=120)
    reg = LSTMRegressor(**SETTINGS).fit(X, y)
    assert reg.refit_epochs_ >= 1
    lower, upper = reg.predict_interval(X, coverage=0.8)
    assert lower.shape == upper.shape == (120,)
    assert np.all(lower <= upper)


def test_no_refit_without_early_stopping_or_when_continuing(make_tokens):
    X, y, _ = make_tokens(n=300)
    off = LSTMClassifier(**{**SETTINGS, "early_stopping": False}).fit(X, y)
    assert off.refit_epochs_ is None
    warm = LSTMClassifier(warm_start=True, **SETTINGS).fit(X, y)
    assert warm.refit_epochs_ is not None
    warm.fit(X, y)  # continues the fitted network: nothing to add back
    assert warm.refit_epochs_ is None


class _StopTheRefit(Callback):
    """Ctrl-C in the middle of the refit's second epoch (no validation split)."""

    def on_batch_end(self, net, training=False, **kwargs):
        if net.train_split is None and len(net.history) == 2:
            raise KeyboardInterrupt


def test_interrupted_refit_keeps_the_early_stopped_network(make_tokens):
    X, y, _ = make_tokens(n=300)
    chosen = LSTMClassifier(**{**SETTINGS, "refit": False}).fit(X, y)
    clf = LSTMClassifier(callbacks=[_StopTheRefit()], **SETTINGS)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        clf.fit(X, y)
    assert clf.refit_epochs_ is None
    assert _same_weights(clf, chosen)
    np.testing.assert_array_equal(clf.predict_proba(X), chosen.predict_proba(X))


def test_refit_with_an_accelerator_is_refused_before_training(make_tokens):
    X, y, _ = make_tokens(n=300)
    clf = LSTMClassifier(accelerator=object(), **SETTINGS)
    with pytest.raises(ValueError, match="refit=True is not available"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")
