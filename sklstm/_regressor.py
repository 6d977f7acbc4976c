"""LSTMRegressor: real-valued targets, scaled internally."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin, clone
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklstm._base import _BaseLSTM
from sklstm._compat import Interval, StrOptions, _fit_context, _safe_indexing
from sklstm._conformal import check_coverage, conformal_quantile
from sklstm._docstring import DOCS, Substitution, fitted_attrs
from sklstm._scaling import mean_and_scale

#: folds of calibration="cv" (five extra fits)
CV_FOLDS = 5


def _r2(outputs: torch.Tensor, targets: torch.Tensor, weights=None) -> float:
    targets = targets.to(outputs.dtype).reshape(outputs.shape)
    w = (
        torch.ones(len(targets), 1, dtype=outputs.dtype)
        if weights is None
        else weights.to(outputs.dtype).reshape(-1, 1)
    )
    mean = (w * targets).sum(dim=0) / w.sum()
    ss_res = (w * (targets - outputs) ** 2).sum(dim=0)
    ss_tot = (w * (targets - mean) ** 2).sum(dim=0)
    r2 = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp(min=1e-300), 0.0)
    return float(r2.mean())


class _PinballLoss(nn.Module):
    """The pinball (quantile) loss per output, ``reduction="none"`` only."""

    def __init__(self, quantile=0.5, reduction="none"):
        super().__init__()
        self.quantile = quantile

    def forward(self, input, target):
        diff = target.to(input.dtype).reshape(input.shape) - input
        return torch.maximum(self.quantile * diff, (self.quantile - 1) * diff)


@Substitution(**DOCS, fitted_attrs=fitted_attrs("R^2"))
class LSTMRegressor(RegressorMixin, _BaseLSTM):
    """Recurrent neural network regressor for sequences (text or numbers).

    The same network as :class:`LSTMClassifier`, with a linear output for one
    or more real-valued targets and a squared-error (or pinball) loss.
    :meth:`predict_interval` gives conformal prediction intervals. Targets are
    standardised inside the estimator and predictions are returned in the
    original units; numeric input is standardised per feature.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(network_params)s

    %(training_params)s

    calibration : {"auto", "split", "cv"} or None, default="auto"
        Where the conformity scores of :meth:`predict_interval` come from.
        ``"split"``: absolute residuals on the held-out validation split
        (split conformal); with early stopping that is its split (no extra
        cost), without it ``fit`` holds out ``validation_fraction`` of the
        data, so the network trains on less. ``"cv"``: out-of-fold
        residuals of 5 extra fits on 5 contiguous folds of the rows, in
        their order, as ``cross_val_predict`` (for small data:
        every sample is scored and the model trains on all of them; the
        fit costs six times as much; with early stopping on, each fit stops
        on a split of its own). ``"auto"``: ``"split"`` when early
        stopping is on, none otherwise. None: no intervals. ``predict`` is
        the same either way; ``partial_fit`` does not calibrate. See
        :ref:`uncertainty`.

    quantile : float or None, default=None
        If given (in (0, 1)), train with the pinball loss of this quantile,
        so that ``predict`` estimates the ``quantile`` conditional quantile
        of each target instead of its mean (e.g. two models with 0.05 and
        0.95 give a 90%% band from the network itself, without a
        coverage guarantee). None: squared error.

    Attributes
    ----------
    %(fitted_attrs)s

    conformity_scores_ : ndarray of shape (n_calibration, n_targets) or None
        Absolute residuals ``|y - predict(X)|`` of the held-out (or
        out-of-fold) samples, in the units of ``y``; None when not
        calibrated.

    See Also
    --------
    LSTMClassifier : The same network for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 12))          # 200 univariate series
    >>> y = X[:, -3:].sum(axis=1)               # depends on the last steps
    >>> reg = LSTMRegressor(hidden_size=16, lr=1e-2, max_epochs=40, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    """

    _is_classifier = False
    _score_fn = staticmethod(_r2)

    _parameter_constraints: dict = {
        **_BaseLSTM._parameter_constraints,
        "calibration": [StrOptions({"auto", "split", "cv"}), None],
        "quantile": [Interval(Real, 0, 1, closed="neither"), None],
    }
    #: method -> whether it needs a held-out split
    _CALIBRATIONS = {"split": True, "cv": False}
    _AUTO_CALIBRATION = "split"

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
        quantile=None,
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
        params = dict(locals())
        del params["self"], params["__class__"], params["quantile"]
        super().__init__(**params)
        self.quantile = quantile

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` with targets ``y``.

        Parameters
        ----------
        %(input_doc)s

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (a weight of 2 counts like the
            sample appearing twice); also weights the target scaling.

        Returns
        -------
        self : LSTMRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``X``, ``y``, continuing from the current model.

        The first call initialises the network and learns the input and target
        scaling from its data; later calls keep them. Early stopping does not
        apply.

        Parameters
        ----------
        %(input_doc)s

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : LSTMRegressor
            The estimator, trained for one more epoch.
        """
        return self._fit(X, y, sample_weight, partial=True)

    def _encode_targets(self, y, sample_weight=None, classes=None):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(len(y), -1)
        mean, scale = mean_and_scale(y2, sample_weight)
        y_enc = (y2 - mean) / scale
        attrs = {"_y_mean": mean, "_y_scale": scale, "_y_ndim": y.ndim}
        return y_enc, y2.shape[1], attrs

    def _encode_targets_again(self, y):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(len(y), -1)
        if y2.shape[1] != self._n_outputs:
            raise ValueError(
                f"y has {y2.shape[1]} targets per sample, but the model was first "
                f"fitted with {self._n_outputs}."
            )
        return (y2 - self._y_mean) / self._y_scale

    def __setstate__(self, state):
        # pickles of versions without the pinball loss trained on squared error
        state.setdefault("quantile", None)
        super().__setstate__(state)

    def _member_combine(self) -> str:
        return "mean"

    def _criterion(self):
        return nn.MSELoss if self.quantile is None else _PinballLoss

    def _criterion_kwargs(self) -> dict:
        return {} if self.quantile is None else {"quantile": float(self.quantile)}

    def _calibrate(self, method, outputs, y_enc, weights, rows=None) -> dict:
        if method is None:
            return self._calibration_attrs(None, None, None)
        scores = np.abs(y_enc - outputs) * self._y_scale
        return self._calibration_attrs(scores, weights, rows)

    @staticmethod
    def _calibration_attrs(scores, weights, rows) -> dict:
        """The attributes calibration sets; ``rows``: which training rows
        were held out (recursive forecasts are conformalised on them)."""
        return {
            "conformity_scores_": scores,
            "_conformity_weights": weights,
            "_calibration_rows": rows,
        }

    def _cross_calibrate(self, X, y, sample_weight, seed) -> dict:
        """Out-of-fold residuals of ``CV_FOLDS`` refits (``calibration="cv"``)."""
        n = len(self._y_rows(y))
        if n < 2:
            raise ValueError(f'calibration="cv" needs at least 2 samples, got {n}.')
        # contiguous folds, as scikit-learn's cross_val_predict: windows cut
        # from one series overlap their neighbours, and a shuffled fold would
        # score each window with a model trained on its near-copies
        folds = KFold(min(CV_FOLDS, n))
        y2 = self._y_rows(y)
        scores = np.empty_like(y2)
        for k, (train, test) in enumerate(folds.split(np.empty(n))):
            part = clone(self).set_params(
                calibration=None, warm_start=False, random_state=(seed + k + 1)
            )
            w = None if sample_weight is None else sample_weight[train]
            part.fit(_safe_indexing(X, train), _safe_indexing(y, train), w)
            pred = part.predict(_safe_indexing(X, test))
            scores[test] = np.abs(y2[test] - pred.reshape(len(test), -1))
        return self._calibration_attrs(scores, sample_weight, None)

    @staticmethod
    def _y_rows(y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(len(y), -1)

    def predict(self, X):
        """Predicted target values.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return self._shaped(self._forward(X) * self._y_scale + self._y_mean)

    def _shaped(self, out: np.ndarray) -> np.ndarray:
        """``(n, n_targets)`` values shaped like the ``y`` of fit."""
        return out[:, 0] if self._y_ndim == 1 else out

    def predict_interval(self, X, coverage=0.9):
        """Conformal prediction intervals around ``predict(X)``.

        The half-width for each target is the conformal quantile of the
        held-out absolute residuals (``conformity_scores_``, weighted by the
        ``sample_weight`` of fit), with the finite-sample correction: for
        data exchangeable with the held-out samples the interval holds the
        true value with probability at least ``coverage``. With few
        held-out samples and a high coverage the interval can be infinite.

        Parameters
        ----------
        %(input_doc)s

        coverage : float, default=0.9
            Target probability that the interval holds the true value, in
            (0, 1).

        Returns
        -------
        lower, upper : tuple of ndarray, each shaped like ``predict(X)``
            The interval bounds.
        """
        coverage = check_coverage(coverage)
        half = self._half_width(coverage)
        pred = self._forward(X) * self._y_scale + self._y_mean
        return self._shaped(pred - half), self._shaped(pred + half)

    def _half_width(self, coverage: float) -> np.ndarray:
        """Half-widths ``(n_targets,)`` of the conformal intervals."""
        if "net_" not in self.__dict__:
            check_is_fitted(self, "net_")
        scores = self.__dict__.get("conformity_scores_")
        if scores is None:
            raise ValueError(
                f"This {type(self).__name__} has no conformity scores: it was "
                "fitted without a held-out split (calibration=None, or "
                'calibration="auto" without early stopping) or by partial_fit. '
                'Refit with calibration="split" (holds out validation_fraction '
                'of the data) or calibration="cv" (five extra fits on folds).'
            )
        return conformal_quantile(
            scores, coverage, self.__dict__.get("_conformity_weights")
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
