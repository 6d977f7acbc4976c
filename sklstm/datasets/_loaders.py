"""Loaders for the bundled datasets (no pandas needed unless ``as_frame=True``)."""

from __future__ import annotations

import csv
import gzip
import io
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

_DATA = Path(__file__).parent / "data"

_TWEETS_DESCR = """Twitter Financial News Sentiment
================================

Finance-related tweets (mostly about stocks: cashtags such as ``$AAPL``, news
headlines, t.co links) annotated with their market sentiment.

:Samples: 9,543 train / 2,388 valid
:Classes: 0 = Bearish (1,442 / 347), 1 = Bullish (1,923 / 475),
          2 = Neutral (6,178 / 1,566)
:Origin: Hugging Face dataset ``zeroshot/twitter-financial-news-sentiment``
:License: MIT (see ``sklstm/datasets/data/LICENSE-financial-tweets.txt``)

Reference scores on the valid split: TF-IDF + logistic regression 0.830 accuracy;
a hand-written bidirectional LSTM with max pooling 0.794.
"""

_SENTENCES_DESCR = """UCI Sentiment Labelled Sentences
================================

3,000 English sentences, 1,000 each from Amazon product reviews, IMDb movie
reviews and Yelp restaurant reviews, labelled positive (1) or negative (0), 500
of each per source. There is no official train/test split.

:Samples: 3,000 (amazon 1,000, imdb 1,000, yelp 1,000)
:Classes: 0 = negative, 1 = positive (balanced)
:Origin: UCI Machine Learning Repository, dataset 331
:License: CC BY 4.0 (see ``sklstm/datasets/data/LICENSE-sentiment-sentences.txt``)

Please cite: D. Kotzias, M. Denil, N. de Freitas, P. Smyth. "From Group to
Individual Labels using Deep Features". KDD 2015.
"""

_WAIMAI_DESCR = """waimai_10k: Chinese food-delivery reviews
=========================================

11,987 short user reviews from a Chinese food-delivery platform: 4,000 positive
(1) and 7,987 negative (0); mean length 25 characters. Origin:
SophonPlus/ChineseNlpCorpus. No license is stated, so sklstm does not ship it:
it is read from a local copy.
"""


def _frame(data, target, extra=None):
    import pandas as pd

    cols = {"text": data, "label": target}
    cols.update(extra or {})
    frame = pd.DataFrame(cols)
    return frame["text"], frame["label"], frame


def _bunch(texts, target, target_names, descr, *, return_X_y, as_frame, extra=None):
    target = np.asarray(target, dtype=np.int64)
    frame = None
    data = texts
    if as_frame:
        data, target, frame = _frame(texts, target, extra)
    if return_X_y:
        return data, target
    bunch = Bunch(
        data=data,
        target=target,
        target_names=np.asarray(target_names),
        frame=frame,
        DESCR=descr,
    )
    for key, value in (extra or {}).items():
        bunch[key] = np.asarray(value)
    return bunch


def _read_tweets(split: str):
    with gzip.open(
        _DATA / f"financial_tweets_{split}.csv.gz", "rt", encoding="utf-8"
    ) as f:
        rows = list(csv.reader(f))
    if rows[0] != ["text", "label"]:  # pragma: no cover - corrupted install
        raise OSError("financial tweets file has an unexpected header")
    texts = [r[0] for r in rows[1:]]
    labels = [int(r[1]) for r in rows[1:]]
    return texts, labels


def load_financial_tweets(*, subset="train", return_X_y=False, as_frame=False):
    """Load the Twitter financial news sentiment dataset (bundled).

    Finance tweets labelled Bearish (0), Bullish (1) or Neutral (2).

    Parameters
    ----------
    subset : {"train", "valid", "all"}, default="train"
        The 9,543 training tweets, the 2,388 validation tweets, or both
        (training first).

    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        Return pandas objects: ``data`` a Series named "text", ``target`` a
        Series named "label", and ``frame`` a DataFrame of both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (list of str), ``target`` (ndarray of int), ``target_names``,
        ``frame`` (DataFrame or None) and ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Notes
    -----
    Origin: Hugging Face dataset ``zeroshot/twitter-financial-news-sentiment``,
    released under the MIT license.

    Examples
    --------
    >>> from sklstm.datasets import load_financial_tweets
    >>> tweets = load_financial_tweets(subset="valid")
    >>> len(tweets.data), tweets.target_names.tolist()
    (2388, ['Bearish', 'Bullish', 'Neutral'])
    """
    if subset not in ("train", "valid", "all"):
        raise ValueError(f"subset must be 'train', 'valid' or 'all', got {subset!r}.")
    splits = ["train", "valid"] if subset == "all" else [subset]
    texts, labels = [], []
    for split in splits:
        t, y = _read_tweets(split)
        texts += t
        labels += y
    return _bunch(
        texts,
        labels,
        ["Bearish", "Bullish", "Neutral"],
        _TWEETS_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


_SOURCES = ("amazon", "imdb", "yelp")


def _read_sentences(source: str):
    with gzip.open(_DATA / f"{source}_labelled.txt.gz", "rb") as f:
        text = f.read().decode("utf-8")
    texts, labels = [], []
    # split on "\n" only: the imdb file holds U+0085 (NEL) characters inside
    # sentences, which str.splitlines() would treat as line breaks; and no
    # quote handling, since its quotes are unbalanced
    for line in text.split("\n"):
        if not line.strip():
            continue
        sentence, label = line.rsplit("\t", 1)
        texts.append(sentence.strip())
        labels.append(int(label))
    return texts, labels


def load_sentiment_sentences(*, source="all", return_X_y=False, as_frame=False):
    """Load the UCI sentiment labelled sentences (bundled).

    3,000 review sentences from Amazon, IMDb and Yelp, labelled negative (0)
    or positive (1).

    Parameters
    ----------
    source : {"all", "amazon", "imdb", "yelp"} or list of them, default="all"
        Which review sites to load, in the order amazon, imdb, yelp.

    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        Return pandas objects (see :func:`load_financial_tweets`); the frame
        has a "source" column too.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (list of str), ``target``, ``target_names``, ``source`` (the
        site of each sentence), ``frame`` and ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Notes
    -----
    Licensed CC BY 4.0 by the UCI Machine Learning Repository.

    References
    ----------
    D. Kotzias, M. Denil, N. de Freitas, P. Smyth. "From Group to Individual
    Labels using Deep Features". KDD 2015.

    Examples
    --------
    >>> from sklstm.datasets import load_sentiment_sentences
    >>> X, y = load_sentiment_sentences(return_X_y=True)
    >>> len(X), int(y.sum())
    (3000, 1500)
    """
    if isinstance(source, str):
        sources = list(_SOURCES) if source == "all" else [source]
    else:
        sources = list(source)
    bad = [s for s in sources if s not in _SOURCES]
    if bad or not sources:
        raise ValueError(
            f"source must be 'all' or any of {list(_SOURCES)}, got {source!r}."
        )
    texts, labels, origin = [], [], []
    for s in _SOURCES:
        if s in sources:
            t, y = _read_sentences(s)
            texts += t
            labels += y
            origin += [s] * len(t)
    return _bunch(
        texts,
        labels,
        ["negative", "positive"],
        _SENTENCES_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        extra={"source": origin},
    )


def shared_datasets_dir() -> Path | None:
    """The project's ``shared/datasets`` folder, if this checkout has one.

    Looks at the environment variable ``SKLSTM_SHARED_DATASETS`` first, then
    at ``../shared/datasets`` beside the repository that holds this package.
    Tests and examples use it to find real data that sklstm does not ship,
    and skip when it returns None.

    Returns
    -------
    path : pathlib.Path or None
    """
    env = os.environ.get("SKLSTM_SHARED_DATASETS")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[2]
    candidates.append(repo.parent / "shared" / "datasets")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def load_waimai_reviews(*, data_home=None, return_X_y=False, as_frame=False):
    """Load the Chinese waimai_10k food-delivery reviews from a local copy.

    Not bundled (no license is stated): the file ``waimai_10k/waimai_10k.csv``
    is read from ``data_home`` or from :func:`shared_datasets_dir`.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds ``waimai_10k/waimai_10k.csv``.

    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        Return pandas objects (see :func:`load_financial_tweets`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch` or tuple
        Texts (list of str) and labels (1 = positive, 0 = negative).
    """
    home = Path(data_home) if data_home is not None else shared_datasets_dir()
    path = None if home is None else home / "waimai_10k" / "waimai_10k.csv"
    if path is None or not path.is_file():
        raise FileNotFoundError(
            "waimai_10k is not bundled with sklstm (its license is unknown). Put "
            "waimai_10k/waimai_10k.csv (header 'label,review') under data_home, or "
            "set SKLSTM_SHARED_DATASETS to the folder that holds it; looked at "
            f"{path if path is not None else 'no shared datasets folder'}."
        )
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    if rows[0] != ["label", "review"]:
        raise ValueError(f"{path} has header {rows[0]}, expected ['label', 'review'].")
    texts = [r[1] for r in rows[1:]]
    labels = [int(r[0]) for r in rows[1:]]
    return _bunch(
        texts,
        labels,
        ["negative", "positive"],
        _WAIMAI_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
