"""Split-conformal prediction intervals from held-out absolute residuals.

The conformity score of a held-out sample is ``|y - prediction|`` (per
output). For a coverage ``1 - alpha`` the half-width of the interval is the
smallest score ``q`` whose (weighted) share of the held-out scores, counting
the unseen test point as one more sample, reaches
``1 - alpha``: with ``n`` equal weights, the ``ceil((n + 1)(1 - alpha))``-th
smallest score (the finite-sample correction that makes the coverage at
least ``1 - alpha`` for exchangeable data). When ``n`` is too small for the
coverage asked for, the half-width is infinite.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = ["check_coverage", "conformal_quantile"]


def check_coverage(coverage) -> float:
    """``coverage`` as a float in (0, 1), or a clear error."""
    if isinstance(coverage, bool) or not isinstance(coverage, Real):
        raise TypeError(
            f"coverage must be a float in (0, 1), such as 0.9, got {coverage!r} "
            f"of type {type(coverage).__name__}."
        )
    if not 0 < coverage < 1:
        raise ValueError(
            f"coverage must be in (0, 1), such as 0.9 for 90% intervals, got "
            f"{coverage}."
        )
    return float(coverage)


def conformal_quantile(scores, coverage: float, weights=None) -> np.ndarray:
    """Half-widths of ``coverage`` intervals, one per column of ``scores``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,) or (n_samples, n_columns)
        Non-negative held-out conformity scores; NaN marks a missing score
        (a column with fewer samples, e.g. a far forecast step).
    coverage : float
        Target coverage in (0, 1).
    weights : ndarray of shape (n_samples,), default=None
        Sample weights of the held-out rows (frequency weights: 2 counts as
        a duplicated sample, as ``sample_weight`` in ``fit``; the test point
        counts as one sample).

    Returns
    -------
    half_width : ndarray of shape (n_columns,) (or a float for 1-D scores)
        ``np.inf`` where the held-out set is too small for ``coverage``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    one_d = scores.ndim == 1
    scores = scores.reshape(len(scores), -1)
    if weights is None:
        weights = np.ones(len(scores))
    weights = np.asarray(weights, dtype=np.float64)
    out = np.full(scores.shape[1], np.inf)
    for j in range(scores.shape[1]):
        keep = ~np.isnan(scores[:, j]) & (weights > 0)
        s, w = scores[keep, j], weights[keep]
        if not len(s):
            continue
        order = np.argsort(s, kind="stable")
        s, w = s[order], w[order]
        # the test point counts as one more sample (of weight 1)
        share = np.cumsum(w) / (w.sum() + 1.0)
        reached = np.flatnonzero(share >= coverage - 1e-12)
        if len(reached):
            out[j] = s[reached[0]]
    return out[0] if one_d else out
