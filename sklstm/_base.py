"""Shared base of the LSTM estimators: parameters, building and running the net."""

from __future__ import annotations

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping
from skorch.helper import predefined_split

from sklstm._compat import Interval, StrOptions
from sklstm._data import (
    BucketBatchLoader,
    SequenceDataset,
    bucket_batches,
    check_sequences,
)
from sklstm._module import _CELLS, SequenceNet
from sklstm._persistence import _VersionedPickleMixin
from sklstm._runtime import (
    flush_denormal,
    resolve_device,
    seed_from,
    seeded,
    thread_limit,
)

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

#: early_stopping="auto" turns early stopping on from this many samples
AUTO_EARLY_STOPPING_MIN_SAMPLES = 1000

#: rows per prediction batch (sorted by length, so little padding)
PREDICT_BATCH_SIZE = 1024


class _ValidationScore(Callback):
    """Record a validation score per epoch from the validation batches.

    The score is accuracy for classifiers and R^2 for regressors, computed
    from the outputs that skorch already produced for the validation loss.
    """

    def __init__(self, score_fn):
        self.score_fn = score_fn

    def on_epoch_begin(self, net, **kwargs):
        self.outputs_, self.targets_ = [], []

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if not training:
            self.outputs_.append(y_pred.detach().cpu())
            self.targets_.append(batch[1].cpu())

    def on_epoch_end(self, net, **kwargs):
        if self.outputs_:
            score = self.score_fn(torch.cat(self.outputs_), torch.cat(self.targets_))
            net.history.record("valid_score", float(score))
        self.outputs_, self.targets_ = [], []


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


class _BaseLSTM(_VersionedPickleMixin, BaseEstimator):
    """Common machinery of LSTMClassifier and LSTMRegressor."""

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(_CELLS))],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "pooling": [StrOptions({"last", "mean", "max"})],
        "token_dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "optimizer_kwargs": [dict, None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "module_kwargs": [dict, None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        cell="lstm",
        embedding_dim=128,
        hidden_size=128,
        num_layers=1,
        bidirectional=False,
        dropout=0.2,
        pooling="last",
        token_dropout=0.25,
        max_epochs=30,
        batch_size=64,
        lr=1e-3,
        optimizer="adam",
        optimizer_kwargs=None,
        max_grad_norm=1.0,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        module_kwargs=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.cell = cell
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.token_dropout = token_dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.optimizer_kwargs = optimizer_kwargs
        self.max_grad_norm = max_grad_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.module_kwargs = module_kwargs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # --- hooks for subclasses -------------------------------------------------
    _is_classifier = False

    def _encode_targets(self, y):
        """Return (encoded y for training, n_outputs, fitted target attributes)."""
        raise NotImplementedError

    def _criterion(self):
        raise NotImplementedError

    # a plain function (outputs, targets) -> float, set by subclasses
    _score_fn = None

    # --- fitting ----------------------------------------------------------------
    def _fit(self, X, y):
        """Fit on validated input; on any error the estimator is left as it was."""
        state_before = self.__dict__.copy()
        try:
            self._fit_unsafe(X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state_before)
            raise
        return self

    def _fit_unsafe(self, X, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        seqs, y = check_sequences(
            self,
            X,
            y,
            reset=True,
            y_numeric=not self._is_classifier,
            multi_output=not self._is_classifier,
        )
        y_enc, n_outputs, target_attrs = self._encode_targets(y)
        device = (
            resolve_device(self.device) if isinstance(self.device, str) else self.device
        )
        seed = seed_from(self.random_state)
        n = len(seqs)

        early = self.early_stopping
        if early == "auto":
            early = n >= AUTO_EARLY_STOPPING_MIN_SAMPLES
        train_idx = valid_idx = None
        if early:
            train_idx, valid_idx = self._split(n, y_enc, seed)

        net_kwargs = self._module_params(seqs)
        net_kwargs["n_outputs"] = n_outputs
        input_attrs = {}
        if seqs.kind == "numeric":
            mean, scale = _feature_stats(seqs, train_idx)
            net_kwargs["input_mean"] = mean
            net_kwargs["input_scale"] = scale
            input_attrs = {"_input_mean": mean, "_input_scale": scale}
        n_tokens = None
        if seqs.kind == "tokens":
            n_tokens = int(seqs.data.max()) + 1 if seqs.data.size else 2
            n_tokens = max(n_tokens, 2)
            net_kwargs["n_tokens"] = n_tokens
        net_kwargs.update(self.module_kwargs or {})

        full = SequenceDataset(seqs, y_enc)
        if early:
            train_ds = _subset(full, train_idx)
            valid_ds = _subset(full, valid_idx)
        else:
            train_ds, valid_ds = full, None

        callbacks = [("finite_loss", _StopOnNonFiniteLoss())]
        if self.max_grad_norm is not None:
            callbacks.append(("clip", GradientNormClipping(self.max_grad_norm)))
        if early:
            callbacks.append(("valid_score", _ValidationScore(self._score_fn)))
            monitor, lower = "valid_score", False
        else:
            monitor, lower = "train_loss", True
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor=monitor,
                    lower_is_better=lower,
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=bool(early),
                    sink=print if self.verbose else _silent,
                ),
            )
        )

        net = self._new_net(
            net_kwargs,
            device=device,
            callbacks=callbacks,
            train_split=predefined_split(valid_ds) if early else None,
            seed=seed,
        )
        with thread_limit(), flush_denormal(), seeded(seed, device):
            net.fit(train_ds, None)
        net.module_.eval()
        # the validation set must not travel inside saved models
        net.train_split = None
        net.iterator_train__random_state = None

        history = net.history
        loss_curve = [float(v) for v in history[:, "train_loss"]]
        if early and "valid_score" in history[-1]:
            scores = [float(v) for v in history[:, "valid_score"]]
            best_loss, best_score = None, max(scores)
        else:
            scores, best_loss, best_score = None, min(loss_curve), None

        self.net_ = net
        self._n_tokens = n_tokens
        self._n_outputs = n_outputs
        for k, v in {**target_attrs, **input_attrs}.items():
            setattr(self, k, v)
        self.n_iter_ = len(history)
        self.loss_curve_ = loss_curve
        self.validation_scores_ = scores
        self.best_validation_score_ = best_score
        self.best_loss_ = best_loss
        return self

    def _new_net(self, module_kwargs, *, device, callbacks=(), train_split=None, seed=0):
        """An uninitialised skorch net for ``SequenceNet(**module_kwargs)``.

        Used by ``fit`` and by loaders that rebuild a fitted estimator from
        saved weights (``net.initialize()`` then ``load_state_dict``).
        """
        optimizer = self.optimizer
        optimizer_kwargs = dict(self.optimizer_kwargs or {})
        if isinstance(optimizer, str):
            if optimizer in ("adam", "adamw") and not {"fused", "foreach"} & set(
                optimizer_kwargs
            ):
                # one fused kernel per step instead of a loop over tensors: the
                # dense embedding gradient makes this ~15% of an epoch
                if _fused_adam_supported(torch.device(device)):
                    optimizer_kwargs["fused"] = True
            optimizer = _OPTIMIZERS[optimizer]
        optimizer_params = {f"optimizer__{k}": v for k, v in optimizer_kwargs.items()}
        module_params = {f"module__{k}": v for k, v in module_kwargs.items()}
        return NeuralNet(
            module=SequenceNet,
            criterion=self._criterion(),
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BucketBatchLoader,
            iterator_train__shuffle=True,
            iterator_train__random_state=np.random.default_rng(seed),
            iterator_valid=BucketBatchLoader,
            iterator_valid__shuffle=False,
            train_split=train_split,
            callbacks=list(callbacks),
            device=str(device),
            verbose=self.verbose,
            **module_params,
            **optimizer_params,
        )

    def _module_params(self, seqs) -> dict:
        return {
            "n_step_features": seqs.n_features,
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "cell": self.cell,
            "dropout": self.dropout,
            "pooling": self.pooling,
            "token_dropout": self.token_dropout,
        }

    def _split(self, n, y_enc, seed):
        idx = np.arange(n)
        n_valid = int(np.ceil(self.validation_fraction * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                f"early_stopping needs a validation set, but validation_fraction="
                f"{self.validation_fraction} of {n} samples leaves none for "
                "validation or training. Use more data, a larger "
                "validation_fraction or early_stopping=False."
            )
        stratify = None
        if self._is_classifier and y_enc.ndim == 1:
            counts = np.bincount(y_enc)
            if counts.min() >= 2 and n_valid >= len(counts):
                stratify = y_enc
        return train_test_split(
            idx, test_size=n_valid, stratify=stratify, random_state=seed
        )

    # --- prediction ---------------------------------------------------------
    def _forward(self, X) -> np.ndarray:
        """Network outputs (float64) for X, in the caller's order."""
        if "net_" not in self.__dict__:  # check_is_fitted, minus its scan
            check_is_fitted(self, "net_")
        seqs, _ = check_sequences(self, X, reset=False)
        ds = SequenceDataset(seqs, n_tokens=self._n_tokens)
        module = self.net_.module_
        if module.training:
            module.eval()
        device = next(module.parameters()).device
        n = len(seqs)
        out = np.empty((n, self._n_outputs), dtype=np.float64)
        # flushing denormals pays off on long runs only; a few documents skip it
        denormals = flush_denormal() if n > 64 else contextlib.nullcontext()
        with torch.inference_mode(), thread_limit(), denormals:
            for idx in bucket_batches(seqs.lengths, PREDICT_BATCH_SIZE):
                xb, _ = ds.batch(idx)
                res = module(xb["x"].to(device), xb["lengths"])
                out[idx] = res.cpu().numpy()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


_FUSED_SUPPORT: dict = {}


def _fused_adam_supported(device: torch.device) -> bool:
    """Whether this torch build has a fused Adam kernel for ``device``."""
    if device.type not in _FUSED_SUPPORT:
        try:
            p = torch.zeros(1, device=device, requires_grad=True)
            torch.optim.Adam([p], fused=True)
            _FUSED_SUPPORT[device.type] = True
        except (RuntimeError, TypeError, ValueError):
            _FUSED_SUPPORT[device.type] = False
    return _FUSED_SUPPORT[device.type]


def _silent(*args, **kwargs):
    return None


def _subset(ds: SequenceDataset, idx: np.ndarray) -> SequenceDataset:
    """A view of some rows of ``ds``: no copy of the sequence data."""
    new = copy.copy(ds)
    new.index = idx if ds.index is None else ds.index[idx]
    new.lengths = ds.lengths[idx]
    new.y = None if ds.y is None else ds.y[idx]
    return new


def _feature_stats(seqs, train_idx):
    """Per-feature mean and scale of numeric input over valid time steps."""
    data, lengths = seqs.data, seqs.lengths
    if train_idx is not None:
        data, lengths = data[train_idx], lengths[train_idx]
    if data.ndim == 2:
        data = data[:, :, None]
    T = data.shape[1]
    if (lengths == T).all():
        flat = data.reshape(-1, data.shape[2])
    else:
        valid = np.arange(T)[None, :] < lengths[:, None]
        flat = data[valid]
    mean, scale = mean_and_scale(flat)
    return mean.astype(np.float32), scale.astype(np.float32)


def mean_and_scale(a: np.ndarray):
    """Column means and standard deviations (1 where a column is constant)."""
    a = np.asarray(a, dtype=np.float64)
    mean = a.mean(axis=0)
    scale = a.std(axis=0)
    scale[~(scale > 1e-12)] = 1.0
    return mean, scale
