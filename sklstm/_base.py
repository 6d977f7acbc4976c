"""Shared base of the LSTM estimators: parameters, building and running the net."""

from __future__ import annotations

import contextlib
import copy
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormClipping,
    LRScheduler,
    ProgressBar,
)
from skorch.helper import predefined_split
from skorch.utils import to_tensor

from sklstm._compat import Interval, StrOptions
from sklstm._data import (
    BucketBatchLoader,
    SequenceDataset,
    bucket_batches,
    check_sequences,
    token_tensor,
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

#: up to this many token sequences predict as one unsorted batch (latency path)
SMALL_PREDICT = 8

# What the "auto" defaults resolve to (benchmarks/ts_defaults_study.py measured
# them on GunPoint, BasicMotions and JapaneseVowels without hurting text):
#: max_epochs="auto": this many epochs ...
AUTO_MAX_EPOCHS = 30
#: ... but, without a validation set, room for at least this many optimizer steps
AUTO_MAX_STEPS = 800
#: ... and no stop on a training-loss plateau within this many steps (on small
#: data, one step per epoch, the first plateau is not the last)
AUTO_MIN_STEPS = 400
#: hidden_size="auto" and dropout="auto" by kind of input
#: below this many multiply-adds per recurrent step, training uses one thread:
#: as fast as two on an idle machine (measured on 2 cores), far faster when
#: other processes compete for the cores
SMALL_MODEL_MACS = 2**22

#: largest embedding (rows x dim) fit builds before asking for renumbered ids
MAX_EMBEDDING_WEIGHTS = 2**29

AUTO_HIDDEN_SIZE = {"tokens": 128, "numeric": 64}
AUTO_DROPOUT = {"tokens": 0.2, "numeric": 0.5}


class _SequenceNeuralNet(NeuralNet):
    """skorch's NeuralNet with per-sample weights and interruption tracking.

    Private: users meet it only as the fitted ``net_``. Targets of a weighted
    dataset arrive as ``{"y": targets, "w": weights}``; the loss is the
    weighted mean ``sum(w * loss) / sum(w)`` over the batch, so a weight of 2
    counts like a duplicated sample. The criterion is built with
    ``reduction="none"``.
    """

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


class _WeightedDataset(SequenceDataset):
    """A SequenceDataset whose targets carry per-sample weights."""

    weights: np.ndarray | None = None

    def batch(self, idx):
        Xb, yb = super().batch(idx)
        rows = idx if self.index is None else self.index[idx]
        return Xb, {"y": yb, "w": torch.from_numpy(self.weights[rows])}


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


class _EarlyStopping(EarlyStopping):
    """EarlyStopping that does not count misses in the first ``min_epochs``."""

    def __init__(self, *args, min_epochs=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_epochs = min_epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) <= self.min_epochs:
            self.misses_ = 0
        super().on_epoch_end(net, **kwargs)


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


class _BaseLSTM(_VersionedPickleMixin, BaseEstimator):
    """Common machinery of LSTMClassifier and LSTMRegressor."""

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(_CELLS))],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "proj_size": [Interval(Integral, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "pooling": [StrOptions({"last", "mean", "max", "attention"})],
        "token_dropout": [Interval(Real, 0, 1, closed="left")],
        "embeddings": ["array-like", None],
        "freeze_embeddings": ["boolean"],
        "scale_inputs": ["boolean"],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"plateau", "cosine"}), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "optimizer_kwargs": [dict, None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "module_kwargs": [dict, None],
        "device": [str, torch.device],
        # an accelerate.Accelerator: checked in fit, where accelerate (an
        # optional dependency) is imported
        "accelerator": "no_validation",
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        cell="lstm",
        embedding_dim=128,
        hidden_size="auto",
        num_layers=1,
        bidirectional=False,
        proj_size=0,
        dropout="auto",
        pooling="last",
        token_dropout=0.25,
        embeddings=None,
        freeze_embeddings=False,
        scale_inputs=True,
        max_epochs="auto",
        batch_size=64,
        lr=3e-3,
        lr_schedule=None,
        optimizer="adam",
        optimizer_kwargs=None,
        weight_decay=0.0,
        max_grad_norm=1.0,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        callbacks=None,
        warm_start=False,
        module_kwargs=None,
        device="cpu",
        accelerator=None,
        random_state=None,
        verbose=0,
    ):
        self.cell = cell
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.dropout = dropout
        self.pooling = pooling
        self.token_dropout = token_dropout
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.scale_inputs = scale_inputs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer
        self.optimizer_kwargs = optimizer_kwargs
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.module_kwargs = module_kwargs
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.verbose = verbose

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("accelerator") is not None:
            # An Accelerator is this process's handle on its process group and
            # devices, meaningless in another process; the fitted net holds no
            # reference to it (see _accelerate.release). Copy: the state may
            # be the live __dict__.
            state = dict(state, accelerator=None)
        return state

    # --- hooks for subclasses -------------------------------------------------
    _is_classifier = False

    def _encode_targets(self, y, sample_weight=None):
        """Return (encoded y, n_outputs, fitted target attributes) on a first fit."""
        raise NotImplementedError

    def _encode_targets_again(self, y):
        """Encode y with the target attributes of an earlier fit (warm start)."""
        raise NotImplementedError

    def _criterion(self):
        raise NotImplementedError

    def _sample_weight(self, y_enc, sample_weight):
        """Per-sample training weights (None when all are equal)."""
        return sample_weight

    # a plain function (outputs, targets, weights) -> float, set by subclasses
    _score_fn = None

    # --- fitting ----------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, partial=False, classes=None):
        """Fit on validated input; on any error the estimator is left as it was.

        The one exception is KeyboardInterrupt after at least one finished
        epoch: the estimator then holds the model of the last finished epoch
        (the best one with early stopping) and the interrupt is re-raised.
        """
        state_before = self.__dict__.copy()
        try:
            self._fit_unsafe(X, y, sample_weight, partial=partial, classes=classes)
        except _Interrupted as exc:
            raise KeyboardInterrupt(str(exc)) from None
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state_before)
            raise
        return self

    def _check_params(self):
        if self.proj_size and self.cell != "lstm":
            raise ValueError(
                f"proj_size is only available for cell='lstm', got cell="
                f"{self.cell!r}. Set proj_size=0 or use cell='lstm'."
            )

    def _fit_unsafe(self, X, y, sample_weight, *, partial, classes):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        self._check_params()
        warm = (partial or self.warm_start) and "net_" in self.__dict__
        seqs, y = check_sequences(
            self,
            X,
            y,
            reset=not warm,
            y_numeric=not self._is_classifier,
            multi_output=True,
        )
        n = len(seqs)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, np.empty(n), dtype=np.float64, ensure_non_negative=True
            )
            if not sample_weight.sum() > 0:
                raise ValueError(
                    "sample_weight sums to zero: at least one sample needs a "
                    "positive weight."
                )
        if warm:
            y_enc = self._encode_targets_again(y)
            n_outputs = self._n_outputs
            target_attrs = {}
        else:
            y_enc, n_outputs, target_attrs = self._encode_targets(
                y, sample_weight=sample_weight, classes=classes
            )
            # set now (a failed fit restores the estimator anyway): the loss
            # and the class weights depend on them
            for k, v in target_attrs.items():
                setattr(self, k, v)
        weights = self._sample_weight(y_enc, sample_weight)
        accelerator = self.accelerator
        if accelerator is not None:
            from sklstm import _accelerate

            device = _accelerate.check_accelerator(
                self, partial=partial, warm=self.warm_start
            )
        else:
            device = (
                resolve_device(self.device)
                if isinstance(self.device, str)
                else self.device
            )
        seed = seed_from(self.random_state)
        if accelerator is not None:
            seed = _accelerate.shared_seed(accelerator, seed)
        if warm:
            # a different stream for every continuation, still reproducible
            seed = (seed + 7919 * len(self.net_.history)) % (2**32)

        early = self.early_stopping
        if early == "auto":
            early = n >= AUTO_EARLY_STOPPING_MIN_SAMPLES
        early = bool(early) and not partial
        train_idx = valid_idx = None
        if early:
            train_idx, valid_idx = self._split(n, y_enc, seed)

        input_attrs = {}
        if warm:
            n_tokens = self._n_tokens
            net = copy.deepcopy(self.net_)
        else:
            net_kwargs = self._module_params(seqs)
            net_kwargs["n_outputs"] = n_outputs
            if seqs.kind == "numeric":
                if self.scale_inputs:
                    w_train = None
                    if weights is not None:
                        w_train = weights if train_idx is None else weights[train_idx]
                    mean, scale = _feature_stats(seqs, train_idx, w_train)
                else:
                    mean = np.zeros(seqs.n_features, dtype=np.float32)
                    scale = np.ones(seqs.n_features, dtype=np.float32)
                net_kwargs["input_mean"] = mean
                net_kwargs["input_scale"] = scale
                input_attrs = {"_input_mean": mean, "_input_scale": scale}
            n_tokens = None
            embeddings = None
            if seqs.kind == "tokens":
                n_tokens = int(seqs.data.max()) + 1 if seqs.data.size else 2
                n_tokens = max(n_tokens, 2)
                if self.embeddings is not None:
                    embeddings = _check_embeddings(self.embeddings)
                    n_tokens = max(n_tokens, embeddings.shape[0])
                    net_kwargs["embedding_dim"] = embeddings.shape[1]
                    net_kwargs["freeze_embeddings"] = self.freeze_embeddings
                net_kwargs["n_tokens"] = n_tokens
                dim = net_kwargs["embedding_dim"]
                if n_tokens * dim > MAX_EMBEDDING_WEIGHTS:
                    raise ValueError(
                        f"Token ids go up to {n_tokens - 1}, so the embedding would "
                        f"need {n_tokens} x {dim} weights (about "
                        f"{n_tokens * dim * 16 / 2**30:.0f} GiB with gradients and "
                        "optimizer state). Number the tokens 2, 3, ... by frequency "
                        "(TextSequencer does), or lower embedding_dim."
                    )
            net_kwargs.update(self.module_kwargs or {})
            net = self._new_net(
                net_kwargs, device=device, seed=seed, accelerator=accelerator
            )

        if weights is not None:
            full = _WeightedDataset(seqs, y_enc, n_tokens=n_tokens)
            full.weights = weights.astype(np.float32)
        else:
            full = SequenceDataset(seqs, y_enc, n_tokens=n_tokens)
        if early:
            train_ds = _subset(full, train_idx)
            valid_ds = _subset(full, valid_idx)
        else:
            train_ds, valid_ds = full, None

        max_epochs, min_epochs = self._epoch_budget(len(train_ds), early)
        callbacks, snapshot = self._callbacks(
            early, max_epochs, min_epochs, accelerator=accelerator
        )
        net.callbacks = callbacks
        net.train_split = predefined_split(valid_ds) if early else None
        net.max_epochs = max_epochs
        net.verbose = self.verbose
        net.iterator_train__random_state = np.random.default_rng(seed)

        threads = None
        if self._step_macs(net, len(train_ds)) < SMALL_MODEL_MACS:
            threads = 1
        with thread_limit(threads), flush_denormal(), seeded(seed, device):
            if not warm:
                net.initialize()
                if embeddings is not None:
                    with torch.no_grad():
                        emb = net.module_.embedding.weight
                        emb[: embeddings.shape[0]] = torch.as_tensor(
                            embeddings, dtype=emb.dtype, device=emb.device
                        )
                        emb[0].zero_()  # padding
            else:
                net.initialize_callbacks()
                for group in net.optimizer_.param_groups:
                    group["lr"] = self.lr
            net.partial_fit(train_ds, None, epochs=1 if partial else None)

        interrupted = getattr(net, "interrupted_", False)
        if interrupted:
            self._keep_last_epoch(net, snapshot, early)
        if accelerator is not None:
            # the fitted estimator holds a plain net: it predicts in one
            # process, pickles and saves without the accelerator
            net = _accelerate.release(
                net, self._new_net(net.get_params_for("module"), device=device)
            )
        net.module_.eval()
        # the validation set and the generator must not travel inside saved models
        net.train_split = None
        net.iterator_train__random_state = None

        history = net.history
        loss_curve = [
            float(row["train_loss"]) for row in history if "train_loss" in row
        ]
        scores = [float(row["valid_score"]) for row in history if "valid_score" in row]
        if early and scores:
            best_loss, best_score = None, max(scores)
        else:
            scores, best_loss, best_score = None, min(loss_curve), None

        self.net_ = net
        if not warm:
            self._n_tokens = n_tokens
            self._n_outputs = n_outputs
        for k, v in input_attrs.items():
            setattr(self, k, v)
        self.n_iter_ = len(loss_curve)
        self.loss_curve_ = loss_curve
        self.validation_scores_ = scores
        self.best_validation_score_ = best_score
        self.best_loss_ = best_loss
        if interrupted:
            raise _Interrupted(
                f"Training was interrupted; {type(self).__name__} keeps the model "
                f"of epoch {self.n_iter_} and can predict."
            )
        return self

    def _keep_last_epoch(self, net, snapshot, early):
        """After Ctrl-C: drop the unfinished epoch, keep finished weights."""
        history = net.history
        while len(history) and "train_loss" not in history[-1]:
            history.pop()
        if len(history) == 0 or snapshot.state_ is None:
            raise KeyboardInterrupt  # nothing finished: estimator is restored
        if early:
            # EarlyStopping's on_train_end already loaded the best epoch
            return
        net.module_.load_state_dict(snapshot.state_)

    def _step_macs(self, net, n_train) -> int:
        """Multiply-adds of one recurrent step of the first layer on a batch."""
        kwargs = net.get_params_for("module")
        gates = {"lstm": 4, "peephole": 4, "gru": 3, "cifg": 3, "rnn": 1}.get(
            kwargs.get("cell", "lstm"), 4
        )
        H = kwargs.get("hidden_size", 128)
        if kwargs.get("n_tokens") is not None:
            in_size = kwargs.get("embedding_dim", 128)
        else:
            in_size = kwargs.get("n_step_features", 1)
        directions = 2 if kwargs.get("bidirectional") else 1
        return min(self.batch_size, n_train) * gates * H * (H + in_size) * directions

    def _epoch_budget(self, n_train, early):
        """(max_epochs, epochs before the training-loss stop may act)."""
        if self.max_epochs != "auto":
            return self.max_epochs, 0
        if early:
            return AUTO_MAX_EPOCHS, 0
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        max_epochs = max(AUTO_MAX_EPOCHS, math.ceil(AUTO_MAX_STEPS / steps_per_epoch))
        return max_epochs, math.ceil(AUTO_MIN_STEPS / steps_per_epoch)

    def _callbacks(self, early, max_epochs, min_epochs=0, accelerator=None):
        callbacks = [("finite_loss", _StopOnNonFiniteLoss())]
        snapshot = _EpochSnapshot()
        callbacks.append(("snapshot", snapshot))
        if self.max_grad_norm is not None:
            clipping = GradientNormClipping
            if accelerator is not None:
                from sklstm._accelerate import _AcceleratedClipping as clipping
            callbacks.append(("clip", clipping(self.max_grad_norm)))
        if early:
            callbacks.append(("valid_score", _ValidationScore(self._score_fn)))
            monitor, lower = "valid_score", False
        else:
            monitor, lower = "train_loss", True
        if accelerator is not None and accelerator.num_processes > 1:
            from sklstm._accelerate import _AgreeAcrossProcesses

            # after the validation score, before anything that decides on
            # the history: every process must take the same decisions
            callbacks.append(("agree", _AgreeAcrossProcesses()))
        if self.lr_schedule == "plateau":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy="ReduceLROnPlateau",
                        monitor="valid_loss" if early else "train_loss",
                        mode="min",
                        factor=0.5,
                        patience=max(1, self.n_iter_no_change // 2),
                    ),
                )
            )
        elif self.lr_schedule == "cosine":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(policy="CosineAnnealingLR", T_max=max_epochs),
                )
            )
        callbacks.append(
            (
                "early_stopping",
                _EarlyStopping(
                    min_epochs=min_epochs,
                    monitor=monitor,
                    lower_is_better=lower,
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=bool(early),
                    sink=_sink(self.verbose, accelerator),
                ),
            )
        )
        if self.verbose and self.verbose >= 2:
            callbacks.append(("progress", ProgressBar()))
        for i, cb in enumerate(self.callbacks or []):
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

    def _new_net(
        self,
        module_kwargs,
        *,
        device,
        callbacks=(),
        train_split=None,
        seed=0,
        accelerator=None,
    ):
        """An uninitialised skorch net for ``SequenceNet(**module_kwargs)``.

        Used by ``fit`` and by loaders that rebuild a fitted estimator from
        saved weights (``net.initialize()`` then ``load_state_dict``). With an
        ``accelerator`` (fit only), a net that trains through it.
        """
        optimizer = self.optimizer
        optimizer_kwargs = dict(self.optimizer_kwargs or {})
        if self.weight_decay:
            optimizer_kwargs.setdefault("weight_decay", self.weight_decay)
        if isinstance(optimizer, str):
            if optimizer in ("adam", "adamw") and not {"fused", "foreach"} & set(
                optimizer_kwargs
            ):
                # one fused kernel per step instead of a loop over tensors: the
                # dense embedding gradient makes this ~15% of an epoch
                fused = _fused_adam_supported(torch.device(device))
                if accelerator is not None:
                    # the optimizer is built while the module is still on
                    # the CPU; the accelerator moves it afterwards
                    fused = fused and _fused_adam_supported(torch.device("cpu"))
                if fused:
                    optimizer_kwargs["fused"] = True
            optimizer = _OPTIMIZERS[optimizer]
        optimizer_params = {f"optimizer__{k}": v for k, v in optimizer_kwargs.items()}
        module_params = {f"module__{k}": v for k, v in module_kwargs.items()}
        net_cls, extra = _SequenceNeuralNet, {"device": str(device)}
        if accelerator is not None:
            from sklstm._accelerate import _AcceleratedSequenceNet

            net_cls = _AcceleratedSequenceNet
            extra = {
                "accelerator": accelerator,
                # accelerate places the module; skorch must not (it refuses
                # a device alongside a placing accelerator)
                "device": None,
                # unwrapped by hand after training (_accelerate.release),
                # after EarlyStopping has loaded the best weights into the
                # still wrapped module
                "unwrap_after_train": False,
                # skorch's PrintLog prints to any sink other than print
                # whatever net.verbose says; print once per machine, or not
                "callbacks__print_log__sink": _sink(self.verbose, accelerator),
                "iterator_train__num_shards": accelerator.num_processes,
                "iterator_train__shard_index": accelerator.process_index,
                "iterator_train__device": accelerator.device,
                "iterator_valid__device": accelerator.device,
            }
        return net_cls(
            module=SequenceNet,
            criterion=self._criterion(),
            criterion__reduction="none",
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=AUTO_MAX_EPOCHS
            if self.max_epochs == "auto"
            else self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BucketBatchLoader,
            iterator_train__shuffle=True,
            iterator_train__random_state=np.random.default_rng(seed),
            iterator_valid=BucketBatchLoader,
            iterator_valid__shuffle=False,
            train_split=train_split,
            callbacks=list(callbacks),
            verbose=self.verbose,
            **extra,
            **module_params,
            **optimizer_params,
        )

    def _module_params(self, seqs) -> dict:
        hidden_size = self.hidden_size
        if hidden_size == "auto":
            hidden_size = AUTO_HIDDEN_SIZE[seqs.kind]
        dropout = self.dropout
        if dropout == "auto":
            dropout = AUTO_DROPOUT[seqs.kind]
        if self.proj_size and self.proj_size >= hidden_size:
            raise ValueError(
                f"proj_size={self.proj_size} must be smaller than hidden_size="
                f"{hidden_size}."
            )
        return {
            "n_step_features": seqs.n_features,
            "embedding_dim": self.embedding_dim,
            "hidden_size": hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "proj_size": self.proj_size,
            "cell": self.cell,
            "dropout": dropout,
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
        module = self.net_.module_
        if module.training:
            module.eval()
        device = module.head.weight.device
        n = len(seqs)
        if n <= SMALL_PREDICT and seqs.kind == "tokens":
            return self._forward_small(seqs, module, device)
        ds = SequenceDataset(seqs, n_tokens=self._n_tokens)
        out = np.empty((n, self._n_outputs), dtype=np.float64)
        # flushing denormals pays off on long runs only; a few documents skip it
        denormals = flush_denormal() if n > 64 else contextlib.nullcontext()
        with torch.inference_mode(), thread_limit(), denormals:
            for idx in bucket_batches(seqs.lengths, PREDICT_BATCH_SIZE):
                xb, _ = ds.batch(idx)
                res = module(xb["x"].to(device), xb["lengths"])
                out[idx] = res.cpu().numpy()
        return out

    def _forward_small(self, seqs, module, device) -> np.ndarray:
        """One batch of a few token sequences: no sorting, no row copies.

        A latency path for serving one document at a time; the result is the
        same as the general path's (padding never changes a result).
        """
        lengths = seqs.lengths
        xt = token_tensor(seqs.data[:, : int(lengths.max())], self._n_tokens)
        with torch.inference_mode(), thread_limit():
            res = module(xt.to(device), torch.from_numpy(lengths))
        return res.cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


class _Interrupted(Exception):
    """Internal: training stopped by Ctrl-C after at least one finished epoch."""


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


def _sink(verbose, accelerator):
    """Where early stopping reports: nowhere, or printed once per machine."""
    if not verbose:
        return _silent
    return print if accelerator is None else accelerator.print


def _subset(ds: SequenceDataset, idx: np.ndarray) -> SequenceDataset:
    """A view of some rows of ``ds``: no copy of the sequence data."""
    new = copy.copy(ds)
    new.index = idx if ds.index is None else ds.index[idx]
    new.lengths = ds.lengths[idx]
    new.y = None if ds.y is None else ds.y[idx]
    return new


def _feature_stats(seqs, train_idx, weights=None):
    """Per-feature mean and scale of numeric input over valid time steps.

    With sample weights, each sample's time steps count with its weight.
    """
    data, lengths = seqs.data, seqs.lengths
    if train_idx is not None:
        data, lengths = data[train_idx], lengths[train_idx]
    if data.ndim == 2:
        data = data[:, :, None]
    n, T = data.shape[:2]
    step_w = None
    if (lengths == T).all():
        flat = data.reshape(-1, data.shape[2])
        if weights is not None:
            step_w = np.repeat(weights, T)
    else:
        valid = np.arange(T)[None, :] < lengths[:, None]
        flat = data[valid]
        if weights is not None:
            step_w = np.broadcast_to(weights[:, None], (n, T))[valid]
    mean, scale = mean_and_scale(flat, step_w)
    return mean.astype(np.float32), scale.astype(np.float32)


def mean_and_scale(a: np.ndarray, weights=None):
    """Column means and standard deviations (1 where a column is constant).

    ``weights`` (one per row) give a weighted mean and standard deviation.
    """
    a = np.asarray(a, dtype=np.float64)
    if weights is None:
        mean = a.mean(axis=0)
        scale = a.std(axis=0)
    else:
        w = np.asarray(weights, dtype=np.float64)
        mean = np.average(a, axis=0, weights=w)
        scale = np.sqrt(np.average((a - mean) ** 2, axis=0, weights=w))
    scale[~(scale > 1e-12)] = 1.0
    return mean, scale
