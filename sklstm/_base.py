"""The estimator base of LSTMClassifier and LSTMRegressor.

Parameters and their constraints, ``fit`` as a sequence of readable steps
(validate, encode targets, split, build the net, train, record the results;
on any error the estimator is left as it was) and prediction. How the net is
built, which callbacks train it, when early stopping is on and how batches
are formed live in the modules this one imports.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from skorch.helper import predefined_split

from sklstm._attribution import weights as attention_weights
from sklstm._batching import SequenceDataset, subset
from sklstm._callbacks import history_attributes, sink, training_callbacks
from sklstm._compat import DocLinkMixin
from sklstm._defaults import (
    calibration_method,
    epoch_budget,
    resolve_lr,
    steps_per_epoch,
)
from sklstm._early_stopping import uses_early_stopping, validation_split
from sklstm._inference import network_outputs
from sklstm._leakage import token_groups
from sklstm._member_training import (
    check_continuable,
    check_members,
    fit_members,
    refit_members,
    resolve_fit_members,
)
from sklstm._module import _CELLS, parameter_device
from sklstm._net import (
    build_net,
    finish_net,
    load_embeddings,
    merge_members,
    network_kwargs,
)
from sklstm._parameters import PARAMETER_CONSTRAINTS
from sklstm._persistence import (
    _NoAcceleratorPickleMixin,
    _VersionedPickleMixin,
    added_parameters,
    moved_attribute,
)
from sklstm._precision import (
    deterministic_kernels,
    fit_precision,
    predict_precision,
    resolve_deterministic,
)
from sklstm._pretrained import (
    clone_keeping_pretrained,
    copy_weights,
    network_settings,
    pretrained_input,
    text_ids,
)
from sklstm._refit import check_refit, uses_refit
from sklstm._runtime import (
    flush_denormal,
    resolve_device,
    seed_from,
    seeded,
    thread_limit,
    training_threads,
)
from sklstm._validation import (
    InputSpec,
    Sequences,
    check_sample_weight,
    check_sequences,
)


class _BaseLSTM(
    DocLinkMixin, _NoAcceleratorPickleMixin, _VersionedPickleMixin, BaseEstimator
):
    """Common machinery of LSTMClassifier and LSTMRegressor."""

    _parameter_constraints: dict = dict(PARAMETER_CONSTRAINTS)

    def __init__(
        self,
        *,
        cell="lstm",
        embedding_dim="auto",
        hidden_size="auto",
        num_layers=1,
        bidirectional=False,
        proj_size=0,
        dropout="auto",
        pooling="auto",
        n_members="auto",
        patch_size="auto",
        token_dropout="auto",
        embeddings=None,
        freeze_embeddings=False,
        pretrained=None,
        lm_epochs=1,
        scale_inputs=True,
        max_epochs="auto",
        batch_size=64,
        lr="auto",
        lr_schedule=None,
        optimizer="adam",
        optimizer_kwargs=None,
        weight_decay=0.0,
        max_grad_norm=1.0,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        refit=False,
        calibration="auto",
        callbacks=None,
        warm_start=False,
        module_kwargs=None,
        device="cpu",
        precision="auto",
        deterministic="auto",
        predict_batch_size=1024,
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
        self.n_members = n_members
        self.patch_size = patch_size
        self.token_dropout = token_dropout
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.pretrained = pretrained
        self.lm_epochs = lm_epochs
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
        self.refit = refit
        self.calibration = calibration
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.module_kwargs = module_kwargs
        self.device = device
        self.precision = precision
        self.deterministic = deterministic
        self.predict_batch_size = predict_batch_size
        self.accelerator = accelerator
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_clone__(self):
        # scikit-learn's clone would replace a fitted language model given as
        # pretrained by an unfitted copy
        return clone_keeping_pretrained(self, super().__sklearn_clone__)

    def __setstate__(self, state):
        # parameters added since a pickle was written: the value that does
        # what the older version did, so a refit behaves as it did then
        for name, old_behaviour in added_parameters(type(self)).items():
            state.setdefault(name, old_behaviour)
        super().__setstate__(state)

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

    def _criterion_kwargs(self) -> dict:
        """Arguments of the criterion beyond ``reduction``."""
        return {}

    def _sample_weight(self, y_enc, sample_weight):
        """Per-sample training weights (None when all are equal)."""
        return sample_weight

    def _member_combine(self) -> str:
        """How the outputs of several members are averaged (see ``_members``)."""
        raise NotImplementedError

    # a plain function (outputs, targets, weights) -> float, set by subclasses
    _score_fn = None

    #: calibration methods of the subclass -> whether they need a held-out split
    _CALIBRATIONS: dict = {}
    #: what calibration="auto" runs when early stopping holds out a split
    _AUTO_CALIBRATION = None

    def _calibrate(self, method, outputs, y_enc, weights, rows=None) -> dict:
        """Fitted calibration attributes from held-out ``outputs`` (None: off).

        ``rows`` are the held-out rows' positions in the training data.
        """
        raise NotImplementedError

    def _cross_calibrate(self, X, y, sample_weight, seed) -> dict:
        """Calibration attributes from refits on folds (methods without a split)."""
        raise NotImplementedError

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
        check_refit(self.refit, self.accelerator)
        check_members(self)

    def _fit_unsafe(self, X, y, sample_weight, *, partial, classes):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        self._check_params()
        warm = (partial or self.warm_start) and "net_" in self.__dict__
        if warm:
            check_continuable(self.net_)
        X_raw, y_raw = X, y
        device, seed = self._device_and_seed(partial=partial, warm=warm)
        X, start = self._pretrained_input(X, warm=warm, seed=seed)
        seqs, y = self._validate_input(X, y, warm=warm)
        sample_weight = check_sample_weight(sample_weight, len(seqs))
        y_enc, n_outputs = self._targets(y, sample_weight, classes, warm=warm)
        weights = self._sample_weight(y_enc, sample_weight)
        precision = self._training_precision(device, warm=warm)

        early = uses_early_stopping(self.early_stopping, len(seqs), partial=partial)
        method = calibration_method(
            self.calibration, early, self._AUTO_CALIBRATION, partial=partial
        )
        # a split method scores early stopping's split, or holds out one of its
        # own; any other method (regression's "cv") scores folds, early or not
        split_method = self._CALIBRATIONS.get(method, False)
        held_out = early or split_method
        train_idx = valid_idx = None
        if held_out:
            train_idx, valid_idx = validation_split(
                len(seqs),
                y_enc,
                self.validation_fraction,
                seed,
                stratify=self._is_classifier,
                groups=token_groups(seqs),
            )
        if warm:
            n_tokens, plan = self._n_tokens, None
        else:
            plan = network_kwargs(
                self,
                seqs,
                n_outputs,
                train_idx=train_idx,
                weights=weights,
                n_members=resolve_fit_members(self, seqs.kind, partial=partial),
                pretrained=start,
                fixed=None
                if start is None
                else network_settings(start, self.sequencer_),
            )
            n_tokens = plan.n_tokens

        full = SequenceDataset(seqs, y_enc, n_tokens=n_tokens, weights=weights)
        train_ds = subset(full, train_idx) if held_out else full
        nets, interrupted = fit_members(
            self,
            plan,
            train_ds,
            full,
            valid_idx,
            early,
            device,
            seed,
            precision,
            partial=partial,
            warm=warm,
        )
        net = self._merge(nets, device, seed, precision)
        if self.accelerator is not None:
            # the fitted estimator holds a plain net: it predicts in one
            # process, pickles and saves without the accelerator
            from sklstm import _accelerate

            plain = build_net(self, net.get_params_for("module"), device=device)
            net = _accelerate.release(net, plain)
        self.net_ = finish_net(net)
        if not warm:
            self._n_tokens = n_tokens
            self._n_outputs = n_outputs
            for k, v in plan.input_stats.items():
                setattr(self, k, v)
        for k, v in history_attributes(net.history, early).items():
            setattr(self, k, v)
        if split_method:
            held = Sequences(seqs.data[valid_idx], seqs.lengths[valid_idx], seqs.kind)
            outputs = self._outputs(held)
            w = None if weights is None else weights[valid_idx]
            attrs = self._calibrate(method, outputs, y_enc[valid_idx], w, valid_idx)
        elif method is not None:
            attrs = self._cross_calibrate(X_raw, y_raw, sample_weight, seed)
        else:
            attrs = self._calibrate(None, None, None, None)
        for k, v in attrs.items():
            setattr(self, k, v)
        self.refit_epochs_ = None
        if not interrupted and uses_refit(self.refit, early=early, warm=warm):
            again, epochs = refit_members(
                self, plan, nets, full, device, seed, precision
            )
            interrupted = again is None  # then the early-stopped model stays
            if not interrupted:
                self.net_ = finish_net(self._merge(again, device, seed, precision))
                self.refit_epochs_ = epochs[0] if len(epochs) == 1 else epochs
        if interrupted:
            raise _Interrupted(
                f"Training was interrupted; {type(self).__name__} keeps the model "
                f"of epoch {self.n_iter_} and can predict."
            )
        return self

    def _validate_input(self, X, y, *, warm):
        """Validated (sequences, y); a first fit records what the input is."""
        seqs, y, spec = check_sequences(
            self,
            X,
            y,
            reset=not warm,
            fitted=self._input_spec() if warm else None,
            y_numeric=not self._is_classifier,
            multi_output=True,
        )
        if not warm:
            # n_features_in_ is only meaningful for equal-width 2-D float
            # input; a list of sequences has no feature names either (for
            # arrays, keep feature_names_in_ as validate_data set them)
            stale = ()
            if spec.ragged:
                stale = ("n_features_in_", "feature_names_in_")
            elif spec.kind != "numeric2d":
                stale = ("n_features_in_",)
            for attr in stale:
                self.__dict__.pop(attr, None)
            self._input_kind = spec.kind
            self._n_step_features = spec.n_step_features
        return seqs, y

    def _pretrained_input(self, X, *, warm, seed):
        """``(X as token ids, the language model to start from)``; without
        ``pretrained``, ``(X, None)``. A first fit sets what it learned."""
        X, lm, attrs = pretrained_input(self, X, warm=warm, seed=seed)
        for k, v in attrs.items():
            setattr(self, k, v)
        return X, lm

    def _merge(self, nets, device, seed, precision):
        """The fitted net: the one trained, or the members' average."""
        combine = self._member_combine() if len(nets) > 1 else None
        return merge_members(
            self, nets, combine=combine, device=device, seed=seed, precision=precision
        )

    def _input_spec(self) -> InputSpec:
        return InputSpec(self._input_kind, self._n_step_features)

    def _targets(self, y, sample_weight, classes, *, warm):
        """(encoded y, number of outputs); a first fit sets target attributes."""
        if warm:
            return self._encode_targets_again(y), self._n_outputs
        y_enc, n_outputs, target_attrs = self._encode_targets(
            y, sample_weight=sample_weight, classes=classes
        )
        # set now (a failed fit restores the estimator anyway): the loss
        # and the class weights depend on them
        for k, v in target_attrs.items():
            setattr(self, k, v)
        return y_enc, n_outputs

    def _device_and_seed(self, *, partial, warm):
        accelerator = self.accelerator
        if accelerator is not None:
            from sklstm import _accelerate

            device = _accelerate.check_accelerator(
                self, partial=partial, warm=self.warm_start
            )
        elif isinstance(self.device, str):
            device = resolve_device(self.device)
        else:
            device = self.device
        seed = seed_from(self.random_state)
        if accelerator is not None:
            seed = _accelerate.shared_seed(accelerator, seed)
        if warm:
            # a different stream for every continuation, still reproducible
            seed = (seed + 7919 * len(self.net_.history)) % (2**32)
        return device, seed

    def _training_precision(self, device, *, warm):
        """The resolved precision of this fit (a ValueError if it cannot run)."""
        return fit_precision(
            self.precision,
            device,
            _CELLS[self.cell],
            accelerated=self.accelerator is not None,
            previous=self.net_.precision if warm else None,
        )

    def _new_training_net(self, module_kwargs, device, seed, precision):
        if self.accelerator is None:
            return build_net(
                self, module_kwargs, device=device, seed=seed, precision=precision
            )
        from sklstm import _accelerate

        return _accelerate.build_net(
            self, module_kwargs, accelerator=self.accelerator, seed=seed
        )

    def _configure(self, net, train_ds, full, valid_idx, early, seed):
        """Set this fit's epochs, callbacks and validation set on ``net``."""
        max_epochs, min_epochs = epoch_budget(
            self.max_epochs,
            self.batch_size,
            len(train_ds),
            early,
            pretrained=self.pretrained is not None,
        )
        options = {}
        if self.accelerator is not None:
            from sklstm import _accelerate

            options = _accelerate.callback_options(self.accelerator)
        callbacks, snapshot = training_callbacks(
            self,
            early=early,
            max_epochs=max_epochs,
            min_epochs=min_epochs,
            report=sink(self.verbose, self.accelerator),
            steps_per_epoch=steps_per_epoch(len(train_ds), self.batch_size),
            processes=1 if self.accelerator is None else self.accelerator.num_processes,
            **options,
        )
        net.callbacks = callbacks
        net.train_split = predefined_split(subset(full, valid_idx)) if early else None
        net.max_epochs = max_epochs
        net.verbose = self.verbose
        net.iterator_train__random_state = np.random.default_rng(seed)
        return snapshot

    def _train(self, net, plan, train_ds, device, seed, *, partial, warm):
        """Initialise (first fit) or resume ``net``, then train it."""
        deterministic = resolve_deterministic(self.deterministic, self.random_state)
        with (
            flush_denormal(),
            seeded(seed, device),
            deterministic_kernels(deterministic, device),
        ):
            if warm:
                net.initialize_callbacks()
                for group in net.optimizer_.param_groups:
                    group["lr"] = resolve_lr(
                        self.lr, pretrained=self.pretrained is not None
                    )
            else:
                net.initialize()
                if plan.embeddings is not None:
                    load_embeddings(net, plan.embeddings)
            module = net.module_
            if self.accelerator is not None:
                module = self.accelerator.unwrap_model(module)  # DDP wrapper
            if not warm and plan.pretrained is not None:
                copy_weights(module, plan.pretrained)
            rows = min(self.batch_size, len(train_ds))
            threads = training_threads(rows * module.recurrent_macs())
            with thread_limit(threads):
                net.partial_fit(train_ds, None, epochs=1 if partial else None)

    # --- prediction ---------------------------------------------------------
    def _forward(self, X) -> np.ndarray:
        """Network outputs (float64) for X, in the caller's order."""
        if "net_" not in self.__dict__:  # check_is_fitted, minus its scan
            check_is_fitted(self, "net_")
        if "sequencer_" in self.__dict__:  # fitted from a pretrained model
            X = text_ids(self.sequencer_, X, type(self).__name__)
        seqs, _, _ = check_sequences(self, X, reset=False, fitted=self._input_spec())
        return self._outputs(seqs)

    def _outputs(self, seqs) -> np.ndarray:
        """Network outputs (float64) for validated sequences, as predict runs."""
        module = self.net_.module_
        precision = self.net_.precision
        if precision != "32":  # e.g. a GPU model unpickled on a CPU
            precision = predict_precision(
                precision, self.precision, parameter_device(module), _CELLS[self.cell]
            )
        return network_outputs(
            module,
            seqs,
            n_tokens=self._n_tokens,
            n_outputs=self._n_outputs,
            precision=precision,
            batch_size=self.predict_batch_size,
        )

    def attention_weights(self, X):
        """Where ``pooling="attention"`` looks: weights over each sequence's steps.

        Parameters
        ----------
        X : array-like or list
            Input as for ``predict`` (token ids or numeric sequences).

        Returns
        -------
        weights : list of ndarray
            One 1-D array per row of ``X``, over its real steps (padding gets
            none), summing to 1. Series read in patches (``patch_size`` > 1)
            get one weight per window.
        """
        if "net_" not in self.__dict__:
            check_is_fitted(self, "net_")
        module = self.net_.module_
        if module.pooling != "attention":
            raise ValueError(
                f"attention_weights needs a model fitted with pooling='attention'; "
                f"this one pools by {module.pooling!r}. Refit with "
                "pooling='attention', or use sklstm.explain for attributions."
            )
        if "sequencer_" in self.__dict__:
            X = text_ids(self.sequencer_, X, type(self).__name__)
        seqs, _, _ = check_sequences(self, X, reset=False, fitted=self._input_spec())
        return attention_weights(module, seqs, n_tokens=self._n_tokens)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


class _Interrupted(Exception):
    """Internal: training stopped by Ctrl-C after at least one finished epoch."""


def __getattr__(name):
    # only for unpickling: a class pickled by 0.1.0.dev0 under this module
    return moved_attribute(__name__, name)
