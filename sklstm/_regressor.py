"""LSTMRegressor: real-valued targets, scaled internally."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from torch import nn

from sklstm._base import _BaseLSTM
from sklstm._compat import _fit_context
from sklstm._docstring import DOCS, Substitution, fitted_attrs
from sklstm._scaling import mean_and_scale


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


@Substitution(**DOCS, fitted_attrs=fitted_attrs("R^2"))
class LSTMRegressor(RegressorMixin, _BaseLSTM):
    """Recurrent neural network regressor for sequences (text or numbers).

    The same network as :class:`LSTMClassifier`, with a linear output for one
    or more real-valued targets and a squared-error loss. Targets are
    standardised inside the estimator and predictions are returned in the
    original units; numeric input is standardised per feature.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(network_params)s

    %(training_params)s

    Attributes
    ----------
    %(fitted_attrs)s

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

    def _criterion(self):
        return nn.MSELoss

    def predict(self, X):
        """Predicted target values.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        out = self._forward(X) * self._y_scale + self._y_mean
        if self._y_ndim == 1:
            return out[:, 0]
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
