"""Early stopping: when it is on, the validation split, the score, the stop.

With early stopping, ``fit`` holds out ``validation_fraction`` of the data
(stratified for classifiers where every class can be represented), records a
validation score each epoch (accuracy or R^2, weighted like the training
data), stops after ``n_iter_no_change`` epochs without an improvement of
``tol`` and keeps the best epoch's weights. Without it, the same callback
stops on a plateau of the training loss and keeps the last weights.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback, EarlyStopping

from sklstm._leakage import keep_groups_together

__all__ = [
    "AUTO_EARLY_STOPPING_MIN_SAMPLES",
    "score_callback",
    "stopping_callback",
    "uses_early_stopping",
    "validation_split",
]

#: early_stopping="auto" turns early stopping on from this many samples
AUTO_EARLY_STOPPING_MIN_SAMPLES = 1000


def uses_early_stopping(early_stopping, n_samples: int, *, partial: bool) -> bool:
    """Whether a fit on ``n_samples`` holds out a validation set.

    ``partial_fit`` never does: it trains one epoch on the data it is given.
    """
    if early_stopping == "auto":
        early_stopping = n_samples >= AUTO_EARLY_STOPPING_MIN_SAMPLES
    return bool(early_stopping) and not partial


def validation_split(
    n: int, y_enc, fraction: float, seed: int, *, stratify: bool, groups=None
):
    """(train indices, validation indices) of ``n`` samples.

    ``groups`` (from :func:`sklstm._leakage.token_groups`) keeps repeated
    sequences, and phrases cut from a longer one, on the side of the sequence
    they come from, unless that would leave a side empty.
    """
    idx = np.arange(n)
    n_valid = int(np.ceil(fraction * n))
    if n_valid < 1 or n - n_valid < 1:
        raise ValueError(
            f"early_stopping needs a validation set, but validation_fraction="
            f"{fraction} of {n} samples leaves none for "
            "validation or training. Use more data, a larger "
            "validation_fraction or early_stopping=False."
        )
    labels = None
    if stratify and y_enc.ndim == 1:
        counts = np.bincount(y_enc)
        if counts.min() >= 2 and n_valid >= len(counts):
            labels = y_enc
    train_idx, valid_idx = train_test_split(
        idx, test_size=n_valid, stratify=labels, random_state=seed
    )
    if groups is None:
        return train_idx, valid_idx
    grouped = keep_groups_together(train_idx, valid_idx, groups)
    return grouped if min(map(len, grouped)) > 0 else (train_idx, valid_idx)


class _ValidationScore(Callback):
    """Record a validation score per epoch from the validation batches.

    The score is accuracy for classifiers and R^2 for regressors (weighted
    when the training data are), computed from the outputs that skorch
    already produced for the validation loss.
    """

    def __init__(self, score_fn):
        self.score_fn = score_fn

    def on_epoch_begin(self, net, **kwargs):
        self.outputs_, self.targets_, self.weights_ = [], [], []

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if not training:
            target = batch[1]
            if isinstance(target, dict):
                self.weights_.append(target["w"].cpu())
                target = target["y"]
            self.outputs_.append(y_pred.detach().cpu())
            self.targets_.append(target.cpu())

    def on_epoch_end(self, net, **kwargs):
        if self.outputs_:
            weights = torch.cat(self.weights_).double() if self.weights_ else None
            score = self.score_fn(
                torch.cat(self.outputs_), torch.cat(self.targets_), weights
            )
            net.history.record("valid_score", float(score))
        self.outputs_, self.targets_, self.weights_ = [], [], []


class _EarlyStopping(EarlyStopping):
    """EarlyStopping that does not count misses in the first ``min_epochs``."""

    def __init__(self, *args, min_epochs=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_epochs = min_epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) <= self.min_epochs:
            self.misses_ = 0
        super().on_epoch_end(net, **kwargs)


def score_callback(score_fn) -> Callback:
    """The callback that records ``valid_score`` (early stopping only)."""
    return _ValidationScore(score_fn)


def stopping_callback(
    early: bool, *, patience: int, tol: float, min_epochs: int, sink
) -> Callback:
    """The stop: on the validation score with early stopping (best weights
    kept), else on the training loss, not before ``min_epochs`` epochs."""
    monitor, lower = ("valid_score", False) if early else ("train_loss", True)
    return _EarlyStopping(
        min_epochs=min_epochs,
        monitor=monitor,
        lower_is_better=lower,
        patience=patience,
        threshold=tol,
        threshold_mode="abs",
        load_best=bool(early),
        sink=sink,
    )
