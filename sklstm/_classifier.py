"""LSTMClassifier: class labels, probabilities and the classifier surface."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d
from torch import nn

from sklstm._base import _BaseLSTM
from sklstm._calibration import fit_temperature
from sklstm._compat import Interval, StrOptions, _fit_context
from sklstm._docstring import DOCS, Substitution, fitted_attrs


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor, weights=None) -> float:
    if targets.dim() == 2:  # multilabel: subset accuracy, as sklearn's score
        correct = ((outputs > 0) == (targets > 0.5)).all(dim=1)
    else:
        correct = outputs.argmax(dim=1) == targets
    correct = correct.double()
    if weights is None:
        return float(correct.mean())
    return float((correct * weights).sum() / weights.sum())


def _plain(value):
    """A numpy scalar as the Python value (for messages)."""
    return value.item() if hasattr(value, "item") else value


class _MultilabelLoss(nn.BCEWithLogitsLoss):
    """Binary cross-entropy per label on float64 logits and float targets.

    ``label_smoothing`` moves each 0/1 target towards 1/2 by half its value,
    as cross-entropy's smoothing does for two classes.
    """

    #: criteria pickled before the argument existed trained on hard labels
    label_smoothing = 0.0

    def __init__(self, *, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        target = target.to(input.dtype)
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + self.label_smoothing / 2
        return super().forward(input, target)


@Substitution(**DOCS, fitted_attrs=fitted_attrs("accuracy"))
class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    """Recurrent neural network classifier for sequences (text or numbers).

    Token ids (e.g. from :class:`~sklstm.TextSequencer`) pass through an
    embedding layer; numeric series are standardised per feature. Then come
    stacked LSTM (or GRU/RNN) layers with dropout between them, a pooling of
    the hidden states (the last valid state by default) and a linear output
    layer with softmax probabilities. Training uses skorch with batches of
    sequences of similar length, each padded only to its own longest member;
    padding never changes a prediction.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(network_params)s

    %(training_params)s

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear
        models: a dict ``{label: weight}``, ``"balanced"`` for
        ``n_samples / (n_classes * np.bincount(y))``, or None for equal
        weights. Multiplied with ``sample_weight``.

    label_smoothing : float in [0, 1), default=0.1
        Share of each training target spread evenly over the classes
        (Szegedy et al. 2016; PyTorch's ``CrossEntropyLoss`` argument of the
        same name): with 0.1 the network is trained towards 0.9 plus 0.1 /
        n_classes for the true class instead of 1 (0.95 for two classes),
        which keeps it from growing over-confident on small data; for
        multilabel targets each 0/1 label moves to ``label_smoothing / 2`` /
        ``1 - label_smoothing / 2``. 0 trains on the hard labels. Only the
        training loss changes (the reported losses are the smoothed ones);
        early stopping watches held-out accuracy, and ``calibration``
        rescales the probabilities afterwards. See :ref:`accuracy`.

    calibration : {"auto", "temperature"} or None, default="auto"
        How ``predict_proba`` is calibrated. ``"temperature"``: temperature
        scaling, one scalar ``T`` that divides the logits, fitted by
        minimising the (``sample_weight``-weighted) log loss of the held-out
        validation split; with early stopping that is its split (no extra
        cost), without it ``fit`` holds out ``validation_fraction`` of the
        data for it, so the network trains on less. ``"auto"``: temperature
        scaling when early stopping is on, none otherwise. None: the raw
        softmax. ``predict`` is the same either way; ``partial_fit`` does
        not calibrate. See :ref:`uncertainty`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    temperature_ : float or None
        The fitted temperature (``predict_proba`` is the softmax of
        ``logits / temperature_``); None when not calibrated.

    %(fitted_attrs)s

    See Also
    --------
    LSTMRegressor : The same network for regression targets.
    TextSequencer : Turns raw text into the token ids this model reads.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMClassifier, TextSequencer
    >>> texts = ["good movie", "bad movie", "great film", "awful film"] * 10
    >>> labels = [1, 0, 1, 0] * 10
    >>> model = make_pipeline(TextSequencer(), LSTMClassifier(
    ...     hidden_size=16, embedding_dim=16, lr=1e-2, max_epochs=20, random_state=0))
    >>> model.fit(texts, labels).predict(["good film", "awful movie"])
    array([1, 0])
    """

    _is_classifier = True
    _score_fn = staticmethod(_accuracy)

    _parameter_constraints: dict = {
        **_BaseLSTM._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "calibration": [StrOptions({"auto", "temperature"}), None],
    }
    _CALIBRATIONS = {"temperature": True}
    _AUTO_CALIBRATION = "temperature"

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
        class_weight=None,
        label_smoothing=0.1,
        module_kwargs=None,
        device="cpu",
        precision="auto",
        deterministic="auto",
        predict_batch_size=1024,
        accelerator=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            cell=cell,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            proj_size=proj_size,
            dropout=dropout,
            pooling=pooling,
            n_members=n_members,
            patch_size=patch_size,
            token_dropout=token_dropout,
            embeddings=embeddings,
            freeze_embeddings=freeze_embeddings,
            pretrained=pretrained,
            lm_epochs=lm_epochs,
            scale_inputs=scale_inputs,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            lr_schedule=lr_schedule,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            weight_decay=weight_decay,
            max_grad_norm=max_grad_norm,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            refit=refit,
            calibration=calibration,
            callbacks=callbacks,
            warm_start=warm_start,
            module_kwargs=module_kwargs,
            device=device,
            precision=precision,
            deterministic=deterministic,
            predict_batch_size=predict_batch_size,
            accelerator=accelerator,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` with class labels ``y``.

        Parameters
        ----------
        %(input_doc)s

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a binary indicator matrix for multilabel
            classification (one sigmoid output per label).

        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (a weight of 2 counts like the
            sample appearing twice). Multiplied with ``class_weight``.

        Returns
        -------
        self : LSTMClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``X``, ``y``, continuing from the current model.

        The first call initialises the network (and needs ``classes`` unless
        ``y`` is a multilabel indicator matrix); later calls continue training
        with the same classes, input scaling and vocabulary size. Early
        stopping does not apply.

        Parameters
        ----------
        %(input_doc)s

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels or multilabel indicator matrix.

        classes : array-like of shape (n_classes,), default=None
            All classes that can appear in any call. Required on the first
            call for single-label targets; ignored afterwards.

        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : LSTMClassifier
            The estimator, trained for one more epoch.
        """
        first = "net_" not in self.__dict__
        if first and classes is None and np.ndim(y) == 1:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, so that "
                "the output layer has one unit per class, e.g. "
                "partial_fit(X, y, classes=np.unique(y_all))."
            )
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def _encode_targets(self, y, sample_weight=None, classes=None):
        y = np.asarray(y) if not hasattr(y, "shape") else y
        if getattr(y, "ndim", 1) == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if getattr(y, "ndim", 1) == 2:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError(
                    "2-D y must be a binary indicator matrix (multilabel "
                    f"classification); got {type_of_target(y)!r}. Pass one label "
                    "per sample as a 1-D array, or 0/1 columns, one per label."
                )
            if self.class_weight is not None:
                raise ValueError(
                    "class_weight is not supported for multilabel y; use "
                    "sample_weight instead."
                )
            y_enc = np.asarray(y, dtype=np.float32)
            attrs = {"classes_": np.arange(y.shape[1]), "_multilabel": True}
            return y_enc, y.shape[1], attrs
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in classes="
                    f"{classes.tolist()}."
                )
        else:
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contain only one class: {_plain(classes[0])!r}."
            )
        y_enc = np.searchsorted(classes, y).astype(np.int64)
        return y_enc, len(classes), {"classes_": classes, "_multilabel": False}

    def _encode_targets_again(self, y):
        if self._multilabel:
            if np.ndim(y) != 2 or np.shape(y)[1] != len(self.classes_):
                raise ValueError(
                    f"y must be a multilabel indicator matrix with "
                    f"{len(self.classes_)} columns, as in the first fit."
                )
            return np.asarray(y, dtype=np.float32)
        y = column_or_1d(y, warn=True)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y contains labels {unknown.tolist()} that were not seen in the "
                f"first fit (classes_={self.classes_.tolist()}). Continuing "
                "training (warm_start/partial_fit) cannot add classes; refit "
                "from scratch, or pass all classes to the first partial_fit."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _sample_weight(self, y_enc, sample_weight):
        if self.class_weight is None or y_enc.ndim == 2:
            return sample_weight
        classes = self.classes_
        if isinstance(self.class_weight, dict):
            unknown = [k for k in self.class_weight if k not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight has keys {unknown} that are not classes of y "
                    f"({classes.tolist()})."
                )
            per_class = np.ones(len(classes))
            for label, w in self.class_weight.items():
                per_class[np.searchsorted(classes, label)] = w
        else:  # "balanced", as in scikit-learn: n_samples / (n_classes * count)
            counts = np.bincount(y_enc, minlength=len(classes)).astype(np.float64)
            per_class = np.where(
                counts > 0, len(y_enc) / (len(classes) * np.maximum(counts, 1)), 0.0
            )
        weights = per_class[y_enc]
        if sample_weight is not None:
            weights = weights * sample_weight
        return weights

    def _member_combine(self) -> str:
        return "sigmoid" if self._multilabel else "softmax"

    def _criterion(self):
        if self.__dict__.get("_multilabel", False):
            return _MultilabelLoss
        return nn.CrossEntropyLoss

    def _criterion_kwargs(self) -> dict:
        return {"label_smoothing": float(self.label_smoothing)}

    def _calibrate(self, method, outputs, y_enc, weights, rows=None) -> dict:
        if method is None:
            return {"temperature_": None}
        t = fit_temperature(outputs, y_enc, weights, multilabel=self._multilabel)
        return {"temperature_": t}

    def _logits(self, X) -> np.ndarray:
        """Network outputs divided by the fitted temperature (if any)."""
        logits = self._forward(X)
        # models pickled or saved before calibration existed have none
        temperature = self.__dict__.get("temperature_")
        if temperature is not None:
            logits /= temperature
        return logits

    def predict_proba(self, X):
        """Class probabilities for each sequence.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; for multilabel
            targets, the probability of each label (they need not sum to 1).
            Calibrated when ``temperature_`` is set.
        """
        # torch's float64 softmax: one call where numpy takes four, each of
        # which costs a one-document prediction more than it computes
        # (docs/performance.rst, target d)
        logits = torch.from_numpy(self._logits(X))
        if self._multilabel:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = torch.from_numpy(self._logits(X))
        if self._multilabel:
            return nn.functional.logsigmoid(logits).numpy()
        return torch.log_softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Predicted class label of each sequence.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or the 0/1 indicator matrix for multilabel targets.
        """
        outputs = self._forward(X)
        if self._multilabel:
            return (outputs > 0).astype(np.int64)
        return self.classes_[outputs.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
