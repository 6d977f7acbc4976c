"""The bundled datasets load completely and exactly."""

import numpy as np
import pytest

from sklstm.datasets import (
    load_financial_tweets,
    load_sentiment_sentences,
    load_waimai_reviews,
    shared_datasets_dir,
)

SHARED = shared_datasets_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="../shared/datasets (the project's data folder) is absent"
)


@pytest.mark.parametrize(
    "subset, counts",
    [
        ("train", [1442, 1923, 6178]),
        ("valid", [347, 475, 1566]),
        ("all", [1789, 2398, 7744]),
    ],
)
def test_financial_tweets_counts(subset, counts):
    b = load_financial_tweets(subset=subset)
    assert len(b.data) == len(b.target) == sum(counts)
    assert np.bincount(b.target).tolist() == counts
    assert list(b.target_names) == ["Bearish", "Bullish", "Neutral"]
    assert all(isinstance(t, str) and t for t in b.data)
    assert "MIT" in b.DESCR


@pytest.mark.parametrize("source", ["amazon", "imdb", "yelp"])
def test_sentences_counts_per_source(source):
    b = load_sentiment_sentences(source=source)
    assert len(b.data) == 1000
    assert np.bincount(b.target).tolist() == [500, 500]
    assert set(b.source) == {source}


def test_sentences_parsing_traps_are_handled():
    X, y = load_sentiment_sentences(source="imdb", return_X_y=True)
    # unbalanced quotes must not merge lines; U+0085 must not split them
    assert len(X) == 1000
    nel = [x for x in X if "\x85" in x]
    assert len(nel) == 2
    assert "Definitely worth seeing\x85 it's the sort" in nel[1]
    assert not any("\t" in x or "\n" in x for x in X)
    X_all, y_all = load_sentiment_sentences(return_X_y=True)
    assert len(X_all) == 3000 and int(y_all.sum()) == 1500
    assert len(load_sentiment_sentences(source=["yelp", "amazon"]).data) == 2000


@needs_shared
def test_bundled_texts_equal_the_shared_originals():
    pd = pytest.importorskip("pandas", reason="pandas reads the shared csv")
    import csv

    folder = SHARED / "twitter_financial_news_sentiment"
    for subset in ("train", "valid"):
        df = pd.read_csv(folder / f"sent_{subset}.csv")
        b = load_financial_tweets(subset=subset)
        assert b.data == df["text"].tolist()
        assert b.target.tolist() == df["label"].tolist()
    folder = SHARED / "uci_sentiment_labelled_sentences"
    df = pd.read_csv(
        folder / "imdb_labelled.txt", sep="\t", header=None, quoting=csv.QUOTE_NONE
    )
    X, y = load_sentiment_sentences(source="imdb", return_X_y=True)
    assert X == [s.strip() for s in df[0]]
    assert y.tolist() == df[1].tolist()


def test_as_frame_and_return_X_y():
    pytest.importorskip("pandas", reason="as_frame needs pandas")
    b = load_financial_tweets(subset="valid", as_frame=True)
    assert b.frame.shape == (2388, 2)
    assert b.data.name == "text" and b.target.name == "label"
    X, y = load_sentiment_sentences(as_frame=True, return_X_y=True)
    assert len(X) == len(y) == 3000
    assert "source" in load_sentiment_sentences(as_frame=True).frame


@pytest.mark.parametrize(
    "call",
    [
        lambda: load_financial_tweets(subset="test"),
        lambda: load_sentiment_sentences(source="twitter"),
        lambda: load_sentiment_sentences(source=[]),
    ],
)
def test_bad_arguments_name_the_allowed_values(call):
    with pytest.raises(ValueError, match="must be"):
        call()


@needs_shared
def test_waimai_from_the_shared_folder():
    X, y = load_waimai_reviews(return_X_y=True)
    assert len(X) == 11987
    assert np.bincount(y).tolist() == [7987, 4000]


def test_waimai_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not bundled"):
        load_waimai_reviews(data_home=tmp_path)
