"""Temperature scaling: one scalar that softens (or sharpens) the logits.

``predict_proba`` of a calibrated classifier is ``softmax(logits / T)`` (or
``sigmoid(logits / T)`` per label for multilabel targets). ``T`` is fitted
on held-out logits by minimising their (weighted) negative log-likelihood in
float64, over ``log T`` in a bounded interval. ``T > 0`` never changes the
arg-max, so ``predict`` is the same with or without calibration.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, log_softmax

__all__ = ["LOG_TEMPERATURE_BOUNDS", "fit_temperature", "nll"]

#: the search interval of log T: T from about 0.007 to 150
LOG_TEMPERATURE_BOUNDS = (-5.0, 5.0)


def nll(logits: np.ndarray, y: np.ndarray, weights=None, *, multilabel=False) -> float:
    """Mean (weighted) negative log-likelihood of labels ``y`` under ``logits``.

    ``y`` holds class indices (single-label) or a 0/1 matrix (multilabel).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if multilabel:
        y = np.asarray(y, dtype=np.float64)
        per = -(y * log_expit(logits) + (1 - y) * log_expit(-logits)).mean(axis=1)
    else:
        per = -log_softmax(logits, axis=1)[np.arange(len(y)), np.asarray(y)]
    if weights is None:
        return float(per.mean())
    weights = np.asarray(weights, dtype=np.float64)
    return float((per * weights).sum() / weights.sum())


def fit_temperature(logits, y, weights=None, *, multilabel=False) -> float:
    """The temperature ``T`` that minimises the NLL of ``logits / T``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs)
        Held-out network outputs (not seen by training).
    y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        Class indices, or the 0/1 label matrix when ``multilabel``.
    weights : ndarray of shape (n_samples,), default=None
        Sample weights of the held-out rows.
    multilabel : bool, default=False
        Sigmoid per label instead of a softmax over classes.

    Returns
    -------
    temperature : float
        Positive; 1.0 when there is nothing to fit (no held-out row with
        a positive weight).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) == 0 or (weights is not None and not np.sum(weights) > 0):
        return 1.0
    result = minimize_scalar(
        lambda log_t: nll(logits / np.exp(log_t), y, weights, multilabel=multilabel),
        bounds=LOG_TEMPERATURE_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))
