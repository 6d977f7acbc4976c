"""Training again on all the data, for as many epochs as early stopping chose.

Early stopping holds out ``validation_fraction`` of the training rows to
decide when to stop. With ``refit``, a fresh network (same seed, same
settings) then trains on every row, the held-out ones included, for the
number of epochs at which the held-out loss was lowest; the loss is smoother
than accuracy on a small split. It costs about 1.3x the fit; in the accuracy
study (docs/accuracy.rst) its effect on text was within seed noise (+1 point
on the tweets' validation splits, none on the UCI sentences'), so it is an
option, off by default. Calibration (temperature, conformity scores) stays that
of the network early stopping chose, measured on the rows it did not see.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_refit", "refit_epochs", "train_on_all", "uses_refit"]


def check_refit(refit, accelerator) -> None:
    """Refuse what refit cannot do, before any training."""
    if refit and accelerator is not None:
        raise ValueError(
            "refit=True is not available with an accelerator (the second "
            "training would need its own distributed setup). Set refit=False, "
            "or refit yourself: fit again with early_stopping=False and "
            "max_epochs set to the epoch of the lowest valid_loss in "
            "net_.history."
        )


def uses_refit(refit: bool, *, early: bool, warm: bool) -> bool:
    """Whether this fit trains again on all the data after early stopping.

    Never without early stopping (nothing was held out to add back) nor when
    a warm start continues an earlier network.
    """
    return bool(refit) and early and not warm


def refit_epochs(history) -> int:
    """The epoch (1-based) of the lowest validation loss in ``history``."""
    losses = [row["valid_loss"] for row in history if "valid_loss" in row]
    return int(np.argmin(losses)) + 1


def train_on_all(est, plan, full, device, seed, precision, epochs):
    """A network of ``est`` trained on dataset ``full`` for ``epochs`` epochs.

    Returns None when the training was interrupted (Ctrl-C): the caller keeps
    the network that early stopping chose.
    """
    net = est._new_training_net(plan.kwargs, device, seed, precision)
    est._configure(net, full, full, None, False, seed)
    net.max_epochs = epochs
    # the training-loss plateau stop must not cut the chosen epochs short
    dict(net.callbacks)["early_stopping"].min_epochs = epochs
    if est.verbose:
        print(f"Refitting on all {len(full)} rows for {epochs} epochs")
    est._train(net, plan, full, device, seed, partial=False, warm=False)
    if getattr(net, "interrupted_", False):
        return None
    return net
