"""The skorch net behind a fitted estimator, and the one function that builds it.

``build_net`` turns an estimator's settings and the network's arguments into
an uninitialised skorch net; ``fit`` and the model-file loader both use it,
and both end with ``finish_net``. ``network_kwargs`` works out the network's
arguments from the validated input on a first fit. Training through
Accelerate builds its net from the same ``net_params``
(:mod:`sklstm._accelerate`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_tensor

from sklstm._batching import BucketBatchLoader
from sklstm._defaults import (
    initial_max_epochs,
    resolve_dropout,
    resolve_embedding_dim,
    resolve_hidden_size,
    resolve_lr,
    resolve_patch,
    resolve_pooling,
    resolve_token_dropout,
)
from sklstm._ids import PAD_ID
from sklstm._members import network_class
from sklstm._optim import OPTIMIZERS, fused_adam_supported
from sklstm._precision import autocast, grad_scaler
from sklstm._scaling import feature_stats

__all__ = [
    "MAX_EMBEDDING_WEIGHTS",
    "NetworkPlan",
    "build_net",
    "finish_net",
    "load_embeddings",
    "merge_members",
    "net_params",
    "network_kwargs",
]

#: largest embedding (rows x dim) fit builds before asking for renumbered ids
MAX_EMBEDDING_WEIGHTS = 2**29


class _SequenceNeuralNet(NeuralNet):
    """skorch's NeuralNet with per-sample weights and interruption tracking.

    Private: users meet it only as the fitted ``net_``. Targets of a weighted
    dataset arrive as ``{"y": targets, "w": weights}``; the loss is the
    weighted mean ``sum(w * loss) / sum(w)`` over the batch, so a weight of 2
    counts like a duplicated sample. The criterion is built with
    ``reduction="none"``.

    ``precision`` (resolved: ``"32"``, ``"bf16-mixed"`` or ``"16-mixed"``)
    runs every forward pass under autocast and returns float32 outputs; with
    ``"16-mixed"`` the backward pass is scaled and the gradients are unscaled
    before the ``on_grad_computed`` callbacks (clipping) see them.
    """

    #: nets pickled before the parameter existed trained in float32
    precision = "32"

    def __init__(self, *args, precision="32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def infer(self, x, **fit_params):
        if self.precision == "32":
            return super().infer(x, **fit_params)
        # the head runs in float64 (SequenceNet.output), which autocast
        # leaves alone: the outputs are float64 whatever the precision
        with autocast(self.precision, torch.device(self.device).type):
            return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step(batch, **fit_params)
        # a gradient scaler cannot step through an optimizer closure
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        for optimizer in optimizers:
            scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            scaler.step(optimizer)  # skipped when a gradient is not finite
        scaler.update()
        return step

    def _grad_scaler(self):
        """The float16 loss scaler (created at the first step), else None."""
        if self.precision != "16-mixed":
            return None
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = grad_scaler(
                self.precision, torch.device(self.device).type
            )
        return self.grad_scaler_

    def get_loss(self, y_pred, y_true, X=None, training=False):
        weights = None
        if isinstance(y_true, dict):
            weights = to_tensor(y_true["w"], device=self.device)
            y_true = y_true["y"]
        y_true = to_tensor(y_true, device=self.device)
        losses = self.criterion_(y_pred, y_true)
        if losses.dim() > 1:
            # several outputs per sample (multilabel, multi-output regression)
            losses = losses.mean(dim=tuple(range(1, losses.dim())))
        if weights is None:
            return losses.mean()
        weights = weights.to(losses.dtype)
        return (losses * weights).sum() / weights.sum().clamp_min(
            torch.finfo(losses.dtype).tiny
        )

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch swallows KeyboardInterrupt in partial_fit. Callbacks raise it
        # at the end of an epoch to stop training (EarlyStopping does); one
        # raised in the middle of an epoch is the user's Ctrl-C. Remember the
        # latter so the estimator can keep the last finished epoch and
        # re-raise it to the caller.
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except KeyboardInterrupt:
            finished = len(self.history) and "train_loss" in self.history[-1]
            self.interrupted_ = not finished
            raise


def net_params(est, module_kwargs: dict, *, devices, seed: int = 0) -> dict:
    """skorch constructor arguments for estimator ``est``'s network.

    ``devices``: where the optimizer will step (all must have a fused Adam
    kernel for it to be used).
    """
    optimizer = est.optimizer
    optimizer_kwargs = dict(est.optimizer_kwargs or {})
    if est.weight_decay:
        optimizer_kwargs.setdefault("weight_decay", est.weight_decay)
    if isinstance(optimizer, str):
        if optimizer in ("adam", "adamw") and not {"fused", "foreach"} & set(
            optimizer_kwargs
        ):
            # one fused kernel per step instead of a loop over tensors: the
            # dense embedding gradient makes this ~15% of an epoch
            if all(fused_adam_supported(torch.device(d)) for d in devices):
                optimizer_kwargs["fused"] = True
        optimizer = OPTIMIZERS[optimizer]
    lr = resolve_lr(est.lr, pretrained=getattr(est, "pretrained", None) is not None)
    return dict(
        module=network_class(module_kwargs),
        criterion=est._criterion(),
        criterion__reduction="none",
        **{f"criterion__{k}": v for k, v in est._criterion_kwargs().items()},
        optimizer=optimizer,
        lr=lr,
        max_epochs=initial_max_epochs(est.max_epochs),
        batch_size=est.batch_size,
        iterator_train=BucketBatchLoader,
        iterator_train__shuffle=True,
        iterator_train__random_state=np.random.default_rng(seed),
        iterator_valid=BucketBatchLoader,
        iterator_valid__shuffle=False,
        train_split=None,
        callbacks=[],
        verbose=est.verbose,
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
    )


def build_net(est, module_kwargs: dict, *, device, seed: int = 0, precision="32"):
    """An uninitialised skorch net for the network ``module_kwargs`` describe.

    A ``SequenceNet``, or a ``MemberMean`` when they hold ``n_members`` > 1.

    Used by ``fit`` and by the loader that rebuilds a fitted estimator from
    saved weights (``net.initialize()`` then ``load_state_dict``).
    ``precision`` is a resolved one (:func:`sklstm._precision.resolve_precision`).
    """
    params = net_params(est, module_kwargs, devices=[device], seed=seed)
    return _SequenceNeuralNet(device=str(device), precision=precision, **params)


def merge_members(est, nets, *, combine: str, device, seed: int, precision):
    """One net whose module averages the modules of the trained ``nets``.

    The members' weights are copied in; the net keeps the first member's
    training history. Returns ``nets[0]`` itself when there is one.
    """
    if len(nets) == 1:
        return nets[0]
    kwargs = dict(nets[0].get_params_for("module"), n_members=len(nets))
    kwargs["combine"] = combine
    net = build_net(est, kwargs, device=device, seed=seed, precision=precision)
    with torch.random.fork_rng(devices=[]):  # initialised only to be overwritten
        net.initialize()
    for member, trained in zip(net.module_.members, nets):
        member.load_state_dict(trained.module_.state_dict())
    net.history_ = nets[0].history_
    return net


def finish_net(net):
    """What a fitted net looks like after training (fit) or loading.

    In eval mode, and without the validation set and the batch generator:
    neither must travel inside saved models.
    """
    net.module_.eval()
    net.train_split = None
    net.iterator_train__random_state = None
    return net


class NetworkPlan(NamedTuple):
    """What a first fit builds: the network's arguments and what goes with them."""

    #: ``SequenceNet`` keyword arguments (of each member)
    kwargs: dict
    #: how many such networks the fit trains (``n_members``, resolved)
    n_members: int
    #: embedding rows (token input) or None
    n_tokens: int | None
    #: checked pretrained vectors to copy in after initialisation, or None
    embeddings: np.ndarray | None
    #: the estimator's ``_input_mean`` / ``_input_scale`` (numeric input)
    input_stats: dict
    #: the fitted language model whose weights the network starts from, or None
    pretrained: object = None


def network_kwargs(
    est,
    seqs,
    n_outputs: int,
    *,
    train_idx=None,
    weights=None,
    n_members: int = 1,
    pretrained=None,
    fixed: dict | None = None,
):
    """``SequenceNet`` arguments for a first fit of ``est`` on ``seqs``.

    Returns a :class:`NetworkPlan`. Numeric input is standardised with the
    statistics of the training rows (``train_idx``), weighted by ``weights``.
    ``n_members`` (resolved) sizes the ``"auto"`` settings of each member.
    ``pretrained`` is the language model the network starts from, ``fixed``
    the network arguments it decides (:func:`sklstm._pretrained.network_settings`).
    """
    hidden_size = resolve_hidden_size(est.hidden_size, seqs.kind, n_members)
    if est.proj_size and est.proj_size >= hidden_size:
        raise ValueError(
            f"proj_size={est.proj_size} must be smaller than hidden_size={hidden_size}."
        )
    size, stride = resolve_patch(est.patch_size, seqs.kind, int(seqs.lengths.max()))
    kwargs = {
        "n_step_features": seqs.n_features,
        "embedding_dim": resolve_embedding_dim(est.embedding_dim, n_members),
        "hidden_size": hidden_size,
        "num_layers": est.num_layers,
        "bidirectional": est.bidirectional,
        "proj_size": est.proj_size,
        "cell": est.cell,
        "dropout": resolve_dropout(est.dropout, seqs.kind),
        "pooling": resolve_pooling(est.pooling, seqs.kind, patched=size > 1),
        "token_dropout": resolve_token_dropout(
            est.token_dropout, pretrained=pretrained is not None
        ),
        "n_outputs": n_outputs,
    }
    n_tokens = embeddings = None
    input_stats = {}
    if seqs.kind == "numeric":
        if est.scale_inputs:
            w_train = None
            if weights is not None:
                w_train = weights if train_idx is None else weights[train_idx]
            mean, scale = feature_stats(seqs, train_idx, w_train)
        else:
            mean = np.zeros(seqs.n_features, dtype=np.float32)
            scale = np.ones(seqs.n_features, dtype=np.float32)
        kwargs["input_mean"] = mean
        kwargs["input_scale"] = scale
        if size > 1:
            kwargs["patch_size"], kwargs["patch_stride"] = size, stride
        input_stats = {"_input_mean": mean, "_input_scale": scale}
    else:
        n_tokens = int(seqs.data.max()) + 1 if seqs.data.size else 2
        n_tokens = max(n_tokens, 2, (fixed or {}).get("n_tokens", 0))
        if est.embeddings is not None:
            embeddings = _check_embeddings(est.embeddings)
            n_tokens = max(n_tokens, embeddings.shape[0])
            kwargs["embedding_dim"] = embeddings.shape[1]
            kwargs["freeze_embeddings"] = est.freeze_embeddings
        if pretrained is not None:
            kwargs["freeze_embeddings"] = est.freeze_embeddings
        kwargs["n_tokens"] = n_tokens
        dim = kwargs["embedding_dim"] * n_members
        if n_tokens * dim > MAX_EMBEDDING_WEIGHTS:
            raise ValueError(
                f"Token ids go up to {n_tokens - 1}, so the embedding would "
                f"need {n_tokens} x {dim} weights (about "
                f"{n_tokens * dim * 16 / 2**30:.0f} GiB with gradients and "
                "optimizer state). Number the tokens 2, 3, ... by frequency "
                "(TextSequencer does), or lower embedding_dim."
            )
    kwargs.update(fixed or {})
    kwargs.update(est.module_kwargs or {})
    return NetworkPlan(kwargs, n_members, n_tokens, embeddings, input_stats, pretrained)


def load_embeddings(net, embeddings: np.ndarray) -> None:
    """Copy pretrained vectors into an initialised net's embedding."""
    with torch.no_grad():
        emb = net.module_.embedding.weight
        emb[: embeddings.shape[0]] = torch.as_tensor(
            embeddings, dtype=emb.dtype, device=emb.device
        )
        emb[PAD_ID].zero_()  # padding


def _check_embeddings(embeddings) -> np.ndarray:
    emb = np.asarray(embeddings)
    if emb.ndim != 2 or emb.shape[0] < 2 or emb.shape[1] < 1:
        raise ValueError(
            f"embeddings must be a 2-D array (n_token_ids, embedding_dim) whose row i "
            f"is the vector of token id i, got shape {emb.shape}. Build one with "
            "sklstm.load_word_vectors(path, text_sequencer)."
        )
    if emb.dtype.kind not in "fiu":
        raise TypeError(f"embeddings must be numeric, got dtype {emb.dtype}.")
    if not np.isfinite(emb).all():
        raise ValueError("embeddings contain NaN or infinity.")
    return emb.astype(np.float32)
