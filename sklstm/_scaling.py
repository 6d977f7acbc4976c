"""Standardisation statistics: per-feature means and scales, optionally weighted.

Numeric input is standardised inside the network with the training data's
statistics over valid time steps; regression targets with theirs. Pure numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["feature_stats", "mean_and_scale"]


def feature_stats(seqs, train_idx, weights=None):
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
