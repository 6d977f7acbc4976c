"""The callbacks of a fit: schedules, user callbacks, the stop on a non-finite
loss and the epoch snapshot that Ctrl-C falls back to."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback, Checkpoint
from tiny import EXACT, SMALL

from sklstm import (
    LSTMClassifier,
    LSTMRegressor,
)


def test_lr_schedules(token_data):
    X, y, _ = token_data
    cos = LSTMClassifier(lr_schedule="cosine", **dict(EXACT, max_epochs=5)).fit(X, y)
    lrs = cos.net_.history[:, "event_lr"]
    assert lrs[0] == pytest.approx(1e-2)
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    plateau = LSTMClassifier(
        lr_schedule="plateau", n_iter_no_change=2, tol=10.0, **dict(EXACT, max_epochs=6)
    )
    # tol=10 makes every epoch count as 'no improvement' for early stopping,
    # so this only checks that the plateau schedule is installed and runs
    plateau.fit(X, y)
    assert "lr_schedule" in dict(plateau.net_.callbacks_)


def test_user_callbacks_run_and_clone(token_data, tmp_path):
    X, y, _ = token_data
    counter = _CountEpochs()
    ckpt = Checkpoint(dirname=str(tmp_path), monitor="train_loss_best")
    clf = LSTMClassifier(callbacks=[counter, ("ckpt", ckpt)], **EXACT)
    cloned = clone(clf)
    assert cloned.callbacks[0] is not counter
    clf.fit(X, y)
    assert counter.epochs_ == clf.n_iter_
    assert (tmp_path / "params.pt").exists()
    with pytest.raises(TypeError, match="skorch Callback"):
        LSTMClassifier(callbacks=["nope"], **EXACT).fit(X, y)


class _CtrlC(Callback):
    """Raises KeyboardInterrupt in the middle of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training, **kwargs):
        if training and len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_last_finished_epoch(token_data):
    X, y, _ = token_data
    params = dict(EXACT, batch_size=16, max_epochs=10)
    clf = LSTMClassifier(callbacks=[_CtrlC(3)], **params)
    with pytest.raises(KeyboardInterrupt, match="epoch 2"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    reference = LSTMClassifier(**dict(params, max_epochs=2)).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.loss_curve_ == reference.loss_curve_


def test_ctrl_c_in_first_epoch_leaves_estimator_as_it_was(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(callbacks=[_CtrlC(1)], **dict(EXACT, batch_size=16))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_ctrl_c_during_warm_start_keeps_finished_epochs(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, batch_size=16, max_epochs=2))
    clf.fit(X, y)
    clf.set_params(callbacks=[_CtrlC(4)], max_epochs=5)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert clf.predict(X).shape == (len(X),)


def test_diverging_loss_stops_with_a_clear_error_and_keeps_the_old_model(rng):
    X = rng.normal(size=(100, 10))
    y = X.sum(axis=1)
    reg = LSTMRegressor(**SMALL).fit(X, y)
    before = reg.predict(X)
    reg.set_params(lr=1e30, optimizer="sgd", max_grad_norm=None, max_epochs=50)
    with pytest.raises(FloatingPointError, match="training loss became"):
        reg.fit(X, y)
    assert reg.n_iter_ == SMALL["max_epochs"]  # the earlier fit's attributes
    np.testing.assert_array_equal(reg.predict(X), before)


class _CountEpochs(Callback):
    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
