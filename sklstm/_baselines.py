"""The linear baselines sklstm is measured against (main job and benchmarks).

Text: TF-IDF of word uni- and bigrams (character uni- and bigrams for Chinese
and other unsegmented scripts) with sublinear term frequency, into a
logistic regression with ``C=10``: the baseline every tutorial shows.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

__all__ = ["text_baseline"]


def text_baseline(*, analyzer: str = "word"):
    """``make_pipeline(TfidfVectorizer(...), LogisticRegression(C=10))``.

    ``analyzer="char"`` for text without spaces between words (Chinese).
    """
    return make_pipeline(
        TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10, max_iter=1000),
    )
