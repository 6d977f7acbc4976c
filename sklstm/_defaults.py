"""What the estimators' ``"auto"`` settings resolve to.

``benchmarks/studies/ts_defaults_study.py`` measured these on GunPoint, BasicMotions
and JapaneseVowels without hurting text. ``early_stopping="auto"`` is decided
in :mod:`sklstm._early_stopping`. Pure Python.
"""

from __future__ import annotations

import math

__all__ = [
    "epoch_budget",
    "initial_max_epochs",
    "resolve_dropout",
    "resolve_embedding_dim",
    "resolve_hidden_size",
    "resolve_members",
    "resolve_patch",
    "resolve_lr",
    "resolve_pooling",
    "resolve_token_dropout",
    "steps_per_epoch",
]

#: max_epochs="auto": this many epochs ...
AUTO_MAX_EPOCHS = 30
#: ... but, without a validation set, room for at least this many optimizer steps
AUTO_MAX_STEPS = 800
#: ... and no stop on a training-loss plateau within this many steps (on small
#: data, one step per epoch, the first plateau is not the last)
AUTO_MIN_STEPS = 400

#: patch_size="auto": numeric series at least this long are read in patches ...
AUTO_PATCH_MIN_LENGTH = 200
#: ... of a this-th of their (longest) length
AUTO_PATCH_DIVISOR = 50

#: hidden_size="auto" and dropout="auto" by kind of input
AUTO_HIDDEN_SIZE = {"tokens": 128, "numeric": 64}
AUTO_DROPOUT = {"tokens": 0.2, "numeric": 0.5}
#: embedding_dim="auto": one network's, and each member's of an ensemble
AUTO_EMBEDDING_DIM = 128
#: n_members="auto": token input trains this many members ...
AUTO_MEMBERS = 3
#: ... of this hidden size and embedding width each (benchmarks/studies/training_study.py:
#: three such members beat one network of the single-network sizes on the
#: validation carves of the tweets, UCI sentences and waimai_10k)
AUTO_MEMBER_SIZE = 64


def resolve_members(
    n_members, kind: str, *, partial: bool, accelerated: bool, pretrained=False
) -> int:
    """How many networks a first fit trains.

    ``"auto"``: :data:`AUTO_MEMBERS` for token input, one for numbers, for
    ``partial_fit`` (which continues one network), with an Accelerator and
    for a network that starts from a pretrained language model.
    """
    if n_members != "auto":
        return n_members
    if kind != "tokens" or partial or accelerated or pretrained:
        return 1
    return AUTO_MEMBERS


def resolve_hidden_size(hidden_size, kind: str, n_members: int = 1) -> int:
    if hidden_size != "auto":
        return hidden_size
    return AUTO_MEMBER_SIZE if n_members > 1 else AUTO_HIDDEN_SIZE[kind]


def resolve_embedding_dim(embedding_dim, n_members: int = 1) -> int:
    if embedding_dim != "auto":
        return embedding_dim
    return AUTO_MEMBER_SIZE if n_members > 1 else AUTO_EMBEDDING_DIM


def resolve_dropout(dropout, kind: str) -> float:
    return AUTO_DROPOUT[kind] if dropout == "auto" else dropout


def resolve_patch(patch_size, kind: str, max_length: int) -> tuple[int, int]:
    """(window size, stride) for ``patch_size`` on input of ``kind``."""
    if kind != "numeric":
        return 1, 1
    if patch_size == "auto":
        if max_length < AUTO_PATCH_MIN_LENGTH:
            return 1, 1
        patch_size = max_length // AUTO_PATCH_DIVISOR
    return patch_size, max(1, patch_size // 2)


#: pooling="auto": token ids, series read in patches, other series (token
#: ids: the last state, mean and maximum side by side, chosen on the
#: validation carves of benchmarks/studies/training_study.py, docs/accuracy.rst)
AUTO_POOLING = {"tokens": "concat", "patched": "mean", "numeric": "last"}


def resolve_pooling(pooling: str, kind: str, patched: bool) -> str:
    if pooling != "auto":
        return pooling
    return AUTO_POOLING["patched" if patched else kind]


def initial_max_epochs(max_epochs) -> int:
    """The epoch count a net is built with (fit sets the real budget)."""
    return AUTO_MAX_EPOCHS if max_epochs == "auto" else max_epochs


#: lr="auto": from scratch, and for a network that starts from a pretrained
#: language model (benchmarks/studies/pretraining_study.py)
AUTO_LR = 3e-3
PRETRAINED_LR = 1e-2


def resolve_lr(lr, *, pretrained: bool) -> float:
    if lr != "auto":
        return lr
    return PRETRAINED_LR if pretrained else AUTO_LR


#: token_dropout="auto": from scratch (word dropout regularises and trains the
#: out-of-vocabulary vector), and none for a pretrained network (measured
#: better on the tweets' validation carves; docs/pretraining.rst)
AUTO_TOKEN_DROPOUT = 0.25
PRETRAINED_TOKEN_DROPOUT = 0.0


def resolve_token_dropout(token_dropout, *, pretrained: bool) -> float:
    if token_dropout != "auto":
        return token_dropout
    return PRETRAINED_TOKEN_DROPOUT if pretrained else AUTO_TOKEN_DROPOUT


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps of one epoch over ``n_train`` rows."""
    return max(1, math.ceil(n_train / batch_size))


#: max_epochs="auto" for a network that starts from a pretrained language
#: model: its slanted triangular schedule spans this many epochs
PRETRAINED_MAX_EPOCHS = 10


def epoch_budget(
    max_epochs, batch_size: int, n_train: int, early: bool, *, pretrained=False
):
    """(max_epochs, epochs before the training-loss stop may act).

    Without early stopping the training-loss stop waits for
    :data:`AUTO_MIN_STEPS` optimizer steps (or the whole budget, if smaller)
    whether the budget is ``"auto"`` or a number: raising ``max_epochs`` above
    the automatic budget must not let the stop cut training shorter.
    """
    if pretrained and max_epochs == "auto":
        max_epochs = PRETRAINED_MAX_EPOCHS
    if early:
        return (AUTO_MAX_EPOCHS if max_epochs == "auto" else max_epochs), 0
    steps = steps_per_epoch(n_train, batch_size)
    if max_epochs == "auto":
        budget = max(AUTO_MAX_EPOCHS, math.ceil(AUTO_MAX_STEPS / steps))
    else:
        budget = max_epochs
    return budget, min(budget, math.ceil(AUTO_MIN_STEPS / steps))


def calibration_method(calibration, early: bool, auto, *, partial: bool):
    """The calibration a fit runs: None, or the subclass's method name.

    ``"auto"`` calibrates where early stopping holds out a split anyway (no
    extra cost) and not otherwise; ``partial_fit`` never calibrates.
    """
    if partial or calibration is None:
        return None
    if calibration == "auto":
        return auto if early else None
    return calibration
