"""The skorch callbacks of a fit, and the order they run in.

Every fit gets: a stop on a non-finite loss, a snapshot of each finished
epoch (Ctrl-C keeps the last one), gradient-norm clipping, the early-stopping
callbacks (:mod:`sklstm._early_stopping`), a learning-rate schedule, a
progress bar at ``verbose=2``, then the user's own ``callbacks``. A network
that starts from a pretrained language model is fine-tuned the ULMFiT way:
gradual unfreezing and a slanted triangular learning rate.
"""

from __future__ import annotations

import math

import torch
from skorch.callbacks import Callback, GradientNormClipping, LRScheduler, ProgressBar

from sklstm._early_stopping import score_callback, stopping_callback
from sklstm._members import members_of

__all__ = [
    "SlantedTriangular",
    "history_attributes",
    "keep_last_epoch",
    "sink",
    "training_callbacks",
]


class _StopOnNonFiniteLoss(Callback):
    """Stop at the first training batch whose loss is NaN or infinite."""

    def on_batch_end(self, net, batch, training, loss=None, **kwargs):
        if training and loss is not None and not bool(torch.isfinite(loss.detach())):
            epoch = len(net.history)
            raise FloatingPointError(
                f"The training loss became {loss.detach().item()} in epoch {epoch}. Lower the "
                "learning rate (lr), keep gradient clipping on (max_grad_norm) and "
                "check the input for extreme values. The estimator was left as it "
                "was before this fit."
            )


class _EpochSnapshot(Callback):
    """Keep a copy of the weights at the end of each finished epoch.

    Lets an interrupted fit (Ctrl-C) fall back to the last finished epoch
    instead of weights from the middle of one.
    """

    def on_train_begin(self, net, **kwargs):
        self.state_ = None
        self.epochs_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        self.state_ = {
            k: v.detach().clone() for k, v in net.module_.state_dict().items()
        }
        self.epochs_ = len(net.history)


class _GradualUnfreezing(Callback):
    """ULMFiT's gradual unfreezing of a pretrained network.

    The first epoch trains the output layer (and the pooling) only, each
    further epoch one more layer from the top (the top LSTM layer, then the
    one below it, ..., the embedding last), so that the new output layer
    settles before it sends large gradients into the pretrained weights.
    Everything trains again once training ends; a frozen embedding
    (``freeze_embeddings``) stays frozen.
    """

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # this epoch, from 1
        for layer, train in self._layers(net, epoch):
            for p in layer.parameters():
                p.requires_grad_(train)

    def on_train_end(self, net, **kwargs):
        for layer, _ in self._layers(net, None):
            for p in layer.parameters():
                p.requires_grad_(True)
        self._keep_frozen_embedding(net)

    def _layers(self, net, epoch):
        module = getattr(net.module_, "module", net.module_)  # DDP wrapper
        frozen = net.get_params_for("module").get("freeze_embeddings", False)
        for member in members_of(module):
            stack = [member.embedding, *member.forward_layers]  # bottom to top
            for depth, layer in enumerate(reversed(stack)):
                train = epoch is None or depth < epoch - 1
                if layer is member.embedding and frozen:
                    train = False
                yield layer, train

    def _keep_frozen_embedding(self, net):
        if net.get_params_for("module").get("freeze_embeddings", False):
            module = getattr(net.module_, "module", net.module_)
            for member in members_of(module):
                member.embedding.weight.requires_grad_(False)


class SlantedTriangular:
    """The slanted triangular learning rate (Howard & Ruder 2018), per step.

    A share of ``lr`` for optimizer step ``step`` of ``total``: a linear rise
    over the first ``cut_frac`` of the steps from ``1 / ratio`` to 1, then a
    linear fall back to ``1 / ratio``. A plain class (not a closure), so that
    a fitted estimator pickles.
    """

    def __init__(self, total: int, cut_frac: float = 0.1, ratio: float = 32.0):
        self.total = max(1, int(total))
        self.cut_frac = cut_frac
        self.ratio = ratio

    def __call__(self, step: int) -> float:
        cut = max(1, math.floor(self.total * self.cut_frac))
        if step < cut:
            p = step / cut
        else:
            p = max(0.0, 1 - (step - cut) / max(1, self.total - cut))
        return (1 + p * (self.ratio - 1)) / self.ratio


def _silent(*args, **kwargs):
    return None


def sink(verbose, accelerator=None):
    """Where training reports: nowhere, or printed (once per machine)."""
    if not verbose:
        return _silent
    return print if accelerator is None else accelerator.print


def training_callbacks(
    est,
    *,
    early: bool,
    max_epochs: int,
    min_epochs: int = 0,
    clipping=GradientNormClipping,
    agreement: Callback | None = None,
    report=print,
    steps_per_epoch: int | None = None,
    processes: int = 1,
):
    """``(named callbacks, epoch snapshot)`` for a fit of estimator ``est``.

    ``clipping`` is the clipping callback class; ``agreement`` (distributed
    training) runs after the validation score and before every callback that
    decides on the history, so that all processes decide alike. ``report`` is
    where early stopping prints. ``steps_per_epoch`` (optimizer steps) sizes
    the slanted triangular schedule of a pretrained network; ``processes``
    > 1 (distributed training) leaves gradual unfreezing out, as every
    process must compute a gradient for every weight.
    """
    callbacks = [("finite_loss", _StopOnNonFiniteLoss())]
    snapshot = _EpochSnapshot()
    callbacks.append(("snapshot", snapshot))
    if est.max_grad_norm is not None:
        callbacks.append(("clip", clipping(est.max_grad_norm)))
    if early:
        callbacks.append(("valid_score", score_callback(est._score_fn)))
    if agreement is not None:
        callbacks.append(("agree", agreement))
    if est.lr_schedule == "plateau":
        schedule = LRScheduler(
            policy="ReduceLROnPlateau",
            monitor="valid_loss" if early else "train_loss",
            mode="min",
            factor=0.5,
            patience=max(1, est.n_iter_no_change // 2),
        )
        callbacks.append(("lr_schedule", schedule))
    elif est.lr_schedule == "cosine":
        schedule = LRScheduler(policy="CosineAnnealingLR", T_max=max_epochs)
        callbacks.append(("lr_schedule", schedule))
    elif getattr(est, "pretrained", None) is not None and steps_per_epoch:
        schedule = LRScheduler(
            policy=torch.optim.lr_scheduler.LambdaLR,
            lr_lambda=SlantedTriangular(max_epochs * steps_per_epoch),
            step_every="batch",
        )
        callbacks.append(("lr_schedule", schedule))
    if getattr(est, "pretrained", None) is not None and processes == 1:
        callbacks.append(("unfreeze", _GradualUnfreezing()))
    stop = stopping_callback(
        early,
        patience=est.n_iter_no_change,
        tol=est.tol,
        min_epochs=min_epochs,
        sink=report,
    )
    callbacks.append(("early_stopping", stop))
    if est.verbose and est.verbose >= 2:
        callbacks.append(("progress", ProgressBar()))
    for i, cb in enumerate(est.callbacks or []):
        if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str):
            callbacks.append(cb)
        elif isinstance(cb, Callback):
            callbacks.append((f"user_{i}_{type(cb).__name__}", cb))
        else:
            raise TypeError(
                f"callbacks[{i}] is {cb!r}; each callback must be a skorch "
                "Callback instance or a (name, Callback) tuple."
            )
    return callbacks, snapshot


def keep_last_epoch(net, snapshot: _EpochSnapshot, early: bool) -> None:
    """After Ctrl-C: drop the unfinished epoch, keep finished weights.

    Raises KeyboardInterrupt when no epoch finished (the caller then restores
    the estimator as it was).
    """
    history = net.history
    while len(history) and "train_loss" not in history[-1]:
        history.pop()
    if len(history) == 0 or snapshot.state_ is None:
        raise KeyboardInterrupt
    if early:
        # EarlyStopping's on_train_end already loaded the best epoch
        return
    net.module_.load_state_dict(snapshot.state_)


def history_attributes(history, early: bool) -> dict:
    """MLPClassifier's fitted attributes (``n_iter_``, ``loss_curve_``, ...)
    from a skorch history."""
    loss_curve = [float(row["train_loss"]) for row in history if "train_loss" in row]
    scores = [float(row["valid_score"]) for row in history if "valid_score" in row]
    if early and scores:
        best_loss, best_score = None, max(scores)
    else:
        scores, best_loss, best_score = None, min(loss_curve), None
    return {
        "n_iter_": len(loss_curve),
        "loss_curve_": loss_curve,
        "validation_scores_": scores,
        "best_validation_score_": best_score,
        "best_loss_": best_loss,
    }
