"""The simple baselines sklstm is measured against (main job and benchmarks).

* Text: TF-IDF of word uni- and bigrams (character uni- and bigrams for
  Chinese and other unsegmented scripts) with sublinear term frequency, into
  a logistic regression with ``C=10``: the baseline every tutorial shows.
* Series classification: 1-nearest neighbour, Euclidean distance (series of
  unequal length resampled to the longest), the standard UCR reference.
* Series regression: ``RidgeCV`` on the flattened, standardised series.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["flatten_series", "one_nn_predict", "ridge_predict", "text_baseline"]


def text_baseline(*, analyzer: str = "word"):
    """``make_pipeline(TfidfVectorizer(...), LogisticRegression(C=10))``.

    ``analyzer="char"`` for text without spaces between words (Chinese).
    """
    return make_pipeline(
        TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10, max_iter=1000),
    )


def _resample(series: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a ``(T, F)`` series to ``length`` steps."""
    t = np.linspace(0, len(series) - 1, length)
    steps = np.arange(len(series))
    return np.stack(
        [np.interp(t, steps, series[:, j]) for j in range(series.shape[1])], axis=1
    )


def flatten_series(X_train, X_test):
    """Both sets as 2-D arrays ``(n, T * F)``; lists resampled to one length."""
    if isinstance(X_train, list) or isinstance(X_test, list):
        items = [np.asarray(x, dtype=np.float64) for x in [*X_train, *X_test]]
        items = [x[:, None] if x.ndim == 1 else x for x in items]
        length = max(len(x) for x in items)
        stacked = np.stack([_resample(x, length) for x in items])
        X_train, X_test = stacked[: len(X_train)], stacked[len(X_train) :]
    a = np.asarray(X_train, dtype=np.float64)
    b = np.asarray(X_test, dtype=np.float64)
    return a.reshape(len(a), -1), b.reshape(len(b), -1)


def one_nn_predict(X_train, y_train, X_test) -> np.ndarray:
    """Labels of the nearest training series (Euclidean distance)."""
    a, b = flatten_series(X_train, X_test)
    d = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
    return np.asarray(y_train)[d.argmin(axis=1)]


def ridge_predict(X_train, y_train, X_test) -> np.ndarray:
    """``RidgeCV`` (alphas 1e-3 .. 1e3) on the flattened, standardised series."""
    a, b = flatten_series(X_train, X_test)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return model.fit(a, y_train).predict(b)
