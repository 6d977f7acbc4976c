"""Real text datasets: two bundled with the package, one read from a local copy.

* :func:`load_financial_tweets`: Twitter financial news sentiment (bundled, MIT).
* :func:`load_sentiment_sentences`: UCI sentiment labelled sentences (bundled,
  CC BY 4.0).
* :func:`load_waimai_reviews`: Chinese food-delivery reviews, read from a local
  ``shared/datasets`` folder only (no license to redistribute).
* :class:`TextLines`: a text file's lines as documents, re-read on every
  iteration (corpora for :class:`~sklstm.LSTMLanguageModel`).
"""

from sklstm.datasets._loaders import (
    load_financial_tweets,
    load_sentiment_sentences,
    load_waimai_reviews,
    shared_datasets_dir,
)
from sklstm.datasets._text_files import TextLines
from sklstm.datasets._ts import from_channels_first, load_ts_file

__all__ = [
    "TextLines",
    "from_channels_first",
    "load_ts_file",
    "load_financial_tweets",
    "load_sentiment_sentences",
    "load_waimai_reviews",
    "shared_datasets_dir",
]
